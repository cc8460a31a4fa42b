"""The three parties sign the data-access agreement in a real browser: the institution's signatory
(an account with no role), the data holder's steward and an RDO administrator each sign in, open the
agreement, fetch the exact PDF they sign, type their name, confirm and sign; the last signature
executes the agreement and the application becomes active. The executed, sealed PDF's text names
the parties, the dataset, the conditions and each signature. axe-core checks every page."""

import hashlib
import io

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from access_requests.models import AgreementStatus, AgreementVersion, ApplicationStatus
from access_requests.services import applications as svc
from access_requests.services import review as rv
from access_requests.services import transitions as tr
from access_requests.services.committees import committee_add_member
from catalogue.models import DatasetFile
from tests.access_requests.conftest import CHECKLIST_DONE, complete, make_dataset, signatory_person
from tests.browser.conftest import assert_accessible, sign_in
from tests.conftest import PASSWORD, _person

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CONDITIONS = "Publish the model weights openly and cite the data holders."


def _approved(alice, rdo, committee, chair, holder):
    dataset = make_dataset(holder, "LV-MG-2026", conditions=("C50",), use=[("ETHICS_APPROVAL_REQUIRED", {})])
    DatasetFile.objects.create(dataset=dataset, path="riga-test/mg/case-001.dcm", size_bytes=1234, sha256="a" * 64)
    application = svc.application_create(actor=alice, title="Breast density and AI", datasets=[dataset])
    application = complete(application, alice)
    tr.application_submit(actor=alice, application=application)
    tr.rdo_checklist_update(actor=rdo, application=application, data=CHECKLIST_DONE)
    application = tr.application_forward(actor=rdo, application=application, committee=committee)
    second = _person("member2@committee.example", "Jonas Second", ["committee"])
    committee_add_member(actor="system:test", committee=committee, user=second)
    review_round = rv.current_round(application)
    rv.vote_cast(actor=chair, review_round=review_round, choice="approve")
    rv.vote_cast(actor=second, review_round=review_round, choice="approve")
    # the agreement is created and rendered by the tasks that follow the commit (eager in tests)
    rv.round_decide(actor=chair, application=application, outcome="approved", rationale="Sound.", conditions=CONDITIONS)
    return application


def _sign(page, base, person, application, version):
    page.context.clear_cookies()
    sign_in(page, base, person.email, PASSWORD)
    page.wait_for_url(f"{base}/")
    expect(page.get_by_role("heading", name="Agreements awaiting your signature")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name=f"DAA-{application.reference} {application.title}").click()
    expect(page.get_by_role("heading", name=f"Data-access agreement DAA-{application.reference}")).to_be_visible()
    assert_accessible(page)
    # the link to the exact document answers with the PDF whose checksum the page shows
    link = page.get_by_role("link", name="Read version 1 (PDF, opens in a new tab)")
    response = page.request.get(base + link.get_attribute("href"))
    assert response.ok and response.headers["content-type"] == "application/pdf"
    assert hashlib.sha256(response.body()).hexdigest() == version.sha256
    expect(page.locator("#current-sha256")).to_have_text(version.sha256)
    page.get_by_label("Your full name").fill(person.full_name)
    page.get_by_label("I have read version 1 and sign it on behalf of").check()
    page.get_by_role("button", name="Sign the agreement").click()
    expect(page.get_by_text("Your signature on version 1 is recorded.")).to_be_visible()
    assert_accessible(page)


def test_three_parties_sign_in_the_browser_and_the_application_becomes_active(
    live_server, page, alice, rdo, committee, chair, holder, steward
):
    base = live_server.url
    signatory = signatory_person()
    application = _approved(alice, rdo, committee, chair, holder)
    version = AgreementVersion.objects.get(agreement__application=application)
    assert version.is_rendered

    for person in (signatory, steward, rdo):
        _sign(page, base, person, application, version)

    application.refresh_from_db()
    agreement = application.agreements.get()
    assert application.status == ApplicationStatus.ACTIVE and agreement.status == AgreementStatus.EXECUTED
    expect(page.get_by_role("heading", name="The executed agreement")).to_be_visible()
    assert_accessible(page)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download it").first.click()
    with open(download.value.path(), "rb") as stream:
        content = stream.read()
    assert hashlib.sha256(content).hexdigest() == agreement.executed_sha256
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(content)).pages).split())
    for words in (
        "University of Latvia",
        "Riga Test Hospital",
        "LV-MG-2026",
        CONDITIONS,
        signatory.full_name,
        steward.full_name,
        rdo.full_name,
        version.sha256,
    ):
        assert words in text, words

    # the application's page links to the agreement
    page.goto(f"{base}/applications/{application.pk}/")
    page.get_by_role("link", name="Open the agreement").click()
    expect(page.get_by_role("heading", name="The executed agreement")).to_be_visible()
