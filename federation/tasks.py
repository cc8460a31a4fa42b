"""Celery tasks of the federation: thin wrappers that call a service."""

from celery import shared_task

from federation import harvest


@shared_task(name="federation.tasks.harvest_all", acks_late=True, soft_time_limit=3000, time_limit=3600)
def harvest_all() -> dict:
    """Harvest every active partner's catalogue (CELERY_BEAT_SCHEDULE, every FEDERATION_HARVEST_SECONDS)."""
    return harvest.harvest_all()
