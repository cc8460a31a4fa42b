"""GA4GH Passport visas for processing grants, and the public keys that verify them.

A processing grant never lets a byte leave the data holder: the holder's processing environment
decides who may work on a dataset from the portal's assertions. Besides the pushed entitlement
events (services/entitlements.py), a grantee can present a GA4GH Passport (v1.2): one
`ControlledAccessGrants` visa per processing grant they may use *now* (`grant_usable`: in its days,
not ended, application active, agreement executed, dataset approved and published), each a JWT
signed with the portal's key. A visa lives at most VISA_LIFETIME_SECONDS and never past the end of
its grant's last day (23:59:59 in the portal's time zone), so an environment that checks `exp` stops
honouring it on time even if it never hears of a revocation; it should fetch a fresh passport
for each session.

Keys: VISA_SIGNING_KEY (a PEM private key: EC P-256 signs ES256, RSA signs RS256) signs; its public
key and the earlier ones in VISA_PREVIOUS_PUBLIC_KEYS are served as a JWK Set at
/.well-known/jwks.json. Each key's `kid` is its RFC 7638 thumbprint, so a rotated key keeps its id
wherever it is published. `visa_dev_key_create` writes a development key (`manage.py visa_dev_key`).
"""

import base64
import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from access_requests.models import Grant, GrantKind, GrantStatus
from access_requests.services.grants import GrantRefused, grant_usable, portal_today
from portal.env import private_key_write
from portal.services.audit import audit_record

VISA_TYPE = "ControlledAccessGrants"
VISA_BY = "dac"  # asserted by the data access committee's decision, through the executed agreement


class VisaKeyMissing(Exception):
    """The signing key cannot be read: no visa can be issued (the API answers 503)."""


@dataclass(frozen=True)
class SigningKey:
    private_key: object
    algorithm: str
    kid: str
    jwk: dict


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int_bytes(value: int, length: int | None = None) -> bytes:
    return value.to_bytes(length or max(1, (value.bit_length() + 7) // 8), "big")


def public_jwk(public_key) -> dict:
    """The public key as a JWK (RFC 7517/7518) with `kid` (its RFC 7638 thumbprint), `alg` and `use`."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if isinstance(public_key, ec.EllipticCurvePublicKey):
        if public_key.curve.name != "secp256r1":
            raise VisaKeyMissing("A visa signing key on an elliptic curve must be P-256 (ES256).")
        numbers = public_key.public_numbers()
        members = {
            "crv": "P-256",
            "kty": "EC",
            "x": _b64(_int_bytes(numbers.x, 32)),
            "y": _b64(_int_bytes(numbers.y, 32)),
        }
        alg = "ES256"
    elif isinstance(public_key, rsa.RSAPublicKey):
        if public_key.key_size < 2048:
            raise VisaKeyMissing("An RSA visa signing key must have at least 2048 bits.")
        numbers = public_key.public_numbers()
        members = {"e": _b64(_int_bytes(numbers.e)), "kty": "RSA", "n": _b64(_int_bytes(numbers.n))}
        alg = "RS256"
    else:
        raise VisaKeyMissing("The visa signing key must be an EC P-256 or an RSA key.")
    thumbprint = hashlib.sha256(json.dumps(members, sort_keys=True, separators=(",", ":")).encode()).digest()
    return {**members, "kid": _b64(thumbprint), "alg": alg, "use": "sig"}


def signing_key() -> SigningKey:
    """The key visas are signed with, from VISA_SIGNING_KEY. Raises VisaKeyMissing, saying what to do."""
    from cryptography.hazmat.primitives import serialization

    path = Path(settings.VISA_SIGNING_KEY or "")
    if not settings.VISA_SIGNING_KEY or not path.is_file():
        raise VisaKeyMissing(
            "Visas cannot be issued: the portal has no visa signing key. Set VISA_SIGNING_KEY to a PEM private "
            "key (EC P-256 or RSA), or in development run `manage.py visa_dev_key`."
        )
    passphrase = settings.VISA_SIGNING_KEY_PASSPHRASE.encode() if settings.VISA_SIGNING_KEY_PASSPHRASE else None
    try:
        private_key = serialization.load_pem_private_key(path.read_bytes(), password=passphrase)
    except (ValueError, TypeError, OSError) as exc:
        raise VisaKeyMissing(f"Visas cannot be issued: the visa signing key cannot be read ({exc}).") from exc
    jwk = public_jwk(private_key.public_key())
    return SigningKey(private_key=private_key, algorithm=jwk["alg"], kid=jwk["kid"], jwk=jwk)


def jwks() -> dict:
    """The JWK Set: the current signing key's public half, then the earlier ones still published.
    Raises VisaKeyMissing when there is no key at all to publish."""
    from cryptography.hazmat.primitives import serialization

    keys = []
    try:
        keys.append(signing_key().jwk)
    except VisaKeyMissing:
        if not settings.VISA_PREVIOUS_PUBLIC_KEYS:
            raise
    for name in settings.VISA_PREVIOUS_PUBLIC_KEYS:
        try:
            public_key = serialization.load_pem_public_key(Path(name).read_bytes())
        except (ValueError, OSError) as exc:
            raise VisaKeyMissing(f"A previous visa key in VISA_PREVIOUS_PUBLIC_KEYS cannot be read ({exc}).") from exc
        jwk = public_jwk(public_key)
        if all(k["kid"] != jwk["kid"] for k in keys):
            keys.append(jwk)
    return {"keys": keys}


def jwks_url() -> str:
    return f"{settings.SITE_URL}{reverse('jwks')}"


def visa_subject(user) -> str:
    """The visa's `sub`: the account's stable number at this portal (the pushed entitlement events
    name each grantee with the same `sub`)."""
    return str(user.pk)


def dataset_iri(dataset) -> str:
    """The dataset's IRI: its page in the catalogue, as the DCAT export names it."""
    from catalogue.dcat import dataset_iri as iri

    return str(iri(dataset))


def grant_last_instant(grant: Grant) -> datetime:
    """23:59:59 of the grant's last day, in the portal's time zone."""
    return timezone.make_aware(datetime.combine(grant.valid_until, time(23, 59, 59)))


def usable_processing_grants(user, now: datetime) -> list[Grant]:
    """The user's processing grants they may use at `now` (invariant 1: `grant_usable`)."""
    today = portal_today(now)
    usable = []
    for grant in (
        Grant.objects.filter(kind=GrantKind.PROCESSING, status=GrantStatus.ACTIVE, grantees=user)
        .select_related("dataset", "application")
        .order_by("pk")
    ):
        try:
            grant_usable(grant, user, today=today)
        except GrantRefused:
            continue
        usable.append(grant)
    return usable


def passport_issue(user, *, now: datetime | None = None) -> list[str]:
    """The user's visas, one per usable processing grant, signed now; audited (`visa.issue`) when
    there is at least one. Raises VisaKeyMissing before anything is recorded."""
    import jwt

    key = signing_key()
    now = now or timezone.now()
    iat = int(now.timestamp())
    lifetime = max(int(settings.VISA_LIFETIME_SECONDS), 1)
    header = {"typ": "JWT", "kid": key.kid, "jku": jwks_url()}
    visas, issued = [], []
    for grant in usable_processing_grants(user, now):
        exp = min(iat + lifetime, int(grant_last_instant(grant).timestamp()))
        if exp <= iat:
            continue  # the grant's last second has come: nothing left to assert
        jti = str(uuid.uuid4())
        claims = {
            "iss": settings.SITE_URL,
            "sub": visa_subject(user),
            "iat": iat,
            "exp": exp,
            "jti": jti,
            "ga4gh_visa_v1": {
                "type": VISA_TYPE,
                "asserted": int(grant.issued_at.timestamp()),
                "value": dataset_iri(grant.dataset),
                "source": settings.SITE_URL,
                "by": VISA_BY,
            },
        }
        visas.append(jwt.encode(claims, key.private_key, algorithm=key.algorithm, headers=header))
        issued.append({"grant": grant.pk, "dataset": grant.dataset.identifier, "jti": jti, "exp": exp})
    if issued:
        with transaction.atomic():
            audit_record(
                actor=user,
                verb="visa.issue",
                target=user,
                payload={
                    "grants": [v["grant"] for v in issued],
                    "exp": min(v["exp"] for v in issued),
                    "visas": issued,
                    "kid": key.kid,
                },
            )
    return visas


def visa_dev_key_create(path: Path, *, overwrite: bool = False) -> Path:
    """Write a development visa signing key (EC P-256, PEM, readable by the owner only)."""
    from cryptography.hazmat.primitives.asymmetric import ec

    return private_key_write(
        path, ec.generate_private_key(ec.SECP256R1()), overwrite=overwrite, what="visa signing key"
    )
