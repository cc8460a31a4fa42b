"""Sudo mode: each decisive act asks for the password again when it was not given recently, on the
pages and in the API; reading pages does not, and neither does anything seconds after signing in."""

import re

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from access_requests.models import Application, ApplicationStatus, LegalStatement, StatementAcceptance
from portal.models import OutboxEmail
from portal.services.tokens import api_token_create
from tests.access_requests.conftest import CHECKLIST_DONE, frozen, signatory_person
from tests.conftest import PASSWORD
from tests.helpers import signed_in_long_ago

pytestmark = pytest.mark.django_db


def page(name: str, *args) -> str:
    return reverse(f"access_requests:{name}", args=args)


def confirm(client: Client, back: str) -> None:
    response = client.post(reverse("sudo"), {"password": PASSWORD, "next": back})
    assert response.status_code == 302 and response["Location"] == back


def assert_asks_for_the_password(response, back: str) -> None:
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("sudo") + "?next=")
    assert back.replace("/", "%2F") in response["Location"]


def test_reading_the_application_does_not_ask(submitted, alice):
    client = signed_in_long_ago(alice)
    assert client.get(page("application-detail", submitted.pk)).status_code == 200
    assert client.get(page("application-submit", submitted.pk)).status_code in (200, 409)


def test_submitting_asks_for_the_password_then_goes_through(ready, alice):
    client = signed_in_long_ago(alice)
    back = page("application-submit", ready.pk)
    before = frozen(ready)
    response = client.post(back, HTTP_REFERER=f"http://testserver{back}")
    assert_asks_for_the_password(response, back)
    assert frozen(ready) == before
    confirm(client, back)
    client.post(back)
    assert Application.objects.get(pk=ready.pk).status == ApplicationStatus.SUBMITTED


@pytest.mark.parametrize("act", ["rdo-return", "rdo-forward"])
def test_the_research_data_office_confirms_before_returning_or_forwarding(act, forwardable, rdo, committee):
    client = signed_in_long_ago(rdo)
    review = page("rdo-review", forwardable.pk)
    data = {"comment_dpia": "Name the DPO.", "committee": committee.pk} | {"dpia": "Name the DPO."}
    before = frozen(forwardable)
    response = client.post(page(act, forwardable.pk), data, HTTP_REFERER=f"http://testserver{review}")
    assert_asks_for_the_password(response, review)
    assert frozen(forwardable) == before


def test_withdrawing_asks_for_the_password(submitted, alice):
    client = signed_in_long_ago(alice)
    target = page("application-withdraw", submitted.pk)
    before = frozen(submitted)
    assert_asks_for_the_password(client.post(target, {"reason": "Funding ended."}, HTTP_REFERER=target), target)
    assert frozen(submitted) == before


def test_the_signatory_gives_the_password_to_accept_but_representation_fields_ask_for_none(ready, alice):
    client = signed_in_long_ago(alice)
    target = page("section-edit", ready.pk, "representations")
    reps = ready.representations
    fields = {name: getattr(reps, name) for name in ("signatory_name", "signatory_role", "signatory_email")}
    saved = client.post(target, {"institution_legal_name": "University of Latvia", **fields})
    assert saved.status_code == 302 and "confirm-password" not in saved["Location"]
    StatementAcceptance.objects.filter(application=ready).delete()
    signatory = signatory_person()
    link = re.search(
        r"http://[^/]+(/\S+)", OutboxEmail.objects.filter(template="signature_request").latest("pk").body_text
    )
    accepting = signed_in_long_ago(signatory).post(
        link.group(1), {"statements": [LegalStatement.values[0]], "password": "a-guess", "covered": "x"}
    )
    assert accepting.status_code == 400  # the acceptance form asks for the password itself
    assert not StatementAcceptance.objects.filter(application=ready).exists()


def test_a_foreign_referer_never_becomes_the_way_back(ready, alice):
    client = signed_in_long_ago(alice)
    response = client.post(page("application-submit", ready.pk), HTTP_REFERER="https://evil.example/phish")
    assert response["Location"] == reverse("sudo") + "?next=%2F"


# --- the API ----------------------------------------------------------------------------------


def api_session(user, *, fresh: bool) -> APIClient:
    if not fresh:
        return signed_in_long_ago(user, APIClient())
    client = APIClient()
    client.force_login(user)
    return client


def api_token(user, password: str | None = None) -> APIClient:
    api_token.made += 1
    _, raw = api_token_create(actor=user, name=f"script {api_token.made}", days=7)
    client = APIClient()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    if password is not None:
        headers["HTTP_X_CONFIRM_PASSWORD"] = password
    client.credentials(**headers)
    return client


api_token.made = 0


def submit_over(client, application):
    return client.post(f"/api/v1/applications/{application.pk}/submit/")


def test_a_stale_session_is_asked_for_the_password_in_the_api(ready, alice):
    client = api_session(alice, fresh=False)
    before = frozen(ready)
    response = submit_over(client, ready)
    assert response.status_code == 403
    assert response.json()["code"] == "sudo_required"
    assert frozen(ready) == before


def test_a_fresh_session_acts_in_the_api(ready, alice):
    assert submit_over(api_session(alice, fresh=True), ready).json()["status"] == "submitted"


@pytest.mark.parametrize("password", [None, "wrong-password"])
def test_a_token_without_the_right_password_cannot_act(password, ready, alice):
    client = api_token(alice, password)
    before = frozen(ready)
    response = submit_over(client, ready)
    assert response.status_code == 403 and response.json()["code"] == "sudo_required"
    assert frozen(ready) == before
    assert client.get(f"/api/v1/applications/{ready.pk}/").status_code == 200  # reading needs no password


def test_a_token_with_the_password_acts(ready, alice):
    assert submit_over(api_token(alice, PASSWORD), ready).json()["status"] == "submitted"


def test_guessing_the_password_header_stops_working_after_five_tries(ready, alice):
    guessing, right = api_token(alice, "guess"), api_token(alice, PASSWORD)
    for _ in range(5):
        assert submit_over(guessing, ready).status_code == 403
    response = submit_over(right, ready)
    assert response.status_code == 403 and response.json()["code"] == "sudo_required"
    assert Application.objects.get(pk=ready.pk).status == ApplicationStatus.DRAFT


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("return/", {"comments": {"dpia": "Name the DPO."}}),
        ("forward/", {"committee": "{committee}"}),
    ],
)
def test_review_acts_in_the_api_need_the_password(path, body, forwardable, rdo, committee):
    if body.get("committee"):
        body = {"committee": committee.pk}
    without, with_password = api_token(rdo), api_token(rdo, PASSWORD)
    before = frozen(forwardable)
    response = without.post(f"/api/v1/applications/{forwardable.pk}/{path}", body, format="json")
    assert response.status_code == 403 and response.json()["code"] == "sudo_required"
    assert frozen(forwardable) == before
    done = with_password.post(f"/api/v1/applications/{forwardable.pk}/{path}", body, format="json")
    assert done.status_code == 200


def test_the_checklist_is_not_a_decisive_act(submitted, rdo):
    response = api_token(rdo).patch(f"/api/v1/applications/{submitted.pk}/checklist/", CHECKLIST_DONE, format="json")
    assert response.status_code == 200
