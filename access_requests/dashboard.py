"""Dashboard panels about access applications: what waits for each role."""

from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone

from access_requests.models import Application, ApplicationStatus, CommitteeMembership
from access_requests.permissions import applications_where
from portal.access import Rel
from portal.dashboard import Panel, PanelItem, panel
from portal.keyset import capped_count, count_words
from portal.models import Role

PANEL_LIMIT = 10

# What a committee member does with an application in review, until review rounds and votes open
# in the portal (the committee issue): shown on their dashboard and on the application's page.
COMMITTEE_NEXT = (
    "Read each application, its documents and its thread here, and ask the applicant or note for the "
    "Research Data Office in its messages. Voting in the portal opens with review rounds; until then the "
    "chair sends the committee's decision to the Research Data Office, which records it."
)

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
