"""The catalogue export's pages, put together from each dataset's description rendered once.

A dataset's Turtle or JSON-LD is kept in the cache under a fingerprint of everything it is made of
(the dataset's row, its holder, its coded terms, its conditions of use, its files). A page is the
catalogue's own few triples followed by its datasets' kept descriptions: a change to one dataset
renders that dataset again, not the catalogue, and a page whose datasets are all known costs one
cache read of many keys. The page is the same RDF graph as `catalogue.dcat.catalogue_graph` gives
(tests/catalogue/test_export_pages.py).

Both formats can be joined: a Turtle document may repeat a prefix with the same IRI, so each
description's prefixes are said once at the top; a JSON-LD document's `@graph` is a list of node
objects in the one shared context. Blank nodes keep the labels rdflib gave them, unique to their
description.
"""

import hashlib
import json
from collections.abc import Sequence

from django.conf import settings
from django.core.cache import cache
from rdflib.namespace import DCAT

from catalogue.cache import TIMEOUT, catalogue_version, remembered
from catalogue.dcat import (
    JSONLD_CONTEXT,
    ExportPage,
    add_dataset,
    catalogue_header,
    dataset_iri,
    datasets_for_export,
    file_manifests,
    file_totals,
    new_graph,
    to_jsonld,
    to_turtle,
    type_external_resources,
)
from catalogue.models import Dataset

# Bump when the description a dataset renders to changes (catalogue/dcat.py), so no kept one is reused.
DESCRIPTION_VERSION = 2


def fingerprint(dataset: Dataset, files: tuple | None) -> str:
    """A digest of everything a dataset's description is made of (its relations prefetched)."""
    holder = dataset.holder
    parts = [
        DESCRIPTION_VERSION,
        settings.SITE_URL,
        dataset.pk,
        dataset.updated_at.isoformat(),
        [holder.slug, holder.name, holder.contact_email, holder.website, holder.country],
        [term.pk for term in dataset.conditions.all()],
        [term.pk for term in dataset.modalities.all()],
        [term.pk for term in dataset.body_parts.all()],
        [term.pk for term in dataset.birth_sexes.all()],
        [term.pk for term in dataset.access_modes.all()],
        [maker.pk for maker in dataset.manufacturers.all()],
        [[c.term_id, c.parameters] for c in dataset.use_conditions.all()],
        files,
    ]
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:40]


def _turtle_parts(text: str) -> tuple[tuple[str, ...], str]:
    """A Turtle document's prefix lines and the statements after them."""
    lines = text.split("\n")
    head = 0
    while head < len(lines) and lines[head].startswith("@prefix"):
        head += 1
    return tuple(lines[:head]), "\n".join(lines[head:]).strip()


def _jsonld_parts(text: str) -> tuple[tuple[str, ...], str]:
    """A JSON-LD document's node objects, as the members of a list."""
    document = json.loads(text)
    document.pop("@context", None)
    nodes = document.get("@graph", [document] if document else [])
    return (), ",\n".join(json.dumps(node, indent=1, ensure_ascii=False) for node in nodes)


FORMATS = {"ttl": (to_turtle, _turtle_parts), "jsonld": (to_jsonld, _jsonld_parts)}


def _join(fmt: str, parts: Sequence[tuple[tuple[str, ...], str]]) -> str:
    if fmt == "ttl":
        prefixes = sorted({line for lines, _ in parts for line in lines})
        return "\n".join(prefixes) + "\n\n" + "\n\n".join(body for _, body in parts if body) + "\n"
    context = json.dumps({"@context": JSONLD_CONTEXT}, indent=1)[:-2]  # the object, left open
    return context + ',\n "@graph": [\n' + ",\n".join(body for _, body in parts if body) + "\n ]\n}\n"


def _described(fmt: str, datasets: Sequence[Dataset]) -> list[tuple[tuple[str, ...], str]]:
    """Each dataset's description in `fmt`, from the cache where it is kept, rendered where not."""
    totals = file_totals(d.pk for d in datasets)
    keys = {d.pk: f"catalogue:dcat-dataset:{fmt}:{fingerprint(d, totals.get(d.pk))}" for d in datasets}
    kept = cache.get_many(list(keys.values()))
    missing = [d for d in datasets if keys[d.pk] not in kept]
    if missing:
        serialise, split = FORMATS[fmt]
        manifests = file_manifests(d.pk for d in missing)
        rendered = {}
        for dataset in missing:
            graph = new_graph()
            add_dataset(graph, dataset, manifests.get(dataset.pk))
            rendered[keys[dataset.pk]] = split(serialise(type_external_resources(graph)))
        cache.set_many(rendered, timeout=TIMEOUT)
        kept.update(rendered)
    return [kept[keys[d.pk]] for d in datasets]


def export_page(fmt: str, datasets: Sequence[Dataset], page: ExportPage) -> str:
    """One page of the catalogue export in `fmt` ("ttl" or "jsonld"): the catalogue, its paging, and
    `datasets` (with their relations prefetched, as `datasets_for_export` gives them)."""
    serialise, split = FORMATS[fmt]
    graph = new_graph()
    catalogue = catalogue_header(graph, page)
    for dataset in datasets:
        graph.add((catalogue, DCAT.dataset, dataset_iri(dataset)))
    header = split(serialise(type_external_resources(graph)))
    return _join(fmt, [header, *_described(fmt, datasets)])


# Datasets on one page of the catalogue export: a page renders in about a second from nothing.
EXPORT_PAGE_SIZE = 100


class PageOutside(Exception):
    """A page number past the export's last page."""

    def __init__(self, last: int):
        super().__init__(last)
        self.last = last


def catalogue_page(fmt: str, number: int) -> tuple[str, ExportPage]:
    """Page `number` of the export in `fmt` and where it stands; put together once per catalogue
    version (catalogue/cache.py), from the kept descriptions of its datasets."""
    published = datasets_for_export()
    total = remembered("dcat-total", (), published.count)
    last = max(1, -(-total // EXPORT_PAGE_SIZE))
    if number > last:
        raise PageOutside(last)
    url = f"{settings.SITE_URL}/catalogue/export.{fmt}"
    page = ExportPage(number=number, last=last, total=total, size=EXPORT_PAGE_SIZE, url=url)

    def render() -> str:
        start = (number - 1) * EXPORT_PAGE_SIZE
        return export_page(fmt, list(published[start : start + EXPORT_PAGE_SIZE]), page)

    return remembered("dcat", (fmt, number), render), page


def export_warm(version: int) -> int:
    """Put every page of the export together ahead of the harvesters, for catalogue `version`; stop
    as soon as the catalogue changes again (the next change's own run takes over). Returns the
    number of pages made."""
    made = 0
    for fmt in FORMATS:
        number, last = 1, 1
        while number <= last:
            if catalogue_version() != version:
                return made
            _, page = catalogue_page(fmt, number)
            last, number, made = page.last, number + 1, made + 1
    return made
