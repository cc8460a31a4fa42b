"""Catalogue test data shared by the catalogue's test modules."""

import itertools

import pytest

_serial = itertools.count(1)


def build_dataset(
    holder,
    *,
    identifier: str | None = None,
    title: str = "Screening mammography collection",
    description: str = "Anonymised full-field digital mammograms from the national screening programme.",
    status: str = "published",
    modalities=("MG",),
    conditions=("C50",),
    body_parts=("BREAST",),
    birth_sexes=("FEMALE",),
    access_modes=("DOWNLOAD",),
    data_use=("GENERAL_RESEARCH_USE",),
    manufacturers=("Siemens Healthineers",),
    keywords=("screening",),
    **fields,
):
    """A dataset written straight through the ORM (tests may; product code goes through services).

    Its search vector is refreshed as the catalogue's services do after every write.
    """
    from django.utils import timezone

    from catalogue.models import Dataset, DataUseCondition, Manufacturer, Term
    from catalogue.search import dataset_refresh_search_vector

    n = next(_serial)
    fields.setdefault("subjects_count", 100 + n)
    fields.setdefault("studies_count", 200 + n)
    fields.setdefault("provenance", "Clinical routine of the data holder, anonymised at source.")
    if status == "published":
        fields.setdefault("published_at", timezone.now())
    dataset = Dataset.objects.create(
        identifier=identifier or f"TEST-{n:05d}",
        title=title,
        description=description,
        holder=holder,
        status=status,
        keywords=list(keywords),
        **fields,
    )

    def terms(vocabulary, codes):
        found = list(Term.objects.filter(vocabulary=vocabulary, code__in=codes))
        assert len(found) == len(set(codes)), f"unknown {vocabulary} code among {codes}"
        return found

    dataset.modalities.set(terms("modality", modalities))
    dataset.conditions.set(terms("condition", conditions))
    dataset.body_parts.set(terms("body_part", body_parts))
    dataset.birth_sexes.set(terms("birth_sex", birth_sexes))
    dataset.access_modes.set(terms("access_mode", access_modes))
    for term in terms("data_use", data_use):
        DataUseCondition.objects.create(dataset=dataset, term=term)
    dataset.manufacturers.set([Manufacturer.objects.get_or_create(name=name)[0] for name in manufacturers])
    dataset_refresh_search_vector(dataset)
    return dataset


@pytest.fixture
def make_dataset(db):
    """Build a dataset: make_dataset(holder, title=..., modalities=("MR",), status="draft", ...)."""
    return build_dataset


# --- steward services, files, import and export -------------------------------------------------


def dataset_input(**overrides) -> dict:
    """Complete input for catalogue.services.dataset_create: publishable as it stands."""
    data = {
        "identifier": "LV-RTH-MG-2024",
        "title": "Riga screening mammography 2019-2023",
        "description": "Anonymised full-field digital mammograms with biopsy-confirmed outcomes.",
        "version": "1.0.0",
        "subjects_count": 240,
        "studies_count": 480,
        "age_min": 40,
        "age_max": 74,
        "acquisition_start": "2019-01-01",
        "acquisition_end": "2023-12-31",
        "provenance": "Exported from the hospital PACS and anonymised with the EUCAIM profile.",
        "modalities": ["MG"],
        "conditions": ["C50"],
        "body_parts": ["BREAST"],
        "birth_sexes": ["FEMALE"],
        "access_modes": ["DOWNLOAD"],
        "manufacturers": ["Siemens Healthineers"],
        "keywords": ["mammography", "screening"],
        "data_use": [
            {"code": "ETHICS_APPROVAL_REQUIRED", "parameters": {}},
            {"code": "GEOGRAPHICAL_RESTRICTION", "parameters": {"countries": ["LV", "EE"]}},
        ],
    }
    data.update(overrides)
    return data


@pytest.fixture
def draft(steward, holder):
    """A complete draft of `holder`, created through the service by its steward."""
    from catalogue.services import dataset_create

    return dataset_create(actor=steward, holder=holder, data=dataset_input())


@pytest.fixture
def published(steward, draft):
    from catalogue.services import dataset_publish

    return dataset_publish(actor=steward, dataset=draft)


@pytest.fixture
def storage(settings, holder):
    """The storage roots of this test, `holder`'s storage area (created), and a helper writing a file.

    `write` takes a path relative to DATASET_STORAGE_ROOT, so it starts with an area's name.
    """

    class Storage:
        root = settings.DATASET_STORAGE_ROOT
        documents = settings.DOCUMENT_STORAGE_ROOT
        area = settings.DATASET_STORAGE_ROOT / holder.storage_area

        def write(self, relative: str, content: bytes):
            path = self.root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            return path

    Storage.area.mkdir(exist_ok=True)
    return Storage()
