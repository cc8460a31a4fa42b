"""The data-access agreement API: what each caller sees of the agreement, its PDFs with their digest,
signing through to execution, refusals (superseded version, changed document, wrong name, a party the
caller may not sign for, no password confirmed, unknown fields), countersigned scans checked by the
Research Data Office, and revision."""

import base64
import hashlib

import pytest
from rest_framework.test import APIClient

from access_requests.models import AgreementSignature, AgreementStatus, AgreementVersion, ApplicationStatus
from access_requests.services import agreements as ag
from access_requests.services import review as rv
from portal.models import AuditEvent
from portal.serializers import UNKNOWN_FIELD
from tests.access_requests.conftest import pdf_upload, signatory_person
from tests.access_requests.test_api import client_for

pytestmark = pytest.mark.django_db

BASE = "/api/v1/applications/"


@pytest.fixture
def signatory(in_review):
    return signatory_person()


@pytest.fixture
def agreement(in_review, round1, chair, member, member2, steward, rdo, signatory, django_capture_on_commit_callbacks):
    review_round = rv.current_round(in_review)
    rv.vote_cast(actor=member, review_round=review_round, choice="approve")
    rv.vote_cast(actor=member2, review_round=review_round, choice="approve")
    with django_capture_on_commit_callbacks(execute=True):
        rv.round_decide(
            actor=chair, application=in_review, outcome="approved", rationale="Sound.", conditions="Cite the holders."
        )
    return in_review.agreements.get()


def url(agreement, tail: str = "") -> str:
    return f"{BASE}{agreement.application_id}/agreement/{tail}"


def current(agreement) -> AgreementVersion:
    return AgreementVersion.objects.get(agreement=agreement, superseded_at__isnull=True)


def party_of(person, agreement, version=None):
    version = version or current(agreement)
    return next(p for p in version.parties.all() if ag.party_entitled(person, p, agreement.application))


def sign(person, agreement, version=None, **changes):
    version = version or current(agreement)
    body = {
        "version": version.number,
        "sha256": version.sha256,
        "typed_name": person.full_name,
        "party": party_of(person, agreement, version).pk,
        **changes,
    }
    return client_for(person).post(url(agreement, "sign/"), body, format="json")


# --- reading -------------------------------------------------------------------------------------


def test_the_agreement_shows_its_version_parties_and_hash_to_whoever_may_see_it(
    agreement, alice, signatory, steward, rdo, chair
):
    version = current(agreement)
    for person in (alice, signatory, steward, rdo, chair):
        response = client_for(person).get(url(agreement))
        assert response.status_code == 200, person
        data = response.json()
        assert (data["reference"], data["status"], data["executed"], data["earlier"]) == (
            agreement.reference,
            "awaiting",
            None,
            [],
        )
        assert data["current"] | {"parties": None, "created_at": None} == {
            "number": 1,
            "template_version": version.template_version,
            "reason": version.reason,
            "sha256": version.sha256,
            "size": version.size,
            "rendered": True,
            "created_at": None,
            "parties": None,
        }
        assert {p["kind"] for p in data["current"]["parties"]} == {"signatory", "steward", "rdo"}
        assert all(p["awaited"] and not p["signed"] and p["signature"] is None for p in data["current"]["parties"])
    # each party may sign for their own party; the team and the committee for none
    assert client_for(steward).get(url(agreement)).json()["may_sign"] == [party_of(steward, agreement).pk]
    assert client_for(alice).get(url(agreement)).json()["may_sign"] == []
    assert client_for(chair).get(url(agreement)).json()["may_sign"] == []


def test_outsiders_get_404_and_anonymous_callers_401(agreement, charlie, other_steward):
    for outsider in (charlie, other_steward):
        assert client_for(outsider).get(url(agreement)).status_code == 404
    assert APIClient().get(url(agreement)).status_code == 401


def test_no_agreement_before_an_approval(in_review, alice):
    response = client_for(alice).get(f"{BASE}{in_review.pk}/agreement/")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_the_version_pdf_is_served_with_its_digest_and_audited(agreement, signatory, charlie):
    version = current(agreement)
    client = client_for(signatory)
    response = client.get(url(agreement, "versions/1/pdf/"), HTTP_ACCEPT="application/pdf")
    content = b"".join(response.streaming_content)
    assert response.status_code == 200 and hashlib.sha256(content).hexdigest() == version.sha256
    assert response["X-Content-SHA256"] == version.sha256
    assert response["Repr-Digest"] == f"sha-256=:{base64.b64encode(bytes.fromhex(version.sha256)).decode()}:"
    assert AuditEvent.objects.filter(verb="document.view", actor=signatory).count() == 1
    assert client.get(url(agreement, "versions/9/pdf/")).status_code == 404
    assert client_for(charlie).get(url(agreement, "versions/1/pdf/")).status_code == 404
    refused = client.get(url(agreement, "executed/pdf/"))
    assert refused.status_code == 409 and "not executed" in refused.json()["detail"]


def test_a_version_still_being_prepared_is_409(agreement, steward, rdo):
    ag.agreement_revise(actor=rdo, agreement=agreement, reason="The access period changed.")
    response = client_for(steward).get(url(agreement, "versions/2/pdf/"))
    assert response.status_code == 409 and "being prepared" in response.json()["detail"]


# --- signing -------------------------------------------------------------------------------------


def test_three_parties_sign_and_the_application_becomes_active(
    agreement, signatory, steward, rdo, django_capture_on_commit_callbacks
):
    response = sign(signatory, agreement)
    assert response.status_code == 200, response.content
    mine = next(p for p in response.json()["current"]["parties"] if p["kind"] == "signatory")
    assert mine["signed"] and mine["signature"]["signer"] == signatory.full_name
    assert (mine["signature"]["method"], mine["signature"]["verified"]) == ("online", True)
    assert mine["signature"]["sha256"] == current(agreement).sha256
    assert sign(steward, agreement).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        assert sign(rdo, agreement).status_code == 200
    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.EXECUTED
    assert agreement.application.status == ApplicationStatus.ACTIVE
    data = client_for(signatory).get(url(agreement)).json()
    assert data["status"] == "executed" and data["executed"]["sha256"] == agreement.executed_sha256
    response = client_for(signatory).get(url(agreement, "executed/pdf/"))
    assert hashlib.sha256(b"".join(response.streaming_content)).hexdigest() == agreement.executed_sha256
    assert response["X-Content-SHA256"] == agreement.executed_sha256


def test_the_party_may_be_left_out_when_the_caller_signs_for_one(agreement, steward):
    version = current(agreement)
    body = {"version": 1, "sha256": version.sha256, "typed_name": steward.full_name}
    response = client_for(steward).post(url(agreement, "sign/"), body, format="json")
    assert response.status_code == 200, response.content
    assert AgreementSignature.objects.get(user=steward).party == party_of(steward, agreement)


def test_a_superseded_version_is_409(agreement, steward, rdo):
    first = current(agreement)
    ag.agreement_revise(actor=rdo, agreement=agreement, reason="The access period changed.")
    ag.agreement_version_render(version_id=current(agreement).pk)
    response = client_for(steward).post(
        url(agreement, "sign/"),
        {"version": 1, "sha256": first.sha256, "typed_name": steward.full_name},
        format="json",
    )
    assert response.status_code == 409 and "superseded" in response.json()["detail"]
    assert not AgreementSignature.objects.exists()


def test_another_hash_is_409_and_a_wrong_name_400(agreement, steward):
    response = sign(steward, agreement, sha256="0" * 64)
    assert (response.status_code, response.json()["code"]) == (409, "document_changed")
    response = sign(steward, agreement, typed_name="Somebody Else")
    assert response.status_code == 400 and list(response.json()["errors"]) == ["typed_name"]
    assert not AgreementSignature.objects.exists()


def test_signing_twice_is_409(agreement, steward):
    assert sign(steward, agreement).status_code == 200
    response = sign(steward, agreement)
    assert response.status_code == 409 and "already signed" in response.json()["detail"]


def test_a_token_caller_without_the_password_is_asked_for_it(agreement, steward):
    client = APIClient()
    client.force_authenticate(steward)
    version = current(agreement)
    body = {"version": 1, "sha256": version.sha256, "typed_name": steward.full_name}
    response = client.post(url(agreement, "sign/"), body, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "sudo_required")
    assert not AgreementSignature.objects.exists()


def test_who_may_not_sign_is_refused(agreement, alice, chair, charlie, steward, signatory):
    version = current(agreement)
    body = {"version": 1, "sha256": version.sha256, "typed_name": "x"}
    for person in (alice, chair):
        assert client_for(person).post(url(agreement, "sign/"), body, format="json").status_code == 403
    assert client_for(charlie).post(url(agreement, "sign/"), body, format="json").status_code == 404
    # a party the caller may not sign for
    response = sign(steward, agreement, party=party_of(signatory, agreement).pk)
    assert response.status_code == 400 and list(response.json()["errors"]) == ["party"]
    assert not AgreementSignature.objects.exists()


def test_unknown_fields_are_refused(agreement, steward):
    response = sign(steward, agreement, signed_at="2020-01-01")
    assert response.status_code == 400 and response.json()["errors"]["signed_at"] == [UNKNOWN_FIELD]
    assert not AgreementSignature.objects.exists()


# --- scans and revision --------------------------------------------------------------------------


def test_a_scan_is_uploaded_and_counts_once_the_rdo_verified_it(agreement, steward, rdo, alice):
    response = client_for(steward).post(
        url(agreement, "scan/"), {"file": pdf_upload("countersigned.pdf"), "version": 1}, format="multipart"
    )
    assert response.status_code == 200, response.content
    mine = next(p for p in response.json()["current"]["parties"] if p["kind"] == "steward")
    assert mine["signature"]["method"] == "scan" and not mine["signature"]["verified"]
    assert mine["awaited"] and not mine["signed"]
    signature = AgreementSignature.objects.get(user=steward)
    verify = url(agreement, f"signatures/{signature.pk}/verify/")
    assert client_for(alice).post(verify).status_code == 403
    assert client_for(rdo).post(url(agreement, "signatures/999999/verify/")).status_code == 404
    response = client_for(rdo).post(verify)
    assert response.status_code == 200, response.content
    mine = next(p for p in response.json()["current"]["parties"] if p["kind"] == "steward")
    assert mine["signed"] and mine["signature"]["verified"]


def test_the_rdo_revises_and_the_signatures_before_are_void(agreement, steward, rdo, alice):
    assert sign(steward, agreement).status_code == 200
    assert client_for(alice).post(url(agreement, "revise/"), {"reason": "x"}, format="json").status_code == 403
    response = client_for(rdo).post(url(agreement, "revise/"), {"reason": "The access period changed."}, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["current"]["number"], data["current"]["reason"], data["current"]["rendered"]) == (
        2,
        "The access period changed.",
        False,
    )
    assert [v["number"] for v in data["earlier"]] == [1] and data["earlier"][0]["superseded_at"]
    assert all(p["signature"] is None for p in data["current"]["parties"])
    assert client_for(rdo).post(url(agreement, "revise/"), {}, format="json").status_code == 400
