"""Registering a dataset's files: the folder must stay in the holder's storage area; the scan hashes for real.

The steward names a folder relative to their holder's area; stored paths are relative to the dataset
storage root and start with the area's name. The attacks on confinement are in test_storage_confinement.py.
"""

import hashlib
import os

import pytest

from catalogue.ingestion import file_scan_run
from catalogue.models import DatasetFile, FileScan, FileScanStatus
from catalogue.services import dataset_register_files
from portal.errors import InvalidInput, NotPermitted
from portal.models import AuditEvent
from tests.helpers import last_event

CT = b"\x00" * 128 + b"DICM" + b"ct slice " * 500
MR = b"\x00" * 128 + b"DICM" + b"mr slice " * 900
NOTES = b"acquisition notes\n"


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def rows(dataset) -> list[tuple[str, int, str]]:
    return list(
        DatasetFile.objects.filter(dataset=dataset).order_by("path").values_list("path", "size_bytes", "sha256")
    )


GIVEN = "LV-RTH-MG-2024"  # what the steward names, relative to the holder's area
STORED = f"riga-test/{GIVEN}"  # how it is stored: relative to the dataset root, area first


@pytest.fixture
def folder(storage):
    storage.write(f"{STORED}/study1/ct.dcm", CT)
    storage.write(f"{STORED}/study2/IM0001", MR)
    storage.write(f"{STORED}/notes.txt", NOTES)
    return STORED


def register(steward, dataset, folder, capture):
    """Register `folder` (a stored name, area first) as the steward names it: relative to the area."""
    with capture(execute=True):
        return dataset_register_files(actor=steward, dataset=dataset, folder=folder.removeprefix("riga-test/"))


def test_a_scan_records_path_size_and_sha256_of_every_file(steward, draft, folder, django_capture_on_commit_callbacks):
    scan = register(steward, draft, folder, django_capture_on_commit_callbacks)

    scan.refresh_from_db()
    assert scan.status == FileScanStatus.DONE
    assert (scan.files_total, scan.files_done, scan.bytes_done) == (3, 3, len(CT) + len(MR) + len(NOTES))
    assert rows(draft) == [
        (f"{folder}/notes.txt", len(NOTES), sha(NOTES)),
        (f"{folder}/study1/ct.dcm", len(CT), sha(CT)),
        (f"{folder}/study2/IM0001", len(MR), sha(MR)),
    ]
    media = dict(DatasetFile.objects.values_list("path", "media_type"))
    assert media[f"{folder}/study2/IM0001"] == "application/dicom"  # recognised by its DICM preamble
    assert media[f"{folder}/notes.txt"] == "text/plain"
    assert last_event("dataset.files_register").payload == {"folder": folder, "scan": scan.pk}
    event = last_event("dataset.files_scan")
    assert event.actor == steward
    assert event.payload["files"] == 3
    assert event.payload["added"] == 3


def test_scanning_the_same_folder_twice_gives_one_set_of_rows(
    steward, draft, folder, django_capture_on_commit_callbacks
):
    register(steward, draft, folder, django_capture_on_commit_callbacks)
    first = rows(draft)
    ids = set(DatasetFile.objects.values_list("pk", flat=True))

    register(steward, draft, folder, django_capture_on_commit_callbacks)

    assert rows(draft) == first
    assert set(DatasetFile.objects.values_list("pk", flat=True)) == ids  # kept, not re-created
    payload = last_event("dataset.files_scan").payload
    assert {name: payload[name] for name in ("folder", "files", "bytes", "added", "updated", "removed", "skipped")} == {
        "folder": folder,
        "files": 3,
        "bytes": len(CT) + len(MR) + len(NOTES),
        "added": 0,
        "updated": 0,
        "removed": 0,
        "skipped": [],
    }
    assert (payload["read"], payload["reused"]) == (0, 3)  # the second scan only stats the unchanged files


def test_a_rescan_follows_changed_and_deleted_files(
    steward, draft, folder, storage, django_capture_on_commit_callbacks
):
    register(steward, draft, folder, django_capture_on_commit_callbacks)
    (storage.root / folder / "notes.txt").unlink()
    storage.write(f"{folder}/study1/ct.dcm", CT + b"more")

    register(steward, draft, folder, django_capture_on_commit_callbacks)

    assert rows(draft) == [
        (f"{folder}/study1/ct.dcm", len(CT) + 4, sha(CT + b"more")),
        (f"{folder}/study2/IM0001", len(MR), sha(MR)),
    ]
    assert last_event("dataset.files_scan").payload["removed"] == 1
    assert last_event("dataset.files_scan").payload["updated"] == 1


def test_a_scan_leaves_the_rows_of_other_folders_alone(
    steward, draft, folder, storage, django_capture_on_commit_callbacks
):
    storage.write("riga-test/extra/a.dcm", b"other")
    register(steward, draft, "riga-test/extra", django_capture_on_commit_callbacks)
    register(steward, draft, folder, django_capture_on_commit_callbacks)

    paths = [path for path, _, _ in rows(draft)]
    assert "riga-test/extra/a.dcm" in paths
    assert len(paths) == 4


def test_running_a_finished_scan_again_changes_nothing(steward, draft, folder, django_capture_on_commit_callbacks):
    scan = register(steward, draft, folder, django_capture_on_commit_callbacks)
    events = AuditEvent.objects.count()

    again = file_scan_run(scan_id=scan.pk)

    assert again.status == FileScanStatus.DONE
    assert AuditEvent.objects.count() == events
    assert DatasetFile.objects.count() == 3


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("", "name a folder"),
        ("missing", "there is no folder"),
        (".", "not the area itself"),
        ("extra/", "there is no folder 'extra'"),
    ],
)
def test_a_missing_folder_or_the_area_itself_is_refused_without_a_refusal_event(
    steward, draft, storage, given, message
):
    with pytest.raises(InvalidInput) as caught:
        dataset_register_files(actor=steward, dataset=draft, folder=given)

    assert message in caught.value.fields["folder"][0]
    assert not FileScan.objects.exists()
    assert last_event("dataset.files_refused") is None  # a mistake inside the area, not an escape


def test_a_holder_whose_storage_area_is_not_there_yet_is_told_so(steward, draft, settings):
    with pytest.raises(InvalidInput) as caught:
        dataset_register_files(actor=steward, dataset=draft, folder=GIVEN)

    assert "storage area 'riga-test' does not exist yet" in caught.value.fields["folder"][0]
    assert not FileScan.objects.exists()


def test_a_new_holder_gets_its_own_storage_area_created_on_commit(db, settings, django_capture_on_commit_callbacks):
    from catalogue.services import data_holder_create

    with django_capture_on_commit_callbacks(execute=True):
        holder = data_holder_create(
            actor="system:test",
            name="Tartu Test Hospital",
            slug="Tartu_Test",
            country="EE",
            contact_email="data@tartu.example",
            rdo_email="rdo@tartu.example",
        )

    assert holder.storage_area == "tartu_test"
    assert (settings.DATASET_STORAGE_ROOT / "tartu_test").is_dir()
    assert last_event("data_holder.create").payload["storage_area"] == "tartu_test"


def test_a_scan_skips_and_reports_links_that_point_outside_the_area(
    steward, draft, folder, storage, tmp_path, django_capture_on_commit_callbacks
):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.dcm").write_bytes(b"patient names")
    os.symlink(outside / "secret.dcm", storage.root / folder / "leak.dcm")
    os.symlink(outside, storage.root / folder / "linked-folder")
    os.symlink(storage.root / folder / "notes.txt", storage.root / folder / "inside-link.txt")

    scan = register(steward, draft, folder, django_capture_on_commit_callbacks)

    scan.refresh_from_db()
    assert scan.status == FileScanStatus.DONE
    skipped = {entry["path"]: entry["reason"] for entry in scan.skipped}
    assert skipped[f"{folder}/leak.dcm"] == "a link pointing outside the data holder's storage area"
    assert "not followed" in skipped[f"{folder}/linked-folder"]
    paths = [path for path, _, _ in rows(draft)]
    assert f"{folder}/leak.dcm" not in paths
    assert not any("secret" in path for path in paths)
    assert f"{folder}/inside-link.txt" in paths  # a link that stays inside the area is a file like any other
    assert sha(b"patient names") not in DatasetFile.objects.values_list("sha256", flat=True)
    assert f"{folder}/leak.dcm" in last_event("dataset.files_scan").payload["skipped"]


def test_a_folder_swapped_for_an_escaping_link_before_the_scan_runs_fails_the_scan(
    steward, draft, folder, storage, tmp_path
):
    scan = dataset_register_files(actor=steward, dataset=draft, folder=GIVEN)  # task not run yet
    outside = tmp_path / "outside"
    outside.mkdir()
    real = storage.root / folder
    real.rename(storage.area / "moved")
    os.symlink(outside, real)

    result = file_scan_run(scan_id=scan.pk)

    assert result.status == FileScanStatus.FAILED
    assert "follows a symbolic link and leaves your data holder's storage area" in result.error
    assert not DatasetFile.objects.exists()
    assert last_event("dataset.files_scan_failed").payload["scan"] == scan.pk


def test_another_institutions_steward_cannot_register_files(other_steward, draft, folder):
    with pytest.raises(NotPermitted):
        dataset_register_files(actor=other_steward, dataset=draft, folder=GIVEN)
    assert not FileScan.objects.exists()


def test_a_second_request_while_a_scan_is_queued_returns_that_scan(steward, draft, folder):
    first = dataset_register_files(actor=steward, dataset=draft, folder=GIVEN)
    second = dataset_register_files(actor=steward, dataset=draft, folder=f"{GIVEN}/")

    assert second.pk == first.pk
    assert FileScan.objects.count() == 1


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)  # the worker reads committed rows
def test_a_scan_runs_in_a_real_celery_worker(steward, draft, folder, tmp_path):
    from tests.helpers import CeleryWorker, celery_broker, wait_for

    redis_url = os.environ["TEST_REDIS_URL"]
    worker = CeleryWorker(redis_url, tmp_path)
    worker.start()
    try:
        with celery_broker(redis_url):
            scan = dataset_register_files(actor=steward, dataset=draft, folder=GIVEN)  # dispatched on commit
            wait_for(
                lambda: FileScan.objects.get(pk=scan.pk).status in (FileScanStatus.DONE, FileScanStatus.FAILED),
                timeout=60,
                message="the worker to finish the scan",
            )
    finally:
        worker.stop()

    scan.refresh_from_db()
    assert scan.status == FileScanStatus.DONE, scan.error
    assert rows(draft) == [
        (f"{folder}/notes.txt", len(NOTES), sha(NOTES)),
        (f"{folder}/study1/ct.dcm", len(CT), sha(CT)),
        (f"{folder}/study2/IM0001", len(MR), sha(MR)),
    ]
    assert last_event("dataset.files_scan").payload["scan"] == scan.pk
    assert "catalogue.tasks.file_scan_run" in worker.output()
