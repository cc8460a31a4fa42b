"""Every demo login reaches its dashboard in a real browser; pages pass axe-core."""

import re

import pytest

from portal.demo import DEMO_PASSWORD, PEOPLE, load_demo
from tests.browser.conftest import assert_accessible, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EXPECTED_PANEL = {
    "researcher": "Your access applications",
    "researcher2": "Your access applications",
    "rdo": "Records and messages",
    "chair": "Your committees",
    "member1": "Your committees",
    "member2": "Your committees",
    "member3": "Your committees",
    "chair_iberia": "Your committees",
    "steward_riga": "Your datasets",
    "steward_valencia": "Your datasets",
    "signatory": "Legal statements to sign",
}


@pytest.fixture
def demo(db):
    return load_demo()


def test_the_login_page_is_accessible(live_server, page, db):
    page.goto(f"{live_server.url}/accounts/login/")
    assert page.get_by_role("heading", name="Sign in").is_visible()
    assert_accessible(page)


def test_every_demo_login_reaches_its_dashboard(live_server, page, demo):
    for person in PEOPLE:
        sign_in(page, live_server.url, person.email, DEMO_PASSWORD)
        page.wait_for_url(f"{live_server.url}/")
        heading = page.get_by_role("heading", name=re.compile("^" + re.escape(EXPECTED_PANEL[person.key])))
        assert heading.is_visible(), person.email
        assert_accessible(page)
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(f"{live_server.url}/accounts/login/")


def test_a_wrong_password_shows_an_error_in_the_browser(live_server, page, demo):
    sign_in(page, live_server.url, PEOPLE[0].email, "not-the-password")
    assert page.get_by_text("Please enter a correct e-mail address and password").is_visible()
    assert_accessible(page)


def test_a_researcher_creates_an_api_token_in_the_browser(live_server, page, demo):
    person = PEOPLE[0]
    sign_in(page, live_server.url, person.email, DEMO_PASSWORD)
    page.get_by_role("link", name="API tokens").click()  # seconds after signing in: no second password prompt
    page.get_by_label("Name").fill("notebook")
    page.get_by_role("button", name="Create token").click()
    token = page.get_by_label("Token", exact=True).input_value()
    assert token.startswith("dap_")
    assert_accessible(page)
    response = page.request.get(f"{live_server.url}/api/v1/me/", headers={"Authorization": f"Bearer {token}"})
    assert response.json()["email"] == person.email
