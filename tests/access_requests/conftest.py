"""Fixtures for access applications: published datasets, a PDF, a complete application."""

import io
from datetime import date, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from pypdf import PdfWriter

from access_requests.models import DataCategory, LegalStatement, Purpose, ResidualRisk
from access_requests.services import applications as svc
from catalogue.models import Dataset, DatasetStatus, DataUseCondition, Term, Vocabulary


def make_dataset(
    holder,
    identifier: str,
    *,
    conditions=(),
    modes=("DOWNLOAD",),
    use=(),
    status=DatasetStatus.PUBLISHED,
    modalities=(),
):
    """A dataset set up directly (tests only; the product goes through catalogue.services)."""
    dataset = Dataset.objects.create(
        identifier=identifier,
        title=f"Dataset {identifier}",
        description="Anonymised images.",
        holder=holder,
        status=status,
        subjects_count=100,
        studies_count=120,
        published_at=timezone.now(),
    )
    dataset.conditions.set(Term.objects.filter(vocabulary=Vocabulary.CONDITION, code__in=conditions))
    dataset.access_modes.set(Term.objects.filter(vocabulary=Vocabulary.ACCESS_MODE, code__in=modes))
    dataset.modalities.set(Term.objects.filter(vocabulary=Vocabulary.MODALITY, code__in=modalities))
    for code, parameters in use:
        DataUseCondition.objects.create(
            dataset=dataset, term=Term.objects.get(vocabulary=Vocabulary.DATA_USE, code=code), parameters=parameters
        )
    return dataset


def pdf_bytes(pages: int = 1) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def pdf_upload(name: str = "approval.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, pdf_bytes(), content_type="application/pdf")


@pytest.fixture
def dataset(holder):
    return make_dataset(holder, "LV-MG-001", conditions=("C50",), use=[("ETHICS_APPROVAL_REQUIRED", {})])


@pytest.fixture
def other_dataset(other_holder):
    return make_dataset(other_holder, "ES-MR-002", conditions=("C61",))


@pytest.fixture
def draft(alice, dataset):
    """Alice's fresh draft requesting `dataset`."""
    return svc.application_create(actor=alice, title="Breast density and AI", datasets=[dataset])


# Every question of the AI self-assessment answered (the draft's title speaks of AI).
AI_ANSWERS = {key: "yes" for key, _ in svc.AI_QUESTIONS}


def complete(
    application, actor, *, start: date | None = None, months: int = 12, expires: date | None = None, signatory=None
):
    """Fill every section so that the submission check passes."""
    start = start or timezone.localdate() + timedelta(days=7)
    svc.application_update(
        actor=actor,
        application=application,
        data={
            "lay_summary": "We teach a computer to spot breast cancer earlier.",
            "scientific_description": "A retrospective study of mammography screening images.",
            "timeline": "Months 1-6 curation, 7-12 training and validation.",
            "intended_use": "Train and validate a detection model.",
            "purpose": Purpose.HEALTH_MEDICAL_BIOMEDICAL_RESEARCH,
            "methods_development": False,
            "commercial_use": False,
            "uses_ai": True,
            "ai_algorithms": "A convolutional network that flags suspicious lesions.",
            "ai_assessment": AI_ANSWERS,
            "access_start": start,
            "access_months": months,
            "organisation": "University of Latvia",
            "organisation_country": "LV",
        },
    )
    svc.application_set_datasets(
        actor=actor,
        application=application,
        requested={
            item.dataset: {"justification": "Needed for training.", "access_mode": _mode_chosen(item)}
            for item in application.requested.select_related("dataset", "access_mode")
        },
    )
    svc.ethics_approval_add(
        actor=actor,
        application=application,
        committee_name="UL Research Ethics Committee",
        reference="REC-2026-17",
        approved_on=timezone.localdate() - timedelta(days=30),
        expires_on=expires or start + timedelta(days=31 * months + 60),
        covered_ids=list(application.requested.values_list("pk", flat=True)),
        document=pdf_upload(),
    )
    svc.dpia_update(
        actor=actor,
        application=application,
        data={
            "data_categories": [DataCategory.IMAGES, DataCategory.CLINICAL],
            "processing_description": "On the university's secured research cluster.",
            "residual_risk": ResidualRisk.LOW,
            "dpo_name": "Dana Protection",
            "dpo_consulted_on": timezone.localdate(),
            "conclusion": "Processing may proceed.",
        },
    )
    svc.dpia_risk_add(
        actor=actor,
        application=application,
        description="Re-identification from image headers",
        likelihood=1,
        severity=3,
        mitigation="Headers are stripped and verified.",
    )
    signatory_signs(application, actor, signatory=signatory)
    application.refresh_from_db()
    return application


SIGNATORY_EMAIL = "signer@uni.example"


def signatory_person():
    """The University of Latvia's signatory: an account with a proved address and no researcher role."""
    from portal.models import User
    from tests.conftest import _person

    return User.objects.filter(email=SIGNATORY_EMAIL).first() or _person(SIGNATORY_EMAIL, "Dr. Vera Signer")


def signatory_signs(application, actor, *, signatory=None, statements=None):
    """Name the signatory, ask them to sign, and have them accept the statements (through the services)."""
    signatory = signatory or signatory_person()
    svc.representations_update(
        actor=actor,
        application=application,
        data={
            "institution_legal_name": "University of Latvia",
            "signatory_name": signatory.full_name,
            "signatory_role": "Vice-rector for research",
            "signatory_email": signatory.email,
        },
    )
    reps = svc.representations_request_signature(actor=actor, application=application)
    return svc.representations_accept(
        actor=signatory,
        reps=reps,
        statements=list(statements or LegalStatement.values),
        covered_sha256=svc.representations_covered_hash(application),
    )


def _mode_chosen(item) -> str | None:
    """The requested dataset's access mode, else the first (by code) the dataset offers."""
    if item.access_mode is not None:
        return item.access_mode.code
    offered = sorted(term.code for term in item.dataset.access_modes.all())
    return offered[0] if offered else None


@pytest.fixture
def ready(draft, alice):
    """Alice's draft with every section complete."""
    return complete(draft, alice)


# --- applications in each state, and what a refused action must leave unchanged -------------

CHECKLIST_DONE = {"ethics_verified": True, "dpia_reviewed": True, "representations_checked": True}


def frozen(application) -> dict:
    """Everything a refused action must leave as it was."""
    from access_requests.models import Application, RdoChecklist, ReturnComment, Submission
    from portal.models import AuditEvent, OutboxEmail

    row = Application.objects.get(pk=application.pk)
    return {
        "status": row.status,
        "submission_count": row.submission_count,
        "committee": row.committee_id,
        "submitted_at": row.submitted_at,
        "audit_events": AuditEvent.objects.exclude(verb="access.refused").count(),  # a refusal is recorded
        "outbox": OutboxEmail.objects.count(),
        "return_comments": ReturnComment.objects.filter(application=row).count(),
        "submissions": Submission.objects.filter(application=row).count(),
        "checklists": RdoChecklist.objects.filter(application=row).count(),
    }


def bring_to(status, application, *, applicant, rdo, committee):
    """Take a complete draft to `status` through the services; states whose steps come in later issues
    (approved, rejected, active, closed, revoked) are set on the row after a forward."""
    from access_requests.models import Application, ApplicationStatus
    from access_requests.services import transitions as tr

    if status == ApplicationStatus.DRAFT:
        return application
    if status == ApplicationStatus.WITHDRAWN:
        return tr.application_withdraw(actor=applicant, application=application, reason="Test.")
    tr.application_submit(actor=applicant, application=application)
    if status == ApplicationStatus.RETURNED:
        tr.application_return(actor=rdo, application=application, comments={"dpia": "Name the DPO's office."})
    elif status != ApplicationStatus.SUBMITTED:
        tr.rdo_checklist_update(actor=rdo, application=application, data=CHECKLIST_DONE)
        tr.application_forward(actor=rdo, application=application, committee=committee)
        if status != ApplicationStatus.IN_REVIEW:
            Application.objects.filter(pk=application.pk).update(status=status)
    return Application.objects.get(pk=application.pk)


@pytest.fixture
def submitted(ready, alice):
    from access_requests.services.transitions import application_submit

    return application_submit(actor=alice, application=ready)


@pytest.fixture
def returned(submitted, rdo):
    from access_requests.services.transitions import application_return

    return application_return(actor=rdo, application=submitted, comments={"dpia": "Name the DPO's office."})


@pytest.fixture
def forwardable(submitted, rdo):
    """Submitted, with the RDO's checklist complete."""
    from access_requests.services.transitions import rdo_checklist_update

    rdo_checklist_update(actor=rdo, application=submitted, data=CHECKLIST_DONE)
    return submitted


@pytest.fixture
def in_review(forwardable, rdo, committee, chair, member):
    from access_requests.services.transitions import application_forward

    return application_forward(actor=rdo, application=forwardable, committee=committee)


@pytest.fixture
def member2(committee):
    """A second ordinary member: with the chair and `member`, a committee of three voters."""
    from access_requests.services.committees import committee_add_member
    from tests.conftest import _person

    user = _person("member2@committee.example", "Mia Second")
    committee_add_member(actor="system:test", committee=committee, user=user)
    return user


@pytest.fixture
def round1(in_review, member2):
    """The review round that forwarding `in_review` opened, with `member2` on the committee."""
    from access_requests.models import ReviewRound

    return ReviewRound.objects.get(application=in_review, number=1)


@pytest.fixture
def team_of_two(draft, alice, bob):
    """Alice's draft with Bob on the team."""
    from tests.helpers import team_join

    team_join(application=draft, inviter=alice, user=bob, role="Radiologist")
    return draft


# --- an active application: executed agreement, grants issued ------------------------------------


def dataset_file_write(dataset, relative: str, content: bytes):
    """Put `content` in the dataset's holder storage and register it (tests only)."""
    import hashlib

    from django.conf import settings

    from catalogue.models import DatasetFile

    target = settings.DATASET_STORAGE_ROOT / dataset.holder.storage_area / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    return DatasetFile.objects.create(
        dataset=dataset,
        path=f"{dataset.holder.storage_area}/{relative}",
        size_bytes=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
    )


@pytest.fixture
def download_files(dataset):
    """Three real files of `dataset` (offered for download, anonymisation verified), of 200 KiB and more."""
    import os

    Dataset.objects.filter(pk=dataset.pk).update(
        anonymisation_profile="DICOM PS3.15 Basic Profile", anonymisation_verified_on=timezone.localdate()
    )
    dataset.refresh_from_db()
    return [dataset_file_write(dataset, f"mg/case-{n:03}.dcm", os.urandom(200 * 1024 + n * 4099)) for n in range(3)]


@pytest.fixture
def processing_dataset(other_holder):
    """A dataset offered only for processing where it lives (in situ)."""
    from catalogue.models import DataHolder

    DataHolder.objects.filter(pk=other_holder.pk).update(
        processing_environment="Valencia secure workspace: https://workspace.valencia.example, VPN required."
    )
    return make_dataset(other_holder, "ES-MR-PROC", conditions=("C50",), modes=("IN_SITU_PROCESSING",))


# An agreement's PDF, rendered once per test session for the `active` fixture (see there).
_AGREEMENT_PDFS: dict[str, bytes] = {}


@pytest.fixture
def _agreement_pdf_rendered_once(monkeypatch):
    """The grant tests need an executed agreement, not its wording: the first agreement of the session is
    rendered by WeasyPrint for real (and the executed one sealed for real every time), later ones reuse
    those bytes. The agreement's own tests (test_agreements.py) render every version afresh."""
    from access_requests.services import agreements as ag

    real = ag.pdf_render

    def render(template, context, *args, **kwargs):
        key = f"{template}{'+certificate' if context.get('certificate') else ''}"
        if key not in _AGREEMENT_PDFS:
            _AGREEMENT_PDFS[key] = real(template, context, *args, **kwargs)
        return _AGREEMENT_PDFS[key]

    monkeypatch.setattr(ag, "pdf_render", render)


def approved_with_agreement(application, *, applicant, rdo, committee, chair, voters, capture):
    """Complete `application` (access from today), submit, forward, approve by `voters`, then what the
    approval's commit starts, minus the decision letter (tests/access_requests/test_decision_letter.py
    covers it): create the agreement and render its first version, which is returned, awaiting signatures."""
    from access_requests.models import AgreementVersion
    from access_requests.services import agreements as ag
    from access_requests.services import review as rv
    from access_requests.services import transitions as tr

    complete(application, applicant, start=timezone.localdate())
    tr.application_submit(actor=applicant, application=application)
    tr.rdo_checklist_update(actor=rdo, application=application, data=CHECKLIST_DONE)
    tr.application_forward(actor=rdo, application=application, committee=committee)
    review_round = rv.current_round(application)
    for voter in voters:
        rv.vote_cast(actor=voter, review_round=review_round, choice="approve")
    with capture(execute=False):
        rv.round_decide(actor=chair, application=application, outcome="approved", rationale="Sound.", conditions="")
    agreement = ag.agreement_create(actor=ag.SYSTEM, application=application)
    version = AgreementVersion.objects.get(agreement=agreement, superseded_at__isnull=True)
    with capture(execute=False):
        return ag.agreement_version_render(version_id=version.pk)


@pytest.fixture
def active(
    _agreement_pdf_rendered_once,
    alice,
    dataset,
    download_files,
    processing_dataset,
    rdo,
    committee,
    chair,
    member,
    member2,
    steward,
    other_steward,
    django_capture_on_commit_callbacks,
):
    """Alice's application for `dataset` (download) and `processing_dataset` (in situ), access from
    today for 12 months: approved, its agreement signed by every party and executed, grants issued."""
    from access_requests.models import Application
    from access_requests.services import agreements as ag

    application = svc.application_create(
        actor=alice, title="Breast density and AI", datasets=[dataset, processing_dataset]
    )
    version = approved_with_agreement(
        application,
        applicant=alice,
        rdo=rdo,
        committee=committee,
        chair=chair,
        voters=[member, member2],
        capture=django_capture_on_commit_callbacks,
    )
    agreement = version.agreement
    for person in [signatory_person(), steward, other_steward, rdo]:
        with django_capture_on_commit_callbacks(execute=False):
            ag.agreement_sign(
                actor=person,
                version=version,
                typed_name=person.full_name,
                ip="192.0.2.10",
                user_agent="pytest browser",
                shown_sha256=version.sha256,
            )
    with django_capture_on_commit_callbacks(execute=True):
        ag.agreement_execute(agreement_id=agreement.pk)
    return Application.objects.get(pk=application.pk)


@pytest.fixture
def demo(db, monkeypatch):
    """The whole demo, loaded as `make demo` loads it, with the tasks its commits queue run.

    `make demo` commits each service's transaction and runs what it queued for after the commit (file
    scans, agreement rendering, the stored files' final names) at once, eagerly, before the next step.
    Inside the test's transaction nothing commits, so each such callback runs where it is queued: the
    next step sees its result, in the same order as in the demo (a scan that ran only at the end would
    change the files of datasets whose agreements were already signed)."""
    from django.db import transaction

    from portal.demo import load_demo

    with monkeypatch.context() as patch:
        patch.setattr(transaction, "on_commit", lambda func, using=None, robust=False: func())
        return load_demo()
