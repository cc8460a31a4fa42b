"""DRF authentication of partner nodes by their HTTP Message Signatures (federation/signatures.py).

On a node endpoint the caller is a node, never a person: a session or token is not looked at. A
request that does not verify is refused with 401 (`unsigned`, `unknown_key`, `stale`, `replayed`,
`bad_signature`, `no_nonce`) and audited, within the caller's refusal budget
(portal.access.refusal_recordable) so that a flood of bad requests cannot grow the audit chain
without bound.
"""

from django.db import transaction
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication

from federation.models import Node
from federation.signatures import Refused, verify
from portal.access import guard_for, refusal_recordable
from portal.services.audit import audit_record


class PartnerNode:
    """The caller of a node endpoint: the partner node whose signature verified."""

    is_authenticated = True
    is_active = True
    is_partner_node = True
    is_anonymous = False
    pk = None

    def __init__(self, node: Node):
        self.node = node

    def __str__(self) -> str:
        return f"node:{self.node.name}"


class NodeSignatureAuthentication(BaseAuthentication):
    def authenticate(self, request):
        django_request = request._request
        match = django_request.resolver_match
        if match is None or guard_for(match.view_name, request.method) is None:
            return None  # a method the endpoint does not take: 405, whoever signs it
        try:
            node = verify(django_request)
        except Refused as refusal:
            _audit_refusal(django_request, refusal)
            raise exceptions.AuthenticationFailed(str(refusal), code=refusal.code) from refusal
        return PartnerNode(node), node

    def authenticate_header(self, request):
        return 'Signature realm="federation"'


def _audit_refusal(request, refusal: Refused) -> None:
    if not refusal_recordable(request):
        return
    with transaction.atomic():
        audit_record(
            actor=f"node:{refusal.key_id}" if refusal.key_id else "anonymous",
            verb="federation.request_refuse",
            payload={
                "code": refusal.code,
                "key_id": refusal.key_id,
                "method": request.method,
                "path": request.path[:200],
                "address": request.META.get("REMOTE_ADDR", ""),
            },
        )


class NodeSignatureScheme(OpenApiAuthenticationExtension):
    target_class = "federation.authentication.NodeSignatureAuthentication"
    name = "nodeSignature"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Signature",
            "description": "HTTP Message Signatures (RFC 9421) by a partner node's Ed25519 key: `Signature-Input` "
            "covers `@method`, `@authority`, `@target-uri` and `content-digest`, with `created`, `nonce`, `keyid` "
            "and the tag `imaging-portal-federation`; the key is the one this node lists for the partner.",
        }
