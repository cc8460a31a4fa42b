"""The demo's committees and the applications before them: made through the review services, each in
the state the README promises, and created only once."""

from datetime import timedelta

from django.utils import timezone

from access_requests import rules
from access_requests.models import (
    Application,
    ApplicationStatus,
    CommitteeAssignment,
    ConflictDeclaration,
    DatasetDecision,
    DecisionClockEvent,
    ReviewCheck,
    ReviewRound,
    Vote,
)
from access_requests.services.review import clock_for, current_round, default_committee_for, round_outcome
from portal.models import AuditEvent, OutboxEmail, Role
from portal.services.audit import audit_verify


def _emails(users) -> set[str]:
    return {user.email for user in users}


def test_the_demo_has_two_committees_with_their_rules_members_and_data_holders(demo):
    main, iberia = demo["committees"]["main"], demo["committees"]["iberia"]
    assert demo["committee"] == main
    assert main.decision_rule == rules.MAJORITY and main.quorum == 2
    assert iberia.decision_rule == rules.OBJECTION_WINDOW and iberia.objection_days == 5
    assert main.memberships.get(role="chair").user.email == "chair@demo.example"
    assert _emails(m.user for m in main.memberships.filter(role="member")) == {
        "member1@demo.example",
        "member2@demo.example",
        "member3@demo.example",
    }
    assert iberia.memberships.get(role="chair").user.email == "chair.iberia@demo.example"
    assert all(m.user.has_role(Role.COMMITTEE) for c in (main, iberia) for m in c.memberships.all())
    assigned = dict(CommitteeAssignment.objects.values_list("holder__slug", "committee__name"))
    assert assigned == {"riga-east": main.name, "la-fe": iberia.name}


def test_a_round_is_in_progress_with_votes_checks_and_a_recused_member(demo):
    application = demo["reviews"]["voting"]
    people = demo["people"]
    assert application.status == ApplicationStatus.IN_REVIEW
    assert application.committee == demo["committees"]["main"]
    rnd = current_round(application)
    assert rnd.is_open and rnd.number == 1
    conflict = ConflictDeclaration.objects.get(round=rnd)
    assert (conflict.member, conflict.automatic) == (people["member2"], False) and conflict.reason
    votes = {v.member.email: v for v in Vote.objects.filter(round=rnd)}
    assert {email: v.choice for email, v in votes.items()} == {
        "member1@demo.example": "approve",
        "member3@demo.example": "abstain",
    }
    assert votes["member3@demo.example"].rationale
    checks = {(c.member.email, c.kind) for c in ReviewCheck.objects.filter(round=rnd)}
    assert checks == {("member1@demo.example", "legal"), ("member3@demo.example", "technical")}
    verdict = round_outcome(rnd)
    assert (verdict.counts["recused"], verdict.counts["voted"]) == (1, 2)
    assert verdict.approval_allowed  # the chair may decide: the majority rule is met


def test_the_objection_window_committee_has_an_application_in_review(demo):
    application = demo["reviews"]["window"]
    iberia = demo["committees"]["iberia"]
    assert application.status == ApplicationStatus.IN_REVIEW
    assert application.committee == iberia == default_committee_for(application)
    assert {item.dataset.holder.slug for item in application.requested.select_related("dataset__holder")} == {"la-fe"}
    rnd = current_round(application)
    assert rnd.is_open and rnd.committee == iberia
    verdict = round_outcome(rnd)
    assert not verdict.met and verdict.detail == "The objection window is still open."


def test_an_extended_clock_started_weeks_ago(demo):
    application = demo["reviews"]["extended"]
    assert application.status == ApplicationStatus.IN_REVIEW
    extension = DecisionClockEvent.objects.get(application=application, kind="extend")
    assert extension.months == 2 and extension.reason and extension.actor == demo["people"]["chair"]
    start = DecisionClockEvent.objects.get(application=application, kind="start")
    now = timezone.now()
    assert start.at < now - timedelta(weeks=9) < extension.at
    state = clock_for(application)
    assert state.running and state.extended and not state.overdue
    assert state.due_at > now + timedelta(weeks=8)
    rnd = current_round(application)
    assert rnd.opened_at == start.at and rnd.voting_deadline < now
    assert all(rnd.opened_at < v.cast_at < rnd.voting_deadline for v in rnd.votes.all())


def test_the_decided_applications_show_each_outcome_and_their_dataset_decisions(demo):
    reviews = demo["reviews"]
    approved, partial, rejected = reviews["approved"], reviews["partial"], reviews["rejected"]
    # approved, and active since its agreement was executed (access_requests/demo_agreements.py)
    assert approved.status == ApplicationStatus.ACTIVE
    rounds = list(ReviewRound.objects.filter(application=approved).order_by("number"))
    assert [(r.number, r.outcome, r.submission_number) for r in rounds] == [(1, "returned", 1), (2, "approved", 2)]
    assert rounds[1].conditions and rounds[1].decided_by == demo["people"]["chair"]
    assert not rounds[1].dataset_decisions.exists()  # approved as a whole

    assert partial.status == ApplicationStatus.APPROVED
    assert len({item.dataset.holder_id for item in partial.requested.select_related("dataset")}) == 2
    decisions = {
        d.requested.dataset.holder.slug: d
        for d in DatasetDecision.objects.filter(round__application=partial).select_related("requested__dataset__holder")
    }
    assert set(decisions) == {"riga-east", "la-fe"}
    assert decisions["riga-east"].approved and not decisions["la-fe"].approved and decisions["la-fe"].reason
    assert current_round(partial).conditions

    assert rejected.status == ApplicationStatus.REJECTED
    assert current_round(rejected).outcome == "rejected" and current_round(rejected).rationale
    # no decided round lacks a clock stop; earlier demo applications are still there
    for application in (approved, partial, rejected):
        assert clock_for(application).stopped
    assert {k: a.status for k, a in demo["applications"].items()} == {
        "draft": ApplicationStatus.DRAFT,
        "submitted": ApplicationStatus.SUBMITTED,
        "returned": ApplicationStatus.RETURNED,
        "forwarded": ApplicationStatus.IN_REVIEW,
        "withdrawn": ApplicationStatus.WITHDRAWN,
    }


def test_loading_the_demo_again_creates_nothing(demo, django_capture_on_commit_callbacks):
    from portal.demo import load_demo

    models = (Application, ReviewRound, Vote, ReviewCheck, ConflictDeclaration, DecisionClockEvent, AuditEvent)
    counts = [m.objects.count() for m in models] + [OutboxEmail.objects.count()]
    with django_capture_on_commit_callbacks(execute=True):
        again = load_demo()
    assert {k: a.pk for k, a in again["reviews"].items()} == {k: a.pk for k, a in demo["reviews"].items()}
    assert [m.objects.count() for m in models] + [OutboxEmail.objects.count()] == counts
    assert audit_verify().ok
