"""The committee review API: rounds as each role may see them (hidden votes), conflicts, checks and
votes in the open round only, the chair's decision bound by the committee's rule and asking for the
password, and the decision clock with its one extension."""

from datetime import datetime

import pytest
from rest_framework.test import APIClient

from access_requests.models import ApplicationStatus, ConflictDeclaration, ReviewCheck, ReviewRound, Vote
from access_requests.services import review as rv
from portal.models import OutboxEmail
from portal.services.audit import audit_verify
from tests.access_requests.test_api import client_for
from tests.helpers import change_events, last_event

pytestmark = pytest.mark.django_db

BASE = "/api/v1/applications/"


def url(application, tail: str) -> str:
    return f"{BASE}{application.pk}/{tail}"


def rounds(user, application) -> list[dict]:
    response = client_for(user).get(url(application, "rounds/"))
    assert response.status_code == 200, response.content
    return response.json()


def vote(user, application, choice="approve", rationale="", number=1):
    return client_for(user).put(
        url(application, "review/vote/"), {"choice": choice, "rationale": rationale, "round": number}, format="json"
    )


def decide(user, application, outcome="approved", number=1, **extra):
    body = {"outcome": outcome, "rationale": "A sound study.", "round": number, **extra}
    return client_for(user).post(url(application, "decision/"), body, format="json")


# --- reading rounds ------------------------------------------------------------------------------


def test_the_rounds_name_the_committee_and_its_rule_in_words(round1, in_review, chair, committee):
    (first,) = rounds(chair, in_review)
    assert (first["number"], first["open"], first["outcome"], first["submission_number"]) == (1, True, "", 1)
    assert first["committee"]["id"] == committee.pk
    rule = first["committee"]["rule"]
    assert (rule["kind"], rule["quorum"], rule["approve_share"]) == ("majority", 2, 50.0)
    assert "more than 50%" in rule["words"]
    assert [item["item"] for item in first["checklists"]["legal"]][:2] == ["legal_basis", "ethics"]
    one = client_for(chair).get(url(in_review, "rounds/1/"))
    assert one.status_code == 200 and one.json() == first
    missing = client_for(chair).get(url(in_review, "rounds/2/"))
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")


def test_votes_are_hidden_from_a_member_until_they_vote_and_always_shown_to_the_chair(
    round1, in_review, alice, rdo, chair, member, member2
):
    assert vote(member2, in_review, "reject", "Too broad.").status_code == 200
    rv.check_record(actor=member2, review_round=round1, kind="legal", answers={"ethics": False}, notes="Expired.")
    seen = rounds(member, in_review)[0]
    assert (seen["tally"], seen["votes"], seen["checks"]) == (None, None, None)
    assert seen["mine"] == {"vote": None, "checks": [], "recused": False}
    assert seen["conflicts"] == []  # the reviewing committee sees who is recused (nobody yet)
    chair_sees = rounds(chair, in_review)[0]
    assert chair_sees["tally"]["counts"]["reject"] == 1
    assert [(v["member"], v["choice"], v["rationale"]) for v in chair_sees["votes"]] == [
        ("Mia Second", "reject", "Too broad.")
    ]
    assert [(c["member"], c["kind"], c["answers"], c["notes"]) for c in chair_sees["checks"]] == [
        ("Mia Second", "legal", {"ethics": False}, "Expired.")
    ]
    for outsider in (rdo, alice):  # the RDO and the team do not see an open round's votes
        seen = rounds(outsider, in_review)[0]
        assert (seen["tally"], seen["votes"], seen["mine"]) == (None, None, None)
    assert rounds(rdo, in_review)[0]["conflicts"] == []
    assert rounds(alice, in_review)[0]["conflicts"] is None

    response = vote(member, in_review, "approve")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["mine"]["vote"]["choice"] == "approve"
    assert (body["tally"]["counts"]["approve"], body["tally"]["counts"]["reject"]) == (1, 1)
    assert {v["member"] for v in body["votes"]} == {"Max Member", "Mia Second"}
    assert [c["member"] for c in body["checks"]] == ["Mia Second"]
    assert (last_event().verb, last_event().payload) == ("review.vote", {"round": 1, "choice": "approve"})


def test_once_the_round_is_closed_every_member_and_the_rdo_see_the_votes_and_the_team_only_the_decision(
    round1, in_review, alice, rdo, chair, member, member2
):
    vote(member, in_review, "approve")
    vote(chair, in_review, "approve")
    response = decide(chair, in_review, conditions="Publish the model openly.")
    assert response.status_code == 200, response.content
    for reviewer in (member2, rdo):  # member2 never voted
        seen = rounds(reviewer, in_review)[0]
        assert seen["tally"]["suggested"] == "approved"
        assert {v["member"] for v in seen["votes"]} == {"Max Member", "Carla Chair"}
    team = rounds(alice, in_review)[0]
    assert (team["outcome"], team["rationale"], team["conditions"]) == (
        "approved",
        "A sound study.",
        "Publish the model openly.",
    )
    assert (team["tally"], team["votes"], team["conflicts"], team["mine"]) == (None, None, None, None)


def test_a_steward_of_a_requested_dataset_reads_the_rounds_but_does_not_act(round1, in_review, steward):
    seen = rounds(steward, in_review)[0]
    assert (seen["votes"], seen["conflicts"]) == (None, None)
    response = vote(steward, in_review)
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")


# --- conflicts, checks, votes --------------------------------------------------------------------


def test_a_member_declares_a_conflict_and_is_then_refused_a_vote(round1, in_review, member, chair):
    vote(member, in_review, "approve")
    response = client_for(member).post(
        url(in_review, "review/conflict/"), {"reason": "I co-author with the applicant.", "round": 1}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["mine"]["recused"] is True
    assert not Vote.objects.filter(round=round1, member=member).exists()
    assert last_event().verb == "review.conflict_declare"
    conflicts = rounds(chair, in_review)[0]["conflicts"]
    assert conflicts == [{"member": "Max Member", "reason": "I co-author with the applicant.", "automatic": False}]
    refused = vote(member, in_review, "approve")
    assert (refused.status_code, refused.json()["code"]) == (409, "recused")
    empty = client_for(chair).post(url(in_review, "review/conflict/"), {"round": 1}, format="json")
    assert (empty.status_code, list(empty.json()["errors"])) == (400, ["reason"])
    assert not ConflictDeclaration.objects.filter(round=round1, member=chair).exists()


def test_a_member_records_each_check_and_sees_their_own(round1, in_review, member):
    client = client_for(member)
    response = client.put(
        url(in_review, "review/checks/legal/"),
        {"answers": {"ethics": True, "legal_basis": False}, "notes": "The basis is thin.", "round": 1},
        format="json",
    )
    assert response.status_code == 200, response.content
    (check,) = response.json()["mine"]["checks"]
    assert (check["kind"], check["answers"], check["notes"]) == (
        "legal",
        {"ethics": True, "legal_basis": False},
        "The basis is thin.",
    )
    assert last_event().verb == "review.check_record"
    unknown_kind = client.put(url(in_review, "review/checks/ethics/"), {"answers": {}, "round": 1}, format="json")
    assert unknown_kind.status_code == 404
    unknown_item = client.put(
        url(in_review, "review/checks/technical/"), {"answers": {"invented": True}, "round": 1}, format="json"
    )
    assert (unknown_item.status_code, list(unknown_item.json()["errors"])) == (400, ["invented"])
    assert ReviewCheck.objects.filter(round=round1, member=member).count() == 1


def test_unknown_and_read_only_fields_are_refused(round1, in_review, member, chair):
    response = client_for(member).put(
        url(in_review, "review/vote/"), {"choice": "approve", "round": 1, "member": chair.pk}, format="json"
    )
    assert (response.status_code, response.json()["errors"]) == (400, {"member": ["Unknown or read-only field."]})
    response = decide(chair, in_review, outcome="rejected", tally={"met": True})
    assert (response.status_code, list(response.json()["errors"])) == (400, ["tally"])
    response = client_for(member).put(url(in_review, "review/vote/"), {"choice": "approve"}, format="json")
    assert (response.status_code, list(response.json()["errors"])) == (400, ["round"])
    assert not Vote.objects.exists()


def test_a_vote_needs_a_rationale_unless_it_approves(round1, in_review, member):
    response = vote(member, in_review, "reject")
    assert (response.status_code, list(response.json()["errors"])) == (400, ["rationale"])


def test_a_vote_naming_a_round_that_is_not_open_is_refused(round1, in_review, member):
    response = vote(member, in_review, number=2)
    assert (response.status_code, response.json()["code"]) == (409, "round_not_open")
    assert "round 1 is" in response.json()["detail"]
    assert not Vote.objects.exists()


def test_a_late_vote_after_the_decision_is_refused_with_the_round_closed(round1, in_review, chair, member, member2):
    vote(member2, in_review, "reject", "Too broad.")
    assert decide(chair, in_review, outcome="rejected").status_code == 200
    response = vote(member, in_review, "approve")
    assert (response.status_code, response.json()["code"]) == (409, "round_closed")
    assert response.json()["detail"].startswith("Round 1 closed on ")
    checks = client_for(member).put(url(in_review, "review/checks/legal/"), {"answers": {}, "round": 1}, format="json")
    assert (checks.status_code, checks.json()["code"]) == (409, "round_closed")
    assert not Vote.objects.filter(member=member).exists()


# --- the decision ---------------------------------------------------------------------------------


def test_the_chair_cannot_approve_against_the_rule_and_is_told_why(round1, in_review, chair, member):
    vote(member, in_review, "approve")
    before = change_events()
    response = decide(chair, in_review)
    assert (response.status_code, response.json()["code"]) == (409, "rule_not_met")
    assert "1 of the 2 votes needed" in response.json()["detail"]
    assert change_events() == before
    assert ReviewRound.objects.get(pk=round1.pk).is_open


def test_the_chair_approves_once_the_rule_is_met_and_a_second_decision_is_refused(
    round1, in_review, chair, member, member2
):
    vote(member, in_review, "approve")
    vote(member2, in_review, "approve")
    response = decide(
        chair, in_review, conditions="Cite the collection.", datasets=[{"dataset": "LV-MG-001", "approved": True}]
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["open"], body["outcome"], body["conditions"]) == (False, "approved", "Cite the collection.")
    assert body["dataset_decisions"] == [{"dataset": "LV-MG-001", "approved": True, "reason": ""}]
    in_review.refresh_from_db()
    assert in_review.status == ApplicationStatus.APPROVED
    assert last_event().verb == "application.decide_approve"
    again = decide(chair, in_review, outcome="rejected")
    assert (again.status_code, again.json()["code"]) == (409, "round_closed")
    assert audit_verify().ok


def test_a_decision_naming_datasets_the_application_does_not_request_is_refused(
    round1, in_review, chair, member, member2
):
    vote(member, in_review, "approve")
    vote(member2, in_review, "approve")
    response = decide(chair, in_review, datasets=[{"dataset": "NO-SUCH", "approved": True}])
    assert (response.status_code, list(response.json()["errors"])) == (400, ["datasets"])
    assert ReviewRound.objects.get(pk=round1.pk).is_open


def test_the_decision_asks_for_the_password(round1, in_review, chair, member2):
    vote(member2, in_review, "reject", "Too broad.")
    client = APIClient()
    client.force_authenticate(chair)
    response = client.post(
        url(in_review, "decision/"), {"outcome": "rejected", "rationale": "No.", "round": 1}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (403, "sudo_required")
    assert ReviewRound.objects.get(pk=round1.pk).is_open
    extension = client.post(url(in_review, "clock/extension/"), {"months": 1, "reason": "Busy."}, format="json")
    assert (extension.status_code, extension.json()["code"]) == (403, "sudo_required")


def test_only_the_chair_decides(round1, in_review, member, rdo):
    for user in (member, rdo):
        response = decide(user, in_review, outcome="rejected")
        assert response.status_code == 403
    assert ReviewRound.objects.get(pk=round1.pk).is_open


# --- the decision clock --------------------------------------------------------------------------


def test_the_clock_says_when_the_decision_is_due(in_review, alice):
    response = client_for(alice).get(url(in_review, "clock/"))
    assert response.status_code == 200
    clock = response.json()
    assert (clock["started"], clock["running"], clock["paused"], clock["stopped"]) == (True, True, False, False)
    assert (clock["extended"], clock["overdue"], clock["extension"], clock["time_allowed_months"]) == (
        False,
        False,
        None,
        3,
    )
    assert 88 <= clock["days_left"] <= 92
    assert datetime.fromisoformat(clock["due_at"]) == rv.clock_for(in_review).due_at


def test_the_clock_of_an_application_not_yet_forwarded_has_not_started(submitted, alice):
    clock = client_for(alice).get(url(submitted, "clock/")).json()
    assert (clock["started"], clock["due_at"], clock["days_left"], clock["time_allowed_months"]) == (
        False,
        None,
        None,
        None,
    )


def test_the_chair_extends_the_clock_once(in_review, chair, member, alice):
    refused = client_for(member).post(
        url(in_review, "clock/extension/"), {"months": 1, "reason": "Busy."}, format="json"
    )
    assert refused.status_code == 403
    too_long = client_for(chair).post(
        url(in_review, "clock/extension/"), {"months": 9, "reason": "Busy."}, format="json"
    )
    assert (too_long.status_code, list(too_long.json()["errors"])) == (400, ["months"])
    response = client_for(chair).post(
        url(in_review, "clock/extension/"), {"months": 2, "reason": "An external expert is consulted."}, format="json"
    )
    assert response.status_code == 200, response.content
    clock = response.json()
    assert (clock["extended"], clock["time_allowed_months"]) == (True, 5)
    assert (clock["extension"]["months"], clock["extension"]["reason"]) == (2, "An external expert is consulted.")
    assert last_event().verb == "application.clock_extend"
    assert OutboxEmail.objects.filter(template="decision_clock_extended", to=[alice.email]).exists()
    again = client_for(chair).post(url(in_review, "clock/extension/"), {"months": 1, "reason": "More."}, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "already_extended")


# --- who may call at all -------------------------------------------------------------------------

EVERY_ENDPOINT = [
    ("get", "rounds/", None),
    ("get", "rounds/1/", None),
    ("post", "review/conflict/", {"reason": "A friend.", "round": 1}),
    ("put", "review/checks/legal/", {"answers": {"ethics": True}, "round": 1}),
    ("put", "review/vote/", {"choice": "approve", "round": 1}),
    ("post", "decision/", {"outcome": "rejected", "rationale": "No.", "round": 1}),
    ("get", "clock/", None),
    ("post", "clock/extension/", {"months": 1, "reason": "Busy."}),
]


@pytest.mark.parametrize("endpoint", EVERY_ENDPOINT, ids=lambda e: f"{e[0].upper()} {e[1]}")
def test_an_outsider_gets_404_and_an_anonymous_caller_401(round1, in_review, charlie, endpoint):
    method, tail, body = endpoint
    before = change_events()
    response = getattr(client_for(charlie), method)(url(in_review, tail), body, format="json")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    anonymous = getattr(APIClient(), method)(url(in_review, tail), body, format="json")
    assert anonymous.status_code == 401
    assert change_events() == before
    assert last_event("access.refused").payload["status"] == 404
