"""The audit chain: append-only, chained by hash, and every tampering is found."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from portal.models import AuditChainHead, AuditEvent
from portal.services.audit import audit_record, audit_verify


def _tamper(sql: str, params=()):
    """Change the tables as an attacker with database access would, past the triggers."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
            cursor.execute(sql, params)
            cursor.execute("SET LOCAL session_replication_role = origin")
        else:
            cursor.execute("DROP TRIGGER portal_auditevent_no_update")
            cursor.execute("DROP TRIGGER portal_auditevent_no_delete")
            cursor.execute("DROP TRIGGER portal_auditchainhead_forward_only")
            cursor.execute(sql, params)


@pytest.fixture
def chain(alice):
    for n in range(5):
        audit_record(actor=alice, verb="test.step", target=alice, payload={"n": n, "note": "ünïcode ✓"})
    return list(AuditEvent.objects.order_by("seq"))


def test_events_are_chained_in_order(chain):
    for before, after in zip(chain, chain[1:], strict=False):
        assert after.seq == before.seq + 1
        assert after.prev_hash == before.hash
    head = AuditChainHead.objects.get()
    assert (head.seq, head.hash) == (chain[-1].seq, chain[-1].hash)
    assert audit_verify().ok


def test_verify_audit_command_reports_an_intact_chain(chain, capsys):
    call_command("verify_audit")
    assert f"{len(chain) and AuditEvent.objects.count()} events" in capsys.readouterr().out


def test_it_detects_an_edited_event(chain):
    victim = chain[2]
    _tamper("UPDATE portal_auditevent SET payload = %s WHERE seq = %s", ['{"n": 99}', victim.seq])
    report = audit_verify()
    assert not report.ok
    assert report.first_bad_seq == victim.seq
    with pytest.raises(CommandError, match=f"#{victim.seq}"):
        call_command("verify_audit")


def test_it_detects_an_edited_event_whose_hash_was_recomputed(chain):
    """Rewriting an event and its own hash still breaks the link from the next event."""
    from portal.services.audit import event_hash

    victim = chain[1]
    fields = {
        f: getattr(victim, f)
        for f in ("seq", "created_at", "actor_label", "verb", "target_type", "target_id", "target_label", "prev_hash")
    }
    forged = event_hash(actor_id=victim.actor_id, payload={"n": 42}, **fields)
    _tamper("UPDATE portal_auditevent SET payload = %s, hash = %s WHERE seq = %s", ['{"n": 42}', forged, victim.seq])
    report = audit_verify()
    assert not report.ok
    assert report.first_bad_seq == victim.seq + 1


def test_it_detects_a_deleted_event(chain):
    victim = chain[2]
    _tamper("DELETE FROM portal_auditevent WHERE seq = %s", [victim.seq])
    report = audit_verify()
    assert not report.ok
    assert report.first_bad_seq == victim.seq
    assert "missing" in report.reason


def test_it_detects_a_deleted_newest_event(chain):
    newest = chain[-1]
    _tamper("DELETE FROM portal_auditevent WHERE seq = %s", [newest.seq])
    report = audit_verify()
    assert not report.ok
    assert report.first_bad_seq == newest.seq
    with pytest.raises(CommandError, match=f"#{newest.seq}"):
        call_command("verify_audit")


def test_the_model_layer_refuses_updates_and_deletes(chain):
    event = chain[0]
    original = event.verb
    event.verb = "forged"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).update(verb="forged")
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(pk=event.pk).verb == original


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE portal_auditevent SET verb = 'forged'",
        "DELETE FROM portal_auditevent",
        "DELETE FROM portal_auditchainhead",
        "UPDATE portal_auditchainhead SET seq = seq - 1",
    ],
)
def test_the_database_refuses_raw_changes(chain, sql):
    with pytest.raises(DatabaseError, match="audit"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)
    assert audit_verify().ok


def test_an_event_rolls_back_with_the_change_it_records(alice):
    before = AuditEvent.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        audit_record(actor=alice, verb="test.doomed", target=alice)
        raise RuntimeError("the change failed")
    assert AuditEvent.objects.count() == before
    assert audit_verify().ok


def test_a_sign_in_is_audited(client, alice):
    from tests.conftest import PASSWORD

    client.post("/accounts/login/", {"username": alice.email, "password": PASSWORD})
    event = AuditEvent.objects.order_by("-seq").first()
    assert (event.verb, event.actor_id) == ("user.login", alice.pk)
