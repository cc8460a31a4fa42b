"""A node's count answer: criteria over the DICOM index, every searchable dataset listed, small
counts withheld and the others rounded."""

import pytest

from catalogue.services import dataset_create, dataset_publish
from federation.counts import disclosed, local_counts
from tests.catalogue.conftest import dataset_input
from tests.federation.conftest import plant_studies


@pytest.mark.parametrize(
    ("exact", "shown"), [(0, None), (1, None), (9, None), (10, 10), (12, 10), (13, 15), (23, 25), (46, 45), (48, 50)]
)
def test_counts_below_the_threshold_are_withheld_and_the_others_rounded(settings, exact, shown):
    settings.FEDERATION_COUNT_THRESHOLD = 10
    settings.FEDERATION_COUNT_ROUNDING = 5

    assert disclosed(exact) == shown


def test_the_threshold_and_the_step_are_settings(settings):
    settings.FEDERATION_COUNT_THRESHOLD = 20
    settings.FEDERATION_COUNT_ROUNDING = 10

    assert disclosed(19) is None
    assert disclosed(24) == 20
    assert disclosed(25) == 30


def test_a_node_counts_subjects_and_studies_per_dataset(searchable):
    answer = local_counts({})

    (row,) = answer["datasets"]
    assert (row["identifier"], row["subjects"], row["studies"]) == ("LV-FED-MR-1", 25, 45)  # 23 and 46, rounded
    assert answer["total"] == {"subjects": 25, "studies": 45}
    assert (answer["threshold"], answer["rounding"]) == (10, 5)


def test_each_criterion_narrows_the_count(searchable):
    plant_studies(searchable, 12, patient_sex="M", age_years=70, study_year=2018, modality="CT", manufacturer="GE")

    def subjects(**criteria):
        return local_counts(criteria)["datasets"][0]["subjects"]

    assert subjects() == 35  # 23 + 12
    assert subjects(sex=["M"]) == 10
    assert subjects(sex=["F", "M"]) == 35
    assert subjects(age_min=60) == 10
    assert subjects(age_max=60) == 25
    assert subjects(year_min=2020, year_max=2022) == 25
    assert subjects(modality=["CT"]) == 10
    assert subjects(manufacturer=["ge"]) == 10  # as DICOM writes it, in any case
    assert subjects(body_part=["BREAST"]) == 35
    assert subjects(condition=["C50"]) == 35
    assert subjects(condition=["C61"]) is None
    assert subjects(modality=["CT"], sex=["F"]) is None


def test_every_searchable_dataset_is_listed_whatever_matches_and_no_other(searchable, steward, holder):
    """A dataset with one match and one with none read the same; tier-1 datasets are not searchable."""
    few = dataset_publish(
        actor=steward,
        dataset=dataset_create(actor=steward, holder=holder, data=dataset_input(identifier="FEW", tier=2)),
    )
    plant_studies(few, 1, modality="CT")
    dataset_publish(
        actor=steward,
        dataset=dataset_create(actor=steward, holder=holder, data=dataset_input(identifier="NONE", tier=3)),
    )
    metadata_only = dataset_publish(
        actor=steward, dataset=dataset_create(actor=steward, holder=holder, data=dataset_input(identifier="T1", tier=1))
    )
    plant_studies(metadata_only, 30)

    rows = {row["identifier"]: row for row in local_counts({"modality": ["CT"]})["datasets"]}

    assert set(rows) == {"LV-FED-MR-1", "FEW", "NONE"}
    assert rows["FEW"]["subjects"] is None and rows["NONE"]["subjects"] is None


def test_files_failing_the_check_or_removed_are_not_counted(searchable):
    from django.utils import timezone

    from catalogue.models import DatasetFile, DicomInstance

    DicomInstance.objects.filter(file__dataset=searchable, patient_id__endswith="00001").update(
        passed=False, failures=[{"code": "X"}], failure_count=1
    )
    DatasetFile.objects.filter(dataset=searchable, dicom__patient_id__endswith="00002").update(
        removed_at=timezone.now(), removal_reason="registered by mistake"
    )

    assert local_counts({})["datasets"][0]["studies"] == 40  # 46 - 2 - 2 = 42, rounded
