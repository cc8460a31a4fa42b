"""Sudo mode: decisive acts ask for the password again if it was not given recently.

Signing in counts as giving it. Pages redirect to the password prompt (`require_sudo_mode`, or the
access table's `sudo` guards); the API answers 403 `sudo_required` unless the session is in sudo
mode or a token caller sends the password in the `X-Confirm-Password` header.
"""

import time
from functools import wraps
from urllib.parse import urlencode, urlparse

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.core.cache import cache
from django.dispatch import receiver
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

SESSION_KEY = "sudo_until"
PASSWORD_HEADER = "HTTP_X_CONFIRM_PASSWORD"  # noqa: S105  # nosec B105  # a header name, not a password
MAX_HEADER_FAILURES = 5
HEADER_FAILURE_WINDOW_SECONDS = 900


def sudo_mode_active(request) -> bool:
    session = getattr(request, "session", None)
    return session is not None and session.get(SESSION_KEY, 0) > time.time()


def sudo_mode_start(request) -> None:
    request.session[SESSION_KEY] = time.time() + settings.SUDO_MODE_SECONDS


@receiver(user_logged_in)
def _signed_in(sender, request, user, **kwargs):
    """Signing in is giving the password: no second prompt seconds later."""
    if request is not None and hasattr(request, "session"):
        sudo_mode_start(request)


def sudo_redirect(request):
    """To the password prompt, coming back to the page the act was started from (a GET page)."""
    if request.method in ("GET", "HEAD"):
        back = request.get_full_path()
    else:
        referer = request.META.get("HTTP_REFERER", "")
        safe = url_has_allowed_host_and_scheme(
            referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
        parsed = urlparse(referer)
        back = (parsed.path + (f"?{parsed.query}" if parsed.query else "")) if safe and referer else "/"
    return redirect(f"{reverse('sudo')}?{urlencode({'next': back})}")


def require_sudo_mode(view):
    """Redirect to the password prompt unless the password was confirmed within SUDO_MODE_SECONDS."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not sudo_mode_active(request):
            return sudo_redirect(request)
        return view(request, *args, **kwargs)

    return wrapper


def api_sudo_confirmed(request) -> bool:
    """An API caller's decisive act: a session in sudo mode, or the right password in X-Confirm-Password.
    Wrong passwords are counted per user; after MAX_HEADER_FAILURES in the window none is accepted."""
    if request.auth is None and sudo_mode_active(request._request):
        return True
    password = request.META.get(PASSWORD_HEADER)
    if not password:
        return False
    key = f"sudo-header-failures:{request.user.pk}"
    if (cache.get(key) or 0) >= MAX_HEADER_FAILURES:
        return False
    if request.user.check_password(password):
        return True
    cache.add(key, 0, HEADER_FAILURE_WINDOW_SECONDS)
    cache.incr(key)
    return False
