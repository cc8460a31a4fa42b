"""Team invitations: joining is an invitation that the invited, verified address accepts.

The attack these tests reproduce: someone signs up with an e-mail address that a team invited
but that is not theirs, hoping to be given the application and its documents.
"""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from access_requests.models import TeamMember
from access_requests.permissions import can_view
from access_requests.services import applications as svc
from access_requests.services.messages import message_post
from access_requests.services.transitions import application_return, application_submit
from portal.errors import NotPermitted
from portal.models import AuditEvent, OutboxEmail, User
from portal.services.accounts import user_create
from tests.helpers import change_events, last_event, team_join

VICTIM = "dora@new.example"
PASSWORD = "glacier-lantern-orbit-42"


def invitation_link(address: str) -> str:
    mail = OutboxEmail.objects.filter(template="team_invitation", to=[address]).latest("pk")
    return re.search(r"http://127\.0\.0\.1:8000(/\S+)", mail.body_text).group(1)


def ethics_document_url(application) -> str:
    approval = application.ethics_approvals.first()
    return f"/applications/{application.pk}/documents/ethics/{approval.pk}/"


def signup(client, email=VICTIM, password=PASSWORD):
    form = {
        "email": email,
        "full_name": "Mallory Pretender",
        "organisation": "Nowhere",
        "country": "LV",
        "password1": password,
        "password2": password,
    }
    return client.post("/accounts/signup/", form)


def templates_sent_to(address: str) -> list[str]:
    return [m.template for m in OutboxEmail.objects.order_by("pk") if address in m.to]


# --- the attack -------------------------------------------------------------------------


def test_signing_up_with_an_invited_address_one_does_not_own_gives_nothing(client, ready, alice):
    svc.team_member_add(actor=alice, application=ready, email=VICTIM)
    assert signup(client).status_code == 302
    mallory = User.objects.get(email=VICTIM)
    member = ready.team.get(email=VICTIM)
    assert (member.user, member.joined_at) == (None, None)
    assert can_view(mallory, ready) is False

    # without the mailbox there is no sign-in; even a forced session is no one
    assert client.post("/accounts/login/", {"username": VICTIM, "password": PASSWORD}).status_code == 200
    client.force_login(mallory)
    for path in (f"/applications/{ready.pk}/", ethics_document_url(ready), invitation_link(VICTIM)):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert client.post(invitation_link(VICTIM), {"decision": "accept"}).status_code == 302
    member.refresh_from_db()
    assert member.joined_at is None
    assert not AuditEvent.objects.filter(verb="application.team_accept").exists()


def test_the_owner_of_the_address_joins_only_after_proving_it_and_accepting(client, ready, alice):
    svc.team_member_add(actor=alice, application=ready, email=VICTIM)
    signup(client)
    proof = OutboxEmail.objects.filter(template="email_proof", to=[VICTIM]).latest("pk")
    client.post(re.search(r"8000(/\S+)", proof.body_text).group(1))
    assert client.post("/accounts/login/", {"username": VICTIM, "password": PASSWORD}).status_code == 302

    # proved, signed in, but not a member until accepting
    assert client.get(f"/applications/{ready.pk}/").status_code == 404
    assert client.get(ethics_document_url(ready)).status_code == 404
    page = client.get(invitation_link(VICTIM))
    assert page.status_code == 200
    body = page.content.decode()
    assert ready.reference in body and ready.title in body and alice.full_name in body
    assert ready.lay_summary not in body

    accepted = client.post(invitation_link(VICTIM), {"decision": "accept"})
    assert accepted["Location"] == f"/applications/{ready.pk}/"
    dora = User.objects.get(email=VICTIM)
    member = ready.team.get(email=VICTIM)
    assert (member.user, member.joined_at is not None) == (dora, True)
    assert client.get(f"/applications/{ready.pk}/").status_code == 200
    assert client.get(ethics_document_url(ready)).status_code == 200
    event = last_event("application.team_accept")
    assert (event.actor, event.target_id, event.payload) == (dora, str(ready.pk), {"email": VICTIM})


def test_an_existing_user_added_to_a_team_is_not_a_member_until_they_accept(client, draft, alice, bob):
    member = svc.team_member_add(actor=alice, application=draft, email=bob.email.upper())
    assert (member.user, member.joined_at) == (None, None)
    assert can_view(bob, draft) is False
    event = last_event("application.team_invite")
    assert (event.actor, event.payload) == (alice, {"email": bob.email, "role": "Researcher", "renewed": False})
    client.force_login(bob)
    assert client.get(f"/applications/{draft.pk}/").status_code == 404
    listing = client.get("/applications/invitations/").content.decode()
    assert draft.reference in listing
    client.post(invitation_link(bob.email), {"decision": "accept"})
    assert can_view(bob, draft) is True
    assert client.get(f"/applications/{draft.pk}/").status_code == 200


def test_an_invitation_link_followed_by_another_account_is_refused_without_revealing_anything(
    client, draft, alice, bob, charlie
):
    svc.team_member_add(actor=alice, application=draft, email=bob.email)
    link = invitation_link(bob.email)
    client.force_login(charlie)
    events = change_events()
    for response in (client.get(link), client.post(link, {"decision": "accept"})):
        assert response.status_code == 404
        body = response.content.decode()
        assert draft.reference not in body and draft.title not in body and bob.email not in body
    bogus = client.get("/applications/invitations/not-a-real-token/")
    assert bogus.status_code == 404
    assert bogus.content.decode().count("Invitation not available") == response.content.decode().count(
        "Invitation not available"
    )
    assert draft.team.get(email=bob.email).joined_at is None
    assert change_events() == events  # only the refusals' own trace
    with pytest.raises(NotPermitted):
        svc.team_invitation_accept(actor=charlie, member=draft.team.get(email=bob.email))


def test_declining_closes_the_link_and_a_new_invitation_renews_it(client, draft, alice, bob):
    svc.team_member_add(actor=alice, application=draft, email=bob.email)
    old_link = invitation_link(bob.email)
    client.force_login(bob)
    assert client.post(old_link, {"decision": "decline"}).status_code == 302
    member = draft.team.get(email=bob.email)
    assert (member.invitation_state, member.user) == ("declined", None)
    assert last_event("application.team_decline").actor == bob
    assert client.get(old_link).status_code == 404

    svc.team_member_add(actor=alice, application=draft, email=bob.email)
    assert last_event("application.team_invite").payload["renewed"] is True
    assert client.get(old_link).status_code == 404
    assert client.get(invitation_link(bob.email)).status_code == 200


def test_an_expired_invitation_cannot_be_accepted(client, draft, alice, bob):
    svc.team_member_add(actor=alice, application=draft, email=bob.email)
    TeamMember.objects.filter(email=bob.email).update(expires_at=timezone.now() - timedelta(minutes=1))
    client.force_login(bob)
    assert client.get(invitation_link(bob.email)).status_code == 404
    assert client.post(invitation_link(bob.email), {"decision": "accept"}).status_code == 404
    assert can_view(bob, draft) is False


def test_removing_an_invitation_revokes_its_link(client, draft, alice, bob):
    member = svc.team_member_add(actor=alice, application=draft, email=bob.email)
    link = invitation_link(bob.email)
    svc.team_member_remove(actor=alice, application=draft, member=member)
    assert last_event("application.team_remove").payload == {"email": bob.email, "was": "pending"}
    client.force_login(bob)
    assert client.get(link).status_code == 404


# --- what an invitee receives -----------------------------------------------------------


def test_an_invitee_who_has_not_accepted_receives_only_the_invitation(ready, alice, bob, rdo):
    user_create(actor="system:test", email=VICTIM, full_name="Dora", password=PASSWORD, email_verified=False)
    svc.team_member_add(actor=alice, application=ready, email=VICTIM)
    svc.team_member_add(actor=alice, application=ready, email=bob.email)
    ready = application_submit(actor=alice, application=ready)
    message_post(actor=rdo, application=ready, body="Please confirm the secret cohort size.")
    application_return(actor=rdo, application=ready, comments={"dpia": "The confidential DPO details are missing."})
    assert templates_sent_to(VICTIM) == ["team_invitation"]
    assert templates_sent_to(bob.email) == ["team_invitation"]
    # the applicant, a member, does get them
    assert {"application_submitted", "application_message", "application_returned"} <= set(
        templates_sent_to(alice.email)
    )
    invitation = OutboxEmail.objects.get(template="team_invitation", to=[VICTIM]).body_text
    assert "secret cohort" not in invitation and ready.lay_summary not in invitation


def test_a_member_who_accepted_receives_the_applications_messages(ready, alice, bob, rdo):
    team_join(application=ready, inviter=alice, user=bob)
    ready = application_submit(actor=alice, application=ready)
    message_post(actor=rdo, application=ready, body="A question.")
    assert {"application_submitted", "application_message"} <= set(templates_sent_to(bob.email))


# --- team addition reveals no account; rate limits --------------------------------------


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_team_addition_answers_the_same_for_known_and_unknown_addresses(draft, alice, bob):
    api = _api(alice)
    known = api.post(f"/api/v1/applications/{draft.pk}/team/", {"email": bob.email}, format="json")
    unknown = api.post(f"/api/v1/applications/{draft.pk}/team/", {"email": "nobody@x.example"}, format="json")
    assert known.status_code == unknown.status_code == 201

    def shape(body):
        return {k: v for k, v in body.items() if k not in {"id", "email", "invited_at"}}

    assert shape(known.json()) == shape(unknown.json())
    assert known.json()["full_name"] is None and known.json()["pending"] is True


def test_invitations_are_rate_limited_per_inviter(client, draft, alice, settings):
    settings.INVITATION_RATE_PER_HOUR = 2
    api = _api(alice)
    for n in range(2):
        assert api.post(f"/api/v1/applications/{draft.pk}/team/", {"email": f"p{n}@x.example"}).status_code == 201
    refused = api.post(f"/api/v1/applications/{draft.pk}/team/", {"email": "p9@x.example"}, format="json")
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited" and "too many invitations" in refused.json()["detail"]
    assert not draft.team.filter(email="p9@x.example").exists()
    client.force_login(alice)
    page = client.post(f"/applications/{draft.pk}/edit/team/", {"email": "p9@x.example", "role": "R"})
    assert "too many invitations" in page.content.decode()
    assert not draft.team.filter(email="p9@x.example").exists()
