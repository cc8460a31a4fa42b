"""A DICOM file's de-identification verdict against PS3.15 Annex E (the Basic Profile).

`deidentification_verdict` reads a header that is already parsed (read files with
`pydicom.dcmread(path, stop_before_pixels=True)`) and returns every rule it fails. Codes:

- DEID_PATIENT_IDENTITY_NOT_REMOVED: Patient Identity Removed (0012,0062) is not "YES".
- DEID_METHOD_MISSING: neither De-identification Method (0012,0063) nor its code sequence
  (0012,0064) holds a value.
- DEID_BURNED_IN_ANNOTATION: Burned In Annotation (0028,0301) is "YES".
- DEID_ATTRIBUTE_NOT_REMOVED: an attribute whose action is X (remove) is present.
- DEID_ATTRIBUTE_NOT_REPLACED: an attribute whose action is Z, D or a combination (X/Z, X/D,
  X/Z/D, Z/D, X/Z/U*) holds a value that is not an accepted dummy (see below).
- DEID_DATE_NOT_REMOVED: a date or time the table lists holds a value while the file declares
  neither retained nor shifted dates (see below), or a date of birth holds a value.
- DEID_PRIVATE_ATTRIBUTE: a private attribute is present without the Retain Safe Private option.
- DEID_SOURCE_UID: a UID lies under the source's UID root that the steward declared.

What the check accepts:
- An option is declared by its CID 7050 code in De-identification Method Code Sequence. Where a
  declared option's column says K (keep) or C (clean), the attribute may keep a value: a check
  of headers cannot tell a cleaned text from an original one, so C is taken on trust.
- Z, D and their combinations: absent, zero-length, or a dummy. A dummy is a placeholder word
  (ANONYMOUS, ANONYMIZED, REMOVED, DEIDENTIFIED, DUMMY, UNKNOWN, SUBJECT/SUBJ, PSEUDONYM,
  optionally followed by separators and digits or hex), a match of the caller's
  `pseudonym_pattern` (the steward's scheme, e.g. r"P\\d{4}"), or a numeric zero. Sequences may
  keep their items, which are checked by the same rules. U attributes (UIDs) may keep a value:
  only the source-root rule applies to them.
- Dates: the table's date and time attributes may keep values when the file declares Retain
  Longitudinal Temporal Information with Full Dates (113106) or with Modified Dates (113107), or
  Longitudinal Temporal Information Modified (0028,0303) is "MODIFIED", or De-identification
  Method says dates were shifted. Otherwise X dates must be absent and Z/D dates empty. "REMOVED"
  in (0028,0303) declares that dates are gone: any value left fails. Patient's Birth Date is Z
  with no date option: it must be empty whatever is declared.
- Well-known UIDs of the standard (root 1.2.840.10008) are never taken for source UIDs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pydicom import dcmread
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag

from catalogue.deid.table import Option, ProfileRow, profile_table

PATIENT_IDENTITY_NOT_REMOVED = "DEID_PATIENT_IDENTITY_NOT_REMOVED"
METHOD_MISSING = "DEID_METHOD_MISSING"
BURNED_IN_ANNOTATION = "DEID_BURNED_IN_ANNOTATION"
ATTRIBUTE_NOT_REMOVED = "DEID_ATTRIBUTE_NOT_REMOVED"
ATTRIBUTE_NOT_REPLACED = "DEID_ATTRIBUTE_NOT_REPLACED"
DATE_NOT_REMOVED = "DEID_DATE_NOT_REMOVED"
PRIVATE_ATTRIBUTE = "DEID_PRIVATE_ATTRIBUTE"
SOURCE_UID = "DEID_SOURCE_UID"

DICOM_UID_ROOT = "1.2.840.10008."
PATIENT_BIRTH_DATE = 0x00100030
MEDIA_STORAGE_SOP_INSTANCE_UID = 0x00020003
DATE_VRS = frozenset({"DA", "DT", "TM"})
NUMERIC_VRS = frozenset({"DS", "IS", "FL", "FD", "SL", "SS", "UL", "US", "SV", "UV"})
DUMMY_WORDS = re.compile(
    r"(?:ANONYMOUS|ANONYMI[SZ]ED|ANON|REMOVED|DE-?IDENTIFIED|DEID|DUMMY|UNKNOWN|"
    r"SUBJECT|SUBJ|PSEUDONYM)(?:[-_ ^.]*[0-9A-F]*)*",
    re.IGNORECASE,
)
SHIFTED_DATES = re.compile(r"\bdates?\b.*\bshift", re.IGNORECASE)


@dataclass(frozen=True)
class FailedRule:
    code: str
    tag: str  # "(0010,0010)", or a path into sequences "(0008,1110)[0](0008,1155)"
    message: str


@dataclass(frozen=True)
class Verdict:
    failures: tuple[FailedRule, ...] = field(default=())
    options: frozenset[Option] = frozenset()  # the profile options the file declares

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def codes(self) -> set[str]:
        return {failure.code for failure in self.failures}


@dataclass(frozen=True)
class _Context:
    options: frozenset[Option]
    dates_kept: bool
    dates_removed: bool
    source_uid_root: str | None
    pseudonym: re.Pattern[str] | None


def _tag_text(tag: BaseTag) -> str:
    return f"({tag.group:04X},{tag.element:04X})"


def _is_empty(element: DataElement) -> bool:
    if element.VR == "SQ":
        return len(element.value) == 0
    return element.is_empty


def declared_options(dataset: Dataset) -> frozenset[Option]:
    by_code = {option.code: option for option in Option}
    declared = set()
    for item in dataset.get("DeidentificationMethodCodeSequence", []) or []:
        if item.get("CodingSchemeDesignator") == "DCM" and item.get("CodeValue") in by_code:
            declared.add(by_code[item.CodeValue])
    return frozenset(declared)


def _method_texts(dataset: Dataset) -> list[str]:
    method = dataset.get("DeidentificationMethod")
    if method is None or method == "":
        return []
    if isinstance(method, str):
        return [method]
    return [str(part) for part in method]


def _values(element: DataElement) -> list[str]:
    value = element.value
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return [str(part) for part in value]
    return [str(value)]


def _is_dummy(element: DataElement, context: _Context) -> bool:
    for value in _values(element):
        text = value.strip()
        if not text:
            continue
        if element.VR in NUMERIC_VRS:
            try:
                if float(text) == 0:
                    continue
            except ValueError:
                pass
            return False
        if DUMMY_WORDS.fullmatch(text):
            continue
        if context.pseudonym is not None and context.pseudonym.fullmatch(text):
            continue
        return False
    return True


def _check_date(element: DataElement, row: ProfileRow, where: str, context: _Context) -> FailedRule | None:
    if element.tag == PATIENT_BIRTH_DATE or not row.is_date:
        if _is_empty(element):
            return None
        return FailedRule(DATE_NOT_REMOVED, where, f"{row.name} still holds a date.")
    if context.dates_kept and not context.dates_removed:
        return None
    if row.actions == {"X"}:
        return FailedRule(
            DATE_NOT_REMOVED,
            where,
            f"{row.name} is present, but the file declares neither retained nor shifted dates.",
        )
    if _is_empty(element):
        return None
    return FailedRule(
        DATE_NOT_REMOVED,
        where,
        f"{row.name} holds a value, but the file declares neither retained nor shifted dates.",
    )


def _check_listed(element: DataElement, row: ProfileRow, where: str, context: _Context) -> FailedRule | None:
    if row.is_date and context.dates_removed:
        # The file says its dates are removed: no date option can keep one.
        return _check_date(element, row, where, context)
    if row.option_action(context.options) in ("K", "C"):
        return None
    if row.is_date or (element.VR in DATE_VRS and element.tag == PATIENT_BIRTH_DATE):
        return _check_date(element, row, where, context)
    actions = row.actions
    if actions == {"X"}:
        return FailedRule(ATTRIBUTE_NOT_REMOVED, where, f"{row.name} must be removed, and it is present.")
    if actions & {"Z", "D"}:
        if _is_empty(element) or element.VR == "SQ" or _is_dummy(element, context):
            return None
        return FailedRule(
            ATTRIBUTE_NOT_REPLACED,
            where,
            f"{row.name} must be emptied or replaced by a dummy, and it holds a value that is not a recognised dummy.",
        )
    return None  # U (checked against the source root), K, C


def _may_fail(raw, row: ProfileRow, context: _Context) -> bool:
    """Whether a listed element (not private, not a sequence, no source root to check) can fail a
    rule, judged from the row, the declarations and the raw bytes, before any conversion."""
    if row.actions <= {"U"}:
        return False  # a UID outside any declared source root: the table asks nothing else
    if row.option_action(context.options) in ("K", "C") and not (row.is_date and context.dates_removed):
        return False
    value = getattr(raw, "value", None)
    # empty is what Z, D and the date rules ask of a present element
    empty = isinstance(value, bytes) and not value.strip(b" \x00")
    return not empty or row.actions == {"X"}


def _vr_of(dataset: Dataset, tag: BaseTag) -> str | None:
    """The VR of an element without converting its value (implicit-VR files: the dictionary's)."""
    vr = dataset.get_item(tag).VR
    if vr:
        return vr
    try:
        return dictionary_VR(tag)
    except KeyError:
        return None


def _walk(dataset: Dataset, prefix: str, context: _Context) -> Iterator[tuple[DataElement, str]]:
    """The elements a rule may apply to, sequences descended into.

    pydicom converts an element's value when it is first touched, and converting every element of
    a header costs several times its reading: only the elements the table lists, private ones,
    sequences and (with a source root declared) UIDs are touched; the others are left raw.
    """
    table = profile_table()
    for tag in list(dataset.keys()):
        vr = _vr_of(dataset, tag)
        uid_checked = vr == "UI" and bool(context.source_uid_root)
        if not (tag.is_private or vr == "SQ" or uid_checked):
            row = table.row_for(int(tag))
            if row is None or not _may_fail(dataset.get_item(tag), row, context):
                continue
        element = dataset[tag]
        where = prefix + _tag_text(element.tag)
        yield element, where
        if element.VR == "SQ":
            for index, item in enumerate(element.value):
                yield from _walk(item, f"{where}[{index}]", context)


def _under_root(uid: str, root: str) -> bool:
    root = root.rstrip(".")
    return uid == root or uid.startswith(root + ".")


def _element_failures(element: DataElement, where: str, context: _Context) -> list[FailedRule]:
    failures: list[FailedRule] = []
    if element.tag.is_private:
        if Option.RETAIN_SAFE_PRIVATE not in context.options:
            failures.append(
                FailedRule(
                    PRIVATE_ATTRIBUTE,
                    where,
                    "A private attribute is present, and the file does not declare the Retain Safe Private option.",
                )
            )
        return failures
    row = profile_table().row_for(int(element.tag))
    if row is not None:
        failure = _check_listed(element, row, where, context)
        if failure is not None:
            failures.append(failure)
    if context.source_uid_root and element.VR == "UI" and not element.is_empty:
        for uid in _values(element):
            if not uid.startswith(DICOM_UID_ROOT) and _under_root(uid, context.source_uid_root):
                failures.append(
                    FailedRule(
                        SOURCE_UID,
                        where,
                        f"UID {uid} lies under the source's root {context.source_uid_root}.",
                    )
                )
    return failures


def deidentification_verdict(
    dataset: Dataset,
    *,
    source_uid_root: str | None = None,
    pseudonym_pattern: str | None = None,
) -> Verdict:
    """Every rule of PS3.15 Annex E's Basic Profile (with its declared options) the header fails.

    `source_uid_root` is the UID root of the source system, where the steward declares it;
    `pseudonym_pattern` a regular expression for the steward's subject pseudonyms, accepted as
    dummies besides the placeholder words. Pure: reads the dataset, changes nothing.
    """
    options = declared_options(dataset)
    methods = _method_texts(dataset)
    modified = str(dataset.get("LongitudinalTemporalInformationModified", "") or "").upper()
    context = _Context(
        options=options,
        dates_kept=(
            Option.RETAIN_LONGITUDINAL_FULL_DATES in options
            or Option.RETAIN_LONGITUDINAL_MODIFIED_DATES in options
            or modified == "MODIFIED"
            or any(SHIFTED_DATES.search(text) for text in methods)
        ),
        dates_removed=modified == "REMOVED",
        source_uid_root=source_uid_root or None,
        pseudonym=re.compile(pseudonym_pattern) if pseudonym_pattern else None,
    )
    failures: list[FailedRule] = []
    if str(dataset.get("PatientIdentityRemoved", "") or "").upper() != "YES":
        failures.append(
            FailedRule(
                PATIENT_IDENTITY_NOT_REMOVED,
                "(0012,0062)",
                'Patient Identity Removed is not "YES".',
            )
        )
    coded = dataset.get("DeidentificationMethodCodeSequence")
    if not methods and not coded:
        failures.append(
            FailedRule(
                METHOD_MISSING,
                "(0012,0063)",
                "Neither De-identification Method nor its code sequence (0012,0064) is given.",
            )
        )
    if str(dataset.get("BurnedInAnnotation", "") or "").upper() == "YES":
        failures.append(
            FailedRule(
                BURNED_IN_ANNOTATION,
                "(0028,0301)",
                'Burned In Annotation is "YES": the pixels carry identifying text.',
            )
        )
    for element, where in _walk(dataset, "", context):
        failures.extend(_element_failures(element, where, context))
    file_meta = getattr(dataset, "file_meta", None)
    if file_meta is not None and context.source_uid_root:
        # Only the instance's own UID: the others name the transfer syntax, the SOP class and
        # the writing software, never a patient.
        element = file_meta.get(MEDIA_STORAGE_SOP_INSTANCE_UID)
        if element is not None:
            failures.extend(_element_failures(element, _tag_text(element.tag), context))
    return Verdict(failures=tuple(failures), options=options)


def file_verdict(path: str | os.PathLike, **kwargs: Any) -> Verdict:
    """The verdict for a file on disk, reading its header only (never the pixel data)."""
    return deidentification_verdict(dcmread(path, stop_before_pixels=True), **kwargs)
