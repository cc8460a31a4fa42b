"""The grants API: my grants, a grant, a download grant's files, and a fresh link for one file, with
each refusal answered as JSON with its status and code and recorded in the audit log."""

import itertools
from datetime import datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from access_requests.models import Grant, GrantKind
from access_requests.services.grants import grant_revoke, link_read
from portal.models import AuditEvent
from portal.services.audit import audit_verify
from portal.services.tokens import api_token_create
from tests.access_requests.conftest import dataset_file_write

pytestmark = pytest.mark.django_db
TOKENS = itertools.count(1)


def _grants(active):
    grants = {g.kind: g for g in Grant.objects.filter(application=active)}
    return grants[GrantKind.DOWNLOAD], grants[GrantKind.PROCESSING]


def _client(user) -> APIClient:
    _, secret = api_token_create(actor=user, name=f"grants {next(TOKENS)}", days=30)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def test_my_grants_lists_the_grants_naming_the_caller(alice, active, bob):
    body = _client(alice).get(reverse("api-grants")).json()
    assert body["count"] == 2
    by_kind = {g["kind"]: g for g in body["results"]}
    download = by_kind["download"]
    assert download["application"] == {"id": active.pk, "reference": active.reference, "title": active.title}
    assert download["dataset"] == {"identifier": "LV-MG-001", "title": "Dataset LV-MG-001"}
    assert download["state"] == "active" and download["state_display"] == "Active"
    assert download["valid_until"] == active.access_end.isoformat()
    assert download["limited_by"] == "agreement"
    assert download["days_left"] == (active.access_end - timezone.localdate()).days
    assert download["url"].endswith(f"/my-data/grants/{download['id']}/")
    assert by_kind["processing"]["kind_display"] == "Processing where the data live"
    assert _client(bob).get(reverse("api-grants")).json()["count"] == 0
    assert APIClient().get(reverse("api-grants")).status_code == 401


def test_a_grant_for_its_grantee_and_for_the_rdo(alice, rdo, bob, active):
    download, processing = _grants(active)
    mine = _client(alice).get(reverse("api-grant", args=[download.pk])).json()
    assert mine["usable"] is True and mine["refusal"] is None
    assert mine["files_url"].endswith(f"/api/v1/grants/{download.pk}/files/")
    assert mine["manifest_url"].endswith("/manifest.sha256") and mine["script_url"].endswith("/download.py")
    assert mine["processing_environment"] is None
    theirs = _client(rdo).get(reverse("api-grant", args=[download.pk])).json()
    assert theirs["usable"] is False and theirs["files_url"] is None and theirs["script_url"] is None
    env = _client(alice).get(reverse("api-grant", args=[processing.pk])).json()
    assert env["processing_environment"].startswith("Valencia secure workspace")
    assert env["files_url"] is None
    assert _client(bob).get(reverse("api-grant", args=[download.pk])).status_code == 404


def test_files_come_paginated_with_path_size_and_checksum(alice, active, download_files):
    download, _ = _grants(active)
    client = _client(alice)
    first = client.get(reverse("api-grant-files", args=[download.pk]), {"page_size": 2}).json()
    assert first["count"] == 3 and len(first["results"]) == 2 and first["next"]
    rest = client.get(first["next"]).json()
    files = first["results"] + rest["results"]
    assert files == [
        {"id": f.pk, "path": f.path.split("/", 1)[1], "size": f.size_bytes, "sha256": f.sha256}
        for f in sorted(download_files, key=lambda f: f.pk)
    ]


def test_a_link_is_personal_fresh_and_names_the_file(alice, active, download_files, settings):
    download, _ = _grants(active)
    file = download_files[1]
    before = timezone.now()
    response = _client(alice).post(reverse("api-grant-file-link", args=[download.pk, file.pk]))
    assert response.status_code == 200
    body = response.json()
    assert body["url"].startswith("http://testserver/api/v1/downloads/")
    link = link_read(body["url"].rstrip("/").rsplit("/", 1)[1])
    assert (link.user_id, link.grant_id, link.file_id) == (alice.pk, download.pk, file.pk)
    expires = datetime.fromisoformat(body["expires_at"])
    delta = expires - before
    assert (
        timedelta(seconds=settings.DOWNLOAD_LINK_SECONDS - 5)
        < delta
        < timedelta(seconds=settings.DOWNLOAD_LINK_SECONDS + 60)
    )
    assert not AuditEvent.objects.filter(verb="grant.link_refuse").exists()


def _refused(client, grant_pk, file_pk, status, code):
    response = client.post(reverse("api-grant-file-link", args=[grant_pk, file_pk]))
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code and body["detail"]
    return body


def test_link_refusals_are_json_with_their_code_and_audited(alice, rdo, active, download_files, other_dataset):
    download, processing = _grants(active)
    client = _client(alice)
    # a file of another dataset
    stranger = dataset_file_write(other_dataset, "x/other.dcm", b"not in the grant")
    _refused(client, download.pk, stranger.pk, 404, "file_outside_grant")
    # no such file at all
    _refused(client, download.pk, 999999, 404, "file_outside_grant")
    # a processing grant never gives a download link
    _refused(client, processing.pk, download_files[0].pk, 403, "processing_only")
    # revoked: the grant's files and links refused at once
    grant_revoke(actor=rdo, grant=download, reason="Consent withdrawn.")
    body = _refused(client, download.pk, download_files[0].pk, 410, "revoked")
    assert "Consent withdrawn." in body["detail"]
    files = client.get(reverse("api-grant-files", args=[download.pk]))
    assert files.status_code == 410 and files.json()["code"] == "revoked"
    events = AuditEvent.objects.filter(verb="grant.link_refuse").order_by("seq")
    assert [(e.payload["code"], e.payload["status"]) for e in events] == [
        ("file_outside_grant", 404),
        ("file_outside_grant", 404),
        ("processing_only", 403),
        ("revoked", 410),
    ]
    assert all(e.actor_id == alice.pk for e in events)
    assert audit_verify().ok


def test_someone_not_named_in_the_grant_gets_no_link(rdo, steward, bob, active, download_files):
    download, _ = _grants(active)
    for person, status in ((rdo, 403), (steward, 403), (bob, 404)):
        response = _client(person).post(reverse("api-grant-file-link", args=[download.pk, download_files[0].pk]))
        assert response.status_code == status
        assert set(response.json()) >= {"detail", "code"}
        assert _client(person).get(reverse("api-grant-files", args=[download.pk])).status_code == status
    assert APIClient().post(reverse("api-grant-file-link", args=[download.pk, download_files[0].pk])).status_code == 401
