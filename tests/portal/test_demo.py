"""The demo loader: one user per role, two data holders, two committees; idempotent and audited."""

from django.core.management import call_command

from access_requests.models import CommitteeMembership
from catalogue.models import DataHolder
from portal.demo import DEMO_PASSWORD, PEOPLE
from portal.models import User
from portal.services.audit import audit_verify


def test_the_demo_loader_creates_every_role_and_runs_twice(db, capsys):
    call_command("load_demo")
    out = capsys.readouterr().out
    for person in PEOPLE:
        assert person.email in out
        assert User.objects.get(email=person.email).check_password(DEMO_PASSWORD)
    assert DataHolder.objects.count() == 2
    assert all(h.stewardships.exists() for h in DataHolder.objects.all())
    roles = CommitteeMembership.objects.values_list("committee__name", "role")
    by_committee = {name: sorted(role for n, role in roles if n == name) for name, _ in roles}
    assert by_committee == {
        "European Imaging Data Access Committee": ["chair", "member", "member", "member"],
        "Iberian Imaging Access Committee": ["chair", "member", "member"],
    }
    assert User.objects.get(email="rdo@demo.example").has_role("rdo")
    users_before = User.objects.count()
    call_command("load_demo", "--quiet-logins")
    assert User.objects.count() == users_before
    assert DataHolder.objects.count() == 2
    assert audit_verify().ok
