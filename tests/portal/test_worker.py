"""A real Celery worker process against Redis: the round trip, and e-mail that survives a broker outage."""

import pytest
from django.db import transaction

from portal.models import OutboxEmail, OutboxStatus
from portal.services.notifications import notification_queue
from portal.tasks import outbox_flush, ping
from tests.helpers import CeleryWorker, RedisServer, celery_broker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def redis_url():
    import os

    return os.environ["TEST_REDIS_URL"]


def test_a_task_round_trips_through_a_real_worker(redis_url, tmp_path):
    worker = CeleryWorker(redis_url, tmp_path)
    worker.start()
    try:
        with celery_broker(redis_url):
            result = ping.delay("hello from the test")
            assert result.get(timeout=60) == "hello from the test"
    finally:
        worker.stop()
    assert "portal.tasks.ping" in worker.output()


def test_an_email_queued_while_redis_is_down_is_delivered_when_it_returns(alice, tmp_path):
    redis = RedisServer(tmp_path)  # a private Redis that this test can stop; not started yet
    maildir = tmp_path / "mail"
    maildir.mkdir()
    with celery_broker(redis.url):
        with transaction.atomic():
            message = notification_queue(to=alice, template="welcome", context={"user": alice})
        # The commit tried to hand the message to the broker, which is unreachable.
        message.refresh_from_db()
        assert message.status == OutboxStatus.PENDING
        assert message.attempts == 0

        redis.start()
        worker = CeleryWorker(
            redis.url,
            tmp_path,
            {
                "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
                "EMAIL_FILE_PATH": str(maildir),
                "OUTBOX_RESEND_AFTER_SECONDS": "0",
            },
        )
        worker.start()
        try:
            outbox_flush.delay()  # what the periodic schedule sends every minute
            wait_for(
                lambda: OutboxEmail.objects.get(pk=message.pk).status == OutboxStatus.SENT,
                timeout=60,
                message="the worker to send the pending e-mail",
            )
        finally:
            worker.stop()
            redis.stop()
    files = list(maildir.iterdir())
    assert len(files) == 1
    body = files[0].read_text()
    assert alice.email in body
    assert "Your account on" in body
