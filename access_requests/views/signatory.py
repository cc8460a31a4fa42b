"""The institution's signatory: reads the summary of an application and accepts the legal statements.

The link in the signature e-mail works only for someone signed in with a proved address equal to
the named signatory's (portal.access, relation SIGNATORY); anyone else, and a tampered, replaced or
expired link, gets the same "not available" answer, which names nothing. The signatory sees only
what they sign: the summary (services/applications.py `representations_summary`) and the statements.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from access_requests.forms import SignatureForm
from access_requests.models import LegalStatement, Section
from access_requests.permissions import application_get_for
from access_requests.services import applications as svc
from portal.errors import DomainError


def _unavailable(request):
    return render(request, "access_requests/signature_unavailable.html", status=404)


@login_required
@require_http_methods(["GET", "POST"])
def signature(request, token: str):
    reps = svc.signature_from_token(token)
    if reps is None or not svc.is_signatory(request.user, reps):
        return _unavailable(request)
    application = reps.application
    standing = list(
        application.statement_acceptances.filter(voided_at__isnull=True, accepted_by=request.user).order_by("pk")
    )
    accepted = {a.statement for a in standing}
    form = SignatureForm(
        request.POST or None,
        user=request.user,
        request=request,
        accepted=accepted,
        initial={"covered": svc.representations_covered_hash(application)},
    )
    if request.method == "POST" and form.is_valid():
        try:
            created = svc.representations_accept(
                actor=request.user,
                reps=reps,
                statements=form.cleaned_data["statements"],
                covered_sha256=form.cleaned_data["covered"],
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(
                request, f"You accepted {len(created)} statement(s) for {application.reference}. Thank you."
            )
            return redirect("access_requests:signature", token=token)
    context = {
        "summary": svc.representations_summary(application),
        "reps": reps,
        "form": form,
        "acceptances": standing,
        "all_accepted": len(accepted) == len(LegalStatement.values),
        "editable": application.is_editable_by_applicant,
    }
    return render(request, "access_requests/signature.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def signature_request(request, pk: int):
    """The team asks the named signatory to sign (a new link by e-mail; the one before stops working)."""
    application = application_get_for(user=request.user, pk=pk, action="edit")
    try:
        reps = svc.representations_request_signature(actor=request.user, application=application)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"We sent {reps.signatory_name} ({reps.signatory_email}) a link to sign.")
    return redirect("access_requests:section-edit", pk=application.pk, section=Section.REPRESENTATIONS)
