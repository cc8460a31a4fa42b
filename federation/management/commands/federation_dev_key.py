from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from federation.keys import dev_key_create, public_key_b64


class Command(BaseCommand):
    help = (
        "Create a development Ed25519 key that signs this node's requests to its partners, written where "
        "FEDERATION_SIGNING_KEY points by default (var/federation/node-key.pem). Never for production: there, "
        "set FEDERATION_SIGNING_KEY to the node's own key."
    )

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="replace an existing key (partners must update it)")
        parser.add_argument("--if-missing", action="store_true", help="do nothing when the key already exists")

    def handle(self, *args, **options):
        default = Path(settings.FEDERATION_KEY_DIR) / "node-key.pem"
        path = Path(settings.FEDERATION_SIGNING_KEY)
        if path != default:
            raise CommandError(
                "FEDERATION_SIGNING_KEY points outside the development folder: "
                "this command writes development keys only."
            )
        if options["if_missing"] and path.exists():
            self.stdout.write(f"A node key already exists; its public key: {public_key_b64()}")
            return
        try:
            dev_key_create(path, overwrite=options["force"])
        except FileExistsError as exc:
            raise CommandError(
                f"{exc} Use --force to replace it (partners then refuse this node until updated)."
            ) from exc
        self.stdout.write(self.style.SUCCESS(f"Development node key written to {path}; public key: {public_key_b64()}"))
