"""The committee's decision rules and the decision clock, as pure functions (no database)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from access_requests import rules as r

# Monday 2 March 2026, 10:00 UTC
MONDAY = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def votes(*choices, at=MONDAY):
    """Votes by members 1, 2, 3 ... in order."""
    return [r.CastVote(member=i, choice=choice, cast_at=at) for i, choice in enumerate(choices, start=1)]


def members(count, recused=()):
    return [r.Member(member=i, recused=i in recused) for i in range(1, count + 1)]


MAJORITY = r.DecisionRule(r.MAJORITY, quorum=2, approve_share=Decimal("50"))
UNANIMITY = r.DecisionRule(r.UNANIMITY, quorum=2)
WINDOW = r.DecisionRule(r.OBJECTION_WINDOW, objection_days=5)


# --- majority -------------------------------------------------------------------------------


def test_majority_approves_when_the_approve_votes_are_more_than_the_share():
    outcome = r.rule_outcome(MAJORITY, votes("approve", "approve", "reject"), members(3), MONDAY)
    assert (outcome.met, outcome.suggested, outcome.approval_allowed) == (True, "approved", True)


def test_a_tie_is_not_a_majority_and_suggests_the_cautious_outcome():
    outcome = r.rule_outcome(MAJORITY, votes("approve", "reject"), members(2), MONDAY)
    assert (outcome.met, outcome.suggested, outcome.approval_allowed) == (True, "rejected", False)
    outcome = r.rule_outcome(MAJORITY, votes("approve", "request_changes"), members(2), MONDAY)
    assert outcome.suggested == "returned"


def test_a_tie_between_reject_and_request_changes_returns_the_application():
    outcome = r.rule_outcome(MAJORITY, votes("reject", "request_changes", "approve"), members(3), MONDAY)
    assert outcome.suggested == "returned"


def test_below_quorum_nothing_is_decided_and_abstentions_count_towards_the_quorum():
    outcome = r.rule_outcome(MAJORITY, votes("approve"), members(3), MONDAY)
    assert (outcome.met, outcome.suggested) == (False, None)
    assert "1 of the 2 votes" in outcome.detail
    outcome = r.rule_outcome(MAJORITY, votes("approve", "abstain"), members(3), MONDAY)
    assert (outcome.met, outcome.suggested) == (True, "approved")  # the abstention made the quorum


def test_abstentions_do_not_count_for_or_against():
    outcome = r.rule_outcome(MAJORITY, votes("approve", "abstain", "abstain"), members(3), MONDAY)
    assert outcome.approval_allowed
    assert outcome.counts["abstain"] == 2


def test_only_abstentions_decide_nothing():
    outcome = r.rule_outcome(MAJORITY, votes("abstain", "abstain"), members(2), MONDAY)
    assert (outcome.met, outcome.suggested) == (False, None)
    assert "abstention" in outcome.detail


def test_a_two_thirds_share():
    two_thirds = r.DecisionRule(r.MAJORITY, quorum=3, approve_share=Decimal("66.66"))
    assert r.rule_outcome(two_thirds, votes("approve", "approve", "reject"), members(3), MONDAY).approval_allowed
    four = votes("approve", "approve", "reject", "reject")
    assert not r.rule_outcome(two_thirds, four, members(4), MONDAY).approval_allowed


def test_a_recused_members_vote_never_counts():
    outcome = r.rule_outcome(MAJORITY, votes("reject", "approve", "approve"), members(3, recused={1}), MONDAY)
    assert outcome.approval_allowed
    assert (outcome.counts["reject"], outcome.counts["recused"]) == (0, 1)
    outcome = r.rule_outcome(MAJORITY, votes("approve", "approve"), members(2, recused={1}), MONDAY)
    assert not outcome.met  # one counted vote, quorum 2


def test_everyone_recused_means_the_committee_cannot_decide():
    for rule in (MAJORITY, UNANIMITY, WINDOW):
        outcome = r.rule_outcome(
            rule, votes("approve", "approve"), members(2, recused={1, 2}), MONDAY + timedelta(days=30), opened_at=MONDAY
        )
        assert (outcome.met, outcome.suggested) == (False, None)
        assert "recused" in outcome.detail


# --- unanimity ------------------------------------------------------------------------------


def test_unanimity_needs_every_side_taken_to_approve():
    assert r.rule_outcome(UNANIMITY, votes("approve", "approve"), members(3), MONDAY).approval_allowed
    outcome = r.rule_outcome(UNANIMITY, votes("approve", "approve", "reject"), members(3), MONDAY)
    assert (outcome.met, outcome.suggested) == (True, "rejected")


def test_unanimity_lets_an_abstention_stand_aside_but_not_carry_it_alone():
    assert r.rule_outcome(UNANIMITY, votes("approve", "abstain"), members(2), MONDAY).approval_allowed
    assert not r.rule_outcome(UNANIMITY, votes("abstain", "abstain"), members(2), MONDAY).met


def test_unanimity_waits_for_the_quorum():
    assert not r.rule_outcome(UNANIMITY, votes("approve"), members(3), MONDAY).met


# --- objection window -----------------------------------------------------------------------


def test_working_days_skip_the_weekend():
    friday = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)
    assert r.add_working_days(friday, 1) == datetime(2026, 3, 9, 15, 0, tzinfo=UTC)  # Monday
    assert r.add_working_days(MONDAY, 5) == MONDAY + timedelta(days=7)
    saturday = datetime(2026, 3, 7, 12, 0, tzinfo=UTC)
    assert r.add_working_days(saturday, 1) == datetime(2026, 3, 10, 0, 0, tzinfo=UTC)  # a day after Monday's start


def test_silence_through_the_window_approves():
    closes = MONDAY + timedelta(days=7)  # five working days
    outcome = r.rule_outcome(WINDOW, [], members(3), closes, opened_at=MONDAY)
    assert (outcome.met, outcome.suggested) == (True, "approved")


def test_the_window_still_open_decides_nothing():
    outcome = r.rule_outcome(WINDOW, votes("approve"), members(3), MONDAY + timedelta(days=6), opened_at=MONDAY)
    assert (outcome.met, outcome.suggested) == (False, None)


def test_an_objection_inside_the_window_blocks_approval():
    inside = MONDAY + timedelta(days=4)
    objections = [r.CastVote(member=2, choice="request_changes", cast_at=inside)]
    outcome = r.rule_outcome(WINDOW, objections, members(3), MONDAY + timedelta(days=20), opened_at=MONDAY)
    assert (outcome.met, outcome.suggested, outcome.approval_allowed) == (True, "returned", False)
    rejects = [r.CastVote(member=2, choice="reject", cast_at=inside)]
    assert r.rule_outcome(WINDOW, rejects, members(3), inside, opened_at=MONDAY).suggested == "rejected"


def test_an_objection_outside_the_window_does_not_count():
    # opened on Friday: five working days end the next Friday, 8 March is the Sunday between
    friday = datetime(2026, 3, 6, 10, 0, tzinfo=UTC)
    late = [r.CastVote(member=2, choice="reject", cast_at=friday + timedelta(days=7, minutes=1))]
    outcome = r.rule_outcome(WINDOW, late, members(3), friday + timedelta(days=8), opened_at=friday)
    assert (outcome.met, outcome.suggested) == (True, "approved")
    just_in_time = [r.CastVote(member=2, choice="reject", cast_at=friday + timedelta(days=7))]
    assert not r.rule_outcome(
        WINDOW, just_in_time, members(3), friday + timedelta(days=8), opened_at=friday
    ).approval_allowed


def test_an_abstention_is_no_objection():
    outcome = r.rule_outcome(WINDOW, votes("abstain"), members(2), MONDAY + timedelta(days=7), opened_at=MONDAY)
    assert outcome.approval_allowed


def test_a_recused_members_objection_does_not_count():
    objection = [r.CastVote(member=1, choice="reject", cast_at=MONDAY)]
    outcome = r.rule_outcome(WINDOW, objection, members(2, recused={1}), MONDAY + timedelta(days=7), opened_at=MONDAY)
    assert outcome.approval_allowed


# --- the decision clock ---------------------------------------------------------------------

START = r.ClockEvent(r.START, MONDAY, months=3)
DUE = datetime(2026, 6, 2, 10, 0, tzinfo=UTC)


def test_a_clock_not_started_is_not_overdue():
    state = r.clock_state([], MONDAY)
    assert (state.started, state.due_at, state.overdue) == (False, None, False)


def test_the_clock_runs_for_the_time_allowed_and_then_is_overdue():
    state = r.clock_state([START], MONDAY + timedelta(days=10))
    assert (state.running, state.due_at, state.overdue) == (True, DUE, False)
    assert state.time_left == DUE - (MONDAY + timedelta(days=10))
    late = r.clock_state([START], DUE + timedelta(seconds=1))
    assert late.overdue and late.time_left < timedelta(0)


def test_the_clock_stops_while_returned_and_resumes_at_the_next_forward():
    paused_at, resumed_at = MONDAY + timedelta(days=20), MONDAY + timedelta(days=50)
    events = [START, r.ClockEvent(r.PAUSE, paused_at)]
    during = r.clock_state(events, paused_at + timedelta(days=10))
    later = r.clock_state(events, paused_at + timedelta(days=200))  # far past the due date, still paused
    assert during.paused and not during.running
    assert during.time_left == later.time_left == DUE - paused_at  # frozen while with the applicant
    assert not later.overdue
    resumed = r.clock_state([*events, r.ClockEvent(r.RESUME, resumed_at)], resumed_at)
    assert resumed.running
    assert resumed.due_at == DUE + timedelta(days=30)
    assert resumed.time_left == DUE - paused_at


def test_one_extension_adds_its_months_and_a_second_is_refused():
    extend = r.ClockEvent(r.EXTEND, MONDAY + timedelta(days=80), months=2)
    state = r.clock_state([START, extend], DUE + timedelta(days=1))
    assert state.extended
    assert state.due_at == datetime(2026, 8, 2, 10, 0, tzinfo=UTC)
    assert not state.overdue
    with pytest.raises(ValueError, match="once only"):
        r.clock_state([START, extend, r.ClockEvent(r.EXTEND, MONDAY + timedelta(days=81), months=1)], DUE)


def test_a_stopped_clock_is_never_overdue():
    state = r.clock_state([START, r.ClockEvent(r.STOP, MONDAY + timedelta(days=40))], DUE + timedelta(days=100))
    assert (state.stopped, state.running, state.overdue) == (True, False, False)
    assert state.time_left == DUE - (MONDAY + timedelta(days=40))


def test_a_clock_must_start_with_its_start():
    with pytest.raises(ValueError):
        r.clock_state([r.ClockEvent(r.PAUSE, MONDAY)], MONDAY)
