"""The audit chain walked by several processes at once: the same verdict, and the same report, as one."""

import pytest
from django.db import connection

from portal.models import AuditEvent
from portal.services import audit
from portal.services.audit import audit_record, audit_verify

# committed events: the forked walkers read them on their own connections
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _tamper(sql: str, params=()):
    with connection.cursor() as cursor:
        cursor.execute("BEGIN")
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)
        cursor.execute("COMMIT")


@pytest.fixture
def long_chain(alice, monkeypatch):
    monkeypatch.setattr(audit, "PARALLEL_FROM", 10)
    for n in range(31):
        audit_record(actor=alice, verb="test.step", target=alice, payload={"n": n, "note": "ünïcode ✓"})
    return list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))


def test_an_intact_chain_is_walked_in_parts(long_chain, monkeypatch):
    walked = []
    part = audit._walk_part
    monkeypatch.setattr(audit, "_walk_part", lambda *args: walked.append(args[:2]) or part(*args))
    for processes in (2, 3):
        report = audit_verify(processes=processes)
        assert report.ok and report.events == len(long_chain)
    assert walked[0] == (1, 16)  # this process's part (the children's are walked in them)
    assert walked[1] == (1, 11)
    assert audit._walk_in_processes(2, {}) == (len(long_chain), AuditEvent.objects.get(seq=len(long_chain)).hash)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE portal_auditevent SET payload = '{\"n\": 99}' WHERE seq = %s",  # altered
        "DELETE FROM portal_auditevent WHERE seq = %s",  # missing
        "UPDATE portal_auditevent SET prev_hash = repeat('a', 64) WHERE seq = %s",  # not following
    ],
)
@pytest.mark.parametrize("where", [3, 16, 17, 31])
def test_a_broken_part_gives_the_report_of_one_walk(long_chain, sql, where):
    _tamper(sql, [where])
    one = audit_verify(processes=1)
    assert not one.ok
    assert audit._walk_in_processes(2, {}) is None
    assert audit_verify(processes=2) == one


def test_check_invariants_in_processes_finds_what_one_process_finds(long_chain):
    from access_requests.invariants import timed_check

    def found(processes):
        return {number: violations for number, violations, _seconds in timed_check(processes=processes)}

    assert found(2) == found(1)
    assert not any(found(2).values())
    _tamper("UPDATE portal_auditevent SET payload = '{\"n\": 99}' WHERE seq = %s", [20])
    one = found(1)
    assert [v.message for v in one[4]] == [
        "the audit chain is broken: event #20 was altered: its content no longer matches its hash"
    ]
    assert found(2) == one
