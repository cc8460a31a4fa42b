"""The access matrix: every URL pattern Django knows, every HTTP method the table declares for it (and
one it does not), for every relation a caller can have, on real objects in each application state.

The expected outcome of each cell comes from the declared table (portal.access.URLS and RULES) and
from what this test knows of each persona: the relations below are written out by hand, not asked
of the code under test. A refusal must be the declared status (sign-in, 403 or 404) and change
nothing; an allowed call may still be refused by the object's state or its input (400, 409), but
never as a matter of who the caller is. Each cell runs in a savepoint that is rolled back, so every
cell sees the same objects.
"""

import json
import logging
import re
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from access_requests.models import (
    AgreementSignature,
    AgreementVersion,
    Application,
    ApplicationDataset,
    Closeout,
    Committee,
    ConflictDeclaration,
    DatasetDecision,
    DecisionClockEvent,
    Download,
    DpiaRisk,
    EntitlementEvent,
    EthicsApproval,
    ExtensionRequest,
    Grant,
    Message,
    RdoChecklist,
    ResearchOutput,
    ReturnComment,
    ReviewCheck,
    ReviewRound,
    StatementAcceptance,
    Submission,
    TeamMember,
    Vote,
)
from access_requests.services import applications as svc
from access_requests.services import transitions as tr
from catalogue.models import BasketItem, DataHolder, Dataset, DatasetFile, DatasetRevision, DatasetStatus, FileScan
from federation.models import Node
from portal import access
from portal.access import RULES, URLS, Rel
from portal.models import ApiToken, OutboxEmail
from tests.access_requests.conftest import CHECKLIST_DONE, complete, make_dataset, pdf_upload
from tests.conftest import _person
from tests.helpers import team_join

pytestmark = pytest.mark.django_db

STATES = ("draft", "submitted", "returned", "in_review", "withdrawn", "approved", "active")
# the states in which the application has a data-access agreement (awaiting its parties' signatures in
# `approved`, executed in `active`: its parties keep seeing the agreement they signed, which the e-mail
# telling them of the execution points them to; signing it again is refused by its state, 409)
AGREEMENT_STATES = ("approved", "active")
PERSONAS = (
    "anonymous",
    "applicant",
    "team",
    "outsider",
    "rdo",
    "rdo_on_team",
    "committee",
    "other_committee",
    "steward",
    "other_steward",
)
BASE = {Rel.ANYONE}
SIGNED = BASE | {Rel.SIGNED_IN}
ROLE_RELATIONS = {
    "anonymous": BASE,
    "applicant": SIGNED | {Rel.RESEARCHER},
    "team": SIGNED | {Rel.RESEARCHER},
    "outsider": SIGNED | {Rel.RESEARCHER},
    "rdo": SIGNED | {Rel.RDO},
    "rdo_on_team": SIGNED | {Rel.RDO, Rel.RESEARCHER},
    "committee": SIGNED | {Rel.COMMITTEE},
    "other_committee": SIGNED | {Rel.COMMITTEE},
    "steward": SIGNED | {Rel.STEWARD},
    "other_steward": SIGNED | {Rel.STEWARD},
}


def application_relations_expected(persona: str, state: str) -> set:
    """Written out from the brief: the team sees its own; reviewers see it once submitted, never when party to it."""
    party = {"applicant": {Rel.APPLICANT, Rel.TEAM}, "team": {Rel.TEAM}, "rdo_on_team": {Rel.TEAM}}
    if persona in party:
        return party[persona]
    if state == "draft":
        return set()
    return {
        "rdo": {Rel.REVIEWING_RDO},
        # the committee persona chairs the committee the application is forwarded to
        "committee": {Rel.ASSIGNED_COMMITTEE, Rel.COMMITTEE_CHAIR}
        if state in ("in_review", "approved", "active")
        else set(),
        "steward": {Rel.REQUESTED_STEWARD},
    }.get(persona, set())


def dataset_relations(persona: str, variant: str) -> set:
    found = {Rel.PUBLISHED} if variant == "published" else set()
    if persona == "steward":
        found.add(Rel.HOLDER_STEWARD)
    return found


def token_relations(persona: str, variant: str) -> set:
    return {Rel.OWNER} if persona == "applicant" else set()


def invitation_relations(persona: str, variant: str) -> set:
    return {Rel.INVITEE} if persona == "outsider" else set()  # the outsider is invited, not yet on the team


def signature_relations(persona: str, variant: str) -> set:
    # the outsider is also named as the institution's signatory (and signed: see build_world)
    return {Rel.SIGNATORY} if persona == "outsider" and variant == "real" else set()


def agreement_relations_expected(persona: str, state: str) -> set:
    """As to the application, and the parties entitled to sign: the outsider (named as the institution's
    signatory, on no team), the steward of the holder whose dataset was approved, the reviewing RDO."""
    found = application_relations_expected(persona, state)
    if state in AGREEMENT_STATES and persona in ("outsider", "steward", "rdo"):
        found = found | {Rel.AGREEMENT_PARTY}
    return found


# the states in which the application has access grants (its agreement executed)
GRANT_STATES = ("active",)


def grant_relations_expected(persona: str, state: str) -> set:
    """As to the application, and GRANTEE for the team the executed agreement names: the applicant and
    the two members who joined before the approval (the outsider was only invited)."""
    found = application_relations_expected(persona, state)
    if state in GRANT_STATES and persona in ("applicant", "team", "rdo_on_team"):
        found = found | {Rel.GRANTEE}
    return found


OBJECT_RELATIONS = {
    "application": application_relations_expected,
    "agreement": agreement_relations_expected,
    "grant": grant_relations_expected,
    "dataset": dataset_relations,
    "token": token_relations,
    "invitation": invitation_relations,
    "signature": signature_relations,
}


def expected(rule_name: str, held: set, object_exists: bool = True) -> int:
    """The declared outcome: 200 allowed, 401 sign in first, 404 may not see (or no such object),
    403 may see but not act."""
    rule = RULES[rule_name]
    if Rel.PARTNER_NODE in rule.allow:  # a node's endpoint: the cells' requests carry no node signature
        return 401
    anonymous_may = bool(rule.allow & {Rel.ANYONE, Rel.PUBLISHED})
    refused = 401 if Rel.SIGNED_IN not in held and not anonymous_may else None
    if rule.kind and not (object_exists and held & access.seeing(rule).allow):
        return refused or 404
    if held & rule.allow:
        return 200
    return refused or 403


# --- the world the cells run in -------------------------------------------------------------


@dataclass
class World:
    application: Application
    clients: dict
    users: dict
    kwargs: dict  # parameter name -> value, for the application's sub-objects
    datasets: dict  # variant -> identifier
    token: ApiToken
    invitation: str  # the link token of a pending invitation to the outsider
    signature: str  # the link token that asks the outsider, named as signatory, to accept the statements
    absent: frozenset = frozenset()  # URL parameters whose object does not exist in this state (a review round)
    has_agreement: bool = False  # the application has a data-access agreement in this state


def build_world(state: str) -> World:
    from access_requests.services.committees import committee_add_member, committee_create
    from catalogue.services import data_holder_add_steward, data_holder_create
    from portal.services.tokens import api_token_create

    holder = data_holder_create(
        actor="system:test",
        name="Riga Test Hospital",
        slug="riga-test",
        country="LV",
        contact_email="d@riga.example",
        rdo_email="rdo@riga.example",
    )
    other_holder = data_holder_create(
        actor="system:test",
        name="Valencia Test Hospital",
        slug="valencia-test",
        country="ES",
        contact_email="d@v.ex",
        rdo_email="rdo@v.ex",
    )
    people = {
        "applicant": _person("alice@uni.example", "Alice Applicant", ["researcher"], country="LV"),
        "team": _person("bob@uni.example", "Bob Teammate", ["researcher"], country="LV"),
        "outsider": _person("charlie@elsewhere.example", "Charlie Outsider", ["researcher"], country="DE"),
        "rdo": _person("rdo@portal.example", "Rita Office", ["rdo"]),
        "rdo_on_team": _person("rdo2@portal.example", "Ravi Officer", ["rdo", "researcher"]),
        "committee": _person("member@committee.example", "Max Member", ["committee"]),
        "other_committee": _person("member@other.example", "Olli Other", ["committee"]),
        "steward": _person("steward@riga.example", "Sam Steward"),
        "other_steward": _person("steward@valencia.example", "Olga Otherholder"),
    }
    committee = committee_create(actor="system:test", name="Test Access Committee", quorum=1)
    other_committee = committee_create(actor="system:test", name="Other Committee", quorum=1)
    committee_add_member(actor="system:test", committee=committee, user=people["committee"], chair=True)
    committee_add_member(actor="system:test", committee=other_committee, user=people["other_committee"], chair=True)
    data_holder_add_steward(actor="system:test", holder=holder, user=people["steward"])
    data_holder_add_steward(actor="system:test", holder=other_holder, user=people["other_steward"])
    published = make_dataset(holder, "LV-MG-001", conditions=("C50",), use=[("ETHICS_APPROVAL_REQUIRED", {})])
    # its anonymisation verified, so that its files are released to the grantees of an active grant (a link
    # asked for by one of them is then let through: any refusal is the table's)
    Dataset.objects.filter(pk=published.pk).update(anonymisation_verified_on=timezone.localdate())
    draft_dataset = make_dataset(holder, "LV-CT-DRAFT", status=DatasetStatus.DRAFT)
    # a registered file on each of the steward's datasets, so that a removal someone may not make has
    # something to remove (the matrix checks it stays)
    for dataset in (published, draft_dataset):
        DatasetFile.objects.create(
            dataset=dataset, path=f"riga-test/{dataset.identifier}/1.dcm", size_bytes=3, sha256="0" * 64
        )
    make_dataset(other_holder, "ES-MR-002")

    applicant = people["applicant"]
    application = svc.application_create(actor=applicant, title="Breast density and AI", datasets=[published])
    team_join(application=application, inviter=applicant, user=people["team"])
    team_join(application=application, inviter=applicant, user=people["rdo_on_team"])
    invited = svc.team_member_add(actor=applicant, application=application, email=people["outsider"].email)
    invitation = svc.team_invitation_path(invited).rstrip("/").rsplit("/", 1)[-1]
    # an active application's access starts today, so that its grant is in its days (grant.use lets its
    # grantees through); the others start in a week
    start = timezone.localdate() if state == "active" else None
    application = complete(application, applicant, signatory=people["outsider"], start=start)
    signature = svc.signature_path(application.representations).rstrip("/").rsplit("/", 1)[-1]
    svc.dpia_update(
        actor=applicant, application=application, data={}, document=pdf_upload("dpia.pdf")
    )  # so the DPIA document exists to be fetched
    signature_pk = _bring_to(state, application, people, committee)
    application.refresh_from_db()
    assert application.status == state
    review_round = _decision_letter(application, committee)

    token, _ = api_token_create(actor=applicant, name="matrix", days=30)
    clients = {"anonymous": Client()}
    for persona, user in people.items():
        client = Client()
        client.force_login(user)
        clients[persona] = client
    member = application.team.get(email=people["team"].email)
    approval = application.ethics_approvals.first()
    risk = DpiaRisk.objects.filter(dpia__application=application).first()
    item = application.requested.first()
    kwargs = {
        "item_pk": item.pk,
        "member_pk": member.pk,
        "member_id": member.pk,
        "approval_pk": approval.pk,
        "approval_id": approval.pk,
        "risk_pk": risk.pk,
        "risk_id": risk.pk,
        "uidb64": "MQ",  # a password-reset link's parts: any value reaches the view, which judges it
        "number": review_round.number,  # round 1: opened by the forward in review, set up directly otherwise
        "kind": "legal",  # a committee member's check: legal or technical
        "scheme": "modality",  # a vocabulary of the catalogue and one of its concepts
        "code": "MG",
        # a partner node of the federation
        "node_pk": Node.objects.get_or_create(
            base_url="https://partner.example", defaults={"name": "Partner", "public_key": "A" * 43 + "="}
        )[0].pk,
        "remote_grant": 1,  # a grant's number at the partner node that issued it (node endpoints only)
        "committee_pk": application.committee_id or Committee.objects.order_by("pk").values_list("pk", flat=True)[0],
        # the steward's countersigned scan of the agreement: awaiting the RDO (approved), verified (active)
        "signature_pk": signature_pk or 0,
        # the download grant of an active application (none before the agreement is executed)
        "grant_pk": application.grants.order_by("pk").values_list("pk", flat=True).first() or 0,
        # a file of the published dataset (a grant's link asks for one of its dataset's files)
        "file_id": DatasetFile.objects.order_by("pk").values_list("pk", flat=True).first() or 0,
    }
    if state == "active":
        grant = application.grants.get(pk=kwargs["grant_pk"])
        assert (grant.kind, grant.status, grant.valid_from) == ("download", "active", timezone.localdate())
    absent = frozenset() if ReviewRound.objects.filter(application=application).exists() else frozenset({"number"})
    if signature_pk is None:
        absent |= {"signature_pk"}
    if not kwargs["grant_pk"]:
        absent |= {"grant_pk"}
    return World(
        application,
        clients,
        people,
        kwargs,
        {"published": published.identifier, "draft": draft_dataset.identifier},
        token,
        invitation,
        signature,
        absent,
        has_agreement=state in AGREEMENT_STATES,
    )


def _bring_to(state: str, application, people, committee) -> int | None:
    """Take the complete draft to `state` through the services; returns the steward's countersigned scan's
    id where the state has an agreement (None otherwise)."""
    applicant, rdo = people["applicant"], people["rdo"]
    if state == "draft":
        return None
    tr.application_submit(actor=applicant, application=application)
    if state == "withdrawn":
        tr.application_withdraw(actor=applicant, application=application, reason="Test.")
    elif state == "returned":
        tr.application_return(actor=rdo, application=application, comments={"dpia": "Name the DPO's office."})
    elif state in ("in_review", "approved", "active"):
        tr.rdo_checklist_update(actor=rdo, application=application, data=CHECKLIST_DONE)
        tr.application_forward(actor=rdo, application=application, committee=committee)
    if state == "approved":
        return _agreement(application, people)
    if state == "active":
        return _executed(application, people)
    return None


def _agreement(application, people) -> int:
    """Approve the application in review (the committee persona chairs a committee of quorum 1), create
    and render its agreement (the tasks that follow a commit do not run here), and have the steward
    upload a countersigned scan the RDO has yet to check. Returns the scan signature's id."""
    from access_requests.services import agreements as ag
    from access_requests.services import review as rv
    from tests.access_requests.conftest import pdf_upload

    chair = people["committee"]
    review_round = rv.current_round(application)
    rv.vote_cast(actor=chair, review_round=review_round, choice="approve")
    rv.round_decide(actor=chair, application=application, outcome="approved", rationale="Sound.", conditions="")
    agreement = ag.agreement_create(actor="system:test", application=application)
    version = ag.agreement_version_render(version_id=agreement.current_version.pk)
    return ag.agreement_scan_upload(actor=people["steward"], version=version, upload=pdf_upload("countersigned.pdf")).pk


def _executed(application, people) -> int:
    """Approve the application in review, have every party of its agreement's version sign (the outsider,
    named as the institution's signatory, and the RDO online; the steward by a countersigned scan, which
    the RDO verifies), and execute it: the application becomes active and its grant is issued (the tasks
    that follow a commit do not run here, so the rendering and the execution are called as those tasks
    would). Returns the steward's verified scan's id."""
    from access_requests.services import agreements as ag
    from access_requests.services import review as rv
    from tests.access_requests.conftest import pdf_upload

    chair, rdo = people["committee"], people["rdo"]
    rv.vote_cast(actor=chair, review_round=rv.current_round(application), choice="approve")
    rv.round_decide(actor=chair, application=application, outcome="approved", rationale="Sound.", conditions="")
    agreement = ag.agreement_create(actor="system:test", application=application)
    version = ag.agreement_version_render(version_id=agreement.current_version.pk)
    for persona in ("outsider", "rdo"):
        person = people[persona]
        ag.agreement_sign(
            actor=person,
            version=version,
            typed_name=person.full_name,
            ip="192.0.2.10",
            user_agent="matrix",
            shown_sha256=version.sha256,
        )
    scan = ag.agreement_scan_upload(actor=people["steward"], version=version, upload=pdf_upload("countersigned.pdf"))
    ag.agreement_scan_verify(actor=rdo, signature=scan)
    executed = ag.agreement_execute(agreement_id=agreement.pk)
    assert executed.status == "executed"
    return scan.pk


def _decision_letter(application, committee):
    """A review round with its decision letter, in every state, so that the letter's download has
    something to serve whoever may see the application (the round is the open one in review; in
    the other states a closed round is set up directly: only who may fetch the letter is tested)."""
    from django.utils import timezone

    from access_requests.models import DecisionLetter, ReviewRound
    from access_requests.services.documents import documents_staged
    from access_requests.services.generated import generated_store
    from tests.access_requests.conftest import pdf_bytes

    now = timezone.now()
    review_round = ReviewRound.objects.filter(application=application).first() or ReviewRound.objects.create(
        application=application,
        number=1,
        committee=committee,
        submission_number=application.submission_count,
        opened_at=now,
        voting_deadline=now,
        closed_at=now,
        outcome=ReviewRound.Outcome.REJECTED,
        rationale="Test.",
    )
    with documents_staged() as staged, transaction.atomic():
        stored = generated_store(content=pdf_bytes(), folder=f"applications/{application.reference}", staged=staged)
        DecisionLetter.objects.create(
            round=review_round, path=stored["path"], sha256=stored["sha256"], size=stored["size"], rendered_at=now
        )
    return review_round


# --- cells ------------------------------------------------------------------------------------

PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>")
SECTIONS = ("overview", "representations")


def routes() -> list[tuple[str, str]]:
    """(view name, route) of every pattern, each of which must have a row in the table."""
    found = list(access.url_patterns())
    missing = access.undeclared_patterns(found)
    assert not missing, f"URL patterns with no row in portal.access.URLS: {missing}"
    return found


def _token_variants(base: dict, kinds: set, world: World):
    if "signature" in kinds:
        yield "signature", {**base, "token": world.signature}, "signature", "real"
        yield "tampered", {**base, "token": world.signature[:-2] + "xx"}, "signature", "missing"
    elif "invitation" in kinds:
        yield "invitation", {**base, "token": world.invitation}, "invitation", "real"
        yield "tampered", {**base, "token": world.invitation[:-2] + "xx"}, "invitation", "missing"
    else:
        yield "", {**base, "token": "not-a-real-token"}, None, None


def variants(name: str, route: str, world: World):
    """(label, kwargs, kind, variant) for each object a route can name."""
    params = PARAMETER.findall(route)
    kinds = {RULES[guard.rule].kind for guard in URLS[name].values()} - {None}
    base = {}
    for param in params:
        if param in world.kwargs:
            base[param] = world.kwargs[param]
        elif param not in ("pk", "identifier", "section", "token"):
            raise AssertionError(f"{name}: the matrix has no object for URL parameter <{param}>; add one")
    if "identifier" in params:
        for variant, identifier in world.datasets.items():
            yield variant, {**base, "identifier": identifier}, "dataset", variant
        yield "missing", {**base, "identifier": "NO-SUCH-DATASET"}, "dataset", "missing"
        return
    if "token" in params:
        yield from _token_variants(base, kinds, world)
        return
    if "grant_pk" in params:  # a grant (no grant before the agreement is executed: as for a missing one)
        kind = "grant" if "grant" in kinds else None
        yield "grant", base, kind, "missing" if "grant_pk" in world.absent else "real"
        return
    if "pk" in params:
        kind = kinds.pop() if kinds else "application"
        pk = world.token.pk if kind == "token" else world.application.pk
        sections = SECTIONS if "section" in params else (None,)
        # a sub-object the state has not got (no review round before the forward, no agreement before an
        # approval): as for a missing object
        lacking = world.absent & set(params) or (kind == "agreement" and not world.has_agreement)
        variant = "missing" if lacking else "real"
        for section in sections:
            kwargs = {**base, "pk": pk} | ({"section": section} if section else {})
            yield section or kind, kwargs, kind, variant
        return
    yield "", base, None, None


COUNTED = (
    Application,
    ApplicationDataset,
    TeamMember,
    EthicsApproval,
    DpiaRisk,
    Message,
    Submission,
    RdoChecklist,
    ReturnComment,
    StatementAcceptance,
    BasketItem,
    Dataset,
    DatasetFile,
    DatasetRevision,
    FileScan,
    ApiToken,
    OutboxEmail,
    ReviewRound,
    ConflictDeclaration,
    ReviewCheck,
    Vote,
    DatasetDecision,
    DecisionClockEvent,
    AgreementVersion,
    AgreementSignature,
    Grant,
    Download,
    ExtensionRequest,
    EntitlementEvent,
    Closeout,
    ResearchOutput,
)


def fingerprint(world: World) -> tuple:
    """Everything a refused call must leave as it was (a refusal's own audit record aside), in one
    statement: the application's row, the datasets' and tokens' states, and the size of every table
    a call could write to."""
    from django.db import connection

    counts = ", ".join(f"(SELECT count(*) FROM {model._meta.db_table})" for model in COUNTED)  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {counts}, "  # noqa: S608  (table names come from the models, not from input)
            "(SELECT count(*) FROM portal_auditevent WHERE verb <> 'access.refused'), "
            "(SELECT max(updated_at) FROM catalogue_dataset), "
            "(SELECT count(*) FROM portal_apitoken WHERE revoked_at IS NOT NULL), "
            "(SELECT count(*) FROM catalogue_datasetfile WHERE removed_at IS NOT NULL)"
        )
        tables = cursor.fetchone()
    row = Application.objects.filter(pk=world.application.pk).values().first()
    return tables, tuple(sorted(row.items()))


def observe(response) -> int:
    """A response read as an access outcome: 401 for a sign-in redirect, the refusal statuses as they
    are, 200 for anything the caller was let through to (an answer, a redirect, 400, 409 ...)."""
    status = response.status_code
    if status in (301, 302) and response.get("Location", "").startswith("/accounts/login/?next="):
        return 401
    if status in (401, 403, 404, 405) and not _refused_by_the_link(response):
        return status
    return 200


# A download link's own refusals (access_requests/services/downloads.py): the table let a signed-in
# caller through to the view, which then refused the link it was given (the matrix's is no real link).
LINK_REFUSAL_CODES = {"tampered", "link_expired", "not_link_owner"}


def _refused_by_the_link(response) -> bool:
    if not response.get("Content-Type", "").startswith("application/json"):
        return False
    try:
        return json.loads(response.content).get("code") in LINK_REFUSAL_CODES
    except ValueError:
        return False


# Bodies that would really act, for the URLs where an empty body would be refused as input anyway: a
# refusal by the table must then be what stops them (the fingerprint proves nothing changed).
ACTING_BODIES = {
    "catalogue:steward-dataset-file-remove": lambda kwargs: {
        "path": f"riga-test/{kwargs['identifier']}/1.dcm",
        "reason": "Registered by mistake.",
    },
}
ACTING_BODIES["api-dataset-file-remove"] = ACTING_BODIES["catalogue:steward-dataset-file-remove"]
# the committees' settings, each a change that would be made (and audited) if allowed
ACTING_BODIES["access_requests:committee-new"] = lambda kwargs: {"name": "Matrix Committee", "quorum": 2}
ACTING_BODIES["access_requests:committee-settings"] = lambda kwargs: {
    "decision_rule": "unanimity",
    "quorum": 1,
    "approve_share": "50",
    "objection_days": 10,
    "voting_days": 7,
    "decision_months": 3,
    "extension_max_months": 2,
}
ACTING_BODIES["access_requests:committee-member-add"] = lambda kwargs: {"email": "steward@valencia.example"}
ACTING_BODIES["access_requests:committee-holders"] = lambda kwargs: {
    "holders": [str(pk) for pk in DataHolder.objects.values_list("pk", flat=True)]
}
# the committee's posts, each naming the open round (round 1 of an application in review)
ACTING_BODIES["access_requests:committee-conflict"] = lambda kwargs: {"round": 1, "reason": "I know the team."}
ACTING_BODIES["access_requests:committee-check"] = lambda kwargs: {"round": 1, "item_legal_basis": "on"}
ACTING_BODIES["access_requests:committee-vote"] = lambda kwargs: {"round": 1, "choice": "approve"}
ACTING_BODIES["access_requests:committee-decide"] = lambda kwargs: {
    "round": 1,
    "outcome": "rejected",
    "rationale": "Out of scope.",
}
ACTING_BODIES["access_requests:committee-extend"] = lambda kwargs: {"months": 1, "reason": "Summer recess."}
ACTING_BODIES |= {
    "api-application-review-conflict": lambda kwargs: {"reason": "I co-author with the applicant.", "round": 1},
    "api-application-review-check": lambda kwargs: {"answers": {"ethics": True}, "round": 1},
    "api-application-review-vote": lambda kwargs: {"choice": "reject", "rationale": "Too broad.", "round": 1},
    "api-application-decision": lambda kwargs: {"outcome": "rejected", "rationale": "Too broad.", "round": 1},
    "api-application-clock-extension": lambda kwargs: {"months": 1, "reason": "An expert is consulted."},
}


def _agreement_signing(kwargs) -> dict:
    """A signature over the current version for its first party (the outsider, as the institution's
    signatory, by their own name): it would be recorded if the table let the wrong caller through."""
    version = AgreementVersion.objects.filter(
        agreement__application_id=kwargs["pk"], superseded_at__isnull=True
    ).first()
    if version is None:
        return {}
    return {
        "version": version.number,
        "shown_sha256": version.sha256,
        "party": version.parties.first().pk,
        "typed_name": "Charlie Outsider",
        "confirm": "on",
    }


ACTING_BODIES["access_requests:agreement-sign"] = _agreement_signing
ACTING_BODIES["access_requests:agreement-revise"] = lambda kwargs: {"reason": "The access period changed."}


def _agreement_signing_api(kwargs) -> dict:
    """The same signature through the API (the scan's upload is multipart: an empty JSON body is refused
    as input anyway, after the table)."""
    body = _agreement_signing(kwargs)
    if not body:
        return {}
    return {
        "version": body["version"],
        "sha256": body["shown_sha256"],
        "party": body["party"],
        "typed_name": body["typed_name"],
    }


ACTING_BODIES["api-application-agreement-sign"] = _agreement_signing_api
ACTING_BODIES["api-application-agreement-revise"] = ACTING_BODIES["access_requests:agreement-revise"]


def call(client, method: str, url: str, body: dict | None = None):
    api = url.startswith("/api/")
    if method == "GET":
        data, content_type = "", ""
    elif api:
        data, content_type = json.dumps(body or {}), "application/json"
    else:
        data, content_type = urlencode(body or {}), "application/x-www-form-urlencoded"
    with transaction.atomic():
        response = client.generic(method, url, data=data, content_type=content_type)
        transaction.set_rollback(True)
    return response


def walk(world: World, state: str, *, state_free: bool) -> list[str]:
    """Check every cell; return the disagreements (empty when the portal does what the table says)."""
    problems, checked = [], 0
    for name, route in routes():
        for label, kwargs, kind, variant in variants(name, route, world):
            if (kind in ("application", "agreement", "grant")) == state_free:
                continue
            url = reverse(name, kwargs=kwargs)
            for method, guard in URLS[name].items():
                for persona in PERSONAS:
                    held = set(ROLE_RELATIONS[persona])
                    if kind:
                        about_application = kind in ("application", "agreement", "grant")
                        held |= OBJECT_RELATIONS[kind](persona, state if about_application else variant)
                    want = expected(guard.rule, held, object_exists=variant != "missing")
                    before = fingerprint(world) if want != 200 else None
                    cache.clear()
                    body = ACTING_BODIES[name](kwargs) if name in ACTING_BODIES and method != "GET" else None
                    response = call(world.clients[persona], method, url, body)
                    got = observe(response)
                    checked += 1
                    if got != want:
                        problems.append(
                            f"{state} {persona:15} {method:6} {url} [{label}]: "
                            f"declared {want}, got {response.status_code}"
                        )
                    elif before is not None and fingerprint(world) != before:
                        problems.append(f"{state} {persona} {method} {url}: refused, but something changed")
                    if name == "logout":
                        world.clients[persona] = _relogin(world, persona)
            undeclared = next(m for m in ("PUT", "DELETE", "PATCH", "POST", "GET") if m not in URLS[name])
            response = call(world.clients["applicant"], undeclared, url)
            checked += 1
            if response.status_code != 405:
                problems.append(f"{undeclared} {url}: not declared, answered {response.status_code} instead of 405")
    CHECKED.append(checked)
    return problems


def _relogin(world: World, persona: str) -> Client:
    """A fresh session for the persona whose cell signed it out."""
    client = Client()
    if persona in world.users:
        client.force_login(world.users[persona])
    return client


CHECKED: list[int] = []


@pytest.fixture(autouse=True)
def _quiet_request_log():
    """Thousands of refusals are the point here: keep django.request's warnings out of the report."""
    logger = logging.getLogger("django.request")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)


def relation_sets_agree(world: World, state: str) -> list[str]:
    """The list pages and dashboards ask `applications_where` (a query); single objects ask
    `application_relations`: for each persona and relation both must say what the test expects."""
    from access_requests.permissions import application_relations, applications_where

    problems = []
    for persona, user in world.users.items():
        held = application_relations(user, world.application)
        want = application_relations_expected(persona, state)
        if held != want:
            problems.append(f"{state} {persona}: relations {sorted(held)}, expected {sorted(want)}")
        for relation in (
            Rel.TEAM,
            Rel.APPLICANT,
            Rel.REVIEWING_RDO,
            Rel.ASSIGNED_COMMITTEE,
            Rel.COMMITTEE_CHAIR,
            Rel.REQUESTED_STEWARD,
        ):
            listed = applications_where(user, relation).filter(pk=world.application.pk).exists()
            if listed != (relation in want):
                problems.append(f"{state} {persona}: applications_where({relation}) says {listed}")
    return problems


@pytest.mark.parametrize("state", STATES)
def test_every_url_answers_each_relation_as_declared_in_each_state(state):
    world = build_world(state)
    problems = relation_sets_agree(world, state) + walk(world, state, state_free=False)
    assert not problems, f"{len(problems)} cell(s) disagree with the access table:\n" + "\n".join(problems)


def test_every_url_about_no_application_answers_each_relation_as_declared():
    world = build_world("submitted")
    problems = walk(world, "-", state_free=True)
    assert not problems, f"{len(problems)} cell(s) disagree with the access table:\n" + "\n".join(problems)


def test_a_url_pattern_without_a_row_fails_the_matrix(monkeypatch):
    monkeypatch.delitem(URLS, "api-application-changes")
    with pytest.raises(AssertionError, match="api-application-changes"):
        routes()
    assert access.undeclared_patterns([("made-up", "made/up/"), (None, "nameless/")]) == [
        "made-up (made/up/)",
        "nameless/",
    ]


def test_the_system_check_names_a_url_pattern_without_a_row(monkeypatch):
    monkeypatch.delitem(URLS, "catalogue:basket")
    errors = access.check_every_url_declared()
    assert [e.id for e in errors] == ["portal.E010"]
    assert "catalogue:basket" in errors[0].msg
