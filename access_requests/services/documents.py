"""Uploaded documents (ethics approvals, DPIA): real PDFs only, kept under DOCUMENT_STORAGE_ROOT.

That root is separate from DATASET_STORAGE_ROOT (the settings refuse one inside the other), so
dataset file registration, which is confined to a data holder's area there, never reaches them.
"""

import hashlib
import io
import uuid
from pathlib import Path

from django.conf import settings

from portal.errors import InvalidInput


def _refuse(field: str, message: str):
    raise InvalidInput(message, fields={field: [message]})


def pdf_validate(*, content: bytes, field: str) -> None:
    """Refuse anything that is not really a PDF, whatever its name says, or that is too large."""
    if len(content) > settings.MAX_UPLOAD_BYTES:
        _refuse(field, f"The document is larger than {settings.MAX_UPLOAD_BYTES // (1024 * 1024)} MiB.")
    if not content:
        _refuse(field, "The document is empty.")
    if b"%PDF-" not in content[:1024] or b"%%EOF" not in content[-2048:]:
        _refuse(field, "The document is not a PDF file (its content says otherwise, whatever its name).")
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        pages = len(PdfReader(io.BytesIO(content), strict=False).pages)
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        _refuse(field, f"The PDF file is damaged and cannot be read ({type(exc).__name__}).")
    if pages < 1:
        _refuse(field, "The PDF file has no pages.")


def document_store(*, upload, field: str, folder: str) -> dict:
    """Validate and store an uploaded PDF under DOCUMENT_STORAGE_ROOT/<folder>/.

    Returns the relative path, original name, SHA-256 and size, for the model to keep.
    """
    if upload.size is not None and upload.size > settings.MAX_UPLOAD_BYTES:
        _refuse(field, f"The document is larger than {settings.MAX_UPLOAD_BYTES // (1024 * 1024)} MiB.")
    content = upload.read()
    pdf_validate(content=content, field=field)
    relative = Path(folder) / f"{uuid.uuid4().hex}.pdf"
    target = Path(settings.DOCUMENT_STORAGE_ROOT) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    name = Path(upload.name or "document.pdf").name[:200]
    return {
        "path": str(relative),
        "name": name,
        "sha256": hashlib.sha256(content).hexdigest(),
        "size": len(content),
    }


def document_absolute_path(relative: str) -> Path:
    root = Path(settings.DOCUMENT_STORAGE_ROOT).resolve()
    path = (root / relative).resolve()
    if root not in path.parents or path.is_relative_to(Path(settings.DATASET_STORAGE_ROOT).resolve()):
        raise FileNotFoundError(relative)  # outside the documents root, or a link into the dataset storage
    return path


def documents_delete(relatives: list[str]) -> None:
    """Remove stored documents of a deleted draft (after its transaction committed)."""
    for relative in relatives:
        try:
            document_absolute_path(relative).unlink(missing_ok=True)
        except FileNotFoundError:
            continue
