"""Access grants: issued when the agreement is executed, checked at every request, ended on time.

- `grants_issue` runs inside the transaction that executes the agreement (services/agreements.py
  `agreement_execute`): one grant per approved dataset, for the team the executed version names,
  of the kind the dataset's access mode allows, valid until the earliest of the agreement's end,
  the end of the ethics approvals covering that dataset and the dataset's own time limit on use
  (BRIEF invariant 2; the table's check constraints hold the same line).
- `download_permit` is invariant 1 as code: every download request (and every link asked for)
  passes it, reading the grant, the application, the agreement, the decision and the dataset
  afresh, so a revocation or an expiry stops a link issued before it on its next request
  (invariant 3), whatever the periodic sweep has done yet.
- `grant_revoke`, `application_revoke` and `grants_sweep` end access: audited, notified, and
  pushed to the holders' processing environments, each in one transaction with its change.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from access_requests.models import (
    Agreement,
    AgreementStatus,
    AgreementVersion,
    Application,
    ApplicationDataset,
    ApplicationStatus,
    DatasetDecision,
    EntitlementEvent,
    EntitlementEventKind,
    Grant,
    GrantKind,
    GrantLimit,
    GrantStatus,
    TeamMember,
)
from access_requests.models.applications import access_period_end
from access_requests.services.checks import ONE_DAY
from portal.access import require_actor
from portal.errors import InvalidInput, TransitionError
from portal.services.audit import audit_record
from portal.services.notifications import notification_queue

SYSTEM = "system:grants"
DOWNLOAD_MODE = "DOWNLOAD"  # the access-mode code that lets bytes leave (catalogue/vocabularies/access_mode.json)
TIME_LIMIT_CODE = "TIME_LIMIT_ON_USE"  # DUO:0000025, parameters {"months": N}
REMINDER_DAYS = 7


def portal_today(now: datetime | None = None) -> date:
    """Today in the portal's time zone: a grant's days begin and end at its midnights."""
    return timezone.localdate(now or timezone.now())


# --- issuing -------------------------------------------------------------------------------------


def ethics_coverage_end(requested: ApplicationDataset, start: date) -> date | None:
    """The last day the ethics approvals covering `requested` reach without a gap from `start`
    (a renewal that begins the day after the first expires carries on); None when none covers `start`."""
    cursor, end = start, None
    for approved_on, expires_on in sorted((a.approved_on, a.expires_on) for a in requested.ethics_approvals.all()):
        if approved_on > cursor:
            break  # a gap: access cannot run past it
        if expires_on >= cursor:
            end, cursor = expires_on, expires_on + ONE_DAY
    return end


def time_limit_end(dataset, start: date) -> date | None:
    """The dataset's own time limit on use (TIME_LIMIT_ON_USE, {"months": N}) counted from `start`."""
    for use in dataset.use_conditions.all():
        if use.term.code != TIME_LIMIT_CODE:
            continue
        try:
            months = int((use.parameters or {}).get("months"))
        except (TypeError, ValueError):
            return start  # a limit without a usable length: the most cautious reading, one day
        return access_period_end(start, max(months, 1))
    return None


@dataclass(frozen=True)
class Period:
    valid_from: date
    valid_until: date | None  # None: a limit ends before the period starts, nothing to grant
    limited_by: str
    agreement_end: date
    ethics_end: date | None
    time_limit_end: date | None


def grant_period(requested: ApplicationDataset, start: date, agreement_end: date) -> Period:
    """The grant's days: from the period's start to the earliest of the three limits."""
    ethics = ethics_coverage_end(requested, start)
    limit = time_limit_end(requested.dataset, start)
    candidates = [(agreement_end, GrantLimit.AGREEMENT), (limit, GrantLimit.TIME_LIMIT)]
    candidates.append((ethics if ethics is not None else start - ONE_DAY, GrantLimit.ETHICS))
    until, limited_by = min(((d, why) for d, why in candidates if d is not None), key=lambda pair: pair[0])
    return Period(
        valid_from=start,
        valid_until=until if until >= start else None,
        limited_by=limited_by,
        agreement_end=agreement_end,
        ethics_end=ethics,
        time_limit_end=limit,
    )


def _approved_requests(agreement: Agreement) -> list[ApplicationDataset]:
    """The requested datasets the approval behind the agreement covers (each one, or all)."""
    decisions = {d.requested_id: d.approved for d in DatasetDecision.objects.filter(round_id=agreement.round_id)}
    requested = (
        agreement.application.requested.select_related("dataset__holder", "access_mode")
        .prefetch_related("ethics_approvals", "dataset__use_conditions__term", "dataset__access_modes")
        .order_by("pk")
    )
    return [item for item in requested if not decisions or decisions.get(item.pk)]


def _grantees(application: Application, version: AgreementVersion) -> list:
    """The accepted team members the executed version names (by their proved address), applicant included."""
    named = {entry["email"].lower() for entry in version.snapshot.get("team", [])}
    members = TeamMember.objects.filter(application=application, user__isnull=False, joined_at__isnull=False)
    users = [m.user for m in members.select_related("user") if m.user.email.lower() in named and m.user.is_active]
    if application.applicant.email.lower() in named and all(u.pk != application.applicant_id for u in users):
        users.append(application.applicant)
    return users


def grant_kind_for(requested: ApplicationDataset) -> str:
    """Download only where the team chose download and the dataset offers it; anything else is
    processed where it lives."""
    offered = {term.code for term in requested.dataset.access_modes.all()}
    chosen = requested.access_mode.code if requested.access_mode else ""
    return GrantKind.DOWNLOAD if chosen == DOWNLOAD_MODE and DOWNLOAD_MODE in offered else GrantKind.PROCESSING


def grants_issue(*, agreement: Agreement, version: AgreementVersion, now: datetime) -> list[Grant]:
    """Inside the transaction that executes `agreement` (application locked, now active): one grant
    per approved dataset. A dataset whose limits end before the period starts gets none, and the
    audit event says why. Safe to call twice: the grants of an agreement are issued once."""
    application = agreement.application
    if Grant.objects.filter(agreement=agreement).exists():
        return list(Grant.objects.filter(agreement=agreement))
    period = version.snapshot.get("period", {})
    start = date.fromisoformat(period["start"]) if period.get("start") else portal_today(now)
    agreement_end = date.fromisoformat(period["end"]) if period.get("end") else application.access_end
    grantees = _grantees(application, version)
    issued, withheld = [], []
    for requested in _approved_requests(agreement):
        span = grant_period(requested, start, agreement_end)
        if span.valid_until is None:
            withheld.append({"dataset": requested.dataset.identifier, "limited_by": span.limited_by})
            continue
        kind = grant_kind_for(requested)
        mode = requested.access_mode or requested.dataset.access_modes.order_by("code").first()
        grant = Grant.objects.create(
            application=application,
            agreement=agreement,
            requested=requested,
            dataset=requested.dataset,
            kind=kind,
            access_mode=mode,
            valid_from=span.valid_from,
            valid_until=span.valid_until,
            limited_by=span.limited_by,
            agreement_end=span.agreement_end,
            ethics_end=span.ethics_end,
            time_limit_end=span.time_limit_end,
            issued_at=now,
        )
        grant.grantees.set(grantees)
        issued.append(grant)
        entitlement_event_add(grant, EntitlementEventKind.GRANTED, now)
    audit_record(
        actor=SYSTEM,
        verb="grant.issue",
        target=application,
        payload={
            "agreement": agreement.reference,
            "grants": [
                {
                    "grant": g.pk,
                    "dataset": g.dataset.identifier,
                    "kind": g.kind,
                    "valid_from": g.valid_from.isoformat(),
                    "valid_until": g.valid_until.isoformat(),
                    "limited_by": g.limited_by,
                }
                for g in issued
            ],
            "grantees": sorted(u.email for u in grantees),
            "withheld": withheld,
        },
    )
    return issued


# --- entitlement events ------------------------------------------------------------------------


def entitlement_payload(grant: Grant, kind: str) -> dict:
    """What a processing environment learns of a grant: who may process which dataset, until when."""
    return {
        "event": kind,
        "grant": grant.pk,
        "kind": grant.kind,
        "application": grant.application.reference,
        "dataset": grant.dataset.identifier,
        "access_mode": grant.access_mode.code,
        "status": grant.status,
        "valid_from": grant.valid_from.isoformat(),
        "valid_until": grant.valid_until.isoformat(),
        # `sub`: the grantee as the `sub` of their GA4GH visas names them (services/visas.py)
        "grantees": [
            {"sub": str(u.pk), "email": u.email, "name": u.full_name} for u in grant.grantees.order_by("email")
        ],
        "issuer": settings.SITE_URL,
    }


def entitlement_event_add(grant: Grant, kind: str, now: datetime) -> EntitlementEvent | None:
    """In the caller's transaction: the next event of a processing grant, queued for its holder's
    environment, or of any grant of a partner node's dataset, queued for that node, which enforces
    it where the data live (access_requests/services/entitlements.py delivers them, in order, after
    commit). This node's own download grants have none: their bytes are served here."""
    if grant.kind != GrantKind.PROCESSING and grant.dataset.holder.node_id is None:
        return None
    Grant.objects.select_for_update().filter(pk=grant.pk).first()  # one writer per grant: sequences stay gapless
    last = EntitlementEvent.objects.filter(grant=grant).aggregate(n=Max("sequence"))["n"] or 0
    event = EntitlementEvent.objects.create(
        grant=grant,
        holder_id=grant.dataset.holder_id,
        sequence=last + 1,
        kind=kind,
        payload={**entitlement_payload(grant, kind), "sequence": last + 1, "occurred_at": now.isoformat()},
        created_at=now,
        next_attempt_at=now,
    )
    transaction.on_commit(lambda: _push_later(event.grant_id))
    return event


def _push_later(grant_id: int) -> None:
    """After commit: ask the worker to deliver the grant's pending events (the periodic sweep
    delivers them anyway if the broker is down)."""
    try:
        from access_requests.grant_tasks import entitlements_deliver

        entitlements_deliver.delay(grant_id=grant_id)
    except Exception:  # noqa: BLE001  the broker being down must never undo or break the change
        import logging

        logging.getLogger(__name__).warning("entitlement delivery not queued for grant %s", grant_id, exc_info=True)


# --- the check at every request (invariant 1) ---------------------------------------------------


class GrantRefused(Exception):
    """A request the grant does not allow: `status` (403, 404 or 410) and a stable `code` for the
    audit log, with the words the person reads."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def grant_state(grant: Grant, today: date) -> str:
    """active | upcoming | expired | revoked, by the dates as well as the stored status."""
    if grant.status == GrantStatus.REVOKED:
        return "revoked"
    if grant.status == GrantStatus.EXPIRED or today > grant.valid_until:
        return "expired"
    if today < grant.valid_from:
        return "upcoming"
    return "active"


def dataset_approved(grant: Grant) -> bool:
    """The committee's decision behind the agreement approved this dataset (one by one, or all)."""
    decisions = DatasetDecision.objects.filter(round_id=grant.agreement.round_id)
    if not decisions.exists():
        return grant.agreement.round.outcome == "approved"
    return decisions.filter(requested_id=grant.requested_id, approved=True).exists()


def period_usable(grant, today: date) -> None:
    """GrantRefused unless `grant` is in its days and not ended: a grant issued here, or one a
    partner node issued for a dataset held here (federation.models.ReceivedGrant: the same status,
    valid_from and valid_until)."""
    state = grant_state(grant, today)
    identifier = grant.dataset.identifier
    if state == "revoked":
        reason = getattr(grant, "revoke_reason", "")
        raise GrantRefused(410, "revoked", f"Access to {identifier} was revoked" + (f": {reason}" if reason else "."))
    if state == "expired":
        raise GrantRefused(410, "expired", f"Access to {identifier} ended on {grant.valid_until:%Y-%m-%d}.")
    if state == "upcoming":
        raise GrantRefused(403, "not_started", f"Access to {identifier} starts on {grant.valid_from:%Y-%m-%d}.")


def grant_usable(grant: Grant, user, *, today: date) -> None:
    """Raise GrantRefused unless `user` may use `grant` today: a grantee, the grant in its days and
    not ended, the application active, the agreement executed, the dataset approved and published.
    Reads every row afresh; the caller has loaded `grant` just now."""
    if user is None or not user.is_authenticated or not grant.grantees.filter(pk=user.pk).exists():
        raise GrantRefused(403, "not_grantee", "This grant does not name you: links are personal.")
    period_usable(grant, today)
    application = Application.objects.only("status", "reference").get(pk=grant.application_id)
    if application.status != ApplicationStatus.ACTIVE:
        raise GrantRefused(
            410, "application_" + application.status, f"Application {application.reference} is no longer active."
        )
    agreement = Agreement.objects.select_related("round").get(pk=grant.agreement_id)
    if agreement.status != AgreementStatus.EXECUTED or not agreement.executed_sha256:
        raise GrantRefused(410, "agreement_not_executed", f"Agreement {agreement.reference} is not in force.")
    grant.agreement = agreement
    if not dataset_approved(grant):
        raise GrantRefused(403, "not_approved", f"The committee did not approve {grant.dataset.identifier}.")
    if not grant.dataset.is_published:
        raise GrantRefused(
            410, "dataset_withdrawn", f"{grant.dataset.identifier} has been withdrawn by its data holder."
        )


def download_usable(grant: Grant, user, *, today: date) -> None:
    """`grant_usable`, and a download grant of a dataset still offered for download: what every file
    of the grant needs before its own checks (the My data page and the manifest ask this once)."""
    grant_usable(grant, user, today=today)
    if grant.kind != GrantKind.DOWNLOAD or DOWNLOAD_MODE not in {t.code for t in grant.dataset.access_modes.all()}:
        raise GrantRefused(
            403,
            "processing_only",
            f"{grant.dataset.identifier} is processed where it lives: its files are never downloaded.",
        )


def files_held_here(grant: Grant) -> None:
    """GrantRefused 409 for a grant of a partner node's dataset: its files are listed, linked and
    served by that node (federation/grants.py), never here."""
    node = grant.dataset.holder.node
    if node is not None:
        raise GrantRefused(
            409,
            "held_at_partner",
            f"{grant.dataset.identifier} is held at the partner node {node.name}: ask for its links "
            "(remote-links), which that node makes and serves.",
        )


def download_permit(grant: Grant, user, file, *, today: date) -> None:
    """Invariant 1 for one file: `grant_usable`, a download grant of a dataset offered for download
    that passed the de-identification check, and a file of that dataset still registered."""
    download_usable(grant, user, today=today)
    if file is None or file.dataset_id != grant.dataset_id or file.removed_at is not None:
        raise GrantRefused(404, "file_outside_grant", "No such file in the datasets this grant covers.")
    if not file_releasable(file, grant.dataset):
        raise GrantRefused(
            403, "not_deidentified", f"{file.path} has not passed the de-identification check and is not released."
        )


def file_releasable(file, dataset) -> bool:
    """Whether a file of `dataset` (loaded by the caller just now) may leave: the dataset's anonymisation
    is verified (catalogue.ingestion.dataset_index_apply: every registered DICOM file passed the
    check) and the file's own verdict in the DICOM index is not a failure. A file that is not DICOM
    has no verdict of its own; the dataset's verification stands for it."""
    from catalogue.models import DicomInstance

    return (
        file.dataset_id == dataset.pk
        and dataset.anonymisation_verified_on is not None
        and not DicomInstance.objects.filter(file_id=file.pk, passed=False).exists()
    )


# --- ending access -------------------------------------------------------------------------------


def _grant_ended_notify(grant: Grant, template: str, extra: dict | None = None) -> None:
    notification_queue(
        to=list(grant.grantees.all()),
        template=template,
        context={"grant": grant, "application": grant.application, "dataset": grant.dataset, **(extra or {})},
    )


def _grant_end(grant: Grant, *, status: str, now: datetime, actor=None, reason: str = "") -> None:
    grant.status = status
    grant.ended_at = now
    if status == GrantStatus.REVOKED:
        grant.revoked_by = actor if getattr(actor, "is_authenticated", False) else None
        grant.revoke_reason = reason
    grant.save(update_fields=["status", "ended_at", "revoked_by", "revoke_reason"])
    kind = EntitlementEventKind.REVOKED if status == GrantStatus.REVOKED else EntitlementEventKind.ENDED
    entitlement_event_add(grant, kind, now)
    grant.extension_requests.filter(status="pending").update(
        status="refused", decided_at=now, decision_reason=f"The grant {status} before a decision."
    )


def _reason_required(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Give the reason: the grantees are told it.", fields={"reason": ["A reason is required."]})
    return reason


def grant_revoke(*, actor, grant: Grant, reason: str) -> Grant:
    """The RDO or the committee's chair ends one grant at once: its links stop on their next request."""
    reason = _reason_required(reason)
    with transaction.atomic():
        grant = Grant.objects.select_for_update(of=("self",)).select_related("application", "dataset").get(pk=grant.pk)
        require_actor(actor, "application.revoke", grant.application)
        if grant.status != GrantStatus.ACTIVE:
            raise TransitionError(f"This grant has already {grant.status}.")
        now = timezone.now()
        _grant_end(grant, status=GrantStatus.REVOKED, now=now, actor=actor, reason=reason)
        audit_record(
            actor=actor,
            verb="grant.revoke",
            target=grant.application,
            payload={"grant": grant.pk, "dataset": grant.dataset.identifier, "kind": grant.kind, "reason": reason},
        )
        _grant_ended_notify(grant, "grant_revoked", {"reason": reason})
        _close_if_all_ended(grant.application, now)
    return grant


def application_revoke(*, actor, application: Application, reason: str) -> Application:
    """End a whole application's access at once: every grant revoked, the application `revoked`."""
    from access_requests.services import transitions as tr

    reason = _reason_required(reason)
    with transaction.atomic():
        application, done = tr._begin("revoke", application, actor)
        if done:
            return application
        now = timezone.now()
        ended = []
        for grant in (
            Grant.objects.select_for_update(of=("self",))
            .select_related("dataset")
            .filter(application=application, status=GrantStatus.ACTIVE)
        ):
            grant.application = application
            _grant_end(grant, status=GrantStatus.REVOKED, now=now, actor=actor, reason=reason)
            ended.append(grant.pk)
        application.status = ApplicationStatus.REVOKED
        application.ended_at = now
        application.end_reason = reason
        application.save(update_fields=["status", "ended_at", "end_reason", "updated_at"])
        audit_record(
            actor=actor,
            verb="application.revoke",
            target=application,
            payload={"status": ApplicationStatus.REVOKED, "grants": ended, "reason": reason},
        )
        notification_queue(
            to=tr._team_emails(application),
            template="application_revoked",
            context={"application": application, "reason": reason},
        )
    return application


def _close_if_all_ended(application: Application, now: datetime) -> bool:
    """Inside a transaction: an active application whose grants have all ended is closed."""
    from access_requests.services import transitions as tr

    if Application.objects.filter(pk=application.pk).values_list("status", flat=True).first() != "active":
        return False
    locked, done = tr._begin("close", application, SYSTEM)  # locked first: a grant issued or ended meanwhile waits
    if done or locked.status != ApplicationStatus.ACTIVE:
        return False
    if Grant.objects.filter(application=locked, status=GrantStatus.ACTIVE).exists():
        return False
    application_close(application=locked, now=now)
    return True


def application_close(
    *, application: Application, actor=SYSTEM, reason: str = "Every grant of the application has ended.", now=None
) -> Application:
    """Active → closed: access is over (the portal itself, when the last grant ends). The team is
    asked to attest the deletion of their copies and to report the results."""
    from access_requests.services import transitions as tr

    with transaction.atomic():
        locked, done = tr._begin("close", application, actor)
        if done:
            return locked
        locked.status = ApplicationStatus.CLOSED
        locked.ended_at = now or timezone.now()
        locked.end_reason = locked.end_reason or reason
        locked.save(update_fields=["status", "ended_at", "end_reason", "updated_at"])
        audit_record(
            actor=actor,
            verb="application.close",
            target=locked,
            payload={"status": ApplicationStatus.CLOSED, "reason": locked.end_reason},
        )
        notification_queue(to=tr._team_emails(locked), template="application_closed", context={"application": locked})
    return locked


def grants_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """The periodic task: grants past their last day become `expired` (pushed, notified), an active
    application whose grants have all ended is closed, grantees of a grant still running are reminded
    once, seven days before the end, and an applicant whose closeout is missing 30 days after access
    ended is reminded once. Each change in its own transaction; safe to run at any time and twice."""
    from access_requests.services.lifecycle import closeout_reminders_due

    now = now or timezone.now()
    today = portal_today(now)
    counts = {"expired": 0, "closed": 0, "reminded": 0, "closeout_reminded": 0}
    for grant_id in Grant.objects.filter(status=GrantStatus.ACTIVE, valid_until__lt=today).values_list("pk", flat=True):
        with transaction.atomic():
            grant = (
                Grant.objects.select_for_update(of=("self",))
                .select_related("application", "dataset")
                .filter(pk=grant_id, status=GrantStatus.ACTIVE, valid_until__lt=today)
                .first()
            )
            if grant is None:
                continue
            _grant_end(grant, status=GrantStatus.EXPIRED, now=now)
            audit_record(
                actor=SYSTEM,
                verb="grant.expire",
                target=grant.application,
                payload={"grant": grant.pk, "dataset": grant.dataset.identifier, "ended_on": str(grant.valid_until)},
            )
            _grant_ended_notify(grant, "grant_expired")
            counts["expired"] += 1
    # an active application with nothing left active (its last grant revoked, or all expired)
    for application in (
        Application.objects.filter(status=ApplicationStatus.ACTIVE)
        .exclude(grants__status=GrantStatus.ACTIVE)
        .filter(grants__isnull=False)
        .distinct()
    ):
        with transaction.atomic():
            counts["closed"] += int(_close_if_all_ended(application, now))
    horizon = today + timedelta(days=REMINDER_DAYS)
    due = {
        "status": GrantStatus.ACTIVE,
        "application__status": ApplicationStatus.ACTIVE,
        "reminded_at__isnull": True,
        "valid_until__lte": horizon,
        "valid_until__gte": today,
    }
    for grant_id in Grant.objects.filter(**due).values_list("pk", flat=True):
        with transaction.atomic():
            # checked again under the lock: a grant revoked or extended meanwhile is not reminded
            grant = (
                Grant.objects.select_for_update(of=("self",))
                .select_related("application", "dataset")
                .filter(pk=grant_id, **due)
                .first()
            )
            if grant is None:
                continue
            grant.reminded_at = now
            grant.save(update_fields=["reminded_at"])
            _grant_ended_notify(grant, "grant_expiring", {"days_left": (grant.valid_until - today).days})
            counts["reminded"] += 1
    counts["closeout_reminded"] = closeout_reminders_due(now)
    return counts


# --- download links --------------------------------------------------------------------------------

LINK_SALT = "access_requests.download-link"


@dataclass(frozen=True)
class Link:
    user_id: int
    grant_id: int
    file_id: int


def link_token(*, user, grant: Grant, file) -> str:
    """A signed, time-stamped token naming the user, the grant and the file: the path of a download
    link. It proves only who asked for what and when; `download_permit` decides at each request."""
    from django.core import signing

    return signing.TimestampSigner(salt=LINK_SALT).sign(f"{user.pk}.{grant.pk}.{file.pk}")


def link_url(token: str) -> str:
    """The path a link token answers at (the API's download endpoint, for a browser session or a
    personal API token alike)."""
    from django.urls import reverse

    return reverse("api-download", kwargs={"token": token})


def link_read(token: str, *, max_age: int | None = None) -> Link:
    """The link a token names. A token changed in any character refuses 403 (`tampered`); one older
    than DOWNLOAD_LINK_SECONDS refuses 410 (`link_expired`)."""
    from django.core import signing

    max_age = settings.DOWNLOAD_LINK_SECONDS if max_age is None else max_age
    try:
        value = signing.TimestampSigner(salt=LINK_SALT).unsign(token, max_age=max_age)
    except signing.SignatureExpired:
        raise GrantRefused(410, "link_expired", "This download link has expired: ask for a new one.") from None
    except signing.BadSignature:
        raise GrantRefused(403, "tampered", "This download link is not valid.") from None
    user_id, grant_id, file_id = (int(part) for part in value.split("."))
    return Link(user_id, grant_id, file_id)


def link_expires_at(now: datetime | None = None) -> datetime:
    """When a link made now stops working (DOWNLOAD_LINK_SECONDS)."""
    return (now or timezone.now()) + timedelta(seconds=settings.DOWNLOAD_LINK_SECONDS)


def file_relative_path(file, storage_area: str) -> str:
    """A dataset file's path as its grantees see it: without the holder's storage area in front
    (the manifest's and the download script's path under the folder the dataset is saved in)."""
    prefix = f"{storage_area}/"
    return file.path[len(prefix) :] if file.path.startswith(prefix) else file.path
