"""GA4GH Passport visas for processing grants, and the JWK Set that verifies them
(access_requests/services/visas.py).

- GET /api/v1/passport/ (signed in): `{"ga4gh_passport_v1": [visa, ...]}`, one signed
  `ControlledAccessGrants` visa per processing grant the caller may use now.
- GET /.well-known/jwks.json and /api/v1/jwks/ (anyone): the public keys, by `kid`.

Without a signing key both answer 503 with an `Error` body saying so, never a server error.
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from access_requests.services import visas
from portal.apis import ErrorSerializer

KEY_MISSING = OpenApiResponse(
    ErrorSerializer,
    description="The portal has no visa signing key configured (`visa_key_missing`): no visa can be issued "
    "or verified until the operator sets one.",
)


def _key_missing(exc: Exception) -> Response:
    return Response({"detail": str(exc), "code": "visa_key_missing"}, status=503, headers={"Retry-After": "3600"})


class PassportSerializer(serializers.Serializer):
    ga4gh_passport_v1 = serializers.ListField(
        child=serializers.CharField(),
        help_text="GA4GH visas (signed JWTs, RS256 or ES256): one `ControlledAccessGrants` visa per processing "
        "grant usable now. Claims: `iss` and `ga4gh_visa_v1.source` the portal's address, `sub` the account, "
        "`exp` at most VISA_LIFETIME_SECONDS away and never past the end of the grant's last day, "
        "`ga4gh_visa_v1.value` the dataset's IRI, `asserted` when the grant was issued, `by` `dac`. The header's "
        "`kid` names the key in the JWK Set at `jku`.",
    )


class JwkSerializer(serializers.Serializer):
    kty = serializers.CharField(help_text="`EC` or `RSA`")
    kid = serializers.CharField(help_text="the key's RFC 7638 thumbprint; a visa's header names it")
    alg = serializers.CharField(help_text="`ES256` or `RS256`")
    use = serializers.CharField(help_text="`sig`")
    crv = serializers.CharField(required=False, help_text="EC keys: `P-256`")
    x = serializers.CharField(required=False)
    y = serializers.CharField(required=False)
    n = serializers.CharField(required=False, help_text="RSA keys: the modulus")
    e = serializers.CharField(required=False, help_text="RSA keys: the exponent")


class JwksSerializer(serializers.Serializer):
    keys = JwkSerializer(many=True, help_text="the current signing key first, then earlier ones still honoured")


class PassportApi(APIView):
    """The caller's GA4GH Passport: visas for their processing grants, to present to the data
    holders' processing environments. Fetch a fresh one for each session: visas are short-lived."""

    @extend_schema(
        operation_id="passport_retrieve", tags=["visas"], responses={200: PassportSerializer, 503: KEY_MISSING}
    )
    def get(self, request):
        try:
            signed = visas.passport_issue(request.user)
        except visas.VisaKeyMissing as exc:
            return _key_missing(exc)
        return Response({"ga4gh_passport_v1": signed}, headers={"Cache-Control": "no-store"})


class JwksApi(APIView):
    """The public keys that verify the portal's visas (a JWK Set, RFC 7517)."""

    @extend_schema(
        operation_id="jwks_retrieve", tags=["visas"], responses={200: JwksSerializer, 503: KEY_MISSING}, auth=[{}]
    )
    def get(self, request):
        try:
            body = visas.jwks()
        except visas.VisaKeyMissing as exc:
            return _key_missing(exc)
        return Response(body, headers={"Cache-Control": "public, max-age=300"})


class WellKnownJwksApi(JwksApi):
    """The public keys that verify the portal's visas, where a visa's `jku` points (/.well-known/jwks.json)."""

    @extend_schema(
        operation_id="well_known_jwks_retrieve",
        tags=["visas"],
        responses={200: JwksSerializer, 503: KEY_MISSING},
        auth=[{}],
    )
    def get(self, request):
        return super().get(request)
