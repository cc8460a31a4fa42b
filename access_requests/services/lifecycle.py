"""What happens to access grants after they are issued, besides downloads: extensions asked by a
grantee and decided by the reviewing RDO, and the closeout the applicant makes when access has ended.

- `extension_request` / `extension_decide`: a grant lasts longer only within its limits (the
  agreement's end, the ethics approvals' end, the dataset's time limit on use; BRIEF invariant 2,
  and the Grant table's check constraints hold the same line). A longer period than the agreement
  allows needs a new version of the agreement; past the ethics end, a renewed ethics approval.
- `closeout_submit` / `closeout_outputs_add`: the applicant attests that every downloaded copy was
  deleted and lists the results that used the data; `closeout_remind` (the RDO, at most once a
  day) and `closeout_reminders_due` (the sweep, once, CLOSEOUT_REMINDER_DAYS after the end).

Each is audited and notified in the transaction of its change.
"""

import re
from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.utils import timezone

from access_requests.models import (
    Application,
    ApplicationStatus,
    Closeout,
    EntitlementEventKind,
    ExtensionRequest,
    ExtensionStatus,
    Grant,
    GrantLimit,
    GrantStatus,
    OutputKind,
    ResearchOutput,
)
from access_requests.services.grants import SYSTEM, entitlement_event_add, grant_state, portal_today
from portal.access import may, require_actor
from portal.errors import InvalidInput, TransitionError
from portal.services.audit import audit_record
from portal.services.notifications import notification_queue

CLOSEOUT_REMINDER_DAYS = 30  # after access ended, a missing attestation shows on the RDO's dashboard
ENDED = (ApplicationStatus.CLOSED, ApplicationStatus.REVOKED)
DOI_FORM = re.compile(r"^10\.\d{4,9}/\S+$")
DOI_PREFIXES = ("https://doi.org/", "http://doi.org/", "https://dx.doi.org/", "http://dx.doi.org/", "doi:")


# --- extensions ----------------------------------------------------------------------------------


def _reason(reason: str, message: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(message, fields={"reason": ["A reason is required."]})
    return reason


def extension_limit_refusal(grant: Grant, until: date) -> str:
    """Why `grant` cannot last until `until` (empty when it can): the first limit it would pass."""
    if until > grant.agreement_end:
        return (
            f"The agreement's access period ends on {grant.agreement_end:%Y-%m-%d}: a longer period needs a new "
            "version of the data-access agreement, which the Research Data Office prepares and every party signs."
        )
    if grant.time_limit_end is not None and until > grant.time_limit_end:
        return (
            f"The data holder limits the use of {grant.dataset.identifier} to {grant.time_limit_end:%Y-%m-%d}: "
            "no extension can pass the dataset's time limit on use."
        )
    if grant.ethics_end is not None and until > grant.ethics_end:
        return (
            f"The ethics approvals covering {grant.dataset.identifier} end on {grant.ethics_end:%Y-%m-%d}: "
            "a longer period needs a renewed ethics approval."
        )
    return ""


def _limits_check(grant: Grant, until: date, field: str) -> None:
    if until <= grant.valid_until:
        raise InvalidInput(
            f"Access already runs to {grant.valid_until:%Y-%m-%d}: choose a later day.",
            fields={field: [f"Choose a day after {grant.valid_until:%Y-%m-%d}."]},
        )
    refusal = extension_limit_refusal(grant, until)
    if refusal:
        raise InvalidInput(refusal, fields={field: [refusal]})


def _in_use(grant: Grant, today: date) -> None:
    """Only a grant still running (or not yet begun) of an active application can be extended."""
    state = grant_state(grant, today)
    if state in ("expired", "revoked"):
        raise TransitionError(f"This grant has {state}: it can no longer be extended.")
    if grant.application.status != ApplicationStatus.ACTIVE:
        raise TransitionError(f"Application {grant.application.reference} is no longer active.")


def _reviewing_rdos(grant: Grant) -> list:
    from access_requests.services.transitions import _rdo_users

    return [user for user in _rdo_users() if may(user, "grant.review", grant)]


def _context(grant: Grant, **extra) -> dict:
    return {"grant": grant, "application": grant.application, "dataset": grant.dataset, **extra}


def extension_request(*, actor, grant: Grant, until: date, reason: str) -> ExtensionRequest:
    """A grantee asks for `grant` to last until `until`, with a reason; one request waits per grant."""
    reason = _reason(reason, "Say why you need longer: the Research Data Office decides on it.")
    with transaction.atomic():
        grant = Grant.objects.select_for_update(of=("self",)).select_related("application", "dataset").get(pk=grant.pk)
        require_actor(actor, "grant.use", grant)
        now = timezone.now()
        _in_use(grant, portal_today(now))
        if grant.extension_requests.filter(status=ExtensionStatus.PENDING).exists():
            raise TransitionError("An extension of this grant is already waiting for the Research Data Office.")
        _limits_check(grant, until, "until")
        try:
            with transaction.atomic():
                request = ExtensionRequest.objects.create(
                    grant=grant, requested_by=actor, requested_at=now, requested_until=until, reason=reason
                )
        except IntegrityError:
            raise TransitionError(
                "An extension of this grant is already waiting for the Research Data Office."
            ) from None
        audit_record(
            actor=actor,
            verb="grant.extension_request",
            target=grant.application,
            payload={
                "grant": grant.pk,
                "request": request.pk,
                "dataset": grant.dataset.identifier,
                "from": grant.valid_until.isoformat(),
                "until": until.isoformat(),
                "reason": reason,
            },
        )
        notification_queue(
            to=_reviewing_rdos(grant),
            template="grant_extension_requested",
            context=_context(grant, request=request, requester=actor),
        )
    return request


def extension_decide(
    *, actor, request: ExtensionRequest, approve: bool, until: date | None = None, reason: str = ""
) -> ExtensionRequest:
    """The reviewing RDO grants a pending request (to `until`, by default the day asked for, never
    past a limit) or refuses it with a reason. Granting moves the grant's last day, clears its
    reminder and pushes an `extended` event to a processing environment."""
    with transaction.atomic():
        grant = (
            Grant.objects.select_for_update(of=("self",))
            .select_related("application", "dataset", "access_mode")
            .get(pk=request.grant_id)
        )
        require_actor(actor, "grant.review", grant)
        request = ExtensionRequest.objects.select_for_update().get(pk=request.pk)
        if request.status != ExtensionStatus.PENDING:
            raise TransitionError(f"This extension request was already {request.get_status_display().lower()}.")
        now = timezone.now()
        if not approve:
            reason = _reason(reason, "Give the reason for the refusal: the grantees are told it.")
            request.status = ExtensionStatus.REFUSED
            request.decided_by = actor if getattr(actor, "is_authenticated", False) else None
            request.decided_at = now
            request.decision_reason = reason
            request.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
            audit_record(
                actor=actor,
                verb="grant.extension_refuse",
                target=grant.application,
                payload={
                    "grant": grant.pk,
                    "request": request.pk,
                    "dataset": grant.dataset.identifier,
                    "reason": reason,
                },
            )
            notification_queue(
                to=list(grant.grantees.all()),
                template="grant_extension_refused",
                context=_context(grant, request=request, reason=reason),
            )
            return request
        _in_use(grant, portal_today(now))
        until = until or request.requested_until
        _limits_check(grant, until, "until")
        before = grant.valid_until
        grant.valid_until = until
        grant.reminded_at = None
        limits = [(grant.agreement_end, GrantLimit.AGREEMENT)]
        limits += [
            (d, why)
            for d, why in ((grant.ethics_end, GrantLimit.ETHICS), (grant.time_limit_end, GrantLimit.TIME_LIMIT))
            if d
        ]
        grant.limited_by = min(limits, key=lambda pair: pair[0])[1]
        grant.save(update_fields=["valid_until", "reminded_at", "limited_by"])
        request.status = ExtensionStatus.GRANTED
        request.decided_by = actor if getattr(actor, "is_authenticated", False) else None
        request.decided_at = now
        request.decision_reason = (reason or "").strip()
        request.granted_until = until
        request.save(update_fields=["status", "decided_by", "decided_at", "decision_reason", "granted_until"])
        entitlement_event_add(grant, EntitlementEventKind.EXTENDED, now)
        audit_record(
            actor=actor,
            verb="grant.extend",
            target=grant.application,
            payload={
                "grant": grant.pk,
                "request": request.pk,
                "dataset": grant.dataset.identifier,
                "from": before.isoformat(),
                "until": until.isoformat(),
            },
        )
        notification_queue(
            to=list(grant.grantees.all()),
            template="grant_extended",
            context=_context(grant, request=request, before=before),
        )
    return request


# --- closeout ------------------------------------------------------------------------------------


def doi_normal(value: str) -> str:
    """A DOI as `10.prefix/suffix`, from the forms people paste (a doi.org link, `doi:`); '' when none."""
    value = (value or "").strip()
    for prefix in DOI_PREFIXES:
        if value.lower().startswith(prefix):
            value = value[len(prefix) :]
            break
    return value


def _outputs_clean(outputs: list[dict]) -> list[dict]:
    """Each result: kind, title (required), DOI (10.xxxx/...), URL (http or https), description."""
    cleaned, errors = [], {}
    url_check = URLValidator(schemes=["http", "https"])
    for index, row in enumerate(outputs or []):
        row = row or {}
        kind = (row.get("kind") or "").strip()
        title = (row.get("title") or "").strip()
        doi = doi_normal(row.get("doi", ""))
        url = (row.get("url") or "").strip()
        problems = []
        if kind not in OutputKind.values:
            problems.append("Choose what kind of result it is.")
        if not title:
            problems.append("Give the result's title.")
        if len(title) > 500:
            problems.append("The title is longer than 500 characters.")
        if doi and (not DOI_FORM.match(doi) or len(doi) > 200):
            problems.append(f"“{doi}” is not a DOI: a DOI reads like 10.1234/abcd.")
        if url:
            try:
                url_check(url)
            except ValidationError:
                problems.append(f"“{url}” is not a web address (http or https).")
        if problems:
            errors[f"outputs[{index}]"] = problems
            continue
        cleaned.append(
            {
                "kind": kind,
                "title": title,
                "doi": doi,
                "url": url,
                "description": (row.get("description") or "").strip(),
            }
        )
    if errors:
        raise InvalidInput("Some results are not complete: " + " ".join(sum(errors.values(), [])), fields=errors)
    return cleaned


def _outputs_create(application: Application, rows: list[dict], actor, now: datetime) -> list[ResearchOutput]:
    return [
        ResearchOutput.objects.create(application=application, reported_by=actor, reported_at=now, **row)
        for row in rows
    ]


def _locked_ended(application: Application, actor) -> Application:
    locked = Application.objects.select_for_update(of=("self",)).get(pk=application.pk)
    require_actor(actor, "application.applicant", locked)
    if locked.status not in ENDED:
        raise TransitionError(
            f"Application {locked.reference} is {locked.get_status_display().lower()}: the closeout comes when "
            "access has ended."
        )
    return locked


def closeout_submit(
    *, actor, application: Application, copies_deleted: bool, statement: str = "", outputs: list[dict] | None = None
) -> Closeout:
    """The applicant, once access has ended: every downloaded copy deleted (required), how, and the
    results that used the data. Once only; more results can be added later."""
    if copies_deleted is not True:
        raise InvalidInput(
            "Confirm that every downloaded copy of the data has been deleted.",
            fields={"copies_deleted": ["Required: the agreement asks you to delete every copy."]},
        )
    rows = _outputs_clean(outputs or [])
    with transaction.atomic():
        application = _locked_ended(application, actor)
        if Closeout.objects.filter(application=application).exists():
            raise TransitionError("The closeout is already attested; you can still add results.")
        now = timezone.now()
        closeout = Closeout.objects.create(
            application=application,
            attested_by=actor,
            attested_at=now,
            copies_deleted=True,
            statement=(statement or "").strip(),
        )
        created = _outputs_create(application, rows, actor, now)
        audit_record(
            actor=actor,
            verb="application.closeout",
            target=application,
            payload={
                "copies_deleted": True,
                "statement": closeout.statement,
                "outputs": [{"kind": o.kind, "title": o.title, "doi": o.doi, "url": o.url} for o in created],
            },
        )
        from access_requests.services.transitions import _rdo_users

        notification_queue(
            to=[u for u in _rdo_users() if may(u, "application.review", application)],
            template="application_closeout",
            context={"application": application, "closeout": closeout, "outputs": created},
        )
    return closeout


def closeout_outputs_add(*, actor, application: Application, outputs: list[dict]) -> list[ResearchOutput]:
    """More results after the closeout (a paper published later)."""
    rows = _outputs_clean(outputs)
    if not rows:
        raise InvalidInput("Add at least one result.", fields={"outputs": ["Add at least one result."]})
    with transaction.atomic():
        application = _locked_ended(application, actor)
        if not Closeout.objects.filter(application=application).exists():
            raise TransitionError("Attest the closeout first: results are listed with it.")
        created = _outputs_create(application, rows, actor, timezone.now())
        audit_record(
            actor=actor,
            verb="application.output_add",
            target=application,
            payload={"outputs": [{"kind": o.kind, "title": o.title, "doi": o.doi, "url": o.url} for o in created]},
        )
    return created


def closeout_missing(now: datetime | None = None, *, days: int = CLOSEOUT_REMINDER_DAYS):
    """Closed or revoked applications without an attestation, ended `days` days ago or more."""
    now = now or timezone.now()
    return Application.objects.filter(
        status__in=ENDED, ended_at__isnull=False, ended_at__lte=now - timedelta(days=days), closeout__isnull=True
    )


def _closeout_reminder_queue(application: Application, dedupe_key: str, now: datetime):
    days = (now - application.ended_at).days if application.ended_at else 0
    return notification_queue(
        to=[application.applicant],
        template="closeout_reminder",
        context={"application": application, "days": days},
        dedupe_key=dedupe_key,
    )


def closeout_remind(*, actor, application: Application, now: datetime | None = None) -> bool:
    """The RDO reminds the applicant of a missing closeout: at most once a day (the e-mail's
    dedupe key); the answer says whether a reminder went out (and was audited)."""
    now = now or timezone.now()
    with transaction.atomic():
        application = (
            Application.objects.select_for_update(of=("self",)).select_related("applicant").get(pk=application.pk)
        )
        require_actor(actor, "application.review", application)
        if application.status not in ENDED:
            raise TransitionError(f"Application {application.reference} has not ended: no closeout is due yet.")
        if Closeout.objects.filter(application=application).exists():
            raise TransitionError("The applicant has already attested the closeout.")
        sent = _closeout_reminder_queue(application, f"closeout-remind:{application.pk}:{portal_today(now)}", now)
        if sent is None:
            return False
        audit_record(actor=actor, verb="application.closeout_remind", target=application, payload={"automatic": False})
    return True


def closeout_reminders_due(now: datetime) -> int:
    """The sweep: one automatic reminder per application, CLOSEOUT_REMINDER_DAYS after access ended."""
    sent = 0
    for pk in closeout_missing(now).values_list("pk", flat=True):
        with transaction.atomic():
            application = (
                Application.objects.select_for_update(of=("self",))
                .select_related("applicant")
                .filter(pk=pk, status__in=ENDED, closeout__isnull=True)
                .first()
            )
            if application is None:
                continue
            if _closeout_reminder_queue(application, f"closeout-remind-auto:{application.pk}", now) is None:
                continue
            audit_record(
                actor=SYSTEM, verb="application.closeout_remind", target=application, payload={"automatic": True}
            )
            sent += 1
    return sent


def grant_facts(grant: Grant, today: date) -> dict:
    """What a page shows of a grant: its state in words and what bounds it."""
    return {
        "state": grant_state(grant, today),
        "limit_words": GrantLimit(grant.limited_by).label,
        "ended": grant.status != GrantStatus.ACTIVE,
    }
