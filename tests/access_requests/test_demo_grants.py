"""The demo researcher's access grants: an active download grant whose files are real DICOM files on disk
with the size and SHA-256 on record and which the per-request check lets her fetch, an active processing
grant with its holder's environment described, an expired grant (its application closed) and a revoked one
with its reason; all made through the services, and made only once."""

import hashlib

import pytest
from django.conf import settings
from django.utils import timezone

from access_requests.demo_grants import REVOKE_REASON
from access_requests.models import (
    Application,
    ApplicationStatus,
    EntitlementEvent,
    ExtensionRequest,
    Grant,
    GrantKind,
    GrantStatus,
)
from access_requests.services.grants import GrantRefused, download_permit, grant_state
from portal.demo import DEMO_PASSWORD
from portal.models import AuditEvent, OutboxEmail
from portal.services.audit import audit_verify


def _refusal(grant, user, file) -> GrantRefused:
    with pytest.raises(GrantRefused) as refused:
        download_permit(Grant.objects.get(pk=grant.pk), user, file, today=timezone.localdate())
    return refused.value


def test_the_researcher_has_the_four_grants_the_readme_promises(demo):
    researcher = demo["people"]["researcher"]
    assert researcher.email == "researcher@demo.example" and researcher.check_password(DEMO_PASSWORD)
    grants = {key: Grant.objects.get(pk=grant.pk) for key, grant in demo["grants"].items()}
    assert set(grants) == {"download", "processing", "expired", "revoked"}
    today = timezone.localdate()
    states = {key: (grant.kind, grant_state(grant, today)) for key, grant in grants.items()}
    assert states == {
        "download": (GrantKind.DOWNLOAD, "active"),
        "processing": (GrantKind.PROCESSING, "active"),
        "expired": (GrantKind.DOWNLOAD, "expired"),
        "revoked": (GrantKind.DOWNLOAD, "revoked"),
    }
    for grant in grants.values():
        assert researcher in grant.grantees.all()
        assert grant.valid_from <= grant.valid_until <= grant.agreement_end
    assert Grant.objects.filter(grantees=researcher).count() == 4


def test_the_active_download_grant_serves_real_files_whose_bytes_match_their_checksums(demo):
    researcher, other = demo["people"]["researcher"], demo["people"]["researcher2"]
    grant = demo["grants"]["download"]
    assert grant.application.status == ApplicationStatus.ACTIVE
    assert grant.dataset.anonymisation_verified_on is not None  # released for download
    files = list(grant.dataset.files.filter(removed_at__isnull=True).order_by("path"))
    assert len(files) >= 2
    for file in files:
        path = settings.DATASET_STORAGE_ROOT / file.path
        assert file.path.startswith(f"{grant.dataset.holder.storage_area}/{grant.dataset.identifier}/")
        content = path.read_bytes()
        assert len(content) == file.size_bytes > 0
        assert hashlib.sha256(content).hexdigest() == file.sha256
        assert content[128:132] == b"DICM"  # a real DICOM Part 10 file
        download_permit(grant, researcher, file, today=timezone.localdate())  # raises if refused
        refused = _refusal(grant, other, file)  # the link is personal
        assert (refused.status, refused.code) == (403, "not_grantee")


def test_the_processing_grant_is_an_entitlement_with_the_holders_environment(demo):
    researcher = demo["people"]["researcher"]
    grant = demo["grants"]["processing"]
    application = Application.objects.get(pk=grant.application_id)
    assert application.title == "Glioma MRI features and survival"
    assert application.status == ApplicationStatus.ACTIVE
    assert "DOWNLOAD" not in {t.code for t in grant.dataset.access_modes.all()}
    assert grant.access_mode.code == "IN_SITU_PROCESSING"
    assert "workspace.riga.demo.example" in grant.dataset.holder.processing_environment
    assert [e.kind for e in EntitlementEvent.objects.filter(grant=grant)] == ["granted"]
    file = grant.dataset.files.filter(removed_at__isnull=True).first()
    refused = _refusal(grant, researcher, file)  # processed where it lives: never downloaded
    assert (refused.status, refused.code) == (403, "processing_only")


def test_the_expired_grant_ended_with_its_period_and_its_application_is_closed(demo):
    researcher = demo["people"]["researcher"]
    grant = Grant.objects.get(pk=demo["grants"]["expired"].pk)
    today = timezone.localdate()
    assert grant.status == GrantStatus.EXPIRED and grant.ended_at is not None
    assert grant.valid_until < today
    application = Application.objects.get(pk=grant.application_id)
    assert application.status == ApplicationStatus.CLOSED
    assert application.access_start == grant.valid_from < today
    assert AuditEvent.objects.filter(verb="grant.expire", payload__grant=grant.pk).count() == 1
    assert AuditEvent.objects.filter(verb="application.close", target_id=str(application.pk)).exists()
    file = grant.dataset.files.filter(removed_at__isnull=True).first()
    refused = _refusal(grant, researcher, file)
    assert (refused.status, refused.code) == (410, "expired")


def test_the_revoked_grant_says_why_and_the_rest_of_its_application_stays_active(demo):
    researcher, rdo = demo["people"]["researcher"], demo["people"]["rdo"]
    grant = Grant.objects.get(pk=demo["grants"]["revoked"].pk)
    assert (grant.status, grant.revoke_reason, grant.revoked_by) == (GrantStatus.REVOKED, REVOKE_REASON, rdo)
    assert grant.application_id == demo["grants"]["download"].application_id
    assert Application.objects.get(pk=grant.application_id).status == ApplicationStatus.ACTIVE
    event = AuditEvent.objects.get(verb="grant.revoke", payload__grant=grant.pk)
    assert event.payload["reason"] == REVOKE_REASON
    file = grant.dataset.files.filter(removed_at__isnull=True).first()
    refused = _refusal(grant, researcher, file)
    assert refused.status == 410 and REVOKE_REASON in refused.message


def test_loading_the_demo_again_issues_ends_and_writes_nothing_more(demo, django_capture_on_commit_callbacks):
    from portal.demo import load_demo

    models = (Application, Grant, EntitlementEvent, ExtensionRequest, AuditEvent, OutboxEmail)
    counts = [m.objects.count() for m in models]
    statuses = dict(Grant.objects.values_list("pk", "status"))
    with django_capture_on_commit_callbacks(execute=True):
        again = load_demo()
    assert {k: g.pk for k, g in again["grants"].items()} == {k: g.pk for k, g in demo["grants"].items()}
    assert [m.objects.count() for m in models] == counts
    assert dict(Grant.objects.values_list("pk", "status")) == statuses
    assert audit_verify().ok
