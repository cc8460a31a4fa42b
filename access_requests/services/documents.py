"""Uploaded documents (ethics approvals, DPIA): real PDFs only, kept under DOCUMENT_STORAGE_ROOT.

That root is separate from DATASET_STORAGE_ROOT (the settings refuse one inside the other), so
dataset file registration, which is confined to a data holder's area there, never reaches them.

Judging. A document is accepted when pypdf reads it: it opens (with the empty password if it is
encrypted), its pages are counted and its trailer is read. Its bytes must also begin with the PDF
header, so that an HTML page (or anything else) with a PDF glued after it is refused even though
lenient readers, pypdf among them, find the PDF inside. Bytes after `%%EOF` are accepted: the
format allows incremental updates and many producers leave padding there.

Writing. A document reaches its final name only when the transaction that records it commits,
so a refused or rolled-back upload leaves nothing a row could point to. The order, and why:
  1. inside the transaction, after every other check, the bytes are written and fsynced to a
     staged file beside the final name (`<name>.pdf.staged`, same directory, same file system);
  2. the row is saved with the final name;
  3. on commit the staged file is renamed to the final name (atomic on one file system).
If the service's transaction fails, its staged files are removed at once (`documents_staged`).
If the process dies between the commit and the rename, the committed row names a file whose
bytes are already durable in the staged file: readers finish the rename
(`document_path_settled`), and so does `documents_staged_sweep`. The opposite order (writing only
after the commit) could lose the bytes in that window and leave a row pointing to nothing; this
order can at worst leave a stray staged file (an enclosing transaction rolled back, or a crash
before the commit), which is never served, because no row names it, and which the sweep removes.

Keeping. A document removed or replaced is deleted from storage after the commit unless a
submission's snapshot references it: what was submitted stays, read-only, in the application's
history and can still be downloaded from there (see `access_requests.downloads`).
"""

import hashlib
import io
import logging
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta
from functools import partial
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from portal.errors import InvalidInput

logger = logging.getLogger(__name__)

# The header is the file's first line (ISO 32000-2, 7.5.2). Before it we tolerate a UTF-8 byte-order
# mark and a few PDF white-space bytes, which some producers and transfers add; nothing else, so
# no HTML (or any other content) can precede a PDF that a lenient reader would find further on.
PDF_HEADER = re.compile(rb"%PDF-[12]\.[0-9]")
UTF8_BOM = b"\xef\xbb\xbf"
PDF_WHITESPACE = b"\x00\t\n\x0c\r "
MAX_LEADING_WHITESPACE = 16
STAGED_SUFFIX = ".staged"
# The key of a submission snapshot that lists the documents submitted (see services/snapshots.py).
SNAPSHOT_DOCUMENTS = "documents"
# The (model, field) pairs whose rows name a stored document: the sweep settles a staged file one
# of them names and removes the others. A model that keeps documents here adds its pair.
DOCUMENT_PATH_FIELDS: list[tuple[str, str]] = [
    ("access_requests.EthicsApproval", "document_path"),
    ("access_requests.Dpia", "document_path"),
    ("access_requests.DecisionLetter", "path"),
    ("access_requests.AgreementVersion", "path"),
    ("access_requests.Agreement", "executed_path"),
    ("access_requests.AgreementSignature", "scan_path"),
]


def _refuse(field: str, message: str):
    raise InvalidInput(message, fields={field: [message]})


def _too_large(field: str):
    _refuse(field, f"The document is larger than {settings.MAX_UPLOAD_BYTES // (1024 * 1024)} MiB.")


def _has_pdf_header(content: bytes) -> bool:
    body = content[len(UTF8_BOM) :] if content.startswith(UTF8_BOM) else content
    stripped = body.lstrip(PDF_WHITESPACE)
    return len(body) - len(stripped) <= MAX_LEADING_WHITESPACE and bool(PDF_HEADER.match(stripped))


def pdf_validate(*, content: bytes, field: str) -> None:
    """Refuse anything pypdf cannot read as a PDF, whatever its name says, or that is too large.

    Any exception pypdf raises (and any warning the runtime turns into one) becomes a field
    error: a hostile file must never make a server error. Repairs pypdf makes quietly (it logs
    them) are accepted, as a PDF viewer would.
    """
    if len(content) > settings.MAX_UPLOAD_BYTES:
        _too_large(field)
    if not content:
        _refuse(field, "The document is empty.")
    if not _has_pdf_header(content):
        _refuse(
            field,
            "The document is not a PDF file: a PDF begins with %PDF-, and this one does not "
            "(its content says otherwise, whatever its name).",
        )
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError

    try:
        reader = PdfReader(io.BytesIO(content), strict=False)
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise FileNotDecryptedError("a password is needed")
        pages = len(reader.pages)
        if "/Root" not in reader.trailer:
            raise ValueError("the trailer names no document catalogue")
    except FileNotDecryptedError:
        _refuse(
            field,
            "The PDF file is protected by a password. Upload a copy that opens without one "
            "(restrictions on printing or copying are fine).",
        )
    except DependencyError:
        logger.exception("A PDF's encryption needs a package that is missing (cryptography)")
        _refuse(field, "The PDF file's encryption cannot be read here. Upload a copy without encryption.")
    except Exception as exc:  # noqa: BLE001 - every failure to read a hostile file is the file's fault
        _refuse(field, f"The PDF file is damaged and cannot be read ({type(exc).__name__}).")
    if pages < 1:
        _refuse(field, "The PDF file has no pages.")


def _read_upload(upload, field: str) -> bytes:
    """The upload's bytes, never reading more than the size limit (plus one chunk) into memory."""
    if not hasattr(upload, "chunks"):
        _refuse(field, "Send the document as a file (a multipart/form-data upload), not as text.")
    limit = settings.MAX_UPLOAD_BYTES
    size = getattr(upload, "size", None)
    if size is not None and size > limit:
        _too_large(field)
    content = bytearray()
    for chunk in upload.chunks():
        if len(content) + len(chunk) > limit:
            _too_large(field)
        content += chunk
    return bytes(content)


def _staged(path: Path) -> Path:
    return path.with_name(path.name + STAGED_SUFFIX)


@contextmanager
def documents_staged() -> Iterator[list[Path]]:
    """Wrap a service's transaction: the files it staged are removed if the transaction fails.

    Use as `with documents_staged() as staged, transaction.atomic():` so that the commit (and the
    renames that follow it) happen before this block ends.
    """
    staged: list[Path] = []
    try:
        yield staged
    except BaseException:
        for path in staged:
            path.unlink(missing_ok=True)
        raise


def document_store(*, upload, field: str, folder: str, staged: list[Path]) -> dict:
    """Validate an uploaded PDF and stage it under DOCUMENT_STORAGE_ROOT/<folder>/; it takes its final
    name when the transaction commits (see the module's docstring for the order).

    Returns the relative path, original name, SHA-256 and size, for the model to keep.
    """
    content = _read_upload(upload, field)
    pdf_validate(content=content, field=field)
    name = Path((getattr(upload, "name", None) or "document.pdf").replace("\\", "/")).name[:200] or "document.pdf"
    return {**document_write(content=content, folder=folder, staged=staged), "name": name}


def document_write(*, content: bytes, folder: str, staged: list[Path]) -> dict:
    """Stage `content` under DOCUMENT_STORAGE_ROOT/<folder>/ with a fresh name; it takes its final
    name when the transaction commits. For uploads (after `pdf_validate`) and for the PDFs the
    portal generates itself (access_requests/services/generated.py). Returns path, SHA-256, size."""
    relative = f"{folder}/{uuid.uuid4().hex}.pdf"
    target = document_absolute_path(relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = _staged(target)
    staged.append(staging)
    with staging.open("xb") as stream:
        stream.write(content)
        stream.flush()
        os.fsync(stream.fileno())
    transaction.on_commit(partial(_document_settle, relative), robust=True)
    return {"path": relative, "sha256": hashlib.sha256(content).hexdigest(), "size": len(content)}


def _document_settle(relative: str) -> Path:
    """Give a committed document its final name (idempotent; safe when two callers race)."""
    path = document_absolute_path(relative)
    if not path.is_file():
        # Nothing staged: deleted, or another caller renamed it first.
        with suppress(FileNotFoundError):
            os.replace(_staged(path), path)
    return path


def document_path_settled(relative: str) -> Path:
    """The file of a document whose row the caller has read, finishing a rename a crash cut short.

    A row can be read only once its transaction committed (or from inside it), so its staged
    bytes are the document's own. Raises FileNotFoundError for a path outside the root."""
    return _document_settle(relative)


def document_absolute_path(relative: str) -> Path:
    root = Path(settings.DOCUMENT_STORAGE_ROOT).resolve()
    path = (root / relative).resolve()
    if root not in path.parents or path.is_relative_to(Path(settings.DATASET_STORAGE_ROOT).resolve()):
        raise FileNotFoundError(relative)  # outside the documents root, or a link into the dataset storage
    return path


def documents_delete(relatives: list[str]) -> None:
    """Remove stored documents (after the transaction that dropped their rows committed)."""
    for relative in relatives:
        try:
            path = document_absolute_path(relative)
        except FileNotFoundError:
            continue
        path.unlink(missing_ok=True)
        _staged(path).unlink(missing_ok=True)


def documents_submitted(application) -> set[str] | None:
    """Paths of the documents any submission of the application references; None when a snapshot
    predates document references, so that nothing possibly submitted is ever deleted."""
    paths: set[str] = set()
    for snapshot in application.submissions.values_list("snapshot", flat=True):
        documents = snapshot.get(SNAPSHOT_DOCUMENTS) if isinstance(snapshot, dict) else None
        if documents is None:
            return None
        paths.update(d["path"] for d in documents if d.get("path"))
    return paths


def document_release(*, application, relative: str) -> bool:
    """A document leaves the current application (removed or replaced): delete its file after the
    commit unless a submission references it, which keeps it in the history. Call inside the
    transaction, with the application's row locked (so no submission can happen meanwhile).
    Answers whether the file will be deleted."""
    if not relative:
        return False
    submitted = documents_submitted(application)
    if submitted is None or relative in submitted:
        return False
    transaction.on_commit(partial(documents_delete, [relative]), robust=True)
    return True


def documents_staged_sweep(*, older_than: timedelta = timedelta(hours=1)) -> dict[str, int]:
    """Tidy what a crash or an enclosing rollback left: rename the staged files that a row or a
    submission names, remove the others once they are older than `older_than` (an upload may be
    in flight). Safe to run twice."""
    from django.apps import apps

    from access_requests.models import Application

    try:
        folder = document_absolute_path("applications")
    except FileNotFoundError:
        return {"settled": 0, "removed": 0}
    cutoff = (timezone.now() - older_than).timestamp()
    settled = removed = 0
    for staged in sorted(folder.rglob(f"*{STAGED_SUFFIX}")):
        relative = str(staged.relative_to(folder.parent))[: -len(STAGED_SUFFIX)]
        application = Application.objects.filter(reference=staged.parent.name).first()
        submitted = documents_submitted(application) if application is not None else set()
        named = (
            any(
                apps.get_model(label).objects.filter(**{field: relative}).exists()
                for label, field in DOCUMENT_PATH_FIELDS
            )
            or submitted is None  # a snapshot older than document references: keep what it may name
            or relative in submitted
        )
        if named:
            _document_settle(relative)
            settled += 1
        elif staged.stat().st_mtime < cutoff:
            staged.unlink(missing_ok=True)
            removed += 1
    return {"settled": settled, "removed": removed}
