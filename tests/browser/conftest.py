"""Browser tests: Playwright drives Debian's Chromium against Django's live server."""

import pytest
from axe_playwright_python.sync_playwright import Axe

pytestmark = pytest.mark.browser

_axe = Axe()


def assert_accessible(page) -> None:
    """axe-core finds no serious or critical violation on the page as shown."""
    results = _axe.run(page)
    bad = [v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
    summary = "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}" for v in bad
    )
    assert not bad, f"accessibility violations on {page.url}:\n{summary}"


def sign_in(page, base_url: str, email: str, password: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    # The form posts back to the same URL when the password is wrong: wait for
    # that navigation to finish, not only for the click, before anyone looks.
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()


@pytest.fixture
def axe_check():
    return assert_accessible
