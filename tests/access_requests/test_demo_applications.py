"""The demo applications: one per state, made through the services, created only once."""

from pathlib import Path

from django.conf import settings

from access_requests.demo import load_applications
from access_requests.models import Application, ApplicationStatus
from access_requests.services.applications import AI_QUESTIONS
from access_requests.services.transitions import application_resubmit_changes
from portal.demo import load_committee, load_holders, load_people
from portal.models import AuditEvent
from portal.services.audit import audit_verify
from tests.access_requests.conftest import make_dataset


def _demo_world():
    people = load_people()
    holders = load_holders(people)
    committee = load_committee(people)
    datasets = {
        "riga": make_dataset(
            holders["riga"],
            "LV-DEMO-MG",
            conditions=("C50",),
            modalities=("MG",),
            use=[("ETHICS_APPROVAL_REQUIRED", {}), ("GEOGRAPHICAL_RESTRICTION", {"countries": ["LV", "EE"]})],
        ),
        "valencia": make_dataset(
            holders["valencia"], "ES-DEMO-MR", use=[("DISEASE_SPECIFIC_RESEARCH", {"conditions": ["C50"]})]
        ),
        "spain_only": make_dataset(
            holders["valencia"], "ES-ONLY-CT", use=[("GEOGRAPHICAL_RESTRICTION", {"countries": ["ES"]})]
        ),
    }
    return people, committee, datasets


def test_the_demo_has_an_application_in_each_state_and_a_second_run_adds_nothing(
    db, django_capture_on_commit_callbacks
):
    people, committee, datasets = _demo_world()
    with django_capture_on_commit_callbacks(execute=True):  # documents are stored when their upload commits
        applications = load_applications(people=people, datasets=datasets, committee=committee)

    assert {key: a.status for key, a in applications.items()} == {
        "draft": ApplicationStatus.DRAFT,
        "submitted": ApplicationStatus.SUBMITTED,
        "returned": ApplicationStatus.RETURNED,
        "forwarded": ApplicationStatus.IN_REVIEW,
        "withdrawn": ApplicationStatus.WITHDRAWN,
    }
    assert applications["returned"].return_comments.count() == 3
    forwarded = applications["forwarded"]
    assert forwarded.committee == committee
    assert [c.field for c in application_resubmit_changes(forwarded)] == ["DPO consulted"]
    # the AI triage of screening mammograms asks for mammography and answers its AI questions
    assert forwarded.title == "AI triage of screening mammograms"
    assert [item.dataset.identifier for item in forwarded.requested.all()] == ["LV-DEMO-MG"]
    assert forwarded.uses_ai is True and forwarded.ai_algorithms
    assert set(forwarded.ai_assessment) == {key for key, _ in AI_QUESTIONS}
    assert all(a.uses_ai is False for k, a in applications.items() if k not in ("draft", "forwarded"))
    assert applications["submitted"].messages.filter(internal=True).count() == 1
    requested = set(Application.objects.values_list("requested__dataset__identifier", flat=True))
    assert "ES-ONLY-CT" not in requested  # its condition excludes a Latvian applicant
    for approval in forwarded.ethics_approvals.all():
        assert (Path(settings.DOCUMENT_STORAGE_ROOT) / approval.document_path).read_bytes().startswith(b"%PDF-")

    counts = (Application.objects.count(), AuditEvent.objects.count())
    again = load_applications(people=people, datasets=datasets, committee=committee)
    assert {k: a.pk for k, a in again.items()} == {k: a.pk for k, a in applications.items()}
    assert (Application.objects.count(), AuditEvent.objects.count()) == counts
    assert audit_verify().ok


def test_without_published_datasets_the_demo_creates_no_application(db):
    people = load_people()
    committee = load_committee(people)
    assert load_applications(people=people, datasets={}, committee=committee) == {}
    assert not Application.objects.exists()
