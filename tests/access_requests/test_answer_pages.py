"""No answers the applicant did not give, on the pages and over the API: radio buttons start with
nothing chosen, the section pages say what is not answered, and the answers are saved as given."""

import re

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from access_requests.services.applications import AI_QUESTIONS
from tests.helpers import last_event

ANSWER_FIELDS = ("purpose", "methods_development", "commercial_use")


def inputs(html: str, name: str) -> list[str]:
    return re.findall(rf'<input[^>]*name="{name}"[^>]*>', html)


@pytest.fixture
def signed_in(client, alice):
    client.force_login(alice)
    return client


def edit_url(application, section: str) -> str:
    return reverse("access_requests:section-edit", args=[application.pk, section])


def test_the_project_page_of_a_new_application_chooses_no_answer(signed_in, draft):
    html = signed_in.get(edit_url(draft, "overview")).content.decode()
    for name in ANSWER_FIELDS:
        radios = inputs(html, name)
        assert radios and all('type="radio"' in r for r in radios), name
        assert not any("checked" in r for r in radios), name


def test_the_ai_page_of_a_new_application_chooses_no_answer(signed_in, draft):
    html = signed_in.get(edit_url(draft, "ai")).content.decode()
    assert "Does the project develop or use AI?" in html
    for name in ["uses_ai", *(f"ai_{key}" for key, _ in AI_QUESTIONS)]:
        radios = inputs(html, name)
        assert radios and not any("checked" in r for r in radios), name


def test_the_application_page_says_what_is_not_answered(signed_in, draft):
    html = signed_in.get(reverse("access_requests:application-detail", args=[draft.pk])).content.decode()
    assert re.search(r"<dt>Research purpose</dt><dd>Not answered</dd>", html)
    assert re.search(r"<dt>Develops general methods or algorithms</dt><dd>Not answered</dd>", html)
    assert re.search(r"<dt>Commercial use of the data or results</dt><dd>Not answered</dd>", html)
    assert re.search(r"<dt>Does the project develop or use AI\?</dt><dd>Not answered</dd>", html)


def test_the_project_answers_are_saved_as_given_and_shown_chosen(signed_in, draft):
    data = {
        "title": draft.title,
        "purpose": "GENERAL_RESEARCH_USE",
        "methods_development": "no",
        "commercial_use": "yes",
        "access_months": "12",
        "access_mode": "DOWNLOAD",
    }
    assert signed_in.post(edit_url(draft, "overview"), data).status_code == 302
    draft.refresh_from_db()
    assert (draft.purpose, draft.methods_development, draft.commercial_use) == ("GENERAL_RESEARCH_USE", False, True)
    assert {"purpose", "methods_development", "commercial_use"} <= set(
        last_event("application.update").payload["fields"]
    )
    html = signed_in.get(edit_url(draft, "overview")).content.decode()
    assert [r for r in inputs(html, "commercial_use") if "checked" in r][0].count('value="yes"') == 1
    assert [r for r in inputs(html, "methods_development") if "checked" in r][0].count('value="no"') == 1


def test_a_project_page_saved_without_the_answers_leaves_them_unanswered(signed_in, draft):
    data = {"title": draft.title, "access_months": "12", "access_mode": "DOWNLOAD"}
    assert signed_in.post(edit_url(draft, "overview"), data).status_code == 302
    draft.refresh_from_db()
    assert (draft.purpose, draft.methods_development, draft.commercial_use) == ("", None, None)


def test_an_answer_that_is_not_offered_is_a_form_error(signed_in, draft):
    data = {"title": draft.title, "access_months": "12", "access_mode": "DOWNLOAD", "commercial_use": "perhaps"}
    response = signed_in.post(edit_url(draft, "overview"), data)
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    draft.refresh_from_db()
    assert draft.commercial_use is None


def test_the_ai_answers_are_saved_and_shown(signed_in, draft):
    data = {"uses_ai": "no", "ai_not_used_reason": "  AI is only what our survey asks radiologists about.  "}
    assert signed_in.post(edit_url(draft, "ai"), data).status_code == 302
    draft.refresh_from_db()
    assert (draft.uses_ai, draft.ai_not_used_reason) == (False, "AI is only what our survey asks radiologists about.")
    html = signed_in.get(reverse("access_requests:application-detail", args=[draft.pk])).content.decode()
    assert "<dt>Why the project uses no AI</dt><dd>AI is only what our survey asks radiologists about.</dd>" in html


def test_the_api_sets_and_reads_the_answers(draft, alice):
    api = APIClient()
    api.force_authenticate(alice)
    url = f"/api/v1/applications/{draft.pk}/"
    body = api.get(url).json()
    assert {k: body[k] for k in (*ANSWER_FIELDS, "uses_ai", "ai_not_used_reason")} == {
        "purpose": "",
        "methods_development": None,
        "commercial_use": None,
        "uses_ai": None,
        "ai_not_used_reason": "",
    }
    answers = {"methods_development": False, "commercial_use": False, "uses_ai": False, "ai_not_used_reason": "None."}
    response = api.patch(url, answers, format="json")
    assert response.status_code == 200, response.content
    assert {k: response.json()[k] for k in answers} == answers
    refused = api.patch(url, {"uses_ai": "maybe"}, format="json")
    assert refused.status_code == 400
    assert "uses_ai" in refused.json()["errors"]
