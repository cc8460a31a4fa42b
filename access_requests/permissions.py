"""Who may see and do what with an access application, in one place.

- applicant and team members: see their application; edit it while it is a draft or returned;
  the applicant alone submits, withdraws and deletes a draft (object permissions through
  django-guardian, given when they join);
- RDO administrators: see every application (not those never submitted), review, return, forward;
- committee members: see the applications forwarded to their committee;
- stewards: see the applications that request their institution's datasets;
- internal notes: RDO and committee only.
"""

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404
from guardian.shortcuts import get_objects_for_user

from access_requests.models import Application
from portal.models import Role

VIEW = "access_requests.view_application"
CHANGE = "access_requests.change_application"


def is_rdo(user) -> bool:
    return user.is_authenticated and user.has_role(Role.RDO)


def is_team(user, application: Application) -> bool:
    return user.is_authenticated and user.has_perm(VIEW, application)


def is_applicant(user, application: Application) -> bool:
    return user.is_authenticated and application.applicant_id == user.pk


def is_committee_reviewer(user, application: Application) -> bool:
    return (
        user.is_authenticated
        and application.committee_id is not None
        and application.committee.memberships.filter(user=user).exists()
    )


def is_steward_of_requested(user, application: Application) -> bool:
    return (
        user.is_authenticated
        and user.has_role(Role.STEWARD)
        and application.requested.filter(dataset__holder__stewardships__user=user).exists()
    )


def is_reviewer(user, application: Application) -> bool:
    """RDO or the committee handling it: sees internal notes and reviews."""
    return is_rdo(user) or is_committee_reviewer(user, application)


def can_view(user, application: Application) -> bool:
    if not user.is_authenticated:
        return False
    if is_team(user, application):
        return True
    if application.submission_count == 0:
        return False  # never submitted (a draft, or a draft withdrawn) is the team's alone
    return is_rdo(user) or is_committee_reviewer(user, application) or is_steward_of_requested(user, application)


def can_edit(user, application: Application) -> bool:
    return application.is_editable_by_applicant and user.is_authenticated and user.has_perm(CHANGE, application)


def applications_visible_to(user) -> QuerySet:
    """Every application `user` may see (the list pages and the API use this)."""
    if not user.is_authenticated:
        return Application.objects.none()
    team = get_objects_for_user(user, VIEW, klass=Application, accept_global_perms=False)
    visible = Q(pk__in=team.values("pk"))
    seen_by_staff = Q(submission_count__gt=0)
    if user.has_role(Role.RDO):
        visible |= seen_by_staff
    visible |= seen_by_staff & Q(committee__memberships__user=user)
    if user.has_role(Role.STEWARD):
        visible |= seen_by_staff & Q(requested__dataset__holder__stewardships__user=user)
    return Application.objects.filter(visible).distinct()


def application_get_for(*, user, pk: int | None = None, reference: str | None = None, action: str = "view"):
    """The application if `user` may see it (else 404) and may do `action` (else 403).

    action: view | edit | applicant | review (RDO) | note (RDO or committee)
    """
    lookup = {"pk": pk} if pk is not None else {"reference": reference}
    application = Application.objects.select_related("applicant", "committee").filter(**lookup).first()
    if application is None or not can_view(user, application):
        raise Http404("No such application.")
    allowed = {
        "view": lambda: True,
        "edit": lambda: can_edit(user, application),
        "applicant": lambda: is_applicant(user, application),
        "review": lambda: is_rdo(user),
        "note": lambda: is_reviewer(user, application),
    }[action]()
    if not allowed:
        raise PermissionDenied(_REFUSALS[action])
    return application


_REFUSALS = {
    "edit": "The application can be changed only by its team, and only while it is a draft or returned for revision.",
    "applicant": "Only the applicant can do this.",
    "review": "Only the Research Data Office can do this.",
    "note": "Only the Research Data Office and the reviewing committee can do this.",
}
