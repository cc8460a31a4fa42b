"""The demo catalogue: published datasets of both demo holders with real files, one draft, idempotent."""

import hashlib

import pytest
from django.conf import settings

from catalogue.demo import load_catalogue
from catalogue.models import Dataset, DatasetFile, DatasetStatus, DataUseCondition, FileScan, Term
from portal.models import AuditEvent


@pytest.fixture
def demo(db, django_capture_on_commit_callbacks):
    from portal.demo import load_holders, load_people

    def load():
        with django_capture_on_commit_callbacks(execute=True):  # file scans run after commit, eagerly
            people = load_people()
            holders = load_holders(people)
            return people, load_catalogue(people=people, holders=holders)

    return load


def test_the_demo_catalogue_covers_both_holders_modalities_and_conditions(demo):
    people, datasets = demo()

    published = Dataset.objects.filter(status=DatasetStatus.PUBLISHED)
    assert published.count() >= 6
    assert Dataset.objects.filter(status=DatasetStatus.DRAFT).count() == 2
    assert datasets["draft"].status == DatasetStatus.DRAFT
    assert datasets["staged"].status == DatasetStatus.DRAFT
    assert set(published.values_list("holder__slug", flat=True)) == {"riga-east", "la-fe"}
    modalities = set(Term.objects.filter(datasets_by_modality__in=published).values_list("code", flat=True))
    assert {"MG", "MR", "CT", "PT"} <= modalities
    conditions = set(Term.objects.filter(datasets_by_condition__in=published).values_list("code", flat=True))
    assert {"C50", "C61", "C34", "C71", "C18", "C22"} <= conditions
    uses = set(DataUseCondition.objects.filter(dataset__in=published).values_list("term__code", flat=True))
    assert {
        "ETHICS_APPROVAL_REQUIRED",
        "NOT_FOR_PROFIT_NON_COMMERCIAL_USE_ONLY",
        "GEOGRAPHICAL_RESTRICTION",
        "DISEASE_SPECIFIC_RESEARCH",
        "TIME_LIMIT_ON_USE",
    } <= uses
    riga = AuditEvent.objects.get(verb="dataset.create", target_id=str(datasets["mg"].pk))
    assert riga.actor == people["steward_riga"]


def test_every_demo_dataset_has_real_files_with_true_checksums(demo):
    _, datasets = demo()

    for dataset in datasets.values():
        files = list(DatasetFile.objects.filter(dataset=dataset))
        assert files, f"{dataset.identifier} has no files"
        for row in files:
            content = (settings.DATASET_STORAGE_ROOT / row.path).read_bytes()
            assert row.path.startswith(f"{dataset.holder.storage_area}/{dataset.identifier}/")
            assert row.size_bytes == len(content)
            assert row.sha256 == hashlib.sha256(content).hexdigest()
            assert row.media_type == "application/dicom"


def test_loading_the_demo_twice_duplicates_nothing(demo):
    demo()
    counts = (Dataset.objects.count(), DatasetFile.objects.count(), FileScan.objects.count())
    creates = AuditEvent.objects.filter(verb="dataset.create").count()

    _, datasets = demo()

    assert (Dataset.objects.count(), DatasetFile.objects.count(), FileScan.objects.count()) == counts
    assert AuditEvent.objects.filter(verb="dataset.create").count() == creates
    assert datasets["mg"].status == DatasetStatus.PUBLISHED


def test_the_demo_shows_a_file_removed_after_publication_under_changes(demo, client):
    from catalogue.demo import MISTAKEN_FILE, MISTAKEN_REASON, load_catalogue_changes

    people, datasets = demo()
    load_catalogue_changes(people=people, datasets=datasets)
    load_catalogue_changes(people=people, datasets=datasets)  # a second load changes nothing

    lymphoma = Dataset.objects.get(pk=datasets["lymphoma"].pk)
    assert lymphoma.version == "2.0.0"
    assert lymphoma.revisions.count() == 1
    mistaken = f"{lymphoma.holder.storage_area}/{lymphoma.identifier}/{MISTAKEN_FILE}"
    kept = set(lymphoma.files.values_list("path", flat=True))
    assert mistaken not in kept and len(kept) == 16  # 4 subjects, 2 studies each, a PET and a CT series
    assert {path.split("/")[2][:9] for path in kept} == {"LAFE-204-"}  # the lymphoma cohort's own subjects
    page = client.get(f"/catalogue/datasets/{lymphoma.identifier}/").content.decode()
    assert "Version 2.0.0" in page and MISTAKEN_REASON in page
