"""The demo's partner nodes: two more portals, each with a hospital of its own and datasets ingested
from real DICOM files (catalogue/demo_dicom.py), big enough that the federated search shows counts
above the disclosure threshold. `make demo-federation` (scripts/demo_federation.py) starts them
beside the main demo and lists each node at the others."""

from django.db import transaction

from catalogue.demo import ingest_demo_dataset
from catalogue.demo_dicom import Cohort, Series, cohort_files
from catalogue.models import DataHolder
from catalogue.services import data_holder_add_steward, data_holder_create
from portal.demo import ACTOR, DEMO_PASSWORD
from portal.models import User
from portal.services.accounts import user_create

# The UID root of pydicom's test files the cohorts start from (CT_small.dcm, MR_small.dcm, JPEG2000.dcm).
SOURCE_ROOT = "1.3.6.1.4.1.5962"

PARTNERS = {
    "tartu": {
        "site_name": "Tartu imaging node",
        "holder": {
            "name": "Tartu University Hospital",
            "slug": "tartu-uh",
            "country": "EE",
            "city": "Tartu",
            "website": "https://www.kliinikum.ee",
            "contact_email": "imaging-data@tartu.demo.example",
            "rdo_email": "rdo@tartu.demo.example",
        },
        "people": [
            ("steward@tartu.demo.example", "Mari Tamm", ("steward",)),
            ("rdo@tartu.demo.example", "Jaan Kask", ("rdo",)),
        ],
        "datasets": [
            (
                Cohort(
                    number=301,
                    pseudonym_prefix="TUH-",
                    source_uid_root=SOURCE_ROOT,
                    institution="Tartu University Hospital",
                    subjects=24,
                    studies=(1, 2),
                    series=(Series("MR_small.dcm", "MR"),),
                    body_parts=("BREAST",),
                    scanners=(("Siemens Healthineers", "MAGNETOM Vida"),),
                    sexes=("F",),
                    ages=(38, 74),
                    period=("2018-01-01", "2023-12-31"),
                    shift_days=17,
                ),
                {
                    "identifier": "EE-TUH-MR-BREAST-2018-2023",
                    "title": "Breast MRI before neoadjuvant chemotherapy",
                    "description": "Dynamic contrast-enhanced breast MRI of women with invasive breast cancer, "
                    "before neoadjuvant chemotherapy.",
                    "provenance": "Breast imaging unit cases; MRI from PACS, outcomes from the cancer registry.",
                    "subjects_count": 24,
                    "studies_count": 36,
                    "modalities": ["MR"],
                    "conditions": ["C50"],
                    "body_parts": ["BREAST"],
                    "birth_sexes": ["FEMALE"],
                    "access_modes": ["IN_SITU_PROCESSING"],
                    "manufacturers": ["Siemens Healthineers"],
                    "keywords": ["breast MRI", "neoadjuvant"],
                    "tier": 2,
                    "data_use": [{"code": "ETHICS_APPROVAL_REQUIRED", "parameters": {}}],
                },
            ),
            (
                Cohort(
                    number=302,
                    pseudonym_prefix="TUH-",
                    source_uid_root=SOURCE_ROOT,
                    institution="Tartu University Hospital",
                    subjects=14,
                    studies=(1,),
                    series=(Series("CT_small.dcm", "CT"),),
                    body_parts=("CHEST",),
                    scanners=(("GE Healthcare", "Revolution CT"),),
                    sexes=("M", "F"),
                    ages=(52, 81),
                    period=("2019-01-01", "2024-06-30"),
                    shift_days=9,
                ),
                {
                    "identifier": "EE-TUH-CT-LUNG-2019-2024",
                    "title": "Low-dose chest CT of lung cancer screening",
                    "description": "Low-dose chest CT of a lung cancer screening programme with confirmed cancers.",
                    "provenance": "Screening programme CT exported from PACS, cancers from the pathology system.",
                    "subjects_count": 14,
                    "studies_count": 14,
                    "modalities": ["CT"],
                    "conditions": ["C34"],
                    "body_parts": ["CHEST"],
                    "birth_sexes": ["FEMALE", "MALE"],
                    "access_modes": ["DOWNLOAD"],
                    "manufacturers": ["GE Healthcare"],
                    "keywords": ["lung screening", "low-dose CT"],
                    "tier": 2,
                    "data_use": [{"code": "GENERAL_RESEARCH_USE", "parameters": {}}],
                },
            ),
        ],
    },
    "vilnius": {
        "site_name": "Vilnius imaging node",
        "holder": {
            "name": "Vilnius University Hospital Santaros Klinikos",
            "slug": "santaros",
            "country": "LT",
            "city": "Vilnius",
            "website": "https://www.santa.lt",
            "contact_email": "imaging-data@vilnius.demo.example",
            "rdo_email": "rdo@vilnius.demo.example",
        },
        "people": [
            ("steward@vilnius.demo.example", "Rūta Kazlauskienė", ("steward",)),
            ("rdo@vilnius.demo.example", "Tomas Petrauskas", ("rdo",)),
        ],
        "datasets": [
            (
                Cohort(
                    number=401,
                    pseudonym_prefix="VSK-",
                    source_uid_root=SOURCE_ROOT,
                    institution="Vilnius University Hospital Santaros Klinikos",
                    subjects=18,
                    studies=(1,),
                    series=(Series("MR_small.dcm", "MR"),),
                    body_parts=("BREAST",),
                    scanners=(("Philips", "Ingenia 1.5T"),),
                    sexes=("F",),
                    ages=(41, 77),
                    period=("2020-01-01", "2024-12-31"),
                    shift_days=23,
                ),
                {
                    "identifier": "LT-VSK-MR-BREAST-2020-2024",
                    "title": "Breast MRI of BRCA carriers under surveillance",
                    "description": "Annual surveillance breast MRI of BRCA1/2 carriers, with the cancers found.",
                    "provenance": "Hereditary cancer clinic; MRI from PACS, findings from the radiology reports.",
                    "subjects_count": 18,
                    "studies_count": 18,
                    "modalities": ["MR"],
                    "conditions": ["C50"],
                    "body_parts": ["BREAST"],
                    "birth_sexes": ["FEMALE"],
                    "access_modes": ["REMOTE_PROCESSING"],
                    "manufacturers": ["Philips"],
                    "keywords": ["BRCA", "surveillance", "breast MRI"],
                    "tier": 2,
                    "data_use": [{"code": "ETHICS_APPROVAL_REQUIRED", "parameters": {}}],
                },
            ),
        ],
    },
}


def load_partner_demo(key: str) -> dict:
    """The partner node `key`'s people, hospital and ingested datasets (idempotent)."""
    partner = PARTNERS[key]
    with transaction.atomic():
        people = {}
        for email, name, roles in partner["people"]:
            people[roles[0]] = User.objects.filter(email=email).first() or user_create(
                actor=ACTOR, email=email, full_name=name, password=DEMO_PASSWORD, roles=list(roles)
            )
        spec = partner["holder"]
        holder = DataHolder.objects.filter(slug=spec["slug"]).first() or data_holder_create(actor=ACTOR, **spec)
        data_holder_add_steward(actor=ACTOR, holder=holder, user=people["steward"])
    steward = people["steward"]
    datasets = [
        ingest_demo_dataset(fields, cohort, cohort_files(fields["identifier"], cohort), holder, steward, publish=True)
        for cohort, fields in partner["datasets"]
    ]
    return {"people": people, "holder": holder, "datasets": datasets}


REMOTE_TITLE = "Federated: {title}"


def apply_for_remote(identifier: str):
    """At a hub: the demo researcher applies for a partner node's dataset (harvested here), this
    node's committee approves it, every party signs (the Research Data Office for the partner's
    hospital) and the executed agreement issues the grant, whose events go to the partner's node.
    Made only through the services, as the main demo's grants are; once per dataset."""
    from django.utils import timezone

    from access_requests.demo import PROJECT, _fill, _Fit
    from access_requests.demo_grants import _approve, _execute
    from access_requests.models import Application
    from access_requests.services import applications as svc
    from catalogue.models import Dataset
    from portal.demo import load_committees, load_holders, load_people

    dataset = Dataset.objects.get(identifier=identifier, holder__node__isnull=False)
    with transaction.atomic():
        people = load_people()
        committees = load_committees(people, load_holders(people))
    researcher = people["researcher"]
    title = REMOTE_TITLE.format(title=dataset.title)[:300]
    found = Application.objects.filter(applicant=researcher, title=title).first()
    if found is not None:
        return found
    fit = _Fit(researcher.country)
    if not fit.admit(dataset):
        raise ValueError(f"The demo researcher cannot ask for {identifier}: its conditions of use exclude them.")
    application = svc.application_create(actor=researcher, title=title, datasets=[dataset])
    application = _fill(application, researcher, fit, people["signatory"], PROJECT, start=timezone.localdate())
    _approve(application, people, committees)
    _execute(application, people)
    return Application.objects.get(pk=application.pk)
