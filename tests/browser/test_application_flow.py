"""From the catalogue basket to the access committee, in a real browser: a researcher writes and
submits an application, the Research Data Office returns it with a comment, the researcher
revises and resubmits, the RDO sees what changed and forwards it. axe-core checks every page."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from access_requests.models import Application, ApplicationStatus
from access_requests.services.applications import AI_QUESTIONS
from portal.models import OutboxEmail
from tests.access_requests.conftest import make_dataset, pdf_bytes, signatory_person
from tests.browser.conftest import assert_accessible, sign_in
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DPIA_COMMENT = "Name the office of the data-protection officer."


def _go(page, action) -> None:
    """Click (or otherwise navigate), wait for the page, and check it with axe-core."""
    action()
    page.wait_for_load_state()
    assert_accessible(page)


def _sign_in(page, base: str, user) -> None:
    sign_in(page, base, user.email, PASSWORD)
    page.wait_for_url(f"{base}/")
    assert_accessible(page)


def _sign_out(page, base: str) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{base}/accounts/login/")


def _edit(page, section_label: str) -> None:
    _go(page, lambda: page.get_by_role("link", name=f"Edit {section_label}", exact=True).click())


def _save(page, button: str) -> None:
    _go(page, lambda: page.get_by_role("button", name=button).click())
    expect(page.locator(".message-success")).to_be_visible()


def _start_from_the_basket(page, base: str, dataset) -> None:
    _go(page, lambda: page.goto(f"{base}/catalogue/datasets/{dataset.identifier}/apply/"))
    _go(page, lambda: page.get_by_role("button", name="Add to my basket").click())
    expect(page.get_by_role("heading", name="Your basket")).to_be_visible()
    page.get_by_label("Title of the application").fill("Breast density and AI")
    _go(page, lambda: page.get_by_role("button", name="Start the application").click())
    expect(page).to_have_url(re.compile(r"/applications/\d+/$"))


def _fill_project(page, start) -> None:
    _edit(page, "project")
    page.get_by_label("Lay summary").fill("We teach a computer to spot breast cancer earlier.")
    page.get_by_label("Scientific description").fill("A retrospective study of screening mammograms.")
    page.get_by_label("Timeline", exact=True).fill("Months 1-6 curation, 7-12 training.")
    page.get_by_label("Intended use of the data").fill("Train and validate a detection model.")
    page.get_by_label("Start of the access period").fill(start.isoformat())
    page.get_by_label("Length of the access period (months)").fill("12")
    page.get_by_label("Organisation", exact=True).fill("University of Latvia")
    page.get_by_label("Organisation's country").select_option("LV")
    page.get_by_label(re.compile(r"Health, medical or biomedical research")).check()
    page.get_by_role("group", name="Does the project develop general methods or algorithms?").get_by_label("No").check()
    page.get_by_role("group", name="Will the data or results be used commercially?").get_by_label("No").check()
    _save(page, "Save the project")


def _answer_ai(page) -> None:
    """The title speaks of AI: the researcher says yes and answers the self-assessment."""
    _edit(page, "ai and medical devices")
    page.get_by_role("group", name="Does the project develop or use AI?").get_by_label("Yes").check()
    page.get_by_label("AI algorithms the project trains, validates or uses").fill("A convolutional lesion detector.")
    for _, question in AI_QUESTIONS:
        page.get_by_role("group", name=question).get_by_label("Yes").check()
    _save(page, "Save")
    expect(page.locator("#section-ai")).to_contain_text("A convolutional lesion detector.")


def _fill_datasets_and_ethics(page, dataset, start) -> None:
    _edit(page, "datasets")
    page.get_by_label(f"Why you need {dataset.identifier}").fill("The screening images to train on.")
    page.get_by_role("group", name=f"How you will use {dataset.identifier}").get_by_label("Download access").check()
    _save(page, "Save the datasets")
    _edit(page, "ethics approvals")
    page.get_by_label("Ethics committee").fill("UL Research Ethics Committee")
    page.get_by_label("Approval reference").fill("REC-2026-17")
    page.get_by_label("Approved on").fill((timezone.localdate() - timedelta(days=30)).isoformat())
    page.get_by_label("Expires on").fill((start + timedelta(days=800)).isoformat())
    page.get_by_label(dataset.identifier).check()
    page.get_by_label("Approval document (PDF)").set_input_files(
        files=[{"name": "approval.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes()}]
    )
    _save(page, "Upload the approval")
    expect(page.locator("#section-ethics")).to_contain_text("REC-2026-17")


def _fill_dpia(page) -> None:
    _edit(page, "data-protection impact assessment")
    page.get_by_label("Anonymised medical images (DICOM)").check()
    page.get_by_label("Processing", exact=True).fill("On the university's secured research cluster.")
    page.get_by_label("Residual risk after mitigation").select_option("low")
    page.get_by_label("Data-protection officer consulted").fill("Dana Protection")
    page.get_by_label("Consulted on").fill(timezone.localdate().isoformat())
    page.get_by_label("Conclusion").fill("Processing may proceed.")
    _save(page, "Save the DPIA")
    _edit(page, "data-protection impact assessment")
    page.get_by_label(re.compile(r"^Risk\b")).fill("Re-identification from image headers")
    page.get_by_label("Likelihood").select_option("1")
    page.get_by_label("Severity").select_option("3")
    page.get_by_label("Mitigation", exact=True).fill("Headers are stripped and verified.")
    _save(page, "Add the risk")
    expect(page.locator("#section-dpia")).to_contain_text("1 × 3 = 3")


def _make_representations(page) -> None:
    _edit(page, "legal representations")
    expect(page.get_by_role("checkbox")).to_have_count(0)  # the applicant accepts no statement
    page.get_by_label("Institution's legal name").fill("University of Latvia")
    page.get_by_label("Signatory's name").fill("Dr. Vera Signer")
    page.get_by_label("Signatory's role").fill("Vice-rector for research")
    page.get_by_label("Signatory's e-mail address").fill("signer@uni.example")
    _save(page, "Save the representations")
    _edit(page, "legal representations")
    _save(page, "Ask Dr. Vera Signer to sign")


def _signatory_signs(page, base: str, application) -> None:
    """The signatory follows the e-mailed link, signs in with the named address, reads the summary and
    accepts every statement with their password."""
    mail = OutboxEmail.objects.filter(template="signature_request", to=["signer@uni.example"]).latest("pk")
    link = re.search(r"http://[^/\s]+(/\S+)", mail.body_text).group(1)
    _go(page, lambda: page.goto(base + link))
    page.get_by_label("E-mail address").fill("signer@uni.example")
    page.get_by_label("Password").fill(PASSWORD)
    _go(page, lambda: page.get_by_role("button", name="Sign in").click())
    expect(page.get_by_role("heading", name=f"Legal statements for {application.reference}")).to_be_visible()
    expect(page.locator("#signature-summary")).to_contain_text("We teach a computer to spot breast cancer earlier.")
    statements = page.get_by_role("group", name="Statements you accept for the institution").get_by_role("checkbox")
    for box in statements.all():
        box.check()
    page.get_by_label("Your password").fill(PASSWORD)
    _save(page, "Accept the ticked statements")
    expect(page.get_by_text("You have accepted every statement.")).to_be_visible()


def _check_and_submit(page, button: str, *, reminder: bool = False) -> None:
    _go(page, lambda: page.get_by_role("link", name="Check and submit").click())
    expect(page.get_by_text("Nothing to fix")).to_be_visible()
    if reminder:
        expect(page.get_by_text("Did you answer the Research Data Office?")).to_be_visible()
    _save(page, button)
    expect(page.locator(".status")).to_have_text("Submitted")


def _rdo_opens_from_the_queue(page, base: str, rdo, application) -> None:
    _sign_in(page, base, rdo)
    _go(page, lambda: page.get_by_role("link", name="RDO queue").click())
    _go(page, lambda: page.get_by_role("link", name=application.reference).click())
    expect(page.get_by_role("heading", name=re.compile(f"Review {application.reference}"))).to_be_visible()


def test_a_researcher_applies_the_rdo_returns_and_then_forwards_it(live_server, page, alice, rdo, committee, holder):
    base = live_server.url
    signatory_person()  # the University of Latvia's signatory, with an account at the named address
    dataset = make_dataset(holder, "LV-MG-2026", conditions=("C50",), use=[("ETHICS_APPROVAL_REQUIRED", {})])
    start = timezone.localdate() + timedelta(days=14)

    _sign_in(page, base, alice)
    _start_from_the_basket(page, base, dataset)
    application = Application.objects.get(title="Breast density and AI", applicant=alice)
    _fill_project(page, start)
    _fill_datasets_and_ethics(page, dataset, start)
    _fill_dpia(page)
    _answer_ai(page)
    _make_representations(page)
    _sign_out(page, base)
    _signatory_signs(page, base, application)
    _sign_out(page, base)
    _sign_in(page, base, alice)
    _go(page, lambda: page.goto(f"{base}/applications/{application.pk}/"))
    expect(page.locator("#section-representations")).to_contain_text("accepted by Dr. Vera Signer (signatory)")
    _check_and_submit(page, "Submit the application")
    _sign_out(page, base)

    _rdo_opens_from_the_queue(page, base, rdo, application)
    page.get_by_label("Data-protection impact assessment: what must change").fill(DPIA_COMMENT)
    _save(page, "Return for revision")
    _sign_out(page, base)

    _sign_in(page, base, alice)
    _go(page, lambda: page.get_by_role("link", name="Applications", exact=True).click())
    _go(page, lambda: page.get_by_role("link", name=application.reference).click())
    expect(page.locator("#section-dpia .rdo-comments")).to_contain_text(DPIA_COMMENT)
    _edit(page, "data-protection impact assessment")
    expect(page.locator(".rdo-comments")).to_contain_text(DPIA_COMMENT)
    page.get_by_label("Data-protection officer consulted").fill("Dana Protection, DPO office")
    _save(page, "Save the DPIA")
    _check_and_submit(page, "Resubmit the application", reminder=True)
    _sign_out(page, base)

    _rdo_opens_from_the_queue(page, base, rdo, application)
    changes = page.locator("table.changes")
    expect(changes).to_contain_text("DPO consulted")
    expect(changes).to_contain_text("Dana Protection, DPO office")
    page.get_by_label("Ethics approvals verified").check()
    page.get_by_label("DPIA reviewed").check()
    page.get_by_label("Legal representations checked").check()
    _save(page, "Save the checklist")
    page.get_by_role("combobox", name=re.compile(r"^Access committee")).select_option(label=committee.name)
    _save(page, "Forward to the committee")
    _go(page, lambda: page.get_by_role("link", name="Read the whole application").click())
    expect(page.locator(".status")).to_have_text("In committee review")
    expect(page.locator("#timeline")).to_contain_text(f"forwarded the application to {committee.name}")

    application.refresh_from_db()
    assert (application.status, application.committee, application.submission_count) == (
        ApplicationStatus.IN_REVIEW,
        committee,
        2,
    )
