"""In a real browser: a steward narrows the dataset form's long lists with their filter boxes and saves,
then removes a file registered by mistake from the published dataset, giving a reason; the dataset
page shows version 2.0.0 under Changes, and the file is gone from its list. axe-core checks every page."""

import hashlib
import re

import pytest
from playwright.sync_api import expect

from catalogue.models import DatasetFile
from catalogue.services import dataset_create, dataset_publish
from tests.browser.conftest import assert_accessible, sign_in
from tests.catalogue.conftest import dataset_input
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WRONG_PATH = "riga-test/LV-RTH-MG-2024/stray/IM9999.dcm"
GOOD_PATH = "riga-test/LV-RTH-MG-2024/study1/IM0001.dcm"


def _go(page, action) -> None:
    action()
    page.wait_for_load_state()
    assert_accessible(page)


def test_a_steward_filters_the_form_and_removes_a_file_from_a_published_dataset(live_server, page, steward, holder):
    base = live_server.url
    dataset = dataset_create(actor=steward, holder=holder, data=dataset_input())
    for path, content in ((GOOD_PATH, b"good"), (WRONG_PATH, b"wrong patient")):
        DatasetFile.objects.create(
            dataset=dataset, path=path, size_bytes=len(content), sha256=hashlib.sha256(content).hexdigest()
        )
    dataset = dataset_publish(actor=steward, dataset=dataset)

    sign_in(page, base, steward.email, PASSWORD)
    page.wait_for_url(f"{base}/")
    _go(page, lambda: page.goto(f"{base}/catalogue/datasets/{dataset.identifier}/edit/"))

    # the data-use conditions: type, and only the matching checkboxes stay in view
    data_use = page.get_by_label("Filter the list: Data-use conditions (GA4GH DUO)")
    data_use.fill("publication")
    expect(page.get_by_label("Publication required (DUO:0000019)")).to_be_visible()
    expect(page.get_by_label("Ethics approval required (DUO:0000021)")).to_be_hidden()  # chosen, kept, hidden
    expect(page.locator(".option-filter-status").filter(has_text="shown")).to_have_text(
        re.compile(r"^2 of \d+ shown; 2 chosen\.$")
    )
    data_use.press("Enter")  # filters, does not submit
    expect(page).to_have_url(re.compile(r"/edit/$"))
    page.get_by_label("Publication required (DUO:0000019)").check()
    # the body parts: a multiple select; the filter hides the options that do not match, by keyboard
    body_parts = page.get_by_label("Filter the list: Body parts (DICOM)")
    body_parts.focus()
    page.keyboard.type("lung")
    select = page.locator("#id_body_parts")
    assert select.locator("option[value=LUNG]").evaluate("option => !option.hidden")
    assert select.locator("option[value=BREAST]").evaluate("option => option.hidden")
    select.select_option(["BREAST", "LUNG"])
    body_parts.press("Escape")  # the whole list again
    assert select.locator("option[value=BREAST]").evaluate("option => !option.hidden")
    assert_accessible(page)
    _go(page, lambda: page.get_by_role("button", name="Save changes").click())
    expect(page.locator(".message-success")).to_contain_text("saved")
    assert sorted(dataset.body_parts.values_list("code", flat=True)) == ["BREAST", "LUNG"]
    assert "PUBLICATION_REQUIRED" in dataset.use_conditions.values_list("term__code", flat=True)
    assert "ETHICS_APPROVAL_REQUIRED" in dataset.use_conditions.values_list("term__code", flat=True)

    # the file registered by mistake, from the dataset page's file list
    _go(page, lambda: page.get_by_role("link", name=f"Remove {WRONG_PATH}").click())
    expect(page.locator("h1")).to_contain_text("Remove a file")
    expect(page.locator("main")).to_contain_text("1.0.0 becomes 2.0.0")
    _go(page, lambda: page.get_by_role("button", name=re.compile("Remove the file")).click())
    expect(page.locator("#id_reason_error")).to_be_visible()  # a reason is required
    assert_accessible(page)
    page.get_by_label("Why is the file removed?").fill("Another patient's scan, registered by mistake.")
    _go(page, lambda: page.get_by_role("button", name="Remove the file and make version 2.0.0").click())
    expect(page).to_have_url(re.compile(r"#changes$"))
    changes = page.locator("ol.change-list")
    expect(changes).to_contain_text("Version 2.0.0")
    expect(changes).to_contain_text("Another patient's scan, registered by mistake.")
    expect(changes).to_contain_text(WRONG_PATH)
    expect(page.locator("table.file-table")).not_to_contain_text(WRONG_PATH)
    expect(page.locator(".result-meta")).to_contain_text("version 2.0.0")
