"""Pages of access grants (mounted at the site's root): My data, download links, extensions,
revocation, closeout. Each URL has its row in portal/access.py URLS."""

from django.urls import path

from access_requests.views import entitlements, grants, lifecycle

urlpatterns: list = [
    path("my-data/", grants.my_data, name="my-data"),
    path("my-data/grants/<int:grant_pk>/", grants.grant_detail, name="grant-detail"),
    path("my-data/grants/<int:grant_pk>/manifest.sha256", grants.grant_manifest, name="grant-manifest"),
    path("my-data/grants/<int:grant_pk>/download.py", grants.grant_script, name="grant-script"),
    # the RDO's view of what a processing grant's environment was told (access_requests/views/entitlements.py)
    path("grants/<int:grant_pk>/deliveries/", entitlements.grant_deliveries, name="grant-deliveries"),
    # the grant lifecycle (access_requests/views/lifecycle.py)
    path("my-data/grants/<int:grant_pk>/revoke/", lifecycle.grant_revoke_page, name="grant-revoke"),
    path("my-data/grants/<int:grant_pk>/extension/", lifecycle.grant_extension_page, name="grant-extension"),
    path(
        "my-data/grants/<int:grant_pk>/extension/decision/",
        lifecycle.grant_extension_decide_page,
        name="grant-extension-decide",
    ),
]
