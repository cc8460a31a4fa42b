"""The catalogue and each dataset in DCAT-AP (EUCAIM profile), as Turtle and JSON-LD."""

from django.http import HttpResponse, JsonResponse
from django.template.defaultfilters import pluralize
from django.views.decorators.http import require_GET
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.views import APIView

from access_requests.apis import AnyAcceptNegotiation
from catalogue.dcat import EXPORT_PREFETCH, dataset_graph, to_jsonld, to_turtle
from catalogue.dcat_pages import EXPORT_PAGE_SIZE, PageOutside, catalogue_page
from catalogue.models import Dataset
from portal.access import require
from portal.apis import ErrorSerializer

FORMATS = {
    "ttl": (to_turtle, "text/turtle; charset=utf-8"),
    "jsonld": (to_jsonld, "application/ld+json"),
}


def _response(body, fmt: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=FORMATS[fmt][1])
    response["Content-Disposition"] = f'inline; filename="{filename}.{fmt}"'
    return response


class _CatalogueExportApi(APIView):
    """The published catalogue, the same for everyone, EXPORT_PAGE_SIZE datasets a page (by identifier)
    with Hydra paging in the graph and `Link` headers, so a harvester walks it page by page and no
    request renders the whole catalogue. Each page is put together once per catalogue version
    (catalogue/cache.py; a publish, edit, withdrawal or file change makes a new one) from its datasets'
    descriptions, each rendered once until it changes (catalogue/dcat_pages.py). This is the feed
    partner nodes harvest (federation/harvest.py)."""

    fmt = "ttl"
    authentication_classes: list = []
    content_negotiation_class = AnyAcceptNegotiation

    def get(self, request):
        raw = request.GET.get("page", "1")
        if not raw.isdigit() or int(raw) < 1:
            return _refusal(400, "page_invalid", "page: a whole number of at least 1.")
        number = int(raw)
        try:
            body, page = catalogue_page(self.fmt, number)
        except PageOutside as outside:
            last = outside.last
            return _refusal(
                404,
                "page_outside",
                f"page: the catalogue has {last} page{pluralize(last)} of at most {EXPORT_PAGE_SIZE} datasets.",
            )
        last = page.last
        response = _response(body, self.fmt, "catalogue")
        links = [(1, "first"), (last, "last")]
        links += [(number - 1, "prev")] if number > 1 else []
        links += [(number + 1, "next")] if number < last else []
        response["Link"] = ", ".join(f'<{page.address(n)}>; rel="{rel}"' for n, rel in links)
        return response


def _refusal(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail, "code": code}, status=status)


_PAGE = OpenApiParameter(
    "page", OpenApiTypes.INT, OpenApiParameter.QUERY, description=f"1, 2, ... ({EXPORT_PAGE_SIZE} datasets a page)"
)
_EXPORT_ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="`page_invalid`: not a whole number of at least 1"),
    404: OpenApiResponse(ErrorSerializer, description="`page_outside`: past the last page"),
}


class CatalogueTurtleApi(_CatalogueExportApi):
    fmt = "ttl"

    @extend_schema(
        operation_id="catalogue_export_turtle",
        tags=["federation"],
        auth=[{}],
        summary="The catalogue in DCAT-AP 3 (EUCAIM profile) as Turtle: the harvest feed",
        parameters=[_PAGE],
        responses={(200, "text/turtle"): OpenApiTypes.STR, **_EXPORT_ERRORS},
    )
    def get(self, request):
        return super().get(request)


class CatalogueJsonLdApi(_CatalogueExportApi):
    fmt = "jsonld"

    @extend_schema(
        operation_id="catalogue_export_jsonld",
        tags=["federation"],
        auth=[{}],
        summary="The catalogue in DCAT-AP 3 (EUCAIM profile) as JSON-LD: the harvest feed",
        parameters=[_PAGE],
        responses={(200, "application/ld+json"): OpenApiTypes.OBJECT, **_EXPORT_ERRORS},
    )
    def get(self, request):
        return super().get(request)


@require_GET
def dataset_export(request, identifier: str, fmt: str):
    """A published dataset for anyone; a draft or withdrawn one for its stewards and the RDO (404 for the rest)."""
    dataset = (
        Dataset.objects.select_related("holder")
        .prefetch_related(*EXPORT_PREFETCH)
        .filter(identifier=identifier)
        .first()
    )
    require(request.user, "dataset.view", dataset)
    return _response(FORMATS[fmt][0](dataset_graph(dataset)), fmt, dataset.identifier)
