"""The applications API: each endpoint with the outsider (404), the read-only role (403), bad input
(400 naming the fields), an illegal transition (409) and its audit event; then the whole path over
the API with a personal token."""

import hashlib
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from access_requests.models import Application, ApplicationStatus, LegalStatement, Message, TeamMember
from access_requests.services import applications as svc
from access_requests.services.applications import AI_QUESTIONS
from access_requests.services.documents import document_absolute_path
from catalogue.models import BasketItem, DatasetStatus
from portal.models import AuditEvent, OutboxEmail
from portal.services.audit import audit_verify
from portal.services.tokens import api_token_create
from tests.access_requests.conftest import CHECKLIST_DONE, frozen, make_dataset, pdf_bytes, signatory_person
from tests.conftest import PASSWORD
from tests.helpers import change_events, last_event

BASE = "/api/v1/applications/"
ETHICS = object()  # marks the multipart ethics upload in the endpoint table


def client_for(user) -> APIClient:
    """Signed in as `user`, confirming the password with each request (decisive acts ask for it)."""
    client = APIClient()
    client.force_authenticate(user)
    client.credentials(HTTP_X_CONFIRM_PASSWORD=PASSWORD)
    return client


def ethics_form(**overrides) -> dict:
    form = {
        "committee_name": "UL Research Ethics Committee",
        "reference": "REC-2026-42",
        "approved_on": str(timezone.localdate() - timedelta(days=5)),
        "expires_on": str(timezone.localdate() + timedelta(days=900)),
        "datasets": ["LV-MG-001"],
        "document": SimpleUploadedFile("approval.pdf", pdf_bytes(), content_type="application/pdf"),
    }
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


def call(client, method: str, template: str, body, application, committee=None):
    ids = {"pk": application.pk}
    if "{member}" in template:
        ids["member"] = application.team.first().pk
    if "{approval}" in template:
        ids["approval"] = application.ethics_approvals.first().pk
    if "{risk}" in template:
        ids["risk"] = application.dpia.risks.first().pk
    url = BASE + template.format(**ids)
    if body is ETHICS:
        return client.post(url, ethics_form(), format="multipart")
    if isinstance(body, dict) and body.get("committee") == "{committee}":
        body = {"committee": committee.pk}
    return getattr(client, method)(url, body, format="json") if body is not None else getattr(client, method)(url)


def assert_refused(user, endpoint, application, code: int, *, committee=None) -> dict:
    """Call `endpoint` as `user`: answered with `code`, and nothing changed."""
    client = client_for(user)
    before = frozen(application)
    response = call(client, *endpoint, application, committee)
    assert response.status_code == code, response.content
    assert frozen(application) == before
    return response.json()


TEAM_WRITES = [
    ("patch", "{pk}/", {"timeline": "Changed."}),
    ("put", "{pk}/datasets/", {"datasets": {"LV-MG-001": "Changed."}}),
    ("post", "{pk}/datasets/add/", {"dataset": "LV-MG-001"}),
    ("post", "{pk}/team/", {"email": "eve@uni.example"}),
    ("delete", "{pk}/team/{member}/", None),
    ("post", "{pk}/ethics/", ETHICS),
    ("delete", "{pk}/ethics/{approval}/", None),
    ("patch", "{pk}/dpia/", {"conclusion": "Changed."}),
    ("post", "{pk}/dpia/risks/", {"description": "Theft", "likelihood": 1, "severity": 2, "mitigation": "Locks"}),
    ("delete", "{pk}/dpia/risks/{risk}/", None),
    ("patch", "{pk}/representations/", {"signatory_role": "Rector"}),
]
APPLICANT_ACTS = [
    ("post", "{pk}/submit/", None),
    ("post", "{pk}/withdraw/", {"reason": "Changed my mind."}),
    ("delete", "{pk}/", None),
]
REVIEW_ACTS = [
    ("post", "{pk}/return/", {"comments": {"dpia": "Name the DPO."}}),
    ("post", "{pk}/forward/", {"committee": "{committee}"}),
    ("patch", "{pk}/checklist/", {"dpia_reviewed": True}),
]
READS = [
    ("get", "{pk}/", None),
    ("get", "{pk}/check/", None),
    ("get", "{pk}/messages/", None),
    ("post", "{pk}/messages/", {"body": "Hello?"}),
    ("get", "{pk}/changes/", None),
    ("get", "{pk}/ethics/{approval}/document/", None),
    ("get", "{pk}/dpia/document/", None),
]
EVERY_ENDPOINT = TEAM_WRITES + APPLICANT_ACTS + REVIEW_ACTS + READS


def _id(endpoint) -> str:
    return f"{endpoint[0].upper()} {endpoint[1]}"


# --- who may call what --------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", EVERY_ENDPOINT, ids=_id)
@pytest.mark.parametrize(
    ("persona", "state"), [("charlie", "submitted"), ("other_steward", "submitted"), ("rdo", "ready")]
)
def test_every_endpoint_answers_404_to_whoever_may_not_see_the_application(
    endpoint, persona, state, request, committee
):
    application = request.getfixturevalue(state)
    body = assert_refused(request.getfixturevalue(persona), endpoint, application, 404, committee=committee)
    assert body["detail"] == "No such application."


@pytest.mark.parametrize("endpoint", TEAM_WRITES, ids=_id)
@pytest.mark.parametrize("persona", ["rdo", "steward"])
def test_team_writes_answer_403_to_staff_who_may_only_read(endpoint, persona, returned, request):
    body = assert_refused(request.getfixturevalue(persona), endpoint, returned, 403)
    assert body["detail"] == "Only the application's team can change it."


@pytest.mark.parametrize("endpoint", TEAM_WRITES, ids=_id)
def test_team_writes_answer_409_once_the_application_is_submitted(endpoint, submitted, alice):
    body = assert_refused(alice, endpoint, submitted, 409)
    assert body["code"] == "illegal_transition"
    assert "can be changed only while it is a draft or returned" in body["detail"]


@pytest.mark.parametrize("endpoint", APPLICANT_ACTS, ids=_id)
def test_the_applicants_acts_answer_403_to_a_team_member(endpoint, team_of_two, ready, bob):
    assert assert_refused(bob, endpoint, ready, 403)["detail"] == "Only the applicant can do this."


@pytest.mark.parametrize("endpoint", REVIEW_ACTS, ids=_id)
@pytest.mark.parametrize("persona", ["alice", "steward", "member"])
def test_review_acts_answer_403_to_everyone_but_the_research_data_office(
    endpoint, persona, in_review, request, committee
):
    body = assert_refused(request.getfixturevalue(persona), endpoint, in_review, 403, committee=committee)
    assert body["detail"] == "Only the Research Data Office, and nobody on the application's team, can do this."


def test_the_api_refuses_anonymous_callers(submitted):
    response = APIClient().get(f"{BASE}{submitted.pk}/")
    assert response.status_code in (401, 403)
    assert "title" not in response.json()


# --- list and create ----------------------------------------------------------------------


def test_the_list_shows_what_the_caller_may_see_filtered_by_status_and_paginated(submitted, alice, rdo, dataset):
    client = client_for(alice)
    assert client.post(BASE, {"title": "Second", "datasets": [dataset.identifier]}, format="json").status_code == 201
    mine = client.get(BASE).json()
    assert mine["count"] == 2
    assert [a["title"] for a in mine["results"]] == ["Second", submitted.title]
    assert mine["results"][1]["datasets"] == ["LV-MG-001"]
    only_submitted = client.get(BASE, {"status": "submitted"}).json()
    assert [a["reference"] for a in only_submitted["results"]] == [submitted.reference]
    paged = client.get(BASE, {"page_size": 1}).json()
    assert (len(paged["results"]), paged["next"] is not None) == (1, True)
    assert [a["reference"] for a in client_for(rdo).get(BASE).json()["results"]] == [submitted.reference]


@pytest.mark.parametrize(("query", "field"), [({"status": "lost"}, "status"), ({"page_size": "0"}, "page_size")])
def test_the_list_refuses_a_bad_filter(query, field, alice):
    response = client_for(alice).get(BASE, query)
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_an_outsider_lists_nothing(submitted, charlie):
    assert client_for(charlie).get(BASE).json()["count"] == 0


def test_it_creates_a_draft_naming_datasets(alice, dataset):
    response = client_for(alice).post(BASE, {"title": "Breast density", "datasets": ["LV-MG-001"]}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["title"], body["applicant"]["email"]) == ("draft", "Breast density", alice.email)
    assert body["reference"].startswith(f"AR-{timezone.localdate().year}-")
    assert [d["identifier"] for d in body["datasets"]] == ["LV-MG-001"]
    event = last_event()
    assert (event.verb, event.actor, event.target_id) == ("application.create", alice, str(body["id"]))
    assert event.payload["datasets"] == ["LV-MG-001"]


def test_it_creates_a_draft_from_the_basket_and_empties_it(alice, dataset, other_dataset):
    BasketItem.objects.create(user=alice, dataset=dataset)
    BasketItem.objects.create(user=alice, dataset=other_dataset)
    response = client_for(alice).post(BASE, {"title": "From the basket"}, format="json")
    assert response.status_code == 201
    assert sorted(d["identifier"] for d in response.json()["datasets"]) == ["ES-MR-002", "LV-MG-001"]
    assert not BasketItem.objects.filter(user=alice).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"datasets": ["LV-MG-001"]}, "title"),
        ({"title": "  ", "datasets": ["LV-MG-001"]}, "title"),
        ({"title": "X", "datasets": ["NOPE-1"]}, "datasets"),
        ({"title": "X", "datasets": ["LV-DRAFT-9"]}, "datasets"),
        ({"title": "X", "datasets": "LV-MG-001"}, "datasets"),
        ({"title": "X", "status": "approved"}, "status"),
    ],
)
def test_it_refuses_to_create_from_bad_input(body, field, alice, dataset, holder):
    make_dataset(holder, "LV-DRAFT-9", status=DatasetStatus.DRAFT)
    response = client_for(alice).post(BASE, body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert not Application.objects.exists()


# --- retrieve and change ------------------------------------------------------------------


def test_the_detail_carries_every_section_but_no_document_bytes(team_of_two, returned, alice):
    body = client_for(alice).get(f"{BASE}{returned.pk}/").json()
    assert body["status"] == "returned"
    assert [(d["identifier"], d["justification"]) for d in body["datasets"]] == [("LV-MG-001", "Needed for training.")]
    assert [(m["email"], m["pending"]) for m in body["team"]] == [(alice.email, False), ("bob@uni.example", False)]
    [approval] = body["ethics_approvals"]
    assert approval["datasets"] == ["LV-MG-001"]
    assert set(approval["document"]) == {"name", "sha256", "size", "url"}
    assert approval["document"]["url"].endswith(f"/api/v1/applications/{returned.pk}/ethics/{approval['id']}/document/")
    assert [(r["likelihood"], r["severity"], r["score"]) for r in body["dpia"]["risks"]] == [(1, 3, 3)]
    assert body["dpia"]["document_url"] is None
    statements = body["representations"]["statements"]
    assert [s["code"] for s in statements] == LegalStatement.values
    assert all(s["accepted"] and s["accepted_by"] == "signer@uni.example" for s in statements)  # the signatory
    assert [(c["section"], c["text"]) for c in body["return_comments"]] == [("dpia", "Name the DPO's office.")]
    assert body["checklist"] is None  # the RDO's, not the team's
    assert body["access_end"] == str(returned.access_end)


def test_the_research_data_office_sees_the_checklist_in_the_detail(submitted, rdo):
    body = client_for(rdo).get(f"{BASE}{submitted.pk}/").json()
    assert body["checklist"]["submission_number"] == 1
    assert body["checklist"]["complete"] is False


def test_the_team_changes_the_applications_fields(team_of_two, bob):
    response = client_for(bob).patch(
        f"{BASE}{team_of_two.pk}/",
        {"timeline": "Two phases.", "purpose": "DISEASE_SPECIFIC_RESEARCH", "purpose_conditions": ["c50"]},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert (response.json()["timeline"], response.json()["purpose_conditions"]) == ("Two phases.", ["C50"])
    event = last_event()
    assert (event.verb, event.actor) == ("application.update", bob)
    assert sorted(event.payload["fields"]) == ["purpose", "purpose_conditions", "timeline"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"access_months": 99}, "access_months"),
        ({"access_months": "soon"}, "access_months"),
        ({"purpose": "FUN"}, "purpose"),
        ({"purpose_conditions": ["ZZZ"]}, "purpose_conditions"),
        ({"access_start": "tomorrow"}, "access_start"),
        ({"organisation_country": "Latvia"}, "organisation_country"),
        ({"organisation_country": "L1"}, "organisation_country"),
        ({"ai_assessment": {"bogus": "yes"}}, "ai_assessment"),
        ({"title": ""}, "title"),
        ({"status": "approved"}, "status"),
        ({"submission_count": 0}, "submission_count"),
    ],
)
def test_it_refuses_bad_changes_with_the_fields_named(body, field, draft, alice):
    before = frozen(draft)
    response = client_for(alice).patch(f"{BASE}{draft.pk}/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert frozen(draft) == before


def test_the_team_sets_the_requested_datasets(draft, alice, other_dataset):
    response = client_for(alice).put(
        f"{BASE}{draft.pk}/datasets/",
        {"datasets": {"LV-MG-001": "Training.", "ES-MR-002": "External validation."}},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert sorted((d["identifier"], d["justification"]) for d in response.json()) == [
        ("ES-MR-002", "External validation."),
        ("LV-MG-001", "Training."),
    ]
    event = last_event()
    assert (event.verb, event.payload["datasets"]) == ("application.datasets_set", ["ES-MR-002", "LV-MG-001"])
    assert event.payload["access_modes"] == {"ES-MR-002": "DOWNLOAD", "LV-MG-001": "DOWNLOAD"}


@pytest.mark.parametrize(
    "body", [{"datasets": {"NOPE-1": "x"}}, {"datasets": ["LV-MG-001"]}, {}], ids=["unknown", "list", "missing"]
)
def test_it_refuses_bad_dataset_lists(body, draft, alice):
    response = client_for(alice).put(f"{BASE}{draft.pk}/datasets/", body, format="json")
    assert response.status_code == 400
    assert "datasets" in response.json()["errors"]


# --- team ---------------------------------------------------------------------------------


def test_the_team_invites_a_member_and_removes_them(draft, alice):
    client = client_for(alice)
    response = client.post(f"{BASE}{draft.pk}/team/", {"email": "eve@lab.example", "role": "Physicist"}, format="json")
    assert response.status_code == 201, response.content
    assert (response.json()["pending"], response.json()["role"]) == (True, "Physicist")
    assert last_event().verb == "application.team_invite"
    assert OutboxEmail.objects.filter(template="team_invitation", to=["eve@lab.example"]).exists()
    response = client.delete(f"{BASE}{draft.pk}/team/{response.json()['id']}/")
    assert response.status_code == 204
    event = last_event()
    assert (event.verb, event.payload) == ("application.team_remove", {"email": "eve@lab.example", "was": "pending"})
    assert not TeamMember.objects.filter(email="eve@lab.example").exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [({"email": "not-an-address"}, "email"), ({"email": "alice@uni.example"}, "email"), ({}, "email")],
)
def test_it_refuses_a_bad_team_member(body, field, draft, alice):
    response = client_for(alice).post(f"{BASE}{draft.pk}/team/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_it_keeps_the_applicant_on_the_team_and_answers_404_for_a_member_of_another_application(
    draft, dataset, alice, bob
):
    client = client_for(alice)
    response = client.delete(f"{BASE}{draft.pk}/team/{draft.team.get(user=alice).pk}/")
    assert response.status_code == 400
    other = client_for(bob).post(BASE, {"title": "Bob's", "datasets": [dataset.identifier]}, format="json").json()
    foreign = TeamMember.objects.get(application_id=other["id"])
    assert client.delete(f"{BASE}{draft.pk}/team/{foreign.pk}/").status_code == 404


# --- ethics approvals and documents -------------------------------------------------------


def test_the_team_uploads_an_ethics_approval_as_multipart_and_removes_it(
    draft, alice, django_capture_on_commit_callbacks
):
    client = client_for(alice)
    with django_capture_on_commit_callbacks(execute=True):  # the document is stored when the upload commits
        response = client.post(f"{BASE}{draft.pk}/ethics/", ethics_form(), format="multipart")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["reference"], body["datasets"]) == ("REC-2026-42", ["LV-MG-001"])
    stored = document_absolute_path(draft.ethics_approvals.get().document_path).read_bytes()
    assert body["document"] == {
        "name": "approval.pdf",
        "sha256": hashlib.sha256(stored).hexdigest(),
        "size": len(stored),
        "url": f"http://testserver{BASE}{draft.pk}/ethics/{body['id']}/document/",
    }
    event = last_event()
    assert (event.verb, event.payload["sha256"]) == ("application.ethics_add", body["document"]["sha256"])
    assert client.delete(f"{BASE}{draft.pk}/ethics/{body['id']}/").status_code == 204
    assert last_event().verb == "application.ethics_remove"
    assert not draft.ethics_approvals.exists()


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        ({"document": SimpleUploadedFile("a.pdf", b"just text, not a PDF")}, {"document"}),
        ({"document": None}, {"document"}),
        ({"committee_name": None, "reference": None}, {"committee_name", "reference"}),
        ({"approved_on": "someday"}, {"approved_on"}),
        ({"datasets": ["ES-MR-002"]}, {"datasets"}),
        ({"expires_on": str(timezone.localdate() - timedelta(days=30))}, {"expires_on"}),
    ],
    ids=["fake-pdf", "no-document", "unnamed", "bad-date", "dataset-not-requested", "expires-before-approval"],
)
def test_it_refuses_a_bad_ethics_upload_and_stores_nothing(overrides, fields, draft, alice, settings):
    from pathlib import Path

    response = client_for(alice).post(f"{BASE}{draft.pk}/ethics/", ethics_form(**overrides), format="multipart")
    assert response.status_code == 400, response.content
    assert fields <= set(response.json()["errors"])
    assert not draft.ethics_approvals.exists()
    assert not [p for p in Path(settings.DOCUMENT_STORAGE_ROOT).rglob("*") if p.is_file()]


def test_an_ethics_upload_must_be_multipart(draft, alice):
    response = client_for(alice).post(f"{BASE}{draft.pk}/ethics/", {"reference": "X"}, format="json")
    assert response.status_code == 400
    assert "document" in response.json()["errors"]


@pytest.mark.parametrize("persona", ["alice", "rdo", "steward"])
def test_allowed_viewers_download_the_ethics_pdf_and_each_download_is_audited(persona, submitted, request):
    user = request.getfixturevalue(persona)
    approval = submitted.ethics_approvals.get()
    response = client_for(user).get(
        f"{BASE}{submitted.pk}/ethics/{approval.pk}/document/", HTTP_ACCEPT="application/pdf"
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert "attachment" in response["Content-Disposition"]
    assert b"".join(response.streaming_content) == document_absolute_path(approval.document_path).read_bytes()
    event = last_event()
    assert (event.verb, event.actor, event.target_id) == ("document.view", user, str(submitted.pk))
    assert event.payload == {"document": "approval.pdf", "kind": "ethics", "sha256": approval.document_sha256}


@pytest.mark.parametrize("persona", ["charlie", "other_steward"])
def test_the_ethics_pdf_is_refused_to_an_outsider_and_nothing_is_recorded(persona, submitted, request):
    approval = submitted.ethics_approvals.get()
    client = client_for(request.getfixturevalue(persona))
    events = change_events()
    response = client.get(f"{BASE}{submitted.pk}/ethics/{approval.pk}/document/")
    assert response.status_code == 404
    assert not hasattr(response, "streaming_content")
    assert change_events() == events  # no document.view: nothing was read
    refusal = last_event("access.refused")  # but the probe left a trace
    assert refusal.actor_id == request.getfixturevalue(persona).pk
    assert refusal.payload["status"] == 404 and refusal.payload["application"] == str(submitted.pk)


def test_in_nginx_mode_the_web_server_sends_the_document(submitted, alice, settings):
    settings.PROTECTED_SERVE_MODE = "nginx"
    approval = submitted.ethics_approvals.get()
    response = client_for(alice).get(f"{BASE}{submitted.pk}/ethics/{approval.pk}/document/")
    assert response.status_code == 200
    assert response["X-Accel-Redirect"] == f"/protected/documents/{approval.document_path}"
    assert response.content == b""
    assert last_event().verb == "document.view"


def test_an_approval_of_another_application_answers_404(submitted, alice, dataset):
    other = client_for(alice).post(BASE, {"title": "Other", "datasets": ["LV-MG-001"]}, format="json").json()
    approval = submitted.ethics_approvals.get()
    assert client_for(alice).get(f"{BASE}{other['id']}/ethics/{approval.pk}/document/").status_code == 404


# --- DPIA and representations -------------------------------------------------------------


def test_the_team_changes_the_dpia_and_attaches_its_document(draft, alice):
    client = client_for(alice)
    response = client.patch(
        f"{BASE}{draft.pk}/dpia/", {"data_categories": ["images", "clinical"], "residual_risk": "low"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["data_categories"] == ["images", "clinical"]
    event = last_event()
    assert (event.verb, event.payload["fields"]) == ("application.dpia_update", ["data_categories", "residual_risk"])
    response = client.patch(
        f"{BASE}{draft.pk}/dpia/",
        {"conclusion": "Proceed.", "document": SimpleUploadedFile("dpia.pdf", pdf_bytes())},
        format="multipart",
    )
    assert response.status_code == 200, response.content
    assert response.json()["document_url"].endswith(f"/api/v1/applications/{draft.pk}/dpia/document/")
    download = client.get(f"{BASE}{draft.pk}/dpia/document/")
    stored = document_absolute_path(Application.objects.get(pk=draft.pk).dpia.document_path).read_bytes()
    assert (download.status_code, b"".join(download.streaming_content)) == (200, stored)
    assert last_event().payload["kind"] == "dpia"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"residual_risk": "extreme"}, "residual_risk"),
        ({"data_categories": ["dreams"]}, "data_categories"),
        ({"dpo_consulted_on": "yesterday"}, "dpo_consulted_on"),
        ({"risk": "none"}, "risk"),
    ],
)
def test_it_refuses_a_bad_dpia_change(body, field, draft, alice):
    response = client_for(alice).patch(f"{BASE}{draft.pk}/dpia/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_the_team_adds_and_removes_a_dpia_risk_with_its_score(draft, alice):
    client = client_for(alice)
    body = {"description": "Linkage with registries", "likelihood": 2, "severity": 3, "mitigation": "No keys."}
    response = client.post(f"{BASE}{draft.pk}/dpia/risks/", body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["score"] == 6
    assert last_event().payload == {"risk": response.json()["id"], "likelihood": 2, "severity": 3}
    assert client.delete(f"{BASE}{draft.pk}/dpia/risks/{response.json()['id']}/").status_code == 204
    assert last_event().verb == "application.dpia_risk_remove"


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"description": "X", "likelihood": 4, "severity": 1}, {"likelihood"}),
        ({"description": "X", "likelihood": 1, "severity": 0}, {"severity"}),
        ({"likelihood": 1, "severity": 1}, {"description"}),
    ],
)
def test_it_refuses_a_bad_dpia_risk(body, fields, draft, alice):
    response = client_for(alice).post(f"{BASE}{draft.pk}/dpia/risks/", body, format="json")
    assert response.status_code == 400
    assert fields == set(response.json()["errors"])
    assert not draft.dpia.risks.exists()


def test_the_team_records_the_representations_and_cannot_accept_statements(draft, alice):
    response = client_for(alice).patch(
        f"{BASE}{draft.pk}/representations/", {"signatory_name": "Dr. Vera Signer"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["signatory_name"] == "Dr. Vera Signer"
    assert not any(s["accepted"] for s in response.json()["statements"])
    event = last_event()
    assert event.verb == "application.representations_update"
    assert event.payload["fields"] == ["signatory_name"]
    refused = client_for(alice).patch(
        f"{BASE}{draft.pk}/representations/", {"accept": ["no_reidentification"]}, format="json"
    )
    assert refused.status_code == 400
    assert refused.json()["code"] == "signatory_accepts"


@pytest.mark.parametrize(
    ("body", "field"), [({"accept": ["be_nice"]}, "accept"), ({"signatory_email": "nobody"}, "signatory_email")]
)
def test_it_refuses_bad_representations(body, field, draft, alice):
    response = client_for(alice).patch(f"{BASE}{draft.pk}/representations/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]


# --- check and transitions ----------------------------------------------------------------


def test_the_check_lists_the_problems_as_json(draft, ready, dataset, alice):
    body = client_for(alice).get(f"{BASE}{ready.pk}/check/").json()
    assert body == {"ready": True, "problems": []}
    incomplete = (
        client_for(alice).post(BASE, {"title": "Empty", "datasets": [dataset.identifier]}, format="json").json()
    )
    body = client_for(alice).get(f"{BASE}{incomplete['id']}/check/").json()
    assert body["ready"] is False
    assert {"section": "overview", "field": "lay_summary", "code": "required", "message": "Give a lay summary."} in (
        body["problems"]
    )


def test_a_refused_submission_answers_400_listing_the_problems(draft, alice):
    before = frozen(draft)
    response = client_for(alice).post(f"{BASE}{draft.pk}/submit/")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert "Give a lay summary." in body["errors"]["check"]
    assert frozen(draft) == before


def test_the_applicant_submits_and_a_second_submit_is_quiet(ready, alice):
    client = client_for(alice)
    response = client.post(f"{BASE}{ready.pk}/submit/")
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["submission_count"]) == ("submitted", 1)
    assert (last_event().verb, last_event().actor) == ("application.submit", alice)
    before = frozen(ready)
    assert client.post(f"{BASE}{ready.pk}/submit/").status_code == 200
    assert frozen(ready) == before


@pytest.mark.parametrize(
    ("endpoint", "persona"),
    [
        (("post", "{pk}/submit/", None), "alice"),
        (("post", "{pk}/return/", {"comments": {"dpia": "More."}}), "rdo"),
        (("post", "{pk}/forward/", {"committee": "{committee}"}), "rdo"),
        (("patch", "{pk}/checklist/", {"dpia_reviewed": True}), "rdo"),
        (("delete", "{pk}/", None), "alice"),
    ],
    ids=lambda v: v[1] if isinstance(v, tuple) else v,
)
def test_an_illegal_transition_answers_409_and_changes_nothing(endpoint, persona, submitted, alice, request, committee):
    from access_requests.services.transitions import application_withdraw

    withdrawn = application_withdraw(actor=alice, application=submitted, reason="Funding ended.")
    body = assert_refused(request.getfixturevalue(persona), endpoint, withdrawn, 409, committee=committee)
    assert body["code"] == "illegal_transition"


def test_withdrawing_an_active_application_answers_409(in_review, alice):
    Application.objects.filter(pk=in_review.pk).update(status=ApplicationStatus.ACTIVE)
    response = client_for(alice).post(f"{BASE}{in_review.pk}/withdraw/", {"reason": "Done."}, format="json")
    assert response.status_code == 409
    assert Application.objects.get(pk=in_review.pk).status == ApplicationStatus.ACTIVE


def test_the_applicant_withdraws(submitted, alice):
    response = client_for(alice).post(f"{BASE}{submitted.pk}/withdraw/", {"reason": "Funding ended."}, format="json")
    assert (response.status_code, response.json()["status"]) == (200, "withdrawn")
    event = last_event()
    assert (event.verb, event.payload["reason"], event.payload["from"]) == (
        "application.withdraw",
        "Funding ended.",
        "submitted",
    )


def test_the_research_data_office_returns_with_comments(submitted, rdo):
    response = client_for(rdo).post(
        f"{BASE}{submitted.pk}/return/", {"comments": {"ethics": "Renew the approval."}}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "returned"
    assert response.json()["return_comments"][0]["text"] == "Renew the approval."
    assert (last_event().verb, last_event().actor) == ("application.return", rdo)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"comments": {}}, "comments"),
        ({"comments": {"dpia": "  "}}, "comments"),
        ({"comments": {"budget": "Too high."}}, "budget"),
        ({}, "comments"),
        ({"comments": "Fix it."}, "comments"),
    ],
)
def test_it_refuses_a_return_without_proper_comments(body, field, submitted, rdo):
    before = frozen(submitted)
    response = client_for(rdo).post(f"{BASE}{submitted.pk}/return/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert frozen(submitted) == before


def test_forwarding_needs_the_checklist_and_a_real_committee(submitted, rdo, committee):
    client = client_for(rdo)
    response = client.post(f"{BASE}{submitted.pk}/forward/", {"committee": committee.pk}, format="json")
    assert response.status_code == 409
    assert "Complete the checklist first" in response.json()["detail"]
    response = client.patch(f"{BASE}{submitted.pk}/checklist/", CHECKLIST_DONE, format="json")
    assert (response.status_code, response.json()["complete"]) == (200, True)
    assert last_event().verb == "application.checklist_update"
    response = client.post(f"{BASE}{submitted.pk}/forward/", {"committee": 999999}, format="json")
    assert response.status_code == 400
    assert "committee" in response.json()["errors"]
    response = client.post(f"{BASE}{submitted.pk}/forward/", {"committee": committee.pk}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["committee"]["name"]) == ("in_review", committee.name)
    assert last_event().verb == "application.forward"


def test_it_refuses_a_checklist_tick_of_the_wrong_type(submitted, rdo):
    response = client_for(rdo).patch(f"{BASE}{submitted.pk}/checklist/", {"dpia_reviewed": "maybe"}, format="json")
    assert response.status_code == 400
    assert "dpia_reviewed" in response.json()["errors"]


# --- messages, changes, deletion ----------------------------------------------------------


def test_messages_are_posted_audited_and_notes_are_for_reviewers_only(submitted, alice, rdo):
    response = client_for(alice).post(f"{BASE}{submitted.pk}/messages/", {"body": "Any news?"}, format="json")
    assert response.status_code == 201, response.content
    assert (last_event().verb, last_event().actor) == ("application.message", alice)
    response = client_for(alice).post(
        f"{BASE}{submitted.pk}/messages/", {"body": "Psst.", "internal": True}, format="json"
    )
    assert response.status_code == 403
    response = client_for(rdo).post(
        f"{BASE}{submitted.pk}/messages/", {"body": "Check the REC.", "internal": True}, format="json"
    )
    assert response.status_code == 201
    assert last_event().verb == "application.note"
    assert list(Message.objects.values_list("body", "internal")) == [("Any news?", False), ("Check the REC.", True)]
    response = client_for(alice).post(f"{BASE}{submitted.pk}/messages/", {"body": " "}, format="json")
    assert response.status_code == 400
    assert "body" in response.json()["errors"]


def test_the_changes_since_the_previous_submission_are_listed_field_by_field(returned, alice, rdo):
    client = client_for(alice)
    assert client.get(f"{BASE}{returned.pk}/changes/").json() == []
    client.patch(f"{BASE}{returned.pk}/dpia/", {"dpo_name": "Dana Protection, DPO office"}, format="json")
    assert client.post(f"{BASE}{returned.pk}/submit/").status_code == 200
    changes = client_for(rdo).get(f"{BASE}{returned.pk}/changes/").json()
    assert [(c["section"], c["field"]) for c in changes] == [("dpia", "DPO consulted")]
    assert changes[0]["after"].startswith("Dana Protection, DPO office on ")


def test_the_applicant_deletes_a_draft_never_submitted(draft, alice):
    response = client_for(alice).delete(f"{BASE}{draft.pk}/")
    assert response.status_code == 204
    assert not Application.objects.filter(pk=draft.pk).exists()
    assert last_event().verb == "application.delete_draft"


# --- the whole path, as a program would drive it ------------------------------------------


def test_the_whole_path_over_the_api_with_personal_tokens(alice, rdo, dataset, committee, chair, member):
    def token_client(user) -> APIClient:
        _, raw = api_token_create(actor=user, name="script", days=7)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}", HTTP_X_CONFIRM_PASSWORD=PASSWORD)
        return client

    researcher, office = token_client(alice), token_client(rdo)
    BasketItem.objects.create(user=alice, dataset=dataset)
    created = researcher.post(BASE, {"title": "Breast density and AI"}, format="json")
    assert created.status_code == 201, created.content
    url = f"{BASE}{created.json()['id']}/"
    start = timezone.localdate() + timedelta(days=14)
    steps = [
        (
            "patch",
            "",
            {
                "lay_summary": "Spotting cancer earlier.",
                "scientific_description": "Retrospective screening study.",
                "timeline": "One year.",
                "intended_use": "Train a detector.",
                "access_start": str(start),
                "access_months": 12,
                "purpose": "HEALTH_MEDICAL_BIOMEDICAL_RESEARCH",
                "methods_development": False,
                "commercial_use": False,
                "uses_ai": True,
                "ai_algorithms": "A convolutional detector.",
                "ai_assessment": {key: "yes" for key, _ in AI_QUESTIONS},
            },
        ),
        ("put", "datasets/", {"datasets": {"LV-MG-001": "Training data."}}),
        (
            "patch",
            "dpia/",
            {
                "data_categories": ["images"],
                "processing_description": "University cluster.",
                "residual_risk": "low",
                "dpo_name": "Dana Protection",
                "dpo_consulted_on": str(timezone.localdate()),
                "conclusion": "Proceed.",
            },
        ),
        ("post", "dpia/risks/", {"description": "Headers", "likelihood": 1, "severity": 3, "mitigation": "Stripped."}),
        (
            "patch",
            "representations/",
            {
                "institution_legal_name": "University of Latvia",
                "signatory_name": "Dr. Vera Signer",
                "signatory_role": "Vice-rector",
                "signatory_email": "signer@uni.example",
            },
        ),
        ("post", "representations/signature/", {}),
    ]
    for method, path, body in steps:
        response = getattr(researcher, method)(url + path, body, format="json")
        assert response.status_code in (200, 201), (path, response.content)
    application = Application.objects.get(pk=created.json()["id"])
    # the signatory accepts from the link they were sent (tests/access_requests/test_signatory.py)
    svc.representations_accept(
        actor=signatory_person(),
        reps=application.representations,
        statements=LegalStatement.values,
        covered_sha256=svc.representations_covered_hash(application),
    )
    upload = researcher.post(url + "ethics/", ethics_form(), format="multipart")
    assert upload.status_code == 201, upload.content
    assert researcher.get(url + "check/").json() == {"ready": True, "problems": []}
    assert researcher.post(url + "submit/").json()["status"] == "submitted"

    returned = office.post(url + "return/", {"comments": {"dpia": "Name the DPO's office."}}, format="json")
    assert returned.json()["status"] == "returned"
    assert researcher.get(url).json()["return_comments"][0]["text"] == "Name the DPO's office."
    researcher.patch(url + "dpia/", {"dpo_name": "Dana Protection, DPO office"}, format="json")
    assert researcher.post(url + "submit/").json()["submission_count"] == 2

    assert [c["field"] for c in office.get(url + "changes/").json()] == ["DPO consulted"]
    assert office.patch(url + "checklist/", CHECKLIST_DONE, format="json").status_code == 200
    forwarded = office.post(url + "forward/", {"committee": committee.pk}, format="json")
    assert forwarded.json()["status"] == "in_review"
    assert [a["id"] for a in client_for(member).get(BASE).json()["results"]] == [created.json()["id"]]

    verbs = list(
        AuditEvent.objects.filter(target_type="access_requests.application", target_id=str(created.json()["id"]))
        .order_by("seq")
        .values_list("verb", flat=True)
    )
    assert [v for v in verbs if v in {"application.submit", "application.return", "application.resubmit"}] == [
        "application.submit",
        "application.return",
        "application.resubmit",
    ]
    assert verbs[-1] == "application.forward"
    assert audit_verify().ok
