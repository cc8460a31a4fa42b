"""The DICOM index: the file scan reads every DICOM header once and records what it says, with
its de-identification verdict; the dataset's counts come from the index.

Files are pydicom's bundled samples, de-identified by catalogue.deid.recipe with their own UIDs,
written into the holder's storage area and registered through the service as a steward would.
"""

import copy

import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from catalogue.deid.recipe import deidentify
from catalogue.deid.table import Option
from catalogue.dicom_index import SEGMENTATION_STORAGE, age_in_years, study_year
from catalogue.models import DatasetFile, DicomInstance, FileScanStatus
from catalogue.selectors import dataset_index_counts
from catalogue.services import dataset_register_files

STORED = "riga-test/LV-RTH-IDX"
# a sequence of undefined length whose item ends mid-way: pydicom raises while reading it
TRUNCATED = (
    b"\x00" * 128 + b"DICM" + b"\x08\x00\x15\x11SQ\x00\x00\xff\xff\xff\xff" + b"\xfe\xff\x00\xe0\x10\x00\x00\x00xx"
)
KEPT = (Option.RETAIN_PATIENT_CHARACTERISTICS, Option.RETAIN_DEVICE_IDENTITY)
ROOTS = {
    "SUBJ-0001": "1.2.826.0.1.3680043.10.901.",
    "SUBJ-0002": "1.2.826.0.1.3680043.10.902.",
    "SUBJ-0003": "1.2.826.0.1.3680043.10.903.",
}


def source(name: str, *, instance: int, age: str, body_part: str) -> Dataset:
    dataset = dcmread(get_testdata_file(name))
    dataset.SOPInstanceUID = f"{dataset.SOPInstanceUID}.{instance}"
    dataset.PatientAge = age
    dataset.BodyPartExamined = body_part
    return dataset


def clean(name: str, subject: str, *, instance: int = 1, age: str, body_part: str, shift_days=None) -> Dataset:
    return deidentify(
        source(name, instance=instance, age=age, body_part=body_part),
        subject_id=subject,
        uid_root=ROOTS[subject],
        shift_days=shift_days,
        options=KEPT,
    )


def segmentation_of(image: Dataset) -> Dataset:
    """A SEG header referencing `image`'s series (the index reads headers only; no segments needed)."""
    seg = copy.deepcopy(image)
    seg.SOPClassUID = seg.file_meta.MediaStorageSOPClassUID = SEGMENTATION_STORAGE
    seg.SOPInstanceUID = seg.file_meta.MediaStorageSOPInstanceUID = generate_uid(prefix=ROOTS["SUBJ-0002"])
    seg.SeriesInstanceUID = generate_uid(prefix=ROOTS["SUBJ-0002"])
    seg.Modality = "SEG"
    reference = Dataset()
    reference.SeriesInstanceUID = image.SeriesInstanceUID
    seg.ReferencedSeriesSequence = [reference]
    return seg


def write(storage, relative: str, dataset: Dataset):
    path = storage.root / STORED / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    dataset.save_as(path, enforce_file_format=True)
    return dataset


@pytest.fixture
def written(storage):
    """Three subjects: two CT instances of one series, an MR with its SEG, a CT still naming its patient;
    two files claiming DICOM that are none, a table and a NIfTI volume."""
    files = {
        "sub1/ct1.dcm": clean("CT_small.dcm", "SUBJ-0001", instance=1, age="045Y", body_part="CHEST", shift_days=30),
        "sub1/ct2.dcm": clean("CT_small.dcm", "SUBJ-0001", instance=2, age="045Y", body_part="CHEST", shift_days=30),
        "sub2/mr.dcm": clean("MR_small.dcm", "SUBJ-0002", age="062Y", body_part="HEAD"),
    }
    files["sub2/seg.dcm"] = segmentation_of(files["sub2/mr.dcm"])
    named = clean("CT_small.dcm", "SUBJ-0003", age="070Y", body_part="ABDOMEN", shift_days=0)
    named.PatientName = "Doe^Jane"
    files["sub3/ct.dcm"] = named
    for relative, dataset in files.items():
        write(storage, relative, dataset)
    storage.write(f"{STORED}/broken.dcm", b"\x00" * 128 + b"DICM" + b"ct slice " * 50)  # no SOP instance in it
    storage.write(f"{STORED}/truncated.dcm", TRUNCATED)
    storage.write(f"{STORED}/clinical.csv", b"subject,grade\nSUBJ-0001,2\n")
    storage.write(f"{STORED}/sub1/mask.nii.gz", b"\x1f\x8b\x08\x00" + b"\x00" * 64)
    return files


def scan(steward, dataset, capture):
    with capture(execute=True):
        started = dataset_register_files(actor=steward, dataset=dataset, folder=STORED.removeprefix("riga-test/"))
    started.refresh_from_db()
    assert started.status == FileScanStatus.DONE, started.error
    return started


def index_of(relative: str) -> DicomInstance:
    return DicomInstance.objects.get(file__path=f"{STORED}/{relative}", file__removed_at__isnull=True)


def test_the_scan_indexes_every_dicom_header(steward, draft, written, django_capture_on_commit_callbacks):
    scan(steward, draft, django_capture_on_commit_callbacks)

    ct = index_of("sub1/ct1.dcm")
    expected = written["sub1/ct1.dcm"]
    assert (ct.patient_id, ct.study_instance_uid, ct.series_instance_uid, ct.sop_instance_uid) == (
        "SUBJ-0001",
        expected.StudyInstanceUID,
        expected.SeriesInstanceUID,
        expected.SOPInstanceUID,
    )
    assert ct.study_instance_uid.startswith(ROOTS["SUBJ-0001"])
    assert (ct.sop_class_uid, ct.modality, ct.body_part_examined) == ("1.2.840.10008.5.1.4.1.1.2", "CT", "CHEST")
    assert (ct.manufacturer, ct.manufacturer_model_name, ct.patient_sex) == ("GE MEDICAL SYSTEMS", "RHAPSODE", "O")
    assert (ct.age_years, ct.study_year) == (45, 2003)  # 2004-01-19 shifted back 30 days
    assert (ct.passed, ct.failures, ct.failure_count, ct.segmented_series_uid) == (True, [], 0, "")
    assert ct.checked_at is not None

    mr = index_of("sub2/mr.dcm")
    assert (mr.modality, mr.patient_sex, mr.age_years, mr.study_year, mr.passed) == ("MR", "F", 62, None, True)
    assert mr.file.dicom == mr  # one-to-one with the file row


def test_a_segmentation_names_the_series_it_segments(steward, draft, written, django_capture_on_commit_callbacks):
    scan(steward, draft, django_capture_on_commit_callbacks)

    seg = index_of("sub2/seg.dcm")
    assert (seg.sop_class_uid, seg.modality) == (SEGMENTATION_STORAGE, "SEG")
    assert seg.segmented_series_uid == index_of("sub2/mr.dcm").series_instance_uid
    assert seg.study_instance_uid == index_of("sub2/mr.dcm").study_instance_uid


def test_a_file_still_naming_its_patient_fails_with_the_rule_it_breaks(
    steward, draft, written, django_capture_on_commit_callbacks
):
    scan(steward, draft, django_capture_on_commit_callbacks)

    named = index_of("sub3/ct.dcm")
    assert named.passed is False
    assert named.failure_count == len(named.failures) == 1
    assert named.failures[0]["code"] == "DEID_ATTRIBUTE_NOT_REPLACED"
    assert named.failures[0]["tag"] == "(0010,0010)"
    assert "Patient's Name" in named.failures[0]["message"]


def test_a_file_claiming_dicom_that_cannot_be_parsed_is_indexed_as_unreadable(
    steward, draft, written, django_capture_on_commit_callbacks
):
    scan(steward, draft, django_capture_on_commit_callbacks)

    for name, why in (("broken.dcm", "names no SOP Class UID"), ("truncated.dcm", "OSError")):
        broken = index_of(name)
        assert broken.file.media_type == "application/dicom"
        assert broken.passed is False
        assert [failure["code"] for failure in broken.failures] == ["DICOM_UNREADABLE"]
        assert why in broken.failures[0]["message"]
        assert (broken.sop_instance_uid, broken.patient_id, broken.modality) == ("", "", "")


def test_files_that_are_not_dicom_are_listed_by_type_without_an_index_row(
    steward, draft, written, django_capture_on_commit_callbacks
):
    scan(steward, draft, django_capture_on_commit_callbacks)

    others = DatasetFile.objects.filter(dataset=draft).exclude(media_type="application/dicom")
    assert sorted(others.values_list("path", "media_type")) == [
        (f"{STORED}/clinical.csv", "text/csv"),
        (f"{STORED}/sub1/mask.nii.gz", "application/octet-stream"),
    ]
    assert not DicomInstance.objects.filter(file__in=others).exists()


def expected_counts(draft_files_size: int) -> dict:
    return {
        "subjects": 3,
        "studies": 3,
        "series": 4,  # the CT series of SUBJ-0001, the MR and its SEG, the CT of SUBJ-0003
        "images": 5,
        "files_dicom": 7,
        "files_passed": 4,
        "files_failed": 3,
        "files_unreadable": 2,
        "modalities": ["CT", "MR", "SEG"],
        "body_parts": ["ABDOMEN", "CHEST", "HEAD"],
        "manufacturers": ["GE MEDICAL SYSTEMS", "TOSHIBA_MEC"],
        "sexes": ["F", "O"],
        "age_range": (45, 70),
        "study_years": (2003, 2004),
        "files": 9,
        "size_bytes": draft_files_size,
        "media_types": {"application/dicom": 7, "application/octet-stream": 1, "text/csv": 1},
    }


def test_the_counts_are_what_was_written_and_take_seven_queries(
    steward, draft, written, storage, django_capture_on_commit_callbacks, django_assert_num_queries
):
    scan(steward, draft, django_capture_on_commit_callbacks)
    size = sum(path.stat().st_size for path in (storage.root / STORED).rglob("*") if path.is_file())

    with django_assert_num_queries(7):
        counts = dataset_index_counts(draft)

    assert counts == expected_counts(size)


def test_a_rescan_of_the_unchanged_folder_adds_no_index_row(
    steward, draft, written, storage, django_capture_on_commit_callbacks
):
    scan(steward, draft, django_capture_on_commit_callbacks)
    rows = dict(DicomInstance.objects.values_list("pk", "file_id"))
    counts = dataset_index_counts(draft)

    scan(steward, draft, django_capture_on_commit_callbacks)

    assert dict(DicomInstance.objects.values_list("pk", "file_id")) == rows
    assert dataset_index_counts(draft) == counts


def test_a_rescan_indexes_a_registered_file_that_has_no_index_row_yet(
    steward, draft, written, django_capture_on_commit_callbacks
):
    """Files registered before the index existed are indexed by the next scan, once."""
    scan(steward, draft, django_capture_on_commit_callbacks)
    index_of("sub2/mr.dcm").delete()
    before = DicomInstance.objects.count()

    scan(steward, draft, django_capture_on_commit_callbacks)
    scan(steward, draft, django_capture_on_commit_callbacks)

    assert DicomInstance.objects.count() == before + 1
    assert index_of("sub2/mr.dcm").patient_id == "SUBJ-0002"


def test_a_changed_file_is_indexed_anew_and_its_old_registration_drops_out_of_the_counts(
    steward, draft, written, storage, django_capture_on_commit_callbacks
):
    scan(steward, draft, django_capture_on_commit_callbacks)
    old = index_of("sub3/ct.dcm")
    fixed = clean("CT_small.dcm", "SUBJ-0003", age="070Y", body_part="ABDOMEN", shift_days=0)
    write(storage, "sub3/ct.dcm", fixed)

    scan(steward, draft, django_capture_on_commit_callbacks)

    new = index_of("sub3/ct.dcm")
    assert new.pk != old.pk and new.passed is True
    assert DicomInstance.objects.filter(pk=old.pk, file__removed_at__isnull=False).exists()  # kept for the record
    counts = dataset_index_counts(draft)
    assert (counts["files_dicom"], counts["files_passed"], counts["files_failed"]) == (7, 5, 2)
    assert (counts["subjects"], counts["images"]) == (3, 5)


@pytest.mark.parametrize(
    ("text", "years"),
    [("045Y", 45), ("000Y", 0), ("018M", 1), ("006M", 0), ("104W", 1), ("400D", 1), ("", None), ("45", None)],
)
def test_patient_age_in_years(text, years):
    assert age_in_years(text) == years


@pytest.mark.parametrize(
    ("text", "year"),
    [
        ("20040119", 2004),
        ("20040229", 2004),  # a leap day
        ("20030229", None),  # not one
        ("00000101", None),
        ("19991231 ", 1999),
        ("２００４０１１９", None),  # full-width digits are no DICOM date
        ("", None),
        ("2004", None),
        ("20041399", None),
    ],
)
def test_study_year(text, year):
    assert study_year(text) == year
