import json

from django.core.management.base import BaseCommand, CommandError

from federation.keys import has_key, own_key_id, public_key_b64
from federation.models import Node
from federation.services import node_add, node_honour_grants, node_rekey


class Command(BaseCommand):
    help = (
        "List a partner node (the RDO's Partner nodes page does the same; a partner listed already gets the key "
        "given), or with --identity print this node's identity (name, address, public key) as JSON."
    )

    def add_arguments(self, parser):
        parser.add_argument("--identity", action="store_true", help="print this node's identity and stop")
        parser.add_argument("--name")
        parser.add_argument("--url", help="the partner's address")
        parser.add_argument("--key", help="the partner's Ed25519 public key, base64")
        parser.add_argument(
            "--honour-grants",
            action="store_true",
            help="enforce the grants the partner's committee issues for this node's datasets",
        )

    def handle(self, *args, **options):
        from django.conf import settings

        if options["identity"]:
            if not has_key():
                raise CommandError(
                    "This node has no signing key: run federation_dev_key or set FEDERATION_SIGNING_KEY."
                )
            identity = {"name": settings.SITE_NAME, "base_url": settings.SITE_URL, "public_key": public_key_b64()}
            self.stdout.write(json.dumps(identity | {"key_id": own_key_id()}))
            return
        if not (options["name"] and options["url"] and options["key"]):
            raise CommandError("Give --name, --url and --key (or --identity).")
        known = Node.objects.filter(base_url=options["url"].rstrip("/")).first()
        if known is not None:
            node = node_rekey(actor="system:demo", node=known, public_key=options["key"])
            changed = "its key is updated" if node.key_id != known.key_id else "nothing to change"
            if options["honour_grants"] and not node.honours_grants:
                node = node_honour_grants(actor="system:demo", node=node, honours=True)
                changed = "its grants are honoured from now on"
            self.stdout.write(f"{options['url']} is already a partner; {changed}.")
            return
        node = node_add(actor="system:demo", name=options["name"], base_url=options["url"], public_key=options["key"])
        if options["honour_grants"]:
            node = node_honour_grants(actor="system:demo", node=node, honours=True)
        self.stdout.write(self.style.SUCCESS(f"{node.name} ({node.base_url}) is a partner, key id {node.key_id}."))
