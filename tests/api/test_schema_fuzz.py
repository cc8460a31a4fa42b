"""schemathesis against /api/schema/, in-process, for each role on the demo data.

Every operation of the schema gets a bounded number of generated requests (valid and invalid
input), with path parameters pointing at real objects the role has a relation to, so writes reach
the services: the researcher's own complete draft (its teammate, ethics approval and DPIA risk),
the RDO's submitted application, a steward's own draft dataset, the committee's application in review
(its open round, for a member and the chair). Each response must not be a 5xx,
its status must be documented, and its body and content type must match the schema.
"""

import re
import time
from collections import Counter
from datetime import timedelta

import pytest
import requests
import schemathesis
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.transport import Response
from schemathesis.generation import GenerationMode

from tests.access_requests.conftest import pdf_bytes

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
# Examples per operation: valid input reaches the services; invalid input stops at the serializers, so
# fewer find what they can.
# The researcher submits and withdraws a complete draft that the other operations' input left intact.
ON_READY = ("POST /api/v1/applications/{id}/submit/", "POST /api/v1/applications/{id}/withdraw/")
EXAMPLES = {GenerationMode.POSITIVE: 15, GenerationMode.NEGATIVE: 6}
# Operations that end the object they act on run last, in this order, so the others see it alive.
LAST = (
    "POST /api/v1/applications/{id}/decision/",
    "POST /api/v1/applications/{id}/review/conflict/",
    "POST /api/v1/datasets/{identifier}/withdraw/",
    "POST /api/v1/applications/{id}/submit/",
    "POST /api/v1/applications/{id}/withdraw/",
    "DELETE /api/v1/applications/{id}/",
)


def _in_review(demo):
    """The demo committee's application in review with an open round, and that round."""
    from access_requests.models import ReviewRound

    review_round = (
        ReviewRound.objects.filter(committee=demo["committee"], closed_at__isnull=True, application__status="in_review")
        .select_related("application")
        .order_by("pk")
        .first()
    )
    assert review_round is not None, "the demo has no application in committee review with an open round"
    return review_round.application, review_round.number


def _targets(demo, role: str) -> dict:
    """Per role, the real objects its path parameters name."""
    draft = demo["fuzzed_draft"]
    datasets = demo["datasets"]
    if role in ("member", "chair"):
        application, number = _in_review(demo)
        return {"id": application.pk, "number": number, "kind": "legal"}
    if role == "researcher":
        return {
            "id": draft.pk,
            "ready_id": demo["ready_draft"].pk,
            "member_id": draft.team.exclude(user=draft.applicant).get().pk,
            "approval_id": draft.ethics_approvals.first().pk,
            "risk_id": draft.dpia.risks.first().pk,
            "identifier": draft.requested.first().dataset.identifier,
        }
    if role == "rdo":
        submitted = demo["applications"]["submitted"]
        return {
            "id": submitted.pk,
            "member_id": submitted.team.first().pk,
            "approval_id": submitted.ethics_approvals.first().pk,
            "risk_id": submitted.dpia.risks.first().pk,
            "identifier": datasets["draft"].identifier,
        }
    if role == "steward":
        return {
            "id": draft.pk,
            "member_id": 1,
            "approval_id": 1,
            "risk_id": 1,
            "identifier": datasets["draft"].identifier,
        }
    return {
        "id": draft.pk,
        "member_id": 1,
        "approval_id": 1,
        "risk_id": 1,
        "identifier": draft.requested.first().dataset.identifier,
    }


def _seeds(demo, role: str) -> dict[str, list[tuple[dict, str]]]:
    """Valid requests that random input seldom builds (real identifiers, a real PDF, a real committee),
    sent after each operation's generated ones, so its success path is checked too."""
    identifier = demo["fuzzed_draft"].requested.first().dataset.identifier
    if role == "researcher":
        ethics = {
            "committee_name": "Seeded committee",
            "reference": "SEED-1",
            "approved_on": str(timezone.localdate() - timedelta(days=3)),
            "expires_on": str(timezone.localdate() + timedelta(days=800)),
            "datasets": [identifier],
            "document": pdf_bytes(),
        }
        return {
            "POST /api/v1/applications/": [({"title": "Seeded", "datasets": [identifier]}, "application/json")],
            "PUT /api/v1/applications/{id}/datasets/": [({"datasets": {identifier: "Needed."}}, "application/json")],
            "POST /api/v1/applications/{id}/datasets/add/": [
                (
                    {"dataset": demo["datasets"]["colon"].identifier, "access_mode": "REMOTE_PROCESSING"},
                    "application/json",
                )
            ],
            "POST /api/v1/applications/{id}/ethics/": [(ethics, "multipart/form-data")],
            "POST /api/v1/applications/{id}/team/": [({"email": "seed@uni.example"}, "application/json")],
        }
    if role == "rdo":
        done = {"ethics_verified": True, "dpia_reviewed": True, "representations_checked": True}
        return {
            "PATCH /api/v1/applications/{id}/checklist/": [(done, "application/json")],
            "POST /api/v1/applications/{id}/forward/": [({"committee": demo["committee"].pk}, "application/json")],
            "POST /api/v1/applications/{id}/return/": [({"comments": {"dpia": "More."}}, "application/json")],
        }
    if role in ("member", "chair"):
        number = _in_review(demo)[1]
        review = {
            "PUT /api/v1/applications/{id}/review/vote/": [
                ({"choice": "approve", "round": number}, "application/json")
            ],
            "PUT /api/v1/applications/{id}/review/checks/{kind}/": [
                ({"answers": {"ethics": True}, "notes": "Seeded.", "round": number}, "application/json")
            ],
        }
        if role == "member":
            conflict = {"reason": "Seeded: I co-author with the applicant.", "round": number}
            return review | {"POST /api/v1/applications/{id}/review/conflict/": [(conflict, "application/json")]}
        decision = {"outcome": "returned", "rationale": "Seeded: narrow the datasets.", "round": number}
        extension = {"months": 1, "reason": "Seeded: an expert is consulted."}
        return review | {
            "POST /api/v1/applications/{id}/decision/": [(decision, "application/json")],
            "POST /api/v1/applications/{id}/clock/extension/": [(extension, "application/json")],
        }
    if role == "steward":
        holder = demo["datasets"]["draft"].holder.slug
        new = {"holder": holder, "identifier": "LV-SEEDED-1", "title": "Seeded", "description": "Images."}
        new |= {"subjects_count": 10, "studies_count": 10}
        return {"POST /api/v1/datasets/": [(new, "application/json")]}
    return {}


def _operations(schema):
    operations = [result.ok() for result in schema.get_all_operations()]
    return sorted(operations, key=lambda operation: LAST.index(operation.label) if operation.label in LAST else -1)


def _fixed(operation, path_parameters: dict) -> dict:
    fixed = {name: value for name, value in path_parameters.items() if "{" + name + "}" in operation.path}
    if operation.label in ON_READY and "ready_id" in path_parameters:
        fixed["id"] = path_parameters["ready_id"]
    return fixed


def _fuzz(operation, app, headers: dict, path_parameters: dict, mode, statuses: Counter) -> str | None:
    """Run the operation's examples; the first failure, described, or None."""
    fixed = _fixed(operation, path_parameters)
    failures: list[str] = []

    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=fixed))
    @settings(
        max_examples=EXAMPLES[mode],
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        response = case.call(app=app, headers=headers)
        statuses[(operation.label, response.status_code)] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(f"{exc}\n  request: {case.method} {case.formatted_path} body={case.body!r:.300}")
            raise

    try:
        run()
    except Unsatisfiable:  # no input to make invalid: the path is fixed and there is no body or query
        return None
    except (Exception, BaseExceptionGroup) as exc:
        return failures[0] if failures else repr(exc)
    return None


# Per role: who calls, which operations (paths matching the pattern), in which generation modes.
# Anonymous callers are refused before their input is read everywhere but the public catalogue, so
# valid input is enough there; a steward's part of the API is the catalogue, a committee's the review
# of the application in review (the member first: the chair's decision closes the round).
REVIEW = r"/api/v1/applications/\{id\}/(rounds|review|decision|clock)/"
ROLES = {
    "researcher": ("researcher", "", (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)),
    "rdo": ("rdo", "", (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)),
    "steward": ("steward_riga", "/api/v1/datasets/", (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)),
    "member": ("member1", REVIEW, (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)),
    "chair": ("chair", REVIEW, (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)),
    "anonymous": (None, "", (GenerationMode.POSITIVE,)),
}
# Writes each role's requests must get through at least once: the fuzzing reaches the services.
RESEARCHER_WRITES = {
    "POST /api/v1/applications/",
    "PUT /api/v1/applications/{id}/datasets/",
    "POST /api/v1/applications/{id}/datasets/add/",
    "POST /api/v1/applications/{id}/ethics/",
    "POST /api/v1/applications/{id}/team/",
    "POST /api/v1/applications/{id}/submit/",
    "POST /api/v1/applications/{id}/withdraw/",
    "DELETE /api/v1/applications/{id}/",
    "PATCH /api/v1/applications/{id}/",
    "PATCH /api/v1/applications/{id}/dpia/",
    "POST /api/v1/applications/{id}/dpia/risks/",
    "PATCH /api/v1/applications/{id}/representations/",
    "POST /api/v1/applications/{id}/messages/",
    "DELETE /api/v1/applications/{id}/team/{member_id}/",
}
WRITES = {
    "researcher": RESEARCHER_WRITES,
    "rdo": {"PATCH /api/v1/applications/{id}/checklist/", "POST /api/v1/applications/{id}/forward/"},
    "steward": {"POST /api/v1/datasets/", "PATCH /api/v1/datasets/{identifier}/"},
    "member": {
        "PUT /api/v1/applications/{id}/review/vote/",
        "PUT /api/v1/applications/{id}/review/checks/{kind}/",
        "POST /api/v1/applications/{id}/review/conflict/",
    },
    "chair": {
        "PUT /api/v1/applications/{id}/review/vote/",
        "POST /api/v1/applications/{id}/decision/",
    },
}


@pytest.fixture
def schema(wsgi_app, db):
    return schemathesis.openapi.from_wsgi("/api/schema/", wsgi_app)


def test_every_operation_answers_as_documented_for_each_role(demo, schema, token_for, wsgi_app, settings):
    settings.ALLOWED_HOSTS = ["*"]
    failures, statuses, statuses_by_role = [], Counter(), {}
    targets_by_role = {role: _targets(demo, role) for role in ROLES}  # before any role changes them
    seeds_by_role = {role: _seeds(demo, role) for role in ROLES}
    for role, (person, prefix, modes) in ROLES.items():
        headers = token_for(demo["people"][person]) if person else {}
        targets = targets_by_role[role]
        seeds = seeds_by_role[role]
        started, runs = time.monotonic(), 0
        for operation in _operations(schema):
            if not re.match(prefix, operation.path):
                continue
            for mode in modes:
                runs += 1
                failure = _fuzz(operation, wsgi_app, headers, targets, mode, statuses)
                if failure:
                    failures.append(f"{role}: {operation.label} [{mode.value}]: {failure}")
            for body, media_type in seeds.get(operation.label, []):
                case = operation.Case(path_parameters=_fixed(operation, targets), body=body, media_type=media_type)
                response = case.call(app=wsgi_app, headers=headers)
                statuses[(operation.label, response.status_code)] += 1
                try:
                    case.validate_response(response, checks=CHECKS, headers=headers)
                except (Exception, BaseExceptionGroup) as exc:
                    failures.append(f"{role}: {operation.label} [seed]: {exc}")
        print(f"{role}: {runs} operation runs in {time.monotonic() - started:.1f} s")
        succeeded = {label for (label, status), _ in statuses.items() if 200 <= status < 300}
        if WRITES.get(role, set()) - succeeded:
            failures.append(f"{role}: never got through: {sorted(WRITES[role] - succeeded)}")
        statuses_by_role[role], statuses = statuses, Counter()
    for role, counts in statuses_by_role.items():
        for (label, status), count in sorted(counts.items()):
            print(f"  {role}: {label}: {status} x{count}")
    assert not failures, "\n\n".join(failures)


def _answer(status: int, body: bytes, content_type: str = "application/json") -> Response:
    """A made-up answer to GET /api/v1/me/."""
    return Response(
        status_code=status,
        headers={"content-type": [content_type]},
        content=body,
        request=requests.Request("GET", "http://localhost/api/v1/me/").prepare(),
        elapsed=0.0,
        message="",
        encoding="utf-8",
        http_version="1.1",
        verify=True,
    )


@pytest.mark.parametrize(
    ("answer", "caught"),
    [
        (_answer(418, b'{"detail": "teapot", "code": "teapot"}'), "Undocumented status code"),
        (_answer(401, b'{"detail": 5}'), "Response violates schema"),
        (_answer(200, b"<html></html>", "text/html"), "Undocumented Content-Type"),
        (_answer(500, b'{"detail": "boom", "code": "server_error"}'), "Server error"),
    ],
)
def test_the_checks_catch_an_answer_that_breaks_the_contract(schema, answer, caught):
    """The test of the test: each kind of violation the fuzzing looks for is caught."""
    case = schema["/api/v1/me/"]["GET"].Case()
    with pytest.raises(BaseExceptionGroup) as failure:
        case.validate_response(answer, checks=CHECKS)
    assert caught in str(failure.value)


def test_the_checks_pass_an_answer_that_keeps_the_contract(schema):
    me = b'{"email": "a@uni.example", "full_name": "A", "organisation": "", "roles": [], "authenticated_by": "token"}'
    case = schema["/api/v1/me/"]["GET"].Case()
    case.validate_response(_answer(200, me), checks=CHECKS)
    case.validate_response(_answer(401, b'{"detail": "Sign in.", "code": "not_authenticated"}'), checks=CHECKS)
