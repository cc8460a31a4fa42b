"""Catalogue API (mounted at /api/v1/)."""

from django.urls import path

from catalogue import apis

urlpatterns: list = [
    path("datasets/", apis.DatasetListApi.as_view(), name="api-datasets"),
    path("datasets/<str:identifier>/", apis.DatasetDetailApi.as_view(), name="api-dataset-detail"),
    path("datasets/<str:identifier>/publish/", apis.DatasetPublishApi.as_view(), name="api-dataset-publish"),
    path("datasets/<str:identifier>/withdraw/", apis.DatasetWithdrawApi.as_view(), name="api-dataset-withdraw"),
    path(
        "datasets/<str:identifier>/files/register/",
        apis.DatasetRegisterFilesApi.as_view(),
        name="api-dataset-register-files",
    ),
    path(
        "datasets/<str:identifier>/files/remove/",
        apis.DatasetRemoveFileApi.as_view(),
        name="api-dataset-file-remove",
    ),
]
