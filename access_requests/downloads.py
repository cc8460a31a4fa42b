"""Serving an application's documents to people, pages and API alike.

Only callers who passed `application_get_for` reach these. Every opening is recorded as a
`document.view` audit event before any byte leaves, so staff reads are on the record as well
as changes. In nginx mode the web server sends the file (X-Accel-Redirect); otherwise
FileResponse streams it (sendfile under gunicorn): never read into memory here.

A document removed from the application or replaced after it was submitted stays in the
submission's snapshot and in storage: `?submission=<number>` serves the document as that
submission had it, and an ethics approval's address keeps answering from the latest submission
that included it once the approval is removed. A document that no submission included is gone
with its row (404).
"""

import base64

from django.conf import settings
from django.http import FileResponse, Http404, HttpResponse
from django.utils.http import content_disposition_header

from access_requests.models import Application
from access_requests.services.documents import SNAPSHOT_DOCUMENTS, document_path_settled
from portal.services.audit import audit_record


def document_response(
    request,
    application: Application,
    *,
    kind: str,
    relative: str,
    name: str,
    sha256: str,
    submission: int | None = None,
):
    """Stream a document from DOCUMENT_STORAGE_ROOT, recorded as `document.view` before any byte leaves
    (the same event the pages record). In nginx mode the web server sends it (X-Accel-Redirect);
    otherwise FileResponse streams it (sendfile under gunicorn): never read into memory here."""
    try:
        path = document_path_settled(relative)
    except FileNotFoundError:
        raise Http404("The document is missing from the storage.")
    if not path.is_file():
        raise Http404("The document is missing from the storage.")
    audit_record(
        actor=request.user,
        verb="document.view",
        target=application,
        payload={
            "document": name,
            "kind": kind,
            "sha256": sha256,
            **({"submission": submission} if submission is not None else {}),
        },
    )
    # `?view=inline` (the committee's review page): the browser shows the PDF instead of saving it
    attachment = request.GET.get("view") != "inline"
    if settings.PROTECTED_SERVE_MODE == "nginx":
        response = HttpResponse(content_type="application/pdf")
        # the internal location PROTECTED_ACCEL_PREFIX + "documents/" is an alias of DOCUMENT_STORAGE_ROOT
        response["X-Accel-Redirect"] = settings.PROTECTED_ACCEL_PREFIX.rstrip("/") + "/documents/" + relative
        response["Content-Disposition"] = content_disposition_header(attachment, name)
    else:
        response = FileResponse(
            path.open("rb"), as_attachment=attachment, filename=name, content_type="application/pdf"
        )
    response["Cache-Control"] = "private, no-store"
    # Sent here, not only by SecurityMiddleware: a document must never be sniffed into HTML.
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _submission_asked(request) -> int | None:
    """The `?submission=<number>` a history link carries; anything else names no document (404)."""
    value = request.GET.get("submission")
    if value is None:
        return None
    if not value.isdigit() or not 0 < int(value) < 2**15:
        raise Http404("No such submission.")
    return int(value)


def _submitted_document(application: Application, *, kind: str, approval: int | None, submission: int | None):
    """(number, document) of the latest submission (or the one asked for) that included it, or None."""
    submissions = application.submissions.order_by("-number")
    if submission is not None:
        submissions = submissions.filter(number=submission)
    for number, snapshot in submissions.values_list("number", "snapshot"):
        for document in (snapshot or {}).get(SNAPSHOT_DOCUMENTS) or []:
            if document.get("kind") == kind and (approval is None or document.get("approval") == approval):
                return number, document
    return None


def _history_response(request, application: Application, *, kind: str, approval: int | None, submission):
    found = _submitted_document(application, kind=kind, approval=approval, submission=submission)
    if found is None:
        raise Http404("No such document in this application or its submissions.")
    number, document = found
    return document_response(
        request,
        application,
        kind=kind,
        relative=document["path"],
        name=document["name"],
        sha256=document["sha256"],
        submission=number,
    )


def ethics_document_response(request, application: Application, approval_pk: int):
    submission = _submission_asked(request)
    approval = application.ethics_approvals.filter(pk=approval_pk).first() if submission is None else None
    if approval is None:
        return _history_response(request, application, kind="ethics", approval=approval_pk, submission=submission)
    return document_response(
        request,
        application,
        kind="ethics",
        relative=approval.document_path,
        name=approval.document_name,
        sha256=approval.document_sha256,
    )


def dpia_document_response(request, application: Application):
    submission = _submission_asked(request)
    if submission is not None:
        return _history_response(request, application, kind="dpia", approval=None, submission=submission)
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


LETTER_NOT_READY = "The decision letter is being prepared; try again in a few minutes."


def decision_letter_response(request, application: Application, number: int):
    """A decided round's letter (404 while it is being prepared, or for no such round). Its SHA-256
    travels in `Repr-Digest` (RFC 9530) and, in hexadecimal, in `X-Content-SHA256`."""
    from access_requests.models import DecisionLetter, ReviewRound

    review_round = ReviewRound.objects.filter(application=application, number=number).first()
    if review_round is None:
        raise Http404("This application has no such review round.")
    letter = DecisionLetter.objects.filter(round=review_round).first()
    if letter is None:
        raise Http404(LETTER_NOT_READY)
    response = document_response(
        request,
        application,
        kind="decision_letter",
        relative=letter.path,
        name=f"{application.reference}-decision-round-{number}.pdf",
        sha256=letter.sha256,
    )
    return with_digest(response, letter.sha256)


def with_digest(response, sha256: str):
    """A served PDF's SHA-256 in `Repr-Digest` (RFC 9530) and, in hexadecimal, in `X-Content-SHA256`:
    the checksum the letter or the agreement records, for the reader to compare."""
    response["Repr-Digest"] = f"sha-256=:{base64.b64encode(bytes.fromhex(sha256)).decode()}:"
    response["X-Content-SHA256"] = sha256
    return response


# --- a data-access agreement's PDFs (pages and API alike) -------------------------------------------


def agreement_version_response(request, agreement, number: int):
    """One version of the agreement as rendered, with its SHA-256 in `Repr-Digest`; 404 for a version
    the agreement has not got, 409 while it is still being rendered."""
    from portal.errors import TransitionError

    version = agreement.versions.filter(number=number).first()
    if version is None:
        raise Http404("This agreement has no such version.")
    if not version.is_rendered:
        raise TransitionError("This version is still being prepared: try again in a moment.")
    response = document_response(
        request,
        agreement.application,
        kind="agreement",
        relative=version.path,
        name=f"{agreement.reference}-version-{version.number}.pdf",
        sha256=version.sha256,
    )
    return with_digest(response, version.sha256)


def agreement_executed_response(request, agreement):
    """The executed, sealed agreement; 409 before every party has signed."""
    from access_requests.models import AgreementStatus
    from portal.errors import TransitionError

    if agreement.status != AgreementStatus.EXECUTED:
        raise TransitionError("The agreement is not executed yet: every party must sign it first.")
    response = document_response(
        request,
        agreement.application,
        kind="agreement_executed",
        relative=agreement.executed_path,
        name=f"{agreement.reference}-executed.pdf",
        sha256=agreement.executed_sha256,
    )
    return with_digest(response, agreement.executed_sha256)
