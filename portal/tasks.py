"""Celery tasks of the portal app: thin wrappers that call a service."""

from celery import shared_task

from portal.services import audit, notifications


@shared_task(name="portal.tasks.ping")
def ping(value: str = "pong") -> str:
    """Round trip used by health checks and tests."""
    return value


@shared_task(name="portal.tasks.outbox_send", max_retries=3, soft_time_limit=60, time_limit=90)
def outbox_send(message_id: int) -> bool:
    return notifications.outbox_send(message_id=message_id)


@shared_task(name="portal.tasks.outbox_flush", soft_time_limit=240, time_limit=300)
def outbox_flush(older_than_seconds: int | None = None) -> int:
    return notifications.outbox_flush(older_than_seconds=older_than_seconds)


@shared_task(name="portal.tasks.audit_anchor", soft_time_limit=60, time_limit=90)
def audit_anchor() -> int | None:
    """Anchor the audit chain head outside the database; returns the anchored sequence number."""
    result = audit.audit_anchor_write(actor="system:audit-anchor")
    return result.anchor.seq if result else None
