import re
from functools import partial

from django import forms
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.forms import AuthenticationForm, SetPasswordForm
from django.contrib.auth.tokens import default_token_generator
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from portal.audit_log import verb_choices
from portal.countries import country_choices
from portal.errors import DomainError
from portal.ratelimit import client_ip


class LoginForm(AuthenticationForm):
    """Sign-in. An account whose address is not proved yet is told so (only with the right password)."""

    username = forms.EmailField(
        label="E-mail address", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )
    unverified = False

    def clean(self):
        try:
            return super().clean()
        except forms.ValidationError:
            if self._awaits_email_proof():
                self.unverified = True
                raise forms.ValidationError(
                    "Confirm your e-mail address first: follow the link in the e-mail we sent you. "
                    "No e-mail? Ask for a new link below.",
                    code="unverified",
                ) from None
            raise

    def _awaits_email_proof(self) -> bool:
        # Only after axes counted this attempt (authenticate above) and did not refuse it as locked out.
        from portal.models import User

        if getattr(self.request, "axes_locked_out", False):
            return False
        username, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        if not username or not password:
            return False
        user = User.objects.filter(email__iexact=username, is_active=True, email_verified_at__isnull=True).first()
        return user is not None and user.check_password(password)


class SignupForm(forms.Form):
    """Self-registration for researchers; other roles are given by the Research Data Office."""

    email = forms.EmailField(label="E-mail address", widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    full_name = forms.CharField(
        max_length=200, label="Full name", widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    organisation = forms.CharField(max_length=200, help_text="Your university, hospital or company.")
    country = forms.ChoiceField(
        label="Country",
        choices=partial(country_choices, blank="Choose your organisation's country"),
        help_text="Where your organisation is.",
    )
    password1 = forms.CharField(label="Password", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    password2 = forms.CharField(
        label="Repeat the password", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def clean_email(self):
        # Never say here whether the address has an account: the e-mail sent to it says so.
        return self.cleaned_data["email"].lower()

    def clean(self):
        from django.contrib.auth.password_validation import validate_password

        data = super().clean()
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", "The two passwords differ.")
        elif data.get("password1"):
            try:
                validate_password(data["password1"])
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return data


class EmailProofResendForm(forms.Form):
    email = forms.EmailField(label="E-mail address", widget=forms.EmailInput(attrs={"autocomplete": "email"}))


class PasswordResetRequestForm(forms.Form):
    """Asks for a reset link. Answers the same for every address; rate-limited per client and address.

    The link goes through the e-mail outbox, and only to an active account with a proved address
    (an unproved one proves it first, with a new confirmation link).
    """

    email = forms.EmailField(
        label="E-mail address", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request

    def clean_email(self):
        from portal.services.accounts import password_reset_limit

        email = self.cleaned_data["email"].strip().lower()
        try:
            password_reset_limit(email=email, client=client_ip(self.request))
        except DomainError as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from None
        return email

    def save(self, **kwargs) -> None:
        from django.db import transaction

        from portal.models import User
        from portal.services.notifications import notification_queue

        email = self.cleaned_data["email"]
        with transaction.atomic():
            users = User.objects.filter(email__iexact=email, is_active=True, email_verified_at__isnull=False)
            for user in users:
                if not user.has_usable_password():
                    continue
                path = reverse(
                    "password_reset_confirm",
                    kwargs={
                        "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                        "token": default_token_generator.make_token(user),
                    },
                )
                notification_queue(
                    to=user.email,
                    template="password_reset",
                    context={
                        "user": user,
                        "url": settings.SITE_URL + path,
                        "minutes": max(1, settings.PASSWORD_RESET_TIMEOUT // 60),
                    },
                )


class PasswordSetForm(SetPasswordForm):
    """The new password after a reset link; the change is audited."""

    def save(self, commit=True):
        from portal.services.accounts import user_password_set

        return user_password_set(
            actor=self.user, user=self.user, password=self.cleaned_data["new_password1"], reason="reset_link"
        )


class SudoForm(forms.Form):
    password = forms.CharField(
        label="Your password", widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True})
    )

    def __init__(self, *args, user, request, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.request = request

    def clean_password(self):
        password = self.cleaned_data["password"]
        # With the request, so django-axes counts wrong passwords here as it does at sign-in.
        if authenticate(self.request, username=self.user.email, password=password) is None:
            raise forms.ValidationError("That is not your password.")
        return password


class ApiTokenForm(forms.Form):
    DAY_CHOICES = [(30, "30 days"), (90, "90 days"), (180, "180 days"), (365, "1 year")]

    name = forms.CharField(max_length=100, help_text="What the token is for, e.g. “download script on the lab server”.")
    days = forms.TypedChoiceField(label="Valid for", choices=DAY_CHOICES, coerce=int, initial=90)

    def clean_days(self):
        days = self.cleaned_data["days"]
        if days > settings.API_TOKEN_MAX_DAYS:
            raise forms.ValidationError(f"At most {settings.API_TOKEN_MAX_DAYS} days.")
        return days


class AuditFilterForm(forms.Form):
    """Exact values only, each matched on an indexed column (portal/audit_log.py)."""

    verb = forms.ChoiceField(required=False, label="Action", choices=verb_choices)
    actor = forms.CharField(
        required=False,
        max_length=254,
        label="Actor",
        help_text="A person's e-mail address, or a system actor such as system:import or anonymous.",
    )
    target = forms.CharField(
        required=False,
        max_length=170,
        label="Object",
        help_text="Its type, or its type and number, as the log shows them: access_requests.application:12.",
    )

    def clean_actor(self):
        return self.cleaned_data["actor"].strip()

    def clean_target(self):
        target_type, _, target_id = self.cleaned_data["target"].strip().partition(":")
        target_type, target_id = target_type.strip().lower(), target_id.strip()
        if target_type and not re.fullmatch(r"[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*", target_type):
            raise forms.ValidationError(
                "Write the object's type as the log shows it, such as portal.user or portal.user:3."
            )
        if len(target_id) > 64:
            raise forms.ValidationError("An object's number or key has at most 64 characters.")
        return target_type, target_id


class AuditCursorForm(forms.Form):
    """Where a page of the audit log starts: `before` or `after` a sequence number (after=0: the oldest)."""

    before = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    after = forms.IntegerField(required=False, min_value=0, max_value=2**63 - 1)

    def clean(self):
        data = super().clean()
        if data.get("before") is not None and data.get("after") is not None:
            raise forms.ValidationError("A page starts either before or after an event, not both.")
        return data
