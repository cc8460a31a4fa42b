"""Data-access agreements: created from the committee's approval, rendered, signed by every party over
one document hash, revised when what they cover changes, executed and sealed.

The life of an agreement:
  1. `agreement_create` (after the approval commits: a Celery task, see `agreement_after_approval`)
     writes the agreement and its version 1: a snapshot of everything the document will say, and the
     parties who must sign. The snapshot is what is signed; the template renders nothing else.
  2. `agreement_version_render` (a task) renders the snapshot with the template version recorded on
     the version, stores the PDF with its SHA-256 and asks the parties to sign.
  3. `agreement_sign` records one party's signature over the exact bytes shown (their SHA-256 must
     be the version's); `agreement_scan_upload` and `agreement_scan_verify` are the paper route.
  4. When every party of the current version has signed, `agreement_execute` (a task) renders the
     final PDF with a signature certificate page, seals it (access_requests/sealing.py), stores it
     and moves the application to `active`, in one transaction with the audit events.
  5. `agreement_revise` makes a new version when what the agreement covers changed: the signatures
     on the version before are voided and those who had signed are told why.

Lock order, the same everywhere: the application row (only execution takes it), the agreement row,
then the audit chain head. Signing locks the agreement row, so two signatures, a signature and a
revision, or a signature and the execution queue instead of interleaving; the unique constraints
(one signature per party and version, one party per person and version) are the last line.
"""

import hashlib
import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from access_requests.models import (
    Agreement,
    AgreementParty,
    AgreementSignature,
    AgreementStatus,
    AgreementVersion,
    Application,
    ApplicationStatus,
    PartyKind,
    SignatureMethod,
)
from access_requests.services.agreement_snapshots import _approval_round, agreement_snapshot, snapshot_changes
from access_requests.services.documents import document_store, documents_staged
from access_requests.services.generated import generated_store, pdf_render
from portal.access import may, require_actor
from portal.errors import InvalidInput, NotPermitted, TransitionError
from portal.models import User
from portal.services.audit import audit_record
from portal.services.notifications import notification_queue

logger = logging.getLogger(__name__)

SYSTEM = "system:agreements"
# The template a new version is rendered with. An old version keeps the one it was rendered with
# (AgreementVersion.template_version), so it re-renders as it was signed: when the wording changes,
# add templates/access_requests/agreements/agreement_<new>.html (and .css) and raise this.
AGREEMENT_TEMPLATE_VERSION = "1"


def agreement_template(template_version: str) -> str:
    return f"access_requests/agreements/agreement_{template_version}.html"


def _version_add(agreement: Agreement, *, number: int, snapshot: dict, reason: str, actor) -> AgreementVersion:
    version = AgreementVersion.objects.create(
        agreement=agreement,
        number=number,
        template_version=AGREEMENT_TEMPLATE_VERSION,
        reason=reason,
        created_by=actor if isinstance(actor, User) else None,
        snapshot=snapshot,
    )
    for position, party in enumerate(snapshot["parties"]):
        AgreementParty.objects.create(
            version=version,
            kind=party["kind"],
            holder_id=party["holder_id"],
            name=party["name"] or "The researcher's institution",
            representative=party["representative"],
            email=party["email"],
            position=position,
        )
    return version


def _dispatch(task, *args) -> None:
    """Send a task once the transaction commits; a broker failure is logged (the sweep retries)."""

    from kombu.exceptions import OperationalError

    def send():
        try:
            task.delay(*args)
        except (OperationalError, OSError) as exc:  # the broker is unreachable (eager errors propagate)
            logger.warning(
                "agreements: could not queue %s%s (%s); the agreements sweep will retry", task.name, args, exc
            )

    transaction.on_commit(send)


def agreement_after_approval(application: Application) -> None:
    """Called by `round_decide` inside the approval's transaction: the agreement is created after the
    commit, in a task. Building the snapshot reads every file of every approved dataset (for the
    manifest digest), which may take long for large datasets; the decision must neither wait for it
    nor fail because of it. The task is safe to run twice (one agreement per approval round), and
    `agreements_sweep` creates any agreement a lost dispatch left out."""
    from access_requests import agreement_tasks

    _dispatch(agreement_tasks.agreement_create_task, application.pk)


def agreement_create(*, actor, application: Application) -> Agreement:
    """The agreement of the application's approval, with version 1 and its parties (rendered after).
    Returns the existing one when it was already created for this approval."""
    with transaction.atomic():
        application = Application.objects.select_for_update(of=("self",)).get(pk=application.pk)
        require_actor(actor, "application.review", application)
        review_round = _approval_round(application)
        if review_round is None or application.status != ApplicationStatus.APPROVED:
            existing = Agreement.objects.filter(application=application).exclude(status=AgreementStatus.VOIDED)
            if existing.exists():
                return existing.first()
            raise TransitionError(f"{application.reference} has no approval an agreement could follow.")
        existing = Agreement.objects.filter(round=review_round).first()
        if existing is not None:
            return existing
        agreement = Agreement.objects.create(
            application=application,
            round=review_round,
            reference=f"DAA-{application.reference}" + (f"-{review_round.number}" if review_round.number > 1 else ""),
        )
        version = _version_add(
            agreement,
            number=1,
            snapshot=agreement_snapshot(application, review_round),
            reason="First version, from the committee's approval.",
            actor=actor,
        )
        audit_record(
            actor=actor,
            verb="agreement.create",
            target=application,
            payload={"agreement": agreement.reference, "version": 1, "parties": version.parties.count()},
        )
        _render_later(version)
    return agreement


def _render_later(version: AgreementVersion) -> None:
    from access_requests import agreement_tasks

    _dispatch(agreement_tasks.agreement_render_task, version.pk)


# --- rendering ---------------------------------------------------------------------------------


def _stylesheet_url(template_version: str) -> str:
    """The agreement's print styles as a data: URL (the only kind the renderer fetches; and no <style>
    element in a template, which the content-security scan of templates refuses)."""
    import base64

    from django.template.loader import render_to_string

    css = render_to_string(f"access_requests/agreements/agreement_{template_version}.css", {})
    return "data:text/css;base64," + base64.b64encode(css.encode()).decode()


def version_context(version: AgreementVersion, *, certificate: list | None = None) -> dict:
    agreement = version.agreement
    return {
        "agreement_reference": agreement.reference,
        "version_number": version.number,
        "template_version": version.template_version,
        "reason": version.reason,
        "s": version.snapshot,
        "stylesheet_url": _stylesheet_url(version.template_version),
        "certificate": certificate,
        "version_sha256": version.sha256,
    }


def version_render_bytes(version: AgreementVersion) -> bytes:
    """The version's PDF as its recorded template renders its snapshot (no signatures)."""
    return pdf_render(agreement_template(version.template_version), version_context(version))


def agreement_version_render(*, version_id: int) -> AgreementVersion:
    """Render a version and record its PDF and hash; then the parties are asked to sign. Safe to run
    twice: a version already rendered, or superseded meanwhile, is left as it is."""
    version = AgreementVersion.objects.select_related("agreement").get(pk=version_id)
    if version.is_rendered or not version.is_current:
        return version
    content = version_render_bytes(version)
    with documents_staged() as staged, transaction.atomic():
        agreement = Agreement.objects.select_for_update(of=("self",)).get(pk=version.agreement_id)
        version = AgreementVersion.objects.select_for_update(of=("self",)).get(pk=version_id)
        if version.is_rendered or not version.is_current or agreement.status in _CLOSED:
            return version
        stored = generated_store(
            content=content, folder=f"applications/{agreement.application.reference}", staged=staged
        )
        version.path, version.sha256, version.size = stored["path"], stored["sha256"], stored["size"]
        version.rendered_at = timezone.now()
        version.save(update_fields=["path", "sha256", "size", "rendered_at"])
        if agreement.status == AgreementStatus.DRAFT:
            agreement.status = AgreementStatus.AWAITING_SIGNATURES
            agreement.save(update_fields=["status"])
        audit_record(
            actor=SYSTEM,
            verb="agreement.render",
            target=agreement.application,
            payload={"agreement": agreement.reference, "version": version.number, "sha256": version.sha256},
        )
        for party in version.parties.all():
            notification_queue(
                to=party_recipients(party, agreement.application),
                template="agreement_to_sign",
                context={
                    "agreement": agreement,
                    "version": version,
                    "party": party,
                    "application": agreement.application,
                },
            )
    return version


_CLOSED = (AgreementStatus.EXECUTED, AgreementStatus.VOIDED)


# --- who may sign --------------------------------------------------------------------------------


def _on_team(user: User, application: Application) -> bool:
    return application.applicant_id == user.pk or application.team.filter(user=user, joined_at__isnull=False).exists()


def party_entitled(user, party: AgreementParty, application: Application) -> bool:
    """May `user` sign for `party`? The institution's signatory by their proved address; a steward of
    the data holder; an RDO administrator. Nobody on the application's team signs for a holder or
    for the infrastructure."""
    from catalogue.permissions import holders_stewarded_by

    if not isinstance(user, User) or not user.is_active:
        return False
    if party.kind == PartyKind.SIGNATORY:
        return bool(user.email_verified_at) and user.email.casefold() == party.email.casefold()
    if _on_team(user, application):
        return False
    if party.kind == PartyKind.STEWARD:
        return holders_stewarded_by(user).filter(pk=party.holder_id).exists()
    return may(user, "application.review", application)


def party_recipients(party: AgreementParty, application: Application) -> list:
    """Who is e-mailed for a party: the signatory's address, the holder's stewards, the RDO."""
    from access_requests.services.transitions import _rdo_users
    from catalogue.models import Stewardship

    if party.kind == PartyKind.SIGNATORY:
        return [party.email]
    team = set(application.team.filter(user__isnull=False).values_list("user_id", flat=True)) | {
        application.applicant_id
    }
    if party.kind == PartyKind.STEWARD:
        people = User.objects.filter(
            pk__in=Stewardship.objects.filter(holder_id=party.holder_id).values("user_id"),
            is_active=True,
            email_verified_at__isnull=False,
        )
        return [user for user in people if user.pk not in team]
    return [user for user in _rdo_users() if user.pk not in team]


def parties_for(user, version: AgreementVersion) -> list[AgreementParty]:
    """The parties of the version `user` may sign for (for pages: whether to show the signing form)."""
    application = version.agreement.application
    return [party for party in version.parties.all() if party_entitled(user, party, application)]


def awaited_parties(version: AgreementVersion) -> list[AgreementParty]:
    """The parties of the version whose signature does not count yet."""
    signed = {s.party_id for s in version.signatures.all() if s.counts}
    return [party for party in version.parties.all() if party.pk not in signed]


# --- signing -------------------------------------------------------------------------------------


def _lock_current(version: AgreementVersion) -> tuple[Agreement, AgreementVersion]:
    """Lock the agreement; refuse a closed agreement, a superseded version or one not yet rendered."""
    agreement = (
        Agreement.objects.select_for_update(of=("self",)).select_related("application").get(pk=version.agreement_id)
    )
    version = AgreementVersion.objects.get(pk=version.pk)
    if agreement.status == AgreementStatus.EXECUTED:
        raise TransitionError(f"Agreement {agreement.reference} is already executed: nothing more can be signed.")
    if agreement.status == AgreementStatus.VOIDED:
        raise TransitionError(f"Agreement {agreement.reference} was voided: it can no longer be signed.")
    if agreement.application.status != ApplicationStatus.APPROVED:
        raise TransitionError(
            f"Application {agreement.application.reference} is "
            f"{agreement.application.get_status_display().lower()}: its agreement can no longer be signed."
        )
    if not version.is_current:
        raise TransitionError(
            f"Version {version.number} of {agreement.reference} has been superseded by a later version: "
            "open the current version and sign that one."
        )
    if not version.is_rendered:
        raise TransitionError("The document is still being prepared: try again in a moment.")
    return agreement, version


def _party_to_sign(actor, version: AgreementVersion, application: Application, party) -> AgreementParty:
    entitled = [p for p in version.parties.all() if party_entitled(actor, p, application)]
    if party is not None:
        entitled = [p for p in entitled if p.pk == getattr(party, "pk", party)]
    if not entitled:
        raise NotPermitted("You are not entitled to sign this agreement for any of its parties.")
    signed = set(AgreementSignature.objects.filter(version=version).values_list("party_id", flat=True))
    if AgreementSignature.objects.filter(version=version, user=actor).exists() or all(p.pk in signed for p in entitled):
        raise TransitionError("You have already signed this version of the agreement.")
    return next(p for p in entitled if p.pk not in signed)


def _names_match(typed: str, full_name: str) -> bool:
    return " ".join(typed.split()).casefold() == " ".join(full_name.split()).casefold()


def agreement_sign(
    *,
    actor: User,
    version: AgreementVersion,
    typed_name: str,
    ip: str | None,
    user_agent: str,
    shown_sha256: str,
    party: AgreementParty | None = None,
) -> AgreementSignature:
    """A party signs the current version in the browser, over the SHA-256 of the bytes they were shown.

    Refused: a superseded or unrendered version, an executed or voided agreement, a person entitled to
    sign for no party, a second signature by the same person or for the same party, a hash other than
    the version's, a typed name other than the signer's. The view asks for the password first."""
    typed_name = " ".join((typed_name or "").split())
    shown_sha256 = (shown_sha256 or "").strip().lower()
    try:
        with transaction.atomic():
            agreement, version = _lock_current(version)
            application = agreement.application
            chosen = _party_to_sign(actor, version, application, party)
            errors = {}
            if shown_sha256 != version.sha256:
                errors["shown_sha256"] = [
                    "The document you were shown is not the current version: reload it and read it again."
                ]
            if not typed_name:
                errors["typed_name"] = ["Type your full name to sign."]
            elif not _names_match(typed_name, actor.full_name):
                errors["typed_name"] = [f"Type your full name as your account has it: {actor.full_name}."]
            if errors:
                raise InvalidInput("The signature was not recorded.", fields=errors)
            signature = AgreementSignature.objects.create(
                version=version,
                party=chosen,
                method=SignatureMethod.ONLINE,
                user=actor,
                typed_name=typed_name,
                signed_at=timezone.now(),
                ip=ip or None,
                user_agent=(user_agent or "")[:500],
                shown_sha256=shown_sha256,
            )
            audit_record(
                actor=actor,
                verb="agreement.sign",
                target=application,
                payload={
                    "agreement": agreement.reference,
                    "version": version.number,
                    "party": chosen.name,
                    "kind": chosen.kind,
                    "sha256": shown_sha256,
                    "ip": ip or "",
                },
            )
            _after_signature(agreement, version)
    except IntegrityError as exc:  # a racing signature by the same person or for the same party won
        raise TransitionError("This party has already signed this version of the agreement.") from exc
    return signature


def _after_signature(agreement: Agreement, version: AgreementVersion) -> None:
    """Inside the signing transaction: execute once every party's signature counts."""
    from access_requests import agreement_tasks

    if not awaited_parties(version):
        _dispatch(agreement_tasks.agreement_execute_task, agreement.pk)


def agreement_scan_upload(*, actor: User, version: AgreementVersion, upload, party=None) -> AgreementSignature:
    """A party uploads a countersigned scan of the current version instead of signing online; it counts
    once the RDO has verified it (`agreement_scan_verify`)."""
    try:
        with documents_staged() as staged, transaction.atomic():
            agreement, version = _lock_current(version)
            application = agreement.application
            chosen = _party_to_sign(actor, version, application, party)
            stored = document_store(
                upload=upload, field="scan", folder=f"applications/{application.reference}", staged=staged
            )
            signature = AgreementSignature.objects.create(
                version=version,
                party=chosen,
                method=SignatureMethod.SCAN,
                user=actor,
                typed_name=actor.full_name,
                signed_at=timezone.now(),
                shown_sha256=version.sha256,
                scan_path=stored["path"],
                scan_sha256=stored["sha256"],
            )
            audit_record(
                actor=actor,
                verb="agreement.scan_upload",
                target=application,
                payload={
                    "agreement": agreement.reference,
                    "version": version.number,
                    "party": chosen.name,
                    "scan_sha256": stored["sha256"],
                },
            )
            from access_requests.services.transitions import _rdo_users

            notification_queue(
                to=[u for u in _rdo_users() if u.pk != actor.pk],
                template="agreement_scan_uploaded",
                context={"agreement": agreement, "version": version, "party": chosen, "application": application},
            )
    except IntegrityError as exc:
        raise TransitionError("This party has already signed this version of the agreement.") from exc
    return signature


def agreement_scan_verify(*, actor: User, signature: AgreementSignature) -> AgreementSignature:
    """The RDO confirms that an uploaded scan is this version, countersigned for the party. Never by
    the person who uploaded it."""
    with transaction.atomic():
        signature = AgreementSignature.objects.select_related("version__agreement__application", "party").get(
            pk=signature.pk
        )
        require_actor(actor, "application.review", signature.version.agreement.application)
        agreement, version = _lock_current(signature.version)
        signature = (
            AgreementSignature.objects.select_for_update(of=("self",)).select_related("party").get(pk=signature.pk)
        )
        if signature.method != SignatureMethod.SCAN:
            raise TransitionError("Only an uploaded scan is verified; this signature was made online.")
        if signature.verified_at is not None:
            return signature
        if isinstance(actor, User) and signature.user_id == actor.pk:
            raise TransitionError("Someone other than the person who uploaded the scan must verify it.")
        if not isinstance(actor, User):
            raise NotPermitted("A scan is verified by a person of the Research Data Office.")
        signature.verified_by = actor
        signature.verified_at = timezone.now()
        signature.save(update_fields=["verified_by", "verified_at"])
        audit_record(
            actor=actor,
            verb="agreement.scan_verify",
            target=agreement.application,
            payload={
                "agreement": agreement.reference,
                "version": version.number,
                "party": signature.party.name,
                "scan_sha256": signature.scan_sha256,
            },
        )
        _after_signature(agreement, version)
    return signature


# --- revision ------------------------------------------------------------------------------------


def agreement_revise(*, actor, agreement: Agreement, reason: str) -> AgreementVersion:
    """A new version from what the application and the decision now say (the RDO, with a reason).
    The signatures on the version before are voided; each party who had signed is told why and
    what changed. Refused once the agreement is executed or voided."""
    application = Application.objects.get(pk=agreement.application_id)
    require_actor(actor, "application.review", application)
    return _revise(actor=actor, agreement=agreement, reason=reason)


def agreements_follow(*, actor, application: Application, reason: str) -> int:
    """Call inside the transaction of any change to what an agreement covers that happens without the
    RDO (a team invitation accepted after the approval): each agreement in force whose snapshot no
    longer matches the application gets a new version, its signatures voided and the signers told
    `reason`. `actor` is whoever made the change, named in the audit event; no permission is asked,
    since the portal, not the actor, makes the revision. Answers how many agreements were revised."""
    revised = 0
    for agreement in Agreement.objects.filter(application=application).exclude(status__in=_CLOSED):
        current = AgreementVersion.objects.filter(agreement=agreement, superseded_at__isnull=True).first()
        if current is None or not snapshot_changes(current.snapshot, agreement_snapshot(application, agreement.round)):
            continue
        _revise(actor=actor, agreement=agreement, reason=reason)
        revised += 1
    return revised


def agreements_follow_dataset(sender, *, dataset, actor, what: str, **kwargs) -> int:
    """The catalogue's `dataset_changed` (catalogue/signals.py), inside the change's transaction: every
    agreement in force that is not yet executed and names the dataset follows the change as
    `agreements_follow` does (a new version, the signatures on the old one voided, the signers told
    why), so no signature stands on a description or a file manifest that is no longer the dataset's.
    An executed agreement stays as sealed. Answers how many agreements were revised."""
    applications = (
        Application.objects.filter(
            agreements__status__in=[AgreementStatus.DRAFT, AgreementStatus.AWAITING_SIGNATURES],
            requested__dataset=dataset,
        )
        .distinct()
        .order_by("pk")
    )
    reason = f"The dataset {dataset.identifier} changed: {what}."
    return sum(agreements_follow(actor=actor, application=application, reason=reason) for application in applications)


def _revise(*, actor, agreement: Agreement, reason: str) -> AgreementVersion:
    reason = " ".join((reason or "").split())
    with transaction.atomic():
        application = Application.objects.get(pk=agreement.application_id)
        agreement = Agreement.objects.select_for_update(of=("self",)).get(pk=agreement.pk)
        if agreement.status in _CLOSED:
            raise TransitionError(f"Agreement {agreement.reference} is {agreement.get_status_display().lower()}.")
        if not reason:
            raise InvalidInput("Say why the agreement changes.", fields={"reason": ["Give a reason."]})
        previous = AgreementVersion.objects.select_for_update(of=("self",)).get(
            agreement=agreement, superseded_at__isnull=True
        )
        snapshot = agreement_snapshot(application, agreement.round)
        changes = snapshot_changes(previous.snapshot, snapshot)
        now = timezone.now()
        previous.superseded_at = now
        previous.save(update_fields=["superseded_at"])
        signed = list(
            AgreementSignature.objects.filter(version=previous, voided_at__isnull=True).select_related("party", "user")
        )
        AgreementSignature.objects.filter(pk__in=[s.pk for s in signed]).update(voided_at=now)
        version = _version_add(agreement, number=previous.number + 1, snapshot=snapshot, reason=reason, actor=actor)
        if agreement.status == AgreementStatus.AWAITING_SIGNATURES:
            agreement.status = AgreementStatus.DRAFT  # until the new version is rendered
            agreement.save(update_fields=["status"])
        audit_record(
            actor=actor,
            verb="agreement.revise",
            target=application,
            payload={
                "agreement": agreement.reference,
                "version": version.number,
                "reason": reason,
                "changes": changes,
                "signatures_voided": [s.party.name for s in signed],
            },
        )
        if signed:
            notification_queue(
                to=[s.user for s in signed],
                template="agreement_signatures_voided",
                context={
                    "agreement": agreement,
                    "version": version,
                    "previous": previous,
                    "reason": reason,
                    "changes": changes,
                    "application": application,
                },
            )
        _render_later(version)
    return version


# --- voiding ------------------------------------------------------------------------------------


def agreements_void_for(*, actor, application: Application, reason: str) -> int:
    """Inside the transaction that ends an application before access (a withdrawal, with the
    application row locked): its agreement still awaiting signatures is voided, so nobody signs it
    and it is never executed. Audited; returns how many were voided."""
    voided = 0
    for agreement in Agreement.objects.select_for_update(of=("self",)).filter(
        application=application, status__in=[AgreementStatus.DRAFT, AgreementStatus.AWAITING_SIGNATURES]
    ):
        agreement.status = AgreementStatus.VOIDED
        agreement.voided_at = timezone.now()
        agreement.void_reason = reason
        agreement.save(update_fields=["status", "voided_at", "void_reason"])
        audit_record(
            actor=actor,
            verb="agreement.void",
            target=application,
            payload={"agreement": agreement.reference, "reason": reason},
        )
        voided += 1
    return voided


# --- execution -----------------------------------------------------------------------------------


def signature_certificate(version: AgreementVersion) -> list[dict]:
    """Each counting signature, for the certificate page: who, for whom, when, how, over which hash."""
    return [
        {
            "party": s.party.name,
            "kind": s.party.get_kind_display(),
            "name": s.typed_name or s.user.full_name,
            "email": s.user.email,
            "signed_at": s.signed_at.isoformat(timespec="seconds"),
            "method": s.get_method_display(),
            "sha256": s.shown_sha256,
            "ip": s.ip or "",
            "scan_sha256": s.scan_sha256,
            "verified_by": s.verified_by.full_name if s.verified_by else "",
            "verified_at": s.verified_at.isoformat(timespec="seconds") if s.verified_at else "",
        }
        for s in version.signatures.filter(voided_at__isnull=True)
        .select_related("party", "user", "verified_by")
        .order_by("party__position")
        if s.counts
    ]


def agreement_execute(*, agreement_id: int) -> Agreement:
    """Once every party has signed the current version: render the final PDF with the signature
    certificate page, seal it with the portal's certificate, store it, and move the application to
    `active`, all recorded in one transaction. Safe to run twice; does nothing while a signature is
    awaited, and refuses when the application is no longer approved (withdrawn meanwhile)."""
    from access_requests import sealing
    from access_requests.services import transitions as tr
    from access_requests.services.grants import grants_issue

    agreement = Agreement.objects.select_related("application").get(pk=agreement_id)
    if agreement.status != AgreementStatus.AWAITING_SIGNATURES:
        return agreement
    version = AgreementVersion.objects.get(agreement=agreement, superseded_at__isnull=True)
    if not version.is_rendered or awaited_parties(version):
        return agreement
    certificate = signature_certificate(version)
    content = pdf_render(
        agreement_template(version.template_version), version_context(version, certificate=certificate)
    )
    sealed = sealing.seal_pdf(content, reason=f"Executed data-access agreement {agreement.reference}")
    seal = sealing.seal_check(sealed)
    if not seal.ok:  # never store a seal the portal's own check would refuse
        raise sealing.SealUnavailable(f"The seal made does not verify: {seal.failure}")
    with documents_staged() as staged, transaction.atomic():
        application, done = tr._begin("activate", agreement.application, SYSTEM)
        agreement = Agreement.objects.select_for_update(of=("self",)).get(pk=agreement_id)
        if agreement.status != AgreementStatus.AWAITING_SIGNATURES:
            return agreement
        current = AgreementVersion.objects.get(agreement=agreement, superseded_at__isnull=True)
        if current.pk != version.pk or awaited_parties(current) or signature_certificate(current) != certificate:
            return agreement  # changed while rendering: the next signature or revision dispatches again
        stored = generated_store(content=sealed, folder=f"applications/{application.reference}", staged=staged)
        now = timezone.now()
        agreement.status = AgreementStatus.EXECUTED
        agreement.executed_at = now
        agreement.executed_path, agreement.executed_sha256 = stored["path"], stored["sha256"]
        agreement.executed_size = stored["size"]
        agreement.seal_certificate_sha256 = seal.certificate_sha256
        agreement.save(
            update_fields=[
                "status",
                "executed_at",
                "executed_path",
                "executed_sha256",
                "executed_size",
                "seal_certificate_sha256",
            ]
        )
        audit_record(
            actor=SYSTEM,
            verb="agreement.execute",
            target=application,
            payload={
                "agreement": agreement.reference,
                "version": version.number,
                "version_sha256": version.sha256,
                "sha256": stored["sha256"],
                "signatures": len(certificate),
            },
        )
        if not done:
            application.status = ApplicationStatus.ACTIVE
            application.save(update_fields=["status", "updated_at"])
            audit_record(
                actor=SYSTEM,
                verb="application.activate",
                target=application,
                payload={"status": ApplicationStatus.ACTIVE, "agreement": agreement.reference},
            )
        agreement.application = application
        grants_issue(agreement=agreement, version=version, now=now)
        recipients = [s.user for s in version.signatures.filter(voided_at__isnull=True).select_related("user")]
        notification_queue(
            to=recipients + tr._team_emails(application),
            template="agreement_executed",
            context={"agreement": agreement, "version": version, "application": application},
        )
    return agreement


# --- reading, for pages ----------------------------------------------------------------------------


# The states in which an application can have an agreement in force (a withdrawal voids it).
AGREEMENT_STATES = frozenset(
    {ApplicationStatus.APPROVED, ApplicationStatus.ACTIVE, ApplicationStatus.CLOSED, ApplicationStatus.REVOKED}
)


def agreement_overview(application: Application) -> dict | None:
    """The application's agreement as its page shows it: status, the current version and its hash,
    each party signed (by whom, when) or awaited, and the earlier versions with why they changed.
    None before an approval led to one. The caller has passed `application_get_for`."""
    if application.status not in AGREEMENT_STATES:
        return None  # no query for the many applications that never reached an approval
    agreement = Agreement.objects.filter(application=application).exclude(status=AgreementStatus.VOIDED).first()
    if agreement is None:
        return None
    versions = list(agreement.versions.order_by("-number").prefetch_related("parties"))
    current = versions[0]
    signatures = {
        s.party_id: s
        for s in AgreementSignature.objects.filter(version=current, voided_at__isnull=True).select_related("user")
    }
    parties = []
    for party in current.parties.all():
        signature = signatures.get(party.pk)
        parties.append({"party": party, "signature": signature, "counts": bool(signature and signature.counts)})
    return {
        "agreement": agreement,
        "current": current,
        "parties": parties,
        "earlier": versions[1:],
        "overdue": execution_overdue(agreement),
    }


# --- checking a file against the record ------------------------------------------------------------


def agreement_for_file(content: bytes) -> Agreement | None:
    """The executed agreement whose sealed PDF has exactly these bytes, if any."""
    digest = hashlib.sha256(content).hexdigest()
    return (
        Agreement.objects.filter(status=AgreementStatus.EXECUTED, executed_sha256=digest)
        .select_related("application")
        .first()
    )


# --- the sweep -----------------------------------------------------------------------------------


def agreements_sweep(*, now=None) -> dict[str, int]:
    """What a lost task dispatch left undone: agreements to create after an approval, versions to
    render, agreements every party has signed to execute. Safe to run twice."""
    from access_requests import agreement_tasks

    now = now or timezone.now()
    created = rendered = executed = 0
    settled = now - timedelta(minutes=5)  # leave work a dispatched task may be doing right now
    waiting = Application.objects.filter(status=ApplicationStatus.APPROVED).exclude(
        pk__in=Agreement.objects.exclude(status=AgreementStatus.VOIDED).values("application_id")
    )
    for application in waiting.filter(updated_at__lt=settled)[:100]:
        agreement_tasks.agreement_create_task.delay(application.pk)
        created += 1
    for version_id in AgreementVersion.objects.filter(
        rendered_at__isnull=True, superseded_at__isnull=True, created_at__lt=settled
    ).values_list("pk", flat=True)[:100]:
        agreement_tasks.agreement_render_task.delay(version_id)
        rendered += 1
    for agreement in Agreement.objects.filter(status=AgreementStatus.AWAITING_SIGNATURES)[:500]:
        version = agreement.current_version
        if version is not None and version.is_rendered and not awaited_parties(version):
            agreement_tasks.agreement_execute_task.delay(agreement.pk)
            executed += 1
    return {"created": created, "rendered": rendered, "executed": executed}


def agreements_overdue_notify(*, now=None) -> int:
    """Flag to the RDO each agreement not executed within AGREEMENT_EXECUTION_DAYS of its creation, and
    remind the parties whose signature is awaited; once per agreement (`overdue_notified_at`), so the
    periodic job is safe to run twice. Returns how many were flagged."""
    from access_requests.services.transitions import _rdo_users

    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.AGREEMENT_EXECUTION_DAYS)
    flagged = 0
    candidates = Agreement.objects.filter(
        status__in=[AgreementStatus.DRAFT, AgreementStatus.AWAITING_SIGNATURES],
        created_at__lt=cutoff,
        overdue_notified_at__isnull=True,
    ).values_list("pk", flat=True)
    for pk in list(candidates[:200]):
        with transaction.atomic():
            agreement = (
                Agreement.objects.select_for_update(of=("self",))
                .select_related("application")
                .filter(pk=pk, overdue_notified_at__isnull=True)
                .first()
            )
            if agreement is None or agreement.status in _CLOSED:
                continue
            agreement.overdue_notified_at = now
            agreement.save(update_fields=["overdue_notified_at"])
            version = agreement.current_version
            awaited = awaited_parties(version) if version is not None else []
            audit_record(
                actor=SYSTEM,
                verb="agreement.overdue",
                target=agreement.application,
                payload={
                    "agreement": agreement.reference,
                    "days": settings.AGREEMENT_EXECUTION_DAYS,
                    "awaited": [party.name for party in awaited],
                },
            )
            context = {
                "agreement": agreement,
                "version": version,
                "application": agreement.application,
                "awaited": awaited,
                "days": settings.AGREEMENT_EXECUTION_DAYS,
            }
            notification_queue(to=_rdo_users(), template="agreement_overdue_staff", context=context)
            if version is not None and version.is_rendered:
                for party in awaited:
                    notification_queue(
                        to=party_recipients(party, agreement.application),
                        template="agreement_to_sign",
                        context={**context, "party": party, "reminder": True},
                    )
        flagged += 1
    return flagged


def execution_overdue(agreement: Agreement, now=None) -> bool:
    """An agreement not executed within AGREEMENT_EXECUTION_DAYS of its creation (flagged to the RDO)."""
    if agreement.status in _CLOSED:
        return False
    return (now or timezone.now()) - agreement.created_at > timedelta(days=settings.AGREEMENT_EXECUTION_DAYS)
