"""An application's documents (ethics approvals, the DPIA), streamed from the protected storage.

Only people who may see the application get them (404 for anyone else, as for the page), and
every opening is recorded as a `document.view` audit event before the bytes leave: staff reads
are on the record as well as changes. The streaming itself is the API's `document_response`,
so pages and API serve (and audit) a document the same way.
"""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from access_requests.apis import document_response
from access_requests.permissions import application_get_for


@login_required
@require_GET
def ethics_document(request, pk: int, approval_pk: int):
    application = application_get_for(user=request.user, pk=pk)
    approval = get_object_or_404(application.ethics_approvals, pk=approval_pk)
    return document_response(
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
    return document_response(
        request,
        application,
        kind="dpia",
        relative=dpia.document_path,
        name=dpia.document_name,
        sha256=dpia.document_sha256,
    )
