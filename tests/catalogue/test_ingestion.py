"""Ingestion: the dataset's figures come from its DICOM index, files failing the de-identification
check stop publication and never leave, an interrupted scan resumes counting each file once, and
a rescan of an unchanged folder only stats its files.

Files are pydicom's bundled samples de-identified by catalogue.deid.recipe (tests/catalogue/test_dicom_index.py).
"""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from catalogue import ingestion
from catalogue.ingestion import file_scan_run
from catalogue.models import (
    Dataset,
    DatasetFile,
    DicomInstance,
    FileScan,
    FileScanBatch,
    FileScanEntry,
    FileScanStatus,
)
from catalogue.selectors import dataset_index_counts
from catalogue.services import (
    dataset_files_exclude,
    dataset_publish,
    dataset_register_files,
    dataset_update,
)
from portal.errors import InvalidInput, TransitionError
from tests.catalogue.test_dicom_index import STORED, clean, write
from tests.helpers import last_event

FOLDER = STORED.removeprefix("riga-test/")
SOURCE_ROOT = "1.3.6.1.4.1.5962"  # the UID root of the bundled CT_small.dcm and MR_small.dcm


@pytest.fixture
def cohort(storage):
    """Two subjects, three studies, four series and six images, every file de-identified."""
    made = {}
    for subject, age, sex in (("SUBJ-0001", "045Y", "F"), ("SUBJ-0002", "071Y", "M")):
        for study in (1, 2) if subject == "SUBJ-0001" else (1,):
            for series, name in enumerate(("CT_small.dcm", "MR_small.dcm"), start=1):
                if subject == "SUBJ-0002" and series == 2:
                    continue
                for instance in (1, 2) if series == 1 else (1,):
                    dataset = clean(name, subject, instance=instance, age=age, body_part="CHEST", shift_days=10)
                    dataset.PatientSex = sex
                    # one study per (subject, study), one series per (study, series): UIDs of our own
                    root = f"2.25.{int(subject[-1])}{study}"
                    dataset.StudyInstanceUID = f"{root}.1"
                    dataset.SeriesInstanceUID = f"{root}.{series}"
                    dataset.SOPInstanceUID = f"{root}.{series}.{instance}"
                    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
                    made[f"{subject}/{study}/{series}/{instance}.dcm"] = write(
                        storage, f"{subject}/{study}/{series}/{instance}.dcm", dataset
                    )
    return made


def scan(steward, dataset, capture) -> FileScan:
    with capture(execute=True):
        started = dataset_register_files(actor=steward, dataset=dataset, folder=FOLDER)
    started.refresh_from_db()
    assert started.status == FileScanStatus.DONE, started.error
    return started


def plant_named(storage, name="SUBJ-0003/1/1/1.dcm"):
    dataset = clean("CT_small.dcm", "SUBJ-0003", age="050Y", body_part="CHEST", shift_days=10)
    dataset.PatientName = "Ozola^Anna"
    dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = "2.25.31.1.1"
    write(storage, name, dataset)
    return f"{STORED}/{name}"


def test_the_datasets_counts_and_facets_are_those_of_its_index(
    steward, draft, cohort, django_capture_on_commit_callbacks
):
    scan(steward, draft, django_capture_on_commit_callbacks)
    dataset = Dataset.objects.get(pk=draft.pk)
    counts = dataset_index_counts(dataset)

    assert (counts["subjects"], counts["studies"], counts["series"], counts["images"]) == (2, 3, 5, 8)
    assert (dataset.subjects_count, dataset.studies_count, dataset.series_count, dataset.images_count) == (
        counts["subjects"],
        counts["studies"],
        counts["series"],
        counts["images"],
    )
    assert dataset.size_bytes == sum(DatasetFile.objects.filter(dataset=dataset).values_list("size_bytes", flat=True))
    assert (dataset.age_min, dataset.age_max) == (45, 71)
    assert sorted(dataset.modalities.values_list("code", flat=True)) == ["CT", "MR"]
    assert sorted(dataset.body_parts.values_list("code", flat=True)) == ["CHEST"]
    assert sorted(dataset.birth_sexes.values_list("code", flat=True)) == ["FEMALE", "MALE"]
    assert sorted(dataset.manufacturers.values_list("name", flat=True)) == sorted(counts["manufacturers"])
    years = counts["study_years"]
    assert (dataset.acquisition_start, dataset.acquisition_end) == (date(years[0], 1, 1), date(years[1], 12, 31))
    assert dataset.anonymisation_verified_on == timezone.localdate()
    assert "PS3.15 Annex E" in dataset.anonymisation_profile
    assert "Retain Patient Characteristics Option" in dataset.anonymisation_profile  # declared by the files
    assert set(dataset.indexed_fields) >= {"subjects_count", "studies_count", "modalities", "age_min"}


def test_the_index_set_fields_are_not_typed_over_and_a_note_explains_a_difference(
    steward, draft, cohort, django_capture_on_commit_callbacks
):
    scan(steward, draft, django_capture_on_commit_callbacks)

    with pytest.raises(InvalidInput) as refused:
        dataset_update(actor=steward, dataset=draft, data={"subjects_count": 1840})
    assert "subjects_count" in refused.value.fields
    with pytest.raises(InvalidInput) as typed:
        dataset_update(actor=steward, dataset=draft, data={"anonymisation_verified_on": "2025-01-01"})
    assert "anonymisation_verified_on" in typed.value.fields

    note = "The portal holds a sample of two subjects; the full collection of 1,840 women is processed in place."
    updated = dataset_update(actor=steward, dataset=draft, data={"counts_note": note, "subjects_count": 2})
    assert (updated.counts_note, updated.subjects_count) == (note, 2)  # the index's own value is accepted


def test_publication_is_refused_while_a_registered_file_fails_and_allowed_once_it_is_excluded(
    steward, draft, cohort, storage, django_capture_on_commit_callbacks
):
    planted = plant_named(storage)
    scan(steward, draft, django_capture_on_commit_callbacks)
    assert Dataset.objects.get(pk=draft.pk).anonymisation_verified_on is None

    with pytest.raises(TransitionError) as refused:
        dataset_publish(actor=steward, dataset=draft)
    assert "files" in refused.value.fields
    assert "1 registered file fails the de-identification check" in refused.value.fields["files"][0]
    assert Dataset.objects.get(pk=draft.pk).status == "draft"

    with pytest.raises(InvalidInput):
        dataset_files_exclude(actor=steward, dataset=draft, reason="", paths=[planted])
    with pytest.raises(InvalidInput):  # a passing file is not excluded as failing
        dataset_files_exclude(actor=steward, dataset=draft, reason="x", paths=[f"{STORED}/SUBJ-0001/1/1/1.dcm"])
    excluded = dataset_files_exclude(actor=steward, dataset=draft, reason="Names the patient; re-export pending.")

    assert [file.path for file in excluded] == [planted]
    event = last_event("dataset.files_exclude")
    assert event.payload["excluded"] == 1
    assert event.payload["files"] == [{"path": planted, "sha256": excluded[0].sha256}]
    assert not DatasetFile.objects.filter(path=planted).exists()
    dataset = Dataset.objects.get(pk=draft.pk)
    assert dataset.anonymisation_verified_on == timezone.localdate()
    assert dataset.subjects_count == 2  # the excluded subject no longer counts
    assert dataset_publish(actor=steward, dataset=dataset).status == "published"

    # a rescan does not bring the excluded content back
    again = scan(steward, dataset, django_capture_on_commit_callbacks)
    assert not DatasetFile.objects.filter(path=planted).exists()
    assert again.report["rejected_by_reason"] == {"NOT_REGISTERED: removed from the dataset by a steward": 1}


def test_a_published_dataset_gaining_a_failing_file_releases_none_of_it_until_fixed(
    steward, draft, cohort, storage, django_capture_on_commit_callbacks
):
    from access_requests.services.grants import file_releasable

    scan(steward, draft, django_capture_on_commit_callbacks)
    dataset = dataset_publish(actor=steward, dataset=Dataset.objects.get(pk=draft.pk))
    good = DatasetFile.objects.get(path=f"{STORED}/SUBJ-0001/1/1/1.dcm")
    assert file_releasable(good, dataset)

    planted = plant_named(storage)
    scan(steward, dataset, django_capture_on_commit_callbacks)
    dataset.refresh_from_db()
    bad = DatasetFile.objects.get(path=planted)

    assert dataset.anonymisation_verified_on is None
    assert not file_releasable(bad, dataset)
    assert not file_releasable(good, dataset)  # the dataset's verification is void while a file fails

    dataset_files_exclude(actor=steward, dataset=dataset, reason="Names the patient.")
    dataset.refresh_from_db()
    assert file_releasable(DatasetFile.objects.get(pk=good.pk), dataset)


def test_a_scan_interrupted_and_resumed_counts_each_file_once(
    steward, draft, cohort, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(ingestion, "SCAN_BATCH", 2)
    staged_batches = []
    real_stage = ingestion._stage_batch

    def dies_after_two_batches(scan, batch, key, options):
        if len(staged_batches) == 2:
            raise SystemExit("the worker was killed")
        real_stage(scan, batch, key, options)
        staged_batches.append([item.relative for item in batch])

    monkeypatch.setattr(ingestion, "_stage_batch", dies_after_two_batches)
    with django_capture_on_commit_callbacks(execute=False):
        scan_row = dataset_register_files(actor=steward, dataset=draft, folder=FOLDER)
    with pytest.raises(SystemExit):
        file_scan_run(scan_id=scan_row.pk)

    interrupted = FileScan.objects.get(pk=scan_row.pk)
    assert (interrupted.status, interrupted.files_done) == (FileScanStatus.RUNNING, 4)
    assert FileScanEntry.objects.filter(scan=interrupted).count() == 4
    assert not DatasetFile.objects.filter(dataset=draft).exists()  # nothing applied yet

    # another run while the first one's lease holds leaves the scan alone
    monkeypatch.setattr(ingestion, "_stage_batch", real_stage)
    assert file_scan_run(scan_id=scan_row.pk).status == FileScanStatus.RUNNING
    # the worker is gone: once the lease lapses, the redelivered task resumes after the staged batches
    FileScan.objects.filter(pk=scan_row.pk).update(progress_at=timezone.now() - ingestion.SCAN_LEASE - timedelta(1))
    read = []
    real_read = ingestion._read
    monkeypatch.setattr(
        ingestion, "_read", lambda scan, item, *rest: read.append(item.relative) or real_read(scan, item, *rest)
    )
    finished = file_scan_run(scan_id=scan_row.pk)

    assert finished.status == FileScanStatus.DONE
    already = {path for batch in staged_batches for path in batch}
    assert not already & set(read)  # no staged file was read again
    assert len(read) + len(already) == len(cohort)
    assert finished.files_done == finished.files_total == len(cohort)
    assert DatasetFile.objects.filter(dataset=draft).count() == len(cohort)
    assert DicomInstance.objects.filter(file__dataset=draft).count() == len(cohort)
    assert last_event("dataset.files_scan").payload["added"] == len(cohort)
    assert not FileScanEntry.objects.exists()  # the staging is gone with the finished scan
    assert Dataset.objects.get(pk=draft.pk).images_count == 8


def _walk_to_workers(monkeypatch, steward, draft, capture) -> tuple[int, list[tuple]]:
    """Register the folder where batches go to workers; the batches the walk queued, not run."""
    from catalogue import tasks

    monkeypatch.setattr(ingestion, "SCAN_BATCH", 2)
    monkeypatch.setattr(ingestion, "_to_workers", lambda: True)
    queued: list[tuple] = []
    monkeypatch.setattr(tasks.file_scan_stage, "delay", lambda *args: queued.append(args))
    with capture(execute=False):
        scan_row = dataset_register_files(actor=steward, dataset=draft, folder=FOLDER)
    return scan_row.pk, queued


def stage(message: tuple) -> FileScan:
    scan_id, attempt, number, items = message
    return ingestion.file_scan_stage(scan_id=scan_id, attempt=attempt, number=number, items=items)


def test_batches_given_to_workers_are_staged_once_in_any_order_and_the_last_applies_the_scan(
    steward, draft, cohort, monkeypatch, django_capture_on_commit_callbacks
):
    scan_id, queued = _walk_to_workers(monkeypatch, steward, draft, django_capture_on_commit_callbacks)
    walked = file_scan_run(scan_id=scan_id)

    assert walked.status == FileScanStatus.RUNNING
    assert walked.batches_queued == len(queued) == FileScanBatch.objects.filter(scan_id=scan_id).count() == 4
    assert not FileScanEntry.objects.exists()  # the walking task read no file
    order = queued[::-1]  # the workers take them in any order
    for message in order[:-1]:
        assert stage(message).status == FileScanStatus.RUNNING
    assert stage(order[0]).status == FileScanStatus.RUNNING  # delivered twice: staged once
    assert FileScanEntry.objects.filter(scan_id=scan_id).count() == len(cohort) - len(order[-1][3])
    assert not DatasetFile.objects.filter(dataset=draft).exists()  # nothing applied before the last batch

    done = stage(order[-1])

    assert done.status == FileScanStatus.DONE
    assert done.files_done == done.files_total == len(cohort)
    assert DatasetFile.objects.filter(dataset=draft).count() == len(cohort)
    assert DicomInstance.objects.filter(file__dataset=draft, passed=True).count() == len(cohort)
    assert last_event("dataset.files_scan").payload["added"] == len(cohort)
    assert not FileScanBatch.objects.exists() and not FileScanEntry.objects.exists()
    assert stage(order[0]).status == FileScanStatus.DONE  # a late delivery changes nothing
    assert DatasetFile.objects.filter(dataset=draft).count() == len(cohort)


def test_a_walk_resumed_after_its_worker_was_lost_ignores_the_batches_it_queued_before(
    steward, draft, cohort, monkeypatch, django_capture_on_commit_callbacks
):
    scan_id, queued = _walk_to_workers(monkeypatch, steward, draft, django_capture_on_commit_callbacks)
    file_scan_run(scan_id=scan_id)
    first = list(queued)
    stage(first[0])  # one batch staged, then the worker holding the others is lost
    FileScan.objects.filter(pk=scan_id).update(progress_at=timezone.now() - ingestion.SCAN_LEASE - timedelta(1))
    queued.clear()
    resumed = file_scan_run(scan_id=scan_id)
    assert resumed.attempt == 2 and len(queued) == 4

    for message in first[1:]:  # the lost attempt's batches, delivered late
        assert stage(message).status == FileScanStatus.RUNNING
    assert FileScanEntry.objects.filter(scan_id=scan_id).count() == len(first[0][3])  # they staged nothing
    for message in queued:
        finished = stage(message)

    assert finished.status == FileScanStatus.DONE
    assert DatasetFile.objects.filter(dataset=draft).count() == len(cohort)
    assert finished.files_done == len(cohort)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)  # the workers read committed rows
def test_a_scan_spreads_its_batches_over_a_pool_of_worker_processes(steward, draft, cohort, tmp_path):
    import os

    from tests.helpers import CeleryWorker, celery_broker, wait_for

    redis_url = os.environ["TEST_REDIS_URL"]
    worker = CeleryWorker(redis_url, tmp_path, {"FILE_SCAN_BATCH": "2"}, concurrency=2)
    worker.start()
    try:
        with celery_broker(redis_url):
            scan_row = dataset_register_files(actor=steward, dataset=draft, folder=FOLDER)
            wait_for(
                lambda: FileScan.objects.get(pk=scan_row.pk).status in (FileScanStatus.DONE, FileScanStatus.FAILED),
                timeout=90,
                message="the workers to finish the scan",
            )
    finally:
        worker.stop()

    finished = FileScan.objects.get(pk=scan_row.pk)
    assert finished.status == FileScanStatus.DONE, finished.error
    assert finished.batches_queued == 4
    assert DatasetFile.objects.filter(dataset=draft).count() == len(cohort)
    assert DicomInstance.objects.filter(file__dataset=draft, passed=True).count() == len(cohort)
    assert Dataset.objects.get(pk=draft.pk).images_count == len(cohort)
    received = [line for line in worker.output().splitlines() if "catalogue.tasks.file_scan_stage" in line]
    assert sum("received" in line for line in received) == 4, worker.output()[-3000:]


def test_a_rescan_of_an_unchanged_folder_reads_no_file(
    steward, draft, cohort, monkeypatch, django_capture_on_commit_callbacks
):
    scan(steward, draft, django_capture_on_commit_callbacks)
    rows = list(DatasetFile.objects.filter(dataset=draft).order_by("pk").values_list("pk", "sha256", "modified_ns"))
    opened = []
    real_hash, real_header = ingestion.file_sha256, ingestion.dicom_header_fields
    monkeypatch.setattr(ingestion, "file_sha256", lambda real, **kw: opened.append(real) or real_hash(real, **kw))
    monkeypatch.setattr(
        ingestion, "dicom_header_fields", lambda real, *a, **kw: opened.append(real) or real_header(real, *a, **kw)
    )

    again = scan(steward, draft, django_capture_on_commit_callbacks)

    assert opened == []
    assert (again.files_reused, again.report["read"], again.report["reused"]) == (len(cohort), 0, len(cohort))
    assert (
        list(DatasetFile.objects.filter(dataset=draft).order_by("pk").values_list("pk", "sha256", "modified_ns"))
        == rows
    )


def test_a_touched_file_is_read_again_and_a_changed_declaration_rechecks_every_header(
    steward, draft, cohort, storage, monkeypatch, django_capture_on_commit_callbacks
):
    import os

    scan(steward, draft, django_capture_on_commit_callbacks)
    touched = storage.root / STORED / "SUBJ-0001/1/1/1.dcm"
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
    hashed = []
    real_hash = ingestion.file_sha256
    monkeypatch.setattr(ingestion, "file_sha256", lambda real, **kw: hashed.append(real.name) or real_hash(real, **kw))

    again = scan(steward, draft, django_capture_on_commit_callbacks)
    assert (again.report["read"], again.report["reused"]) == (1, len(cohort) - 1)
    assert last_event("dataset.files_scan").payload["added"] == 0  # same content: the registration stays
    assert DatasetFile.objects.get(path=f"{STORED}/SUBJ-0001/1/1/1.dcm").modified_ns == touched.stat().st_mtime_ns

    # the steward declares the source's UID root: every header is checked again under it
    hashed.clear()
    with django_capture_on_commit_callbacks(execute=True):
        dataset_update(actor=steward, dataset=draft, data={"source_uid_root": SOURCE_ROOT})
    assert len(hashed) == len(cohort)  # read again (the verdict depends on the declaration)
    rechecked = FileScan.objects.filter(dataset=draft).first()
    assert rechecked.status == FileScanStatus.DONE
    key = ingestion.check_key(Dataset.objects.get(pk=draft.pk))
    assert set(DicomInstance.objects.filter(file__dataset=draft).values_list("check_key", flat=True)) == {key}
    # the recipe replaced every UID: none lies under the samples' root, so all still pass
    assert DicomInstance.objects.filter(file__dataset=draft, passed=False).count() == 0


def test_the_scan_report_gives_the_rate_and_the_rejected_by_reason(
    steward, draft, cohort, storage, django_capture_on_commit_callbacks
):
    plant_named(storage)
    storage.write(f"{STORED}/notes.txt", b"clinical notes, no images")
    done = scan(steward, draft, django_capture_on_commit_callbacks)

    report = done.report
    assert (report["identified"], report["registered"], report["dicom"]) == (10, 10, 9)
    assert (report["integrated"], report["rejected"]) == (9, 1)
    assert report["rate"] == round(9 / 10, 4)
    assert report["rejected_by_reason"] == {"DEID_ATTRIBUTE_NOT_REPLACED": 1}
    event = last_event("dataset.files_scan")
    assert (event.payload["integrated"], event.payload["rejected"]) == (9, 1)


def test_a_stale_verdict_stops_publication_until_the_recheck_finishes(
    steward, draft, cohort, django_capture_on_commit_callbacks
):
    scan(steward, draft, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=False):  # the re-check is queued, not run
        dataset_update(actor=steward, dataset=draft, data={"pseudonym_pattern": r"SUBJ-\d{4}"})

    with pytest.raises(TransitionError) as refused:
        dataset_publish(actor=steward, dataset=draft)
    assert "waits for the file scan under way to finish" in refused.value.fields["files"]


@pytest.mark.parametrize("size", [0, 1, 131, 132, 999, 1000, 1001, 5000])
def test_a_files_hash_and_content_are_read_whole_whatever_its_size(tmp_path, monkeypatch, size):
    """One read serves the hash and the header up to KEEP_BYTES; a larger file is hashed in chunks
    and its content not kept; the hash is the file's SHA-256 either way."""
    import hashlib
    import os

    monkeypatch.setattr(ingestion, "KEEP_BYTES", 1000)
    monkeypatch.setattr(ingestion, "HASH_CHUNK_BYTES", 256)
    data = os.urandom(size)
    path = tmp_path / "file.bin"
    path.write_bytes(data)
    for keep in (False, True):
        got_size, sha256, _, modified_ns, content = ingestion.file_sha256(path, keep=keep)
        assert (got_size, sha256) == (size, hashlib.sha256(data).hexdigest())
        assert modified_ns == path.stat().st_mtime_ns
        assert content == (data if keep and size <= 1000 else None)
