"""The eight governance invariants of the BRIEF, each as a function that examines the database and
returns the violations it finds, naming the objects involved.

One definition serves both the property test (tests/invariants/, which checks every one after every
step of random workflows) and `manage.py check_invariants` (a live database: the demo, a
production copy). They read the rows as they are, never through the services they check, and ask
only what the data can tell:

1. bytes left only under an active download grant: every `Download` row answered a grantee of a
   download grant, inside its days, before it ended, for a file of its dataset that had passed the
   de-identification check, while the application was active, the agreement executed (every party
   of its version signed that version's hash) and the decision approved the dataset; and a grant
   still active stands on all of those;
2. a grant's last day is within the agreement's period, the ethics approvals covering its dataset
   (recomputed from the approvals) and the dataset's own time limit on use;
3. revocation and expiry took effect at once: no download after a grant or its application ended,
   and no grant left active under an application that is not;
4. the audit chain is intact, and every state change and download has its event: each application's
   status is the one its last transition event records, each download has its `download.serve`
   event and each event its download, each vote, grant and counted signature its event;
5. no vote by a member recused, on the team or outside the round's committee; one vote per member
   per round, none after the round closed; an approval only where the committee's rule (quorum
   included) was met when the chair decided;
6. what was submitted is what the application says while it is not `returned` (the latest
   submission's snapshot), and no signature stands on an agreement version whose content changed
   or was superseded;
7. every person's application list (`applications_visible_to`) holds only what their role and
   relation allow (the BRIEF's definition, written here independently), object permissions only for
   the team, dataset files only inside their holder's storage area and never an application's
   document;
8. nobody on an application's team (applicant included) reviewed, voted on, decided, forwarded,
   returned, revoked or countersigned for the other side of it.
"""

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import BigIntegerField, Count, Exists, F, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Cast, Concat, TruncDate

from access_requests import rules
from access_requests.models import (
    Agreement,
    AgreementParty,
    AgreementSignature,
    AgreementStatus,
    AgreementVersion,
    Application,
    ApplicationDataset,
    ApplicationStatus,
    CommitteeMembership,
    ConflictDeclaration,
    DatasetDecision,
    Download,
    EthicsApproval,
    ExtensionRequest,
    Grant,
    GrantKind,
    GrantStatus,
    PartyKind,
    RdoChecklist,
    ReturnComment,
    ReviewCheck,
    ReviewRound,
    Submission,
    TeamMember,
    Vote,
)

DOWNLOAD_MODE = "DOWNLOAD"

# The transitions' audit verbs: each records the status it led to in its payload ("status").
STATUS_VERBS = (
    "application.submit",
    "application.resubmit",
    "application.return",
    "application.forward",
    "application.withdraw",
    "application.decide_approve",
    "application.decide_reject",
    "application.request_changes",
    "application.activate",
    "application.close",
    "application.revoke",
)
# The application states in which its content is frozen as submitted.
LOCKED_STATES = tuple(
    s for s in ApplicationStatus.values if s not in (ApplicationStatus.DRAFT, ApplicationStatus.RETURNED)
)
# Events an actor on the team may never have caused (invariant 8), and what they did.
OTHER_SIDE_VERBS = {
    "application.return": "returned",
    "application.forward": "forwarded",
    "application.decide_approve": "approved",
    "application.decide_reject": "rejected",
    "application.request_changes": "returned for changes",
    "application.revoke": "revoked",
    "application.clock_extend": "extended the decision clock of",
    "review.vote": "voted on",
    "review.vote_change": "voted on",
    "review.check_record": "recorded a committee check of",
    "grant.revoke": "revoked a grant of",
    "grant.extend": "extended a grant of",
    "grant.extension_refuse": "refused an extension of",
    "agreement.scan_verify": "verified a countersigned scan of",
}


@dataclass(frozen=True)
class Violation:
    invariant: int
    message: str
    objects: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        named = f" [{'; '.join(self.objects)}]" if self.objects else ""
        return f"invariant {self.invariant}: {self.message}{named}"


# --- naming the objects ---------------------------------------------------------------------------


def _app(pk, reference: str | None = None) -> str:
    """An application by reference and id (the reference read here when the caller has none at hand:
    violations are few, so the lookup is one query for each)."""
    if reference is None and str(pk).isdigit():
        reference = Application.objects.filter(pk=int(pk)).values_list("reference", flat=True).first()
    return f"application {reference} (#{pk})" if reference else f"application #{pk}"


def _user(pk, email: str | None = None) -> str:
    """A person by e-mail address and id (the address read here when the caller has none at hand)."""
    from portal.models import User

    if email is None and pk is not None:
        email = User.objects.filter(pk=pk).values_list("email", flat=True).first()
    return f"user {email} (#{pk})" if email else f"user #{pk}"


def _tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def _on_team(application_path: str, user_path: str) -> Q:
    """The row's user (at `user_path`) started or is on the team of the row's application."""
    joined = TeamMember.objects.filter(
        application_id=OuterRef(application_path), user_id=OuterRef(user_path), joined_at__isnull=False
    )
    return Q(Exists(joined)) | Q(**{f"{application_path}__applicant_id": F(user_path)})


def _approved_dataset_q(grant_path: str = "") -> Q:
    """The decision behind the grant's agreement approved the grant's requested dataset: the round's
    outcome is an approval, and either no dataset was decided one by one or this one was approved."""
    p = f"{grant_path}__" if grant_path else ""
    round_ref = f"{p}agreement__round_id"
    decided = DatasetDecision.objects.filter(round_id=OuterRef(round_ref))
    approved = decided.filter(requested_id=OuterRef(f"{p}requested_id"), approved=True)
    return Q(**{f"{p}agreement__round__outcome": rules.APPROVED}) & (~Q(Exists(decided)) | Q(Exists(approved)))


def _signed_by_every_party() -> Q:
    """For an agreement row: its current version is rendered, names a party of each kind, and every one
    of its parties has a signature on it that counts (online, or a verified scan; not voided) over that
    version's hash."""
    counting = AgreementSignature.objects.filter(
        party_id=OuterRef("pk"), voided_at__isnull=True, shown_sha256=OuterRef("version__sha256")
    ).filter(Q(method="online") | Q(verified_at__isnull=False))
    current = {"version__agreement_id": OuterRef("pk"), "version__superseded_at__isnull": True}
    unsigned = AgreementParty.objects.filter(**current).exclude(Exists(counting))
    rendered = AgreementVersion.objects.filter(agreement_id=OuterRef("pk"), superseded_at__isnull=True).exclude(
        sha256=""
    )
    # the parties an agreement always has: the institution's signatory, a data holder, the infrastructure
    present = [Exists(AgreementParty.objects.filter(**current, kind=kind)) for kind in PartyKind.values]
    return Q(Exists(rendered)) & ~Q(Exists(unsigned)) & Q(*present)


# --- 1. bytes leave only under an active download grant --------------------------------------------


def _download_problems() -> dict[str, Q]:
    tz = _tz()
    grantee = Grant.grantees.through.objects.filter(grant_id=OuterRef("grant_id"), user_id=OuterRef("user_id"))
    executed = Agreement.objects.filter(pk=OuterRef("grant__agreement_id")).filter(_signed_by_every_party())
    return {
        "the downloader is not a grantee of the grant": ~Q(Exists(grantee)),
        "the grant is not a download grant (its dataset is processed where it lives)": ~Q(
            grant__kind=GrantKind.DOWNLOAD
        )
        | ~Q(grant__access_mode__code=DOWNLOAD_MODE),
        "downloaded outside the grant's days": Q(day__lt=F("grant__valid_from")) | Q(day__gt=F("grant__valid_until")),
        "the file is not one of the grant's dataset's files": ~Q(file__dataset_id=F("grant__dataset_id")),
        "the dataset had not passed the de-identification check": Q(
            grant__dataset__anonymisation_verified_on__isnull=True
        )
        | Q(grant__dataset__anonymisation_verified_on__gt=TruncDate("started_at", tzinfo=tz)),
        "the file had failed the de-identification check": Q(file__dicom__passed=False)
        & Q(file__dicom__checked_at__lte=F("started_at")),
        "the application was not active": ~Q(grant__application__status=ApplicationStatus.ACTIVE)
        & (Q(grant__application__ended_at__isnull=True) | Q(grant__application__ended_at__lte=F("started_at"))),
        "the agreement was not executed (every party signing its version's hash) before the download": ~Q(
            grant__agreement__status=AgreementStatus.EXECUTED
        )
        | Q(grant__agreement__executed_at__gt=F("started_at"))
        | ~Q(Exists(executed)),
        "the committee's decision did not approve the dataset": ~_approved_dataset_q("grant"),
        "the grant belongs to another application than its agreement or its requested dataset": ~Q(
            grant__agreement__application_id=F("grant__application_id")
        )
        | ~Q(grant__requested__application_id=F("grant__application_id"))
        | ~Q(grant__requested__dataset_id=F("grant__dataset_id")),
    }


def _grant_problems() -> dict[str, Q]:
    executed = Agreement.objects.filter(pk=OuterRef("agreement_id")).filter(_signed_by_every_party())
    return {
        "an active grant under an application that is not active": ~Q(application__status=ApplicationStatus.ACTIVE),
        "a grant under an agreement that is not executed by every party": ~Q(agreement__status=AgreementStatus.EXECUTED)
        | ~Q(Exists(executed)),
        "a grant of a dataset the committee did not approve": ~_approved_dataset_q(),
        "a download grant of a dataset whose team did not choose, or whose holder does not offer, download": Q(
            kind=GrantKind.DOWNLOAD
        )
        & ~Q(access_mode__code=DOWNLOAD_MODE),
        "a grant that belongs to another application than its agreement or its requested dataset": ~Q(
            agreement__application_id=F("application_id")
        )
        | ~Q(requested__application_id=F("application_id"))
        | ~Q(requested__dataset_id=F("dataset_id")),
    }


def invariant_1() -> Iterator[Violation]:
    downloads = Download.objects.annotate(day=TruncDate("started_at", tzinfo=_tz()))
    for problem, condition in _download_problems().items():
        for row in downloads.filter(condition).values(
            "pk",
            "user_id",
            "user__email",
            "grant_id",
            "file_id",
            "grant__application_id",
            "grant__application__reference",
        ):
            yield Violation(
                1,
                f"a download answered although {problem}",
                (
                    f"download #{row['pk']}",
                    _user(row["user_id"], row["user__email"]),
                    f"grant #{row['grant_id']}",
                    f"file #{row['file_id']}",
                    _app(row["grant__application_id"], row["grant__application__reference"]),
                ),
            )
    active = Grant.objects.filter(status=GrantStatus.ACTIVE)
    for problem, condition in _grant_problems().items():
        scope = Grant.objects.all() if "belongs to another" in problem else active
        for row in scope.filter(condition).values("pk", "application_id", "application__reference", "agreement_id"):
            yield Violation(
                1,
                problem,
                (
                    f"grant #{row['pk']}",
                    f"agreement #{row['agreement_id']}",
                    _app(row["application_id"], row["application__reference"]),
                ),
            )


# --- 2. a grant never outlasts its limits ------------------------------------------------------------


def invariant_2() -> Iterator[Violation]:
    from access_requests.services.grants import ethics_coverage_end, time_limit_end

    grants = (
        Grant.objects.select_related("application", "requested", "dataset")
        .prefetch_related("requested__ethics_approvals", "dataset__use_conditions__term")
        .order_by("pk")
    )
    for grant in grants.iterator(chunk_size=500):
        objects = (f"grant #{grant.pk}", _app(grant.application_id, grant.application.reference))
        period_end = grant.application.access_end
        if period_end is None or grant.valid_until > period_end or grant.valid_until > grant.agreement_end:
            yield Violation(
                2,
                f"the grant lasts until {grant.valid_until}, past the agreement's end ({period_end})",
                objects,
            )
        ethics_end = ethics_coverage_end(grant.requested, grant.valid_from)
        if ethics_end is None or grant.valid_until > ethics_end:
            yield Violation(
                2,
                f"the grant lasts until {grant.valid_until}, past the ethics approvals covering its dataset "
                f"({ethics_end or 'none covers its first day'})",
                objects,
            )
        limit_end = time_limit_end(grant.dataset, grant.valid_from)
        if limit_end is not None and grant.valid_until > limit_end:
            yield Violation(
                2,
                f"the grant lasts until {grant.valid_until}, past the dataset's time limit on use ({limit_end})",
                (*objects, f"dataset {grant.dataset.identifier}"),
            )


# --- 3. revocation and expiry take effect at once ----------------------------------------------------


def invariant_3() -> Iterator[Violation]:
    after_end = Q(grant__ended_at__isnull=False, started_at__gte=F("grant__ended_at")) | Q(
        grant__application__ended_at__isnull=False, started_at__gte=F("grant__application__ended_at")
    )
    for row in Download.objects.filter(after_end).values(
        "pk", "grant_id", "grant__status", "grant__application_id", "grant__application__reference"
    ):
        yield Violation(
            3,
            f"a download answered after its grant ({row['grant__status']}) or its application had ended",
            (
                f"download #{row['pk']}",
                f"grant #{row['grant_id']}",
                _app(row["grant__application_id"], row["grant__application__reference"]),
            ),
        )
    ended = (ApplicationStatus.CLOSED, ApplicationStatus.REVOKED, ApplicationStatus.WITHDRAWN)
    for row in Grant.objects.filter(status=GrantStatus.ACTIVE, application__status__in=ended).values(
        "pk", "application_id", "application__reference", "application__status"
    ):
        yield Violation(
            3,
            f"a grant still active although its application is {row['application__status']}",
            (f"grant #{row['pk']}", _app(row["application_id"], row["application__reference"])),
        )
    # A grant's own end: revoked or expired grants carry when; an application's end ends them all.
    for row in Grant.objects.filter(
        application__ended_at__isnull=False, ended_at__gt=F("application__ended_at")
    ).values("pk", "application_id", "application__reference"):
        yield Violation(
            3,
            "a grant ended after its application had ended",
            (f"grant #{row['pk']}", _app(row["application_id"], row["application__reference"])),
        )


# --- 4. every change and every download is in the audit chain ----------------------------------------


def _events(verbs: Iterable[str]) -> QuerySet:
    from portal.models import AuditEvent

    return AuditEvent.objects.filter(verb__in=list(verbs))


def invariant_4() -> Iterator[Violation]:
    yield from _chain_intact()
    yield from _changes_audited()


def _chain_intact() -> Iterator[Violation]:
    from portal.services.audit import audit_verify

    report = audit_verify()
    if not report.ok:
        yield Violation(4, f"the audit chain is broken: {report.reason}", (f"audit event #{report.first_bad_seq}",))


def _changes_audited() -> Iterator[Violation]:
    yield from _statuses_audited()
    yield from _downloads_audited()
    yield from _votes_audited()
    yield from _grants_audited()
    yield from _signatures_audited()


def _statuses_audited() -> Iterator[Violation]:
    """Each application's status is the one its last transition event records (a draft has none),
    and each application has its creation event."""
    latest: dict[str, str] = {}
    created: set[str] = set()
    events = _events((*STATUS_VERBS, "application.create")).filter(target_type="access_requests.application")
    for target_id, verb, status in events.order_by("seq").values_list("target_id", "verb", "payload__status"):
        if verb == "application.create":
            created.add(target_id)
        else:
            latest[target_id] = status
    for pk, reference, status in Application.objects.order_by("pk").values_list("pk", "reference", "status"):
        recorded = latest.get(str(pk), ApplicationStatus.DRAFT)
        if recorded != status:
            yield Violation(
                4,
                f"the application is {status} but its last audited transition left it {recorded}",
                (_app(pk, reference),),
            )
        if str(pk) not in created:
            yield Violation(4, "the application has no creation event", (_app(pk, reference),))


def _downloads_audited() -> Iterator[Violation]:
    served: dict[int, int] = defaultdict(int)
    for download_id in _events(["download.serve"]).values_list("payload__download", flat=True):
        if download_id is not None:
            served[int(download_id)] += 1
    known = set()
    for pk, grant_id in Download.objects.order_by("pk").values_list("pk", "grant_id"):
        known.add(pk)
        if served.get(pk, 0) != 1:
            yield Violation(
                4,
                f"the download has {served.get(pk, 0)} download.serve events (one expected)",
                (f"download #{pk}", f"grant #{grant_id}"),
            )
    for download_id in sorted(set(served) - known):
        yield Violation(
            4, "a download.serve event names a download that is not recorded", (f"download #{download_id}",)
        )


def _votes_audited() -> Iterator[Violation]:
    """Each vote's current choice is the one its member's last vote event in that round records."""
    recorded: dict[tuple[str, int, int], str] = {}
    events = _events(["review.vote", "review.vote_change"]).order_by("seq")
    for target_id, actor_id, round_number, choice in events.values_list(
        "target_id", "actor_id", "payload__round", "payload__choice"
    ):
        recorded[(target_id, round_number, actor_id)] = choice
    votes = Vote.objects.values_list(
        "pk", "choice", "member_id", "round__number", "round__application_id", "round__application__reference"
    )
    for pk, choice, member_id, number, app_id, reference in votes.order_by("pk"):
        if recorded.get((str(app_id), number, member_id)) != choice:
            yield Violation(
                4,
                f"the vote ({choice}) is not the one the audit log records for its member in round {number}",
                (f"vote #{pk}", _user(member_id), _app(app_id, reference)),
            )


def _grants_audited() -> Iterator[Violation]:
    issued: set[int] = set()
    for grants in _events(["grant.issue"]).values_list("payload__grants", flat=True):
        issued.update(int(entry["grant"]) for entry in grants or [] if isinstance(entry, dict) and "grant" in entry)
    ended: set[int] = set()
    for grant_id in _events(["grant.revoke", "grant.expire"]).values_list("payload__grant", flat=True):
        if grant_id is not None:
            ended.add(int(grant_id))
    for grant_ids in _events(["application.revoke", "application.close"]).values_list("payload__grants", flat=True):
        ended.update(int(g) for g in grant_ids or [] if isinstance(g, int | str) and str(g).isdigit())
    for pk, status, app_id, reference in Grant.objects.order_by("pk").values_list(
        "pk", "status", "application_id", "application__reference"
    ):
        if pk not in issued:
            yield Violation(4, "the grant has no grant.issue event", (f"grant #{pk}", _app(app_id, reference)))
        if status != GrantStatus.ACTIVE and pk not in ended:
            yield Violation(
                4, f"the grant is {status} but no event records its end", (f"grant #{pk}", _app(app_id, reference))
            )


def _signatures_audited() -> Iterator[Violation]:
    """Each signature that counts has its event: agreement.sign (online) or agreement.scan_upload (scan)."""
    events: set[tuple[str, int, str]] = set()
    for reference, version, party in _events(["agreement.sign", "agreement.scan_upload"]).values_list(
        "payload__agreement", "payload__version", "payload__party"
    ):
        events.add((reference, version, party))
    signatures = AgreementSignature.objects.values_list(
        "pk", "version__agreement__reference", "version__number", "party__name", "user_id"
    )
    for pk, reference, number, party, user_id in signatures.order_by("pk"):
        if (reference, number, party) not in events:
            yield Violation(
                4,
                f"the signature of {party} on version {number} has no audit event",
                (f"signature #{pk}", f"agreement {reference}", _user(user_id)),
            )


# --- 5. votes: no conflict, one per member, quorum for a decision --------------------------------------


def invariant_5() -> Iterator[Violation]:
    recused = ConflictDeclaration.objects.filter(round_id=OuterRef("round_id"), member_id=OuterRef("member_id"))
    member = CommitteeMembership.objects.filter(
        committee_id=OuterRef("round__committee_id"), user_id=OuterRef("member_id")
    )
    problems = {
        "a member voted in a round they were recused from (declared conflict)": Q(Exists(recused)),
        "a member voted on an application they started or are on the team of": _on_team(
            "round__application_id", "member_id"
        ),
        "someone voted who is not a member of the round's committee": ~Q(Exists(member)),
        "a vote was cast after the round closed": Q(round__closed_at__isnull=False, cast_at__gt=F("round__closed_at")),
    }
    votes = Vote.objects.values("pk", "member_id", "member__email", "round__number", "round__application_id")
    for problem, condition in problems.items():
        for row in votes.filter(condition).values(
            "pk",
            "member_id",
            "member__email",
            "round__number",
            "round__application_id",
            "round__application__reference",
        ):
            yield Violation(
                5,
                problem,
                (
                    f"vote #{row['pk']}",
                    _user(row["member_id"], row["member__email"]),
                    f"round {row['round__number']}",
                    _app(row["round__application_id"], row["round__application__reference"]),
                ),
            )
    doubles = Vote.objects.values("round_id", "member_id").annotate(n=Count("pk")).filter(n__gt=1)
    for row in doubles:
        yield Violation(
            5, f"{row['n']} votes by one member in one round", (f"round #{row['round_id']}", _user(row["member_id"]))
        )
    yield from _approvals_met_the_rule()


def _committee_rules_in_force() -> Callable:
    """The decision rule each committee had at a moment: its creation event's quorum and the model's
    defaults, then every `committee.configure` event up to that moment; a committee without a
    creation event (set up outside the portal's services) is taken with its settings as they are."""
    from access_requests.models import Committee
    from access_requests.services.committees import RULE_SETTINGS

    history: dict[str, list[tuple[datetime, str, dict]]] = defaultdict(list)
    events = _events(["committee.create", "committee.configure"]).filter(target_type="access_requests.committee")
    for target_id, created_at, verb, payload in events.order_by("seq").values_list(
        "target_id", "created_at", "verb", "payload"
    ):
        history[target_id].append((created_at, verb, payload or {}))
    committees = {c.pk: c for c in Committee.objects.all()}

    def rule_at(committee_id: int, at: datetime) -> rules.DecisionRule:
        current = committees[committee_id]
        past = history.get(str(committee_id))
        if not past or past[0][1] != "committee.create":
            return current.rule
        as_then = Committee(quorum=int(past[0][2].get("quorum", current.quorum)))
        for created_at, _verb, payload in past[1:]:
            if created_at > at:
                break
            for name in RULE_SETTINGS:
                if name in payload:
                    value = payload[name]
                    setattr(as_then, name, value if name in ("decision_rule",) else type(getattr(current, name))(value))
        return as_then.rule

    return rule_at


def _approvals_met_the_rule() -> Iterator[Violation]:
    """Each approved round: the committee's rule, as it stood then, allowed an approval with the votes
    its eligible members had cast when the chair decided (a vote rule's quorum included)."""
    rule_at = _committee_rules_in_force()
    approved = (
        ReviewRound.objects.filter(outcome=rules.APPROVED)
        .select_related("application")
        .prefetch_related("votes", "conflicts", "committee__memberships")
        .order_by("pk")
    )
    for review_round in approved.iterator(chunk_size=500):
        recused = {c.member_id for c in review_round.conflicts.all()}
        members = [
            rules.Member(member=m.user_id, recused=m.user_id in recused)
            for m in review_round.committee.memberships.all()
            if m.since <= review_round.closed_at
        ]
        votes = [
            rules.CastVote(member=v.member_id, choice=v.choice, cast_at=v.cast_at)
            for v in review_round.votes.all()
            if v.cast_at <= review_round.closed_at
        ]
        rule = rule_at(review_round.committee_id, review_round.closed_at)
        verdict = rules.rule_outcome(rule, votes, members, review_round.closed_at, opened_at=review_round.opened_at)
        if not verdict.approval_allowed:
            yield Violation(
                5,
                f"round {review_round.number} was approved although the committee's rule did not allow it: "
                f"{verdict.detail}",
                (f"round #{review_round.pk}", _app(review_round.application_id, review_round.application.reference)),
            )


# --- 6. frozen after submission; a change voids the agreement's signatures -----------------------------


def invariant_6() -> Iterator[Violation]:
    yield from _submissions_hold()
    yield from _signatures_stand_on_unchanged_versions()


def _submissions_hold() -> Iterator[Violation]:
    from access_requests.services.snapshots import (
        SNAPSHOT_RELATED,
        application_snapshot,
        snapshot_changes,
        snapshot_rows_load,
    )

    latest = Submission.objects.filter(application_id=OuterRef("pk")).order_by("-number")
    # An application withdrawn while returned was the team's to change until then.
    withdrawn_while_editable = _events(["application.withdraw"]).filter(
        target_type="access_requests.application",
        payload__from__in=[ApplicationStatus.DRAFT, ApplicationStatus.RETURNED],
    )
    locked = Application.objects.filter(status__in=LOCKED_STATES, submission_count__gt=0).exclude(
        Q(status=ApplicationStatus.WITHDRAWN)
        & Q(pk__in=withdrawn_while_editable.annotate(app=Cast("target_id", BigIntegerField())).values("app"))
    )
    pks = list(locked.order_by("pk").values_list("pk", flat=True))
    for first in range(0, len(pks), 1000):
        chunk = list(
            Application.objects.filter(pk__in=pks[first : first + 1000])
            .select_related(*SNAPSHOT_RELATED)
            .annotate(submitted_snapshot=latest.values("snapshot")[:1])
            .order_by("pk")
        )
        snapshot_rows_load(chunk)  # what the snapshots read, for the whole chunk at once
        yield from _as_submitted(chunk, application_snapshot, snapshot_changes)


def _as_submitted(chunk: list, application_snapshot, snapshot_changes) -> Iterator[Violation]:
    for application in chunk:
        if application.submitted_snapshot is None:
            yield Violation(
                6, "a submitted application has no submission", (_app(application.pk, application.reference),)
            )
            continue
        changes = snapshot_changes(application.submitted_snapshot, application_snapshot(application))
        if changes:
            what = ", ".join(sorted({f"{c.section}: {c.field}" for c in changes})[:5])
            yield Violation(
                6,
                f"the application is {application.status} but differs from what was submitted ({what})",
                (_app(application.pk, application.reference),),
            )


def _signatures_stand_on_unchanged_versions() -> Iterator[Violation]:
    from access_requests.services.agreement_snapshots import agreement_snapshot
    from access_requests.services.agreement_snapshots import snapshot_changes as agreement_changes

    standing = AgreementSignature.objects.filter(voided_at__isnull=True)
    for row in standing.filter(version__superseded_at__isnull=False).values(
        "pk", "version__number", "version__agreement__reference", "user_id"
    ):
        yield Violation(
            6,
            f"a signature stands on version {row['version__number']}, which a later version superseded",
            (f"signature #{row['pk']}", f"agreement {row['version__agreement__reference']}", _user(row["user_id"])),
        )
    for row in standing.exclude(shown_sha256=F("version__sha256")).values(
        "pk", "version__number", "version__agreement__reference", "user_id"
    ):
        yield Violation(
            6,
            f"a signature stands on version {row['version__number']} over another document than that version's",
            (f"signature #{row['pk']}", f"agreement {row['version__agreement__reference']}", _user(row["user_id"])),
        )
    # An agreement awaiting signatures, some given: what it covers is still what its version says.
    awaiting = Agreement.objects.filter(status=AgreementStatus.AWAITING_SIGNATURES).select_related(
        "application", "round"
    )
    for agreement in awaiting.filter(Exists(standing.filter(version__agreement_id=OuterRef("pk")))):
        version = agreement.current_version
        if version is None or not version.signatures.filter(voided_at__isnull=True).exists():
            continue
        changes = agreement_changes(version.snapshot, agreement_snapshot(agreement.application, agreement.round))
        if changes:
            yield Violation(
                6,
                f"what agreement {agreement.reference} covers changed since version {version.number} was signed, "
                f"and its signatures stand ({'; '.join(changes[:3])})",
                (f"agreement {agreement.reference}", _app(agreement.application_id, agreement.application.reference)),
            )


# --- 7. everyone sees only what their role and relation allow ------------------------------------------


def may_see(user) -> QuerySet:
    """The BRIEF's words as a query, written apart from the access model: a researcher their own
    team's applications; a committee member those assigned to their committee; a steward those that
    request their holders' datasets; the RDO every submitted one. (The portal narrows this further:
    nobody reviews what they are party to, and nobody outside the team sees a draft.)"""
    from catalogue.models import Stewardship
    from portal.models import Role

    team = Q(pk__in=TeamMember.objects.filter(user_id=user.pk, joined_at__isnull=False).values("application_id"))
    seen = team | Q(applicant_id=user.pk)
    if not user.is_active:
        return Application.objects.none()
    roles = set(user.groups.values_list("name", flat=True))
    submitted = Q(submission_count__gt=0)
    if Role.RDO in roles:
        seen |= submitted
    committees = CommitteeMembership.objects.filter(user_id=user.pk).values("committee_id")
    seen |= submitted & Q(committee_id__in=committees)
    if Role.STEWARD in roles:
        holders = Stewardship.objects.filter(user_id=user.pk).values("holder_id")
        seen |= submitted & Q(requested__dataset__holder_id__in=holders)
    return Application.objects.filter(seen)


def invariant_7(users: Iterable | None = None) -> Iterator[Violation]:
    from access_requests.permissions import applications_visible_to
    from portal.models import User

    if users is None:
        yield from _lists_of_everyone(User.objects.filter(is_active=True).order_by("pk"))
    else:
        for user in users:
            allowed = set(may_see(user).values_list("pk", flat=True))
            shown = applications_visible_to(user).values_list("pk", "reference")
            yield from _shown_not_allowed(user, shown, allowed)
    yield from _object_permissions_only_for_the_team()
    yield from _dataset_files_confined()
    yield from _the_public_sees_published_datasets_only()


def _the_public_sees_published_datasets_only() -> Iterator[Violation]:
    from django.contrib.auth.models import AnonymousUser

    from catalogue.models import DatasetStatus
    from catalogue.selectors import datasets_visible_to

    shown = datasets_visible_to(AnonymousUser()).exclude(status=DatasetStatus.PUBLISHED)
    for identifier, status in shown.values_list("identifier", "status"):
        yield Violation(
            7, f"the public catalogue shows a dataset that is {status}, not published", (f"dataset {identifier}",)
        )


def _shown_not_allowed(user, shown: Iterable[tuple[int, str]], allowed: set[int]) -> Iterator[Violation]:
    for pk, reference in shown:
        if pk not in allowed:
            yield Violation(
                7,
                "a person's application list shows an application their role and relation do not allow",
                (_user(user.pk, user.email), _app(pk, reference)),
            )


def _may_see_everyone(people: list, names: dict[int, set[str]]) -> dict[int, set[int]]:
    """`may_see` for many people at once (`names`: each one's groups), from one read of each relation."""
    from catalogue.models import Stewardship
    from portal.models import Role

    allowed: dict[int, set[int]] = defaultdict(set)
    for app_id, user_id in TeamMember.objects.filter(joined_at__isnull=False, user__isnull=False).values_list(
        "application_id", "user_id"
    ):
        allowed[user_id].add(app_id)
    submitted: set[int] = set()
    by_committee: dict[int, set[int]] = defaultdict(set)
    for pk, applicant_id, submissions, committee_id in Application.objects.values_list(
        "pk", "applicant_id", "submission_count", "committee_id"
    ):
        allowed[applicant_id].add(pk)
        if submissions > 0:
            submitted.add(pk)
            by_committee[committee_id].add(pk)
    by_holder: dict[int, set[int]] = defaultdict(set)
    requested = ApplicationDataset.objects.filter(application__submission_count__gt=0)
    for app_id, holder_id in requested.values_list("application_id", "dataset__holder_id").distinct():
        by_holder[holder_id].add(app_id)
    related: dict[int, set[int]] = defaultdict(set)
    for user_id, committee_id in CommitteeMembership.objects.values_list("user_id", "committee_id"):
        related[user_id] |= by_committee.get(committee_id, set())
    for user_id, holder_id in Stewardship.objects.values_list("user_id", "holder_id"):
        if Role.STEWARD in names.get(user_id, ()):
            related[user_id] |= by_holder.get(holder_id, set())
    return {
        user.pk: (
            allowed.get(user.pk, set())
            | related.get(user.pk, set())
            | (submitted if Role.RDO in names.get(user.pk, ()) else set())
        )
        if user.is_active
        else set()
        for user in people
    }


# People with the same roles get their application lists from statements that differ only in their
# own id; from this many people with the same roles on, the lists are read for all of them in one
# statement (the product's own SQL for each: `_lists_in_one_statement`) instead of one per person.
LISTS_IN_ONE_STATEMENT_FROM = 50


def _lists_of_everyone(users) -> Iterator[Violation]:
    """Every person's application list (`applications_visible_to`), checked against `may_see`."""
    from access_requests.permissions import applications_visible_to
    from portal.models import Role, User

    people = list(users)
    names: dict[int, set[str]] = defaultdict(set)
    for user_id, name in User.groups.through.objects.values_list("user_id", "group__name"):
        names[user_id].add(name)
    by_roles: dict[frozenset, list] = defaultdict(list)
    for user in people:
        user._roles_cache = frozenset(names.get(user.pk, set()) & set(Role.values))  # what `User.roles` reads
        by_roles[user._roles_cache].append(user)
    allowed = _may_see_everyone(people, names)
    for group in by_roles.values():
        shown = _lists_in_one_statement(group) if len(group) >= LISTS_IN_ONE_STATEMENT_FROM else None
        for user in group:
            if shown is not None:
                rows = shown.get(user.pk, [])
            else:
                rows = applications_visible_to(user).values_list("pk", "reference")
            yield from _shown_not_allowed(user, rows, allowed[user.pk])


def _lists_in_one_statement(group: list) -> dict[int, list[tuple[int, str]]] | None:
    """The application lists of people who share their roles, from one statement: the product's SQL
    for the first of them, each parameter that is their id (and the second one's id in the SQL built
    for the second) taken from every person in turn, by a LATERAL join over their ids. None when the
    two statements differ otherwise, or when the lists of some of them, read one by one, are not what
    the one statement gives them: then the caller reads each list on its own. (The product's list
    depends on the person through their id and their roles only; the group shares the roles.)"""
    from django.db import connection

    from access_requests.permissions import applications_visible_to

    first, second = group[0], group[1]
    sql, params = applications_visible_to(first).values_list("pk", "reference").query.sql_with_params()
    sql2, params2 = applications_visible_to(second).values_list("pk", "reference").query.sql_with_params()
    pieces = sql.split("%s")
    if sql != sql2 or len(params) != len(params2) or len(pieces) != len(params) + 1 or "%%" in sql:
        return None
    theirs = [a != b for a, b in zip(params, params2, strict=True)]
    if not any(theirs) or any(
        differs and (a != first.pk or b != second.pk) for differs, a, b in zip(theirs, params, params2, strict=True)
    ):
        return None
    text = pieces[0] + "".join(
        ("people.id" if differs else "%s") + piece for differs, piece in zip(theirs, pieces[1:], strict=True)
    )
    # the ORM's own SQL for one person; every value in it stays a bound parameter
    statement = f"SELECT people.id, lists.* FROM unnest(%s::bigint[]) AS people(id) CROSS JOIN LATERAL ({text}) lists"  # noqa: S608  # nosec B608
    values = [[u.pk for u in group], *[p for differs, p in zip(theirs, params, strict=True) if not differs]]
    shown: dict[int, list[tuple[int, str]]] = defaultdict(list)
    with connection.cursor() as cursor:
        cursor.execute(statement, values)
        for user_id, pk, reference in cursor.fetchall():
            shown[user_id].append((pk, reference))
    # A value that depends on the person but came out the same for the first two would be taken as
    # fixed: the lists of the first five and of twenty spread over the group, read one by one, must match.
    for user in group[:5] + group[5 :: max(1, len(group) // 20)]:
        if sorted(applications_visible_to(user).values_list("pk", "reference")) != sorted(shown.get(user.pk, [])):
            return None
    return shown


def _object_permissions_only_for_the_team() -> Iterator[Violation]:
    from django.contrib.contenttypes.models import ContentType
    from guardian.models import UserObjectPermission

    kind = ContentType.objects.get_for_model(Application)
    perms = UserObjectPermission.objects.filter(content_type=kind).values_list("pk", "user_id", "object_pk")
    team = set(
        TeamMember.objects.filter(joined_at__isnull=False, user__isnull=False).values_list("application_id", "user_id")
    )
    team |= set(Application.objects.values_list("pk", "applicant_id"))
    for pk, user_id, object_pk in perms:
        if not str(object_pk).isdigit() or (int(object_pk), user_id) not in team:
            yield Violation(
                7,
                "an object permission on an application is held by someone not on its team",
                (f"permission #{pk}", _user(user_id), _app(object_pk)),
            )


def _dataset_files_confined() -> Iterator[Violation]:
    from catalogue.models import DatasetFile

    outside = (
        ~Q(path__startswith=Concat(F("dataset__holder__storage_area"), Value("/")))
        | Q(path__startswith="/")
        | Q(path__regex=r"(^|/)\.\.(/|$)")
        | Q(dataset__holder__storage_area="")
    )
    for row in DatasetFile._base_manager.filter(outside).values("pk", "path", "dataset__identifier"):
        yield Violation(
            7,
            "a dataset file lies outside its holder's storage area",
            (f"dataset file #{row['pk']} {row['path']}", f"dataset {row['dataset__identifier']}"),
        )
    documents = set(EthicsApproval.objects.values_list("document_sha256", flat=True))
    from access_requests.models import Dpia

    documents |= set(Dpia.objects.exclude(document_sha256="").values_list("document_sha256", flat=True))
    documents |= set(AgreementSignature.objects.exclude(scan_sha256="").values_list("scan_sha256", flat=True))
    documents.discard("")
    if documents:
        for row in DatasetFile._base_manager.filter(sha256__in=documents).values("pk", "path", "dataset__identifier"):
            yield Violation(
                7,
                "a dataset file has the content of an applicant's document",
                (f"dataset file #{row['pk']} {row['path']}", f"dataset {row['dataset__identifier']}"),
            )
    root = str(settings.DOCUMENT_STORAGE_ROOT).rstrip("/") + "/"
    for row in DatasetFile._base_manager.filter(path__startswith=root).values("pk", "path", "dataset__identifier"):
        yield Violation(
            7,
            "a dataset file lies in the applicants' document storage",
            (f"dataset file #{row['pk']} {row['path']}", f"dataset {row['dataset__identifier']}"),
        )


# --- 8. nobody acts for the other side of their own application ---------------------------------------


def invariant_8() -> Iterator[Violation]:
    acts: list[tuple[str, QuerySet, str, str, str]] = [
        ("voted on", Vote.objects.all(), "round__application_id", "member_id", "vote"),
        ("recorded a committee check of", ReviewCheck.objects.all(), "round__application_id", "member_id", "check"),
        (
            "decided",
            ReviewRound.objects.filter(decided_by__isnull=False),
            "application_id",
            "decided_by_id",
            "round",
        ),
        (
            "checked the completeness of",
            RdoChecklist.objects.filter(updated_by__isnull=False),
            "application_id",
            "updated_by_id",
            "checklist",
        ),
        ("returned with comments", ReturnComment.objects.all(), "application_id", "author_id", "return comment"),
        (
            "countersigned for a data holder or the infrastructure",
            AgreementSignature.objects.filter(party__kind__in=[PartyKind.STEWARD, PartyKind.RDO]),
            "version__agreement__application_id",
            "user_id",
            "signature",
        ),
        (
            "verified a countersigned scan of",
            AgreementSignature.objects.filter(verified_by__isnull=False),
            "version__agreement__application_id",
            "verified_by_id",
            "signature",
        ),
        (
            "decided an extension of a grant of",
            ExtensionRequest.objects.filter(decided_by__isnull=False),
            "grant__application_id",
            "decided_by_id",
            "extension request",
        ),
        (
            "revoked a grant of",
            Grant.objects.filter(revoked_by__isnull=False),
            "application_id",
            "revoked_by_id",
            "grant",
        ),
    ]
    for did, rows, app_path, user_path, noun in acts:
        for pk, app_id, user_id in rows.filter(_on_team(app_path, user_path)).values_list("pk", app_path, user_path):
            yield Violation(
                8,
                f"someone on the application's team {did} it",
                (f"{noun} #{pk}", _user(user_id), _app(app_id)),
            )
    yield from _audited_acts_by_the_team()


def _audited_acts_by_the_team() -> Iterator[Violation]:
    team: dict[int, set[int]] = defaultdict(set)
    for app_id, user_id in TeamMember.objects.filter(joined_at__isnull=False, user__isnull=False).values_list(
        "application_id", "user_id"
    ):
        team[app_id].add(user_id)
    for app_id, user_id in Application.objects.values_list("pk", "applicant_id"):
        team[app_id].add(user_id)
    events = _events(OTHER_SIDE_VERBS).filter(target_type="access_requests.application", actor_id__isnull=False)
    for seq, verb, target_id, actor_id in events.values_list("seq", "verb", "target_id", "actor_id").order_by("seq"):
        if target_id.isdigit() and actor_id in team.get(int(target_id), ()):
            yield Violation(
                8,
                f"someone on the application's team {OTHER_SIDE_VERBS[verb]} it",
                (f"audit event #{seq} {verb}", _user(actor_id), _app(target_id)),
            )


# --- all of them -----------------------------------------------------------------------------------------

INVARIANTS: dict[int, tuple[str, Callable[[], Iterable[Violation]]]] = {
    1: ("Bytes leave only under an active download grant, and only what it covers", invariant_1),
    2: ("A grant never outlasts the agreement, the ethics approvals or the dataset's time limit", invariant_2),
    3: ("Revocation and expiry take effect at once", invariant_3),
    4: ("Every state change and every download is in the audit chain, intact", invariant_4),
    5: ("No conflicted or team vote, one vote per member and round, decisions by the rule", invariant_5),
    6: ("Frozen after submission; a change to an agreement's content voids its signatures", invariant_6),
    7: ("Everyone sees only what their role and relation allow; files stay in their holder's storage", invariant_7),
    8: ("Nobody acts for the other side of an application they are on", invariant_8),
}


def check(numbers: Iterable[int] | None = None) -> list[Violation]:
    """Every violation of the invariants `numbers` (all eight by default), in order."""
    found: list[Violation] = []
    for number in sorted(numbers or INVARIANTS):
        found.extend(INVARIANTS[number][1]())
    return found


def timed_check(
    numbers: Iterable[int] | None = None, processes: int = 1
) -> Iterator[tuple[int, list[Violation], float]]:
    """Each invariant's violations with the seconds it took (for the command's report).

    With `processes` > 1 (outside a transaction, on PostgreSQL), the checks run in that many forked
    processes at once, each on its own connection: the audit chain's walk in parts (`portal.services.
    audit.walk_plan`) beside the invariants, longest first; an invariant's seconds are then those of
    its parts, added. The violations are the same as one process finds: when a part of the chain
    fails, the chain is walked again whole here, for its report."""
    chosen = sorted(numbers or INVARIANTS)
    plan = None
    if 4 in chosen:
        from portal.services.audit import walk_plan

        plan = walk_plan(processes)
    if plan is None or processes < 2:
        for number in chosen:
            started = time.perf_counter()
            violations = list(INVARIANTS[number][1]())
            yield number, violations, time.perf_counter() - started
        return
    yield from _in_processes(chosen, processes, plan)


def _beyond_the_head() -> bool:
    """An event past the chain head as it is now (what `audit_verify` checks after its walk)."""
    from portal.models import AuditChainHead, AuditEvent

    head = AuditChainHead.objects.filter(id=1).values_list("seq", flat=True).first() or 0
    return AuditEvent.objects.filter(seq__gt=head).exists()


# The invariants' usual cost at scale, most first: the longest start first, so the processes finish together.
_COST_ORDER = (6, 2, 5, 4, 8, 7, 1, 3)


def _task(task: tuple) -> tuple[tuple, object, float]:
    from portal.services.audit import _walk_part

    started = time.perf_counter()
    if task[0] == "walk":
        result = _walk_part(task[1], task[2], task[3], {})
    elif task[0] == 4:
        result = list(_changes_audited())
    else:
        result = list(INVARIANTS[task[0]][1]())
    return task, result, time.perf_counter() - started


def _in_processes(chosen: list[int], processes: int, plan) -> Iterator[tuple[int, list[Violation], float]]:
    import multiprocessing

    from django.db import connections

    walks = [("walk", first, last, follows) for (first, last), follows in zip(plan.parts, plan.follows, strict=True)]
    tasks = walks + [(n,) for n in sorted(chosen, key=_COST_ORDER.index)]
    connections.close_all()  # each process opens its own connection; this one reopens on its next query
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        done = {task: (result, seconds) for task, result, seconds in pool.imap_unordered(_task, tasks)}
    for number in chosen:
        violations, seconds = done[(number,)]
        if number == 4:
            walked = [done[w][0] for w in walks]
            seconds += sum(done[w][1] for w in walks)
            if not plan.holds(walked) or _beyond_the_head():
                started = time.perf_counter()
                violations = list(_chain_intact()) + violations
                seconds += time.perf_counter() - started
        yield number, violations, seconds
