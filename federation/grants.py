"""Grants across nodes: a researcher applies at one node (a hub) for a partner's dataset, the hub's
committee decides and its agreement is executed there, and the data holder's node enforces the
grant where the data live.

At the hub:
- the grant is issued like any other (access_requests/services/grants.py); its events (granted,
  extended, ended, revoked), download grants' too, go through the entitlement outbox
  (access_requests/services/entitlements.py) to the holder's node: `grant_push`, a `POST
  /federation/v1/grants` signed with this node's key (RFC 9421), retried with backoff, in order;
- a grantee of a download grant asks the hub for links (`links_request`): the hub checks the grant
  as it checks its own (invariant 1), then asks the holder's node, in a signed request naming the
  grantee, for short-lived links to the files.

At the holder's node:
- `grant_receive` applies each event once and in the partner's order, only from a partner this
  node has agreed to honour (`Node.honours_grants`), and only for its own published datasets and
  the access modes they offer; audited `federation.grant_receive`. A processing grant's events are
  relayed to the holder's processing environment through the entitlement outbox, as this node's
  own grants' are (with the partner as `issuer`);
- `links_issue` makes one link per releasable file for a grantee the grant names, while the grant is
  in its days and not ended; `received_file_response` serves a link: everything is checked again at
  every request, the download recorded (`ReceivedDownload`) and audited `federation.file_download`
  before the first byte. A link is a capability for DOWNLOAD_LINK_SECONDS, bound to the grant, the
  grantee and the file; the grantee needs no account here, the hub vouched for them.
"""

import json
import logging
from dataclasses import dataclass
from datetime import date, datetime

import requests
from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from access_requests.selectors_grants import grant_files
from access_requests.services.grants import (
    DOWNLOAD_MODE,
    GrantRefused,
    download_usable,
    file_relative_path,
    file_releasable,
    link_expires_at,
    period_usable,
    portal_today,
)
from federation.models import Node, ReceivedDownload, ReceivedGrant
from federation.signatures import signed

logger = logging.getLogger(__name__)

GRANTS_PATH = "/federation/v1/grants"
LINK_SALT = "federation.received-download-link"


# --- at the hub ------------------------------------------------------------------------------------


def _send(node: Node, path: str, body: bytes, timeout: float) -> requests.Response:
    prepared = signed("POST", f"{node.base_url}{path}", json_body=body)
    with requests.Session() as session:
        return session.send(prepared, timeout=timeout, allow_redirects=False)


def _detail(response: requests.Response) -> str:
    try:
        data = response.json()
        return str(data.get("detail") or data)[:300]
    except ValueError:
        return response.text[:300].strip()


def grant_push(node: Node, body: bytes) -> tuple[bool, str]:
    """Deliver one entitlement event to the data holder's node: (delivered, what went wrong)."""
    if not node.active:
        return False, f"{node.name} is suspended here: the event waits until it is resumed."
    try:
        response = _send(node, GRANTS_PATH, body, settings.ENTITLEMENT_PUSH_TIMEOUT_SECONDS)
    except requests.RequestException as exc:
        return False, f"{type(exc).__name__}: {exc}"[:500]
    if 200 <= response.status_code < 300:
        return True, ""
    return False, f"HTTP {response.status_code}: {_detail(response)}"


@dataclass
class RemoteLinks:
    node: str
    expires_at: datetime
    files: list


def links_request(grant, user) -> RemoteLinks:
    """Links to the files of `grant` (a download grant of a partner's dataset) for `user`, from the
    holder's node. GrantRefused when the grant does not allow it here (the hub's own check) or when
    the node refuses, cannot be reached or answers nonsense (502)."""
    download_usable(grant, user, today=portal_today())
    node = grant.dataset.holder.node
    if node is None:
        raise GrantRefused(
            409, "not_remote", f"{grant.dataset.identifier} is held here: ask for its files' links here (files/)."
        )
    if not node.active:
        raise GrantRefused(503, "node_suspended", f"{node.name} is suspended here: no links can be asked for.")
    body = json.dumps({"grantee": str(user.pk)}).encode()
    try:
        response = _send(node, f"{GRANTS_PATH}/{grant.pk}/links", body, settings.FEDERATION_TIMEOUT)
    except requests.RequestException as exc:
        logger.warning("links of grant %s not given by %s: %s", grant.pk, node.name, exc)
        raise GrantRefused(
            502, "node_unreachable", f"{node.name}, which holds the files, did not answer: try again later."
        ) from None
    if response.status_code != 200:
        raise GrantRefused(
            502 if response.status_code >= 500 else response.status_code,
            "node_refused",
            f"{node.name}, which holds the files, refused: {_detail(response)}",
        )
    try:
        data = response.json()
        files = [
            {
                "path": str(f["path"]),
                "size_bytes": int(f["size_bytes"]),
                "sha256": str(f["sha256"]),
                "url": str(f["url"]),
            }
            for f in data["files"]
        ]
        if not all(f["url"].startswith(node.base_url + "/") for f in files):
            raise ValueError("a link outside the node")
        expires_at = parse_datetime(str(data["expires_at"]))
        if expires_at is None:
            raise ValueError("no expiry")
        return RemoteLinks(node=node.name, expires_at=expires_at, files=files)
    except (ValueError, KeyError, TypeError) as exc:
        logger.warning("links of grant %s from %s unreadable: %s", grant.pk, node.name, exc)
        raise GrantRefused(502, "node_answer_unreadable", f"{node.name} answered something unreadable.") from None


# --- at the holder's node --------------------------------------------------------------------------


def _offered(dataset) -> set[str]:
    return set(dataset.access_modes.values_list("code", flat=True))


def _local_dataset(identifier: str):
    from catalogue.models import Dataset

    dataset = Dataset.objects.filter(identifier=identifier, holder__node__isnull=True).first()
    if dataset is None:
        raise GrantRefused(404, "no_such_dataset", f"No dataset {identifier} is held at this node.")
    return dataset


def _check_new(node: Node, event: dict, dataset) -> None:
    from catalogue.models import DatasetStatus

    if event["event"] != "granted":
        raise GrantRefused(409, "out_of_order", f"Grant {event['grant']} of {node.name} is unknown here.")
    if dataset.status != DatasetStatus.PUBLISHED:
        raise GrantRefused(409, "dataset_not_published", f"{dataset.identifier} is not published here.")
    offered = _offered(dataset)
    if event["access_mode"] not in offered:
        raise GrantRefused(
            409, "mode_not_offered", f"{dataset.identifier} is not offered with access mode {event['access_mode']}."
        )
    if event["kind"] == "download" and DOWNLOAD_MODE not in offered:
        raise GrantRefused(409, "mode_not_offered", f"{dataset.identifier} is not offered for download.")


def grant_receive(*, node: Node, event: dict, now: datetime | None = None) -> tuple[ReceivedGrant, bool]:
    """Apply one event of a partner's grant (validated by the API's serializer): (the grant, whether
    it changed anything). An event already applied changes nothing; one that skips ahead is refused
    (409) so the partner sends the missing one first. GrantRefused says why it is refused."""
    now = now or timezone.now()
    if not node.honours_grants:
        raise GrantRefused(
            403,
            "grants_not_honoured",
            f"This node does not enforce grants issued by {node.name}: its administrators have not agreed to.",
        )
    with transaction.atomic():
        grant = ReceivedGrant.objects.select_for_update().filter(node=node, remote_grant=event["grant"]).first()
        applied = grant.last_sequence if grant else 0
        if event["sequence"] <= applied:
            return grant, False
        if event["sequence"] != applied + 1:
            raise GrantRefused(
                409,
                "out_of_order",
                f"Event {event['sequence']} of grant {event['grant']} came before event {applied + 1}.",
            )
        dataset = _local_dataset(event["dataset"])
        if grant is None:
            _check_new(node, event, dataset)
            grant = ReceivedGrant(node=node, remote_grant=event["grant"], dataset=dataset, received_at=now)
        elif grant.dataset_id != dataset.pk:
            raise GrantRefused(409, "dataset_changed", f"Grant {event['grant']} was for another dataset.")
        if event["valid_from"] > event["valid_until"]:
            raise GrantRefused(400, "period_reversed", "The grant's last day comes before its first.")
        grant.kind = event["kind"]
        grant.access_mode = event["access_mode"]
        grant.application_reference = event["application"]
        grant.status = event["status"]
        grant.valid_from, grant.valid_until = event["valid_from"], event["valid_until"]
        grant.grantees = [
            {"sub": str(g["sub"]), "email": g["email"], "name": g.get("name", "")} for g in event["grantees"]
        ]
        grant.last_sequence = event["sequence"]
        grant.updated_at = now
        grant.save()
        if grant.kind == "processing":
            _relay(grant, event, now)
        from portal.services.audit import audit_record

        audit_record(
            actor=f"node:{node.name}",
            verb="federation.grant_receive",
            target=dataset,
            payload={
                "node": node.name,
                "grant": event["grant"],
                "received": grant.pk,
                "event": event["event"],
                "sequence": event["sequence"],
                "application": event["application"],
                "kind": grant.kind,
                "status": grant.status,
                "valid_from": grant.valid_from.isoformat(),
                "valid_until": grant.valid_until.isoformat(),
                "grantees": sorted(g["email"] for g in grant.grantees),
            },
        )
    return grant, True


def _relay(grant: ReceivedGrant, event: dict, now: datetime) -> None:
    """In the receiving transaction: the event, for the holder's processing environment, through the
    entitlement outbox (access_requests/services/entitlements.py), as this node's own processing
    grants' are. The environment knows the grant by its issuer and number there, and its grantees by
    the `sub` of the issuer's GA4GH visas."""
    from access_requests.models import EntitlementEvent

    payload = {
        "event": event["event"],
        "grant": event["grant"],
        "kind": grant.kind,
        "application": grant.application_reference,
        "dataset": grant.dataset.identifier,
        "access_mode": grant.access_mode,
        "status": grant.status,
        "valid_from": grant.valid_from.isoformat(),
        "valid_until": grant.valid_until.isoformat(),
        "grantees": grant.grantees,
        "issuer": event.get("issuer") or grant.node.base_url,
        "node": grant.node.name,
        "sequence": event["sequence"],
        "occurred_at": now.isoformat(),
    }
    EntitlementEvent.objects.create(
        received=grant,
        holder_id=grant.dataset.holder_id,
        sequence=event["sequence"],
        kind=event["event"],
        payload=payload,
        created_at=now,
        next_attempt_at=now,
    )
    transaction.on_commit(lambda: _relay_later(grant.pk))


def _relay_later(received_id: int) -> None:
    try:
        from access_requests.grant_tasks import entitlements_deliver

        entitlements_deliver.delay(received_id=received_id)
    except Exception:  # noqa: BLE001  the broker being down must never undo the receipt: the sweep delivers
        logger.warning("relay of received grant %s not queued", received_id, exc_info=True)


def received_usable(grant: ReceivedGrant, sub: str, *, today: date) -> dict:
    """The grantee `sub` names, when the grant lets them download today; GrantRefused otherwise.
    Reads the dataset afresh: withdrawn here, or no longer offered for download, stops it at once."""
    grantee = grant.grantee(sub)
    if grantee is None:
        raise GrantRefused(403, "not_grantee", "This grant does not name this researcher.")
    period_usable(grant, today)
    if grant.kind != "download" or DOWNLOAD_MODE not in _offered(grant.dataset):
        raise GrantRefused(
            403, "processing_only", f"{grant.dataset.identifier} is processed where it lives: never downloaded."
        )
    if not grant.dataset.is_published:
        raise GrantRefused(410, "dataset_withdrawn", f"{grant.dataset.identifier} has been withdrawn here.")
    return grantee


def links_issue(*, node: Node, remote_grant: int, sub: str) -> dict:
    """Links to the releasable files of a received download grant for the grantee `sub`."""
    from portal.services.audit import audit_record

    grant = ReceivedGrant.objects.select_related("dataset__holder").filter(node=node, remote_grant=remote_grant).first()
    if grant is None:
        raise GrantRefused(404, "no_such_grant", f"No grant {remote_grant} of {node.name} is known here.")
    grantee = received_usable(grant, sub, today=portal_today())
    # file_releasable for every file at once: the dataset verified, no file failing the check
    files = list(grant_files(grant).order_by("path")) if grant.dataset.anonymisation_verified_on else []
    signer = signing.TimestampSigner(salt=LINK_SALT)
    area = grant.dataset.holder.storage_area
    answer = {
        "dataset": grant.dataset.identifier,
        "expires_at": link_expires_at().isoformat(),
        "files": [
            {
                "path": file_relative_path(f, area),
                "size_bytes": f.size_bytes,
                "sha256": f.sha256,
                "url": settings.SITE_URL
                + reverse("federation:received-file", kwargs={"token": signer.sign(f"{grant.pk}.{sub}.{f.pk}")}),
            }
            for f in files
        ],
    }
    with transaction.atomic():
        audit_record(
            actor=f"node:{node.name}",
            verb="federation.links_issue",
            target=grant.dataset,
            payload={"grant": remote_grant, "grantee": grantee["email"], "files": len(files)},
        )
    return answer


@dataclass(frozen=True)
class ReceivedLink:
    grant_id: int
    sub: str
    file_id: int


def received_link_read(token: str) -> ReceivedLink:
    try:
        value = signing.TimestampSigner(salt=LINK_SALT).unsign(token, max_age=settings.DOWNLOAD_LINK_SECONDS)
        grant_id, sub, file_id = value.split(".")
        return ReceivedLink(int(grant_id), sub, int(file_id))
    except signing.SignatureExpired:
        raise GrantRefused(
            410, "link_expired", "This download link has expired: ask the portal for a new one."
        ) from None
    except (signing.BadSignature, ValueError):
        raise GrantRefused(403, "tampered", "This download link is not valid.") from None


def received_file_response(request, token: str):
    """A received grant's download link: the file or the range asked for, or the JSON refusal."""
    from access_requests.services import downloads
    from catalogue.models import DatasetFile
    from portal.services.audit import audit_record

    grant = grantee = file = None
    try:
        link = received_link_read(token)
        grant = ReceivedGrant.objects.select_related("node", "dataset__holder").filter(pk=link.grant_id).first()
        if grant is None:
            raise GrantRefused(404, "no_such_grant", "No such grant.")
        grantee = received_usable(grant, link.sub, today=portal_today())
        file = DatasetFile.objects.select_related("dataset__holder").filter(pk=link.file_id).first()
        if file is None or file.dataset_id != grant.dataset_id:
            raise GrantRefused(404, "file_outside_grant", "No such file in the dataset this grant covers.")
        if not file_releasable(file, grant.dataset):
            raise GrantRefused(403, "not_deidentified", f"{file.path} has not passed the de-identification check.")
        real, accel = downloads.located(file)
    except GrantRefused as refused:
        return downloads.refusal_response(refused)

    def record(answer, bytes_sent: int, mode: str) -> None:
        with transaction.atomic():
            download = ReceivedDownload.objects.create(
                grant=grant,
                grantee_sub=link.sub,
                grantee_email=grantee["email"],
                file=file,
                started_at=timezone.now(),
                range_start=answer.start,
                range_end=answer.end,
                bytes_sent=bytes_sent,
                status_code=answer.status,
                ip=downloads.client_address(request),
            )
            audit_record(
                actor=f"node:{grant.node.name}",
                verb="federation.file_download",
                target=grant.dataset,
                payload={
                    "download": download.pk,
                    "grant": grant.remote_grant,
                    "grantee": grantee["email"],
                    "file": file.pk,
                    "path": file.path,
                    "sha256": file.sha256,
                    "bytes": bytes_sent,
                    "status": answer.status,
                    "mode": mode,
                },
            )

    return downloads.file_serve(request, file, real, accel, record=record, refuse=downloads.refusal_response)
