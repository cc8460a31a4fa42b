"""Dashboard panels about access applications: what waits for each role."""

from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone

from access_requests.models import (
    Application,
    ApplicationStatus,
    ClockEventKind,
    CommitteeMembership,
    ConflictDeclaration,
    DecisionClockEvent,
    ReviewRound,
    Vote,
)
from access_requests.permissions import applications_where
from access_requests.selectors import clocks_for, outcomes_for
from portal.access import Rel
from portal.dashboard import Panel, PanelItem, panel
from portal.keyset import capped_count, count_words
from portal.models import Role

PANEL_LIMIT = 10

# What a committee member does with an application in review: shown on their dashboard and on the
# application's page.
COMMITTEE_NEXT = (
    "Open the committee review of each application: read it and its documents, declare any conflict of "
    "interest, record your legal and technical checks and vote before the voting deadline. The chair "
    "records the committee's decision on the same page."
)
# The RDO's panel of decision clocks lists those due within this many days (or overdue).
CLOCK_WARNING_DAYS = 14
# How many in-review applications, longest running first, the RDO's clock panel looks at.
CLOCK_CANDIDATES = 100

# What the team must do next, by status.
NEXT_STEP = {
    ApplicationStatus.DRAFT: "complete and submit",
    ApplicationStatus.RETURNED: "revise and resubmit",
    ApplicationStatus.SUBMITTED: "waiting for the Research Data Office",
    ApplicationStatus.IN_REVIEW: "with the access committee",
}


def _url(application: Application, name: str = "application-detail") -> str:
    return reverse(f"access_requests:{name}", args=[application.pk])


def _item(application: Application, detail: str = "") -> PanelItem:
    return PanelItem(
        f"{application.reference} {application.title}",
        _url(application),
        detail or application.get_status_display(),
    )


@panel(role=Role.COMMITTEE, order=30)
def committee_panel(user):
    memberships = CommitteeMembership.objects.filter(user=user).select_related("committee")
    return Panel(
        title="Your committees",
        items=[
            PanelItem(m.committee.name, detail=f"{m.get_role_display()} · quorum {m.committee.quorum}")
            for m in memberships
        ],
        empty="You are not on any access committee.",
    )


@panel(role=Role.COMMITTEE, order=31)
def committee_applications_panel(user):
    in_review = (
        applications_where(user, Rel.ASSIGNED_COMMITTEE)
        .filter(status=ApplicationStatus.IN_REVIEW)
        .select_related("committee")
        .order_by("updated_at")
    )
    return Panel(
        title="Committee reviews under way",
        items=[_item(a, f"{a.committee.name}") for a in in_review[:PANEL_LIMIT]],
        count=count_words(*capped_count(in_review)),
        empty="No application is in review for your committees.",
        note=COMMITTEE_NEXT,
        action_url=reverse("access_requests:committee-queue"),
        action_label="Open the committee queue",
    )


def _clock_detail(clock: dict | None) -> str:
    if not clock:
        return ""
    if clock["overdue"]:
        return f"decision overdue since {clock['due_at']:%Y-%m-%d}"
    if clock["paused"]:
        return "decision clock paused while returned"
    return f"decision due {clock['due_at']:%Y-%m-%d} ({clock['days_left']} days left)"


@panel(role=Role.COMMITTEE, order=29)
def votes_panel(user):
    """Open rounds of the member's committees where they have neither voted nor been recused."""
    committees = CommitteeMembership.objects.filter(user=user).values("committee_id")
    reviewing = applications_where(user, Rel.ASSIGNED_COMMITTEE).filter(status=ApplicationStatus.IN_REVIEW)
    waiting = (
        ReviewRound.objects.filter(
            closed_at__isnull=True, committee_id__in=committees, application_id__in=reviewing.values("pk")
        )
        .exclude(pk__in=Vote.objects.filter(member=user).values("round_id"))
        .exclude(pk__in=ConflictDeclaration.objects.filter(member=user).values("round_id"))
        .select_related("application")
        .order_by("voting_deadline", "pk")
    )
    items = [
        PanelItem(
            f"{r.application.reference} {r.application.title}",
            _url(r.application, "committee-review"),
            f"round {r.number}, vote by {r.voting_deadline:%Y-%m-%d}",
        )
        for r in waiting[:PANEL_LIMIT]
    ]
    return Panel(
        title="Votes awaiting you",
        items=items,
        count=count_words(*capped_count(waiting)),
        empty="No open round waits for your vote.",
    )


@panel(role=Role.COMMITTEE, order=28)
def decisions_panel(user):
    """For a chair: the open rounds of the committees they chair, whether the rule is met, and the clock."""
    chaired = CommitteeMembership.objects.filter(user=user, role=CommitteeMembership.Role.CHAIR)
    if not chaired.exists():
        return None
    chairing = applications_where(user, Rel.COMMITTEE_CHAIR).filter(status=ApplicationStatus.IN_REVIEW)
    open_rounds = (
        ReviewRound.objects.filter(
            closed_at__isnull=True,
            committee_id__in=chaired.values("committee_id"),
            application_id__in=chairing.values("pk"),
        )
        .select_related("application", "committee")
        .order_by("voting_deadline", "pk")
    )
    shown = list(open_rounds[:PANEL_LIMIT])
    outcomes = outcomes_for(shown)
    clocks = clocks_for(r.application_id for r in shown)
    items = []
    for r in shown:
        outcome = outcomes[r.pk]
        rule = (
            "the rule allows an approval"
            if outcome.approval_allowed
            else "rule met"
            if outcome.met
            else "rule not met yet"
        )
        clock = _clock_detail(clocks.get(r.application_id))
        items.append(
            PanelItem(
                f"{r.application.reference} {r.application.title}",
                _url(r.application, "committee-review"),
                f"round {r.number}: {rule}" + (f"; {clock}" if clock else ""),
            )
        )
    return Panel(
        title="Decisions awaiting you",
        items=items,
        count=count_words(*capped_count(open_rounds)),
        empty="No round of the committees you chair waits for a decision.",
    )


@panel(role=Role.RESEARCHER, order=10)
def researcher_panel(user):
    mine = applications_where(user, Rel.TEAM).exclude(status=ApplicationStatus.WITHDRAWN).order_by("-updated_at")
    items = []
    for application in mine[:PANEL_LIMIT]:
        step = NEXT_STEP.get(application.status, "")
        detail = application.get_status_display() + (f": {step}" if step else "")
        items.append(_item(application, detail))
    return Panel(
        title="Your access applications",
        items=items,
        empty="You have no applications yet. Find datasets in the catalogue to start one.",
        action_url=reverse("access_requests:application-list"),
        action_label="All your applications",
    )


@panel(role=Role.RDO, order=20)
def rdo_panel(user):
    waiting = (
        applications_where(user, Rel.REVIEWING_RDO)
        .filter(status=ApplicationStatus.SUBMITTED)
        .order_by("submitted_at", "pk")
    )
    oldest = waiting.first()
    items = []
    if oldest is not None:
        days = (timezone.now() - oldest.submitted_at).days if oldest.submitted_at else 0
        items.append(_item(oldest, f"oldest waiting, {days} day{'s' if days != 1 else ''}"))
        items[0].url = _url(oldest, "rdo-review")
    return Panel(
        title="Research Data Office queue",
        items=items,
        count=count_words(*capped_count(waiting)),
        empty="No submitted application waits for your check.",
        action_url=reverse("access_requests:rdo-queue"),
        action_label="Open the queue",
    )


@panel(role=Role.RDO, order=21)
def rdo_clocks_panel(user):
    """In-review applications whose decision is due within CLOCK_WARNING_DAYS days, or overdue. The
    clocks of at most CLOCK_CANDIDATES applications are computed, those whose clocks started first."""
    reviewing = applications_where(user, Rel.REVIEWING_RDO).filter(status=ApplicationStatus.IN_REVIEW)
    started = (
        DecisionClockEvent.objects.filter(kind=ClockEventKind.START, application_id__in=reviewing.values("pk"))
        .order_by("at", "pk")
        .values_list("application_id", flat=True)[:CLOCK_CANDIDATES]
    )
    clocks = clocks_for(started)
    close = [
        (clock["due_at"], pk)
        for pk, clock in clocks.items()
        if clock and not clock["paused"] and not clock["stopped"] and clock["days_left"] <= CLOCK_WARNING_DAYS
    ]
    close.sort()
    close = close[:PANEL_LIMIT]
    applications = Application.objects.in_bulk([pk for _, pk in close])
    items = [_item(applications[pk], _clock_detail(clocks[pk])) for _, pk in close if pk in applications]
    return Panel(
        title="Decision clocks",
        items=items,
        empty=f"No decision in review is due within {CLOCK_WARNING_DAYS} days.",
    )


@panel(role=Role.STEWARD, order=40)
def steward_panel(user):
    requesting = (
        applications_where(user, Rel.REQUESTED_STEWARD).exclude(status=ApplicationStatus.DRAFT).order_by("-updated_at")
    )
    return Panel(
        title="Applications requesting your datasets",
        items=[_item(a) for a in requesting[:PANEL_LIMIT]],
        count=count_words(*capped_count(requesting)),
        empty="No application requests your institution's datasets yet.",
    )


@panel(role=None, order=60)
def signature_panel(user):
    """For whoever is named as an institution's signatory (proved address): the applications whose
    legal statements they are asked to accept, with the link while it is open."""
    from access_requests.models import LegalStatement, Representations
    from access_requests.services.applications import signature_path

    if user.email_verified_at is None:
        return None
    named = Representations.objects.filter(signatory_email__iexact=user.email)
    first = list(
        named.select_related("application")
        .annotate(
            accepted=Count(
                "application__statement_acceptances",
                filter=Q(
                    application__statement_acceptances__voided_at__isnull=True,
                    application__statement_acceptances__accepted_by=user,
                ),
            )
        )
        .order_by("-application__updated_at", "-pk")[:PANEL_LIMIT]
    )
    if not first:
        return None
    items = []
    for reps in first:
        application = reps.application
        accepted = reps.accepted
        waiting = accepted < len(LegalStatement.values) and application.is_editable_by_applicant
        detail = "waiting for your acceptance" if waiting else f"{accepted} of {len(LegalStatement.values)} accepted"
        url = signature_path(reps) if reps.signature_link_open else ""
        items.append(PanelItem(f"{application.reference} {application.title}", url, detail))
    return Panel(title="Legal statements to sign", items=items, count=count_words(*capped_count(named)))


@panel(role=None, order=15)
def agreements_to_sign_panel(user):
    """For whoever may sign a rendered agreement awaiting signatures for one of its parties: the
    institution's signatory (by proved address, whatever their roles), a steward of a data holder it
    names, an RDO administrator; never a steward or RDO on the application's team. One query for the
    page of rows (and a capped count when it is full); the service checks again when they sign."""
    from access_requests.models import AgreementParty, AgreementSignature, AgreementStatus, PartyKind
    from access_requests.permissions import team_application_ids
    from catalogue.permissions import holders_stewarded_by

    roles = user.roles
    not_on_team = ~Q(version__agreement__application_id__in=team_application_ids(user)) & ~Q(
        version__agreement__application__applicant_id=user.pk
    )
    conditions = []
    if user.email_verified_at is not None:
        conditions.append(Q(kind=PartyKind.SIGNATORY, email__iexact=user.email))
    if Role.STEWARD in roles:
        conditions.append(
            Q(kind=PartyKind.STEWARD, holder_id__in=holders_stewarded_by(user).values("pk")) & not_on_team
        )
    if Role.RDO in roles:
        conditions.append(
            Q(kind=PartyKind.RDO) & not_on_team & Q(version__agreement__application__submission_count__gt=0)
        )
    if not conditions:
        return None
    mine = conditions[0]
    for condition in conditions[1:]:
        mine |= condition
    waiting = (
        AgreementParty.objects.filter(
            mine,
            version__superseded_at__isnull=True,
            version__rendered_at__isnull=False,
            version__agreement__status=AgreementStatus.AWAITING_SIGNATURES,
            version__agreement__application__status=ApplicationStatus.APPROVED,
        )
        .exclude(pk__in=AgreementSignature.objects.filter(voided_at__isnull=True).values("party_id"))
        .exclude(version_id__in=AgreementSignature.objects.filter(user_id=user.pk).values("version_id"))
        .select_related("version__agreement__application")
        .order_by("version__agreement__created_at", "pk")
    )
    shown = list(waiting[:PANEL_LIMIT])
    if not shown and not (Role.RDO in roles or Role.STEWARD in roles):
        return None  # a signatory with nothing to sign sees no empty panel
    items = [
        PanelItem(
            f"{p.version.agreement.reference} {p.version.agreement.application.title}",
            _url(p.version.agreement.application, "agreement"),
            f"version {p.version.number}, to sign for {p.name}",
        )
        for p in shown
    ]
    return Panel(
        title="Agreements awaiting your signature",
        items=items,
        # counted only when the page of rows is full: one statement on most dashboards
        count=count_words(*capped_count(waiting)) if len(shown) == PANEL_LIMIT else len(shown),
        empty="No data-access agreement waits for your signature.",
        note="Open each agreement, read the document, and sign it for the party you represent.",
    )


@panel(role=Role.RDO, order=22)
def extension_requests_panel(user):
    """Pending extension requests of grants the RDO reviews (never one of their own team's)."""
    from access_requests.models import ExtensionRequest, ExtensionStatus

    reviewing = applications_where(user, Rel.REVIEWING_RDO).filter(status=ApplicationStatus.ACTIVE)
    waiting = (
        ExtensionRequest.objects.filter(
            status=ExtensionStatus.PENDING, grant__application_id__in=reviewing.values("pk")
        )
        .select_related("grant__application", "grant__dataset")
        .order_by("requested_at", "pk")
    )
    items = [
        PanelItem(
            f"{r.grant.application.reference} {r.grant.dataset.identifier}",
            _url(r.grant.application) + "#access",
            f"to {r.requested_until:%Y-%m-%d} (now {r.grant.valid_until:%Y-%m-%d}), asked {r.requested_at:%Y-%m-%d}",
        )
        for r in waiting[:PANEL_LIMIT]
    ]
    return Panel(
        title="Extension requests",
        items=items,
        # counted only when the page of rows is full: one statement on most dashboards
        count=count_words(*capped_count(waiting)) if len(items) == PANEL_LIMIT else len(items),
        empty="No grantee waits for an extension.",
        note="Grant or refuse each on the application's page, within the grant's limits.",
    )


@panel(role=Role.RDO, order=23)
def closeouts_missing_panel(user):
    """Closed or revoked applications whose applicant has not attested the closeout 30 days after
    access ended, oldest first, each with a Remind button (at most one reminder a day)."""
    from access_requests.services.lifecycle import CLOSEOUT_REMINDER_DAYS, closeout_missing

    reviewing = applications_where(user, Rel.REVIEWING_RDO)
    missing = closeout_missing().filter(pk__in=reviewing.values("pk")).order_by("ended_at", "pk")
    now = timezone.now()
    items = []
    for application in missing[:PANEL_LIMIT]:
        item = _item(
            application, f"{application.get_status_display().lower()} {(now - application.ended_at).days} days ago"
        )
        item.url = _url(application) + "#access"
        item.post_url = _url(application, "application-closeout-remind")
        item.post_label = "Remind"
        items.append(item)
    return Panel(
        title="Closeouts missing",
        items=items,
        count=count_words(*capped_count(missing)) if len(items) == PANEL_LIMIT else len(items),
        empty=f"Every application that ended more than {CLOSEOUT_REMINDER_DAYS} days ago has its closeout.",
        note="The applicant must confirm that downloaded copies were deleted and list the results.",
    )
