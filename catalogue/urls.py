"""Pages of the catalogue (mounted at /catalogue/)."""

from django.urls import path  # noqa: F401

from catalogue.views import search as search_views

app_name = "catalogue"

urlpatterns: list = [
    # search and dataset pages, basket: catalogue/views/search.py
    path("", search_views.search, name="search"),
    path("datasets/<str:identifier>/", search_views.dataset_detail, name="dataset-detail"),
    path("datasets/<str:identifier>/apply/", search_views.dataset_apply, name="dataset-apply"),
    path("basket/", search_views.basket, name="basket"),
    path("basket/<str:identifier>/remove/", search_views.basket_remove_view, name="basket-remove"),
    # steward pages: catalogue/views/steward.py
]
