"""Find the registered files and scans that break storage confinement, and name each of them.

A dataset's files must lie in its data holder's storage area under DATASET_STORAGE_ROOT (their
stored path starts with the area's name and, followed to its real path, stays inside it), never
in or through the applicants' documents root, and must still exist. Rows from before the areas
existed, or planted by hand, are reported here; nothing is deleted or changed.

    python manage.py check_storage

Exits 0 when every row is confined, non-zero naming each offending row otherwise.
"""

from pathlib import Path, PurePosixPath

from django.core.management.base import BaseCommand, CommandError

from catalogue.models import DataHolder, DatasetFile, FileScan
from catalogue.storage import dataset_storage_root, document_storage_root, real_path


class _Areas:
    """The real paths of every holder's area and of the two roots, read once."""

    def __init__(self):
        self.root = dataset_storage_root()
        self.documents = document_storage_root()
        self.names = dict(DataHolder.objects.values_list("pk", "storage_area"))
        self.holder_of_area = {name: pk for pk, name in self.names.items()}
        self.real = {pk: real_path(self.root / name) for pk, name in self.names.items()}

    def problem(self, holder_id: int, stored: str, *, must_exist: bool) -> str | None:
        """Why a stored path (relative to the dataset root, area first) is not confined, or None."""
        pure = PurePosixPath(stored)
        area = self.names.get(holder_id)
        if not stored or pure.is_absolute() or ".." in pure.parts:
            return "the path leaves the dataset storage root"
        first = pure.parts[0]
        if first != area:
            if first in self.holder_of_area:
                return f"in another data holder's storage area ({first!r}), not in {area!r}"
            return f"not in its data holder's storage area {area!r}"
        real = real_path(self.root / pure)
        if _overlaps(real, self.documents):
            return "inside the applicants' documents storage"
        if not real.is_relative_to(self.real[holder_id]):
            return "its real path leaves its data holder's storage area (a symbolic link)"
        for other_id, other in self.real.items():
            if other_id != holder_id and _overlaps(real, other):
                return "its real path is in another data holder's storage area"
        if must_exist and not real.is_file():
            return "the file is missing"
        return None


def _overlaps(a: Path, b: Path) -> bool:
    return a.is_relative_to(b) or b.is_relative_to(a)


class Command(BaseCommand):
    help = "Report dataset files and file scans whose path breaks storage confinement (exits non-zero if any)."

    def handle(self, *args, **options):
        areas = _Areas()
        found = 0
        columns = ("pk", "dataset__identifier", "dataset__holder_id")
        checked = {}
        sources = (("file", DatasetFile, "path", True), ("scan", FileScan, "folder", False))
        for kind, model, field, must_exist in sources:
            checked[kind] = 0
            rows = model.objects.order_by("pk").values_list(*columns, field)
            for pk, identifier, holder_id, path in rows.iterator(chunk_size=2000):
                checked[kind] += 1
                reason = areas.problem(holder_id, path, must_exist=must_exist)
                if reason:
                    found += 1
                    self.stdout.write(f"{kind} {pk} of dataset {identifier}: {path}: {reason}")
        summary = f"{checked['file']} file(s) and {checked['scan']} scan(s) checked"
        if found:
            raise CommandError(f"{found} row(s) break storage confinement ({summary}); nothing was changed")
        self.stdout.write(self.style.SUCCESS(f"Every registered file is in its data holder's storage area: {summary}."))
