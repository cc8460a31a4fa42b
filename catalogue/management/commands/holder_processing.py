import os
import secrets

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from catalogue.models import DataHolder
from catalogue.services import data_holder_processing_set
from portal.errors import DomainError


class Command(BaseCommand):
    help = (
        "Show or set a data holder's processing environment: the text grantees of processing grants read, the "
        "address that receives entitlement events, and the HMAC secret they are signed with (see README, "
        "'Entitlement events'). Audited; the secret is never printed unless generated here."
    )

    def add_arguments(self, parser):
        parser.add_argument("holder", help="the data holder's slug")
        parser.add_argument("--environment", help="where and how grantees reach the processing environment")
        parser.add_argument("--url", help="the address that receives entitlement events ('' to stop pushing)")
        secret = parser.add_mutually_exclusive_group()
        secret.add_argument("--secret-env", metavar="VARIABLE", help="read the secret from this environment variable")
        secret.add_argument("--generate-secret", action="store_true", help="make a new secret and print it once")

    def handle(self, *args, **options):
        holder = DataHolder.objects.filter(slug=options["holder"]).first()
        if holder is None:
            raise CommandError(f"No data holder {options['holder']!r}.")
        secret = None
        if options["secret_env"]:
            secret = os.environ.get(options["secret_env"], "")
            if not secret:
                raise CommandError(f"The environment variable {options['secret_env']} is empty.")
        elif options["generate_secret"]:
            secret = secrets.token_urlsafe(32)
        if options["environment"] is not None or options["url"] is not None or secret is not None:
            try:
                holder = data_holder_processing_set(
                    actor="system:holder_processing",
                    holder=holder,
                    environment=options["environment"],
                    push_url=options["url"],
                    push_secret=secret,
                )
            except DomainError as exc:
                raise CommandError(exc.message) from exc
            except ValidationError as exc:
                raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from exc
        self.stdout.write(f"{holder.name}")
        self.stdout.write(f"  environment: {holder.processing_environment or '(none)'}")
        self.stdout.write(f"  events to:   {holder.processing_push_url or '(none: events wait)'}")
        self.stdout.write(f"  secret:      {'set' if holder.processing_push_secret else '(none)'}")
        if options["generate_secret"]:
            self.stdout.write(f"  new secret (give it to the environment's operator; it is not shown again): {secret}")
