"""The grantee's side of access grants: the My data page, a grant's page (files with personal links,
the checksum manifest and the download script; a processing grant's environment), who sees links,
pagination at thousands of files in a bounded number of queries, and refused grants shown with their
reason and no link."""

import hashlib
import re
import shutil
import subprocess
from datetime import timedelta
from html import unescape

import pytest
from django.conf import settings
from django.urls import reverse

from access_requests.models import Grant, GrantKind
from access_requests.services.grants import grant_revoke, link_read, portal_today
from catalogue.models import Dataset, DatasetFile, DatasetStatus
from portal.models import AuditEvent
from portal.services.audit import audit_verify
from tests.access_requests.conftest import dataset_file_write

pytestmark = pytest.mark.django_db

LINK = re.compile(r'href="/api/v1/downloads/([^"/]+)/"')


def _grants(active):
    grants = {g.kind: g for g in Grant.objects.filter(application=active).select_related("dataset")}
    return grants[GrantKind.DOWNLOAD], grants[GrantKind.PROCESSING]


def _text(response) -> str:
    return unescape(response.content.decode())


def test_my_data_lists_the_grantees_grants_by_application_with_dates_limits_and_days_left(client, alice, active):
    client.force_login(alice)
    response = client.get(reverse("my-data"))
    assert response.status_code == 200
    text = _text(response)
    assert f"{active.reference}</a> “{active.title}”" in text
    assert "Dataset LV-MG-001" in text and "Dataset ES-MR-PROC" in text
    assert "Download" in text and "Processing where the data live" in text
    assert text.count("Active") >= 2
    end = active.access_end
    assert f"until {end:%-d %B %Y}" in text
    assert "the end of the agreement's access period" in text
    assert f"{(end - portal_today()).days} days left after today" in text
    # the site's navigation leads here for a signed-in person
    assert '<a href="/my-data/" aria-current="page">My data</a>' in text


def test_my_data_in_words_when_there_is_nothing(client, bob):
    client.force_login(bob)
    text = _text(client.get(reverse("my-data")))
    assert "You have no access to data yet." in text
    assert "<table" not in text


def test_my_data_asks_to_sign_in(client):
    response = client.get(reverse("my-data"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_grantee_gets_a_personal_link_per_file_with_size_and_checksum(client, alice, active, download_files):
    download, _ = _grants(active)
    client.force_login(alice)
    response = client.get(reverse("grant-detail", args=[download.pk]))
    assert response.status_code == 200
    text = _text(response)
    tokens = LINK.findall(text)
    assert len(tokens) == 3
    named = {link_read(token).file_id for token in tokens}
    assert named == {f.pk for f in download_files}
    for token in tokens:
        link = link_read(token)
        assert (link.user_id, link.grant_id) == (alice.pk, download.pk)
    for file in download_files:
        relative = file.path.split("/", 1)[1]
        assert f"<td>{relative}</td>" in text
        assert f'<code class="checksum">{file.sha256}</code>' in text
    assert "200.0\xa0KB" in text  # human-readable sizes
    assert reverse("grant-manifest", args=[download.pk]) in text
    assert reverse("grant-script", args=[download.pk]) in text
    assert "works for 60 minutes" in text


def test_who_else_may_see_the_grant_sees_it_without_links(client, alice, rdo, steward, bob, active):
    download, _ = _grants(active)
    for person in (rdo, steward):
        client.force_login(person)
        response = client.get(reverse("grant-detail", args=[download.pk]))
        assert response.status_code == 200
        text = _text(response)
        assert "only the people it names get links" in text
        assert not LINK.findall(text)
        assert "manifest.sha256" not in text and "download.py" not in text
        assert '<code class="checksum">' in text  # the files and their checksums are shown
        assert client.get(reverse("grant-manifest", args=[download.pk])).status_code == 403
    client.force_login(bob)  # on no side of the application
    assert client.get(reverse("grant-detail", args=[download.pk])).status_code == 404


def test_a_processing_grant_says_where_and_how_to_reach_the_environment(client, alice, active):
    _, processing = _grants(active)
    client.force_login(alice)
    response = client.get(reverse("grant-detail", args=[processing.pk]))
    assert response.status_code == 200
    text = _text(response)
    assert "Valencia secure workspace: https://workspace.valencia.example, VPN required." in text
    assert "GA4GH passport" in text and "/api/v1/passport/" in text
    assert not LINK.findall(text) and "<table" not in text
    # nothing to download: no manifest and no script
    assert client.get(reverse("grant-manifest", args=[processing.pk])).status_code == 403
    assert client.get(reverse("grant-script", args=[processing.pk])).status_code == 403


def test_a_revoked_grant_shows_why_and_no_link(client, alice, rdo, active):
    download, _ = _grants(active)
    grant_revoke(actor=rdo, grant=download, reason="The ethics approval was suspended.")
    client.force_login(alice)
    text = _text(client.get(reverse("grant-detail", args=[download.pk])))
    assert "Revoked on" in text and "The ethics approval was suspended." in text
    assert "You cannot use this grant now" in text
    assert not LINK.findall(text) and "download.py" not in text
    refused = client.get(reverse("grant-manifest", args=[download.pk]))
    assert refused.status_code == 410 and "was revoked" in _text(refused)
    assert client.get(reverse("grant-script", args=[download.pk])).status_code == 410
    assert "Revoked on" in _text(client.get(reverse("my-data")))


def test_an_expired_grant_shows_its_end_and_no_link(client, alice, active, monkeypatch):
    download, _ = _grants(active)
    later = download.valid_until + timedelta(days=1)
    for module in ("access_requests.views.grants", "access_requests.apis_grants"):
        monkeypatch.setattr(f"{module}.portal_today", lambda: later)
    client.force_login(alice)
    text = _text(client.get(reverse("grant-detail", args=[download.pk])))
    assert f"Ended on {download.valid_until:%-d %B %Y}" in text
    assert f"ended on {download.valid_until:%Y-%m-%d}" in text
    assert not LINK.findall(text)
    assert client.get(reverse("grant-manifest", args=[download.pk])).status_code == 410


def test_a_withdrawn_dataset_shows_why_and_no_link(client, alice, active, dataset):
    download, _ = _grants(active)
    Dataset.objects.filter(pk=dataset.pk).update(status=DatasetStatus.WITHDRAWN)
    client.force_login(alice)
    text = _text(client.get(reverse("grant-detail", args=[download.pk])))
    assert "has been withdrawn by its data holder" in text
    assert not LINK.findall(text)


def _more_files(dataset, count: int):
    area = dataset.holder.storage_area
    DatasetFile.objects.bulk_create(
        DatasetFile(
            dataset=dataset,
            path=f"{area}/bulk/{n:05}.dcm",
            size_bytes=1000 + n,
            sha256=hashlib.sha256(str(n).encode()).hexdigest(),
        )
        for n in range(count)
    )


def test_thousands_of_files_come_a_page_at_a_time_in_a_bounded_number_of_queries(
    client, alice, active, dataset, django_assert_max_num_queries
):
    download, _ = _grants(active)
    client.force_login(alice)
    url = reverse("grant-detail", args=[download.pk])
    client.get(url)  # warm the session and the caches
    with django_assert_max_num_queries(30) as few:
        client.get(url)
    _more_files(dataset, 2500)
    with django_assert_max_num_queries(len(few.captured_queries)):
        first = client.get(url)
    text = _text(first)
    assert len(LINK.findall(text)) == 100
    assert "more than 1,000 files." in text  # counted up to a cap
    pages, seen = 1, set(LINK.findall(text))
    next_link = re.search(r'href="\?after=([^"]+)" rel="next"', first.content.decode())
    while next_link:
        response = client.get(url, {"after": next_link.group(1)})
        assert response.status_code == 200
        tokens = LINK.findall(_text(response))
        assert tokens and not set(tokens) & seen
        seen |= set(tokens)
        pages += 1
        next_link = re.search(r'href="\?after=([^"]+)" rel="next"', response.content.decode())
    assert pages == 26 and len({link_read(t).file_id for t in seen}) == 2503
    assert client.get(url, {"after": "not-a-cursor"}).status_code == 400


def test_the_manifest_is_sha256sum_format_and_checks_the_files_on_disk(client, alice, active, download_files):
    download, _ = _grants(active)
    client.force_login(alice)
    response = client.get(reverse("grant-manifest", args=[download.pk]))
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="LV-MG-001.sha256"'
    body = b"".join(response.streaming_content).decode()
    assert body == "".join(f"{f.sha256}  {f.path.split('/', 1)[1]}\n" for f in download_files)
    folder = settings.DATASET_STORAGE_ROOT / download.dataset.holder.storage_area
    (folder / "LV-MG-001.sha256").write_text(body)
    checked = subprocess.run(  # noqa: S603
        [shutil.which("sha256sum"), "-c", "LV-MG-001.sha256"], cwd=folder, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count(": OK") == 3
    event = AuditEvent.objects.get(verb="grant.manifest")
    assert event.actor_id == alice.pk and event.payload == {"grant": download.pk, "dataset": "LV-MG-001"}
    assert audit_verify().ok


def test_the_manifest_streams_thousands_of_files_in_chunks(client, alice, active, dataset):
    download, _ = _grants(active)
    _more_files(dataset, 4500)
    client.force_login(alice)
    response = client.get(reverse("grant-manifest", args=[download.pk]))
    chunks = list(response.streaming_content)
    assert len(chunks) == 3  # 2,000 lines a chunk, one query each
    assert sum(c.count(b"\n") for c in chunks) == 4503


def test_a_file_added_to_another_dataset_is_not_in_the_grant(client, alice, active, other_dataset):
    download, _ = _grants(active)
    stranger = dataset_file_write(other_dataset, "x/secret.dcm", b"not yours")
    client.force_login(alice)
    text = _text(client.get(reverse("grant-detail", args=[download.pk])))
    assert "secret.dcm" not in text
    body = b"".join(client.get(reverse("grant-manifest", args=[download.pk])).streaming_content).decode()
    assert stranger.sha256 not in body


def test_the_download_script_is_served_with_the_portal_and_the_grant_filled_in(client, alice, active, settings):
    settings.SITE_URL = "https://portal.example"
    download, _ = _grants(active)
    client.force_login(alice)
    response = client.get(reverse("grant-script", args=[download.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="download.py"'
    script = response.content.decode()
    assert 'PORTAL = os.environ.get("PORTAL_URL", "https://portal.example")' in script
    assert f'GRANT = "{download.pk}"' in script
    assert "https://portal.example/settings/tokens/" in script
    assert "__" + "PORTAL_URL__" not in script and "__" + "GRANT_ID__" not in script
    compile(script, "download.py", "exec")
    # standard library only
    imported = set(re.findall(r"^import (\w+)|^from (\w+)", script, re.MULTILINE))
    names = {a or b for a, b in imported}
    assert names <= {"argparse", "hashlib", "json", "os", "sys", "time", "urllib", "pathlib"}
