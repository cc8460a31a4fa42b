"""Serving an application's documents to people, pages and API alike.

Only callers who passed `application_get_for` reach these. Every opening is recorded as a
`document.view` audit event before any byte leaves, so staff reads are on the record as well
as changes. In nginx mode the web server sends the file (X-Accel-Redirect); otherwise
FileResponse streams it (sendfile under gunicorn): never read into memory here.
"""

from django.conf import settings
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.http import content_disposition_header

from access_requests.models import Application
from access_requests.services.documents import document_absolute_path
from portal.services.audit import audit_record


def document_response(request, application: Application, *, kind: str, relative: str, name: str, sha256: str):
    """Stream a document from DOCUMENT_STORAGE_ROOT, recorded as `document.view` before any byte leaves
    (the same event the pages record). In nginx mode the web server sends it (X-Accel-Redirect);
    otherwise FileResponse streams it (sendfile under gunicorn): never read into memory here."""
    try:
        path = document_absolute_path(relative)
    except FileNotFoundError:
        raise Http404("The document is missing from the storage.")
    if not path.is_file():
        raise Http404("The document is missing from the storage.")
    audit_record(
        actor=request.user,
        verb="document.view",
        target=application,
        payload={"document": name, "kind": kind, "sha256": sha256},
    )
    if settings.PROTECTED_SERVE_MODE == "nginx":
        response = HttpResponse(content_type="application/pdf")
        # the internal location PROTECTED_ACCEL_PREFIX + "documents/" is an alias of DOCUMENT_STORAGE_ROOT
        response["X-Accel-Redirect"] = settings.PROTECTED_ACCEL_PREFIX.rstrip("/") + "/documents/" + relative
        response["Content-Disposition"] = content_disposition_header(True, name)
    else:
        response = FileResponse(path.open("rb"), as_attachment=True, filename=name, content_type="application/pdf")
    response["Cache-Control"] = "private, no-store"
    # Sent here, not only by SecurityMiddleware: a document must never be sniffed into HTML.
    response["X-Content-Type-Options"] = "nosniff"
    return response


def ethics_document_response(request, application: Application, approval_pk: int):
    approval = get_object_or_404(application.ethics_approvals, pk=approval_pk)
    return document_response(
        request,
        application,
        kind="ethics",
        relative=approval.document_path,
        name=approval.document_name,
        sha256=approval.document_sha256,
    )


def dpia_document_response(request, application: Application):
    dpia = application.dpia
    if not dpia.document_path:
        raise Http404("This DPIA has no document.")
    return document_response(
        request,
        application,
        kind="dpia",
        relative=dpia.document_path,
        name=dpia.document_name,
        sha256=dpia.document_sha256,
    )
