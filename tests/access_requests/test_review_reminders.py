"""Review reminders: members who have not voted as the voting deadline nears, the chair and the RDO
as the decision time runs out; each reminder once, however often (and however concurrently) the
hourly task runs."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction

from access_requests.services import review as rv
from access_requests.services.reminders import review_reminders_send
from access_requests.tasks import review_reminders
from portal.models import OutboxEmail
from portal.services.notifications import notification_queue


def _sent(template: str) -> list[set[str]]:
    return [set(m.to) for m in OutboxEmail.objects.filter(template=template).order_by("pk")]


# --- votes ------------------------------------------------------------------------------------


def test_members_who_have_not_voted_are_reminded_once_when_the_deadline_is_three_days_away(
    round1, in_review, chair, member, member2
):
    rv.vote_cast(actor=member, review_round=round1, choice="approve")
    now = round1.voting_deadline - timedelta(days=2, hours=23)
    assert review_reminders_send(now) == {"vote": 2, "clock": 0}
    assert review_reminders_send(now + timedelta(hours=1)) == {"vote": 0, "clock": 0}
    assert sorted(_sent("review_vote_reminder"), key=sorted) == sorted([{chair.email}, {member2.email}], key=sorted)
    mail = OutboxEmail.objects.filter(template="review_vote_reminder", to=[member2.email]).get()
    assert f"{settings.SITE_URL}/applications/{in_review.pk}/committee/" in mail.body_text
    assert in_review.reference in mail.subject
    assert mail.dedupe_key == f"review-vote-reminder:{round1.pk}:{member2.pk}"


def test_a_recused_member_is_not_reminded(round1, chair, member, member2):
    rv.conflict_declare(actor=member2, review_round=round1, reason="I co-authored with the applicant.")
    rv.vote_cast(actor=chair, review_round=round1, choice="approve")
    review_reminders_send(round1.voting_deadline - timedelta(days=1))
    assert _sent("review_vote_reminder") == [{member.email}]


def test_nobody_is_reminded_outside_the_three_days_before_the_deadline(round1):
    review_reminders_send(round1.voting_deadline - timedelta(days=3, minutes=1))
    review_reminders_send(round1.voting_deadline + timedelta(minutes=1))
    assert _sent("review_vote_reminder") == []


def test_a_closed_round_reminds_nobody(round1, in_review, chair, member, member2):
    rv.vote_cast(actor=member, review_round=round1, choice="approve")
    rv.round_decide(actor=chair, application=in_review, outcome="rejected", rationale="Out of scope.")
    review_reminders_send(round1.voting_deadline - timedelta(days=1))
    assert _sent("review_vote_reminder") == []


def test_the_task_runs_the_reminders_and_is_scheduled_hourly(round1, chair, member, member2):
    assert settings.CELERY_BEAT_SCHEDULE["review-reminders"] == {
        "task": "access_requests.tasks.review_reminders",
        "schedule": 3600.0,
    }
    assert review_reminders.delay().get() == {"vote": 0, "clock": 0}  # nothing is due yet


# --- the decision clock -----------------------------------------------------------------------


def test_the_chair_and_the_rdo_are_reminded_once_when_fourteen_days_are_left(in_review, chair, member, rdo, alice):
    due = rv.clock_for(in_review).due_at
    assert review_reminders_send(due - timedelta(days=14, minutes=1)) == {"vote": 0, "clock": 0}
    assert review_reminders_send(due - timedelta(days=14))["clock"] == 1
    assert review_reminders_send(due - timedelta(days=13))["clock"] == 0
    assert review_reminders_send(due + timedelta(days=2))["clock"] == 0  # overdue, same due date: sent already
    assert _sent("decision_clock_reminder") == [{chair.email, rdo.email}]
    mail = OutboxEmail.objects.get(template="decision_clock_reminder")
    assert mail.dedupe_key == f"decision-clock-reminder:{in_review.pk}:{due.date().isoformat()}"
    assert f"/applications/{in_review.pk}/committee/" in mail.body_text
    assert alice.email not in mail.to and member.email not in mail.to


def test_an_overdue_decision_is_reminded(in_review, chair, rdo):
    due = rv.clock_for(in_review).due_at
    assert review_reminders_send(due + timedelta(days=20))["clock"] == 1
    assert "overdue" in OutboxEmail.objects.get(template="decision_clock_reminder").subject


def test_an_extension_makes_a_new_due_date_that_is_reminded_again(in_review, chair, rdo):
    due = rv.clock_for(in_review).due_at
    assert review_reminders_send(due - timedelta(days=10))["clock"] == 1
    state = rv.clock_extend(actor=chair, application=in_review, months=1, reason="An external DPO opinion.")
    assert review_reminders_send(due - timedelta(days=9))["clock"] == 0  # a month and more left now
    assert review_reminders_send(state.due_at - timedelta(days=5))["clock"] == 1
    assert len(_sent("decision_clock_reminder")) == 2


def test_a_paused_clock_is_not_reminded(round1, in_review, chair, member):
    due = rv.clock_for(in_review).due_at
    rv.vote_cast(actor=member, review_round=round1, choice="request_changes", rationale="Name the DPO.")
    rv.round_decide(actor=chair, application=in_review, outcome="returned", rationale="Name the DPO.")
    assert rv.clock_for(in_review).paused
    assert review_reminders_send(due + timedelta(days=5)) == {"vote": 0, "clock": 0}


def test_an_application_started_recently_is_not_even_a_candidate(in_review):
    from access_requests.services.reminders import clock_candidates

    due = rv.clock_for(in_review).due_at
    assert list(clock_candidates(due - timedelta(days=60))) == []
    assert list(clock_candidates(due - timedelta(days=14))) == [in_review]


# --- sending once -----------------------------------------------------------------------------


def test_a_message_with_a_dedupe_key_is_queued_once(alice):
    first = notification_queue(to=[alice], template="welcome", context={"user": alice}, dedupe_key="k:1")
    assert first is not None
    assert notification_queue(to=[alice], template="welcome", context={"user": alice}, dedupe_key="k:1") is None
    assert OutboxEmail.objects.filter(dedupe_key="k:1").count() == 1
    assert notification_queue(to=[alice], template="welcome", context={"user": alice}) is not None


def test_a_racing_sender_with_the_same_key_loses_quietly_and_its_transaction_carries_on(alice, monkeypatch):
    from portal.services import notifications

    notification_queue(to=[alice], template="welcome", context={"user": alice}, dedupe_key="race:1")
    # the other sender looked before this one's row existed: its look finds nothing, its insert collides
    real = notifications.OutboxEmail.objects.filter
    monkeypatch.setattr(
        notifications.OutboxEmail.objects,
        "filter",
        lambda *a, **k: real(*a, **k).none() if "dedupe_key" in k else real(*a, **k),
    )
    with transaction.atomic():
        assert notification_queue(to=[alice], template="welcome", context={"user": alice}, dedupe_key="race:1") is None
        OutboxEmail.objects.create(to=[alice.email], subject="after", body_text="x", template="t")  # still usable
    monkeypatch.undo()
    assert OutboxEmail.objects.filter(dedupe_key="race:1").count() == 1
    assert OutboxEmail.objects.filter(subject="after").exists()
