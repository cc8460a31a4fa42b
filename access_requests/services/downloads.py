"""Serving a dataset file through a grant's signed link: the only place dataset bytes leave.

Every request, in this order (each refusal is a `GrantRefused` answered as JSON with its status
and audited as `download.refuse`, even though nothing else is written):

1. the link: `link_read` (changed in any character 403 `tampered`, older than DOWNLOAD_LINK_SECONDS
   410 `link_expired`), and it must have been made for the caller (403 `not_link_owner`);
2. the grant and the file, loaded afresh, through `download_permit` (invariant 1: revoked or
   expired 410, processing only 403, a file outside the grant 404, ...), so a revocation or an
   expiry stops a link issued before it on its very next request (invariant 3);
3. the file's real path (every symbolic link resolved) must lie inside its holder's storage area,
   and nowhere near the documents root or another holder's area (catalogue/storage.py), else 404;
4. one transaction records the `Download` row and the `download.serve` audit event, before the
   first byte goes;
5. the bytes: in `django` mode a FileResponse over a window of the open file, which gunicorn sends
   with sendfile from the window's start for Content-Length bytes (gunicorn/http/wsgi.py
   `Response.sendfile` takes the descriptor's current offset and the response length): constant
   memory, never read into Python. In `nginx` mode an empty answer with `X-Accel-Redirect` to the
   internal location (deploy/nginx/portal.conf) and nginx sends the file, Range included.

HTTP Range (RFC 9110 section 14): one range `a-b`, `a-` or `-n` answers 206 with Content-Range; an
unsatisfiable one 416 with `Content-Range: bytes */size`; several ranges, a unit other than bytes
or a malformed header are ignored and the whole file is sent (the RFC allows it). If-Range with
the ETag (the file's SHA-256) or the Last-Modified date keeps the range only while it still
names the same file.
"""

import base64
import ipaddress
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.http import FileResponse, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.http import content_disposition_header, http_date, parse_http_date_safe

from access_requests.models import Download, Grant
from access_requests.services.grants import GrantRefused, download_permit, link_read, portal_today
from catalogue.models import DatasetFile
from catalogue.storage import Confinement, real_path
from portal.ratelimit import client_ip
from portal.services.audit import audit_record

logger = logging.getLogger(__name__)

BLOCK_SIZE = 512 * 1024  # only when the server cannot sendfile (TLS inside gunicorn, the test client)
REFUSALS_AUDITED_PER_MINUTE = 60  # per caller: a script replaying a bad link cannot grow the chain without end
USER_AGENT_LENGTH = 500


# --- ranges ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """What a request gets: the whole file (200), bytes `start`..`end` inclusive (206), or 416."""

    status: int
    start: int | None = None
    end: int | None = None

    @property
    def length(self) -> int:
        return 0 if self.start is None else self.end - self.start + 1


_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


def range_answer(header: str | None, size: int) -> Answer:
    """The answer to a `Range` header for a representation of `size` bytes (RFC 9110 14.1.2)."""
    whole = Answer(200)
    if not header:
        return whole
    if "," in header:
        return whole  # several ranges: the whole file, which the RFC allows instead of multipart
    match = _RANGE.match(header)
    if not match or not (match[1] or match[2]):
        return whole  # another unit, or not a range at all: ignored
    first, last = match[1], match[2]
    if not first:  # suffix: the last n bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            return Answer(416)
        return Answer(206, max(size - suffix, 0), size - 1)
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return whole  # invalid: ignored
    if start >= size:
        return Answer(416)
    return Answer(206, start, min(end, size - 1))


@dataclass(frozen=True)
class Validators:
    etag: str  # quoted
    last_modified: int  # seconds since the epoch


def if_range_holds(header: str | None, validators: Validators) -> bool:
    """Whether an `If-Range` lets the range stand: absent, the same strong ETag, or exactly the
    Last-Modified date. A weak ETag never matches (RFC 9110 13.1.5)."""
    if header is None:
        return True
    value = header.strip()
    if value.startswith('"'):
        return value == validators.etag
    if value.startswith("W/"):
        return False
    when = parse_http_date_safe(value)
    return when is not None and when == validators.last_modified


def nginx_etag(stat: os.stat_result) -> str:
    """The ETag nginx's static module gives a file (hex mtime, hex size), which it compares an
    If-Range with in `nginx` mode."""
    return f'"{int(stat.st_mtime):x}-{stat.st_size:x}"'


# --- the file -------------------------------------------------------------------------------------


def located(file: DatasetFile) -> tuple[Path, str]:
    """The real path of a registered file and the path nginx is given (the holder's area, then the
    rest resolved), or GrantRefused 404 when it leaves the holder's storage area or is no regular file."""
    holder = file.dataset.holder
    confinement = Confinement.of(holder)
    stored = Path(file.path)
    if stored.is_absolute() or ".." in stored.parts or "\x00" in file.path or confinement.area_problem():
        raise GrantRefused(404, "path_outside_storage", "This file is not available from the data holder's storage.")
    real = real_path(Path(settings.DATASET_STORAGE_ROOT) / stored)
    if confinement.where(real) is not None or real == confinement.area:
        raise GrantRefused(404, "path_outside_storage", "This file is not available from the data holder's storage.")
    if not real.is_file():
        raise GrantRefused(404, "file_missing", "This file is missing from the data holder's storage.")
    return real, f"{holder.storage_area}/{real.relative_to(confinement.area).as_posix()}"


class _Window:
    """The bytes `length` from the open file's current offset, for FileResponse: `read` stops at the
    window's end (the fallback when the server cannot sendfile), `fileno` lets gunicorn sendfile it
    from that offset for Content-Length bytes."""

    def __init__(self, handle, length: int):
        self._handle, self._left = handle, length

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        size = self._left if size is None or size < 0 else min(size, self._left)
        data = self._handle.read(size)
        self._left -= len(data)
        return data

    def fileno(self) -> int:
        return self._handle.fileno()

    def close(self) -> None:
        self._handle.close()


def _open(real: Path):
    """The file, opened without following a link put in place since it was resolved."""
    descriptor = os.open(real, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    handle = os.fdopen(descriptor, "rb", buffering=0)
    if not os.path.samestat(os.fstat(descriptor), os.stat(real)):
        handle.close()
        raise GrantRefused(404, "file_missing", "This file is missing from the data holder's storage.")
    return handle


# --- recording ------------------------------------------------------------------------------------


def _refusal_audit(request, refused: GrantRefused, *, link=None, grant=None, file=None) -> None:
    user = request.user
    key = f"download-refused:{user.pk}"
    try:
        cache.add(key, 0, 60)
        over = cache.incr(key) > REFUSALS_AUDITED_PER_MINUTE
    except Exception:  # noqa: BLE001  the cache being down must not turn a refusal into a 500: record it
        logger.warning("download refusal budget unavailable", exc_info=True)
        over = False
    if over:
        logger.warning("download refused (%s) for user %s, not recorded: over budget", refused.code, user.pk)
        return
    payload = {
        "code": refused.code,
        "status": refused.status,
        "user": user.pk,
        "grant": grant.pk if grant else (link.grant_id if link else None),
        "file": file.pk if file else (link.file_id if link else None),
        "ip": client_address(request),
    }
    if link is not None and link.user_id != user.pk:
        payload["link_user"] = link.user_id
    with transaction.atomic():
        audit_record(actor=user, verb="download.refuse", target=grant.application if grant else None, payload=payload)


def refusal_response(refused: GrantRefused) -> JsonResponse:
    response = JsonResponse({"detail": refused.message, "code": refused.code}, status=refused.status)
    response["Cache-Control"] = "private, no-store"
    return response


def client_address(request) -> str | None:
    """The caller's address for the record, or None when what the proxies said is no address."""
    try:
        return str(ipaddress.ip_address((client_ip(request) or "").strip()))
    except ValueError:
        return None


def _record(request, *, grant: Grant, file: DatasetFile, answer: Answer, bytes_sent: int, mode: str) -> Download:
    """The Download row and its audit event, in one transaction, before any byte is sent."""
    ip = client_address(request)
    with transaction.atomic():
        download = Download.objects.create(
            grant=grant,
            user=request.user,
            file=file,
            started_at=timezone.now(),
            range_start=answer.start,
            range_end=answer.end,
            bytes_sent=bytes_sent,
            status_code=answer.status,
            mode=mode,
            ip=ip,
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_LENGTH],
        )
        audit_record(
            actor=request.user,
            verb="download.serve",
            target=grant.application,
            payload={
                "download": download.pk,
                "grant": grant.pk,
                "dataset": grant.dataset.identifier,
                "file": file.pk,
                "path": file.path,
                "sha256": file.sha256,
                "range": None if answer.start is None else [answer.start, answer.end],
                "bytes": bytes_sent,
                "status": answer.status,
                "mode": mode,
                "ip": ip,
            },
        )
    return download


# --- the answer -----------------------------------------------------------------------------------


def _common_headers(response, file: DatasetFile, *, mode: str) -> None:
    response["Content-Disposition"] = content_disposition_header(True, os.path.basename(file.path))
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["Repr-Digest"] = f"sha-256=:{base64.b64encode(bytes.fromhex(file.sha256)).decode()}:"
    response["X-Content-SHA256"] = file.sha256
    if mode == "django":
        response["Accept-Ranges"] = "bytes"


def _unsatisfiable(size: int) -> JsonResponse:
    response = JsonResponse(
        {"detail": f"The range asked for lies outside the file ({size} bytes).", "code": "range_not_satisfiable"},
        status=416,
    )
    response["Content-Range"] = f"bytes */{size}"
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private, no-store"
    return response


def _permitted(request, token: str):
    """The link's grant and file, once the link and invariant 1 allow them; GrantRefused otherwise."""
    link = grant = file = None
    try:
        link = link_read(token)
        if link.user_id != request.user.pk:
            raise GrantRefused(403, "not_link_owner", "This download link was made for someone else: ask for your own.")
        grant = Grant.objects.select_related("dataset", "application").filter(pk=link.grant_id).first()
        file = DatasetFile.all_registrations.select_related("dataset__holder").filter(pk=link.file_id).first()
        if grant is None:
            raise GrantRefused(404, "no_such_grant", "No such grant.")
        download_permit(grant, request.user, file, today=portal_today())
        real, accel = located(file)
        return grant, file, real, accel
    except GrantRefused as refused:
        _refusal_audit(request, refused, link=link, grant=grant, file=file)
        raise


def download_response(request, token: str):
    """The answer to a download link: the file (or the range asked for), or the JSON refusal."""
    try:
        grant, file, real, accel = _permitted(request, token)
    except GrantRefused as refused:
        return refusal_response(refused)

    def record(answer: Answer, bytes_sent: int, mode: str) -> None:
        _record(request, grant=grant, file=file, answer=answer, bytes_sent=bytes_sent, mode=mode)

    def refuse(refused: GrantRefused):
        _refusal_audit(request, refused, grant=grant, file=file)
        return refusal_response(refused)

    return file_serve(request, file, real, accel, record=record, refuse=refuse)


def file_serve(request, file: DatasetFile, real: Path, accel: str, *, record, refuse):
    """A permitted file's bytes (or the range asked for), in the configured mode: `record(answer,
    bytes_sent, mode)` writes what is sent before the first byte goes; `refuse(GrantRefused)` answers
    what went wrong after the permission (the file gone or changed since it was resolved)."""
    try:
        if settings.PROTECTED_SERVE_MODE == "nginx":
            return _accel_response(request, file, real, accel, record)
        handle = _open(real)
    except OSError:  # gone since it was resolved
        return refuse(GrantRefused(404, "file_missing", "This file is missing from the data holder's storage."))
    except GrantRefused as refused:
        return refuse(refused)
    try:
        return _file_response(request, file, handle, record)
    except GrantRefused as refused:
        handle.close()
        return refuse(refused)
    except BaseException:
        handle.close()
        raise


def _answer(request, size: int, validators: Validators) -> Answer:
    answer = range_answer(request.META.get("HTTP_RANGE"), size)
    if answer.status != 200 and not if_range_holds(request.META.get("HTTP_IF_RANGE"), validators):
        return Answer(200)  # the file changed since the first part: the whole of it
    return answer


def _accel_response(request, file: DatasetFile, real: Path, accel: str, record) -> HttpResponse:
    """nginx mode: recorded here as nginx will answer (its own ETag for If-Range), sent by nginx."""
    stat = os.stat(real)
    answer = _answer(request, stat.st_size, Validators(nginx_etag(stat), int(stat.st_mtime)))
    length = {200: stat.st_size, 206: answer.length, 416: 0}[answer.status]
    sent = 0 if request.method == "HEAD" else length
    record(answer, sent, "nginx")
    # nginx answers Range, If-Range and 416 itself from the client's headers; it keeps Content-Type,
    # Content-Disposition and Cache-Control of this answer, and the internal location adds nosniff
    # and passes Repr-Digest on (deploy/nginx/portal.conf).
    response = HttpResponse(content_type=file.media_type)
    response["X-Accel-Redirect"] = settings.PROTECTED_ACCEL_PREFIX.rstrip("/") + "/datasets/" + quote(accel)
    _common_headers(response, file, mode="nginx")
    return response


def _file_response(request, file: DatasetFile, handle, record):
    """django mode: the open file's window as a FileResponse (sendfile under gunicorn). Closes
    `handle` itself unless it hands it to the response."""
    stat = os.fstat(handle.fileno())
    size = stat.st_size
    if size != file.size_bytes:
        raise GrantRefused(
            404, "file_changed", "This file on the data holder's storage no longer matches its registration."
        )
    validators = Validators(f'"{file.sha256}"', int(stat.st_mtime))
    answer = _answer(request, size, validators)
    length = {200: size, 206: answer.length, 416: 0}[answer.status]
    head = request.method == "HEAD"
    record(answer, 0 if head else length, "django")
    if answer.status == 416:
        handle.close()
        return _unsatisfiable(size)
    if head:
        handle.close()
        response = HttpResponse(content_type=file.media_type, status=answer.status)
    else:
        handle.seek(answer.start or 0)
        response = FileResponse(_Window(handle, length), content_type=file.media_type, status=answer.status)
        response.block_size = BLOCK_SIZE
    response["Content-Length"] = str(length)
    if answer.status == 206:
        response["Content-Range"] = f"bytes {answer.start}-{answer.end}/{size}"
    response["ETag"] = validators.etag
    response["Last-Modified"] = http_date(validators.last_modified)
    _common_headers(response, file, mode="django")
    return response
