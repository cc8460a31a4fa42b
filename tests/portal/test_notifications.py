"""E-mail through the outbox: queued with the change, sent after commit, never twice."""

import pytest
from django.core import mail
from django.db import transaction

from portal.models import OutboxEmail, OutboxStatus
from portal.services import notifications
from portal.services.notifications import notification_queue, outbox_flush, outbox_send


def test_a_message_is_sent_after_the_transaction_commits(alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        message = notification_queue(to=alice, template="welcome", context={"user": alice})
        assert mail.outbox == []
    message.refresh_from_db()
    assert message.status == OutboxStatus.SENT
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [alice.email]
    assert "Your account on" in mail.outbox[0].subject
    assert alice.full_name in mail.outbox[0].body


def test_nothing_is_sent_when_the_change_rolls_back(alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        notification_queue(to=alice, template="welcome", context={"user": alice})
        raise RuntimeError("the change failed")
    assert OutboxEmail.objects.count() == 0
    assert mail.outbox == []


def test_sending_twice_delivers_once(alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        message = notification_queue(to=alice, template="welcome", context={"user": alice})
    assert outbox_send(message_id=message.pk) is True
    assert outbox_send(message_id=message.pk) is False
    assert outbox_flush(older_than_seconds=0) == 0
    assert len(mail.outbox) == 1


def test_a_broker_failure_leaves_the_message_pending_for_the_sweep(
    alice, monkeypatch, django_capture_on_commit_callbacks
):
    def broker_down(*args, **kwargs):
        raise ConnectionRefusedError("broker unreachable")

    monkeypatch.setattr("portal.tasks.outbox_send.delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        message = notification_queue(to=alice, template="welcome", context={"user": alice})
    message.refresh_from_db()
    assert message.status == OutboxStatus.PENDING
    assert mail.outbox == []
    assert outbox_flush(older_than_seconds=0) == 1
    assert len(mail.outbox) == 1


def test_an_smtp_failure_is_recorded_and_retried(alice, monkeypatch, settings, django_capture_on_commit_callbacks):
    settings.OUTBOX_MAX_ATTEMPTS = 2
    with django_capture_on_commit_callbacks(execute=False):
        message = notification_queue(to=[alice, alice.email], template="welcome", context={"user": alice})
    assert message.to == [alice.email]

    def smtp_down(self, *args, **kwargs):
        raise OSError("SMTP server unreachable")

    monkeypatch.setattr(notifications.EmailMultiAlternatives, "send", smtp_down)
    assert outbox_send(message_id=message.pk) is False
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboxStatus.PENDING, 1)
    assert "SMTP server unreachable" in message.last_error
    outbox_send(message_id=message.pk)
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboxStatus.FAILED, 2)
