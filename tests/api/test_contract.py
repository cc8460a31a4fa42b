"""The API's contract: every error body is the documented `Error`, every operation documents the
errors it can answer, unknown and read-only input is refused by name, and an application always
asks for at least one dataset."""

import json
import re
from urllib.parse import urlencode

import jsonschema
import pytest
from django.test import RequestFactory
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from rest_framework.exceptions import Throttled
from rest_framework.test import APIClient

from access_requests.models import Application, ApplicationStatus
from access_requests.services import agreements as ag
from access_requests.services import applications as svc
from access_requests.services import review as rv
from catalogue.models import BasketItem, Dataset, DatasetStatus
from federation import keys
from federation.models import Node
from portal.apis import exception_handler
from portal.errorpages import server_error
from portal.errors import InvalidInput
from portal.serializers import UNKNOWN_FIELD
from tests.access_requests.conftest import bring_to, complete, make_dataset, pdf_upload
from tests.conftest import PASSWORD
from tests.helpers import send_signed

APPLICATIONS = "/api/v1/applications/"


@pytest.fixture(scope="module")
def openapi() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


@pytest.fixture
def error_schema(openapi):
    """A validator for the `Error` component, resolving its references inside the document."""
    schema = {**openapi["components"]["schemas"]["Error"], "components": openapi["components"]}
    return jsonschema.Draft4Validator(schema)


def client_for(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
        client.credentials(HTTP_X_CONFIRM_PASSWORD=PASSWORD)  # decisive acts ask for the password
    return client


def assert_error(response, status: int, code: str, validator) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    validator.validate(body)
    assert body["code"] == code, body
    return body


def operations(openapi):
    for path, methods in openapi["paths"].items():
        for method, operation in methods.items():
            yield path, method.upper(), operation


# --- the schema ---------------------------------------------------------------------------


def test_the_schema_is_a_valid_openapi_document(openapi, client):
    validate_schema(openapi)
    served = client.get("/api/schema/?format=json")
    assert served.status_code == 200
    validate_schema(served.json())


def test_every_operation_documents_the_errors_its_shape_allows(openapi):
    checked = 0
    for path, method, operation in operations(openapi):
        responses = operation["responses"]
        parameters = operation.get("parameters", [])
        public = {} in operation.get("security", [])
        expected = {"401", "406"}
        if not public:
            expected.add("403")
        if any(p["in"] == "path" for p in parameters):
            expected.add("404")
        if "requestBody" in operation or any(p["in"] == "query" for p in parameters):
            expected.add("400")
        if "requestBody" in operation:
            expected.add("415")
        # downloads (and the harvest feed) answer with the file whatever is accepted
        downloads = ("/document/", "/downloads/", "/files/{token}", "/catalogue/export.")
        if any(part in path for part in downloads) or path.endswith(("/letter/", "/pdf/")):
            expected.discard("406")
        assert expected <= set(responses), f"{method} {path} lacks {expected - set(responses)}"
        assert "WWW-Authenticate" in responses["401"]["headers"]
        for status, response in responses.items():
            if status.startswith("4"):
                assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
        checked += 1
    assert checked >= 30


def test_operations_whose_state_can_refuse_document_a_409(openapi):
    refusing = re.compile(r"/(submit|return|forward|withdraw|publish|checklist|team|ethics|dpia|representations)/")
    for path, method, operation in operations(openapi):
        writes = method in {"PUT", "PATCH", "DELETE"} or (method == "POST" and refusing.search(path))
        if writes and path != "/api/v1/applications/{id}/messages/":
            assert "409" in operation["responses"], f"{method} {path}"


def test_only_the_public_catalogue_reads_the_visa_keys_and_the_node_identity_allow_anonymous_callers(openapi):
    public = sorted(f"{method} {path}" for path, method, op in operations(openapi) if {} in op.get("security", []))
    assert public == [
        "GET /.well-known/jwks.json",  # the public keys that verify the portal's visas
        "GET /api/v1/datasets/",
        "GET /api/v1/datasets/{identifier}/",
        "GET /api/v1/jwks/",
        "GET /catalogue/export.jsonld",  # the harvest feed: the published catalogue in DCAT-AP
        "GET /catalogue/export.ttl",
        "GET /federation/files/{token}",  # a partner's grantee's download: the signed link is the credential
        "GET /federation/node.json",  # this node's identity: its public key
    ]


# --- each error status --------------------------------------------------------------------


def test_an_anonymous_caller_gets_401_with_a_bearer_challenge(db, error_schema):
    response = client_for().get("/api/v1/me/")
    assert_error(response, 401, "not_authenticated", error_schema)
    assert response["WWW-Authenticate"] == "Bearer"


def test_an_anonymous_write_to_the_catalogue_gets_401_not_403(db, error_schema):
    response = client_for().post("/api/v1/datasets/", {"title": "x"}, format="json")
    assert_error(response, 401, "not_authenticated", error_schema)
    assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("header", ["Bearer dap_not-a-real-token", "Bearer", "Bearer a b"])
def test_a_bad_token_gets_401_authentication_failed_even_on_public_reads(db, error_schema, header):
    response = client_for().get("/api/v1/datasets/", HTTP_AUTHORIZATION=header)
    assert_error(response, 401, "authentication_failed", error_schema)
    assert response["WWW-Authenticate"] == "Bearer"


def test_a_caller_who_may_see_but_not_act_gets_403(submitted, rdo, error_schema):
    # PermissionDenied raised inside the view, by its getter
    response = client_for(rdo).patch(f"{APPLICATIONS}{submitted.pk}/", {"title": "Mine now"}, format="json")
    body = assert_error(response, 403, "permission_denied", error_schema)
    assert "team" in body["detail"]


def test_a_refusal_by_a_service_gets_403_permission_denied(submitted, alice, error_schema):
    # NotPermitted raised by message_post: an applicant writes no internal notes
    response = client_for(alice).post(
        f"{APPLICATIONS}{submitted.pk}/messages/", {"body": "note", "internal": True}, format="json"
    )
    assert_error(response, 403, "permission_denied", error_schema)


def test_an_object_the_caller_may_not_see_or_that_does_not_exist_is_404(draft, charlie, alice, error_schema):
    for user, pk in ((charlie, draft.pk), (alice, 999999)):
        response = client_for(user).get(f"{APPLICATIONS}{pk}/")
        assert_error(response, 404, "not_found", error_schema)
    response = client_for(alice).delete(f"{APPLICATIONS}{draft.pk}/team/999999/")  # Http404 from the view
    assert_error(response, 404, "not_found", error_schema)
    response = client_for().get("/api/v1/datasets/NO-SUCH-DATASET/")
    assert_error(response, 404, "not_found", error_schema)


@pytest.mark.parametrize("path", ["/api/v1/no-such-thing/", "/api/v1/applications/abc/", "/api/nothing", "/api/"])
def test_an_unknown_api_path_is_a_json_404(db, client, path, error_schema):
    response = client.get(path)
    assert_error(response, 404, "not_found", error_schema)


def test_an_unknown_page_stays_html(db, client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_a_method_the_path_does_not_take_is_405(alice, error_schema):
    assert_error(client_for(alice).delete("/api/v1/me/"), 405, "method_not_allowed", error_schema)
    assert_error(client_for(alice).put(APPLICATIONS, {}, format="json"), 405, "method_not_allowed", error_schema)


def test_an_unanswerable_accept_header_is_406(alice, error_schema):
    response = client_for(alice).get("/api/v1/me/", HTTP_ACCEPT="text/csv")
    assert_error(response, 406, "not_acceptable", error_schema)


def test_a_body_in_a_type_the_operation_does_not_take_is_415(alice, error_schema):
    response = client_for(alice).post(APPLICATIONS, "title=x", content_type="text/plain")
    assert_error(response, 415, "unsupported_media_type", error_schema)


def test_malformed_json_is_a_400(alice, error_schema):
    response = client_for(alice).post(APPLICATIONS, "{not json", content_type="application/json")
    assert_error(response, 400, "parse_error", error_schema)


def test_a_state_that_does_not_allow_the_action_is_409(submitted, alice, dataset, error_schema):
    client = client_for(alice)
    response = client.patch(f"{APPLICATIONS}{submitted.pk}/", {"title": "Later"}, format="json")
    assert_error(response, 409, "illegal_transition", error_schema)
    body = {"datasets": {dataset.identifier: "Still needed."}}
    response = client.put(f"{APPLICATIONS}{submitted.pk}/datasets/", body, format="json")
    assert_error(response, 409, "illegal_transition", error_schema)


def test_nested_field_errors_keep_their_place_in_the_message(steward, holder, error_schema):
    dataset = make_dataset(holder, "LV-NEST-1", status=DatasetStatus.DRAFT)
    body = {"data_use": [{"code": "ETHICS_APPROVAL_REQUIRED", "parameters": "none"}]}
    response = client_for(steward).patch(f"/api/v1/datasets/{dataset.identifier}/", body, format="json")
    errors = assert_error(response, 400, "invalid", error_schema)["errors"]
    assert list(errors) == ["data_use"]
    assert errors["data_use"][0].startswith("[0].parameters: Expected a dictionary")


def test_a_refused_submission_lists_the_check_in_an_error_body(draft, alice, error_schema):
    body = assert_error(client_for(alice).post(f"{APPLICATIONS}{draft.pk}/submit/"), 400, "invalid", error_schema)
    assert body["errors"]["check"]


def test_a_throttled_caller_gets_429_with_retry_after(db, error_schema):
    response = exception_handler(Throttled(wait=7), {"request": None, "view": None})
    assert response.status_code == 429
    assert response["Retry-After"] == "7"
    error_schema.validate(response.data)
    assert response.data["code"] == "throttled"


def test_a_server_error_under_the_api_is_json(db, error_schema):
    response = server_error(RequestFactory().get("/api/v1/datasets/"))
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    body = json.loads(response.content)
    error_schema.validate(body)
    assert body["code"] == "server_error"


# --- unknown and read-only fields ---------------------------------------------------------


def _grant_of(application_pk: int, grantee) -> int:
    """A grant of `grantee`'s on the approved application's agreement, set on the row (the input is
    refused before its state is asked)."""
    from datetime import timedelta

    from django.utils import timezone

    from access_requests.models import Grant

    application = Application.objects.get(pk=application_pk)
    requested = application.requested.select_related("dataset").first()
    today = timezone.localdate()
    grant = Grant.objects.create(
        application=application,
        agreement=application.agreements.get(),
        requested=requested,
        dataset=requested.dataset,
        kind="download",
        access_mode=requested.dataset.access_modes.first(),
        valid_from=today,
        valid_until=today + timedelta(days=30),
        limited_by="agreement",
        agreement_end=today + timedelta(days=30),
        issued_at=timezone.now(),
    )
    grant.grantees.add(grantee)
    return grant.pk


@pytest.fixture
def write_targets(submitted, in_review, chair, dataset, alice, rdo, steward, holder):  # noqa: C901  (one branch per family of paths)
    """For each write operation, who may call it and with which path values, on real objects (the
    submitted application is then forwarded: the input is refused before its state is asked)."""
    draft = svc.application_create(actor=alice, title="Walked", datasets=[dataset])
    svc.team_member_add(actor=alice, application=draft, email="teammate@uni.example")
    svc.ethics_approval_add(
        actor=alice,
        application=draft,
        committee_name="REC",
        reference="R-1",
        approved_on=draft.created_at.date(),
        expires_on=draft.created_at.date().replace(year=draft.created_at.year + 2),
        covered_ids=[],
        document=pdf_upload(),
    )
    svc.dpia_risk_add(actor=alice, application=draft, description="Leak", likelihood=1, severity=1, mitigation="")
    own = make_dataset(holder, "LV-OWN-1", status=DatasetStatus.PUBLISHED)
    values = {
        "id": draft.pk,
        "member_id": draft.team.exclude(user=alice).get().pk,
        "approval_id": draft.ethics_approvals.get().pk,
        "risk_id": draft.dpia.risks.get().pk,
        "identifier": own.identifier,
        "kind": "legal",
        "remote_grant": 1,  # a partner's grant number (the input is refused before it is looked up)
    }
    agreement_values = {}

    def approved_with_agreement() -> dict:
        """A second application of Alice's, approved, with its agreement (the RDO signs for the
        infrastructure and revises): made when the first agreement operation is reached."""
        if not agreement_values:
            application = complete(svc.application_create(actor=alice, title="Agreed", datasets=[dataset]), alice)
            application = bring_to(
                ApplicationStatus.IN_REVIEW, application, applicant=alice, rdo=rdo, committee=in_review.committee
            )
            review_round = rv.current_round(application)
            for voter in review_round.committee.members.all():
                rv.vote_cast(actor=voter, review_round=review_round, choice="approve")
            rv.round_decide(actor=chair, application=application, outcome="approved", rationale="Sound.")
            ag.agreement_create(actor="system:test", application=application)
            agreement_values.update(values, id=application.pk)
        return agreement_values

    grant_values = {}

    def with_grant() -> dict:
        if not grant_values:
            grant_values.update(values, grant_pk=_grant_of(approved_with_agreement()["id"], alice))
        return grant_values

    reviewer = {"return", "forward", "checklist"}
    committee = {"review", "decision", "clock"}

    def target(path: str) -> tuple:
        if path.startswith("/api/v1/datasets/"):
            return steward, values
        if path.startswith("/api/v1/grants/"):
            return (alice if path.endswith("/extension/") else rdo), with_grant()
        if path.endswith("/revoke/"):
            return rdo, {**values, "id": submitted.pk}
        if "/agreement/" in path:
            return rdo, approved_with_agreement()
        if any(f"/{name}/" in path for name in reviewer):
            return rdo, {**values, "id": submitted.pk}
        if any(f"/{name}/" in path for name in committee):
            return chair, {**values, "id": in_review.pk}
        return alice, values

    return target


def _send(client, method: str, path: str, body: dict, media_type: str):
    if media_type == "multipart/form-data":
        return client.generic(method, path, encode_multipart(BOUNDARY, body), content_type=MULTIPART_CONTENT)
    if media_type == "application/x-www-form-urlencoded":
        return client.generic(method, path, urlencode(body), content_type=media_type)
    assert media_type == "application/json", media_type
    return client.generic(method, path, json.dumps(body), content_type=media_type)


def test_every_write_operation_refuses_an_unknown_field_by_name(openapi, write_targets, error_schema):
    walked = []
    for path, method, operation in operations(openapi):
        if "requestBody" not in operation:
            continue
        user, values = write_targets(path)
        url = re.sub(r"{(\w+)}", lambda match, values=values: str(values[match.group(1)]), path)
        for media_type in operation["requestBody"]["content"]:
            if path.startswith("/federation/v1/"):  # a partner node's request: signed, JSON only
                Node.objects.get_or_create(
                    base_url="http://testserver", defaults={"name": "Partner", "public_key": keys.public_key_b64()}
                )
                response = send_signed(APIClient(), method, url, json.dumps({"surely_not_a_field": "x"}).encode())
            else:
                response = _send(client_for(user), method, url, {"surely_not_a_field": "x"}, media_type)
            body = assert_error(response, 400, "invalid", error_schema)
            assert body["errors"]["surely_not_a_field"] == [UNKNOWN_FIELD], (method, path, media_type, body)
            walked.append(f"{method} {path} {media_type}")
    assert len(walked) >= 40, walked
    assert "PATCH /api/v1/applications/{id}/dpia/ multipart/form-data" in walked
    assert "PATCH /api/v1/datasets/{identifier}/ application/x-www-form-urlencoded" in walked


def test_the_dataset_patch_names_status_holder_and_files(steward, holder, error_schema):
    dataset = make_dataset(holder, "LV-RO-1", status=DatasetStatus.DRAFT)
    body = {"status": "published", "holder": "valencia-test", "files": [{"path": "/etc/passwd"}], "id": 5}
    response = client_for(steward).patch(f"/api/v1/datasets/{dataset.identifier}/", body, format="json")
    errors = assert_error(response, 400, "invalid", error_schema)["errors"]
    assert {name: errors[name] for name in body} == {name: [UNKNOWN_FIELD] for name in body}
    dataset.refresh_from_db()
    assert dataset.status == DatasetStatus.DRAFT


def test_the_dataset_create_takes_holder_but_not_status(steward, holder, error_schema):
    client = client_for(steward)
    fields = {
        "identifier": "LV-NEW-1",
        "title": "New",
        "description": "Images.",
        "subjects_count": 1,
        "studies_count": 1,
    }
    response = client.post("/api/v1/datasets/", {**fields, "holder": holder.slug, "status": "published"}, format="json")
    assert assert_error(response, 400, "invalid", error_schema)["errors"] == {"status": [UNKNOWN_FIELD]}
    response = client.post("/api/v1/datasets/", {**fields, "holder": holder.slug}, format="json")
    assert response.status_code == 201, response.content
    assert Dataset.objects.get(identifier="LV-NEW-1").status == DatasetStatus.DRAFT


def test_a_nested_unknown_field_is_refused_with_its_place(steward, holder, error_schema):
    dataset = make_dataset(holder, "LV-NEST-2", status=DatasetStatus.DRAFT)
    body = {"data_use": [{"code": "ETHICS_APPROVAL_REQUIRED", "parameters": {}, "secret": 1}]}
    response = client_for(steward).patch(f"/api/v1/datasets/{dataset.identifier}/", body, format="json")
    errors = assert_error(response, 400, "invalid", error_schema)["errors"]
    assert errors == {"data_use": [f"[0].secret: {UNKNOWN_FIELD}"]}


def test_read_only_application_fields_are_refused(draft, alice, error_schema):
    for name, value in (("status", "approved"), ("reference", "X"), ("applicant", 1), ("id", 7)):
        response = client_for(alice).patch(f"{APPLICATIONS}{draft.pk}/", {name: value}, format="json")
        assert assert_error(response, 400, "invalid", error_schema)["errors"] == {name: [UNKNOWN_FIELD]}
    draft.refresh_from_db()
    assert draft.status == ApplicationStatus.DRAFT


def test_unknown_query_parameters_are_ignored(db, alice):
    assert client_for().get("/api/v1/datasets/?utm_source=x&_=123").status_code == 200
    assert client_for(alice).get(f"{APPLICATIONS}?utm_source=x").status_code == 200


def test_a_page_past_the_end_is_a_400_naming_page(alice, error_schema):
    response = client_for(alice).get(f"{APPLICATIONS}?page=99")
    assert "page" in assert_error(response, 400, "invalid", error_schema)["errors"]


# --- an application asks for at least one dataset -----------------------------------------


def test_the_api_refuses_an_application_without_datasets(alice, dataset, error_schema):
    client = client_for(alice)
    response = client.post(APPLICATIONS, {"title": "Nothing", "datasets": []}, format="json")
    assert "datasets" in assert_error(response, 400, "invalid", error_schema)["errors"]
    response = client.post(APPLICATIONS, {"title": "Empty basket"}, format="json")
    assert "datasets" in assert_error(response, 400, "invalid", error_schema)["errors"]
    assert not Application.objects.exists()
    BasketItem.objects.create(user=alice, dataset=dataset)
    response = client.post(APPLICATIONS, {"title": "From the basket"}, format="json")
    assert response.status_code == 201
    assert response.json()["datasets"][0]["identifier"] == dataset.identifier


@pytest.mark.parametrize("body", [{}, {"datasets": {}}])
def test_the_api_refuses_to_set_the_requested_datasets_to_none(draft, alice, dataset, body, error_schema):
    response = client_for(alice).put(f"{APPLICATIONS}{draft.pk}/datasets/", body, format="json")
    assert "datasets" in assert_error(response, 400, "invalid", error_schema)["errors"]
    assert [item.dataset for item in draft.requested.all()] == [dataset]


def test_the_services_refuse_an_application_without_datasets(draft, alice, dataset):
    with pytest.raises(InvalidInput) as refused:
        svc.application_create(actor=alice, title="None", datasets=[])
    assert "datasets" in refused.value.fields
    with pytest.raises(InvalidInput):
        svc.application_create(actor=alice, title="Empty basket")
    with pytest.raises(InvalidInput):
        svc.application_set_datasets(actor=alice, application=draft, requested={})
    assert Application.objects.count() == 1
    assert [item.dataset for item in draft.requested.all()] == [dataset]


def test_the_page_refuses_to_start_an_application_from_an_empty_basket(client, alice):
    client.force_login(alice)
    response = client.post(reverse("access_requests:application-create"), {"title": "Nothing"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("catalogue:basket")
    assert "Your basket is empty." in response.content.decode()
    assert not Application.objects.exists()
