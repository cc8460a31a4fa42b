"""Personal API tokens: created and revoked by their owner, stored only as a hash."""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from portal.errors import InvalidInput, NotPermitted
from portal.models import ApiToken, User
from portal.services.audit import audit_record

TOKEN_PREFIX = "dap"  # noqa: S105  # nosec B105  # a public marker, not a secret


def token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def api_token_create(*, actor: User, name: str, days: int) -> tuple[ApiToken, str]:
    """Create a token for `actor` and return it with its secret, which is never stored.

    Names are unique among a user's live tokens; validity is 1 to API_TOKEN_MAX_DAYS days.
    """
    name = name.strip()
    if not name:
        raise InvalidInput("Give the token a name.", fields={"name": ["This field is required."]})
    if not 1 <= days <= settings.API_TOKEN_MAX_DAYS:
        raise InvalidInput(
            f"A token lasts 1 to {settings.API_TOKEN_MAX_DAYS} days.", fields={"days": ["Out of range."]}
        )
    with transaction.atomic():
        if ApiToken.objects.filter(user=actor, name=name, revoked_at__isnull=True).exists():
            raise InvalidInput(
                f"You already have a token named {name!r}.", fields={"name": ["A live token has this name."]}
            )
        prefix = secrets.token_hex(4)
        raw = f"{TOKEN_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
        now = timezone.now()
        token = ApiToken.objects.create(
            user=actor,
            name=name,
            prefix=prefix,
            digest=token_digest(raw),
            created_at=now,
            expires_at=now + timedelta(days=days),
        )
        audit_record(actor=actor, verb="api_token.create", target=token, payload={"name": name, "days": days})
    return token, raw


def api_token_revoke(*, actor: User, token: ApiToken) -> ApiToken:
    """Revoke a token at once. Only its owner may; revoking twice is a quiet no-op."""
    if token.user_id != actor.pk:
        raise NotPermitted("Only the owner of a token can revoke it.")
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().get(pk=token.pk)
        if token.revoked_at is not None:
            return token
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(actor=actor, verb="api_token.revoke", target=token, payload={"name": token.name})
    return token


def api_token_authenticate(raw: str) -> ApiToken | None:
    """The live token matching `raw`, or None. Records when it was last used (at most once a minute)."""
    if not raw.startswith(f"{TOKEN_PREFIX}_"):
        return None
    token = ApiToken.objects.select_related("user").filter(digest=token_digest(raw)).first()
    if token is None or not token.is_active or not token.user.is_active:
        return None
    if token.user.email_verified_at is None:  # an unproved address gives no access, token or not
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token
