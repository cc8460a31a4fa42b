"""`manage.py import_datasets FILE.json`: create or update datasets by identifier, all or nothing.

The file holds a list of records: `identifier`, `holder` (the data holder's slug), the keys
that catalogue.services.dataset_create takes, and optionally `status: "published"`. Every
record goes through the services inside one transaction; the first bad record is reported with
its position and identifier, and nothing at all is changed.

Each record's services record their own audit events. The audit chain's head is not locked
while the import runs: the events are written in one step just before the transaction commits
(portal/db/backends/audit_buffer.py), so sign-ins and other audited acts go on meanwhile. A dry
run rolls back, and its events are discarded without ever touching the head.
"""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from catalogue.models import DataHolder, Dataset, DatasetStatus
from catalogue.services import dataset_create, dataset_publish, dataset_update
from portal.errors import DomainError
from portal.models import User

SYSTEM_ACTOR = "system:import"


class RecordError(Exception):
    pass


class _DryRun(Exception):
    pass


def _read(path: str) -> list:
    try:
        records = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise CommandError(f"Cannot read {path}: {exc.strerror or exc}")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CommandError(f"{path} is not valid JSON: {exc}")
    if not isinstance(records, list):
        raise CommandError(f"{path} must hold a list of dataset records.")
    return records


def _holder_and_status(record: dict) -> tuple[DataHolder, str | None]:
    slug = record.pop("holder", None)
    status = record.pop("status", None)
    if status not in (None, DatasetStatus.DRAFT, DatasetStatus.PUBLISHED):
        raise RecordError(f"status must be 'draft' or 'published', not {status!r}")
    holder = DataHolder.objects.filter(slug=slug).first() if isinstance(slug, str) else None
    if holder is None:
        raise RecordError(f"holder: unknown data holder {slug!r}")
    return holder, status


def import_record(*, actor, record: dict) -> str:
    """Create or update one dataset from `record`; returns "created", "updated" or "unchanged"."""
    data = dict(record)
    holder, status = _holder_and_status(data)
    existing = Dataset.objects.filter(identifier=data.get("identifier")).first()
    if existing is None:
        dataset, action = dataset_create(actor=actor, holder=holder, data=data), "created"
    else:
        if existing.holder_id != holder.pk:
            raise RecordError(f"identifier: already used by a dataset of {existing.holder.name}")
        if status == DatasetStatus.DRAFT and existing.status != DatasetStatus.DRAFT:
            raise RecordError(f"status: a {existing.status} dataset cannot return to draft")
        data.pop("identifier")
        before = existing.updated_at
        dataset = dataset_update(actor=actor, dataset=existing, data=data)
        action = "updated" if dataset.updated_at != before else "unchanged"
    if status == DatasetStatus.PUBLISHED and dataset.status != DatasetStatus.PUBLISHED:
        dataset_publish(actor=actor, dataset=dataset)
        action += " and published"
    return action


def import_records(*, actor, records: list) -> list[tuple[str, str]]:
    """Import every record in one transaction; RecordError names the first bad one and rolls all back."""
    done = []
    with transaction.atomic():
        for index, record in enumerate(records):
            identifier = record.get("identifier") if isinstance(record, dict) else None
            where = f"record {index + 1} of {len(records)} (index {index}, identifier {identifier!r})"
            if not isinstance(record, dict):
                raise RecordError(f"{where}: not an object")
            try:
                done.append((identifier, import_record(actor=actor, record=record)))
            except RecordError as exc:
                raise RecordError(f"{where}: {exc}")
            except DomainError as exc:
                raise RecordError(f"{where}: {exc.message}")
    return done


class Command(BaseCommand):
    help = "Create or update datasets by identifier from a JSON list of records; a bad record changes nothing."

    def add_arguments(self, parser):
        parser.add_argument("file", help="JSON file: a list of dataset records")
        parser.add_argument("--actor", help="e-mail of the steward to act as (default: the system importer)")
        parser.add_argument("--dry-run", action="store_true", help="check every record, then change nothing")

    def handle(self, *args, file: str, actor: str | None, dry_run: bool, **options):
        records = _read(file)
        who = SYSTEM_ACTOR
        if actor:
            who = User.objects.filter(email__iexact=actor, is_active=True).first()
            if who is None:
                raise CommandError(f"No active user {actor!r}.")
        try:
            with transaction.atomic():
                done = import_records(actor=who, records=records)
                if dry_run:
                    raise _DryRun
        except RecordError as exc:
            raise CommandError(f"{exc}. Nothing was imported.")
        except _DryRun:
            self.stdout.write(f"Dry run: all {len(done)} records are valid; nothing was changed.")
            return
        for identifier, action in done:
            self.stdout.write(f"{identifier}: {action}")
        self.stdout.write(self.style.SUCCESS(f"{len(done)} records imported."))
