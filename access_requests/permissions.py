"""How a caller stands to an access application, for the portal's one access model (portal.access).

- applicant and team members (django-guardian object permissions, given when they join): see their
  application; change it while it is a draft or returned; the applicant alone submits, withdraws
  and deletes a draft;
- the RDO: sees every application once submitted, reviews, returns, forwards;
- committee members: see the applications forwarded to their committee, declare conflicts, check
  and vote; its chair also decides and extends the decision clock;
- stewards: see the applications that request their institution's datasets;
- internal notes: RDO and the reviewing committee only.

Separation of duties: whoever started an application or is on its team holds none of the reviewing
relations to it, whatever their roles: they see it as its team does and never review it.
"""

from django.db.models import Q, QuerySet
from guardian.shortcuts import get_objects_for_user

from access_requests.models import Application, ApplicationDataset, CommitteeMembership
from portal.access import Rel, may, require
from portal.models import Role

VIEW = "access_requests.view_application"
CHANGE = "access_requests.change_application"


def _signed_in(user) -> bool:
    return user is not None and user.is_authenticated and user.is_active


def team_application_ids(user) -> QuerySet:
    """Ids of the applications whose team `user` is on (object permissions; no superuser shortcut)."""
    return get_objects_for_user(user, VIEW, klass=Application, accept_global_perms=False, with_superuser=False).values(
        "pk"
    )


def application_relations(user, application: Application) -> set[Rel]:
    if not _signed_in(user):
        return set()
    found: set[Rel] = set()
    started = application.applicant_id == user.pk
    on_team = team_application_ids(user).filter(pk=application.pk).exists()
    if started:
        found.add(Rel.APPLICANT)
    if on_team:
        found.add(Rel.TEAM)
    if started or on_team or application.submission_count == 0:
        return found  # a party to it reviews nothing of it; never submitted is the team's alone
    roles = user.roles
    if Role.RDO in roles:
        found.add(Rel.REVIEWING_RDO)
    if application.committee_id is not None:
        membership = CommitteeMembership.objects.filter(committee_id=application.committee_id, user=user).first()
        if membership is not None:
            found.add(Rel.ASSIGNED_COMMITTEE)
            if membership.role == CommitteeMembership.Role.CHAIR:
                found.add(Rel.COMMITTEE_CHAIR)
    if Role.STEWARD in roles and _requested_from_holders_of(user).filter(application=application).exists():
        found.add(Rel.REQUESTED_STEWARD)
    return found


def _requested_from_holders_of(user) -> QuerySet:
    from catalogue.permissions import holders_stewarded_by

    return ApplicationDataset.objects.filter(dataset__holder_id__in=holders_stewarded_by(user).values("pk"))


def is_rdo(user) -> bool:
    return _signed_in(user) and user.has_role(Role.RDO)


def is_team(user, application: Application) -> bool:
    return may(user, "application.team", application)


def is_applicant(user, application: Application) -> bool:
    return may(user, "application.applicant", application)


def is_reviewer(user, application: Application) -> bool:
    """The reviewing RDO or committee (not a party to it): sees internal notes."""
    return may(user, "application.note", application)


def can_view(user, application: Application) -> bool:
    return may(user, "application.view", application)


def can_edit(user, application: Application) -> bool:
    return application.is_editable_by_applicant and is_team(user, application)


def _where(user, relation: Rel) -> Q:
    """The applications to which `user` holds `relation`, as uncorrelated `pk IN (...)` branches (no
    join, no DISTINCT): the set form of `application_relations`, which must say the same."""
    team = Q(pk__in=team_application_ids(user))
    if relation == Rel.TEAM:
        return team
    if relation == Rel.APPLICANT:
        return Q(applicant=user)
    reviewing = Q(submission_count__gt=0) & ~team & ~Q(applicant=user)
    roles = user.roles
    if relation == Rel.REVIEWING_RDO:
        return reviewing if Role.RDO in roles else Q(pk__in=[])
    if relation == Rel.ASSIGNED_COMMITTEE:
        return reviewing & Q(committee_id__in=CommitteeMembership.objects.filter(user=user).values("committee_id"))
    if relation == Rel.COMMITTEE_CHAIR:
        chaired = CommitteeMembership.objects.filter(user=user, role=CommitteeMembership.Role.CHAIR)
        return reviewing & Q(committee_id__in=chaired.values("committee_id"))
    if relation == Rel.REQUESTED_STEWARD and Role.STEWARD in roles:
        return reviewing & Q(pk__in=_requested_from_holders_of(user).values("application_id"))
    return Q(pk__in=[])


def applications_where(user, *relations: Rel) -> QuerySet:
    """The applications to which `user` holds any of `relations` (dashboards and queues use this)."""
    if not _signed_in(user):
        return Application.objects.none()
    condition = Q(pk__in=[])
    for relation in relations:
        condition |= _where(user, relation)
    return Application.objects.filter(condition)


def applications_visible_to(user) -> QuerySet:
    """Every application `user` may see (the list pages and the API use this): the rule
    `application.view` of the access model, as a query."""
    from portal.access import RULES

    return applications_where(user, *RULES["application.view"].allow)


# action -> the access model's rule; "edit" also needs a state the team may change.
_ACTION_RULES = {
    "view": "application.view",
    "team": "application.team",
    "edit": "application.team",
    "applicant": "application.applicant",
    "review": "application.review",
    "note": "application.note",
}


def application_get_for(*, user, pk: int | None = None, reference: str | None = None, action: str = "view"):
    """The application if `user` may see it (else 404) and may do `action` (else 403).

    action: view | team | edit (team, while a draft or returned) | applicant | review (RDO) | note (RDO or committee)
    """
    from portal.errors import TransitionError

    lookup = {"pk": pk} if pk is not None else {"reference": reference}
    application = Application.objects.select_related("applicant", "committee").filter(**lookup).first()
    require(user, "application.view", application)
    require(user, _ACTION_RULES[action], application)
    if action == "edit" and not application.is_editable_by_applicant:
        raise TransitionError(
            f"Application {application.reference} is {application.get_status_display().lower()}: it can be "
            "changed only while it is a draft or returned for revision."
        )
    return application


def invitation_from_token(token: str):
    """The pending team invitation a link's token names, or None (tampered, answered, withdrawn, expired)."""
    from django.core import signing

    from access_requests.models import TeamMember
    from access_requests.services.applications import INVITATION_SALT

    try:
        key = signing.loads(str(token), salt=INVITATION_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(key, str) or not key:
        return None
    member = TeamMember.objects.select_related("application").filter(invitation_key=key).first()
    return member if member is not None and member.invitation_state == "pending" else None


def invitation_relations(user, member) -> set[Rel]:
    """The invitee is whoever is signed in with the proved address the invitation was sent to."""
    if not _signed_in(user) or user.email_verified_at is None:
        return set()
    return {Rel.INVITEE} if user.email.lower() == member.email.lower() else set()


def signature_from_token(token: str):
    """The representations an open signatory link names, or None (tampered, replaced, expired)."""
    from access_requests.services.applications import signature_from_token as find

    return find(token)


def signature_relations(user, reps) -> set[Rel]:
    """The signatory is whoever is signed in with the proved address named as the institution's signatory."""
    from access_requests.services.applications import is_signatory

    return {Rel.SIGNATORY} if is_signatory(user, reps) else set()
