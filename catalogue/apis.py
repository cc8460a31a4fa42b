"""The catalogue API: search and read datasets (anyone), and stewards' writes.

Each view validates its input with a serializer, fetches through a permission-checked getter,
calls one selector or service, and serialises. Domain errors from the services become 400,
403 or 409 in portal.apis.exception_handler.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from catalogue import services
from catalogue.permissions import dataset_get_for_steward
from catalogue.selectors import (
    FacetOptions,
    data_holder_get_for_steward,
    dataset_facet_counts,
    dataset_get_visible,
    dataset_search,
)
from catalogue.serializers import (
    DatasetCreateSerializer,
    DatasetDetailSerializer,
    DatasetListSerializer,
    DatasetRegisterFilesSerializer,
    DatasetRemoveFileSerializer,
    DatasetSearchInputSerializer,
    DatasetWithdrawSerializer,
    DatasetWriteSerializer,
    FacetCountsSerializer,
    FileScanSerializer,
    PaginatedDatasetListSerializer,
    validate_identifier,
)
from portal.apis import ErrorSerializer
from portal.pagination import PortalPagination

TAG = ["catalogue"]
IDENTIFIER = OpenApiParameter(
    "identifier", OpenApiTypes.STR, OpenApiParameter.PATH, description="the dataset's persistent identifier"
)
# A malformed identifier in the path is a 400; a dataset's state can refuse a write (409). The errors
# every operation's shape implies (401, 403, 404, ...) are added by portal.schema.PortalAutoSchema.
ERRORS = {400: ErrorSerializer}
WRITE_ERRORS = {**ERRORS, 409: ErrorSerializer}


class DatasetPagination(PortalPagination):
    """A page past the end is bad input (400 naming `page`), like an oversized page size."""

    def paginate_queryset(self, queryset, request, view=None):
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound as exc:
            raise ValidationError({"page": [str(exc.detail)]})


def _detail(request, identifier: str, *, status_code: int = status.HTTP_200_OK) -> Response:
    dataset = dataset_get_visible(user=request.user, identifier=identifier, detail=True)
    return Response(DatasetDetailSerializer(dataset, context={"request": request}).data, status=status_code)


class DatasetListApi(APIView):
    @extend_schema(
        tags=TAG,
        operation_id="datasets_list",
        summary="Search the catalogue",
        description="Published datasets for everyone; stewards also see their own holders' drafts and withdrawn "
        "datasets, the Research Data Office all. Unknown filter values are a 400 naming the parameter.",
        parameters=[
            DatasetSearchInputSerializer,
            OpenApiParameter("page", OpenApiTypes.INT, description="page number, from 1"),
            OpenApiParameter(
                "page_size", OpenApiTypes.INT, description=f"results per page, at most {PortalPagination.max_page_size}"
            ),
        ],
        responses={200: PaginatedDatasetListSerializer},
    )
    def get(self, request):
        options = FacetOptions()
        params = DatasetSearchInputSerializer(data=request.query_params, context={"options": options})
        params.is_valid(raise_exception=True)
        query = params.query()
        paginator = DatasetPagination()
        datasets = dataset_search(user=request.user, query=query, options=options)
        page = paginator.paginate_queryset(datasets, request, view=self)
        response = paginator.get_paginated_response(
            DatasetListSerializer(page, many=True, context={"request": request}).data
        )
        if params.validated_data["facets"]:
            groups = dataset_facet_counts(user=request.user, query=query, options=options)
            response.data["facets"] = FacetCountsSerializer(groups).data
        return response

    @extend_schema(
        tags=TAG,
        operation_id="datasets_create",
        summary="Create a draft dataset (stewards of the holder)",
        request=DatasetCreateSerializer,
        responses={201: DatasetDetailSerializer, **WRITE_ERRORS},
    )
    def post(self, request):
        params = DatasetCreateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = dict(params.validated_data)
        holder = data_holder_get_for_steward(user=request.user, slug=data.pop("holder"))
        dataset = services.dataset_create(actor=request.user, holder=holder, data=data)
        return _detail(request, dataset.identifier, status_code=status.HTTP_201_CREATED)


class DatasetDetailApi(APIView):
    @extend_schema(
        tags=TAG,
        operation_id="datasets_retrieve",
        summary="One dataset with its files",
        parameters=[IDENTIFIER],
        responses={200: DatasetDetailSerializer, **ERRORS},
    )
    def get(self, request, identifier: str):
        return _detail(request, validate_identifier(identifier))

    @extend_schema(
        tags=TAG,
        operation_id="datasets_partial_update",
        summary="Change a dataset (stewards of its holder)",
        parameters=[IDENTIFIER],
        request=DatasetWriteSerializer,
        responses={200: DatasetDetailSerializer, **WRITE_ERRORS},
    )
    def patch(self, request, identifier: str):
        dataset = dataset_get_for_steward(user=request.user, identifier=validate_identifier(identifier))
        params = DatasetWriteSerializer(data=request.data, partial=True)
        params.is_valid(raise_exception=True)
        dataset = services.dataset_update(actor=request.user, dataset=dataset, data=dict(params.validated_data))
        return _detail(request, dataset.identifier)


class DatasetPublishApi(APIView):
    @extend_schema(
        tags=TAG,
        operation_id="datasets_publish",
        summary="Publish a dataset (stewards of its holder)",
        parameters=[IDENTIFIER],
        request=None,
        responses={200: DatasetDetailSerializer, **WRITE_ERRORS},
    )
    def post(self, request, identifier: str):
        dataset = dataset_get_for_steward(user=request.user, identifier=validate_identifier(identifier))
        services.dataset_publish(actor=request.user, dataset=dataset)
        return _detail(request, dataset.identifier)


class DatasetWithdrawApi(APIView):
    @extend_schema(
        tags=TAG,
        operation_id="datasets_withdraw",
        summary="Withdraw a dataset from the catalogue (stewards of its holder)",
        parameters=[IDENTIFIER],
        request=DatasetWithdrawSerializer,
        responses={200: DatasetDetailSerializer, **WRITE_ERRORS},
    )
    def post(self, request, identifier: str):
        dataset = dataset_get_for_steward(user=request.user, identifier=validate_identifier(identifier))
        params = DatasetWithdrawSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        services.dataset_withdraw(actor=request.user, dataset=dataset, reason=params.validated_data["reason"])
        return _detail(request, dataset.identifier)


class DatasetRegisterFilesApi(APIView):
    @extend_schema(
        tags=TAG,
        operation_id="datasets_register_files",
        summary="Register the files under a folder of the data holder's storage area (stewards of its holder)",
        description="Starts a background scan that records each file's path, size and SHA-256; poll the "
        "dataset to see the files. `folder` is relative to the storage area of the dataset's data holder and "
        "the stored paths start with the area's name. A folder that leaves the area (`..`, an absolute path, a "
        "symbolic link pointing elsewhere, another holder's area, the applicants' documents) is refused with "
        "400 and an error on `folder`, and the attempt is recorded as a `dataset.files_refused` audit event; "
        "files inside the folder that are links leaving the area are skipped and listed in `skipped`.",
        parameters=[IDENTIFIER],
        request=DatasetRegisterFilesSerializer,
        responses={202: FileScanSerializer, **WRITE_ERRORS},
    )
    def post(self, request, identifier: str):
        dataset = dataset_get_for_steward(user=request.user, identifier=validate_identifier(identifier))
        params = DatasetRegisterFilesSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        scan = services.dataset_register_files(
            actor=request.user, dataset=dataset, folder=params.validated_data["folder"]
        )
        return Response(FileScanSerializer(scan).data, status=status.HTTP_202_ACCEPTED)


class DatasetRemoveFileApi(APIView):
    @extend_schema(
        tags=TAG,
        operation_id="datasets_remove_file",
        summary="Remove a file registered by mistake (stewards of its holder; a decisive act)",
        description="The file's registration is marked removed, with the reason, and the file leaves the dataset's "
        "file list, totals and export; its bytes stay in the holder's storage. On a draft that is all. Once the "
        "dataset has been published, the removal makes a new major version (listed in `changes`), and the "
        "applicants of the applications that request the dataset are told by e-mail. A path with no file in force "
        "is a 400 on `path` (unless the same file was already removed: then the dataset is returned unchanged); "
        "a missing reason a 400 on `reason`; a `sha256` other than the file's current one a 409. Needs the "
        "password confirmed recently (`X-Confirm-Password` with a token).",
        parameters=[IDENTIFIER],
        request=DatasetRemoveFileSerializer,
        responses={200: DatasetDetailSerializer, **WRITE_ERRORS},
    )
    def post(self, request, identifier: str):
        dataset = dataset_get_for_steward(user=request.user, identifier=validate_identifier(identifier))
        params = DatasetRemoveFileSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        services.dataset_file_remove(actor=request.user, dataset=dataset, **params.validated_data)
        return _detail(request, dataset.identifier)
