"""The demo datasets' DICOM files: small synthetic cohorts, de-identified and checked before they are written.

Each demo dataset is ingested as a data holder would stage a collection: the hospital's export
(a "raw" header with names, record numbers, dates and UIDs under the hospital's UID root) is
de-identified by catalogue.deid.recipe.deidentify with the dataset's pseudonyms, then checked by
catalogue.deid.check against the steward's declarations (source UID root, pseudonym pattern)
before a byte reaches the storage area. A file that does not get the verdict it was made for
stops the loader (`DemoFileRejected`): the demo never stages a file the check would reject by
accident.

The raw headers start from pydicom's bundled test files (read locally, never downloaded): their
pixel data and SOP Class are kept as they are, so the images do not show the anatomy their headers
name. What the catalogue reads is set to match the dataset's description: Modality, Body Part
Examined, Manufacturer and model, Patient's Sex and Age, and study dates within the acquisition
period (dates are shifted back by the cohort's `shift_days` when de-identified, so the raw dates
are made that many days later). Everything is derived from the dataset's identifier and the
subject, study, series and instance numbers: the same cohort gives the same bytes on every run.

`PLANTED_*` kinds make a file that keeps one identifying value after de-identification (a faulty
export step): the check rejects it, and the loader insists that it does, with the expected rule.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass, field
from functools import cache
from io import BytesIO

from pydicom import dcmread, dcmwrite
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.uid import PYDICOM_ROOT_UID, generate_uid

from catalogue.deid.check import (
    ATTRIBUTE_NOT_REPLACED,
    BURNED_IN_ANNOTATION,
    DATE_NOT_REMOVED,
    DICOM_UID_ROOT,
    PATIENT_BIRTH_DATE,
    deidentification_verdict,
)
from catalogue.deid.recipe import deidentify
from catalogue.deid.table import Option

# The de-identified UIDs are made under pydicom's root (the recipe's default): no hospital's.
DEIDENTIFIED_UID_ROOT = PYDICOM_ROOT_UID
# Age and sex are what the catalogue's facets read; the declared option keeps them.
OPTIONS = (Option.RETAIN_PATIENT_CHARACTERISTICS,)

PLANTED_NAME = "name"
PLANTED_BIRTH_DATE = "birth_date"
PLANTED_BURNED_IN = "burned_in"
# the rule the check must fail for each planted kind
PLANTED_RULES = {
    PLANTED_NAME: ATTRIBUTE_NOT_REPLACED,
    PLANTED_BIRTH_DATE: DATE_NOT_REMOVED,
    PLANTED_BURNED_IN: BURNED_IN_ANNOTATION,
}
PLANTED_PATIENT_NAME = "MARTINEZ SOLER^LUCIA"
PLANTED_BIRTH_DATE_VALUE = "19580314"

# Names for the raw headers only: a clean file never keeps them.
_FAMILY = ("OZOLA", "BERZINS", "KALNINA", "GARCIA", "LOPEZ", "FERRER", "SANCHIS", "LIEPINA", "ROCA", "VIDAL")
_GIVEN = ("ANNA", "JANIS", "MARIA", "PEDRO", "ILZE", "CARMEN", "ANDRIS", "JOSEP", "LAURA", "PETERIS")


class DemoFileRejected(RuntimeError):
    """A file the demo made did not get the de-identification verdict it was made for."""


@dataclass(frozen=True)
class Series:
    """One series of every study: which sample file it starts from, its modality, how many instances."""

    template: str
    modality: str
    instances: int = 1
    # For a segmentation (SEG): it references the study's first series, as the index reads it.
    segments_first_series: bool = False


@dataclass(frozen=True)
class Cohort:
    """The files staged for one demo dataset, and the steward's declarations they are checked against."""

    number: int  # the dataset's number at its holder: in pseudonyms, record numbers and UIDs
    pseudonym_prefix: str  # the holder's pseudonymisation service, e.g. "RECUH-"
    source_uid_root: str  # the hospital's UID root: the raw files' UIDs lie under it
    institution: str
    subjects: int
    studies: tuple[int, ...]  # studies per subject, taken in turn
    series: tuple[Series, ...]
    body_parts: tuple[str, ...]  # in turn per subject (vocabulary codes, as DICOM defines them)
    scanners: tuple[tuple[str, str], ...]  # (Manufacturer, Manufacturer's Model Name), in turn per subject
    sexes: tuple[str, ...]  # "F", "M", in turn per subject
    ages: tuple[int, int]  # the youngest and the oldest subject, in years
    period: tuple[str, str]  # the first and last study date after de-identification (ISO dates)
    shift_days: int
    interval_days: int = 120  # between a subject's studies
    # (subject, study, series, instance), numbered from 1 -> a PLANTED_* kind
    planted: dict[tuple[int, int, int, int], str] = field(default_factory=dict)

    @property
    def pseudonym_pattern(self) -> str:
        return self.pseudonym_prefix + r"\d{3}-\d{3}"

    def pseudonym(self, subject: int) -> str:
        return f"{self.pseudonym_prefix}{self.number:03d}-{subject:03d}"

    def study_count(self, subject: int) -> int:
        return self.studies[(subject - 1) % len(self.studies)]


@dataclass(frozen=True)
class DemoFile:
    relative: str  # under the dataset's folder
    content: bytes
    planted: str = ""  # a PLANTED_* kind, or "" for a clean file


@cache
def _template(name: str) -> Dataset:
    path = get_testdata_file(name, download=False)  # never reach the network
    if path is None:
        raise DemoFileRejected(f"pydicom has no local test file {name}")
    return dcmread(path)


def _uid(root: str, *parts: object) -> str:
    return generate_uid(prefix=root.rstrip(".") + ".", entropy_srcs=[str(part) for part in parts])


def _spread(low: int, high: int, index: int, count: int) -> int:
    """The index-th of `count` values spread evenly from low to high (both ends reached)."""
    if count <= 1:
        return low
    return low + round((high - low) * index / (count - 1))


def _walk(dataset: Dataset):
    for element in dataset:
        yield element
        if element.VR == "SQ":
            for item in element.value:
                yield from _walk(item)


@dataclass(frozen=True)
class _Position:
    identifier: str
    subject: int
    study: int
    series: int
    instance: int


def _series_uid(cohort: Cohort, at: _Position, series: int) -> str:
    return _uid(cohort.source_uid_root, at.identifier, at.subject, at.study, "series", series)


def _instance_uid(cohort: Cohort, at: _Position, series: int, instance: int) -> str:
    return _uid(cohort.source_uid_root, at.identifier, at.subject, at.study, series, "instance", instance)


def _study_date(cohort: Cohort, subject: int, study: int) -> dt.date:
    start, end = (dt.date.fromisoformat(day) for day in cohort.period)
    room = (end - start).days - (cohort.study_count(subject) - 1) * cohort.interval_days
    offset = _spread(0, max(room, 0), subject - 1, cohort.subjects)
    return start + dt.timedelta(days=offset + (study - 1) * cohort.interval_days)


def _raw(cohort: Cohort, kind: Series, at: _Position) -> Dataset:
    """The hospital's export of one instance: identifying, with its UIDs under the hospital's root."""
    raw = copy.deepcopy(_template(kind.template))
    subject = at.subject
    first, last = _study_date(cohort, subject, 1), _study_date(cohort, subject, cohort.study_count(subject))
    # The youngest subject is ages[0] at their first study, the oldest ages[1] at their last.
    first_age = _spread(cohort.ages[0], cohort.ages[1] - (last - first).days // 365, subject - 1, cohort.subjects)
    studied = _study_date(cohort, subject, at.study)
    age = first_age + (studied - first).days // 365
    exported = studied + dt.timedelta(days=cohort.shift_days)  # the recipe shifts it back
    manufacturer, model = cohort.scanners[(subject - 1) % len(cohort.scanners)]

    raw.PatientName = f"{_FAMILY[(cohort.number + subject) % len(_FAMILY)]}^{_GIVEN[subject % len(_GIVEN)]}"
    raw.PatientID = f"{cohort.number:03d}{subject:05d}"
    raw.PatientBirthDate = (exported - dt.timedelta(days=round(age * 365.25) + 100)).strftime("%Y%m%d")
    raw.PatientSex = cohort.sexes[(subject - 1) % len(cohort.sexes)]
    raw.PatientAge = f"{age:03d}Y"
    raw.InstitutionName = cohort.institution
    raw.AccessionNumber = f"A{cohort.number:03d}{subject:03d}{at.study:02d}"
    raw.StudyID = f"{at.study}"
    raw.Modality = kind.modality
    raw.BodyPartExamined = cohort.body_parts[(subject - 1) % len(cohort.body_parts)]
    raw.Manufacturer = manufacturer
    raw.ManufacturerModelName = model
    raw.BurnedInAnnotation = "NO"
    raw.SeriesNumber = at.series
    raw.InstanceNumber = at.instance
    # The catalogue's acquisition period reads Study Date; some samples leave it empty.
    raw.StudyDate = raw.SeriesDate = raw.ContentDate = exported.strftime("%Y%m%d")
    raw.StudyTime = raw.get("StudyTime") or "101500"
    for element in _walk(raw):
        if element.VR == "DA" and element.tag != PATIENT_BIRTH_DATE and not element.is_empty:
            element.value = exported.strftime("%Y%m%d")
        elif element.VR == "DT" and not element.is_empty:
            element.value = exported.strftime("%Y%m%d") + "101500"
    _raw_uids(raw, cohort, kind, at)
    return raw


def _raw_uids(raw: Dataset, cohort: Cohort, kind: Series, at: _Position) -> None:
    """Every UID the hospital made, under its root; references point into the same study."""
    root = cohort.source_uid_root
    for element in _walk(raw):
        if element.VR == "UI" and not element.is_empty and not str(element.value).startswith(DICOM_UID_ROOT):
            element.value = _uid(root, at.identifier, at.subject, at.study, at.series, at.instance, element.value)
    raw.StudyInstanceUID = _uid(root, at.identifier, at.subject, at.study)
    raw.SeriesInstanceUID = _series_uid(cohort, at, at.series)
    raw.SOPInstanceUID = _instance_uid(cohort, at, at.series, at.instance)
    raw.file_meta.MediaStorageSOPInstanceUID = raw.SOPInstanceUID
    if "FrameOfReferenceUID" in raw:
        raw.FrameOfReferenceUID = _uid(root, at.identifier, at.subject, at.study, "frame")
    if kind.segments_first_series:
        referenced = _instance_uid(cohort, at, 1, 1)
        for item in raw.get("ReferencedSeriesSequence", []):
            item.SeriesInstanceUID = _series_uid(cohort, at, 1)
        for element in _walk(raw):
            if element.keyword == "ReferencedSOPInstanceUID":
                element.value = referenced


def _plant(dataset: Dataset, kind: str) -> None:
    if kind == PLANTED_NAME:
        dataset.PatientName = PLANTED_PATIENT_NAME
    elif kind == PLANTED_BIRTH_DATE:
        dataset.PatientBirthDate = PLANTED_BIRTH_DATE_VALUE
    elif kind == PLANTED_BURNED_IN:
        dataset.BurnedInAnnotation = "YES"
    else:
        raise ValueError(f"unknown planted kind {kind!r}")


def _checked(content: bytes, cohort: Cohort, relative: str, planted: str) -> None:
    """Read the bytes back as the scan will and insist on the verdict the file was made for."""
    verdict = deidentification_verdict(
        dcmread(BytesIO(content), stop_before_pixels=True),
        source_uid_root=cohort.source_uid_root,
        pseudonym_pattern=cohort.pseudonym_pattern,
    )
    if not planted and not verdict.passed:
        failed = sorted({f"{failure.code} {failure.tag}" for failure in verdict.failures})
        raise DemoFileRejected(f"{relative} fails the de-identification check: {', '.join(failed)}")
    if planted and verdict.codes != {PLANTED_RULES[planted]}:
        raise DemoFileRejected(
            f"{relative} was planted to fail only {PLANTED_RULES[planted]}, and it fails {sorted(verdict.codes)}"
        )


def instance_file(cohort: Cohort, at: _Position, kind: Series, planted: str = "") -> bytes:
    """The de-identified, checked bytes of one instance."""
    clean = deidentify(
        _raw(cohort, kind, at),
        subject_id=cohort.pseudonym(at.subject),
        uid_root=DEIDENTIFIED_UID_ROOT,
        shift_days=cohort.shift_days,
        options=OPTIONS,
    )
    if planted:
        _plant(clean, planted)
    buffer = BytesIO()
    dcmwrite(buffer, clean, enforce_file_format=True)
    return buffer.getvalue()


def relative_path(cohort: Cohort, at: _Position) -> str:
    return f"{cohort.pseudonym(at.subject)}/study-{at.study}/series-{at.series}/{at.instance}.dcm"


def cohort_files(identifier: str, cohort: Cohort) -> list[DemoFile]:
    """Every file of the cohort, de-identified and checked, in a fixed order."""
    files = []
    for subject in range(1, cohort.subjects + 1):
        for study in range(1, cohort.study_count(subject) + 1):
            for series, kind in enumerate(cohort.series, start=1):
                for instance in range(1, kind.instances + 1):
                    at = _Position(identifier, subject, study, series, instance)
                    planted = cohort.planted.get((subject, study, series, instance), "")
                    relative = relative_path(cohort, at)
                    content = instance_file(cohort, at, kind, planted)
                    _checked(content, cohort, f"{identifier}/{relative}", planted)
                    files.append(DemoFile(relative, content, planted))
    return files


def first_file(identifier: str, cohort: Cohort, *, subject: int = 1) -> DemoFile:
    """The first instance of a subject of the dataset `identifier` (the same bytes as in
    `cohort_files`), made alone: the demo also stages it where it does not belong."""
    at = _Position(identifier, subject, 1, 1, 1)
    content = instance_file(cohort, at, cohort.series[0])
    relative = relative_path(cohort, at)
    _checked(content, cohort, f"{identifier}/{relative}", "")
    return DemoFile(relative, content)
