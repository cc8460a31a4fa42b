"""Pages of the portal app: sign-in, dashboard, API tokens, the audit log."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal.audit_log import FILTERED_COUNT_CAP, audit_events_where, audit_head, audit_page
from portal.dashboard import panels_for
from portal.errors import DomainError
from portal.forms import (
    ApiTokenForm,
    AuditCursorForm,
    AuditFilterForm,
    EmailProofResendForm,
    LoginForm,
    PasswordResetRequestForm,
    PasswordSetForm,
    SignupForm,
    SudoForm,
)
from portal.keyset import capped_count
from portal.models import ApiToken
from portal.ratelimit import client_ip
from portal.services.accounts import email_proof_resend, email_proof_user, email_verify, user_signup
from portal.services.tokens import api_token_create, api_token_revoke
from portal.sudo import require_sudo_mode, sudo_mode_start


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    template_name = "registration/login.html"
    redirect_authenticated_user = True


def lockout(request, original_response=None, credentials=None):
    """django-axes' answer while an account or client address is locked out (AXES_LOCKOUT_CALLABLE)."""
    minutes = max(1, round(float(settings.AXES_COOLOFF_TIME) * 60))
    return render(request, "registration/locked_out.html", {"minutes": minutes}, status=429)


def _domain_error_on(form, exc: DomainError) -> None:
    for field, errors in exc.fields.items():
        for error in errors:
            form.add_error(field if field in form.fields else None, error)
    if not exc.fields:
        form.add_error(None, exc.message)


def signup(request):
    """Researchers create their own account, which can sign in once the e-mail address is proved.

    The answer is the same whether or not the address has an account: the e-mail sent to it says.
    """
    if request.user.is_authenticated:
        return redirect("dashboard")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user_signup(
                email=data["email"],
                full_name=data["full_name"],
                password=data["password1"],
                organisation=data["organisation"],
                country=data["country"],
                client=client_ip(request),
            )
        except DomainError as exc:
            _domain_error_on(form, exc)
        else:
            return redirect("signup-done")
    return render(request, "registration/signup.html", {"form": form})


def signup_done(request):
    return render(request, "registration/signup_done.html")


@require_http_methods(["GET", "POST"])
def email_verify_page(request, token: str):
    """The link in the e-mail-proof message: GET asks to confirm, POST proves the address."""
    if request.method == "POST":
        try:
            email_verify(token=token)
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect("email-proof-resend")
        messages.success(request, "Your e-mail address is confirmed. Sign in to start.")
        return redirect("login")
    valid = email_proof_user(token) is not None
    return render(request, "registration/email_verify.html", {"valid": valid}, status=200 if valid else 400)


def email_proof_resend_page(request):
    """A new e-mail-proof link; the same answer whether or not the address awaits one."""
    form = EmailProofResendForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            email_proof_resend(email=form.cleaned_data["email"], client=client_ip(request))
        except DomainError as exc:
            _domain_error_on(form, exc)
        else:
            return redirect("signup-done")
    return render(request, "registration/email_proof_resend.html", {"form": form})


class PasswordResetView(auth_views.PasswordResetView):
    form_class = PasswordResetRequestForm
    template_name = "registration/password_reset_form.html"
    success_url = reverse_lazy("password_reset_done")

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "request": self.request}


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "registration/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    form_class = PasswordSetForm
    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("password_reset_complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "registration/password_reset_complete.html"


@login_required
def dashboard(request):
    return render(request, "portal/dashboard.html", {"panels": panels_for(request.user)})


@login_required
def sudo(request):
    next_url = request.POST.get("next") or request.GET.get("next") or "/"
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = "/"
    form = SudoForm(request.POST or None, user=request.user, request=request)
    if request.method == "POST" and form.is_valid():
        sudo_mode_start(request)
        return redirect(next_url)
    return render(request, "portal/sudo.html", {"form": form, "next": next_url})


@login_required
@require_sudo_mode
def tokens(request):
    form = ApiTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            token, raw = api_token_create(
                actor=request.user, name=form.cleaned_data["name"], days=form.cleaned_data["days"]
            )
        except DomainError as exc:
            for field, errors in exc.fields.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
            if not exc.fields:
                form.add_error(None, exc.message)
        else:
            # Shown once, on the next page only; never stored in clear.
            request.session["new_token"] = {"id": token.pk, "secret": raw}
            messages.success(request, f"Token “{token.name}” created. Copy it now: it will not be shown again.")
            return redirect("tokens")
    new_token = request.session.pop("new_token", None)
    user_tokens = ApiToken.objects.filter(user=request.user)
    return render(request, "portal/tokens.html", {"form": form, "tokens": user_tokens, "new_token": new_token})


@login_required
@require_POST
def token_revoke(request, pk: int):
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    api_token_revoke(actor=request.user, token=token)
    messages.success(request, f"Token “{token.name}” revoked. Scripts using it stop working now.")
    return redirect("tokens")


@login_required
def audit_log(request):
    """Newest first, 50 a page, paged by sequence number (`before`/`after`), filtered on indexed columns."""
    form = AuditFilterForm(request.GET or None)
    cursor = AuditCursorForm(request.GET)
    context = {"form": form, "head": audit_head(), "page": None, "filtered": False}
    if not cursor.is_valid():
        context["problem"] = "This page of the audit log does not exist: the link's event number is not valid."
        return render(request, "portal/audit_log.html", context, status=400)
    if form.is_bound and not form.is_valid():
        context["problem"] = "The filter is not valid: correct it below."
        return render(request, "portal/audit_log.html", context, status=400)
    data = form.cleaned_data if form.is_bound else {"verb": "", "actor": "", "target": ("", "")}
    target_type, target_id = data["target"]
    events = audit_events_where(verb=data["verb"], actor=data["actor"], target_type=target_type, target_id=target_id)
    context["filtered"] = bool(data["verb"] or data["actor"] or target_type)
    if context["filtered"]:
        context["matching"], context["matching_exact"] = capped_count(events, FILTERED_COUNT_CAP)
    context["page"] = audit_page(events, before=cursor.cleaned_data["before"], after=cursor.cleaned_data["after"])
    return render(request, "portal/audit_log.html", context)


@require_GET
def healthz(request):
    """Liveness and database reachability for the load balancer."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def robots(request):
    return HttpResponse("User-agent: *\nDisallow: /\n", content_type="text/plain")
