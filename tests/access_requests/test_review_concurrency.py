"""Committee members and the chair acting on one round at the same moment, on PostgreSQL with real
commits: the round's row lock and the vote's unique constraint leave one consistent outcome."""

import pytest

from access_requests.models import Application, ApplicationStatus, ReviewRound, Vote
from access_requests.services import review as rv
from portal.errors import TransitionError
from portal.models import AuditEvent
from portal.services.audit import audit_verify
from tests.access_requests.test_concurrency import race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _verbs(application, prefix) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(target_id=str(application.pk), verb__startswith=prefix)
        .order_by("seq")
        .values_list("verb", "payload")
    )


def test_two_votes_by_one_member_at_once_leave_one_vote(round1, in_review, member):
    results = race(
        lambda: rv.vote_cast(actor=member, review_round=round1, choice="approve"),
        lambda: rv.vote_cast(actor=member, review_round=round1, choice="reject", rationale="Too broad."),
    )
    assert all(isinstance(result, Vote) for result in results)
    vote = Vote.objects.get(round=round1, member=member)
    events = _verbs(in_review, "review.vote")
    assert [verb for verb, _ in events] == ["review.vote", "review.vote_change"]
    assert vote.choice == events[-1][1]["choice"]  # the later of the two is the vote that stands
    assert audit_verify().ok


def test_closing_a_round_twice_at_once_closes_it_once(round1, in_review, chair, member, member2):
    rv.vote_cast(actor=member, review_round=round1, choice="approve")
    rv.vote_cast(actor=member2, review_round=round1, choice="approve")
    results = race(
        lambda: rv.round_decide(
            actor=chair, application=in_review, outcome="approved", rationale="Sound.", round_number=1
        ),
        lambda: rv.round_decide(
            actor=chair, application=in_review, outcome="approved", rationale="Sound.", round_number=1
        ),
    )
    assert sorted(type(result).__name__ for result in results) == ["Application", "TransitionError"]
    refusal = next(result for result in results if isinstance(result, TransitionError))
    assert "already closed" in refusal.message
    assert [verb for verb, _ in _verbs(in_review, "application.decide")] == ["application.decide_approve"]
    assert Application.objects.get(pk=in_review.pk).status == ApplicationStatus.APPROVED
    assert audit_verify().ok


def test_an_approval_and_a_rejection_at_once_leave_one_decision(round1, in_review, chair, member, member2):
    rv.vote_cast(actor=member, review_round=round1, choice="approve")
    rv.vote_cast(actor=member2, review_round=round1, choice="approve")
    approved, rejected = race(
        lambda: rv.round_decide(actor=chair, application=in_review, outcome="approved", rationale="Sound."),
        lambda: rv.round_decide(actor=chair, application=in_review, outcome="rejected", rationale="Unsafe."),
    )
    decided = _verbs(in_review, "application.decide")
    assert len(decided) == 1
    status = Application.objects.get(pk=in_review.pk).status
    review_round = ReviewRound.objects.get(pk=round1.pk)
    if isinstance(approved, Application):
        assert isinstance(rejected, TransitionError)
        assert (status, review_round.outcome, decided[0][0]) == ("approved", "approved", "application.decide_approve")
    else:
        assert isinstance(rejected, Application)
        assert (status, review_round.outcome, decided[0][0]) == ("rejected", "rejected", "application.decide_reject")
    assert audit_verify().ok


def test_a_decision_and_a_late_vote_racing_leave_a_consistent_outcome(round1, in_review, chair, member, member2):
    """Quorum 2 and one approve cast: the chair's approval needs member2's vote. Either the vote lands
    first and the approval counts it, or the approval is refused and the vote stays in the open round."""
    rv.vote_cast(actor=member, review_round=round1, choice="approve")
    decision, vote = race(
        lambda: rv.round_decide(actor=chair, application=in_review, outcome="approved", rationale="Sound."),
        lambda: rv.vote_cast(actor=member2, review_round=round1, choice="approve"),
    )
    review_round = ReviewRound.objects.get(pk=round1.pk)
    assert isinstance(vote, Vote)  # the round was open when it came: the vote stands either way
    if isinstance(decision, Application):
        assert review_round.outcome == "approved"
        assert Vote.objects.get(round=round1, member=member2).cast_at <= review_round.closed_at
    else:
        assert "does not allow an approval" in decision.message
        assert review_round.is_open
        assert Application.objects.get(pk=in_review.pk).status == ApplicationStatus.IN_REVIEW
    assert audit_verify().ok


def test_a_vote_racing_a_closing_rejection_is_either_counted_before_or_refused(
    round1, in_review, chair, member, member2
):
    decision, vote = race(
        lambda: rv.round_decide(actor=chair, application=in_review, outcome="rejected", rationale="Unsafe."),
        lambda: rv.vote_cast(actor=member2, review_round=round1, choice="approve"),
    )
    assert isinstance(decision, Application)
    review_round = ReviewRound.objects.get(pk=round1.pk)
    assert review_round.outcome == "rejected"
    stored = Vote.objects.filter(round=round1, member=member2).first()
    if isinstance(vote, Vote):
        assert stored is not None and stored.cast_at <= review_round.closed_at
    else:
        assert isinstance(vote, TransitionError) and "closed" in vote.message
        assert stored is None
    assert audit_verify().ok
