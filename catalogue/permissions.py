"""Who may steward which data holder and dataset, answered in one place.

A steward holds the django-guardian object permission `catalogue.change_dataholder` on each
data holder they serve (granted by `catalogue.services.data_holder_add_steward`). Stewarding a
dataset means stewarding its data holder. Services also accept a system actor (a string such
as "system:import"): trusted code running inside the portal, never a request.
"""

from django.db.models import QuerySet
from guardian.shortcuts import get_objects_for_user

from catalogue.models import DataHolder, Dataset
from portal.errors import NotPermitted

STEWARD_PERMISSION = "catalogue.change_dataholder"


def _is_person(user) -> bool:
    return user is not None and getattr(user, "is_authenticated", False) and user.is_active


def can_steward_holder(user, holder: DataHolder) -> bool:
    """May `user` create, edit, publish and withdraw the datasets of `holder`? (No superuser shortcut.)"""
    return _is_person(user) and holders_stewarded_by(user).filter(pk=holder.pk).exists()


def can_steward_dataset(user, dataset: Dataset) -> bool:
    return can_steward_holder(user, dataset.holder)


def holders_stewarded_by(user) -> QuerySet[DataHolder]:
    """The data holders `user` stewards (none for anonymous or inactive users)."""
    if not _is_person(user):
        return DataHolder.objects.none()
    return get_objects_for_user(
        user, STEWARD_PERMISSION, klass=DataHolder, accept_global_perms=False, with_superuser=False
    )


def dataset_relations(user, dataset: Dataset) -> set:
    """How `user` stands to `dataset`, for the portal's access model (portal.access)."""
    from portal.access import Rel

    found = set()
    if dataset.is_published:
        found.add(Rel.PUBLISHED)
    if can_steward_dataset(user, dataset):
        found.add(Rel.HOLDER_STEWARD)
    return found


def require_steward(actor, holder: DataHolder) -> None:
    """For services: raise NotPermitted unless `actor` is a system actor or a steward of `holder`."""
    if isinstance(actor, str):
        return
    if not can_steward_holder(actor, holder):
        raise NotPermitted(f"Only the stewards of {holder.name} may change its datasets.")


def dataset_get_for_steward(*, user, identifier: str) -> Dataset:
    """The dataset a steward's page acts on.

    Http404 when `user` may not even see it (a draft or withdrawn dataset of another data
    holder, or no such dataset); PermissionDenied when they may see it but not act on it (a
    published dataset of another data holder).
    """
    from catalogue.models import Dataset
    from portal.access import require

    dataset = Dataset.objects.select_related("holder").filter(identifier=identifier).first()
    require(user, "dataset.steward", dataset)
    return dataset
