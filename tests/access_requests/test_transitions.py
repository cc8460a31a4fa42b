"""The application's state machine: every transition allowed and refused, and what each leaves behind."""

import pytest

from access_requests.models import ApplicationStatus, RdoChecklist, ReturnComment, Submission
from access_requests.services import transitions as tr
from access_requests.services.grants import application_close, application_revoke
from access_requests.services.transitions import TRANSITIONS
from portal.errors import NotPermitted, TransitionError
from portal.models import OutboxEmail
from portal.services.audit import audit_verify
from tests.access_requests.conftest import CHECKLIST_DONE, bring_to, frozen
from tests.helpers import last_event

S = ApplicationStatus


DECISIONS = {"decide_approve": "approved", "decide_reject": "rejected", "request_changes": "returned"}


def _perform(action, application, *, alice, rdo, committee):
    """Ask for `action` as the actor who may do it."""
    if action in DECISIONS:
        from access_requests.services.review import round_decide

        chair = committee.memberships.get(role="chair").user
        return round_decide(actor=chair, application=application, outcome=DECISIONS[action], rationale="Decided.")
    if action == "submit":
        return tr.application_submit(actor=alice, application=application)
    if action == "return":
        return tr.application_return(actor=rdo, application=application, comments={"ethics": "Renew it."})
    if action == "forward":
        if application.status == S.SUBMITTED:
            tr.rdo_checklist_update(actor=rdo, application=application, data=CHECKLIST_DONE)
        return tr.application_forward(actor=rdo, application=application, committee=committee)
    if action == "revoke":
        return application_revoke(actor=rdo, application=application, reason="Data used beyond the purpose.")
    if action == "close":
        return application_close(application=application)
    return tr.application_withdraw(actor=alice, application=application, reason="No longer needed.")


def _mail_to(address) -> list[OutboxEmail]:
    return [m for m in OutboxEmail.objects.order_by("pk") if address in m.to]


# The activation is the data-access agreement's execution (tests/access_requests/test_agreements.py).
PERFORMED = {action: row for action, row in TRANSITIONS.items() if action != "activate"}
REFUSED = [
    (action, status)
    for action, (sources, target) in PERFORMED.items()
    for status in S.values
    if status not in sources and status != target
]
ALREADY_DONE = [(action, target) for action, (_, target) in PERFORMED.items()]


@pytest.mark.parametrize(("action", "status"), REFUSED)
def test_it_refuses_a_transition_from_a_state_the_table_does_not_allow_and_changes_nothing(
    action, status, ready, alice, rdo, committee, chair
):
    application = bring_to(status, ready, applicant=alice, rdo=rdo, committee=committee)
    before = frozen(application)
    if action in ("return", "forward", "revoke") and not application.submission_count:
        # never submitted, it is the team's alone: the RDO is refused as an actor before any state is looked at
        refusal = pytest.raises(NotPermitted, match="Only the Research Data Office")
    elif action in DECISIONS and application.committee_id is None:
        # never forwarded, no committee reviews it: its chair is refused as an actor first
        refusal = pytest.raises(NotPermitted, match="Only the chair of the reviewing committee")
    else:
        refusal = pytest.raises(TransitionError, match=f"Cannot {action} application")
    with refusal:
        _perform(action, application, alice=alice, rdo=rdo, committee=committee)
    assert frozen(application) == before


@pytest.mark.parametrize(("action", "status"), ALREADY_DONE)
def test_it_returns_quietly_when_the_application_is_already_in_the_target_state(
    action, status, ready, alice, rdo, committee, chair
):
    if action == "request_changes":  # returned by the committee, not by the RDO
        application = bring_to(S.IN_REVIEW, ready, applicant=alice, rdo=rdo, committee=committee)
        _perform(action, application, alice=alice, rdo=rdo, committee=committee)
    else:
        application = bring_to(status, ready, applicant=alice, rdo=rdo, committee=committee)
    before = frozen(application)
    result = _perform(action, application, alice=alice, rdo=rdo, committee=committee)
    assert result.status == status
    assert frozen(application) == before


def test_it_submits_a_draft_and_records_the_submission_with_its_audit_event_and_emails(team_of_two, ready, alice, rdo):
    application = tr.application_submit(actor=alice, application=ready)
    application.refresh_from_db()
    assert application.status == S.SUBMITTED
    assert application.submission_count == 1
    assert application.submitted_at == application.first_submitted_at
    assert Submission.objects.get(application=application).snapshot["overview"]["Title"] == application.title
    assert RdoChecklist.objects.filter(application=application, submission_number=1).exists()
    event = last_event()
    assert (event.verb, event.actor, event.target_id) == ("application.submit", alice, str(application.pk))
    assert event.payload == {"status": "submitted", "submission": 1}
    assert [m.template for m in _mail_to(rdo.email)] == ["application_submitted_rdo"]
    to_team = OutboxEmail.objects.get(template="application_submitted")
    assert sorted(to_team.to) == sorted([alice.email, "bob@uni.example"])
    assert audit_verify().ok


def test_it_resubmits_a_returned_application_as_a_second_submission(returned, alice, rdo):
    first_submitted_at = returned.first_submitted_at
    rdo_mail_before = len(_mail_to(rdo.email))
    application = tr.application_submit(actor=alice, application=returned)
    assert application.status == S.SUBMITTED
    assert application.submission_count == 2
    assert application.first_submitted_at == first_submitted_at
    assert list(Submission.objects.filter(application=application).values_list("number", flat=True)) == [1, 2]
    event = last_event()
    assert (event.verb, event.actor) == ("application.resubmit", alice)
    assert event.payload == {"status": "submitted", "submission": 2}
    assert [m.template for m in _mail_to(rdo.email)][rdo_mail_before:] == ["application_submitted_rdo"]
    assert "resubmitted" in _mail_to(rdo.email)[-1].subject.lower() + _mail_to(rdo.email)[-1].body_text.lower()


def test_it_returns_a_submitted_application_with_comments_per_section(team_of_two, submitted, alice, rdo):
    outbox_before = OutboxEmail.objects.count()
    application = tr.application_return(
        actor=rdo, application=submitted, comments={"ethics": "The approval expires too early.", "team": "  "}
    )
    assert application.status == S.RETURNED
    comments = ReturnComment.objects.filter(application=application)
    assert [(c.section, c.text, c.submission_number, c.author) for c in comments] == [
        ("ethics", "The approval expires too early.", 1, rdo)
    ]
    event = last_event()
    assert (event.verb, event.actor, event.payload) == (
        "application.return",
        rdo,
        {"status": "returned", "sections": ["ethics"]},
    )
    mail = OutboxEmail.objects.order_by("pk")[outbox_before:]
    assert [(m.template, sorted(m.to)) for m in mail] == [
        ("application_returned", sorted([alice.email, "bob@uni.example"]))
    ]
    assert "- Ethics approvals: The approval expires too early." in mail[0].body_text  # the section by name
    assert "ethics:" not in mail[0].body_text


def test_it_refuses_a_return_without_any_comment_and_changes_nothing(submitted, rdo):
    from portal.errors import InvalidInput

    before = frozen(submitted)
    with pytest.raises(InvalidInput) as refused:
        tr.application_return(actor=rdo, application=submitted, comments={"dpia": "   "})
    assert refused.value.fields == {"comments": ["At least one comment."]}
    assert frozen(submitted) == before


def test_it_forwards_a_checked_application_to_the_committee_and_tells_its_members(
    forwardable, alice, rdo, committee, chair, member
):
    outbox_before = OutboxEmail.objects.count()
    application = tr.application_forward(actor=rdo, application=forwardable, committee=committee)
    assert (application.status, application.committee) == (S.IN_REVIEW, committee)
    event = last_event()
    assert (event.verb, event.actor) == ("application.forward", rdo)
    assert event.payload == {
        "status": "in_review",
        "committee": committee.name,
        "committee_id": committee.pk,
        "round": 1,
    }
    mail = OutboxEmail.objects.order_by("pk")[outbox_before:]
    assert [(m.template, sorted(m.to)) for m in mail] == [
        ("application_forwarded_committee", sorted([chair.email, member.email])),
        ("application_forwarded", [alice.email]),
    ]


@pytest.mark.parametrize(
    "ticked",
    [
        {},
        {"ethics_verified": True},
        {"ethics_verified": True, "dpia_reviewed": True},
        {"representations_checked": True},
    ],
)
def test_it_refuses_to_forward_until_the_checklist_is_complete(ticked, submitted, rdo, committee):
    if ticked:
        tr.rdo_checklist_update(actor=rdo, application=submitted, data=ticked)
    before = frozen(submitted)
    with pytest.raises(TransitionError, match="Complete the checklist first"):
        tr.application_forward(actor=rdo, application=submitted, committee=committee)
    assert frozen(submitted) == before


def test_it_forwards_on_the_checklist_of_the_current_submission_only(returned, alice, rdo, committee):
    """A checklist ticked for submission 1 does not carry over to the resubmission."""
    application = tr.application_submit(actor=alice, application=returned)
    RdoChecklist.objects.filter(application=application, submission_number=1).update(**CHECKLIST_DONE)
    with pytest.raises(TransitionError, match="Complete the checklist first"):
        tr.application_forward(actor=rdo, application=application, committee=committee)


@pytest.mark.parametrize("status", sorted(TRANSITIONS["withdraw"][0]))
def test_the_applicant_withdraws_from_each_state_before_access(status, ready, alice, rdo, committee, chair):
    application = bring_to(status, ready, applicant=alice, rdo=rdo, committee=committee)
    rdo_mail_before = len(_mail_to(rdo.email))
    application = tr.application_withdraw(actor=alice, application=application, reason="  Funding ended. ")
    assert application.status == S.WITHDRAWN
    event = last_event()
    assert (event.verb, event.actor) == ("application.withdraw", alice)
    assert event.payload == {"status": "withdrawn", "from": status, "reason": "Funding ended."}
    rdo_mail = [m.template for m in _mail_to(rdo.email)][rdo_mail_before:]
    assert rdo_mail == ([] if status == S.DRAFT else ["application_withdrawn"])


# --- the wrong actor ----------------------------------------------------------------------


def test_it_refuses_a_submission_by_a_team_member_who_is_not_the_applicant(team_of_two, ready, bob):
    before = frozen(ready)
    with pytest.raises(NotPermitted, match="Only the applicant can do this"):
        tr.application_submit(actor=bob, application=ready)
    assert frozen(ready) == before


@pytest.mark.parametrize("researcher", ["alice", "bob"])
def test_it_refuses_a_return_by_a_researcher(researcher, team_of_two, submitted, request):
    before = frozen(submitted)
    with pytest.raises(NotPermitted, match="Only the Research Data Office, and nobody on the application.s team"):
        tr.application_return(
            actor=request.getfixturevalue(researcher), application=submitted, comments={"dpia": "Self-review."}
        )
    assert frozen(submitted) == before


def test_it_refuses_a_forward_by_a_researcher(forwardable, alice, committee):
    before = frozen(forwardable)
    with pytest.raises(NotPermitted, match="Only the Research Data Office, and nobody on the application.s team"):
        tr.application_forward(actor=alice, application=forwardable, committee=committee)
    assert frozen(forwardable) == before


def test_it_refuses_a_forward_by_a_committee_member(forwardable, committee, chair):
    before = frozen(forwardable)
    with pytest.raises(NotPermitted):
        tr.application_forward(actor=chair, application=forwardable, committee=committee)
    assert frozen(forwardable) == before


def test_it_refuses_a_withdrawal_by_the_research_data_office(submitted, rdo):
    before = frozen(submitted)
    with pytest.raises(NotPermitted, match="Only the applicant can do this"):
        tr.application_withdraw(actor=rdo, application=submitted, reason="Stale.")
    assert frozen(submitted) == before


def test_it_refuses_a_checklist_tick_by_a_researcher_or_outside_submitted(submitted, returned, alice, rdo):
    before = frozen(returned)
    with pytest.raises(TransitionError, match="checklist is kept while the application is submitted"):
        tr.rdo_checklist_update(actor=rdo, application=returned, data=CHECKLIST_DONE)
    with pytest.raises(NotPermitted):
        tr.rdo_checklist_update(actor=alice, application=returned, data=CHECKLIST_DONE)
    assert frozen(returned) == before


def test_the_checklist_tick_is_audited_without_its_notes(forwardable, rdo):
    tr.rdo_checklist_update(actor=rdo, application=forwardable, data={"notes": "Signed by the vice-rector."})
    event = last_event("application.checklist_update")
    assert (event.actor, event.payload) == (rdo, {"submission": 1})
    checklist = RdoChecklist.objects.get(application=forwardable, submission_number=1)
    assert (checklist.complete, checklist.notes, checklist.updated_by) == (True, "Signed by the vice-rector.", rdo)
