"""`make demo` runs under PORTAL_PROFILE=demo: visitors see the portal's own error pages, as in
production, while the demo still works on plain http://127.0.0.1:PORT with its own secret key."""

import io
import json
import os
import re
import subprocess
import sys

import pytest
from django.core.management import call_command
from rdflib import Graph

from portal.models import OutboxEmail
from tests.helpers import ROOT

# Runs in a fresh interpreter, so the settings are read under the demo profile as `make demo` does.
PROBE = r"""
import json, os
import django
from django.conf import settings

django.setup()
settings.ROOT_URLCONF = "tests.portal.demo_profile_urls"  # the portal's URLs plus one broken page
from django.test import Client

client = Client(raise_request_exception=False, HTTP_HOST="127.0.0.1")
answers = {}
for name, url in [
    ("missing", "/no-such-page/"),
    ("refused", "/demo-profile/unlisted/"),
    ("broken", "/demo-profile/broken/"),
    ("static", "/static/portal/portal.css"),
    ("api_missing", "/api/v1/no-such-thing/"),
]:
    response = client.get(url)
    body = b"".join(response) if response.streaming else response.content
    answers[name] = {"status": response.status_code, "body": body.decode(errors="replace")}
response = Client(enforce_csrf_checks=True, HTTP_HOST="127.0.0.1").post("/accounts/login/", {"username": "x"})
answers["csrf"] = {"status": response.status_code, "body": response.content.decode()}
answers["settings"] = {
    "DEBUG": settings.DEBUG,
    "ALLOWED_HOSTS": settings.ALLOWED_HOSTS,
    "SECRET_KEY": settings.SECRET_KEY,
    "SESSION_COOKIE_SECURE": settings.SESSION_COOKIE_SECURE,
    "CSRF_COOKIE_SECURE": settings.CSRF_COOKIE_SECURE,
    "SECURE_SSL_REDIRECT": settings.SECURE_SSL_REDIRECT,
    "SECURE_HSTS_SECONDS": settings.SECURE_HSTS_SECONDS,
    "EMAIL_BACKEND": settings.EMAIL_BACKEND,
}
print("PROBE" + json.dumps(answers))
"""

DEBUG_PAGE_WORDS = ["URLconf", "Page not found (404)", "Traceback", "Request Method:", "DEBUG = True"]


def demo_env(var_dir, **extra):
    env = {key: value for key, value in os.environ.items() if key not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS"}}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set for the browser tests only
    env.pop("EMAIL_BACKEND", None)
    env.pop("EMAIL_HOST", None)
    env.update(
        {
            "PORTAL_PROFILE": "demo",
            "PORTAL_VAR_DIR": str(var_dir),
            "DATABASE_URL": f"sqlite:///{var_dir / 'portal.sqlite3'}",
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            **extra,
        }
    )
    return env


def probe(var_dir, **extra) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=demo_env(var_dir, **extra),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("PROBE"))
    return json.loads(line.removeprefix("PROBE"))


@pytest.fixture(scope="module")
def answers(tmp_path_factory):
    return probe(tmp_path_factory.mktemp("demo-var"))


def assert_no_debug_page(body: str):
    for words in DEBUG_PAGE_WORDS:
        assert words not in body


def test_a_missing_page_shows_the_portals_own_404(answers):
    missing = answers["missing"]
    assert missing["status"] == 404
    assert "<h1>Not found</h1>" in missing["body"]
    assert "Back to your dashboard" in missing["body"]
    assert_no_debug_page(missing["body"])


def test_a_refusal_shows_the_portals_own_403(answers):
    refused = answers["refused"]
    assert refused["status"] == 403
    assert "<h1>Not allowed</h1>" in refused["body"]
    assert "This address is not open to anyone." in refused["body"]
    assert_no_debug_page(refused["body"])


def test_a_failing_view_shows_the_portals_own_500(answers):
    broken = answers["broken"]
    assert broken["status"] == 500
    assert "<h1>Something went wrong</h1>" in broken["body"]
    assert "The error has been logged" in broken["body"]
    assert "a bug in a view" not in broken["body"]
    assert_no_debug_page(broken["body"])


def test_a_form_without_its_csrf_token_shows_the_portals_own_403(answers):
    csrf = answers["csrf"]
    assert csrf["status"] == 403
    assert "<h1>Not allowed</h1>" in csrf["body"]
    assert "reload the page and send the form again" in csrf["body"]
    assert "CSRF verification failed" not in csrf["body"]


def test_the_api_still_answers_in_json(answers):
    assert answers["api_missing"]["status"] == 404
    assert json.loads(answers["api_missing"]["body"])["detail"] == "Not found."


def test_static_files_are_served_without_collectstatic(answers):
    assert answers["static"]["status"] == 200
    assert "{" in answers["static"]["body"]  # the stylesheet itself


def test_the_demo_works_on_plain_http_on_this_machine(answers):
    demo = answers["settings"]
    assert demo["DEBUG"] is False
    assert {"127.0.0.1", "localhost"} <= set(demo["ALLOWED_HOSTS"])
    assert demo["SESSION_COOKIE_SECURE"] is False and demo["CSRF_COOKIE_SECURE"] is False
    assert demo["SECURE_SSL_REDIRECT"] is False and demo["SECURE_HSTS_SECONDS"] == 0
    assert demo["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"  # as before


def test_the_demo_secret_key_is_generated_per_install_and_kept(tmp_path, answers):
    first = probe(tmp_path)["settings"]["SECRET_KEY"]
    key_file = tmp_path / "secret_key"
    assert key_file.read_text().strip() == first
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert probe(tmp_path)["settings"]["SECRET_KEY"] == first  # kept across restarts
    assert first != answers["settings"]["SECRET_KEY"]  # another install, another key
    assert len(first) >= 50 and "dev-only" not in first


def test_the_demo_allows_the_host_it_is_served_on(tmp_path):
    demo = probe(tmp_path, SITE_URL="http://192.0.2.7:8123")["settings"]
    assert "192.0.2.7" in demo["ALLOWED_HOSTS"]


def test_an_unknown_profile_fails_loudly(tmp_path):
    env = demo_env(tmp_path, PORTAL_PROFILE="staging")
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert "PORTAL_PROFILE='staging' is not a profile" in result.stderr


def run_make_demo(tmp_path, *args: str, environment: dict | None = None) -> list[dict]:
    """`make demo` with a stand-in interpreter that records each command and the environment it ran
    with, so the Makefile's own logic decides what the demo's commands see."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    log = tmp_path / "commands.jsonl"
    stand_in = venv / "bin" / "python"
    stand_in.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        f"with open({str(log)!r}, 'a') as out:\n"
        "    out.write(json.dumps({'argv': sys.argv[1:], 'PORTAL_PROFILE': os.environ.get('PORTAL_PROFILE'),"
        " 'SITE_URL': os.environ.get('SITE_URL')}) + '\\n')\n"
    )
    stand_in.chmod(0o755)
    (venv / ".installed").touch()  # newer than requirements.txt: nothing to install
    env = {key: value for key, value in os.environ.items() if key not in {"SITE_URL", "PORTAL_PROFILE", "PORT"}}
    env.update(environment or {})
    result = subprocess.run(
        ["make", "demo", f"VENV={venv}", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_make_demo_runs_every_command_under_the_demo_profile(tmp_path):
    commands = run_make_demo(tmp_path, "PORT=8123")
    assert [c["argv"][1] for c in commands] == [
        "migrate",
        "visa_dev_key",
        "federation_dev_key",
        "load_demo",
        "runserver",
    ]
    assert all(c["PORTAL_PROFILE"] == "demo" for c in commands)
    assert commands[-1]["argv"][2] == "127.0.0.1:8123"


# --- the demo follows its port: e-mail and export links use the address `make demo` serves on ---


@pytest.fixture(scope="module")
def demo_site_url(tmp_path_factory):
    commands = run_make_demo(tmp_path_factory.mktemp("make-demo"), "PORT=8123")
    assert {c["SITE_URL"] for c in commands} == {"http://127.0.0.1:8123"}
    return commands[-1]["SITE_URL"]


def test_make_demo_on_another_host_and_port_links_there(tmp_path):
    commands = run_make_demo(tmp_path, "HOST=localhost", "PORT=9001")
    assert {c["SITE_URL"] for c in commands} == {"http://localhost:9001"}


def test_an_explicit_site_url_wins_over_the_port(tmp_path):
    commands = run_make_demo(tmp_path, "PORT=8123", environment={"SITE_URL": "https://portal.example.org"})
    assert {c["SITE_URL"] for c in commands} == {"https://portal.example.org"}


def test_demo_e_mail_links_follow_the_port(client, db, settings, demo_site_url):
    settings.SITE_URL = demo_site_url  # what the demo's commands read from the environment
    form = {
        "email": "dora@new.example",
        "full_name": "Dora New",
        "organisation": "Tartu University",
        "country": "EE",
        "password1": "glacier-lantern-orbit-42",
        "password2": "glacier-lantern-orbit-42",
    }
    assert client.post("/accounts/signup/", form).status_code == 302
    [mail] = [m for m in OutboxEmail.objects.filter(template="email_proof") if "dora@new.example" in m.to]
    links = re.findall(r"https?://[^\s\"<>]+", mail.body_text + mail.body_html)
    assert links and all(re.match(r"http://127\.0\.0\.1:8123(/|$)", link) for link in links), links
    path = re.search(r"http://127\.0\.0\.1:8123(/\S+)", mail.body_text).group(1)
    assert client.get(path).status_code == 200  # the link is the portal's own page


def test_demo_catalogue_export_links_follow_the_port(client, db, settings, demo_site_url):
    settings.SITE_URL = demo_site_url
    call_command("load_demo", "--quiet-logins", stdout=io.StringIO())
    turtle = client.get("/catalogue/export.ttl").content.decode()
    graph = Graph().parse(data=turtle, format="turtle")
    portal_nodes = {str(node) for triple in graph for node in triple if "/catalogue/" in str(node)}
    assert portal_nodes, turtle[:2000]
    assert all(node.startswith("http://127.0.0.1:8123/catalogue/") for node in portal_nodes), portal_nodes
    assert "127.0.0.1:8000" not in turtle
