"""In a real browser: a researcher adds a remote-processing-only dataset to an application the
Research Data Office returned, from the dataset's page, and asks for it in its only mode; then
adds another from the basket. axe-core checks every page."""

import re

import pytest
from playwright.sync_api import expect

from access_requests.models import Section
from access_requests.services.transitions import application_return, application_submit
from catalogue.models import BasketItem
from tests.access_requests.conftest import complete, make_dataset
from tests.browser.conftest import assert_accessible, sign_in
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _go(page, action) -> None:
    action()
    page.wait_for_load_state()
    assert_accessible(page)


def test_a_researcher_adds_datasets_to_a_returned_application(live_server, page, alice, rdo, holder, other_holder):
    from access_requests.services import applications as svc

    base = live_server.url
    first = make_dataset(holder, "LV-MG-2026")
    remote = make_dataset(other_holder, "ES-CT-REMOTE", modes=("REMOTE_PROCESSING",))
    basketed = make_dataset(other_holder, "ES-MR-BASKET", modes=("DOWNLOAD", "IN_SITU_PROCESSING"))
    application = complete(svc.application_create(actor=alice, title="Density", datasets=[first]), alice)
    application_submit(actor=alice, application=application)
    application_return(actor=rdo, application=application, comments={Section.DATASETS: "Add a second site."})
    BasketItem.objects.create(user=alice, dataset=basketed)

    sign_in(page, base, alice.email, PASSWORD)
    page.wait_for_url(f"{base}/")
    _go(page, lambda: page.goto(f"{base}/catalogue/datasets/{remote.identifier}/apply/"))
    _go(page, lambda: page.get_by_role("button", name=f"Add to {application.reference}").click())
    expect(page).to_have_url(re.compile(rf"/applications/{application.pk}/edit/datasets/$"))
    expect(page.locator(".message-success")).to_contain_text(f"ES-CT-REMOTE added to {application.reference}")
    group = page.get_by_role("group", name="How you will use ES-CT-REMOTE")
    expect(group.get_by_label("Remote or federated processing")).to_be_checked()  # its only mode
    page.get_by_label("Why you need ES-CT-REMOTE").fill("A second site, processed where it is.")
    _go(page, lambda: page.get_by_role("button", name="Save the datasets").click())
    expect(page.locator("#section-datasets")).to_contain_text("Remote or federated processing")

    _go(page, lambda: page.goto(f"{base}/catalogue/basket/"))
    _go(page, lambda: page.get_by_role("button", name=f"Add ES-MR-BASKET to {application.reference}").click())
    group = page.get_by_role("group", name="How you will use ES-MR-BASKET")
    group.get_by_label("Processing inside the data holder's secure environment").check()
    page.get_by_label("Why you need ES-MR-BASKET").fill("A third site.")
    _go(page, lambda: page.get_by_role("button", name="Save the datasets").click())
    section = page.locator("#section-datasets")
    expect(section).to_contain_text("ES-MR-BASKET")
    expect(section).to_contain_text("Processing inside the data holder's secure environment")
    assert sorted(application.requested.values_list("dataset__identifier", "access_mode__code")) == [
        ("ES-CT-REMOTE", "REMOTE_PROCESSING"),
        ("ES-MR-BASKET", "IN_SITU_PROCESSING"),
        ("LV-MG-2026", "DOWNLOAD"),
    ]
