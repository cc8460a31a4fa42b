"""Uploaded documents: judged by parsing (real PDFs only, within the size limit), written to storage
only when their transaction commits, deleted when removed before any submission, kept in the
history once a submission included them. Each upload is tried through the service, the page
and the API; every refusal is a field error (400), never a server error, and leaves no file."""

import hashlib
import io
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfWriter
from rest_framework.test import APIClient

from access_requests.models import Application, EthicsApproval, Submission
from access_requests.services import applications as svc
from access_requests.services.documents import (
    document_absolute_path,
    document_path_settled,
    documents_staged_sweep,
    pdf_validate,
)
from access_requests.services.transitions import application_return, application_submit
from portal.errors import InvalidInput
from portal.models import AuditEvent
from tests.access_requests.conftest import pdf_bytes, pdf_upload
from tests.helpers import last_event

API = "/api/v1/applications/"


def _pdf(*, encrypt: dict | None = None, pages: int = 1) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    if encrypt:
        writer.encrypt(**encrypt)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


PLAIN = _pdf()
AES_OPEN = _pdf(encrypt={"user_password": "", "owner_password": "x", "algorithm": "AES-256"})
AES_LOCKED = _pdf(encrypt={"user_password": "secret", "owner_password": "x", "algorithm": "AES-256"})
GLUED_HTML = b"<!DOCTYPE html>\n<html><body><p>Ethics approval: granted.</p></body></html>\n" + PLAIN
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"

ACCEPTED = {
    "a plain PDF": PLAIN,
    "AES-256 opening with the empty password": AES_OPEN,
    "bytes after %%EOF": PLAIN + b"\n<html><body>a mail footer</body></html>\n" * 200,
    "a byte-order mark and a line break before the header": b"\xef\xbb\xbf\r\n" + PLAIN,
}
# Each refusal with a phrase of its message.
REFUSED = {
    "an HTML page with a PDF glued after it": (GLUED_HTML, "begins with %PDF-"),
    "a PDF that needs a password": (AES_LOCKED, "protected by a password"),
    "a truncated PDF": (PLAIN[: len(PLAIN) // 2], "damaged"),
    "HTML with a %PDF header": (b"%PDF-1.7\n<html><body>no objects, no xref</body></html>\n%%EOF\n", "damaged"),
    "text renamed .pdf": (b"Ethics approval REC-2026-17: approved.\n" * 20, "begins with %PDF-"),
    "a PNG image": (PNG + b"\x00" * 200, "begins with %PDF-"),
    "more white space before the header than allowed": (b" " * 17 + PLAIN, "begins with %PDF-"),
    "an empty file": (b"", "empty"),
}


def _stored_files(settings) -> list[Path]:
    return sorted(p for p in Path(settings.DOCUMENT_STORAGE_ROOT).rglob("*") if p.is_file())


def _add_approval(application, actor, document, reference="REC-2026-99"):
    return svc.ethics_approval_add(
        actor=actor,
        application=application,
        committee_name="UL Research Ethics Committee",
        reference=reference,
        approved_on=timezone.localdate() - timedelta(days=10),
        expires_on=timezone.localdate() + timedelta(days=900),
        covered_ids=list(application.requested.values_list("pk", flat=True)),
        document=document,
    )


def _upload(content: bytes, name: str = "approval.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def _url(name: str, *args) -> str:
    return reverse(f"access_requests:{name}", args=args)


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _ethics_page_post(application, document) -> dict:
    data = {
        "committee_name": "UL REC",
        "reference": "REC-1",
        "approved_on": str(timezone.localdate() - timedelta(days=3)),
        "expires_on": str(timezone.localdate() + timedelta(days=900)),
        "datasets": [str(item.pk) for item in application.requested.all()],
    }
    if document is not None:
        data["document"] = document
    return data


def _ethics_api_form(document) -> dict:
    form = {
        "committee_name": "UL Research Ethics Committee",
        "reference": "REC-2026-42",
        "approved_on": str(timezone.localdate() - timedelta(days=5)),
        "expires_on": str(timezone.localdate() + timedelta(days=900)),
        "datasets": ["LV-MG-001"],
    }
    if document is not None:
        form["document"] = document
    return form


def _downloaded(response) -> bytes:
    assert response.status_code == 200, getattr(response, "content", b"")[:300]
    return b"".join(response.streaming_content)


# --- what is a PDF: through the service ------------------------------------------------------


@pytest.mark.parametrize("content", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_the_service_accepts_a_pdf_that_pypdf_reads(
    content, draft, alice, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        approval = _add_approval(draft, alice, _upload(content))
    path = document_absolute_path(approval.document_path)
    assert path.read_bytes() == content
    assert approval.document_sha256 == hashlib.sha256(content).hexdigest()
    assert _stored_files(settings) == [path]
    assert last_event("application.ethics_add").payload["sha256"] == approval.document_sha256


@pytest.mark.parametrize(("content", "message"), REFUSED.values(), ids=REFUSED.keys())
def test_the_service_refuses_what_is_not_a_readable_pdf_and_stores_nothing(
    content, message, draft, alice, settings, django_capture_on_commit_callbacks
):
    events = AuditEvent.objects.count()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(InvalidInput) as refused:
        _add_approval(draft, alice, _upload(content))
    assert list(refused.value.fields) == ["document"]
    assert message in refused.value.fields["document"][0]
    assert EthicsApproval.objects.count() == 0
    assert _stored_files(settings) == []
    assert AuditEvent.objects.count() == events


@pytest.mark.parametrize(("content", "message"), REFUSED.values(), ids=REFUSED.keys())
def test_the_service_refuses_a_bad_dpia_document_and_keeps_the_dpia_as_it_was(
    content, message, ready, alice, settings, django_capture_on_commit_callbacks
):
    stored_before = _stored_files(settings)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(InvalidInput) as refused:
        svc.dpia_update(actor=alice, application=ready, data={"conclusion": "Changed."}, document=_upload(content))
    assert message in refused.value.fields["document"][0]
    ready.dpia.refresh_from_db()
    assert (ready.dpia.conclusion, ready.dpia.document_path) == ("Processing may proceed.", "")
    assert _stored_files(settings) == stored_before


def test_the_password_refusal_says_what_to_do():
    with pytest.raises(InvalidInput) as refused:
        pdf_validate(content=AES_LOCKED, field="document")
    assert refused.value.message == (
        "The PDF file is protected by a password. Upload a copy that opens without one "
        "(restrictions on printing or copying are fine)."
    )


@pytest.mark.parametrize(
    "failure",
    [UserWarning("a pypdf warning turned into an error"), RecursionError("deep"), AttributeError("odd file")],
    ids=["a warning raised as an error", "a recursion error", "an unexpected exception"],
)
def test_anything_pypdf_raises_becomes_a_field_error(failure, monkeypatch):
    import pypdf

    def reader(*args, **kwargs):
        raise failure

    monkeypatch.setattr(pypdf, "PdfReader", reader)
    with pytest.raises(InvalidInput) as refused:
        pdf_validate(content=PLAIN, field="document")
    assert refused.value.fields == {
        "document": [f"The PDF file is damaged and cannot be read ({type(failure).__name__})."]
    }


def test_it_refuses_an_oversized_pdf_and_stores_nothing(draft, alice, settings):
    content = pdf_bytes(pages=3)
    settings.MAX_UPLOAD_BYTES = len(content) - 1
    with pytest.raises(InvalidInput) as refused:
        _add_approval(draft, alice, _upload(content))
    assert "larger than" in refused.value.fields["document"][0]
    assert EthicsApproval.objects.count() == 0
    assert _stored_files(settings) == []


def test_it_refuses_an_oversized_document_whose_upload_claims_no_size(settings):
    """The limit holds on the bytes read, not only on what the upload says of itself."""
    content = pdf_bytes(pages=3)
    settings.MAX_UPLOAD_BYTES = len(content) - 1
    with pytest.raises(InvalidInput, match="larger than"):
        pdf_validate(content=content, field="document")


class EndlessUpload:
    """An upload that never ends and does not say its size: reading must stop at the limit."""

    name = "endless.pdf"  # and no `size` at all

    def __init__(self):
        self.chunks_read = 0

    def chunks(self):
        while True:
            self.chunks_read += 1
            yield b"%PDF-1.7\n" + b"0" * (64 * 1024 - 9)


def test_it_never_reads_more_than_the_limit_into_memory(draft, alice, settings):
    settings.MAX_UPLOAD_BYTES = 256 * 1024
    upload = EndlessUpload()
    with pytest.raises(InvalidInput, match="larger than"):
        _add_approval(draft, alice, upload)
    assert upload.chunks_read == 5  # four chunks fill the limit; the fifth would pass it
    assert _stored_files(settings) == []


def test_the_service_refuses_a_value_that_is_not_a_file(draft, alice, settings):
    with pytest.raises(InvalidInput) as refused:
        _add_approval(draft, alice, "JVBERi0xLjcK")
    assert refused.value.fields == {
        "document": ["Send the document as a file (a multipart/form-data upload), not as text."]
    }
    assert _stored_files(settings) == []


def test_it_stores_nothing_when_the_dpia_it_comes_with_is_invalid(ready, alice, settings):
    """A DPIA change refused after the document was read must not leave the document on disk."""
    stored_before = _stored_files(settings)
    with pytest.raises(ValidationError):
        svc.dpia_update(
            actor=alice, application=ready, data={"residual_risk": "extreme"}, document=pdf_upload("dpia.pdf")
        )
    assert _stored_files(settings) == stored_before


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


def test_it_stores_a_real_pdf_under_the_protected_root_with_its_sha256(
    draft, alice, settings, django_capture_on_commit_callbacks
):
    content = pdf_bytes(pages=2)
    with django_capture_on_commit_callbacks(execute=True):
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


def test_the_stored_name_never_comes_from_the_upload(draft, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        approval = _add_approval(draft, alice, SimpleUploadedFile("../../etc/evil.pdf", pdf_bytes()))
    assert approval.document_name == "evil.pdf"
    assert Path(approval.document_path).name != "evil.pdf"
    assert document_absolute_path(approval.document_path).is_file()


def test_it_refuses_a_path_outside_the_protected_root():
    with pytest.raises(FileNotFoundError):
        document_absolute_path("../../etc/passwd")


# --- written when the transaction commits ----------------------------------------------------


def test_the_document_takes_its_name_only_when_the_transaction_commits(
    draft, alice, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as on_commit:
        approval = _add_approval(draft, alice, _upload(PLAIN))
    final = document_absolute_path(approval.document_path)
    staged = final.with_name(final.name + ".staged")
    assert not final.exists()
    assert _stored_files(settings) == [staged]  # the bytes are durable before the commit, under another name
    for callback in on_commit:
        callback()
    assert _stored_files(settings) == [final]
    assert final.read_bytes() == PLAIN


def test_a_failure_after_the_document_was_staged_leaves_no_file(draft, alice, settings, monkeypatch):
    def audit_fails(**kwargs):
        raise RuntimeError("the audit chain is unavailable")

    monkeypatch.setattr(svc, "audit_record", audit_fails)
    with pytest.raises(RuntimeError):
        _add_approval(draft, alice, _upload(PLAIN))
    with pytest.raises(RuntimeError):
        svc.dpia_update(actor=alice, application=draft, data={}, document=_upload(PLAIN, "dpia.pdf"))
    assert EthicsApproval.objects.count() == 0
    assert Application.objects.get(pk=draft.pk).dpia.document_path == ""
    assert _stored_files(settings) == []


@pytest.mark.django_db(transaction=True)
def test_a_committed_upload_is_in_place_at_once_and_a_rolled_back_one_never_is(draft, alice, settings, client):
    approval = _add_approval(draft, alice, _upload(PLAIN))
    kept = document_absolute_path(approval.document_path)
    assert _stored_files(settings) == [kept]

    class Abandon(Exception):
        pass

    with pytest.raises(Abandon), transaction.atomic():
        abandoned = _add_approval(draft, alice, _upload(AES_OPEN), reference="REC-ROLLED-BACK")
        raise Abandon
    assert list(EthicsApproval.objects.values_list("pk", flat=True)) == [approval.pk]
    assert not document_absolute_path(abandoned.document_path).exists()
    client.force_login(alice)
    assert client.get(_url("document-ethics", draft.pk, abandoned.pk)).status_code == 404
    # What an enclosing rollback strands is a staged file no row names; the sweep removes it.
    assert documents_staged_sweep(older_than=timedelta(0)) == {"settled": 0, "removed": 1}
    assert _stored_files(settings) == [kept]


def test_a_crash_between_commit_and_rename_leaves_the_document_readable(
    draft, alice, as_user, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):  # the process "dies" before the rename
        approval = _add_approval(draft, alice, _upload(PLAIN))
    final = document_absolute_path(approval.document_path)
    assert not final.exists()
    assert _downloaded(as_user(alice).get(_url("document-ethics", draft.pk, approval.pk))) == PLAIN
    assert _stored_files(settings) == [final]


def test_the_sweep_finishes_renames_and_removes_only_old_strays(
    draft, alice, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        approval = _add_approval(draft, alice, _upload(PLAIN))
    folder = document_absolute_path(f"applications/{draft.reference}")
    old_stray, new_stray = folder / "0old.pdf.staged", folder / "1new.pdf.staged"
    old_stray.write_bytes(PLAIN)
    new_stray.write_bytes(PLAIN)
    hours_ago = time.time() - 7200
    os.utime(old_stray, (hours_ago, hours_ago))
    assert documents_staged_sweep() == {"settled": 1, "removed": 1}
    assert _stored_files(settings) == sorted([new_stray, document_absolute_path(approval.document_path)])
    assert documents_staged_sweep() == {"settled": 0, "removed": 0}


# --- removed or replaced: deleted before any submission, kept in the history after -----------


@pytest.fixture
def as_user(client):
    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


def test_an_approval_removed_before_any_submission_is_deleted_from_storage(
    draft, alice, as_user, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        approval = _add_approval(draft, alice, _upload(PLAIN))
    path, pk = document_absolute_path(approval.document_path), approval.pk
    assert path.is_file()
    with django_capture_on_commit_callbacks(execute=True):
        svc.ethics_approval_remove(actor=alice, application=draft, approval=approval)
    assert _stored_files(settings) == []
    assert last_event("application.ethics_remove").payload["document"] == "deleted"
    assert as_user(alice).get(_url("document-ethics", draft.pk, pk)).status_code == 404
    assert _api(alice).get(f"{API}{draft.pk}/ethics/{pk}/document/").status_code == 404


def test_the_file_of_a_removed_approval_stays_until_the_removal_commits(
    draft, alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        approval = _add_approval(draft, alice, _upload(PLAIN))
    path = document_absolute_path(approval.document_path)
    with django_capture_on_commit_callbacks(execute=False) as on_commit:
        svc.ethics_approval_remove(actor=alice, application=draft, approval=approval)
    assert path.is_file()
    for callback in on_commit:
        callback()
    assert not path.exists()


def test_a_dpia_document_replaced_before_any_submission_is_deleted_from_storage(
    draft, alice, as_user, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = svc.dpia_update(actor=alice, application=draft, data={}, document=_upload(PLAIN, "first.pdf"))
    old = document_absolute_path(first.document_path)
    with django_capture_on_commit_callbacks(execute=True):
        second = svc.dpia_update(actor=alice, application=draft, data={}, document=_upload(AES_OPEN, "second.pdf"))
    assert _stored_files(settings) == [document_absolute_path(second.document_path)]
    assert not old.exists()
    assert _downloaded(as_user(alice).get(_url("document-dpia", draft.pk))) == AES_OPEN


def test_a_submitted_approval_removed_on_return_stays_downloadable_from_the_history(
    returned, alice, rdo, charlie, as_user, settings, django_capture_on_commit_callbacks
):
    approval = returned.ethics_approvals.get()
    path = document_path_settled(approval.document_path)
    content = path.read_bytes()
    with django_capture_on_commit_callbacks(execute=True):
        svc.ethics_approval_remove(actor=alice, application=returned, approval=returned.ethics_approvals.get())
    assert not returned.ethics_approvals.exists()
    assert path.read_bytes() == content
    assert last_event("application.ethics_remove").payload["document"] == "kept in the submission history"
    page_url = _url("document-ethics", returned.pk, approval.pk)
    api_url = f"{API}{returned.pk}/ethics/{approval.pk}/document/"
    for user in (alice, rdo):
        assert _downloaded(as_user(user).get(page_url)) == content
        event = last_event("document.view")
        assert (event.actor, event.payload["submission"]) == (user, 1)
        assert event.payload["sha256"] == approval.document_sha256
        assert _downloaded(as_user(user).get(page_url + "?submission=1")) == content
        assert _downloaded(_api(user).get(api_url)) == content
        assert _downloaded(_api(user).get(api_url + "?submission=1")) == content
    assert as_user(charlie).get(_url("document-ethics", returned.pk, approval.pk)).status_code == 404
    assert _api(charlie).get(f"{API}{returned.pk}/ethics/{approval.pk}/document/").status_code == 404
    assert last_event("document.view").actor == rdo


def test_a_replaced_dpia_document_stays_in_the_history_of_the_submission_that_had_it(
    ready, alice, rdo, as_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        svc.dpia_update(actor=alice, application=ready, data={}, document=_upload(PLAIN, "dpia-v1.pdf"))
        application_submit(actor=alice, application=ready)
        application_return(actor=rdo, application=ready, comments={"dpia": "Attach the signed DPIA."})
        svc.dpia_update(actor=alice, application=ready, data={}, document=_upload(AES_OPEN, "dpia-v2.pdf"))
    client = as_user(rdo)
    assert _downloaded(client.get(_url("document-dpia", ready.pk))) == AES_OPEN
    assert _downloaded(client.get(_url("document-dpia", ready.pk) + "?submission=1")) == PLAIN
    assert last_event("document.view").payload == {
        "document": "dpia-v1.pdf",
        "kind": "dpia",
        "sha256": hashlib.sha256(PLAIN).hexdigest(),
        "submission": 1,
    }
    assert _downloaded(_api(rdo).get(f"{API}{ready.pk}/dpia/document/?submission=1")) == PLAIN


def test_a_document_added_after_a_submission_and_removed_before_the_next_is_deleted(
    returned, alice, as_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        added = _add_approval(returned, alice, _upload(AES_OPEN), reference="REC-LATE")
    path, pk = document_absolute_path(added.document_path), added.pk
    with django_capture_on_commit_callbacks(execute=True):
        svc.ethics_approval_remove(actor=alice, application=returned, approval=added)
    assert not path.exists()
    assert as_user(alice).get(_url("document-ethics", returned.pk, pk)).status_code == 404


def test_a_submission_snapshot_lists_its_documents_outside_the_sections(submitted):
    snapshot = Submission.objects.get(application=submitted).snapshot
    approval = submitted.ethics_approvals.get()
    assert snapshot["documents"] == [
        {
            "kind": "ethics",
            "approval": approval.pk,
            "path": approval.document_path,
            "name": approval.document_name,
            "sha256": approval.document_sha256,
            "size": approval.document_size,
        }
    ]


def test_a_snapshot_older_than_document_references_keeps_every_document(
    returned, alice, django_capture_on_commit_callbacks
):
    submission = Submission.objects.get(application=returned)
    submission.snapshot.pop("documents")
    submission.save(update_fields=["snapshot"])
    approval = returned.ethics_approvals.get()
    path = document_path_settled(approval.document_path)
    with django_capture_on_commit_callbacks(execute=True):
        svc.ethics_approval_remove(actor=alice, application=returned, approval=approval)
    assert path.is_file()


@pytest.mark.parametrize("asked", ["abc", "0", "-1", "2", "99999999999"])
def test_a_submission_that_does_not_have_the_document_answers_404(asked, returned, alice, as_user):
    approval = returned.ethics_approvals.get()
    client = as_user(alice)
    assert client.get(_url("document-ethics", returned.pk, approval.pk) + f"?submission={asked}").status_code == 404
    assert client.get(_url("document-dpia", returned.pk) + f"?submission={asked}").status_code == 404
    response = _api(alice).get(f"{API}{returned.pk}/ethics/{approval.pk}/document/?submission={asked}")
    assert (response.status_code, "detail" in response.json()) == (404, True)


# --- the pages: a form error, never a server error -------------------------------------------


@pytest.mark.parametrize("content", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_the_ethics_page_accepts_a_pdf_that_pypdf_reads(
    content, draft, alice, as_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_user(alice).post(
            _url("section-edit", draft.pk, "ethics"), _ethics_page_post(draft, _upload(content))
        )
    assert response.status_code == 302
    approval = draft.ethics_approvals.get()
    assert document_absolute_path(approval.document_path).read_bytes() == content


# What the request carries in the file field (bytes are sent as a file), and a phrase of the error.
PAGE_REFUSALS = {
    **REFUSED,
    "no file in the request": (None, "This field is required."),
    "text in the file field": ("%PDF-1.7 pretending", "This field is required."),
}


@pytest.mark.parametrize(("document", "message"), PAGE_REFUSALS.values(), ids=PAGE_REFUSALS.keys())
def test_the_ethics_page_shows_a_bad_upload_as_a_field_error(
    document, message, draft, alice, as_user, settings, django_capture_on_commit_callbacks
):
    if isinstance(document, bytes):
        document = _upload(document)
    with django_capture_on_commit_callbacks(execute=True):
        response = as_user(alice).post(_url("section-edit", draft.pk, "ethics"), _ethics_page_post(draft, document))
    assert response.status_code == 400
    assert message in response.context["form"].errors["document"][0]
    assert not draft.ethics_approvals.exists()
    assert _stored_files(settings) == []


def test_the_ethics_page_refuses_an_oversized_upload_as_a_field_error(draft, alice, as_user, settings):
    settings.MAX_UPLOAD_BYTES = len(PLAIN) - 1
    response = as_user(alice).post(_url("section-edit", draft.pk, "ethics"), _ethics_page_post(draft, _upload(PLAIN)))
    assert response.status_code == 400
    assert "larger than" in response.context["form"].errors["document"][0]
    assert _stored_files(settings) == []


@pytest.mark.parametrize(("content", "message"), REFUSED.values(), ids=REFUSED.keys())
def test_the_dpia_page_shows_a_bad_upload_as_a_field_error(content, message, draft, alice, as_user, settings):
    response = as_user(alice).post(_url("section-edit", draft.pk, "dpia"), {"document": _upload(content)})
    assert response.status_code == 400
    assert message in response.context["form"].errors["document"][0]
    assert Application.objects.get(pk=draft.pk).dpia.document_path == ""
    assert _stored_files(settings) == []


def test_the_dpia_page_has_no_clear_checkbox_that_could_reach_the_service(draft, alice, as_user, settings):
    response = as_user(alice).post(_url("section-edit", draft.pk, "dpia"), {"document-clear": "on"})
    assert response.status_code == 302
    assert Application.objects.get(pk=draft.pk).dpia.document_path == ""


def test_the_dpia_page_accepts_an_aes_pdf(draft, alice, as_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_user(alice).post(_url("section-edit", draft.pk, "dpia"), {"document": _upload(AES_OPEN)})
    assert response.status_code == 302
    assert _downloaded(as_user(alice).get(_url("document-dpia", draft.pk))) == AES_OPEN


# --- the API: 400 with a JSON body, never a server error -------------------------------------


@pytest.mark.parametrize("content", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_the_api_accepts_a_pdf_that_pypdf_reads(content, draft, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = _api(alice).post(f"{API}{draft.pk}/ethics/", _ethics_api_form(_upload(content)), format="multipart")
    assert response.status_code == 201, response.content
    assert response.json()["document"]["sha256"] == hashlib.sha256(content).hexdigest()
    approval = draft.ethics_approvals.get()
    assert document_absolute_path(approval.document_path).read_bytes() == content


API_REFUSALS = {
    **REFUSED,
    "no file in the request": (None, "No file was submitted."),
    "text in the file field": ("%PDF-1.7 pretending", "The submitted data was not a file."),
}


@pytest.mark.parametrize(("document", "message"), API_REFUSALS.values(), ids=API_REFUSALS.keys())
def test_the_api_answers_400_json_for_a_bad_ethics_upload(document, message, draft, alice, settings):
    if isinstance(document, bytes):
        document = _upload(document)
    response = _api(alice).post(f"{API}{draft.pk}/ethics/", _ethics_api_form(document), format="multipart")
    assert response.status_code == 400, response.content
    body = response.json()
    assert (body["code"], bool(body["detail"])) == ("invalid", True)
    assert message in body["errors"]["document"][0]
    assert not draft.ethics_approvals.exists()
    assert _stored_files(settings) == []


def test_the_api_answers_400_json_for_an_oversized_upload(draft, alice, settings):
    settings.MAX_UPLOAD_BYTES = len(PLAIN) - 1
    response = _api(alice).post(f"{API}{draft.pk}/ethics/", _ethics_api_form(_upload(PLAIN)), format="multipart")
    assert response.status_code == 400
    assert "larger than" in response.json()["errors"]["document"][0]
    assert _stored_files(settings) == []


def test_the_api_answers_400_json_for_a_json_body_sent_to_the_upload(draft, alice, settings):
    body = _ethics_api_form("JVBERi0xLjcK")
    response = _api(alice).post(f"{API}{draft.pk}/ethics/", body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["document"] == [
        "The submitted data was not a file. Check the encoding type on the form."
    ]
    assert _stored_files(settings) == []


@pytest.mark.parametrize(("content", "message"), REFUSED.values(), ids=REFUSED.keys())
def test_the_api_answers_400_json_for_a_bad_dpia_document(content, message, draft, alice, settings):
    response = _api(alice).patch(f"{API}{draft.pk}/dpia/", {"document": _upload(content)}, format="multipart")
    assert response.status_code == 400, response.content
    assert message in response.json()["errors"]["document"][0]
    assert Application.objects.get(pk=draft.pk).dpia.document_path == ""
    assert _stored_files(settings) == []


def test_the_api_answers_400_json_for_a_dpia_document_sent_as_json_text(draft, alice, settings):
    response = _api(alice).patch(f"{API}{draft.pk}/dpia/", {"document": "JVBERi0xLjcK"}, format="json")
    assert response.status_code == 400
    assert "not a file" in response.json()["errors"]["document"][0]
    assert _stored_files(settings) == []


def test_the_api_accepts_an_aes_dpia_document(draft, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = _api(alice).patch(f"{API}{draft.pk}/dpia/", {"document": _upload(AES_OPEN)}, format="multipart")
    assert response.status_code == 200, response.content
    assert _downloaded(_api(alice).get(f"{API}{draft.pk}/dpia/document/")) == AES_OPEN


def test_a_malformed_multipart_body_is_a_400_on_the_page_and_in_the_api(draft, alice, as_user, settings):
    page = as_user(alice).generic(
        "POST", _url("section-edit", draft.pk, "ethics"), b"--x\r\ngarbage", content_type="multipart/form-data"
    )
    assert page.status_code == 400
    response = _api(alice).generic(
        "POST", f"{API}{draft.pk}/ethics/", b"--x\r\ngarbage", content_type="multipart/form-data"
    )
    assert response.status_code == 400
    assert "Multipart form parse error" in response.json()["detail"]
    assert _stored_files(settings) == []
