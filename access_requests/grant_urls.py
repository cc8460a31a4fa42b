"""Pages of access grants (mounted at the site's root): My data, download links, extensions,
revocation, closeout. Each URL has its row in portal/access.py URLS."""

from django.urls import path  # noqa: F401  (the helpers' views add their patterns here)

urlpatterns: list = []
