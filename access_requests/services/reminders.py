"""Review reminders, sent by an hourly task (access_requests.tasks.review_reminders).

- A member of an open round who has neither voted nor been recused is reminded once the voting
  deadline is VOTE_REMINDER_WINDOW away or less (and not yet past): once per member and round.
- The committee's chair and the Research Data Office are reminded when an application's decision
  clock is running with CLOCK_REMINDER_WINDOW left or less (overdue included): once per
  application and due date. The due date moves when the chair extends the time or when the
  application comes back from a return (the time with the applicant is added), so a new due date
  gets its own reminder.

Each reminder is an outbox message with a `dedupe_key`: a second run, or two runs at once, queue it
once only. The candidates are found by the database: open rounds whose deadline falls in the
window, and in-review applications whose clock started long enough ago that the time allowed could
have run down to the window (a month is at least 28 days, and pauses and an extension only add
time); only those have their clock computed.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from access_requests.models import (
    Application,
    ApplicationStatus,
    ClockEventKind,
    CommitteeMembership,
    ConflictDeclaration,
    DecisionClockEvent,
    ReviewRound,
    TeamMember,
    Vote,
)
from access_requests.services.review import clock_for
from portal.models import Role, User
from portal.services.notifications import notification_queue

VOTE_REMINDER_WINDOW = timedelta(days=3)
CLOCK_REMINDER_WINDOW = timedelta(days=14)
SHORTEST_MONTH = timedelta(days=28)


def _reachable(users):
    return users.filter(is_active=True, email_verified_at__isnull=False)


def _committee_url(application: Application) -> str:
    return f"{settings.SITE_URL}/applications/{application.pk}/committee/"


def vote_reminders_send(now: datetime) -> int:
    """Remind the members of open rounds whose voting deadline is near; returns how many were queued."""
    rounds = ReviewRound.objects.filter(
        closed_at__isnull=True,
        application__status=ApplicationStatus.IN_REVIEW,
        voting_deadline__gt=now,
        voting_deadline__lte=now + VOTE_REMINDER_WINDOW,
    ).select_related("application", "committee")
    sent = 0
    for review_round in rounds:
        members = _reachable(
            User.objects.filter(
                pk__in=CommitteeMembership.objects.filter(committee_id=review_round.committee_id).values("user_id")
            )
        )
        members = members.exclude(pk__in=Vote.objects.filter(round=review_round).values("member_id")).exclude(
            pk__in=ConflictDeclaration.objects.filter(round=review_round).values("member_id")
        )
        for member in members.order_by("pk"):
            with transaction.atomic():
                message = notification_queue(
                    to=[member],
                    template="review_vote_reminder",
                    context={
                        "member": member,
                        "application": review_round.application,
                        "round": review_round,
                        "deadline": review_round.voting_deadline,
                        "review_url": _committee_url(review_round.application),
                    },
                    dedupe_key=f"review-vote-reminder:{review_round.pk}:{member.pk}",
                )
            sent += message is not None
    return sent


def clock_candidates(now: datetime):
    """In-review applications whose clock could have CLOCK_REMINDER_WINDOW left or less: those whose
    start, plus the shortest length the time allowed can have, falls within the window."""
    starts = DecisionClockEvent.objects.filter(
        kind=ClockEventKind.START, application__status=ApplicationStatus.IN_REVIEW
    )
    ids: set[int] = set()
    for months in starts.order_by().values_list("months", flat=True).distinct():
        latest_start = now + CLOCK_REMINDER_WINDOW - SHORTEST_MONTH * months
        ids.update(starts.filter(months=months, at__lte=latest_start).values_list("application_id", flat=True))
    return Application.objects.filter(pk__in=ids, status=ApplicationStatus.IN_REVIEW).select_related("committee")


def _clock_recipients(application: Application) -> list[User]:
    """The chair of the application's committee and the Research Data Office, nobody on its team."""
    party = set(
        TeamMember.objects.filter(application=application, user__isnull=False).values_list("user_id", flat=True)
    )
    party.add(application.applicant_id)
    chair = User.objects.filter(
        pk__in=CommitteeMembership.objects.filter(
            committee_id=application.committee_id, role=CommitteeMembership.Role.CHAIR
        ).values("user_id")
    )
    rdo = User.objects.filter(groups__name=Role.RDO)
    return list(_reachable((chair | rdo).exclude(pk__in=party)).distinct().order_by("pk"))


def clock_reminders_send(now: datetime) -> int:
    """Remind the chair and the RDO of the applications whose decision is due soon or overdue."""
    sent = 0
    for application in clock_candidates(now):
        state = clock_for(application, now)
        if not state.running or state.time_left > CLOCK_REMINDER_WINDOW:
            continue
        with transaction.atomic():
            message = notification_queue(
                to=_clock_recipients(application),
                template="decision_clock_reminder",
                context={
                    "application": application,
                    "due": state.due_at,
                    "days_left": state.time_left.days,
                    "overdue": state.overdue,
                    "extended": state.extended,
                    "review_url": _committee_url(application),
                },
                dedupe_key=f"decision-clock-reminder:{application.pk}:{state.due_at.date().isoformat()}",
            )
        sent += message is not None
    return sent


def review_reminders_send(now: datetime | None = None) -> dict:
    """Both kinds of reminder; safe to run twice (each reminder is queued once)."""
    now = now or timezone.now()
    return {"vote": vote_reminders_send(now), "clock": clock_reminders_send(now)}
