"""Data-access agreements: one per approval, in versions, signed by every party over one document hash,
executed and sealed. State changes only in access_requests/services/agreements.py."""

from django.db import models
from django.db.models import Q


class AgreementStatus(models.TextChoices):
    DRAFT = "draft", "Being prepared"
    AWAITING_SIGNATURES = "awaiting", "Awaiting signatures"
    EXECUTED = "executed", "Executed"
    VOIDED = "voided", "Voided"


class Agreement(models.Model):
    """The agreement an approval leads to, between the researcher's institution, each data holder whose
    approved datasets it names, and the infrastructure (the Research Data Office).

    Executed once every party has signed its current version: the final PDF, with a signature
    certificate page and the portal's seal, is kept with its SHA-256 (what `verify_agreement` looks up)."""

    application = models.ForeignKey("access_requests.Application", on_delete=models.PROTECT, related_name="agreements")
    round = models.OneToOneField(
        "access_requests.ReviewRound", on_delete=models.PROTECT, related_name="agreement", help_text="the approval"
    )
    reference = models.CharField(max_length=30, unique=True, help_text="e.g. DAA-AR-2026-00042")
    status = models.CharField(max_length=10, choices=AgreementStatus.choices, default=AgreementStatus.DRAFT)
    created_at = models.DateTimeField(auto_now_add=True)
    executed_at = models.DateTimeField(null=True, blank=True)
    executed_path = models.CharField(
        max_length=500, blank=True, help_text="the sealed PDF, under DOCUMENT_STORAGE_ROOT"
    )
    executed_sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    executed_size = models.PositiveIntegerField(null=True, blank=True)
    seal_certificate_sha256 = models.CharField(max_length=64, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.TextField(blank=True)
    overdue_notified_at = models.DateTimeField(
        null=True, blank=True, help_text="when the RDO was told it is overdue and the parties reminded (once)"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["application"], condition=Q(status="executed"), name="agreement_one_executed"
            ),
            models.UniqueConstraint(
                fields=["application"], condition=~Q(status="voided"), name="agreement_one_in_force"
            ),
            models.CheckConstraint(
                condition=(
                    Q(status="executed", executed_at__isnull=False, executed_size__isnull=False)
                    & ~Q(executed_sha256="")
                    & ~Q(executed_path="")
                )
                | (~Q(status="executed") & Q(executed_at__isnull=True, executed_sha256="")),
                name="agreement_executed_with_pdf",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in AgreementStatus]), name="agreement_status_known"
            ),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def current_version(self) -> "AgreementVersion | None":
        return self.versions.order_by("-number").first()


class AgreementVersion(models.Model):
    """One rendering of the agreement. A change to what it covers makes a new version and voids the
    signatures on the one before; each version keeps its own PDF and hash. `snapshot` holds everything
    the document says (parties, datasets with their file manifests, period, team, conditions), so the
    recorded template version re-renders it exactly as it was signed."""

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveSmallIntegerField()
    template_version = models.CharField(max_length=20)
    reason = models.TextField(help_text="why this version: the first, or what changed")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey("portal.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    snapshot = models.JSONField()
    path = models.CharField(max_length=500, blank=True, help_text="the PDF, under DOCUMENT_STORAGE_ROOT")
    sha256 = models.CharField(max_length=64, blank=True)
    size = models.PositiveIntegerField(null=True, blank=True)
    rendered_at = models.DateTimeField(null=True, blank=True, help_text="null until the rendering task ran")
    superseded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["agreement", "number"]
        constraints = [
            models.UniqueConstraint(fields=["agreement", "number"], name="agreement_version_number_unique"),
            models.UniqueConstraint(
                fields=["agreement"], condition=Q(superseded_at__isnull=True), name="agreement_version_one_current"
            ),
            models.CheckConstraint(
                condition=Q(rendered_at__isnull=True, sha256="", path="")
                | (Q(rendered_at__isnull=False, size__isnull=False) & ~Q(sha256="") & ~Q(path="")),
                name="agreement_version_rendered_with_pdf",
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="agreement_version_reason_given"),
        ]

    def __str__(self) -> str:
        return f"{self.agreement.reference} version {self.number}"

    @property
    def is_rendered(self) -> bool:
        return self.rendered_at is not None

    @property
    def is_current(self) -> bool:
        return self.superseded_at is None


class PartyKind(models.TextChoices):
    SIGNATORY = "signatory", "The researcher's institution"
    STEWARD = "steward", "Data holder"
    RDO = "rdo", "The infrastructure (Research Data Office)"


class AgreementParty(models.Model):
    """A party to one version and who may sign for it: the institution's named signatory (by proved
    address), any steward of the data holder, or any RDO administrator not on the application's team."""

    version = models.ForeignKey(AgreementVersion, on_delete=models.CASCADE, related_name="parties")
    kind = models.CharField(max_length=10, choices=PartyKind.choices)
    holder = models.ForeignKey(
        "catalogue.DataHolder", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    name = models.CharField(max_length=300, help_text="the party as the agreement names it")
    representative = models.CharField(max_length=300, blank=True, help_text="the named person and role, if any")
    email = models.EmailField(blank=True, help_text="signatory: the address they must have proved")
    position = models.PositiveSmallIntegerField(default=0, help_text="order on the signature page")

    class Meta:
        ordering = ["version", "position", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind=PartyKind.STEWARD) & Q(holder__isnull=False))
                | (~Q(kind=PartyKind.STEWARD) & Q(holder__isnull=True)),
                name="agreement_party_holder_for_steward",
            ),
            models.CheckConstraint(
                condition=~Q(kind=PartyKind.SIGNATORY) | ~Q(email=""), name="agreement_party_signatory_email"
            ),
            models.UniqueConstraint(
                fields=["version", "holder"], condition=Q(kind="steward"), name="agreement_party_one_per_holder"
            ),
            models.UniqueConstraint(
                fields=["version", "kind"], condition=~Q(kind="steward"), name="agreement_party_one_of_kind"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} on {self.version}"


class SignatureMethod(models.TextChoices):
    ONLINE = "online", "Signed in the portal"
    SCAN = "scan", "Countersigned scan"


class AgreementSignature(models.Model):
    """A party's signature on one version: in the browser (user, typed name, time, IP address, user
    agent and the SHA-256 of the exact bytes shown), or a countersigned scan, which counts once the
    RDO has verified it. One per party and version, and one party per person per version."""

    version = models.ForeignKey(AgreementVersion, on_delete=models.CASCADE, related_name="signatures")
    party = models.ForeignKey(AgreementParty, on_delete=models.CASCADE, related_name="signatures")
    method = models.CharField(max_length=8, choices=SignatureMethod.choices, default=SignatureMethod.ONLINE)
    user = models.ForeignKey("portal.User", on_delete=models.PROTECT, related_name="+", help_text="who signed")
    typed_name = models.CharField(max_length=200, blank=True)
    signed_at = models.DateTimeField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    shown_sha256 = models.CharField(max_length=64, help_text="SHA-256 of the version's bytes the signer was shown")
    scan_path = models.CharField(max_length=500, blank=True)
    scan_sha256 = models.CharField(max_length=64, blank=True)
    verified_by = models.ForeignKey("portal.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    verified_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True, help_text="a later version voided it")

    class Meta:
        ordering = ["version", "signed_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["version", "party"], name="agreement_signature_once_per_party"),
            models.UniqueConstraint(fields=["version", "user"], name="agreement_signature_one_party_per_person"),
            models.CheckConstraint(
                condition=(Q(method="online") & ~Q(typed_name="") & Q(scan_path="", verified_at__isnull=True))
                | (Q(method="scan") & ~Q(scan_path="") & ~Q(scan_sha256="")),
                name="agreement_signature_method_fields",
            ),
            models.CheckConstraint(
                condition=Q(verified_at__isnull=True, verified_by__isnull=True)
                | Q(verified_at__isnull=False, verified_by__isnull=False),
                name="agreement_signature_verified_by_someone",
            ),
            models.CheckConstraint(condition=Q(shown_sha256__regex=r"^[0-9a-f]{64}$"), name="agreement_signature_hash"),
        ]

    def __str__(self) -> str:
        return f"{self.party} signed by {self.user}"

    @property
    def counts(self) -> bool:
        """Signed online, or a scan the RDO verified; and not voided."""
        return self.voided_at is None and (self.method == SignatureMethod.ONLINE or self.verified_at is not None)
