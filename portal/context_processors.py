from django.conf import settings
from django.urls import reverse

from portal.models import Role

# (label, url name, role that sees it or None for every signed-in user, or "public")
NAVIGATION = [
    ("Dashboard", "dashboard", None),
    ("Catalogue", "catalogue:search", "public"),
    ("Basket", "catalogue:basket", Role.RESEARCHER),
    ("My datasets", "catalogue:steward-datasets", Role.STEWARD),
    ("Applications", "access_requests:application-list", None),
    ("RDO queue", "access_requests:rdo-queue", Role.RDO),
    ("Audit log", "audit_log", Role.RDO),
    ("API tokens", "tokens", None),
]


def _nav_for(user) -> list[dict]:
    entries = []
    for label, name, role in NAVIGATION:
        if role == "public" or (user.is_authenticated and (role is None or user.has_role(role))):
            entries.append({"label": label, "url": reverse(name)})
    return entries


def portal(request) -> dict:
    user = getattr(request, "user", None)
    return {
        "site_name": settings.SITE_NAME,
        "navigation": _nav_for(user) if user is not None else [],
        "user_roles": [Role(r).label for r in sorted(user.roles)] if user is not None and user.is_authenticated else [],
    }
