"""The portal app's own dashboard panels."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from portal.dashboard import Panel, PanelItem, panel
from portal.models import ApiToken, AuditChainHead, OutboxEmail, OutboxStatus, Role


@panel(role=Role.RDO, order=90)
def audit_panel(user):
    head = AuditChainHead.objects.filter(id=1).first()
    pending = OutboxEmail.objects.filter(status=OutboxStatus.PENDING).count()
    failed = OutboxEmail.objects.filter(status=OutboxStatus.FAILED).count()
    items = [
        PanelItem(f"{head.seq if head else 0} audit events recorded", reverse("audit_log")),
        PanelItem(f"{pending} e-mails waiting to be sent", detail="re-sent every minute while the broker is down"),
    ]
    if failed:
        items.append(PanelItem(f"{failed} e-mails failed after every attempt", detail="check the SMTP settings"))
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
