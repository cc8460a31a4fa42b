from django.conf import settings
from django.urls import reverse

from portal import access
from portal.models import Role

# (label, url name): each entry shows to whoever the access table lets open that page.
NAVIGATION = [
    ("Dashboard", "dashboard"),
    ("Catalogue", "catalogue:search"),
    ("Federated search", "federation:search"),
    ("Basket", "catalogue:basket"),
    ("My datasets", "catalogue:steward-datasets"),
    ("Applications", "access_requests:application-list"),
    ("My data", "my-data"),
    ("RDO queue", "access_requests:rdo-queue"),
    ("Committee queue", "access_requests:committee-queue"),
    ("Committees", "access_requests:committee-list"),
    ("Partner nodes", "federation:nodes"),
    ("Audit log", "audit_log"),
    ("API tokens", "tokens"),
]


def _nav_for(user) -> list[dict]:
    return [
        {"label": label, "url": reverse(name)}
        for label, name in NAVIGATION
        if access.decide(user, access.guard_for(name, "GET").rule) == 200
    ]


def portal(request) -> dict:
    user = getattr(request, "user", None)
    return {
        "site_name": settings.SITE_NAME,
        "portal_name": settings.SITE_NAME,  # Django's auth views put the host in `site_name`; pages show this
        "navigation": _nav_for(user) if user is not None else [],
        "user_roles": [Role(r).label for r in sorted(user.roles)] if user is not None and user.is_authenticated else [],
    }
