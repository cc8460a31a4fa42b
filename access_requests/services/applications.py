"""Writing an application: create from the basket, edit its sections, team, documents.

Every function here refuses to change an application that is not a draft or returned
(governance invariant 6), checks that the actor is on its team, and records the change in
the audit chain in the same transaction.
"""

import hashlib
import json
import secrets
from datetime import date, timedelta

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from guardian.models import UserObjectPermission
from guardian.shortcuts import assign_perm, remove_perm

from access_requests.models import (
    Application,
    ApplicationDataset,
    ApplicationStatus,
    Dpia,
    DpiaRisk,
    EthicsApproval,
    LegalStatement,
    ReferenceCounter,
    Representations,
    StatementAcceptance,
    TeamMember,
)
from access_requests.permissions import CHANGE, VIEW
from access_requests.services.documents import (
    document_release,
    document_store,
    documents_delete,
    documents_staged,
)
from catalogue.models import BasketItem, Dataset, DatasetStatus, Term, Vocabulary
from portal.access import require_actor
from portal.countries import is_country
from portal.errors import InvalidInput, NotPermitted, TransitionError
from portal.models import User
from portal.ratelimit import rate_limit_check
from portal.services.audit import audit_record
from portal.services.notifications import notification_queue

APPLICATION_FIELDS = [
    "title",
    "lay_summary",
    "scientific_description",
    "timeline",
    "intended_use",
    "ai_algorithms",
    "purpose",
    "methods_development",
    "commercial_use",
    "access_start",
    "access_months",
    "organisation",
    "organisation_country",
    "organisation_not_for_profit",
    "contact_phone",
    "mdr_applicable",
    "mdr_notes",
    "ai_assessment",
    "uses_ai",
    "ai_not_used_reason",
]

# ALTAI-style self-assessment questions (EU High-Level Expert Group on AI, 2020), answered yes/no/n.a.
AI_QUESTIONS = [
    ("human_oversight", "Will a human review every output of the AI system before it affects a patient?"),
    ("robustness", "Will the model be validated on data from another site than the training data?"),
    ("bias", "Have you assessed whether the data under-represent groups by sex, age or equipment?"),
    ("transparency", "Will the model's intended use and limits be documented for its users?"),
    ("privacy", "Could the trained model memorise or reveal information about individuals?"),
    ("accountability", "Is there a named person accountable for the AI system's performance?"),
]
AI_ANSWERS = {"yes", "no", "na"}


def _lock(application: Application) -> Application:
    return Application.objects.select_for_update().get(pk=application.pk)


def _require_editable(*, actor, application: Application) -> Application:
    """Lock the row and refuse unless the actor is on the team and the application can change."""
    locked = _lock(application)
    require_actor(actor, "application.team", locked)
    if not locked.is_editable_by_applicant:
        raise TransitionError(
            f"Application {locked.reference} is {locked.get_status_display().lower()}: it can be changed only "
            "while it is a draft or returned for revision."
        )
    return locked


def _next_reference(today: date) -> str:
    counter, _ = ReferenceCounter.objects.select_for_update().get_or_create(year=today.year)
    counter.last += 1
    counter.save(update_fields=["last"])
    return f"AR-{today.year}-{counter.last:05d}"


def _grant_team_perms(user: User, application: Application) -> None:
    assign_perm(VIEW, user, application)
    assign_perm(CHANGE, user, application)


def application_create(*, actor: User, title: str, datasets: list[Dataset] | None = None) -> Application:
    """Start a draft application; with no datasets given, from the actor's basket (which it empties).
    Only researchers start applications, and an application asks for at least one dataset: none given
    and an empty basket are refused."""
    require_actor(actor, "researcher")
    title = (title or "").strip()
    if not title:
        raise InvalidInput("Give the application a title.", fields={"title": ["This field is required."]})
    with transaction.atomic():
        basket = None
        if datasets is None:
            basket = list(BasketItem.objects.filter(user=actor).select_related("dataset"))
            datasets = [item.dataset for item in basket]
        if not datasets:
            message = "Choose at least one dataset to apply for." if basket is None else "Your basket is empty."
            raise InvalidInput(message, fields={"datasets": [f"{message} An application asks for at least one."]})
        unpublished = [d.identifier for d in datasets if d.status != DatasetStatus.PUBLISHED]
        if unpublished:
            raise InvalidInput(
                f"These datasets are not published: {', '.join(unpublished)}.", fields={"datasets": ["Not published."]}
            )
        application = Application.objects.create(
            reference=_next_reference(timezone.localdate()),
            applicant=actor,
            title=title,
            organisation=actor.organisation,
            organisation_country=actor.country,
            access_months=min(12, settings.ACCESS_MAX_MONTHS),
        )
        for dataset in datasets:
            ApplicationDataset.objects.get_or_create(
                application=application, dataset=dataset, defaults={"access_mode": _mode_for(dataset, None, None)}
            )
        Dpia.objects.create(application=application)
        Representations.objects.create(application=application, institution_legal_name=actor.organisation)
        TeamMember.objects.create(
            application=application, user=actor, email=actor.email, role="Applicant", joined_at=timezone.now()
        )
        _grant_team_perms(actor, application)
        if basket:
            BasketItem.objects.filter(pk__in=[item.pk for item in basket]).delete()
        audit_record(
            actor=actor,
            verb="application.create",
            target=application,
            payload={"reference": application.reference, "datasets": [d.identifier for d in datasets]},
        )
    return application


def _clean_value(field: str, value):
    if field == "access_months":
        try:
            value = int(value)
        except (TypeError, ValueError):
            raise InvalidInput("The access period must be a whole number of months.", fields={field: ["Not a number."]})
        if not 1 <= value <= settings.ACCESS_MAX_MONTHS:
            message = f"The access period is 1 to {settings.ACCESS_MAX_MONTHS} months."
            raise InvalidInput(message, fields={field: [message]})
    if field == "organisation_country" and value:
        value = str(value).strip().upper()
        if not is_country(value):
            message = f"Unknown country code “{value}”: give the ISO 3166-1 two-letter code, e.g. LV for Latvia."
            raise InvalidInput(message, fields={field: [message]})
    if field == "ai_assessment":
        value = _clean_ai_assessment(value)
    if field == "ai_not_used_reason":
        value = str(value or "").strip()
    return value


def _clean_ai_assessment(value) -> dict:
    known = dict(AI_QUESTIONS)
    if not isinstance(value, dict):
        raise InvalidInput("The AI assessment is a set of answers.", fields={"ai_assessment": ["Expected an object."]})
    errors = [f"{key}: unknown question" for key in value if key not in known]
    errors += [
        f"{key}: answer yes, no or na" for key, answer in value.items() if key in known and answer not in AI_ANSWERS
    ]
    if errors:
        raise InvalidInput("The AI assessment has invalid answers.", fields={"ai_assessment": errors})
    return value


def application_update(*, actor: User, application: Application, data: dict) -> Application:
    """Change the application's own fields (partial); lists the changed fields in the audit event."""
    with transaction.atomic():
        application = _require_editable(actor=actor, application=application)
        unknown = set(data) - set(APPLICATION_FIELDS) - {"purpose_conditions"}
        if unknown:
            raise InvalidInput("Unknown fields.", fields={name: ["Unknown field."] for name in sorted(unknown)})
        changed = []
        for field, value in data.items():
            if field == "purpose_conditions":
                continue
            value = _clean_value(field, value)
            if getattr(application, field) != value:
                setattr(application, field, value)
                changed.append(field)
        application.full_clean(exclude=["reference", "applicant", "committee"])
        application.save()
        if "purpose_conditions" in data:
            terms = _condition_terms(data["purpose_conditions"])
            if set(application.purpose_conditions.all()) != set(terms):
                application.purpose_conditions.set(terms)
                changed.append("purpose_conditions")
        if changed:
            audit_record(actor=actor, verb="application.update", target=application, payload={"fields": changed})
            _signature_void_if_changed(actor=actor, application=application)
    return application


def _condition_terms(codes) -> list[Term]:
    codes = [str(code).strip().upper() for code in codes or []]
    terms = {t.code: t for t in Term.objects.filter(vocabulary=Vocabulary.CONDITION, code__in=codes)}
    unknown = [code for code in codes if code not in terms]
    if unknown:
        message = f"purpose_conditions: unknown code {unknown[0]!r}"
        raise InvalidInput(message, fields={"purpose_conditions": [message]})
    return list(terms.values())


def _offered_modes(dataset: Dataset) -> list[Term]:
    return sorted(
        (t for t in dataset.access_modes.all() if t.vocabulary == Vocabulary.ACCESS_MODE), key=lambda t: t.code
    )


def _mode_for(dataset: Dataset, code, current: Term | None) -> Term | None:
    """The access mode a requested dataset asks for: the one named by `code` (one the dataset offers;
    any of the vocabulary's when the dataset states none), else the current one while the dataset
    still offers it, else the dataset's only mode; None when there is a choice left to make."""
    offered = _offered_modes(dataset)
    code = str(code or "").strip().upper()
    if code:
        term = Term.objects.filter(vocabulary=Vocabulary.ACCESS_MODE, code=code).first()
        if term is None:
            message = f"{dataset.identifier}: there is no access mode “{code}”."
        elif offered and term not in offered:
            choices = " or ".join(t.label.lower() for t in offered)
            message = f"{dataset.identifier} is not offered for {term.label.lower()}: choose {choices}."
        else:
            return term
        raise InvalidInput(message, fields={"access_mode": [message]})
    if current is not None and (not offered or current in offered):
        return current
    return offered[0] if len(offered) == 1 else None


def _requested_entry(value) -> tuple[str, object]:
    """(justification, access mode code or None) from a justification or {"justification", "access_mode"}."""
    if isinstance(value, dict):
        return str(value.get("justification") or ""), value.get("access_mode")
    return str(value or ""), None


def application_set_datasets(*, actor: User, application: Application, requested: dict) -> Application:
    """Set the requested datasets (datasets not listed are removed); an application keeps at least one.

    `requested` maps each dataset to its justification, or to {"justification": ..., "access_mode": code}:
    the access mode is one the dataset offers; without one, the dataset keeps the mode it had or takes
    its only one."""
    with transaction.atomic():
        application = _require_editable(actor=actor, application=application)
        if not requested:
            message = "An application asks for at least one dataset."
            raise InvalidInput(message, fields={"datasets": [message]})
        unpublished = [d.identifier for d in requested if d.status != DatasetStatus.PUBLISHED]
        if unpublished:
            message = f"Not published: {', '.join(unpublished)}."
            raise InvalidInput(message, fields={"datasets": [message]})
        current = {item.dataset_id: item.access_mode for item in application.requested.select_related("access_mode")}
        rows, errors = {}, []
        for dataset, value in requested.items():
            justification, code = _requested_entry(value)
            try:
                mode = _mode_for(dataset, code, current.get(dataset.pk))
            except InvalidInput as exc:
                errors += exc.fields["access_mode"]
                continue
            rows[dataset] = {"justification": justification.strip(), "access_mode": mode}
        if errors:
            raise InvalidInput(" ".join(errors), fields={"access_mode": errors})
        application.requested.exclude(dataset__in=list(requested)).delete()
        for dataset, defaults in rows.items():
            ApplicationDataset.objects.update_or_create(application=application, dataset=dataset, defaults=defaults)
        audit_record(
            actor=actor,
            verb="application.datasets_set",
            target=application,
            payload={
                "datasets": sorted(d.identifier for d in requested),
                "access_modes": {
                    d.identifier: row["access_mode"].code if row["access_mode"] else None
                    for d, row in sorted(rows.items(), key=lambda pair: pair[0].identifier)
                },
            },
        )
        _signature_void_if_changed(actor=actor, application=application)
    return application


def application_add_dataset(
    *, actor: User, application: Application, dataset: Dataset, justification: str = "", access_mode=None
) -> ApplicationDataset:
    """Add one published dataset to a draft or returned application of the actor's team (and take it
    out of the actor's basket). Its access mode is `access_mode` (a code the dataset offers) or, when
    the dataset offers only one, that one; else it is chosen later on the datasets section."""
    with transaction.atomic():
        application = _require_editable(actor=actor, application=application)
        if dataset.status != DatasetStatus.PUBLISHED:
            message = f"{dataset.identifier} is not published: it cannot be requested."
            raise InvalidInput(message, fields={"dataset": [message]})
        if application.requested.filter(dataset=dataset).exists():
            message = f"{application.reference} asks for {dataset.identifier} already."
            raise InvalidInput(message, fields={"dataset": [message]})
        item = ApplicationDataset.objects.create(
            application=application,
            dataset=dataset,
            justification=(justification or "").strip(),
            access_mode=_mode_for(dataset, access_mode, None),
        )
        BasketItem.objects.filter(user=actor, dataset=dataset).delete()
        audit_record(
            actor=actor,
            verb="application.dataset_add",
            target=application,
            payload={"dataset": dataset.identifier, "access_mode": item.access_mode.code if item.access_mode else None},
        )
        _signature_void_if_changed(actor=actor, application=application)  # the datasets are part of what is signed
    return item


INVITATION_SALT = "access_requests.team-invitation"


def team_invitation_path(member: TeamMember) -> str:
    """The signed link in the invitation e-mail; it stops working when the invitation is renewed or removed."""
    token = signing.dumps(member.invitation_key, salt=INVITATION_SALT)
    return reverse("access_requests:invitation", kwargs={"token": token})


def team_invitation_url(member: TeamMember) -> str:
    return settings.SITE_URL + team_invitation_path(member)


def _invite(*, actor: User, application: Application, member: TeamMember) -> None:
    member.invited_by = actor
    member.invited_at = timezone.now()
    member.invitation_key = secrets.token_urlsafe(32)
    member.expires_at = timezone.now() + timedelta(days=settings.TEAM_INVITATION_MAX_AGE_DAYS)
    member.declined_at = None
    member.save()
    notification_queue(
        to=member.email,
        template="team_invitation",
        context={
            "application": application,
            "inviter": actor,
            "member": member,
            "url": team_invitation_url(member),
            "days": settings.TEAM_INVITATION_MAX_AGE_DAYS,
        },
    )


def team_member_add(*, actor: User, application: Application, email: str, role: str = "Researcher") -> TeamMember:
    """Invite someone to the team by e-mail. Nobody joins until they accept (`team_invitation_accept`).

    The answer is the same whether or not the address has an account: no account is looked up.
    A declined or expired invitation to the same address is renewed (a new link; the old one
    stops working). Rate-limited per inviting user (INVITATION_RATE_PER_HOUR).
    """
    email = User.objects.normalize_email(email or "").lower().strip()
    if "@" not in email:
        raise InvalidInput("Give an e-mail address.", fields={"email": ["Enter a valid e-mail address."]})
    with transaction.atomic():
        application = _require_editable(actor=actor, application=application)
        rate_limit_check(
            scope="team-invitation",
            subject=str(actor.pk),
            limit=settings.INVITATION_RATE_PER_HOUR,
            message="You have sent too many invitations in the last hour: try again later.",
        )
        member = application.team.select_for_update().filter(email=email).first()
        if member is not None and member.invitation_state in {"member", "pending"}:
            state = "on the team" if member.is_member else "invited"
            raise InvalidInput(f"{email} is {state} already.", fields={"email": [f"Already {state}."]})
        renewed = member is not None
        if member is None:
            member = TeamMember(application=application, email=email)
        member.role = role.strip() or "Researcher"
        _invite(actor=actor, application=application, member=member)
        audit_record(
            actor=actor,
            verb="application.team_invite",
            target=application,
            payload={"email": email, "role": member.role, "renewed": renewed},
        )
    return member


def team_member_remove(*, actor: User, application: Application, member: TeamMember) -> None:
    """Remove a member, or withdraw an invitation (its link stops working). The applicant stays."""
    with transaction.atomic():
        application = _require_editable(actor=actor, application=application)
        if member.application_id != application.pk:
            raise InvalidInput("Not a member of this application.")
        if member.user_id == application.applicant_id:
            raise InvalidInput("The applicant cannot be removed from the team.", fields={"email": ["The applicant."]})
        if member.user_id:
            remove_perm(VIEW, member.user, application)
            remove_perm(CHANGE, member.user, application)
        audit_record(
            actor=actor,
            verb="application.team_remove",
            target=application,
            payload={"email": member.email, "was": member.invitation_state},
        )
        member.delete()


def team_invitation_find(*, user: User, token: str) -> TeamMember | None:
    """The open invitation behind a link, if it is addressed to `user`'s proved address; else None.

    A link followed by anyone else (another address, an unproved account, a tampered or expired
    link, a withdrawn or answered invitation) finds nothing, and the caller learns nothing.
    """
    if not getattr(user, "is_authenticated", False) or user.email_verified_at is None:
        return None
    try:
        key = signing.loads(token, salt=INVITATION_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(key, str) or not key:
        return None
    member = (
        TeamMember.objects.select_related("application", "invited_by")
        .filter(invitation_key=key, email__iexact=user.email)
        .first()
    )
    if member is None or member.invitation_state != "pending":
        return None
    return member


def team_invitations_open_for(*, user: User):
    """Open invitations to `user`'s proved address, newest first (a query: the page reads it a page at
    a time; index `team_member_email_ci`)."""
    if not getattr(user, "is_authenticated", False) or user.email_verified_at is None:
        return TeamMember.objects.none()
    return (
        TeamMember.objects.select_related("application", "invited_by")
        .filter(email__iexact=user.email, joined_at__isnull=True, declined_at__isnull=True)
        .exclude(invitation_key="")
        .filter(expires_at__gt=timezone.now())
        .order_by("-invited_at", "-pk")
    )


def _open_invitation(*, actor: User, member: TeamMember) -> TeamMember:
    """Lock the invitation and refuse unless it is open and addressed to the actor's proved address."""
    locked = TeamMember.objects.select_for_update().select_related("application").filter(pk=member.pk).first()
    if (
        locked is None
        or actor.email_verified_at is None
        or locked.email.lower() != actor.email.lower()
        or locked.invitation_state != "pending"
    ):
        raise NotPermitted("This invitation is not open to you.", code="invitation_unavailable")
    return locked


def team_invitation_accept(*, actor: User, member: TeamMember) -> TeamMember:
    """The invited person joins the team: only now do they see the application and its documents."""
    with transaction.atomic():
        member = _open_invitation(actor=actor, member=member)
        application = member.application
        if application.team.filter(user=actor).exclude(pk=member.pk).exists():
            raise InvalidInput("You are on this application's team already.")
        member.user = actor
        member.joined_at = timezone.now()
        member.invitation_key = ""
        member.save(update_fields=["user", "joined_at", "invitation_key"])
        _grant_team_perms(actor, application)
        audit_record(actor=actor, verb="application.team_accept", target=application, payload={"email": member.email})
        # an invitation sent before the approval may be accepted after it: the agreement names the team
        from access_requests.services.agreements import agreements_follow

        agreements_follow(
            actor=actor,
            application=application,
            reason=f"{actor.full_name or actor.email} joined the team after the approval.",
        )
    return member


def team_invitation_decline(*, actor: User, member: TeamMember) -> TeamMember:
    """The invited person says no; the link stops working and the team sees "declined"."""
    with transaction.atomic():
        member = _open_invitation(actor=actor, member=member)
        member.declined_at = timezone.now()
        member.invitation_key = ""
        member.save(update_fields=["declined_at", "invitation_key"])
        audit_record(
            actor=actor, verb="application.team_decline", target=member.application, payload={"email": member.email}
        )
    return member


def _covered(application: Application, dataset_ids) -> list[ApplicationDataset]:
    ids = [int(i) for i in dataset_ids or []]
    covered = list(application.requested.filter(pk__in=ids))
    if len(covered) != len(set(ids)):
        raise InvalidInput("Covered datasets must be datasets of this application.", fields={"datasets": ["Unknown."]})
    return covered


def ethics_approval_add(
    *,
    actor: User,
    application: Application,
    committee_name: str,
    reference: str,
    approved_on: date,
    expires_on: date,
    covered_ids: list[int],
    document,
) -> EthicsApproval:
    """Record an ethics approval with its PDF and the requested datasets it covers.

    The PDF is judged by parsing and takes its place in storage only when the transaction commits:
    a refusal, at any step, leaves no file behind (see services/documents.py)."""
    with documents_staged() as staged, transaction.atomic():
        application = _require_editable(actor=actor, application=application)
        if approved_on and expires_on and expires_on < approved_on:
            raise InvalidInput(
                "The approval expires before it was given.", fields={"expires_on": ["Before the approval date."]}
            )
        if not committee_name or not reference:
            raise InvalidInput(
                "Name the ethics committee and the approval's reference.",
                fields={
                    k: ["This field is required."]
                    for k, v in (("committee_name", committee_name), ("reference", reference))
                    if not v
                },
            )
        covered = _covered(application, covered_ids)
        approval = EthicsApproval(
            application=application,
            committee_name=committee_name.strip(),
            reference=reference.strip(),
            approved_on=approved_on,
            expires_on=expires_on,
            uploaded_by=actor,
        )
        # Validated before the document is read, so a refusal costs no parsing.
        approval.full_clean(exclude=["document_path", "document_name", "document_sha256", "document_size"])
        stored = document_store(
            upload=document, field="document", folder=f"applications/{application.reference}", staged=staged
        )
        approval.document_path, approval.document_name = stored["path"], stored["name"]
        approval.document_sha256, approval.document_size = stored["sha256"], stored["size"]
        approval.save()
        approval.datasets.set(covered)
        audit_record(
            actor=actor,
            verb="application.ethics_add",
            target=application,
            payload={
                "approval": approval.pk,
                "reference": approval.reference,
                "expires_on": expires_on,
                "sha256": stored["sha256"],
                "covers": [c.dataset.identifier for c in covered],
            },
        )
    return approval


def ethics_approval_remove(*, actor: User, application: Application, approval: EthicsApproval) -> None:
    """Remove an approval from the application. Its PDF is deleted from storage after the commit,
    unless a submission included it: then it stays, read-only, in the application's history."""
    with transaction.atomic():
        application = _require_editable(actor=actor, application=application)
        if approval.application_id != application.pk:
            raise InvalidInput("Not an approval of this application.")
        deleted = document_release(application=application, relative=approval.document_path)
        audit_record(
            actor=actor,
            verb="application.ethics_remove",
            target=application,
            payload={
                "approval": approval.pk,
                "reference": approval.reference,
                "sha256": approval.document_sha256,
                "document": "deleted" if deleted else "kept in the submission history",
            },
        )
        approval.delete()


DPIA_FIELDS = [
    "data_categories",
    "processing_description",
    "residual_risk",
    "dpo_name",
    "dpo_consulted_on",
    "conclusion",
]


def dpia_update(*, actor: User, application: Application, data: dict, document=None) -> Dpia:
    """Update the structured DPIA (and optionally attach its document, replacing the one before).

    A new document takes its place in storage only when the transaction commits; the one it
    replaces is deleted after the commit unless a submission included it (then it stays in the
    application's history)."""
    with documents_staged() as staged, transaction.atomic():
        application = _require_editable(actor=actor, application=application)
        unknown = set(data) - set(DPIA_FIELDS)
        if unknown:
            raise InvalidInput("Unknown fields.", fields={name: ["Unknown field."] for name in sorted(unknown)})
        dpia = application.dpia
        for field, value in data.items():
            setattr(dpia, field, value)
        dpia.full_clean(exclude=["application"])  # before the document is read: a refusal costs no parsing
        if document is not None:
            stored = document_store(
                upload=document, field="document", folder=f"applications/{application.reference}", staged=staged
            )
            replaced = dpia.document_path
            dpia.document_path, dpia.document_name, dpia.document_sha256 = (
                stored["path"],
                stored["name"],
                stored["sha256"],
            )
            if replaced:
                document_release(application=application, relative=replaced)
        dpia.save()
        audit_record(
            actor=actor,
            verb="application.dpia_update",
            target=application,
            payload={"fields": sorted(data), "document": dpia.document_sha256 if document is not None else None},
        )
    return dpia


def dpia_risk_add(
    *, actor: User, application: Application, description: str, likelihood: int, severity: int, mitigation: str
) -> DpiaRisk:
    errors = {}
    if not (description or "").strip():
        errors["description"] = ["Describe the risk."]
    for name, value in (("likelihood", likelihood), ("severity", severity)):
        if value not in (1, 2, 3):
            errors[name] = ["Choose 1, 2 or 3."]
    if errors:
        raise InvalidInput("The risk is incomplete.", fields=errors)
    with transaction.atomic():
        application = _require_editable(actor=actor, application=application)
        risk = DpiaRisk.objects.create(
            dpia=application.dpia,
            description=description.strip(),
            likelihood=likelihood,
            severity=severity,
            mitigation=(mitigation or "").strip(),
        )
        audit_record(
            actor=actor,
            verb="application.dpia_risk_add",
            target=application,
            payload={"risk": risk.pk, "likelihood": likelihood, "severity": severity},
        )
    return risk


def dpia_risk_remove(*, actor: User, application: Application, risk: DpiaRisk) -> None:
    with transaction.atomic():
        application = _require_editable(actor=actor, application=application)
        if risk.dpia.application_id != application.pk:
            raise InvalidInput("Not a risk of this application.")
        audit_record(actor=actor, verb="application.dpia_risk_remove", target=application, payload={"risk": risk.pk})
        risk.delete()


REPRESENTATION_FIELDS = ["institution_legal_name", "signatory_name", "signatory_role", "signatory_email"]
SIGNATURE_SALT = "access_requests.signatory-link"
SIGNATORY_ACCEPTS = (
    "The legal statements are accepted by your institution's signatory, not by the applicant: "
    "name the signatory and ask them to sign."
)


def team_emails(application: Application) -> set[str]:
    """The addresses of the applicant and of those who joined the team (not of open invitations)."""
    emails = {m.email.lower() for m in application.team.filter(joined_at__isnull=False) if m.email}
    return emails | {application.applicant.email.lower()}


def representations_update(*, actor: User, application: Application, data: dict, accept=None) -> Representations:
    """Record the institution and its signatory (name, role, e-mail address).

    Statements are accepted by the signatory alone (`representations_accept`): `accept` is refused here.
    A change to what the signatory signs voids their acceptances (`_signature_void_if_changed`)."""
    if accept:
        raise InvalidInput(SIGNATORY_ACCEPTS, code="signatory_accepts", fields={"accept": [SIGNATORY_ACCEPTS]})
    unknown = set(data) - set(REPRESENTATION_FIELDS)
    if unknown:
        raise InvalidInput("Unknown fields.", fields={n: ["Unknown field."] for n in sorted(unknown)})
    with transaction.atomic():
        application = _require_editable(actor=actor, application=application)
        reps = Representations.objects.select_for_update().get(application=application)
        changed = []
        for field, value in data.items():
            value = (value or "").strip()
            if field == "signatory_email":
                value = value.lower()
            if getattr(reps, field) != value:
                setattr(reps, field, value)
                changed.append(field)
        if reps.signatory_email and reps.signatory_email in team_emails(application):
            message = "The signatory signs for the institution and cannot be on the application's team."
            raise InvalidInput(message, fields={"signatory_email": [message]})
        reps.full_clean(exclude=["application"])
        reps.save()
        audit_record(
            actor=actor,
            verb="application.representations_update",
            target=application,
            payload={"fields": sorted(changed)},
        )
        _signature_void_if_changed(actor=actor, application=application)
    return reps


def representations_summary(application: Application) -> dict:
    """What the signatory sees and signs: nothing else of the application is shown to them."""
    reps = application.representations
    return {
        "reference": application.reference,
        "title": application.title,
        "institution": reps.institution_legal_name,
        "lay_summary": application.lay_summary,
        "datasets": [
            {"identifier": item.dataset.identifier, "title": item.dataset.title}
            for item in application.requested.select_related("dataset").order_by("dataset__identifier")
        ],
        "access_start": application.access_start,
        "access_end": application.access_end,
        "access_months": application.access_months,
    }


def representations_covered_hash(application: Application) -> str:
    """SHA-256 of what the statements cover: the summary the signatory reads and who signs for whom.

    The fields: reference, title, lay summary (the project's purpose as the signatory reads it), the
    institution's legal name, the signatory's name, role and e-mail address, the requested datasets
    and the access period (start and months)."""
    reps = Representations.objects.get(application_id=application.pk)
    fresh = Application.objects.get(pk=application.pk)
    covered = {
        "reference": fresh.reference,
        "title": fresh.title,
        "lay_summary": fresh.lay_summary,
        "institution": reps.institution_legal_name,
        "signatory": [reps.signatory_name, reps.signatory_role, reps.signatory_email.lower()],
        "datasets": sorted(fresh.requested.values_list("dataset__identifier", flat=True)),
        "access_start": fresh.access_start.isoformat() if fresh.access_start else None,
        "access_months": fresh.access_months,
    }
    encoded = json.dumps(covered, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(encoded).hexdigest()


def _signature_void_if_changed(*, actor, application: Application) -> list[str]:
    """Void the standing acceptances whose covered hash is no longer the application's (audited, in the
    caller's transaction); the signatory's link stops working and the team asks them again."""
    live = list(application.statement_acceptances.select_for_update().filter(voided_at__isnull=True))
    if not live:
        return []
    current = representations_covered_hash(application)
    stale = [a for a in live if a.covered_sha256 != current]
    if not stale:
        return []
    now = timezone.now()
    StatementAcceptance.objects.filter(pk__in=[a.pk for a in stale]).update(voided_at=now)
    Representations.objects.filter(application_id=application.pk).update(signature_key="", signature_expires_at=None)
    voided = [a.statement for a in stale]
    audit_record(
        actor=actor,
        verb="application.representations_void",
        target=application,
        payload={"statements": voided, "reason": "what the statements cover changed", "covered_sha256": current},
    )
    return voided


def signature_path(reps: Representations) -> str:
    token = signing.dumps({"r": reps.pk, "k": reps.signature_key}, salt=SIGNATURE_SALT)
    return reverse("access_requests:signature", kwargs={"token": token})


def signature_from_token(token: str) -> Representations | None:
    """The representations an open signatory link names, or None (tampered, replaced or expired)."""
    try:
        value = signing.loads(str(token), salt=SIGNATURE_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("k"), str) or not value["k"]:
        return None
    reps = (
        Representations.objects.select_related("application", "application__applicant")
        .filter(pk=value.get("r") if isinstance(value.get("r"), int) else None, signature_key=value["k"])
        .first()
    )
    return reps if reps is not None and reps.signature_link_open else None


def is_signatory(user, reps: Representations) -> bool:
    """The signatory is whoever is signed in with a proved address equal to the named signatory's."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and user.email_verified_at is not None
        and reps.signatory_email
        and user.email.lower() == reps.signatory_email.lower()
    )


def representations_request_signature(*, actor: User, application: Application) -> Representations:
    """Send the named signatory a signed, expiring link to read the summary and accept the statements.
    Asking again replaces the link (the one before stops working). Rate-limited like invitations."""
    with transaction.atomic():
        application = _require_editable(actor=actor, application=application)
        reps = Representations.objects.select_for_update().get(application=application)
        missing = {
            field: ["This field is required."]
            for field in ("institution_legal_name", "signatory_name", "signatory_email")
            if not getattr(reps, field).strip()
        }
        if missing:
            raise InvalidInput(
                "Give the institution's legal name and the signatory's name and e-mail address first.",
                fields=missing,
            )
        if application.statement_acceptances.filter(voided_at__isnull=True).count() == len(LegalStatement.values):
            raise InvalidInput("The signatory has accepted every statement already.", code="already_signed")
        rate_limit_check(
            scope="signature-request",
            subject=str(actor.pk) if not isinstance(actor, str) else actor,
            limit=settings.INVITATION_RATE_PER_HOUR,
            message="You have asked for too many signatures in the last hour: try again later.",
        )
        days = settings.SIGNATURE_LINK_MAX_AGE_DAYS
        reps.signature_key = secrets.token_urlsafe(32)
        reps.signature_requested_at = timezone.now()
        reps.signature_expires_at = reps.signature_requested_at + timedelta(days=days)
        reps.save(update_fields=["signature_key", "signature_requested_at", "signature_expires_at", "updated_at"])
        notification_queue(
            to=reps.signatory_email,
            template="signature_request",
            context={
                "application": application,
                "reps": reps,
                "requester": actor,
                "url": settings.SITE_URL + signature_path(reps),
                "days": days,
            },
        )
        audit_record(
            actor=actor,
            verb="application.signature_request",
            target=application,
            payload={"signatory_email": reps.signatory_email, "expires_at": reps.signature_expires_at},
        )
    return reps


def representations_accept(
    *, actor: User, reps: Representations, statements: list[str], covered_sha256: str
) -> list[StatementAcceptance]:
    """The signatory accepts statements (their password was confirmed by the caller, the page's form).

    Each acceptance records the signatory, the time, the statement's wording and the hash of the summary
    they read (`covered_sha256`, which must still be the application's: a change while they read is
    refused). Only while the application is a draft or returned, through an open link."""
    bad = [code for code in statements if code not in LegalStatement.values]
    if bad or not statements:
        message = f"Unknown statements: {', '.join(bad)}." if bad else "Tick the statements you accept."
        raise InvalidInput(message, fields={"statements": [message]})
    with transaction.atomic():
        reps = Representations.objects.select_for_update().select_related("application").filter(pk=reps.pk).first()
        if reps is None or not reps.signature_link_open or not is_signatory(actor, reps):
            raise NotPermitted("This signature link is not open to you.", code="signature_unavailable")
        application = _lock(reps.application)
        if not application.is_editable_by_applicant:
            raise TransitionError(
                f"Application {application.reference} is {application.get_status_display().lower()}: its statements "
                "can be accepted only while it is a draft or returned for revision."
            )
        if actor.email.lower() in team_emails(application):
            raise NotPermitted("The signatory cannot be on the application's team.", code="signatory_on_team")
        current = representations_covered_hash(application)
        if covered_sha256 != current:
            raise TransitionError(
                "The application changed while you were reading it: read the summary again before you accept.",
                code="summary_changed",
            )
        standing = set(
            application.statement_acceptances.filter(voided_at__isnull=True).values_list("statement", flat=True)
        )
        now = timezone.now()
        created = [
            StatementAcceptance.objects.create(
                application=application,
                statement=code,
                text=LegalStatement(code).label,
                accepted_by=actor,
                accepted_at=now,
                covered_sha256=current,
            )
            for code in LegalStatement.values
            if code in statements and code not in standing
        ]
        audit_record(
            actor=actor,
            verb="application.statements_accept",
            target=application,
            payload={"statements": [a.statement for a in created], "covered_sha256": current},
        )
    return created


def application_delete_draft(*, actor: User, application: Application) -> None:
    """The applicant may delete a draft that was never submitted; submitted history is never deleted."""
    with transaction.atomic():
        application = _lock(application)
        if application.applicant_id != actor.pk:
            raise NotPermitted("Only the applicant can delete the draft.")
        if application.status != ApplicationStatus.DRAFT or application.submission_count:
            raise TransitionError("Only a draft that was never submitted can be deleted; this one has a history.")
        audit_record(
            actor=actor,
            verb="application.delete_draft",
            target=application,
            payload={"reference": application.reference},
        )
        documents = [a.document_path for a in application.ethics_approvals.all()] + [
            path for path in [application.dpia.document_path] if path
        ]
        # Object permissions are generic rows that do not cascade: remove them with the draft.
        UserObjectPermission.objects.filter(
            content_type=ContentType.objects.get_for_model(Application), object_pk=str(application.pk)
        ).delete()
        application.delete()
        transaction.on_commit(lambda: documents_delete(documents))
