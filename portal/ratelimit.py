"""Fixed-window rate limits kept in Django's cache, and the client address they count by.

Used for what an anonymous or ordinary caller can repeat to send e-mail or probe addresses:
sign-ups, resent e-mail-proof links, password resets and team invitations. Over a limit the
service raises `RateLimited` (a form error on pages, 429 in the API); the request changes nothing.
"""

import hashlib
import time

from django.conf import settings
from django.core.cache import cache

from portal.errors import RateLimited

WINDOW_SECONDS = 3600


def client_ip(request) -> str | None:
    """The caller's address: REMOTE_ADDR, or the address the trusted proxies saw (TRUSTED_PROXY_COUNT).

    Also django-axes' AXES_CLIENT_IP_CALLABLE, so lockouts and rate limits count the same caller.
    """
    proxies = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if proxies:
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR") or None


def _key(scope: str, subject: str | None) -> str:
    digest = hashlib.sha256((subject or "unknown").strip().lower().encode()).hexdigest()[:32]
    return f"ratelimit:{scope}:{int(time.time() // WINDOW_SECONDS)}:{digest}"


def rate_limit_hit(*, scope: str, subject: str | None, limit: int) -> bool:
    """Count one use of `scope` by `subject` in the current hour; True if that use is over `limit`."""
    key = _key(scope, subject)
    cache.add(key, 0, timeout=WINDOW_SECONDS + 60)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=WINDOW_SECONDS + 60)
        count = 1
    return count > limit


def rate_limit_check(*, scope: str, subject: str | None, limit: int, message: str | None = None) -> None:
    """Raise `RateLimited` when `subject` is over `limit` uses of `scope` this hour."""
    if rate_limit_hit(scope=scope, subject=subject, limit=limit):
        raise RateLimited(message or "Too many requests: try again in an hour.")
