"""Celery tasks of access grants: thin wrappers around access_requests/services/grants.py and
access_requests/services/entitlements.py. Each is safe to run twice. Found by Celery's
autodiscovery (portal/celery.py names this module)."""

from celery import shared_task


@shared_task(name="access_requests.grants_sweep", acks_late=True)
def grants_sweep() -> dict:
    """Periodic: expire grants past their last day, close applications with nothing left, remind
    grantees seven days ahead, and remind applicants whose closeout is overdue."""
    from access_requests.services.grants import grants_sweep as sweep

    return sweep()


@shared_task(name="access_requests.entitlements_deliver", acks_late=True)
def entitlements_deliver(grant_id: int | None = None, received_id: int | None = None) -> dict:
    """Deliver pending entitlement events to the holders' processing environments and partner nodes
    (one grant's, a received grant's, or every grant's that is due), in order per grant, with backoff
    on failure."""
    from access_requests.services.entitlements import entitlements_deliver as deliver

    return deliver(grant_id=grant_id, received_id=received_id)
