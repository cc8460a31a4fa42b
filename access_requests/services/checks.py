"""The submission check: everything missing or inconsistent, in one list, before submission.

Each problem names the section (so pages can put it beside the fields) and says what to do.
Submission is refused while the list is not empty. The data-use conditions (with their DUO
codes) of every requested dataset are matched against what the application states.
"""

import re
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.utils import timezone

from access_requests.models import Application, EthicsApproval, LegalStatement, Purpose, ResidualRisk, Section
from access_requests.services.applications import AI_QUESTIONS, representations_covered_hash, team_emails
from catalogue.models import DatasetStatus

ONE_DAY = timedelta(days=1)


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
    if not application.purpose:
        problems.append(Problem(Section.OVERVIEW, "Choose the research purpose.", "purpose", "required"))
    if application.purpose == Purpose.DISEASE_SPECIFIC_RESEARCH and not application.purpose_conditions.exists():
        problems.append(
            Problem(
                Section.OVERVIEW,
                "Disease-specific research must name the conditions studied.",
                "purpose_conditions",
                "required",
            )
        )
    if application.methods_development is None:
        problems.append(
            Problem(
                Section.OVERVIEW,
                "Answer whether the project develops general methods or algorithms.",
                "methods_development",
                "required",
            )
        )
    if application.commercial_use is None:
        problems.append(
            Problem(
                Section.OVERVIEW,
                "Answer whether the data or results will be used commercially.",
                "commercial_use",
                "required",
            )
        )
    return problems


# What counts as speaking of AI: the abbreviations in capitals only (so neither the "ai" of another
# language nor "ml" for millilitres), the spelled-out terms in any case.
AI_WORDS = re.compile(
    r"\b(?:AI|ML)s?\b"
    r"|(?i:\bartificial[\s-]+intelligence|\bmachine[\s-]+learning|\bdeep[\s-]+learning|\bneural[\s-]+net(?:work)?s?\b)"
)
AI_TEXTS = {
    "title": "title",
    "lay_summary": "lay summary",
    "scientific_description": "scientific description",
    "intended_use": "intended use",
    "timeline": "timeline",
}
AI_QUESTION = "Does the project develop or use AI?"


def ai_mentions(application: Application) -> dict[str, list[str]]:
    """Where the application's own words speak of AI: field label -> the words found there, in order."""
    found = {}
    for field, label in AI_TEXTS.items():
        words = list(dict.fromkeys(m.group(0) for m in AI_WORDS.finditer(getattr(application, field) or "")))
        if words:
            found[label] = words
    return found


def _words(items: list[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _ai(application: Application) -> list[Problem]:
    """The AI and medical-device answers.

    The applicant answers explicitly whether the project develops or uses AI (`uses_ai`, unanswered
    until then). Yes asks for the algorithms and every question of the self-assessment. No cannot be
    given silently by an application whose title or descriptions speak of AI (the words of AI_WORDS):
    it stays a problem until the applicant answers yes, or keeps no and says in a sentence why the
    project uses no AI (`ai_not_used_reason`, e.g. "AI is only the subject of a survey of
    radiologists"), which the RDO then reads. Naming AI algorithms while answering no is a
    contradiction that no reason clears.
    """
    problems = []
    mentions = ai_mentions(application)
    spoken = (
        f"Your {_words(list(mentions))} speak{'s' if len(mentions) == 1 else ''} of "
        f"{_words([f'“{w}”' for w in dict.fromkeys(w for ws in mentions.values() for w in ws)])}"
        if mentions
        else ""
    )
    if application.uses_ai is None:
        message = f"{spoken}: answer “{AI_QUESTION}”" if spoken else f"Answer “{AI_QUESTION}”"
        problems.append(Problem(Section.AI, message, "uses_ai", "required"))
    elif application.uses_ai:
        if not application.ai_algorithms.strip():
            problems.append(
                Problem(
                    Section.AI,
                    "The project develops or uses AI: name the AI algorithms it trains, validates or uses.",
                    "ai_algorithms",
                    "required",
                )
            )
        unanswered = [key for key, _ in AI_QUESTIONS if key not in (application.ai_assessment or {})]
        if unanswered:
            problems.append(
                Problem(
                    Section.AI,
                    "The project develops or uses AI: answer every question of the AI self-assessment "
                    f"({len(unanswered)} of {len(AI_QUESTIONS)} not answered).",
                    "ai_assessment",
                    "required",
                )
            )
    else:
        if application.ai_algorithms.strip():
            problems.append(
                Problem(
                    Section.AI,
                    "You name AI algorithms but answered that the project does not develop or use AI: answer yes "
                    "and complete the AI self-assessment, or remove the algorithms.",
                    "uses_ai",
                    "ai_contradiction",
                )
            )
        elif spoken and not application.ai_not_used_reason.strip():
            problems.append(
                Problem(
                    Section.AI,
                    f"{spoken}, but you answered that the project does not develop or use AI: answer yes and "
                    "complete the AI self-assessment, or say in a sentence why the project uses no AI.",
                    "ai_not_used_reason",
                    "ai_confirm",
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
        offered = list(dataset.access_modes.all())
        if item.access_mode is None:
            problems.append(
                Problem(
                    Section.DATASETS,
                    f"Choose how you will use {dataset.identifier} (its access mode).",
                    "access_mode",
                    "required",
                )
            )
        elif offered and item.access_mode not in offered:
            problems.append(
                Problem(
                    Section.DATASETS,
                    f"{dataset.identifier} is not offered for {item.access_mode.label.lower()}: choose "
                    f"{' or '.join(t.label.lower() for t in offered)}.",
                    "access_mode",
                    "access_mode",
                )
            )
    return problems


def uncovered_spans(first: date, last: date, periods) -> list[tuple[date, date]]:
    """The spans of the days from `first` to `last` that none of `periods` covers, in order.

    Every span is inclusive at both ends, like the periods ((start, end) pairs): a period ending
    on 30 June and the next starting on 1 July leave no gap; starting on 2 July leaves 1 July.
    """
    spans = []
    cursor = first  # the first day not yet known to be covered
    for start, end in sorted(periods):
        if cursor > last:
            break
        if start > cursor:
            spans.append((cursor, min(start - ONE_DAY, last)))
        cursor = max(cursor, end + ONE_DAY)
    if cursor <= last:
        spans.append((cursor, last))
    return spans


def _days(first: date, last: date) -> str:
    return f"on {first:%Y-%m-%d}" if first == last else f"from {first:%Y-%m-%d} to {last:%Y-%m-%d}"


def _gap(identifier: str, first: date, last: date, start: date, end: date, covering: list) -> Problem:
    """A problem naming the dataset, the days no approval covers, and the approvals on either side."""
    those = "that day" if first == last else "those days"
    before = max((a for a in covering if a.expires_on == first - ONE_DAY), key=lambda a: a.pk, default=None)
    after = min((a for a in covering if a.approved_on == last + ONE_DAY), key=lambda a: a.pk, default=None)
    opening = f"No ethics approval covers {identifier} {_days(first, last)}"
    if before and after:
        return Problem(
            Section.ETHICS,
            f"{opening}, between {before.reference}, which expires on {before.expires_on:%Y-%m-%d}, and "
            f"{after.reference}, which starts on {after.approved_on:%Y-%m-%d}: add an approval covering {those}.",
            "expires_on",
            "ethics_gap",
        )
    if before:
        return Problem(
            Section.ETHICS,
            f"{opening}: ethics approval {before.reference} expires on {before.expires_on:%Y-%m-%d}, before the "
            f"access period ends on {end:%Y-%m-%d}. Add a renewed approval covering {those}, or shorten "
            "the access period.",
            "expires_on",
            "ethics_expires",
        )
    if after:
        return Problem(
            Section.ETHICS,
            f"{opening}: the access period starts on {start:%Y-%m-%d}, but ethics approval {after.reference} "
            f"was given only on {after.approved_on:%Y-%m-%d}. Add an approval covering {those}, or start the "
            "access period later.",
            "approved_on",
            "ethics_gap",
        )
    references = _words([a.reference for a in covering])
    return Problem(
        Section.ETHICS,
        f"{opening}, the whole access period: ethics approval{'s' if len(covering) > 1 else ''} {references} "
        f"{'are' if len(covering) > 1 else 'is'} not valid then. Add an approval valid for the access period.",
        "expires_on",
        "ethics_expires",
    )


def _ethics(application: Application, requested, approvals: list[EthicsApproval]) -> list[Problem]:
    """Per requested dataset, the approvals covering it must together cover every day of the access
    period (`Application.access_end`, inclusive): an approval expiring early is no problem when a
    renewal covers the days after it, and a day between two approvals is one."""
    if not approvals:
        return [Problem(Section.ETHICS, "Add at least one ethics approval with its document.", "ethics", "required")]
    problems = []
    start, end = application.access_start, application.access_end
    for item in requested:
        covering = [a for a in approvals if any(d.pk == item.pk for d in a.datasets.all())]
        identifier = item.dataset.identifier
        if not covering:
            problems.append(
                Problem(Section.ETHICS, f"No ethics approval covers {identifier}.", "datasets", "uncovered")
            )
            continue
        if start is None:  # no period to measure against; its own problem asks for the start
            continue
        periods = [(a.approved_on, a.expires_on) for a in covering]
        problems += [
            _gap(identifier, first, last, start, end, covering) for first, last in uncovered_spans(start, end, periods)
        ]
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
                        f"{item.dataset.identifier} {reason} ({condition.term.label}, {condition.term.external_code}).",
                        "datasets",
                        f"duo:{condition.term.code}",
                    )
                )
    return problems


def application_check(application: Application) -> list[Problem]:
    """Every reason the application cannot be submitted as it stands; empty when it can."""
    requested = list(
        application.requested.select_related("dataset", "access_mode").prefetch_related(
            "dataset__access_modes", "dataset__use_conditions__term"
        )
    )
    approvals = list(application.ethics_approvals.prefetch_related("datasets"))
    return [
        *_required(application),
        *_ai(application),
        *_datasets(application, requested),
        *_data_use(application, requested, approvals),
        *_ethics(application, requested, approvals),
        *_dpia(application),
        *_representations(application),
    ]
