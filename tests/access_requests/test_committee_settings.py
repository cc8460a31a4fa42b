"""The Research Data Office's committee settings: committees, their rule and periods, members and
chair, and the data holders they review by default. Every change asks for the password again and
is audited; anyone else is refused."""

import time

import pytest
from django.urls import reverse

from access_requests.models import Committee, CommitteeAssignment, CommitteeMembership
from access_requests.services.committees import committee_assign_holder, committee_create
from portal.models import AuditEvent, Role
from portal.sudo import SESSION_KEY
from tests.conftest import _person

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_user(client):
    def sign_in(user, *, sudo=True):
        client.force_login(user)
        session = client.session
        session[SESSION_KEY] = time.time() + (600 if sudo else -1)
        session.save()
        return client

    return sign_in


def _events(verb: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(verb=verb).order_by("pk"))


def test_the_rdo_sees_every_committee_with_its_rule_chair_and_holders(as_user, rdo, committee, chair, holder):
    committee_assign_holder(actor="system:test", holder=holder, committee=committee)
    page = as_user(rdo).get(reverse("access_requests:committee-list")).content.decode()
    assert committee.name in page and chair.full_name in page and holder.name in page
    assert "Majority of the votes (quorum 2, more than 50% approve)" in page
    assert 'href="/applications/committees/"' in page  # in the navigation, for the RDO


def test_no_one_but_the_rdo_opens_or_changes_the_settings(as_user, alice, chair, committee):
    for user in (alice, chair):
        client = as_user(user)
        assert client.get(reverse("access_requests:committee-list")).status_code == 403
        url = reverse("access_requests:committee-settings", args=[committee.pk])
        assert client.post(url, {"decision_rule": "unanimity", "quorum": 1}).status_code == 403
    committee.refresh_from_db()
    assert committee.decision_rule == "majority" and not _events("committee.configure")


def test_a_change_asks_for_the_password_again(as_user, rdo, committee):
    response = as_user(rdo, sudo=False).post(reverse("access_requests:committee-new"), {"name": "X", "quorum": 2})
    assert response.status_code == 302 and "/accounts/confirm-password/" in response["Location"]
    assert not Committee.objects.filter(name="X").exists()


def test_the_rdo_creates_a_committee_and_a_name_is_needed_once(as_user, rdo, committee):
    client = as_user(rdo)
    response = client.post(reverse("access_requests:committee-new"), {"name": "Imaging Board", "quorum": 3})
    created = Committee.objects.get(name="Imaging Board")
    assert response["Location"] == reverse("access_requests:committee-settings", args=[created.pk])
    assert created.quorum == 3 and _events("committee.create")[-1].actor_id == rdo.pk
    again = client.post(reverse("access_requests:committee-new"), {"name": committee.name, "quorum": 2})
    assert again.status_code == 400 and "already exists" in again.content.decode()
    empty = client.post(reverse("access_requests:committee-new"), {"name": "", "quorum": 0})
    assert empty.status_code == 400 and Committee.objects.count() == 2


def test_the_rdo_sets_the_rule_and_periods_and_a_bad_value_is_a_field_error(as_user, rdo, committee):
    client = as_user(rdo)
    url = reverse("access_requests:committee-settings", args=[committee.pk])
    settings = {
        "decision_rule": "objection_window",
        "quorum": 2,
        "approve_share": "50",
        "objection_days": 5,
        "voting_days": 10,
        "decision_months": 2,
        "extension_max_months": 1,
    }
    assert client.post(url, settings).status_code == 302
    committee.refresh_from_db()
    assert (committee.decision_rule, committee.objection_days, committee.voting_days) == ("objection_window", 5, 10)
    payload = _events("committee.configure")[-1].payload
    assert payload["decision_rule"] == "objection_window" and "quorum" not in payload  # only what changed
    bad = client.post(url, {**settings, "approve_share": "100"})
    assert bad.status_code == 400 and 'aria-invalid="true"' in bad.content.decode()
    committee.refresh_from_db()
    assert committee.approve_share == 50


def test_members_are_added_by_address_with_one_chair(as_user, rdo, committee, chair):
    client = as_user(rdo)
    url = reverse("access_requests:committee-member-add", args=[committee.pk])
    newcomer = _person("newcomer@hospital.example", "Nora Newcomer", ["researcher"])
    assert client.post(url, {"email": "NEWCOMER@hospital.example"}).status_code == 302
    assert CommitteeMembership.objects.get(committee=committee, user=newcomer).role == "member"
    newcomer.refresh_from_db()
    assert Role.COMMITTEE in newcomer.roles
    second_chair = _person("second@hospital.example", "Sam Second")
    refused = client.post(url, {"email": second_chair.email, "chair": "on"})
    assert refused.status_code == 400 and "already has a chair" in refused.content.decode()
    assert not CommitteeMembership.objects.filter(user=second_chair).exists()
    unknown = client.post(url, {"email": "nobody@nowhere.example"})
    assert unknown.status_code == 400 and "No active account" in unknown.content.decode()
    twice = client.post(url, {"email": newcomer.email})
    assert twice.status_code == 400 and "already on this committee" in twice.content.decode()


def test_a_holder_has_one_default_committee_and_unticking_removes_it(as_user, rdo, committee, holder, other_holder):
    other = committee_create(actor="system:test", name="Other Committee", quorum=1)
    committee_assign_holder(actor="system:test", holder=other_holder, committee=other)
    client = as_user(rdo)
    url = reverse("access_requests:committee-holders", args=[committee.pk])
    assert client.post(url, {"holders": [holder.pk, other_holder.pk]}).status_code == 302
    assert set(CommitteeAssignment.objects.values_list("holder_id", "committee_id")) == {
        (holder.pk, committee.pk),
        (other_holder.pk, committee.pk),
    }
    assert client.post(url, {"holders": [other_holder.pk]}).status_code == 302
    assert list(CommitteeAssignment.objects.values_list("holder_id", "committee_id")) == [
        (other_holder.pk, committee.pk)
    ]
    assert client.post(url, {"holders": ["999999"]}).status_code == 400
