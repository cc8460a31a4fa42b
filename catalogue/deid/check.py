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
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from pydicom import dcmread
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset

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
CODE_VALUE = 0x00080100
CODING_SCHEME_DESIGNATOR = 0x00080102
PATIENT_IDENTITY_REMOVED = 0x00120062
DEIDENTIFICATION_METHOD = 0x00120063
DEIDENTIFICATION_METHOD_CODES = 0x00120064
BURNED_IN_ANNOTATION_TAG = 0x00280301
LONGITUDINAL_TEMPORAL_INFORMATION_MODIFIED = 0x00280303
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
    # tag -> risk under these declarations (`_risks`, shared by the files declaring the same)
    risks: dict[int, int] = field(compare=False, hash=False, repr=False)


def _tag_text(tag: int) -> str:
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


# Header elements are read raw (pydicom's RawDataElement, bytes as stored) and converted only
# where a value is needed: pydicom's conversion of every element of a header costs several
# times its reading. A text value in plain ASCII (no escape sequence: ISO 2022 code extensions
# switch character sets with ESC) reads the same in every DICOM character set and is decoded
# here; anything else is left to pydicom's conversion with the header's Specific Character Set.
TEXT_VRS = frozenset(
    {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UI", "UR", "UT"}
)
SINGLE_VALUED_VRS = frozenset({"LT", "ST", "UR", "UT"})  # a backslash is text, not a separator
ESCAPE = 0x1B

Element = DataElement | RawDataElement


def vr_of(element: Element) -> str | None:
    """The element's VR (implicit-VR files: the dictionary's), without converting its value."""
    if element.VR:
        return element.VR
    try:
        return dictionary_VR(element.tag)
    except KeyError:
        return None


def _plain_text(element: Element, vr: str | None) -> bytes | None:
    """The raw bytes of an unconverted text element that decode the same in every character set."""
    value = element.value
    if not isinstance(element, RawDataElement) or not isinstance(value, bytes):
        return None
    if vr not in TEXT_VRS or not value.isascii() or ESCAPE in value:
        return None
    return value


def element_texts(dataset: Dataset, element: Element) -> list[str]:
    """An element's values as text (multi-valued elements split), padding stripped; [] if empty."""
    vr = vr_of(element)
    raw = _plain_text(element, vr)
    if raw is not None:
        text = raw.decode("ascii")
        if not text.strip(" \x00"):
            return []
        parts = [text] if vr in SINGLE_VALUED_VRS else text.split("\\")
        return [part.strip(" \x00") for part in parts]
    value = dataset[element.tag].value
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return [str(part).strip(" \x00") for part in value]
    return [str(value).strip(" \x00")]


def text_of(dataset: Dataset, tag: int, elements: dict | None = None) -> str:
    """The value of the element `tag` of `dataset` as one text ("" if absent), values joined by
    backslashes. `elements`, when given, is `dict(dataset.items())`, taken once for many lookups."""
    element = elements.get(tag) if elements is not None else dataset.get_item(tag)
    if element is None:
        return ""
    return "\\".join(element_texts(dataset, element))


def _is_empty(dataset: Dataset, element: Element) -> bool:
    raw = _plain_text(element, vr_of(element))
    if raw is not None:
        return not raw.strip(b" \x00")
    return dataset[element.tag].is_empty


def _items(dataset: Dataset, tag: int) -> list[Dataset]:
    element = dataset.get_item(tag)
    if element is None or vr_of(element) != "SQ":
        return []
    return list(dataset[tag].value or [])


# A sequence's items cost far more to parse than the elements around them, and the files of a
# collection mostly carry the same few sequences byte for byte (the de-identification codes, a
# procedure code): what the check finds in a sequence is remembered by its raw bytes, their
# encoding and the declarations, for sequences up to SEQUENCE_MEMO_BYTES.
SEQUENCE_MEMO_BYTES = 4096
SEQUENCE_MEMO_ENTRIES = 2048
_sequence_memo: dict[tuple, Any] = {}


def _raw_key(dataset: Dataset, element: Element) -> tuple | None:
    """What an unparsed sequence's content is a function of, or None if it was parsed already (or is large)."""
    value = element.value
    if not isinstance(element, RawDataElement) or not isinstance(value, bytes) or len(value) > SEQUENCE_MEMO_BYTES:
        return None
    charset = tuple(dataset.original_character_set or ())
    return (int(element.tag), value, element.is_implicit_VR, element.is_little_endian, charset)


def _remembered(key: tuple | None, compute):
    if key is None:
        return compute()
    found = _sequence_memo.get(key)
    if found is None:
        found = compute()
        if len(_sequence_memo) >= SEQUENCE_MEMO_ENTRIES:
            _sequence_memo.clear()
        _sequence_memo[key] = found
    return found


def _declared(dataset: Dataset) -> tuple[frozenset[Option], int]:
    """The profile options the file declares (CID 7050 codes in the code sequence) and the sequence's item count."""
    element = dataset.get_item(DEIDENTIFICATION_METHOD_CODES)
    if element is None or vr_of(element) != "SQ":
        return frozenset(), 0

    def compute() -> tuple[frozenset[Option], int]:
        by_code = {option.code: option for option in Option}
        items = _items(dataset, DEIDENTIFICATION_METHOD_CODES)
        declared = set()
        for item in items:
            code = text_of(item, CODE_VALUE)
            if text_of(item, CODING_SCHEME_DESIGNATOR) == "DCM" and code in by_code:
                declared.add(by_code[code])
        return frozenset(declared), len(items)

    key = _raw_key(dataset, element)
    return _remembered(None if key is None else ("declared", *key), compute)


def declared_options(dataset: Dataset) -> frozenset[Option]:
    return _declared(dataset)[0]


def _method_texts(dataset: Dataset) -> list[str]:
    element = dataset.get_item(DEIDENTIFICATION_METHOD)
    if element is None:
        return []
    return [text for text in element_texts(dataset, element) if text]


def _is_dummy(dataset: Dataset, element: Element, context: _Context) -> bool:
    numeric = vr_of(element) in NUMERIC_VRS
    for text in element_texts(dataset, element):
        if not text:
            continue
        if numeric:
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


def _check_date(
    dataset: Dataset, element: Element, row: ProfileRow, where: str, context: _Context
) -> FailedRule | None:
    if element.tag == PATIENT_BIRTH_DATE or not row.is_date:
        if _is_empty(dataset, element):
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
    if _is_empty(dataset, element):
        return None
    return FailedRule(
        DATE_NOT_REMOVED,
        where,
        f"{row.name} holds a value, but the file declares neither retained nor shifted dates.",
    )


def _check_listed(
    dataset: Dataset, element: Element, vr: str | None, row: ProfileRow, where: str, context: _Context
) -> FailedRule | None:
    if row.is_date and context.dates_removed:
        # The file says its dates are removed: no date option can keep one.
        return _check_date(dataset, element, row, where, context)
    if row.option_action(context.options) in ("K", "C"):
        return None
    if row.is_date or (vr in DATE_VRS and element.tag == PATIENT_BIRTH_DATE):
        return _check_date(dataset, element, row, where, context)
    actions = row.actions
    if actions == {"X"}:
        return FailedRule(ATTRIBUTE_NOT_REMOVED, where, f"{row.name} must be removed, and it is present.")
    if actions & {"Z", "D"}:
        if vr == "SQ" or _is_empty(dataset, element) or _is_dummy(dataset, element, context):
            return None
        return FailedRule(
            ATTRIBUTE_NOT_REPLACED,
            where,
            f"{row.name} must be emptied or replaced by a dummy, and it holds a value that is not a recognised dummy.",
        )
    return None  # U (checked against the source root), K, C


# What a present, non-private element of a tag risks under given declarations (from its row).
NO_RULE, FAILS_UNLESS_EMPTY, FAILS_PRESENT = 0, 1, 2
RISKS_KEPT = 100_000  # distinct tags remembered per declaration; past that, looked up each time


def _row_risk(row: ProfileRow | None, options: frozenset[Option], dates_removed: bool) -> int:
    if row is None or row.actions <= {"U"}:
        return NO_RULE  # not listed, or a UID outside any declared source root: nothing asked
    if row.option_action(options) in ("K", "C") and not (row.is_date and dates_removed):
        return NO_RULE
    return FAILS_PRESENT if row.actions == {"X"} else FAILS_UNLESS_EMPTY  # Z, D and dates: empty passes


@lru_cache(maxsize=64)
def _risks(options: frozenset[Option], dates_removed: bool) -> dict[int, int]:
    """A memo, filled as tags are met, of `_row_risk` for these declarations (files of a
    collection declare the same few: the table is looked up once per tag, not per element)."""
    return {}


def _learn_risk(tag: int, context: _Context) -> int:
    """The risk of a tag not met yet under these declarations, remembered for the next files."""
    risk = _row_risk(profile_table().row_for(tag), context.options, context.dates_removed)
    if len(context.risks) < RISKS_KEPT:
        context.risks[tag] = risk
    return risk


def _failures_in(dataset: Dataset, prefix: str, context: _Context) -> list[FailedRule]:
    """Every rule the elements of `dataset` fail, sequences descended into.

    Only the elements the table lists whose raw bytes leave a rule to fail, private ones,
    sequences and (with a source root declared) UIDs are looked at; the others are passed over
    raw, never converted.
    """
    failures: list[FailedRule] = []
    risks = context.risks
    for element in list(dataset.values()):
        tag = int(element.tag)
        vr = element.VR or vr_of(element)
        if not ((tag >> 16) & 1 or vr == "SQ" or (vr == "UI" and context.source_uid_root)):
            risk = risks.get(tag)
            if risk is None:
                risk = _learn_risk(tag, context)
            if risk == NO_RULE:
                continue
            value = element.value
            if (
                risk == FAILS_UNLESS_EMPTY
                and isinstance(element, RawDataElement)
                and isinstance(value, bytes)
                and not value.strip(b" \x00")
            ):
                continue
        where = prefix + _tag_text(tag)
        failures.extend(_element_failures(dataset, element, vr, where, context))
        if vr == "SQ":
            failures.extend(_sequence_failures(dataset, element, where, context))
    return failures


def _sequence_failures(dataset: Dataset, element: Element, where: str, context: _Context) -> list[FailedRule]:
    """The failures inside a sequence's items, their paths under `where`."""

    def compute() -> tuple[FailedRule, ...]:
        found: list[FailedRule] = []
        for index, item in enumerate(dataset[element.tag].value or []):
            found.extend(_failures_in(item, f"[{index}]", context))
        return tuple(found)

    key = _raw_key(dataset, element)
    inside = _remembered(None if key is None else ("failures", context, *key), compute)
    return [FailedRule(failure.code, where + failure.tag, failure.message) for failure in inside]


def _under_root(uid: str, root: str) -> bool:
    root = root.rstrip(".")
    return uid == root or uid.startswith(root + ".")


def _element_failures(
    dataset: Dataset, element: Element, vr: str | None, where: str, context: _Context
) -> list[FailedRule]:
    failures: list[FailedRule] = []
    tag = int(element.tag)
    if (tag >> 16) & 1:  # an odd group: a private attribute
        if Option.RETAIN_SAFE_PRIVATE not in context.options:
            failures.append(
                FailedRule(
                    PRIVATE_ATTRIBUTE,
                    where,
                    "A private attribute is present, and the file does not declare the Retain Safe Private option.",
                )
            )
        return failures
    row = profile_table().row_for(tag)
    if row is not None:
        failure = _check_listed(dataset, element, vr, row, where, context)
        if failure is not None:
            failures.append(failure)
    if context.source_uid_root and vr == "UI":
        for uid in element_texts(dataset, element):
            if uid and not uid.startswith(DICOM_UID_ROOT) and _under_root(uid, context.source_uid_root):
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
    options, coded = _declared(dataset)
    methods = _method_texts(dataset)
    modified = text_of(dataset, LONGITUDINAL_TEMPORAL_INFORMATION_MODIFIED).upper()
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
        risks=_risks(options, modified == "REMOVED"),
    )
    failures: list[FailedRule] = []
    if text_of(dataset, PATIENT_IDENTITY_REMOVED).upper() != "YES":
        failures.append(
            FailedRule(
                PATIENT_IDENTITY_NOT_REMOVED,
                "(0012,0062)",
                'Patient Identity Removed is not "YES".',
            )
        )
    if not methods and not coded:
        failures.append(
            FailedRule(
                METHOD_MISSING,
                "(0012,0063)",
                "Neither De-identification Method nor its code sequence (0012,0064) is given.",
            )
        )
    if text_of(dataset, BURNED_IN_ANNOTATION_TAG).upper() == "YES":
        failures.append(
            FailedRule(
                BURNED_IN_ANNOTATION,
                "(0028,0301)",
                'Burned In Annotation is "YES": the pixels carry identifying text.',
            )
        )
    failures.extend(_failures_in(dataset, "", context))
    file_meta = getattr(dataset, "file_meta", None)
    if file_meta is not None and context.source_uid_root:
        # Only the instance's own UID: the others name the transfer syntax, the SOP class and
        # the writing software, never a patient.
        element = file_meta.get_item(MEDIA_STORAGE_SOP_INSTANCE_UID)
        if element is not None:
            where = _tag_text(MEDIA_STORAGE_SOP_INSTANCE_UID)
            failures.extend(_element_failures(file_meta, element, vr_of(element), where, context))
    return Verdict(failures=tuple(failures), options=options)


def file_verdict(path: str | os.PathLike, **kwargs: Any) -> Verdict:
    """The verdict for a file on disk, reading its header only (never the pixel data)."""
    return deidentification_verdict(dcmread(path, stop_before_pixels=True), **kwargs)
