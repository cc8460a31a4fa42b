"""Pages of access grants (mounted at the site's root): My data, download links, extensions,
revocation, closeout. Each URL has its row in portal/access.py URLS."""

from django.urls import path

from access_requests.views import entitlements

urlpatterns: list = [
    # the RDO's view of what a processing grant's environment was told (access_requests/views/entitlements.py)
    path("grants/<int:grant_pk>/deliveries/", entitlements.grant_deliveries, name="grant-deliveries"),
]
