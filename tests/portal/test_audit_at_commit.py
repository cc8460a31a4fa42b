"""A transaction's audit events join the chain just before it commits: the head is locked last and briefly.

Real commits here (transactional tests), so what another connection sees is what the product does.
"""

import threading
import time

import pytest
from django.db import connection, transaction

from portal.models import AuditChainHead, AuditEvent
from portal.services.audit import audit_record, audit_verify
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def _head() -> tuple[int, str]:
    head = AuditChainHead.objects.filter(id=1).values_list("seq", "hash").first()
    return head or (0, "0" * 64)


def _elsewhere(function):
    """Run `function` on another database connection (a thread) and return what it returned."""
    result: list = []

    def run():
        try:
            result.append(function())
        except Exception as exc:  # pragma: no cover - re-raised below
            result.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    assert result, "the other connection never finished"
    if isinstance(result[0], Exception):
        raise result[0]
    return result[0]


def _head_lock_free() -> bool:
    """Whether another transaction could lock the chain head right now (PostgreSQL: NOWAIT)."""
    from django.db import OperationalError

    def try_lock():
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT seq FROM portal_auditchainhead WHERE id = 1 FOR UPDATE NOWAIT")
            return True
        except OperationalError:
            return False

    return _elsewhere(try_lock)


def test_outside_a_transaction_the_event_is_written_at_once(alice):
    event = audit_record(actor=alice, verb="document.view", target=alice)
    assert event.pk is not None and (event.seq, event.hash) == _head()
    assert _elsewhere(lambda: AuditEvent.objects.filter(seq=event.seq, verb="document.view").exists())


def test_inside_a_transaction_the_event_joins_the_chain_at_commit(alice):
    before = _head()
    with transaction.atomic():
        event = audit_record(actor=alice, verb="document.view", target=alice)
        alice.set_password("another long passphrase")
        alice.save(update_fields=["password"])
        assert event.seq is None  # not written yet: the head is untouched
        assert _elsewhere(_head) == before
        assert _elsewhere(lambda: AuditEvent.objects.filter(verb="document.view").count()) == 0
    assert (event.seq, event.hash) == _head() == (before[0] + 1, event.hash)
    assert AuditEvent.objects.get(seq=event.seq).verb == "document.view"
    assert audit_verify().ok


def test_events_of_one_transaction_are_chained_in_the_order_recorded(alice):
    with transaction.atomic():
        events = [audit_record(actor=alice, verb="document.view", payload={"n": n}) for n in range(5)]
    assert [e.payload["n"] for e in AuditEvent.objects.filter(verb="document.view").order_by("seq")] == list(range(5))
    assert [e.seq for e in events] == list(range(events[0].seq, events[0].seq + 5))
    assert audit_verify().ok


def test_a_rolled_back_savepoint_discards_only_its_own_events(alice):
    with transaction.atomic():
        audit_record(actor=alice, verb="document.view", payload={"kept": 1})
        with pytest.raises(RuntimeError), transaction.atomic():
            audit_record(actor=alice, verb="document.view", payload={"kept": 0})
            with transaction.atomic():
                audit_record(actor=alice, verb="document.view", payload={"kept": 0})
            raise RuntimeError("the inner block failed")
        audit_record(actor=alice, verb="document.view", payload={"kept": 2})
    kept = [e.payload["kept"] for e in AuditEvent.objects.filter(verb="document.view").order_by("seq")]
    assert kept == [1, 2]
    assert audit_verify().ok


def test_a_rolled_back_transaction_leaves_no_event_and_the_next_one_chains_on(alice):
    before = _head()
    with pytest.raises(RuntimeError), transaction.atomic():
        audit_record(actor=alice, verb="document.view")
        raise RuntimeError("the change failed")
    assert _head() == before
    assert not AuditEvent.objects.filter(verb="document.view").exists()
    audit_record(actor=alice, verb="api_token.create")
    assert _head()[0] == before[0] + 1
    assert audit_verify().ok


@pytest.mark.postgres  # SQLite checks these foreign keys at once, never at COMMIT
def test_a_change_that_fails_at_commit_takes_its_event_with_it(alice):
    """Never an event without its change: PostgreSQL checks the deferred foreign keys at COMMIT, after the events."""
    from datetime import timedelta

    from django.db import IntegrityError
    from django.utils import timezone

    from portal.models import ApiToken

    before = _head()
    with pytest.raises(IntegrityError), transaction.atomic():
        audit_record(actor=alice, verb="api_token.create", target=alice)
        expires = timezone.now() + timedelta(days=1)
        ApiToken.objects.create(user_id=10**9, name="dangling", prefix="p" * 12, digest="d" * 64, expires_at=expires)
    assert _head() == before
    assert not AuditEvent.objects.filter(verb="api_token.create").exists()
    assert not ApiToken.objects.exists()
    audit_record(actor=alice, verb="document.view")  # the connection is usable and the chain goes on
    assert audit_verify().ok


@pytest.mark.postgres
def test_the_head_is_not_locked_while_the_transaction_that_recorded_an_event_runs(alice):
    with transaction.atomic():
        audit_record(actor=alice, verb="document.view")
        assert _head_lock_free()
    assert _head_lock_free()  # and after the commit


@pytest.mark.postgres
def test_a_sign_in_is_not_blocked_by_a_transaction_that_recorded_an_event_and_runs_on(client, alice, bob, settings):
    """The old audit_record locked the head until the caller committed: this sign-in waited for it."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # time the lock, not the hash
    alice.set_password(PASSWORD)
    alice.save(update_fields=["password"])
    recorded, held_for = threading.Event(), 2.0
    errors = []

    def long_transaction():
        try:
            with transaction.atomic():
                audit_record(actor=bob, verb="document.view", target=bob)
                recorded.set()
                time.sleep(held_for)  # e-mails rendered, more writes: the transaction goes on
        except Exception as exc:  # pragma: no cover - asserted below
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=long_transaction)
    thread.start()
    assert recorded.wait(10)
    started = time.monotonic()
    response = client.post("/accounts/login/", {"username": alice.email, "password": PASSWORD})
    elapsed = time.monotonic() - started
    still_running = thread.is_alive()
    thread.join(timeout=30)
    assert errors == []
    assert response.status_code == 302
    assert still_running, "the other transaction must still have been open during the sign-in"
    assert elapsed < held_for / 2, f"the sign-in waited {elapsed:.2f} s for the other transaction"
    login = AuditEvent.objects.get(verb="user.login", actor_id=alice.pk)
    view = AuditEvent.objects.get(verb="document.view", actor_id=bob.pk)
    assert login.seq < view.seq  # the chain follows commit order
    assert audit_verify().ok


@pytest.mark.postgres
@pytest.mark.parametrize(
    "sql, message",
    [
        ("UPDATE portal_auditchainhead SET seq = seq + 1", "must point to an event"),
        ("UPDATE portal_auditchainhead SET hash = %s", "only moves forward"),
        ("UPDATE portal_auditchainhead SET seq = seq - 1", "only moves forward"),
    ],
)
def test_the_head_moves_only_forward_to_an_event_with_its_hash(alice, sql, message):
    from django.db import DatabaseError

    with transaction.atomic():
        for n in range(3):
            audit_record(actor=alice, verb="document.view", payload={"n": n})  # the head moves by 3 at once
    with pytest.raises(DatabaseError, match=message), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, ["f" * 64] if "%s" in sql else [])
    assert audit_verify().ok
