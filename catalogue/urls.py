"""Pages of the catalogue (mounted at /catalogue/)."""

from django.urls import path  # noqa: F401

app_name = "catalogue"

urlpatterns: list = [
    # search and dataset pages, basket: catalogue/views/search.py
    # steward pages: catalogue/views/steward.py
]
