"""The DCAT-AP export validated by pySHACL against the official DCAT-AP 3.0.1 shapes and the EUCAIM
profile's mandatory properties (catalogue/shapes/): every export the portal serves, in both formats."""

import hashlib
from pathlib import Path

import pytest
from django.urls import reverse
from pyshacl import validate
from rdflib import Graph, URIRef
from rdflib.namespace import DCTERMS, SH

from catalogue.dcat import EUCAIM
from catalogue.models import Dataset, DatasetFile
from catalogue.services import dataset_create, dataset_publish
from tests.catalogue.conftest import dataset_input

SHAPES_DIR = Path(__file__).resolve().parents[2] / "catalogue" / "shapes"
FORMATS = (("catalogue:export-ttl", "turtle"), ("catalogue:export-jsonld", "json-ld"))


@pytest.fixture(scope="module")
def dcat_ap() -> Graph:
    """Both official files as published, less the `sh:property` links to shapes neither defines (five
    in the published files: SEMICeu/DCAT-AP issue 448, open). Such a link constrains nothing, and a
    SHACL engine refuses the whole graph for it; every constraint the files do state is kept."""
    graph = Graph()
    for name in ("dcat-ap-3.0.1-SHACL.ttl", "dcat-ap-3.0.1-ranges.ttl"):
        graph.parse(SHAPES_DIR / name, format="turtle")
    dangling = [(s, o) for s, o in graph.subject_objects(SH.property) if graph.value(o, SH.path) is None]
    assert len(dangling) == 5, "the shapes changed: look again at which links are dangling"
    for node, shape in dangling:
        graph.remove((node, SH.property, shape))
    return graph


@pytest.fixture(scope="module")
def eucaim() -> Graph:
    return Graph().parse(SHAPES_DIR / "eucaim-mandatory.ttl", format="turtle")


def violations(data: Graph, shapes: Graph) -> str:
    conforms, _, text = validate(data, shacl_graph=shapes, inference="none", advanced=True, allow_warnings=True)
    return "" if conforms else text


@pytest.fixture
def catalogue(steward, holder):
    """Two datasets of one holder: one with everything the profile has room for (two conditions, two
    access modes, parameterised data-use conditions, files, a licence, its own landing page), one
    with only what publishing needs."""
    rich = dataset_input(
        conditions=["C50", "C61"],
        access_modes=["DOWNLOAD", "IN_SITU_PROCESSING"],
        data_use=[
            {"code": "ETHICS_APPROVAL_REQUIRED", "parameters": {}},
            {"code": "GEOGRAPHICAL_RESTRICTION", "parameters": {"countries": ["LV", "EE"]}},
            {"code": "TIME_LIMIT_ON_USE", "parameters": {"months": 24}},
        ],
        licence="Data-access agreement of the federation",
        landing_page="https://hospital.example/datasets/mg",
    )
    first = dataset_create(actor=steward, holder=holder, data=rich)
    Dataset.objects.filter(pk=first.pk).update(anonymisation_profile="DICOM PS3.15 basic profile")
    DatasetFile.objects.create(dataset=first, path="d/1.dcm", size_bytes=3, sha256=hashlib.sha256(b"one").hexdigest())
    dataset_publish(actor=steward, dataset=first)
    bare = dataset_input(identifier="LV-RTH-CT-2024", age_min=None, age_max=None, acquisition_start=None)
    dataset_publish(actor=steward, dataset=dataset_create(actor=steward, holder=holder, data=bare))
    return first


@pytest.mark.parametrize(("name", "fmt"), FORMATS)
def test_the_catalogue_export_has_no_dcat_ap_violation(client, catalogue, dcat_ap, name, fmt):
    graph = Graph().parse(data=client.get(reverse(name)).content.decode(), format=fmt)

    assert len(list(graph.subject_objects(URIRef(f"{EUCAIM}hasCondition")))) == 2  # one a dataset
    assert violations(graph, dcat_ap) == ""


@pytest.mark.parametrize(("name", "fmt"), FORMATS)
def test_the_catalogue_export_has_every_mandatory_property_of_the_eucaim_profile(client, catalogue, eucaim, name, fmt):
    graph = Graph().parse(data=client.get(reverse(name)).content.decode(), format=fmt)

    assert violations(graph, eucaim) == ""


def test_a_dataset_export_passes_both(client, catalogue, dcat_ap, eucaim):
    response = client.get(reverse("catalogue:dataset-dcat-ttl", args=[catalogue.identifier]))
    graph = Graph().parse(data=response.content.decode(), format="turtle")

    assert violations(graph, dcat_ap) == ""
    assert violations(graph, eucaim) == ""


def test_the_shapes_find_what_is_missing(client, catalogue, dcat_ap, eucaim):
    """The validation can fail: a dataset without its title, and a distribution whose only right is
    a blank node without the access condition, are each reported."""
    graph = Graph().parse(data=client.get(reverse("catalogue:export-ttl")).content.decode(), format="turtle")
    dataset = next(graph.subjects(DCTERMS.identifier, None))
    graph.remove((dataset, DCTERMS.title, None))
    assert "dct:title" in violations(graph, eucaim) or "title" in violations(graph, eucaim)
    assert "title" in violations(graph, dcat_ap)

    graph = Graph().parse(data=client.get(reverse("catalogue:export-ttl")).content.decode(), format="turtle")
    graph.remove((None, DCTERMS.rights, None))
    assert "rights" in violations(graph, eucaim)
