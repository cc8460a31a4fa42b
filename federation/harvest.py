"""Harvesting: each partner node's DCAT-AP export read into this node's catalogue as remote datasets.

The partner's export (`/catalogue/export.ttl`, followed page by page by its Hydra links) is read
dataset by dataset: identifier, title, description, coded terms (by their notations), counts,
conditions of use, its data holder. Each becomes a dataset of a data holder marked with the node
(`DataHolder.node`): read-only here, linked to its page at its node (`Dataset.remote_url`), found
by the catalogue search beside this node's own datasets (with a node facet). A dataset whose
description changed is updated, one that left the partner's export is withdrawn here, one that
came back is published again. A node's harvest is one transaction with its audit event.

Codes this node does not know (a newer vocabulary) are left out of the dataset and counted in
the harvest's result; an identifier this node already uses for a dataset of its own, or of
another partner, is skipped and reported (identifiers are meant to be unique in the federation).
"""

import hashlib
import json
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.text import slugify
from rdflib import Graph, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, RDFS, SKOS

from catalogue.cache import catalogue_changed
from catalogue.dcat import ACCESS_CONDITIONS, DATA_USE_CONDITIONS, EUCAIM, HEALTHDCATAP, HYDRA
from catalogue.models import (
    AccessRights,
    DataHolder,
    Dataset,
    DatasetStatus,
    DatasetType,
    DataUseCondition,
    Manufacturer,
    Term,
    Tier,
    Vocabulary,
)
from catalogue.search import datasets_refresh_search_vectors
from federation.models import Node
from portal.services.audit import audit_record

MAX_PAGES = 1000
IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
ICD10 = re.compile(r"^ICD-10: ([A-Z][0-9]{2}(?:\.[0-9A-Z]{1,4})?)$")
TERMS = {
    "conditions": Vocabulary.CONDITION,
    "modalities": Vocabulary.MODALITY,
    "body_parts": Vocabulary.BODY_PART,
    "birth_sexes": Vocabulary.BIRTH_SEX,
    "access_modes": Vocabulary.ACCESS_MODE,
}


class HarvestFailed(Exception):
    """The partner's export could not be read: nothing of this node's copy was changed."""


@dataclass
class Record:
    """One dataset as the partner describes it."""

    identifier: str
    url: str
    fields: dict
    codes: dict = field(default_factory=dict)  # relation name -> codes
    manufacturers: list = field(default_factory=list)
    data_use: list = field(default_factory=list)
    holder: dict = field(default_factory=dict)

    def digest(self) -> str:
        data = [self.url, self.fields, self.codes, self.manufacturers, self.data_use, self.holder]
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def fetch_export(node: Node) -> Graph:
    """Every page of the partner's Turtle export, in one graph; HarvestFailed when a page cannot be had."""
    graph = Graph()
    url = f"{node.base_url}/catalogue/export.ttl"
    for _ in range(MAX_PAGES):
        try:
            response = requests.get(url, timeout=settings.FEDERATION_HARVEST_TIMEOUT, headers={"Accept": "text/turtle"})
        except requests.RequestException as exc:
            raise HarvestFailed(f"{url}: unreachable ({type(exc).__name__})") from exc
        if response.status_code != 200:
            raise HarvestFailed(f"{url}: HTTP {response.status_code}")
        page = Graph()
        try:
            page.parse(data=response.text, format="turtle")
        except Exception as exc:  # rdflib raises many kinds for a document that is not Turtle
            raise HarvestFailed(f"{url}: not Turtle ({type(exc).__name__})") from exc
        graph += page
        following = next((page.value(p, HYDRA.nextPage) for p in page.subjects(RDF.type, HYDRA.PagedCollection)), None)
        if following is None:
            return graph
        # the next page's path and query, at the address this node knows the partner by
        parts = urlsplit(str(following))
        url = f"{node.base_url}{parts.path}" + (f"?{parts.query}" if parts.query else "")
    raise HarvestFailed(f"{node.base_url}: more than {MAX_PAGES} pages")


def _text(graph: Graph, node, predicate, limit: int) -> str:
    value = graph.value(node, predicate)
    return str(value).strip()[:limit] if value is not None else ""


def _integer(graph: Graph, node, predicate) -> int | None:
    value = graph.value(node, predicate)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _notations(graph: Graph, node, predicate) -> list[str]:
    return sorted({str(graph.value(concept, SKOS.notation) or "") for concept in graph.objects(node, predicate)} - {""})


def _fragments(graph: Graph, node, scheme: URIRef) -> list[str]:
    prefix = f"{scheme}#"
    return sorted({str(r)[len(prefix) :] for r in graph.objects(node, DCTERMS.rights) if str(r).startswith(prefix)})


def _holder(graph: Graph, dataset) -> dict:
    publisher = graph.value(dataset, DCTERMS.publisher)
    country = str(graph.value(publisher, DCTERMS.spatial) or "")[-2:]
    mailbox = str(graph.value(publisher, FOAF.mbox) or "")
    return {
        "name": _text(graph, publisher, FOAF.name, 200) or "Unnamed data holder",
        "country": country if re.fullmatch(r"[A-Z]{2}", country) else "EU",
        "email": mailbox.removeprefix("mailto:")[:254],
        "website": str(graph.value(publisher, FOAF.homepage) or "")[:200],
    }


def _period(graph: Graph, dataset) -> tuple:
    period = graph.value(dataset, DCTERMS.temporal)
    start = graph.value(period, DCAT.startDate) if period is not None else None
    end = graph.value(period, DCAT.endDate) if period is not None else None
    return (parse_date(str(start)) if start else None, parse_date(str(end)) if end else None)


def read_records(graph: Graph, node: Node) -> list[Record]:
    """The partner's datasets as records, each kept to what this node's catalogue holds."""
    records = []
    for dataset in sorted(graph.subjects(RDF.type, DCAT.Dataset)):
        identifier = _text(graph, dataset, DCTERMS.identifier, 64)
        distribution = graph.value(dataset, DCAT.distribution)
        if not IDENTIFIER.fullmatch(identifier) or distribution is None:
            continue
        tier = _notations(graph, dataset, EUCAIM.interoperabilityLevel)
        kinds = [code for code in _notations(graph, dataset, DCTERMS.type) if code in DatasetType.values]
        access = str(graph.value(dataset, DCTERMS.accessRights) or "").rsplit("/", 1)[-1]
        start, end = _period(graph, dataset)
        issued = graph.value(dataset, DCTERMS.issued)
        licence = graph.value(distribution, DCTERMS.license)
        provenance = graph.value(dataset, DCTERMS.provenance)
        method = graph.value(dataset, EUCAIM.collectionMethod)
        conditions = sorted(
            {m.group(1) for v in graph.objects(dataset, HEALTHDCATAP.hasCodeValues) if (m := ICD10.match(str(v)))}
        ) or _notations(graph, dataset, EUCAIM.hasCondition)
        fields = {
            "title": _text(graph, dataset, DCTERMS.title, 300) or identifier,
            "description": _text(graph, dataset, DCTERMS.description, 20000),
            "version": _text(graph, dataset, URIRef(f"{DCAT}version"), 40) or "1.0.0",
            "tier": int(tier[0]) if tier and tier[0].isdigit() and int(tier[0]) in Tier.values else Tier.METADATA,
            "dataset_type": kinds[0] if kinds else DatasetType.ORIGINAL,
            "access_rights": access if access in AccessRights.values else AccessRights.RESTRICTED,
            "subjects_count": max(0, _integer(graph, dataset, HEALTHDCATAP.numberOfUniqueIndividuals) or 0),
            "studies_count": max(0, _integer(graph, dataset, HEALTHDCATAP.numberOfRecords) or 0),
            "age_min": _integer(graph, dataset, HEALTHDCATAP.minTypicalAge),
            "age_max": _integer(graph, dataset, HEALTHDCATAP.maxTypicalAge),
            "acquisition_start": start,
            "acquisition_end": end,
            "keywords": sorted({str(k)[:100] for k in graph.objects(dataset, DCAT.keyword)})[:50],
            "licence": _text(graph, licence, RDFS.label, 200) if licence is not None else "",
            "provenance": _text(graph, provenance, RDFS.label, 5000) if provenance is not None else "",
            "collection_method": (_text(graph, method, SKOS.prefLabel, 200) if method is not None else "")
            or "Not stated",
            "published_at": parse_datetime(str(issued)) if issued else None,
        }
        url = str(dataset) if str(dataset).startswith(node.base_url) else ""
        records.append(
            Record(
                identifier=identifier,
                url=url or f"{node.base_url}/catalogue/datasets/{identifier}/",
                fields=fields,
                codes={
                    "conditions": conditions,
                    "modalities": _notations(graph, dataset, EUCAIM.hasImageModality),
                    "body_parts": _notations(graph, dataset, EUCAIM.hasImageBodyPart),
                    "birth_sexes": _notations(graph, dataset, EUCAIM.hasBirthSex),
                    "access_modes": _fragments(graph, distribution, ACCESS_CONDITIONS),
                },
                manufacturers=sorted(
                    {
                        str(graph.value(m, SKOS.prefLabel) or "")[:200]
                        for m in graph.objects(dataset, EUCAIM.hasEquipmentManufacturer)
                    }
                    - {""}
                ),
                data_use=_fragments(graph, distribution, DATA_USE_CONDITIONS),
                holder=_holder(graph, dataset),
            )
        )
    return records


def _remote_holder(node: Node, described: dict, cache: dict) -> DataHolder:
    """The data holder of a partner's dataset, made the first time it is seen, kept current after."""
    key = described["name"]
    if key in cache:
        return cache[key]
    base = slugify(f"{node.name}-{described['name']}")[:70] or "remote"
    holder = DataHolder.objects.filter(
        node=node, name__in=[described["name"], f"{described['name']} ({node.name})"]
    ).first()
    if holder is None:
        name = described["name"]
        if DataHolder.objects.filter(name=name).exists():
            name = f"{name} ({node.name})"[:200]
        slug, number = base, 1
        while DataHolder.objects.filter(slug=slug).exists() or DataHolder.objects.filter(storage_area=slug).exists():
            number += 1
            slug = f"{base}-{number}"
        holder = DataHolder(node=node, name=name, slug=slug, storage_area=slug)
    holder.country = described["country"]
    holder.contact_email = described["email"] or "unknown@invalid.example"
    holder.rdo_email = holder.contact_email
    holder.website = described["website"] if described["website"].startswith(("https://", "http://")) else ""
    holder.save()
    cache[key] = holder
    return holder


def _write(dataset: Dataset, record: Record, terms: dict, unknown: set) -> None:
    for name, vocabulary in TERMS.items():
        found = [terms[vocabulary][code] for code in record.codes[name] if code in terms[vocabulary]]
        unknown.update(f"{vocabulary}:{code}" for code in record.codes[name] if code not in terms[vocabulary])
        getattr(dataset, name).set(found)
    dataset.manufacturers.set([Manufacturer.objects.get_or_create(name=name)[0] for name in record.manufacturers])
    uses = [terms[Vocabulary.DATA_USE][code] for code in record.data_use if code in terms[Vocabulary.DATA_USE]]
    unknown.update(f"data_use:{code}" for code in record.data_use if code not in terms[Vocabulary.DATA_USE])
    dataset.use_conditions.exclude(term__in=uses).delete()
    kept = set(dataset.use_conditions.values_list("term_id", flat=True))
    DataUseCondition.objects.bulk_create(
        [DataUseCondition(dataset=dataset, term=term, parameters={}) for term in uses if term.pk not in kept]
    )


def harvest_apply(node: Node, records: list[Record]) -> dict:
    """Bring this node's copy of `node`'s catalogue in line with `records`, in one transaction."""
    terms = {vocabulary: {} for vocabulary in Vocabulary.values}
    for term in Term.objects.all():
        terms[term.vocabulary][term.code] = term
    result = {"added": 0, "updated": 0, "unchanged": 0, "withdrawn": 0, "skipped": [], "unknown_codes": []}
    unknown: set[str] = set()
    holders: dict = {}
    touched = []
    now = timezone.now()
    with transaction.atomic():
        Node.objects.select_for_update().get(pk=node.pk)  # one harvest of a node at a time
        existing = {d.identifier: d for d in Dataset.objects.filter(holder__node=node).select_related("holder")}
        taken = set(
            Dataset.objects.filter(identifier__in=[r.identifier for r in records])
            .exclude(holder__node=node)
            .values_list("identifier", flat=True)
        )
        for record in records:
            if record.identifier in taken:
                result["skipped"].append(record.identifier)
                continue
            dataset = existing.get(record.identifier)
            digest = record.digest()
            if dataset is not None and dataset.remote_digest == digest and dataset.status == DatasetStatus.PUBLISHED:
                result["unchanged"] += 1
                continue
            holder = _remote_holder(node, record.holder, holders)
            fields = dict(record.fields)
            fields["published_at"] = fields["published_at"] or now
            if dataset is None:
                dataset = Dataset(identifier=record.identifier, holder=holder, **fields)
                result["added"] += 1
            else:
                for name, value in fields.items():
                    setattr(dataset, name, value)
                dataset.holder = holder
                result["updated"] += 1
            dataset.status = DatasetStatus.PUBLISHED
            dataset.remote_url = record.url
            dataset.remote_digest = digest
            dataset.save()
            _write(dataset, record, terms, unknown)
            touched.append(dataset.pk)
        seen = {record.identifier for record in records}
        gone = [
            d for identifier, d in existing.items() if identifier not in seen and d.status == DatasetStatus.PUBLISHED
        ]
        Dataset.objects.filter(pk__in=[d.pk for d in gone]).update(status=DatasetStatus.WITHDRAWN, updated_at=now)
        result["withdrawn"] = len(gone)
        result["unknown_codes"] = sorted(unknown)[:50]
        if touched:
            datasets_refresh_search_vectors(ids=touched)
        if touched or gone:
            catalogue_changed()
        audit_record(
            actor="system:harvest",
            verb="federation.harvest",
            target=node,
            payload={key: value for key, value in result.items() if value or key in ("added", "updated", "withdrawn")},
        )
    return result


def harvest_node(node: Node) -> dict:
    """Harvest one partner: its export read, then applied; a partner that cannot be read is left as it was."""
    try:
        records = read_records(fetch_export(node), node)
    except HarvestFailed as exc:
        with transaction.atomic():
            audit_record(
                actor="system:harvest", verb="federation.harvest_fail", target=node, payload={"error": str(exc)}
            )
        return {"error": str(exc)}
    return harvest_apply(node, records)


def harvest_all() -> dict[str, dict]:
    """Harvest every active partner, one after another."""
    return {node.name: harvest_node(node) for node in Node.objects.filter(active=True).order_by("name")}
