from django.core.management.base import BaseCommand, CommandError

from federation.demo import apply_for_remote


class Command(BaseCommand):
    help = (
        "At a hub of the demo: the demo researcher applies for a partner node's harvested dataset, this node's "
        "committee approves, the agreement is signed and executed, and the grant goes to the partner's node "
        "(make demo-federation runs it once the partners are harvested)."
    )

    def add_arguments(self, parser):
        parser.add_argument("identifier", help="a harvested dataset's identifier")

    def handle(self, *args, **options):
        from catalogue.models import Dataset

        if not Dataset.objects.filter(identifier=options["identifier"], holder__node__isnull=False).exists():
            raise CommandError(f"No partner's dataset {options['identifier']} is harvested here: harvest first.")
        try:
            application = apply_for_remote(options["identifier"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        for grant in application.grants.select_related("dataset__holder__node").order_by("pk"):
            events = ", ".join(f"{e.kind} {e.status}" for e in grant.entitlement_events.order_by("sequence"))
            self.stdout.write(
                f"GRANT {grant.pk} {grant.kind} {grant.dataset.identifier} of {grant.dataset.holder.node.name} "
                f"for {application.applicant.email} (sub {application.applicant.pk}): {events}"
            )
