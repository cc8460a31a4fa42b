from django import forms
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.forms import AuthenticationForm


class LoginForm(AuthenticationForm):
    username = forms.EmailField(
        label="E-mail address", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )


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
