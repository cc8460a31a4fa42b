"""Access committees: creating them, their members and chair, their decision rule and periods, and
the data holders whose applications they review by default. The Research Data Office does these."""

from django.core.exceptions import ValidationError
from django.db import transaction

from access_requests.models import Committee, CommitteeAssignment, CommitteeMembership
from portal.access import require_actor
from portal.errors import InvalidInput
from portal.models import Role, User
from portal.services.accounts import user_grant_role
from portal.services.audit import audit_record


def committee_create(*, actor, name: str, quorum: int, description: str = "") -> Committee:
    """Create an access committee; its quorum is at least one vote."""
    require_actor(actor, "rdo")
    with transaction.atomic():
        committee = Committee(name=name.strip(), quorum=quorum, description=description.strip())
        try:
            committee.full_clean()
        except ValidationError as exc:
            raise InvalidInput("Check the committee's name and quorum.", fields=exc.message_dict) from exc
        committee.save()
        audit_record(actor=actor, verb="committee.create", target=committee, payload={"name": name, "quorum": quorum})
    return committee


def committee_add_member(*, actor, committee: Committee, user: User, chair: bool = False) -> CommitteeMembership:
    """Add a member (or the chair: one per committee) and give them the committee role."""
    require_actor(actor, "rdo")
    role = CommitteeMembership.Role.CHAIR if chair else CommitteeMembership.Role.MEMBER
    with transaction.atomic():
        # the committee's row is locked so that two chairs named at once queue (the second is refused)
        committee = Committee.objects.select_for_update().get(pk=committee.pk)
        if chair and committee.memberships.filter(role=CommitteeMembership.Role.CHAIR).exclude(user=user).exists():
            raise InvalidInput(
                f"{committee.name} already has a chair: a committee has one.",
                fields={"chair": ["This committee already has a chair."]},
            )
        membership, created = CommitteeMembership.objects.get_or_create(
            committee=committee, user=user, defaults={"role": role}
        )
        if not created:
            return membership
        user_grant_role(actor=actor, user=user, role=Role.COMMITTEE)
        audit_record(
            actor=actor, verb="committee.member_add", target=committee, payload={"member": user.email, "role": role}
        )
    return membership


# The settings of a committee's decision rule and periods (access_requests/rules.py explains the rules).
RULE_SETTINGS = (
    "decision_rule",
    "quorum",
    "approve_share",
    "objection_days",
    "voting_days",
    "decision_months",
    "extension_max_months",
)


def committee_configure(*, actor, committee: Committee, settings: dict) -> Committee:
    """The Research Data Office sets a committee's decision rule, voting period, decision time and the
    longest extension. Rounds already open keep the voting deadline they opened with; the rule applies
    to every decision taken from now on."""
    require_actor(actor, "rdo")
    unknown = set(settings) - set(RULE_SETTINGS)
    if unknown:
        raise InvalidInput("Unknown settings.", fields={name: ["Unknown setting."] for name in sorted(unknown)})
    with transaction.atomic():
        committee = Committee.objects.select_for_update().get(pk=committee.pk)
        for name, value in settings.items():
            setattr(committee, name, value)
        try:
            committee.full_clean()
        except ValidationError as exc:
            raise InvalidInput("Check the committee's settings.", fields=exc.message_dict) from exc
        committee.save()
        audit_record(
            actor=actor,
            verb="committee.configure",
            target=committee,
            payload={name: str(getattr(committee, name)) for name in sorted(settings)},
        )
    return committee


def committee_assign_holder(*, actor, holder, committee: Committee | None) -> None:
    """Name the committee that reviews, by default, applications for `holder`'s datasets (None: no default)."""
    require_actor(actor, "rdo")
    with transaction.atomic():
        if committee is None:
            CommitteeAssignment.objects.filter(holder=holder).delete()
        else:
            CommitteeAssignment.objects.update_or_create(holder=holder, defaults={"committee": committee})
        audit_record(
            actor=actor,
            verb="committee.assign_holder",
            target=holder,
            payload={"holder": holder.name, "committee": committee.name if committee else ""},
        )
