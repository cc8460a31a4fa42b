"""Pages of the catalogue (mounted at /catalogue/)."""

from django.urls import path  # noqa: F401

from catalogue.views import export as export_views
from catalogue.views import ingestion as ingestion_views
from catalogue.views import search as search_views
from catalogue.views import steward as steward_views
from catalogue.views import vocabularies as vocabulary_views

app_name = "catalogue"

urlpatterns: list = [
    # search and dataset pages, basket: catalogue/views/search.py
    path("", search_views.search, name="search"),
    path("datasets/<str:identifier>/", search_views.dataset_detail, name="dataset-detail"),
    path("datasets/<str:identifier>/apply/", search_views.dataset_apply, name="dataset-apply"),
    path("basket/", search_views.basket, name="basket"),
    path("basket/<str:identifier>/remove/", search_views.basket_remove_view, name="basket-remove"),
    # steward pages: catalogue/views/steward.py
    path("steward/", steward_views.my_datasets, name="steward-datasets"),
    path("steward/new/", steward_views.dataset_create_view, name="steward-dataset-create"),
    path("datasets/<str:identifier>/edit/", steward_views.dataset_edit_view, name="steward-dataset-edit"),
    path("datasets/<str:identifier>/publish/", steward_views.dataset_publish_view, name="steward-dataset-publish"),
    path("datasets/<str:identifier>/withdraw/", steward_views.dataset_withdraw_view, name="steward-dataset-withdraw"),
    path("datasets/<str:identifier>/files/", steward_views.dataset_files_view, name="steward-dataset-files"),
    path(
        "datasets/<str:identifier>/files/remove/",
        steward_views.dataset_file_remove_view,
        name="steward-dataset-file-remove",
    ),
    # the ingestion report: catalogue/views/ingestion.py
    path(
        "datasets/<str:identifier>/ingestion/",
        ingestion_views.dataset_ingestion_view,
        name="steward-dataset-ingestion",
    ),
    path(
        "datasets/<str:identifier>/ingestion.csv",
        ingestion_views.dataset_ingestion_csv,
        name="steward-dataset-ingestion-csv",
    ),
    # DCAT-AP export: catalogue/views/export.py
    path("export.ttl", export_views.CatalogueTurtleApi.as_view(), name="export-ttl"),
    path("export.jsonld", export_views.CatalogueJsonLdApi.as_view(), name="export-jsonld"),
    path("datasets/<str:identifier>/dcat.ttl", export_views.dataset_export, {"fmt": "ttl"}, name="dataset-dcat-ttl"),
    path(
        "datasets/<str:identifier>/dcat.jsonld",
        export_views.dataset_export,
        {"fmt": "jsonld"},
        name="dataset-dcat-jsonld",
    ),
    # the concepts the export names, at their IRIs: catalogue/views/vocabularies.py
    path("vocabularies/<str:scheme>", vocabulary_views.vocabulary_scheme, name="vocabulary-scheme"),
    path("vocabularies/<str:scheme>/<str:code>", vocabulary_views.vocabulary_concept, name="vocabulary-concept"),
]
