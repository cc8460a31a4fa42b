"""Response headers that every answer of the portal carries.

Django's own middleware already sends X-Frame-Options (XFrameOptionsMiddleware), and
X-Content-Type-Options and Referrer-Policy (SecurityMiddleware). This adds the two that Django
5.2 does not:

- `Content-Security-Policy` from `settings.SECURE_CSP`, on every response (pages, API, errors,
  downloads). The templates hold no inline script, handler or style, so the policy allows none.
- `Cache-Control: private, no-store` on every response to a signed-in user, so a shared cache or
  the browser's back button never keeps a page, an API answer or a document of theirs. The user
  is read after the view has run: the API authenticates tokens in the view (DRF), and sets the
  user on the underlying request when it does.

A small middleware of our own rather than django-csp: the policy is one constant (no nonces, no
per-view changes), and the cache rule needs the same place. `SECURE_CSP` has the shape of
Django 6's built-in setting, so moving to `django.middleware.csp` later changes no policy.
"""

from django.conf import settings
from django.utils.cache import patch_cache_control


def csp_header_value(directives: dict[str, list[str]]) -> str:
    """`{"default-src": ["'self'"], ...}` -> `default-src 'self'; ...`"""
    return "; ".join(" ".join([name, *sources]) for name, sources in directives.items())


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.csp = csp_header_value(settings.SECURE_CSP)

    def __call__(self, request):
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = self.csp
        user = getattr(request, "user", None)  # absent when a middleware before authentication answered
        if user is not None and user.is_authenticated:
            patch_cache_control(response, private=True, no_store=True)
        return response
