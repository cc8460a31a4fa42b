"""Sudo mode: decisive acts ask for the password again if it was not given recently."""

import time
from functools import wraps
from urllib.parse import urlencode

from django.conf import settings
from django.shortcuts import redirect
from django.urls import reverse

SESSION_KEY = "sudo_until"


def sudo_mode_active(request) -> bool:
    return request.session.get(SESSION_KEY, 0) > time.time()


def sudo_mode_start(request) -> None:
    request.session[SESSION_KEY] = time.time() + settings.SUDO_MODE_SECONDS


def require_sudo_mode(view):
    """Redirect to the password prompt unless the password was confirmed within SUDO_MODE_SECONDS."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not sudo_mode_active(request):
            return redirect(f"{reverse('sudo')}?{urlencode({'next': request.get_full_path()})}")
        return view(request, *args, **kwargs)

    return wrapper
