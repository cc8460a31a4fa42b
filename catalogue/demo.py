"""Demo datasets, created through catalogue.services with each data holder's steward as the actor.

Each dataset gets a few small real DICOM files (the test files shipped with pydicom), copied
into its data holder's storage area (DATASET_STORAGE_ROOT/<storage area>/<identifier>/) and
registered by the holder's steward through `dataset_register_files`, so sizes and SHA-256
checksums are real. Idempotent: a second run finds the datasets by identifier and the
files in place.
"""

import logging
import shutil
from pathlib import Path

from catalogue.models import Dataset, DatasetStatus, FileScanStatus

logger = logging.getLogger(__name__)

ANONYMISATION = "DICOM PS3.15 Basic Application Level Confidentiality Profile, retain longitudinal dates (shifted)"
# The day each published collection's anonymisation was checked against that profile: until then
# its files are not released through download grants (access_requests/services/grants.py file_releasable).
ANONYMISATION_VERIFIED_ON = "2025-11-03"
RETROSPECTIVE = "Retrospective collection from clinical routine"

# key: (holder key, publish?, files as (study folder, pydicom test file), dataset input)
DATASETS = {
    "mg": (
        "riga",
        True,
        [("study-0001", "SC_rgb_rle.dcm"), ("study-0002", "SC_rgb_small_odd.dcm")],
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
        [("study-0001", "CT_small.dcm"), ("study-0002", "693_J2KI.dcm")],
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
        [("study-0001", "MR_small.dcm"), ("study-0001", "MR_small_RLE.dcm")],
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
        [("study-0001", "MR_small_jp2klossless.dcm"), ("study-0002", "MR_small_jpeg_ls_lossless.dcm")],
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
        [("study-0001", "CT_small.dcm"), ("study-0001-seg", "liver_1frame.dcm")],
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
        [("study-0001", "CT_small.dcm"), ("study-0002", "693_J2KI.dcm")],
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
        [("study-0001", "JPEG2000.dcm"), ("study-0001", "CT_small.dcm")],
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
        [("study-0001", "examples_palette.dcm")],
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
            "keywords": ["breast ultrasound"],
        },
    ),
}


def _copy_files(holder, identifier: str, files: list[tuple[str, str]]) -> Path:
    """Copy pydicom's sample files into the holder's storage area (kept if already there); returns the folder."""
    from pydicom.data import get_testdata_file

    from catalogue.storage import holder_storage_path

    folder = holder_storage_path(holder) / identifier
    for study, name in files:
        target = folder / study / name
        if target.exists():
            continue
        source = get_testdata_file(name, download=False)  # never reach the network
        if source is None:
            logger.warning("demo: pydicom has no local test file %s; %s gets fewer files", name, identifier)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return folder


def _dataset(spec: dict, holder, steward, *, verified: bool) -> Dataset:
    """The dataset, created if missing; a published one's anonymisation is recorded as verified (set by
    its steward on a dataset loaded before that date was part of the demo)."""
    from catalogue.services import dataset_create, dataset_update

    data = {"anonymisation_profile": ANONYMISATION, "collection_method": RETROSPECTIVE, **spec}
    if verified:
        data["anonymisation_verified_on"] = ANONYMISATION_VERIFIED_ON
    dataset = Dataset.objects.filter(identifier=spec["identifier"]).first()
    if dataset is None:
        return dataset_create(actor=steward, holder=holder, data=data)
    if verified and dataset.anonymisation_verified_on is None:
        dataset = dataset_update(
            actor=steward, dataset=dataset, data={"anonymisation_verified_on": ANONYMISATION_VERIFIED_ON}
        )
    return dataset


def load_catalogue(*, people: dict, holders: dict) -> dict:
    """Create (or find) the demo datasets; returns them by key ("mg", "lung", ..., "draft")."""
    from catalogue.services import dataset_publish, dataset_register_files

    datasets = {}
    for key, (holder_key, publish, files, spec) in DATASETS.items():
        steward = people[f"steward_{holder_key}"]
        dataset = _dataset(spec, holders[holder_key], steward, verified=publish)
        folder = _copy_files(dataset.holder, dataset.identifier, files)
        stored = f"{dataset.holder.storage_area}/{dataset.identifier}"
        scanned = dataset.file_scans.filter(folder=stored).exclude(status=FileScanStatus.FAILED).exists()
        if not scanned and folder.is_dir():  # the folder is given relative to the holder's area
            dataset_register_files(actor=steward, dataset=dataset, folder=dataset.identifier)
        if publish and dataset.status == DatasetStatus.DRAFT and dataset.published_at is None:
            dataset = dataset_publish(actor=steward, dataset=dataset)
        datasets[key] = dataset
    return datasets


# The lymphoma dataset's folder holds a CT file of another study: its steward removes it after
# publication, so the demo shows a removal, a new version and its entry under "Changes".
MISTAKEN_FILE = "study-0001/CT_small.dcm"
MISTAKEN_REASON = "A CT series of another patient group was registered by mistake; it is not part of this dataset."


def load_catalogue_changes(*, people: dict, datasets: dict) -> None:
    """After the demo's file scans have run: the steward removes the file registered by mistake."""
    from catalogue.services import dataset_file_remove

    dataset = Dataset.objects.get(pk=datasets["lymphoma"].pk)
    path = f"{dataset.holder.storage_area}/{dataset.identifier}/{MISTAKEN_FILE}"
    if dataset.files.filter(path=path).exists():
        dataset_file_remove(actor=people["steward_valencia"], dataset=dataset, path=path, reason=MISTAKEN_REASON)
