"""The audit chain: one function writes events, one walks and checks them, one anchors the head outside."""

import fcntl
import hashlib
import hmac
import json
import logging
import multiprocessing
import os
import re
from collections import namedtuple
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC
from pathlib import Path

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, connections, models, transaction
from django.db.models import Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from portal.errors import NotPermitted
from portal.models import AuditChainHead, AuditEvent

logger = logging.getLogger(__name__)

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
    """Record one event in the caller's transaction; it joins the chain when the transaction commits.

    The event is held by the connection (`portal/db/backends/audit_buffer.py`) and written by
    `audit_write` immediately before the outermost transaction commits, together with every other
    event that transaction recorded: the chain head is locked last and only for those few
    statements. A rollback discards the event with the change; a savepoint rolled back discards
    the events recorded inside it. Called outside any transaction, it writes the event at once.

    The returned event gets its `seq`, `hash` and `created_at` (the time it joined the chain, so
    the log's times follow its order) when it is written: inside a transaction, read them after
    the commit, or from the table.
    """
    # A JSON round trip fixes the payload to what the database will give back.
    clean_payload = json.loads(_canonical(payload or {}))
    actor_obj = actor if getattr(actor, "is_authenticated", False) else None
    event = AuditEvent(
        actor_id=actor_obj.pk if actor_obj else None,
        actor_label=actor_obj.email if actor_obj else (actor if isinstance(actor, str) else "system"),
        verb=verb,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_label=str(target)[:300] if target is not None else "",
        payload=clean_payload,
    )
    if not hasattr(connection, "audit_pending"):  # a backend without the buffer: write now, head locked till commit
        with transaction.atomic():
            audit_write(connection, [event])
    elif connection.audit_in_transaction():
        connection.audit_pending.append(event)
    else:
        with transaction.atomic():  # autocommit: this block is the transaction, and its commit writes the event
            connection.audit_pending.append(event)
    return event


def _head_for_update(using: str) -> tuple[int, str]:
    heads = AuditChainHead.objects.using(using).select_for_update().filter(id=1).values_list("seq", "hash")
    head = heads.first()
    if head is None:  # the first event ever: make the head row, once, whoever gets there first
        AuditChainHead.objects.using(using).bulk_create([AuditChainHead(id=1)], ignore_conflicts=True)
        head = heads.first()
    return head


def audit_write(connection, events: list[AuditEvent]) -> None:
    """Chain `events` after the head and write them: lock the head, one INSERT, move the head.

    Called by the database backend just before COMMIT (or by `audit_record` on a backend
    without the buffer), so nothing but these statements and the commit run under the lock:
    the head row serialises writers, and sequence numbers stay gapless.
    """
    seq, prev_hash = _head_for_update(connection.alias)
    now = timezone.now()
    for event in events:
        seq += 1
        event.seq, event.created_at, event.prev_hash = seq, now, prev_hash
        event.hash = prev_hash = _hash_of(event)
    AuditEvent.objects.using(connection.alias).bulk_create(events, batch_size=1000)
    AuditChainHead.objects.using(connection.alias).filter(id=1).update(seq=seq, hash=prev_hash, updated_at=now)


@dataclass(frozen=True)
class Anchor:
    """One anchored chain head: a line of the anchor file, `<time> <seq> <hash> <hmac>`."""

    at: str
    seq: int
    hash: str
    mac: str

    @property
    def line(self) -> str:
        return f"{self.at} {self.seq} {self.hash} {self.mac}"


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    events: int
    first_bad_seq: int | None = None
    reason: str = ""
    anchors: int = 0
    latest_anchor: Anchor | None = None


# What the walk reads of each event as plain tuples (and the bench's bulk loader writes, in this
# order): building a model instance per event costs more than hashing it. `_hash_of` and `_walk`
# read the same attribute names from either.
EVENT_FIELDS = (
    "seq",
    "created_at",
    "actor_id",
    "actor_label",
    "verb",
    "target_type",
    "target_id",
    "target_label",
    "payload",
    "prev_hash",
    "hash",
)
_Event = namedtuple("_Event", EVENT_FIELDS)
_CHUNK = 10_000
# The walk is split among processes (`audit_verify(processes=...)`) only from this many events on:
# below, starting them costs more than it saves.
PARALLEL_FROM = 100_000


def _events(first: int | None, last: int) -> Iterator[_Event]:
    """The events from `first` (from the lowest stored, when None) to `last`, in order, through a
    server-side cursor."""
    rows = AuditEvent.objects.filter(seq__lte=last)
    if first is not None:
        rows = rows.filter(seq__gte=first)
    return map(_Event._make, rows.order_by("seq").values_list(*EVENT_FIELDS).iterator(chunk_size=_CHUNK))


def _walk(events: Iterator[AuditEvent], head: AuditChainHead | None, anchored: dict[int, list[Anchor]]) -> ChainReport:
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
        for anchor in anchored.get(event.seq, ()):
            if anchor.hash != event.hash:
                return ChainReport(
                    False,
                    count,
                    event.seq,
                    f"event #{event.seq} has hash {event.hash[:16]}… but the anchor of {anchor.at} recorded "
                    f"{anchor.hash[:16]}…: the chain was rewritten after it was anchored",
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


@contextmanager
def _read_snapshot() -> Iterator[None]:
    """One consistent view of the chain for the whole verification.

    On PostgreSQL, when the verifier owns the transaction, it is REPEATABLE READ and READ
    ONLY: every query sees the same snapshot while writers go on. Inside a caller's
    transaction (or on SQLite, whose read transaction already keeps one snapshot) the
    isolation cannot be changed; `audit_verify` stays correct there because it reads the
    head first and only events up to it, which are committed and never change.
    """
    owns_transaction = not connection.in_atomic_block
    with transaction.atomic():
        if owns_transaction and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def _walk_part(first: int, last: int, prev_hash: str, anchored: dict[int, list[Anchor]]) -> tuple[bool, int, str]:
    """One part of the chain, events `first` to `last`, the first following `prev_hash`: whether every
    event is there, follows the one before, matches its hash and its anchors; how many it walked; the
    last one's hash. (Only whether: a part that fails is walked again whole, for the exact report.)"""
    count = 0
    expected_seq = first
    for event in _events(first, last):
        if (
            event.seq != expected_seq
            or event.prev_hash != prev_hash
            or _hash_of(event) != event.hash
            or any(anchor.hash != event.hash for anchor in anchored.get(event.seq, ()))
        ):
            return False, count, prev_hash
        prev_hash = event.hash
        expected_seq += 1
        count += 1
    return count == last - first + 1, count, prev_hash


def _walk_part_child(pipe, first: int, last: int, prev_hash: str, anchored: dict[int, list[Anchor]]) -> None:
    try:
        pipe.send(_walk_part(first, last, prev_hash, anchored))
    finally:
        connections.close_all()
        pipe.close()


@dataclass(frozen=True)
class WalkPlan:
    """The chain up to its head cut into contiguous parts, with the hash each part's first event must
    follow (the stored hash of the event before it)."""

    head_seq: int
    head_hash: str
    parts: list[tuple[int, int]]
    follows: list[str]

    def holds(self, results: Sequence[tuple[bool, int, str]]) -> bool:
        """Whether every part held (`_walk_part`'s answers, in order) and each one's last hash is the
        one the next part follows, the last part's the head's."""
        ends = [last_hash for _ok, _count, last_hash in results]
        return all(ok for ok, _count, _hash in results) and ends == [*self.follows[1:], self.head_hash]


def walk_plan(processes: int) -> WalkPlan | None:
    """How to walk the chain as `processes` parts at once, or None when it is not worth it or cannot
    be: fewer than PARALLEL_FROM events, inside a transaction (other processes cannot see into it, and
    connections must be closed before a fork), not PostgreSQL, no fork, or an event before a part's
    first missing (the caller then walks the chain whole and reports). Events up to the head are
    committed and never change, so the parts need no common snapshot."""
    if (
        processes < 2
        or connection.in_atomic_block
        or connection.vendor != "postgresql"
        or "fork" not in multiprocessing.get_all_start_methods()
    ):
        return None
    head = AuditChainHead.objects.filter(id=1).values_list("seq", "hash").first()
    if head is None or head[0] < PARALLEL_FROM:
        return None
    head_seq, head_hash = head
    size = -(-head_seq // processes)
    parts = [(first, min(first + size - 1, head_seq)) for first in range(1, head_seq + 1, size)]
    before = dict(AuditEvent.objects.filter(seq__in=[first - 1 for first, _ in parts[1:]]).values_list("seq", "hash"))
    if len(before) != len(parts) - 1:
        return None
    return WalkPlan(head_seq, head_hash, parts, [GENESIS_HASH] + [before[first - 1] for first, _ in parts[1:]])


def _walk_in_processes(processes: int, anchored: dict[int, list[Anchor]]) -> tuple[int, str] | None:
    """Walk the chain up to its head as `walk_plan`'s parts at once (this process walks the first,
    forked children the others, each on its own connection): the head's (seq, hash) when the plan
    holds; None when a part fails or the walk cannot be split (then the caller walks it whole, in
    one snapshot, and reports); the caller checks for surplus events and the newest anchor."""
    plan = walk_plan(processes)
    if plan is None:
        return None
    connections.close_all()  # the children open their own; this process reopens on its next query
    context = multiprocessing.get_context("fork")
    children = []
    for (first, last), prev_hash in zip(plan.parts[1:], plan.follows[1:], strict=True):
        receive, send = context.Pipe(duplex=False)
        child = context.Process(target=_walk_part_child, args=(send, first, last, prev_hash, anchored), daemon=True)
        child.start()
        send.close()
        children.append((child, receive))
    results = [_walk_part(*plan.parts[0], plan.follows[0], anchored)]
    for child, receive in children:
        try:
            results.append(receive.recv())
        except EOFError:  # the child died without an answer
            results.append((False, 0, ""))
        child.join()
    return (plan.head_seq, plan.head_hash) if plan.holds(results) else None


def audit_verify(*, anchors: Sequence[Anchor] = (), processes: int = 1) -> ChainReport:
    """Walk the chain up to its head in order and report the first event that breaks it.

    Safe while events are being written: the head is read first and only the events up to
    it are walked, so an event committed meanwhile is neither missing nor surplus. With
    `anchors` (heads recorded outside the database), each anchored event must still be in
    the chain with the anchored hash, and the head may not be behind the newest anchor: a
    truncated, rolled-back or rewritten chain passes the walk but not this.

    `processes` > 1 splits a long chain's walk among that many processes (outside a transaction,
    on PostgreSQL: see `_walk_in_processes`); when a part fails, the chain is walked again whole,
    so the report is the same as with one.
    """
    anchored: dict[int, list[Anchor]] = {}
    for anchor in anchors:
        anchored.setdefault(anchor.seq, []).append(anchor)
    latest = max(anchors, key=lambda a: (a.seq, a.at), default=None)
    walked = _walk_in_processes(processes, anchored)
    with _read_snapshot():
        if walked is not None:
            head = AuditChainHead(id=1, seq=walked[0], hash=walked[1])
            head_seq = head.seq
            report = ChainReport(True, head_seq)
        else:
            head = AuditChainHead.objects.filter(id=1).first()
            head_seq = head.seq if head else 0
            report = _walk(_events(None, head_seq), head, anchored)
        if not report.ok:
            return replace(report, anchors=len(anchors), latest_anchor=latest)
        # One statement compares with the head as it is now, so a concurrent append is not surplus.
        current_head = AuditChainHead.objects.filter(id=1).values("seq")[:1]
        surplus = (
            AuditEvent.objects.filter(seq__gt=Coalesce(Subquery(current_head), Value(0)))
            .order_by("seq")
            .values_list("seq", flat=True)
            .first()
        )
    if surplus is not None:
        reason = (
            f"the chain head is missing but event #{surplus} exists"
            if head is None
            else f"event #{surplus} lies beyond the chain head (#{head_seq}): it was added without moving the head"
        )
        return ChainReport(False, report.events, surplus, reason, len(anchors), latest)
    if latest is not None and latest.seq > head_seq:
        return ChainReport(
            False,
            report.events,
            head_seq + 1,
            f"anchored event #{latest.seq} is gone: the chain head is at #{head_seq}, behind the anchor of "
            f"{latest.at}; the audit tables were truncated or rolled back",
            len(anchors),
            latest,
        )
    return ChainReport(True, report.events, anchors=len(anchors), latest_anchor=latest)


# --- anchors outside the database -------------------------------------------------------

ANCHOR_MAC_CONTEXT = "portal-audit-anchor/1"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _anchor_key() -> bytes:
    return (settings.AUDIT_ANCHOR_KEY or settings.SECRET_KEY).encode("utf-8")


def anchor_mac(*, at: str, seq: int, hash: str) -> str:
    """HMAC-SHA256 of an anchor's fields with AUDIT_ANCHOR_KEY (SECRET_KEY when unset)."""
    message = f"{ANCHOR_MAC_CONTEXT}\n{at}\n{seq}\n{hash}".encode()
    return hmac.new(_anchor_key(), message, hashlib.sha256).hexdigest()


def anchor_parse(line: str) -> Anchor:
    """Read one anchor line; ValueError when it is malformed or its HMAC does not match."""
    fields = line.split()
    if len(fields) != 4 or not fields[1].isdigit() or not _HEX64.match(fields[2]) or not _HEX64.match(fields[3]):
        raise ValueError("not an anchor line (expected: <time> <sequence> <hash> <hmac>)")
    anchor = Anchor(at=fields[0], seq=int(fields[1]), hash=fields[2], mac=fields[3])
    if not hmac.compare_digest(anchor.mac, anchor_mac(at=anchor.at, seq=anchor.seq, hash=anchor.hash)):
        raise ValueError("its HMAC does not match: the line was edited or signed with another key")
    return anchor


@dataclass(frozen=True)
class AnchorFile:
    anchors: list[Anchor]
    problems: list[str]


def audit_anchors_read(path: str | Path) -> AnchorFile:
    """Every anchor in a file, and a problem for each line that is not a valid anchor."""
    anchors, problems = [], []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                anchors.append(anchor_parse(line))
            except ValueError as exc:
                problems.append(f"line {number}: {exc}")
    return AnchorFile(anchors, problems)


def _last_line(fd: int) -> str:
    size = os.fstat(fd).st_size
    chunk = min(size, 4096)
    if not chunk:
        return ""
    tail = os.pread(fd, chunk, size - chunk).decode("utf-8", errors="replace")
    lines = [line for line in tail.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _anchor_file_append(path: Path, *, seq: int, hash: str) -> tuple[Anchor, bool]:
    """Append an anchor for (seq, hash) unless the file's last line already records it.

    Opened with O_APPEND, so a write can only add to the end; flock serialises two runs;
    fsync makes the line durable before the task reports success.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    created = not path.exists()
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        last = _last_line(fd)
        if last:
            try:
                previous = anchor_parse(last)
            except ValueError:
                previous = None
            if previous and (previous.seq, previous.hash) == (seq, hash):
                return previous, False
            if previous and previous.seq > seq:
                logger.error(
                    "audit anchor: the chain head #%s is behind the last anchor #%s: run manage.py verify_audit",
                    seq,
                    previous.seq,
                )
        at = timezone.now().astimezone(UTC).isoformat(timespec="seconds")
        anchor = Anchor(at=at, seq=seq, hash=hash, mac=anchor_mac(at=at, seq=seq, hash=hash))
        size = os.fstat(fd).st_size
        needs_newline = size > 0 and os.pread(fd, 1, size - 1) != b"\n"
        os.write(fd, (("\n" if needs_newline else "") + anchor.line + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)  # releases the lock
    if created:
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return anchor, True


@dataclass(frozen=True)
class AnchorResult:
    anchor: Anchor
    filed: bool
    mailed: bool


def audit_anchor_write(*, actor: str) -> AnchorResult | None:
    """Record the chain head outside the database: a line in AUDIT_ANCHOR_FILE, an e-mail to AUDIT_ANCHOR_EMAIL.

    Run by the periodic task. Safe to run twice: with no new event since the last anchor it
    writes no line and queues no e-mail. The anchor is not itself an audit event: recording
    it would move the head it has just anchored. Returns None when the chain is empty.
    """
    if not isinstance(actor, str) or not actor.startswith("system"):
        raise NotPermitted("Only the portal's scheduler anchors the audit chain.")
    from portal.models import OutboxEmail
    from portal.services.notifications import notification_queue

    anchor_file = str(settings.AUDIT_ANCHOR_FILE or "")
    recipients = list(settings.AUDIT_ANCHOR_EMAIL or [])
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:  # one anchoring run at a time, without holding the head's lock
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext('portal.audit_anchor'))")
        head = AuditChainHead.objects.filter(id=1).values("seq", "hash").first()
        if not head or not head["seq"]:
            return None
        if anchor_file:
            anchor, filed = _anchor_file_append(Path(anchor_file), seq=head["seq"], hash=head["hash"])
        else:
            at = timezone.now().astimezone(UTC).isoformat(timespec="seconds")
            anchor = Anchor(at, head["seq"], head["hash"], anchor_mac(at=at, seq=head["seq"], hash=head["hash"]))
            filed = False
        mailed = False
        key = f" {anchor.seq} {anchor.hash} "
        if recipients and not OutboxEmail.objects.filter(template="audit_anchor", body_text__contains=key).exists():
            notification_queue(
                to=recipients, template="audit_anchor", context={"anchor": anchor, "anchor_file": anchor_file}
            )
            mailed = True
    return AnchorResult(anchor, filed, mailed)


def audit_events_for(target: models.Model) -> models.QuerySet:
    """Events about one object, oldest first, for timelines."""
    return AuditEvent.objects.filter(target_type=target._meta.label_lower, target_id=str(target.pk)).select_related(
        "actor"
    )
