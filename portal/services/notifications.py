"""E-mail notifications through an outbox table.

`notification_queue` renders the message and stores it in the caller's transaction; after
commit a Celery task sends it. If the broker is unreachable the row stays pending and the
periodic `outbox_flush` sends it once the broker is back.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template import Context, Engine, TemplateDoesNotExist
from django.template.loader import render_to_string
from django.utils import timezone

from portal.models import OutboxEmail, OutboxStatus

logger = logging.getLogger(__name__)


def _recipients(to) -> list[str]:
    items = to if isinstance(to, list | tuple | set) else [to]
    addresses = []
    for item in items:
        address = getattr(item, "email", item)
        if address and address not in addresses:
            addresses.append(address)
    return addresses


_text_engine = None


def _render_text(name: str, context: dict) -> str:
    """Plain-text parts are rendered without HTML escaping."""
    global _text_engine
    if _text_engine is None:
        _text_engine = Engine(dirs=[str(settings.BASE_DIR / "templates")], app_dirs=True, autoescape=False)
    return _text_engine.get_template(name).render(Context(context))


def notification_queue(*, to, template: str, context: dict, dedupe_key: str | None = None) -> OutboxEmail | None:
    """Render `emails/<template>.{subject,txt,html}` and queue it for every recipient.

    Must be called inside the transaction of the change it announces; the send is
    dispatched only if that transaction commits.

    A message with a `dedupe_key` is queued once only: when one with the same key exists (queued
    earlier, or by a racing sender whose transaction committed first), nothing is queued and the
    answer is None. The unique index decides a race; the loser's insert is undone in a savepoint,
    so the caller's transaction carries on.
    """
    recipients = _recipients(to)
    if not recipients:
        return None
    if dedupe_key is not None and OutboxEmail.objects.filter(dedupe_key=dedupe_key).exists():
        return None
    ctx = {"site_url": settings.SITE_URL, "site_name": settings.SITE_NAME, **context}
    subject = " ".join(_render_text(f"emails/{template}.subject.txt", ctx).split())
    body_text = _render_text(f"emails/{template}.txt", ctx)
    try:
        body_html = render_to_string(f"emails/{template}.html", ctx)
    except TemplateDoesNotExist:
        body_html = ""
    fields = {"to": recipients, "subject": subject[:300], "body_text": body_text, "body_html": body_html}
    if dedupe_key is None:
        message = OutboxEmail.objects.create(template=template, **fields)
    else:
        try:
            with transaction.atomic():
                message = OutboxEmail.objects.create(template=template, dedupe_key=dedupe_key, **fields)
        except IntegrityError:
            return None
    transaction.on_commit(lambda: outbox_dispatch(message_id=message.pk))
    return message


def outbox_dispatch(*, message_id: int) -> bool:
    """Hand one message to the broker. A broker failure is logged, never raised: the sweep retries."""
    from portal.tasks import outbox_send

    try:
        outbox_send.delay(message_id)
    except Exception as exc:  # kombu raises several types when the broker is unreachable
        logger.warning("outbox: could not queue message %s (%s); the outbox sweep will retry", message_id, exc)
        return False
    return True


def outbox_send(*, message_id: int) -> bool:
    """Send one pending message. Safe to run twice: a sent message is not sent again."""
    with transaction.atomic():
        message = OutboxEmail.objects.select_for_update().filter(pk=message_id).first()
        if message is None or message.status != OutboxStatus.PENDING:
            return False
        message.attempts += 1
        message.last_attempt_at = timezone.now()
        email = EmailMultiAlternatives(
            subject=message.subject,
            body=message.body_text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=message.to,
        )
        if message.body_html:
            email.attach_alternative(message.body_html, "text/html")
        try:
            email.send()
        except Exception as exc:  # SMTP errors come in many types; record and retry later
            message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            if message.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
                message.status = OutboxStatus.FAILED
            message.save(update_fields=["attempts", "last_attempt_at", "last_error", "status"])
            logger.warning("outbox: sending message %s failed: %s", message_id, exc)
            return False
        message.status = OutboxStatus.SENT
        message.sent_at = timezone.now()
        message.last_error = ""
        message.save(update_fields=["attempts", "last_attempt_at", "last_error", "status", "sent_at"])
    return True


def outbox_flush(*, older_than_seconds: int | None = None) -> int:
    """Send every pending message queued more than `older_than_seconds` ago; returns how many were sent."""
    age = settings.OUTBOX_RESEND_AFTER_SECONDS if older_than_seconds is None else older_than_seconds
    cutoff = timezone.now() - timedelta(seconds=age)
    pending = OutboxEmail.objects.filter(status=OutboxStatus.PENDING, created_at__lte=cutoff).values_list(
        "pk", flat=True
    )
    return sum(1 for pk in list(pending[:500]) if outbox_send(message_id=pk))
