"""The audit chain's edges: verifying while events are written, TRUNCATE, and anchors outside the database."""

import importlib
import json
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from portal.errors import NotPermitted
from portal.models import AuditChainHead, AuditEvent, OutboxEmail
from portal.services.audit import (
    GENESIS_HASH,
    anchor_mac,
    anchor_parse,
    audit_anchor_write,
    audit_anchors_read,
    audit_record,
    audit_verify,
    event_hash,
)
from portal.tasks import audit_anchor

TRIGGERS = importlib.import_module("portal.migrations.0006_audit_log_indexes_and_head_at_commit")


def _as_superuser(*statements):
    """Run SQL past every trigger, as a database superuser could (replica mode, or dropped triggers on SQLite)."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # TRUNCATE refuses to run with deferred checks pending
            cursor.execute("SET LOCAL session_replication_role = replica")
        else:
            for sql in TRIGGERS.SQLITE_REVERSE:
                cursor.execute(sql)
        for sql, *params in statements:
            cursor.execute(sql, params[0] if params else ())
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = origin")
        else:
            for sql in TRIGGERS.SQLITE_FORWARD:
                cursor.execute(sql)


def _truncate_as_superuser():
    if connection.vendor == "postgresql":
        _as_superuser(("TRUNCATE portal_auditevent, portal_auditchainhead",))
    else:
        _as_superuser(("DELETE FROM portal_auditevent",), ("DELETE FROM portal_auditchainhead",))


def _record(actor, n, verb="test.step"):
    for i in range(n):
        audit_record(actor=actor, verb=verb, target=actor, payload={"i": i})


def _anchor_lines() -> list[str]:
    path = Path(settings.AUDIT_ANCHOR_FILE)
    return path.read_text().splitlines() if path.exists() else []


def _head():
    return AuditChainHead.objects.get()


# --- verification while events are written (PostgreSQL, real concurrent writers) --------------


class _Writers:
    """Threads appending audit events in a loop, each on its own database connection."""

    def __init__(self, actor, count=2):
        self.actor, self.stop, self.errors = actor, threading.Event(), []
        self.threads = [threading.Thread(target=self._run, args=(n,)) for n in range(count)]

    def _run(self, n):
        try:
            while not self.stop.is_set():
                audit_record(actor=self.actor, verb="test.concurrent", payload={"writer": n})
        except Exception as exc:  # pragma: no cover - asserted empty below
            self.errors.append(exc)
        finally:
            connection.close()

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def wait_for(self, count, timeout=30.0):
        deadline = time.monotonic() + timeout
        while _written() < count:
            assert not self.errors and time.monotonic() < deadline, self.errors or "the writers wrote nothing"
            time.sleep(0.01)

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join()
        assert self.errors == []


def _written():
    return AuditEvent.objects.filter(verb="test.concurrent").count()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_verifying_while_events_are_written_gives_no_false_alarm(alice):
    """The old verifier read the head, then the events: an append between the two looked like tampering."""
    reports = []
    with _Writers(alice) as writers:
        writers.wait_for(5)
        before = _written()
        for n in range(60):
            if n % 2:  # inside a caller's transaction the isolation cannot change: the head-first walk must hold
                with transaction.atomic():
                    reports.append(audit_verify())
            else:
                reports.append(audit_verify())
        during = _written() - before
    assert [r.reason for r in reports if not r.ok] == []
    assert during > 0, "the writers must have appended while verification ran"
    assert audit_verify().events == AuditEvent.objects.count()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "tamper, reason",
    [
        (("UPDATE portal_auditevent SET payload = %s WHERE seq = 3", ['{"forged": true}']), "altered"),
        (("DELETE FROM portal_auditevent WHERE seq = 3",), "missing"),
    ],
    ids=["edited-payload", "deleted-event"],
)
def test_tampering_is_found_while_events_are_written(alice, tamper, reason):
    with _Writers(alice) as writers:
        writers.wait_for(5)
        assert audit_verify().ok
        _as_superuser(tamper)
        reports = [audit_verify() for _ in range(10)]
    assert all(not r.ok and r.first_bad_seq == 3 and reason in r.reason for r in reports), reports


# --- TRUNCATE --------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize(
    "sql",
    [
        "TRUNCATE portal_auditevent",
        "TRUNCATE portal_auditchainhead",
        "TRUNCATE portal_auditevent, portal_auditchainhead RESTART IDENTITY",
        "TRUNCATE portal_user CASCADE",  # reaches the events through their actor foreign key
    ],
)
def test_postgres_refuses_to_truncate_the_audit_log(alice, sql):
    _record(alice, 2)
    refused = pytest.raises(DatabaseError, match="audit log cannot be truncated")
    with refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(sql)
    assert AuditEvent.objects.count() == 3
    assert audit_verify().ok


@pytest.mark.postgres
def test_the_truncate_refusal_is_lifted_only_by_the_transaction_local_setting(alice):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET LOCAL portal.audit_truncate = 'allow'")
        cursor.execute("TRUNCATE portal_auditevent, portal_auditchainhead")
        assert AuditEvent.objects.count() == 0
        transaction.set_rollback(True)
    # SET LOCAL ended with its transaction: the next TRUNCATE is refused again.
    refused = pytest.raises(DatabaseError, match="cannot be truncated")
    with refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("TRUNCATE portal_auditevent")
    assert AuditEvent.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_test_frameworks_flush_still_empties_the_audit_log(alice):
    """What transactional tests and live_server do after each test (TRUNCATE on PostgreSQL, DELETE on SQLite)."""
    _record(alice, 3)
    call_command("flush", interactive=False, verbosity=0)
    assert not AuditEvent.objects.exists()
    assert not AuditChainHead.objects.exists()
    audit_record(actor="system:test", verb="test.after_flush")  # the triggers are back and the chain restarts
    with pytest.raises(DatabaseError, match="audit"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM portal_auditevent")
    assert audit_verify().events == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_manage_py_flush_outside_the_test_suite_is_refused(alice):
    """A separate process runs the portal's own code, without the test suite's flush hook."""
    _record(alice, 2)
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "DATABASE_CONN_MAX_AGE": "0",
    }
    manage = Path(__file__).resolve().parents[2] / "manage.py"
    flush = (  # manage.py flush says only "couldn't be flushed"; print the database's reason
        "from django.core.management import call_command\n"
        "try:\n    call_command('flush', interactive=False)\n"
        "except Exception as exc:\n    print(exc, exc.__cause__)\n    raise SystemExit(1)\n"
    )
    result = subprocess.run(  # noqa: S603
        [sys.executable, str(manage), "shell", "-c", flush], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1, result.stderr
    assert "couldn't be flushed" in result.stdout
    assert "the audit log cannot be truncated: TRUNCATE refused" in result.stdout
    assert AuditEvent.objects.count() == 3
    assert audit_verify().ok


def test_no_portal_code_lifts_the_truncate_refusal():
    """Only the migration that defines the setting and the test suite's flush may name it."""
    root = Path(__file__).resolve().parents[2]
    offenders = [
        str(path.relative_to(root))
        for app in ("portal", "catalogue", "access_requests")
        for path in (root / app).rglob("*.py")
        if "audit_truncate" in path.read_text() and path.name != "0005_audit_edges.py"
    ]
    assert offenders == []


@pytest.mark.postgres
def test_a_superuser_in_replica_mode_bypasses_the_truncate_trigger_and_the_anchor_catches_it(alice):
    """session_replication_role = replica silences every ordinary trigger, TRUNCATE's included.

    A superuser can bypass any trigger; that is why the head is anchored outside the database.
    """
    _record(alice, 3)
    audit_anchor_write(actor="system:test")
    _truncate_as_superuser()
    assert not AuditEvent.objects.exists()
    assert audit_verify().ok, "without anchors an emptied log looks like a new one"
    with pytest.raises(CommandError, match=r"anchored event #4 is gone.*truncated"):
        call_command("verify_audit")


# --- anchors outside the database --------------------------------------------------------------


def test_the_anchor_task_appends_one_signed_line_for_the_chain_head(alice):
    _record(alice, 3)
    assert audit_anchor() == 4  # user.create and three steps
    (line,) = _anchor_lines()
    at, seq, head_hash, mac = line.split()
    head = _head()
    assert (int(seq), head_hash) == (head.seq, head.hash)
    assert mac == anchor_mac(at=at, seq=head.seq, hash=head.hash)
    assert at.endswith("+00:00")
    assert stat.S_IMODE(os.stat(settings.AUDIT_ANCHOR_FILE).st_mode) & 0o007 == 0  # no access for others


def test_running_the_anchor_task_twice_writes_one_line(alice):
    _record(alice, 2)
    first = audit_anchor_write(actor="system:test")
    second = audit_anchor_write(actor="system:test")
    assert (first.filed, second.filed) == (True, False)
    assert second.anchor == first.anchor
    assert len(_anchor_lines()) == 1


def test_new_events_get_a_new_line_after_the_old_ones(alice):
    _record(alice, 1)
    audit_anchor()
    old = _anchor_lines()
    _record(alice, 2)
    audit_anchor()
    lines = _anchor_lines()
    assert lines[:1] == old
    assert [int(line.split()[1]) for line in lines] == [2, 4]


def test_an_empty_chain_is_not_anchored(db):
    assert audit_anchor_write(actor="system:test") is None
    assert not Path(settings.AUDIT_ANCHOR_FILE).exists()


def test_the_anchor_is_mailed_to_the_auditors_once(alice, settings):
    settings.AUDIT_ANCHOR_EMAIL = ["auditor@example.org", "dpo@example.org"]
    _record(alice, 2)
    audit_anchor()
    audit_anchor()
    (message,) = OutboxEmail.objects.filter(template="audit_anchor")
    assert message.to == ["auditor@example.org", "dpo@example.org"]
    assert "anchor #3" in message.subject
    assert _anchor_lines()[0] in message.body_text
    assert "verify_audit --anchor-file" in message.body_text


def test_a_line_filed_before_the_auditors_were_configured_is_still_mailed_once(alice, settings):
    _record(alice, 1)
    audit_anchor()
    settings.AUDIT_ANCHOR_EMAIL = ["auditor@example.org"]
    result = audit_anchor_write(actor="system:test")
    assert (result.filed, result.mailed) == (False, True)
    assert audit_anchor_write(actor="system:test").mailed is False
    assert OutboxEmail.objects.filter(template="audit_anchor").count() == 1
    assert len(_anchor_lines()) == 1


def test_without_auditors_no_anchor_mail_is_queued(alice):
    _record(alice, 1)
    assert audit_anchor_write(actor="system:test").mailed is False
    assert not OutboxEmail.objects.filter(template="audit_anchor").exists()


def test_with_no_anchor_file_the_mail_alone_is_the_anchor(alice, settings):
    settings.AUDIT_ANCHOR_FILE = ""
    settings.AUDIT_ANCHOR_EMAIL = ["auditor@example.org"]
    _record(alice, 1)
    audit_anchor()
    audit_anchor()
    (message,) = OutboxEmail.objects.filter(template="audit_anchor")
    assert f" 2 {_head().hash} " in message.body_text


def test_only_the_scheduler_anchors(alice):
    with pytest.raises(NotPermitted):
        audit_anchor_write(actor=alice)


def test_the_beat_schedule_anchors_at_the_configured_interval():
    from portal.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["audit-anchor"]
    assert entry == {"task": "portal.tasks.audit_anchor", "schedule": float(settings.AUDIT_ANCHOR_INTERVAL_SECONDS)}
    assert settings.AUDIT_ANCHOR_INTERVAL_SECONDS == 3600
    app.loader.import_default_modules()
    assert "portal.tasks.audit_anchor" in app.tasks


# --- verify_audit against the anchors ----------------------------------------------------------


def test_verify_audit_passes_with_good_anchors(alice, capsys):
    _record(alice, 2)
    audit_anchor()
    _record(alice, 2)
    audit_anchor()
    _record(alice, 1)  # events after the latest anchor are fine
    call_command("verify_audit")
    out = capsys.readouterr().out
    assert "Audit chain intact: 6 events." in out
    assert "Anchors checked: 2; the latest is #5 of " in out


@pytest.mark.parametrize("rewritten", [0, 2, 8], ids=["emptied", "restarted-short", "restarted-long"])
def test_verify_audit_detects_a_truncated_chain(alice, rewritten):
    _record(alice, 4)
    audit_anchor()
    _truncate_as_superuser()
    _record(alice, rewritten)  # a new chain started after the truncation
    report = audit_verify(anchors=audit_anchors_read(settings.AUDIT_ANCHOR_FILE).anchors)
    assert not report.ok
    expected = "rewritten after it was anchored" if rewritten >= 5 else "anchored event #5 is gone"
    assert expected in report.reason
    with pytest.raises(CommandError, match="Audit chain broken"):
        call_command("verify_audit")


def test_verify_audit_detects_a_chain_rewritten_consistently(alice):
    """A superuser who recomputes every later hash and the head passes the walk; the anchor still tells."""
    _record(alice, 4)
    audit_anchor()
    statements, prev_hash = [], None
    for event in AuditEvent.objects.filter(seq__gte=2).order_by("seq"):
        prev_hash = prev_hash or event.prev_hash
        payload = {"i": "forged"} if event.seq == 2 else event.payload
        fields = {
            "seq": event.seq,
            "created_at": event.created_at,
            "actor_id": event.actor_id,
            "actor_label": event.actor_label,
            "verb": event.verb,
            "target_type": event.target_type,
            "target_id": event.target_id,
            "target_label": event.target_label,
            "payload": payload,
            "prev_hash": prev_hash,
        }
        forged = event_hash(**fields)
        statements.append(
            (
                "UPDATE portal_auditevent SET payload = %s, prev_hash = %s, hash = %s WHERE seq = %s",
                [json.dumps(payload), prev_hash, forged, event.seq],
            )
        )
        prev_hash = forged
    statements.append(("UPDATE portal_auditchainhead SET hash = %s", [prev_hash]))
    _as_superuser(*statements)
    assert audit_verify().ok, "the rewrite is consistent: the walk alone cannot see it"
    with pytest.raises(CommandError, match=r"event #5 has hash .* the chain was rewritten after it was anchored"):
        call_command("verify_audit")


def test_verify_audit_fails_when_an_anchored_hash_differs(alice):
    _record(alice, 2)
    audit_anchor()
    at, other = "2026-01-01T00:00:00+00:00", "f" * 64
    with open(settings.AUDIT_ANCHOR_FILE, "a") as handle:
        handle.write(f"{at} 2 {other} {anchor_mac(at=at, seq=2, hash=other)}\n")
    with pytest.raises(CommandError, match=r"event #2 has hash .* the anchor of 2026-01-01T00:00:00\+00:00 recorded"):
        call_command("verify_audit")


def test_verify_audit_refuses_an_edited_anchor_file(alice):
    _record(alice, 2)
    audit_anchor()
    at, seq, _hash, mac = _anchor_lines()[0].split()
    Path(settings.AUDIT_ANCHOR_FILE).write_text(f"{at} {seq} {GENESIS_HASH} {mac}\n")
    with pytest.raises(CommandError, match="not intact: line 1: its HMAC does not match"):
        call_command("verify_audit")


def test_an_anchor_line_signed_with_another_key_is_refused(alice, settings):
    _record(alice, 1)
    audit_anchor()
    settings.AUDIT_ANCHOR_KEY = "another key"
    with pytest.raises(ValueError, match="HMAC"):
        anchor_parse(_anchor_lines()[0])


def test_verify_audit_with_anchors_required_fails_without_an_anchor_file(alice):
    with pytest.raises(CommandError, match="No anchor file"):
        call_command("verify_audit", "--anchors")
    call_command("verify_audit")  # without the flag, no file means no anchor check


def test_verify_audit_checks_an_auditors_copy_of_the_anchors(alice, settings, tmp_path):
    settings.AUDIT_ANCHOR_EMAIL = ["auditor@example.org"]
    _record(alice, 2)
    audit_anchor()
    body = OutboxEmail.objects.get(template="audit_anchor").body_text
    copy = tmp_path / "auditor-copy.txt"
    copy.write_text(body.splitlines()[2].strip() + "\n")
    os.remove(settings.AUDIT_ANCHOR_FILE)  # the server's file is gone too
    call_command("verify_audit", "--anchor-file", str(copy))
    _truncate_as_superuser()
    with pytest.raises(CommandError, match="anchored event #3 is gone"):
        call_command("verify_audit", "--anchor-file", str(copy))


def test_an_event_beyond_the_chain_head_is_reported(alice):
    _record(alice, 1)
    head = _head()
    fields = {
        "seq": head.seq + 1,
        "created_at": head.updated_at,
        "actor_id": None,
        "actor_label": "intruder",
        "verb": "test.forged",
        "target_type": "",
        "target_id": "",
        "target_label": "",
        "payload": {},
        "prev_hash": head.hash,
    }
    AuditEvent(**fields, hash=event_hash(**fields)).save()  # an INSERT that did not move the head
    report = audit_verify()
    assert not report.ok
    assert f"event #{head.seq + 1} lies beyond the chain head (#{head.seq})" in report.reason
