"""The committee's decision rules and the decision clock, as pure functions of what happened.

Nothing here reads the database: the services (access_requests/services/review.py) hand in the
votes, the members and the clock's events, and the pages, the API and the reminders ask the same
functions, so a rule or a deadline is computed in one place only.

Decision rules (one per committee, `Committee.decision_rule`):

- *majority*: once at least `quorum` non-recused members have voted (abstentions count towards
  the quorum), the application may be approved when the approve votes are more than
  `approve_share` percent of the non-recused votes that are not abstentions (50 is a simple
  majority: a tie is not met);
- *unanimity*: once at least `quorum` non-recused members have voted, it may be approved when
  every non-recused vote that is not an abstention approves (an abstention stands aside; at
  least one member must approve);
- *objection window*: approved unless a non-recused member objects (reject or request changes)
  within `objection_days` working days (Monday to Friday) of the round's opening; an objection
  cast after the window closed does not count.

A recused member's vote never counts. When every member is recused the committee cannot decide.
The rule only ever permits an approval: the chair may always take the more cautious outcome.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from dateutil.relativedelta import relativedelta

MAJORITY = "majority"
UNANIMITY = "unanimity"
OBJECTION_WINDOW = "objection_window"

APPROVE = "approve"
REJECT = "reject"
ABSTAIN = "abstain"
REQUEST_CHANGES = "request_changes"

# outcomes a rule suggests (the values of ReviewRound.Outcome)
APPROVED = "approved"
REJECTED = "rejected"
RETURNED = "returned"


@dataclass(frozen=True)
class DecisionRule:
    kind: str
    quorum: int = 1
    approve_share: Decimal = Decimal("50")
    objection_days: int = 10


@dataclass(frozen=True)
class CastVote:
    member: int
    choice: str
    cast_at: datetime


@dataclass(frozen=True)
class Member:
    member: int
    recused: bool = False


@dataclass(frozen=True)
class Outcome:
    met: bool  # the rule has reached a result (enough votes, or the window has closed)
    suggested: str | None  # approved, rejected, returned, or None while the rule has no result
    detail: str  # in words, for the chair's page
    counts: dict

    @property
    def approval_allowed(self) -> bool:
        return self.met and self.suggested == APPROVED


def add_working_days(start: datetime, days: int) -> datetime:
    """`start` moved on by `days` working days (Monday to Friday), keeping the time of day; a start on
    a weekend counts from the next Monday. Public holidays are not known to the portal."""
    moment = start
    while moment.weekday() >= 5:
        moment = (moment + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    left = days
    while left > 0:
        moment += timedelta(days=1)
        if moment.weekday() < 5:
            left -= 1
    return moment


def _cautious(objecting: list[CastVote]) -> str:
    """Between rejecting and returning, the choice more members asked for; a tie returns for changes."""
    rejects = sum(1 for vote in objecting if vote.choice == REJECT)
    changes = sum(1 for vote in objecting if vote.choice == REQUEST_CHANGES)
    return REJECTED if rejects > changes else RETURNED


def rule_outcome(
    rule: DecisionRule,
    votes: Iterable[CastVote],
    members: Iterable[Member],
    now: datetime,
    *,
    opened_at: datetime | None = None,
) -> Outcome:
    """What `rule` makes of the votes cast by `members` at `now` (the objection window counts from
    `opened_at`, the round's opening)."""
    members = list(members)
    eligible = {m.member for m in members if not m.recused}
    counted = [vote for vote in votes if vote.member in eligible]
    counts = {
        "members": len(members),
        "recused": len(members) - len(eligible),
        "voted": len(counted),
        APPROVE: sum(1 for v in counted if v.choice == APPROVE),
        REJECT: sum(1 for v in counted if v.choice == REJECT),
        REQUEST_CHANGES: sum(1 for v in counted if v.choice == REQUEST_CHANGES),
        ABSTAIN: sum(1 for v in counted if v.choice == ABSTAIN),
    }
    if not eligible:
        return Outcome(False, None, "Every member is recused: the committee cannot decide.", counts)
    if rule.kind == OBJECTION_WINDOW:
        return _window_outcome(rule, counted, counts, now, opened_at)
    if rule.kind not in (MAJORITY, UNANIMITY):
        raise ValueError(f"unknown decision rule {rule.kind!r}")
    return _vote_outcome(rule, counted, counts)


def _objecting(votes: list[CastVote]) -> list[CastVote]:
    return [v for v in votes if v.choice in (REJECT, REQUEST_CHANGES)]


def _window_outcome(rule, counted, counts, now, opened_at) -> Outcome:
    if opened_at is None:
        raise ValueError("the objection window counts from the round's opening")
    closes = add_working_days(opened_at, rule.objection_days)
    counts["window_closes"] = closes.isoformat()
    inside = [v for v in _objecting(counted) if v.cast_at <= closes]
    if inside:
        return Outcome(True, _cautious(inside), "A member objected within the objection window.", counts)
    if now < closes:
        return Outcome(False, None, "The objection window is still open.", counts)
    return Outcome(True, APPROVED, "No member objected within the objection window.", counts)


def _vote_outcome(rule, counted, counts) -> Outcome:
    if counts["voted"] < rule.quorum:
        return Outcome(
            False, None, f"{counts['voted']} of the {rule.quorum} votes needed for a quorum have been cast.", counts
        )
    objecting = _objecting(counted)
    decisive = counts[APPROVE] + len(objecting)
    if decisive == 0:
        return Outcome(False, None, "Every vote cast is an abstention: there is no majority either way.", counts)
    if rule.kind == UNANIMITY:
        if not objecting:
            return Outcome(True, APPROVED, "Every member who took a side approves.", counts)
        return Outcome(True, _cautious(objecting), "Not every member approves.", counts)
    if Decimal(counts[APPROVE]) * 100 > rule.approve_share * decisive:
        return Outcome(True, APPROVED, "The approve votes are a sufficient majority.", counts)
    return Outcome(True, _cautious(objecting), "The approve votes are not a sufficient majority.", counts)


# --- the decision clock ---------------------------------------------------------------------

START = "start"
PAUSE = "pause"
RESUME = "resume"
EXTEND = "extend"
STOP = "stop"


@dataclass(frozen=True)
class ClockEvent:
    kind: str  # start (months: the time allowed), pause, resume, extend (months), stop
    at: datetime
    months: int = 0


@dataclass(frozen=True)
class ClockState:
    started: bool
    running: bool  # counting now (started, not paused, not stopped)
    paused: bool
    stopped: bool
    extended: bool
    due_at: datetime | None  # when the decision is due, as things stand at `now`
    time_left: timedelta | None  # frozen while paused
    overdue: bool


def clock_state(events: Iterable[ClockEvent], now: datetime) -> ClockState:
    """The decision clock from its events: the time allowed runs from the start, the time spent
    paused (the application returned to the applicant) is added to it, and one extension adds its
    months. A second extension, or an event before the start, is an error."""
    events = sorted(events, key=lambda e: e.at)
    if not events:
        return ClockState(False, False, False, False, False, None, None, False)
    if events[0].kind != START:
        raise ValueError("a clock starts with a start event")
    started_at, months = events[0].at, events[0].months
    paused_total, paused_since, stopped_at, extension = _replay(events[1:])
    extended = extension is not None
    months += extension or 0
    reference = stopped_at or now
    if paused_since is not None:
        paused_total += max(reference - paused_since, timedelta(0))
    due_at = started_at + relativedelta(months=months) + paused_total
    time_left = due_at - reference
    return ClockState(
        started=True,
        running=paused_since is None and stopped_at is None,
        paused=paused_since is not None,
        stopped=stopped_at is not None,
        extended=extended,
        due_at=due_at,
        time_left=time_left,
        overdue=stopped_at is None and paused_since is None and time_left < timedelta(0),
    )


def _replay(events: list[ClockEvent]):
    """Fold the events after the start: (time paused so far, paused since, stopped at, months extended)."""
    paused_total = timedelta(0)
    paused_since = stopped_at = extension = None
    for event in events:
        if stopped_at is not None:
            raise ValueError("the clock has stopped")
        if event.kind == PAUSE:
            paused_since = paused_since or event.at
        elif event.kind == RESUME:
            if paused_since is not None:
                paused_total += event.at - paused_since
            paused_since = None
        elif event.kind == EXTEND:
            if extension is not None:
                raise ValueError("the decision clock may be extended once only")
            extension = event.months
        elif event.kind == STOP:
            stopped_at = event.at
        else:
            raise ValueError(f"unknown clock event {event.kind!r}")
    return paused_total, paused_since, stopped_at, extension
