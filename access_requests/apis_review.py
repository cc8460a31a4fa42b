"""The committee review API (/api/v1/applications/<pk>/rounds/, review/, decision/, clock/).

Built like access_requests/apis.py: an input serializer checks the shape, the permission-checked
getter fetches the application, one service of access_requests/services/review.py acts, and the
round is answered as the caller may see it. Acts in a round name the round the client looked at
(`round`): a round that closed meanwhile, or any round but the open one, is refused with 409
(`round_closed`, `round_not_open`) before anything changes; the service checks it again under its
lock. Votes, checks and conflicts are not decisive acts (a member votes in seconds); the chair's
decision and the extension of the decision time are (sudo, portal.access URLS).
"""

from django.db.models import Prefetch
from django.http import Http404
from django.utils import timezone
from django.utils.formats import date_format
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response

from access_requests.apis import ApplicationApi, _validated
from access_requests.models import (
    CHECK_ITEMS,
    Application,
    CheckKind,
    ClockEventKind,
    ConflictDeclaration,
    DatasetDecision,
    DecisionClockEvent,
    DecisionRule,
    ReviewCheck,
    ReviewRound,
    Vote,
)
from access_requests.permissions import application_get_for, is_reviewer, relations_remembered
from access_requests.serializers_review import (
    CheckRecordSerializer,
    ClockExtensionSerializer,
    ClockSerializer,
    ConflictDeclareSerializer,
    DecisionSerializer,
    RoundSerializer,
    VoteCastSerializer,
)
from access_requests.services import review as rv
from portal.access import may, require
from portal.apis import ErrorSerializer
from portal.errors import InvalidInput, TransitionError

STALE_ROUND = OpenApiResponse(
    ErrorSerializer,
    description="The round named is not the open one (`round_closed`, `round_not_open`), the caller is recused "
    "(`recused`), or the application's state does not allow this.",
)
DECISION_REFUSED = OpenApiResponse(
    ErrorSerializer,
    description="The committee's rule does not allow an approval (`rule_not_met`, with the reason), the round "
    "named is closed or not the open one (`round_closed`, `round_not_open`), or it was decided already.",
)
EXTENSION_REFUSED = OpenApiResponse(
    ErrorSerializer,
    description="Extended once already (`already_extended`), or the clock is not running for a decision.",
)


# --- what a caller sees of a round ---------------------------------------------------------------


def rule_words(committee) -> str:
    rule = committee.rule
    if rule.kind == DecisionRule.MAJORITY:
        share = f"{rule.approve_share.normalize():f}"
        return (
            f"Majority: once {rule.quorum} members have voted (abstentions count towards the quorum), the approve "
            f"votes must be more than {share}% of the votes for or against."
        )
    if rule.kind == DecisionRule.UNANIMITY:
        return (
            f"Unanimity: once {rule.quorum} members have voted, every member who takes a side must approve "
            "(an abstention stands aside)."
        )
    return (
        f"Objection window: approved unless a member rejects or asks for changes within {rule.objection_days} "
        "working days of the round's opening."
    )


def _committee(committee) -> dict:
    rule = committee.rule
    return {
        "id": committee.pk,
        "name": committee.name,
        "rule": {
            "kind": rule.kind,
            "quorum": rule.quorum,
            "approve_share": rule.approve_share,
            "objection_days": rule.objection_days,
            "words": rule_words(committee),
        },
    }


def _tally(outcome) -> dict | None:
    if outcome is None:
        return None
    return {
        "met": outcome.met,
        "suggested": outcome.suggested,
        "approval_allowed": outcome.approval_allowed,
        "detail": outcome.detail,
        "counts": outcome.counts,
    }


def _mine(user, review_round: ReviewRound) -> dict:
    vote = Vote.objects.filter(round=review_round, member=user).first()
    checks = ReviewCheck.objects.filter(round=review_round, member=user).order_by("kind")
    return {
        "vote": {"choice": vote.choice, "rationale": vote.rationale, "cast_at": vote.cast_at} if vote else None,
        "checks": [
            {"kind": c.kind, "answers": c.answers, "notes": c.notes, "updated_at": c.updated_at} for c in checks
        ],
        "recused": any(c.member_id == user.pk for c in review_round.conflicts.all()),
    }


CHECKLISTS = {
    kind: [{"item": item, "question": question} for item, question in CHECK_ITEMS[kind]] for kind in CheckKind.values
}


def round_data(user, application: Application, review_round: ReviewRound) -> dict:
    """One round as `user` may see it (see access_requests/serializers_review.py)."""
    review_round.application = application
    tally = rv.round_tally_for(user, review_round)
    votes = checks = None
    if tally is not None:
        checks = [
            {
                "member": c.member.full_name,
                "kind": c.kind,
                "answers": c.answers,
                "notes": c.notes,
                "updated_at": c.updated_at,
            }
            for c in ReviewCheck.objects.filter(round=review_round).select_related("member").order_by("pk")
        ]
        votes = [
            {"member": v.member.full_name, "choice": v.choice, "rationale": v.rationale, "cast_at": v.cast_at}
            for v in Vote.objects.filter(round=review_round).select_related("member")
        ]
    conflicts = None
    if is_reviewer(user, application):
        conflicts = [
            {"member": c.member.full_name, "reason": c.reason, "automatic": c.automatic}
            for c in review_round.conflicts.all()
        ]
    member = may(user, "application.committee", application)
    return {
        "number": review_round.number,
        "committee": _committee(review_round.committee),
        "submission_number": review_round.submission_number,
        "opened_at": review_round.opened_at,
        "voting_deadline": review_round.voting_deadline,
        "closed_at": review_round.closed_at,
        "open": review_round.closed_at is None,
        "outcome": review_round.outcome,
        "rationale": review_round.rationale,
        "conditions": review_round.conditions,
        "dataset_decisions": [
            {"dataset": d.requested.dataset.identifier, "approved": d.approved, "reason": d.reason}
            for d in review_round.dataset_decisions.all()
        ],
        "conflicts": conflicts,
        "tally": _tally(tally),
        "votes": votes,
        "checks": checks,
        "mine": _mine(user, review_round) if member else None,
        "checklists": CHECKLISTS,
    }


def rounds_for(application: Application):
    return (
        ReviewRound.objects.filter(application=application)
        .select_related("committee")
        .prefetch_related(
            Prefetch("dataset_decisions", DatasetDecision.objects.select_related("requested__dataset")),
            Prefetch("conflicts", ConflictDeclaration.objects.select_related("member")),
        )
        .order_by("number")
    )


def _round_response(request, application: Application, number: int) -> Response:
    review_round = rounds_for(application).filter(number=number).first()
    if review_round is None:
        raise Http404(f"{application.reference} has no review round {number}.")
    return Response(RoundSerializer(round_data(request.user, application, review_round)).data)


def open_round_named(application: Application, number: int) -> ReviewRound:
    """The open round, if it is the one the client names; else 409 saying which round is open."""
    review_round = ReviewRound.objects.filter(application=application, number=number).first()
    if review_round is not None and review_round.closed_at is not None:
        closed = date_format(timezone.localtime(review_round.closed_at), "j F Y")
        outcome = review_round.get_outcome_display().lower()
        raise TransitionError(
            f"Round {number} closed on {closed} ({outcome}): nothing can be changed in it. Reload to see where "
            "the review stands.",
            code="round_closed",
        )
    if review_round is None:
        current = rv.current_round(application)
        where = f"round {current.number} is." if current is not None and current.is_open else "no round is open."
        raise TransitionError(f"There is no open round {number}: {where}", code="round_not_open")
    return review_round


# --- views ---------------------------------------------------------------------------------------


class ReviewApi(ApplicationApi):
    # the relation each method needs, beyond seeing the application (the URL table says the same)
    acts: dict[str, str] = {}

    def application(self, request, pk: int) -> Application:
        application = application_get_for(user=request.user, pk=pk, action="view")
        rule = self.acts.get(request.method)
        if rule:
            require(request.user, rule, application)
        return application

    def round_answer(self, request, application: Application, number: int, code: int = status.HTTP_200_OK):
        with relations_remembered():
            review_round = rounds_for(application).get(number=number)
            data = round_data(request.user, application, review_round)
        return Response(RoundSerializer(data).data, status=code)


class RoundsApi(ReviewApi):
    """Whoever may see the application. The tally and the votes follow the hidden-vote rule; who is
    recused is shown to the reviewing committee and the RDO; the team sees each round's outcome."""

    @extend_schema(summary="Every review round, earliest first", responses={200: RoundSerializer(many=True)})
    def get(self, request, pk: int):
        with relations_remembered():
            application = self.application(request, pk)
            data = [round_data(request.user, application, r) for r in rounds_for(application)]
        return Response(RoundSerializer(data, many=True).data)


class RoundApi(ReviewApi):
    """Whoever may see the application (404 for a round number it does not have)."""

    @extend_schema(summary="One review round", responses={200: RoundSerializer})
    def get(self, request, pk: int, number: int):
        with relations_remembered():
            return _round_response(request, self.application(request, pk), number)


class ConflictApi(ReviewApi):
    """A member of the reviewing committee, in the open round; it recuses them (a vote cast is removed)."""

    acts = {"POST": "application.committee"}

    @extend_schema(
        summary="Declare a conflict of interest in the open round",
        request=ConflictDeclareSerializer,
        responses={200: RoundSerializer, 409: STALE_ROUND},
    )
    def post(self, request, pk: int):
        application = self.application(request, pk)
        data = _validated(ConflictDeclareSerializer, request.data)
        review_round = open_round_named(application, data["round"])
        rv.conflict_declare(actor=request.user, review_round=review_round, reason=data["reason"])
        return self.round_answer(request, application, review_round.number)


class CheckApi(ReviewApi):
    """A member of the reviewing committee who is not recused, in the open round."""

    acts = {"PUT": "application.committee"}

    @extend_schema(
        summary="Record (or update) the caller's legal or technical check",
        parameters=[OpenApiParameter("kind", str, OpenApiParameter.PATH, enum=CheckKind.values)],
        request=CheckRecordSerializer,
        responses={200: RoundSerializer, 409: STALE_ROUND},
    )
    def put(self, request, pk: int, kind: str):
        application = self.application(request, pk)
        if kind not in CheckKind.values:
            raise Http404("There are two checks: legal and technical.")
        data = _validated(CheckRecordSerializer, request.data)
        review_round = open_round_named(application, data["round"])
        rv.check_record(
            actor=request.user, review_round=review_round, kind=kind, answers=data["answers"], notes=data["notes"]
        )
        return self.round_answer(request, application, review_round.number)


class VoteApi(ReviewApi):
    """A member of the reviewing committee who is not recused, in the open round; a vote may change
    until the round closes."""

    acts = {"PUT": "application.committee"}

    @extend_schema(
        summary="Cast (or change) the caller's vote",
        request=VoteCastSerializer,
        responses={200: RoundSerializer, 409: STALE_ROUND},
    )
    def put(self, request, pk: int):
        application = self.application(request, pk)
        data = _validated(VoteCastSerializer, request.data)
        review_round = open_round_named(application, data["round"])
        rv.vote_cast(actor=request.user, review_round=review_round, choice=data["choice"], rationale=data["rationale"])
        return self.round_answer(request, application, review_round.number)


def _dataset_split(application: Application, entries: list[dict] | None) -> dict | None:
    """The chair's per-dataset decisions as the service takes them: {requested id: (approved, reason)}."""
    if not entries:
        return None
    requested = list(application.requested.select_related("dataset"))
    by_key = {item.dataset.identifier: item for item in requested} | {str(item.pk): item for item in requested}
    split, errors = {}, []
    for index, entry in enumerate(entries):
        item = by_key.get(entry["dataset"])
        if item is None:
            errors.append(f"[{index}].dataset: {entry['dataset']} is not a dataset this application requests.")
        elif item.pk in split:
            errors.append(f"[{index}].dataset: {item.dataset.identifier} is named twice.")
        else:
            split[item.pk] = (entry["approved"], entry["reason"])
    if errors:
        raise InvalidInput("Decide on each requested dataset once.", fields={"datasets": errors})
    return split


class DecisionApi(ReviewApi):
    """The chair of the reviewing committee (a decisive act: the password is confirmed). Approval only
    when the committee's rule allows it; rejection or return for changes always, with a rationale."""

    acts = {"POST": "application.chair"}

    @extend_schema(
        summary="Decide the open round: approve, reject or return for changes (the chair)",
        request=DecisionSerializer,
        responses={200: RoundSerializer, 409: DECISION_REFUSED},
    )
    def post(self, request, pk: int):
        application = self.application(request, pk)
        data = _validated(DecisionSerializer, request.data)
        review_round = open_round_named(application, data["round"])
        rv.round_decide(
            actor=request.user,
            application=application,
            outcome=data["outcome"],
            rationale=data["rationale"],
            conditions=data["conditions"],
            datasets=_dataset_split(application, data.get("datasets")),
            round_number=review_round.number,
        )
        return self.round_answer(request, application, review_round.number)


def clock_data(application: Application) -> dict:
    state = rv.clock_for(application)
    events = list(DecisionClockEvent.objects.filter(application=application, kind__in=["start", "extend"]))
    start = next((e for e in events if e.kind == ClockEventKind.START), None)
    extension = next((e for e in events if e.kind == ClockEventKind.EXTEND), None)
    allowed = None
    if start is not None:
        allowed = start.months + (extension.months if extension else 0)
    return {
        "started": state.started,
        "running": state.running,
        "paused": state.paused,
        "stopped": state.stopped,
        "extended": state.extended,
        "due_at": state.due_at,
        "days_left": state.time_left.days if state.time_left is not None else None,
        "overdue": state.overdue,
        "time_allowed_months": allowed,
        "extension": (
            {"months": extension.months, "reason": extension.reason, "at": extension.at} if extension else None
        ),
    }


class ClockApi(ReviewApi):
    """Whoever may see the application."""

    @extend_schema(summary="The decision clock: when the committee's decision is due", responses={200: ClockSerializer})
    def get(self, request, pk: int):
        return Response(ClockSerializer(clock_data(self.application(request, pk))).data)


class ClockExtensionApi(ReviewApi):
    """The chair of the reviewing committee, once, with the reason the applicant receives (a decisive
    act: the password is confirmed)."""

    acts = {"POST": "application.chair"}

    @extend_schema(
        summary="Extend the decision time once (the chair)",
        request=ClockExtensionSerializer,
        responses={200: ClockSerializer, 409: EXTENSION_REFUSED},
    )
    def post(self, request, pk: int):
        application = self.application(request, pk)
        data = _validated(ClockExtensionSerializer, request.data)
        rv.clock_extend(actor=request.user, application=application, months=data["months"], reason=data["reason"])
        return Response(ClockSerializer(clock_data(application)).data)
