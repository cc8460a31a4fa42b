"""Identity: e-mail proof at sign-up, password reset, no account enumeration, rate limits, lockout."""

import re
from datetime import timedelta

import pytest
from django.core import signing
from django.utils import timezone
from rest_framework.test import APIClient

from portal.models import AuditEvent, OutboxEmail, User
from portal.services.accounts import email_proof_token, user_signup
from portal.services.tokens import api_token_create
from tests.conftest import PASSWORD
from tests.helpers import last_event

NEW_PASSWORD = "a-new-and-long-passphrase"


def signup_form(email="dora@new.example", **overrides) -> dict:
    return {
        "email": email,
        "full_name": "Dora New",
        "organisation": "Tartu University",
        "country": "EE",
        "password1": "glacier-lantern-orbit-42",
        "password2": "glacier-lantern-orbit-42",
        **overrides,
    }


def mails_to(address: str, template: str | None = None):
    mails = [m for m in OutboxEmail.objects.order_by("pk") if address in m.to]
    return [m for m in mails if template is None or m.template == template]


def link_in(mail: OutboxEmail) -> str:
    """The path of the portal link in a plain-text e-mail."""
    match = re.search(r"http://127\.0\.0\.1:8000(/\S+)", mail.body_text)
    assert match, mail.body_text
    return match.group(1)


def sign_in(client, email, password):
    return client.post("/accounts/login/", {"username": email, "password": password})


# --- sign-up and e-mail proof -----------------------------------------------------------


def test_sign_up_makes_an_unproved_account_that_cannot_sign_in_until_the_link_is_followed(client, db):
    response = client.post("/accounts/signup/", signup_form())
    assert response.status_code == 302 and response["Location"] == "/accounts/signup/sent/"
    dora = User.objects.get(email="dora@new.example")
    assert dora.email_verified_at is None
    assert dora.has_role("researcher")
    assert "_auth_user_id" not in client.session  # not signed in by sign-up

    refused = sign_in(client, dora.email, "glacier-lantern-orbit-42")
    assert refused.status_code == 200
    assert "Confirm your e-mail address first" in refused.content.decode()
    assert client.get("/").status_code == 302  # still anonymous

    [mail] = mails_to(dora.email, "email_proof")
    link = link_in(mail)
    assert client.get(link).status_code == 200
    assert client.post(link).status_code == 302
    dora.refresh_from_db()
    assert dora.email_verified_at is not None
    event = last_event("user.email_verify")
    assert (event.actor, event.target_id) == (dora, str(dora.pk))

    assert sign_in(client, dora.email, "glacier-lantern-orbit-42").status_code == 302
    assert client.get("/").status_code == 200


def test_the_wrong_password_on_an_unproved_account_says_nothing_about_the_proof(client, db):
    client.post("/accounts/signup/", signup_form())
    page = sign_in(client, "dora@new.example", "not-the-password").content.decode()
    assert "Confirm your e-mail address" not in page
    assert "correct e-mail address and password" in page


def test_the_proof_link_works_once(client, db):
    client.post("/accounts/signup/", signup_form())
    link = link_in(mails_to("dora@new.example", "email_proof")[0])
    client.post(link)
    events = AuditEvent.objects.filter(verb="user.email_verify").count()
    again = client.get(link)
    assert again.status_code == 400
    assert "not valid" in again.content.decode()
    client.post(link)
    assert AuditEvent.objects.filter(verb="user.email_verify").count() == events


def test_the_proof_link_expires(client, db, settings):
    client.post("/accounts/signup/", signup_form())
    link = link_in(mails_to("dora@new.example", "email_proof")[0])
    settings.EMAIL_PROOF_MAX_AGE_SECONDS = -1
    assert client.get(link).status_code == 400
    client.post(link)
    assert User.objects.get(email="dora@new.example").email_verified_at is None


def test_a_tampered_proof_link_is_refused(client, db, charlie):
    client.post("/accounts/signup/", signup_form())
    dora = User.objects.get(email="dora@new.example")
    token = email_proof_token(dora)
    # the same signed content pointing at another account, or a re-signed payload without the key
    forged = signing.dumps({"u": charlie.pk, "f": signing.loads(token, salt="portal.accounts.email-proof")["f"]})
    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), forged, "nonsense"):
        assert client.post(f"/accounts/confirm-email/{bad}/").status_code == 302
    dora.refresh_from_db()
    assert dora.email_verified_at is None


def test_an_unproved_account_gets_nothing_from_a_token_or_a_session(client, db):
    user_signup(email="dora@new.example", full_name="Dora", password="glacier-lantern-orbit-42", client="203.0.113.9")
    dora = User.objects.get(email="dora@new.example")
    _, raw = api_token_create(actor=dora, name="script", days=30)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/v1/me/").status_code == 401
    client.force_login(dora)
    assert client.get("/").status_code == 302
    assert client.get("/api/v1/me/").status_code in {401, 403}


def test_signing_up_again_for_an_unproved_address_replaces_the_attempt_and_its_link(client, db):
    """Someone signed up with an address that is not theirs; the owner signs up too and wins."""
    client.post("/accounts/signup/", signup_form(password1="attacker-pass-9876", password2="attacker-pass-9876"))
    attackers_link = link_in(mails_to("dora@new.example", "email_proof")[0])
    client.post("/accounts/signup/", signup_form())
    owners_link = link_in(mails_to("dora@new.example", "email_proof")[1])
    assert client.post(attackers_link).status_code == 302
    assert User.objects.get(email="dora@new.example").email_verified_at is None  # the old link is dead
    client.post(owners_link)
    dora = User.objects.get(email="dora@new.example")
    assert dora.email_verified_at is not None
    assert not dora.check_password("attacker-pass-9876")
    assert dora.check_password("glacier-lantern-orbit-42")


def test_a_new_link_can_be_asked_for_with_the_same_answer_for_any_address(client, db):
    client.post("/accounts/signup/", signup_form())
    known = client.post("/accounts/confirm-email/", {"email": "dora@new.example"})
    unknown = client.post("/accounts/confirm-email/", {"email": "nobody@new.example"})
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    assert len(mails_to("dora@new.example", "email_proof")) == 2
    assert mails_to("nobody@new.example") == []


# --- no account enumeration -------------------------------------------------------------


def test_sign_up_answers_the_same_for_a_known_address_and_mails_its_owner(client, alice):
    known = client.post("/accounts/signup/", signup_form(email=alice.email))
    unknown = client.post("/accounts/signup/", signup_form(email="nobody@new.example"))
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    assert client.get(known["Location"]).content == client.get(unknown["Location"]).content
    [mail] = mails_to(alice.email)
    assert mail.template == "account_exists"
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)
    assert alice.full_name == "Alice Applicant"


# --- password reset ---------------------------------------------------------------------


def test_password_reset_works_end_to_end(client, alice):
    response = client.post("/accounts/password-reset/", {"email": alice.email.upper()})
    assert (response.status_code, response["Location"]) == (302, "/accounts/password-reset/sent/")
    [mail] = mails_to(alice.email, "password_reset")
    link = link_in(mail)
    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200 and form_page.context["validlink"]
    set_url = form_page.redirect_chain[-1][0]
    done = client.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done["Location"] == "/accounts/password-reset/done/"
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    event = last_event("user.password_set")
    assert (event.actor, event.payload) == (alice, {"reason": "reset_link"})
    assert sign_in(client, alice.email, NEW_PASSWORD).status_code == 302
    client.logout()
    assert client.get(link, follow=True).context["validlink"] is False  # used once


def test_password_reset_answers_the_same_for_an_unknown_address(client, alice):
    known = client.post("/accounts/password-reset/", {"email": alice.email})
    unknown = client.post("/accounts/password-reset/", {"email": "nobody@uni.example"})
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    assert len(mails_to(alice.email, "password_reset")) == 1
    assert mails_to("nobody@uni.example") == []


# --- rate limits ------------------------------------------------------------------------


def test_sign_ups_are_rate_limited_per_client_address(client, db, settings):
    settings.SIGNUP_RATE_PER_HOUR = 2
    for n in range(2):
        assert client.post("/accounts/signup/", signup_form(email=f"p{n}@new.example")).status_code == 302
    refused = client.post("/accounts/signup/", signup_form(email="p9@new.example"))
    assert refused.status_code == 200
    assert "Too many requests from your network address" in refused.content.decode()
    assert not User.objects.filter(email="p9@new.example").exists()
    other_client = client.post("/accounts/signup/", signup_form(email="p9@new.example"), REMOTE_ADDR="198.51.100.7")
    assert other_client.status_code == 302


def test_mails_to_one_address_are_rate_limited(client, alice, settings):
    settings.EMAIL_RATE_PER_ADDRESS_PER_HOUR = 1
    assert client.post("/accounts/password-reset/", {"email": alice.email}).status_code == 302
    refused = client.post("/accounts/password-reset/", {"email": alice.email}, REMOTE_ADDR="198.51.100.7")
    assert refused.status_code == 200
    assert "Too many messages were sent to this address" in refused.content.decode()
    # the limit counts unknown addresses alike, so it reveals nothing
    client.post("/accounts/password-reset/", {"email": "nobody@uni.example"})
    again = client.post("/accounts/password-reset/", {"email": "nobody@uni.example"})
    assert "Too many messages were sent to this address" in again.content.decode()
    assert len(mails_to(alice.email)) == 1


# --- password guessing ------------------------------------------------------------------


def test_an_account_is_locked_after_repeated_failures_even_with_the_right_password(client, alice, settings):
    settings.AXES_FAILURE_LIMIT = 3
    events = AuditEvent.objects.count()
    for n in range(3):
        client.post(
            "/accounts/login/", {"username": alice.email, "password": f"wrong-{n}"}, REMOTE_ADDR=f"192.0.2.{n + 1}"
        )
    locked = client.post("/accounts/login/", {"username": alice.email, "password": PASSWORD}, REMOTE_ADDR="192.0.2.50")
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode()
    assert client.get("/").status_code == 302
    # one audit event for the lockout, none for the failures themselves
    new = list(AuditEvent.objects.filter(seq__gt=events).values_list("verb", flat=True))
    assert new == ["user.login_lockout"]
    assert last_event("user.login_lockout").target_id == str(alice.pk)


def test_a_client_address_is_locked_after_failures_across_accounts(client, alice, bob, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for email in ("ghost1@x.example", "ghost2@x.example", "ghost3@x.example"):
        client.post("/accounts/login/", {"username": email, "password": "guess"}, REMOTE_ADDR="192.0.2.77")
    locked = client.post("/accounts/login/", {"username": bob.email, "password": PASSWORD}, REMOTE_ADDR="192.0.2.77")
    assert locked.status_code == 429
    elsewhere = client.post("/accounts/login/", {"username": bob.email, "password": PASSWORD}, REMOTE_ADDR="192.0.2.78")
    assert elsewhere.status_code == 302


def test_anonymous_failed_sign_ins_write_no_audit_events(client, db, settings):
    settings.AXES_FAILURE_LIMIT = 1000
    head = AuditEvent.objects.count()
    for n in range(20):
        client.post("/accounts/login/", {"username": f"nobody{n}@x.example", "password": "guess"})
    assert AuditEvent.objects.count() == head
    from axes.models import AccessAttempt

    assert AccessAttempt.objects.count() == 20


def test_the_lockout_expires_after_the_cool_off(client, alice, settings):
    from axes.models import AccessAttempt

    settings.AXES_FAILURE_LIMIT = 2
    for _ in range(2):
        client.post("/accounts/login/", {"username": alice.email, "password": "wrong"})
    assert sign_in(client, alice.email, PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(hours=2))
    assert sign_in(client, alice.email, PASSWORD).status_code == 302


def test_wrong_passwords_at_the_sudo_prompt_count_too(client, alice, settings):
    settings.AXES_FAILURE_LIMIT = 2
    client.force_login(alice)
    for _ in range(2):
        client.post("/accounts/confirm-password/", {"password": "wrong", "next": "/"})
    assert client.post("/accounts/confirm-password/", {"password": PASSWORD, "next": "/"}).status_code == 429


def test_token_and_session_api_calls_keep_working(client, alice):
    _, raw = api_token_create(actor=alice, name="script", days=30)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/v1/me/").json()["authenticated_by"] == "token"
    assert sign_in(client, alice.email, PASSWORD).status_code == 302
    assert client.get("/api/v1/me/").json()["authenticated_by"] == "session"


@pytest.mark.parametrize("path", ["/accounts/signup/", "/accounts/password-reset/", "/accounts/confirm-email/"])
def test_the_account_pages_render_for_anonymous_visitors(client, db, path):
    assert client.get(path).status_code == 200
