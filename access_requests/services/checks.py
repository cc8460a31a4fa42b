"""The submission check: everything missing or inconsistent, in one list, before submission.

Each problem names the section (so pages can put it beside the fields) and says what to do.
Submission is refused while the list is not empty. The data-use conditions (with their DUO
codes) of every requested dataset are matched against what the application states.
"""

from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from access_requests.models import Application, LegalStatement, Purpose, ResidualRisk, Section
from access_requests.services.applications import representations_covered_hash, team_emails
from catalogue.models import DatasetStatus


@dataclass(frozen=True)
class Problem:
    section: str
    message: str
    field: str = ""
    code: str = ""

    def as_dict(self) -> dict:
        return {"section": self.section, "field": self.field, "code": self.code, "message": self.message}


def _required(application: Application) -> list[Problem]:
    labels = {
        "title": "a title",
        "lay_summary": "a lay summary",
        "scientific_description": "a scientific description",
        "timeline": "a timeline",
        "intended_use": "the intended use of the data",
        "organisation": "your organisation",
        "organisation_country": "your organisation's country",
    }
    problems = [
        Problem(Section.OVERVIEW, f"Give {label}.", field, "required")
        for field, label in labels.items()
        if not str(getattr(application, field) or "").strip()
    ]
    if not application.access_start:
        problems.append(Problem(Section.OVERVIEW, "Give the start of the access period.", "access_start", "required"))
    elif application.access_start < timezone.localdate() and application.submission_count == 0:
        problems.append(
            Problem(Section.OVERVIEW, "The access period cannot start in the past.", "access_start", "past")
        )
    if application.access_months > settings.ACCESS_MAX_MONTHS:
        problems.append(
            Problem(
                Section.OVERVIEW,
                f"The access period is at most {settings.ACCESS_MAX_MONTHS} months.",
                "access_months",
                "too_long",
            )
        )
    if application.purpose == Purpose.DISEASE_SPECIFIC_RESEARCH and not application.purpose_conditions.exists():
        problems.append(
            Problem(
                Section.OVERVIEW,
                "Disease-specific research must name the conditions studied.",
                "purpose_conditions",
                "required",
            )
        )
    if application.ai_algorithms.strip() and len(application.ai_assessment or {}) < 6:
        problems.append(
            Problem(
                Section.AI,
                "You train AI algorithms: answer every question of the AI self-assessment.",
                "ai_assessment",
                "required",
            )
        )
    if application.mdr_applicable and not application.mdr_notes.strip():
        problems.append(
            Problem(
                Section.AI, "Explain how the work complies with the Medical Device Regulation.", "mdr_notes", "required"
            )
        )
    return problems


def _datasets(application: Application, requested) -> list[Problem]:
    if not requested:
        return [Problem(Section.DATASETS, "Request at least one dataset.", "datasets", "required")]
    problems = []
    for item in requested:
        dataset = item.dataset
        if dataset.status != DatasetStatus.PUBLISHED:
            problems.append(
                Problem(
                    Section.DATASETS,
                    f"{dataset.identifier} is no longer published: remove it.",
                    "datasets",
                    "unpublished",
                )
            )
        if not item.justification.strip():
            problems.append(
                Problem(Section.DATASETS, f"Justify why you need {dataset.identifier}.", "justification", "required")
            )
        modes = {term.code for term in dataset.access_modes.all()}
        if modes and application.access_mode not in modes:
            problems.append(
                Problem(
                    Section.DATASETS,
                    f"{dataset.identifier} does not offer {application.get_access_mode_display().lower()} access.",
                    "access_mode",
                    "access_mode",
                )
            )
    return problems


def _ethics(application: Application, requested, approvals) -> list[Problem]:
    if not approvals:
        return [Problem(Section.ETHICS, "Add at least one ethics approval with its document.", "ethics", "required")]
    problems = []
    end = application.access_end
    for approval in approvals:
        if end and approval.expires_on < end:
            problems.append(
                Problem(
                    Section.ETHICS,
                    f"Ethics approval {approval.reference} expires on {approval.expires_on:%Y-%m-%d}, before the "
                    f"access period ends on {end:%Y-%m-%d}: shorten the period or add a renewed approval.",
                    "expires_on",
                    "ethics_expires",
                )
            )
    covered = {item.pk for approval in approvals for item in approval.datasets.all()}
    for item in requested:
        if item.pk not in covered:
            problems.append(
                Problem(
                    Section.ETHICS, f"No ethics approval covers {item.dataset.identifier}.", "datasets", "uncovered"
                )
            )
    return problems


def _dpia(application: Application) -> list[Problem]:
    dpia = application.dpia
    risks = list(dpia.risks.all())
    problems = []
    checks = [
        (not dpia.data_categories, "Name the categories of data processed.", "data_categories"),
        (
            not dpia.processing_description.strip(),
            "Describe where and how the data will be processed.",
            "processing_description",
        ),
        (not risks, "Assess at least one risk, with its likelihood and severity.", "risks"),
        (any(not r.mitigation.strip() for r in risks), "Give a mitigation for every risk.", "risks"),
        (not dpia.residual_risk, "State the residual risk after mitigation.", "residual_risk"),
        (
            not dpia.dpo_name.strip() or not dpia.dpo_consulted_on,
            "Name the data-protection officer consulted and when.",
            "dpo_name",
        ),
        (not dpia.conclusion.strip(), "Give the DPIA's conclusion.", "conclusion"),
    ]
    problems += [Problem(Section.DPIA, message, field, "required") for failed, message, field in checks if failed]
    if dpia.residual_risk == ResidualRisk.HIGH:
        problems.append(
            Problem(
                Section.DPIA,
                "The residual risk is high. Under GDPR Article 36 the controller must consult the supervisory "
                "authority before processing: reduce the risk with further mitigations, or obtain and attach the "
                "authority's prior-consultation opinion and reassess, before you submit.",
                "residual_risk",
                "prior_consultation",
            )
        )
    return problems


def _representations(application: Application) -> list[Problem]:
    reps = application.representations
    problems = [
        Problem(Section.REPRESENTATIONS, message, field, "required")
        for field, message in (
            ("institution_legal_name", "Give your institution's legal name."),
            ("signatory_name", "Name the institution's signatory."),
            ("signatory_role", "Give the signatory's role."),
            ("signatory_email", "Give the signatory's e-mail address."),
        )
        if not getattr(reps, field).strip()
    ]
    if problems:
        return problems  # the signatory is asked once the institution and the signatory are named
    if reps.signatory_email.strip().lower() in team_emails(application):
        message = "The signatory signs for the institution and cannot be on the application's team: name another."
        return [Problem(Section.REPRESENTATIONS, message, "signatory_email", "signatory_on_team")]
    # Only acceptances by the named signatory, of exactly what the application now says, count.
    covered = representations_covered_hash(application)
    signatory = reps.signatory_email.strip().lower()
    accepted = {
        a.statement
        for a in application.statement_acceptances.filter(voided_at__isnull=True).select_related("accepted_by")
        if a.accepted_by.email.lower() == signatory and a.covered_sha256 == covered
    }
    problems += [
        Problem(
            Section.REPRESENTATIONS,
            f"Not yet accepted by the signatory: “{statement.label}”",
            statement.value,
            "statement",
        )
        for statement in LegalStatement
        if statement.value not in accepted
    ]
    return problems


def _duo_rule(application: Application, item, condition, covered_ids, purpose_codes: set[str]) -> str | None:
    """The reason a data-use condition is not met, or None."""
    code, params = condition.term.code, condition.parameters or {}
    purpose = application.purpose
    rules = {
        "ETHICS_APPROVAL_REQUIRED": lambda: (
            None if item.pk in covered_ids else "requires an ethics (IRB) approval covering it"
        ),
        "NOT_FOR_PROFIT_NON_COMMERCIAL_USE_ONLY": lambda: (
            None
            if not application.commercial_use and application.organisation_not_for_profit
            else "is for not-for-profit, non-commercial use only"
        ),
        "NON_COMMERCIAL_USE_ONLY": lambda: None if not application.commercial_use else "is for non-commercial use only",
        "NOT_FOR_PROFIT_ORGANISATION_USE_ONLY": lambda: (
            None if application.organisation_not_for_profit else "is for not-for-profit organisations only"
        ),
        "GEOGRAPHICAL_RESTRICTION": lambda: (
            None
            if application.organisation_country in params.get("countries", [])
            else f"may be used only by institutions in {', '.join(params.get('countries', [])) or 'named countries'}, "
            f"not {application.organisation_country or 'an unstated country'}"
        ),
        "DISEASE_SPECIFIC_RESEARCH": lambda: (
            None
            if purpose == Purpose.DISEASE_SPECIFIC_RESEARCH
            and purpose_codes
            and purpose_codes <= set(params.get("conditions", []))
            else f"is for research on {', '.join(params.get('conditions', [])) or 'specific diseases'} only: state "
            "disease-specific research on those conditions"
        ),
        "TIME_LIMIT_ON_USE": lambda: (
            None
            if not params.get("months") or application.access_months <= int(params["months"])
            else f"may be used for at most {params['months']} months"
        ),
        "NO_GENERAL_METHODS_RESEARCH": lambda: (
            None if not application.methods_development else "may not be used to develop general methods"
        ),
        "HEALTH_MEDICAL_BIOMEDICAL_RESEARCH": lambda: (
            None
            if purpose
            in (
                Purpose.HEALTH_MEDICAL_BIOMEDICAL_RESEARCH,
                Purpose.DISEASE_SPECIFIC_RESEARCH,
                Purpose.CLINICAL_CARE_USE,
            )
            else "is for health, medical or biomedical research only"
        ),
        "POPULATION_ORIGINS_ANCESTRY_RESEARCH_PROHIBITED": lambda: (
            None
            if purpose != Purpose.POPULATION_ORIGINS_ANCESTRY_RESEARCH
            else "may not be used for population origins or ancestry research"
        ),
        "POPULATION_ORIGINS_ANCESTRY_RESEARCH_ONLY": lambda: (
            None
            if purpose == Purpose.POPULATION_ORIGINS_ANCESTRY_RESEARCH
            else "is for population origins or ancestry research only"
        ),
        "INSTITUTION_SPECIFIC_RESTRICTION": lambda: (
            None
            if application.organisation.strip().lower() in {i.lower() for i in params.get("institutions", [])}
            or not params.get("institutions")
            else f"may be used only by {', '.join(params.get('institutions', []))}"
        ),
    }
    rule = rules.get(code)
    return rule() if rule else None


def _data_use(application: Application, requested, approvals) -> list[Problem]:
    covered = {item.pk for approval in approvals for item in approval.datasets.all()}
    purpose_codes = {t.code for t in application.purpose_conditions.all()}
    problems = []
    for item in requested:
        for condition in item.dataset.use_conditions.all():
            reason = _duo_rule(application, item, condition, covered, purpose_codes)
            if reason:
                problems.append(
                    Problem(
                        Section.DATASETS,
                        f"{item.dataset.identifier} {reason} ({condition.term.code}, {condition.term.external_code}).",
                        "datasets",
                        f"duo:{condition.term.code}",
                    )
                )
    return problems


def application_check(application: Application) -> list[Problem]:
    """Every reason the application cannot be submitted as it stands; empty when it can."""
    requested = list(
        application.requested.select_related("dataset").prefetch_related(
            "dataset__access_modes", "dataset__use_conditions__term"
        )
    )
    approvals = list(application.ethics_approvals.prefetch_related("datasets"))
    return [
        *_required(application),
        *_datasets(application, requested),
        *_data_use(application, requested, approvals),
        *_ethics(application, requested, approvals),
        *_dpia(application),
        *_representations(application),
    ]
