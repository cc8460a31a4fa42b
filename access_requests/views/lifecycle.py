"""Pages of the grant lifecycle: the Access section of an application's page, revoking a grant or a
whole application (the reviewing RDO, the committee's chair), asking for an extension (a grantee)
and deciding on it (the reviewing RDO), and the closeout the applicant attests when access ended.

The access table (portal.access URLS) guards each URL before the view runs; the getters check the
same rules again and the services (access_requests/services/grants.py, lifecycle.py) check once more."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Prefetch
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from access_requests.forms import form_add_domain_error
from access_requests.forms_lifecycle import (
    CloseoutForm,
    ExtensionDecisionForm,
    ExtensionRequestForm,
    OutputFormSet,
    ReasonForm,
)
from access_requests.models import (
    ApplicationStatus,
    Closeout,
    ExtensionRequest,
    ExtensionStatus,
    Grant,
    GrantLimit,
    GrantStatus,
    ResearchOutput,
)
from access_requests.permissions import application_get_for
from access_requests.services import grants as grant_svc
from access_requests.services import lifecycle
from portal.access import may, require
from portal.errors import DomainError

STATE_WORDS = {"active": "Active", "upcoming": "Not begun yet", "expired": "Ended", "revoked": "Revoked"}
SHOWN = (ApplicationStatus.ACTIVE, ApplicationStatus.CLOSED, ApplicationStatus.REVOKED)


def grant_get_for(user, grant_pk: int, rule: str) -> Grant:
    """The grant if `user` may see it (else 404) and do what `rule` guards (else 403)."""
    grant = (
        Grant.objects.select_related("application__committee", "application__applicant", "dataset")
        .filter(pk=grant_pk)
        .first()
    )
    require(user, rule, grant)
    return grant


def _detail_url(application, anchor: str = "access") -> str:
    return reverse("access_requests:application-detail", args=[application.pk]) + f"#{anchor}"


def _pending(grant: Grant) -> ExtensionRequest | None:
    return next((r for r in grant.extension_requests.all() if r.status == ExtensionStatus.PENDING), None)


def access_overview(user, application) -> dict | None:
    """The Access section of the application's page, once access began: each grant with its state,
    dates, what limits it, its downloads and extension requests, and what the caller may do."""
    if application.status not in SHOWN:
        return None
    today = timezone.localdate()
    grants = (
        Grant.objects.filter(application=application)
        .select_related("dataset", "application__committee")
        .annotate(download_count=Count("downloads"))
        .prefetch_related(
            Prefetch(
                "extension_requests",
                ExtensionRequest.objects.select_related("requested_by", "decided_by").order_by("requested_at", "pk"),
            )
        )
        .order_by("pk")
    )
    rows = []
    for grant in grants:
        grant.application = application
        state = grant_svc.grant_state(grant, today)
        pending = _pending(grant)
        running = state in ("active", "upcoming") and application.status == ApplicationStatus.ACTIVE
        rows.append(
            {
                "grant": grant,
                "state": STATE_WORDS[state],
                "limit": GrantLimit(grant.limited_by).label,
                "requests": list(grant.extension_requests.all()),
                "pending": pending,
                "may_revoke": grant.status == GrantStatus.ACTIVE and may(user, "grant.revoke", grant),
                "may_extend": running and pending is None and may(user, "grant.use", grant),
                "decide_form": ExtensionDecisionForm(prefix=f"g{grant.pk}")
                if running and pending is not None and may(user, "grant.review", grant)
                else None,
            }
        )
    ended = application.status in (ApplicationStatus.CLOSED, ApplicationStatus.REVOKED)
    closeout = Closeout.objects.filter(application=application).select_related("attested_by").first()
    return {
        "rows": rows,
        "may_revoke_application": application.status == ApplicationStatus.ACTIVE
        and may(user, "application.revoke", application),
        "ended": ended,
        "closeout": closeout,
        "outputs": list(ResearchOutput.objects.filter(application=application)),
        "may_closeout": ended and may(user, "application.applicant", application),
        "may_remind": ended and closeout is None and may(user, "application.review", application),
    }


# --- revocation ----------------------------------------------------------------------------------


@login_required
def grant_revoke_page(request, grant_pk: int):
    grant = grant_get_for(request.user, grant_pk, "grant.revoke")
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            grant_svc.grant_revoke(actor=request.user, grant=grant, reason=form.cleaned_data["reason"])
        except DomainError as exc:
            form_add_domain_error(form, exc)
        else:
            messages.success(request, f"Access to {grant.dataset.identifier} is revoked.")
            return redirect(_detail_url(grant.application))
    context = {
        "grant": grant,
        "application": grant.application,
        "form": form,
        "revocable": grant.status == GrantStatus.ACTIVE,
    }
    return render(request, "access_requests/grants/revoke.html", context, status=400 if form.errors else 200)


@login_required
def application_revoke_page(request, pk: int):
    application = application_get_for(user=request.user, pk=pk, action="view")
    require(request.user, "application.revoke", application)
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            grant_svc.application_revoke(
                actor=request.user, application=application, reason=form.cleaned_data["reason"]
            )
        except DomainError as exc:
            form_add_domain_error(form, exc)
        else:
            messages.success(request, f"Application {application.reference} is revoked: all its access ended.")
            return redirect(_detail_url(application))
    context = {
        "application": application,
        "form": form,
        "revocable": application.status == ApplicationStatus.ACTIVE,
        "grants": Grant.objects.filter(application=application, status=GrantStatus.ACTIVE).select_related("dataset"),
    }
    return render(
        request, "access_requests/grants/revoke_application.html", context, status=400 if form.errors else 200
    )


# --- extensions ----------------------------------------------------------------------------------


@login_required
def grant_extension_page(request, grant_pk: int):
    grant = grant_get_for(request.user, grant_pk, "grant.use")
    form = ExtensionRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            lifecycle.extension_request(
                actor=request.user, grant=grant, until=form.cleaned_data["until"], reason=form.cleaned_data["reason"]
            )
        except DomainError as exc:
            form_add_domain_error(form, exc)
        else:
            messages.success(request, "Your request is sent to the Research Data Office.")
            return redirect(_detail_url(grant.application))
    today = timezone.localdate()
    context = {
        "grant": grant,
        "application": grant.application,
        "form": form,
        "state": STATE_WORDS[grant_svc.grant_state(grant, today)],
        "limit": GrantLimit(grant.limited_by).label,
        "pending": grant.extension_requests.filter(status=ExtensionStatus.PENDING).first(),
        "requests": grant.extension_requests.select_related("decided_by"),
    }
    return render(request, "access_requests/grants/extension.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def grant_extension_decide_page(request, grant_pk: int):
    grant = grant_get_for(request.user, grant_pk, "grant.review")
    form = ExtensionDecisionForm(request.POST, prefix=f"g{grant.pk}")
    pending = grant.extension_requests.filter(status=ExtensionStatus.PENDING).first()
    if pending is None:
        messages.error(request, "No extension of this grant waits for a decision.")
        return redirect(_detail_url(grant.application))
    if not form.is_valid():
        messages.error(request, "Choose whether to grant or refuse the extension.")
        return redirect(_detail_url(grant.application))
    data = form.cleaned_data
    try:
        lifecycle.extension_decide(
            actor=request.user,
            request=pending,
            approve=data["decision"] == "grant",
            until=data.get("until"),
            reason=data.get("reason", ""),
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            "Extension granted." if data["decision"] == "grant" else "Extension refused: the grantees are told.",
        )
    return redirect(_detail_url(grant.application))


# --- closeout ------------------------------------------------------------------------------------


@login_required
def application_closeout_page(request, pk: int):
    application = application_get_for(user=request.user, pk=pk, action="applicant")
    closeout = Closeout.objects.filter(application=application).first()
    ended = application.status in lifecycle.ENDED
    form = CloseoutForm(request.POST or None) if closeout is None else None
    outputs = OutputFormSet(request.POST or None, prefix="outputs")
    if request.method == "POST" and ended:
        valid = outputs.is_valid() and (form is None or form.is_valid())
        rows = [row for row in (f.row() for f in outputs.forms) if row] if outputs.is_valid() else []
        if valid:
            try:
                if closeout is None:
                    lifecycle.closeout_submit(
                        actor=request.user,
                        application=application,
                        copies_deleted=form.cleaned_data["copies_deleted"],
                        statement=form.cleaned_data["statement"],
                        outputs=rows,
                    )
                    messages.success(request, "Closeout recorded: thank you. The Research Data Office is told.")
                else:
                    lifecycle.closeout_outputs_add(actor=request.user, application=application, outputs=rows)
                    messages.success(request, "Results added.")
            except DomainError as exc:
                _closeout_errors(form, outputs, exc)
            else:
                return redirect(_detail_url(application))
    context = {
        "application": application,
        "ended": ended,
        "closeout": closeout,
        "form": form,
        "outputs": outputs,
        "listed": ResearchOutput.objects.filter(application=application),
        "failed": request.method == "POST",
    }
    return render(
        request, "access_requests/grants/closeout.html", context, status=400 if request.method == "POST" else 200
    )


def _closeout_errors(form, outputs, exc: DomainError) -> None:
    """A service's refusal on the closeout form: row errors on their rows, the rest on the form."""
    fields = getattr(exc, "fields", None) or {}
    placed = False
    rows = [f for f in outputs.forms if f.row()]
    for key, errors in fields.items():
        if key.startswith("outputs[") and key.endswith("]"):
            index = int(key[len("outputs[") : -1])
            if index < len(rows):
                for error in errors:
                    rows[index].add_error(None, error)
                placed = True
    if not placed:
        if form is not None:
            form_add_domain_error(form, exc)
        else:
            outputs._non_form_errors = outputs.error_class([exc.message])


@login_required
@require_POST
def closeout_remind_page(request, pk: int):
    application = application_get_for(user=request.user, pk=pk, action="review")
    try:
        sent = lifecycle.closeout_remind(actor=request.user, application=application)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        if sent:
            messages.success(request, "The applicant is reminded of the closeout.")
        else:
            messages.info(request, "The applicant was already reminded today.")
    return redirect(_detail_url(application))
