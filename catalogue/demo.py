"""Demo datasets, created through catalogue.services with each data holder's steward as the actor.

Each dataset is ingested from real DICOM files: a small synthetic cohort per dataset
(catalogue/demo_dicom.py), made from pydicom's bundled test files with headers that match the
dataset's description, de-identified with the dataset's pseudonyms and checked against its
steward's declarations (source UID root, pseudonym pattern) before being written into the
holder's storage area (DATASET_STORAGE_ROOT/<storage area>/<identifier>/<subject>/<study>/<series>/
<n>.dcm) and registered by the holder's steward through `dataset_register_files`. The scan
indexes every file; counts and facets the index gives describe the files staged here, and each
dataset's `counts_note` says how big the whole collection is.

One draft (key "staged") holds three files that keep an identifying value after de-identification
among clean ones: the check rejects them and the steward sees why.

Idempotent: a second run finds the datasets by identifier and the files in place (the same bytes:
the cohorts are made deterministically, and a file is only written where it is missing or differs).
"""

import logging

from catalogue.demo_dicom import (
    PLANTED_BIRTH_DATE,
    PLANTED_BURNED_IN,
    PLANTED_NAME,
    Cohort,
    DemoFile,
    Series,
    cohort_files,
    first_file,
)
from catalogue.models import Dataset, DatasetStatus, FileScanStatus

logger = logging.getLogger(__name__)

RETROSPECTIVE = "Retrospective collection from clinical routine"

# The steward's declarations and the hospital of each holder's cohorts. The source UID roots are
# those of pydicom's test files the cohorts start from: Riga's that of CT_small.dcm, MR_small.dcm and
# JPEG2000.dcm (1.3.6.1.4.1.5962), Valencia's that of liver_1frame.dcm (1.2.276.0.7230010.3).
RIGA = {
    "pseudonym_prefix": "RECUH-",
    "source_uid_root": "1.3.6.1.4.1.5962",
    "institution": "Riga East Clinical University Hospital",
}
VALENCIA = {
    "pseudonym_prefix": "LAFE-",
    "source_uid_root": "1.2.276.0.7230010.3",
    "institution": "Hospital Universitari i Politecnic La Fe",
}

# key: (holder key, publish?, files as (study folder, pydicom test file), dataset input)
DATASETS = {
    "mg": (
        "riga",
        True,
        Cohort(
            number=101,
            **RIGA,
            subjects=8,
            studies=(1, 2),
            series=(Series("JPEG2000.dcm", "MG", instances=2),),
            body_parts=("BREAST",),
            scanners=(("Hologic", "Selenia Dimensions"), ("Siemens Healthineers", "MAMMOMAT Revelation")),
            sexes=("F",),
            ages=(50, 69),
            period=("2015-01-01", "2022-12-31"),
            shift_days=21,
            interval_days=730,
        ),
        {
            "identifier": "LV-RECUH-MG-2015-2022",
            "title": "Riga screening mammography with biopsy outcomes, 2015–2022",
            "description": "Full-field digital mammograms (CC and MLO views) of women screened in the Latvian national "
            "breast screening programme at Riga East Clinical University Hospital, with BI-RADS assessment "
            "and histology of biopsied lesions.",
            "subjects_count": 1840,
            "studies_count": 3560,
            "series_count": 14240,
            "images_count": 14240,
            "size_bytes": 412_000_000_000,
            "age_min": 50,
            "age_max": 69,
            "acquisition_start": "2015-01-01",
            "acquisition_end": "2022-12-31",
            "provenance": "Exported from the hospital PACS; outcomes linked from the pathology system "
            "before anonymisation.",
            "modalities": ["MG"],
            "conditions": ["C50"],
            "body_parts": ["BREAST"],
            "birth_sexes": ["FEMALE"],
            "access_modes": ["DOWNLOAD", "IN_SITU_PROCESSING"],
            "manufacturers": ["Hologic", "Siemens Healthineers"],
            "keywords": ["mammography", "screening", "BI-RADS", "breast cancer"],
            "data_use": [
                {"code": "ETHICS_APPROVAL_REQUIRED", "parameters": {}},
                {"code": "GEOGRAPHICAL_RESTRICTION", "parameters": {"countries": ["LV", "LT", "EE", "ES", "DE"]}},
            ],
        },
    ),
    "lung": (
        "riga",
        True,
        Cohort(
            number=102,
            **RIGA,
            subjects=6,
            studies=(2, 1),
            series=(Series("693_J2KI.dcm", "CT", instances=2),),
            body_parts=("CHEST", "LUNG"),
            scanners=(("Siemens Healthineers", "SOMATOM Definition AS"), ("GE Healthcare", "Revolution CT")),
            sexes=("F", "M"),
            ages=(45, 80),
            period=("2018-03-01", "2023-06-30"),
            shift_days=34,
            interval_days=365,
        ),
        {
            "identifier": "LV-RECUH-CT-LUNG-2018-2023",
            "title": "Low-dose chest CT of lung nodules with follow-up",
            "description": "Low-dose chest CT of patients with pulmonary nodules, with the follow-up scans used to "
            "confirm or exclude lung cancer.",
            "subjects_count": 620,
            "studies_count": 1480,
            "series_count": 2960,
            "age_min": 45,
            "age_max": 80,
            "acquisition_start": "2018-03-01",
            "acquisition_end": "2023-06-30",
            "provenance": "Selected from the radiology information system by nodule reports; "
            "diagnosis from the cancer registry.",
            "modalities": ["CT"],
            "conditions": ["C34"],
            "body_parts": ["CHEST", "LUNG"],
            "birth_sexes": ["FEMALE", "MALE"],
            "access_modes": ["DOWNLOAD"],
            "manufacturers": ["Siemens Healthineers", "GE Healthcare"],
            "keywords": ["lung cancer", "pulmonary nodule", "low-dose CT"],
            "data_use": [
                {"code": "NOT_FOR_PROFIT_NON_COMMERCIAL_USE_ONLY", "parameters": {}},
                {"code": "TIME_LIMIT_ON_USE", "parameters": {"months": 24}},
            ],
        },
    ),
    "brain": (
        "riga",
        True,
        Cohort(
            number=103,
            **RIGA,
            subjects=6,
            studies=(1,),
            # T1, T1 with contrast, T2, FLAIR
            series=(
                Series("MR_small.dcm", "MR"),
                Series("MR_small_RLE.dcm", "MR"),
                Series("MR_small.dcm", "MR"),
                Series("MR_small_RLE.dcm", "MR"),
            ),
            body_parts=("BRAIN", "HEAD"),
            scanners=(("Philips", "Ingenia 3.0T"),),
            sexes=("M", "F"),
            ages=(25, 82),
            period=("2017-01-01", "2022-12-31"),
            shift_days=12,
        ),
        {
            "identifier": "LV-RECUH-MR-GLIOMA-2017-2022",
            "title": "Pre-operative brain MRI of high-grade glioma",
            "description": "Pre-operative T1 (with and without contrast), T2 and FLAIR brain MRI of adults with "
            "histologically confirmed high-grade glioma.",
            "subjects_count": 210,
            "studies_count": 230,
            "series_count": 920,
            "age_min": 25,
            "age_max": 82,
            "acquisition_start": "2017-01-01",
            "acquisition_end": "2022-12-31",
            "provenance": "Neuro-oncology board cases; MRI exported from PACS, histology from the pathology system.",
            "modalities": ["MR"],
            "conditions": ["C71"],
            "body_parts": ["BRAIN", "HEAD"],
            "birth_sexes": ["FEMALE", "MALE"],
            "access_modes": ["IN_SITU_PROCESSING", "REMOTE_PROCESSING"],
            "manufacturers": ["Philips"],
            "keywords": ["glioma", "glioblastoma", "brain MRI", "FLAIR"],
            "tier": 2,
            "data_use": [
                {"code": "ETHICS_APPROVAL_REQUIRED", "parameters": {}},
                {"code": "DISEASE_SPECIFIC_RESEARCH", "parameters": {"conditions": ["C71"]}},
            ],
        },
    ),
    "prostate": (
        "valencia",
        True,
        Cohort(
            number=201,
            **VALENCIA,
            subjects=6,
            studies=(1,),
            # T2-weighted, diffusion-weighted, dynamic contrast-enhanced
            series=(
                Series("MR_small_jp2klossless.dcm", "MR"),
                Series("MR_small_jpeg_ls_lossless.dcm", "MR"),
                Series("MR_small.dcm", "MR"),
            ),
            body_parts=("PROSTATE", "PELVIS"),
            scanners=(("Philips", "Achieva 3.0T"), ("GE Healthcare", "SIGNA Architect")),
            sexes=("M",),
            ages=(45, 85),
            period=("2016-01-01", "2022-12-31"),
            shift_days=27,
        ),
        {
            "identifier": "ES-LAFE-MR-PROSTATE-2016-2022",
            "title": "Multiparametric prostate MRI with biopsy results",
            "description": "Multiparametric prostate MRI (T2-weighted, diffusion-weighted with ADC maps, dynamic "
            "contrast-enhanced) of men referred for suspected prostate cancer, with PI-RADS scores and "
            "biopsy Gleason grades.",
            "subjects_count": 980,
            "studies_count": 1020,
            "series_count": 5100,
            "age_min": 45,
            "age_max": 85,
            "acquisition_start": "2016-01-01",
            "acquisition_end": "2022-12-31",
            "provenance": "Retrospective extraction from the hospital PACS by the Biomedical Imaging Research Group.",
            "modalities": ["MR"],
            "conditions": ["C61"],
            "body_parts": ["PROSTATE", "PELVIS"],
            "birth_sexes": ["MALE"],
            "access_modes": ["DOWNLOAD", "IN_SITU_PROCESSING"],
            "manufacturers": ["Philips", "GE Healthcare"],
            "keywords": ["prostate cancer", "mpMRI", "PI-RADS", "Gleason"],
            "data_use": [
                {"code": "ETHICS_APPROVAL_REQUIRED", "parameters": {}},
                {"code": "NOT_FOR_PROFIT_NON_COMMERCIAL_USE_ONLY", "parameters": {}},
                {"code": "PUBLICATION_REQUIRED", "parameters": {}},
            ],
        },
    ),
    "liver": (
        "valencia",
        True,
        Cohort(
            number=202,
            **VALENCIA,
            subjects=4,
            studies=(1,),
            # a CT series and the radiologists' segmentation of it
            series=(
                Series("693_J2KI.dcm", "CT", instances=2),
                Series("liver_1frame.dcm", "SEG", segments_first_series=True),
            ),
            body_parts=("LIVER", "ABDOMEN"),
            scanners=(("Canon Medical Systems", "Aquilion ONE"), ("Siemens Healthineers", "SOMATOM Force")),
            sexes=("M", "F"),
            ages=(40, 88),
            period=("2015-01-01", "2021-12-31"),
            shift_days=19,
        ),
        {
            "identifier": "ES-LAFE-CT-HCC-2015-2021",
            "title": "Multiphase liver CT of hepatocellular carcinoma with tumour segmentations",
            "description": "Arterial, portal-venous and delayed phase CT of patients with hepatocellular carcinoma "
            "before treatment, with radiologist-drawn segmentations of liver and tumours.",
            "dataset_type": "annotated",
            "subjects_count": 340,
            "studies_count": 410,
            "series_count": 1640,
            "age_min": 40,
            "age_max": 88,
            "acquisition_start": "2015-01-01",
            "acquisition_end": "2021-12-31",
            "provenance": "Hepatology tumour board cases; segmentations drawn by two radiologists and reconciled.",
            "modalities": ["CT", "SEG"],
            "conditions": ["C22"],
            "body_parts": ["LIVER", "ABDOMEN"],
            "birth_sexes": ["FEMALE", "MALE"],
            "access_modes": ["DOWNLOAD"],
            "manufacturers": ["Canon Medical Systems", "Siemens Healthineers"],
            "keywords": ["hepatocellular carcinoma", "liver", "segmentation", "multiphase CT"],
            "data_use": [
                {"code": "HEALTH_MEDICAL_BIOMEDICAL_RESEARCH", "parameters": {}},
                {"code": "TIME_LIMIT_ON_USE", "parameters": {"months": 36}},
            ],
        },
    ),
    "colon": (
        "valencia",
        True,
        Cohort(
            number=203,
            **VALENCIA,
            subjects=5,
            studies=(1,),
            series=(Series("693_J2KI.dcm", "CT", instances=2),),
            body_parts=("CHESTABDPELVIS", "COLON", "RECTUM"),
            scanners=(("GE Healthcare", "Revolution EVO"),),
            sexes=("F", "M"),
            ages=(35, 90),
            period=("2018-01-01", "2023-12-31"),
            shift_days=23,
        ),
        {
            "identifier": "ES-LAFE-CT-COLORECTAL-2018-2023",
            "title": "Staging CT of colorectal cancer",
            "description": "Contrast-enhanced chest, abdomen and pelvis CT for the staging of newly diagnosed colon "
            "and rectal cancer, with TNM stage from the multidisciplinary tumour board.",
            "subjects_count": 760,
            "studies_count": 790,
            "age_min": 35,
            "age_max": 90,
            "acquisition_start": "2018-01-01",
            "acquisition_end": "2023-12-31",
            "provenance": "Colorectal cancer pathway cases, identified from the tumour board records.",
            "modalities": ["CT"],
            "conditions": ["C18", "C20"],
            "body_parts": ["CHESTABDPELVIS", "COLON", "RECTUM"],
            "birth_sexes": ["FEMALE", "MALE"],
            "access_modes": ["REMOTE_PROCESSING"],
            "manufacturers": ["GE Healthcare"],
            "keywords": ["colorectal cancer", "staging", "TNM"],
            "tier": 3,
            "data_use": [
                {"code": "GEOGRAPHICAL_RESTRICTION", "parameters": {"countries": ["ES", "PT", "FR", "IT"]}},
                {"code": "ETHICS_APPROVAL_REQUIRED", "parameters": {}},
            ],
        },
    ),
    "lymphoma": (
        "valencia",
        True,
        Cohort(
            number=204,
            **VALENCIA,
            subjects=4,
            studies=(2,),  # at diagnosis and after two cycles
            series=(Series("JPEG2000.dcm", "PT"), Series("CT_small.dcm", "CT")),
            body_parts=("WHOLEBODY",),
            scanners=(("Siemens Healthineers", "Biograph Vision 600"),),
            sexes=("M", "F"),
            ages=(18, 85),
            period=("2017-01-01", "2022-12-31"),
            shift_days=16,
            interval_days=42,
        ),
        {
            "identifier": "ES-LAFE-PT-LYMPHOMA-2017-2022",
            "title": "Baseline and interim FDG PET/CT of diffuse large B-cell lymphoma",
            "description": "Whole-body FDG PET/CT at diagnosis and after two cycles of chemotherapy, with Deauville "
            "scores and treatment response.",
            "subjects_count": 260,
            "studies_count": 520,
            "age_min": 18,
            "age_max": 85,
            "acquisition_start": "2017-01-01",
            "acquisition_end": "2022-12-31",
            "provenance": "Haematology department registry of lymphoma patients; "
            "images from the nuclear medicine PACS.",
            "modalities": ["PT", "CT"],
            "conditions": ["C83"],
            "body_parts": ["WHOLEBODY"],
            "birth_sexes": ["FEMALE", "MALE"],
            "access_modes": ["IN_SITU_PROCESSING"],
            "manufacturers": ["Siemens Healthineers"],
            "keywords": ["lymphoma", "PET/CT", "FDG", "Deauville"],
            "data_use": [
                {"code": "DISEASE_SPECIFIC_RESEARCH", "parameters": {"conditions": ["C83", "C85"]}},
                {"code": "NOT_FOR_PROFIT_NON_COMMERCIAL_USE_ONLY", "parameters": {}},
            ],
        },
    ),
    "draft": (
        "riga",
        False,
        Cohort(
            number=104,
            **RIGA,
            subjects=5,
            studies=(1,),
            series=(Series("JPEG2000.dcm", "US", instances=2),),
            body_parts=("BREAST",),
            scanners=(("GE Healthcare", "LOGIQ E10"),),
            sexes=("F",),
            ages=(40, 75),
            period=("2024-01-01", "2024-12-31"),
            shift_days=9,
        ),
        {
            "identifier": "LV-RECUH-US-BREAST-2024",
            "title": "Breast ultrasound of BI-RADS 3–5 lesions (in preparation)",
            "description": "Handheld breast ultrasound of lesions recalled from screening; the outcome linkage is "
            "still being checked, so the dataset is not yet published.",
            "subjects_count": 150,
            "studies_count": 170,
            "age_min": 40,
            "age_max": 75,
            "acquisition_start": "2024-01-01",
            "acquisition_end": "2024-12-31",
            "modalities": ["US"],
            "conditions": ["C50"],
            "body_parts": ["BREAST"],
            "birth_sexes": ["FEMALE"],
            "manufacturers": ["GE Healthcare"],
            "keywords": ["breast ultrasound"],
        },
    ),
    "staged": (
        "valencia",
        False,
        Cohort(
            number=205,
            **VALENCIA,
            subjects=5,
            studies=(1,),
            series=(Series("MR_small.dcm", "MR", instances=3),),
            body_parts=("RECTUM", "PELVIS"),
            scanners=(("Philips", "Ingenia 1.5T"),),
            sexes=("M", "F"),
            ages=(38, 84),
            period=("2019-01-01", "2024-06-30"),
            shift_days=31,
            # A faulty step of the export: one file keeps the patient's name, one the date of
            # birth, one has the name burned into its pixels.
            planted={
                (2, 1, 1, 3): PLANTED_NAME,
                (3, 1, 1, 2): PLANTED_BIRTH_DATE,
                (4, 1, 1, 1): PLANTED_BURNED_IN,
            },
        ),
        {
            "identifier": "ES-LAFE-MR-RECTUM-2019-2024",
            "title": "Rectal cancer MRI before and after neoadjuvant therapy (being staged)",
            "description": "High-resolution pelvic MRI of locally advanced rectal cancer at staging and after "
            "neoadjuvant chemoradiotherapy. The collection has just been staged in the portal: the "
            "de-identification check rejected three files of the first export (a patient's name, a date of "
            "birth, a burned-in annotation), which are being exported again before the dataset is published.",
            "subjects_count": 180,
            "studies_count": 340,
            "age_min": 38,
            "age_max": 84,
            "acquisition_start": "2019-01-01",
            "acquisition_end": "2024-06-30",
            "provenance": "Rectal cancer pathway cases of the colorectal tumour board; MRI exported from PACS.",
            "modalities": ["MR"],
            "conditions": ["C20"],
            "body_parts": ["RECTUM", "PELVIS"],
            "birth_sexes": ["FEMALE", "MALE"],
            "access_modes": ["DOWNLOAD"],
            "manufacturers": ["Philips"],
            "keywords": ["rectal cancer", "MRI", "neoadjuvant therapy", "restaging"],
            "data_use": [{"code": "ETHICS_APPROVAL_REQUIRED", "parameters": {}}],
        },
    ),
}


def _counts_note(spec: dict, cohort: Cohort, files: int) -> str:
    """The steward's note: the figures shown count the files staged here, not the whole collection."""
    whole = [f"{spec['subjects_count']:,} subjects", f"{spec['studies_count']:,} studies"]
    if spec.get("series_count"):
        whole.append(f"{spec['series_count']:,} series")
    if spec.get("size_bytes"):
        whole.append(f"{spec['size_bytes'] / 1e9:,.0f} GB")
    return (
        f"The counts and facets shown are read from the {files} de-identified DICOM files of "
        f"{cohort.subjects} subjects staged in the portal for the demo; the whole collection at the "
        f"hospital holds {', '.join(whole)}."
    )


def _write_files(holder, identifier: str, files: list[DemoFile]):
    """Write the files into the holder's storage area where missing or different; returns the folder."""
    from catalogue.storage import holder_storage_path

    folder = holder_storage_path(holder) / identifier
    for file in files:
        target = folder / file.relative
        if target.is_file() and target.read_bytes() == file.content:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(file.content)
    return folder


def _input(spec: dict, cohort: Cohort, files: int) -> dict:
    """The dataset input: the spec with the steward's declarations. The anonymisation profile and the
    day it was verified are not given: the ingestion's check sets them from the files."""
    return {
        "collection_method": RETROSPECTIVE,
        **spec,
        "source_uid_root": cohort.source_uid_root,
        "pseudonym_pattern": cohort.pseudonym_pattern,
        "counts_note": _counts_note(spec, cohort, files),
    }


def _dataset(data: dict, holder, steward) -> Dataset:
    """The dataset, created if missing; the steward's declarations are completed on one created before them."""
    from catalogue.services import dataset_create, dataset_update

    dataset = Dataset.objects.filter(identifier=data["identifier"]).first()
    if dataset is None:
        return dataset_create(actor=steward, holder=holder, data=data)
    missing = {
        name: data[name]
        for name in ("source_uid_root", "pseudonym_pattern", "counts_note")
        if name in data and not getattr(dataset, name)
    }
    if missing:
        dataset = dataset_update(actor=steward, dataset=dataset, data=missing)
    return dataset


def ingest_demo_dataset(spec: dict, cohort: Cohort, files: list, holder, steward, *, publish: bool) -> Dataset:
    """One demo dataset: created (or found) by its steward, its cohort's files written into the
    holder's area and registered (a finished scan is left as it is), published when asked."""
    from catalogue.ingestion import file_scan_run
    from catalogue.services import dataset_publish, dataset_register_files

    dataset = _dataset(_input(spec, cohort, len(files)), holder, steward)
    folder = _write_files(dataset.holder, dataset.identifier, files)
    stored = f"{dataset.holder.storage_area}/{dataset.identifier}"
    scanned = dataset.file_scans.filter(folder=stored).exclude(status=FileScanStatus.FAILED).exists()
    if not scanned and folder.is_dir():  # the folder is given relative to the holder's area
        scan = dataset_register_files(actor=steward, dataset=dataset, folder=dataset.identifier)
        # The demo's tasks run eagerly once the registration commits; inside an outer
        # transaction (a test) that has not happened yet: scan now (a finished scan is left as it is).
        file_scan_run(scan_id=scan.pk)
        dataset.refresh_from_db()
    if publish and dataset.status == DatasetStatus.DRAFT and dataset.published_at is None:
        dataset = dataset_publish(actor=steward, dataset=dataset)
    return dataset


def load_catalogue(*, people: dict, holders: dict) -> dict:
    """Create (or find) the demo datasets; returns them by key ("mg", "lung", ..., "draft", "staged")."""
    datasets = {}
    for key, (holder_key, publish, cohort, spec) in DATASETS.items():
        files = cohort_files(spec["identifier"], cohort)
        if key == "lymphoma":
            files.append(_mistaken_file())
        steward = people[f"steward_{holder_key}"]
        datasets[key] = ingest_demo_dataset(spec, cohort, files, holders[holder_key], steward, publish=publish)
    return datasets


def _mistaken_file() -> DemoFile:
    """A CT of the colorectal cohort, staged in the lymphoma dataset's folder by mistake."""
    _, _, cohort, spec = DATASETS["colon"]
    return DemoFile(MISTAKEN_FILE, first_file(spec["identifier"], cohort).content)


# The lymphoma dataset's folder holds a CT file of the colorectal cohort: its steward removes it
# after publication, so the demo shows a removal, a new version and its entry under "Changes".
MISTAKEN_FILE = "LAFE-203-001/study-1/series-1/1.dcm"
MISTAKEN_REASON = "A CT series of another patient group was registered by mistake; it is not part of this dataset."


def load_catalogue_changes(*, people: dict, datasets: dict) -> None:
    """After the demo's file scans have run: the steward removes the file registered by mistake."""
    from catalogue.services import dataset_file_remove

    dataset = Dataset.objects.get(pk=datasets["lymphoma"].pk)
    path = f"{dataset.holder.storage_area}/{dataset.identifier}/{MISTAKEN_FILE}"
    if dataset.files.filter(path=path).exists():
        dataset_file_remove(actor=people["steward_valencia"], dataset=dataset, path=path, reason=MISTAKEN_REASON)
