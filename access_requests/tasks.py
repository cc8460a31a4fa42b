"""Celery tasks of the access requests app: thin wrappers that load by id and call a service."""

import logging

from celery import shared_task

from access_requests.services import letters, reminders

logger = logging.getLogger(__name__)


@shared_task(
    bind=True,
    name="access_requests.tasks.decision_letter_render",
    autoretry_for=(Exception,),
    retry_backoff=30,
    retry_backoff_max=900,
    retry_jitter=True,
    max_retries=4,
    soft_time_limit=120,
    time_limit=180,
)
def decision_letter_render(self, round_id: int) -> int | None:
    """Render a decided round's letter (once); a rendering failure is retried with a growing delay,
    and the decision stands meanwhile. Returns the letter's id."""
    try:
        letter = letters.decision_letter_render(round_id=round_id)
    except Exception:
        logger.exception(
            "decision letter: rendering round %s failed (attempt %s of %s)",
            round_id,
            self.request.retries + 1,
            self.max_retries + 1,
        )
        raise
    return letter.pk if letter is not None else None


@shared_task(name="access_requests.tasks.review_reminders", soft_time_limit=240, time_limit=300)
def review_reminders() -> dict:
    """Remind members who have not voted as the voting deadline nears, and the chair and the Research
    Data Office as the decision time runs out (each reminder once)."""
    return reminders.review_reminders_send()


@shared_task(name="access_requests.tasks.decision_letters_sweep", soft_time_limit=60, time_limit=90)
def decision_letters_sweep() -> int:
    """Queue the letters of recent decisions that still have none (the broker was down when the
    decision committed, or every retry failed); returns how many were queued."""
    from access_requests.services.review import decision_letter_queue

    missing = letters.decision_letters_missing()
    for round_id in missing:
        decision_letter_queue(round_id)
    return len(missing)
