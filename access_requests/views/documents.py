"""An application's documents (ethics approvals, the DPIA, decision letters) for people: see downloads.py."""

from django.contrib.auth.decorators import login_required
from django.views.decorators.http import require_GET

from access_requests.downloads import decision_letter_response, dpia_document_response, ethics_document_response
from access_requests.permissions import application_get_for


@login_required
@require_GET
def ethics_document(request, pk: int, approval_pk: int):
    return ethics_document_response(request, application_get_for(user=request.user, pk=pk), approval_pk)


@login_required
@require_GET
def dpia_document(request, pk: int):
    return dpia_document_response(request, application_get_for(user=request.user, pk=pk))


@login_required
@require_GET
def decision_letter(request, pk: int, number: int):
    return decision_letter_response(request, application_get_for(user=request.user, pk=pk), number)
