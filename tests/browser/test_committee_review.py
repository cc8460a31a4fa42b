"""The committee reviews an application in a real browser: one member declares a conflict of
interest, two vote on the review page with the script on (no page load: a marker set on the window
survives), and the chair sees the rule met and approves one holder's dataset and refuses the
other's; the decision letter is downloaded from the application page and its text read. axe-core
checks every page and state."""

import io

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from access_requests.models import ApplicationStatus, ConflictDeclaration, Vote
from access_requests.services import applications as svc
from access_requests.services import transitions as tr
from access_requests.services.committees import committee_add_member
from tests.access_requests.conftest import CHECKLIST_DONE, complete, make_dataset
from tests.browser.conftest import assert_accessible, sign_in
from tests.conftest import PASSWORD, _person

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _in_review(alice, rdo, committee, holder, other_holder):
    dataset = make_dataset(holder, "LV-MG-2026", conditions=("C50",), use=[("ETHICS_APPROVAL_REQUIRED", {})])
    other = make_dataset(other_holder, "ES-MR-2026", conditions=("C61",))
    application = svc.application_create(actor=alice, title="Breast density and AI", datasets=[dataset, other])
    application = complete(application, alice)
    tr.application_submit(actor=alice, application=application)
    tr.rdo_checklist_update(actor=rdo, application=application, data=CHECKLIST_DONE)
    return tr.application_forward(actor=rdo, application=application, committee=committee)


def _open_review(page, base, user, application):
    page.context.clear_cookies()
    sign_in(page, base, user.email, PASSWORD)
    page.wait_for_url(f"{base}/")
    assert_accessible(page)
    page.goto(f"{base}/applications/{application.pk}/committee/")
    page.wait_for_load_state()
    expect(page.get_by_role("heading", name=f"Committee review of {application.reference}")).to_be_visible()
    assert_accessible(page)
    page.evaluate("window.__noReload = 'still here'")


def _no_navigation(page):
    assert page.evaluate("window.__noReload") == "still here"


def test_three_members_and_a_chair_review_one_application(
    live_server, page, alice, rdo, committee, chair, holder, other_holder
):
    base = live_server.url
    members = [
        _person(f"member{n}@committee.example", name, ["committee"])
        for n, name in ((1, "Ines Conflicted"), (2, "Jonas Second"), (3, "Kim Third"))
    ]
    for user in members:
        committee_add_member(actor="system:test", committee=committee, user=user)
    application = _in_review(alice, rdo, committee, holder, other_holder)
    conflicted, second, third = members

    # the first member declares a conflict of interest: the section changes in place
    _open_review(page, base, conflicted, application)
    page.get_by_label("Your conflict of interest").fill("I co-author with the applicant.")
    page.get_by_role("button", name="Declare the conflict and step aside").click()
    expect(page.get_by_text("You are recused", exact=True)).to_be_visible()
    expect(page.locator("#committee-live")).to_contain_text("Conflict of interest declared")
    _no_navigation(page)
    assert_accessible(page)
    assert ConflictDeclaration.objects.filter(member=conflicted).exists()

    # two members vote, one after a technical check; a missing rationale shows its error in place
    for voter in (second, third):
        _open_review(page, base, voter, application)
        expect(page.get_by_text("Hidden until you vote")).to_be_visible()
        if voter == second:
            page.get_by_label("The processing environment is secure enough for these data").check()
            page.get_by_role("button", name="Save the technical check").click()
            expect(page.locator("#committee-live")).to_contain_text("Technical check saved")
            page.get_by_role("group", name="Your vote").get_by_label("Reject").check()
            page.get_by_role("button", name="Cast my vote").click()
            expect(page.get_by_text("Give a rationale.")).to_be_visible()
            assert_accessible(page)
        page.get_by_role("group", name="Your vote").get_by_label("Approve").check()
        page.get_by_role("button", name="Cast my vote").click()
        expect(page.locator("#committee-live")).to_contain_text("Your vote is recorded")
        expect(page.get_by_text("Hidden until you vote")).to_have_count(0)
        expect(page.locator("#committee-vote")).to_contain_text(voter.full_name)
        _no_navigation(page)
        assert_accessible(page)
    assert Vote.objects.filter(member__in=[second, third], choice="approve").count() == 2

    # the chair sees the rule met and approves (signing in just now confirmed the password)
    _open_review(page, base, chair, application)
    expect(page.get_by_text("The committee's rule is met: the votes allow an approval.")).to_be_visible()
    decision = page.get_by_role("group", name="The committee's decision")
    decision.get_by_label("Approve").check()
    page.locator("#id_decision_rationale").fill("A sound project with proportionate safeguards.")
    page.get_by_role("textbox", name="Conditions of use").fill("No linkage with other registries.")
    page.get_by_role("group", name="ES-MR-2026").get_by_label("Refuse").check()
    page.get_by_label("Why ES-MR-2026 is refused").fill("Prostate MR is outside the stated purpose.")
    page.get_by_role("button", name="Record the decision").click()
    page.wait_for_load_state()
    expect(page.get_by_text(f"{application.reference} is approved")).to_be_visible()
    expect(page.get_by_role("heading", name="Round 1: Approved")).to_be_visible()
    assert_accessible(page)
    application.refresh_from_db()
    assert application.status == ApplicationStatus.APPROVED

    # the decision letter (rendered after the decision committed) is on the application's page
    page.goto(f"{base}/applications/{application.pk}/")
    link = page.get_by_role("link", name="Download the letter of round 1 (PDF)")
    expect(link).to_be_visible()
    assert_accessible(page)
    with page.expect_download() as download:
        link.click()
    with open(download.value.path(), "rb") as stream:
        text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(stream.read())).pages).split())
    assert application.reference in text and "Breast density and AI" in text
    assert "LV-MG-2026" in text and "ES-MR-2026" in text
    assert "Prostate MR is outside the stated purpose." in text
    assert "approved for some datasets only" in text.lower()
    assert "No linkage with other registries." in text
