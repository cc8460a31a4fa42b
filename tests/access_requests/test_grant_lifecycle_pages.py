"""Pages and API of the grant lifecycle: the Access section of the application's page, revoking a
grant or an application, asking for and deciding on an extension, the closeout, and the RDO's
dashboard panels (pending extensions; closeouts missing 30 days after access ended, with Remind)."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from access_requests.models import (
    Application,
    ApplicationStatus,
    Closeout,
    ExtensionRequest,
    ExtensionStatus,
    Grant,
    GrantKind,
    GrantStatus,
    ResearchOutput,
)
from access_requests.services.lifecycle import extension_request
from portal.models import AuditEvent, OutboxEmail
from tests.access_requests.test_grant_lifecycle import state_of

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client(HTTP_USER_AGENT="pytest page browser")
    client.force_login(user)  # signed in just now: sudo mode holds
    return client


def detail(application) -> str:
    return reverse("access_requests:application-detail", args=[application.pk])


def download_grant(application) -> Grant:
    return Grant.objects.get(application=application, kind=GrantKind.DOWNLOAD)


def shorten(grant, days: int) -> Grant:
    Grant.objects.filter(pk=grant.pk).update(valid_until=timezone.localdate() + timedelta(days=days))
    grant.refresh_from_db()
    return grant


def test_the_access_section_shows_each_grant_and_what_each_person_may_do(active, alice, rdo, chair, member):
    grant = download_grant(active)
    page = client_for(alice).get(detail(active)).content.decode()
    assert 'id="access"' in page and "LV-MG-001" in page and "ES-MR-PROC" in page
    assert "the end of the agreement" in page  # what limits it, in words
    assert reverse("grant-extension", args=[grant.pk]) in page
    assert reverse("grant-revoke", args=[grant.pk]) not in page
    assert reverse("access_requests:application-revoke", args=[active.pk]) not in page
    for person in (rdo, chair):
        page = client_for(person).get(detail(active)).content.decode()
        assert reverse("grant-revoke", args=[grant.pk]) in page
        assert reverse("access_requests:application-revoke", args=[active.pk]) in page
        assert reverse("grant-extension", args=[grant.pk]) not in page
    page = client_for(member).get(detail(active)).content.decode()
    assert 'id="access"' in page and reverse("grant-revoke", args=[grant.pk]) not in page


def test_a_grantee_asks_for_an_extension_and_the_rdo_grants_it_on_the_page(active, alice, rdo):
    grant = shorten(download_grant(active), 10)
    url = reverse("grant-extension", args=[grant.pk])
    client = client_for(alice)
    assert client.get(url).status_code == 200
    # past the agreement: refused with the reason, nothing recorded
    refused = client.post(url, {"until": (grant.agreement_end + timedelta(days=1)).isoformat(), "reason": "More."})
    assert refused.status_code == 400 and "new version of the data-access agreement" in refused.content.decode()
    assert not ExtensionRequest.objects.exists()
    until = grant.valid_until + timedelta(days=20)
    response = client.post(url, {"until": until.isoformat(), "reason": "Annotation took longer."})
    assert response.status_code == 302
    asked = ExtensionRequest.objects.get()
    assert asked.status == ExtensionStatus.PENDING and asked.requested_until == until
    rdo_client = client_for(rdo)
    page = rdo_client.get(detail(active)).content.decode()
    assert reverse("grant-extension-decide", args=[grant.pk]) in page and "Annotation took longer." in page
    # the applicant cannot decide
    decide = reverse("grant-extension-decide", args=[grant.pk])
    assert client.post(decide, {f"g{grant.pk}-decision": "grant"}).status_code == 403
    # a refusal without a reason is refused
    rdo_client.post(decide, {f"g{grant.pk}-decision": "refuse"})
    asked.refresh_from_db()
    assert asked.status == ExtensionStatus.PENDING
    response = rdo_client.post(decide, {f"g{grant.pk}-decision": "grant"})
    assert response.status_code == 302
    asked.refresh_from_db()
    grant.refresh_from_db()
    assert asked.status == ExtensionStatus.GRANTED and grant.valid_until == until


def test_the_rdo_panel_lists_pending_extensions(active, alice, rdo):
    grant = shorten(download_grant(active), 10)
    extension_request(actor=alice, grant=grant, until=grant.valid_until + timedelta(days=5), reason="More cases.")
    page = client_for(rdo).get(reverse("dashboard")).content.decode()
    assert "Extension requests" in page and f"{active.reference} LV-MG-001" in page


@pytest.mark.parametrize("who", ["alice", "member", "steward"])
def test_revocation_pages_refuse_the_applicant_a_member_and_a_steward(active, request, who):
    person = request.getfixturevalue(who)
    grant = download_grant(active)
    client = client_for(person)
    before = state_of(active)
    for url in (
        reverse("grant-revoke", args=[grant.pk]),
        reverse("access_requests:application-revoke", args=[active.pk]),
    ):
        assert client.get(url).status_code == 403
        assert client.post(url, {"reason": "No."}).status_code == 403
    assert state_of(active) == before


def test_the_chair_revokes_a_grant_and_the_rdo_the_application(active, rdo, chair, alice):
    grant = download_grant(active)
    url = reverse("grant-revoke", args=[grant.pk])
    client = client_for(chair)
    assert client.get(url).status_code == 200
    assert client.post(url, {"reason": ""}).status_code == 400
    assert client.post(url, {"reason": "Data shared outside the team."}).status_code == 302
    grant.refresh_from_db()
    assert grant.status == GrantStatus.REVOKED and grant.revoked_by == chair
    url = reverse("access_requests:application-revoke", args=[active.pk])
    assert client_for(rdo).post(url, {"reason": "The project stopped."}).status_code == 302
    active.refresh_from_db()
    assert active.status == ApplicationStatus.REVOKED and active.end_reason == "The project stopped."
    assert not Grant.objects.filter(application=active, status=GrantStatus.ACTIVE).exists()
    assert AuditEvent.objects.filter(verb="application.revoke").count() == 1
    # the applicant is asked for the closeout on the page
    page = client_for(alice).get(detail(active)).content.decode()
    assert reverse("access_requests:application-closeout", args=[active.pk]) in page


def test_the_closeout_page_and_the_rdo_panel_after_30_days(active, alice, rdo, bob):
    from access_requests.services.grants import application_revoke

    application_revoke(actor=rdo, application=active, reason="The project stopped.")
    Application.objects.filter(pk=active.pk).update(ended_at=timezone.now() - timedelta(days=31))
    dashboard = client_for(rdo).get(reverse("dashboard")).content.decode()
    remind = reverse("access_requests:application-closeout-remind", args=[active.pk])
    assert "Closeouts missing" in dashboard and remind in dashboard
    assert client_for(rdo).post(remind).status_code == 302
    assert client_for(rdo).post(remind).status_code == 302  # the same day: no second e-mail
    assert OutboxEmail.objects.filter(template="closeout_reminder").count() == 1
    assert AuditEvent.objects.filter(verb="application.closeout_remind").count() == 1
    assert client_for(alice).post(remind).status_code == 403

    url = reverse("access_requests:application-closeout", args=[active.pk])
    client = client_for(alice)
    assert client.get(url).status_code == 200
    rows = {
        "outputs-TOTAL_FORMS": "3",
        "outputs-INITIAL_FORMS": "0",
        "outputs-0-kind": "publication",
        "outputs-0-title": "Density and detection",
        "outputs-0-doi": "10.1234/abcd",
        "outputs-1-kind": "model",
        "outputs-1-title": "Lesion detector",
        "outputs-1-url": "https://models.example/lesion",
    }
    # the checkbox is required; a bad DOI is refused; nothing is recorded
    assert client.post(url, {**rows, "statement": "Wiped."}).status_code == 400
    bad = client.post(url, {**rows, "copies_deleted": "on", "outputs-0-doi": "abcd"})
    assert bad.status_code == 400 and "is not a DOI" in bad.content.decode()
    assert not Closeout.objects.exists() and not ResearchOutput.objects.exists()
    assert client.post(url, {**rows, "copies_deleted": "on", "statement": "Wiped."}).status_code == 302
    assert Closeout.objects.get().statement == "Wiped."
    assert ResearchOutput.objects.count() == 2
    # results added later
    more = {
        "outputs-TOTAL_FORMS": "1",
        "outputs-INITIAL_FORMS": "0",
        "outputs-0-kind": "other",
        "outputs-0-title": "Talk",
    }
    assert client.post(url, more).status_code == 302
    assert ResearchOutput.objects.count() == 3
    # the panel no longer lists it; a team member who is not the applicant may not attest
    assert remind not in client_for(rdo).get(reverse("dashboard")).content.decode()
    assert client_for(bob).get(url).status_code in (403, 404)


# --- the API -------------------------------------------------------------------------------------


def test_the_api_extension_request_decision_and_refusals(active, alice, rdo, chair):
    grant = shorten(download_grant(active), 10)
    ask = f"/api/v1/grants/{grant.pk}/extension/"
    decide = f"/api/v1/grants/{grant.pk}/extension/decision/"
    client = client_for(alice)
    past = (grant.agreement_end + timedelta(days=1)).isoformat()
    response = client.post(ask, {"until": past, "reason": "More."}, content_type="application/json")
    assert response.status_code == 400 and "new version" in response.json()["detail"]
    until = (grant.valid_until + timedelta(days=15)).isoformat()
    response = client.post(ask, {"until": until, "reason": "More."}, content_type="application/json")
    assert response.status_code == 201 and response.json()["status"] == "pending"
    assert client.post(ask, {"until": until, "reason": "Again."}, content_type="application/json").status_code == 409
    assert client.post(decide, {"approve": True}, content_type="application/json").status_code == 403
    assert client_for(chair).post(decide, {"approve": True}, content_type="application/json").status_code == 403
    refused = client_for(rdo).post(decide, {"approve": False}, content_type="application/json")
    assert refused.status_code == 400 and "reason" in refused.json()["errors"]
    granted = client_for(rdo).post(decide, {"approve": True}, content_type="application/json")
    assert granted.status_code == 200 and granted.json()["granted_until"] == until
    assert client_for(rdo).post(decide, {"approve": True}, content_type="application/json").status_code == 409


def test_the_api_revokes_and_attests_the_closeout(active, alice, rdo, member):
    grant = download_grant(active)
    body = {"reason": "Breach."}
    assert (
        client_for(member).post(f"/api/v1/grants/{grant.pk}/revoke/", body, content_type="application/json").status_code
        == 403
    )
    response = client_for(rdo).post(f"/api/v1/grants/{grant.pk}/revoke/", body, content_type="application/json")
    assert response.status_code == 200 and response.json()["status"] == "revoked"
    closeout = f"/api/v1/applications/{active.pk}/closeout/"
    assert (
        client_for(alice).post(closeout, {"copies_deleted": True}, content_type="application/json").status_code == 409
    )
    response = client_for(rdo).post(f"/api/v1/applications/{active.pk}/revoke/", body, content_type="application/json")
    assert response.status_code == 200 and response.json()["status"] == "revoked"
    assert client_for(rdo).post(closeout, {"copies_deleted": True}, content_type="application/json").status_code == 403
    client = client_for(alice)
    assert client.post(closeout, {"copies_deleted": False}, content_type="application/json").status_code == 400
    outputs = [{"kind": "publication", "title": "Paper", "doi": "doi:10.1234/xyz"}]
    response = client.post(
        closeout, {"copies_deleted": True, "statement": "Wiped.", "outputs": outputs}, content_type="application/json"
    )
    assert response.status_code == 201 and response.json()["outputs"][0]["doi"] == "10.1234/xyz"
    response = client.post(
        closeout, {"outputs": [{"kind": "model", "title": "Model"}]}, content_type="application/json"
    )
    assert response.status_code == 200 and len(response.json()["outputs"]) == 2
