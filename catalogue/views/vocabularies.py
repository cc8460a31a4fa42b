"""The concepts the DCAT-AP export names, at their own IRIs (`/catalogue/vocabularies/<scheme>/<code>`).

A harvester that dereferences a concept gets its description in RDF (Turtle or JSON-LD, by the
`Accept` header or `?format=`); a browser gets a page that says what the concept means and links
to the catalogue's datasets that carry it. The schemes are the controlled vocabularies shipped with
the code, the federation tiers, the dataset types and the equipment manufacturers.
"""

from dataclasses import dataclass
from urllib.parse import urlencode

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.http import require_GET
from rdflib import URIRef
from rdflib.namespace import RDF, SKOS

from catalogue.dcat import (
    ACCESS_CONDITIONS,
    DATA_USE_CONDITIONS,
    EXACT_MATCH,
    english,
    new_graph,
    site_url,
    skos_concept,
    to_jsonld,
    to_turtle,
)
from catalogue.models import DatasetType, Manufacturer, Term, Tier, Vocabulary

RDF_FORMATS = {
    "ttl": (to_turtle, "text/turtle; charset=utf-8"),
    "jsonld": (to_jsonld, "application/ld+json"),
}
ACCEPTED = (("text/turtle", "ttl"), ("application/ld+json", "jsonld"), ("application/json", "jsonld"))

# Where a concept of the scheme is defined by a standard: ICD-10, DICOM, EUCAIM's vocabularies.
MATCHES = {
    Vocabulary.CONDITION: EXACT_MATCH["condition"],
    Vocabulary.MODALITY: EXACT_MATCH["modality"],
    Vocabulary.DATA_USE: f"{DATA_USE_CONDITIONS}#{{code}}",
    Vocabulary.ACCESS_MODE: f"{ACCESS_CONDITIONS}#{{code}}",
}
# The facet of the catalogue search that filters by each scheme's concepts, where there is one.
SEARCH_FACETS = {
    Vocabulary.MODALITY: "modality",
    Vocabulary.CONDITION: "condition",
    Vocabulary.BODY_PART: "body_part",
    Vocabulary.DATA_USE: "data_use",
    Vocabulary.ACCESS_MODE: "access_mode",
    "manufacturer": "manufacturer",
}
SCHEME_TITLES = {
    **{value: label for value, label in Vocabulary.choices},
    "tier": "Federation tier (EUCAIM interoperability level)",
    "dataset_type": "Dataset type",
    "manufacturer": "Equipment manufacturer (DICOM 0008,0070)",
}


@dataclass(frozen=True)
class Concept:
    scheme: str
    code: str
    label: str
    description: str = ""
    match: str = ""
    search_value: str = ""  # the value the catalogue search's facet takes, where it filters by this scheme


def _concepts(scheme: str) -> list[Concept]:
    """Every concept of `scheme`, in its order; Http404 for a scheme the portal does not have."""
    if scheme in Vocabulary.values:
        pattern = MATCHES.get(scheme, "")
        return [
            Concept(
                scheme,
                term.code,
                term.label,
                term.description,
                pattern.format(code=term.code) if pattern else "",
                term.code,
            )
            for term in Term.objects.filter(vocabulary=scheme).order_by("code")
        ]
    if scheme == "tier":
        return [Concept(scheme, str(tier.value), tier.label) for tier in Tier]
    if scheme == "dataset_type":
        return [Concept(scheme, kind.value, f"{kind.label} dataset") for kind in DatasetType]
    if scheme == "manufacturer":
        names = Manufacturer.objects.order_by("name").values_list("name", flat=True)
        return [Concept(scheme, slugify(name) or "unknown", name, search_value=name) for name in names]
    raise Http404("No such vocabulary.")


def _wants(request) -> str:
    """ "ttl", "jsonld" or "" (a page), from `?format=` or else the Accept header."""
    asked = request.GET.get("format", "")
    if asked in RDF_FORMATS:
        return asked
    accept = request.headers.get("Accept", "")
    if "text/html" in accept:
        return ""
    return next((fmt for media_type, fmt in ACCEPTED if media_type in accept), "")


def _rdf(request, graph) -> HttpResponse | None:
    fmt = _wants(request)
    if not fmt:
        return None
    serialise, content_type = RDF_FORMATS[fmt]
    response = HttpResponse(serialise(graph), content_type=content_type)
    response["Vary"] = "Accept"
    return response


def _search_url(concept: Concept) -> str:
    facet = SEARCH_FACETS.get(concept.scheme)
    return f"{reverse('catalogue:search')}?{urlencode({facet: concept.search_value})}" if facet else ""


def _describe(graph, concept: Concept) -> URIRef:
    node = skos_concept(graph, concept.scheme, concept.code, concept.label, concept.match)
    if concept.description:
        graph.add((node, SKOS.definition, english(concept.description)))
    return node


def _scheme_node(graph, scheme: str) -> URIRef:
    node = URIRef(site_url(f"/catalogue/vocabularies/{scheme}"))
    graph.add((node, RDF.type, SKOS.ConceptScheme))
    graph.add((node, SKOS.prefLabel, english(SCHEME_TITLES[scheme])))
    return node


@require_GET
def vocabulary_scheme(request, scheme: str):
    """A scheme and its concepts."""
    concepts = _concepts(scheme)
    graph = new_graph()
    node = _scheme_node(graph, scheme)
    for concept in concepts:
        graph.add((node, SKOS.hasTopConcept, _describe(graph, concept)))
    response = _rdf(request, graph)
    if response is not None:
        return response
    return render(
        request,
        "catalogue/vocabulary_scheme.html",
        {"scheme": scheme, "title": SCHEME_TITLES[scheme], "concepts": concepts},
    )


@require_GET
def vocabulary_concept(request, scheme: str, code: str):
    """One concept: its label, notation, scheme and standard match."""
    concept = next((c for c in _concepts(scheme) if c.code == code), None)
    if concept is None:
        raise Http404("No such concept in this vocabulary.")
    graph = new_graph()
    node = _describe(graph, concept)
    graph.add((node, SKOS.topConceptOf, _scheme_node(graph, scheme)))
    response = _rdf(request, graph)
    if response is not None:
        return response
    return render(
        request,
        "catalogue/vocabulary_concept.html",
        {
            "scheme": scheme,
            "title": SCHEME_TITLES[scheme],
            "concept": concept,
            "search_url": _search_url(concept),
        },
    )
