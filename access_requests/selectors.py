"""Reads for the committee's pages and the dashboards: decision clocks and rule outcomes of several
applications or rounds at once, in a fixed number of queries (a panel or a queue page never pays
a query per row)."""

from collections import defaultdict
from datetime import timedelta

from django.utils import timezone

from access_requests import rules
from access_requests.models import ClockEventKind, CommitteeMembership, ConflictDeclaration, DecisionClockEvent, Vote


def clock_words(state: rules.ClockState) -> dict | None:
    """What a page says about a clock: due date, whole days left, and its flags; None before it starts."""
    if not state.started:
        return None
    days_left = state.time_left // timedelta(days=1) if state.time_left is not None else None
    return {
        "due_at": state.due_at,
        "days_left": days_left,
        "overdue_days": -days_left if state.overdue and days_left is not None else 0,
        "paused": state.paused,
        "stopped": state.stopped,
        "extended": state.extended,
        "overdue": state.overdue,
        "running": state.running,
    }


def clock_context(application) -> dict:
    """The clock of one application and its extension (with the reason), for a page: one query, none
    before the first forward (which names the committee and starts the clock)."""
    events = list(DecisionClockEvent.objects.filter(application=application)) if application.committee_id else []
    state = rules.clock_state([e.as_rule_event() for e in events], timezone.now())
    extension = next((e for e in events if e.kind == ClockEventKind.EXTEND), None)
    return {"clock": clock_words(state), "clock_extension": extension}


def clocks_for(application_ids) -> dict[int, dict]:
    """The clocks of several applications in one query: {application id: clock words} (started ones)."""
    events = defaultdict(list)
    for event in DecisionClockEvent.objects.filter(application_id__in=list(application_ids)):
        events[event.application_id].append(event.as_rule_event())
    now = timezone.now()
    return {pk: clock_words(rules.clock_state(found, now)) for pk, found in events.items()}


def outcomes_for(rounds) -> dict[int, rules.Outcome]:
    """What each round's committee rule makes of its votes now ({round id: Outcome}), in three
    queries whatever the number of rounds (the same inputs as services.review.round_outcome)."""
    rounds = list(rounds)
    ids = [r.pk for r in rounds]
    votes, recused, members = defaultdict(list), defaultdict(set), defaultdict(list)
    for vote in Vote.objects.filter(round_id__in=ids):
        votes[vote.round_id].append(rules.CastVote(member=vote.member_id, choice=vote.choice, cast_at=vote.cast_at))
    for round_id, member_id in ConflictDeclaration.objects.filter(round_id__in=ids).values_list(
        "round_id", "member_id"
    ):
        recused[round_id].add(member_id)
    committees = {r.committee_id for r in rounds}
    for committee_id, user_id in CommitteeMembership.objects.filter(committee_id__in=committees).values_list(
        "committee_id", "user_id"
    ):
        members[committee_id].append(user_id)
    now = timezone.now()
    return {
        r.pk: rules.rule_outcome(
            r.committee.rule,
            votes[r.pk],
            [rules.Member(member=m, recused=m in recused[r.pk]) for m in members[r.committee_id]],
            now,
            opened_at=r.opened_at,
        )
        for r in rounds
    }
