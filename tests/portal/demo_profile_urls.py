"""The portal's URLs plus one page that fails, for tests/portal/test_demo_profile.py only."""

from django.urls import path

from portal import access
from portal.urls import handler400, handler403, handler404, handler500, urlpatterns  # noqa: F401


def broken_page(request):
    raise RuntimeError("a bug in a view")


access.URLS["demo-profile-broken"] = {"GET": access.URLS["healthz"]["GET"]}  # open to anyone, like healthz
urlpatterns = [
    *urlpatterns,
    path("demo-profile/broken/", broken_page, name="demo-profile-broken"),
    path("demo-profile/unlisted/", broken_page),  # no row in the access table: the gate refuses it
]
