"""The data-access agreement's pages: who sees the agreement and its PDFs, who may sign, and what a
signature, a countersigned scan, the RDO's check and a revision do through the browser's forms."""

import hashlib
import time

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from access_requests.models import AgreementSignature, AgreementStatus, AgreementVersion, ApplicationStatus
from access_requests.services import agreements as ag
from access_requests.services import review as rv
from portal.models import AuditEvent
from portal.sudo import SESSION_KEY
from tests.access_requests.conftest import pdf_upload, signatory_person
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db
QUERY_BOUND = 40


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


def client_for(user) -> Client:
    client = Client(HTTP_USER_AGENT="pytest page browser")
    client.force_login(user)
    return client


def current(agreement) -> AgreementVersion:
    return AgreementVersion.objects.get(agreement=agreement, superseded_at__isnull=True)


def url(agreement, name="agreement", *args):
    return reverse(f"access_requests:{name}", args=[agreement.application_id, *args])


def sign_post(client, agreement, person, version=None, **changes):
    version = version or current(agreement)
    party = next(p for p in version.parties.all() if ag.party_entitled(person, p, agreement.application))
    body = {
        "version": version.number,
        "shown_sha256": version.sha256,
        "party": party.pk,
        "typed_name": person.full_name,
        "confirm": "on",
        **changes,
    }
    return client.post(url(agreement, "agreement-sign"), body)


# --- who sees what -------------------------------------------------------------------------------


def test_the_parties_and_whoever_sees_the_application_see_the_agreement(
    agreement, alice, signatory, steward, rdo, chair, charlie, other_steward
):
    for person in (alice, signatory, steward, rdo, chair):
        response = client_for(person).get(url(agreement))
        assert response.status_code == 200, person
        assert agreement.reference in response.text and current(agreement).sha256 in response.text
    for outsider in (charlie, other_steward):
        assert client_for(outsider).get(url(agreement)).status_code == 404
    assert Client().get(url(agreement)).status_code == 302


def test_the_signing_form_is_shown_to_an_awaited_party_only(agreement, alice, signatory, steward, rdo, chair):
    for person in (signatory, steward, rdo):
        text = client_for(person).get(url(agreement)).text
        assert "Sign the agreement" in text and "I have read version 1 and sign it on behalf of" in text
    for person in (alice, chair):
        assert "Sign the agreement" not in client_for(person).get(url(agreement)).text


def test_the_version_pdf_is_served_inline_or_as_a_download_and_audited(agreement, signatory, charlie):
    version = current(agreement)
    client = client_for(signatory)
    response = client.get(url(agreement, "agreement-version-pdf", 1) + "?view=inline")
    content = b"".join(response.streaming_content)
    assert response.status_code == 200 and hashlib.sha256(content).hexdigest() == version.sha256
    assert response["Content-Disposition"].startswith("inline")
    assert response["X-Content-Type-Options"] == "nosniff" and "no-store" in response["Cache-Control"]
    assert response["X-Content-SHA256"] == version.sha256
    assert client.get(url(agreement, "agreement-version-pdf", 1))["Content-Disposition"].startswith("attachment")
    assert AuditEvent.objects.filter(verb="document.view", actor=signatory).count() == 2
    assert client.get(url(agreement, "agreement-version-pdf", 9)).status_code == 404
    assert client_for(charlie).get(url(agreement, "agreement-version-pdf", 1)).status_code == 404
    # before execution there is no executed PDF to serve
    assert client.get(url(agreement, "agreement-executed-pdf")).status_code == 409


def test_the_status_answers_whether_the_version_is_ready(agreement, steward):
    response = client_for(steward).get(url(agreement, "agreement-status"))
    assert response.json() == {"status": "awaiting", "version": 1, "rendered": True}


def test_no_agreement_page_before_an_approval(in_review, alice):
    assert client_for(alice).get(reverse("access_requests:agreement", args=[in_review.pk])).status_code == 404


def test_the_application_page_links_to_the_agreement(agreement, alice):
    response = client_for(alice).get(reverse("access_requests:application-detail", args=[agreement.application_id]))
    assert url(agreement) in response.text


# --- signing -------------------------------------------------------------------------------------


def test_three_parties_sign_and_the_application_becomes_active(
    agreement, signatory, steward, rdo, django_capture_on_commit_callbacks
):
    for person in (signatory, steward):
        response = sign_post(client_for(person), agreement, person)
        assert response.status_code == 302 and response["Location"].endswith("#signatures-heading")
    with django_capture_on_commit_callbacks(execute=True):
        assert sign_post(client_for(rdo), agreement, rdo).status_code == 302
    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.EXECUTED
    assert agreement.application.status == ApplicationStatus.ACTIVE
    signature = AgreementSignature.objects.get(user=signatory)
    assert (signature.ip, signature.user_agent, signature.typed_name) == (
        "127.0.0.1",
        "pytest page browser",
        signatory.full_name,
    )
    client = client_for(signatory)
    page = client.get(url(agreement)).text
    assert "The executed agreement" in page and agreement.executed_sha256 in page
    response = client.get(url(agreement, "agreement-executed-pdf"))
    assert hashlib.sha256(b"".join(response.streaming_content)).hexdigest() == agreement.executed_sha256


def test_a_party_who_signed_sees_no_form_and_cannot_sign_twice(agreement, steward):
    client = client_for(steward)
    assert sign_post(client, agreement, steward).status_code == 302
    assert "You have signed this version" in client.get(url(agreement)).text
    response = sign_post(client, agreement, steward)
    assert response.status_code == 409 and "already signed" in response.text
    assert AgreementSignature.objects.filter(user=steward).count() == 1


def test_a_wrong_name_or_no_confirmation_is_a_form_error(agreement, steward):
    client = client_for(steward)
    response = sign_post(client, agreement, steward, typed_name="Somebody Else")
    assert response.status_code == 400 and "Type your full name as your account has it" in response.text
    response = sign_post(client, agreement, steward, confirm="")
    assert response.status_code == 400 and "This field is required" in response.text
    response = sign_post(client, agreement, steward, shown_sha256="0" * 64)
    assert response.status_code == 400 and "not the current version" in response.text
    assert not AgreementSignature.objects.exists()


def test_signing_a_superseded_version_is_refused_with_a_message(agreement, steward, rdo):
    first = current(agreement)
    ag.agreement_revise(actor=rdo, agreement=agreement, reason="The access period changed.")
    ag.agreement_version_render(version_id=current(agreement).pk)
    response = sign_post(client_for(steward), agreement, steward, version=first)
    assert response.status_code == 409
    assert "Version 1 of" in response.text and "superseded" in response.text
    assert not AgreementSignature.objects.exists()


def test_without_a_recent_password_signing_asks_for_it(agreement, steward):
    client = client_for(steward)
    session = client.session
    session[SESSION_KEY] = 0
    session.save()
    response = sign_post(client, agreement, steward)
    assert response.status_code == 302 and response["Location"].startswith(reverse("sudo"))
    assert not AgreementSignature.objects.exists()
    # a wrong password keeps them on the prompt
    response = client.post(reverse("sudo"), {"password": "wrong password", "next": url(agreement)})
    assert response.status_code == 200 and client.session.get(SESSION_KEY, 0) < time.time()
    assert sign_post(client, agreement, steward).status_code == 302  # still to the prompt
    assert not AgreementSignature.objects.exists()
    response = client.post(reverse("sudo"), {"password": PASSWORD, "next": url(agreement)})
    assert response.status_code == 302
    assert sign_post(client, agreement, steward).status_code == 302


def test_someone_not_entitled_may_see_but_not_sign(agreement, alice, chair, other_steward):
    for person in (alice, chair):
        response = sign_post_as_stranger(client_for(person), agreement)
        assert response.status_code == 403
    assert sign_post_as_stranger(client_for(other_steward), agreement).status_code == 404
    assert not AgreementSignature.objects.exists()


def sign_post_as_stranger(client, agreement):
    version = current(agreement)
    return client.post(
        url(agreement, "agreement-sign"),
        {
            "version": 1,
            "shown_sha256": version.sha256,
            "party": version.parties.first().pk,
            "typed_name": "X",
            "confirm": "on",
        },
    )


def test_the_applicant_who_also_stewards_the_holder_is_no_party_to_it(agreement, alice, holder):
    from access_requests.permissions import agreement_relations
    from catalogue.services import data_holder_add_steward
    from portal.access import Rel

    data_holder_add_steward(actor="system:test", holder=holder, user=alice)
    assert Rel.AGREEMENT_PARTY not in agreement_relations(alice, agreement)
    client = client_for(alice)
    assert "Sign the agreement" not in client.get(url(agreement)).text
    assert sign_post_as_stranger(client, agreement).status_code == 403


# --- the paper route and revision ---------------------------------------------------------------


def test_a_scan_is_uploaded_and_checked_by_the_rdo(agreement, steward, rdo, signatory):
    version = current(agreement)
    party = next(p for p in version.parties.all() if p.kind == "steward")
    client = client_for(steward)
    response = client.post(
        url(agreement, "agreement-scan-upload"), {"version": 1, "party": party.pk, "scan": pdf_upload("signed.pdf")}
    )
    assert response.status_code == 302
    signature = AgreementSignature.objects.get(user=steward)
    assert not signature.counts
    assert "awaiting the Research Data Office" in client.get(url(agreement)).text
    # the steward may not check their own copy
    assert client.post(url(agreement, "agreement-scan-verify", signature.pk)).status_code == 403
    rdo_client = client_for(rdo)
    page = rdo_client.get(url(agreement)).text
    assert "Countersigned copies to check" in page
    scan = rdo_client.get(url(agreement, "agreement-scan-pdf", signature.pk))
    assert hashlib.sha256(b"".join(scan.streaming_content)).hexdigest() == signature.scan_sha256
    assert rdo_client.post(url(agreement, "agreement-scan-verify", signature.pk)).status_code == 302
    signature.refresh_from_db()
    assert signature.counts and signature.verified_by == rdo
    assert AuditEvent.objects.filter(verb="agreement.scan_verify").count() == 1


def test_a_scan_that_is_no_pdf_is_a_form_error(agreement, steward):
    from django.core.files.uploadedfile import SimpleUploadedFile

    party = next(p for p in current(agreement).parties.all() if p.kind == "steward")
    response = client_for(steward).post(
        url(agreement, "agreement-scan-upload"),
        {"version": 1, "party": party.pk, "scan": SimpleUploadedFile("x.pdf", b"not a pdf", "application/pdf")},
    )
    assert response.status_code == 400
    assert not AgreementSignature.objects.exists()


def test_the_rdo_revises_with_a_reason_and_the_signatures_are_voided(
    agreement, steward, rdo, django_capture_on_commit_callbacks
):
    assert sign_post(client_for(steward), agreement, steward).status_code == 302
    client = client_for(rdo)
    response = client.post(url(agreement, "agreement-revise"), {"reason": ""})
    assert response.status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url(agreement, "agreement-revise"), {"reason": "The team changed."})
    assert response.status_code == 302
    assert current(agreement).number == 2 and current(agreement).is_rendered
    assert AgreementSignature.objects.get(user=steward).voided_at is not None
    page = client.get(url(agreement)).text
    assert "Earlier versions" in page and "The team changed." in page
    # only the RDO revises
    assert client_for(steward).post(url(agreement, "agreement-revise"), {"reason": "x"}).status_code == 403


# --- the dashboard -------------------------------------------------------------------------------


def test_the_dashboard_lists_the_agreements_awaiting_each_party(agreement, signatory, steward, rdo, alice):
    for person in (signatory, steward, rdo):
        response = client_for(person).get(reverse("dashboard"))
        assert "Agreements awaiting your signature" in response.text
        assert url(agreement) in response.text, person
    assert url(agreement) not in client_for(alice).get(reverse("dashboard")).text
    sign_post(client_for(steward), agreement, steward)
    assert url(agreement) not in client_for(steward).get(reverse("dashboard")).text


def test_the_agreement_page_reads_a_bounded_number_of_rows(agreement, rdo, steward, signatory):
    client = client_for(rdo)
    with CaptureQueriesContext(connection) as before:
        assert client.get(url(agreement)).status_code == 200
    # signatures and earlier versions do not add a query per row
    sign_post(client_for(steward), agreement, steward)
    sign_post(client_for(signatory), agreement, signatory)
    ag.agreement_revise(actor=rdo, agreement=agreement, reason="The period changed.")
    ag.agreement_version_render(version_id=current(agreement).pk)
    with CaptureQueriesContext(connection) as after:
        assert client.get(url(agreement)).status_code == 200
    assert len(after) <= len(before) + 2, [q["sql"] for q in after.captured_queries]
    assert len(before) <= QUERY_BOUND, [q["sql"] for q in before.captured_queries]
