"""Writes for access requests. Committees for now; applications, reviews and grants follow."""

from django.db import transaction

from access_requests.models import Committee, CommitteeMembership
from portal.models import Role, User
from portal.services.accounts import user_grant_role
from portal.services.audit import audit_record


def committee_create(*, actor, name: str, quorum: int, description: str = "") -> Committee:
    """Create an access committee; its quorum is at least one vote."""
    with transaction.atomic():
        committee = Committee(name=name, quorum=quorum, description=description)
        committee.full_clean()
        committee.save()
        audit_record(actor=actor, verb="committee.create", target=committee, payload={"name": name, "quorum": quorum})
    return committee


def committee_add_member(*, actor, committee: Committee, user: User, chair: bool = False) -> CommitteeMembership:
    """Add a member (or the chair: one per committee) and give them the committee role."""
    role = CommitteeMembership.Role.CHAIR if chair else CommitteeMembership.Role.MEMBER
    with transaction.atomic():
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
