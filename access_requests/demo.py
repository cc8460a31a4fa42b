"""Demo applications in each state this capability brings, created only through the services so
every rule, audit event and notification applies: a draft, a submitted application with a
thread, one returned with comments per section, one resubmitted after a return and forwarded
to the demo committee (so the RDO's change view has something to show), and a withdrawn one.

Idempotent: an application is looked up by its title and applicant and never created twice.
"""

from datetime import date, timedelta
from html import escape

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from access_requests.models import Application, DataCategory, LegalStatement, Purpose, ResidualRisk
from access_requests.services import applications as svc
from access_requests.services import transitions as tr
from access_requests.services.checks import application_check
from access_requests.services.messages import message_post
from catalogue.models import Dataset, DatasetStatus

DATASETS_PER_APPLICATION = 2
CHECKLIST_DONE = {"ethics_verified": True, "dpia_reviewed": True, "representations_checked": True}

# key: (title, state)
PLAN = {
    "draft": "Mammographic density and interval cancers",
    "submitted": "Radiomics of prostate MRI for grading",
    "returned": "Lung nodule growth on follow-up CT",
    "forwarded": "AI triage of screening mammograms",
    "withdrawn": "Background enhancement on breast MRI",
}

# Conditions the demo application can meet whatever the dataset (the others are handled below).
_ALWAYS_MET = {
    "ETHICS_APPROVAL_REQUIRED",
    "NOT_FOR_PROFIT_NON_COMMERCIAL_USE_ONLY",
    "NON_COMMERCIAL_USE_ONLY",
    "NOT_FOR_PROFIT_ORGANISATION_USE_ONLY",
    "HEALTH_MEDICAL_BIOMEDICAL_RESEARCH",
    "POPULATION_ORIGINS_ANCESTRY_RESEARCH_PROHIBITED",
    "NO_GENERAL_METHODS_RESEARCH",
    "GENERAL_RESEARCH_USE",
    "NO_RESTRICTION",
    "PUBLICATION_REQUIRED",
    "COLLABORATION_REQUIRED",
    "PUBLICATION_MORATORIUM",
    "RETURN_TO_DATABASE_OR_RESOURCE",
    "RESEARCH_SPECIFIC_RESTRICTIONS",
    "PROJECT_SPECIFIC_RESTRICTION",
    "USER_SPECIFIC_RESTRICTION",
}


def demo_pdf(title: str, lines: list[str]) -> bytes:
    """A small real PDF document (WeasyPrint, the portal's PDF renderer)."""
    from weasyprint import HTML

    body = "".join(f"<p>{escape(line)}</p>" for line in lines)
    html = (
        "<html><head><style>@page { size: A4; margin: 2cm; } body { font-family: 'DejaVu Sans', sans-serif; }"
        f"</style></head><body><h1>{escape(title)}</h1>{body}<p><em>Demo document.</em></p></body></html>"
    )
    return HTML(string=html).write_pdf()


class _Fit:
    """What the datasets chosen so far allow: access modes and, for disease-specific ones, conditions."""

    def __init__(self, country: str):
        self.country = country
        self.modes = {"DOWNLOAD", "IN_SITU_PROCESSING"}
        self.diseases: set[str] | None = None

    def admit(self, dataset: Dataset) -> bool:
        modes = {t.code for t in dataset.access_modes.all()} or set(self.modes)
        modes &= self.modes
        diseases = self.diseases
        for condition in dataset.use_conditions.all():
            code, params = condition.term.code, condition.parameters or {}
            if code == "GEOGRAPHICAL_RESTRICTION" and self.country not in params.get("countries", []):
                return False
            if code == "TIME_LIMIT_ON_USE" and int(params.get("months") or 12) < 12:
                return False
            if code == "DISEASE_SPECIFIC_RESEARCH":
                wanted = set(params.get("conditions", []))
                diseases = wanted if diseases is None else diseases & wanted
            elif code not in _ALWAYS_MET | {"GEOGRAPHICAL_RESTRICTION", "TIME_LIMIT_ON_USE"}:
                return False
        if not modes or diseases == set():
            return False
        self.modes, self.diseases = modes, diseases
        return True

    def project(self) -> dict:
        if self.diseases:
            return {"purpose": Purpose.DISEASE_SPECIFIC_RESEARCH, "purpose_conditions": sorted(self.diseases)}
        return {"purpose": Purpose.HEALTH_MEDICAL_BIOMEDICAL_RESEARCH}

    def mode(self, dataset: Dataset) -> str:
        """The access mode asked for: the one the chosen datasets share, download first."""
        offered = {t.code for t in dataset.access_modes.all()} or set(self.modes)
        return sorted(offered & self.modes or offered)[0]


def _candidates(datasets: dict | None) -> list[Dataset]:
    given = [d for d in (datasets or {}).values() if isinstance(d, Dataset) and d.status == DatasetStatus.PUBLISHED]
    chosen = given or list(Dataset.objects.filter(status=DatasetStatus.PUBLISHED).order_by("holder__name", "pk"))
    return sorted(chosen, key=lambda d: (d.holder_id, d.pk))


def _choose(candidates: list[Dataset], offset: int, country: str) -> tuple[list[Dataset], _Fit]:
    fit = _Fit(country)
    chosen = []
    for dataset in candidates[offset:] + candidates[:offset]:
        if fit.admit(dataset):
            chosen.append(dataset)
        if len(chosen) == DATASETS_PER_APPLICATION:
            break
    return chosen, fit


def _upload(name: str, title: str, lines: list[str]) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, demo_pdf(title, lines), content_type="application/pdf")


# The project's own words and answers; the AI triage application speaks of AI and answers its questions.
PROJECT = {
    "lay_summary": "We study which image features help radiologists find cancer earlier and more fairly.",
    "scientific_description": "A retrospective multi-centre study of anonymised imaging studies.",
    "timeline": "Months 1-4 curation; 5-10 measurement; 11-12 analysis and publication.",
    "intended_use": "Measure image features and relate them to outcomes; no attempt to identify anyone.",
    "methods_development": False,
    "commercial_use": False,
    "uses_ai": False,
}
AI_PROJECT = {
    **PROJECT,
    "lay_summary": "We test whether an AI program can sort screening mammograms so that radiologists read the "
    "most suspicious ones first.",
    "scientific_description": "A retrospective study of a deep-learning triage model on anonymised screening "
    "mammograms, validated on another site's data.",
    "timeline": "Months 1-4 curation; 5-10 model development; 11-12 validation and publication.",
    "intended_use": "Train and validate a deep-learning triage model; no attempt to identify anyone.",
    "uses_ai": True,
    "ai_algorithms": "A convolutional neural network that scores each mammogram for suspicion of cancer.",
    "ai_assessment": {
        "human_oversight": "yes",
        "robustness": "yes",
        "bias": "yes",
        "transparency": "yes",
        "privacy": "no",
        "accountability": "yes",
    },
}
MAMMOGRAPHY = "MG"  # DICOM modality code


def _mammography(candidates: list[Dataset]) -> list[Dataset]:
    return [d for d in candidates if any(t.code == MAMMOGRAPHY for t in d.modalities.all())]


def _fill(
    application: Application,
    actor,
    fit: _Fit,
    signatory,
    project: dict = PROJECT,
    *,
    start: date | None = None,
    ethics_from: date | None = None,
) -> Application:
    """Every section, so that the submission check passes; the institution's signatory accepts the
    statements from the link they are sent, as a signatory does. The access period starts in three
    weeks unless `start` says when; the ethics approval was given 40 days ago unless `ethics_from` says."""
    start = start or timezone.localdate() + timedelta(days=21)
    svc.application_update(
        actor=actor,
        application=application,
        data={
            **project,
            "access_start": start,
            "access_months": 12,
            "organisation_not_for_profit": True,
            **fit.project(),
        },
    )
    svc.application_set_datasets(
        actor=actor,
        application=application,
        requested={
            item.dataset: {
                "justification": f"{item.dataset.title} gives the cases the study needs.",
                "access_mode": fit.mode(item.dataset),
            }
            for item in application.requested.select_related("dataset")
        },
    )
    reference = f"REC-{application.reference[3:]}"
    svc.ethics_approval_add(
        actor=actor,
        application=application,
        committee_name=f"{application.organisation or 'University'} Research Ethics Committee",
        reference=reference,
        approved_on=ethics_from or timezone.localdate() - timedelta(days=40),
        expires_on=start + timedelta(days=800),
        covered_ids=list(application.requested.values_list("pk", flat=True)),
        document=_upload(
            "ethics-approval.pdf",
            f"Ethics approval {reference}",
            [f"Project: {application.title}", "The committee approves the project as described."],
        ),
    )
    svc.dpia_update(
        actor=actor,
        application=application,
        data={
            "data_categories": [DataCategory.IMAGES, DataCategory.IMAGE_METADATA, DataCategory.DEMOGRAPHIC],
            "processing_description": "On the university's access-controlled research cluster, encrypted at rest.",
            "residual_risk": ResidualRisk.LOW,
            "dpo_name": "Dana Protection",
            "dpo_consulted_on": timezone.localdate() - timedelta(days=5),
            "conclusion": "The processing may proceed with the mitigations listed.",
        },
        document=_upload("dpia.pdf", "Data-protection impact assessment", [application.title]),
    )
    svc.dpia_risk_add(
        actor=actor,
        application=application,
        description="Re-identification from residual DICOM header fields",
        likelihood=1,
        severity=3,
        mitigation="Headers are stripped again on arrival and checked against the anonymisation profile.",
    )
    svc.representations_update(
        actor=actor,
        application=application,
        data={
            "institution_legal_name": application.organisation or "University",
            "signatory_name": signatory.full_name,
            "signatory_role": "Vice-rector for research",
            "signatory_email": signatory.email,
        },
    )
    reps = svc.representations_request_signature(actor=actor, application=application)
    svc.representations_accept(
        actor=signatory,
        reps=reps,
        statements=LegalStatement.values,
        covered_sha256=svc.representations_covered_hash(application),
    )
    application = Application.objects.get(pk=application.pk)  # the services changed their own locked copies
    problems = application_check(application)
    if problems:
        raise RuntimeError(f"demo application {application.title!r} is incomplete: {[p.message for p in problems]}")
    return application


def _submitted(application, people):
    application = tr.application_submit(actor=people["researcher"], application=application)
    message_post(
        actor=people["rdo"],
        application=application,
        body="Does the ethics approval cover the use of the images for AI training?",
    )
    message_post(
        actor=people["rdo"], application=application, body="Check the DPO's date against the minutes.", internal=True
    )
    return application


def _returned(application, people):
    tr.application_submit(actor=people["researcher"], application=application)
    return tr.application_return(
        actor=people["rdo"],
        application=application,
        comments={
            "overview": "Say how the results will be validated on another site's data.",
            "ethics": "The approval letter does not name the federation's datasets: ask the committee to confirm.",
            "dpia": "Add the risk of linkage with other data sets and its mitigation.",
        },
    )


def _forwarded(application, people, committee):
    applicant, rdo = people["researcher"], people["rdo"]
    if "researcher2" in people:
        # Joining is an invitation that the invited researcher accepts.
        invitation = svc.team_member_add(actor=applicant, application=application, email=people["researcher2"].email)
        svc.team_invitation_accept(actor=people["researcher2"], member=invitation)
    tr.application_submit(actor=applicant, application=application)
    tr.application_return(
        actor=rdo, application=application, comments={"dpia": "Name the office of the data-protection officer."}
    )
    svc.dpia_update(actor=applicant, application=application, data={"dpo_name": "Dana Protection, DPO office"})
    tr.application_submit(actor=applicant, application=application)
    tr.rdo_checklist_update(actor=rdo, application=application, data={**CHECKLIST_DONE, "notes": "Complete."})
    return tr.application_forward(actor=rdo, application=application, committee=committee)


def _withdrawn(application, people):
    tr.application_submit(actor=people["researcher"], application=application)
    return tr.application_withdraw(
        actor=people["researcher"], application=application, reason="The project lost its funding."
    )


def load_applications(*, people: dict, datasets: dict, committee) -> dict[str, Application]:
    """Create (or find) one demo application per state; returns them by state key.

    Needs published datasets (from the catalogue step, or any published in the database);
    without them there is nothing to apply for and it returns an empty dict.
    """
    applicant = people["researcher"]
    candidates = _candidates(datasets)
    if not candidates:
        return {}
    steps = {
        "submitted": lambda a: _submitted(a, people),
        "returned": lambda a: _returned(a, people),
        "forwarded": lambda a: _forwarded(a, people, committee),
        "withdrawn": lambda a: _withdrawn(a, people),
    }
    result = {}
    for offset, (key, title) in enumerate(PLAN.items()):
        existing = Application.objects.filter(title=title, applicant=applicant).first()
        if existing is not None:
            result[key] = existing
            continue
        chosen, fit = [], None
        if key == "forwarded":  # AI triage of screening mammograms asks for mammography datasets
            chosen, fit = _choose(_mammography(candidates), 0, applicant.country)
        if not chosen:
            chosen, fit = _choose(candidates, offset % len(candidates), applicant.country)
        if not chosen:
            return result
        application = svc.application_create(actor=applicant, title=title, datasets=chosen)
        if key == "draft":
            svc.application_update(actor=applicant, application=application, data=fit.project())
            result[key] = application
            continue
        project = AI_PROJECT if key == "forwarded" else PROJECT
        result[key] = steps[key](_fill(application, applicant, fit, people["signatory"], project))
    return result
