"""The audit log page's reading side: the known actions, the filters, and keyset pages by sequence number.

Every query here is one short range of an index ending in seq (migration portal 0006), so a
page costs the same at event one million as at event one: no OFFSET, no COUNT over the table.
The total comes from the chain head; a filtered total is counted only up to FILTERED_COUNT_CAP
(`portal.keyset.capped_count`, as the other lists count).
"""

from dataclasses import dataclass

from django.db.models import QuerySet

from portal.models import AuditChainHead, AuditEvent, User

PAGE_SIZE = 50
FILTERED_COUNT_CAP = 1000

# Every action the portal records, with the words the log's filter shows for it. A test
# (tests/portal/test_audit_log.py) finds every verb the code passes to audit_record here.
AUDIT_VERBS: dict[str, str] = {
    "access.refused": "Access refused",
    "api_token.create": "API token created",
    "federation.counts_answer": "Federation: count query answered for a partner node",
    "federation.counts_query": "Federation: federated count query",
    "federation.file_download": "Federation: file of a partner's grant downloaded",
    "federation.grant_receive": "Federation: partner's grant for a dataset here received",
    "federation.grants_honour": "Federation: partner's grants honoured here or no longer",
    "federation.harvest": "Federation: partner catalogue harvested",
    "federation.harvest_fail": "Federation: partner catalogue could not be harvested",
    "federation.links_issue": "Federation: download links of a partner's grant issued",
    "federation.node_add": "Federation: partner node added",
    "federation.node_rekey": "Federation: partner node's key replaced",
    "federation.node_resume": "Federation: partner node resumed",
    "federation.node_suspend": "Federation: partner node suspended",
    "federation.request_refuse": "Federation: partner request refused (signature)",
    "api_token.revoke": "API token revoked",
    "application.clock_extend": "Application: decision clock extended",
    "agreement.create": "Agreement created",
    "agreement.execute": "Agreement executed and sealed",
    "agreement.overdue": "Agreement overdue: RDO told, parties reminded",
    "agreement.render": "Agreement: version rendered",
    "agreement.revise": "Agreement: new version, signatures voided",
    "agreement.scan_upload": "Agreement: countersigned scan uploaded",
    "agreement.scan_verify": "Agreement: countersigned scan verified",
    "agreement.sign": "Agreement signed",
    "agreement.void": "Agreement voided",
    "application.activate": "Application active: agreement executed",
    "application.close": "Application closed: access ended",
    "application.revoke": "Application revoked: all access ended",
    "grant.issue": "Grants issued at execution",
    "grant.revoke": "Grant revoked",
    "grant.expire": "Grant expired",
    "grant.manifest": "Grant: checksum manifest fetched",
    "grant.link_refuse": "Grant: download link refused",
    "download.serve": "Dataset file downloaded",
    "download.refuse": "Download refused",
    "visa.issue": "GA4GH visas issued for processing grants",
    "grant.extension_request": "Grant: extension requested",
    "grant.extend": "Grant extended",
    "grant.extension_refuse": "Grant: extension refused",
    "application.closeout": "Application: closeout attested (copies deleted, results listed)",
    "application.output_add": "Application: results added after the closeout",
    "application.closeout_remind": "Application: applicant reminded of the closeout",
    "application.checklist_update": "Application: review checklist updated",
    "application.create": "Application created",
    "application.dataset_add": "Application: dataset added",
    "application.datasets_set": "Application: datasets chosen",
    "application.decide_approve": "Application approved by the committee",
    "application.decide_reject": "Application rejected by the committee",
    "application.delete_draft": "Application: draft deleted",
    "application.dpia_risk_add": "Application: DPIA risk added",
    "application.dpia_risk_remove": "Application: DPIA risk removed",
    "application.dpia_update": "Application: DPIA updated",
    "application.ethics_add": "Application: ethics approval added",
    "application.ethics_remove": "Application: ethics approval removed",
    "application.forward": "Application forwarded",
    "application.message": "Application: message sent",
    "application.note": "Application: internal note",
    "application.representations_update": "Application: representations updated",
    "application.representations_void": "Application: representations voided",
    "application.request_changes": "Application returned by the committee for changes",
    "application.resubmit": "Application resubmitted",
    "application.return": "Application returned",
    "application.signature_request": "Application: signature requested",
    "application.statements_accept": "Application: statements accepted",
    "application.submit": "Application submitted",
    "application.team_accept": "Application: team invitation accepted",
    "application.team_decline": "Application: team invitation declined",
    "application.team_invite": "Application: team member invited",
    "application.team_remove": "Application: team member removed",
    "application.update": "Application updated",
    "application.withdraw": "Application withdrawn",
    "committee.assign_holder": "Committee: data holder assigned",
    "committee.configure": "Committee: decision rule and periods set",
    "committee.create": "Committee created",
    "committee.member_add": "Committee: member added",
    "data_holder.create": "Data holder created",
    "data_holder.processing_set": "Data holder: processing environment set",
    "data_holder.steward_add": "Data holder: steward added",
    "dataset.create": "Dataset created",
    "dataset.file_remove": "Dataset: file removed",
    "dataset.files_exclude": "Dataset: files failing the de-identification check excluded",
    "dataset.files_refused": "Dataset: files refused",
    "dataset.files_register": "Dataset: files registered",
    "dataset.files_scan": "Dataset: files scanned",
    "dataset.files_scan_failed": "Dataset: file scan failed",
    "dataset.publish": "Dataset published",
    "dataset.update": "Dataset updated",
    "dataset.withdraw": "Dataset withdrawn",
    "document.view": "Document opened",
    "review.check_record": "Review: legal or technical check recorded",
    "review.conflict_declare": "Review: conflict of interest declared",
    "review.letter_render": "Review: decision letter produced",
    "review.vote": "Review: vote cast",
    "review.vote_change": "Review: vote changed",
    "user.create": "User created",
    "user.email_verify": "User: e-mail address proved",
    "user.login": "Signed in",
    "user.login_lockout": "Sign-in locked out",
    "user.logout": "Signed out",
    "user.password_set": "User: password set",
    "user.role_grant": "User: role granted",
    "user.signup_renew": "User: sign-up renewed",
}


def verb_choices() -> list[tuple[str, str]]:
    return [("", "Any action")] + sorted(
        ((verb, f"{label} ({verb})") for verb, label in AUDIT_VERBS.items()), key=lambda c: c[1]
    )


def audit_events_where(*, verb: str = "", actor: str = "", target_type: str = "", target_id: str = "") -> QuerySet:
    """Events matching exact values, each on an indexed column.

    `actor` is a user's e-mail address (their events, whatever address they had then) or the
    recorded name of a system actor ("system:import", "anonymous").
    """
    events = AuditEvent.objects.all()
    if verb:
        events = events.filter(verb=verb)
    if actor:
        user_id = User.objects.filter(email__iexact=actor).values_list("pk", flat=True).first()
        events = events.filter(actor_id=user_id) if user_id is not None else events.filter(actor_label=actor)
    if target_type:
        events = events.filter(target_type=target_type)
        if target_id:
            events = events.filter(target_id=target_id)
    return events


@dataclass(frozen=True)
class AuditPage:
    events: list[AuditEvent]
    older: int | None  # `before` for the next older page, None at the oldest
    newer: int | None  # `after` for the next newer page, None at the newest


def audit_page(events: QuerySet, *, before: int | None = None, after: int | None = None, size: int = PAGE_SIZE):
    """One page of `events`, newest first: the newest, those just older than `before`, or just newer than `after`.

    `after=0` is the oldest page. Each query reads at most size + 1 rows of an index; a row
    added meanwhile never shifts a page, so paging on visits every row exactly once.
    """
    if after is not None:
        rows = list(events.filter(seq__gt=after).order_by("seq")[: size + 1])
        more_newer = len(rows) > size
        rows = rows[:size][::-1]
        more_older = events.filter(seq__lte=after).exists()
        older_edge, newer_edge = after + 1, None
    else:
        query = events if before is None else events.filter(seq__lt=before)
        rows = list(query.order_by("-seq")[: size + 1])
        more_older = len(rows) > size
        rows = rows[:size]
        more_newer = before is not None and events.filter(seq__gte=before).exists()
        older_edge, newer_edge = None, (before - 1 if before is not None else None)
    return AuditPage(
        events=rows,
        older=(rows[-1].seq if rows else older_edge) if more_older else None,
        newer=(rows[0].seq if rows else newer_edge) if more_newer else None,
    )


def audit_head() -> dict:
    """The chain head's seq (every event: no count over the table) and hash."""
    return AuditChainHead.objects.filter(id=1).values("seq", "hash").first() or {"seq": 0, "hash": ""}
