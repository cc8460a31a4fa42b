"""Invariant 7 reads everyone's application list at once (one statement per set of roles): it finds
what reading each list on its own finds."""

import pytest

from access_requests import invariants, permissions
from access_requests.models import Application

pytestmark = pytest.mark.django_db


def _lists_only(violations):
    return sorted(str(v) for v in violations if "application list" in v.message)


def test_everyone_at_once_finds_what_one_by_one_finds(monkeypatch, draft, alice, bob, charlie, rdo):
    from portal.models import User

    monkeypatch.setattr(invariants, "LISTS_IN_ONE_STATEMENT_FROM", 2)  # the researchers: one statement
    everyone = list(User.objects.filter(is_active=True).order_by("pk"))
    assert _lists_only(invariants.invariant_7()) == [] == _lists_only(invariants.invariant_7(users=everyone))

    product = permissions.applications_visible_to
    # a list that shows everyone Alice's draft, as a broken access rule would
    monkeypatch.setattr(
        permissions, "applications_visible_to", lambda user: product(user) | Application.objects.filter(pk=draft.pk)
    )
    assert invariants._lists_in_one_statement([alice, bob, charlie]) is not None  # the one statement is used
    at_once = _lists_only(invariants.invariant_7())
    assert at_once == _lists_only(invariants.invariant_7(users=everyone))
    for email in ("bob@uni.example", "charlie@elsewhere.example", "rdo@portal.example"):
        assert email in str(at_once)
    assert "alice@" not in str(at_once)
