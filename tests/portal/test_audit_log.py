"""The audit log page at any size: keyset pages by sequence number, exact filters, no count over the table."""

import re
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.audit_log import AUDIT_VERBS, PAGE_SIZE, audit_events_where, audit_page
from portal.models import AuditChainHead, AuditEvent
from portal.services.audit import audit_record

ROOT = Path(__file__).resolve().parents[2]


def _record(actor, n, verb="document.view", **kwargs):
    for i in range(n):
        audit_record(actor=actor, verb=verb, payload={"i": i}, **kwargs)


def _seqs(response) -> list[int]:
    return [int(s) for s in re.findall(r"<tr>\s*<td>(\d+)</td>", response.content.decode())]


def _link(response, rel_text: str) -> str | None:
    found = re.search(rf'<a href="([^"]*)"[^>]*>{rel_text}</a>', response.content.decode())
    return found.group(1).replace("&amp;", "&") if found else None


def test_every_verb_the_code_records_is_in_the_filter():
    """The filter offers AUDIT_VERBS; an action recorded but missing there could not be found."""
    recorded = set()
    for app in ("portal", "catalogue", "access_requests"):
        for path in (ROOT / app).rglob("*.py"):
            text = path.read_text()
            for call in re.finditer(r"audit_record\((.*?)\)\n", text, flags=re.S):
                verb = re.search(r"verb=([^,]*?)(?:,|\n\s*(?:target|payload))", call.group(1), flags=re.S)
                if verb:
                    recorded |= set(re.findall(r'"([a-z_]+\.[a-z_]+)"', verb.group(1)))
    from access_requests.services.transitions import TRANSITIONS

    recorded |= {f"application.{action}" for action in TRANSITIONS}  # verb=f"application.{action}"
    assert len(recorded) > 40, "the scan must find the portal's audit_record calls"
    assert recorded - set(AUDIT_VERBS) == set()


def test_paging_older_visits_every_event_once_while_events_are_added(alice):
    _record(alice, 2 * PAGE_SIZE + 7)
    events = AuditEvent.objects.all()
    seen, page = [], audit_page(events)
    while True:
        seen += [e.seq for e in page.events]
        _record(alice, 3)  # newer events arrive between pages: they must not shift the pages
        if page.older is None:
            break
        page = audit_page(events, before=page.older)
    assert seen == sorted(seen, reverse=True)
    assert len(seen) == len(set(seen)) == 2 * PAGE_SIZE + 7 + 1  # and alice's user.create


def test_paging_newer_from_the_oldest_visits_every_event_once_including_new_ones(alice):
    _record(alice, PAGE_SIZE + 5)
    events = AuditEvent.objects.all()
    seen, page = [], audit_page(events, after=0)
    assert page.older is None and page.events[-1].seq == 1
    added = 0
    while True:
        seen += [e.seq for e in reversed(page.events)]
        if added < 2:
            _record(alice, PAGE_SIZE)
            added += 1
        if page.newer is None:
            break
        page = audit_page(events, after=page.newer)
    assert seen == list(range(1, AuditChainHead.objects.get().seq + 1))


def test_the_page_links_walk_the_log_and_show_the_total_from_the_chain_head(client, rdo, alice):
    _record(alice, PAGE_SIZE + 3)
    total = AuditChainHead.objects.get().seq
    client.force_login(rdo)  # a sign-in event too
    total += 1
    first = client.get("/audit/")
    assert first.status_code == 200
    assert f"the chain holds {total} events" in first.content.decode()
    assert _seqs(first) == list(range(total, total - PAGE_SIZE, -1))
    assert _link(first, "Newer") is None
    older = client.get("/audit/" + _link(first, "Older"))
    assert _seqs(older) == list(range(total - PAGE_SIZE, 0, -1))
    assert _link(older, "Older") is None
    newer = client.get("/audit/" + _link(older, "Newer"))
    assert _seqs(newer) == _seqs(first)
    oldest = client.get("/audit/" + _link(first, "Oldest"))
    assert _seqs(oldest)[-1] == 1 and len(_seqs(oldest)) == PAGE_SIZE


def test_a_page_reads_no_count_and_no_offset_and_a_constant_number_of_statements(client, rdo, alice):
    client.force_login(rdo)
    _record(alice, 5)
    with CaptureQueriesContext(connection) as small:
        client.get("/audit/", {"verb": "document.view", "before": 4})
    _record(alice, 3 * PAGE_SIZE)
    with CaptureQueriesContext(connection) as large:
        response = client.get("/audit/", {"verb": "document.view", "before": 3 * PAGE_SIZE})
    assert response.status_code == 200
    assert len(large) == len(small)
    for query in large.captured_queries:
        sql = query["sql"].upper()
        assert " OFFSET " not in sql
        if "COUNT(" in sql and "PORTAL_AUDITEVENT" in sql:
            assert "LIMIT 1001" in sql, sql  # a filtered total counts at most 1,001 rows


def test_a_filtered_total_is_exact_when_small(client, rdo, alice):
    _record(alice, 3, verb="api_token.create")
    client.force_login(rdo)
    page = client.get("/audit/", {"verb": "api_token.create"}).content.decode()
    assert "3 events match." in page


def test_a_large_filtered_total_reads_more_than(client, rdo, alice, monkeypatch):
    monkeypatch.setattr("portal.views.FILTERED_COUNT_CAP", 4)
    _record(alice, 6)
    client.force_login(rdo)
    assert "More than 4 events match." in client.get("/audit/", {"verb": "document.view"}).content.decode()


def test_filters_match_exact_values(alice, bob):
    _record(alice, 2, verb="document.view", target=alice)
    _record(bob, 1, verb="document.view", target=bob)
    _record("system:import", 1, verb="dataset.create")
    assert {e.actor_id for e in audit_events_where(verb="document.view")} == {alice.pk, bob.pk}
    assert audit_events_where(actor="ALICE@uni.example").count() == 2  # any case of the address
    assert audit_events_where(actor="system:import").count() == 1
    assert audit_events_where(actor="system:imp").count() == 0  # no partial match: exact, on an index
    assert audit_events_where(target_type="portal.user", target_id=str(bob.pk)).count() == 2
    assert audit_events_where(target_type="portal.user").count() == 5


def test_a_users_events_stay_theirs_after_their_address_changes(alice):
    _record(alice, 1)
    alice.email = "alice.new@uni.example"
    alice.save(update_fields=["email"])
    _record(alice, 1)
    assert audit_events_where(actor="alice.new@uni.example").count() == 2


def test_the_page_filters_by_action_actor_and_object(client, rdo, alice, bob):
    _record(alice, 2, target=alice)
    _record(bob, 1, target=bob)
    client.force_login(rdo)
    seqs = _seqs(client.get("/audit/", {"verb": "document.view", "actor": "bob@uni.example"}))
    assert [AuditEvent.objects.get(seq=s).actor_id for s in seqs] == [bob.pk]
    seqs = _seqs(client.get("/audit/", {"target": f"portal.user:{alice.pk}", "verb": "document.view"}))
    assert len(seqs) == 2


@pytest.mark.parametrize(
    "params, message",
    [
        ({"before": "abc"}, "event number is not valid"),
        ({"after": "-1"}, "event number is not valid"),
        ({"before": "99999999999999999999999"}, "event number is not valid"),
        ({"before": "5", "after": "2"}, "event number is not valid"),
        ({"verb": "no.such_action"}, "The filter is not valid"),
        ({"target": "not a type"}, "The filter is not valid"),
    ],
)
def test_bad_parameters_get_the_page_with_a_message_not_a_500(client, rdo, params, message):
    client.force_login(rdo)
    response = client.get("/audit/", params)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert "Show the newest events" in response.content.decode()


def test_a_cursor_past_the_end_shows_no_events_and_a_way_back(client, rdo, alice):
    _record(alice, 3)
    client.force_login(rdo)
    response = client.get("/audit/", {"after": 10_000})
    assert response.status_code == 200
    assert _seqs(response) == []
    assert "No events match." in response.content.decode()
    assert _link(response, "Older") is not None
