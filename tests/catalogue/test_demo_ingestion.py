"""The demo's files as the ingestion check sees them: every published dataset's files pass, the staged
draft's three planted files fail with the rule each was planted for, and loading twice changes no byte."""

import hashlib

import pytest
from django.conf import settings

from catalogue.deid.check import ATTRIBUTE_NOT_REPLACED, BURNED_IN_ANNOTATION, DATE_NOT_REMOVED
from catalogue.demo import DATASETS, load_catalogue
from catalogue.demo_dicom import DemoFileRejected, cohort_files
from catalogue.models import DatasetFile, DatasetStatus, DicomInstance
from catalogue.selectors import dataset_index_counts


@pytest.fixture
def demo(db, django_capture_on_commit_callbacks):
    from portal.demo import load_holders, load_people

    def load():
        with django_capture_on_commit_callbacks(execute=True):  # file scans run after commit, eagerly
            people = load_people()
            holders = load_holders(people)
            return load_catalogue(people=people, holders=holders)

    return load


def _on_disk(dataset) -> dict[str, str]:
    folder = settings.DATASET_STORAGE_ROOT / dataset.holder.storage_area / dataset.identifier
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_every_file_of_the_published_demo_datasets_passes_the_check(demo):
    datasets = demo()

    published = [d for d in datasets.values() if d.status == DatasetStatus.PUBLISHED]
    assert len(published) == 7
    for dataset in published:
        files = DatasetFile.objects.filter(dataset=dataset)
        index = DicomInstance.objects.filter(file__dataset=dataset)
        assert index.count() == files.count() > 0, dataset.identifier
        failing = list(index.filter(passed=False).values_list("file__path", "failures"))
        assert failing == [], dataset.identifier
        assert dataset.source_uid_root and dataset.pseudonym_pattern and dataset.counts_note


def test_the_index_describes_the_staged_files_as_the_datasets_say(demo):
    datasets = demo()

    mammography = dataset_index_counts(datasets["mg"])
    assert (mammography["subjects"], mammography["studies"], mammography["images"]) == (8, 12, 24)
    assert mammography["modalities"] == ["MG"] and mammography["body_parts"] == ["BREAST"]
    assert mammography["manufacturers"] == ["Hologic", "Siemens Healthineers"]
    assert mammography["sexes"] == ["F"]
    assert mammography["age_range"] == (50, 69) and mammography["study_years"] == (2015, 2022)
    liver = dataset_index_counts(datasets["liver"])
    assert liver["modalities"] == ["CT", "SEG"] and liver["subjects"] == 4
    segmentations = DicomInstance.objects.filter(file__dataset=datasets["liver"], modality="SEG")
    ct_series = set(
        DicomInstance.objects.filter(file__dataset=datasets["liver"], modality="CT").values_list(
            "series_instance_uid", flat=True
        )
    )
    assert {row.segmented_series_uid for row in segmentations} <= ct_series
    assert segmentations.count() == 4
    assert (
        "1,840 subjects" in datasets["mg"].counts_note and "24 de-identified DICOM files" in datasets["mg"].counts_note
    )


def test_the_staged_draft_has_exactly_its_three_planted_files_rejected(demo):
    staged = demo()["staged"]

    assert staged.status == DatasetStatus.DRAFT
    index = DicomInstance.objects.filter(file__dataset=staged)
    assert index.count() == 15
    area = f"{staged.holder.storage_area}/{staged.identifier}"
    failed = {
        row.file.path.removeprefix(area + "/"): {failure["code"] for failure in row.failures}
        for row in index.filter(passed=False).select_related("file")
    }
    assert failed == {
        "LAFE-205-002/study-1/series-1/3.dcm": {ATTRIBUTE_NOT_REPLACED},  # the patient's name
        "LAFE-205-003/study-1/series-1/2.dcm": {DATE_NOT_REMOVED},  # the date of birth
        "LAFE-205-004/study-1/series-1/1.dcm": {BURNED_IN_ANNOTATION},
    }
    name = index.get(file__path=f"{area}/LAFE-205-002/study-1/series-1/3.dcm")
    assert [failure["tag"] for failure in name.failures] == ["(0010,0010)"]


def test_loading_the_demo_twice_leaves_every_file_byte_identical(demo):
    datasets = demo()
    before = {key: _on_disk(dataset) for key, dataset in datasets.items()}
    files_before = sorted(DatasetFile.all_registrations.values_list("path", "sha256"))

    again = demo()

    assert {key: _on_disk(dataset) for key, dataset in again.items()} == before
    assert sorted(DatasetFile.all_registrations.values_list("path", "sha256")) == files_before
    # Made afresh, a cohort gives the same bytes as the files already written.
    _, _, cohort, spec = DATASETS["brain"]
    made = {
        file.relative: hashlib.sha256(file.content).hexdigest() for file in cohort_files(spec["identifier"], cohort)
    }
    assert made == before["brain"]


def test_the_loader_refuses_a_file_that_fails_the_check(monkeypatch):
    import catalogue.demo_dicom as demo_dicom

    # an export step that forgets to de-identify: the hospital's header reaches the check as it is
    monkeypatch.setattr(demo_dicom, "deidentify", lambda dataset, **kwargs: dataset)
    _, _, cohort, spec = DATASETS["colon"]

    with pytest.raises(DemoFileRejected, match="fails the de-identification check"):
        cohort_files(spec["identifier"], cohort)
