"""Accounts and role membership."""

from django.contrib.auth.models import Group
from django.db import transaction
from django.dispatch import Signal

from portal.models import Role, User
from portal.services.audit import audit_record

# Sent inside user_create's transaction; other apps react (pending team invitations become memberships).
user_created = Signal()


def user_create(
    *,
    actor,
    email: str,
    full_name: str,
    password: str | None,
    roles: list[str] = (),
    organisation: str = "",
    country: str = "",
) -> User:
    """Create an account with its role groups, audited."""
    unknown = set(roles) - set(Role.values)
    if unknown:
        raise ValueError(f"Unknown roles: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        user = User.objects.create_user(
            email=email, password=password, full_name=full_name, organisation=organisation, country=country
        )
        for role in roles:
            user.groups.add(Group.objects.get_or_create(name=role)[0])
        audit_record(
            actor=actor, verb="user.create", target=user, payload={"email": user.email, "roles": sorted(roles)}
        )
        user_created.send(sender=User, user=user)
    return user


def user_grant_role(*, actor, user: User, role: str) -> None:
    """Add `user` to a role group; a no-op when they already hold it."""
    if role not in Role.values:
        raise ValueError(f"Unknown role: {role}")
    with transaction.atomic():
        group, _ = Group.objects.get_or_create(name=role)
        if user.groups.filter(pk=group.pk).exists():
            return
        user.groups.add(group)
        user.__dict__.pop("_roles_cache", None)
        audit_record(actor=actor, verb="user.role_grant", target=user, payload={"role": role})
