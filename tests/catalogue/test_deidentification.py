"""The de-identification check (PS3.15 Annex E): each rule with a file that breaks it and one
that passes, built from pydicom's bundled sample files by the recipe and re-broken one
attribute at a time."""

import datetime as dt

import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset

from catalogue.deid import check
from catalogue.deid.check import deidentification_verdict, file_verdict
from catalogue.deid.recipe import deidentify
from catalogue.deid.table import Option, profile_table

CT_SOURCE_ROOT = "1.3.6.1.4.1.5962"  # the UID root of the bundled CT_small.dcm and MR_small.dcm
SAMPLES = ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm")


def sample(name: str = "CT_small.dcm") -> Dataset:
    return dcmread(get_testdata_file(name))


def clean(name: str = "CT_small.dcm", **kwargs) -> Dataset:
    kwargs.setdefault("subject_id", "SUBJ-0001")
    return deidentify(sample(name), **kwargs)


def written(tmp_path, dataset: Dataset, name: str = "file.dcm"):
    path = tmp_path / name
    dataset.save_as(path, enforce_file_format=True)
    return path


def verdict_of(tmp_path, dataset: Dataset, **kwargs):
    return file_verdict(written(tmp_path, dataset), source_uid_root=CT_SOURCE_ROOT, **kwargs)


def failed(verdict, code: str) -> list[str]:
    return [failure.tag for failure in verdict.failures if failure.code == code]


# The shipped table


def test_the_shipped_table_loads_with_the_rows_of_its_source():
    table = profile_table()
    assert table.edition == "2024b"
    assert len(table.rows) == 621
    actions = {row.action for row in table.rows}
    assert actions == {"X", "Z", "D", "U", "X/Z", "X/D", "X/Z/D", "Z/D", "X/Z/U*"}


@pytest.mark.parametrize(
    ("tag", "name", "action"),
    [
        (0x00100010, "Patient's Name", "Z"),
        (0x00100030, "Patient's Birth Date", "Z"),
        (0x00100020, "Patient ID", "Z/D"),
        (0x00080080, "Institution Name", "X/Z/D"),
        (0x00080020, "Study Date", "Z"),
        (0x0020000D, "Study Instance UID", "U"),
        (0x00081030, "Study Description", "X"),
        (0x60023000, "Overlay Data", "X"),  # a repeating group, (60XX,3000)
    ],
)
def test_spot_rows_read_as_in_the_source(tag, name, action):
    row = profile_table().row_for(tag)
    assert row is not None
    assert (row.name, row.action) == (name, action)


def test_option_columns_are_kept():
    table = profile_table()
    assert table.row_for(0x00080080).options == {"rtnInstIdOpt": "K"}
    assert table.row_for(0x00080020).options == {
        "rtnLongFullDatesOpt": "K",
        "rtnLongModifDatesOpt": "C",
    }
    private = [row for row in table.rows if row.options.get("rtnSafePrivOpt")]
    assert [row.tag for row in private] == ["(GGGG,EEEE) WHERE GGGG IS ODD"]


# The recipe makes passing files; the raw samples fail


@pytest.mark.parametrize("name", SAMPLES)
@pytest.mark.parametrize(
    "recipe",
    [
        {},
        {"shift_days": 3650},
        {"options": [Option.RETAIN_PATIENT_CHARACTERISTICS, Option.RETAIN_DEVICE_IDENTITY]},
    ],
)
def test_the_recipe_makes_a_sample_pass(tmp_path, name, recipe):
    verdict = verdict_of(tmp_path, clean(name, **recipe))
    assert verdict.passed, verdict.failures


def test_an_original_sample_fails_the_identity_rules(tmp_path):
    verdict = verdict_of(tmp_path, sample())
    assert not verdict.passed
    assert {
        check.PATIENT_IDENTITY_NOT_REMOVED,
        check.METHOD_MISSING,
        check.ATTRIBUTE_NOT_REPLACED,
        check.ATTRIBUTE_NOT_REMOVED,
        check.DATE_NOT_REMOVED,
        check.PRIVATE_ATTRIBUTE,
        check.SOURCE_UID,
    } <= verdict.codes
    assert "(0010,0010)" in failed(verdict, check.ATTRIBUTE_NOT_REPLACED)


def test_the_recipe_leaves_its_input_alone():
    original = sample()
    deidentify(original, subject_id="SUBJ-0001")
    assert original.PatientName == "CompressedSamples^CT1"


def test_the_check_reads_headers_only(tmp_path):
    path = written(tmp_path, clean())
    assert "PixelData" in dcmread(path)
    assert file_verdict(path).passed


# One rule at a time: the clean file passes (above), each break fails with its code


def test_a_patient_name_left_in_fails(tmp_path):
    dataset = clean()
    dataset.PatientName = "Doe^Jane"
    verdict = verdict_of(tmp_path, dataset)
    assert failed(verdict, check.ATTRIBUTE_NOT_REPLACED) == ["(0010,0010)"]
    assert verdict.codes == {check.ATTRIBUTE_NOT_REPLACED}


def test_an_empty_patient_name_passes(tmp_path):
    dataset = clean()
    dataset.PatientName = ""
    assert verdict_of(tmp_path, dataset).passed


def test_a_pseudonym_passes_only_under_the_stewards_pattern(tmp_path):
    dataset = clean()
    dataset.PatientID = "P0042"
    path = written(tmp_path, dataset)
    assert failed(file_verdict(path), check.ATTRIBUTE_NOT_REPLACED) == ["(0010,0020)"]
    assert file_verdict(path, pseudonym_pattern=r"P\d{4}").passed


def test_a_birth_date_left_in_fails_even_with_dates_shifted(tmp_path):
    for recipe in ({}, {"shift_days": 3650}):
        dataset = clean(**recipe)
        dataset.PatientBirthDate = "19610412"
        verdict = verdict_of(tmp_path, dataset)
        assert failed(verdict, check.DATE_NOT_REMOVED) == ["(0010,0030)"]


def test_burned_in_annotation_yes_fails_and_no_passes(tmp_path):
    dataset = clean()
    dataset.BurnedInAnnotation = "YES"
    verdict = verdict_of(tmp_path, dataset)
    assert verdict.codes == {check.BURNED_IN_ANNOTATION}
    dataset.BurnedInAnnotation = "NO"
    assert verdict_of(tmp_path, dataset).passed


def test_a_private_tag_fails_unless_retain_safe_private_is_declared(tmp_path):
    dataset = clean()
    block = dataset.private_block(0x0009, "GEMS_IDEN_01", create=True)
    block.add_new(0x01, "LO", "GE_GENESIS_FF")
    verdict = verdict_of(tmp_path, dataset)
    assert set(failed(verdict, check.PRIVATE_ATTRIBUTE)) == {"(0009,0010)", "(0009,1001)"}
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator = Option.RETAIN_SAFE_PRIVATE.code, "DCM"
    item.CodeMeaning = "Retain Safe Private Option"
    dataset.DeidentificationMethodCodeSequence.append(item)
    assert verdict_of(tmp_path, dataset).passed


def test_a_source_uid_fails_where_the_steward_declares_the_root(tmp_path):
    dataset = clean()
    dataset.StudyInstanceUID = sample().StudyInstanceUID
    verdict = verdict_of(tmp_path, dataset)
    assert failed(verdict, check.SOURCE_UID) == ["(0020,000D)"]
    path = written(tmp_path, dataset)
    assert file_verdict(path).passed  # no root declared: nothing to compare with
    assert file_verdict(path, source_uid_root="1.2.3.4").passed


def test_a_source_uid_in_the_file_meta_fails():
    original = sample()
    dataset = clean()
    assert deidentification_verdict(dataset, source_uid_root=CT_SOURCE_ROOT).passed
    dataset.file_meta.MediaStorageSOPInstanceUID = original.SOPInstanceUID
    verdict = deidentification_verdict(dataset, source_uid_root=CT_SOURCE_ROOT)
    assert failed(verdict, check.SOURCE_UID) == ["(0002,0003)"]


def test_the_standards_own_uids_are_never_source_uids():
    verdict = deidentification_verdict(clean(), source_uid_root="1.2.840.10008")
    assert verdict.passed  # SOP class and transfer syntax UIDs lie under the DICOM root


def test_a_missing_patient_identity_removed_fails(tmp_path):
    dataset = clean()
    del dataset.PatientIdentityRemoved
    assert verdict_of(tmp_path, dataset).codes == {check.PATIENT_IDENTITY_NOT_REMOVED}
    dataset.PatientIdentityRemoved = "NO"
    assert verdict_of(tmp_path, dataset).codes == {check.PATIENT_IDENTITY_NOT_REMOVED}


def test_a_missing_method_fails_and_either_form_passes(tmp_path):
    dataset = clean()
    del dataset.DeidentificationMethod
    assert verdict_of(tmp_path, dataset).passed  # the code sequence is enough
    del dataset.DeidentificationMethodCodeSequence
    dataset.LongitudinalTemporalInformationModified = "REMOVED"
    assert verdict_of(tmp_path, dataset).codes == {check.METHOD_MISSING}
    dataset.DeidentificationMethod = "Hospital recipe v3"
    assert verdict_of(tmp_path, dataset).passed


def test_an_attribute_to_remove_fails_when_present(tmp_path):
    dataset = clean()
    dataset.StudyDescription = "CT chest, Mr Smith, follow-up"
    dataset.OtherPatientIDsSequence = [Dataset()]
    verdict = verdict_of(tmp_path, dataset)
    assert set(failed(verdict, check.ATTRIBUTE_NOT_REMOVED)) == {"(0008,1030)", "(0010,1002)"}


def test_an_attribute_in_a_sequence_item_is_checked(tmp_path):
    dataset = clean()
    item = Dataset()
    item.PatientID = "1CT1"
    dataset.OtherPatientIDsSequence = [item]
    verdict = verdict_of(tmp_path, dataset)
    assert "(0010,1002)[0](0010,0020)" in failed(verdict, check.ATTRIBUTE_NOT_REPLACED)


def test_a_kept_institution_name_passes_only_under_its_option(tmp_path):
    dataset = clean()
    dataset.InstitutionName = "JFK IMAGING CENTER"
    verdict = verdict_of(tmp_path, dataset)
    assert failed(verdict, check.ATTRIBUTE_NOT_REPLACED) == ["(0008,0080)"]
    retained = clean(options=[Option.RETAIN_INSTITUTION_IDENTITY])
    retained.InstitutionName = "JFK IMAGING CENTER"
    assert verdict_of(tmp_path, retained).passed


def test_dates_fail_unless_the_profile_declares_them_shifted(tmp_path):
    removed = clean()
    assert "StudyDate" in removed and removed.StudyDate == ""
    removed.StudyDate = "20040119"
    verdict = verdict_of(tmp_path, removed)
    assert failed(verdict, check.DATE_NOT_REMOVED) == ["(0008,0020)"]

    shifted = clean(shift_days=3650)
    assert shifted.StudyDate == (dt.date(2004, 1, 19) - dt.timedelta(days=3650)).strftime("%Y%m%d")
    assert shifted.LongitudinalTemporalInformationModified == "MODIFIED"
    assert verdict_of(tmp_path, shifted).passed

    # Shifted dates declared only in the method's words pass too.
    worded = clean(shift_days=3650)
    del worded.DeidentificationMethodCodeSequence
    del worded.LongitudinalTemporalInformationModified
    worded.DeidentificationMethod = "Basic Profile, all dates shifted by a per-subject offset"
    assert verdict_of(tmp_path, worded).passed

    # A file that says its dates are removed may not keep one.
    contradicting = clean(shift_days=3650)
    contradicting.LongitudinalTemporalInformationModified = "REMOVED"
    assert check.DATE_NOT_REMOVED in verdict_of(tmp_path, contradicting).codes


def test_a_date_to_remove_fails_when_present_and_dates_are_not_declared_shifted(tmp_path):
    dataset = clean()
    dataset.InstanceCreationDate = "20040119"  # X/D in the table
    verdict = verdict_of(tmp_path, dataset)
    assert failed(verdict, check.DATE_NOT_REMOVED) == ["(0008,0012)"]
