import hashlib

import pytest
from django.utils import timezone

from catalogue.models import DatasetFile, DicomInstance
from catalogue.services import dataset_create, dataset_publish
from federation import keys
from federation.models import Node
from tests.catalogue.conftest import dataset_input


@pytest.fixture
def partner(db):
    """A partner node holding this test node's own key: requests this node signs are its requests."""
    return Node.objects.create(name="Partner hospital", base_url="http://testserver", public_key=keys.public_key_b64())


def plant_studies(dataset, subjects: int, studies_each: int = 1, **fields) -> None:
    """`subjects` subjects with `studies_each` studies each, one passing file per study, indexed."""
    batch = DatasetFile.all_registrations.filter(dataset=dataset).count()  # a later call adds new subjects
    rows = []
    for subject in range(batch, batch + subjects):
        for study in range(studies_each):
            rows.append((f"{dataset.identifier}-S{subject:05}", f"2.25.{dataset.pk}{subject:05}{study:02}"))
    files = DatasetFile.objects.bulk_create(
        DatasetFile(
            dataset=dataset,
            path=f"datasets/{dataset.identifier}/{uid}.dcm",
            size_bytes=10,
            sha256=hashlib.sha256(uid.encode()).hexdigest(),
        )
        for _, uid in rows
    )
    defaults = {"modality": "MR", "body_part_examined": "BREAST", "manufacturer": "Siemens", "patient_sex": "F"}
    defaults |= {"age_years": 55, "study_year": 2021}
    DicomInstance.objects.bulk_create(
        DicomInstance(
            file=file,
            patient_id=patient,
            study_instance_uid=uid,
            series_instance_uid=f"{uid}.1",
            sop_instance_uid=f"{uid}.1.1",
            passed=True,
            checked_at=timezone.now(),
            **(defaults | fields),
        )
        for file, (patient, uid) in zip(files, rows, strict=True)
    )


@pytest.fixture
def searchable(steward, holder):
    """A published tier-2 dataset (searchable through federated search) with 23 subjects, 46 studies."""
    data = dataset_input(identifier="LV-FED-MR-1", tier=2, modalities=["MR"], conditions=["C50"])
    dataset = dataset_publish(actor=steward, dataset=dataset_create(actor=steward, holder=holder, data=data))
    plant_studies(dataset, 23, studies_each=2)
    return dataset
