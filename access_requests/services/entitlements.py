"""Entitlement events pushed to the data holders' processing environments: the outbox's delivery.

`services/grants.py` `entitlement_event_add` writes each event (granted, extended, ended, revoked)
in the transaction of the change; `entitlements_deliver` sends them afterwards (the Celery task
`access_requests.entitlements_deliver`, queued after each commit and run every minute by beat).

- Order per grant: a grant's events go out in `sequence` order; the first one that fails stops the
  grant's delivery, and its later events wait behind it until it is accepted.
- One worker per grant: the grant's row is locked (SELECT ... FOR UPDATE SKIP LOCKED) for the
  delivery, so two workers never send the same event twice nor out of order; a worker that finds
  the grant locked leaves it to the other.
- The request: `POST` of the event's JSON to the holder's `processing_push_url`, with
  `X-Entitlement-Event` (the event's id), `X-Entitlement-Sequence`, `X-Entitlement-Grant`,
  `X-Entitlement-Timestamp` (Unix seconds) and `X-Entitlement-Signature: sha256=<hex>`, the
  HMAC-SHA256 with the holder's `processing_push_secret` of `<timestamp>.<body>` (README: "Entitlement
  events"). A 2xx answer delivers it; any other answer (redirects included), a timeout or a refused
  connection counts an attempt and schedules the next one after 30 s × 2^(attempts-1), at most 6 h.
- Delivery is at least once: an environment that received an event but whose answer was lost gets
  it again, with the same id and sequence, and should ignore what it has already applied.
- A holder with no URL configured: its events wait, pending, until one is set.
- A partner node's holder (a harvested dataset's): the events of its grants, download grants too,
  go to that node instead (`federation.grants.grant_push`: `POST /federation/v1/grants`, signed
  with this node's key, RFC 9421), which enforces the grant where the data live.
"""

import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from access_requests.models import DeliveryStatus, EntitlementEvent, Grant

logger = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS = 30
BACKOFF_MAX_SECONDS = 6 * 3600
SIGNATURE_HEADER = "X-Entitlement-Signature"
TIMESTAMP_HEADER = "X-Entitlement-Timestamp"
NO_URL = "The data holder has no processing environment address configured: the event waits until one is set."


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt: 30 s, 1 min, 2 min, ... at most 6 h."""
    return timedelta(seconds=min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_MAX_SECONDS))


def event_body(event: EntitlementEvent) -> bytes:
    """The JSON sent: the event's payload with its id, as compact UTF-8 (the bytes that are signed)."""
    return json.dumps({**event.payload, "id": event.pk}, sort_keys=True, separators=(",", ":")).encode()


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>`: HMAC-SHA256 with the holder's secret of `<timestamp>.<body>`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer like any other non-2xx: the event is not delivered (never re-POSTed elsewhere)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[bool, str]:
    """(delivered, what went wrong) for one POST."""
    if urlsplit(url).scheme not in ("http", "https"):
        return False, f"Not an http(s) address: {url}"
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310  scheme checked above
    try:
        with _opener.open(request, timeout=settings.ENTITLEMENT_PUSH_TIMEOUT_SECONDS) as response:  # nosec B310
            status = response.status
            if 200 <= status < 300:
                return True, ""
            return False, f"HTTP {status}"
    except urllib.error.HTTPError as exc:
        try:
            text = exc.read(300).decode("utf-8", "replace").strip()
        except Exception:  # noqa: BLE001  the answer's body is only a hint for the RDO
            text = ""
        finally:
            exc.close()
        return False, f"HTTP {exc.code}" + (f": {text}" if text else "")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return False, f"{type(exc).__name__}: {reason}"[:500]


def _deliver_one(event: EntitlementEvent, holder, now: datetime) -> bool:
    body = event_body(event)
    if holder.node_id is not None:
        from federation.grants import grant_push

        delivered, error = grant_push(holder.node, body)
    else:
        timestamp = str(int(now.timestamp()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "imaging-data-access-portal/entitlements",
            "X-Entitlement-Event": str(event.pk),
            "X-Entitlement-Sequence": str(event.sequence),
            "X-Entitlement-Grant": str(event.payload.get("grant", event.grant_id)),
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: signature(holder.processing_push_secret, timestamp, body),
        }
        delivered, error = _post(holder.processing_push_url, body, headers)
    event.attempts += 1
    if delivered:
        event.status = DeliveryStatus.DELIVERED
        event.delivered_at = now
        event.last_error = ""
        event.next_attempt_at = None
    else:
        event.last_error = error
        event.next_attempt_at = now + backoff(event.attempts)
        logger.warning("entitlement event %s of grant %s not delivered: %s", event.pk, event.grant_id, error)
    event.save(update_fields=["status", "attempts", "delivered_at", "last_error", "next_attempt_at"])
    return delivered


def _deliver_line(lock, events, now: datetime, counts: dict) -> None:
    """One grant's due events, in order, under the grant's row lock (`lock`: the grant's row, issued
    here or received from a partner); stops at the first failure."""
    with transaction.atomic():
        if not list(lock.select_for_update(skip_locked=True).values_list("pk", flat=True)):
            counts["busy"] += 1  # another worker is delivering this grant's events
            return
        pending = list(events.filter(status=DeliveryStatus.PENDING).select_related("holder__node").order_by("sequence"))
        for event in pending:
            if event.next_attempt_at is not None and event.next_attempt_at > now:
                counts["waiting"] += 1  # the head of the line is backing off: the rest wait behind it
                return
            holder = event.holder
            if not holder.processing_push_url and holder.node_id is None:
                if event.last_error != NO_URL:
                    event.last_error = NO_URL
                    event.save(update_fields=["last_error"])
                counts["not_configured"] += 1
                return
            if not _deliver_one(event, holder, now):
                counts["failed"] += 1
                return
            counts["delivered"] += 1


def entitlements_deliver(
    *, grant_id: int | None = None, received_id: int | None = None, now: datetime | None = None
) -> dict:
    """Deliver the pending events whose time has come (one grant's, or every grant's), in order per
    grant. Safe to run at any time, twice, and in several workers at once. Returns counts:
    `delivered`, `failed` (grants stopped at a failed event), `waiting` (grants backing off),
    `not_configured` (grants whose holder has no address), `busy` (grants another worker holds).
    `received_id` names a partner's grant relayed here (federation/grants.py)."""
    from federation.models import ReceivedGrant

    now = now or timezone.now()
    counts = {"delivered": 0, "failed": 0, "waiting": 0, "not_configured": 0, "busy": 0}
    due = EntitlementEvent.objects.filter(status=DeliveryStatus.PENDING).exclude(next_attempt_at__gt=now)
    if grant_id is not None or received_id is not None:
        due = due.filter(grant_id=grant_id) if grant_id is not None else due.filter(received_id=received_id)
    lines = set(due.values_list("grant_id", "received_id"))
    for pk in sorted(g for g, _ in lines if g is not None):
        _deliver_line(Grant.objects.filter(pk=pk), EntitlementEvent.objects.filter(grant_id=pk), now, counts)
    for pk in sorted(r for _, r in lines if r is not None):
        _deliver_line(ReceivedGrant.objects.filter(pk=pk), EntitlementEvent.objects.filter(received_id=pk), now, counts)
    return counts
