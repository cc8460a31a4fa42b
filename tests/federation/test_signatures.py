"""Requests between nodes: only a fresh, unreplayed request signed by a listed partner is answered;
every other is refused with 401, a JSON body that says why, and an audit event."""

import datetime
import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from http_message_signatures import HTTPMessageSigner, algorithms

from federation import keys
from federation.signatures import TAG, _OwnKey, signed
from portal.models import AuditEvent
from tests.helpers import send_signed

URL = "http://testserver/federation/v1/counts"


def send(client, prepared):
    return send_signed(client, prepared.method, "/federation/v1/counts", prepared=prepared)


def body(criteria: dict | None = None) -> bytes:
    return json.dumps(criteria or {}).encode()


def refusals() -> list[dict]:
    return [e.payload for e in AuditEvent.objects.filter(verb="federation.request_refuse").order_by("seq")]


def test_a_signed_request_from_a_partner_is_answered_and_audited(client, partner, searchable):
    response = send(client, signed("POST", URL, json_body=body({"modality": ["MR"]})))

    assert response.status_code == 200, response.content
    answer = response.json()
    assert [d["identifier"] for d in answer["datasets"]] == ["LV-FED-MR-1"]
    event = AuditEvent.objects.get(verb="federation.counts_answer")
    assert event.actor_label == f"node:{partner.name}"
    assert event.payload == {"criteria": {"modality": ["MR"]}}


def test_an_unsigned_request_is_refused(client, partner):
    response = client.post("/federation/v1/counts", data=body(), content_type="application/json")

    assert response.status_code == 401
    assert response.json()["code"] == "unsigned"
    assert response["WWW-Authenticate"].startswith("Signature")
    assert refusals()[-1]["code"] == "unsigned"


def test_a_request_signed_by_a_key_no_partner_holds_is_refused(client, db):
    response = send(client, signed("POST", URL, json_body=body()))  # no Node lists this key

    assert response.status_code == 401
    assert response.json()["code"] == "unknown_key"
    assert refusals()[-1]["key_id"] == keys.own_key_id()


def test_an_inactive_partner_is_refused(client, partner):
    partner.active = False
    partner.save()

    assert send(client, signed("POST", URL, json_body=body())).json()["code"] == "unknown_key"


def test_a_stale_signature_is_refused(client, partner, settings):
    prepared = signed("POST", URL, json_body=body())
    old = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=settings.FEDERATION_SIGNATURE_MAX_AGE + 30)
    HTTPMessageSigner(signature_algorithm=algorithms.ED25519, key_resolver=_OwnKey()).sign(
        prepared,
        key_id=keys.own_key_id(),
        created=old,
        nonce="an-old-nonce",
        tag=TAG,
        label="node",
        covered_component_ids=("@method", "@authority", "@target-uri"),
        body=prepared.body,
        use_existing_digest=True,
    )

    response = send(client, prepared)

    assert response.status_code == 401
    assert response.json()["code"] == "stale"


def test_a_replayed_request_is_refused_the_second_time(client, partner, searchable):
    prepared = signed("POST", URL, json_body=body())

    assert send(client, prepared).status_code == 200
    again = send(client, prepared)

    assert again.status_code == 401
    assert again.json()["code"] == "replayed"
    assert refusals()[-1]["code"] == "replayed"


def test_a_body_changed_after_signing_is_refused(client, partner):
    prepared = signed("POST", URL, json_body=body({"modality": ["MR"]}))
    prepared.body = body({"modality": ["CT"]})

    response = send(client, prepared)

    assert response.status_code == 401
    assert response.json()["code"] == "bad_signature"


def test_a_signature_by_another_key_under_a_partners_key_id_is_refused(client, partner):
    class Impostor(_OwnKey):
        def resolve_private_key(self, key_id):
            return ed25519.Ed25519PrivateKey.generate()

    prepared = signed("POST", URL, json_body=body())
    HTTPMessageSigner(signature_algorithm=algorithms.ED25519, key_resolver=Impostor()).sign(
        prepared,
        key_id=partner.key_id,
        nonce="impostor-1",
        tag=TAG,
        label="node",
        body=prepared.body,
        use_existing_digest=True,
    )

    response = send(client, prepared)

    assert response.status_code == 401
    assert response.json()["code"] == "bad_signature"


def test_a_request_signed_for_another_node_is_refused(client, partner):
    """The signature covers the authority: a request signed for one node is no good at another."""
    prepared = signed("POST", "http://other-node.example/federation/v1/counts", json_body=body())

    response = send(client, prepared)

    assert response.status_code == 401
    assert response.json()["code"] == "bad_signature"


@pytest.mark.parametrize("criteria", [{"age_min": 70, "age_max": 20}, {"sex": ["X"]}, {"modality": "MR"}])
def test_bad_criteria_from_a_partner_are_a_400_that_says_what_is_wrong(client, partner, criteria):
    response = send(client, signed("POST", URL, json_body=body(criteria)))

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["errors"]


def test_the_node_identity_names_its_key(client, db):
    identity = client.get("/federation/node.json").json()

    assert identity["public_key"] == keys.public_key_b64()
    assert identity["key_id"] == keys.own_key_id()
    assert identity["endpoints"]["counts"].endswith("/federation/v1/counts")
