"""The data-access agreement's pages: the agreement (its current version, the signature page, earlier
versions), its PDFs, and the parties' acts: signing in the browser, uploading a countersigned scan,
the RDO's check of a scan and revision. The access table (portal.access, rules `agreement.*`)
decides who reaches each; the services (access_requests/services/agreements.py) check again.

The PDF is not framed in the page: the portal's content-security policy forbids framing anything
(frame-ancestors 'none', X-Frame-Options DENY) and embedding objects (object-src 'none'). The page
links to the PDF shown by the browser in a new tab (`?view=inline`) and to its download."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from access_requests.downloads import (
    agreement_executed_response,
    agreement_version_response,
    document_response,
)
from access_requests.forms_agreements import ReviseForm, ScanForm, SignForm
from access_requests.models import AgreementSignature, AgreementStatus, SignatureMethod
from access_requests.permissions import agreement_in_force, agreement_parties_for
from access_requests.services import agreements as ag
from portal.access import may, require
from portal.errors import DomainError
from portal.ratelimit import client_ip

PAGE = "access_requests/agreements/page_agreement.html"


def agreement_get_for(user, pk: int, rule: str = "agreement.view"):
    """The application's agreement in force if `user` may see it (else 404) and do `rule` (else 403)."""
    agreement = agreement_in_force(pk)
    require(user, "agreement.view", agreement)
    require(user, rule, agreement)
    return agreement


def _url(agreement, anchor: str = "") -> str:
    return reverse("access_requests:agreement", args=[agreement.application_id]) + (f"#{anchor}" if anchor else "")


def _add_errors(form, exc: DomainError) -> None:
    """A service's refusal on the form: by visible field where it has one, else above the form."""
    visible = {field.name for field in form.visible_fields()}
    placed = False
    for name, errors in exc.fields.items():
        for error in errors:
            form.add_error(name if name in visible else None, error)
            placed = True
    if not placed:
        form.add_error(None, exc.message)


def _signature_rows(version) -> list[dict]:
    signatures = {
        s.party_id: s
        for s in AgreementSignature.objects.filter(version=version, voided_at__isnull=True).select_related(
            "user", "verified_by"
        )
    }
    return [
        {
            "party": party,
            "signature": signatures.get(party.pk),
            "counts": bool(signatures.get(party.pk) and signatures[party.pk].counts),
        }
        for party in version.parties.all()
    ]


def agreement_context(request, agreement, forms: dict | None = None) -> dict:
    forms = forms or {}
    user = request.user
    application = agreement.application
    versions = list(agreement.versions.order_by("-number").prefetch_related("parties"))
    current = versions[0]
    rows = _signature_rows(current)
    open_for_signing = (
        agreement.status == AgreementStatus.AWAITING_SIGNATURES and current.is_rendered and current.is_current
    )
    signed_by_me = any(row["signature"] and row["signature"].user_id == user.pk for row in rows)
    mine = []
    if open_for_signing and not signed_by_me:
        taken = {row["party"].pk for row in rows if row["signature"]}
        mine = [party for party in agreement_parties_for(user, agreement) if party.pk not in taken]
    party = mine[0] if mine else None
    context = {
        "application": application,
        "agreement": agreement,
        "current": current,
        "rows": rows,
        "earlier": versions[1:],
        "overdue": ag.execution_overdue(agreement),
        "signing_party": party,
        "signed_by_me": signed_by_me,
        "is_rdo": may(user, "agreement.review", agreement),
    }
    if party is not None:
        initial = {"version": current.number, "shown_sha256": current.sha256, "party": party.pk}
        context["sign_form"] = forms.get("sign") or SignForm(initial=initial, version=current, party=party)
        context["scan_form"] = forms.get("scan") or ScanForm(initial={"version": current.number, "party": party.pk})
    if context["is_rdo"]:
        context["scans_to_verify"] = [
            row
            for row in rows
            if row["signature"] and row["signature"].method == SignatureMethod.SCAN and not row["counts"]
        ]
        if agreement.status in (AgreementStatus.DRAFT, AgreementStatus.AWAITING_SIGNATURES):
            context["revise_form"] = forms.get("revise") or ReviseForm()
    return context


@login_required
@require_GET
def agreement_page(request, pk: int):
    agreement = agreement_get_for(request.user, pk)
    return render(request, PAGE, agreement_context(request, agreement))


@login_required
@require_GET
def agreement_status(request, pk: int):
    """For the page's script, while the current version is being prepared: is it ready?"""
    agreement = agreement_get_for(request.user, pk)
    current = agreement.current_version
    response = JsonResponse({"status": agreement.status, "version": current.number, "rendered": current.is_rendered})
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_GET
def agreement_version_pdf(request, pk: int, number: int):
    return agreement_version_response(request, agreement_get_for(request.user, pk), number)


@login_required
@require_GET
def agreement_executed_pdf(request, pk: int):
    return agreement_executed_response(request, agreement_get_for(request.user, pk))


@login_required
@require_GET
def agreement_scan_pdf(request, pk: int, signature_pk: int):
    agreement = agreement_get_for(request.user, pk)
    signature = AgreementSignature.objects.filter(
        pk=signature_pk, version__agreement=agreement, method=SignatureMethod.SCAN
    ).first()
    if signature is None:
        raise Http404("This agreement has no such countersigned copy.")
    return document_response(
        request,
        agreement.application,
        kind="agreement_scan",
        relative=signature.scan_path,
        name=f"{agreement.reference}-countersigned-{signature.pk}.pdf",
        sha256=signature.scan_sha256,
    )


def _version_and_party(request, agreement, form):
    """The version the form was shown for (perhaps superseded since: the service says so) and the
    party it names, if the caller may sign for it; otherwise a form error and (None, None)."""
    version = agreement.versions.filter(number=form.cleaned_data["version"]).first()
    party = version.parties.filter(pk=form.cleaned_data["party"]).first() if version is not None else None
    if party is None or not ag.party_entitled(request.user, party, agreement.application):
        form.add_error(None, "You are not entitled to sign for the party this form names: reload the page.")
        return None, None
    return version, party


def _again(request, agreement, key: str, form, status: int):
    context = agreement_context(request, agreement, {key: form})
    if f"{key}_form" not in context:  # the form is not shown any more (signed meanwhile): say why here
        for error in form.non_field_errors():
            messages.error(request, error)
    return render(request, PAGE, context, status=status)


@login_required
@require_POST
def agreement_sign(request, pk: int):
    agreement = agreement_get_for(request.user, pk, "agreement.sign")
    form = SignForm(request.POST)
    status = 400
    version, party = _version_and_party(request, agreement, form) if form.is_valid() else (None, None)
    if party is not None:
        try:
            ag.agreement_sign(
                actor=request.user,
                version=version,
                typed_name=form.cleaned_data["typed_name"],
                ip=client_ip(request),
                user_agent=request.META.get("HTTP_USER_AGENT", ""),
                shown_sha256=form.cleaned_data["shown_sha256"],
                party=party,
            )
        except DomainError as exc:
            _add_errors(form, exc)
            status = exc.status
        else:
            messages.success(request, f"Your signature on version {version.number} is recorded.")
            return redirect(_url(agreement, "signatures-heading"))
    return _again(request, agreement, "sign", form, status)


@login_required
@require_POST
def agreement_scan_upload(request, pk: int):
    agreement = agreement_get_for(request.user, pk, "agreement.sign")
    form = ScanForm(request.POST, request.FILES)
    status = 400
    version, party = _version_and_party(request, agreement, form) if form.is_valid() else (None, None)
    if party is not None:
        try:
            ag.agreement_scan_upload(actor=request.user, version=version, upload=form.cleaned_data["scan"], party=party)
        except DomainError as exc:
            _add_errors(form, exc)
            status = exc.status
        else:
            messages.success(
                request, "Your countersigned copy is uploaded. It counts once the Research Data Office has checked it."
            )
            return redirect(_url(agreement, "signatures-heading"))
    return _again(request, agreement, "scan", form, status)


@login_required
@require_POST
def agreement_scan_verify(request, pk: int, signature_pk: int):
    agreement = agreement_get_for(request.user, pk, "agreement.review")
    signature = AgreementSignature.objects.filter(pk=signature_pk, version__agreement=agreement).first()
    if signature is None:
        raise Http404("This agreement has no such signature.")
    try:
        ag.agreement_scan_verify(actor=request.user, signature=signature)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "The countersigned copy is checked: it counts as the party's signature.")
    return redirect(_url(agreement, "signatures-heading"))


@login_required
@require_POST
def agreement_revise(request, pk: int):
    agreement = agreement_get_for(request.user, pk, "agreement.review")
    form = ReviseForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            version = ag.agreement_revise(actor=request.user, agreement=agreement, reason=form.cleaned_data["reason"])
        except DomainError as exc:
            _add_errors(form, exc)
            status = exc.status
        else:
            messages.success(
                request, f"Version {version.number} is being prepared; the signatures on the version before are void."
            )
            return redirect(_url(agreement))
    return _again(request, agreement, "revise", form, status)
