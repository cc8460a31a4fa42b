"""The application's state machine: submit, return, forward, withdraw, and the committee's decision
(decide_approve, decide_reject, request_changes: access_requests/services/review.py `round_decide`)
and the activation when the data-access agreement is executed (services/agreements.py).

Each transition is one function: it locks the application, checks the actor's permission and
the declared table of allowed transitions, changes the state, writes the audit event and
queues the notifications, all in one transaction. An illegal transition raises
TransitionError (a 409 in the API, a message on the page) and changes nothing; asking for
the state the application is already in returns quietly.
"""

from django.db import transaction
from django.utils import timezone

from access_requests.models import (
    Application,
    Committee,
    RdoChecklist,
    ReturnComment,
    Section,
    Submission,
)
from access_requests.models import (
    ApplicationStatus as S,
)
from access_requests.services.checks import application_check
from access_requests.services.snapshots import application_snapshot
from access_requests.services.team import team_member_emails
from portal.access import require_actor
from portal.errors import InvalidInput, TransitionError
from portal.models import Role, User
from portal.services.audit import audit_record
from portal.services.notifications import notification_queue

# action: (states it may start from, state it leads to).
TRANSITIONS: dict[str, tuple[frozenset, str]] = {
    "submit": (frozenset({S.DRAFT, S.RETURNED}), S.SUBMITTED),
    "return": (frozenset({S.SUBMITTED}), S.RETURNED),
    "forward": (frozenset({S.SUBMITTED}), S.IN_REVIEW),
    "withdraw": (frozenset({S.DRAFT, S.SUBMITTED, S.RETURNED, S.IN_REVIEW, S.APPROVED}), S.WITHDRAWN),
    # the chair closes the review round (approval only when the committee's rule is met)
    "decide_approve": (frozenset({S.IN_REVIEW}), S.APPROVED),
    "decide_reject": (frozenset({S.IN_REVIEW}), S.REJECTED),
    "request_changes": (frozenset({S.IN_REVIEW}), S.RETURNED),
    # every party signed the data-access agreement: executed and sealed (services/agreements.py)
    "activate": (frozenset({S.APPROVED}), S.ACTIVE),
    # access ends: every grant over (services/grants.py), or revoked by the RDO or the committee's chair
    "close": (frozenset({S.ACTIVE}), S.CLOSED),
    "revoke": (frozenset({S.ACTIVE}), S.REVOKED),
}


# action -> the access model's rule (portal.access) the actor must pass, before anything else.
ACTORS: dict[str, str] = {
    "submit": "application.applicant",
    "return": "application.review",
    "forward": "application.review",
    "withdraw": "application.applicant",
    "decide_approve": "application.chair",
    "decide_reject": "application.chair",
    "request_changes": "application.chair",
    "activate": "application.review",  # the portal itself, when the agreement is executed
    "close": "application.review",  # the portal itself, when the last grant ends
    "revoke": "application.revoke",
}


def _begin(action: str, application: Application, actor: User) -> tuple[Application, bool]:
    """Lock the row, check the actor (even when there is nothing left to do), then the transition table;
    return the row and whether the transition is already done."""
    locked = Application.objects.select_for_update(of=("self",)).select_related("committee").get(pk=application.pk)
    require_actor(actor, ACTORS[action], locked)
    sources, target = TRANSITIONS[action]
    if locked.status == target:
        return locked, True
    if locked.status not in sources:
        raise TransitionError(
            f"Cannot {action} application {locked.reference}: it is {locked.get_status_display().lower()}."
        )
    return locked, False


def _rdo_users():
    return list(User.objects.filter(groups__name=Role.RDO, is_active=True, email_verified_at__isnull=False))


def _team_emails(application: Application) -> list[str]:
    """Members who accepted, at their proved account address; an open invitation receives nothing here."""
    return team_member_emails(application)


def application_submit(*, actor: User, application: Application) -> Application:
    """Submit (or resubmit after a return). Refused while the submission check finds anything."""
    with transaction.atomic():
        application, done = _begin("submit", application, actor)
        if done:
            return application
        problems = application_check(application)
        if problems:
            raise InvalidInput(
                f"The application cannot be submitted yet: {len(problems)} thing(s) to fix.",
                fields={"check": [p.message for p in problems]},
            )
        resubmission = application.status == S.RETURNED
        now = timezone.now()
        application.status = S.SUBMITTED
        application.submission_count += 1
        application.submitted_at = now
        application.first_submitted_at = application.first_submitted_at or now
        application.save(
            update_fields=["status", "submission_count", "submitted_at", "first_submitted_at", "updated_at"]
        )
        Submission.objects.create(
            application=application,
            number=application.submission_count,
            submitted_by=actor,
            submitted_at=now,
            snapshot=application_snapshot(application),
        )
        RdoChecklist.objects.create(application=application, submission_number=application.submission_count)
        audit_record(
            actor=actor,
            verb="application.resubmit" if resubmission else "application.submit",
            target=application,
            payload={"status": S.SUBMITTED, "submission": application.submission_count},
        )
        context = {"application": application, "resubmission": resubmission}
        notification_queue(to=_rdo_users(), template="application_submitted_rdo", context=context)
        notification_queue(to=_team_emails(application), template="application_submitted", context=context)
    return application


def application_return(*, actor: User, application: Application, comments: dict[str, str]) -> Application:
    """The RDO returns the application for revision with comments per section (at least one)."""
    with transaction.atomic():
        application, done = _begin("return", application, actor)
        if done:
            return application
        comments = {section: text.strip() for section, text in (comments or {}).items() if text and text.strip()}
        unknown = set(comments) - set(Section.values)
        if unknown:
            raise InvalidInput("Unknown sections.", fields={s: ["Unknown section."] for s in unknown})
        if not comments:
            raise InvalidInput(
                "Say what must change: comment on at least one section.",
                fields={"comments": ["At least one comment."]},
            )
        for section, text in comments.items():
            ReturnComment.objects.create(
                application=application,
                submission_number=application.submission_count,
                section=section,
                text=text,
                author=actor,
            )
        application.status = S.RETURNED
        application.save(update_fields=["status", "updated_at"])
        audit_record(
            actor=actor,
            verb="application.return",
            target=application,
            payload={"status": S.RETURNED, "sections": sorted(comments)},
        )
        notification_queue(
            to=_team_emails(application),
            template="application_returned",
            # by the sections' names, as the applicant reads them on the page
            context={"application": application, "comments": [(Section(s).label, t) for s, t in comments.items()]},
        )
    return application


def application_forward(*, actor: User, application: Application, committee: Committee) -> Application:
    """The RDO forwards a checked application to an access committee for review: a review round opens
    and the decision clock starts (or resumes, after a return for changes)."""
    from access_requests.services.review import round_open

    with transaction.atomic():
        application, done = _begin("forward", application, actor)
        if done:
            return application
        checklist = RdoChecklist.objects.filter(
            application=application, submission_number=application.submission_count
        ).first()
        if checklist is None or not checklist.complete:
            raise TransitionError(
                "Complete the checklist first: ethics verified, DPIA reviewed and representations checked."
            )
        application.status = S.IN_REVIEW
        application.committee = committee
        application.save(update_fields=["status", "committee", "updated_at"])
        review_round = round_open(application, committee, timezone.now())
        audit_record(
            actor=actor,
            verb="application.forward",
            target=application,
            payload={
                "status": S.IN_REVIEW,
                "committee": committee.name,
                "committee_id": committee.pk,
                "round": review_round.number,
            },
        )
        members = [m.user for m in committee.memberships.select_related("user")]
        notification_queue(
            to=members,
            template="application_forwarded_committee",
            context={"application": application, "committee": committee},
        )
        notification_queue(
            to=_team_emails(application),
            template="application_forwarded",
            context={"application": application, "committee": committee},
        )
    return application


def application_withdraw(*, actor: User, application: Application, reason: str = "") -> Application:
    """The applicant withdraws, any time before access is active (an open review round closes)."""
    from access_requests.services.review import round_close_withdrawn

    with transaction.atomic():
        application, done = _begin("withdraw", application, actor)
        if done:
            return application
        previous = application.status
        application.status = S.WITHDRAWN
        application.save(update_fields=["status", "updated_at"])
        round_close_withdrawn(application, timezone.now())
        if previous == S.APPROVED:
            from access_requests.services.agreements import agreements_void_for

            agreements_void_for(actor=actor, application=application, reason="The applicant withdrew the application.")
        audit_record(
            actor=actor,
            verb="application.withdraw",
            target=application,
            payload={"status": S.WITHDRAWN, "from": previous, "reason": reason.strip()},
        )
        if previous != S.DRAFT:
            notification_queue(to=_rdo_users(), template="application_withdrawn", context={"application": application})
    return application


def rdo_checklist_update(*, actor: User, application: Application, data: dict) -> RdoChecklist:
    """The RDO ticks the completeness checklist of the current submission."""
    fields = {"ethics_verified", "dpia_reviewed", "representations_checked", "notes"}
    with transaction.atomic():
        application = Application.objects.select_for_update().get(pk=application.pk)
        require_actor(actor, "application.review", application)
        unknown = set(data) - fields
        if unknown:
            raise InvalidInput("Unknown fields.", fields={name: ["Unknown field."] for name in sorted(unknown)})
        if application.status != S.SUBMITTED:
            raise TransitionError("The checklist is kept while the application is submitted and waiting for the RDO.")
        checklist = RdoChecklist.objects.select_for_update().get(
            application=application, submission_number=application.submission_count
        )
        for field, value in data.items():
            setattr(checklist, field, value)
        checklist.updated_by = actor
        checklist.save()
        audit_record(
            actor=actor,
            verb="application.checklist_update",
            target=application,
            payload={k: v for k, v in data.items() if k != "notes"} | {"submission": checklist.submission_number},
        )
    return checklist


def application_resubmit_changes(application: Application) -> list:
    """What changed between the latest submission and the one before it (empty for a first submission)."""
    from access_requests.services.snapshots import snapshot_changes

    latest = list(application.submissions.order_by("-number")[:2])
    if len(latest) < 2:
        return []
    return snapshot_changes(latest[1].snapshot, latest[0].snapshot)
