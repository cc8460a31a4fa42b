"""DCAT-AP export (EUCAIM profile): parseable Turtle and JSON-LD with every mandatory property."""

import hashlib

import pytest
from django.conf import settings
from django.urls import reverse
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, RDFS, SKOS, XSD

from catalogue.dcat import CV, DCAT_VERSION, DCATAP, EUCAIM, HEALTHDCATAP, SPDX, VCARD
from catalogue.models import Dataset, DatasetFile
from catalogue.services import dataset_create, dataset_publish, dataset_withdraw
from tests.catalogue.conftest import dataset_input

EHDS = URIRef("http://data.europa.eu/eli/reg/2025/327/oj")

# The profile's mandatory dataset properties (CATALOGUE_PROFILE.md), hdab aside: it stays out until designated.
MANDATORY = (
    DCTERMS.identifier,
    DCTERMS.title,
    DCTERMS.description,
    DCAT_VERSION,
    EUCAIM.interoperabilityLevel,
    DCAT.distribution,
    DCAT.contactPoint,
    DCAT.theme,
    HEALTHDCATAP.healthCategory,
    DCTERMS.type,
    DCTERMS.accessRights,
    DCATAP.applicableLegislation,
    DCTERMS.publisher,
    HEALTHDCATAP.hasStructuredData,
    HEALTHDCATAP.numberOfUniqueIndividuals,
    HEALTHDCATAP.numberOfRecords,
    EUCAIM.hasBirthSex,
    EUCAIM.hasCondition,
    EUCAIM.collectionMethod,
    EUCAIM.hasImageModality,
    EUCAIM.hasEquipmentManufacturer,
    EUCAIM.hasImageBodyPart,
    DCAT.keyword,
    DCTERMS.provenance,
)


def parse(response, fmt: str) -> Graph:
    return Graph().parse(data=response.content.decode(), format=fmt)


def dataset_node(identifier: str) -> URIRef:
    return URIRef(f"{settings.SITE_URL}/catalogue/datasets/{identifier}/")


@pytest.fixture
def exported(steward, holder):
    data = dataset_input(
        data_use=[
            {"code": "ETHICS_APPROVAL_REQUIRED", "parameters": {}},
            {"code": "GEOGRAPHICAL_RESTRICTION", "parameters": {"countries": ["LV", "EE"]}},
            {"code": "TIME_LIMIT_ON_USE", "parameters": {"months": 24}},
        ],
        licence="Data-access agreement of the federation",
    )
    dataset = dataset_create(actor=steward, holder=holder, data=data)
    # as the ingestion's check records it (catalogue.ingestion.dataset_index_apply)
    Dataset.objects.filter(pk=dataset.pk).update(anonymisation_profile="DICOM PS3.15 basic profile")
    for path, content in (("datasets/a/1.dcm", b"one"), ("datasets/a/2.dcm", b"second")):
        DatasetFile.objects.create(
            dataset=dataset, path=path, size_bytes=len(content), sha256=hashlib.sha256(content).hexdigest()
        )
    return dataset_publish(actor=steward, dataset=dataset)


def test_the_dataset_turtle_parses_and_has_every_mandatory_property(client, exported):
    response = client.get(reverse("catalogue:dataset-dcat-ttl", args=[exported.identifier]))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/turtle; charset=utf-8"
    graph = parse(response, "turtle")
    node = dataset_node(exported.identifier)
    assert (node, RDF.type, DCAT.Dataset) in graph
    missing = [str(p) for p in MANDATORY if graph.value(node, p) is None]
    assert missing == []
    assert graph.value(node, DCTERMS.identifier) == Literal(exported.identifier)
    assert graph.value(node, DCTERMS.title) == Literal(exported.title, lang="en")
    assert graph.value(node, DCAT.theme) == URIRef("http://publications.europa.eu/resource/authority/data-theme/HEAL")
    assert graph.value(node, DCTERMS.accessRights) == URIRef(
        "http://publications.europa.eu/resource/authority/access-right/RESTRICTED"
    )
    assert (node, DCATAP.applicableLegislation, EHDS) in graph
    assert graph.value(node, HEALTHDCATAP.numberOfUniqueIndividuals) == Literal(240, datatype=XSD.nonNegativeInteger)
    assert graph.value(node, HEALTHDCATAP.numberOfRecords) == Literal(480, datatype=XSD.nonNegativeInteger)
    assert graph.value(node, HEALTHDCATAP.hdab) is None  # omitted, never a placeholder


def test_vocabulary_values_are_concepts_with_their_codes_and_standard_matches(client, exported):
    graph = parse(client.get(reverse("catalogue:dataset-dcat-ttl", args=[exported.identifier])), "turtle")
    node = dataset_node(exported.identifier)

    condition = graph.value(node, EUCAIM.hasCondition)
    assert graph.value(condition, SKOS.notation) == Literal("C50")
    assert graph.value(condition, SKOS.exactMatch) == URIRef("https://icd.who.int/browse10/2019/en#/C50")
    modality = graph.value(node, EUCAIM.hasImageModality)
    assert graph.value(modality, SKOS.notation) == Literal("MG")
    body_part = graph.value(node, EUCAIM.hasImageBodyPart)
    assert graph.value(body_part, SKOS.notation) == Literal("BREAST")
    assert graph.value(graph.value(node, EUCAIM.hasBirthSex), SKOS.notation) == Literal("FEMALE")
    manufacturer = graph.value(node, EUCAIM.hasEquipmentManufacturer)
    assert graph.value(manufacturer, SKOS.prefLabel) == Literal("Siemens Healthineers", lang="en")
    assert {str(k) for k in graph.objects(node, DCAT.keyword)} == {"mammography", "screening"}


def test_the_publisher_and_contact_point_name_the_data_holder(client, exported, holder):
    graph = parse(client.get(reverse("catalogue:dataset-dcat-ttl", args=[exported.identifier])), "turtle")
    node = dataset_node(exported.identifier)

    publisher = graph.value(node, DCTERMS.publisher)
    assert graph.value(publisher, FOAF.name) == Literal(holder.name)
    assert graph.value(graph.value(publisher, CV.contactPoint), CV.email) == Literal(holder.contact_email)
    contact = graph.value(node, DCAT.contactPoint)
    assert graph.value(contact, VCARD.hasEmail) == URIRef(f"mailto:{holder.contact_email}")


def test_the_distribution_points_at_the_apply_page_and_carries_the_data_use_conditions(client, exported):
    graph = parse(client.get(reverse("catalogue:dataset-dcat-ttl", args=[exported.identifier])), "turtle")
    distribution = graph.value(dataset_node(exported.identifier), DCAT.distribution)

    assert graph.value(distribution, DCAT.accessURL) == URIRef(
        f"{settings.SITE_URL}/catalogue/datasets/{exported.identifier}/apply/"
    )
    assert (distribution, DCATAP.applicableLegislation, EHDS) in graph
    vocabularies = "https://eucaim.github.io/eucaim_dcat_ap/releases/controlled-vocabularies/"
    rights = set(graph.objects(distribution, DCTERMS.rights))
    # the access condition of the dataset's access mode, by its EUCAIM concept IRI
    download = URIRef(f"{vocabularies}access-conditions/#DOWNLOAD")
    assert download in rights
    assert graph.value(download, SKOS.inScheme) == URIRef(f"{vocabularies}access-conditions/")
    # each data-use condition by its EUCAIM concept IRI, with its DUO code as notation
    duo = {
        str(node).rsplit("#", 1)[1]: str(graph.value(node, SKOS.notation))
        for node in rights
        if str(node).startswith(f"{vocabularies}data-use-conditions/")
    }
    assert duo == {
        "ETHICS_APPROVAL_REQUIRED": "DUO_0000021",
        "GEOGRAPHICAL_RESTRICTION": "DUO_0000022",
        "TIME_LIMIT_ON_USE": "DUO_0000025",
    }
    geographical = URIRef(f"{vocabularies}data-use-conditions/#GEOGRAPHICAL_RESTRICTION")
    assert graph.value(geographical, SKOS.exactMatch) == URIRef("http://purl.obolibrary.org/obo/DUO_0000022")
    # the parameters, which belong to this dataset, in a statement of its own
    statement = URIRef(f"{dataset_node(exported.identifier)}#conditions-of-use")
    assert statement in rights
    assert str(graph.value(statement, RDFS.label)) == (
        "Geographical restriction: countries EE, LV. Time limit on use: months 24."
    )
    assert not any(isinstance(node, BNode) for node in rights)
    assert graph.value(distribution, DCAT.byteSize) == Literal(9, datatype=XSD.nonNegativeInteger)
    checksum = graph.value(distribution, SPDX.checksum)
    assert graph.value(checksum, SPDX.algorithm) == SPDX.checksumAlgorithm_sha256
    manifest = "".join(
        f"{hashlib.sha256(c).hexdigest()}  {p}\n"
        for p, c in (("datasets/a/1.dcm", b"one"), ("datasets/a/2.dcm", b"second"))
    )
    assert str(graph.value(checksum, SPDX.checksumValue)) == hashlib.sha256(manifest.encode()).hexdigest()


def test_the_json_ld_parses_to_the_same_graph_as_the_turtle(client, exported):
    ttl = client.get(reverse("catalogue:dataset-dcat-ttl", args=[exported.identifier]))
    jsonld = client.get(reverse("catalogue:dataset-dcat-jsonld", args=[exported.identifier]))

    assert jsonld.status_code == 200
    assert jsonld["Content-Type"] == "application/ld+json"
    assert isomorphic(parse(ttl, "turtle"), parse(jsonld, "json-ld"))


def test_the_catalogue_export_lists_published_datasets_only(client, exported, steward, holder, make_dataset):
    make_dataset(holder, identifier="HIDDEN-DRAFT", status="draft")
    gone = dataset_create(actor=steward, holder=holder, data=dataset_input(identifier="GONE-1"))
    dataset_withdraw(actor=steward, dataset=dataset_publish(actor=steward, dataset=gone), reason="consent")

    for name, fmt in (("catalogue:export-ttl", "turtle"), ("catalogue:export-jsonld", "json-ld")):
        graph = parse(client.get(reverse(name)), fmt)
        catalogue = URIRef(f"{settings.SITE_URL}/catalogue/")
        assert (catalogue, RDF.type, DCAT.Catalog) in graph
        identifiers = {str(graph.value(d, DCTERMS.identifier)) for d in graph.objects(catalogue, DCAT.dataset)}
        assert identifiers == {exported.identifier}
        assert not set(graph.subjects(DCTERMS.identifier, Literal("HIDDEN-DRAFT")))


def test_a_draft_export_is_404_for_everyone_but_its_stewards(client, steward, other_steward, alice, draft):
    for name in ("catalogue:dataset-dcat-ttl", "catalogue:dataset-dcat-jsonld"):
        path = reverse(name, args=[draft.identifier])
        assert client.get(path).status_code == 404
        client.force_login(alice)
        assert client.get(path).status_code == 404
        client.force_login(other_steward)
        assert client.get(path).status_code == 404
        client.force_login(steward)
        assert client.get(path).status_code == 200
        client.logout()
    assert client.get(reverse("catalogue:dataset-dcat-ttl", args=["NO-SUCH-DATASET"])).status_code == 404


def test_the_catalogue_export_takes_a_fixed_number_of_queries(
    client, steward, holder, exported, django_assert_max_num_queries
):
    for n in range(5):
        dataset_publish(
            actor=steward,
            dataset=dataset_create(actor=steward, holder=holder, data=dataset_input(identifier=f"MORE-{n}")),
        )

    with django_assert_max_num_queries(15):
        response = client.get(reverse("catalogue:export-ttl"))

    assert response.status_code == 200
    assert len(list(parse(response, "turtle").subjects(RDF.type, DCAT.Dataset))) == 6


def test_a_harvester_walks_the_paged_export_and_meets_every_published_dataset_once(
    client, steward, holder, exported, monkeypatch
):
    from catalogue.dcat import HYDRA

    monkeypatch.setattr("catalogue.dcat_pages.EXPORT_PAGE_SIZE", 2)
    for n in range(4):
        dataset_publish(
            actor=steward,
            dataset=dataset_create(actor=steward, holder=holder, data=dataset_input(identifier=f"PAGED-{n}")),
        )
    catalogue = URIRef(f"{settings.SITE_URL}/catalogue/")
    seen, address, pages = [], f"{settings.SITE_URL}{reverse('catalogue:export-ttl')}?page=1", 0
    while address:
        response = client.get(address.removeprefix(settings.SITE_URL))
        assert response.status_code == 200
        graph = parse(response, "turtle")
        view = URIRef(address)
        assert (view, RDF.type, HYDRA.PagedCollection) in graph
        assert graph.value(view, HYDRA.totalItems).toPython() == 5
        assert str(graph.value(view, HYDRA.lastPage)).endswith("?page=3")
        seen += [str(graph.value(d, DCTERMS.identifier)) for d in graph.objects(catalogue, DCAT.dataset)]
        next_page = graph.value(view, HYDRA.nextPage)
        assert ('rel="next"' in response["Link"]) == (next_page is not None)
        address, pages = (str(next_page) if next_page else ""), pages + 1
    assert pages == 3
    assert sorted(seen) == sorted([exported.identifier] + [f"PAGED-{n}" for n in range(4)])


@pytest.mark.parametrize(("number", "status"), [("0", 400), ("x", 400), ("-1", 400), ("2", 404), ("99999999999", 404)])
def test_a_page_outside_the_export_is_refused_with_a_reason(client, exported, number, status):
    response = client.get(reverse("catalogue:export-jsonld"), {"page": number})
    assert response.status_code == status
    assert "page:" in response.content.decode()


def test_the_catalogues_modified_date_is_its_last_change_not_the_time_of_the_request(client, exported, steward, holder):
    def modified():
        graph = parse(client.get(reverse("catalogue:export-ttl")), "turtle")
        return graph.value(URIRef(f"{settings.SITE_URL}/catalogue/"), DCTERMS.modified).toPython()

    exported.refresh_from_db()
    assert modified() == exported.updated_at
    gone = dataset_publish(
        actor=steward, dataset=dataset_create(actor=steward, holder=holder, data=dataset_input(identifier="GONE-2"))
    )
    gone = dataset_withdraw(actor=steward, dataset=gone, reason="consent")
    gone.refresh_from_db()
    assert modified() == gone.updated_at > exported.updated_at  # a withdrawal changes the catalogue too
    assert modified() == gone.updated_at  # asked again later: the same


def test_each_publisher_has_one_contact_point_and_the_catalogue_names_its_operator(
    client, exported, steward, holder, settings
):
    settings.SITE_CONTACT_EMAIL = "rdo@node.example.org"
    for n in range(2):
        dataset_publish(
            actor=steward,
            dataset=dataset_create(actor=steward, holder=holder, data=dataset_input(identifier=f"ALSO-{n}")),
        )
    graph = parse(client.get(reverse("catalogue:export-ttl")), "turtle")
    datasets = list(graph.subjects(RDF.type, DCAT.Dataset))
    assert len(datasets) == 3
    publishers = {graph.value(dataset, DCTERMS.publisher) for dataset in datasets}
    assert len(publishers) == 1  # the same holder
    (publisher,) = publishers
    assert len(list(graph.objects(publisher, CV.contactPoint))) == 1

    operator = graph.value(URIRef(f"{settings.SITE_URL}/catalogue/"), DCTERMS.publisher)
    assert isinstance(operator, URIRef)
    assert (operator, RDF.type, FOAF.Organization) in graph
    (contact,) = graph.objects(operator, CV.contactPoint)
    assert str(graph.value(contact, CV.email)) == "rdo@node.example.org"


def test_every_resource_of_another_publisher_is_given_its_class(client, exported):
    """The EHDS regulation, the media type, the language, the themes, the access right and the
    publisher's country are named by IRIs of other publishers: each carries the class DCAT-AP expects."""
    from catalogue.dcat import ELI, RANGE_CLASSES

    for path in (reverse("catalogue:export-ttl"), reverse("catalogue:dataset-dcat-ttl", args=[exported.identifier])):
        graph = parse(client.get(path), "turtle")
        checked = 0
        for predicate in RANGE_CLASSES:
            for resource in graph.objects(None, predicate):
                if isinstance(resource, URIRef):
                    assert (resource, RDF.type, None) in graph, (predicate, resource)
                    checked += 1
        assert checked >= 8
        assert (EHDS, RDF.type, ELI.LegalResource) in graph
        assert (
            URIRef("http://publications.europa.eu/resource/authority/language/ENG"),
            RDF.type,
            DCTERMS.LinguisticSystem,
        ) in graph


def test_every_concept_iri_of_the_export_answers_with_its_description(client, exported):
    """A harvester dereferencing a concept of the portal's vocabularies gets it in RDF: its label and
    notation as the export gave them; a browser gets a page."""
    graph = parse(client.get(reverse("catalogue:dataset-dcat-ttl", args=[exported.identifier])), "turtle")
    prefix = f"{settings.SITE_URL}/catalogue/vocabularies/"
    concepts = {node for node in graph.subjects(RDF.type, SKOS.Concept) if str(node).startswith(prefix)}
    assert {str(c)[len(prefix) :].split("/")[0] for c in concepts} >= {
        "condition",
        "modality",
        "body_part",
        "birth_sex",
        "tier",
        "dataset_type",
        "manufacturer",
    }
    for concept in concepts:
        path = str(concept)[len(settings.SITE_URL) :]
        response = client.get(path, HTTP_ACCEPT="text/turtle")
        assert response.status_code == 200, path
        assert response["Content-Type"] == "text/turtle; charset=utf-8"
        described = Graph().parse(data=response.content.decode(), format="turtle")
        assert described.value(concept, SKOS.notation) == graph.value(concept, SKOS.notation), path
        assert described.value(concept, SKOS.prefLabel) == graph.value(concept, SKOS.prefLabel), path
        page = client.get(path, HTTP_ACCEPT="text/html")
        assert page.status_code == 200
        assert str(graph.value(concept, SKOS.prefLabel)) in page.content.decode()


def test_a_concept_page_links_to_the_datasets_that_carry_it(client, exported):
    page = client.get("/catalogue/vocabularies/condition/C50").content.decode()
    assert "/catalogue/?condition=C50" in page
    listing = client.get("/catalogue/vocabularies/modality", {"format": "jsonld"})
    assert listing["Content-Type"] == "application/ld+json"
    scheme = Graph().parse(data=listing.content.decode(), format="json-ld")
    assert (URIRef(f"{settings.SITE_URL}/catalogue/vocabularies/modality/MG"), SKOS.notation, Literal("MG")) in scheme


@pytest.mark.parametrize(
    "path",
    ["/catalogue/vocabularies/nonsense", "/catalogue/vocabularies/condition/X99", "/catalogue/vocabularies/tier/9"],
)
def test_an_unknown_vocabulary_or_concept_is_not_found(client, db, path):
    assert client.get(path).status_code == 404


def test_a_dataset_with_several_conditions_names_one_and_codes_them_all(client, steward, holder):
    dataset = dataset_create(actor=steward, holder=holder, data=dataset_input(conditions=["C61", "C50", "C34"]))
    dataset_publish(actor=steward, dataset=dataset)
    graph = parse(client.get(reverse("catalogue:dataset-dcat-ttl", args=[dataset.identifier])), "turtle")
    node = dataset_node(dataset.identifier)

    (condition,) = graph.objects(node, EUCAIM.hasCondition)
    assert graph.value(condition, SKOS.notation) == Literal("C34")
    assert {str(v) for v in graph.objects(node, HEALTHDCATAP.hasCodeValues)} == {
        "ICD-10: C34",
        "ICD-10: C50",
        "ICD-10: C61",
    }
