"""Data holders, their imaging datasets and files, and the controlled vocabularies."""

import re

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone


def regex_validator(value: str) -> None:
    """A steward's regular expression must compile (it is matched against pseudonyms)."""
    try:
        re.compile(value)
    except re.error as exc:
        raise ValidationError(f"not a valid regular expression: {exc}") from None


class DataHolder(models.Model):
    """An institution that keeps imaging collections and publishes them in the catalogue."""

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=80, unique=True)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2 code")
    city = models.CharField(max_length=100, blank=True)
    website = models.URLField(blank=True)
    contact_email = models.EmailField(help_text="public contact point for the catalogue")
    rdo_email = models.EmailField("Research Data Office e-mail")
    # The holder's folder under DATASET_STORAGE_ROOT: its stewards register files only from here.
    # Set once at creation (catalogue.services.data_holder_create) and never edited afterwards.
    storage_area = models.SlugField(
        max_length=80, unique=True, editable=False, help_text="folder under DATASET_STORAGE_ROOT"
    )
    stewards = models.ManyToManyField(
        "portal.User", through="Stewardship", related_name="stewarded_holders", blank=True
    )
    # Where the holder's secure processing environment lives: grantees of processing grants are told
    # how to reach it, and it receives the grants' entitlement events, signed with the secret
    # (access_requests/services/entitlements.py). Empty: nothing is pushed, the events wait.
    processing_environment = models.TextField(
        blank=True, help_text="for grantees: where and how to reach the processing environment"
    )
    processing_push_url = models.URLField(blank=True, help_text="receives entitlement events (HTTPS in production)")
    processing_push_secret = models.CharField(
        max_length=128, blank=True, help_text="HMAC-SHA256 key the events are signed with"
    )
    # A data holder of a partner node, known here from its catalogue (federation/harvest.py): its
    # datasets are read-only here, and the partner decides on access to them. None: this node's own.
    node = models.ForeignKey("federation.Node", null=True, blank=True, on_delete=models.PROTECT, related_name="holders")

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(country__regex=r"^[A-Z]{2}$"), name="dataholder_country_iso2"),
            models.CheckConstraint(
                condition=Q(storage_area__regex=r"^[a-z0-9][a-z0-9_-]*$"), name="dataholder_storage_area_format"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_remote(self) -> bool:
        return self.node_id is not None


class Stewardship(models.Model):
    """A user who publishes and maintains a data holder's datasets."""

    holder = models.ForeignKey(DataHolder, on_delete=models.CASCADE, related_name="stewardships")
    user = models.ForeignKey("portal.User", on_delete=models.CASCADE, related_name="stewardships")
    since = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["holder", "user"], name="stewardship_unique")]

    def __str__(self) -> str:
        return f"{self.user} stewards {self.holder}"


class Vocabulary(models.TextChoices):
    """The controlled vocabularies shipped with the code (catalogue/vocabularies/*.json)."""

    MODALITY = "modality", "Imaging modality (DICOM 0008,0060)"
    CONDITION = "condition", "Cancer condition (ICD-10 chapter II)"
    BODY_PART = "body_part", "Body part (DICOM 0018,0015)"
    DATA_USE = "data_use", "Data-use condition (EUCAIM, with GA4GH DUO code)"
    ACCESS_MODE = "access_mode", "Access mode"
    BIRTH_SEX = "birth_sex", "Birth sex"


class Term(models.Model):
    """One code of a controlled vocabulary. `external_code` holds e.g. the DUO code of a data-use condition."""

    vocabulary = models.CharField(max_length=20, choices=Vocabulary.choices)
    code = models.CharField(max_length=64)
    label = models.CharField(max_length=200)
    external_code = models.CharField(max_length=64, blank=True)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["vocabulary", "code"]
        constraints = [models.UniqueConstraint(fields=["vocabulary", "code"], name="term_unique_code")]

    def __str__(self) -> str:
        return f"{self.code} {self.label}" if self.vocabulary == Vocabulary.CONDITION else self.label


class Manufacturer(models.Model):
    """Equipment manufacturer as written in DICOM (0008,0070); an open list."""

    name = models.CharField(max_length=120, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class DatasetStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    WITHDRAWN = "withdrawn", "Withdrawn"


class DatasetType(models.TextChoices):
    ORIGINAL = "original", "Original"
    ANNOTATED = "annotated", "Annotated"
    PROCESSED = "processed", "Processed"


class AccessRights(models.TextChoices):
    PUBLIC = "PUBLIC", "Public"
    RESTRICTED = "RESTRICTED", "Restricted"
    NON_PUBLIC = "NON_PUBLIC", "Non-public"


class Tier(models.IntegerChoices):
    METADATA = 1, "Tier 1: metadata in the catalogue"
    FEDERATED_SEARCH = 2, "Tier 2: searchable through federated search"
    FEDERATED_PROCESSING = 3, "Tier 3: federated processing"


class SearchVectorIndex(GinIndex):
    """A GIN index on PostgreSQL; a plain index elsewhere, so the embedded SQLite demo still migrates."""

    def create_sql(self, model, schema_editor, using="", **kwargs):
        if schema_editor.connection.vendor != "postgresql":
            return models.Index.create_sql(self, model, schema_editor, **kwargs)
        return super().create_sql(model, schema_editor, using=using, **kwargs)


class Dataset(models.Model):
    """An imaging collection described to the EUCAIM DCAT-AP profile (see CATALOGUE_PROFILE.md).

    The identifier never changes once the dataset has been published. Status changes only
    through catalogue.services.
    """

    identifier = models.CharField(max_length=64, unique=True, help_text="persistent identifier, e.g. LV-RECUH-MG-2024")
    title = models.CharField(max_length=300)
    description = models.TextField()
    version = models.CharField(max_length=40, default="1.0.0")
    holder = models.ForeignKey(DataHolder, on_delete=models.PROTECT, related_name="datasets")
    status = models.CharField(max_length=10, choices=DatasetStatus.choices, default=DatasetStatus.DRAFT, db_index=True)
    dataset_type = models.CharField(max_length=10, choices=DatasetType.choices, default=DatasetType.ORIGINAL)
    access_rights = models.CharField(max_length=12, choices=AccessRights.choices, default=AccessRights.RESTRICTED)
    tier = models.PositiveSmallIntegerField(choices=Tier.choices, default=Tier.METADATA)

    conditions = models.ManyToManyField(Term, related_name="datasets_by_condition", blank=True)
    modalities = models.ManyToManyField(Term, related_name="datasets_by_modality", blank=True)
    body_parts = models.ManyToManyField(Term, related_name="datasets_by_body_part", blank=True)
    birth_sexes = models.ManyToManyField(Term, related_name="datasets_by_birth_sex", blank=True)
    access_modes = models.ManyToManyField(Term, related_name="datasets_by_access_mode", blank=True)
    data_use_terms = models.ManyToManyField(
        Term, through="DataUseCondition", related_name="datasets_by_data_use", blank=True
    )
    manufacturers = models.ManyToManyField(Manufacturer, related_name="datasets", blank=True)
    keywords = models.JSONField(default=list, blank=True)

    age_min = models.PositiveSmallIntegerField(null=True, blank=True, help_text="typical minimum age (years)")
    age_max = models.PositiveSmallIntegerField(null=True, blank=True, help_text="typical maximum age (years)")
    subjects_count = models.PositiveIntegerField(help_text="number of unique individuals")
    studies_count = models.PositiveIntegerField(help_text="number of imaging studies")
    series_count = models.PositiveIntegerField(null=True, blank=True)
    images_count = models.PositiveBigIntegerField(null=True, blank=True)
    size_bytes = models.PositiveBigIntegerField(null=True, blank=True, help_text="total size as declared")

    acquisition_start = models.DateField(null=True, blank=True)
    acquisition_end = models.DateField(null=True, blank=True)
    collection_method = models.CharField(max_length=200, default="Retrospective collection from clinical routine")
    provenance = models.TextField(blank=True)
    # Set by the de-identification check of the registered DICOM files (catalogue.ingestion
    # dataset_index_apply), never typed: the profile and the options the files declare, and the day
    # the last check found every file passing (None while a file fails).
    anonymisation_profile = models.CharField(max_length=300, blank=True)
    anonymisation_verified_on = models.DateField(null=True, blank=True)
    # What the steward declares for the check: the UID root of the source (no released UID may lie
    # under it) and the pattern of the subjects' pseudonyms (accepted in Patient ID and Name).
    source_uid_root = models.CharField(
        max_length=64,
        blank=True,
        validators=[RegexValidator(r"^[0-9]+(\.[0-9]+)*$", "a UID root: digits separated by dots, e.g. 1.2.826.0.1")],
        help_text="the hospital's UID root; the check rejects files whose UIDs lie under it",
    )
    pseudonym_pattern = models.CharField(
        max_length=200,
        blank=True,
        validators=[regex_validator],
        help_text="a regular expression the subjects' pseudonyms match in full, e.g. LV-\\d{6}",
    )
    # The published counts and facets come from the DICOM index of the registered files where it
    # holds them (`indexed_fields` names those); the steward explains any difference here.
    counts_note = models.TextField(
        blank=True, help_text="where the collection differs from the files registered here, say how"
    )
    indexed_fields = models.JSONField(
        default=list, blank=True, editable=False, help_text="the fields last set from the DICOM index"
    )
    licence = models.CharField(max_length=200, blank=True)
    landing_page = models.URLField(blank=True)
    # A dataset harvested from a partner node (its holder's `node`): its page at that node, and the
    # digest of the description last harvested (an unchanged description is not written again).
    remote_url = models.URLField(max_length=500, blank=True)
    remote_digest = models.CharField(max_length=64, blank=True, editable=False)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True)
    # Full-text search on PostgreSQL (title A, keywords and coded terms B, description C); kept
    # current by catalogue.search.dataset_refresh_search_vector after every write.
    search_vector = SearchVectorField(null=True, editable=False)

    class Meta:
        ordering = ["title"]
        permissions = [("steward_dataset", "Can edit, publish and withdraw the dataset")]
        indexes = [
            SearchVectorIndex(fields=["search_vector"], name="dataset_search_vector_gin"),
            # the catalogue's sort orders, so a page of results never sorts the whole table
            models.Index(F("title"), F("id"), name="dataset_sort_title"),
            models.Index(F("published_at").desc(), F("created_at").desc(), name="dataset_sort_newest"),
            models.Index(F("subjects_count").desc(), F("title"), name="dataset_sort_subjects"),
            models.Index(F("studies_count").desc(), F("title"), name="dataset_sort_studies"),
            # a steward's datasets, latest change first, a page at a time (catalogue/views/steward.py)
            models.Index(F("holder"), F("updated_at").desc(), F("id").desc(), name="dataset_holder_updated"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(age_min__isnull=True) | Q(age_max__isnull=True) | Q(age_min__lte=F("age_max")),
                name="dataset_age_range_ordered",
            ),
            models.CheckConstraint(
                condition=Q(acquisition_start__isnull=True)
                | Q(acquisition_end__isnull=True)
                | Q(acquisition_start__lte=F("acquisition_end")),
                name="dataset_acquisition_period_ordered",
            ),
            models.CheckConstraint(
                condition=Q(subjects_count__lte=F("studies_count")) | Q(studies_count=0),
                name="dataset_subjects_not_more_than_studies",
            ),
            models.CheckConstraint(
                condition=Q(identifier__regex=r"^[A-Za-z0-9][A-Za-z0-9._-]*$"), name="dataset_identifier_format"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.identifier})"

    @property
    def is_published(self) -> bool:
        return self.status == DatasetStatus.PUBLISHED

    @property
    def is_remote(self) -> bool:
        """Harvested from a partner node: read-only here, applied for at its node."""
        return bool(self.remote_url)


class DataUseCondition(models.Model):
    """A data-use condition on a dataset, with its parameters where the condition needs them.

    parameters by condition: GEOGRAPHICAL_RESTRICTION {"countries": ["LV", ...]};
    DISEASE_SPECIFIC_RESEARCH {"conditions": ["C50", ...]}; TIME_LIMIT_ON_USE {"months": 24};
    INSTITUTION_SPECIFIC_RESTRICTION {"institutions": [...]}; others {} or {"note": "..."}.
    """

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="use_conditions")
    term = models.ForeignKey(Term, on_delete=models.PROTECT, related_name="+")
    parameters = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dataset", "term"], name="data_use_condition_unique")]

    def __str__(self) -> str:
        return f"{self.term.code} on {self.dataset.identifier}"


class DatasetRevision(models.Model):
    """A new version of a dataset made by a change to its files after it was published.

    Written by catalogue.services in the transaction that changes the files (a steward removing a
    file, a scan adding or dropping some); the dataset's page lists them as its version history.
    The files a revision added or removed point to it (DatasetFile.added_in / removed_in).
    """

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="revisions")
    version = models.CharField(max_length=40, help_text="the dataset's version after the change")
    previous_version = models.CharField(max_length=40)
    created_at = models.DateTimeField(default=timezone.now)
    made_by = models.ForeignKey("portal.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(help_text="why the files changed, as the public page shows it")
    files_added = models.PositiveIntegerField(default=0)
    files_removed = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(F("dataset"), F("created_at").desc(), name="dataset_revision_newest")]
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="dataset_revision_has_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.dataset.identifier} {self.previous_version} → {self.version}"


class RegisteredFileManager(models.Manager):
    """The registrations in force: a removed registration is kept for the record but never listed,
    counted, exported or served. `DatasetFile.objects` and `dataset.files` use this manager;
    `DatasetFile.all_registrations` also returns the removed ones."""

    def get_queryset(self):
        return super().get_queryset().filter(removed_at__isnull=True)


class DatasetFile(models.Model):
    """One file of a dataset, in its holder's storage area, with its size and SHA-256.

    A registration is never deleted: a file registered by mistake is marked removed (when, by whom,
    why), its bytes stay in the holder's storage, and every read through `objects` leaves it out.
    """

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="files")
    path = models.CharField(
        max_length=1000, help_text="relative to DATASET_STORAGE_ROOT, starting with the holder's storage area"
    )
    size_bytes = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    media_type = models.CharField(max_length=100, default="application/dicom")
    # The file's modification time when it was hashed: a rescan that finds the same size and time
    # takes the registration as it is (a stat, no read).
    modified_ns = models.BigIntegerField(null=True, blank=True, editable=False)
    registered_at = models.DateTimeField(auto_now_add=True)
    added_in = models.ForeignKey(
        DatasetRevision, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="the version that added the file to the published dataset (none: it came before publication)",
    )  # fmt: skip
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey("portal.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    removal_reason = models.TextField(blank=True)
    removed_in = models.ForeignKey(
        DatasetRevision, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="the version that removed the file from the published dataset (none: removed from a draft)",
    )  # fmt: skip

    objects = RegisteredFileManager()
    all_registrations = models.Manager()  # noqa: DJ012  (ruff takes this manager for a field)

    class Meta:
        ordering = ["path"]
        base_manager_name = "all_registrations"
        constraints = [
            # one registration in force per path; removed ones stay beside it for the record
            models.UniqueConstraint(
                fields=["dataset", "path"], condition=Q(removed_at__isnull=True), name="dataset_file_unique_path"
            ),
            models.CheckConstraint(condition=Q(sha256__regex=r"^[0-9a-f]{64}$"), name="dataset_file_sha256_hex"),
            models.CheckConstraint(
                condition=Q(removed_at__isnull=True) | ~Q(removal_reason=""), name="dataset_file_removal_has_reason"
            ),
        ]
        indexes = [models.Index(F("dataset"), F("path"), name="dataset_file_path")]

    def __str__(self) -> str:
        return self.path


class DicomInstance(models.Model):
    """The DICOM index: what the header of one registered DICOM file says, and its de-identification verdict.

    Written by the file scan (catalogue.services._replace_files) with the file's row, in the same
    transaction, from a header read once after hashing (catalogue/dicom_index.py); pixel data is
    never read. Files that are not DICOM have no row. A file that claims DICOM but cannot be
    parsed has a row with empty fields, passed=False and one failure of code DICOM_UNREADABLE.
    Texts are as the header gives them (at most 64 characters); study_year is the year of Study
    Date, shifted with it where the file declares shifted dates.
    """

    file = models.OneToOneField(DatasetFile, on_delete=models.CASCADE, related_name="dicom")
    patient_id = models.CharField(max_length=64, blank=True, help_text="the subject's pseudonym (Patient ID)")
    study_instance_uid = models.CharField(max_length=64, blank=True)
    series_instance_uid = models.CharField(max_length=64, blank=True)
    sop_instance_uid = models.CharField(max_length=64, blank=True)
    sop_class_uid = models.CharField(max_length=64, blank=True)
    modality = models.CharField(max_length=64, blank=True)
    body_part_examined = models.CharField(max_length=64, blank=True)
    manufacturer = models.CharField(max_length=64, blank=True)
    manufacturer_model_name = models.CharField(max_length=64, blank=True)
    patient_sex = models.CharField(max_length=64, blank=True)
    age_years = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Patient's Age at the study, in years"
    )
    study_year = models.PositiveSmallIntegerField(null=True, blank=True)
    segmented_series_uid = models.CharField(
        max_length=64, blank=True, help_text="for a segmentation (SEG): the series it segments"
    )
    deid_options = models.JSONField(
        default=list, blank=True, help_text="the profile options the file declares (CID 7050 codes)"
    )
    passed = models.BooleanField(help_text="the header passes the de-identification check")
    failures = models.JSONField(default=list, blank=True, help_text="the first rules failed, each {code, tag, message}")
    failure_count = models.PositiveIntegerField(default=0, help_text="every rule failed, listed or not")
    checked_at = models.DateTimeField()
    # What the verdict depended on besides the header (catalogue.ingestion.check_key): the table's
    # edition and the steward's declarations. A rescan reads the header again where it differs.
    check_key = models.CharField(max_length=16, blank=True)

    class Meta:
        indexes = [
            models.Index(F("study_instance_uid"), name="dicom_instance_study"),
            models.Index(F("series_instance_uid"), name="dicom_instance_series"),
            models.Index(F("patient_id"), name="dicom_instance_subject"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(passed=False) | Q(failure_count=0), name="dicom_instance_passed_without_failures"
            ),
        ]

    def __str__(self) -> str:
        return f"DICOM index of {self.file_id}"


class FileScanStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class FileScan(models.Model):
    """A steward's request to register the files under a folder; the task reports its progress here."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="file_scans")
    folder = models.CharField(
        max_length=1000, help_text="relative to DATASET_STORAGE_ROOT, starting with the holder's storage area"
    )
    requested_by = models.ForeignKey("portal.User", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=FileScanStatus.choices, default=FileScanStatus.QUEUED)
    files_total = models.PositiveIntegerField(default=0)
    files_done = models.PositiveIntegerField(default=0)
    bytes_done = models.PositiveBigIntegerField(default=0)
    error = models.TextField(blank=True)
    skipped = models.JSONField(default=list, blank=True, help_text="entries left out of the scan, each {path, reason}")
    files_reused = models.PositiveIntegerField(
        default=0, help_text="files found unchanged since the last scan (a stat)"
    )
    report = models.JSONField(default=dict, blank=True, help_text="the ingestion report (catalogue.ingestion)")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Written with every committed batch: a scan whose last batch is older than
    # catalogue.ingestion.SCAN_LEASE is taken to have lost its worker, and a new run resumes it.
    progress_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Each run of the scan task is an attempt; batch tasks queued by an earlier one are ignored.
    attempt = models.PositiveIntegerField(default=0)
    # Set once the walk has queued every batch (catalogue.ingestion): the scan is applied when
    # none of them is left (FileScanBatch).
    batches_queued = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"scan of {self.folder} for {self.dataset.identifier} ({self.status})"


class FileScanBatch(models.Model):
    """A batch of a scan's files queued for a worker and not staged yet: the row goes when the
    batch's entries are committed, so a batch delivered twice is staged (and counted) once."""

    scan = models.ForeignKey(FileScan, on_delete=models.CASCADE, related_name="batches")
    number = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scan", "number"], name="file_scan_batch_unique_number")]

    def __str__(self) -> str:
        return f"batch {self.number} of scan {self.scan_id}"


class FileScanEntry(models.Model):
    """One file a running scan has read, staged until the scan applies them all at once.

    The scan commits its entries in batches as it goes: a worker restarted mid-scan runs the task
    again and goes on after the last committed batch (a path staged once is never read again),
    so every file is counted once. The entries are deleted when the scan finishes.
    """

    scan = models.ForeignKey(FileScan, on_delete=models.CASCADE, related_name="entries")
    path = models.CharField(max_length=1000)
    size_bytes = models.PositiveBigIntegerField(default=0)
    modified_ns = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    media_type = models.CharField(max_length=100, blank=True)
    dicom = models.JSONField(null=True, blank=True, help_text="the DICOM index fields read from the header")
    reused = models.BooleanField(default=False, help_text="unchanged since the last scan: not read")
    skipped_reason = models.TextField(blank=True, help_text="why the file was left out (then nothing else is set)")

    class Meta:
        ordering = ["path"]
        constraints = [models.UniqueConstraint(fields=["scan", "path"], name="file_scan_entry_unique_path")]

    def __str__(self) -> str:
        return self.path


class BasketItem(models.Model):
    """A dataset a researcher has collected from the catalogue; an access application starts from the basket."""

    user = models.ForeignKey("portal.User", on_delete=models.CASCADE, related_name="basket_items")
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="+")
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["added_at", "pk"]
        constraints = [models.UniqueConstraint(fields=["user", "dataset"], name="basket_item_unique")]

    def __str__(self) -> str:
        return f"{self.dataset.identifier} in the basket of {self.user}"
