"""In a real browser: a researcher whose ethics approval expires before the access period ends sees
the problem on the check page, adds the renewed approval, and sees it clear; and a researcher applies
for a dataset offered only for remote or federated processing, from its page to submission, asking
for the mode the dataset offers. axe-core checks every page."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from access_requests.models import Application, ApplicationStatus
from access_requests.services import applications as svc
from tests.access_requests.conftest import complete, make_dataset, pdf_bytes
from tests.browser.conftest import assert_accessible, sign_in
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _go(page, action) -> None:
    """Click (or otherwise navigate), wait for the page, and check it with axe-core."""
    action()
    page.wait_for_load_state()
    assert_accessible(page)


def _sign_in(page, base: str, user) -> None:
    sign_in(page, base, user.email, PASSWORD)
    page.wait_for_url(f"{base}/")
    assert_accessible(page)


def _submit_button(page):
    return page.get_by_role("button", name=re.compile(r"^(Re)?[Ss]ubmit the application$"))


def test_a_renewed_ethics_approval_clears_the_coverage_problem(live_server, page, alice, holder):
    base = live_server.url
    dataset = make_dataset(holder, "LV-MG-001", conditions=("C50",), use=[("ETHICS_APPROVAL_REQUIRED", {})])
    start = timezone.localdate() + timedelta(days=7)
    expires = start + timedelta(days=100)
    draft = svc.application_create(actor=alice, title="Breast density and AI", datasets=[dataset])
    application = complete(draft, alice, start=start, months=12, expires=expires)
    end = application.access_end

    _sign_in(page, base, alice)
    _go(page, lambda: page.goto(f"{base}/applications/{application.pk}/"))
    _go(page, lambda: page.get_by_role("link", name="Check and submit").click())
    problem = page.locator("ul.problems li")
    expect(problem).to_have_count(1)
    expect(problem).to_have_text(
        f"No ethics approval covers LV-MG-001 from {expires + timedelta(days=1):%Y-%m-%d} to {end:%Y-%m-%d}: "
        f"ethics approval REC-2026-17 expires on {expires:%Y-%m-%d}, before the access period ends on "
        f"{end:%Y-%m-%d}. Add a renewed approval covering those days, or shorten the access period."
    )
    expect(_submit_button(page)).to_be_disabled()

    # The problem's section heading leads to the ethics page, which names the period to cover.
    _go(page, lambda: page.get_by_role("link", name="Ethics approvals").click())
    expect(page.locator(".lead")).to_contain_text(f"{start:%Y-%m-%d} to {end:%Y-%m-%d}")
    page.get_by_label("Ethics committee").fill("UL Research Ethics Committee")
    page.get_by_label("Approval reference").fill("REC-2026-17-R1")
    # The renewal starts the day after the first approval expires: inclusive ends leave no gap.
    page.get_by_label("Approved on").fill((expires + timedelta(days=1)).isoformat())
    page.get_by_label("Expires on").fill((end + timedelta(days=30)).isoformat())
    page.get_by_label(dataset.identifier).check()
    page.get_by_label("Approval document (PDF)").set_input_files(
        files=[{"name": "renewal.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes()}]
    )
    _go(page, lambda: page.get_by_role("button", name="Upload the approval").click())
    expect(page.locator(".message-success")).to_be_visible()
    expect(page.locator("#section-ethics")).to_contain_text("REC-2026-17-R1")
    expect(page.locator("#section-ethics")).to_contain_text("REC-2026-17")

    _go(page, lambda: page.get_by_role("link", name="Check and submit").click())
    expect(page.get_by_text("Nothing to fix")).to_be_visible()
    expect(page.locator("ul.problems")).to_have_count(0)
    expect(_submit_button(page)).to_be_enabled()
    _go(page, lambda: _submit_button(page).click())
    expect(page.locator(".status")).to_have_text("Submitted")
    assert application.ethics_approvals.count() == 2


def test_a_researcher_applies_for_a_remote_processing_only_dataset(live_server, page, alice, holder):
    base = live_server.url
    remote = make_dataset(holder, "LV-CT-REMOTE", modes=("REMOTE_PROCESSING",))

    _sign_in(page, base, alice)
    _go(page, lambda: page.goto(f"{base}/catalogue/datasets/{remote.identifier}/"))
    expect(page.get_by_text("Remote or federated processing")).to_be_visible()
    _go(page, lambda: page.get_by_role("link", name="Apply for access").click())
    _go(page, lambda: page.get_by_role("button", name="Add to my basket").click())
    expect(page.get_by_role("heading", name="Your basket")).to_be_visible()
    page.get_by_label("Title of the application").fill("Federated lung nodule AI")
    _go(page, lambda: page.get_by_role("button", name="Start the application").click())
    expect(page).to_have_url(re.compile(r"/applications/\d+/$"))
    application = Application.objects.get(title="Federated lung nodule AI", applicant=alice)

    _go(page, lambda: page.get_by_role("link", name="Edit datasets", exact=True).click())
    group = page.get_by_role("group", name=f"How you will use {remote.identifier}")
    expect(group.get_by_role("radio")).to_have_count(1)  # only the modes the dataset offers
    expect(group.get_by_label("Download access")).to_have_count(0)
    group.get_by_label("Remote or federated processing").check()
    page.get_by_label(f"Why you need {remote.identifier}").fill("Training where the images stay.")
    _go(page, lambda: page.get_by_role("button", name="Save the datasets").click())
    expect(page.locator(".message-success")).to_be_visible()
    expect(page.locator("#section-datasets")).to_contain_text("Remote or federated processing")

    complete(application, alice)  # the other sections, through the services, keeping the chosen mode

    _go(page, lambda: page.goto(f"{base}/applications/{application.pk}/"))
    _go(page, lambda: page.get_by_role("link", name="Check and submit").click())
    expect(page.get_by_text("Nothing to fix")).to_be_visible()
    _go(page, lambda: _submit_button(page).click())
    expect(page.locator(".status")).to_have_text("Submitted")
    expect(page.locator("#section-datasets")).to_contain_text("Remote or federated processing")
    expect(page.locator("#section-datasets")).not_to_contain_text("Download access")
    application.refresh_from_db()
    assert application.status == ApplicationStatus.SUBMITTED
    assert list(application.requested.values_list("dataset__identifier", "access_mode__code")) == [
        ("LV-CT-REMOTE", "REMOTE_PROCESSING")
    ]
