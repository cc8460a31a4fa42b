"""What the catalogue's DICOM index keeps of one file's header, read once by the file scan.

`dicom_header_fields` opens a file the scan has already hashed, parses its header only
(`stop_before_pixels=True`: the pixel data is never read) and returns a small dict of the fields
a `catalogue.models.DicomInstance` holds, with the file's de-identification verdict
(catalogue/deid/check.py). The parsed header is dropped before it returns, so a scan of many
files holds only these dicts.

A file that claims to be DICOM (a DICM preamble or a .dcm name) but cannot be parsed, or parses
into a header without SOP Class and SOP Instance UIDs, gets an
index row all the same, with passed=False and one failure of code DICOM_UNREADABLE: the
steward sees it among the files that stop publication instead of it vanishing from the counts.
"""

from __future__ import annotations

import io
import os
import re
from datetime import date
from pathlib import Path

from django.utils import timezone
from pydicom import dcmread
from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset

from catalogue.deid.check import deidentification_verdict, text_of

DICOM_UNREADABLE = "DICOM_UNREADABLE"
SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
# A header that fails many rules keeps its first failures (the file-level rules come first) and
# their number; the index stays small whatever a file holds.
FAILURES_KEPT = 20
_AGE = re.compile(r"^\s*(\d{1,3})\s*([DWMY])\s*$", re.IGNORECASE)
_DAYS_PER_UNIT = {"D": 1, "W": 7, "M": 365.25 / 12, "Y": 365.25}

# field of DicomInstance -> DICOM keyword, for the text fields copied from the header
TEXT_FIELDS = {
    "patient_id": "PatientID",
    "study_instance_uid": "StudyInstanceUID",
    "series_instance_uid": "SeriesInstanceUID",
    "sop_instance_uid": "SOPInstanceUID",
    "sop_class_uid": "SOPClassUID",
    "modality": "Modality",
    "body_part_examined": "BodyPartExamined",
    "manufacturer": "Manufacturer",
    "manufacturer_model_name": "ManufacturerModelName",
    "patient_sex": "PatientSex",
}
TAGS = {
    keyword: tag_for_keyword(keyword)
    for keyword in (*TEXT_FIELDS.values(), "PatientAge", "StudyDate", "SeriesInstanceUID")
}
TEXT_LENGTH = 64  # the longest of these VRs (LO, UI) holds 64 characters


def _clean(text: str, limit: int = TEXT_LENGTH) -> str:
    # PostgreSQL stores no NUL in text; DICOM pads with NUL and spaces.
    return text.replace("\x00", "").strip()[:limit]


def _text(dataset: Dataset, keyword: str, elements: dict | None = None) -> str:
    return _clean(text_of(dataset, TAGS[keyword], elements))


def age_in_years(text: str) -> int | None:
    """Patient's Age (an AS value, "045Y", "006M", "010W", "003D") in whole years; None if absent or malformed."""
    match = _AGE.match(text or "")
    if not match:
        return None
    number, unit = int(match.group(1)), match.group(2).upper()
    return number if unit == "Y" else int(number * _DAYS_PER_UNIT[unit] // 365.25)


def study_year(text: str) -> int | None:
    """The year of Study Date (DA, "YYYYMMDD"); None if absent, emptied or malformed."""
    text = (text or "").strip()
    if len(text) < 8 or not text[:8].isdigit():
        return None
    if not text[:8].isascii():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8])).year
    except ValueError:
        return None


def _segmented_series(dataset: Dataset, sop_class_uid: str) -> str:
    if sop_class_uid != SEGMENTATION_STORAGE:
        return ""
    for item in dataset.get("ReferencedSeriesSequence", []) or []:
        uid = _text(item, "SeriesInstanceUID")
        if uid:
            return uid
    return ""


def _failures(verdict) -> tuple[list[dict], int]:
    listed = [
        {"code": failure.code, "tag": failure.tag, "message": _clean(failure.message, 500)}
        for failure in verdict.failures[:FAILURES_KEPT]
    ]
    return listed, len(verdict.failures)


def unreadable_fields(reason: str) -> dict:
    failure = {
        "code": DICOM_UNREADABLE,
        "tag": "",
        "message": _clean(f"The DICOM header could not be read: {reason}", 500),
    }
    return {
        **dict.fromkeys(TEXT_FIELDS, ""),
        "age_years": None,
        "study_year": None,
        "segmented_series_uid": "",
        "deid_options": [],
        "passed": False,
        "failures": [failure],
        "failure_count": 1,
        "checked_at": timezone.now(),
    }


def fields_of(dataset: Dataset, **verdict_options) -> dict:
    """The index fields of a parsed header, with its de-identification verdict."""
    elements = dict(dataset.items())  # one lookup table for the header's top level
    texts = {name: _text(dataset, keyword, elements) for name, keyword in TEXT_FIELDS.items()}
    verdict = deidentification_verdict(dataset, **verdict_options)
    failures, count = _failures(verdict)
    return {
        "deid_options": sorted(option.code for option in verdict.options),
        **texts,
        "age_years": age_in_years(_text(dataset, "PatientAge", elements)),
        "study_year": study_year(_text(dataset, "StudyDate", elements)),
        "segmented_series_uid": _segmented_series(dataset, texts["sop_class_uid"]),
        "passed": count == 0,
        "failures": failures,
        "failure_count": count,
        "checked_at": timezone.now(),
    }


def dicom_header_fields(real: Path, data: bytes | None = None, **verdict_options) -> dict:
    """The index fields of the DICOM file at `real` (already resolved), from its header only.

    `data`, when given, is the file's content already read (the scan hashes and parses one read).
    Never raises for a malformed file: it is recorded as unreadable. O_NOFOLLOW refuses a link
    swapped in since the scan resolved the path; an OSError (the file vanished) is the caller's.
    """
    if data is not None:
        return _parse(io.BytesIO(data), verdict_options)
    fd = os.open(real, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as handle:
        return _parse(handle, verdict_options)


def _parse(handle, verdict_options: dict) -> dict:
    try:
        dataset = dcmread(handle, stop_before_pixels=True)
        # pydicom converts values lazily: a malformed element raises while it is read here.
        fields = fields_of(dataset, **verdict_options)
        if not (fields["sop_instance_uid"] and fields["sop_class_uid"]):
            # pydicom reads leniently: bytes after a DICM preamble may parse into a few odd
            # elements, but without its SOP Class and Instance UIDs it is no DICOM instance.
            return unreadable_fields("it names no SOP Class UID and SOP Instance UID")
        return fields
    except Exception as exc:  # noqa: BLE001  (a hostile or broken file can make pydicom raise almost anything)
        return unreadable_fields(f"{type(exc).__name__}: {exc}")
