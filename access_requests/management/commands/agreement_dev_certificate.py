from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from access_requests.sealing import dev_certificate_create


class Command(BaseCommand):
    help = (
        "Create a development seal for executed agreements: a small certificate authority and a seal "
        "certificate it issued, written where AGREEMENT_SEAL_KEY, AGREEMENT_SEAL_CERT and "
        "AGREEMENT_SEAL_TRUST_ROOTS point by default. Never for production: there, set those settings."
    )

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="replace an existing development seal")
        parser.add_argument("--if-missing", action="store_true", help="do nothing when a seal already exists")

    def handle(self, *args, **options):
        folder = Path(settings.AGREEMENT_SEAL_DIR)
        expected = {
            "seal-key": settings.AGREEMENT_SEAL_KEY,
            "seal-cert": settings.AGREEMENT_SEAL_CERT,
            "ca-cert": settings.AGREEMENT_SEAL_TRUST_ROOTS,
        }
        elsewhere = [name for name, path in expected.items() if Path(path) != folder / f"{name}.pem"]
        if elsewhere:
            raise CommandError(
                "The AGREEMENT_SEAL_* settings point outside the development folder "
                f"({', '.join(elsewhere)}): this command writes development certificates only."
            )
        if options["if_missing"] and Path(settings.AGREEMENT_SEAL_CERT).exists():
            self.stdout.write("A seal certificate already exists; nothing done.")
            return
        try:
            paths = dev_certificate_create(folder, overwrite=options["force"])
        except FileExistsError as exc:
            raise CommandError(f"{exc} Use --force to replace it (earlier seals then no longer verify).") from exc
        self.stdout.write(
            self.style.SUCCESS(f"Development seal written to {folder}: {', '.join(p.name for p in paths.values())}")
        )
