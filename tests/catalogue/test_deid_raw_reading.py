"""The check reads header values raw where that reads the same as pydicom's conversion, and
remembers what it found in a sequence by the sequence's bytes: both must leave every verdict and
every indexed value exactly what pydicom's own reading gives."""

import io
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.data import get_charset_files, get_testdata_file
from pydicom.dataset import Dataset
from pydicom.uid import ImplicitVRLittleEndian

from catalogue.deid import check
from catalogue.deid.check import deidentification_verdict, element_texts, text_of, vr_of
from catalogue.deid.recipe import deidentify
from catalogue.dicom_index import dicom_header_fields

CHARSET_FILES = (
    "chrArab.dcm",
    "chrFren.dcm",
    "chrFrenMulti.dcm",
    "chrGerm.dcm",
    "chrGreek.dcm",
    "chrH31.dcm",
    "chrH32.dcm",
    "chrHbrw.dcm",
    "chrI2.dcm",
    "chrJapMulti.dcm",
    "chrJapMultiExplicitIR6.dcm",
    "chrKoreanMulti.dcm",
    "chrRuss.dcm",
    "chrSQEncoding.dcm",
    "chrSQEncoding1.dcm",
    "chrX1.dcm",
    "chrX2.dcm",
)
SAMPLES = ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "ExplVR_BigEnd.dcm", "JPEG2000.dcm")


def read(data: bytes) -> Dataset:
    return dcmread(io.BytesIO(data), stop_before_pixels=True)


def pydicom_texts(dataset: Dataset, tag) -> list[str]:
    value = dataset[tag].value  # pydicom's conversion, with the header's character set
    if value is None or value == "":
        return []
    parts = list(value) if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue" else [value]
    return [str(part).strip(" \x00") for part in parts]


def text_elements(dataset: Dataset):
    for element in list(dataset.values()):
        vr = vr_of(element)
        if vr == "SQ":
            for item in dataset[element.tag].value:
                yield from text_elements(item)
        elif vr in check.TEXT_VRS:
            yield dataset, element.tag


@pytest.mark.parametrize("name", CHARSET_FILES + SAMPLES)
def test_raw_text_reads_as_pydicom_converts(name):
    """Every text element of pydicom's character-set files (Arabic, Greek, Hebrew, Japanese and
    Korean with ISO 2022 escapes, Latin-1, UTF-8...) and samples reads the same both ways."""
    path = get_charset_files(name)[0] if name in CHARSET_FILES else get_testdata_file(name)
    data = Path(path).read_bytes()
    raw_side, converted_side = read(data), read(data)
    compared = 0
    for (raw_dataset, tag), (converted_dataset, _) in zip(
        text_elements(raw_side), text_elements(converted_side), strict=True
    ):
        assert element_texts(raw_dataset, raw_dataset.get_item(tag)) == pydicom_texts(converted_dataset, tag), tag
        compared += 1
    assert compared >= 3


def test_a_non_ascii_name_is_decoded_with_the_files_character_set():
    path = get_charset_files("chrH31.dcm")[0]  # Japanese, ISO 2022 IR 87 (escapes in ASCII bytes)
    dataset = read(Path(path).read_bytes())
    name = text_of(dataset, 0x00100010)
    assert name == str(read(Path(path).read_bytes()).PatientName)
    assert "山田" in name


def _clean_ct() -> Dataset:
    return deidentify(dcmread(get_testdata_file("CT_small.dcm")), subject_id="SUBJ-0001")


def _bytes(dataset: Dataset, *, implicit: bool = False) -> bytes:
    buffer = io.BytesIO()
    if implicit:
        dataset.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
        dataset.save_as(buffer, implicit_vr=True, little_endian=True, enforce_file_format=True)
    else:
        dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def test_implicit_and_explicit_vr_files_get_the_same_verdict():
    dataset = _clean_ct()
    dataset.PatientName = "Doe^Jane"
    dataset.InstitutionName = "Hospital La Fe"
    item = Dataset()
    item.PatientID = "1CT1"
    dataset.OtherPatientIDsSequence = [item]
    explicit = deidentification_verdict(read(_bytes(dataset)))
    implicit = deidentification_verdict(read(_bytes(dataset, implicit=True)))
    assert explicit.failures == implicit.failures
    assert {failure.tag for failure in explicit.failures} >= {"(0010,0010)", "(0008,0080)", "(0010,1002)[0](0010,0020)"}


def test_a_sequence_met_again_is_judged_under_each_files_declarations():
    """The remembered findings of a sequence depend on the declarations: the same bytes pass under
    the steward's pseudonym pattern and fail without it, in either order."""
    dataset = _clean_ct()
    item = Dataset()
    item.PatientID = "P0042"
    dataset.OtherPatientIDsSequence = [item]
    data = _bytes(dataset)
    where = "(0010,1002)[0](0010,0020)"
    for _ in range(2):
        without = deidentification_verdict(read(data))
        assert where in [failure.tag for failure in without.failures]
        under = deidentification_verdict(read(data), pseudonym_pattern=r"P\d{4}")
        assert where not in [failure.tag for failure in under.failures]


def test_the_same_sequence_under_two_parents_is_reported_at_each_path():
    dataset = _clean_ct()
    leaky = Dataset()
    leaky.PatientID = "1CT1"
    for keyword in ("OtherPatientIDsSequence", "ReferencedPatientSequence"):
        parent = Dataset()
        parent.OtherPatientIDsSequence = [leaky]
        setattr(dataset, keyword, [parent])
    verdict = deidentification_verdict(read(_bytes(dataset)))
    tags = [failure.tag for failure in verdict.failures if failure.code == check.ATTRIBUTE_NOT_REPLACED]
    assert "(0010,1002)[0](0010,1002)[0](0010,0020)" in tags
    assert "(0008,1120)[0](0010,1002)[0](0010,0020)" in tags


def test_the_index_reads_the_same_values_as_pydicom(tmp_path):
    dataset = _clean_ct()
    dataset.Manufacturer = "Société Générale d'Imagerie"  # Latin-1 under ISO_IR 100
    dataset.SpecificCharacterSet = "ISO_IR 100"
    data = _bytes(dataset)
    fields = dicom_header_fields(tmp_path / "unused.dcm", data)
    converted = read(data)
    assert fields["manufacturer"] == converted.Manufacturer
    assert fields["patient_id"] == converted.PatientID == "SUBJ-0001"
    assert fields["study_instance_uid"] == converted.StudyInstanceUID
    assert fields["modality"] == "CT"
