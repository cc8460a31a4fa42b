"""Keyset (seek) pagination for the portal's list pages, and counts that stop at a cap.

A page is found by the sort key of the row before it (`after`) or after it (`before`), carried in
an opaque cursor, instead of an OFFSET: the database seeks in the index to the key and reads one
page, however deep, and a row added while someone pages does not shift the rows they have not yet
seen. Totals are counted only up to `COUNT_CAP` rows and then shown as "more than N": the count of
a large set costs as much as reading it.

A cursor that does not decode (edited by hand, cut short, from another list) is refused with
`BadCursor`, whose message a page shows with a 400; it is never a 500.
"""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet

COUNT_CAP = 1000


class BadCursor(ValueError):
    """The page link's cursor is not one this list made."""

    message = "This page link is not valid (it may have been cut short or edited). Start again from the first page."

    def __init__(self):
        super().__init__(self.message)


def capped_count(queryset: QuerySet, cap: int = COUNT_CAP) -> tuple[int, bool]:
    """(count, exact): the number of rows up to `cap`; past it (cap, False), read no further."""
    found = queryset.order_by()[: cap + 1].count()
    return (found, True) if found <= cap else (cap, False)


def count_words(count: int, exact: bool) -> str:
    return f"{count:,}" if exact else f"more than {count:,}"


def _encode(values: list) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode(cursor: str, kinds: list[type]) -> list:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        plain = json.loads(raw.decode())
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise BadCursor from exc
    if not isinstance(plain, list) or len(plain) != len(kinds):
        raise BadCursor
    values = []
    for value, kind in zip(plain, kinds, strict=True):
        if kind is datetime:
            if not isinstance(value, str):
                raise BadCursor
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError as exc:
                raise BadCursor from exc
            if parsed.tzinfo is None:
                raise BadCursor
            values.append(parsed)
        elif kind is int:
            if not isinstance(value, int) or isinstance(value, bool) or not -(2**63) <= value < 2**63:
                raise BadCursor
            values.append(value)
        else:  # pragma: no cover - a list declares its key kinds
            raise TypeError(kind)
    return values


def _beyond(fields: list[str], values: list, descending: bool) -> Q:
    """Rows strictly past `values` in the order of `fields`: the leading field as a range (the index
    seeks to it), then the row comparison written out for the databases that lack it."""
    op = "lt" if descending else "gt"
    strictly = Q(pk__in=[])
    for i, field in enumerate(fields):
        step = Q(**{f"{field}__{op}": values[i]})
        for earlier, value in zip(fields[:i], values[:i], strict=True):
            step &= Q(**{earlier: value})
        strictly |= step
    return Q(**{f"{fields[0]}__{op}e": values[0]}) & strictly


@dataclass
class KeysetPage:
    object_list: list
    next_cursor: str = ""
    previous_cursor: str = ""
    count: int = 0
    count_exact: bool = True
    size: int = 50
    from_cursor: bool = False  # not the first page: an empty one means the list ended, not that it is empty

    @property
    def has_other_pages(self) -> bool:
        return bool(self.next_cursor or self.previous_cursor)

    @property
    def count_words(self) -> str:
        return count_words(self.count, self.count_exact)


def keyset_page(
    queryset: QuerySet,
    *,
    order: tuple[str, ...],
    kinds: tuple[type, ...],
    size: int,
    after: str | None = None,
    before: str | None = None,
    cap: int = COUNT_CAP,
) -> KeysetPage:
    """One page of `queryset` in `order` (all ascending or all descending, ending in a unique field,
    no NULLs), after or before a cursor; with the total up to `cap`. Raises BadCursor."""
    descending = order[0].startswith("-")
    if any(f.startswith("-") != descending for f in order):
        raise ValueError("keyset order must run one way")
    fields = [f.lstrip("-") for f in order]
    count, exact = capped_count(queryset, cap)
    if after and before:
        raise BadCursor
    backwards = bool(before)
    if after or before:
        values = _decode(after or before, list(kinds))
        queryset = queryset.filter(_beyond(fields, values, descending != backwards))
    reverse = tuple(("" if f.startswith("-") else "-") + f.lstrip("-") for f in order)
    rows = list(queryset.order_by(*(reverse if backwards else order))[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()

    def key(row) -> str:
        return _encode([getattr(row, f) for f in fields])

    page = KeysetPage(object_list=rows, count=count, count_exact=exact, size=size, from_cursor=bool(after or before))
    if rows:
        has_next = more if not backwards else True
        has_previous = more if backwards else bool(after)
        page.next_cursor = key(rows[-1]) if has_next else ""
        page.previous_cursor = key(rows[0]) if has_previous else ""
    return page


def request_page(
    request, queryset: QuerySet, *, order: tuple[str, ...], size: int, kinds=(datetime, int)
) -> KeysetPage:
    """The page of `queryset` a list page's link asks for (`after` or `before` in its query string);
    `kinds` are the types of the `order` fields (by default a time and the primary key). Raises BadCursor."""
    return keyset_page(
        queryset, order=order, kinds=kinds, size=size, after=request.GET.get("after"), before=request.GET.get("before")
    )
