"""The portal app's own dashboard panels."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from portal.dashboard import Panel, PanelItem, panel
from portal.keyset import capped_count, count_words
from portal.models import ApiToken, AuditChainHead, OutboxEmail, OutboxStatus, Role


@panel(role=Role.RDO, order=90)
def audit_panel(user):
    head = AuditChainHead.objects.filter(id=1).first()
    # Counted up to a cap: a backlog of a million e-mails reads as "more than 1,000", not as a scan.
    pending = count_words(*capped_count(OutboxEmail.objects.filter(status=OutboxStatus.PENDING)))
    failed, exact = capped_count(OutboxEmail.objects.filter(status=OutboxStatus.FAILED))
    items = [
        PanelItem(f"{head.seq if head else 0} audit events recorded", reverse("audit_log")),
        PanelItem(f"{pending} e-mails waiting to be sent", detail="re-sent every minute while the broker is down"),
    ]
    if failed:
        items.append(
            PanelItem(
                f"{count_words(failed, exact)} e-mails failed after every attempt", detail="check the SMTP settings"
            )
        )
    return Panel(title="Records and messages", items=items)


@panel(role=None, order=95)
def token_panel(user):
    soon = timezone.now() + timedelta(days=14)
    expiring = ApiToken.objects.filter(
        user=user, revoked_at__isnull=True, expires_at__gt=timezone.now(), expires_at__lte=soon
    )
    if not expiring:
        return None
    return Panel(
        title="API tokens expiring soon",
        items=[PanelItem(t.name, reverse("tokens"), f"expires {t.expires_at:%Y-%m-%d}") for t in expiring],
    )
