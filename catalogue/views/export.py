"""The catalogue and each dataset in DCAT-AP (EUCAIM profile), as Turtle and JSON-LD."""

from django.http import HttpResponse
from django.views.decorators.http import require_GET

from catalogue.cache import remembered
from catalogue.dcat import EXPORT_PREFETCH, catalogue_graph, dataset_graph, to_jsonld, to_turtle
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
    """The published catalogue, the same for everyone: serialised once per catalogue version
    (catalogue/cache.py; a publish, edit, withdrawal or file change makes a new one)."""
    body = remembered("dcat", (fmt,), lambda: FORMATS[fmt][0](catalogue_graph()))
    return _response(body, fmt, "catalogue")


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
