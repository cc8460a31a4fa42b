"""Time-limited access grants, issued when an agreement is executed, and what hangs on them: the
grantees, every download, extension requests, the entitlement events pushed to data holders'
processing environments, and the closeout the applicant makes when access ends.

State changes only in access_requests/services/grants.py (and the modules it names)."""

from django.db import models
from django.db.models import F, Q


class GrantKind(models.TextChoices):
    DOWNLOAD = "download", "Download"
    PROCESSING = "processing", "Processing where the data live"


class GrantStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    EXPIRED = "expired", "Expired"
    REVOKED = "revoked", "Revoked"


class GrantLimit(models.TextChoices):
    """Which limit sets a grant's last day: the earliest of the three (BRIEF invariant 2)."""

    AGREEMENT = "agreement", "the end of the agreement's access period"
    ETHICS = "ethics", "the expiry of the ethics approvals covering the dataset"
    TIME_LIMIT = "time_limit", "the dataset's time limit on use"


class Grant(models.Model):
    """Access to one approved dataset of an executed agreement, for the grantees it names.

    Valid from `valid_from` to `valid_until` (both days inclusive, in the portal's time zone). A
    download grant lets its grantees fetch the dataset's files through short-lived links; a
    processing grant is an entitlement the data holder's processing environment reads (GA4GH
    visas, pushed events) and never lets a byte leave. `status` says whether it was ended early
    (revoked) or has run out (expired, set by the sweep); every request checks the dates as well,
    so a grant past its last day refuses at once, whatever the sweep has done yet."""

    application = models.ForeignKey("access_requests.Application", on_delete=models.PROTECT, related_name="grants")
    agreement = models.ForeignKey("access_requests.Agreement", on_delete=models.PROTECT, related_name="grants")
    requested = models.ForeignKey("access_requests.ApplicationDataset", on_delete=models.PROTECT, related_name="grants")
    dataset = models.ForeignKey("catalogue.Dataset", on_delete=models.PROTECT, related_name="grants")
    kind = models.CharField(max_length=10, choices=GrantKind.choices)
    access_mode = models.ForeignKey("catalogue.Term", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=8, choices=GrantStatus.choices, default=GrantStatus.ACTIVE)
    grantees = models.ManyToManyField("portal.User", related_name="grants")

    valid_from = models.DateField()
    valid_until = models.DateField(help_text="the last day of access, inclusive")
    limited_by = models.CharField(max_length=10, choices=GrantLimit.choices)
    # The three limits as they stood at issue (or the last extension); valid_until never passes any.
    agreement_end = models.DateField()
    ethics_end = models.DateField(null=True, blank=True, help_text="last day the covering approvals reach")
    time_limit_end = models.DateField(null=True, blank=True, help_text="from the dataset's TIME_LIMIT_ON_USE")

    issued_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True, help_text="when it expired or was revoked")
    revoked_by = models.ForeignKey("portal.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    revoke_reason = models.TextField(blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True, help_text="the seven-day reminder went out")

    class Meta:
        ordering = ["application", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["agreement", "requested"], name="grant_once_per_agreement_dataset"),
            models.CheckConstraint(condition=Q(valid_from__lte=F("valid_until")), name="grant_period_ordered"),
            models.CheckConstraint(condition=Q(valid_until__lte=F("agreement_end")), name="grant_within_agreement"),
            models.CheckConstraint(
                condition=Q(ethics_end__isnull=True) | Q(valid_until__lte=F("ethics_end")), name="grant_within_ethics"
            ),
            models.CheckConstraint(
                condition=Q(time_limit_end__isnull=True) | Q(valid_until__lte=F("time_limit_end")),
                name="grant_within_time_limit",
            ),
            models.CheckConstraint(
                condition=(Q(status="active") & Q(ended_at__isnull=True))
                | (Q(status__in=["expired", "revoked"]) & Q(ended_at__isnull=False)),
                name="grant_ended_when_not_active",
            ),
            models.CheckConstraint(
                condition=~Q(status="revoked") | ~Q(revoke_reason=""), name="grant_revocation_has_reason"
            ),
            models.CheckConstraint(condition=Q(kind__in=["download", "processing"]), name="grant_kind_known"),
        ]
        indexes = [
            # the sweep: active grants by their last day
            models.Index(fields=["status", "valid_until"], name="grant_status_until"),
            models.Index(fields=["dataset", "status"], name="grant_dataset_status"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} grant of {self.dataset_id} for {self.application_id}"


class Download(models.Model):
    """One answered download request: who, which file, which bytes, from where. Written before the
    first byte leaves, in the transaction of its audit event."""

    grant = models.ForeignKey(Grant, on_delete=models.PROTECT, related_name="downloads")
    user = models.ForeignKey("portal.User", on_delete=models.PROTECT, related_name="+")
    file = models.ForeignKey("catalogue.DatasetFile", on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField()
    range_start = models.PositiveBigIntegerField(null=True, blank=True, help_text="first byte sent; none: whole file")
    range_end = models.PositiveBigIntegerField(null=True, blank=True, help_text="last byte sent, inclusive")
    bytes_sent = models.PositiveBigIntegerField(help_text="the length of the body answered")
    status_code = models.PositiveSmallIntegerField(default=200)
    mode = models.CharField(max_length=8, default="django", help_text="django (sendfile) or nginx (X-Accel-Redirect)")
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]
        indexes = [
            models.Index(F("grant"), F("started_at").desc(), name="download_grant_recent"),
            models.Index(F("user"), F("started_at").desc(), name="download_user_recent"),
        ]

    def __str__(self) -> str:
        return f"download of file {self.file_id} by {self.user_id}"


class ExtensionStatus(models.TextChoices):
    PENDING = "pending", "Awaiting the RDO"
    GRANTED = "granted", "Granted"
    REFUSED = "refused", "Refused"


class ExtensionRequest(models.Model):
    """A grantee asks for a grant to last longer; the RDO grants it (within the grant's limits) or refuses."""

    grant = models.ForeignKey(Grant, on_delete=models.CASCADE, related_name="extension_requests")
    requested_by = models.ForeignKey("portal.User", on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    requested_until = models.DateField()
    reason = models.TextField()
    status = models.CharField(max_length=8, choices=ExtensionStatus.choices, default=ExtensionStatus.PENDING)
    decided_by = models.ForeignKey("portal.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    granted_until = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["grant"], condition=Q(status="pending"), name="extension_one_pending"),
            models.CheckConstraint(condition=~Q(reason=""), name="extension_reason_given"),
            models.CheckConstraint(
                condition=~Q(status="granted") | Q(granted_until__isnull=False), name="extension_granted_until"
            ),
            models.CheckConstraint(
                condition=~Q(status="refused") | ~Q(decision_reason=""), name="extension_refusal_reason"
            ),
        ]

    def __str__(self) -> str:
        return f"extension of grant {self.grant_id} to {self.requested_until}"


class EntitlementEventKind(models.TextChoices):
    GRANTED = "granted", "Granted"
    EXTENDED = "extended", "Extended"
    ENDED = "ended", "Ended"
    REVOKED = "revoked", "Revoked"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Waiting to be delivered"
    DELIVERED = "delivered", "Delivered"
    NOT_CONFIGURED = "skipped", "No processing environment configured"


class EntitlementEvent(models.Model):
    """What happened to a processing grant, for the data holder's processing environment: written in
    the transaction of the change, delivered afterwards in order per grant (`sequence`), signed with
    the holder's secret and retried with backoff until the environment accepts it. The grant is one
    issued here (`grant`) or a partner node's grant for a dataset held here (`received`), relayed."""

    grant = models.ForeignKey(Grant, null=True, blank=True, on_delete=models.PROTECT, related_name="entitlement_events")
    received = models.ForeignKey(
        "federation.ReceivedGrant",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="entitlement_events",
        help_text="a partner's grant for a dataset held here, relayed to the holder's environment",
    )
    holder = models.ForeignKey("catalogue.DataHolder", on_delete=models.PROTECT, related_name="+")
    sequence = models.PositiveIntegerField(help_text="1, 2, ... per grant: delivered in this order")
    kind = models.CharField(max_length=10, choices=EntitlementEventKind.choices)
    payload = models.JSONField()
    created_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["grant", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["grant", "sequence"], name="entitlement_event_sequence_unique"),
            models.UniqueConstraint(
                fields=["received", "sequence"],
                condition=Q(received__isnull=False),
                name="entitlement_event_received_sequence_unique",
            ),
            models.CheckConstraint(
                condition=Q(grant__isnull=False, received__isnull=True) | Q(grant__isnull=True, received__isnull=False),
                name="entitlement_event_of_one_grant",
            ),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="entitlement_event_due")]

    def __str__(self) -> str:
        return f"{self.kind} #{self.sequence} of grant {self.grant_id or f'received {self.received_id}'}"


class Closeout(models.Model):
    """The applicant's attestation when access has ended: downloaded copies deleted, results listed."""

    application = models.OneToOneField("access_requests.Application", on_delete=models.PROTECT, related_name="closeout")
    attested_by = models.ForeignKey("portal.User", on_delete=models.PROTECT, related_name="+")
    attested_at = models.DateTimeField()
    copies_deleted = models.BooleanField(help_text="every downloaded copy has been deleted")
    statement = models.TextField(blank=True, help_text="how and when the copies were deleted")

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(copies_deleted=True), name="closeout_copies_deleted")]

    def __str__(self) -> str:
        return f"closeout of {self.application_id}"


class OutputKind(models.TextChoices):
    PUBLICATION = "publication", "Publication"
    MODEL = "model", "AI model"
    DATASET = "dataset", "Derived dataset"
    SOFTWARE = "software", "Software"
    OTHER = "other", "Other"


class ResearchOutput(models.Model):
    """A result of the work done with the data: reported at closeout (and published in the register)."""

    application = models.ForeignKey("access_requests.Application", on_delete=models.CASCADE, related_name="outputs")
    kind = models.CharField(max_length=12, choices=OutputKind.choices)
    title = models.CharField(max_length=500)
    doi = models.CharField(max_length=200, blank=True, help_text="e.g. 10.1234/abcd")
    url = models.URLField(blank=True)
    description = models.TextField(blank=True)
    reported_by = models.ForeignKey("portal.User", on_delete=models.PROTECT, related_name="+")
    reported_at = models.DateTimeField()

    class Meta:
        ordering = ["application", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(doi="") | Q(doi__regex=r"^10\.\d{4,9}/\S+$"), name="output_doi_form")
        ]

    def __str__(self) -> str:
        return self.title
