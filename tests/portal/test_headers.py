"""Security headers on every kind of answer, no caching of what a signed-in user sees, documents as
attachments, and templates that a strict Content-Security-Policy does not break."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import path
from django.utils import timezone

import portal.urls
from access_requests.services import applications as svc
from portal.services.tokens import api_token_create
from tests.access_requests.conftest import make_dataset, pdf_bytes

pytestmark = pytest.mark.django_db


# --- a URL that fails, to see the 500 page's headers ------------------------------------------


def _boom(request):
    raise RuntimeError("a deliberate failure for the 500 page")


urlpatterns = [path("test-boom/", _boom, name="test-boom"), *portal.urls.urlpatterns]
handler404 = portal.urls.handler404
handler403 = portal.urls.handler403
handler500 = portal.urls.handler500
handler400 = portal.urls.handler400


# --- what every answer carries ------------------------------------------------------------


def csp_directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def assert_security_headers(response) -> None:
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] in {"same-origin", "strict-origin-when-cross-origin"}
    csp = csp_directives(response)
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["form-action"] == ["'self'"]


def cache_control(response) -> set[str]:
    return {part.strip() for part in response.get("Cache-Control", "").split(",") if part.strip()}


def assert_not_stored(response) -> None:
    assert {"private", "no-store"} <= cache_control(response), response.get("Cache-Control")


@pytest.fixture
def signed_in(alice):
    client = Client()
    client.force_login(alice)
    return client


@pytest.fixture
def token_client(alice):
    _, raw = api_token_create(actor=alice, name="headers", days=5)
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def test_the_policy_allows_no_inline_or_evaluated_script_or_style():
    response = Client().get("/accounts/login/")
    for directive, sources in csp_directives(response).items():
        assert "'unsafe-inline'" not in sources, directive
        assert "'unsafe-eval'" not in sources, directive
        assert "*" not in sources, directive


def test_a_public_page_carries_every_header_and_stays_cacheable():
    response = Client().get("/catalogue/")
    assert response.status_code == 200
    assert_security_headers(response)
    assert "no-store" not in cache_control(response)


def test_a_signed_in_page_is_private_and_never_stored(signed_in):
    response = signed_in.get("/")
    assert response.status_code == 200
    assert_security_headers(response)
    assert_not_stored(response)


def test_an_api_answer_to_a_session_is_private_and_never_stored(signed_in):
    response = signed_in.get("/api/v1/me/")
    assert response.status_code == 200
    assert response.json()["authenticated_by"] == "session"
    assert_security_headers(response)
    assert_not_stored(response)


def test_an_api_answer_to_a_token_is_private_and_never_stored(token_client):
    """The API authenticates the token inside the view, after every middleware has seen the request."""
    response = token_client.get("/api/v1/me/")
    assert response.status_code == 200
    assert response.json()["authenticated_by"] == "token"
    assert "sessionid" not in response.cookies
    assert_security_headers(response)
    assert_not_stored(response)


def test_an_api_error_to_a_token_carries_every_header(token_client):
    response = token_client.get("/api/v1/applications/999999/")
    assert response.status_code == 404
    assert "detail" in response.json()
    assert_security_headers(response)
    assert_not_stored(response)


def test_an_anonymous_api_error_carries_every_header():
    response = Client().get("/api/v1/me/")
    assert response.status_code in {401, 403}
    assert "detail" in response.json()
    assert_security_headers(response)


def test_the_404_page_carries_every_header(signed_in):
    response = Client().get("/no-such-page/")
    assert response.status_code == 404
    assert_security_headers(response)
    response = signed_in.get("/no-such-page/")
    assert response.status_code == 404
    assert_security_headers(response)
    assert_not_stored(response)


@pytest.mark.urls(__name__)
def test_the_500_page_carries_every_header(signed_in, monkeypatch):
    from portal import access

    monkeypatch.setitem(access.URLS, "test-boom", {"GET": access.SIGNED_IN})  # declared, as every URL must be
    signed_in.raise_request_exception = False
    response = signed_in.get("/test-boom/")
    assert response.status_code == 500
    assert b"<html" in response.content
    assert_security_headers(response)
    assert_not_stored(response)


def test_static_files_carry_nosniff_and_stay_cacheable(signed_in):
    response = signed_in.get("/static/portal/portal.css")
    assert response.status_code == 200
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" not in cache_control(response)
    b"".join(response.streaming_content)


# --- documents ----------------------------------------------------------------------------


@pytest.fixture
def approval(alice, holder, django_capture_on_commit_callbacks):
    dataset = make_dataset(holder, "LV-MG-001", conditions=("C50",))
    with django_capture_on_commit_callbacks(execute=True):  # documents may be written on commit
        application = svc.application_create(actor=alice, title="Breast density and AI", datasets=[dataset])
        return svc.ethics_approval_add(
            actor=alice,
            application=application,
            committee_name="UL Research Ethics Committee",
            reference="REC-2026-17",
            approved_on=timezone.localdate() - timedelta(days=30),
            expires_on=timezone.localdate() + timedelta(days=400),
            covered_ids=list(application.requested.values_list("pk", flat=True)),
            document=SimpleUploadedFile("approval.pdf", pdf_bytes(), content_type="application/pdf"),
        )


def assert_served_as_an_attachment(response) -> None:
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert 'filename="approval.pdf"' in response["Content-Disposition"]
    assert_security_headers(response)
    assert_not_stored(response)
    assert b"".join(response.streaming_content).startswith(b"%PDF")


def test_a_document_from_the_page_is_an_attachment_never_stored(signed_in, approval):
    response = signed_in.get(f"/applications/{approval.application_id}/documents/ethics/{approval.pk}/")
    assert_served_as_an_attachment(response)


def test_a_document_from_the_api_by_token_is_an_attachment_never_stored(token_client, approval):
    response = token_client.get(f"/api/v1/applications/{approval.application_id}/ethics/{approval.pk}/document/")
    assert_served_as_an_attachment(response)


def test_a_document_sent_by_nginx_keeps_its_headers(signed_in, approval, settings):
    settings.PROTECTED_SERVE_MODE = "nginx"
    response = signed_in.get(f"/applications/{approval.application_id}/documents/ethics/{approval.pk}/")
    assert response.status_code == 200
    assert response["X-Accel-Redirect"].startswith("/protected/")
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert_not_stored(response)


# --- templates stay compatible with the policy --------------------------------------------

_TAG = re.compile(r"<[a-zA-Z][^<>]*>")
_PROBLEMS = {
    "an inline <script>": re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>|<script\b[^>]*>\s*[^<\s]", re.I),
    "an inline <style> block": re.compile(r"<style\b", re.I),
    "a javascript: URL": re.compile(r"javascript\s*:", re.I),
}
_TAG_PROBLEMS = {
    "an inline event handler": re.compile(r"\son[a-z]+\s*=", re.I),
    "an inline style attribute": re.compile(r"\sstyle\s*=", re.I),
}


def template_problems(text: str) -> list[str]:
    """What in a template the Content-Security-Policy would block."""
    found = [what for what, pattern in _PROBLEMS.items() if pattern.search(text)]
    for tag in _TAG.findall(text):
        found += [f"{what} in {tag}" for what, pattern in _TAG_PROBLEMS.items() if pattern.search(tag)]
    return found


def page_templates() -> list[Path]:
    """Every HTML template a page can render: the project's and each app's own (e-mail is not a page,
    nor is a letter: letters are rendered to PDF by WeasyPrint, with their print styles inside, and
    never served as HTML)."""
    roots = [Path(d) for engine in settings.TEMPLATES for d in engine["DIRS"]]
    roots += [Path(settings.BASE_DIR, app, "templates") for app in ("portal", "catalogue", "access_requests")]
    return sorted(
        p
        for root in roots
        if root.is_dir()
        for p in root.rglob("*.html")
        if "emails" not in p.parts and "letters" not in p.parts
    )


@pytest.mark.parametrize(
    "snippet",
    [
        "<script>alert(1)</script>",
        '<script type="text/javascript">\n  go()\n</script>',
        "<style>p { color: red }</style>",
        '<button onclick="go()">Go</button>',
        '<body onload="go()">',
        '<a href="javascript:go()">Go</a>',
        '<p style="color: red">Red</p>',
        '<p class="x"\n   style="color: red">Red</p>',
    ],
)
def test_the_template_scan_finds_what_the_policy_would_block(snippet):
    assert template_problems(snippet)


def test_the_template_scan_accepts_what_the_policy_allows():
    assert not template_problems('<script src="/static/portal/app.js"></script>')
    assert not template_problems('<link rel="stylesheet" href="/static/portal/portal.css"><p class="note">ok</p>')
    assert not template_problems("<p>Based on the data-use conditions, this is styled by portal.css.</p>")


def test_no_template_has_an_inline_script_handler_or_style():
    templates = page_templates()
    assert len(templates) > 40  # the scan really reads the templates
    problems = {str(p.relative_to(settings.BASE_DIR)): template_problems(p.read_text()) for p in templates}
    assert {name: found for name, found in problems.items() if found} == {}


# --- in a real browser: nothing on any page is blocked by the policy ------------------------

_SKIP_LINKS = re.compile(
    r"/documents/|/letter/|/pdf/|/scan/|/api/|/admin/|\.ttl$|\.jsonld$|remove|delete|withdraw|logout"
)


def _links(page, base_url: str) -> list[str]:
    hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
    return [h.split("#")[0] for h in hrefs if h.startswith(base_url) and not _SKIP_LINKS.search(h)]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_no_page_a_demo_user_reaches_is_blocked_by_the_policy(live_server, page):
    from portal.demo import DEMO_PASSWORD, PEOPLE, load_demo
    from tests.browser.conftest import sign_in

    load_demo()
    console = []
    page.on("console", lambda message: console.append(f"{page.url}: {message.type}: {message.text}"))
    page.on("pageerror", lambda error: console.append(f"{page.url}: pageerror: {error}"))
    visited = set()
    for person in [p for p in PEOPLE if p.key in {"researcher", "rdo", "steward_riga", "chair"}]:
        sign_in(page, live_server.url, person.email, DEMO_PASSWORD)
        page.wait_for_url(f"{live_server.url}/")
        queue = [f"{live_server.url}/", *_links(page, live_server.url)]
        seen = set()
        while queue and len(seen) < 30:
            url = queue.pop(0)
            if url in seen:
                continue
            seen.add(url)
            response = page.goto(url)
            assert "script-src 'self'" in response.headers["content-security-policy"], url
            queue += _links(page, live_server.url)
        visited |= {url.removeprefix(live_server.url) for url in seen}
        page.context.clear_cookies()
    assert len(visited) > 20, sorted(visited)
    blocked = [line for line in console if "Content Security Policy" in line or "pageerror" in line]
    assert blocked == [], "\n".join(blocked)

    # The listener does hear the policy at work: an inline script added to a page is refused.
    ran = page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.inlineRan = true';"
        " document.body.appendChild(s); return window.inlineRan === true; }"
    )
    assert ran is False
    page.wait_for_timeout(200)
    assert any("Content Security Policy" in line for line in console), console
