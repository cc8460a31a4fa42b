"""The application's thread: questions and answers, and internal notes for reviewers only."""

from django.db import transaction

from access_requests.models import Application, Message
from access_requests.permissions import can_view, is_reviewer
from access_requests.services.team import team_member_emails
from portal.errors import InvalidInput, NotPermitted
from portal.models import Role, User
from portal.services.audit import audit_record
from portal.services.notifications import notification_queue


def message_post(*, actor: User, application: Application, body: str, internal: bool = False) -> Message:
    """Post to the thread. Internal notes are for the RDO and the reviewing committee; every message is audited
    and notified (to the other side, or to the other reviewers for a note)."""
    if not can_view(actor, application):
        raise NotPermitted("You cannot write on this application.")
    if internal and not is_reviewer(actor, application):
        raise NotPermitted("Only the Research Data Office and the reviewing committee write internal notes.")
    body = (body or "").strip()
    if not body:
        raise InvalidInput("Write a message.", fields={"body": ["This field is required."]})
    with transaction.atomic():
        message = Message.objects.create(application=application, author=actor, body=body, internal=internal)
        audit_record(
            actor=actor,
            verb="application.note" if internal else "application.message",
            target=application,
            payload={"message": message.pk, "internal": internal},
        )
        notification_queue(
            to=_recipients(actor, application, internal),
            template="application_message",
            context={"application": application, "message": message},
        )
    return message


def _recipients(actor: User, application: Application, internal: bool) -> list[str]:
    reviewers = set(
        User.objects.filter(groups__name=Role.RDO, is_active=True, email_verified_at__isnull=False).values_list(
            "email", flat=True
        )
    )
    if application.committee_id:
        reviewers |= set(application.committee.members.values_list("email", flat=True))
    # Only members who accepted; an open invitation never receives the application's messages.
    team = set(team_member_emails(application))
    recipients = reviewers if internal or actor.email in team else team | reviewers
    recipients.discard(actor.email)
    return sorted(recipients)
