"""Writes to the catalogue: data holders and their stewards."""

from django.db import transaction
from guardian.shortcuts import assign_perm

from catalogue.models import DataHolder, Stewardship
from portal.models import Role, User
from portal.services.accounts import user_grant_role
from portal.services.audit import audit_record


def data_holder_create(
    *, actor, name: str, slug: str, country: str, contact_email: str, rdo_email: str, city: str = "", website: str = ""
) -> DataHolder:
    """Register an institution that holds data; audited."""
    with transaction.atomic():
        holder = DataHolder(
            name=name,
            slug=slug,
            country=country.upper(),
            city=city,
            website=website,
            contact_email=contact_email,
            rdo_email=rdo_email,
        )
        holder.full_clean()
        holder.save()
        audit_record(
            actor=actor, verb="data_holder.create", target=holder, payload={"name": name, "country": holder.country}
        )
    return holder


def data_holder_add_steward(*, actor, holder: DataHolder, user: User) -> Stewardship:
    """Make `user` a steward of `holder`: the steward role plus the object permission on the holder."""
    with transaction.atomic():
        stewardship, created = Stewardship.objects.get_or_create(holder=holder, user=user)
        if not created:
            return stewardship
        user_grant_role(actor=actor, user=user, role=Role.STEWARD)
        assign_perm("catalogue.change_dataholder", user, holder)
        audit_record(actor=actor, verb="data_holder.steward_add", target=holder, payload={"steward": user.email})
    return stewardship
