from django.core.management.base import BaseCommand

from federation.demo import PARTNERS, load_partner_demo


class Command(BaseCommand):
    help = "Load the demo data of one of the demo's partner nodes (make demo-federation runs it on each)."

    def add_arguments(self, parser):
        parser.add_argument("partner", choices=sorted(PARTNERS))

    def handle(self, *args, **options):
        loaded = load_partner_demo(options["partner"])
        names = ", ".join(d.identifier for d in loaded["datasets"])
        self.stdout.write(self.style.SUCCESS(f"{loaded['holder'].name}: {names}"))
