"""Reads for the grantee's side of access grants (the My data pages and the grants API): a
person's grants, how each stands today in words, and a grant's files, in a fixed number of queries
whatever the number of grants or files."""

from dataclasses import dataclass
from datetime import date

from django.db.models import QuerySet

from access_requests.models import Grant, GrantKind
from access_requests.services.grants import GrantRefused, download_usable, grant_state, grant_usable
from catalogue.models import DatasetFile


def grants_of_grantee(user) -> QuerySet:
    """The grants naming `user`, newest application first, with what a list shows of each."""
    return (
        Grant.objects.filter(grantees=user)
        .select_related("application", "dataset__holder")
        .order_by("-application_id", "pk")
    )


def grant_for_page(pk: int) -> Grant | None:
    return Grant.objects.select_related("application", "dataset__holder__node", "agreement").filter(pk=pk).first()


def grant_files(grant: Grant) -> QuerySet:
    """The files of the grant's dataset still registered and not failing the de-identification check
    (removed ones never leave; a failing one is not released: services/grants.py file_releasable)."""
    return DatasetFile.objects.filter(dataset_id=grant.dataset_id).exclude(dicom__passed=False)


@dataclass(frozen=True)
class GrantWords:
    state: str  # active | upcoming | expired | revoked
    words: str  # what a person reads: "Active", "Starts on 3 May 2027", "Ended on ...", "Revoked: ..."
    days_left: int | None  # whole days after today still in the grant (0 on its last day); None unless active


def grant_words(grant: Grant, today: date) -> GrantWords:
    state = grant_state(grant, today)
    if state == "revoked":
        ended = f" on {grant.ended_at:%-d %B %Y}" if grant.ended_at else ""
        return GrantWords(state, f"Revoked{ended}: {grant.revoke_reason}", None)
    if state == "expired":
        return GrantWords(state, f"Ended on {grant.valid_until:%-d %B %Y}", None)
    if state == "upcoming":
        return GrantWords(state, f"Starts on {grant.valid_from:%-d %B %Y}", None)
    return GrantWords(state, "Active", (grant.valid_until - today).days)


def days_left_words(days: int | None) -> str:
    if days is None:
        return ""
    if days == 0:
        return "today is the last day"
    return "1 day left after today" if days == 1 else f"{days} days left after today"


def grant_refusal(grant: Grant, user, today: date) -> GrantRefused | None:
    """Why `user` may not use `grant` today (None: they may): the per-request check of a download
    grant (files and links), or of a processing grant (its environment)."""
    try:
        if grant.kind == GrantKind.DOWNLOAD:
            download_usable(grant, user, today=today)
        else:
            grant_usable(grant, user, today=today)
    except GrantRefused as refused:
        return refused
    return None
