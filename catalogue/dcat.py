"""The catalogue in DCAT-AP / HealthDCAT-AP, following the EUCAIM application profile (v2.0).

Every mandatory property of CATALOGUE_PROFILE.md is written, with the standard vocabularies'
terms. Values that the profile draws from the EUCAIM hyper-ontology (modality, body part, birth
sex, tier...) are written as SKOS concepts under the portal's own address, each with its
notation, label and, where a standard identifier exists, `skos:exactMatch` to it (ICD-10 for
conditions, DICOM DCM for modalities); no hyper-ontology code is guessed. The data-use
conditions and the access conditions of the dataset's access modes are the distribution's
`dct:rights`, each by its EUCAIM concept IRI (the data-use conditions with their DUO notation); a
condition's parameters (which diseases, which countries, how many months) are a statement of the
dataset's own. Every concept of the portal's vocabularies answers at its IRI
(catalogue/views/vocabularies.py).
`healthdcatap:hdab` is left out until a health data access body is designated: the profile
forbids a placeholder.
"""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote

from django.conf import settings
from django.db.models import Count, Max, Prefetch, QuerySet, Sum
from django.utils.text import slugify
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, RDFS, SKOS, XSD

from catalogue.models import AccessRights, Dataset, DatasetFile, DatasetStatus, DataUseCondition, Tier

DCATAP = Namespace("http://data.europa.eu/r5r/")
HEALTHDCATAP = Namespace("http://healthdataportal.eu/ns/health#")
EUCAIM = Namespace("https://hyperontology.eucaim.cancerimage.eu/#")
DPV = Namespace("https://w3id.org/dpv#")
SPDX = Namespace("http://spdx.org/rdf/terms#")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
CV = Namespace("http://data.europa.eu/m8g/")
ELI = Namespace("http://data.europa.eu/eli/ontology#")
DCAT_VERSION = URIRef(f"{DCAT}version")  # DCAT 3; rdflib's closed DCAT namespace predates it

PREFIXES = {
    "dcat": DCAT,
    "dct": DCTERMS,
    "dcatap": DCATAP,
    "healthdcatap": HEALTHDCATAP,
    "eucaim": EUCAIM,
    "dpv": DPV,
    "spdx": SPDX,
    "foaf": FOAF,
    "vcard": VCARD,
    "cv": CV,
    "skos": SKOS,
    "rdfs": RDFS,
    "xsd": XSD,
    "hydra": HYDRA,
    "eli": ELI,
}

EHDS_REGULATION = URIRef("http://data.europa.eu/eli/reg/2025/327/oj")
THEME_HEALTH = URIRef("http://publications.europa.eu/resource/authority/data-theme/HEAL")
HEALTH_CATEGORY_EHR = URIRef("https://hdeu-dcat.data.health.europa.eu/resource/authority/healthcategories/EHRS")
HEALTH_THEME_CANCER = URIRef("https://hdeu-dcat.data.health.europa.eu/resource/authority/health-theme/CANCER_DISEASE")
LANGUAGE_ENGLISH = URIRef("http://publications.europa.eu/resource/authority/language/ENG")
ACCESS_RIGHT = "http://publications.europa.eu/resource/authority/access-right/"
EUCAIM_VOCABULARIES = "https://eucaim.github.io/eucaim_dcat_ap/releases/controlled-vocabularies/"
ACCESS_CONDITIONS = URIRef(f"{EUCAIM_VOCABULARIES}access-conditions/")
DATA_USE_CONDITIONS = URIRef(f"{EUCAIM_VOCABULARIES}data-use-conditions/")
EUCAIM_SCHEME_TITLES = {
    ACCESS_CONDITIONS: "EUCAIM access conditions",
    DATA_USE_CONDITIONS: "EUCAIM data-use conditions",
}
DICOM_MEDIA_TYPE = URIRef("https://www.iana.org/assignments/media-types/application/dicom")
SHA256 = SPDX["checksumAlgorithm_sha256"]
EXACT_MATCH = {
    "condition": "https://icd.who.int/browse10/2019/en#/{code}",
    "modality": "http://dicom.nema.org/resources/ontology/DCM/{code}",
    "data_use": "http://purl.obolibrary.org/obo/{duo}",
}

EXPORT_PREFETCH = (
    "conditions",
    "modalities",
    "body_parts",
    "birth_sexes",
    "access_modes",
    "manufacturers",
    Prefetch("use_conditions", queryset=DataUseCondition.objects.select_related("term").order_by("term__code")),
)


def site_url(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def dataset_iri(dataset: Dataset) -> URIRef:
    return URIRef(site_url(f"/catalogue/datasets/{quote(dataset.identifier)}/"))


def apply_url(dataset: Dataset) -> URIRef:
    """The distribution's access URL: the portal's page for applying for the dataset."""
    return URIRef(site_url(f"/catalogue/datasets/{quote(dataset.identifier)}/apply/"))


def english(text: str) -> Literal:
    return Literal(text, lang="en")


def skos_concept(graph: Graph, scheme: str, code: str, label: str, match: str = "") -> URIRef:
    node = URIRef(site_url(f"/catalogue/vocabularies/{scheme}/{quote(code, safe='')}"))
    graph.add((node, RDF.type, SKOS.Concept))
    graph.add((node, SKOS.prefLabel, english(label)))
    graph.add((node, SKOS.notation, Literal(code)))
    graph.add((node, SKOS.inScheme, URIRef(site_url(f"/catalogue/vocabularies/{scheme}"))))
    if match:
        graph.add((node, SKOS.exactMatch, URIRef(match)))
    return node


def _term_concept(graph: Graph, term) -> URIRef:
    pattern = EXACT_MATCH.get(term.vocabulary, "")
    return skos_concept(
        graph, term.vocabulary, term.code, term.label, pattern.format(code=term.code) if pattern else ""
    )


def _count(value) -> Literal:
    return Literal(int(value), datatype=XSD.nonNegativeInteger)


def _contact_point(graph: Graph, holder) -> URIRef:
    """The holder's contact card, one per holder however many of its datasets the graph lists."""
    node = URIRef(site_url(f"/catalogue/?holder={quote(holder.slug)}#vcard"))
    graph.add((node, RDF.type, VCARD.Kind))
    graph.add((node, RDF.type, VCARD.Organization))
    graph.add((node, VCARD.fn, Literal(holder.name)))
    graph.add((node, VCARD.hasEmail, URIRef(f"mailto:{holder.contact_email}")))
    if holder.website:
        graph.add((node, VCARD.hasURL, URIRef(holder.website)))
    return node


def _organisation_contact(graph: Graph, organisation: URIRef, email: str) -> URIRef:
    contact = URIRef(f"{organisation}#contact" if "#" not in str(organisation) else f"{organisation}-contact")
    graph.add((organisation, CV.contactPoint, contact))
    graph.add((contact, RDF.type, CV.ContactPoint))
    graph.add((contact, CV.email, Literal(email)))
    return contact


def _publisher(graph: Graph, holder) -> URIRef:
    node = URIRef(site_url(f"/catalogue/?holder={quote(holder.slug)}"))
    graph.add((node, RDF.type, FOAF.Organization))
    graph.add((node, RDF.type, FOAF.Agent))
    graph.add((node, FOAF.name, Literal(holder.name)))
    graph.add((node, FOAF.mbox, URIRef(f"mailto:{holder.contact_email}")))
    # One contact point a publisher, named by the publisher's own IRI: the same triples however
    # many of its datasets a page lists (a blank node each time made one contact point a dataset).
    contact = _organisation_contact(graph, node, holder.contact_email)
    if holder.website:
        graph.add((node, FOAF.homepage, URIRef(holder.website)))
        graph.add((contact, CV.contactPage, URIRef(holder.website)))
    graph.add(
        (node, DCTERMS.spatial, URIRef(f"http://publications.europa.eu/resource/authority/country/{holder.country}"))
    )
    return node


def _period(graph: Graph, start, end) -> BNode:
    node = BNode()
    graph.add((node, RDF.type, DCTERMS.PeriodOfTime))
    if start:
        graph.add((node, DCAT.startDate, Literal(start, datatype=XSD.date)))
    if end:
        graph.add((node, DCAT.endDate, Literal(end, datatype=XSD.date)))
    return node


def _eucaim_condition(graph: Graph, scheme: URIRef, term, notation: str) -> URIRef:
    """An access or data-use condition by its EUCAIM concept IRI: a rights statement and a concept of
    the EUCAIM scheme, with its label and notation (a data-use condition's is its DUO code)."""
    node = URIRef(f"{scheme}#{term.code}")
    graph.add((node, RDF.type, DCTERMS.RightsStatement))
    graph.add((node, RDF.type, SKOS.Concept))
    graph.add((node, SKOS.prefLabel, english(term.label)))
    graph.add((node, SKOS.notation, Literal(notation)))
    graph.add((node, SKOS.inScheme, scheme))
    graph.add((scheme, RDF.type, SKOS.ConceptScheme))
    graph.add((scheme, DCTERMS.title, english(EUCAIM_SCHEME_TITLES[scheme])))
    return node


def parameter_text(condition: DataUseCondition) -> str:
    """A condition's parameters in words, e.g. "Geographical restriction: countries LV, EE"."""
    parameters = "; ".join(
        f"{key} {', '.join(map(str, value)) if isinstance(value, list) else value}"
        for key, value in sorted((condition.parameters or {}).items())
    )
    return f"{condition.term.label}: {parameters}" if parameters else ""


def _rights(graph: Graph, dataset: Dataset, distribution: URIRef) -> None:
    """The distribution's rights: the EUCAIM access condition of each access mode, each data-use
    condition by its concept IRI (DUO code as notation, `skos:exactMatch` to the DUO term), and,
    where a condition has parameters, one statement of this dataset's that says them."""
    for mode in dataset.access_modes.all():
        graph.add((distribution, DCTERMS.rights, _eucaim_condition(graph, ACCESS_CONDITIONS, mode, mode.code)))
    parameters = []
    for condition in dataset.use_conditions.all():
        term = condition.term
        duo = term.external_code.replace(":", "_")
        node = _eucaim_condition(graph, DATA_USE_CONDITIONS, term, duo or term.code)
        if duo:
            graph.add((node, SKOS.exactMatch, URIRef(EXACT_MATCH["data_use"].format(duo=duo))))
        graph.add((distribution, DCTERMS.rights, node))
        parameters += [parameter_text(condition)] if condition.parameters else []
    if parameters:
        statement = URIRef(f"{dataset_iri(dataset)}#conditions-of-use")
        graph.add((statement, RDF.type, DCTERMS.RightsStatement))
        graph.add((statement, RDFS.label, english(". ".join(parameters) + ".")))
        graph.add((distribution, DCTERMS.rights, statement))


def _distribution(graph: Graph, dataset: Dataset, files: tuple[int, int, str] | None) -> URIRef:
    node = URIRef(f"{dataset_iri(dataset)}#distribution")
    graph.add((node, RDF.type, DCAT.Distribution))
    graph.add((node, DCTERMS.title, english(f"Access on application: {dataset.title}")))
    graph.add(
        (
            node,
            DCTERMS.description,
            english("Files stay with the data holder; access is granted on an approved application."),
        )
    )
    graph.add((node, DCAT.accessURL, apply_url(dataset)))
    graph.add((node, DCATAP.applicableLegislation, EHDS_REGULATION))
    graph.add((node, DCAT.mediaType, DICOM_MEDIA_TYPE))
    _rights(graph, dataset, node)
    count, size, manifest = files or (0, dataset.size_bytes or 0, "")
    if size:
        graph.add((node, DCAT.byteSize, _count(size)))
    if manifest:  # the SHA-256 of the file list ("<sha256>  <path>" lines, sorted by path)
        checksum = BNode()
        graph.add((node, SPDX.checksum, checksum))
        graph.add((checksum, RDF.type, SPDX.Checksum))
        graph.add((checksum, SPDX.algorithm, SHA256))
        graph.add((checksum, SPDX.checksumValue, Literal(manifest, datatype=XSD.hexBinary)))
    if dataset.licence:
        licence = BNode()
        graph.add((licence, RDF.type, DCTERMS.LicenseDocument))
        graph.add((licence, RDFS.label, english(dataset.licence)))
        graph.add((node, DCTERMS.license, licence))
    return node


def _identity(graph: Graph, node: URIRef, dataset: Dataset) -> None:
    graph.add((node, RDF.type, DCAT.Dataset))
    graph.add((node, DCTERMS.identifier, Literal(dataset.identifier)))
    graph.add((node, DCTERMS.title, english(dataset.title)))
    graph.add((node, DCTERMS.description, english(dataset.description)))
    graph.add((node, DCAT_VERSION, Literal(dataset.version)))
    tier = Tier(dataset.tier)
    graph.add((node, EUCAIM.interoperabilityLevel, skos_concept(graph, "tier", str(tier.value), tier.label)))
    graph.add((node, DCAT.theme, THEME_HEALTH))
    graph.add((node, HEALTHDCATAP.healthCategory, HEALTH_CATEGORY_EHR))
    graph.add((node, HEALTHDCATAP.healthTheme, HEALTH_THEME_CANCER))
    kind = skos_concept(graph, "dataset_type", dataset.dataset_type, f"{dataset.get_dataset_type_display()} dataset")
    graph.add((node, DCTERMS.type, kind))
    if dataset.anonymisation_profile:
        graph.add((node, DCTERMS.type, DPV.AnonymisedData))
    graph.add((node, DCTERMS.accessRights, URIRef(ACCESS_RIGHT + AccessRights(dataset.access_rights).value)))
    graph.add((node, DCATAP.applicableLegislation, EHDS_REGULATION))
    graph.add((node, DCTERMS.language, LANGUAGE_ENGLISH))
    graph.add((node, DCAT.landingPage, URIRef(dataset.landing_page or dataset_iri(dataset))))


def _subjects(graph: Graph, node: URIRef, dataset: Dataset) -> None:
    graph.add((node, HEALTHDCATAP.hasStructuredData, Literal(False)))
    graph.add((node, HEALTHDCATAP.numberOfUniqueIndividuals, _count(dataset.subjects_count)))
    graph.add((node, HEALTHDCATAP.numberOfRecords, _count(dataset.studies_count)))
    if dataset.age_min is not None:
        graph.add((node, HEALTHDCATAP.minTypicalAge, _count(dataset.age_min)))
    if dataset.age_max is not None:
        graph.add((node, HEALTHDCATAP.maxTypicalAge, _count(dataset.age_max)))
    conditions = sorted(dataset.conditions.all(), key=lambda term: term.code)
    relations = (
        (EUCAIM.hasBirthSex, dataset.birth_sexes.all()),
        # The profile allows one condition: the first by ICD-10 code; every code is in hasCodeValues.
        (EUCAIM.hasCondition, conditions[:1]),
        (EUCAIM.hasImageModality, dataset.modalities.all()),
        (EUCAIM.hasImageBodyPart, dataset.body_parts.all()),
    )
    for predicate, terms in relations:
        for term in terms:
            graph.add((node, predicate, _term_concept(graph, term)))
    for term in conditions:
        graph.add((node, HEALTHDCATAP.hasCodeValues, Literal(f"ICD-10: {term.code}")))
    for manufacturer in dataset.manufacturers.all():
        concept = skos_concept(graph, "manufacturer", slugify(manufacturer.name) or "unknown", manufacturer.name)
        graph.add((node, EUCAIM.hasEquipmentManufacturer, concept))
    method = BNode()
    graph.add((method, RDF.type, SKOS.Concept))
    graph.add((method, SKOS.prefLabel, english(dataset.collection_method)))
    graph.add((node, EUCAIM.collectionMethod, method))
    if dataset.acquisition_start or dataset.acquisition_end:
        graph.add((node, DCTERMS.temporal, _period(graph, dataset.acquisition_start, dataset.acquisition_end)))


def _provenance(graph: Graph, node: URIRef, dataset: Dataset) -> None:
    for keyword in dataset.keywords or []:
        graph.add((node, DCAT.keyword, english(keyword)))
    statement = BNode()
    graph.add((statement, RDF.type, DCTERMS.ProvenanceStatement))
    text = dataset.provenance or dataset.collection_method
    if dataset.anonymisation_profile:
        verified = dataset.anonymisation_verified_on
        text += f" Anonymised with {dataset.anonymisation_profile}" + (f", verified {verified}." if verified else ".")
    graph.add((statement, RDFS.label, english(text)))
    graph.add((node, DCTERMS.provenance, statement))
    if dataset.published_at:
        graph.add((node, DCTERMS.issued, Literal(dataset.published_at, datatype=XSD.dateTime)))
    graph.add((node, DCTERMS.modified, Literal(dataset.updated_at, datatype=XSD.dateTime)))


def add_dataset(graph: Graph, dataset: Dataset, files: tuple[int, int, str] | None = None) -> URIRef:
    """Describe one dataset (and its distribution) in `graph`; returns the dataset's IRI."""
    node = dataset_iri(dataset)
    _identity(graph, node, dataset)
    graph.add((node, DCAT.contactPoint, _contact_point(graph, dataset.holder)))
    graph.add((node, DCTERMS.publisher, _publisher(graph, dataset.holder)))
    _subjects(graph, node, dataset)
    _provenance(graph, node, dataset)
    graph.add((node, DCAT.distribution, _distribution(graph, dataset, files)))
    return node


def new_graph() -> Graph:
    graph = Graph()
    for prefix, namespace in PREFIXES.items():
        graph.bind(prefix, namespace, override=True)
    return graph


def file_totals(dataset_ids: Iterable[int]) -> dict[int, tuple[int, int, int]]:
    """Per dataset with files: how many, their bytes, and the newest file's key (any change of its
    files changes one of the three)."""
    rows = (
        DatasetFile.objects.filter(dataset_id__in=list(dataset_ids))
        .values("dataset_id")
        .annotate(n=Count("pk"), size=Sum("size_bytes"), newest=Max("pk"))
        .order_by()
    )
    return {row["dataset_id"]: (row["n"], row["size"], row["newest"]) for row in rows}


def file_manifests(dataset_ids: Iterable[int]) -> dict[int, tuple[int, int, str]]:
    """Per dataset: file count, total bytes and the SHA-256 of its manifest, in one streamed query."""
    ids = list(dataset_ids)
    totals = file_totals(ids)
    digests: dict[int, hashlib._Hash] = {}
    rows = DatasetFile.objects.filter(dataset_id__in=ids).order_by("dataset_id", "path")
    for dataset_id, path, sha256 in rows.values_list("dataset_id", "path", "sha256").iterator(chunk_size=5000):
        digests.setdefault(dataset_id, hashlib.sha256()).update(f"{sha256}  {path}\n".encode())
    return {pk: (totals[pk][0], totals[pk][1], digest.hexdigest()) for pk, digest in digests.items()}


def datasets_for_export() -> QuerySet[Dataset]:
    """This node's published datasets (not those harvested from its partners, which their own nodes
    publish), with everything the export reads in a fixed number of queries."""
    return (
        Dataset.objects.filter(status=DatasetStatus.PUBLISHED, holder__node__isnull=True)
        .select_related("holder")
        .prefetch_related(*EXPORT_PREFETCH)
        .order_by("identifier")
    )


def dataset_graph(dataset: Dataset) -> Graph:
    graph = new_graph()
    add_dataset(graph, dataset, file_manifests([dataset.pk]).get(dataset.pk))
    return type_external_resources(graph)


# The names of the concepts of other publishers' vocabularies the export names (DCAT-AP asks a
# concept for its preferred label).
EXTERNAL_LABELS = {
    THEME_HEALTH: "Health",
    HEALTH_CATEGORY_EHR: "Electronic health records",
    HEALTH_THEME_CANCER: "Cancer",
    DPV.AnonymisedData: "Anonymised data",
}

# The class DCAT-AP 3 expects of the resource each of these properties names. Resources of other
# publishers (the EHDS regulation, the EU language and country authorities, IANA's media types)
# are described here by their type, as the shapes check. A page that is also something else (a
# dataset's own page is its landing page, the catalogue's its homepage) is a document as well.
RANGE_CLASSES = {
    DCATAP.applicableLegislation: ELI.LegalResource,
    DCAT.mediaType: DCTERMS.MediaType,
    DCAT.landingPage: FOAF.Document,
    FOAF.homepage: FOAF.Document,
    CV.contactPage: FOAF.Document,
    DCTERMS.language: DCTERMS.LinguisticSystem,
    DCAT.theme: SKOS.Concept,
    HEALTHDCATAP.healthCategory: SKOS.Concept,
    HEALTHDCATAP.healthTheme: SKOS.Concept,
    DCTERMS.accessRights: DCTERMS.RightsStatement,
    DCTERMS.spatial: DCTERMS.Location,
    DCTERMS.type: SKOS.Concept,
    SPDX.algorithm: SPDX.ChecksumAlgorithm,
}


def type_external_resources(graph: Graph) -> Graph:
    """Give each IRI named by a property of RANGE_CLASSES its class, and the concepts of other
    vocabularies their labels."""
    for predicate, cls in RANGE_CLASSES.items():
        for resource in set(graph.objects(None, predicate)):
            if isinstance(resource, URIRef):
                graph.add((resource, RDF.type, cls))
    for concept, label in EXTERNAL_LABELS.items():
        if (None, None, concept) in graph:
            graph.add((concept, SKOS.prefLabel, english(label)))
    return graph


@dataclass(frozen=True)
class ExportPage:
    """Where one page of the catalogue export stands: its number, the last one, the total, and the
    address of the export (a page's address is `<url>?page=N`)."""

    number: int
    last: int
    total: int
    size: int
    url: str

    def address(self, number: int) -> URIRef:
        return URIRef(f"{self.url}?page={number}")


def _paging(graph: Graph, page: ExportPage) -> None:
    """Hydra paging, as DCAT-AP harvesters (data.europa.eu's, piveau) follow it: the page says which it
    is, how many datasets there are and where the first, previous, next and last pages are."""
    node = page.address(page.number)
    graph.add((node, RDF.type, HYDRA.PagedCollection))
    graph.add((node, HYDRA.totalItems, Literal(page.total, datatype=XSD.nonNegativeInteger)))
    graph.add((node, HYDRA.itemsPerPage, Literal(page.size, datatype=XSD.nonNegativeInteger)))
    graph.add((node, HYDRA.firstPage, page.address(1)))
    graph.add((node, HYDRA.lastPage, page.address(page.last)))
    if page.number > 1:
        graph.add((node, HYDRA.previousPage, page.address(page.number - 1)))
    if page.number < page.last:
        graph.add((node, HYDRA.nextPage, page.address(page.number + 1)))


def catalogue_modified():
    """When the catalogue last changed, not when it was asked for: the newest change of a dataset
    that is published or was withdrawn from it (a withdrawal changes the catalogue too); None
    while nothing was ever published."""
    listed = Dataset.objects.filter(
        status__in=[DatasetStatus.PUBLISHED, DatasetStatus.WITHDRAWN], holder__node__isnull=True
    )
    return listed.aggregate(newest=Max("updated_at"))["newest"]


def catalogue_header(graph: Graph, page: ExportPage | None = None) -> URIRef:
    """The catalogue itself (title, publisher, language, legislation, when it last changed) and, with
    `page`, the Hydra paging; returns the catalogue's IRI."""
    if page is not None:
        _paging(graph, page)
    catalogue = URIRef(site_url("/catalogue/"))
    graph.add((catalogue, RDF.type, DCAT.Catalog))
    graph.add((catalogue, DCTERMS.title, english(f"{settings.SITE_NAME}: imaging dataset catalogue")))
    description = "Anonymised cancer-imaging collections of the federation's data holders, available on application."
    graph.add((catalogue, DCTERMS.description, english(description)))
    publisher = URIRef(site_url("/#operator"))  # the node's operator: the Research Data Office running this portal
    graph.add((publisher, RDF.type, FOAF.Organization))
    graph.add((publisher, RDF.type, FOAF.Agent))
    graph.add((publisher, FOAF.name, Literal(settings.SITE_NAME)))
    graph.add((publisher, FOAF.mbox, URIRef(f"mailto:{settings.SITE_CONTACT_EMAIL}")))
    _organisation_contact(graph, publisher, settings.SITE_CONTACT_EMAIL)
    graph.add((catalogue, DCTERMS.publisher, publisher))
    graph.add((catalogue, FOAF.homepage, catalogue))
    graph.add((catalogue, DCTERMS.language, LANGUAGE_ENGLISH))
    graph.add((catalogue, DCATAP.applicableLegislation, EHDS_REGULATION))
    modified = catalogue_modified()
    if modified is not None:
        graph.add((catalogue, DCTERMS.modified, Literal(modified, datatype=XSD.dateTime)))
    return catalogue


def catalogue_graph(datasets: Iterable[Dataset] | None = None, page: ExportPage | None = None) -> Graph:
    """The published catalogue as one dcat:Catalog: all of `datasets` (by default every published
    dataset), and with `page` the Hydra paging that says where the rest of the catalogue is. The
    export's pages are put together from each dataset's description instead (catalogue/dcat_pages.py),
    to the same graph."""
    datasets = list(datasets_for_export() if datasets is None else datasets)
    graph = new_graph()
    catalogue = catalogue_header(graph, page)
    manifests = file_manifests(d.pk for d in datasets)
    for dataset in datasets:
        graph.add((catalogue, DCAT.dataset, add_dataset(graph, dataset, manifests.get(dataset.pk))))
    return type_external_resources(graph)


JSONLD_CONTEXT = {prefix: str(namespace) for prefix, namespace in PREFIXES.items()}


def to_turtle(graph: Graph) -> str:
    return graph.serialize(format="turtle")


def to_jsonld(graph: Graph) -> str:
    return graph.serialize(format="json-ld", context=JSONLD_CONTEXT, indent=1)
