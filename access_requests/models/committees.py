"""Access committees (applications, reviews, agreements and grants build on them)."""

from django.db import models


class Committee(models.Model):
    """A data access committee: reviews the applications forwarded to it and votes."""

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    quorum = models.PositiveSmallIntegerField(
        default=2, help_text="votes needed (abstentions included) before a decision"
    )
    members = models.ManyToManyField("portal.User", through="CommitteeMembership", related_name="committees")

    class Meta:
        ordering = ["name"]
        constraints = [models.CheckConstraint(condition=models.Q(quorum__gte=1), name="committee_quorum_positive")]

    def __str__(self) -> str:
        return self.name


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
