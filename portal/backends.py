"""Signing in: django-axes' lockout check, then the password, and only for a proved e-mail address."""

from axes.backends import AxesStandaloneBackend
from django.contrib.auth.backends import ModelBackend


class PortalBackend(AxesStandaloneBackend, ModelBackend):
    """First in AUTHENTICATION_BACKENDS.

    `AxesStandaloneBackend.authenticate` refuses a locked-out account or client address before any
    password is checked; `ModelBackend` then checks the password. `user_can_authenticate` also
    decides whether a session still holds a user (`get_user`), so an account whose e-mail address
    is not proved can neither sign in nor use a session.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        AxesStandaloneBackend.authenticate(self, request, username=username, password=password, **kwargs)
        return ModelBackend.authenticate(self, request, username=username, password=password, **kwargs)

    def user_can_authenticate(self, user) -> bool:
        return super().user_can_authenticate(user) and getattr(user, "email_verified_at", None) is not None


def axes_username(request, credentials) -> str | None:
    """Count failures per account whatever the case of the typed address."""
    username = (credentials or {}).get("username")
    if username is None and request is not None:
        username = request.POST.get("username")
    return username.strip().lower() if isinstance(username, str) else None
