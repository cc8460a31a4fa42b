"""HTTP Message Signatures (RFC 9421) between nodes: Ed25519, with a creation time and a nonce.

A request from this node covers its method, authority, target URI and, with a body, its
Content-Digest (RFC 9530), under the tag `imaging-portal-federation`. A node answers only a request
whose signature verifies with the key of a partner it lists (active), created less than
FEDERATION_SIGNATURE_MAX_AGE seconds ago, whose nonce it has not seen from that key: anything else
is refused with 401 and a JSON body that says why, and the refusal is audited.
"""

import datetime
import secrets
from dataclasses import dataclass

import requests
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from http_message_signatures import HTTPMessageSigner, HTTPMessageVerifier, HTTPSignatureKeyResolver, algorithms
from http_message_signatures.exceptions import HTTPMessageSignaturesException, InvalidSignature

from federation import keys
from federation.models import Node, SeenNonce, raw_public_key

TAG = "imaging-portal-federation"
COVERED = ("@method", "@authority", "@target-uri")


class Refused(Exception):
    """A request this node will not answer: `code` names why, the message says it in words."""

    def __init__(self, code: str, message: str, key_id: str = ""):
        super().__init__(message)
        self.code = code
        self.key_id = key_id


class _OwnKey(HTTPSignatureKeyResolver):
    def resolve_private_key(self, key_id: str):
        return keys.private_key()

    def resolve_public_key(self, key_id: str):
        return keys.private_key().public_key()


def signed(method: str, url: str, *, json_body: bytes | None = None) -> requests.PreparedRequest:
    """A request to a partner node, signed with this node's key (a fresh nonce each time)."""
    headers = {"Accept": "application/json"}
    if json_body is not None:
        headers["Content-Type"] = "application/json"
    prepared = requests.Request(method, url, headers=headers, data=json_body).prepare()
    HTTPMessageSigner(signature_algorithm=algorithms.ED25519, key_resolver=_OwnKey()).sign(
        prepared,
        key_id=keys.own_key_id(),
        nonce=secrets.token_urlsafe(18),
        tag=TAG,
        label="node",
        covered_component_ids=COVERED,
        body=json_body,
    )
    return prepared


@dataclass
class _Incoming:
    """What the verifier reads of a Django request: method, absolute URL, header fields."""

    method: str
    url: str
    headers: dict


class _Partners(HTTPSignatureKeyResolver):
    def __init__(self):
        self.node: Node | None = None

    def resolve_public_key(self, key_id: str):
        from cryptography.hazmat.primitives.asymmetric import ed25519

        self.node = Node.objects.filter(key_id=key_id, active=True).first()
        if self.node is None:
            raise InvalidSignature("unknown key")
        return ed25519.Ed25519PublicKey.from_public_bytes(raw_public_key(self.node.public_key))


def _key_id(request) -> str:
    """The keyid the request's Signature-Input names, for the record of a refusal (not trusted)."""
    text = request.headers.get("Signature-Input", "")
    start = text.find('keyid="')
    return text[start + 7 : text.find('"', start + 7)][:32] if start >= 0 else ""


def verify(request) -> Node:
    """The partner node that signed `request`; Refused when it is unsigned, by an unknown or inactive
    key, stale, replayed, tampered with, or its body does not match its digest."""
    if "Signature" not in request.headers or "Signature-Input" not in request.headers:
        raise Refused("unsigned", "This endpoint answers partner nodes only: the request carries no signature.")
    key_id = _key_id(request)
    partners = _Partners()
    verifier = HTTPMessageVerifier(signature_algorithm=algorithms.ED25519, key_resolver=partners)
    message = _Incoming(request.method, request.build_absolute_uri(), dict(request.headers))
    max_age = datetime.timedelta(seconds=settings.FEDERATION_SIGNATURE_MAX_AGE)
    try:
        (result,) = verifier.verify(
            message, max_age=max_age, expect_tag=TAG, require_components=COVERED, body=request.body or None
        )
    except (InvalidSignature, HTTPMessageSignaturesException, ValueError) as exc:
        text = str(exc)
        if partners.node is None and "unknown key" in text:
            raise Refused("unknown_key", "The signature's key is not one of this node's partners.", key_id) from exc
        if "age exceeds" in text or "in the future" in text or "in the past" in text:
            raise Refused(
                "stale", "The signature is too old (or dated in the future): sign each request afresh.", key_id
            ) from exc
        raise Refused("bad_signature", f"The signature does not verify: {text}", key_id) from exc
    nonce = result.nonce
    if not nonce:
        raise Refused("no_nonce", "The signature carries no nonce.", key_id)
    _remember(partners.node.key_id, nonce)
    return partners.node


def _remember(key_id: str, nonce: str) -> None:
    """Keep the nonce; a nonce seen before from this key is a replay. Nonces older than twice the
    signatures' lifetime are forgotten as new ones arrive (their signatures are stale anyway)."""
    now = timezone.now()
    try:
        with transaction.atomic():
            SeenNonce.objects.create(key_id=key_id, nonce=nonce[:64], seen_at=now)
    except IntegrityError as exc:
        raise Refused("replayed", "This request was answered before: its nonce has been used.", key_id) from exc
    horizon = now - datetime.timedelta(seconds=2 * settings.FEDERATION_SIGNATURE_MAX_AGE)
    SeenNonce.objects.filter(seen_at__lt=horizon).delete()
