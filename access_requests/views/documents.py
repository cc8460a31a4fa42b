"""An application's documents (ethics approvals, the DPIA), streamed from the protected storage.

Only people who may see the application get them (404 for anyone else, as for the page), and
every opening is recorded in the audit chain before the bytes leave: staff reads are on the
record as well as changes.
"""

from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from access_requests.permissions import application_get_for
from access_requests.services.documents import document_absolute_path
from portal.services.audit import audit_record


def _serve(request, application, *, kind: str, relative: str, name: str, sha256: str):
    try:
        path = document_absolute_path(relative)
        handle = path.open("rb")
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise Http404("The document is missing from the storage.")
    try:
        with transaction.atomic():
            audit_record(
                actor=request.user,
                verb="document.view",
                target=application,
                payload={"document": name, "kind": kind, "sha256": sha256},
            )
    except Exception:
        handle.close()
        raise
    response = FileResponse(handle, as_attachment=True, filename=name, content_type="application/pdf")
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@require_GET
def ethics_document(request, pk: int, approval_pk: int):
    application = application_get_for(user=request.user, pk=pk)
    approval = get_object_or_404(application.ethics_approvals, pk=approval_pk)
    return _serve(
        request,
        application,
        kind="ethics",
        relative=approval.document_path,
        name=approval.document_name,
        sha256=approval.document_sha256,
    )


@login_required
@require_GET
def dpia_document(request, pk: int):
    application = application_get_for(user=request.user, pk=pk)
    dpia = application.dpia
    if not dpia.document_path:
        raise Http404("This DPIA has no document.")
    return _serve(
        request,
        application,
        kind="dpia",
        relative=dpia.document_path,
        name=dpia.document_name,
        sha256=dpia.document_sha256,
    )
