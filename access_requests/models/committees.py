"""Access committees (applications, reviews, agreements and grants build on them)."""

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from access_requests import rules


class DecisionRule(models.TextChoices):
    MAJORITY = rules.MAJORITY, "Majority of the votes"
    UNANIMITY = rules.UNANIMITY, "Unanimity of the votes cast"
    OBJECTION_WINDOW = rules.OBJECTION_WINDOW, "Approved unless a member objects in time"


class Committee(models.Model):
    """A data access committee: reviews the applications forwarded to it and votes."""

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    quorum = models.PositiveSmallIntegerField(
        default=2, help_text="votes needed (abstentions included) before a decision"
    )
    members = models.ManyToManyField("portal.User", through="CommitteeMembership", related_name="committees")
    # how the votes decide (access_requests/rules.py `rule_outcome` says what each rule means)
    decision_rule = models.CharField(max_length=20, choices=DecisionRule.choices, default=DecisionRule.MAJORITY)
    approve_share = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal("50"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("99.99"))],
        help_text="majority rule: approve votes must exceed this percentage of the votes for or against",
    )
    objection_days = models.PositiveSmallIntegerField(
        default=10, help_text="objection window rule: working days members have to object"
    )
    voting_days = models.PositiveSmallIntegerField(default=14, help_text="a review round's voting period, in days")
    decision_months = models.PositiveSmallIntegerField(
        default=3, help_text="time allowed for a decision from the forward of a complete application"
    )
    extension_max_months = models.PositiveSmallIntegerField(
        default=3, help_text="the longest single extension of the decision time the chair may give"
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=models.Q(quorum__gte=1), name="committee_quorum_positive"),
            models.CheckConstraint(
                condition=Q(approve_share__gte=0, approve_share__lt=100), name="committee_approve_share_percent"
            ),
            models.CheckConstraint(condition=Q(voting_days__gte=1), name="committee_voting_days_positive"),
            models.CheckConstraint(condition=Q(decision_months__gte=1), name="committee_decision_months_positive"),
            models.CheckConstraint(
                condition=Q(decision_rule__in=[r.value for r in DecisionRule]), name="committee_decision_rule_known"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def rule(self) -> rules.DecisionRule:
        return rules.DecisionRule(
            kind=self.decision_rule,
            quorum=self.quorum,
            approve_share=Decimal(self.approve_share),
            objection_days=self.objection_days,
        )


class CommitteeMembership(models.Model):
    class Role(models.TextChoices):
        MEMBER = "member", "Member"
        CHAIR = "chair", "Chair"

    committee = models.ForeignKey(Committee, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey("portal.User", on_delete=models.CASCADE, related_name="committee_memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    since = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["committee", "user"], name="committee_membership_unique"),
            models.UniqueConstraint(
                fields=["committee"], condition=models.Q(role="chair"), name="committee_single_chair"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()}) on {self.committee}"


class CommitteeAssignment(models.Model):
    """The committee that reviews, by default, the applications for a data holder's datasets.

    A row per data holder rather than a field on catalogue.DataHolder: the catalogue stays free of
    the access-request app (which depends on it, not the other way round), and the RDO's routing is
    kept with the committees it routes to. The RDO still chooses at forward; this is the default.
    """

    holder = models.OneToOneField("catalogue.DataHolder", on_delete=models.CASCADE, related_name="committee_assignment")
    committee = models.ForeignKey(Committee, on_delete=models.PROTECT, related_name="assignments")

    def __str__(self) -> str:
        return f"{self.holder} -> {self.committee}"
