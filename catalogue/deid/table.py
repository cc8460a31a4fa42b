"""DICOM PS3.15 Table E.1-1, loaded from the data file shipped beside this module.

The file's provenance (source, commit, DICOM edition) is in its header and in README.md.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

TABLE_PATH = Path(__file__).with_name("ps3_15_table_e1_1.json")


class Option(enum.Enum):
    """The profile options (PS3.15 E.3) with their code in CID 7050 (scheme DCM)."""

    RETAIN_SAFE_PRIVATE = ("113111", "rtnSafePrivOpt")
    RETAIN_UIDS = ("113110", "rtnUIDsOpt")
    RETAIN_DEVICE_IDENTITY = ("113109", "rtnDevIdOpt")
    RETAIN_INSTITUTION_IDENTITY = ("113112", "rtnInstIdOpt")
    RETAIN_PATIENT_CHARACTERISTICS = ("113108", "rtnPatCharsOpt")
    RETAIN_LONGITUDINAL_FULL_DATES = ("113106", "rtnLongFullDatesOpt")
    RETAIN_LONGITUDINAL_MODIFIED_DATES = ("113107", "rtnLongModifDatesOpt")
    CLEAN_DESCRIPTORS = ("113105", "cleanDescOpt")
    CLEAN_STRUCTURED_CONTENT = ("113104", "cleanStructContOpt")
    CLEAN_GRAPHICS = ("113103", "cleanGraphOpt")

    @property
    def code(self) -> str:
        return self.value[0]

    @property
    def column(self) -> str:
        return self.value[1]

    @property
    def label(self) -> str:
        """The option's name as PS3.15 Table E.1-1 heads its column."""
        return OPTION_LABELS[self.value[1]]


OPTION_LABELS = {
    "rtnSafePrivOpt": "Retain Safe Private Option",
    "rtnUIDsOpt": "Retain UIDs Option",
    "rtnDevIdOpt": "Retain Device Identity Option",
    "rtnInstIdOpt": "Retain Institution Identity Option",
    "rtnPatCharsOpt": "Retain Patient Characteristics Option",
    "rtnLongFullDatesOpt": "Retain Longitudinal Temporal Information with Full Dates Option",
    "rtnLongModifDatesOpt": "Retain Longitudinal Temporal Information with Modified Dates Option",
    "cleanDescOpt": "Clean Descriptors Option",
    "cleanStructContOpt": "Clean Structured Content Option",
    "cleanGraphOpt": "Clean Graphics Option",
}


BASIC_PROFILE_CODE = "113100"
DATE_OPTION_COLUMNS = ("rtnLongFullDatesOpt", "rtnLongModifDatesOpt")


@dataclass(frozen=True)
class ProfileRow:
    tag: str  # as printed in the standard, "(0010,0010)" or "(60XX,3000)"
    name: str
    action: str  # the Basic Profile action: "X", "Z", "D", "U", "X/Z/D", ...
    options: dict[str, str]  # option column -> action under that option ("K", "C")
    mask: int  # bits of the tag that must match (0 where the standard writes X)
    value: int  # the tag's value on those bits

    @property
    def actions(self) -> frozenset[str]:
        return frozenset(self.action.replace("*", "").split("/"))

    @property
    def is_date(self) -> bool:
        return any(column in self.options for column in DATE_OPTION_COLUMNS)

    def option_action(self, declared: frozenset[Option]) -> str | None:
        """The action a declared option puts in place of the Basic Profile's, if any."""
        for option in declared:
            if option.column in self.options:
                return self.options[option.column]
        return None


@dataclass(frozen=True)
class ProfileTable:
    edition: str
    rows: tuple[ProfileRow, ...]
    by_tag: dict[int, ProfileRow]
    repeating: tuple[ProfileRow, ...]

    def row_for(self, tag: int) -> ProfileRow | None:
        row = self.by_tag.get(tag)
        if row is not None:
            return row
        for candidate in self.repeating:
            if tag & candidate.mask == candidate.value:
                return candidate
        return None


def _parse_tag(text: str) -> tuple[int, int] | None:
    """(mask, value) for "(GGGG,EEEE)" with X as a wildcard nibble; None for other rows."""
    if len(text) != 11 or text[0] != "(" or text[5] != "," or text[10] != ")":
        return None
    digits = (text[1:5] + text[6:10]).upper()
    mask = value = 0
    for digit in digits:
        mask <<= 4
        value <<= 4
        if digit != "X":
            mask |= 0xF
            value |= int(digit, 16)
    return mask, value


@cache
def profile_table() -> ProfileTable:
    document = json.loads(TABLE_PATH.read_text(encoding="utf-8"))
    option_columns = {option.column for option in Option}
    rows: list[ProfileRow] = []
    for raw in document["rows"]:
        parsed = _parse_tag(raw["tag"])
        mask, value = parsed if parsed else (0, 0)
        rows.append(
            ProfileRow(
                tag=raw["tag"],
                name=raw["name"],
                action=raw["basicProfile"],
                options={k: v for k, v in raw.items() if k in option_columns},
                mask=mask,
                value=value,
            )
        )
    # The private-attributes row has no tag pattern (mask 0): the check handles it by itself.
    by_tag = {row.value: row for row in rows if row.mask == 0xFFFFFFFF}
    repeating = tuple(row for row in rows if row.mask not in (0, 0xFFFFFFFF))
    return ProfileTable(edition=document["dicom_edition"], rows=tuple(rows), by_tag=by_tag, repeating=repeating)
