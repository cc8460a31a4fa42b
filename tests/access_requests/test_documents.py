"""Uploaded documents: only real PDFs, within the size limit, kept under the protected storage root."""

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from access_requests.models import EthicsApproval
from access_requests.services import applications as svc
from access_requests.services.documents import document_absolute_path, pdf_validate
from portal.errors import InvalidInput
from portal.models import AuditEvent
from tests.access_requests.conftest import pdf_bytes, pdf_upload

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"
FAKES = {
    "text renamed .pdf": b"Ethics approval REC-2026-17: approved.\n" * 20,
    "a PNG image": PNG + b"\x00" * 200,
    "HTML with a %PDF header": b"%PDF-1.7\n<html><body>garbage, no objects, no xref</body></html>\n%%EOF\n",
    "an empty file": b"",
}


def _stored_files(settings) -> list[Path]:
    return [p for p in Path(settings.DOCUMENT_STORAGE_ROOT).rglob("*") if p.is_file()]


def _add_approval(application, actor, document):
    return svc.ethics_approval_add(
        actor=actor,
        application=application,
        committee_name="UL Research Ethics Committee",
        reference="REC-2026-99",
        approved_on=timezone.localdate() - timedelta(days=10),
        expires_on=timezone.localdate() + timedelta(days=900),
        covered_ids=list(application.requested.values_list("pk", flat=True)),
        document=document,
    )


@pytest.mark.parametrize("content", FAKES.values(), ids=FAKES.keys())
def test_it_refuses_a_fake_pdf_and_stores_nothing(content, draft, alice, settings):
    events = AuditEvent.objects.count()
    with pytest.raises(InvalidInput) as refused:
        _add_approval(draft, alice, SimpleUploadedFile("approval.pdf", content, content_type="application/pdf"))
    assert list(refused.value.fields) == ["document"]
    assert EthicsApproval.objects.count() == 0
    assert _stored_files(settings) == []
    assert AuditEvent.objects.count() == events


def test_it_refuses_an_oversized_pdf_and_stores_nothing(draft, alice, settings):
    content = pdf_bytes(pages=3)
    settings.MAX_UPLOAD_BYTES = len(content) - 1
    with pytest.raises(InvalidInput) as refused:
        _add_approval(draft, alice, SimpleUploadedFile("approval.pdf", content, content_type="application/pdf"))
    assert "larger than" in refused.value.fields["document"][0]
    assert EthicsApproval.objects.count() == 0
    assert _stored_files(settings) == []


def test_it_refuses_an_oversized_document_whose_upload_claims_no_size(settings):
    """The limit holds on the bytes read, not only on what the upload says of itself."""
    content = pdf_bytes(pages=3)
    settings.MAX_UPLOAD_BYTES = len(content) - 1
    with pytest.raises(InvalidInput, match="larger than"):
        pdf_validate(content=content, field="document")


@pytest.mark.parametrize("content", FAKES.values(), ids=FAKES.keys())
def test_it_refuses_a_fake_dpia_document_and_keeps_the_dpia_as_it_was(content, ready, alice, settings):
    stored_before = _stored_files(settings)
    with pytest.raises(InvalidInput) as refused:
        svc.dpia_update(
            actor=alice,
            application=ready,
            data={"conclusion": "Changed."},
            document=SimpleUploadedFile("dpia.pdf", content),
        )
    assert list(refused.value.fields) == ["document"]
    ready.dpia.refresh_from_db()
    assert (ready.dpia.conclusion, ready.dpia.document_path) == ("Processing may proceed.", "")
    assert _stored_files(settings) == stored_before


def test_it_stores_nothing_when_the_dpia_it_comes_with_is_invalid(ready, alice, settings):
    """A DPIA change refused after the document was read must not leave the document on disk."""
    stored_before = _stored_files(settings)
    with pytest.raises(ValidationError):
        svc.dpia_update(
            actor=alice, application=ready, data={"residual_risk": "extreme"}, document=pdf_upload("dpia.pdf")
        )
    assert _stored_files(settings) == stored_before


def test_it_stores_a_real_pdf_under_the_protected_root_with_its_sha256(draft, alice, settings):
    content = pdf_bytes(pages=2)
    approval = _add_approval(draft, alice, SimpleUploadedFile("REC approval.pdf", content))
    path = document_absolute_path(approval.document_path)
    root = Path(settings.DOCUMENT_STORAGE_ROOT).resolve()
    assert root in path.parents
    assert not Path(approval.document_path).is_absolute()
    assert approval.document_path.startswith(f"applications/{draft.reference}/")
    assert path.read_bytes() == content
    assert approval.document_sha256 == hashlib.sha256(content).hexdigest()
    assert (approval.document_size, approval.document_name) == (len(content), "REC approval.pdf")
    assert _stored_files(settings) == [path]
    event = AuditEvent.objects.get(verb="application.ethics_add")
    assert event.payload["sha256"] == approval.document_sha256
    assert event.payload["covers"] == ["LV-MG-001"]


def test_the_stored_name_never_comes_from_the_upload(draft, alice, settings):
    approval = _add_approval(draft, alice, SimpleUploadedFile("../../etc/evil.pdf", pdf_bytes()))
    assert approval.document_name == "evil.pdf"
    assert Path(approval.document_path).name != "evil.pdf"
    assert document_absolute_path(approval.document_path).is_file()


def test_it_refuses_a_path_outside_the_protected_root():
    with pytest.raises(FileNotFoundError):
        document_absolute_path("../../etc/passwd")


def test_it_stores_nothing_when_the_approval_it_comes_with_is_invalid(draft, alice, settings):
    """An approval refused after the document was read must not leave the document on disk."""
    with pytest.raises(ValidationError) as refused:
        svc.ethics_approval_add(
            actor=alice,
            application=draft,
            committee_name="UL Research Ethics Committee",
            reference="R" * 101,
            approved_on=timezone.localdate(),
            expires_on=timezone.localdate() + timedelta(days=400),
            covered_ids=[],
            document=pdf_upload(),
        )
    assert "reference" in refused.value.message_dict
    assert EthicsApproval.objects.count() == 0
    assert _stored_files(settings) == []
