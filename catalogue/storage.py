"""Where a data holder's files may come from: its own storage area, and nowhere else.

Dataset files live under DATASET_STORAGE_ROOT, one area (folder) per data holder, named by
`DataHolder.storage_area`. Applicants' documents live under DOCUMENT_STORAGE_ROOT. A path a
steward gives is a claim: it is read relative to their holder's area and followed to its real
path (symbolic links resolved, parents included) before it is believed. The real path must lie
inside the holder's area, and must neither lie inside nor contain the documents root or another
holder's area, whatever the roots' configuration.

Stored paths (`DatasetFile.path`, `FileScan.folder`) are relative to DATASET_STORAGE_ROOT and
start with the holder's area, so each row says whose storage its bytes come from.
"""

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from django.conf import settings

from catalogue.models import DataHolder


def real_path(path: Path | str) -> Path:
    """The path with every symbolic link resolved (realpath semantics; it need not exist)."""
    return Path(os.path.realpath(path))


def dataset_storage_root() -> Path:
    return real_path(settings.DATASET_STORAGE_ROOT)


def document_storage_root() -> Path:
    return real_path(settings.DOCUMENT_STORAGE_ROOT)


def holder_storage_path(holder: DataHolder) -> Path:
    """The holder's storage area as configured (not resolved): where its stewards put their files."""
    return Path(settings.DATASET_STORAGE_ROOT) / holder.storage_area


def _overlaps(a: Path, b: Path) -> bool:
    return a.is_relative_to(b) or b.is_relative_to(a)


class Refused(Exception):
    """A path that leaves the holder's storage area. `reason` is a stable code for the audit log."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


class Unusable(Exception):
    """A path that stays inside the area but cannot be registered (missing, empty, the area itself)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# The reasons a path is refused, with what the steward reads.
LEADS_TO = {
    "documents_root": "reaches the applicants' documents storage, which never holds dataset files",
    "other_holder": "leads into another data holder's storage area",
    "outside_area": "leaves your data holder's storage area",
}


@dataclass(frozen=True)
class Confinement:
    """The real paths one holder's registration is checked against, resolved once per request or scan."""

    holder: DataHolder
    area: Path  # real path of the holder's area
    root: Path  # real path of DATASET_STORAGE_ROOT
    documents: Path  # real path of DOCUMENT_STORAGE_ROOT
    others: tuple[Path, ...]  # real paths of the other holders' areas

    @classmethod
    def of(cls, holder: DataHolder) -> "Confinement":
        root = dataset_storage_root()
        others = DataHolder.objects.exclude(pk=holder.pk).values_list("storage_area", flat=True)
        return cls(
            holder=holder,
            area=real_path(holder_storage_path(holder)),
            root=root,
            documents=document_storage_root(),
            others=tuple(real_path(root / name) for name in others if name),
        )

    @property
    def area_name(self) -> str:
        return self.holder.storage_area

    def where(self, real: Path) -> str | None:
        """None when `real` (a resolved folder or file) may be registered; else the refusal reason.

        Checked by resolved path prefix both ways, so a folder that contains the documents root or
        another holder's area is refused as well as one inside them.
        """
        if _overlaps(real, self.documents):
            return "documents_root"
        if any(_overlaps(real, other) for other in self.others):
            return "other_holder"
        if not real.is_relative_to(self.area):
            return "outside_area"
        return None

    def area_problem(self) -> str | None:
        """Why the holder's area itself cannot be used (an operator's misconfiguration), or None."""
        if not self.holder.storage_area:
            return "outside_area"
        if _overlaps(self.area, self.documents):
            return "documents_root"
        if self.root.is_relative_to(self.area) or any(_overlaps(self.area, other) for other in self.others):
            return "other_holder"
        return None

    def stored(self, real: Path) -> str:
        """The stored form of a confined real path: relative to the dataset root, area first."""
        inner = real.relative_to(self.area).as_posix()
        return self.area_name if inner == "." else f"{self.area_name}/{inner}"


def resolve_folder(confinement: Confinement, folder: str) -> tuple[Path, str]:
    """The real path and stored name of `folder`, given relative to the holder's storage area.

    Raises Refused for a path that leaves the area (absolute, `..`, a link out, another holder's
    area, the documents root) and Unusable for one that is empty, missing or the area itself.
    """
    text = (folder or "").strip()
    if not text:
        raise Unusable("name a folder inside your data holder's storage area, e.g. the dataset's identifier")
    if "\x00" in text:
        raise Refused("invalid", "contains a NUL character")
    problem = confinement.area_problem()
    if problem:
        overlap = {"documents_root": "the applicants' documents storage"}.get(problem, "another data holder's area")
        raise Refused(
            "area_misconfigured",
            f"your data holder's storage area is misconfigured (it overlaps {overlap}); "
            "ask the portal's operator to fix it",
        )
    pure = PurePosixPath(text.replace("\\", "/"))
    if pure.is_absolute() or PureWindowsPath(text).drive:
        lands = confinement.where(real_path(text)) or "outside_area"
        raise Refused(
            "absolute",
            "must be relative to your data holder's storage area, not an absolute path"
            + (f" (it {LEADS_TO[lands]})" if lands != "outside_area" else ""),
        )
    if ".." in pure.parts:
        lands = confinement.where(real_path(confinement.area / pure)) or "outside_area"
        raise Refused(
            "parent",
            "must not contain '..': name a folder inside your data holder's storage area"
            + (f" (this one {LEADS_TO[lands]})" if lands != "outside_area" else ""),
        )
    if not confinement.area.is_dir():
        raise Unusable(
            f"your data holder's storage area {confinement.area_name!r} does not exist yet; "
            "ask the portal's operator to create it"
        )
    target = real_path(confinement.area / pure)
    lands = confinement.where(target)
    if lands:
        raise Refused(lands, f"follows a symbolic link and {LEADS_TO[lands]}")
    if target == confinement.area:
        raise Unusable("name a folder inside your data holder's storage area, not the area itself")
    if not target.is_dir():
        raise Unusable(f"there is no folder {pure.as_posix()!r} in your data holder's storage area")
    return target, confinement.stored(target)


def stored_to_area_relative(confinement: Confinement, stored: str) -> str | None:
    """The area-relative part of a stored folder name, or None if it is not in this holder's area."""
    prefix = confinement.area_name + "/"
    return stored[len(prefix) :] if stored.startswith(prefix) else None


def file_problem(confinement: Confinement, real: Path) -> str | None:
    """Why a file met during a scan (already resolved) is left out, or None."""
    lands = confinement.where(real)
    if lands == "documents_root":
        return "a link into the applicants' documents storage"
    if lands == "other_holder":
        return "a link into another data holder's storage area"
    if lands:
        return "a link pointing outside the data holder's storage area"
    return None
