"""The submission check, one blocking rule at a time.

Each test starts from an application that passes, breaks exactly one thing, and asserts that
exactly that problem appears and that submission is refused with it, changing nothing.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from access_requests.models import Application, LegalStatement, Purpose, ResidualRisk, StatementAcceptance
from access_requests.services import applications as svc
from access_requests.services.checks import ai_mentions, application_check
from access_requests.services.transitions import application_submit
from catalogue.models import Term, Vocabulary
from portal.errors import InvalidInput
from tests.access_requests.conftest import (
    AI_ANSWERS,
    complete,
    frozen,
    make_dataset,
    pdf_upload,
    signatory_person,
    signatory_signs,
)


def signatory_signs_again(application, actor) -> None:
    """A change to what the statements cover voids the signatory's acceptances (tests/access_requests/
    test_signatory.py): here the signatory signs the changed application again, so that each test sees
    exactly the one problem it made. Not when the signatory is not fully named (that is the problem)."""
    reps = application.representations
    if not all(getattr(reps, f) for f in ("institution_legal_name", "signatory_name", "signatory_email")):
        return
    svc._signature_void_if_changed(actor="system:test", application=application)  # rows changed under the services
    voided = application.statement_acceptances.filter(voided_at__isnull=False).exists()
    standing = application.statement_acceptances.filter(voided_at__isnull=True).exists()
    if voided and not standing:
        reps = svc.representations_request_signature(actor=actor, application=application)
        svc.representations_accept(
            actor=signatory_person(),
            reps=reps,
            statements=LegalStatement.values,
            covered_sha256=svc.representations_covered_hash(application),
        )


def assert_refused_with(application, actor, expected: list[tuple[str, str]]) -> list:
    """Exactly `expected` (field, code) problems, and a submission refused with their messages."""
    application.refresh_from_db()
    signatory_signs_again(application, actor)
    problems = application_check(application)
    assert [(p.field, p.code) for p in problems] == expected
    before = frozen(application)
    with pytest.raises(InvalidInput) as refused:
        application_submit(actor=actor, application=application)
    assert refused.value.fields == {"check": [p.message for p in problems]}
    assert frozen(application) == before
    return problems


def test_the_complete_application_passes_and_is_submitted(ready, alice):
    assert application_check(ready) == []
    assert application_submit(actor=alice, application=ready).status == "submitted"


# --- required fields ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "field",
    ["lay_summary", "scientific_description", "timeline", "intended_use", "organisation", "organisation_country"],
)
def test_it_refuses_a_submission_missing_a_required_field(field, ready, alice):
    svc.application_update(actor=alice, application=ready, data={field: ""})
    [problem] = assert_refused_with(ready, alice, [(field, "required")])
    assert problem.section == "overview"


def test_it_refuses_a_submission_without_an_access_start(ready, alice):
    svc.application_update(actor=alice, application=ready, data={"access_start": None})
    assert_refused_with(ready, alice, [("access_start", "required")])


def test_it_refuses_a_first_submission_whose_access_starts_in_the_past(ready, alice):
    svc.application_update(
        actor=alice, application=ready, data={"access_start": timezone.localdate() - timedelta(days=1)}
    )
    assert_refused_with(ready, alice, [("access_start", "past")])


def test_it_refuses_developing_ai_without_the_whole_ai_self_assessment(ready, alice):
    answers = {**AI_ANSWERS}
    del answers["bias"]
    svc.application_update(actor=alice, application=ready, data={"ai_assessment": answers})
    [problem] = assert_refused_with(ready, alice, [("ai_assessment", "required")])
    assert problem.section == "ai"
    assert "1 of 6 not answered" in problem.message


# --- answers the applicant gives (none is given for them) ---------------------------------


def test_a_new_application_starts_with_no_answer_given_and_the_check_asks_for_each(draft):
    assert (draft.purpose, draft.methods_development, draft.commercial_use, draft.uses_ai) == ("", None, None, None)
    asked = {(p.section, p.field, p.code) for p in application_check(draft)}
    assert {
        ("overview", "purpose", "required"),
        ("overview", "methods_development", "required"),
        ("overview", "commercial_use", "required"),
        ("ai", "uses_ai", "required"),
    } <= asked


@pytest.mark.parametrize(
    ("field", "unanswered", "message"),
    [
        ("purpose", "", "Choose the research purpose."),
        ("methods_development", None, "Answer whether the project develops general methods or algorithms."),
        ("commercial_use", None, "Answer whether the data or results will be used commercially."),
    ],
)
def test_it_refuses_a_submission_missing_a_project_answer(field, unanswered, message, ready, alice):
    svc.application_update(actor=alice, application=ready, data={field: unanswered})
    [problem] = assert_refused_with(ready, alice, [(field, "required")])
    assert (problem.section, problem.message) == ("overview", message)


def test_no_counts_as_an_answer(ready, alice):
    svc.application_update(actor=alice, application=ready, data={"methods_development": False, "commercial_use": False})
    ready.refresh_from_db()
    assert application_check(ready) == []


def test_the_ai_question_must_be_answered_and_the_check_says_where_the_application_speaks_of_ai(ready, alice):
    svc.application_update(
        actor=alice,
        application=ready,
        data={"uses_ai": None, "lay_summary": "A deep-learning model reads the mammograms first."},
    )
    [problem] = assert_refused_with(ready, alice, [("uses_ai", "required")])
    assert problem.section == "ai"
    assert problem.message == (
        "Your title and lay summary speak of “AI” and “deep-learning”: answer “Does the project develop or use AI?”"
    )


def test_the_ai_question_is_asked_of_an_application_that_does_not_speak_of_ai_too(ready, alice):
    svc.application_update(actor=alice, application=ready, data={"uses_ai": None, "title": "Breast density"})
    [problem] = assert_refused_with(ready, alice, [("uses_ai", "required")])
    assert problem.message == "Answer “Does the project develop or use AI?”"


def test_answering_yes_asks_for_the_algorithms(ready, alice):
    svc.application_update(actor=alice, application=ready, data={"ai_algorithms": ""})
    [problem] = assert_refused_with(ready, alice, [("ai_algorithms", "required")])
    assert problem.section == "ai"


NO_AI = {"uses_ai": False, "ai_algorithms": "", "ai_assessment": {}}


def test_an_application_speaking_of_ai_cannot_answer_no_silently(ready, alice):
    svc.application_update(actor=alice, application=ready, data=NO_AI)
    [problem] = assert_refused_with(ready, alice, [("ai_not_used_reason", "ai_confirm")])
    assert problem.section == "ai"
    assert problem.message.startswith("Your title speaks of “AI”, but you answered that the project does not")
    assert "say in a sentence why the project uses no AI" in problem.message


@pytest.mark.parametrize(
    "answer",
    [
        {"ai_not_used_reason": "AI is only the subject of our survey of radiologists; we train and use none."},
        {"uses_ai": True, "ai_algorithms": "A U-Net for density.", "ai_assessment": AI_ANSWERS},
    ],
    ids=["no-with-a-reason", "yes-with-the-assessment"],
)
def test_the_ai_confirmation_is_cleared_by_a_reason_or_by_answering_yes(answer, ready, alice):
    svc.application_update(actor=alice, application=ready, data=NO_AI)
    svc.application_update(actor=alice, application=ready, data=answer)
    ready.refresh_from_db()
    assert application_check(ready) == []


def test_a_blank_reason_is_no_reason(ready, alice):
    svc.application_update(actor=alice, application=ready, data={**NO_AI, "ai_not_used_reason": "   "})
    ready.refresh_from_db()
    assert ready.ai_not_used_reason == ""
    assert_refused_with(ready, alice, [("ai_not_used_reason", "ai_confirm")])


def test_a_project_whose_words_do_not_speak_of_ai_may_simply_answer_no(ready, alice):
    svc.application_update(actor=alice, application=ready, data={**NO_AI, "title": "Breast density"})
    signatory_signs_again(ready, alice)  # the title is part of what the signatory signed
    ready.refresh_from_db()
    assert application_check(ready) == []


def test_naming_ai_algorithms_while_answering_no_is_a_contradiction_no_reason_clears(ready, alice):
    svc.application_update(
        actor=alice,
        application=ready,
        data={"uses_ai": False, "ai_assessment": {}, "ai_not_used_reason": "We only look at the images."},
    )
    [problem] = assert_refused_with(ready, alice, [("uses_ai", "ai_contradiction")])
    assert "You name AI algorithms" in problem.message


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("AI triage of screening mammograms", ["AI"]),
        ("Training AIs", ["AIs"]),
        ("Artificial Intelligence in screening", ["Artificial Intelligence"]),
        ("A machine-learning model and machine learning", ["machine-learning", "machine learning"]),
        ("Deep learning on CT", ["Deep learning"]),
        ("Convolutional neural networks", ["neural networks"]),
        ("A neural net", ["neural net"]),
        ("ML for grading", ["ML"]),
        ("MLO and CC views of 10 ml contrast", []),
        ("Maintaining the archive", []),
        ("Radiomics of prostate MRI", []),
    ],
)
def test_what_counts_as_speaking_of_ai(text, words):
    assert ai_mentions(Application(title=text)) == ({"title": words} if words else {})


def test_it_refuses_work_under_the_medical_device_regulation_without_notes(ready, alice):
    svc.application_update(actor=alice, application=ready, data={"mdr_applicable": True})
    assert_refused_with(ready, alice, [("mdr_notes", "required")])


def test_it_refuses_a_dataset_without_a_justification(ready, alice, dataset):
    svc.application_set_datasets(actor=alice, application=ready, requested={dataset: "  "})
    assert_refused_with(ready, alice, [("justification", "required")])


# --- access period ------------------------------------------------------------------------


def test_it_refuses_an_access_period_over_the_configured_maximum(ready, alice, settings):
    """The maximum was lowered after the application was written: the check catches it."""
    settings.ACCESS_MAX_MONTHS = 6
    [problem] = assert_refused_with(ready, alice, [("access_months", "too_long")])
    assert "at most 6 months" in problem.message


def test_it_refuses_to_set_an_access_period_over_the_maximum(ready, alice, settings):
    with pytest.raises(InvalidInput) as refused:
        svc.application_update(actor=alice, application=ready, data={"access_months": settings.ACCESS_MAX_MONTHS + 1})
    assert "access_months" in refused.value.fields
    ready.refresh_from_db()
    assert ready.access_months == 12


# --- ethics -------------------------------------------------------------------------------


def test_it_refuses_an_ethics_approval_expiring_before_the_access_period_ends(alice, dataset):
    start = timezone.localdate() + timedelta(days=7)
    application = svc.application_create(actor=alice, title="Short approval", datasets=[dataset])
    complete(application, alice, start=start, months=12, expires=start + timedelta(days=200))
    [problem] = assert_refused_with(application, alice, [("expires_on", "ethics_expires")])
    assert "REC-2026-17" in problem.message
    assert f"{application.access_end:%Y-%m-%d}" in problem.message


def test_it_refuses_a_dataset_no_ethics_approval_covers(ready, alice, dataset, holder):
    extra = make_dataset(holder, "LV-CT-003")
    svc.application_set_datasets(
        actor=alice, application=ready, requested={dataset: "For training.", extra: "For validation."}
    )
    [problem] = assert_refused_with(ready, alice, [("datasets", "uncovered")])
    assert problem.message == "No ethics approval covers LV-CT-003."


def test_it_refuses_a_submission_without_any_ethics_approval(ready, alice):
    svc.ethics_approval_remove(actor=alice, application=ready, approval=ready.ethics_approvals.get())
    # the dataset's ETHICS_APPROVAL_REQUIRED condition is unmet too: the same missing approval
    assert_refused_with(ready, alice, [("datasets", "duo:ETHICS_APPROVAL_REQUIRED"), ("ethics", "required")])


# --- data-use conditions (GA4GH DUO) ------------------------------------------------------


def test_it_refuses_a_dataset_requiring_irb_approval_that_no_approval_covers(ready, alice):
    """The `dataset` fixture carries ETHICS_APPROVAL_REQUIRED (DUO:0000021)."""
    svc.ethics_approval_remove(actor=alice, application=ready, approval=ready.ethics_approvals.get())
    svc.ethics_approval_add(
        actor=alice,
        application=ready,
        committee_name="UL Research Ethics Committee",
        reference="REC-2026-18",
        approved_on=timezone.localdate() - timedelta(days=1),
        expires_on=timezone.localdate() + timedelta(days=3 * 365),
        covered_ids=[],
        document=pdf_upload(),
    )
    problems = assert_refused_with(
        ready, alice, [("datasets", "duo:ETHICS_APPROVAL_REQUIRED"), ("datasets", "uncovered")]
    )
    assert "requires an ethics (IRB) approval covering it" in problems[0].message
    assert "DUO:0000021" in problems[0].message


DUO_CASES = [
    # (condition, parameters, what makes it pass, what breaks it, words of the refusal)
    ("NOT_FOR_PROFIT_NON_COMMERCIAL_USE_ONLY", {}, {}, {"commercial_use": True}, "not-for-profit, non-commercial"),
    (
        "NOT_FOR_PROFIT_NON_COMMERCIAL_USE_ONLY",
        {},
        {},
        {"organisation_not_for_profit": False},
        "not-for-profit, non-commercial",
    ),
    ("NON_COMMERCIAL_USE_ONLY", {}, {}, {"commercial_use": True}, "non-commercial use only"),
    ("NOT_FOR_PROFIT_ORGANISATION_USE_ONLY", {}, {}, {"organisation_not_for_profit": False}, "not-for-profit"),
    (
        "GEOGRAPHICAL_RESTRICTION",
        {"countries": ["LV", "EE"]},
        {},
        {"organisation_country": "DE"},
        "only by institutions in LV, EE, not DE",
    ),
    (
        "DISEASE_SPECIFIC_RESEARCH",
        {"conditions": ["C50"]},
        {"purpose": Purpose.DISEASE_SPECIFIC_RESEARCH, "purpose_conditions": ["C50"]},
        {"purpose_conditions": ["C61"]},
        "research on C50 only",
    ),
    (
        "DISEASE_SPECIFIC_RESEARCH",
        {"conditions": ["C50"]},
        {"purpose": Purpose.DISEASE_SPECIFIC_RESEARCH, "purpose_conditions": ["C50"]},
        {"purpose": Purpose.HEALTH_MEDICAL_BIOMEDICAL_RESEARCH},
        "research on C50 only",
    ),
    ("TIME_LIMIT_ON_USE", {"months": 12}, {}, {"access_months": 13}, "at most 12 months"),
    ("NO_GENERAL_METHODS_RESEARCH", {}, {}, {"methods_development": True}, "develop general methods"),
    (
        "HEALTH_MEDICAL_BIOMEDICAL_RESEARCH",
        {},
        {},
        {"purpose": Purpose.GENERAL_RESEARCH_USE},
        "health, medical or biomedical research only",
    ),
]


@pytest.mark.parametrize(
    ("condition", "parameters", "passing", "breaking", "words"),
    DUO_CASES,
    ids=[f"{c[0]}-{next(iter(c[3]))}" for c in DUO_CASES],
)
def test_it_refuses_an_application_that_does_not_meet_a_data_use_condition(
    condition, parameters, passing, breaking, words, alice, holder
):
    restricted = make_dataset(holder, "LV-MG-DUO", conditions=("C50",), use=[(condition, parameters)])
    application = svc.application_create(actor=alice, title="Conditions", datasets=[restricted])
    complete(application, alice)
    if passing:
        svc.application_update(actor=alice, application=application, data=passing)
    application.refresh_from_db()
    assert application_check(application) == []
    svc.application_update(actor=alice, application=application, data=breaking)
    [problem] = assert_refused_with(application, alice, [("datasets", f"duo:{condition}")])
    assert problem.message.startswith("LV-MG-DUO ")
    assert words in problem.message
    assert problem.section == "datasets"


def test_disease_specific_research_must_name_its_conditions(ready, alice):
    svc.application_update(actor=alice, application=ready, data={"purpose": Purpose.DISEASE_SPECIFIC_RESEARCH})
    assert_refused_with(ready, alice, [("purpose_conditions", "required")])


# --- DPIA ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"data_categories": []}, "data_categories"),
        ({"processing_description": ""}, "processing_description"),
        ({"residual_risk": ""}, "residual_risk"),
        ({"dpo_name": ""}, "dpo_name"),
        ({"dpo_consulted_on": None}, "dpo_name"),
        ({"conclusion": ""}, "conclusion"),
    ],
)
def test_it_refuses_an_incomplete_dpia(change, field, ready, alice):
    svc.dpia_update(actor=alice, application=ready, data=change)
    [problem] = assert_refused_with(ready, alice, [(field, "required")])
    assert problem.section == "dpia"


def test_it_refuses_a_dpia_without_any_risk_assessed(ready, alice):
    svc.dpia_risk_remove(actor=alice, application=ready, risk=ready.dpia.risks.get())
    [problem] = assert_refused_with(ready, alice, [("risks", "required")])
    assert "likelihood and severity" in problem.message


def test_it_refuses_a_dpia_risk_without_a_mitigation(ready, alice):
    svc.dpia_risk_add(
        actor=alice, application=ready, description="Loss of a laptop", likelihood=2, severity=2, mitigation=""
    )
    [problem] = assert_refused_with(ready, alice, [("risks", "required")])
    assert problem.message == "Give a mitigation for every risk."


def test_a_residual_high_risk_blocks_submission_and_explains_prior_consultation(ready, alice):
    svc.dpia_update(actor=alice, application=ready, data={"residual_risk": ResidualRisk.HIGH})
    [problem] = assert_refused_with(ready, alice, [("residual_risk", "prior_consultation")])
    assert "GDPR Article 36" in problem.message
    assert "consult the supervisory authority before processing" in problem.message
    assert "prior-consultation" in problem.message


# --- legal representations ----------------------------------------------------------------


@pytest.mark.parametrize("field", ["institution_legal_name", "signatory_name", "signatory_role", "signatory_email"])
def test_it_refuses_missing_representations(field, ready, alice):
    svc.representations_update(actor=alice, application=ready, data={field: ""})
    [problem] = assert_refused_with(ready, alice, [(field, "required")])
    assert problem.section == "representations"


@pytest.mark.parametrize("statement", LegalStatement.values)
def test_it_refuses_each_statement_not_accepted(statement, ready, alice):
    StatementAcceptance.objects.filter(application=ready, statement=statement).delete()
    [problem] = assert_refused_with(ready, alice, [(statement, "statement")])
    assert LegalStatement(statement).label in problem.message


def test_accepting_the_missing_statement_clears_the_problem_and_records_who_and_when(ready, alice):
    StatementAcceptance.objects.filter(application=ready, statement=LegalStatement.BREACH_NOTICE).delete()
    signatory_signs(ready, alice, statements=[LegalStatement.BREACH_NOTICE])
    acceptance = StatementAcceptance.objects.get(application=ready, statement=LegalStatement.BREACH_NOTICE)
    assert (acceptance.accepted_by.email, acceptance.text) == ("signer@uni.example", LegalStatement.BREACH_NOTICE.label)
    assert application_check(ready) == []


# --- datasets and access modes ------------------------------------------------------------


def test_it_refuses_an_access_mode_the_dataset_does_not_offer(ready, alice, dataset):
    # the dataset's holder no longer offers the mode chosen (download)
    dataset.access_modes.set(Term.objects.filter(vocabulary=Vocabulary.ACCESS_MODE, code="IN_SITU_PROCESSING"))
    assert_refused_with(ready, alice, [("access_mode", "access_mode")])


def test_it_refuses_an_application_without_datasets(ready, alice):
    # the services refuse to empty the list (tests/api/test_contract.py); rows from before that rule may
    ready.requested.all().delete()
    assert_refused_with(ready, alice, [("datasets", "required")])
