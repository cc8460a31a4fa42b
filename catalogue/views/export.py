"""The catalogue and each dataset in DCAT-AP (EUCAIM profile), as Turtle and JSON-LD."""

from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseNotFound
from django.template.defaultfilters import pluralize
from django.views.decorators.http import require_GET

from catalogue.dcat import EXPORT_PREFETCH, dataset_graph, to_jsonld, to_turtle
from catalogue.dcat_pages import EXPORT_PAGE_SIZE, PageOutside, catalogue_page
from catalogue.models import Dataset
from portal.access import require

FORMATS = {
    "ttl": (to_turtle, "text/turtle; charset=utf-8"),
    "jsonld": (to_jsonld, "application/ld+json"),
}


def _response(body, fmt: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=FORMATS[fmt][1])
    response["Content-Disposition"] = f'inline; filename="{filename}.{fmt}"'
    return response


@require_GET
def catalogue_export(request, fmt: str):
    """The published catalogue, the same for everyone, EXPORT_PAGE_SIZE datasets a page (by identifier)
    with Hydra paging in the graph and `Link` headers, so a harvester walks it page by page and no
    request renders the whole catalogue. Each page is put together once per catalogue version
    (catalogue/cache.py; a publish, edit, withdrawal or file change makes a new one) from its datasets'
    descriptions, each rendered once until it changes (catalogue/dcat_pages.py)."""
    raw = request.GET.get("page", "1")
    if not raw.isdigit() or int(raw) < 1:
        return HttpResponseBadRequest("page: a whole number of at least 1.", content_type="text/plain; charset=utf-8")
    number = int(raw)
    try:
        body, page = catalogue_page(fmt, number)
    except PageOutside as outside:
        last = outside.last
        return HttpResponseNotFound(
            f"page: the catalogue has {last} page{pluralize(last)} of at most {EXPORT_PAGE_SIZE} datasets.",
            content_type="text/plain; charset=utf-8",
        )
    last = page.last
    response = _response(body, fmt, "catalogue")
    links = [(1, "first"), (last, "last")]
    links += [(number - 1, "prev")] if number > 1 else []
    links += [(number + 1, "next")] if number < last else []
    response["Link"] = ", ".join(f'<{page.address(n)}>; rel="{rel}"' for n, rel in links)
    return response


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
