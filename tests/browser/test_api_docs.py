"""The footer's API reference opens a readable page: Swagger UI served by the portal itself (no CDN),
under the same strict Content-Security-Policy as every other page."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_api_reference_renders_every_operation_without_breaking_the_policy(live_server, page):
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    missing = []
    page.on("response", lambda r: missing.append(r.url) if r.status >= 400 else None)
    outside = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(live_server.url) else None)

    page.goto(f"{live_server.url}/catalogue/")
    page.get_by_role("link", name="API reference").click()
    page.wait_for_url(f"{live_server.url}/api/docs/")
    page.get_by_text("Imaging Data Access Portal API", exact=False).first.wait_for()
    page.locator(".opblock-summary-path", has_text="/api/v1/applications/{id}/submit/").first.wait_for()
    assert page.locator(".opblock").count() > 30  # every operation of the schema is listed
    assert outside == [r for r in outside if r.startswith("data:")], outside  # nothing fetched from elsewhere
    assert problems == [] and missing == [], (problems, missing)
