"""PDFs the portal writes itself (decision letters, data-access agreements): rendered from a
template in `templates/` with WeasyPrint, kept under DOCUMENT_STORAGE_ROOT beside the uploaded
documents and written the same way (staged, renamed when the recording transaction commits).

Rendering happens in Celery tasks, never in a request: a task renders the bytes outside any
transaction, then records them (path, SHA-256, size) in one transaction with its audit event.
The fonts are the system's DejaVu faces, so the same template renders the same text on any
machine that installed the portal; nothing is fetched from the network while rendering.
"""

from pathlib import Path

from django.conf import settings
from django.template.loader import render_to_string

from access_requests.services.documents import document_write


def _fetcher():
    """WeasyPrint's URL fetcher for the portal's documents: they carry their own styles, so it may
    read `data:` URLs only (no file, no network: a template can never pull anything in)."""
    from weasyprint.urls import URLFetcher

    return URLFetcher(allowed_protocols={"data"}, allow_redirects=False)


def pdf_render(template: str, context: dict) -> bytes:
    """The PDF of `template` (an HTML template under templates/) rendered with `context`."""
    from weasyprint import HTML

    html = render_to_string(template, {"site_name": settings.SITE_NAME, "site_url": settings.SITE_URL, **context})
    return HTML(string=html, base_url=str(Path(settings.BASE_DIR)), url_fetcher=_fetcher()).write_pdf()


def generated_store(*, content: bytes, folder: str, staged: list[Path]) -> dict:
    """Stage a generated PDF under DOCUMENT_STORAGE_ROOT/<folder>/ (final when the transaction
    commits); returns its relative path, SHA-256 and size for the row that records it. Use inside
    `with documents_staged() as staged, transaction.atomic():`, and add the recording model's
    (label, field) to `documents.DOCUMENT_PATH_FIELDS` so the staged-file sweep keeps it."""
    return document_write(content=content, folder=folder, staged=staged)
