"""Who sees and may change which application (governance invariants 6 and 7)."""

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework.test import APIClient

from access_requests.models import Application, ApplicationStatus, TeamMember
from access_requests.permissions import application_get_for, applications_visible_to, can_view
from access_requests.services import applications as svc
from access_requests.services.messages import message_post
from portal.errors import NotPermitted, TransitionError
from portal.models import OutboxEmail
from portal.services.accounts import user_create
from tests.access_requests.conftest import bring_to
from tests.helpers import last_event

PERSONAS = ["alice", "bob", "charlie", "rdo", "member", "steward", "other_steward"]


def _sees(user, application) -> bool:
    """Asked three ways (the rule, the list, the getter); they must agree."""
    by_rule = can_view(user, application)
    in_list = applications_visible_to(user).filter(pk=application.pk).exists()
    try:
        application_get_for(user=user, pk=application.pk)
        by_getter = True
    except Http404:
        by_getter = False
    assert by_rule == in_list == by_getter, (user, by_rule, in_list, by_getter)
    return by_rule


@pytest.mark.parametrize(
    ("persona", "sees"),
    [
        ("alice", True),
        ("bob", True),
        ("charlie", False),
        ("rdo", False),
        ("member", False),
        ("steward", False),
        ("other_steward", False),
    ],
)
def test_a_draft_never_submitted_is_the_teams_alone(persona, sees, team_of_two, request, committee, chair, member):
    assert _sees(request.getfixturevalue(persona), team_of_two) is sees


@pytest.mark.parametrize(
    ("persona", "sees"),
    [
        ("alice", True),
        ("bob", True),
        ("charlie", False),
        ("rdo", True),
        ("member", False),
        ("steward", True),
        ("other_steward", False),
    ],
)
def test_who_sees_a_submitted_application(persona, sees, team_of_two, submitted, request, member):
    assert _sees(request.getfixturevalue(persona), submitted) is sees


@pytest.mark.parametrize(
    ("persona", "sees"),
    [
        ("alice", True),
        ("bob", True),
        ("charlie", False),
        ("rdo", True),
        ("member", True),
        ("chair", True),
        ("steward", True),
        ("other_steward", False),
    ],
)
def test_the_committee_sees_an_application_once_it_is_forwarded_to_it(persona, sees, team_of_two, in_review, request):
    assert _sees(request.getfixturevalue(persona), in_review) is sees


def test_another_committee_does_not_see_an_application_forwarded_elsewhere(in_review, rdo):
    from access_requests.services.committees import committee_add_member, committee_create

    elsewhere = committee_create(actor="system:test", name="Another Committee", quorum=1)
    stranger = user_create(actor="system:test", email="stranger@committee.example", full_name="Stan", password="x")
    committee_add_member(actor="system:test", committee=elsewhere, user=stranger)
    assert _sees(stranger, in_review) is False


def test_a_draft_withdrawn_before_it_was_ever_submitted_stays_the_teams_alone(draft, alice, rdo, steward):
    withdrawn = bring_to(ApplicationStatus.WITHDRAWN, draft, applicant=alice, rdo=rdo, committee=None)
    assert withdrawn.status == ApplicationStatus.WITHDRAWN
    assert _sees(alice, withdrawn) is True
    assert _sees(rdo, withdrawn) is False
    assert _sees(steward, withdrawn) is False


def test_a_withdrawn_application_that_was_submitted_stays_on_the_record_for_staff(submitted, alice, rdo, steward):
    from access_requests.services.transitions import application_withdraw

    withdrawn = application_withdraw(actor=alice, application=submitted, reason="Funding ended.")
    assert _sees(rdo, withdrawn) is True
    assert _sees(steward, withdrawn) is True


def test_a_steward_sees_it_while_it_requests_their_data_and_not_after(returned, alice, other_dataset, steward):
    assert _sees(steward, returned) is True
    svc.application_set_datasets(actor=alice, application=returned, requested={other_dataset: "Only prostate."})
    assert _sees(steward, returned) is False


# --- team membership ----------------------------------------------------------------------


def test_an_invited_person_joins_the_team_only_by_accepting(draft, alice):
    member = svc.team_member_add(actor=alice, application=draft, email="Dora@New.example", role="Physicist")
    assert (member.user, member.email) == (None, "dora@new.example")
    assert OutboxEmail.objects.filter(template="team_invitation", to=["dora@new.example"]).exists()
    dora = user_create(
        actor="system:test", email="dora@new.example", full_name="Dora New", password="x", roles=["researcher"]
    )
    member.refresh_from_db()
    assert (member.user, member.joined_at) == (None, None)
    assert _sees(dora, draft) is False
    svc.team_invitation_accept(actor=dora, member=member)
    member.refresh_from_db()
    assert (member.user, member.joined_at is not None) == (dora, True)
    assert _sees(dora, draft) is True
    assert application_get_for(user=dora, pk=draft.pk, action="edit") == draft
    event = last_event("application.team_accept")
    assert (event.actor, event.target_id, event.payload) == (dora, str(draft.pk), {"email": "dora@new.example"})


def test_a_removed_team_member_loses_sight_of_the_application(team_of_two, alice, bob):
    svc.team_member_remove(actor=alice, application=team_of_two, member=team_of_two.team.get(user=bob))
    assert _sees(bob, team_of_two) is False
    assert not TeamMember.objects.filter(application=team_of_two, user=bob).exists()


def test_the_applicant_cannot_be_removed_from_the_team(team_of_two, alice, bob):
    from portal.errors import InvalidInput

    with pytest.raises(InvalidInput, match="applicant cannot be removed"):
        svc.team_member_remove(actor=bob, application=team_of_two, member=team_of_two.team.get(user=alice))


# --- editing: only the team, only while draft or returned (invariant 6) ------------------------


@pytest.mark.parametrize(
    ("status", "editable"),
    [
        (ApplicationStatus.DRAFT, True),
        (ApplicationStatus.SUBMITTED, False),
        (ApplicationStatus.RETURNED, True),
        (ApplicationStatus.IN_REVIEW, False),
        (ApplicationStatus.APPROVED, False),
        (ApplicationStatus.WITHDRAWN, False),
    ],
)
def test_the_team_edits_only_a_draft_or_a_returned_application(
    status, editable, team_of_two, ready, alice, bob, rdo, committee
):
    application = bring_to(status, ready, applicant=alice, rdo=rdo, committee=committee)
    if editable:
        svc.application_update(actor=bob, application=application, data={"timeline": "Revised."})
        assert Application.objects.get(pk=application.pk).timeline == "Revised."
        assert application_get_for(user=bob, pk=application.pk, action="edit")
        return
    with pytest.raises(TransitionError, match="can be changed only while it is a draft or returned"):
        svc.application_update(actor=bob, application=application, data={"timeline": "Sneaked in."})
    with pytest.raises(TransitionError):
        application_get_for(user=bob, pk=application.pk, action="edit")
    assert Application.objects.get(pk=application.pk).timeline != "Sneaked in."


@pytest.mark.parametrize("persona", ["rdo", "steward"])
def test_staff_who_see_a_returned_application_cannot_edit_it(persona, returned, request):
    user = request.getfixturevalue(persona)
    with pytest.raises(NotPermitted, match="Only the application's team"):
        svc.application_update(actor=user, application=returned, data={"timeline": "Edited by staff."})
    with pytest.raises(PermissionDenied):
        application_get_for(user=user, pk=returned.pk, action="edit")


# --- internal notes -----------------------------------------------------------------------


def test_internal_notes_are_hidden_from_the_team(team_of_two, submitted, alice, bob, rdo):
    message_post(actor=alice, application=submitted, body="When will you check it?")
    message_post(actor=rdo, application=submitted, body="Ethics letter looks altered; ask the REC.", internal=True)
    note_mail = OutboxEmail.objects.order_by("-pk").first()
    assert alice.email not in note_mail.to and bob.email not in note_mail.to

    def bodies(user):
        client = APIClient()
        client.force_authenticate(user)
        response = client.get(f"/api/v1/applications/{submitted.pk}/messages/")
        assert response.status_code == 200
        detail = client.get(f"/api/v1/applications/{submitted.pk}/").json()
        assert [m["body"] for m in detail["messages"]] == [m["body"] for m in response.json()]
        return [m["body"] for m in response.json()]

    assert bodies(alice) == bodies(bob) == ["When will you check it?"]
    assert bodies(rdo) == ["When will you check it?", "Ethics letter looks altered; ask the REC."]


def test_the_team_cannot_write_internal_notes(submitted, alice):
    with pytest.raises(NotPermitted, match="internal notes"):
        message_post(actor=alice, application=submitted, body="Just between us.", internal=True)
    assert not submitted.messages.exists()


# --- deleting a draft ---------------------------------------------------------------------


def test_the_applicant_deletes_a_draft_never_submitted(draft, alice):
    reference = draft.reference
    svc.application_delete_draft(actor=alice, application=draft)
    assert not Application.objects.filter(pk=draft.pk).exists()
    event = last_event("application.delete_draft")
    assert (event.actor, event.payload) == (alice, {"reference": reference})


def test_deleting_a_draft_removes_its_object_permissions_and_documents(
    draft, alice, settings, django_capture_on_commit_callbacks
):
    from pathlib import Path

    from guardian.models import UserObjectPermission

    from tests.access_requests.conftest import complete

    with django_capture_on_commit_callbacks(execute=True):  # documents are stored when their upload commits
        complete(draft, alice)
    stored = Path(settings.DOCUMENT_STORAGE_ROOT) / draft.ethics_approvals.get().document_path
    assert stored.is_file()
    assert UserObjectPermission.objects.filter(object_pk=str(draft.pk)).exists()
    with django_capture_on_commit_callbacks(execute=True):
        svc.application_delete_draft(actor=alice, application=draft)
    assert not UserObjectPermission.objects.filter(object_pk=str(draft.pk)).exists()
    assert not stored.exists()


def test_a_team_member_cannot_delete_the_draft(team_of_two, bob):
    with pytest.raises(NotPermitted):
        svc.application_delete_draft(actor=bob, application=team_of_two)
    assert Application.objects.filter(pk=team_of_two.pk).exists()


@pytest.mark.parametrize(
    "status", [ApplicationStatus.RETURNED, ApplicationStatus.SUBMITTED, ApplicationStatus.WITHDRAWN]
)
def test_an_application_with_a_history_is_never_deleted(status, ready, alice, rdo, committee):
    application = bring_to(status, ready, applicant=alice, rdo=rdo, committee=committee)
    with pytest.raises(TransitionError, match="never submitted"):
        svc.application_delete_draft(actor=alice, application=application)
    assert Application.objects.filter(pk=application.pk).exists()
