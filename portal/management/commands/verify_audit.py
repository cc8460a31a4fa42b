from django.core.management.base import BaseCommand, CommandError

from portal.services.audit import audit_verify


class Command(BaseCommand):
    help = "Walk the audit chain; exit non-zero naming the first event that breaks it."

    def handle(self, *args, **options):
        report = audit_verify()
        if not report.ok:
            raise CommandError(f"Audit chain broken at event #{report.first_bad_seq}: {report.reason}")
        self.stdout.write(self.style.SUCCESS(f"Audit chain intact: {report.events} events."))
