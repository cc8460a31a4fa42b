"""The governance invariants under random workflows: a hypothesis state machine whose rules are the
portal's own services (and its download endpoint) called by real personas, the right ones and the
wrong ones, in the right state and the wrong one.

After every step all eight invariants of access_requests/invariants.py must hold, and every call the
portal refused must have changed nothing that is governed (the rows of applications, rounds, votes,
conflicts, decisions, agreements and their versions, parties and signatures, grants, downloads,
extension requests, and the audit events other than the records of refusals). Calls by someone the
BRIEF never allows, or in a state the transition table excludes, must be refused. A download link
issued before its grant was revoked or ran out, or its application ended, answers 410 on its next
request, before any sweep (invariant 3, as the grantee sees it).

Every CI run tries a bounded number of examples (the `ci` hypothesis profile below, ~1 minute on two
cores, derandomized so that a run is reproducible). `make invariants-search` (scripts/invariants_search.py)
runs the long search: the `search` profile, random, until at least 10,000 steps, and prints
"steps: N, violations: M".

Each example starts from the same world (personas, committee, holders, datasets and files, made once
per test) inside a savepoint that is rolled back when the example ends. The savepoint is marked as
the test case's own, so the audit events a service records are written when its own transaction
ends, as in production (portal/db/backends/audit_buffer.py). What the portal does after a commit
(creating and rendering the agreement after an approval, executing it after the last signature) the
machine does as its own steps, as the `active` fixture does.
"""

import hashlib
import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from unittest import mock

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from rest_framework.test import APIClient

from access_requests import invariants
from access_requests.models import (
    Agreement,
    AgreementParty,
    AgreementSignature,
    AgreementStatus,
    AgreementVersion,
    Application,
    ApplicationStatus,
    ConflictDeclaration,
    DatasetDecision,
    Download,
    ExtensionRequest,
    Grant,
    GrantKind,
    GrantStatus,
    RdoChecklist,
    ReturnComment,
    ReviewRound,
    Submission,
    TeamMember,
    Vote,
)
from access_requests.services import agreements as ag
from access_requests.services import applications as svc
from access_requests.services import grants as gs
from access_requests.services import lifecycle as lc
from access_requests.services import review as rv
from access_requests.services import transitions as tr
from portal.errors import InvalidInput, NotPermitted, TransitionError
from portal.models import AuditEvent
from portal.services.tokens import api_token_create
from tests.access_requests.conftest import (
    CHECKLIST_DONE,
    complete,
    dataset_file_write,
    make_dataset,
    signatory_person,
)
from tests.conftest import _person
from tests.helpers import team_join

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

REFUSALS = (NotPermitted, TransitionError, InvalidInput)
# What a refusal leaves behind on purpose: its own record.
REFUSAL_VERBS = ("access.refused", "download.refuse", "grant.link_refuse")
# The governed rows a refused call must leave as they were.
GOVERNED = (
    Application,
    TeamMember,
    Submission,
    RdoChecklist,
    ReturnComment,
    ReviewRound,
    Vote,
    ConflictDeclaration,
    DatasetDecision,
    Agreement,
    AgreementVersion,
    AgreementParty,
    AgreementSignature,
    Grant,
    Download,
    ExtensionRequest,
)
MAX_APPLICATIONS = 3
# A decision's outcome -> the state it leads to (asking again for the state reached returns quietly).
DECIDED = {
    "approved": ApplicationStatus.APPROVED,
    "rejected": ApplicationStatus.REJECTED,
    "returned": ApplicationStatus.RETURNED,
}
CLOCK_LIMIT_DAYS = 360  # the personas' API tokens last 365 days from the world's creation

settings.register_profile(
    "ci",
    max_examples=int(os.environ.get("INVARIANTS_EXAMPLES", "12")),
    stateful_step_count=int(os.environ.get("INVARIANTS_STEPS", "20")),
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=list(HealthCheck),
)
settings.register_profile(
    "search",
    max_examples=int(os.environ.get("INVARIANTS_EXAMPLES", "260")),
    stateful_step_count=int(os.environ.get("INVARIANTS_STEPS", "50")),
    deadline=None,
    derandomize=False,
    database=None,
    print_blob=True,
    suppress_health_check=list(HealthCheck),
)
PROFILE = os.environ.get("INVARIANTS_PROFILE", "ci")

# What the machine did, over every example of the session (the long search prints it).
STATS: Counter = Counter()
VIOLATIONS: list[str] = []


# --- the world every example starts from ---------------------------------------------------------


@dataclass
class World:
    alice: object  # the applicant
    bob: object  # a researcher the applicant invites onto the team (he accepts)
    charlie: object  # an outsider researcher
    rdo: object
    rdo2: object
    chair: object
    member: object
    member2: object
    steward: object  # of the holder of the download datasets
    other_steward: object  # of the holder of the processing-only dataset
    signatory: object  # the applicant's institution's signatory
    committee: object
    download: object  # offered for download, anonymisation verified, three files
    limited: object  # offered for download, one month's time limit on use, one file
    processing: object  # processed where it lives only
    files: dict = field(default_factory=dict)  # dataset pk -> [DatasetFile]
    clients: dict = field(default_factory=dict)  # user pk -> APIClient with the user's bearer token

    @property
    def people(self) -> dict:
        names = ("alice", "bob", "charlie", "rdo", "rdo2", "chair", "member", "member2", "steward", "other_steward")
        return {name: getattr(self, name) for name in (*names, "signatory")}


@pytest.fixture
def world(
    agreement_pdf_once_per_kind,
    alice,
    bob,
    charlie,
    rdo,
    committee,
    chair,
    member,
    member2,
    holder,
    steward,
    other_steward,
    dataset,
    download_files,
    processing_dataset,
):
    from catalogue.models import Dataset

    limited = make_dataset(holder, "LV-MG-LIM", conditions=("C50",), use=[("TIME_LIMIT_ON_USE", {"months": 1})])
    Dataset.objects.filter(pk=limited.pk).update(
        anonymisation_profile="DICOM PS3.15 Basic Profile", anonymisation_verified_on=timezone.localdate()
    )
    limited.refresh_from_db()
    limited_files = [dataset_file_write(limited, "lim/case-001.dcm", os.urandom(64 * 1024))]
    dataset.refresh_from_db()
    people = {
        "rdo2": _person("rdo2@portal.example", "Ruth Second", ["rdo"]),
        "signatory": signatory_person(),
    }
    made = World(
        alice=alice,
        bob=bob,
        charlie=charlie,
        rdo=rdo,
        rdo2=people["rdo2"],
        chair=chair,
        member=member,
        member2=member2,
        steward=steward,
        other_steward=other_steward,
        signatory=people["signatory"],
        committee=committee,
        download=dataset,
        limited=limited,
        processing=processing_dataset,
        files={dataset.pk: list(download_files), limited.pk: limited_files},
    )
    for person in made.people.values():
        _, secret = api_token_create(actor=person, name="invariants", days=django_settings.API_TOKEN_MAX_DAYS)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        made.clients[person.pk] = client
    return made


# --- what a refusal must leave unchanged ---------------------------------------------------------


def fingerprint() -> dict:
    rows = {model.__name__: list(model.objects.order_by("pk").values_list()) for model in GOVERNED}
    rows["AuditEvent"] = list(
        AuditEvent.objects.exclude(verb__in=REFUSAL_VERBS).order_by("seq").values_list("seq", "verb", "hash")
    )
    return rows


def changed(before: dict, after: dict) -> list[str]:
    return [name for name in before if before[name] != after[name]]


@dataclass
class Link:
    token: str
    user_id: int
    grant_id: int
    file_id: int


# --- the machine ------------------------------------------------------------------------------


class Workflows(RuleBasedStateMachine):
    """Random workflows of up to three applications of Alice's, through every stage."""

    world: World  # set by the test before the run

    def __init__(self):
        super().__init__()
        self.apps: list[int] = []
        self.links: list[Link] = []
        self.offset = timedelta(0)
        self.checked: tuple | None = None
        self._real_now = timezone.now
        self._clock = mock.patch.object(timezone, "now", lambda: self._real_now() + self.offset)
        self._clock.start()
        # One savepoint per example, marked as the test case's own (see the module's docstring).
        self._example = transaction.atomic()
        self._example._from_testcase = True
        self._example.__enter__()
        # Rate limits and refusal budgets live in the cache: each example starts with none.
        if "locmem" in django_settings.CACHES["default"]["BACKEND"].lower():
            cache.clear()
        STATS["examples"] += 1

    def teardown(self):
        try:
            transaction.set_rollback(True)
            self._example.__exit__(None, None, None)
            connection.audit_pending = []
        finally:
            self._clock.stop()

    # --- helpers -------------------------------------------------------------------------------

    @property
    def w(self) -> World:
        return self.world

    def step(self, name: str) -> None:
        STATS["steps"] += 1
        STATS[f"rule {name}"] += 1

    def attempt(self, label: str, call, *, must_refuse: bool = False):
        """Call a service; a refusal must change nothing, and `must_refuse` calls must be refused."""
        before = fingerprint()
        try:
            result = call()
        except REFUSALS as refused:
            after = fingerprint()
            note(f"{label}: refused ({type(refused).__name__}: {refused})")
            assert not changed(before, after), f"{label} was refused but changed {changed(before, after)}"
            STATS["refused"] += 1
            return None
        note(f"{label}: done")
        assert not must_refuse, f"{label} should have been refused, and was not"
        STATS["done"] += 1
        return result

    def app(self, data) -> Application:
        return Application.objects.get(pk=data.draw(st.sampled_from(self.apps), label="application"))

    def person(self, data, names, label="actor"):
        name = data.draw(st.sampled_from(names), label=label)
        return name, getattr(self.w, name)

    def has(self, model, path: str) -> bool:
        return bool(self.apps) and model.objects.filter(**{f"{path}__in": self.apps}).exists()

    def today(self):
        return gs.portal_today()

    # --- starting points ------------------------------------------------------------------------

    @initialize(
        start=st.sampled_from(["active", "awaiting_signatures", "in_review", "draft", "nothing"]),
        team=st.booleans(),
        months=st.sampled_from([1, 12]),
        limited=st.booleans(),
    )
    def begin(self, start, team, months, limited):
        """Start from nothing, or with one application already taken along the usual path by the
        same services the rules call (so a short example reaches signatures and downloads)."""
        self.step("begin")
        note(f"begin: {start}, team={team}, months={months}, limited={limited}")
        if start == "nothing":
            return
        application = self._create(team=team, months=1 if limited else months, limited=limited)
        if start == "draft":
            return
        w = self.w
        tr.application_submit(actor=w.alice, application=application)
        tr.rdo_checklist_update(actor=w.rdo, application=application, data=CHECKLIST_DONE)
        tr.application_forward(actor=w.rdo, application=application, committee=w.committee)
        if start == "in_review":
            return
        review_round = rv.current_round(application)
        rv.vote_cast(actor=w.member, review_round=review_round, choice="approve")
        rv.vote_cast(actor=w.member2, review_round=review_round, choice="approve")
        rv.round_decide(actor=w.chair, application=application, outcome="approved", rationale="Sound.")
        agreement = self._agreement_follows(application)
        if start == "awaiting_signatures":
            return
        version = AgreementVersion.objects.get(agreement=agreement, superseded_at__isnull=True)
        for party in version.parties.all():
            signer = {"signatory": w.signatory, "rdo": w.rdo}.get(party.kind)
            if signer is None:
                signer = w.steward if party.holder_id == w.download.holder_id else w.other_steward
            self._sign(signer, version)
        ag.agreement_execute(agreement_id=agreement.pk)
        # and Alice has asked for a link to the first file of her download grant
        grant = Grant.objects.get(application=application, dataset=w.download)
        file = w.files[w.download.pk][0]
        response = w.clients[w.alice.pk].post(f"/api/v1/grants/{grant.pk}/files/{file.pk}/link/")
        assert response.status_code == 200, response.content[:300]
        self.links.append(Link(response.json()["url"].rstrip("/").rsplit("/", 1)[-1], w.alice.pk, grant.pk, file.pk))

    def _create(self, *, team: bool, months: int, limited: bool) -> Application:
        w = self.w
        datasets = [w.download, w.processing] + ([w.limited] if limited else [])
        application = svc.application_create(actor=w.alice, title="Breast density and AI", datasets=datasets)
        if team:
            team_join(application=application, inviter=w.alice, user=w.bob, role="Radiologist")
        complete(application, w.alice, start=self.today(), months=months, signatory=w.signatory)
        self.apps.append(application.pk)
        return application

    def _agreement_follows(self, application) -> Agreement | None:
        """What the approval's commit starts: the agreement, and its first version rendered."""
        application.refresh_from_db()
        if application.status != ApplicationStatus.APPROVED:
            return None
        agreement = ag.agreement_create(actor=ag.SYSTEM, application=application)
        version = AgreementVersion.objects.get(agreement=agreement, superseded_at__isnull=True)
        ag.agreement_version_render(version_id=version.pk)
        return agreement

    def _sign(self, person, version):
        version.refresh_from_db()
        return ag.agreement_sign(
            actor=person,
            version=version,
            typed_name=person.full_name,
            ip="192.0.2.10",
            user_agent="invariants",
            shown_sha256=version.sha256,
        )

    # --- the applicant's side -------------------------------------------------------------------

    @precondition(lambda self: len(self.apps) < MAX_APPLICATIONS)
    @rule(team=st.booleans(), months=st.sampled_from([1, 3, 12]), limited=st.booleans())
    def create(self, team, months, limited):
        self.step("create")
        self.attempt("create", lambda: self._create(team=team, months=months, limited=limited))

    @precondition(lambda self: self.apps)
    @rule(data=st.data())
    def submit(self, data):
        """Submit or resubmit: the applicant (or a team member); an outsider, the RDO or a steward never."""
        self.step("submit")
        application = self.app(data)
        name, actor = self.person(data, ["alice", "alice", "bob", "charlie", "rdo", "steward"])
        wrong_state = application.status not in (
            ApplicationStatus.DRAFT,
            ApplicationStatus.RETURNED,
            ApplicationStatus.SUBMITTED,
        )
        self.attempt(
            f"submit {application.reference} ({application.status}) by {name}",
            lambda: tr.application_submit(actor=actor, application=application),
            must_refuse=name in ("charlie", "rdo", "steward") or wrong_state,
        )

    @precondition(lambda self: self.apps)
    @rule(data=st.data())
    def withdraw(self, data):
        self.step("withdraw")
        application = self.app(data)
        name, actor = self.person(data, ["alice", "charlie", "rdo", "chair"])
        wrong_state = application.status in (
            ApplicationStatus.ACTIVE,
            ApplicationStatus.CLOSED,
            ApplicationStatus.REVOKED,
            ApplicationStatus.REJECTED,
        )
        self.attempt(
            f"withdraw {application.reference} ({application.status}) by {name}",
            lambda: tr.application_withdraw(actor=actor, application=application, reason="No longer needed."),
            must_refuse=name != "alice" or wrong_state,
        )

    @precondition(lambda self: self.apps)
    @rule(data=st.data())
    def join_team(self, data):
        """Bob joins the team later (invited and accepting); after an approval this revises the agreement."""
        self.step("join_team")
        application = self.app(data)
        if application.team.filter(user=self.w.bob).exists():
            return
        name, inviter = self.person(data, ["alice", "alice", "charlie"], label="inviter")
        self.attempt(
            f"{name} puts bob on the team of {application.reference} ({application.status})",
            lambda: team_join(application=application, inviter=inviter, user=self.w.bob),
            must_refuse=name == "charlie",
        )

    # --- the Research Data Office ---------------------------------------------------------------

    @precondition(lambda self: self.apps)
    @rule(data=st.data())
    def rdo_return(self, data):
        self.step("return")
        application = self.app(data)
        name, actor = self.person(data, ["rdo", "rdo2", "alice", "chair", "steward"])
        self.attempt(
            f"return {application.reference} ({application.status}) by {name}",
            lambda: tr.application_return(actor=actor, application=application, comments={"dpia": "Name the DPO."}),
            must_refuse=name not in ("rdo", "rdo2")
            or application.status not in (ApplicationStatus.SUBMITTED, ApplicationStatus.RETURNED),
        )

    @precondition(lambda self: self.apps)
    @rule(data=st.data())
    def checklist(self, data):
        self.step("checklist")
        application = self.app(data)
        name, actor = self.person(data, ["rdo", "rdo2", "bob", "member"])
        self.attempt(
            f"checklist of {application.reference} ({application.status}) by {name}",
            lambda: tr.rdo_checklist_update(actor=actor, application=application, data=CHECKLIST_DONE),
            must_refuse=name not in ("rdo", "rdo2"),
        )

    @precondition(lambda self: self.apps)
    @rule(data=st.data())
    def forward(self, data):
        self.step("forward")
        application = self.app(data)
        name, actor = self.person(data, ["rdo", "rdo2", "alice", "member"])
        self.attempt(
            f"forward {application.reference} ({application.status}) by {name}",
            lambda: tr.application_forward(actor=actor, application=application, committee=self.w.committee),
            must_refuse=name not in ("rdo", "rdo2")
            or application.status not in (ApplicationStatus.SUBMITTED, ApplicationStatus.IN_REVIEW),
        )

    # --- the committee --------------------------------------------------------------------------

    def _round(self, data) -> ReviewRound | None:
        rounds = list(ReviewRound.objects.filter(application_id__in=self.apps).order_by("pk"))
        return data.draw(st.sampled_from(rounds), label="round") if rounds else None

    @precondition(lambda self: self.has(ReviewRound, "application_id"))
    @rule(data=st.data())
    def declare_conflict(self, data):
        self.step("declare_conflict")
        review_round = self._round(data)
        if review_round is None:
            return
        name, actor = self.person(data, ["member", "member2", "chair", "alice", "charlie"])
        self.attempt(
            f"{name} declares a conflict in round {review_round.number} of #{review_round.application_id}",
            lambda: rv.conflict_declare(actor=actor, review_round=review_round, reason="I advised the applicant."),
            must_refuse=name in ("alice", "charlie") or review_round.closed_at is not None,
        )

    @precondition(lambda self: self.has(ReviewRound, "application_id"))
    @rule(data=st.data(), choice=st.sampled_from(["approve", "approve", "reject", "abstain", "request_changes"]))
    def vote(self, data, choice):
        self.step("vote")
        review_round = self._round(data)
        if review_round is None:
            return
        name, actor = self.person(data, ["member", "member2", "chair", "member", "alice", "bob", "rdo", "steward"])
        on_team = (
            TeamMember.objects.filter(
                application_id=review_round.application_id, user=actor, joined_at__isnull=False
            ).exists()
            or Application.objects.filter(pk=review_round.application_id, applicant=actor).exists()
        )
        recused = ConflictDeclaration.objects.filter(round=review_round, member=actor).exists()
        self.attempt(
            f"{name} votes {choice} in round {review_round.number} of #{review_round.application_id}",
            lambda: rv.vote_cast(
                actor=actor, review_round=review_round, choice=choice, rationale="" if choice == "approve" else "Why."
            ),
            must_refuse=name in ("alice", "bob", "rdo", "steward")
            or on_team
            or recused
            or review_round.closed_at is not None,
        )

    @precondition(lambda self: self.apps)
    @rule(data=st.data(), outcome=st.sampled_from(["approved", "approved", "rejected", "returned"]))
    def decide(self, data, outcome):
        self.step("decide")
        application = self.app(data)
        name, actor = self.person(data, ["chair", "chair", "member", "rdo"])
        decided = self.attempt(
            f"{name} decides {outcome} on {application.reference} ({application.status})",
            lambda: rv.round_decide(actor=actor, application=application, outcome=outcome, rationale="Considered."),
            must_refuse=name != "chair" or application.status not in (ApplicationStatus.IN_REVIEW, DECIDED[outcome]),
        )
        if decided is not None:
            self._agreement_follows(decided)

    # --- the agreement --------------------------------------------------------------------------

    def _current_version(self, data) -> AgreementVersion | None:
        versions = list(
            AgreementVersion.objects.filter(agreement__application_id__in=self.apps)
            .order_by("pk")
            .select_related("agreement")
        )
        return data.draw(st.sampled_from(versions), label="version") if versions else None

    @precondition(lambda self: self.has(AgreementVersion, "agreement__application_id"))
    @rule(data=st.data())
    def sign(self, data):
        """A party signs (the signatory, a steward, an RDO), or someone who is no party tries to."""
        self.step("sign")
        version = self._current_version(data)
        if version is None:
            return
        name, actor = self.person(
            data, ["signatory", "steward", "other_steward", "rdo", "rdo2", "alice", "charlie", "member"]
        )
        self.attempt(
            f"{name} signs version {version.number} of {version.agreement.reference}",
            lambda: self._sign(actor, version),
            must_refuse=name in ("charlie", "member", "alice")
            or version.superseded_at is not None
            or version.agreement.status != AgreementStatus.AWAITING_SIGNATURES,
        )

    @precondition(lambda self: self.has(Agreement, "application_id"))
    @rule(data=st.data())
    def execute(self, data):
        """The task the last signature dispatches: executes once every party's signature counts."""
        self.step("execute")
        agreements = list(Agreement.objects.filter(application_id__in=self.apps).order_by("pk"))
        if not agreements:
            return
        agreement = data.draw(st.sampled_from(agreements), label="agreement")
        self.attempt(f"execute {agreement.reference}", lambda: ag.agreement_execute(agreement_id=agreement.pk))

    @precondition(lambda self: self.has(Agreement, "application_id"))
    @rule(data=st.data())
    def revise(self, data):
        """The RDO makes a new version (the signatures on the one before are voided)."""
        self.step("revise")
        agreements = list(Agreement.objects.filter(application_id__in=self.apps).order_by("pk"))
        if not agreements:
            return
        agreement = data.draw(st.sampled_from(agreements), label="agreement")
        name, actor = self.person(data, ["rdo", "rdo2", "alice", "steward"])
        version = self.attempt(
            f"{name} revises {agreement.reference} ({agreement.status})",
            lambda: ag.agreement_revise(actor=actor, agreement=agreement, reason="Corrected the period."),
            must_refuse=name not in ("rdo", "rdo2")
            or agreement.status in (AgreementStatus.EXECUTED, AgreementStatus.VOIDED),
        )
        if version is not None:
            ag.agreement_version_render(version_id=version.pk)

    # --- grants, links and downloads ------------------------------------------------------------

    def _grant(self, data, **filters) -> Grant | None:
        grants = list(Grant.objects.filter(application_id__in=self.apps, **filters).order_by("pk"))
        return data.draw(st.sampled_from(grants), label="grant") if grants else None

    @precondition(lambda self: self.has(Grant, "application_id"))
    @rule(data=st.data())
    def issue_link(self, data):
        """A person asks the API for a download link to a file of a grant (the grant's dataset's, or another's)."""
        self.step("issue_link")
        grant = self._grant(data)
        if grant is None:
            return
        name, person = self.person(data, ["alice", "alice", "alice", "bob", "charlie"])
        own = self.w.files.get(grant.dataset_id, [])
        others = [f for pk, dataset_files in self.w.files.items() if pk != grant.dataset_id for f in dataset_files]
        file = data.draw(st.sampled_from(own * 3 + others), label="file")
        before = fingerprint()
        response = self.w.clients[person.pk].post(f"/api/v1/grants/{grant.pk}/files/{file.pk}/link/")
        note(f"{name} asks for a link to file #{file.pk} of grant #{grant.pk}: {response.status_code}")
        if response.status_code == 200:
            token = response.json()["url"].rstrip("/").rsplit("/", 1)[-1]
            self.links.append(Link(token, person.pk, grant.pk, file.pk))
            assert file.dataset_id == grant.dataset_id and grant.kind == GrantKind.DOWNLOAD
            assert person.pk in set(grant.grantees.values_list("pk", flat=True))
            STATS["links"] += 1
        else:
            assert response.status_code in (403, 404, 410), response.content[:300]
            assert not changed(before, fingerprint()), "a refused link changed governed rows"
            STATS["links refused"] += 1

    @precondition(lambda self: self.links)
    @rule(data=st.data(), ranged=st.booleans())
    def download(self, data, ranged):
        """A link is followed, by its own user or by someone else; what ended since answers 410."""
        self.step("download")
        link = data.draw(st.sampled_from(self.links), label="link")
        name = data.draw(st.sampled_from(["owner", "owner", "owner", "charlie", "bob"]), label="caller")
        caller_pk = link.user_id if name == "owner" else getattr(self.w, name).pk
        grant = Grant.objects.select_related("application").get(pk=link.grant_id)
        ended = (
            grant.status != GrantStatus.ACTIVE
            or self.today() > grant.valid_until
            or grant.application.status != ApplicationStatus.ACTIVE
        )
        headers = {"HTTP_RANGE": "bytes=0-1023"} if ranged else {}
        before = fingerprint()
        response = self.w.clients[caller_pk].get(f"/api/v1/downloads/{link.token}/", **headers)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        note(f"download of file #{link.file_id} (grant #{link.grant_id}) by {name}: {response.status_code}")
        if response.status_code in (200, 206):
            assert caller_pk == link.user_id, "a link answered someone it was not made for"
            assert not ended, "a link answered after its grant or its application had ended"
            file = next(f for files in self.w.files.values() for f in files if f.pk == link.file_id)
            whole = (django_settings.DATASET_STORAGE_ROOT / file.path).read_bytes()
            expected = whole[:1024] if response.status_code == 206 else whole
            assert body == expected and hashlib.sha256(whole).hexdigest() == file.sha256
            STATS["downloads"] += 1
            return
        assert response.status_code in (403, 404, 410), (response.status_code, body[:300])
        assert not changed(before, fingerprint()), "a refused download changed governed rows"
        if caller_pk == link.user_id and ended:
            assert response.status_code == 410, (response.status_code, body[:300])
            STATS["old links refused 410"] += 1
        STATS["downloads refused"] += 1

    @precondition(lambda self: self.has(Grant, "application_id"))
    @rule(data=st.data())
    def revoke_grant(self, data):
        self.step("revoke_grant")
        grant = self._grant(data)
        if grant is None:
            return
        name, actor = self.person(data, ["rdo", "chair", "alice", "bob", "member", "steward"])
        self.attempt(
            f"{name} revokes grant #{grant.pk} ({grant.status})",
            lambda: gs.grant_revoke(actor=actor, grant=grant, reason="Breach of the agreement."),
            must_refuse=name in ("alice", "bob", "member", "steward") or grant.status != GrantStatus.ACTIVE,
        )

    @precondition(lambda self: self.apps)
    @rule(data=st.data())
    def revoke_application(self, data):
        self.step("revoke_application")
        application = self.app(data)
        name, actor = self.person(data, ["rdo", "chair", "alice", "member"])
        self.attempt(
            f"{name} revokes {application.reference} ({application.status})",
            lambda: gs.application_revoke(actor=actor, application=application, reason="Breach of the agreement."),
            must_refuse=name in ("alice", "member")
            or application.status not in (ApplicationStatus.ACTIVE, ApplicationStatus.REVOKED),
        )

    @precondition(lambda self: self.has(Grant, "application_id"))
    @rule(data=st.data(), days=st.sampled_from([1, 10, 40]))
    def extension_request(self, data, days):
        self.step("extension_request")
        grant = self._grant(data)
        if grant is None:
            return
        name, actor = self.person(data, ["alice", "bob", "charlie"])
        self.attempt(
            f"{name} asks to extend grant #{grant.pk} by {days} days",
            lambda: lc.extension_request(
                actor=actor, grant=grant, until=grant.valid_until + timedelta(days=days), reason="More cases."
            ),
            must_refuse=name == "charlie",
        )

    @precondition(lambda self: self.has(ExtensionRequest, "grant__application_id"))
    @rule(data=st.data(), approve=st.booleans())
    def extension_decide(self, data, approve):
        self.step("extension_decide")
        requests = list(ExtensionRequest.objects.filter(grant__application_id__in=self.apps).order_by("pk"))
        if not requests:
            return
        request = data.draw(st.sampled_from(requests), label="extension request")
        name, actor = self.person(data, ["rdo", "rdo2", "alice", "member"])
        self.attempt(
            f"{name} {'grants' if approve else 'refuses'} extension request #{request.pk}",
            lambda: lc.extension_decide(actor=actor, request=request, approve=approve, reason="Considered."),
            must_refuse=name in ("alice", "member"),
        )

    # --- time -----------------------------------------------------------------------------------

    @precondition(lambda self: self.offset.days < CLOCK_LIMIT_DAYS - 40 and self.has(Grant, "application_id"))
    @rule(days=st.sampled_from([1, 7, 16, 32]))
    def clock(self, days):
        """Time passes: a grant may run past its last day (its links stop before any sweep)."""
        self.step("clock")
        self.offset += timedelta(days=days)
        note(f"clock: +{days} days, now {self.today()}")

    @precondition(lambda self: self.has(Grant, "application_id"))
    @rule()
    def sweep(self):
        """The periodic task: grants past their last day expire, applications left with none close."""
        self.step("sweep")
        gs.grants_sweep(now=timezone.now())

    # --- after every step -----------------------------------------------------------------------

    @invariant()
    def governance_holds(self):
        """All eight invariants, whenever the database differs from the one last checked (a refused
        or idle step leaves the same rows and events, whose check already passed: the check reads
        nothing else that the rules change)."""
        state = self._state()
        if state == self.checked:
            STATS["checks of an unchanged database skipped"] += 1
            return
        found = invariants.check()
        STATS["checks"] += 1
        if found:
            STATS["violations"] += len(found)
            VIOLATIONS.extend(str(v) for v in found)
        assert not found, "\n".join(str(v) for v in found)
        self.checked = state

    def _state(self) -> tuple:
        events = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
        return events, hashlib.sha256(repr(fingerprint()).encode()).hexdigest()


def test_random_workflows_keep_every_governance_invariant(world):
    Workflows.world = world
    run_state_machine_as_test(Workflows, settings=settings.get_profile(PROFILE))
    assert STATS["steps"] > 0
