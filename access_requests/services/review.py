"""Committee review: rounds, conflicts, checks, votes, the chair's decision and the decision clock.

Lock order, the same everywhere, so that racing requests queue instead of deadlocking: the
application row (transitions), then the review round row, then the audit chain head. A vote, a
check or a conflict declaration locks the round and refuses a closed one; the decision locks the
application and the round and evaluates the rule on the votes it then reads, so a vote that
arrives while the chair decides is either counted or refused, never lost after the fact.
"""

import logging
from datetime import timedelta
from functools import partial

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from access_requests import rules
from access_requests.models import (
    CHECK_ITEMS,
    Application,
    ApplicationStatus,
    CheckKind,
    ClockEventKind,
    Committee,
    CommitteeAssignment,
    ConflictDeclaration,
    DatasetDecision,
    DecisionClockEvent,
    ReviewCheck,
    ReviewRound,
    Vote,
    VoteChoice,
)
from access_requests.services.team import team_member_emails
from portal.access import may, require_actor
from portal.errors import InvalidInput, TransitionError
from portal.models import User
from portal.services.audit import audit_record
from portal.services.notifications import notification_queue

logger = logging.getLogger(__name__)

# --- routing -----------------------------------------------------------------------------------


def default_committee_for(application: Application) -> Committee | None:
    """The committee assigned to the data holders of the requested datasets, when they all name the
    same one; None when they name none or several (the RDO then chooses)."""
    holder_ids = application.requested.values("dataset__holder_id")
    committees = set(
        CommitteeAssignment.objects.filter(holder_id__in=holder_ids).values_list("committee_id", flat=True)
    )
    if len(committees) != 1:
        return None
    return Committee.objects.get(pk=committees.pop())


# --- the decision clock --------------------------------------------------------------------------


def clock_events(application: Application) -> list[rules.ClockEvent]:
    return [event.as_rule_event() for event in DecisionClockEvent.objects.filter(application=application)]


def clock_for(application: Application, now=None) -> rules.ClockState:
    """The application's decision clock as it stands (not started until the first forward)."""
    return rules.clock_state(clock_events(application), now or timezone.now())


def _clock_add(application: Application, kind: str, *, at, months: int = 0, reason: str = "", actor=None) -> None:
    DecisionClockEvent.objects.create(
        application=application,
        kind=kind,
        at=at,
        months=months,
        reason=reason,
        actor=actor if isinstance(actor, User) else None,
    )


def clock_on_forward(application: Application, committee: Committee, now) -> None:
    """Start the clock at the first forward of a complete application; resume it at a later forward."""
    state = clock_for(application, now)
    if not state.started:
        _clock_add(application, ClockEventKind.START, at=now, months=committee.decision_months)
    elif state.paused:
        _clock_add(application, ClockEventKind.RESUME, at=now)


def clock_stop(application: Application, now) -> None:
    state = clock_for(application, now)
    if state.started and not state.stopped:
        _clock_add(application, ClockEventKind.STOP, at=now)


def clock_extend(*, actor, application: Application, months: int, reason: str) -> rules.ClockState:
    """The chair extends the decision time once, by at most the committee's maximum, with a reason
    the applicant receives."""
    with transaction.atomic():
        application = (
            Application.objects.select_for_update(of=("self",)).select_related("committee").get(pk=application.pk)
        )
        require_actor(actor, "application.chair", application)
        now = timezone.now()
        state = clock_for(application, now)
        if not state.started or state.stopped:
            raise TransitionError("The decision clock runs only while the committee has the application to decide.")
        if state.extended:
            raise TransitionError(
                "The decision time has already been extended once; it cannot be extended again.",
                code="already_extended",
            )
        reason = (reason or "").strip()
        limit = application.committee.extension_max_months
        errors = {}
        if not reason:
            errors["reason"] = ["Give the reason the applicant will read."]
        if not isinstance(months, int) or isinstance(months, bool) or not 1 <= months <= limit:
            errors["months"] = [f"Extend by 1 to {limit} months."]
        if errors:
            raise InvalidInput("The extension needs a length and a reason.", fields=errors)
        _clock_add(application, ClockEventKind.EXTEND, at=now, months=months, reason=reason, actor=actor)
        state = clock_for(application, now)
        audit_record(
            actor=actor,
            verb="application.clock_extend",
            target=application,
            payload={"months": months, "reason": reason, "due": state.due_at.isoformat()},
        )
        notification_queue(
            to=team_member_emails(application),
            template="decision_clock_extended",
            context={"application": application, "months": months, "reason": reason, "due": state.due_at},
        )
    return state


# --- rounds --------------------------------------------------------------------------------------


def current_round(application: Application) -> ReviewRound | None:
    return ReviewRound.objects.filter(application=application).order_by("-number").first()


def _automatic_conflicts(application: Application, committee: Committee) -> dict[int, str]:
    """Members who must not review: on the applicant team, or stewards of a requested dataset's holder."""
    from catalogue.permissions import holders_stewarded_by

    team = set(application.team.filter(user__isnull=False, joined_at__isnull=False).values_list("user_id", flat=True))
    team.add(application.applicant_id)
    holders = set(application.requested.values_list("dataset__holder_id", flat=True))
    found = {}
    for membership in committee.memberships.select_related("user"):
        user = membership.user
        if user.pk in team:
            found[user.pk] = "On the applicant's team."
        else:
            stewarded = sorted(holders_stewarded_by(user).filter(pk__in=holders).values_list("name", flat=True))
            if stewarded:
                found[user.pk] = f"Steward of {', '.join(stewarded)}, whose datasets are requested."
    return found


def round_open(application: Application, committee: Committee, now) -> ReviewRound:
    """Called by the forward, inside its transaction with the application locked. The committee's
    settings are read afresh (the caller's object may predate a change to them)."""
    committee = Committee.objects.get(pk=committee.pk)
    number = ReviewRound.objects.filter(application=application).count() + 1
    review_round = ReviewRound.objects.create(
        application=application,
        number=number,
        committee=committee,
        submission_number=application.submission_count,
        opened_at=now,
        voting_deadline=now + timedelta(days=committee.voting_days),
    )
    for member_id, reason in _automatic_conflicts(application, committee).items():
        ConflictDeclaration.objects.create(round=review_round, member_id=member_id, reason=reason, automatic=True)
    clock_on_forward(application, committee, now)
    return review_round


def round_close_withdrawn(application: Application, now) -> None:
    """The applicant withdrew: the open round (if any) closes and the clock stops."""
    ReviewRound.objects.filter(application=application, closed_at__isnull=True).update(
        closed_at=now, outcome=ReviewRound.Outcome.WITHDRAWN
    )
    clock_stop(application, now)


def _lock_open_round(actor, review_round: ReviewRound, rule_name: str) -> ReviewRound:
    """Check the actor on the application (first), then lock the round and refuse a closed one."""
    require_actor(actor, rule_name, review_round.application)
    locked = (
        ReviewRound.objects.select_for_update(of=("self",))
        .select_related("application", "committee")
        .get(pk=review_round.pk)
    )
    if locked.closed_at is not None:
        raise TransitionError(
            f"Round {locked.number} of {locked.application.reference} is closed: nothing can be changed in it.",
            code="round_closed",
        )
    return locked


def is_recused(review_round: ReviewRound, user) -> bool:
    return ConflictDeclaration.objects.filter(round=review_round, member=user).exists()


def _refuse_recused(review_round: ReviewRound, actor) -> None:
    if isinstance(actor, User) and is_recused(review_round, actor):
        raise TransitionError("You are recused from this round: you cannot check or vote in it.", code="recused")


def conflict_declare(*, actor, review_round: ReviewRound, reason: str) -> ConflictDeclaration:
    """A member declares a conflict of interest: they are recused from the round (their vote, if any,
    no longer counts and is removed)."""
    reason = (reason or "").strip()
    with transaction.atomic():
        locked = _lock_open_round(actor, review_round, "application.committee")
        if not reason:
            raise InvalidInput("Say what the conflict of interest is.", fields={"reason": ["Give a reason."]})
        declaration, created = ConflictDeclaration.objects.get_or_create(
            round=locked, member=actor, defaults={"reason": reason}
        )
        if not created:
            return declaration
        Vote.objects.filter(round=locked, member=actor).delete()
        audit_record(
            actor=actor,
            verb="review.conflict_declare",
            target=locked.application,
            payload={"round": locked.number, "reason": reason},
        )
    return declaration


def check_record(*, actor, review_round: ReviewRound, kind: str, answers: dict, notes: str = "") -> ReviewCheck:
    """A member records (or updates) their legal or technical check in the round."""
    with transaction.atomic():
        locked = _lock_open_round(actor, review_round, "application.committee")
        _refuse_recused(locked, actor)
        if kind not in CheckKind.values:
            raise InvalidInput("Choose the legal or the technical check.", fields={"kind": ["Unknown check."]})
        items = dict(CHECK_ITEMS[kind])
        answers = answers or {}
        unknown = set(answers) - set(items)
        if unknown:
            raise InvalidInput("Unknown checklist items.", fields={key: ["Unknown item."] for key in sorted(unknown)})
        if any(not isinstance(value, bool) for value in answers.values()):
            raise InvalidInput("Answer each item yes or no.", fields={"answers": ["Yes or no for each item."]})
        check, _ = ReviewCheck.objects.update_or_create(
            round=locked, member=actor, kind=kind, defaults={"answers": answers, "notes": (notes or "").strip()}
        )
        audit_record(
            actor=actor,
            verb="review.check_record",
            target=locked.application,
            payload={"round": locked.number, "kind": kind, "answers": answers},
        )
    return check


def vote_cast(*, actor, review_round: ReviewRound, choice: str, rationale: str = "") -> Vote:
    """A member votes, or changes their vote, while the round is open; anything but approve needs a rationale."""
    rationale = (rationale or "").strip()
    with transaction.atomic():
        locked = _lock_open_round(actor, review_round, "application.committee")
        _refuse_recused(locked, actor)
        if choice not in VoteChoice.values:
            raise InvalidInput("Choose approve, reject, abstain or request changes.", fields={"choice": ["Unknown."]})
        if choice != VoteChoice.APPROVE and not rationale:
            raise InvalidInput(
                "Say why: a vote other than approve needs a rationale.", fields={"rationale": ["Give a rationale."]}
            )
        previous = Vote.objects.filter(round=locked, member=actor).first()
        if previous is not None and (previous.choice, previous.rationale) == (choice, rationale):
            return previous
        # cast_at is when the vote took its choice: a reworded rationale does not move an objection
        # out of the objection window
        same_choice = previous is not None and previous.choice == choice
        vote, _ = Vote.objects.update_or_create(
            round=locked,
            member=actor,
            defaults={
                "choice": choice,
                "rationale": rationale,
                "cast_at": previous.cast_at if same_choice else timezone.now(),
            },
        )
        audit_record(
            actor=actor,
            verb="review.vote_change" if previous is not None else "review.vote",
            target=locked.application,
            payload={"round": locked.number, "choice": choice},
        )
    return vote


def round_members(review_round: ReviewRound) -> list[rules.Member]:
    recused = set(ConflictDeclaration.objects.filter(round=review_round).values_list("member_id", flat=True))
    return [
        rules.Member(member=user_id, recused=user_id in recused)
        for user_id in review_round.committee.memberships.values_list("user_id", flat=True)
    ]


def round_votes(review_round: ReviewRound) -> list[rules.CastVote]:
    return [
        rules.CastVote(member=v.member_id, choice=v.choice, cast_at=v.cast_at)
        for v in Vote.objects.filter(round=review_round)
    ]


def round_outcome(review_round: ReviewRound, now=None) -> rules.Outcome:
    """What the committee's rule makes of the round's votes now."""
    return rules.rule_outcome(
        review_round.committee.rule,
        round_votes(review_round),
        round_members(review_round),
        now or timezone.now(),
        opened_at=review_round.opened_at,
    )


def round_tally_for(user, review_round: ReviewRound) -> rules.Outcome | None:
    """The tally, hidden until one has voted: members who voted in the round and the committee's chair
    see it; anyone else (a member who has not voted yet, the RDO, the team) gets None. Once the round
    is closed nothing can be swayed by it: every member of the reviewing committee and the RDO see it
    as it stood at the decision; the team never does."""
    application = review_round.application
    if review_round.closed_at is not None:
        if may(user, "application.note", application):
            return round_outcome(review_round, review_round.closed_at)
        return None
    if may(user, "application.chair", application) and review_round.committee_id == application.committee_id:
        return round_outcome(review_round)
    if (
        may(user, "application.committee", application)
        and Vote.objects.filter(round=review_round, member=user).exists()
    ):
        return round_outcome(review_round)
    return None


# --- the decision --------------------------------------------------------------------------------

DECISIONS = {
    rules.APPROVED: "decide_approve",
    rules.REJECTED: "decide_reject",
    rules.RETURNED: "request_changes",
}


def round_decide(
    *,
    actor,
    application: Application,
    outcome: str,
    rationale: str,
    conditions: str = "",
    datasets: dict | None = None,
    round_number: int | None = None,
) -> Application:
    """The chair closes the open round with the decision: approved (only when the committee's rule is
    met), rejected or returned for changes (always open to the chair, with a rationale).

    `datasets` (approvals only) maps requested-dataset ids to (approved, reason) when the chair
    approves some datasets and refuses others; an approval covers the datasets approved, at least
    one. `round_number` is the round the chair decided on: if it has closed meanwhile (a stale page,
    a second click), the decision is refused."""
    from access_requests.services import transitions as tr

    if outcome not in DECISIONS:
        raise InvalidInput("Choose approve, reject or return for changes.", fields={"outcome": ["Unknown."]})
    action = DECISIONS[outcome]
    with transaction.atomic():
        application, done = tr._begin(action, application, actor)
        review_round = ReviewRound.objects.select_for_update(of=("self",)).filter(application=application)
        review_round = review_round.order_by("-number")
        review_round = review_round.first()
        if round_number is not None and (review_round is None or review_round.number != round_number):
            raise TransitionError(
                f"Round {round_number} is no longer the current round: reload the page.", code="round_not_open"
            )
        if round_number is not None and review_round.closed_at is not None:
            raise TransitionError(
                f"Round {round_number} of {application.reference} is already closed.", code="round_closed"
            )
        if done:
            return application
        if review_round is None or review_round.closed_at is not None:
            raise TransitionError(f"{application.reference} has no open review round to decide.")
        if isinstance(actor, User) and is_recused(review_round, actor):
            raise TransitionError(
                "You are recused from this round: the decision needs a chair who is not.", code="recused"
            )
        rationale = (rationale or "").strip()
        conditions = (conditions or "").strip()
        now = timezone.now()
        verdict = round_outcome(review_round, now)
        if outcome == rules.APPROVED and not verdict.approval_allowed:
            raise TransitionError(
                f"The committee's rule does not allow an approval: {verdict.detail}", code="rule_not_met"
            )
        if not rationale:
            raise InvalidInput("Give the rationale of the decision.", fields={"rationale": ["Give a rationale."]})
        split = _dataset_decisions(application, outcome, datasets)

        review_round.closed_at = now
        review_round.outcome = outcome
        review_round.decided_by = actor if isinstance(actor, User) else None
        review_round.rationale = rationale
        review_round.conditions = conditions if outcome == rules.APPROVED else ""
        review_round.save(update_fields=["closed_at", "outcome", "decided_by", "rationale", "conditions"])
        for requested, (approved, reason) in split.items():
            DatasetDecision.objects.create(round=review_round, requested=requested, approved=approved, reason=reason)

        target = tr.TRANSITIONS[action][1]
        application.status = target
        application.save(update_fields=["status", "updated_at"])
        if outcome == rules.RETURNED:
            _clock_add(application, ClockEventKind.PAUSE, at=now)
        else:
            clock_stop(application, now)
        audit_record(
            actor=actor,
            verb=f"application.{action}",
            target=application,
            payload={
                "status": target,
                "round": review_round.number,
                "rule": verdict.detail,
                "datasets": {r.dataset.identifier: approved for r, (approved, _) in split.items()},
            },
        )
        _after_decision(application, review_round, split)
    return application


def _after_decision(application: Application, review_round: ReviewRound, split: dict) -> None:
    """Inside the decision's transaction: tell those concerned; after the commit (a rollback does
    nothing) a task renders the decision letter and, for an approval, another creates the
    data-access agreement (services/agreements.py `agreement_after_approval`)."""
    _notify_decision(application, review_round, split)
    transaction.on_commit(partial(decision_letter_queue, review_round.pk), robust=True)
    if review_round.outcome == rules.APPROVED:
        from access_requests.services.agreements import agreement_after_approval

        agreement_after_approval(application)


def decision_letter_queue(round_id: int) -> None:
    """Hand the letter's rendering to Celery. A failure is logged, never raised: the decision stands."""
    from access_requests.tasks import decision_letter_render

    try:
        decision_letter_render.delay(round_id)
    except Exception:  # a broker that is down, or (eager) a rendering that failed every retry
        logger.exception("decision letter: could not render or queue the letter of round %s", round_id)


def _dataset_decisions(application: Application, outcome: str, datasets: dict | None) -> dict:
    """Validate the per-dataset decision: {ApplicationDataset: (approved, reason)} (empty: all alike)."""
    if not datasets:
        return {}
    if outcome != rules.APPROVED:
        raise InvalidInput("Datasets are approved or refused one by one only in an approval.")
    requested = {item.pk: item for item in application.requested.select_related("dataset")}
    errors: dict[str, list[str]] = {}
    split = {}
    for key, value in datasets.items():
        item = requested.get(int(key)) if str(key).isdigit() else None
        if item is None:
            errors[str(key)] = ["Not a dataset this application requests."]
            continue
        approved, reason = value
        reason = (reason or "").strip()
        if not approved and not reason:
            errors[str(key)] = [f"Say why {item.dataset.identifier} is refused."]
        split[item] = (bool(approved), reason)
    missing = set(requested) - {item.pk for item in split}
    for pk in missing:
        errors[str(pk)] = [f"Approve or refuse {requested[pk].dataset.identifier}."]
    if not errors and not any(approved for approved, _ in split.values()):
        errors["datasets"] = ["An approval covers at least one dataset; refuse them all by rejecting."]
    if errors:
        raise InvalidInput("Decide on each requested dataset.", fields=errors)
    return split


def _notify_decision(application: Application, review_round: ReviewRound, split: dict) -> None:
    from access_requests.services.transitions import _rdo_users
    from catalogue.models import Stewardship

    approved = [item.dataset for item, (ok, _) in split.items() if ok] or [
        item.dataset for item in application.requested.select_related("dataset")
    ]
    refused = [(item.dataset, reason) for item, (ok, reason) in split.items() if not ok]
    if review_round.outcome != rules.APPROVED:
        approved = []
    context = {
        "application": application,
        "round": review_round,
        "outcome": review_round.get_outcome_display().lower(),
        "approved": approved,
        "refused": refused,
    }
    notification_queue(to=team_member_emails(application), template="application_decided", context=context)
    notification_queue(to=_rdo_users(), template="application_decided_staff", context=context)
    holders = set(application.requested.values_list("dataset__holder_id", flat=True))
    stewards = User.objects.filter(
        pk__in=Stewardship.objects.filter(holder_id__in=holders).values("user_id"),
        is_active=True,
        email_verified_at__isnull=False,
    )
    notification_queue(to=list(stewards), template="application_decided_staff", context=context)


def rounds_of(application: Application) -> QuerySet:
    """Every round of the application, earliest first, with their decisions (for the review page)."""
    return ReviewRound.objects.filter(application=application).prefetch_related("dataset_decisions", "conflicts")


def is_in_review(application: Application) -> bool:
    return application.status == ApplicationStatus.IN_REVIEW
