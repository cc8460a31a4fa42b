from django import forms
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.forms import AuthenticationForm


class LoginForm(AuthenticationForm):
    username = forms.EmailField(
        label="E-mail address", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )


class SignupForm(forms.Form):
    """Self-registration for researchers; other roles are given by the Research Data Office."""

    email = forms.EmailField(label="E-mail address", widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    full_name = forms.CharField(
        max_length=200, label="Full name", widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    organisation = forms.CharField(max_length=200, help_text="Your university, hospital or company.")
    country = forms.CharField(
        max_length=2, min_length=2, help_text="Two-letter ISO code of your organisation's country, e.g. LV."
    )
    password1 = forms.CharField(label="Password", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    password2 = forms.CharField(
        label="Repeat the password", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def clean_email(self):
        from portal.models import User

        email = self.cleaned_data["email"].lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with this e-mail address exists already: sign in instead.")
        return email

    def clean_country(self):
        country = self.cleaned_data["country"].upper()
        if not country.isalpha():
            raise forms.ValidationError("Two letters, e.g. LV.")
        return country

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


class SudoForm(forms.Form):
    password = forms.CharField(
        label="Your password", widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True})
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self):
        password = self.cleaned_data["password"]
        if authenticate(username=self.user.email, password=password) is None:
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
    verb = forms.CharField(required=False, label="Action contains")
    target = forms.CharField(required=False, label="Object (type:id)")
    actor = forms.CharField(required=False, label="Actor e-mail contains")
