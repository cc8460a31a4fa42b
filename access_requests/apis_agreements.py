"""The data-access agreement API (/api/v1/applications/<pk>/agreement/...).

Built like the agreement's pages (access_requests/views/agreements.py): the access table
(portal.access, rules `agreement.*`) decides who reaches each operation, the getter fetches the
application's agreement in force (404 when it has none), and one service of
access_requests/services/agreements.py acts and checks again. Signing, uploading a countersigned
scan, checking a scan and revising are decisive acts: the password is confirmed (sudo, portal.access
URLS). A signature names the version and the SHA-256 of the PDF the caller read: a superseded version
or another hash is refused with 409 before anything is recorded.
"""

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from access_requests.apis import AnyAcceptNegotiation, _validated
from access_requests.downloads import agreement_executed_response, agreement_version_response
from access_requests.models import AgreementSignature, AgreementStatus, SignatureMethod
from access_requests.permissions import agreement_in_force, agreement_parties_for
from access_requests.serializers_agreements import (
    AgreementReviseSerializer,
    AgreementScanSerializer,
    AgreementSerializer,
    AgreementSignSerializer,
)
from access_requests.services import agreements as ag
from portal.access import require
from portal.apis import ErrorSerializer
from portal.errors import InvalidInput, TransitionError
from portal.ratelimit import client_ip

SIGN_REFUSED = OpenApiResponse(
    ErrorSerializer,
    description="The version named is superseded or still being prepared, the SHA-256 is not the version's "
    "(`document_changed`), the party has signed already, or the agreement is executed or voided.",
)
SCAN_REFUSED = OpenApiResponse(
    ErrorSerializer,
    description="The version named is superseded or still being prepared, the party has signed already, or the "
    "agreement is executed or voided.",
)
VERIFY_REFUSED = OpenApiResponse(
    ErrorSerializer,
    description="The signature was made online, the caller uploaded the scan, or the agreement is executed or voided.",
)
REVISE_REFUSED = OpenApiResponse(ErrorSerializer, description="The agreement is executed or voided.")
DIGEST_HEADERS = [
    OpenApiParameter(
        "Repr-Digest",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        response=[200],
        description="The PDF's SHA-256, as `sha-256=:<base64>:` (RFC 9530).",
    ),
    OpenApiParameter(
        "X-Content-SHA256",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        response=[200],
        description="The PDF's SHA-256 in hexadecimal.",
    ),
]


def agreement_get_for(user, pk: int, rule: str = "agreement.view"):
    """The application's agreement in force if `user` may see it (else 404) and do `rule` (else 403)."""
    agreement = agreement_in_force(pk)
    require(user, "agreement.view", agreement)
    require(user, rule, agreement)
    return agreement


def _signature(signature: AgreementSignature | None) -> dict | None:
    if signature is None:
        return None
    return {
        "id": signature.pk,
        "signer": signature.user.full_name,
        "signed_at": signature.signed_at,
        "sha256": signature.shown_sha256,
        "method": signature.method,
        "verified": signature.method == SignatureMethod.ONLINE or signature.verified_at is not None,
        "verified_at": signature.verified_at,
        "counts": signature.counts,
    }


def agreement_data(user, agreement) -> dict:
    """The agreement as `user` sees it (see access_requests/serializers_agreements.py)."""
    versions = list(agreement.versions.order_by("-number").prefetch_related("parties"))
    current = versions[0]
    signatures = {
        s.party_id: s
        for s in AgreementSignature.objects.filter(version=current, voided_at__isnull=True).select_related("user")
    }
    parties = []
    for party in current.parties.all():
        signature = signatures.get(party.pk)
        counts = bool(signature and signature.counts)
        parties.append(
            {
                "id": party.pk,
                "name": party.name,
                "kind": party.kind,
                "representative": party.representative,
                "signed": counts,
                "awaited": not counts,
                "signature": _signature(signature),
            }
        )
    open_for_signing = (
        agreement.status == AgreementStatus.AWAITING_SIGNATURES and current.is_rendered and current.is_current
    )
    may_sign = []
    if open_for_signing and not any(s.user_id == user.pk for s in signatures.values()):
        may_sign = [p.pk for p in agreement_parties_for(user, agreement) if p.pk not in signatures]
    executed = None
    if agreement.status == AgreementStatus.EXECUTED:
        executed = {"sha256": agreement.executed_sha256, "executed_at": agreement.executed_at}
    return {
        "reference": agreement.reference,
        "status": agreement.status,
        "overdue": ag.execution_overdue(agreement),
        "current": {
            "number": current.number,
            "template_version": current.template_version,
            "reason": current.reason,
            "sha256": current.sha256,
            "size": current.size,
            "rendered": current.is_rendered,
            "created_at": current.created_at,
            "parties": parties,
        },
        "earlier": [
            {"number": v.number, "reason": v.reason, "sha256": v.sha256, "superseded_at": v.superseded_at}
            for v in versions[1:]
        ],
        "executed": executed,
        "may_sign": may_sign,
    }


def _answer(request, pk: int) -> Response:
    agreement = agreement_in_force(pk)
    return Response(AgreementSerializer(agreement_data(request.user, agreement)).data)


def _version_and_party(user, agreement, number: int, party_pk: int | None):
    """The version named (perhaps superseded: the service says so) and the party named, if any."""
    version = agreement.versions.filter(number=number).first()
    if version is None:
        raise TransitionError(
            f"{agreement.reference} has no version {number}: version {agreement.current_version.number} is current.",
            code="version_unknown",
        )
    party = None
    if party_pk is not None:
        party = version.parties.filter(pk=party_pk).first()
        if party is None or not ag.party_entitled(user, party, agreement.application):
            raise InvalidInput(
                "You are not entitled to sign for the party named.",
                fields={"party": [f"Not a party of version {number} you may sign for."]},
            )
    return version, party


class AgreementApiBase(APIView):
    rule = "agreement.view"

    def agreement(self, request, pk: int):
        return agreement_get_for(request.user, pk, self.rule)


class AgreementApi(AgreementApiBase):
    """Whoever may see the application, and each party's signatory (404 when the application has no
    agreement: there is one once the committee approved it)."""

    @extend_schema(
        summary="The data-access agreement: its current version, each party signed or awaited, earlier versions",
        responses={200: AgreementSerializer},
    )
    def get(self, request, pk: int):
        agreement = self.agreement(request, pk)
        return Response(AgreementSerializer(agreement_data(request.user, agreement)).data)


class AgreementVersionPdfApi(AgreementApiBase):
    """Whoever may see the agreement; every download is recorded as a `document.view` audit event.
    `Repr-Digest` (RFC 9530) and `X-Content-SHA256` carry the PDF's SHA-256."""

    content_negotiation_class = AnyAcceptNegotiation

    @extend_schema(
        summary="Download one version of the agreement (PDF)",
        parameters=DIGEST_HEADERS,
        responses={
            (200, "application/pdf"): OpenApiResponse(response=OpenApiTypes.BINARY, description="The version (PDF)."),
            (404, "application/json"): OpenApiResponse(response=ErrorSerializer, description="No such version."),
            (409, "application/json"): OpenApiResponse(
                response=ErrorSerializer, description="The version is still being prepared."
            ),
        },
    )
    def get(self, request, pk: int, number: int):
        return agreement_version_response(request, self.agreement(request, pk), number)


class AgreementExecutedPdfApi(AgreementApiBase):
    """Whoever may see the agreement, once every party has signed; every download is recorded as a
    `document.view` audit event. `Repr-Digest` (RFC 9530) and `X-Content-SHA256` carry its SHA-256."""

    content_negotiation_class = AnyAcceptNegotiation

    @extend_schema(
        summary="Download the executed agreement, sealed (PDF)",
        parameters=DIGEST_HEADERS,
        responses={
            (200, "application/pdf"): OpenApiResponse(
                response=OpenApiTypes.BINARY, description="The executed agreement (PDF)."
            ),
            (409, "application/json"): OpenApiResponse(
                response=ErrorSerializer, description="The agreement is not executed yet."
            ),
        },
    )
    def get(self, request, pk: int):
        return agreement_executed_response(request, self.agreement(request, pk))


class AgreementSignApi(AgreementApiBase):
    """A party's signatory, a steward of a party holder, or the Research Data Office (never someone on
    the application's team for a holder or the infrastructure). A decisive act: the password is
    confirmed. The typed name must be the caller's full name; the SHA-256 the current version's."""

    rule = "agreement.sign"

    @extend_schema(
        summary="Sign the current version of the agreement for a party",
        request=AgreementSignSerializer,
        responses={200: AgreementSerializer, 409: SIGN_REFUSED},
    )
    def post(self, request, pk: int):
        agreement = self.agreement(request, pk)
        data = _validated(AgreementSignSerializer, request.data)
        version, party = _version_and_party(request.user, agreement, data["version"], data.get("party"))
        sha256 = data["sha256"].lower()
        if version.is_current and version.is_rendered and sha256 != version.sha256:
            raise TransitionError(
                "The document you read is not the current version: download it again and read it before signing.",
                code="document_changed",
            )
        ag.agreement_sign(
            actor=request.user,
            version=version,
            typed_name=data["typed_name"],
            ip=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
            shown_sha256=sha256,
            party=party,
        )
        return _answer(request, pk)


class AgreementScanApi(AgreementApiBase):
    """Who may sign (see signing), instead of signing online: a countersigned copy of the current
    version, scanned as a PDF. It counts once the Research Data Office has checked it. A decisive act:
    the password is confirmed."""

    rule = "agreement.sign"
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        summary="Upload a countersigned scan of the current version for a party",
        request={"multipart/form-data": AgreementScanSerializer},
        responses={200: AgreementSerializer, 409: SCAN_REFUSED},
    )
    def post(self, request, pk: int):
        agreement = self.agreement(request, pk)
        data = _validated(AgreementScanSerializer, request.data)
        version, party = _version_and_party(request.user, agreement, data["version"], data.get("party"))
        ag.agreement_scan_upload(actor=request.user, version=version, upload=data["file"], party=party)
        return _answer(request, pk)


class AgreementScanVerifyApi(AgreementApiBase):
    """The Research Data Office, never the person who uploaded the scan: the countersigned copy is
    this version, signed for the party; it then counts. A decisive act: the password is confirmed."""

    rule = "agreement.review"

    @extend_schema(
        summary="Confirm that an uploaded countersigned scan is valid (the Research Data Office)",
        request=None,
        responses={200: AgreementSerializer, 409: VERIFY_REFUSED},
    )
    def post(self, request, pk: int, signature_pk: int):
        agreement = self.agreement(request, pk)
        signature = AgreementSignature.objects.filter(pk=signature_pk, version__agreement=agreement).first()
        if signature is None:
            raise Http404("This agreement has no such signature.")
        ag.agreement_scan_verify(actor=request.user, signature=signature)
        return _answer(request, pk)


class AgreementReviseApi(AgreementApiBase):
    """The Research Data Office, before execution: a new version from what the application and the
    decision now say. The signatures on the version before are void and their signers are told why.
    A decisive act: the password is confirmed."""

    rule = "agreement.review"

    @extend_schema(
        summary="Revise the agreement: a new version to sign (the Research Data Office)",
        request=AgreementReviseSerializer,
        responses={200: AgreementSerializer, 409: REVISE_REFUSED},
    )
    def post(self, request, pk: int):
        agreement = self.agreement(request, pk)
        data = _validated(AgreementReviseSerializer, request.data)
        ag.agreement_revise(actor=request.user, agreement=agreement, reason=data["reason"])
        return _answer(request, pk)
