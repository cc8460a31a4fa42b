"""The end of access in a real browser, at a phone's width: the applicant asks for an extension from
the application's Access section, the RDO grants it there, then revokes the whole application; the
applicant attests the closeout with a result; 30 days on, the RDO's dashboard lists nothing missing.
Every page fits 390 px and passes axe-core."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from access_requests.models import Application, ApplicationStatus, Closeout, ExtensionStatus, Grant, GrantKind
from tests.access_requests.conftest import (  # noqa: F401  (fixtures)
    _agreement_pdf_rendered_once,
    active,
    dataset,
    download_files,
    member2,
    processing_dataset,
)
from tests.browser.conftest import assert_accessible, sign_in
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


def fits(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width} px wide"
    assert_accessible(page)


def as_person(browser, base, person):
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    sign_in(page, base, person.email, PASSWORD)
    page.wait_for_url(f"{base}/")
    return context, page


def test_extension_revocation_and_closeout_on_a_phone(live_server, browser, active, alice, rdo):  # noqa: F811
    base = live_server.url
    grant = Grant.objects.get(application=active, kind=GrantKind.DOWNLOAD)
    Grant.objects.filter(pk=grant.pk).update(valid_until=timezone.localdate() + timedelta(days=10))
    detail = f"{base}/applications/{active.pk}/"
    until = timezone.localdate() + timedelta(days=40)

    context, page = as_person(browser, base, alice)
    page.goto(detail)
    expect(page.get_by_role("heading", name="Access", exact=True)).to_be_visible()
    fits(page)
    with page.expect_navigation():  # measure the page the link opens, once it has loaded
        page.get_by_role("link", name="Ask for an extension of LV-MG-001").click()
    fits(page)
    page.get_by_label("New last day of access").fill(until.isoformat())
    page.get_by_label("Why you need longer").fill("Annotation took longer than planned.")
    page.get_by_role("button", name="Send the request").click()
    expect(page.get_by_text("Your request is sent to the Research Data Office.")).to_be_visible()
    context.close()

    context, page = as_person(browser, base, rdo)
    expect(page.get_by_role("heading", name="Extension requests")).to_be_visible()
    fits(page)
    page.goto(detail)
    fits(page)
    page.get_by_label("Grant the extension").check()
    page.get_by_role("button", name="Record the decision").click()
    expect(page.get_by_text("Extension granted.")).to_be_visible()
    grant.refresh_from_db()
    assert grant.valid_until == until and grant.extension_requests.get().status == ExtensionStatus.GRANTED
    with page.expect_navigation():  # measure the page the link opens, once it has loaded
        page.get_by_role("link", name="Revoke the whole application").click()
    fits(page)
    page.get_by_label("Reason").fill("The project stopped.")
    page.get_by_role("button", name="Revoke the application").click()
    expect(page.get_by_text("all its access ended")).to_be_visible()
    assert Application.objects.get(pk=active.pk).status == ApplicationStatus.REVOKED
    fits(page)
    context.close()

    Application.objects.filter(pk=active.pk).update(ended_at=timezone.now() - timedelta(days=31))
    context, page = as_person(browser, base, rdo)
    expect(page.get_by_role("heading", name="Closeouts missing")).to_be_visible()
    fits(page)
    page.get_by_role("button", name=f"Remind ({active.reference} {active.title})").click()
    expect(page.get_by_text("The applicant is reminded of the closeout.")).to_be_visible()
    context.close()

    context, page = as_person(browser, base, alice)
    page.goto(detail)
    with page.expect_navigation():  # measure the page the link opens, once it has loaded
        page.get_by_role("link", name="Confirm the closeout").click()
    fits(page)
    page.get_by_label("I confirm that every copy").check()
    page.get_by_label("How and when the copies were deleted").fill("Wiped from the cluster on the last day.")
    first = page.get_by_role("group", name="Result 1")
    first.get_by_label("Kind").select_option("publication")
    first.get_by_label("Title").fill("Breast density and detection")
    first.get_by_label("DOI").fill("10.1234/density.2026")
    page.get_by_role("button", name="Confirm the closeout").click()
    expect(page.get_by_text("Closeout recorded")).to_be_visible()
    fits(page)
    context.close()
    assert Closeout.objects.get(application=active).statement == "Wiped from the cluster on the last day."
