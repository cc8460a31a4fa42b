"""Download links of access grants: each refusal with its status and audit event, links dying at
revocation and expiry, whole and ranged downloads byte-exact, a resumed download that matches the
SHA-256, and what every answered request leaves behind (a Download row and `download.serve`)."""

import base64
import hashlib
import os
import types
from datetime import timedelta

import pytest
from django.core import signing
from django.utils import timezone
from rest_framework.test import APIClient

from access_requests.models import Download, Grant, GrantKind
from access_requests.services import grants as gs
from access_requests.services.downloads import Answer, range_answer
from catalogue.models import DatasetFile
from portal.models import AuditEvent
from portal.services.audit import audit_verify
from portal.services.tokens import api_token_create
from tests.access_requests.conftest import dataset_file_write


def _grant(application, kind=GrantKind.DOWNLOAD) -> Grant:
    return Grant.objects.get(application=application, kind=kind)


def _url(user, grant, file) -> str:
    return gs.link_url(gs.link_token(user=user, grant=grant, file=file))


def _client(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def _disk(file) -> bytes:
    from django.conf import settings

    return (settings.DATASET_STORAGE_ROOT / file.path).read_bytes()


def _refusal(response, status: int, code: str) -> AuditEvent:
    """The answer is the JSON refusal, and exactly one `download.refuse` event says so."""
    assert response.status_code == status, (response.status_code, _body(response)[:300])
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code and body["detail"]
    events = AuditEvent.objects.filter(verb="download.refuse")
    assert events.count() == 1
    event = events.get()
    assert event.payload["code"] == code and event.payload["status"] == status
    assert not Download.objects.exists()
    assert audit_verify().ok
    return event


@pytest.fixture
def grant(active):
    return _grant(active)


@pytest.fixture
def alice_client(alice):
    return _client(alice)


# --- refusals ----------------------------------------------------------------------------------


def test_a_tampered_link_is_refused_403_and_audited(grant, alice, alice_client, download_files):
    token = gs.link_token(user=alice, grant=grant, file=download_files[0])
    forged = token.replace(f".{download_files[0].pk}:", f".{download_files[1].pk}:", 1)  # another file, same signature
    assert forged != token
    event = _refusal(alice_client.get(gs.link_url(forged)), 403, "tampered")
    assert event.payload["user"] == alice.pk and event.payload["grant"] is None and event.payload["ip"] == "127.0.0.1"
    assert event.actor_id == alice.pk


def test_an_old_link_is_refused_410_by_moving_the_clock(
    grant, alice, alice_client, download_files, monkeypatch, settings
):
    url = _url(alice, grant, download_files[0])
    assert alice_client.get(url).status_code == 200
    Download.objects.all().delete()
    later = signing.time.time() + settings.DOWNLOAD_LINK_SECONDS + 5
    monkeypatch.setattr(signing, "time", types.SimpleNamespace(time=lambda: later))
    event = _refusal(alice_client.get(url), 410, "link_expired")
    assert event.payload["file"] is None  # nothing of an expired link is believed


def test_a_link_replayed_by_another_user_is_refused_403(grant, alice, bob, download_files):
    url = _url(alice, grant, download_files[0])
    event = _refusal(_client(bob).get(url), 403, "not_link_owner")
    assert event.payload["user"] == bob.pk and event.payload["link_user"] == alice.pk
    assert event.payload["grant"] == grant.pk and event.payload["file"] == download_files[0].pk


def test_anonymous_callers_are_asked_to_sign_in(grant, alice, download_files):
    response = APIClient().get(_url(alice, grant, download_files[0]))
    assert response.status_code == 401
    assert not Download.objects.exists()


def test_a_link_issued_before_revocation_dies_at_once(grant, alice, alice_client, rdo, download_files):
    url = _url(alice, grant, download_files[0])
    assert alice_client.get(url).status_code == 200
    gs.grant_revoke(actor=rdo, grant=grant, reason="Data breach reported by the institution.")
    Download.objects.all().delete()
    response = alice_client.get(url)
    assert response.status_code == 410
    assert "Data breach reported" in response.json()["detail"]
    event = AuditEvent.objects.get(verb="download.refuse")
    assert event.payload["code"] == "revoked" and event.payload["grant"] == grant.pk
    assert event.target_id == str(grant.application_id)


def test_a_revoked_application_stops_its_links(active, grant, alice, alice_client, rdo, download_files):
    url = _url(alice, grant, download_files[0])
    gs.application_revoke(actor=rdo, application=active, reason="The institution withdrew its agreement.")
    _refusal(alice_client.get(url), 410, "revoked")


def test_an_application_no_longer_active_stops_its_links(active, grant, alice, alice_client, download_files):
    """Whatever else has happened to the grant, an application that is not active lets nothing leave."""
    from access_requests.models import Application

    url = _url(alice, grant, download_files[0])
    Application.objects.filter(pk=active.pk).update(status="closed")
    _refusal(alice_client.get(url), 410, "application_closed")


def test_an_expired_grant_stops_its_links_by_the_date_before_any_sweep(
    grant, alice, alice_client, download_files, monkeypatch
):
    from access_requests.services import downloads

    url = _url(alice, grant, download_files[0])
    assert alice_client.get(url).status_code == 200
    Download.objects.all().delete()
    # the portal's clock moves to the day after the last one (the session, signed by the real clock, stays)
    after = timezone.now() + timedelta(days=(grant.valid_until - gs.portal_today()).days + 1)
    monkeypatch.setattr(downloads, "portal_today", lambda: gs.portal_today(after))
    assert Grant.objects.get(pk=grant.pk).status == "active"  # no sweep has run
    event = _refusal(alice_client.get(url), 410, "expired")
    assert event.payload["grant"] == grant.pk
    monkeypatch.setattr(downloads, "portal_today", lambda: grant.valid_until)  # its last day still serves
    assert alice_client.get(url).status_code == 200


def test_a_file_of_another_dataset_is_refused_404(grant, alice, alice_client, other_dataset):
    stranger = dataset_file_write(other_dataset, "ct/other.dcm", b"not yours" * 100)
    _refusal(alice_client.get(_url(alice, grant, stranger)), 404, "file_outside_grant")


def test_a_removed_file_is_refused_404(grant, alice, alice_client, download_files):
    url = _url(alice, grant, download_files[2])
    DatasetFile.all_registrations.filter(pk=download_files[2].pk).update(
        removed_at=timezone.now(), removal_reason="Registered by mistake."
    )
    _refusal(alice_client.get(url), 404, "file_outside_grant")


def test_a_processing_only_dataset_never_downloads(active, alice, alice_client, processing_dataset):
    processing = _grant(active, GrantKind.PROCESSING)
    inside = dataset_file_write(processing_dataset, "mr/case-1.dcm", os.urandom(4096))
    event = _refusal(alice_client.get(_url(alice, processing, inside)), 403, "processing_only")
    assert event.payload["grant"] == processing.pk


def test_a_registered_path_escaping_the_storage_area_through_a_link_is_refused_404(
    grant, alice, alice_client, dataset, settings, tmp_path
):
    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir()
    secret.write_bytes(b"not a dataset file")
    area = settings.DATASET_STORAGE_ROOT / dataset.holder.storage_area
    (area / "mg").mkdir(parents=True, exist_ok=True)
    (area / "mg" / "escape.dcm").symlink_to(secret)
    document = settings.DOCUMENT_STORAGE_ROOT / "ethics.pdf"
    document.write_bytes(b"%PDF-1.4 an applicant's document")
    (area / "mg" / "document.dcm").symlink_to(document)
    for name, target in (("escape", secret), ("document", document)):
        registered = DatasetFile.objects.create(
            dataset=dataset,
            path=f"{dataset.holder.storage_area}/mg/{name}.dcm",
            size_bytes=target.stat().st_size,
            sha256=hashlib.sha256(target.read_bytes()).hexdigest(),
        )
        response = alice_client.get(_url(alice, grant, registered))
        assert response.status_code == 404
        assert response.json()["code"] == "path_outside_storage"
        assert target.read_bytes() not in _body(response)
    assert [e.payload["code"] for e in AuditEvent.objects.filter(verb="download.refuse")] == [
        "path_outside_storage"
    ] * 2
    assert not Download.objects.exists()


def test_a_missing_file_is_refused_404_not_a_server_error(grant, alice, alice_client, download_files, settings):
    (settings.DATASET_STORAGE_ROOT / download_files[1].path).unlink()
    _refusal(alice_client.get(_url(alice, grant, download_files[1])), 404, "file_missing")


def test_a_grant_that_does_not_name_the_caller_is_refused(grant, bob, download_files):
    """A link made for someone the grant does not name (Bob is on no team) refuses 403."""
    _refusal(_client(bob).get(_url(bob, grant, download_files[0])), 403, "not_grantee")


# --- serving ----------------------------------------------------------------------------------


def test_a_whole_download_is_byte_exact_with_its_headers_and_record(grant, alice, alice_client, download_files):
    file = download_files[0]
    response = alice_client.get(_url(alice, grant, file), HTTP_USER_AGENT="curl/8.0", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    body = _body(response)
    assert body == _disk(file) and hashlib.sha256(body).hexdigest() == file.sha256
    assert int(response["Content-Length"]) == file.size_bytes
    assert response["Content-Type"] == "application/dicom"
    assert response["Content-Disposition"] == 'attachment; filename="case-000.dcm"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
    assert response["Accept-Ranges"] == "bytes"
    assert response["ETag"] == f'"{file.sha256}"'
    assert response["Repr-Digest"] == f"sha-256=:{base64.b64encode(bytes.fromhex(file.sha256)).decode()}:"
    assert "Content-Encoding" not in response
    download = Download.objects.get()
    assert (download.grant, download.user, download.file) == (grant, alice, file)
    assert (download.range_start, download.range_end, download.bytes_sent) == (None, None, file.size_bytes)
    assert (download.status_code, download.mode, download.ip, download.user_agent) == (
        200,
        "django",
        "127.0.0.1",
        "curl/8.0",
    )
    event = AuditEvent.objects.get(verb="download.serve")
    assert event.payload["download"] == download.pk and event.payload["bytes"] == file.size_bytes
    assert event.actor_id == alice.pk
    assert audit_verify().ok


def test_a_range_answers_206_byte_exact(grant, alice, alice_client, download_files):
    file = download_files[1]
    data = _disk(file)
    response = alice_client.get(_url(alice, grant, file), HTTP_RANGE="bytes=1000-70999")
    assert response.status_code == 206
    assert _body(response) == data[1000:71000]
    assert response["Content-Length"] == "70000"
    assert response["Content-Range"] == f"bytes 1000-70999/{len(data)}"
    download = Download.objects.get()
    assert (download.range_start, download.range_end, download.bytes_sent, download.status_code) == (
        1000,
        70999,
        70000,
        206,
    )


def test_a_suffix_range_gets_the_last_bytes(grant, alice, alice_client, download_files):
    file = download_files[2]
    data = _disk(file)
    response = alice_client.get(_url(alice, grant, file), HTTP_RANGE="bytes=-4096")
    assert response.status_code == 206
    assert _body(response) == data[-4096:]
    assert response["Content-Range"] == f"bytes {len(data) - 4096}-{len(data) - 1}/{len(data)}"


def test_an_unsatisfiable_range_answers_416(grant, alice, alice_client, download_files):
    file = download_files[0]
    response = alice_client.get(_url(alice, grant, file), HTTP_RANGE=f"bytes={file.size_bytes}-")
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{file.size_bytes}"
    assert response.json()["code"] == "range_not_satisfiable"
    download = Download.objects.get()
    assert (download.status_code, download.bytes_sent) == (416, 0)


def test_several_ranges_get_the_whole_file(grant, alice, alice_client, download_files):
    file = download_files[0]
    response = alice_client.get(_url(alice, grant, file), HTTP_RANGE="bytes=0-9,20-29")
    assert response.status_code == 200 and _body(response) == _disk(file)


def test_a_resumed_download_assembles_the_file_whose_sha256_matches(grant, alice, alice_client, download_files):
    file = download_files[2]
    url = _url(alice, grant, file)
    first = alice_client.get(url)
    # the connection breaks halfway: the first half arrived, the rest of the answer is never read
    received = next(iter(first.streaming_content))[: file.size_bytes // 2]
    assert len(received) == file.size_bytes // 2
    etag = first["ETag"]
    rest = alice_client.get(url, HTTP_RANGE=f"bytes={len(received)}-", HTTP_IF_RANGE=etag)
    assert rest.status_code == 206
    assembled = received + _body(rest)
    assert hashlib.sha256(assembled).hexdigest() == file.sha256
    assert [d.range_start for d in Download.objects.order_by("pk")] == [None, len(received)]


def test_if_range_with_another_etag_gets_the_whole_file(grant, alice, alice_client, download_files):
    file = download_files[0]
    response = alice_client.get(_url(alice, grant, file), HTTP_RANGE="bytes=100-", HTTP_IF_RANGE='"' + "0" * 64 + '"')
    assert response.status_code == 200 and _body(response) == _disk(file)
    last_modified = alice_client.get(_url(alice, grant, file), HTTP_RANGE="bytes=0-0")["Last-Modified"]
    by_date = alice_client.get(_url(alice, grant, file), HTTP_RANGE="bytes=100-", HTTP_IF_RANGE=last_modified)
    assert by_date.status_code == 206 and _body(by_date) == _disk(file)[100:]


def test_head_answers_the_headers_and_sends_nothing(grant, alice, alice_client, download_files):
    file = download_files[0]
    response = alice_client.head(_url(alice, grant, file))
    assert response.status_code == 200 and response["Content-Length"] == str(file.size_bytes)
    assert _body(response) == b""
    assert Download.objects.get().bytes_sent == 0


def test_a_personal_api_token_downloads_too(grant, alice, download_files):
    _, raw = api_token_create(actor=alice, name="download script", days=30)
    file = download_files[1]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    response = client.get(_url(alice, grant, file), HTTP_RANGE="bytes=0-")
    assert response.status_code == 206 and _body(response) == _disk(file)
    assert Download.objects.get().user == alice


def test_nginx_mode_answers_empty_with_x_accel_redirect(grant, alice, alice_client, download_files, settings):
    settings.PROTECTED_SERVE_MODE = "nginx"
    file = download_files[0]
    response = alice_client.get(_url(alice, grant, file), HTTP_RANGE="bytes=10-19")
    assert response.status_code == 200 and _body(response) == b""
    assert response["X-Accel-Redirect"] == f"/protected/datasets/{file.path}"
    assert response["Content-Type"] == "application/dicom"
    assert response["Content-Disposition"] == 'attachment; filename="case-000.dcm"'
    download = Download.objects.get()
    assert (download.mode, download.status_code, download.range_start, download.bytes_sent) == ("nginx", 206, 10, 10)


def test_nginx_mode_quotes_the_path(grant, alice, alice_client, dataset, settings):
    settings.PROTECTED_SERVE_MODE = "nginx"
    odd = dataset_file_write(dataset, "mg/a file?#%.dcm", b"x" * 10)
    response = alice_client.get(_url(alice, grant, odd))
    assert response["X-Accel-Redirect"] == (
        f"/protected/datasets/{dataset.holder.storage_area}/mg/a%20file%3F%23%25.dcm"
    )


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 100, Answer(200)),
        ("bytes=0-99", 100, Answer(206, 0, 99)),
        ("bytes=0-1000", 100, Answer(206, 0, 99)),
        ("bytes=50-", 100, Answer(206, 50, 99)),
        ("bytes=-10", 100, Answer(206, 90, 99)),
        ("bytes=-1000", 100, Answer(206, 0, 99)),
        ("bytes=-0", 100, Answer(416)),
        ("bytes=100-", 100, Answer(416)),
        ("bytes=100-200", 100, Answer(416)),
        ("bytes=0-", 0, Answer(416)),
        ("bytes=9-3", 100, Answer(200)),
        ("bytes=0-1,5-6", 100, Answer(200)),
        ("items=0-5", 100, Answer(200)),
        ("bytes=abc", 100, Answer(200)),
        ("bytes=-", 100, Answer(200)),
    ],
)
def test_range_answer(header, size, expected):
    assert range_answer(header, size) == expected


def test_link_url_is_the_api_download_path(grant, alice, download_files):
    token = gs.link_token(user=alice, grant=grant, file=download_files[0])
    assert gs.link_url(token) == f"/api/v1/downloads/{token}/"


def test_gzip_never_touches_a_download(settings):
    """GZipMiddleware would compress a FileResponse in Python and turn sendfile off."""
    assert "django.middleware.gzip.GZipMiddleware" not in settings.MIDDLEWARE
