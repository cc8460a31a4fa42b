"""How a caller stands to an access application, for the portal's one access model (portal.access).

- applicant and team members (the accepted rows of its team, `TeamMember`; the service also gives
  them django-guardian object permissions in the same transaction): see their application; change it
  while it is a draft or returned; the applicant alone submits, withdraws and deletes a draft;
- the RDO: sees every application once submitted, reviews, returns, forwards;
- committee members: see the applications forwarded to their committee, declare conflicts, check
  and vote; its chair also decides and extends the decision clock;
- stewards: see the applications that request their institution's datasets;
- internal notes: RDO and the reviewing committee only.

Separation of duties: whoever started an application or is on its team holds none of the reviewing
relations to it, whatever their roles: they see it as its team does and never review it.
"""

from contextlib import contextmanager
from contextvars import ContextVar

from django.db.models import Q, QuerySet

from access_requests.models import Application, ApplicationDataset, CommitteeMembership, TeamMember
from portal.access import Rel, may, require
from portal.models import Role

VIEW = "access_requests.view_application"
CHANGE = "access_requests.change_application"


def _signed_in(user) -> bool:
    return user is not None and user.is_authenticated and user.is_active


def team_application_ids(user) -> QuerySet:
    """Ids of the applications whose team `user` is on: the accepted rows of the team table, one
    index-only scan of `team_member_joined_user` (no superuser shortcut).

    The services keep this table and guardian's object permissions in step (both are written on
    accepting an invitation or starting an application, both removed with a member or a draft);
    guardian's own query joins its generic table and casts `object_pk`, so lists do not use it."""
    return TeamMember.objects.filter(user_id=user.pk, joined_at__isnull=False).order_by().values("application_id")


# Within `relations_remembered()` (a read-only request: the application page, the API detail), the
# relations of one person to one application are worked out once, not once per question asked.
_MEMO: ContextVar[dict | None] = ContextVar("application_relations_memo", default=None)


@contextmanager
def relations_remembered():
    """Remember `application_relations` answers until the block ends; for reads that change nothing."""
    token = _MEMO.set({})
    try:
        yield
    finally:
        _MEMO.reset(token)


def application_relations(user, application: Application) -> set[Rel]:
    if not _signed_in(user):
        return set()
    memo = _MEMO.get()
    if memo is None:
        return _relations(user, application)
    key = (user.pk, application.pk, application.status, application.submission_count, application.committee_id)
    if key not in memo:
        memo[key] = frozenset(_relations(user, application))
    return set(memo[key])


def _relations(user, application: Application) -> set[Rel]:
    found: set[Rel] = set()
    started = application.applicant_id == user.pk
    on_team = team_application_ids(user).filter(application_id=application.pk).exists()
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
    """The dataset requests naming a dataset of a holder `user` stewards, as nested uncorrelated
    subqueries (no join): the stewardship rows are written with the holder's object permission
    (catalogue.services.data_holder_add_steward) and never removed apart from it."""
    from catalogue.models import Dataset, Stewardship

    holders = Stewardship.objects.filter(user_id=user.pk).values("holder_id")
    return ApplicationDataset.objects.filter(dataset_id__in=Dataset.objects.filter(holder_id__in=holders).values("pk"))


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


def _reviewing(user) -> Q:
    """Submitted at least once, and `user` is no party to it (separation of duties)."""
    return Q(submission_count__gt=0) & ~Q(pk__in=team_application_ids(user)) & ~Q(applicant_id=user.pk)


def _branch_ids(user, relation: Rel) -> QuerySet | None:
    """The ids of the applications to which `user` holds a narrow `relation` (a few per person), as one
    uncorrelated subquery without join or DISTINCT; None when `user` cannot hold it."""
    if relation == Rel.TEAM:
        return team_application_ids(user)
    if relation == Rel.APPLICANT:
        return Application.objects.filter(applicant_id=user.pk).order_by().values("pk")
    if relation == Rel.ASSIGNED_COMMITTEE:
        committees = CommitteeMembership.objects.filter(user_id=user.pk).values("committee_id")
        return Application.objects.filter(_reviewing(user), committee_id__in=committees).order_by().values("pk")
    if relation == Rel.COMMITTEE_CHAIR:
        return Application.objects.filter(_where(user, relation)).order_by().values("pk")
    if relation == Rel.REQUESTED_STEWARD and Role.STEWARD in user.roles:
        requested = _requested_from_holders_of(user).order_by().values("application_id")
        return Application.objects.filter(_reviewing(user), pk__in=requested).order_by().values("pk")
    return None


def _where(user, relation: Rel) -> Q:
    """The applications to which `user` holds `relation`, as conditions on the row with uncorrelated
    `pk IN (...)` / `committee_id IN (...)` subqueries (no join, no DISTINCT). The set form of
    `application_relations`, which must say the same (tests/access_requests/test_lists_at_scale.py)."""
    if relation == Rel.REVIEWING_RDO:
        return _reviewing(user) if Role.RDO in user.roles else Q(pk__in=[])
    if relation == Rel.ASSIGNED_COMMITTEE:
        committees = CommitteeMembership.objects.filter(user_id=user.pk).values("committee_id")
        return _reviewing(user) & Q(committee_id__in=committees)
    if relation == Rel.COMMITTEE_CHAIR:
        chaired = CommitteeMembership.objects.filter(user_id=user.pk, role=CommitteeMembership.Role.CHAIR)
        return _reviewing(user) & Q(committee_id__in=chaired.values("committee_id"))
    if relation == Rel.REQUESTED_STEWARD and Role.STEWARD in user.roles:
        return _reviewing(user) & Q(pk__in=_requested_from_holders_of(user).order_by().values("application_id"))
    ids = _branch_ids(user, relation)
    return Q(pk__in=ids) if ids is not None else Q(pk__in=[])


def _broad(user, relation: Rel) -> bool:
    """Whether `relation` may hold for many applications for `user`: the RDO's (every one submitted),
    a committee member's and a steward's. Those are conditions on the row, met by many rows: a list
    walks its ordering's index and stops after a page. The others (team, applicant, a committee
    membership without the role) hold for a few: their ids are collected and joined to the rows."""
    roles = user.roles
    return (
        (relation == Rel.REVIEWING_RDO)
        or (relation in (Rel.ASSIGNED_COMMITTEE, Rel.COMMITTEE_CHAIR) and Role.COMMITTEE in roles)
        or (relation == Rel.REQUESTED_STEWARD and Role.STEWARD in roles)
    )


def applications_where(user, *relations: Rel) -> QuerySet:
    """The applications to which `user` holds any of `relations` (every list, dashboard panel, queue and
    API list uses this). The narrow relations are one `pk IN (a UNION ALL b ...)`; the broad ones
    (`_broad`) are OR-ed on as uncorrelated `pk IN (...)` conditions, which PostgreSQL checks against
    a hash of the subquery's ids while it walks the list's index. Either form is the same set: only
    the plan differs (the EXPLAINs are in the README's performance notes)."""
    if not _signed_in(user):
        return Application.objects.none()
    narrow = [
        ids for relation in relations if not _broad(user, relation) and (ids := _branch_ids(user, relation)) is not None
    ]
    condition = Q(pk__in=[])
    if narrow:
        condition |= Q(pk__in=narrow[0].union(*narrow[1:], all=True) if len(narrow) > 1 else narrow[0])
    for relation in relations:
        if _broad(user, relation):
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
    "committee": "application.committee",
    "chair": "application.chair",
}


def application_get_for(*, user, pk: int | None = None, reference: str | None = None, action: str = "view"):
    """The application if `user` may see it (else 404) and may do `action` (else 403).

    action: view | team | edit (team, while a draft or returned) | applicant | review (RDO) | note (RDO or committee)
    | committee (members of the assigned committee) | chair (its chair)
    """
    from portal.errors import TransitionError

    lookup = {"pk": pk} if pk is not None else {"reference": reference}
    application = (
        Application.objects.select_related("applicant", "committee", "dpia", "representations").filter(**lookup).first()
    )
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


# --- data-access agreements ------------------------------------------------------------------------


def agreement_in_force(application_pk):
    """The agreement of the application (named by its pk) that is not voided, if any: what the
    agreement pages are about (one per application at a time, a database constraint)."""
    from access_requests.models import Agreement, AgreementStatus

    try:
        pk = int(application_pk)
    except (TypeError, ValueError):
        return None
    return (
        Agreement.objects.select_related("application__committee", "application__applicant")
        .filter(application_id=pk)
        .exclude(status=AgreementStatus.VOIDED)
        .first()
    )


def agreement_relations(user, agreement) -> set[Rel]:
    """How `user` stands to an agreement: as to its application (who may see it), plus AGREEMENT_PARTY
    when they are entitled to sign its current version for one of its parties (the service decides
    that, `party_entitled`; the institution's signatory needs no role and no place on the team).
    A few queries, and none for the parties `user`'s roles rule out."""
    if not _signed_in(user):
        return set()
    found = application_relations(user, agreement.application)
    if agreement_parties_for(user, agreement, found):
        found.add(Rel.AGREEMENT_PARTY)
    return found


def agreement_parties_for(user, agreement, held: set | None = None) -> list:
    """The parties of the agreement's current version `user` may sign for."""
    from access_requests.models import AgreementParty, PartyKind
    from access_requests.services.agreements import party_entitled

    if not _signed_in(user):
        return []
    held = application_relations(user, agreement.application) if held is None else held
    roles = user.roles
    kinds = []
    if user.email_verified_at is not None:
        kinds.append(PartyKind.SIGNATORY)
    if Role.STEWARD in roles and Rel.TEAM not in held and Rel.APPLICANT not in held:
        kinds.append(PartyKind.STEWARD)
    if Rel.REVIEWING_RDO in held:
        kinds.append(PartyKind.RDO)
    if not kinds:
        return []
    parties = AgreementParty.objects.filter(
        version__agreement=agreement, version__superseded_at__isnull=True, kind__in=kinds
    ).select_related("version")
    return [party for party in parties if party_entitled(user, party, agreement.application)]


def grant_relations(user, grant) -> set[Rel]:
    """How `user` stands to an access grant: as to its application, plus GRANTEE when the grant names them."""
    if not _signed_in(user):
        return set()
    found = application_relations(user, grant.application)
    if grant.grantees.filter(pk=user.pk).exists():
        found.add(Rel.GRANTEE)
    return found
