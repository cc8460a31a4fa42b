"""Pages of access grants (mounted at the site's root): My data, download links, extensions,
revocation, closeout. Each URL has its row in portal/access.py URLS."""

from django.urls import path

from access_requests.views import lifecycle

urlpatterns: list = [
    # the grant lifecycle (access_requests/views/lifecycle.py)
    path("my-data/grants/<int:grant_pk>/revoke/", lifecycle.grant_revoke_page, name="grant-revoke"),
    path("my-data/grants/<int:grant_pk>/extension/", lifecycle.grant_extension_page, name="grant-extension"),
    path(
        "my-data/grants/<int:grant_pk>/extension/decision/",
        lifecycle.grant_extension_decide_page,
        name="grant-extension-decide",
    ),
]
