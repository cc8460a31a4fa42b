"""Sign-in, role dashboards, the audit log page, error pages, settings."""

import os
import secrets
import subprocess
import sys

import pytest

from portal.services.audit import audit_record
from tests.conftest import PASSWORD
from tests.helpers import ROOT


def test_the_login_page_renders_without_a_session(client, db):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert 'name="username"' in response.content.decode()


def test_anonymous_visitors_are_sent_to_sign_in(client, db):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_wrong_password_is_refused_with_a_message(client, alice):
    response = client.post("/accounts/login/", {"username": alice.email, "password": "wrong"})
    assert response.status_code == 200
    assert "correct e-mail address and password" in response.content.decode()


def test_sign_in_is_case_insensitive_on_the_email(client, alice):
    response = client.post("/accounts/login/", {"username": alice.email.upper(), "password": PASSWORD})
    assert response.status_code == 302


@pytest.mark.parametrize(
    ("persona", "panel"),
    [
        ("alice", "Your access applications"),
        ("rdo", "Records and messages"),
        ("chair", "Your committees"),
        ("member", "Your committees"),
        ("steward", "Your datasets"),
    ],
)
def test_each_role_sees_its_own_dashboard(client, request, persona, panel):
    user = request.getfixturevalue(persona)
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 200
    assert panel in response.content.decode()


def test_a_researcher_does_not_see_the_rdo_panels_or_audit_link(client, alice):
    client.force_login(alice)
    page = client.get("/").content.decode()
    assert "Records and messages" not in page
    assert 'href="/audit/"' not in page


def test_only_the_rdo_reads_the_audit_log(client, alice, rdo):
    audit_record(actor=alice, verb="document.view", target=alice, payload={"note": "visible event"})
    client.force_login(alice)
    assert client.get("/audit/").status_code == 403
    client.force_login(rdo)
    response = client.get("/audit/", {"verb": "document.view"})
    assert response.status_code == 200
    assert "visible event" in response.content.decode()


def test_sign_out_is_a_post(client, alice):
    client.force_login(alice)
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_unknown_api_paths_answer_json_404(client, db):
    response = client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json()["detail"] == "Not found."


def test_the_openapi_schema_is_served(client, db):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert b"/api/v1/me/" in response.content


def test_the_health_check_answers(client, db):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_static_files_come_from_the_app_not_a_cdn(client, alice):
    client.force_login(alice)
    page = client.get("/").content.decode()
    assert "/static/portal/portal.css" in page
    assert "//cdn" not in page and "https://" not in page.split("<body")[0]


def test_production_settings_pass_the_deploy_check():
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "portal.example.org",
        "DATABASE_URL": "sqlite:///:memory:",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set for the browser tests only
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    env = {**os.environ, "DEBUG": "false", "DATABASE_URL": "sqlite:///:memory:"}
    env.pop("SECRET_KEY", None)
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_a_bad_boolean_setting_fails_loudly():
    env = {**os.environ, "DEBUG": "maybe"}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert "DEBUG='maybe' is not a boolean" in result.stderr


def test_the_sign_in_page_names_the_portal_not_the_host(client, settings):
    settings.SITE_NAME = "Imaging Data Access Portal"
    body = client.get("/accounts/login/", HTTP_HOST="localhost").content.decode()
    assert '<a class="brand" href="/">Imaging Data Access Portal</a>' in body
    assert ">localhost<" not in body and "localhost ·" not in body
