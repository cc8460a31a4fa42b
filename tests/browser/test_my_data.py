"""A grantee downloads a file in a real browser: Alice signs in, opens My data from the navigation,
opens her download grant, clicks a file's link, and the bytes saved are the file's, by SHA-256.
axe-core checks both pages."""

import hashlib

import pytest
from playwright.sync_api import expect

from access_requests.models import Grant, GrantKind
from tests.access_requests.conftest import (  # noqa: F401 (fixtures: an active application with files on disk)
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


def test_a_grantee_downloads_a_file_from_my_data(live_server, page, alice, active, download_files):  # noqa: F811
    base = live_server.url
    grant = Grant.objects.get(application=active, kind=GrantKind.DOWNLOAD)
    sign_in(page, base, alice.email, PASSWORD)
    page.wait_for_url(f"{base}/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My data").click()
    expect(page.get_by_role("heading", name="My data", level=1)).to_be_visible()
    expect(page.get_by_role("heading", name=f"{active.reference} “{active.title}”")).to_be_visible()
    assert_accessible(page)

    page.get_by_role("link", name="Dataset LV-MG-001").click()
    page.wait_for_url(f"{base}/my-data/grants/{grant.pk}/")
    expect(page.get_by_role("heading", name="Dataset LV-MG-001 (LV-MG-001)")).to_be_visible()
    file = download_files[1]
    relative = file.path.split("/", 1)[1]
    expect(page.get_by_role("cell", name=file.sha256)).to_be_visible()
    assert_accessible(page)

    with page.expect_download() as info:
        page.get_by_role("link", name=f"Download {relative}").click()
    download = info.value
    assert download.suggested_filename == relative.rsplit("/", 1)[1]
    with open(download.path(), "rb") as saved:
        assert hashlib.sha256(saved.read()).hexdigest() == file.sha256
