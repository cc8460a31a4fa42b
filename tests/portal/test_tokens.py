"""Personal API tokens: created once-visible, stored as a hash, expiring, revocable."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from portal.errors import InvalidInput, NotPermitted
from portal.models import ApiToken
from portal.services.tokens import api_token_create, api_token_revoke, token_digest
from tests.conftest import PASSWORD
from tests.helpers import last_event, signed_in_long_ago


def _api(raw=None):
    client = APIClient()
    if raw:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_a_token_authenticates_its_owner_and_is_stored_only_as_a_hash(alice):
    token, raw = api_token_create(actor=alice, name="lab server", days=30)
    assert raw not in {token.digest, token.prefix}
    assert token.digest == token_digest(raw)
    assert not ApiToken.objects.filter(digest=raw).exists()
    response = _api(raw).get("/api/v1/me/")
    assert response.status_code == 200
    assert response.json() == {
        "email": alice.email,
        "full_name": alice.full_name,
        "organisation": alice.organisation,
        "roles": ["researcher"],
        "authenticated_by": "token",
    }
    assert last_event("api_token.create").actor_id == alice.pk


def test_a_revoked_token_stops_working_at_once(alice):
    token, raw = api_token_create(actor=alice, name="script", days=30)
    assert _api(raw).get("/api/v1/me/").status_code == 200
    api_token_revoke(actor=alice, token=token)
    response = _api(raw).get("/api/v1/me/")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]
    assert last_event("api_token.revoke").target_id == str(token.pk)


def test_an_expired_token_is_refused(alice):
    token, raw = api_token_create(actor=alice, name="old", days=1)
    ApiToken.objects.filter(pk=token.pk).update(
        created_at=timezone.now() - timedelta(days=3), expires_at=timezone.now() - timedelta(days=2)
    )
    assert _api(raw).get("/api/v1/me/").status_code == 401


@pytest.mark.parametrize("header", ["Bearer", "Bearer a b", "Bearer dap_00000000_forged", "Token nonsense"])
def test_malformed_or_unknown_tokens_get_a_json_401(header, alice):
    response = APIClient().get("/api/v1/me/", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert "detail" in response.json()


def test_only_the_owner_revokes_a_token(alice, bob):
    token, _ = api_token_create(actor=alice, name="mine", days=30)
    with pytest.raises(NotPermitted):
        api_token_revoke(actor=bob, token=token)
    token.refresh_from_db()
    assert token.revoked_at is None


def test_names_are_unique_among_live_tokens_and_validity_is_bounded(alice, settings):
    api_token_create(actor=alice, name="dup", days=30)
    with pytest.raises(InvalidInput) as exc:
        api_token_create(actor=alice, name="dup", days=30)
    assert "name" in exc.value.fields
    with pytest.raises(InvalidInput):
        api_token_create(actor=alice, name="too long", days=settings.API_TOKEN_MAX_DAYS + 1)
    assert ApiToken.objects.filter(user=alice).count() == 1


def test_the_api_refuses_anonymous_callers_with_json(db):
    response = APIClient().get("/api/v1/me/")
    assert response.status_code in (401, 403)
    assert "detail" in response.json()


def test_the_session_also_authenticates_the_api(client, alice):
    client.force_login(alice)
    assert client.get("/api/v1/me/").json()["authenticated_by"] == "session"


class TestTokenPage:
    def test_it_asks_for_the_password_once_the_sign_in_is_no_longer_recent(self, client, alice):
        response = signed_in_long_ago(alice, client).get("/settings/tokens/")
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/confirm-password/")

    def test_seconds_after_signing_in_it_asks_for_nothing_more(self, client, alice):
        response = client.post("/accounts/login/", {"username": alice.email, "password": PASSWORD})
        assert response.status_code == 302
        assert client.get("/settings/tokens/").status_code == 200

    def test_a_wrong_password_is_a_form_error(self, client, alice):
        client.force_login(alice)
        response = client.post("/accounts/confirm-password/", {"password": "nope", "next": "/settings/tokens/"})
        assert response.status_code == 200
        assert "That is not your password." in response.content.decode()

    def test_it_shows_a_new_token_once(self, client, alice):
        client.force_login(alice)
        client.post("/accounts/confirm-password/", {"password": PASSWORD, "next": "/settings/tokens/"})
        response = client.post("/settings/tokens/", {"name": "analysis cluster", "days": 90}, follow=True)
        token = ApiToken.objects.get(user=alice)
        page = response.content.decode()
        assert f"dap_{token.prefix}_" in page
        secret = page.split('id="new-token" class="token-value" readonly value="')[1].split('"')[0]
        assert token_digest(secret) == token.digest
        again = client.get("/settings/tokens/").content.decode()
        assert secret not in again
        assert "analysis cluster" in again

    def test_it_shows_field_errors(self, client, alice):
        client.force_login(alice)
        client.post("/accounts/confirm-password/", {"password": PASSWORD, "next": "/"})
        response = client.post("/settings/tokens/", {"name": "", "days": 7})
        assert response.status_code == 200
        assert response.context["form"].errors.keys() == {"name", "days"}

    def test_a_user_cannot_revoke_someone_elses_token(self, client, alice, bob):
        token, _ = api_token_create(actor=alice, name="alice's", days=30)
        client.force_login(bob)
        assert client.post(f"/settings/tokens/{token.pk}/revoke/").status_code == 404
        token.refresh_from_db()
        assert token.revoked_at is None

    def test_the_owner_revokes_from_the_page(self, client, alice):
        token, raw = api_token_create(actor=alice, name="to revoke", days=30)
        client.force_login(alice)
        assert client.post(f"/settings/tokens/{token.pk}/revoke/").status_code == 302
        assert _api(raw).get("/api/v1/me/").status_code == 401
