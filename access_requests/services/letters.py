"""Decision letters: the PDF that records a review round's decision, for the applicant and the file.

`round_decide` queues `decision_letter_render` once the decision has committed (a decision rolled
back queues nothing). The letter is rendered outside any transaction (WeasyPrint takes a while),
then stored and recorded in one transaction with its audit event. A round has one letter: the
unique one-to-one row settles a race between two tasks, and the loser's staged file is removed
with its rolled-back transaction. The decision never depends on the letter: if rendering fails,
the task retries, and the decision stands meanwhile.
"""

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from access_requests import rules
from access_requests.models import (
    ClockEventKind,
    DatasetDecision,
    DecisionClockEvent,
    DecisionLetter,
    ReviewRound,
)
from access_requests.models.review import LETTER_TEMPLATE_VERSION
from access_requests.services.documents import documents_staged
from access_requests.services.generated import generated_store, pdf_render
from access_requests.services.review import round_outcome
from portal.services.audit import audit_record

LETTER_TEMPLATE = "access_requests/letters/decision_letter.html"
LETTER_ACTOR = "system:decision-letter"
DECIDED = (rules.APPROVED, rules.REJECTED, rules.RETURNED)

VOTE_WORDS = [
    ("members", "members of the committee"),
    ("recused", "recused (conflict of interest)"),
    ("voted", "votes counted"),
    (rules.APPROVE, "approve"),
    (rules.REJECT, "reject"),
    (rules.REQUEST_CHANGES, "request changes"),
    (rules.ABSTAIN, "abstain"),
]


def decision_in_words(review_round: ReviewRound, refused: list) -> str:
    if review_round.outcome == rules.APPROVED:
        return "Approved for some datasets only" if refused else "Approved"
    return {rules.REJECTED: "Rejected", rules.RETURNED: "Returned for changes"}.get(
        review_round.outcome, review_round.get_outcome_display()
    )


def _clock_at_decision(review_round: ReviewRound) -> dict:
    """The decision clock as it stood when the round closed (later events, a resume after a return,
    are not the letter's business)."""
    events = list(
        DecisionClockEvent.objects.filter(application=review_round.application_id, at__lte=review_round.closed_at)
    )
    if not events:
        return {}
    state = rules.clock_state([event.as_rule_event() for event in events], review_round.closed_at)
    extension = next((event for event in events if event.kind == ClockEventKind.EXTEND), None)
    return {
        "started_at": events[0].at,
        "months": events[0].months,
        "due_at": state.due_at,
        "extension": extension,
        "within_time": not state.overdue and (state.time_left is None or state.time_left.total_seconds() >= 0),
    }


def decision_letter_context(review_round: ReviewRound) -> dict:
    """Everything the letter says about the round's decision."""
    application = review_round.application
    decisions = list(
        DatasetDecision.objects.filter(round=review_round).select_related("requested__dataset").order_by("pk")
    )
    requested = [item.dataset for item in application.requested.select_related("dataset").order_by("pk")]
    if decisions:
        approved = [d.requested.dataset for d in decisions if d.approved]
        refused = [(d.requested.dataset, d.reason) for d in decisions if not d.approved]
    else:
        approved = requested if review_round.outcome == rules.APPROVED else []
        refused = []
    verdict = round_outcome(review_round, review_round.closed_at)
    tally = [(words, verdict.counts.get(key, 0)) for key, words in VOTE_WORDS]
    return {
        "application": application,
        "round": review_round,
        "committee": review_round.committee,
        "decision": decision_in_words(review_round, refused),
        "approved": approved,
        "refused": refused,
        "requested": requested,
        "is_approval": review_round.outcome == rules.APPROVED,
        "rule": review_round.committee.get_decision_rule_display(),
        "rule_detail": verdict.detail,
        "tally": tally,
        "clock": _clock_at_decision(review_round),
        "template_version": LETTER_TEMPLATE_VERSION,
    }


def decision_letter_render(*, round_id: int) -> DecisionLetter | None:
    """Render and keep the letter of a decided round, once. Returns the round's letter (the one
    already there, if any), or None for a round without a decision to write about (open, or
    closed by a withdrawal)."""
    review_round = (
        ReviewRound.objects.select_related("application__applicant", "committee", "decided_by")
        .filter(pk=round_id)
        .first()
    )
    if review_round is None or review_round.closed_at is None or review_round.outcome not in DECIDED:
        return None
    existing = DecisionLetter.objects.filter(round=review_round).first()
    if existing is not None:
        return existing
    content = pdf_render(LETTER_TEMPLATE, decision_letter_context(review_round))  # outside any transaction
    application = review_round.application
    try:
        with documents_staged() as staged, transaction.atomic():
            stored = generated_store(content=content, folder=f"applications/{application.reference}", staged=staged)
            letter = DecisionLetter.objects.create(
                round=review_round,
                path=stored["path"],
                sha256=stored["sha256"],
                size=stored["size"],
                rendered_at=timezone.now(),
                template_version=LETTER_TEMPLATE_VERSION,
            )
            audit_record(
                actor=LETTER_ACTOR,
                verb="review.letter_render",
                target=application,
                payload={
                    "round": review_round.number,
                    "outcome": review_round.outcome,
                    "sha256": stored["sha256"],
                    "size": stored["size"],
                    "template_version": LETTER_TEMPLATE_VERSION,
                },
            )
    except IntegrityError:
        # another task recorded the round's letter first: ours was staged and is removed with the rollback
        return DecisionLetter.objects.filter(round=review_round).first()
    return letter


# A letter still missing this long after its decision was not queued (the broker was down when the
# decision committed) or failed every retry: the sweep queues it again, for decisions of the last
# SWEEP_DAYS days only (older ones are for a person to look at, not for an hourly retry).
SWEEP_AFTER = timedelta(minutes=15)
SWEEP_DAYS = 30


def decision_letters_missing(now: datetime | None = None) -> list[int]:
    """Ids of the recently decided rounds that still have no letter (at most 100 per sweep)."""
    now = now or timezone.now()
    rounds = ReviewRound.objects.filter(
        closed_at__gte=now - timedelta(days=SWEEP_DAYS),
        closed_at__lte=now - SWEEP_AFTER,
        outcome__in=DECIDED,
        letter__isnull=True,
    )
    return list(rounds.order_by("closed_at").values_list("pk", flat=True)[:100])


def decision_letters_of(application) -> list[DecisionLetter]:
    """The application's decision letters, earliest round first (for its page): one statement, none
    for an application never forwarded to a committee (it has no round)."""
    if application.committee_id is None:
        return []
    return list(
        DecisionLetter.objects.filter(round__application=application).select_related("round").order_by("round__number")
    )
