"""The access committee's pages: the review page (the application, its documents, the RDO's
checklist, the decision clock, the rounds), each member's conflict declaration, checks and vote,
the chair's decision and clock extension, and the committee queue.

The conflict, check and vote forms answer a script (review.js, header `X-Requested-With: fetch`)
with the HTML of the sections they change, rendered from the same included templates as the full
page; without the script they post normally and redirect back (post/redirect/get). Every form names
the round it was shown for: when that round is no longer the open one, nothing is done and the
caller is told to reload (409 for the script, a message on the page otherwise).
"""

from collections import Counter, defaultdict

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from access_requests import rules
from access_requests.forms import form_add_domain_error
from access_requests.forms_committee import CheckForm, ConflictForm, DecisionForm, ExtendForm, VoteForm
from access_requests.models import (
    CHECK_ITEMS,
    ApplicationStatus,
    CheckKind,
    CommitteeMembership,
    ConflictDeclaration,
    DatasetDecision,
    RdoChecklist,
    ReviewCheck,
    ReviewRound,
    Vote,
    VoteChoice,
)
from access_requests.permissions import application_get_for, applications_where
from access_requests.selectors import clock_context, clocks_for
from access_requests.services import review
from access_requests.views.presentation import application_data, application_sections, comments_by_section
from portal.access import Rel, may
from portal.errors import DomainError
from portal.keyset import BadCursor, request_page

QUEUE_PAGE_SIZE = 50
STALE = "The round closed while this page was open: reload the page to see the round that is open now."


# --- the review page ---------------------------------------------------------------------------


def _is_fetch(request) -> bool:
    return request.headers.get("X-Requested-With") == "fetch"


def _votes_by_round(rounds) -> dict[int, list]:
    by_round = defaultdict(list)
    for vote in Vote.objects.filter(round__in=rounds).select_related("member"):
        by_round[vote.round_id].append(vote)
    return by_round


def _round_view(review_round, votes: list) -> dict:
    """A closed round as every member of the committee sees it: its decision and its votes."""
    counts = Counter(v.choice for v in votes)
    return {
        "round": review_round,
        "votes": votes,
        "counts": [(label, counts.get(value, 0)) for value, label in VoteChoice.choices],
        "dataset_decisions": list(review_round.dataset_decisions.all()),
        "conflicts": list(review_round.conflicts.all()),
    }


def _round_checks(review_round) -> list:
    """Every member's checks in the round, shown with the tally (to the chair, and to a member once
    they voted): the items answered no, by their question, and the notes."""
    checks = list(
        ReviewCheck.objects.filter(round=review_round).select_related("member").order_by("member__full_name", "kind")
    )
    for check in checks:
        items = CHECK_ITEMS[check.kind]
        check.answered_yes = sum(1 for key, _ in items if check.answers.get(key) is True)
        check.item_count = len(items)
        check.answered_no = [question for key, question in items if check.answers.get(key) is False]
    return checks


def _my_part(user, current, application, forms: dict) -> dict:
    """The signed-in member's conflict, checks and vote in the open round, and the tally they may see."""
    if current is None:
        return {}
    conflicts = {c.member_id: c for c in current.conflicts.all()}
    my_conflict = conflicts.get(user.pk)
    checks = {c.kind: c for c in ReviewCheck.objects.filter(round=current, member=user)}
    my_vote = Vote.objects.filter(round=current, member=user).first()
    tally = review.round_tally_for(user, current)
    is_chair = may(user, "application.chair", application)
    open_round = current.closed_at is None
    check_forms = []
    for kind, label in CheckKind.choices:
        form = forms.get(f"check_{kind}") or CheckForm(
            kind=kind, initial=CheckForm.initial_for(checks.get(kind), current.number)
        )
        check_forms.append({"kind": kind, "label": label, "form": form, "check": checks.get(kind)})
    vote_initial = {"round": current.number}
    if my_vote is not None:
        vote_initial.update(choice=my_vote.choice, rationale=my_vote.rationale)
    return {
        "open_round": open_round,
        "my_conflict": my_conflict,
        "conflict_form": forms.get("conflict") or ConflictForm(initial={"round": current.number}),
        "check_forms": check_forms,
        "my_vote": my_vote,
        "vote_form": forms.get("vote") or VoteForm(initial=vote_initial),
        "tally": tally,
        "tally_votes": list(Vote.objects.filter(round=current).select_related("member")) if tally else [],
        "round_checks": _round_checks(current) if tally else [],
        "is_chair": is_chair,
    }


def _chair_part(user, application, current, outcome, forms: dict, clock) -> dict:
    if not may(user, "application.chair", application):
        return {}
    context = {}
    if current is not None and current.closed_at is None:
        requested = list(application.requested.select_related("dataset__holder"))
        context["decision_form"] = forms.get("decision") or DecisionForm(
            initial={"round": current.number},
            requested=requested,
            approval_allowed=outcome.approval_allowed,
        )
    if clock and not clock["stopped"]:
        context["extend_form"] = forms.get("extend") or ExtendForm(
            max_months=application.committee.extension_max_months
        )
    return context


def committee_context(request, application, forms: dict | None = None) -> dict:
    forms = forms or {}
    user = request.user
    # the rounds as services.review.rounds_of gives them, with what the page names of each (no query per row)
    rounds = list(
        ReviewRound.objects.filter(application=application)
        .select_related("decided_by", "committee")
        .prefetch_related(
            Prefetch("dataset_decisions", DatasetDecision.objects.select_related("requested__dataset")),
            Prefetch("conflicts", ConflictDeclaration.objects.select_related("member")),
        )
    )
    current = rounds[-1] if rounds else None
    votes = _votes_by_round(rounds)
    outcome = review.round_outcome(current) if current is not None and current.closed_at is None else None
    clock = clock_context(application)
    comments = comments_by_section(application)
    checklist = RdoChecklist.objects.filter(
        application=application, submission_number=application.submission_count
    ).first()
    return {
        **application_data(application),
        **clock,
        "application": application,
        "sections": application_sections(application, comments=comments, editable=False),
        "checklist": checklist,
        "current": current,
        "earlier": [_round_view(r, votes[r.pk]) for r in reversed(rounds) if r.closed_at is not None],
        "outcome": outcome,
        "rule_words": application.committee.get_decision_rule_display() if application.committee else "",
        "committee": application.committee,
        "in_review": application.status == ApplicationStatus.IN_REVIEW,
        "check_items": CHECK_ITEMS,
        **_my_part(user, current, application, forms),
        **_chair_part(user, application, current, outcome, forms, clock["clock"]),
    }


@login_required
def committee_review(request, pk: int):
    application = application_get_for(user=request.user, pk=pk, action="committee")
    return render(request, "access_requests/committee/review.html", committee_context(request, application))


# --- the member's posts: conflict, checks, vote --------------------------------------------------

# which sections a post changes (the script replaces each by its id)
FRAGMENTS = {
    "conflict": [
        "access_requests/committee/_conflict.html",
        "access_requests/committee/_checks.html",
        "access_requests/committee/_vote.html",
    ],
    "check": ["access_requests/committee/_checks.html"],
    "vote": ["access_requests/committee/_vote.html"],
}


def _fragment(request, application, what: str, forms: dict, status: int, message: str = "") -> HttpResponse:
    context = committee_context(request, application, forms)
    context["status_message"] = message
    context["status_for"] = what
    html = "".join(render_to_string(name, context, request=request) for name in FRAGMENTS[what])
    return HttpResponse(html, status=status)


def _back(pk: int, anchor: str):
    return redirect(reverse("access_requests:committee-review", args=[pk]) + f"#{anchor}")


def _open_round_or_none(application, number) -> ReviewRound | None:
    """The round the form was shown for, if it is still the open one."""
    current = review.current_round(application)
    if current is None or current.closed_at is not None or current.number != number:
        return None
    return current


def _member_post(request, pk: int, what: str, form, form_key: str, act, done: str, anchor: str):
    """Validate, check the round is still open, call the service; answer the script with the changed
    sections, or redirect back (errors: the whole page, 400)."""
    application = application_get_for(user=request.user, pk=pk, action="committee")
    fetch = _is_fetch(request)
    if form.is_valid():
        current = _open_round_or_none(application, form.cleaned_data["round"])
        if current is None:
            if fetch:
                return HttpResponse(STALE, status=409, content_type="text/plain; charset=utf-8")
            messages.error(request, STALE)
            return _back(pk, anchor)
        try:
            act(current, form)
        except DomainError as exc:
            if _open_round_or_none(application, form.cleaned_data["round"]) is None:
                if fetch:
                    return HttpResponse(STALE, status=409, content_type="text/plain; charset=utf-8")
                messages.error(request, STALE)
                return _back(pk, anchor)
            form_add_domain_error(form, exc)
        else:
            if fetch:
                return _fragment(request, application, what, {}, 200, done)
            messages.success(request, done)
            return _back(pk, anchor)
    if fetch:
        return _fragment(request, application, what, {form_key: form}, 400)
    context = committee_context(request, application, {form_key: form})
    return render(request, "access_requests/committee/review.html", context, status=400)


@login_required
@require_POST
def committee_conflict(request, pk: int):
    def act(current, form):
        review.conflict_declare(actor=request.user, review_round=current, reason=form.cleaned_data["reason"])

    return _member_post(
        request,
        pk,
        "conflict",
        ConflictForm(request.POST),
        "conflict",
        act,
        "Conflict of interest declared: you are recused from this round.",
        "conflict-heading",
    )


@login_required
@require_POST
def committee_check(request, pk: int, kind: str):
    if kind not in CheckKind.values:
        return HttpResponse("Choose the legal or the technical check.", status=404, content_type="text/plain")
    label = CheckKind(kind).label

    def act(current, form):
        review.check_record(
            actor=request.user,
            review_round=current,
            kind=kind,
            answers=form.answers(),
            notes=form.cleaned_data["notes"],
        )

    return _member_post(
        request,
        pk,
        "check",
        CheckForm(request.POST, kind=kind),
        f"check_{kind}",
        act,
        f"{label} saved.",
        f"check-{kind}-heading",
    )


@login_required
@require_POST
def committee_vote(request, pk: int):
    def act(current, form):
        review.vote_cast(
            actor=request.user,
            review_round=current,
            choice=form.cleaned_data["choice"],
            rationale=form.cleaned_data["rationale"],
        )

    return _member_post(
        request,
        pk,
        "vote",
        VoteForm(request.POST),
        "vote",
        act,
        "Your vote is recorded. You can change it until the round closes.",
        "vote-heading",
    )


# --- the chair's posts: decision and extension ---------------------------------------------------


DECISION_WORDS = {
    rules.APPROVED: "approved",
    rules.REJECTED: "rejected",
    rules.RETURNED: "returned to the applicant for changes",
}


@login_required
@require_POST
def committee_decide(request, pk: int):
    application = application_get_for(user=request.user, pk=pk, action="chair")
    current = review.current_round(application)
    outcome = review.round_outcome(current) if current is not None and current.closed_at is None else None
    form = DecisionForm(
        request.POST,
        requested=list(application.requested.select_related("dataset__holder")),
        approval_allowed=bool(outcome and outcome.approval_allowed),
    )
    if form.is_valid():
        if _open_round_or_none(application, form.cleaned_data["round"]) is None:
            messages.error(request, STALE)
            return _back(pk, "decision-heading")
        aliases = {str(item.pk): f"reason_{item.pk}" for item in form.requested}
        aliases["datasets"] = None
        try:
            review.round_decide(
                actor=request.user,
                application=application,
                outcome=form.cleaned_data["outcome"],
                rationale=form.cleaned_data["rationale"],
                conditions=form.cleaned_data["conditions"],
                datasets=form.datasets(),
                round_number=form.cleaned_data["round"],
            )
        except DomainError as exc:
            form_add_domain_error(form, exc, aliases=aliases)
        else:
            words = DECISION_WORDS[form.cleaned_data["outcome"]]
            messages.success(request, f"{application.reference} is {words}. The team and the data holders are told.")
            return _back(pk, "rounds-heading")
    context = committee_context(request, application, {"decision": form})
    return render(request, "access_requests/committee/review.html", context, status=400)


@login_required
@require_POST
def committee_extend(request, pk: int):
    application = application_get_for(user=request.user, pk=pk, action="chair")
    form = ExtendForm(request.POST, max_months=application.committee.extension_max_months)
    if form.is_valid():
        try:
            state = review.clock_extend(
                actor=request.user,
                application=application,
                months=form.cleaned_data["months"],
                reason=form.cleaned_data["reason"],
            )
        except DomainError as exc:
            form_add_domain_error(form, exc)
        else:
            messages.success(request, f"The decision is now due by {state.due_at:%Y-%m-%d}. The applicant is told why.")
            return _back(pk, "clock-heading")
    context = committee_context(request, application, {"extend": form})
    return render(request, "access_requests/committee/review.html", context, status=400)


# --- the committee queue ----------------------------------------------------------------------


@login_required
def committee_queue(request):
    """The open rounds of the user's committees, the nearest voting deadline first: a page at a time,
    found by the deadline of the last one shown (keyset on voting_deadline, id)."""
    committees = CommitteeMembership.objects.filter(user=request.user).values("committee_id")
    mine = applications_where(request.user, Rel.ASSIGNED_COMMITTEE).filter(status=ApplicationStatus.IN_REVIEW)
    rounds = ReviewRound.objects.filter(
        closed_at__isnull=True, committee_id__in=committees, application_id__in=mine.values("pk")
    ).select_related("application", "committee")
    try:
        page = request_page(request, rounds, order=("voting_deadline", "pk"), size=QUEUE_PAGE_SIZE)
    except BadCursor as exc:
        return render(request, "access_requests/committee/queue.html", {"page_error": str(exc)}, status=400)
    rows = page.object_list
    ids = [r.pk for r in rows]
    voted = set(Vote.objects.filter(round_id__in=ids, member=request.user).values_list("round_id", flat=True))
    recused = set(
        ConflictDeclaration.objects.filter(round_id__in=ids, member=request.user).values_list("round_id", flat=True)
    )
    clocks = clocks_for(r.application_id for r in rows)
    now = timezone.now()
    for row in rows:
        row.voted = row.pk in voted
        row.recused = row.pk in recused
        row.clock = clocks.get(row.application_id)
        row.voting_closed = row.voting_deadline < now
    return render(request, "access_requests/committee/queue.html", {"rounds": rows, "page": page})
