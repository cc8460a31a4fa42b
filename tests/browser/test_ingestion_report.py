"""In a real browser: a steward opens the ingestion report of a dataset whose scan found a file still
naming its patient, sees the rate of integration and the rejected file with its reason, excludes
it with a reason, and sees every registered file passing; the dataset can then be published.
axe-core checks every page."""

import re

import pytest
from django.conf import settings
from playwright.sync_api import expect

from catalogue.models import DatasetFile, DatasetStatus, FileScanStatus
from catalogue.services import dataset_create, dataset_publish, dataset_register_files
from tests.browser.conftest import assert_accessible, sign_in
from tests.catalogue.conftest import dataset_input
from tests.catalogue.test_dicom_index import clean
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FOLDER = "LV-RTH-ING"


def _go(page, action) -> None:
    action()
    page.wait_for_load_state()
    assert_accessible(page)


def _scanned(steward, holder):
    """A draft whose folder holds two clean CT files and one still naming its patient, scanned."""
    dataset = dataset_create(actor=steward, holder=holder, data=dataset_input())
    folder = settings.DATASET_STORAGE_ROOT / holder.storage_area / FOLDER
    folder.mkdir(parents=True)
    for instance in (1, 2):
        header = clean("CT_small.dcm", "SUBJ-0001", instance=instance, age="045Y", body_part="CHEST")
        header.save_as(folder / f"ct{instance}.dcm", enforce_file_format=True)
    named = clean("CT_small.dcm", "SUBJ-0003", age="070Y", body_part="ABDOMEN", shift_days=0)
    named.PatientName = "Doe^Jane"
    named.save_as(folder / "named.dcm", enforce_file_format=True)
    scan = dataset_register_files(actor=steward, dataset=dataset, folder=FOLDER)  # runs at once (eager)
    scan.refresh_from_db()
    assert scan.status == FileScanStatus.DONE, scan.error
    return dataset


def test_a_steward_reads_the_report_and_excludes_the_failing_file(live_server, page, steward, holder):
    base = live_server.url
    dataset = _scanned(steward, holder)
    named = f"{holder.storage_area}/{FOLDER}/named.dcm"

    sign_in(page, base, steward.email, PASSWORD)
    page.wait_for_url(f"{base}/")
    _go(page, lambda: page.goto(f"{base}/catalogue/datasets/{dataset.identifier}/"))
    expect(page.locator("#file-problems")).to_contain_text("1 registered file fails the de-identification check")
    _go(page, lambda: page.get_by_role("link", name="Ingestion report").first.click())

    expect(page.locator("h1")).to_contain_text("Ingestion report")
    expect(page.locator("#integration-rate")).to_have_text("66.6% integrated: 2 of 3 files.")
    reasons = page.get_by_role("table", name=re.compile("Rejected files by reason"))
    expect(reasons).to_contain_text("an attribute the profile empties or replaces still holds a real value")
    rejected = page.get_by_role("table", name=re.compile("failing the de-identification check"))
    row = rejected.get_by_role("row", name=named)
    expect(row).to_contain_text("DEID_ATTRIBUTE_NOT_REPLACED")
    expect(row).to_contain_text("(0010,0010)")

    # a reason is required
    _go(page, lambda: page.get_by_role("button", name="Exclude the 1 failing file").click())
    expect(page.locator("#id_reason_error")).to_be_visible()
    page.get_by_label("Why are the files excluded?").fill("Still names the patient; the hospital re-exports it.")
    _go(page, lambda: page.get_by_role("button", name="Exclude the 1 failing file").click())

    expect(page.locator(".message-success")).to_contain_text("1 file is excluded")
    expect(page.locator("#registered-passing")).to_contain_text("100%")
    expect(page.locator("#registered-passing")).to_contain_text("nothing in the files stops publication")
    expect(page.get_by_role("table", name=re.compile("Rejected files by reason"))).to_contain_text(
        "excluded by a steward"
    )
    expect(page.locator("main")).to_contain_text("Every registered file passes the check.")
    assert not DatasetFile.objects.filter(dataset=dataset, path=named).exists()
    assert dataset_publish(actor=steward, dataset=dataset).status == DatasetStatus.PUBLISHED
