"""Ingestion: a file scan registers a folder's files, indexes every DICOM header, checks its
de-identification, and reports what it found; the dataset's figures then come from that index.

A scan (`file_scan_run`, run by the Celery task catalogue.tasks.file_scan_run) goes in two stages:

1. **Staging.** It walks the folder and reads each file once: size, modification time, SHA-256 and,
   for DICOM, the header (pixel data never read) with its de-identification verdict
   (catalogue/dicom_index.py). A file whose size and modification time are those of its
   registration, and whose verdict was reached under the dataset's present declarations
   (`check_key`), is taken as it is: a stat, nothing read. What it reads is written as
   `FileScanEntry` rows in batches of `SCAN_BATCH`, each batch committed with the scan's progress,
   so memory stays flat whatever the number of files and a page can follow the count. Where
   workers take tasks from a queue, the walking task gives each batch to the queue
   (`file_scan_stage`, a `FileScanBatch` row until it is staged) and every worker process reads
   headers at once; where tasks run eagerly, the walking task stages them itself. A worker that
   dies mid-scan leaves its committed batches: the task runs again (acks_late) as a new attempt
   (batches queued by the lost one are then ignored) and goes on after them, reading no staged
   file twice, so each file is counted once.
2. **Applying**, once no batch is left (by the task that staged the last one), in one
   transaction with its audit event: the dataset's registrations under the
   folder become exactly the staged files (registrations are never deleted: a file gone or
   changed is marked removed, a changed file registered anew, a file a steward removed is not
   registered again while its content is the same), the index rows follow, the dataset's counts,
   facets and anonymisation record are set from the index (`dataset_index_apply`), the scan's
   report is written, and the staged rows are deleted.

The report (`FileScan.report`, and `scan_report`) gives the files identified, integrated and
rejected by reason, the rate of integration (integrated / identified) and the counts the index
derives. A dataset cannot be published, and a grant never releases a file, while a registered
file fails the check (catalogue.services.dataset_publish_problems, access_requests/services/grants.py
file_releasable); the steward fixes the files and scans again, or excludes them (`dataset_files_exclude`,
audited).
"""

from __future__ import annotations

import hashlib
import json
import logging
import mimetypes
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import islice
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Subquery, Sum
from django.utils import timezone

from catalogue.cache import catalogue_changed
from catalogue.deid.table import BASIC_PROFILE_CODE, Option, profile_table
from catalogue.dicom_index import DICOM_UNREADABLE, dicom_header_fields
from catalogue.models import (
    Dataset,
    DatasetFile,
    DicomInstance,
    FileScan,
    FileScanBatch,
    FileScanEntry,
    FileScanStatus,
    Term,
    Vocabulary,
)
from catalogue.signals import dataset_changed
from catalogue.storage import (
    Confinement,
    Refused,
    Unusable,
    file_problem,
    real_path,
    resolve_folder,
    stored_to_area_relative,
)
from portal.services.audit import audit_record

logger = logging.getLogger(__name__)

HASH_CHUNK_BYTES = 1024 * 1024
KEEP_BYTES = 8 * 1024 * 1024  # a file this small is read once for its hash and its header
SCAN_BATCH = settings.FILE_SCAN_BATCH  # files a batch (and a worker's task) holds
APPLY_BATCH = 2000
# A running scan commits a batch at least this often; one silent for longer has lost its worker.
SCAN_LEASE = timedelta(minutes=5)
SCAN_STALE_AFTER = timedelta(hours=6)
ACTIVE_SCAN = (FileScanStatus.QUEUED, FileScanStatus.RUNNING)
DICOM = "application/dicom"
REMOVED_BY_STEWARD = "removed from the dataset by a steward"
NOT_REGISTERED = "NOT_REGISTERED: "  # the prefix of a scan report's reasons for files it left out
REJECTED_LISTED = 200  # rejected files named in a scan's report; the dataset's page lists them all

PROFILE_NAME = "DICOM PS3.15 Annex E Basic Application Level Confidentiality Profile"


def check_key(dataset: Dataset) -> str:
    """What a verdict depends on besides the header: the table's edition and the steward's declarations."""
    text = f"{profile_table().edition}|{dataset.source_uid_root}|{dataset.pseudonym_pattern}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def verdict_options(dataset: Dataset) -> dict:
    return {
        "source_uid_root": dataset.source_uid_root or None,
        "pseudonym_pattern": dataset.pseudonym_pattern or None,
    }


def file_scan_dispatch(*, scan_id: int) -> bool:
    """Queue the scan task; if the broker cannot take it, the scan is marked failed (the steward may retry)."""
    from catalogue.tasks import file_scan_run as task

    try:
        task.delay(scan_id)
    except Exception as exc:  # kombu raises several types when the broker is unreachable
        logger.exception("file scan %s could not be queued", scan_id)
        file_scan_fail(scan_id=scan_id, error=f"The scan could not be queued ({type(exc).__name__}); try again.")
        return False
    return True


# --- bulk rows ----------------------------------------------------------------------------


def _insert(model, objects: list, *, ignore_conflicts: bool = False) -> None:
    """Insert new rows of `model` (unsaved instances, primary keys not needed back).

    On PostgreSQL by COPY: Django's bulk INSERT quotes every value in Python (psycopg's client-side
    binding), which costs more per row than the scan's reading of a header; COPY streams the rows.
    With `ignore_conflicts` (staging: a batch another run staged meanwhile), rows that would
    break a unique constraint are left out. Elsewhere (SQLite: the demo) bulk_create.
    """
    if not objects:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objects, ignore_conflicts=ignore_conflicts)
        return
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    sql = "COPY {} ({}) FROM STDIN".format(
        quote(model._meta.db_table), ", ".join(quote(field.column) for field in fields)
    )
    columns = [(field.attname, field.get_internal_type() == "JSONField") for field in fields]
    try:
        with transaction.atomic(), connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            for obj in objects:
                row = [(getattr(obj, attname), is_json) for attname, is_json in columns]
                copy.write_row(
                    [json.dumps(value) if is_json and value is not None else value for value, is_json in row]
                )
    except IntegrityError:
        if not ignore_conflicts:
            raise
        model.objects.bulk_create(objects, ignore_conflicts=True)


# --- staging ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Found:
    relative: str
    real: Path


def _walk(top: Path, confinement: Confinement) -> Iterator[_Found | dict]:
    """Every regular file under `top` (a real, confined folder) in path order, or {path, reason}
    for what is left out (links leaving the holder's area, linked folders, special files,
    overlong paths). In each folder: its linked folders, then its files, then its folders in turn.

    Nothing under `top` is reached through a link, so a file that is not a link is where its
    path says and within the area: only links are resolved, one by one. Folder entries are
    listed once (os.scandir) and classified from the listing, without a stat per file.
    """
    max_path = DatasetFile._meta.get_field("path").max_length
    yield from _walk_folder(top, confinement.stored(top), confinement, max_path)


def _walk_folder(here: Path, stored_here: str, confinement: Confinement, max_path: int) -> Iterator[_Found | dict]:
    try:
        with os.scandir(here) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
    except OSError:
        return  # vanished or unreadable since it was listed: as os.walk, passed over
    folders, linked_folders, files = [], [], []
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            folders.append(entry)
        elif entry.is_symlink() and entry.is_dir():
            linked_folders.append(entry)
        else:
            files.append(entry)
    for entry in linked_folders:
        yield {"path": f"{stored_here}/{entry.name}", "reason": "a link to a folder: linked folders are not followed"}
    for entry in files:
        yield _file_item(entry, f"{stored_here}/{entry.name}", confinement, max_path)
    for entry in folders:
        yield from _walk_folder(Path(entry.path), f"{stored_here}/{entry.name}", confinement, max_path)


def _file_item(entry: os.DirEntry, relative: str, confinement: Confinement, max_path: int) -> _Found | dict:
    if entry.is_symlink():
        real = real_path(entry.path)
        problem = file_problem(confinement, real)
        regular = real.is_file()
    else:
        real, problem, regular = Path(entry.path), None, entry.is_file(follow_symlinks=False)
    if problem:
        return {"path": relative, "reason": problem}
    if not regular:
        return {"path": relative, "reason": "not a regular file"}
    if len(relative) > max_path:
        return {"path": relative[:200] + "…", "reason": f"path longer than {max_path} characters"}
    return _Found(relative, real)


def _count(top: Path) -> int:
    """How many entries the walk will meet (names only, no stat): the progress bar's total."""
    return sum(len(filenames) for _, _, filenames in os.walk(top, followlinks=False))


def _media_type(name: str, head: bytes) -> str:
    if head[128:132] == b"DICM" or name.lower().endswith(".dcm"):
        return DICOM
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def file_sha256(real: Path, keep: bool = False) -> tuple[int, str, str, int, bytes | None]:
    """Size, SHA-256, media type and modification time (ns) of one file, read in chunks; with
    `keep`, also its content when it is at most KEEP_BYTES (a DICOM header is then parsed from
    that one read instead of opening the file again), else None.

    The path must already be resolved: O_NOFOLLOW refuses a link swapped in since. Reads go
    straight to the descriptor, each asking for what the file holds (a buffered read of
    KEEP_BYTES would allocate that much for every small file).
    """
    fd = os.open(real, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        stat = os.fstat(fd)
        if keep and stat.st_size <= KEEP_BYTES:
            content = _read_all(fd, stat.st_size)
            if len(content) <= KEEP_BYTES:  # it may have grown since the stat
                media_type = _media_type(real.name, content[:132])
                return len(content), hashlib.sha256(content).hexdigest(), media_type, stat.st_mtime_ns, content
            os.lseek(fd, 0, os.SEEK_SET)
        digest, size, head = hashlib.sha256(), 0, b""
        while chunk := os.read(fd, HASH_CHUNK_BYTES):
            if len(head) < 132:
                head += chunk[: 132 - len(head)]
            digest.update(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    return size, digest.hexdigest(), _media_type(real.name, head), stat.st_mtime_ns, None


def _read_all(fd: int, expected: int) -> bytes:
    """The whole file from `fd`, expecting `expected` bytes, reading past KEEP_BYTES at most once."""
    parts, got = [], 0
    while got <= KEEP_BYTES and (chunk := os.read(fd, min(max(expected - got, 0), KEEP_BYTES - got) + 1)):
        parts.append(chunk)
        got += len(chunk)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _index_current(registered: DatasetFile, key: str) -> bool:
    if registered.media_type != DICOM:
        return True
    try:
        return registered.dicom.check_key == key
    except DicomInstance.DoesNotExist:
        return False


def _read(scan: FileScan, item: _Found, registered: DatasetFile | None, key: str, options: dict) -> FileScanEntry:
    """The staged entry of one file: taken from its registration after a stat if unchanged, else read."""
    entry = FileScanEntry(scan=scan, path=item.relative)
    try:
        if registered is not None:
            stat = os.stat(item.real, follow_symlinks=False)
            same = (registered.size_bytes, registered.modified_ns) == (stat.st_size, stat.st_mtime_ns)
            if same and _index_current(registered, key):
                entry.size_bytes, entry.modified_ns = stat.st_size, stat.st_mtime_ns
                entry.sha256, entry.media_type, entry.reused = registered.sha256, registered.media_type, True
                return entry
        size, sha256, media_type, modified_ns, content = file_sha256(item.real, keep=True)
        if media_type == DICOM:
            # The header only (never the pixel data), from the read that hashed it where it was kept.
            dicom = dicom_header_fields(item.real, content, **options)
            entry.dicom = {**dicom, "checked_at": dicom["checked_at"].isoformat(), "check_key": key}
    except OSError as exc:  # vanished or replaced by a link while we walked
        entry.skipped_reason = f"could not be read ({exc.strerror or exc})"
        return entry
    entry.size_bytes, entry.sha256, entry.media_type, entry.modified_ns = size, sha256, media_type, modified_ns
    return entry


def _stage_batch(
    scan: FileScan, batch: list[_Found | dict], key: str, options: dict, *, number: int | None = None
) -> None:
    """Read the batch's files not staged yet and commit their entries with the scan's progress
    (and, for a batch a worker was given, the end of its FileScanBatch row)."""
    paths = [item.relative if isinstance(item, _Found) else item["path"] for item in batch]
    staged = set(FileScanEntry.objects.filter(scan=scan, path__in=paths).values_list("path", flat=True))
    found = [item for item in batch if isinstance(item, _Found) and item.relative not in staged]
    registered = {
        row.path: row
        for row in DatasetFile.objects.filter(
            dataset_id=scan.dataset_id, path__in=[item.relative for item in found]
        ).select_related("dicom")
    }
    entries = [_read(scan, item, registered.get(item.relative), key, options) for item in found]
    entries += [
        FileScanEntry(scan=scan, path=item["path"][:1000], skipped_reason=item["reason"])
        for item in batch
        if isinstance(item, dict) and item["path"] not in staged
    ]
    with transaction.atomic():
        _insert(FileScanEntry, entries, ignore_conflicts=True)
        FileScan.objects.filter(pk=scan.pk).update(
            files_done=F("files_done") + len(entries),
            bytes_done=F("bytes_done") + sum(entry.size_bytes for entry in entries),
            files_reused=F("files_reused") + sum(entry.reused for entry in entries),
            progress_at=timezone.now(),
        )
        if number is not None:
            FileScanBatch.objects.filter(scan=scan, number=number).delete()


def _batches(items: Iterator, size: int) -> Iterator[list]:
    while batch := list(islice(items, size)):
        yield batch


def _file_scan_start(scan_id: int) -> FileScan | None:
    """Mark the scan running (committed, so pages see it); None if it finished or another worker holds it.

    A scan found running whose last batch is older than SCAN_LEASE lost its worker: this run
    resumes it, its progress recounted from the staged entries.
    """
    with transaction.atomic():
        scan = FileScan.objects.select_for_update().select_related("dataset__holder", "requested_by").get(pk=scan_id)
        if scan.status in (FileScanStatus.DONE, FileScanStatus.FAILED):
            return None
        now = timezone.now()
        if scan.status == FileScanStatus.RUNNING and scan.progress_at and now - scan.progress_at < SCAN_LEASE:
            return None
        staged = scan.entries.aggregate(
            files=Count("pk"), size=Sum("size_bytes", default=0), reused=Count("pk", filter=Q(reused=True))
        )
        scan.status = FileScanStatus.RUNNING
        scan.files_done, scan.bytes_done, scan.files_reused = staged["files"], staged["size"], staged["reused"]
        scan.error = ""
        scan.started_at = scan.started_at or now
        scan.progress_at = now
        scan.attempt += 1  # batches an earlier attempt queued are ignored; this one walks again
        scan.batches_queued = None
        scan.save(
            update_fields=[
                *("status", "files_done", "bytes_done", "files_reused", "error", "started_at", "progress_at"),
                *("attempt", "batches_queued"),
            ]
        )
        scan.batches.all().delete()
    return scan


def _scan_folder(scan: FileScan, confinement: Confinement) -> tuple[Path, str]:
    inner = stored_to_area_relative(confinement, scan.folder)
    if inner is None:
        raise Refused("outside_area", "the folder is not in the data holder's storage area")
    return resolve_folder(confinement, inner)


def _to_workers() -> bool:
    """Whether batches go to the workers' queue: not where tasks run eagerly (the demo, most tests)."""
    from celery import current_app

    return not current_app.conf.task_always_eager


def _queue_batch(scan: FileScan, number: int, batch: list[_Found | dict]) -> bool:
    """Give a batch to the workers (its FileScanBatch row first); False if the broker cannot take it."""
    from catalogue.tasks import file_scan_stage as task

    FileScanBatch.objects.create(scan=scan, number=number)
    items = [{"path": item.relative, "real": str(item.real)} if isinstance(item, _Found) else item for item in batch]
    try:
        task.delay(scan.pk, scan.attempt, number, items)
    except Exception:  # kombu raises several types when the broker is unreachable
        logger.warning("scan %s: batch %s could not be queued; staged by the walking task", scan.pk, number)
        FileScanBatch.objects.filter(scan=scan, number=number).delete()
        return False
    return True


def file_scan_run(*, scan_id: int) -> FileScan:
    """Walk the folder and stage its files (resuming after committed batches), then apply them; audited.

    Where workers take tasks from a queue, each batch of SCAN_BATCH files goes to the queue
    (`file_scan_stage`), so that every worker process reads headers at once, and the last batch
    staged applies the scan; where tasks run eagerly, this task stages every batch itself.
    Safe to run twice: a finished scan, or one another worker is running, returns as it is.
    """
    scan = _file_scan_start(scan_id)
    if scan is None:
        return FileScan.objects.get(pk=scan_id)
    dataset = scan.dataset
    to_workers = _to_workers()
    try:
        confinement = Confinement.of(dataset.holder)
        top, folder = _scan_folder(scan, confinement)
        FileScan.objects.filter(pk=scan.pk).update(files_total=_count(top))
        key, options = check_key(dataset), verdict_options(dataset)
        queued = 0
        for number, batch in enumerate(_batches(_walk(top, confinement), SCAN_BATCH)):
            if to_workers and _queue_batch(scan, number, batch):
                queued += 1
            else:
                _stage_batch(scan, batch, key, options)
        FileScan.objects.filter(pk=scan.pk).update(batches_queued=queued, progress_at=timezone.now())
    except (Refused, Unusable) as exc:
        return file_scan_fail(scan_id=scan_id, error=f"The folder {scan.folder} was refused: {exc.message}.")
    except OSError as exc:
        return file_scan_fail(scan_id=scan_id, error=f"The folder could not be read: {exc.strerror or exc}")
    return _finish_when_staged(scan_id, folder)


def _from_message(confinement: Confinement, item: dict) -> _Found | dict:
    if "reason" in item:
        return item
    real = Path(item["real"])
    problem = file_problem(confinement, real)  # the area is checked again, whoever queued the batch
    return {"path": item["path"], "reason": problem} if problem else _Found(item["path"], real)


def file_scan_stage(*, scan_id: int, attempt: int, number: int, items: list[dict]) -> FileScan:
    """Stage one batch a worker was given (the task catalogue.tasks.file_scan_stage); the last
    batch of the scan applies it. A batch of an earlier attempt, or of a scan finished or failed
    meanwhile, is left alone; a batch delivered twice is staged once."""
    scan = FileScan.objects.select_related("dataset__holder", "requested_by").get(pk=scan_id)
    if scan.status != FileScanStatus.RUNNING or scan.attempt != attempt:
        return scan
    dataset = scan.dataset
    try:
        confinement = Confinement.of(dataset.holder)
        _, folder = _scan_folder(scan, confinement)
        if FileScanBatch.objects.filter(scan=scan, number=number).exists():
            batch = [_from_message(confinement, item) for item in items]
            _stage_batch(scan, batch, check_key(dataset), verdict_options(dataset), number=number)
    except (Refused, Unusable) as exc:
        return file_scan_fail(scan_id=scan_id, error=f"The folder {scan.folder} was refused: {exc.message}.")
    except OSError as exc:
        return file_scan_fail(scan_id=scan_id, error=f"The folder could not be read: {exc.strerror or exc}")
    return _finish_when_staged(scan_id, folder)


def _finish_when_staged(scan_id: int, folder: str) -> FileScan:
    """Apply the scan once its walk is over and no queued batch is left; else return it as it is."""
    scan = FileScan.objects.select_related("requested_by").get(pk=scan_id)
    if scan.status != FileScanStatus.RUNNING or scan.batches_queued is None or scan.batches.exists():
        return scan
    return _file_scan_finish(scan, folder)


def file_scan_fail(*, scan_id: int, error: str) -> FileScan:
    """Mark an unfinished scan failed with a reason the steward can act on; audited."""
    with transaction.atomic():
        scan = FileScan.objects.select_for_update().select_related("dataset", "requested_by").get(pk=scan_id)
        if scan.status in (FileScanStatus.DONE, FileScanStatus.FAILED):
            return scan
        scan.status = FileScanStatus.FAILED
        scan.error = error[:2000]
        scan.finished_at = timezone.now()
        scan.save(update_fields=["status", "error", "finished_at"])
        scan.entries.all().delete()
        audit_record(
            actor=scan.requested_by,
            verb="dataset.files_scan_failed",
            target=scan.dataset,
            payload={"scan": scan.pk, "folder": scan.folder, "error": scan.error},
        )
    return scan


# --- applying -----------------------------------------------------------------------------


def _index_row(file_id: int, fields: dict) -> DicomInstance:
    fields = dict(fields)
    fields["checked_at"] = datetime.fromisoformat(fields["checked_at"])
    return DicomInstance(file_id=file_id, **fields)


def _staged_value(field) -> str:
    """SQL reading the DicomInstance field `field` from a staged entry's JSON (`e.dicom`), for this database."""
    key = field.name
    kind = field.get_internal_type()
    if kind == "JSONField":
        return f"e.dicom->'{key}'"
    postgres = connection.vendor == "postgresql"
    if kind == "DateTimeField":  # staged as ISO 8601 with its offset
        return (
            f"(e.dicom->>'{key}')::timestamptz"
            if postgres
            else f"strftime('%%Y-%%m-%%d %%H:%%M:%%f', e.dicom->>'{key}')"
        )
    cast = {"BooleanField": "boolean", "PositiveIntegerField": "integer", "PositiveSmallIntegerField": "integer"}
    if postgres and kind in cast:
        return f"(e.dicom->>'{key}')::{cast[kind]}"
    return f"e.dicom->>'{key}'"  # text; SQLite gives JSON numbers and booleans as numbers


def _register_new(scan: FileScan, dataset: Dataset, entry_ids: list[int], revision) -> None:
    """Register the staged entries `entry_ids` with their index rows, in batches, by INSERT … SELECT:
    the rows go from the staging table to the registrations and the index inside the database.
    (Table and column names come from the models; every value is a parameter.)"""
    quote = connection.ops.quote_name
    entries = quote(FileScanEntry._meta.db_table)
    files = quote(DatasetFile._meta.db_table)
    index_fields = [f for f in DicomInstance._meta.concrete_fields if not f.primary_key and f.name != "file"]
    columns = ", ".join(quote(field.column) for field in index_fields)
    values = ", ".join(_staged_value(field) for field in index_fields)
    register = (
        f"INSERT INTO {files} (dataset_id, path, size_bytes, sha256, media_type, modified_ns, registered_at, "  # noqa: S608  # nosec B608
        "added_in_id, removed_at, removed_by_id, removal_reason, removed_in_id) "
        "SELECT %s, e.path, e.size_bytes, e.sha256, e.media_type, e.modified_ns, %s, %s, NULL, NULL, '', NULL "
        f"FROM {entries} e WHERE e.id IN ({{marks}}) ORDER BY e.path RETURNING id"
    )
    index = (
        f"INSERT INTO {quote(DicomInstance._meta.db_table)} (file_id, {columns}) "  # noqa: S608  # nosec B608
        f"SELECT f.id, {values} FROM {files} f JOIN {entries} e ON e.scan_id = %s AND e.path = f.path "
        "WHERE f.id IN ({marks}) AND e.dicom IS NOT NULL"
    )
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    for start in range(0, len(entry_ids), APPLY_BATCH):
        ids = entry_ids[start : start + APPLY_BATCH]
        with connection.cursor() as cursor:
            cursor.execute(
                register.format(marks=", ".join(["%s"] * len(ids))),
                [dataset.pk, now, revision.pk if revision else None, *ids],
            )
            file_ids = [row[0] for row in cursor.fetchall()]
            if file_ids:
                cursor.execute(index.format(marks=", ".join(["%s"] * len(file_ids))), [scan.pk, *file_ids])


def _refresh_kept(kept) -> None:
    """Registrations kept as they were but read again (touched, re-declared, or never indexed):
    their modification time, media type and index row follow what was read."""
    batch: list[tuple[int, FileScanEntry]] = []
    for entry in kept.iterator(chunk_size=APPLY_BATCH):
        batch.append((entry.file_pk, entry))
        if len(batch) == APPLY_BATCH:
            _refresh_batch(batch)
            batch = []
    if batch:
        _refresh_batch(batch)


def _refresh_batch(batch: list[tuple[int, FileScanEntry]]) -> None:
    files = DatasetFile.objects.in_bulk([file_pk for file_pk, _ in batch])
    for file_pk, entry in batch:
        files[file_pk].modified_ns, files[file_pk].media_type = entry.modified_ns, entry.media_type
    DatasetFile.objects.bulk_update(list(files.values()), ["modified_ns", "media_type"])
    DicomInstance.objects.filter(file_id__in=list(files)).delete()
    _insert(DicomInstance, [_index_row(file_pk, entry.dicom) for file_pk, entry in batch if entry.dicom])


def _apply(scan: FileScan, dataset: Dataset, folder: str) -> dict[str, int | str]:
    """Make the dataset's registrations under `folder` exactly the staged files; returns what changed."""
    from catalogue.services import _ever_published, _revision_create

    if connection.vendor == "postgresql":
        # The staged rows were loaded since the table's statistics were last taken (often empty
        # then): without fresh ones the planner takes them for a few rows and joins them to the
        # registrations by nested loops. A sample of the table, a few milliseconds.
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(FileScanEntry._meta.db_table)}")
    entries = FileScanEntry.objects.filter(scan=scan, skipped_reason="")
    in_force = DatasetFile.objects.filter(dataset=dataset, path__startswith=folder + "/")
    same = in_force.filter(path=OuterRef("path"), size_bytes=OuterRef("size_bytes"), sha256=OuterRef("sha256"))
    barred = DatasetFile.all_registrations.filter(
        dataset=dataset,
        path=OuterRef("path"),
        sha256=OuterRef("sha256"),
        removed_at__isnull=False,
        removed_by__isnull=False,
    )
    # A file a steward removed is not registered again while its content is the same.
    entries.filter(~Exists(in_force.filter(path=OuterRef("path"))), Exists(barred)).update(
        skipped_reason=REMOVED_BY_STEWARD
    )
    new_ids = list(entries.filter(~Exists(same)).order_by("path").values_list("pk", flat=True))
    staged_here = entries.filter(path=OuterRef("path"))
    gone = in_force.filter(~Exists(staged_here))
    changed = in_force.filter(
        Exists(staged_here), ~Exists(staged_here.filter(sha256=OuterRef("sha256"), size_bytes=OuterRef("size_bytes")))
    )
    changed_ids = list(changed.values_list("pk", flat=True))
    gone_ids = list(gone.values_list("pk", flat=True))
    kept = entries.filter(Exists(same), reused=False).annotate(file_pk=Subquery(same.values("pk")[:1]))
    revision = None
    had_files = in_force.exists() or dataset.files.exists()
    if (gone_ids or new_ids) and had_files and _ever_published(dataset):
        what = f"Files registered again from the folder {folder}"
        revision = _revision_create(
            dataset, actor=scan.requested_by, reason=what, added=len(new_ids), removed=len(gone_ids) + len(changed_ids)
        )
    _refresh_kept(kept)
    now = timezone.now()
    for ids, why in (
        (gone_ids, "no longer in the storage area"),
        (changed_ids, "replaced by a file with other content"),
    ):
        for start in range(0, len(ids), APPLY_BATCH):
            DatasetFile.all_registrations.filter(pk__in=ids[start : start + APPLY_BATCH]).update(
                removed_at=now, removal_reason=f"{why} when {folder} was scanned", removed_in=revision
            )
    _register_new(scan, dataset, new_ids, revision)
    counts: dict[str, int | str] = {
        "added": len(new_ids) - len(changed_ids),
        "updated": len(changed_ids),
        "removed": len(gone_ids),
    }
    if revision is not None:
        counts["version"] = revision.version
    return counts


def _file_scan_finish(scan: FileScan, folder: str) -> FileScan:
    with transaction.atomic():
        dataset = Dataset.objects.select_for_update().get(pk=scan.dataset_id)
        scan = FileScan.objects.select_for_update().select_related("requested_by").get(pk=scan.pk)
        if scan.status != FileScanStatus.RUNNING:  # another run finished it meanwhile
            return scan
        if scan.batches_queued is None or scan.batches.exists():  # a new attempt began meanwhile
            return scan
        counts = _apply(scan, dataset, folder)
        report = scan_report(scan, dataset, folder)
        skipped = list(
            scan.entries.exclude(skipped_reason="").values("path", reason=F("skipped_reason"))[:REJECTED_LISTED]
        )
        scan.status = FileScanStatus.DONE
        scan.files_done = scan.files_total = report["identified"]
        scan.bytes_done = scan.entries.filter(skipped_reason="").aggregate(size=Sum("size_bytes", default=0))["size"]
        scan.skipped = skipped
        scan.report = report
        scan.finished_at = timezone.now()
        scan.save(
            update_fields=["status", "files_total", "files_done", "bytes_done", "skipped", "report", "finished_at"]
        )
        scan.entries.all().delete()
        applied = dataset_index_apply(dataset)
        audit_record(
            actor=scan.requested_by,
            verb="dataset.files_scan",
            target=dataset,
            payload={
                "scan": scan.pk,
                "folder": folder,
                "files": report["registered"],
                "bytes": scan.bytes_done,
                **counts,
                "read": report["read"],
                "reused": report["reused"],
                "integrated": report["integrated"],
                "rejected": report["rejected"],
                "skipped": [s["path"] for s in skipped][:50],
                "index": applied,
            },
        )
        if counts["added"] or counts["updated"] or counts["removed"]:
            dataset_changed.send(
                sender=Dataset,
                dataset=dataset,
                actor=scan.requested_by,
                what=f"its files were registered from {folder}",
            )
        catalogue_changed()
    return scan


# --- reports ------------------------------------------------------------------------------


def rejected_by_rule(index) -> dict[str, int]:
    """How many failing files fail each rule (a file failing two rules counts under both)."""
    counts: Counter[str] = Counter()
    for failures in index.filter(passed=False).values_list("failures", flat=True).iterator(chunk_size=APPLY_BATCH):
        counts.update({failure["code"] for failure in failures or []})
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def scan_report(scan: FileScan, dataset: Dataset, folder: str) -> dict:
    """The report of a scan being applied (its staged entries still there): what it identified,
    integrated and rejected, why, and the rate of integration."""
    entries = scan.entries.all()
    identified = entries.count()
    skipped = Counter(entries.exclude(skipped_reason="").values_list("skipped_reason", flat=True))
    registered = DatasetFile.objects.filter(dataset=dataset, path__startswith=folder + "/")
    index = DicomInstance.objects.filter(file__in=registered)
    failed = index.filter(passed=False).count()
    total = registered.count()
    integrated = total - failed
    by_reason = rejected_by_rule(index)
    for reason, count in skipped.items():
        by_reason[NOT_REGISTERED + reason] = count
    read = entries.filter(skipped_reason="", reused=False).count()
    return {
        "identified": identified,
        "registered": total,
        "integrated": integrated,
        "rejected": identified - integrated,
        "rate": round(integrated / identified, 4) if identified else None,
        "read": read,
        "reused": entries.filter(reused=True).count(),
        "dicom": index.count(),
        "unreadable": index.filter(failures__0__code=DICOM_UNREADABLE).count(),
        "rejected_by_reason": by_reason,
    }


# --- the dataset's figures from its index -------------------------------------------------

# Patient's Sex (0010,0040) -> the birth-sex vocabulary
SEX_TERMS = {"F": "FEMALE", "M": "MALE", "O": "OTHER"}
INDEXED_COUNTS = ("subjects_count", "studies_count", "series_count", "images_count", "size_bytes")
INDEXED_RANGES = ("age_min", "age_max", "acquisition_start", "acquisition_end")
INDEXED_FACETS = ("modalities", "body_parts", "birth_sexes", "manufacturers")


def anonymisation_profile_text(option_codes) -> str:
    """The profile and the options the files declare, as the catalogue states it."""
    by_code = {option.code: option for option in Option}
    labels = sorted(by_code[code].label for code in option_codes if code in by_code)
    edition = profile_table().edition
    text = f"{PROFILE_NAME} ({BASIC_PROFILE_CODE}, edition {edition})"
    if labels:
        text += " with " + ", ".join(labels)
    return text[: Dataset._meta.get_field("anonymisation_profile").max_length]


def _terms(vocabulary: str, codes) -> list[Term]:
    return list(Term.objects.filter(vocabulary=vocabulary, code__in=list(codes)).order_by("code"))


def dataset_index_apply(dataset: Dataset) -> list[str]:
    """Set the (locked) dataset's counts, facets and anonymisation record from its DICOM index.

    Only where the index holds a value: a facet no header carries (a body part many archives
    leave out) keeps what the steward typed. The fields set are recorded in `indexed_fields`
    (the forms then show them read-only). The anonymisation profile names the options the files
    declare; it is verified on the day of the newest check while every registered DICOM file
    passes, and not verified while one fails. A dataset without DICOM files keeps its record.
    Returns the fields set; the caller holds the transaction and writes the audit event.
    """
    from catalogue.search import dataset_refresh_search_vector
    from catalogue.selectors import dataset_index_counts
    from catalogue.services import _manufacturer

    counts = dataset_index_counts(dataset)
    if not counts["files_dicom"]:
        return []
    values = {
        "subjects_count": counts["subjects"],
        "studies_count": counts["studies"],
        "series_count": counts["series"],
        "images_count": counts["images"],
        "size_bytes": counts["size_bytes"],
    }
    if counts["age_range"]:
        values["age_min"], values["age_max"] = counts["age_range"]
    if counts["study_years"]:
        values["acquisition_start"] = date(counts["study_years"][0], 1, 1)
        values["acquisition_end"] = date(counts["study_years"][1], 12, 31)
    index = DicomInstance.objects.filter(file__dataset=dataset, file__removed_at__isnull=True)
    options = set()
    for declared in index.filter(passed=True).values_list("deid_options", flat=True).distinct():
        options.update(declared or [])
    values["anonymisation_profile"] = anonymisation_profile_text(options)
    newest = index.order_by("-checked_at").values_list("checked_at", flat=True).first()
    values["anonymisation_verified_on"] = timezone.localdate(newest) if counts["files_failed"] == 0 and newest else None
    for name, value in values.items():
        setattr(dataset, name, value)
    fields = [name for name in (*INDEXED_COUNTS, *INDEXED_RANGES) if name in values]
    facets = {
        "modalities": _terms(Vocabulary.MODALITY, counts["modalities"]),
        "body_parts": _terms(Vocabulary.BODY_PART, counts["body_parts"]),
        "birth_sexes": _terms(Vocabulary.BIRTH_SEX, {SEX_TERMS[s] for s in counts["sexes"] if s in SEX_TERMS}),
    }
    for name, terms in facets.items():
        if terms:
            getattr(dataset, name).set(terms)
            fields.append(name)
    if counts["manufacturers"]:
        dataset.manufacturers.set([_manufacturer(name) for name in counts["manufacturers"]])
        fields.append("manufacturers")
    dataset.indexed_fields = fields
    dataset.save(update_fields=[*values, "indexed_fields", "updated_at"])
    dataset_refresh_search_vector(dataset)
    return fields
