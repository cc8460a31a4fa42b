"""The audit chain: one function writes events, one walks and checks them."""

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.utils import timezone

from portal.models import AuditChainHead, AuditEvent

GENESIS_HASH = "0" * 64


def _canonical(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, cls=DjangoJSONEncoder)


def event_hash(
    *,
    seq: int,
    created_at,
    actor_id,
    actor_label: str,
    verb: str,
    target_type: str,
    target_id: str,
    target_label: str,
    payload,
    prev_hash: str,
) -> str:
    body = _canonical(
        {
            "seq": seq,
            "created_at": created_at.isoformat(),
            "actor_id": actor_id,
            "actor_label": actor_label,
            "verb": verb,
            "target_type": target_type,
            "target_id": target_id,
            "target_label": target_label,
            "payload": payload,
            "prev_hash": prev_hash,
        }
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _hash_of(event: AuditEvent) -> str:
    return event_hash(
        seq=event.seq,
        created_at=event.created_at,
        actor_id=event.actor_id,
        actor_label=event.actor_label,
        verb=event.verb,
        target_type=event.target_type,
        target_id=event.target_id,
        target_label=event.target_label,
        payload=event.payload,
        prev_hash=event.prev_hash,
    )


def audit_record(*, actor, verb: str, target: models.Model | None = None, payload: dict | None = None) -> AuditEvent:
    """Append one event to the chain, inside the caller's transaction.

    The chain head row is locked for the rest of the transaction, so events are written
    one after the other with gapless sequence numbers; if the caller's transaction rolls
    back, the event goes with it.
    """
    with transaction.atomic():
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(id=1)
        # A JSON round trip fixes the payload to what the database will give back.
        clean_payload = json.loads(_canonical(payload or {}))
        actor_obj = actor if getattr(actor, "is_authenticated", False) else None
        fields = {
            "seq": head.seq + 1,
            "created_at": timezone.now(),
            "actor_id": actor_obj.pk if actor_obj else None,
            "actor_label": actor_obj.email if actor_obj else (actor if isinstance(actor, str) else "system"),
            "verb": verb,
            "target_type": target._meta.label_lower if target is not None else "",
            "target_id": str(target.pk) if target is not None else "",
            "target_label": str(target)[:300] if target is not None else "",
            "payload": clean_payload,
            "prev_hash": head.hash,
        }
        event = AuditEvent(**fields, hash=event_hash(**fields))
        event.save()
        head.seq = event.seq
        head.hash = event.hash
        head.updated_at = event.created_at
        head.save(update_fields=["seq", "hash", "updated_at"])
    return event


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    events: int
    first_bad_seq: int | None = None
    reason: str = ""


def _walk(events: Iterator[AuditEvent], head: AuditChainHead | None) -> ChainReport:
    expected_seq = 1
    prev_hash = GENESIS_HASH
    count = 0
    for event in events:
        if event.seq != expected_seq:
            return ChainReport(
                False, count, expected_seq, f"event #{expected_seq} is missing (next found is #{event.seq})"
            )
        if event.prev_hash != prev_hash:
            return ChainReport(False, count, event.seq, f"event #{event.seq} does not follow event #{event.seq - 1}")
        if _hash_of(event) != event.hash:
            return ChainReport(
                False, count, event.seq, f"event #{event.seq} was altered: its content no longer matches its hash"
            )
        prev_hash = event.hash
        expected_seq += 1
        count += 1
    head_seq = head.seq if head else 0
    head_hash = head.hash if head else GENESIS_HASH
    if head_seq != count:
        return ChainReport(
            False,
            count,
            count + 1,
            f"the chain head records {head_seq} events but {count} remain: event #{count + 1} onwards was deleted"
            if head_seq > count
            else f"the chain head records {head_seq} events but {count} exist",
        )
    if head_hash != prev_hash:
        return ChainReport(False, count, count, f"event #{count} does not match the chain head")
    return ChainReport(True, count)


def audit_verify() -> ChainReport:
    """Walk the whole chain in order and report the first event that breaks it."""
    with transaction.atomic():
        head = AuditChainHead.objects.filter(id=1).first()
        events = AuditEvent.objects.order_by("seq").iterator(chunk_size=2000)
        return _walk(events, head)


def audit_events_for(target: models.Model) -> models.QuerySet:
    """Events about one object, oldest first, for timelines."""
    return AuditEvent.objects.filter(target_type=target._meta.label_lower, target_id=str(target.pk)).select_related(
        "actor"
    )
