"""The federation's endpoints.

Between nodes (signed with HTTP Message Signatures, federation/signatures.py; no account):
- GET /federation/node.json (anyone): this node's identity: name, address, Ed25519 public key
  and key id, endpoints. A partner's administrator lists the node with these.
- POST /federation/v1/counts (partner nodes): the node's disclosed counts for the criteria.
- POST /federation/v1/grants (partner nodes): one event of a grant the partner issued for one of
  this node's datasets (federation/grants.py), applied once and in order.
- POST /federation/v1/grants/<grant>/links (partner nodes): short-lived links to a received
  download grant's files, for the grantee the partner names.
- GET /federation/files/<token> (the link is the capability): one file of a received grant.

For people and their programs:
- POST /api/v1/federation/counts/ (signed in): the federated count query, answered by this node
  and every partner at once, with each node's status.
"""

from django.conf import settings
from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from access_requests.apis import AnyAcceptNegotiation
from access_requests.services.grants import GrantRefused
from federation import keys
from federation.authentication import NodeSignatureAuthentication
from federation.counts import CountCriteriaSerializer, canonical, local_counts
from federation.grants import grant_receive, links_issue, received_file_response
from federation.query import COUNTS_PATH, federated_counts
from portal.apis import ErrorSerializer
from portal.serializers import InputSerializer
from portal.services.audit import audit_record

REFUSED = OpenApiResponse(
    ErrorSerializer,
    description="The request is not signed by a partner node (`unsigned`, `unknown_key`), its signature is too "
    "old (`stale`), its nonce was used before (`replayed`) or it does not verify (`bad_signature`, `no_nonce`). "
    "Every refusal is audited.",
)


class DatasetCountSerializer(serializers.Serializer):
    identifier = serializers.CharField()
    title = serializers.CharField()
    holder = serializers.CharField()
    url = serializers.CharField(help_text="the dataset's page at its node")
    subjects = serializers.IntegerField(
        allow_null=True, help_text="matching subjects, rounded to `rounding`; null: fewer than `threshold`"
    )
    studies = serializers.IntegerField(
        allow_null=True, help_text="matching studies, rounded to `rounding`; null: fewer than `threshold`"
    )


class TotalSerializer(serializers.Serializer):
    subjects = serializers.IntegerField(allow_null=True)
    studies = serializers.IntegerField(allow_null=True)


class NodeRefSerializer(serializers.Serializer):
    name = serializers.CharField()
    base_url = serializers.CharField()


class NodeCountsSerializer(serializers.Serializer):
    node = NodeRefSerializer()
    threshold = serializers.IntegerField(help_text="counts below it are withheld (null)")
    rounding = serializers.IntegerField(help_text="the other counts are rounded to a multiple of it")
    datasets = DatasetCountSerializer(many=True, help_text="every dataset searchable through federated search")
    total = TotalSerializer(help_text="the node's totals, disclosed as the counts are")


class NodeStatusSerializer(serializers.Serializer):
    name = serializers.CharField()
    base_url = serializers.CharField()
    local = serializers.BooleanField(help_text="this node itself")
    status = serializers.ChoiceField(choices=["answered", "timed_out", "refused", "error"])
    status_words = serializers.CharField()
    detail = serializers.CharField(required=False, help_text="why a node has no answer")
    ms = serializers.IntegerField(required=False, help_text="how long the node took")
    datasets = DatasetCountSerializer(many=True, required=False)
    total = TotalSerializer(required=False)


class FederatedCountsSerializer(serializers.Serializer):
    criteria = serializers.DictField()
    threshold = serializers.IntegerField()
    rounding = serializers.IntegerField()
    nodes = NodeStatusSerializer(many=True, help_text="this node first, then every active partner")
    total = TotalSerializer(help_text="the sum of the answering nodes' disclosed totals")
    answered = serializers.IntegerField()
    asked = serializers.IntegerField()
    ms = serializers.IntegerField()
    cached = serializers.BooleanField(help_text="answered from the cache (the same query within a minute)")


class NodeIdentitySerializer(serializers.Serializer):
    name = serializers.CharField()
    base_url = serializers.CharField()
    algorithm = serializers.CharField(help_text="`ed25519`")
    public_key = serializers.CharField(allow_null=True, help_text="the raw Ed25519 public key, base64")
    key_id = serializers.CharField(allow_null=True, help_text="the `keyid` of this node's signatures")
    endpoints = serializers.DictField(child=serializers.CharField())


class NodeIdentityApi(APIView):
    """This node's identity: what a partner lists it with."""

    authentication_classes = []

    @extend_schema(
        operation_id="federation_node_retrieve", tags=["federation"], responses=NodeIdentitySerializer, auth=[{}]
    )
    def get(self, request):
        present = keys.has_key()
        return Response(
            {
                "name": settings.SITE_NAME,
                "base_url": settings.SITE_URL,
                "algorithm": "ed25519",
                "public_key": keys.public_key_b64() if present else None,
                "key_id": keys.own_key_id() if present else None,
                "endpoints": {
                    "counts": f"{settings.SITE_URL}{COUNTS_PATH}",
                    "catalogue": f"{settings.SITE_URL}/catalogue/export.ttl",
                },
            },
            headers={"Cache-Control": "public, max-age=300"},
        )


class NodeCountsApi(APIView):
    """A partner node's count query: this node's disclosed counts of subjects and studies per
    searchable dataset. The request must carry this node's partner's HTTP Message Signature."""

    authentication_classes = [NodeSignatureAuthentication]
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="federation_node_counts",
        tags=["federation"],
        request=CountCriteriaSerializer,
        responses={200: NodeCountsSerializer, 400: ErrorSerializer, 401: REFUSED},
        description="Signed by a partner node (RFC 9421, Ed25519, with `created`, `nonce`, tag "
        "`imaging-portal-federation`, covering `@method`, `@authority`, `@target-uri` and `content-digest`).",
    )
    def post(self, request):
        node = request.auth
        criteria = CountCriteriaSerializer(data=request.data)
        criteria.is_valid(raise_exception=True)
        answer = local_counts(criteria.validated_data)
        with transaction.atomic():
            audit_record(
                actor=f"node:{node.name}",
                verb="federation.counts_answer",
                target=node,
                payload={"criteria": canonical(criteria.validated_data)},
            )
        return Response(answer)


class FederatedCountsApi(APIView):
    """The federated count query: this node and every partner, asked at once; each node's disclosed
    counts per dataset, its status (answered, timed out, refused, error) and the totals."""

    @extend_schema(
        operation_id="federation_counts",
        tags=["federation"],
        request=CountCriteriaSerializer,
        responses={200: FederatedCountsSerializer, 400: ErrorSerializer},
    )
    def post(self, request):
        criteria = CountCriteriaSerializer(data=request.data)
        criteria.is_valid(raise_exception=True)
        return Response(run_query(request.user, criteria.validated_data))


def run_query(user, criteria: dict) -> dict:
    """The federated query for `user`, audited with what was asked and who answered."""
    result = federated_counts(criteria)
    with transaction.atomic():
        audit_record(
            actor=user,
            verb="federation.counts_query",
            payload={
                "criteria": result["criteria"],
                "cached": result["cached"],
                "statuses": {node["name"]: node["status"] for node in result["nodes"]},
            },
        )
    return result


# --- grants across nodes ---------------------------------------------------------------------------


class GranteeSerializer(serializers.Serializer):
    sub = serializers.CharField(max_length=64, help_text="the grantee's stable number at the issuing node")
    email = serializers.EmailField()
    name = serializers.CharField(max_length=200, allow_blank=True, required=False, default="")


class GrantEventSerializer(InputSerializer):
    """An entitlement event as the issuing node's outbox sends it (README, "Entitlement events"),
    with the grant's kind."""

    id = serializers.IntegerField(required=False, help_text="the event's number at the issuing node")
    issuer = serializers.URLField(required=False, help_text="the issuing node's address")
    occurred_at = serializers.DateTimeField(required=False)
    event = serializers.ChoiceField(choices=["granted", "extended", "ended", "revoked"])
    grant = serializers.IntegerField(min_value=1, help_text="the grant's number at the issuing node")
    sequence = serializers.IntegerField(min_value=1, help_text="1, 2, ... per grant, applied in this order")
    kind = serializers.ChoiceField(choices=["download", "processing"])
    application = serializers.CharField(max_length=40)
    dataset = serializers.CharField(max_length=64, help_text="the identifier of one of this node's datasets")
    access_mode = serializers.CharField(max_length=40)
    status = serializers.ChoiceField(choices=["active", "expired", "revoked"])
    valid_from = serializers.DateField()
    valid_until = serializers.DateField()
    grantees = GranteeSerializer(many=True, allow_empty=False)


class GrantReceiptSerializer(serializers.Serializer):
    received = serializers.IntegerField(help_text="the grant's number at this node")
    applied = serializers.BooleanField(help_text="false: the event had been applied before")
    status = serializers.CharField()
    valid_until = serializers.DateField()


class LinksAskSerializer(InputSerializer):
    grantee = serializers.CharField(max_length=64, help_text="the `sub` of a grantee the grant names")


class LinkedFileSerializer(serializers.Serializer):
    path = serializers.CharField()
    size_bytes = serializers.IntegerField()
    sha256 = serializers.CharField()
    url = serializers.URLField(help_text="valid for DOWNLOAD_LINK_SECONDS, for this grantee only")


class LinksSerializer(serializers.Serializer):
    dataset = serializers.CharField()
    expires_at = serializers.DateTimeField()
    files = LinkedFileSerializer(many=True)


def _rejected(rejected: GrantRefused) -> Response:
    return Response({"detail": rejected.message, "code": rejected.code}, status=rejected.status)


_GRANT_REFUSALS = {
    400: ErrorSerializer,
    401: REFUSED,
    403: OpenApiResponse(ErrorSerializer, description="`grants_not_honoured`: this node does not honour the partner"),
    404: OpenApiResponse(ErrorSerializer, description="`no_such_dataset`: not a dataset of this node"),
    409: OpenApiResponse(
        ErrorSerializer, description="`out_of_order`, `dataset_not_published`, `mode_not_offered`, `dataset_changed`"
    ),
}


class NodeGrantsApi(APIView):
    """A partner node's grant for one of this node's datasets, one event at a time: the partner's
    committee decided and its agreement was executed there; this node enforces the grant."""

    authentication_classes = [NodeSignatureAuthentication]
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="federation_node_grant_event",
        tags=["federation"],
        request=GrantEventSerializer,
        responses={200: GrantReceiptSerializer, **_GRANT_REFUSALS},
        description="Signed by a partner node, as the count query. An event applied before answers 200 with "
        "`applied: false`; one that skips ahead answers 409 so the partner sends the missing one first.",
    )
    def post(self, request):
        event = GrantEventSerializer(data=request.data)
        event.is_valid(raise_exception=True)
        try:
            grant, applied = grant_receive(node=request.auth, event=event.validated_data)
        except GrantRefused as rejected:
            return _rejected(rejected)
        return Response(
            {"received": grant.pk, "applied": applied, "status": grant.status, "valid_until": grant.valid_until}
        )


class NodeGrantLinksApi(APIView):
    """Links to the files of a download grant this node received from the calling partner, for one
    of the grantees it names; every check of the grant is made here."""

    authentication_classes = [NodeSignatureAuthentication]
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="federation_node_grant_links",
        tags=["federation"],
        request=LinksAskSerializer,
        responses={
            200: LinksSerializer,
            400: ErrorSerializer,
            401: REFUSED,
            403: OpenApiResponse(ErrorSerializer, description="`not_grantee`, `not_started`, `processing_only`"),
            404: OpenApiResponse(ErrorSerializer, description="`no_such_grant`"),
            410: OpenApiResponse(ErrorSerializer, description="`revoked`, `expired`, `dataset_withdrawn`"),
        },
    )
    def post(self, request, remote_grant: int):
        ask = LinksAskSerializer(data=request.data)
        ask.is_valid(raise_exception=True)
        try:
            return Response(
                links_issue(node=request.auth, remote_grant=remote_grant, sub=ask.validated_data["grantee"])
            )
        except GrantRefused as rejected:
            return _rejected(rejected)


class ReceivedFileApi(APIView):
    """One file of a received download grant, through a link the grantee's portal asked for. The
    link is the credential (bound to grant, grantee and file; valid DOWNLOAD_LINK_SECONDS); the
    grant and the file are checked again at every request. Supports `Range` and `If-Range`."""

    authentication_classes = []
    content_negotiation_class = AnyAcceptNegotiation

    @extend_schema(
        operation_id="federation_received_file",
        tags=["federation"],
        auth=[{}],
        responses={
            (200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY, description="the whole file"),
            (206, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY, description="the range asked"),
            403: OpenApiResponse(ErrorSerializer, description="`tampered`, `not_grantee`, `not_deidentified`"),
            404: OpenApiResponse(ErrorSerializer, description="`file_outside_grant`, `file_missing`"),
            410: OpenApiResponse(ErrorSerializer, description="`link_expired`, `revoked`, `expired`"),
        },
    )
    def get(self, request, token: str):
        return received_file_response(request, token)
