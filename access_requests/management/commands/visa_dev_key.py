from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from access_requests.services.visas import visa_dev_key_create


class Command(BaseCommand):
    help = (
        "Create a development key that signs GA4GH visas, written where VISA_SIGNING_KEY points by default "
        "(var/visa/visa-key.pem). Never for production: there, set VISA_SIGNING_KEY to the organisation's key."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--force", action="store_true", help="replace an existing key (visas it signed stop verifying)"
        )
        parser.add_argument("--if-missing", action="store_true", help="do nothing when the key already exists")

    def handle(self, *args, **options):
        default = Path(settings.VISA_KEY_DIR) / "visa-key.pem"
        path = Path(settings.VISA_SIGNING_KEY)
        if path != default:
            raise CommandError(
                f"VISA_SIGNING_KEY points outside the development folder ({path}): "
                "this command writes development keys only."
            )
        if options["if_missing"] and path.exists():
            self.stdout.write("A visa signing key already exists; nothing done.")
            return
        try:
            visa_dev_key_create(path, overwrite=options["force"])
        except FileExistsError as exc:
            raise CommandError(f"{exc} Use --force to replace it (visas it signed then no longer verify).") from exc
        self.stdout.write(self.style.SUCCESS(f"Development visa signing key written to {path}"))
