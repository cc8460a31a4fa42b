"""The portal's one access model: how a caller stands to an object, what each relation may do, and
the declared table of every URL.

- A *relation* is a fact about the caller and (when there is one) the object: signed in, holds the
  RDO role, is on the application's team, stewards the dataset's data holder ... Relations to an
  application encode separation of duties: someone on its team (or who started it) is never its
  reviewing RDO, committee or steward, whatever roles they hold.
- A *rule* names the relations that may do something, and the rule that decides whether a refused
  caller may at least see the object (then the refusal is 403) or not (404, so nothing leaks).
- The *URL table* (`URLS`) gives, for every named URL pattern and every HTTP method it accepts, the
  rule that guards it and whether the act is decisive (asks for the password again, "sudo mode").
  `AccessGateMiddleware` enforces it for pages and `DeclaredAccess` for the API, before any view
  runs; a pattern missing from the table is refused and reported by the system check. Getters and
  services ask the same rules through `decide` and `require`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404

logger = logging.getLogger("portal.access")


class Rel(StrEnum):
    ANYONE = "anyone"
    SIGNED_IN = "signed_in"
    RESEARCHER = "researcher"
    RDO = "rdo"
    STEWARD = "steward"
    COMMITTEE = "committee"
    # to an application
    APPLICANT = "applicant"
    TEAM = "team"
    REVIEWING_RDO = "reviewing_rdo"
    ASSIGNED_COMMITTEE = "assigned_committee"
    COMMITTEE_CHAIR = "committee_chair"  # chairs the assigned committee (holds ASSIGNED_COMMITTEE too)
    REQUESTED_STEWARD = "requested_steward"
    # to a dataset
    PUBLISHED = "published"
    HOLDER_STEWARD = "holder_steward"
    # to a personal object: an API token, a team invitation addressed to the caller's proved address
    OWNER = "owner"
    INVITEE = "invitee"
    # to a signatory link: the signed-in user whose proved address is the named signatory's
    SIGNATORY = "signatory"
    # to a data-access agreement: entitled to sign its current version for one of its parties (the
    # institution's signatory by proved address, a steward of a data holder it names, the reviewing RDO)
    AGREEMENT_PARTY = "agreement_party"
    # to an access grant: named in it (the executed agreement's team), whatever its state
    GRANTEE = "grantee"
    # a request signed by a partner node of the federation (federation/authentication.py); no person holds it
    PARTNER_NODE = "partner_node"


# Relations an anonymous caller can hold: a rule admitting none of them sends them to sign in (401).
ANONYMOUS_RELATIONS = frozenset({Rel.ANYONE, Rel.PUBLISHED})


@dataclass(frozen=True)
class Rule:
    kind: str | None
    allow: frozenset[Rel]
    sees: str | None = None  # the rule that lets a refused caller see the object (403) rather than not (404)
    refusal: str = "You may not do this."


def _rule(kind, *allow, sees=None, refusal="You may not do this.") -> Rule:
    return Rule(kind, frozenset(allow), sees, refusal)


RULES: dict[str, Rule] = {
    "anyone": _rule(None, Rel.ANYONE),
    "partner_node": _rule(None, Rel.PARTNER_NODE, refusal="Only partner nodes, by their signatures, may ask this."),
    "signed_in": _rule(None, Rel.SIGNED_IN),
    "researcher": _rule(None, Rel.RESEARCHER, refusal="Only researchers can do this."),
    "rdo": _rule(None, Rel.RDO, refusal="Only the Research Data Office can do this."),
    "steward": _rule(None, Rel.STEWARD, refusal="Only the stewards of a data holder can do this."),
    "committee": _rule(None, Rel.COMMITTEE, refusal="Only the members of an access committee can do this."),
    "application.view": _rule(
        "application", Rel.TEAM, Rel.REVIEWING_RDO, Rel.ASSIGNED_COMMITTEE, Rel.REQUESTED_STEWARD
    ),
    "application.team": _rule(
        "application", Rel.TEAM, sees="application.view", refusal="Only the application's team can change it."
    ),
    "application.applicant": _rule(
        "application", Rel.APPLICANT, sees="application.view", refusal="Only the applicant can do this."
    ),
    "application.review": _rule(
        "application",
        Rel.REVIEWING_RDO,
        sees="application.view",
        refusal="Only the Research Data Office, and nobody on the application's team, can do this.",
    ),
    "application.note": _rule(
        "application",
        Rel.REVIEWING_RDO,
        Rel.ASSIGNED_COMMITTEE,
        sees="application.view",
        refusal="Only the Research Data Office and the reviewing committee can do this.",
    ),
    "application.committee": _rule(
        "application",
        Rel.ASSIGNED_COMMITTEE,
        sees="application.view",
        refusal="Only the members of the reviewing committee, and nobody on the application's team, can do this.",
    ),
    "application.chair": _rule(
        "application",
        Rel.COMMITTEE_CHAIR,
        sees="application.view",
        refusal="Only the chair of the reviewing committee, and nobody on the application's team, can do this.",
    ),
    "dataset.view": _rule("dataset", Rel.PUBLISHED, Rel.HOLDER_STEWARD, Rel.RDO),
    "dataset.steward": _rule(
        "dataset",
        Rel.HOLDER_STEWARD,
        sees="dataset.view",
        refusal="Only the stewards of the dataset's data holder may change it.",
    ),
    "dataset.basket": _rule(
        "dataset", Rel.RESEARCHER, sees="dataset.view", refusal="Only researchers collect datasets to apply for."
    ),
    "token.owner": _rule("token", Rel.OWNER),
    "invitation.answer": _rule("invitation", Rel.INVITEE),
    "signature.sign": _rule("signature", Rel.SIGNATORY),
    # an application's agreement: whoever may see the application, and its parties (the institution's
    # signatory may hold no role and be on no team)
    "agreement.view": _rule(
        "agreement", Rel.TEAM, Rel.REVIEWING_RDO, Rel.ASSIGNED_COMMITTEE, Rel.REQUESTED_STEWARD, Rel.AGREEMENT_PARTY
    ),
    "agreement.sign": _rule(
        "agreement",
        Rel.AGREEMENT_PARTY,
        sees="agreement.view",
        refusal="Only a party to the agreement, or someone entitled to sign for one, can sign it.",
    ),
    "agreement.review": _rule(
        "agreement",
        Rel.REVIEWING_RDO,
        sees="agreement.view",
        refusal="Only the Research Data Office, and nobody on the application's team, can do this.",
    ),
    # ending access early: the reviewing RDO, or the chair of the committee that decided
    "application.revoke": _rule(
        "application",
        Rel.REVIEWING_RDO,
        Rel.COMMITTEE_CHAIR,
        sees="application.view",
        refusal="Only the Research Data Office or the committee's chair, and nobody on the team, can revoke access.",
    ),
    # an access grant: its grantees, and whoever may see its application
    "grant.view": _rule(
        "grant", Rel.GRANTEE, Rel.TEAM, Rel.REVIEWING_RDO, Rel.ASSIGNED_COMMITTEE, Rel.REQUESTED_STEWARD
    ),
    "grant.use": _rule("grant", Rel.GRANTEE, sees="grant.view", refusal="Only the people the grant names can use it."),
    "grant.review": _rule(
        "grant",
        Rel.REVIEWING_RDO,
        sees="grant.view",
        refusal="Only the Research Data Office, and nobody on the application's team, can do this.",
    ),
    "grant.revoke": _rule(
        "grant",
        Rel.REVIEWING_RDO,
        Rel.COMMITTEE_CHAIR,
        sees="grant.view",
        refusal="Only the Research Data Office or the committee's chair, and nobody on the team, can revoke access.",
    ),
}


def seeing(rule: Rule) -> Rule:
    """The rule that decides whether a caller may see the object `rule` is about (itself if it says none)."""
    return RULES[rule.sees] if rule.sees else rule


# --- relations ------------------------------------------------------------------------------


def _role_relations(user) -> set[Rel]:
    from portal.models import Role

    relations = {Rel.ANYONE}
    if user is None or not user.is_authenticated or not user.is_active:
        return relations
    relations.add(Rel.SIGNED_IN)
    roles = user.roles
    for role, relation in (
        (Role.RESEARCHER, Rel.RESEARCHER),
        (Role.RDO, Rel.RDO),
        (Role.STEWARD, Rel.STEWARD),
        (Role.COMMITTEE, Rel.COMMITTEE),
    ):
        if role in roles:
            relations.add(relation)
    return relations


def _application_relations(user, application) -> set[Rel]:
    from access_requests.permissions import application_relations

    return application_relations(user, application)


def _dataset_relations(user, dataset) -> set[Rel]:
    from catalogue.permissions import dataset_relations

    return dataset_relations(user, dataset)


def _token_relations(user, token) -> set[Rel]:
    return {Rel.OWNER} if user.is_authenticated and token.user_id == user.pk else set()


@dataclass(frozen=True)
class Kind:
    """An object kind the table guards: the URL argument that names it, how to load it, its relations."""

    kwarg: str
    load: Callable[[str], object | None]
    relations: Callable[[object, object], set[Rel]]
    missing: str = "Not found."


def _load_application(value):
    from access_requests.models import Application

    return Application.objects.select_related("committee").filter(pk=value).first()


def _load_dataset(value):
    from catalogue.models import Dataset

    return Dataset.objects.select_related("holder").filter(identifier=value).first()


def _load_token(value):
    from portal.models import ApiToken

    return ApiToken.objects.filter(pk=value).first()


def _load_invitation(value):
    from access_requests.permissions import invitation_from_token

    return invitation_from_token(value)


def _invitation_relations(user, member) -> set[Rel]:
    from access_requests.permissions import invitation_relations

    return invitation_relations(user, member)


def _load_signature(value):
    from access_requests.permissions import signature_from_token

    return signature_from_token(value)


def _signature_relations(user, reps) -> set[Rel]:
    from access_requests.permissions import signature_relations

    return signature_relations(user, reps)


def _load_agreement(value):
    from access_requests.permissions import agreement_in_force

    return agreement_in_force(value)


def _agreement_relations(user, agreement) -> set[Rel]:
    from access_requests.permissions import agreement_relations

    return agreement_relations(user, agreement)


def _load_grant(value):
    from access_requests.models import Grant

    return Grant.objects.select_related("application__committee", "dataset").filter(pk=value).first()


def _grant_relations(user, grant) -> set[Rel]:
    from access_requests.permissions import grant_relations

    return grant_relations(user, grant)


KINDS: dict[str, Kind] = {
    "application": Kind("pk", _load_application, _application_relations, "No such application."),
    "dataset": Kind("identifier", _load_dataset, _dataset_relations, "No such dataset."),
    "token": Kind("pk", _load_token, _token_relations, "No such token."),
    "invitation": Kind("token", _load_invitation, _invitation_relations, "This invitation is not available."),
    "signature": Kind("token", _load_signature, _signature_relations, "This signature link is not available."),
    # named by the application's pk: its agreement in force (not voided), if any
    "agreement": Kind("pk", _load_agreement, _agreement_relations, "This application has no data-access agreement."),
    "grant": Kind("grant_pk", _load_grant, _grant_relations, "No such grant."),
}


def relations(user, obj=None, kind: str | None = None) -> frozenset[Rel]:
    """Every relation `user` holds, to `obj` of `kind` when given."""
    found = _role_relations(user)
    if obj is not None and kind is not None:
        found |= KINDS[kind].relations(user, obj)
    return frozenset(found)


# --- decisions ------------------------------------------------------------------------------


def decide(user, rule_name: str, obj=None) -> int:
    """200 when `user` may do what the rule guards to `obj`; else the refusal's status: 401 (sign in
    first), 404 (may not even see the object, or it does not exist) or 403 (may see it, may not do this).
    A rule about an object lets through only those who may see it, whatever else they hold."""
    rule = RULES[rule_name]
    if Rel.PARTNER_NODE in rule.allow:  # a node's endpoint: its signature decides, never a person's session
        return 200 if getattr(user, "is_partner_node", False) else 401
    signed_in = user is not None and user.is_authenticated and user.is_active
    anonymous_may = bool(rule.allow & ANONYMOUS_RELATIONS)
    held = relations(user, obj, rule.kind)
    if rule.kind is not None and (obj is None or not held & seeing(rule).allow):
        return 404 if signed_in or anonymous_may else 401
    if held & rule.allow:
        return 200
    return 403 if signed_in or anonymous_may else 401


def may(user, rule_name: str, obj=None) -> bool:
    return decide(user, rule_name, obj) == 200


def require(user, rule_name: str, obj=None) -> None:
    """For getters and pages: raise Http404 or PermissionDenied unless `user` may."""
    status = decide(user, rule_name, obj)
    if status == 200:
        return
    if status == 404:
        kind = RULES[rule_name].kind
        raise Http404(KINDS[kind].missing if kind else "Not found.")
    raise PermissionDenied(RULES[rule_name].refusal)


def require_actor(actor, rule_name: str, obj=None) -> None:
    """For services, before anything else: raise NotPermitted unless `actor` may. A string actor is
    trusted code of the portal itself (a management command, the demo loader), never a request."""
    from portal.errors import NotPermitted

    if isinstance(actor, str):
        return
    if decide(actor, rule_name, obj) != 200:
        raise NotPermitted(RULES[rule_name].refusal)


# --- the declared table of every URL --------------------------------------------------------


@dataclass(frozen=True)
class Guard:
    rule: str
    sudo: bool | Callable = False  # decisive: the password must have been confirmed recently

    def needs_sudo(self, request, kwargs: dict) -> bool:
        return self.sudo(request, kwargs) if callable(self.sudo) else self.sudo


ANYONE = Guard("anyone")
SIGNED_IN = Guard("signed_in")
APP_VIEW = Guard("application.view")
APP_TEAM = Guard("application.team")
APP_REVIEW = Guard("application.review")
APP_COMMITTEE = Guard("application.committee")
DATASET_STEWARD = Guard("dataset.steward")

# URL name -> HTTP method -> guard. HEAD is answered as GET. A method not listed is 405.
URLS: dict[str, dict[str, Guard]] = {
    # portal: accounts, dashboard, tokens, audit log
    "dashboard": {"GET": SIGNED_IN},
    "login": {"GET": ANYONE, "POST": ANYONE},
    "signup": {"GET": ANYONE, "POST": ANYONE},
    "signup-done": {"GET": ANYONE},
    "email-proof-resend": {"GET": ANYONE, "POST": ANYONE},
    "email-verify": {"GET": ANYONE, "POST": ANYONE},
    "password_reset": {"GET": ANYONE, "POST": ANYONE},
    "password_reset_done": {"GET": ANYONE},
    "password_reset_confirm": {"GET": ANYONE, "POST": ANYONE},
    "password_reset_complete": {"GET": ANYONE},
    "logout": {"POST": ANYONE},
    "sudo": {"GET": SIGNED_IN, "POST": SIGNED_IN},
    "tokens": {"GET": Guard("signed_in", sudo=True), "POST": Guard("signed_in", sudo=True)},
    "token-revoke": {"POST": Guard("token.owner")},
    "audit_log": {"GET": Guard("rdo")},
    "healthz": {"GET": ANYONE},
    "robots": {"GET": ANYONE},
    "api-me": {"GET": SIGNED_IN},
    "api-schema": {"GET": ANYONE},
    "api-docs": {"GET": ANYONE},
    # catalogue pages
    "catalogue:search": {"GET": ANYONE},
    "catalogue:dataset-detail": {"GET": Guard("dataset.view")},
    "catalogue:dataset-apply": {"GET": Guard("dataset.view"), "POST": Guard("dataset.basket")},
    "catalogue:basket": {"GET": Guard("researcher")},
    "catalogue:basket-remove": {"POST": Guard("researcher")},
    "catalogue:steward-datasets": {"GET": Guard("steward")},
    "catalogue:steward-dataset-create": {"GET": Guard("steward"), "POST": Guard("steward")},
    "catalogue:steward-dataset-edit": {"GET": DATASET_STEWARD, "POST": DATASET_STEWARD},
    "catalogue:steward-dataset-publish": {"GET": DATASET_STEWARD, "POST": Guard("dataset.steward", sudo=True)},
    "catalogue:steward-dataset-withdraw": {"GET": DATASET_STEWARD, "POST": Guard("dataset.steward", sudo=True)},
    "catalogue:steward-dataset-files": {"GET": DATASET_STEWARD, "POST": DATASET_STEWARD},
    "catalogue:steward-dataset-file-remove": {"GET": DATASET_STEWARD, "POST": Guard("dataset.steward", sudo=True)},
    # excluding the files that fail the de-identification check removes them, as the removal above does
    "catalogue:steward-dataset-ingestion": {"GET": DATASET_STEWARD, "POST": Guard("dataset.steward", sudo=True)},
    "catalogue:steward-dataset-ingestion-csv": {"GET": DATASET_STEWARD},
    "catalogue:export-ttl": {"GET": ANYONE},
    "catalogue:export-jsonld": {"GET": ANYONE},
    "catalogue:dataset-dcat-ttl": {"GET": Guard("dataset.view")},
    "catalogue:dataset-dcat-jsonld": {"GET": Guard("dataset.view")},
    "catalogue:vocabulary-scheme": {"GET": ANYONE},
    "catalogue:vocabulary-concept": {"GET": ANYONE},
    # federation: the node endpoints answer partner nodes by their signatures (federation/signatures.py)
    "federation:search": {"GET": SIGNED_IN},
    "federation:nodes": {"GET": Guard("rdo"), "POST": Guard("rdo", sudo=True)},
    "federation:node-active": {"POST": Guard("rdo", sudo=True)},
    "federation:node-grants-honour": {"POST": Guard("rdo", sudo=True)},
    "federation:node-identity": {"GET": ANYONE},
    "federation:node-counts": {"POST": Guard("partner_node")},
    "federation:node-grants": {"POST": Guard("partner_node")},
    "federation:node-grant-links": {"POST": Guard("partner_node")},
    # the link is the credential (federation/grants.py): signed, short-lived, bound to grant, grantee, file
    "federation:received-file": {"GET": ANYONE},
    "api-federation-counts": {"POST": SIGNED_IN},
    # catalogue API
    "api-datasets": {"GET": ANYONE, "POST": Guard("steward")},
    "api-dataset-detail": {"GET": Guard("dataset.view"), "PATCH": DATASET_STEWARD},
    "api-dataset-publish": {"POST": Guard("dataset.steward", sudo=True)},
    "api-dataset-withdraw": {"POST": Guard("dataset.steward", sudo=True)},
    "api-dataset-register-files": {"POST": DATASET_STEWARD},
    "api-dataset-file-remove": {"POST": Guard("dataset.steward", sudo=True)},
    # application pages
    "access_requests:application-list": {"GET": SIGNED_IN},
    "access_requests:application-create": {"POST": Guard("researcher")},
    "access_requests:invitation-list": {"GET": SIGNED_IN},
    "access_requests:invitation": {"GET": Guard("invitation.answer"), "POST": Guard("invitation.answer")},
    # the acceptance form itself asks for the password with each statement accepted (its sudo step)
    "access_requests:signature": {"GET": Guard("signature.sign"), "POST": Guard("signature.sign")},
    "access_requests:rdo-queue": {"GET": Guard("rdo")},
    # the committees' settings: who binds the decisions and how, so every change asks for the password
    "access_requests:committee-list": {"GET": Guard("rdo")},
    "access_requests:committee-new": {"POST": Guard("rdo", sudo=True)},
    "access_requests:committee-settings": {"GET": Guard("rdo"), "POST": Guard("rdo", sudo=True)},
    "access_requests:committee-member-add": {"POST": Guard("rdo", sudo=True)},
    "access_requests:committee-holders": {"POST": Guard("rdo", sudo=True)},
    "access_requests:application-detail": {"GET": APP_VIEW},
    "access_requests:message-create": {"POST": APP_VIEW},
    "access_requests:section-edit": {"GET": APP_TEAM, "POST": APP_TEAM},
    "access_requests:dataset-add": {"POST": APP_TEAM},
    "access_requests:signature-request": {"POST": APP_TEAM},
    "access_requests:dataset-remove": {"POST": APP_TEAM},
    "access_requests:team-remove": {"POST": APP_TEAM},
    "access_requests:ethics-remove": {"POST": APP_TEAM},
    "access_requests:dpia-risk-add": {"POST": APP_TEAM},
    "access_requests:dpia-risk-remove": {"POST": APP_TEAM},
    "access_requests:application-submit": {
        "GET": APP_TEAM,
        "POST": Guard("application.applicant", sudo=True),
    },
    "access_requests:application-withdraw": {
        "GET": Guard("application.applicant"),
        "POST": Guard("application.applicant", sudo=True),
    },
    "access_requests:application-delete": {
        "GET": Guard("application.applicant"),
        "POST": Guard("application.applicant"),
    },
    "access_requests:document-ethics": {"GET": APP_VIEW},
    "access_requests:document-dpia": {"GET": APP_VIEW},
    "access_requests:decision-letter": {"GET": APP_VIEW},
    "access_requests:rdo-review": {"GET": APP_REVIEW},
    "access_requests:rdo-checklist": {"POST": APP_REVIEW},
    "access_requests:rdo-return": {"POST": Guard("application.review", sudo=True)},
    "access_requests:rdo-forward": {"POST": Guard("application.review", sudo=True)},
    "access_requests:committee-queue": {"GET": Guard("committee")},
    "access_requests:committee-review": {"GET": APP_COMMITTEE},
    # a member's conflict, checks and vote take seconds: not decisive acts on their own (the chair's decision is)
    "access_requests:committee-conflict": {"POST": APP_COMMITTEE},
    "access_requests:committee-check": {"POST": APP_COMMITTEE},
    "access_requests:committee-vote": {"POST": APP_COMMITTEE},
    "access_requests:committee-decide": {"POST": Guard("application.chair", sudo=True)},
    "access_requests:committee-extend": {"POST": Guard("application.chair", sudo=True)},
    # the data-access agreement: seen by its parties and whoever sees the application; signed by a party
    "access_requests:agreement": {"GET": Guard("agreement.view")},
    "access_requests:agreement-status": {"GET": Guard("agreement.view")},
    "access_requests:agreement-version-pdf": {"GET": Guard("agreement.view")},
    "access_requests:agreement-executed-pdf": {"GET": Guard("agreement.view")},
    "access_requests:agreement-scan-pdf": {"GET": Guard("agreement.view")},
    "access_requests:agreement-sign": {"POST": Guard("agreement.sign", sudo=True)},
    "access_requests:agreement-scan-upload": {"POST": Guard("agreement.sign", sudo=True)},
    "access_requests:agreement-scan-verify": {"POST": Guard("agreement.review", sudo=True)},
    "access_requests:agreement-revise": {"POST": Guard("agreement.review", sudo=True)},
    # the grantee's side of access grants: My data, a grant's page, its manifest and download script
    "my-data": {"GET": SIGNED_IN},
    "grant-detail": {"GET": Guard("grant.view")},
    "grant-manifest": {"GET": Guard("grant.use")},
    "grant-script": {"GET": Guard("grant.use")},
    # the end of access: revocation (the reviewing RDO or the committee's chair), the closeout (the applicant)
    "access_requests:application-revoke": {
        "GET": Guard("application.revoke"),
        "POST": Guard("application.revoke", sudo=True),
    },
    "access_requests:application-closeout": {
        "GET": Guard("application.applicant"),
        "POST": Guard("application.applicant"),
    },
    "access_requests:application-closeout-remind": {"POST": APP_REVIEW},
    # grant lifecycle pages (access_requests/grant_urls.py)
    "grant-revoke": {"GET": Guard("grant.revoke"), "POST": Guard("grant.revoke", sudo=True)},
    "grant-extension": {"GET": Guard("grant.use"), "POST": Guard("grant.use")},
    "grant-extension-decide": {"POST": Guard("grant.review", sudo=True)},
    # applications API
    "api-applications": {"GET": SIGNED_IN, "POST": Guard("researcher")},
    "api-application": {"GET": APP_VIEW, "PATCH": APP_TEAM, "DELETE": Guard("application.applicant")},
    "api-application-datasets": {"PUT": APP_TEAM},
    "api-application-datasets-add": {"POST": APP_TEAM},
    "api-application-team": {"POST": APP_TEAM},
    "api-application-team-member": {"DELETE": APP_TEAM},
    "api-application-ethics": {"POST": APP_TEAM},
    "api-application-ethics-approval": {"DELETE": APP_TEAM},
    "api-application-ethics-document": {"GET": APP_VIEW},
    "api-application-dpia": {"PATCH": APP_TEAM},
    "api-application-dpia-document": {"GET": APP_VIEW},
    "api-application-dpia-risks": {"POST": APP_TEAM},
    "api-application-dpia-risk": {"DELETE": APP_TEAM},
    "api-application-representations": {"PATCH": APP_TEAM},
    "api-application-signature-request": {"POST": APP_TEAM},
    "api-application-check": {"GET": APP_VIEW},
    "api-application-submit": {"POST": Guard("application.applicant", sudo=True)},
    "api-application-return": {"POST": Guard("application.review", sudo=True)},
    "api-application-forward": {"POST": Guard("application.review", sudo=True)},
    "api-application-withdraw": {"POST": Guard("application.applicant", sudo=True)},
    "api-application-checklist": {"PATCH": APP_REVIEW},
    "api-application-messages": {"GET": APP_VIEW, "POST": APP_VIEW},
    "api-application-changes": {"GET": APP_VIEW},
    # committee review API: votes, checks and conflicts are not decisive acts (a member votes in seconds)
    "api-application-rounds": {"GET": APP_VIEW},
    "api-application-round": {"GET": APP_VIEW},
    "api-application-review-conflict": {"POST": Guard("application.committee")},
    "api-application-review-check": {"PUT": Guard("application.committee")},
    "api-application-review-vote": {"PUT": Guard("application.committee")},
    "api-application-decision": {"POST": Guard("application.chair", sudo=True)},
    "api-application-clock": {"GET": APP_VIEW},
    "api-application-clock-extension": {"POST": Guard("application.chair", sudo=True)},
    "api-application-decision-letter": {"GET": APP_VIEW},
    "api-application-agreement": {"GET": Guard("agreement.view")},
    "api-application-agreement-version-pdf": {"GET": Guard("agreement.view")},
    "api-application-agreement-executed-pdf": {"GET": Guard("agreement.view")},
    "api-application-agreement-sign": {"POST": Guard("agreement.sign", sudo=True)},
    "api-application-agreement-scan": {"POST": Guard("agreement.sign", sudo=True)},
    "api-application-agreement-scan-verify": {"POST": Guard("agreement.review", sudo=True)},
    "api-application-agreement-revise": {"POST": Guard("agreement.review", sudo=True)},
    # grants API: the caller's grants, a grant's files, and a fresh download link for one (not decisive:
    # the download script asks for one per file)
    "api-grants": {"GET": SIGNED_IN},
    "api-grant": {"GET": Guard("grant.view")},
    "api-grant-files": {"GET": Guard("grant.use")},
    "api-grant-file-link": {"POST": Guard("grant.use")},
    "api-grant-remote-links": {"POST": Guard("grant.use")},
    # a grant's download link: the link names the grant and the file, and the view checks the grant
    # at every request (access_requests/services/downloads.py); HEAD is answered as GET
    "api-download": {"GET": SIGNED_IN},
    # GA4GH Passport visas for the caller's processing grants, and the public keys that verify them
    "api-passport": {"GET": SIGNED_IN},
    "api-jwks": {"GET": ANYONE},
    "jwks": {"GET": ANYONE},
    "grant-deliveries": {"GET": Guard("grant.review")},
    # grant lifecycle API (access_requests/apis_access.py)
    "api-grant-revoke": {"POST": Guard("grant.revoke", sudo=True)},
    "api-application-revoke": {"POST": Guard("application.revoke", sudo=True)},
    "api-grant-extension": {"POST": Guard("grant.use")},
    "api-grant-extension-decision": {"POST": Guard("grant.review", sudo=True)},
    "api-application-closeout": {"POST": Guard("application.applicant")},
}


def guard_for(view_name: str, method: str) -> Guard | None:
    """The declared guard of a named URL and method (HEAD as GET); None when the method is not declared."""
    methods = URLS.get(view_name)
    if methods is None:
        return None
    return methods.get("GET" if method == "HEAD" else method)


def anonymous_may(view_class, method: str) -> bool:
    """Whether the table lets an anonymous caller through to `view_class` with `method` (for the API
    schema: which operations need credentials)."""
    from django.urls import URLPattern, URLResolver, get_resolver

    def names(resolver, namespace=""):
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                yield from names(entry, f"{namespace}{entry.namespace}:" if entry.namespace else namespace)
            elif isinstance(entry, URLPattern) and getattr(entry.callback, "cls", None) is view_class:
                yield f"{namespace}{entry.name}"

    for name in names(get_resolver()):
        guard = guard_for(name, method.upper())
        if guard is not None:
            return bool(RULES[guard.rule].allow & ANONYMOUS_RELATIONS)
    return False


def url_patterns(resolver=None, prefix: str = "", namespace: str = ""):
    """(view name, route) for every pattern Django knows, namespaces joined with ':'."""
    from django.urls import URLPattern, URLResolver, get_resolver

    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from url_patterns(entry, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            yield (f"{namespace}{entry.name}" if entry.name else None), prefix + str(entry.pattern)


def undeclared_patterns(patterns=None) -> list[str]:
    """Routes with no row in the table (or no name to look one up by)."""
    patterns = list(url_patterns()) if patterns is None else patterns
    return [route if name is None else f"{name} ({route})" for name, route in patterns if name not in URLS]


# --- what a refusal leaves behind -----------------------------------------------------------

REFUSAL_WINDOW_SECONDS = 60
REFUSALS_RECORDED_PER_WINDOW = 20
ANONYMOUS_REFUSALS_RECORDED_PER_WINDOW = 100


def refusal_recordable(request) -> bool:
    """Whether one more refusal of this caller may go to the audit log: at most
    REFUSALS_RECORDED_PER_WINDOW per caller (user, or address for anonymous callers) and window, and
    a bounded number for all anonymous callers together, so that a caller cannot grow the chain
    without bound. A refusal over the budget is logged instead."""
    from portal.ratelimit import client_ip

    user = getattr(request, "user", None)
    signed_in = user is not None and user.is_authenticated
    caller = f"user:{user.pk}" if signed_in else f"addr:{client_ip(request) or ''}"
    budgets = [(f"access-refused:{caller}", REFUSALS_RECORDED_PER_WINDOW)]
    if not signed_in:
        budgets.append(("access-refused:anonymous", ANONYMOUS_REFUSALS_RECORDED_PER_WINDOW))
    for key, limit in budgets:
        cache.add(key, 0, REFUSAL_WINDOW_SECONDS)
        if cache.incr(key) > limit:
            logger.warning("refused %s %s for %s, not recorded: over budget", request.method, request.path, caller)
            return False
    return True


def record_refusal(request, *, status: int, kind: str | None, value) -> None:
    """Put a refused read or act on an object (403 or 404) in the audit log, so probing leaves a
    trace, within the caller's budget (`refusal_recordable`). What is not recorded is still logged."""
    from portal.ratelimit import client_ip
    from portal.services.audit import audit_record

    user = getattr(request, "user", None)
    signed_in = user is not None and user.is_authenticated
    address = client_ip(request) or ""
    if not refusal_recordable(request):
        return
    payload = {"method": request.method, "path": request.path[:300], "status": status}
    if kind:
        payload[kind] = str(value)[:200]
    if not signed_in:
        payload["address"] = address
    with transaction.atomic():
        audit_record(actor=user if signed_in else "anonymous", verb="access.refused", payload=payload)


# --- the gate: the table enforced before any view runs --------------------------------------


@dataclass(frozen=True)
class Verdict:
    status: int  # 200, 401, 403, 404 or 405
    guard: Guard | None = None
    detail: str = ""


def verdict(request, view_name: str | None, kwargs: dict) -> Verdict:
    """What the table says of this request: the guard's rule decided on the object the URL names."""
    if view_name not in URLS:
        logger.error("refused %s %s: the URL has no row in the access table", request.method, request.path)
        return Verdict(403, None, "This address is not open to anyone.")
    guard = guard_for(view_name, request.method)
    if guard is None:
        return Verdict(405)
    rule = RULES[guard.rule]
    obj = None
    if rule.kind is not None:
        kind = KINDS[rule.kind]
        obj = kind.load(kwargs.get(kind.kwarg))
    status = decide(request.user, guard.rule, obj)
    detail = {403: rule.refusal, 404: KINDS[rule.kind].missing if rule.kind else "Not found."}.get(status, "")
    if status in (403, 404) and rule.kind is not None:
        record_refusal(request, status=status, kind=rule.kind, value=kwargs.get(KINDS[rule.kind].kwarg))
    return Verdict(status, guard, detail)


def allowed_methods(view_name: str) -> list[str]:
    methods = list(URLS.get(view_name, {}))
    return methods + (["HEAD"] if "GET" in methods else [])


def _is_gated_by_drf(view_func) -> bool:
    view_class = getattr(view_func, "cls", None)
    return view_class is not None and DeclaredAccess in getattr(view_class, "permission_classes", ())


class AccessGateMiddleware:
    """Enforces the URL table for every page (API views answer through DeclaredAccess, after DRF has
    authenticated the caller's token): 405 for an undeclared method, sign-in for anonymous callers,
    404 or 403 for the rest, and the password prompt for decisive acts outside sudo mode."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        from django.contrib import messages
        from django.contrib.auth.views import redirect_to_login
        from django.http import HttpResponseNotAllowed

        from portal.sudo import sudo_mode_active, sudo_redirect

        if _is_gated_by_drf(view_func):
            return None
        match = request.resolver_match
        found = verdict(request, match.view_name if match else None, view_kwargs)
        if found.status == 405:
            return HttpResponseNotAllowed(allowed_methods(match.view_name))
        if found.status == 401:
            return redirect_to_login(request.get_full_path())
        if found.status == 404:
            raise Http404(found.detail)
        if found.status == 403:
            raise PermissionDenied(found.detail)
        if found.guard.needs_sudo(request, view_kwargs) and not sudo_mode_active(request):
            messages.info(request, "This is a decisive act: confirm your password, then do it again.")
            return sudo_redirect(request)
        return None

    def process_exception(self, request, exception):
        """A service's refusal that a page did not catch is shown with its status, never as a server error."""
        from django.shortcuts import render

        from portal.errors import DomainError

        if not isinstance(exception, DomainError) or request.path.startswith("/api/"):
            return None
        template = {403: "errors/403.html", 400: "errors/400.html"}.get(exception.status, "errors/409.html")
        return render(request, template, {"detail": exception.message}, status=exception.status)


def _drf_permission_class():
    from rest_framework.permissions import BasePermission

    class _DeclaredAccess(BasePermission):
        """The API's one permission class (DEFAULT_PERMISSION_CLASSES): the URL table decides, after
        DRF authenticated the caller. Decisive acts need sudo mode: a session whose password was
        confirmed recently, or the password in `X-Confirm-Password` with a token."""

        def has_permission(self, request, view):
            from rest_framework import exceptions

            from portal.errors import NotPermitted
            from portal.sudo import api_sudo_confirmed

            match = request.resolver_match
            found = verdict(request, match.view_name if match else None, view.kwargs)
            if found.status == 405:
                raise exceptions.MethodNotAllowed(request.method)
            if found.status == 401:
                raise exceptions.NotAuthenticated()
            if found.status == 404:
                raise exceptions.NotFound(found.detail)
            if found.status == 403:
                raise exceptions.PermissionDenied(found.detail)
            if found.guard.needs_sudo(request, view.kwargs) and not api_sudo_confirmed(request):
                raise NotPermitted(
                    "This is a decisive act: confirm your password (with a token, send it in the "
                    "X-Confirm-Password header; in the browser, sign in again or confirm it).",
                    code="sudo_required",
                )
            return True

    _DeclaredAccess.__name__ = _DeclaredAccess.__qualname__ = "DeclaredAccess"
    return _DeclaredAccess


DeclaredAccess = _drf_permission_class()


def check_every_url_declared(app_configs=None, **kwargs):
    """System check: every URL pattern has a row in the access table."""
    from django.core.checks import Error

    return [
        Error(f"URL pattern {missing} has no row in portal.access.URLS.", id="portal.E010")
        for missing in undeclared_patterns()
    ]
