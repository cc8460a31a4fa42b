"""Committee review through the services: rounds, conflicts, checks, votes, hidden tallies, the
chair's decision bound by the committee's rule, per-dataset decisions and the decision clock."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from access_requests.models import (
    Application,
    ApplicationStatus,
    CommitteeAssignment,
    ConflictDeclaration,
    DatasetDecision,
    DecisionClockEvent,
    ReviewCheck,
    ReviewRound,
    Vote,
)
from access_requests.services import applications as svc
from access_requests.services import review as rv
from access_requests.services import transitions as tr
from access_requests.services.committees import committee_add_member
from portal.errors import InvalidInput, NotPermitted, TransitionError
from portal.models import OutboxEmail
from portal.services.audit import audit_verify
from tests.access_requests.conftest import CHECKLIST_DONE, complete
from tests.helpers import last_event

S = ApplicationStatus


def _mail(template) -> list[OutboxEmail]:
    return list(OutboxEmail.objects.filter(template=template).order_by("pk"))


# --- rounds and the clock at forward ----------------------------------------------------------


def test_the_forward_opens_a_round_with_the_committees_voting_period_and_starts_the_clock(in_review, committee):
    review_round = ReviewRound.objects.get(application=in_review)
    assert (review_round.number, review_round.committee, review_round.is_open) == (1, committee, True)
    assert review_round.voting_deadline - review_round.opened_at == timedelta(days=14)
    assert review_round.submission_number == 1
    start = DecisionClockEvent.objects.get(application=in_review)
    assert (start.kind, start.months, start.at) == ("start", 3, review_round.opened_at)
    clock = rv.clock_for(in_review)
    assert clock.running and not clock.overdue
    assert timedelta(days=88) < clock.time_left <= timedelta(days=92)


def test_a_member_on_the_team_or_stewarding_a_requested_dataset_is_recused_automatically(
    team_of_two, alice, bob, rdo, committee, chair, member, steward
):
    committee_add_member(actor="system:test", committee=committee, user=bob)
    committee_add_member(actor="system:test", committee=committee, user=steward)
    application = complete(team_of_two, alice)
    tr.application_submit(actor=alice, application=application)
    tr.rdo_checklist_update(actor=rdo, application=application, data=CHECKLIST_DONE)
    tr.application_forward(actor=rdo, application=application, committee=committee)
    conflicts = {c.member: c for c in ConflictDeclaration.objects.filter(round__application=application)}
    assert set(conflicts) == {bob, steward}
    assert all(c.automatic for c in conflicts.values())
    assert "team" in conflicts[bob].reason
    assert "Riga Test Hospital" in conflicts[steward].reason
    review_round = rv.current_round(application)
    with pytest.raises(TransitionError, match="recused"):
        rv.vote_cast(actor=steward, review_round=review_round, choice="approve")


def test_the_default_committee_is_the_one_the_requested_holders_name(in_review, committee, holder, other_holder):
    assert rv.default_committee_for(in_review) is None
    CommitteeAssignment.objects.create(holder=holder, committee=committee)
    assert rv.default_committee_for(in_review) == committee


# --- conflicts, checks, votes -----------------------------------------------------------------


def test_declaring_a_conflict_recuses_the_member_and_needs_a_reason(round1, member):
    rv.vote_cast(actor=member, review_round=round1, choice="approve")
    with pytest.raises(InvalidInput):
        rv.conflict_declare(actor=member, review_round=round1, reason="  ")
    rv.conflict_declare(actor=member, review_round=round1, reason="I co-author with the applicant.")
    assert rv.is_recused(round1, member)
    assert not Vote.objects.filter(round=round1, member=member).exists()  # the vote no longer counts
    assert (last_event().verb, last_event().payload["reason"]) == (
        "review.conflict_declare",
        "I co-author with the applicant.",
    )
    with pytest.raises(TransitionError, match="recused"):
        rv.vote_cast(actor=member, review_round=round1, choice="approve")
    with pytest.raises(TransitionError, match="recused"):
        rv.check_record(actor=member, review_round=round1, kind="legal", answers={})


def test_a_member_records_the_legal_and_the_technical_check(round1, member):
    rv.check_record(actor=member, review_round=round1, kind="legal", answers={"ethics": True}, notes="Fine.")
    rv.check_record(actor=member, review_round=round1, kind="legal", answers={"ethics": False}, notes="Expired.")
    rv.check_record(actor=member, review_round=round1, kind="technical", answers={"environment": True})
    checks = {c.kind: c for c in ReviewCheck.objects.filter(round=round1, member=member)}
    assert (checks["legal"].answers, checks["legal"].notes) == ({"ethics": False}, "Expired.")
    assert checks["technical"].answers == {"environment": True}
    with pytest.raises(InvalidInput):
        rv.check_record(actor=member, review_round=round1, kind="legal", answers={"invented": True})
    with pytest.raises(InvalidInput):
        rv.check_record(actor=member, review_round=round1, kind="legal", answers={"ethics": "maybe"})


def test_a_vote_other_than_approve_needs_a_rationale_and_may_change_until_the_round_closes(round1, member):
    with pytest.raises(InvalidInput, match="rationale"):
        rv.vote_cast(actor=member, review_round=round1, choice="reject")
    with pytest.raises(InvalidInput):
        rv.vote_cast(actor=member, review_round=round1, choice="maybe", rationale="Hmm.")
    rv.vote_cast(actor=member, review_round=round1, choice="approve")
    assert last_event().verb == "review.vote"
    rv.vote_cast(actor=member, review_round=round1, choice="request_changes", rationale="Narrow the datasets.")
    assert last_event().verb == "review.vote_change"
    vote = Vote.objects.get(round=round1, member=member)
    assert (vote.choice, vote.rationale) == ("request_changes", "Narrow the datasets.")
    rv.vote_cast(actor=member, review_round=round1, choice="request_changes", rationale="Narrow them to one.")
    reworded = Vote.objects.get(round=round1, member=member)
    assert (reworded.rationale, reworded.cast_at) == ("Narrow them to one.", vote.cast_at)  # still cast then
    assert audit_verify().ok


def test_the_database_holds_one_vote_per_member_and_round_and_a_rationale_for_refusals(round1, member):
    Vote.objects.create(round=round1, member=member, choice="approve", cast_at=timezone.now())
    with pytest.raises(IntegrityError), transaction.atomic():
        Vote.objects.create(round=round1, member=member, choice="approve", cast_at=timezone.now())
    with pytest.raises(IntegrityError), transaction.atomic():
        Vote.objects.filter(round=round1, member=member).update(choice="reject", rationale="")


def test_only_members_of_the_reviewing_committee_vote(round1, rdo, alice, charlie):
    for outsider in (rdo, alice, charlie):
        with pytest.raises(NotPermitted):
            rv.vote_cast(actor=outsider, review_round=round1, choice="approve")
    assert not Vote.objects.exists()


def test_the_tally_is_hidden_until_a_member_votes_and_always_shown_to_the_chair(round1, chair, member, member2, rdo):
    assert rv.round_tally_for(member, round1) is None
    assert rv.round_tally_for(rdo, round1) is None
    assert rv.round_tally_for(chair, round1).counts["voted"] == 0
    rv.vote_cast(actor=member2, review_round=round1, choice="reject", rationale="Too broad.")
    assert rv.round_tally_for(member, round1) is None
    rv.vote_cast(actor=member, review_round=round1, choice="approve")
    tally = rv.round_tally_for(member, round1)
    assert (tally.counts["approve"], tally.counts["reject"]) == (1, 1)
    assert rv.round_tally_for(chair, round1).counts["voted"] == 2


# --- the decision -----------------------------------------------------------------------------


def test_the_chair_approves_only_when_the_rule_is_met(round1, in_review, alice, rdo, chair, member, member2, steward):
    rv.vote_cast(actor=member, review_round=round1, choice="approve")
    with pytest.raises(TransitionError, match="does not allow an approval"):
        rv.round_decide(actor=chair, application=in_review, outcome="approved", rationale="Good.")
    assert Application.objects.get(pk=in_review.pk).status == S.IN_REVIEW
    rv.vote_cast(actor=member2, review_round=round1, choice="approve")
    application = rv.round_decide(
        actor=chair,
        application=in_review,
        outcome="approved",
        rationale="A sound study.",
        conditions="Publish the model weights openly.",
        round_number=1,
    )
    assert application.status == S.APPROVED
    review_round = ReviewRound.objects.get(pk=round1.pk)
    assert (review_round.outcome, review_round.decided_by, review_round.conditions) == (
        "approved",
        chair,
        "Publish the model weights openly.",
    )
    assert review_round.closed_at is not None
    event = last_event()
    assert (event.verb, event.payload["status"], event.payload["round"]) == (
        "application.decide_approve",
        "approved",
        1,
    )
    assert rv.clock_for(application).stopped
    to_team = _mail("application_decided")[-1]
    assert to_team.to == [alice.email]
    assert "approved" in to_team.body_text and "Publish the model weights openly." in to_team.body_text
    staff = {address for m in _mail("application_decided_staff") for address in m.to}
    assert {rdo.email, steward.email} <= staff
    with pytest.raises(TransitionError, match="closed"):
        rv.vote_cast(actor=member, review_round=round1, choice="reject", rationale="Changed my mind.")
    with pytest.raises(TransitionError, match="already closed"):
        rv.round_decide(actor=chair, application=in_review, outcome="approved", rationale="Again.", round_number=1)
    assert audit_verify().ok


def test_the_chair_may_always_take_the_cautious_outcome_but_never_approve_against_the_vote(
    round1, in_review, chair, member, member2
):
    rv.vote_cast(actor=member, review_round=round1, choice="approve")
    rv.vote_cast(actor=member2, review_round=round1, choice="approve")
    with pytest.raises(InvalidInput, match="rationale"):
        rv.round_decide(actor=chair, application=in_review, outcome="rejected", rationale="")
    application = rv.round_decide(
        actor=chair, application=in_review, outcome="rejected", rationale="The DPIA misses the cloud provider."
    )
    assert application.status == S.REJECTED
    assert ReviewRound.objects.get(pk=round1.pk).outcome == "rejected"


def test_only_the_chair_decides(round1, in_review, member, rdo):
    for actor in (member, rdo):
        with pytest.raises(NotPermitted):
            rv.round_decide(actor=actor, application=in_review, outcome="rejected", rationale="No.")


def test_a_return_for_changes_pauses_the_clock_and_the_next_forward_opens_a_new_round(
    round1, in_review, alice, rdo, committee, chair, member
):
    rv.vote_cast(actor=member, review_round=round1, choice="request_changes", rationale="Add the DPO's opinion.")
    application = rv.round_decide(
        actor=chair, application=in_review, outcome="returned", rationale="Add the DPO's opinion."
    )
    assert application.status == S.RETURNED
    assert rv.clock_for(application).paused
    assert "does not count" in _mail("application_decided")[-1].body_text
    tr.application_submit(actor=alice, application=application)
    assert rv.clock_for(application).paused  # still paused until the RDO forwards again
    tr.rdo_checklist_update(actor=rdo, application=application, data=CHECKLIST_DONE)
    tr.application_forward(actor=rdo, application=application, committee=committee)
    rounds = list(ReviewRound.objects.filter(application=application).order_by("number"))
    assert [(r.number, r.outcome, r.submission_number) for r in rounds] == [(1, "returned", 1), (2, "", 2)]
    assert Vote.objects.filter(round=rounds[0]).count() == 1  # the earlier round keeps its votes
    kinds = list(DecisionClockEvent.objects.filter(application=application).values_list("kind", flat=True))
    assert kinds == ["start", "pause", "resume"]
    assert rv.clock_for(application).running


def test_withdrawing_during_review_closes_the_round_and_stops_the_clock(round1, in_review, alice):
    tr.application_withdraw(actor=alice, application=in_review, reason="Changed plans.")
    assert ReviewRound.objects.get(pk=round1.pk).outcome == "withdrawn"
    assert rv.clock_for(in_review).stopped


@pytest.fixture
def two_holders(alice, rdo, committee, chair, member, dataset, other_dataset):
    draft = svc.application_create(actor=alice, title="Breast density and AI", datasets=[dataset, other_dataset])
    application = complete(draft, alice)
    tr.application_submit(actor=alice, application=application)
    tr.rdo_checklist_update(actor=rdo, application=application, data=CHECKLIST_DONE)
    tr.application_forward(actor=rdo, application=application, committee=committee)
    return application


def test_an_approval_may_cover_some_datasets_and_refuse_others_with_a_reason(
    two_holders, chair, member, alice, other_steward
):
    review_round = rv.current_round(two_holders)
    rv.vote_cast(actor=chair, review_round=review_round, choice="approve")
    rv.vote_cast(actor=member, review_round=review_round, choice="approve")
    first, second = two_holders.requested.order_by("pk")
    with pytest.raises(InvalidInput) as refused:
        rv.round_decide(
            actor=chair,
            application=two_holders,
            outcome="approved",
            rationale="Partly.",
            datasets={first.pk: (True, ""), second.pk: (False, "")},
        )
    assert str(second.pk) in refused.value.fields
    with pytest.raises(InvalidInput):
        rv.round_decide(
            actor=chair,
            application=two_holders,
            outcome="approved",
            rationale="None.",
            datasets={first.pk: (False, "No."), second.pk: (False, "No.")},
        )
    with pytest.raises(InvalidInput):
        rv.round_decide(
            actor=chair, application=two_holders, outcome="approved", rationale="One.", datasets={first.pk: (True, "")}
        )
    rv.round_decide(
        actor=chair,
        application=two_holders,
        outcome="approved",
        rationale="The Riga images fit; the Valencia ones do not.",
        datasets={first.pk: (True, ""), second.pk: (False, "Prostate MR is outside the stated purpose.")},
    )
    decisions = {d.requested: (d.approved, d.reason) for d in DatasetDecision.objects.all()}
    assert decisions == {first: (True, ""), second: (False, "Prostate MR is outside the stated purpose.")}
    body = _mail("application_decided")[-1].body_text
    assert "LV-MG-001" in body and "ES-MR-002" in body and "outside the stated purpose" in body
    assert last_event().payload["datasets"] == {"LV-MG-001": True, "ES-MR-002": False}
    assert any(other_steward.email in m.to for m in _mail("application_decided_staff"))


# --- the clock's extension --------------------------------------------------------------------


def test_the_chair_extends_the_clock_once_with_a_reason_sent_to_the_applicant(in_review, chair, member, alice):
    due = rv.clock_for(in_review).due_at
    with pytest.raises(NotPermitted):
        rv.clock_extend(actor=member, application=in_review, months=1, reason="Busy.")
    with pytest.raises(InvalidInput) as invalid:
        rv.clock_extend(actor=chair, application=in_review, months=4, reason="")
    assert set(invalid.value.fields) == {"months", "reason"}
    state = rv.clock_extend(actor=chair, application=in_review, months=2, reason="An external DPO opinion is needed.")
    assert state.extended and state.due_at > due
    mail = _mail("decision_clock_extended")[-1]
    assert mail.to == [alice.email]
    assert "An external DPO opinion is needed." in mail.body_text and "2 months" in mail.body_text
    assert last_event().verb == "application.clock_extend"
    with pytest.raises(TransitionError, match="once"):
        rv.clock_extend(actor=chair, application=in_review, months=1, reason="Again.")
    assert DecisionClockEvent.objects.filter(application=in_review, kind="extend").count() == 1


def test_an_application_past_its_time_is_flagged_overdue(in_review):
    DecisionClockEvent.objects.filter(application=in_review, kind="start").update(
        at=timezone.now() - timedelta(days=100)
    )
    state = rv.clock_for(in_review)
    assert state.overdue and state.time_left < timedelta(0)


# --- committee settings ---------------------------------------------------------------------


def test_the_rdo_sets_the_committees_rule_and_periods_and_the_round_follows_them(
    forwardable, rdo, committee, chair, member, holder, alice
):
    from access_requests.services.committees import committee_assign_holder, committee_configure

    with pytest.raises(NotPermitted):
        committee_configure(actor=chair, committee=committee, settings={"voting_days": 7})
    with pytest.raises(InvalidInput) as invalid:
        committee_configure(actor=rdo, committee=committee, settings={"approve_share": 120, "colour": "red"})
    assert set(invalid.value.fields) == {"colour"}
    with pytest.raises(InvalidInput) as invalid:
        committee_configure(actor=rdo, committee=committee, settings={"approve_share": 120})
    assert "approve_share" in invalid.value.fields
    committee_configure(
        actor=rdo,
        committee=committee,
        settings={"decision_rule": "objection_window", "objection_days": 5, "voting_days": 7, "decision_months": 2},
    )
    assert last_event().verb == "committee.configure"
    committee_assign_holder(actor=rdo, holder=holder, committee=committee)
    assert rv.default_committee_for(forwardable) == committee
    application = tr.application_forward(actor=rdo, application=forwardable, committee=committee)
    review_round = rv.current_round(application)
    assert review_round.voting_deadline - review_round.opened_at == timedelta(days=7)
    assert DecisionClockEvent.objects.get(application=application).months == 2
    outcome = rv.round_outcome(review_round)
    assert (outcome.met, outcome.detail) == (False, "The objection window is still open.")
    later = review_round.opened_at + timedelta(days=8)
    assert rv.round_outcome(review_round, now=later).approval_allowed
