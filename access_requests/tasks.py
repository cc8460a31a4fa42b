"""Celery tasks of the access requests app: thin wrappers that load by id and call a service."""

from celery import shared_task

from access_requests.services import reminders


@shared_task(name="access_requests.tasks.review_reminders", soft_time_limit=240, time_limit=300)
def review_reminders() -> dict:
    """Remind members who have not voted as the voting deadline nears, and the chair and the Research
    Data Office as the decision time runs out (each reminder once)."""
    return reminders.review_reminders_send()
