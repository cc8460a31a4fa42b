"""Committee review: rounds, conflict declarations, legal and technical checks, votes, the decision
and its clock. State changes only in access_requests/services/review.py."""

from django.db import models
from django.db.models import Q

from access_requests import rules


class ReviewRound(models.Model):
    """One committee review of one submission: opened when the RDO forwards, closed by the chair's
    decision. A return for changes and a new forward open the next round; earlier rounds stay."""

    class Outcome(models.TextChoices):
        APPROVED = rules.APPROVED, "Approved"
        REJECTED = rules.REJECTED, "Rejected"
        RETURNED = rules.RETURNED, "Returned for changes"
        WITHDRAWN = "withdrawn", "Withdrawn by the applicant"

    application = models.ForeignKey(
        "access_requests.Application", on_delete=models.CASCADE, related_name="review_rounds"
    )
    number = models.PositiveSmallIntegerField()
    committee = models.ForeignKey("access_requests.Committee", on_delete=models.PROTECT, related_name="rounds")
    submission_number = models.PositiveSmallIntegerField(help_text="the submission under review")
    opened_at = models.DateTimeField()
    voting_deadline = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=12, choices=Outcome.choices, blank=True)
    decided_by = models.ForeignKey("portal.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    rationale = models.TextField(blank=True)
    conditions = models.TextField(blank=True, help_text="conditions of use the agreement will carry")

    class Meta:
        ordering = ["application", "number"]
        constraints = [
            models.UniqueConstraint(fields=["application", "number"], name="review_round_number_unique"),
            models.UniqueConstraint(
                fields=["application"], condition=Q(closed_at__isnull=True), name="review_round_one_open"
            ),
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True, outcome="") | (Q(closed_at__isnull=False) & ~Q(outcome="")),
                name="review_round_closed_with_outcome",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.application.reference} round {self.number}"

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


class ConflictDeclaration(models.Model):
    """A member's conflict of interest in one round: it recuses them from it."""

    round = models.ForeignKey(ReviewRound, on_delete=models.CASCADE, related_name="conflicts")
    member = models.ForeignKey("portal.User", on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    automatic = models.BooleanField(default=False, help_text="recused by the portal (team member or steward)")
    declared_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["round", "member"], name="conflict_once_per_round"),
            models.CheckConstraint(condition=~Q(reason=""), name="conflict_reason_given"),
        ]

    def __str__(self) -> str:
        return f"{self.member} recused from {self.round}"


class CheckKind(models.TextChoices):
    LEGAL = "legal", "Legal check"
    TECHNICAL = "technical", "Technical check"


# The short checklists: item key -> the question a member answers yes or no.
CHECK_ITEMS: dict[str, list[tuple[str, str]]] = {
    CheckKind.LEGAL: [
        ("legal_basis", "The legal basis for the processing is stated and sound"),
        ("ethics", "The ethics approvals cover the requested datasets and the access period"),
        ("representations", "The institution's signatory accepted the legal statements"),
        ("use_conditions", "The project respects each dataset's conditions of use"),
    ],
    CheckKind.TECHNICAL: [
        ("environment", "The processing environment is secure enough for these data"),
        ("minimisation", "Only the data the project needs are requested"),
        ("access_mode", "The access mode of each dataset fits the planned analysis"),
        ("reidentification", "The risks of re-identification are mitigated"),
    ],
}


class ReviewCheck(models.Model):
    """A member's legal or technical check in one round: the checklist's answers and notes."""

    round = models.ForeignKey(ReviewRound, on_delete=models.CASCADE, related_name="checks")
    member = models.ForeignKey("portal.User", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=10, choices=CheckKind.choices)
    answers = models.JSONField(default=dict, blank=True, help_text="item key -> true/false")
    notes = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["pk"]
        constraints = [models.UniqueConstraint(fields=["round", "member", "kind"], name="review_check_once")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} by {self.member} in {self.round}"


class VoteChoice(models.TextChoices):
    APPROVE = rules.APPROVE, "Approve"
    REJECT = rules.REJECT, "Reject"
    ABSTAIN = rules.ABSTAIN, "Abstain"
    REQUEST_CHANGES = rules.REQUEST_CHANGES, "Request changes"


class Vote(models.Model):
    """A member's vote in one round; changeable until the round closes (one per member)."""

    round = models.ForeignKey(ReviewRound, on_delete=models.CASCADE, related_name="votes")
    member = models.ForeignKey("portal.User", on_delete=models.PROTECT, related_name="+")
    choice = models.CharField(max_length=16, choices=VoteChoice.choices)
    rationale = models.TextField(blank=True)
    cast_at = models.DateTimeField(help_text="when the vote took its current choice")

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["round", "member"], name="vote_once_per_member"),
            models.CheckConstraint(condition=Q(choice=rules.APPROVE) | ~Q(rationale=""), name="vote_rationale_given"),
            models.CheckConstraint(condition=Q(choice__in=[c.value for c in VoteChoice]), name="vote_choice_known"),
        ]

    def __str__(self) -> str:
        return f"{self.member} votes {self.choice} in {self.round}"


class DatasetDecision(models.Model):
    """The decision on one requested dataset, when the chair approves some datasets and refuses others."""

    round = models.ForeignKey(ReviewRound, on_delete=models.CASCADE, related_name="dataset_decisions")
    requested = models.ForeignKey("access_requests.ApplicationDataset", on_delete=models.CASCADE, related_name="+")
    approved = models.BooleanField()
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["round", "requested"], name="dataset_decision_once"),
            models.CheckConstraint(condition=Q(approved=True) | ~Q(reason=""), name="dataset_refusal_reason_given"),
        ]

    def __str__(self) -> str:
        return f"{self.requested} {'approved' if self.approved else 'refused'}"


class ClockEventKind(models.TextChoices):
    START = rules.START, "Started"
    PAUSE = rules.PAUSE, "Paused while returned"
    RESUME = rules.RESUME, "Resumed"
    EXTEND = rules.EXTEND, "Extended"
    STOP = rules.STOP, "Stopped"


class DecisionClockEvent(models.Model):
    """What happened to an application's decision clock; `rules.clock_state` computes the rest."""

    application = models.ForeignKey(
        "access_requests.Application", on_delete=models.CASCADE, related_name="clock_events"
    )
    kind = models.CharField(max_length=8, choices=ClockEventKind.choices)
    at = models.DateTimeField()
    months = models.PositiveSmallIntegerField(default=0, help_text="start: time allowed; extend: months added")
    reason = models.TextField(blank=True)
    actor = models.ForeignKey("portal.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["application"], condition=Q(kind=rules.START), name="clock_started_once"),
            models.UniqueConstraint(fields=["application"], condition=Q(kind=rules.EXTEND), name="clock_extended_once"),
            models.CheckConstraint(condition=~Q(kind=rules.EXTEND) | ~Q(reason=""), name="clock_extension_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.application.reference} clock {self.kind}"

    def as_rule_event(self) -> rules.ClockEvent:
        return rules.ClockEvent(kind=self.kind, at=self.at, months=self.months)


# The version of the decision letter's template: a letter records the one it was rendered with, so
# a letter rendered before the wording changed is known for what it is.
LETTER_TEMPLATE_VERSION = "2026-11"


class DecisionLetter(models.Model):
    """The PDF letter that records a round's decision, rendered once after the decision committed
    (access_requests/services/letters.py) and kept like an uploaded document."""

    round = models.OneToOneField(ReviewRound, on_delete=models.CASCADE, related_name="letter")
    path = models.CharField(max_length=300, help_text="relative to DOCUMENT_STORAGE_ROOT")
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    rendered_at = models.DateTimeField()
    template_version = models.CharField(max_length=20, default=LETTER_TEMPLATE_VERSION)

    class Meta:
        ordering = ["round"]

    def __str__(self) -> str:
        return f"Decision letter of {self.round}"
