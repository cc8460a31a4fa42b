"""Access applications and what they carry: datasets, team, ethics approvals, DPIA, legal
representations, RDO review, messages. Status changes only in access_requests.services."""

from datetime import date, timedelta

from dateutil.relativedelta import relativedelta
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Upper
from django.utils import timezone


def access_period_end(start: date, months: int) -> date:
    """The last day, inclusive, of an access period of `months` months that starts on `start`.

    The one place the portal computes it (pages, API, the submission check all read
    `Application.access_end`). A period of N months ends on the day before the same date N months
    later: 12 months from 2027-01-01 end on 2027-12-31, one month from 2027-01-15 on 2027-02-14.
    Where that month has no such date (31 January + 1 month), the period runs to the month's last
    day: one month from 2027-01-31 ends on 2027-02-28 (2028-02-29 in a leap year), so a period never
    stops short of the month it reaches.
    """
    later = start + relativedelta(months=months)
    if later.day != start.day:  # relativedelta moved a missing date back to the month's last day
        return later
    return later - timedelta(days=1)


class ApplicationStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    RETURNED = "returned", "Returned for revision"
    IN_REVIEW = "in_review", "In committee review"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    ACTIVE = "active", "Active"
    CLOSED = "closed", "Closed"
    WITHDRAWN = "withdrawn", "Withdrawn"
    REVOKED = "revoked", "Revoked"


class Purpose(models.TextChoices):
    """Research purpose, as GA4GH DUO primary categories."""

    GENERAL_RESEARCH_USE = "GENERAL_RESEARCH_USE", "General research use (DUO:0000042)"
    HEALTH_MEDICAL_BIOMEDICAL_RESEARCH = (
        "HEALTH_MEDICAL_BIOMEDICAL_RESEARCH",
        "Health, medical or biomedical research (DUO:0000006)",
    )
    DISEASE_SPECIFIC_RESEARCH = "DISEASE_SPECIFIC_RESEARCH", "Disease-specific research (DUO:0000007)"
    POPULATION_ORIGINS_ANCESTRY_RESEARCH = (
        "POPULATION_ORIGINS_ANCESTRY_RESEARCH",
        "Population origins or ancestry research (DUO:0000011)",
    )
    CLINICAL_CARE_USE = "CLINICAL_CARE_USE", "Clinical care use (DUO:0000043)"


class Section(models.TextChoices):
    """Parts of an application; RDO comments and the change view are per section."""

    OVERVIEW = "overview", "Project"
    DATASETS = "datasets", "Datasets"
    TEAM = "team", "Team"
    ETHICS = "ethics", "Ethics approvals"
    DPIA = "dpia", "Data-protection impact assessment"
    REPRESENTATIONS = "representations", "Legal representations"
    AI = "ai", "AI and medical devices"


class Application(models.Model):
    reference = models.CharField(max_length=20, unique=True, help_text="e.g. AR-2026-00042")
    status = models.CharField(
        max_length=12, choices=ApplicationStatus.choices, default=ApplicationStatus.DRAFT, db_index=True
    )
    applicant = models.ForeignKey("portal.User", on_delete=models.PROTECT, related_name="applications")

    title = models.CharField(max_length=300)
    lay_summary = models.TextField(blank=True, help_text="for a general audience, about 200 words")
    scientific_description = models.TextField(blank=True)
    timeline = models.TextField(blank=True, help_text="milestones of the project")
    intended_use = models.TextField(blank=True, help_text="what will be done with the images")
    ai_algorithms = models.TextField(blank=True, help_text="AI algorithms to be trained or validated, if any")
    # The answers below start unanswered (no default): the applicant gives each one, and the
    # submission check asks for any left open (services/checks.py).
    purpose = models.CharField(max_length=40, choices=Purpose.choices, blank=True)
    purpose_conditions = models.ManyToManyField(
        "catalogue.Term",
        blank=True,
        related_name="+",
        help_text="cancer conditions studied (disease-specific research)",
    )
    methods_development = models.BooleanField(
        null=True, blank=True, help_text="develops general methods or algorithms; null until answered"
    )
    commercial_use = models.BooleanField(
        null=True, blank=True, help_text="any commercial use of data or results; null until answered"
    )

    access_start = models.DateField(null=True, blank=True)
    access_months = models.PositiveSmallIntegerField(default=12)

    organisation = models.CharField(max_length=200, blank=True)
    organisation_country = models.CharField(max_length=2, blank=True)
    organisation_not_for_profit = models.BooleanField(default=True)
    contact_phone = models.CharField(max_length=40, blank=True)

    uses_ai = models.BooleanField(
        "develops or uses AI",
        null=True,
        blank=True,
        help_text="does the project develop or use AI? null until answered",
    )
    ai_not_used_reason = models.TextField(
        blank=True,
        help_text="why the project uses no AI although its title or descriptions speak of it (when it answers no)",
    )
    mdr_applicable = models.BooleanField(default=False, help_text="falls under the EU Medical Device Regulation")
    mdr_notes = models.TextField(blank=True)
    ai_assessment = models.JSONField(default=dict, blank=True, help_text="answers to the ALTAI-style questions")

    committee = models.ForeignKey(
        "access_requests.Committee", null=True, blank=True, on_delete=models.PROTECT, related_name="applications"
    )
    submission_count = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True, help_text="latest submission")
    first_submitted_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True, help_text="when it was closed or revoked")
    end_reason = models.TextField(blank=True, help_text="why it was revoked, or that its access period ended")

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The RDO queue and its panel seek by age: submitted, oldest first (keyset on submitted_at, id).
            models.Index(fields=["status", "submitted_at", "id"], name="application_queue"),
            # The list page (latest change first) and the API list (newest first) seek on these.
            models.Index(fields=["updated_at", "id"], name="application_updated"),
            models.Index(fields=["created_at", "id"], name="application_created"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(access_months__gte=1), name="application_access_months_positive"),
            models.CheckConstraint(
                condition=Q(organisation_country="") | Q(organisation_country__regex=r"^[A-Z]{2}$"),
                name="application_country_iso2",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"

    @property
    def access_end(self) -> date | None:
        """The access period's last day, inclusive (see `access_period_end`); None without a start."""
        if not self.access_start:
            return None
        return access_period_end(self.access_start, self.access_months)

    @property
    def is_editable_by_applicant(self) -> bool:
        return self.status in (ApplicationStatus.DRAFT, ApplicationStatus.RETURNED)


class ApplicationDataset(models.Model):
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="requested")
    dataset = models.ForeignKey("catalogue.Dataset", on_delete=models.PROTECT, related_name="requests")
    justification = models.TextField(blank=True, help_text="why this dataset is needed")
    access_mode = models.ForeignKey(
        "catalogue.Term",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"vocabulary": "access_mode"},
        help_text="how the team will use this dataset: one of the access modes the dataset offers",
    )

    class Meta:
        ordering = ["pk"]
        constraints = [models.UniqueConstraint(fields=["application", "dataset"], name="application_dataset_unique")]
        # The steward branch of the visibility selector: application ids by dataset, index only.
        indexes = [models.Index(fields=["dataset", "application"], name="application_dataset_by_dataset")]

    def __str__(self) -> str:
        return f"{self.dataset.identifier} for {self.application.reference}"


class TeamMember(models.Model):
    """A member of an application's team, or an invitation to become one.

    Joining is always an invitation by e-mail that the invited person accepts, signed in with a
    proved address equal to the invited one; `user` and `joined_at` are set only on acceptance,
    and only then does the person hold the application's object permissions or receive its
    notifications. The applicant's own row is created joined.
    """

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="team")
    user = models.ForeignKey(
        "portal.User", null=True, blank=True, on_delete=models.PROTECT, related_name="team_memberships"
    )
    email = models.EmailField()
    role = models.CharField(max_length=100, default="Researcher")
    invited_at = models.DateTimeField(auto_now_add=True)
    joined_at = models.DateTimeField(null=True, blank=True)
    invited_by = models.ForeignKey("portal.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    invitation_key = models.CharField(
        max_length=64, blank=True, db_index=True, help_text="secret in the invitation link; renewed on re-invitation"
    )
    expires_at = models.DateTimeField(null=True, blank=True, help_text="the invitation lapses then")
    declined_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        constraints = [models.UniqueConstraint(fields=["application", "email"], name="team_member_unique_email")]
        indexes = [
            # The team branch of the visibility selector: a member's application ids, index only.
            models.Index(
                fields=["user", "application"], condition=Q(joined_at__isnull=False), name="team_member_joined_user"
            ),
            # A person's open invitations, found by their address whatever its case.
            models.Index(Upper("email"), condition=Q(joined_at__isnull=True), name="team_member_email_ci"),
        ]

    def __str__(self) -> str:
        return f"{self.email} on {self.application.reference}"

    @property
    def is_member(self) -> bool:
        return self.joined_at is not None and self.user_id is not None

    @property
    def invitation_state(self) -> str:
        """member | pending | declined | expired"""
        if self.is_member:
            return "member"
        if self.declined_at is not None:
            return "declined"
        if self.expires_at is not None and self.expires_at <= timezone.now():
            return "expired"
        return "pending"


class EthicsApproval(models.Model):
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="ethics_approvals")
    committee_name = models.CharField(max_length=200, help_text="the research ethics committee or IRB")
    reference = models.CharField(max_length=100)
    approved_on = models.DateField()
    expires_on = models.DateField()
    datasets = models.ManyToManyField(ApplicationDataset, related_name="ethics_approvals", blank=True)
    document_path = models.CharField(max_length=500, help_text="relative to DOCUMENT_STORAGE_ROOT")
    document_name = models.CharField(max_length=200)
    document_sha256 = models.CharField(max_length=64)
    document_size = models.PositiveIntegerField()
    uploaded_by = models.ForeignKey("portal.User", on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(condition=Q(approved_on__lte=F("expires_on")), name="ethics_dates_ordered")
        ]

    def __str__(self) -> str:
        return f"{self.committee_name} {self.reference}"


class ResidualRisk(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


class DataCategory(models.TextChoices):
    IMAGES = "images", "Anonymised medical images (DICOM)"
    IMAGE_METADATA = "image_metadata", "Image metadata (DICOM headers)"
    CLINICAL = "clinical", "Clinical data (diagnosis, staging, outcome)"
    DEMOGRAPHIC = "demographic", "Demographic data (age band, sex)"
    ANNOTATIONS = "annotations", "Annotations and segmentations"
    GENETIC = "genetic", "Genetic or molecular data"


class Dpia(models.Model):
    """The structured data-protection impact assessment (GDPR Art. 35)."""

    application = models.OneToOneField(Application, on_delete=models.CASCADE, related_name="dpia")
    data_categories = models.JSONField(default=list, blank=True)
    processing_description = models.TextField(
        blank=True, help_text="where and how the data will be processed and stored"
    )
    residual_risk = models.CharField(max_length=10, choices=ResidualRisk.choices, blank=True)
    dpo_name = models.CharField("data-protection officer", max_length=200, blank=True)
    dpo_consulted_on = models.DateField(null=True, blank=True)
    conclusion = models.TextField(blank=True)
    document_path = models.CharField(max_length=500, blank=True)
    document_name = models.CharField(max_length=200, blank=True)
    document_sha256 = models.CharField(max_length=64, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"DPIA of {self.application.reference}"


class DpiaRisk(models.Model):
    dpia = models.ForeignKey(Dpia, on_delete=models.CASCADE, related_name="risks")
    description = models.CharField(max_length=500)
    likelihood = models.PositiveSmallIntegerField(help_text="1 (remote) to 3 (likely)")
    severity = models.PositiveSmallIntegerField(help_text="1 (minimal) to 3 (severe)")
    mitigation = models.TextField(blank=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(condition=Q(likelihood__gte=1, likelihood__lte=3), name="dpia_risk_likelihood_1_3"),
            models.CheckConstraint(condition=Q(severity__gte=1, severity__lte=3), name="dpia_risk_severity_1_3"),
        ]

    def __str__(self) -> str:
        return self.description

    @property
    def score(self) -> int:
        return self.likelihood * self.severity


class LegalStatement(models.TextChoices):
    """The fixed representations the applicant's institution makes."""

    NO_REIDENTIFICATION = "no_reidentification", "We will make no attempt to re-identify any individual."
    NO_ONWARD_TRANSFER = "no_onward_transfer", "We will not transfer the data to anyone outside the named team."
    SECURITY_MEASURES = "security_measures", "Appropriate technical and organisational security measures are in place."
    DELETION = "deletion", "We will delete the data at the end of the access period and confirm it."
    ACKNOWLEDGEMENT = "acknowledgement", "Publications will acknowledge the data holders and the federation."
    BREACH_NOTICE = "breach_notice", "We will notify any personal-data breach within 72 hours."


class Representations(models.Model):
    application = models.OneToOneField(Application, on_delete=models.CASCADE, related_name="representations")
    institution_legal_name = models.CharField(max_length=300, blank=True)
    signatory_name = models.CharField(max_length=200, blank=True)
    signatory_role = models.CharField(max_length=200, blank=True)
    signatory_email = models.EmailField(blank=True)
    # The signatory's link (services/applications.py `representations_request_signature`): it works while
    # the key is the one sent and has not expired; asking again or a change to what is signed replaces it.
    signature_key = models.CharField(max_length=64, blank=True)
    signature_requested_at = models.DateTimeField(null=True, blank=True)
    signature_expires_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        # Every signed-in person's dashboard looks for the statements they are named to sign
        # (`signatory_email__iexact`): without this it would read every application's row.
        indexes = [models.Index(Upper("signatory_email"), name="representations_signatory_ci")]

    def __str__(self) -> str:
        return f"Representations of {self.application.reference}"

    @property
    def signature_link_open(self) -> bool:
        return (
            bool(self.signature_key)
            and self.signature_expires_at is not None
            and (self.signature_expires_at > timezone.now())
        )


class StatementAcceptance(models.Model):
    """A statement accepted by the institution's signatory, with the wording and a hash of what it covered.

    A change to what the statements cover voids it (`voided_at`); the row stays as history and the
    signatory is asked again."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="statement_acceptances")
    statement = models.CharField(max_length=40, choices=LegalStatement.choices)
    text = models.TextField(help_text="the wording accepted")
    accepted_by = models.ForeignKey("portal.User", on_delete=models.PROTECT, related_name="+")
    accepted_at = models.DateTimeField()
    covered_sha256 = models.CharField(max_length=64, blank=True, help_text="hash of the summary the signatory signed")
    voided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["application", "statement"],
                condition=Q(voided_at__isnull=True),
                name="statement_accepted_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.statement} accepted by {self.accepted_by}"


class Submission(models.Model):
    """What was submitted, frozen: the RDO compares a resubmission with the one before it."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="submissions")
    number = models.PositiveSmallIntegerField()
    submitted_by = models.ForeignKey("portal.User", on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField()
    snapshot = models.JSONField()

    class Meta:
        ordering = ["number"]
        constraints = [models.UniqueConstraint(fields=["application", "number"], name="submission_number_unique")]

    def __str__(self) -> str:
        return f"{self.application.reference} submission {self.number}"


class ReturnComment(models.Model):
    """An RDO comment on one section, made when returning the application for revision."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="return_comments")
    submission_number = models.PositiveSmallIntegerField()
    section = models.CharField(max_length=20, choices=Section.choices)
    text = models.TextField()
    author = models.ForeignKey("portal.User", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["submission_number", "pk"]

    def __str__(self) -> str:
        return f"{self.get_section_display()}: {self.text[:40]}"


class RdoChecklist(models.Model):
    """The RDO's completeness check of one submission."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="checklists")
    submission_number = models.PositiveSmallIntegerField()
    ethics_verified = models.BooleanField(default=False)
    dpia_reviewed = models.BooleanField(default=False)
    representations_checked = models.BooleanField(default=False)
    notes = models.TextField(blank=True)
    updated_by = models.ForeignKey("portal.User", null=True, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["application", "submission_number"], name="rdo_checklist_per_submission")
        ]

    def __str__(self) -> str:
        return f"checklist of {self.application.reference} #{self.submission_number}"

    @property
    def complete(self) -> bool:
        return self.ethics_verified and self.dpia_reviewed and self.representations_checked


class Message(models.Model):
    """A message in an application's thread; internal notes are for the RDO and the committee only."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey("portal.User", on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    internal = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{'note' if self.internal else 'message'} by {self.author} on {self.application.reference}"


class ReferenceCounter(models.Model):
    """The last reference number handed out per year (AR-2026-00042); locked while incremented."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"
