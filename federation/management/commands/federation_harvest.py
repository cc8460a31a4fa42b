from django.core.management.base import BaseCommand

from federation.harvest import harvest_all


class Command(BaseCommand):
    help = "Harvest every active partner node's DCAT-AP catalogue now (the beat schedule does it every hour)."

    def handle(self, *args, **options):
        for name, result in harvest_all().items():
            if "error" in result:
                self.stderr.write(f"{name}: {result['error']}")
            else:
                summary = ", ".join(f"{key} {value}" for key, value in result.items() if isinstance(value, int))
                self.stdout.write(f"{name}: {summary}")
