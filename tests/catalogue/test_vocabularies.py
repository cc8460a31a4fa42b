"""The vocabulary files: ICD-10 chapter II and DICOM body parts, loaded again by migration 0004."""

import importlib
import json

import pytest
from django.apps import apps as django_apps

from catalogue.models import Term, Vocabulary
from catalogue.vocabularies import vocabulary_files


def _expected_malignant_categories() -> set[str]:
    """C00-C97 as WHO ICD-10 (2019) assigns them: the gaps are categories that do not exist."""
    absent = {27, 28, 29, 35, 36, 42, 59, 87, 89}
    return {f"C{n:02d}" for n in range(0, 98) if n not in absent}


def test_every_file_has_the_shape_the_loader_reads():
    for path in vocabulary_files():
        spec = json.loads(path.read_text(encoding="utf-8"))
        assert spec["vocabulary"] in Vocabulary.values, path.name
        codes = [term["code"] for term in spec["terms"]]
        assert len(codes) == len(set(codes)), f"duplicate code in {path.name}"
        assert all(term["label"].strip() for term in spec["terms"]), path.name


def test_the_condition_vocabulary_holds_chapter_two_categories(db):
    conditions = dict(Term.objects.filter(vocabulary=Vocabulary.CONDITION).values_list("code", "label"))

    assert _expected_malignant_categories() <= set(conditions)
    assert {f"D{n:02d}" for n in (0, 1, 2, 3, 4, 5, 6, 7, 9)} <= set(conditions)
    assert {f"D{n:02d}" for n in range(10, 49)} <= set(conditions)
    assert "D08" not in conditions  # no such category
    assert all(code[0] in "CD" and len(code) == 3 for code in conditions)
    assert conditions["C50"] == "Malignant neoplasm of breast"
    assert conditions["C61"] == "Malignant neoplasm of prostate"
    assert conditions["C34"] == "Malignant neoplasm of bronchus and lung"
    assert conditions["C71"] == "Malignant neoplasm of brain"
    assert conditions["D05"] == "Carcinoma in situ of breast"


def test_the_body_part_vocabulary_holds_the_dicom_terms_the_catalogue_needs(db):
    parts = set(Term.objects.filter(vocabulary=Vocabulary.BODY_PART).values_list("code", flat=True))

    assert len(parts) >= 40
    wanted = {"BREAST", "CHEST", "LUNG", "PROSTATE", "BRAIN", "HEAD", "LIVER", "ABDOMEN", "PELVIS", "KIDNEY"}
    assert wanted | {"COLON", "PANCREAS", "WHOLEBODY"} <= parts
    assert all(code == code.upper() and " " not in code for code in parts)


@pytest.mark.django_db
def test_migration_0004_loads_the_new_files_into_a_database_migrated_before_them():
    Term.objects.filter(vocabulary__in=[Vocabulary.CONDITION, Vocabulary.BODY_PART]).delete()
    migration = importlib.import_module("catalogue.migrations.0004_load_condition_and_body_part_vocabularies")

    migration.load(django_apps, None)
    migration.load(django_apps, None)  # and again: no duplicates

    assert Term.objects.filter(vocabulary=Vocabulary.CONDITION, code="C50").count() == 1
    assert Term.objects.filter(vocabulary=Vocabulary.BODY_PART, code="BREAST").count() == 1
