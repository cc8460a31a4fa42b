"""Celery tasks of the catalogue: thin wrappers that call a service."""

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from catalogue import dcat_pages, ingestion

# Hashing a large collection takes time: a terabyte at a few hundred MB/s is about an hour.
SCAN_SOFT_LIMIT_SECONDS = 6 * 3600


@shared_task(
    name="catalogue.tasks.file_scan_run",
    acks_late=True,
    soft_time_limit=SCAN_SOFT_LIMIT_SECONDS,
    time_limit=SCAN_SOFT_LIMIT_SECONDS + 120,
)
def file_scan_run(scan_id: int) -> str:
    """Register the files of one FileScan; returns the scan's final status."""
    try:
        return ingestion.file_scan_run(scan_id=scan_id).status
    except SoftTimeLimitExceeded:
        return ingestion.file_scan_fail(scan_id=scan_id, error="The scan took longer than its time limit.").status


@shared_task(
    name="catalogue.tasks.file_scan_stage",
    acks_late=True,
    soft_time_limit=SCAN_SOFT_LIMIT_SECONDS,
    time_limit=SCAN_SOFT_LIMIT_SECONDS + 120,
)
def file_scan_stage(scan_id: int, attempt: int, number: int, items: list[dict]) -> str:
    """Stage one batch of a scan's files (queued by file_scan_run); returns the scan's status."""
    try:
        return ingestion.file_scan_stage(scan_id=scan_id, attempt=attempt, number=number, items=items).status
    except SoftTimeLimitExceeded:
        return ingestion.file_scan_fail(scan_id=scan_id, error="The scan took longer than its time limit.").status
    except Exception as exc:
        # The scan would otherwise wait for this batch for ever: the steward sees why and may retry.
        ingestion.file_scan_fail(scan_id=scan_id, error=f"A batch of files could not be staged ({type(exc).__name__}).")
        raise


@shared_task(name="catalogue.tasks.dcat_export_warm", ignore_result=True)
def dcat_export_warm(version: int) -> int:
    """Put the DCAT export's pages together for catalogue `version` (queued after each change, a few
    seconds late so that a burst of changes is warmed once); returns the pages made."""
    return dcat_pages.export_warm(version)
