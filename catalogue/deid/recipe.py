"""A de-identification recipe after PS3.15 Annex E: makes a header that the check passes.

Used for the demo's sample files and the tests. It rewrites the header only: pixels are left as
they are, so a file whose Burned In Annotation is "YES" still fails the check afterwards.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterable

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.uid import PYDICOM_ROOT_UID, generate_uid

from catalogue.deid.table import BASIC_PROFILE_CODE, Option, ProfileRow, profile_table

DUMMY_TEXT = "ANONYMIZED"
TEXT_VRS = frozenset({"PN", "LO", "SH", "LT", "ST", "UT", "UC", "CS", "AE", "AS"})
NUMERIC_VRS = frozenset({"DS", "IS", "FL", "FD", "SL", "SS", "UL", "US", "SV", "UV"})
PATIENT_NAME, PATIENT_ID, PATIENT_BIRTH_DATE = 0x00100010, 0x00100020, 0x00100030
DICOM_UID_ROOT = "1.2.840.10008."


def _code_meaning(code: str) -> str:
    try:
        from pydicom.sr._concepts_dict import concepts

        for by_code in concepts["DCM"].values():
            if code in by_code:
                return by_code[code][0]
    except (ImportError, KeyError):  # pragma: no cover - depends on pydicom's layout
        pass
    return code


def _code_item(code: str) -> Dataset:
    item = Dataset()
    item.CodeValue = code
    item.CodingSchemeDesignator = "DCM"
    item.CodeMeaning = _code_meaning(code)
    return item


def _shift_date(value: str, days: int) -> str:
    text = value.strip()
    if len(text) < 8 or not text[:8].isdigit():
        return ""
    shifted = dt.date(int(text[:4]), int(text[4:6]), int(text[6:8])) - dt.timedelta(days=days)
    return shifted.strftime("%Y%m%d") + text[8:]


class _Recipe:
    def __init__(self, *, subject_id: str, uid_root: str, shift_days: int | None, options: frozenset):
        self.subject_id = subject_id
        self.uid_root = uid_root if uid_root.endswith(".") else uid_root + "."
        self.shift_days = shift_days
        self.options = options
        self.table = profile_table()

    def new_uid(self, uid: str) -> str:
        # The same source UID always maps to the same new one, so references stay consistent.
        return generate_uid(prefix=self.uid_root, entropy_srcs=[str(uid)])

    def dummy(self, element: DataElement) -> object:
        if element.tag in (PATIENT_NAME, PATIENT_ID):
            return self.subject_id
        if element.VR == "SQ":
            return []
        if element.VR == "UI":
            return self.new_uid(str(element.value))
        if element.VR in NUMERIC_VRS:
            return 0 if element.VR not in ("DS", "IS") else "0"
        if element.VR in TEXT_VRS:
            return DUMMY_TEXT if element.VR != "AS" else ""
        return b"" if element.VR.startswith("O") or element.VR == "UN" else ""

    def date(self, dataset: Dataset, element: DataElement, row: ProfileRow) -> None:
        if element.tag == PATIENT_BIRTH_DATE or self.shift_days is None:
            if "X" in row.actions and element.tag != PATIENT_BIRTH_DATE:
                del dataset[element.tag]
            else:
                element.value = ""
        elif element.VR in ("DA", "DT") and not element.is_empty:
            element.value = _shift_date(str(element.value), self.shift_days)
        # Times and time-zone offsets stay: with dates shifted they no longer date anything.

    def apply(self, dataset: Dataset) -> None:
        for tag in list(dataset.keys()):
            self.apply_element(dataset, dataset[tag])

    def apply_element(self, dataset: Dataset, element: DataElement) -> None:
        if element.tag.is_private:
            del dataset[element.tag]
            return
        row = self.table.row_for(int(element.tag))
        if row is None or row.option_action(self.options) == "K":
            self.apply_items(element)
        elif row.is_date or element.tag == PATIENT_BIRTH_DATE:
            self.date(dataset, element, row)
        elif "X" in row.actions:
            del dataset[element.tag]
        elif "U" in row.actions:
            if not element.is_empty and element.VR == "UI":
                element.value = self.new_uid(str(element.value))
        elif "D" in row.actions:
            element.value = self.dummy(element)
        elif "Z" in row.actions:
            element.value = [] if element.VR == "SQ" else ""
        else:
            self.apply_items(element)

    def apply_items(self, element: DataElement) -> None:
        if element.VR == "SQ":
            for item in element.value:
                self.apply(item)


def deidentify(
    dataset: Dataset,
    *,
    subject_id: str,
    uid_root: str = PYDICOM_ROOT_UID,
    shift_days: int | None = None,
    options: Iterable[Option] = (),
) -> Dataset:
    """A de-identified copy of `dataset` under the Basic Profile and the given options.

    X attributes are removed (X/Z and X/D too), Z emptied, D replaced by a dummy (the patient's
    name and ID by `subject_id`), U replaced by a UID under `uid_root` derived from the old one,
    private attributes removed. Dates are shifted back by `shift_days` when given (declared as
    Retain Longitudinal Temporal Information with Modified Dates) and removed otherwise. Where an
    option in `options` says K, the attribute is kept. The input is not changed.
    """
    declared = frozenset(options)
    result = copy.deepcopy(dataset)
    recipe = _Recipe(subject_id=subject_id, uid_root=uid_root, shift_days=shift_days, options=declared)
    recipe.apply(result)
    file_meta = getattr(result, "file_meta", None)
    if file_meta is not None and "SOPInstanceUID" in result:
        file_meta.MediaStorageSOPInstanceUID = result.SOPInstanceUID
    result.PatientIdentityRemoved = "YES"
    codes = [BASIC_PROFILE_CODE] + sorted(option.code for option in declared)
    if shift_days is not None:
        result.LongitudinalTemporalInformationModified = "MODIFIED"
        if Option.RETAIN_LONGITUDINAL_MODIFIED_DATES.code not in codes:
            codes.append(Option.RETAIN_LONGITUDINAL_MODIFIED_DATES.code)
        method = "PS3.15 Basic Profile; dates shifted by a fixed offset"
    else:
        result.LongitudinalTemporalInformationModified = "REMOVED"
        method = "PS3.15 Basic Profile; dates removed"
    result.DeidentificationMethod = method
    result.DeidentificationMethodCodeSequence = [_code_item(code) for code in codes]
    return result
