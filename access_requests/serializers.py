"""Input and output shapes of the applications API.

Input serializers check types and shapes only; the rules (what may change when, by whom, what
a submission needs) stay in access_requests.services. Output never carries a document's bytes:
an ethics approval names its document and links to the endpoint that streams it.
"""

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from access_requests.models import (
    Application,
    ApplicationDataset,
    ApplicationStatus,
    Committee,
    DataCategory,
    Dpia,
    DpiaRisk,
    EthicsApproval,
    LegalStatement,
    Message,
    RdoChecklist,
    Representations,
    ResidualRisk,
    ReturnComment,
    TeamMember,
)
from access_requests.services.applications import APPLICATION_FIELDS
from portal.apis import ErrorSerializer
from portal.serializers import InputModelSerializer, InputSerializer

# What a state can refuse (409), for the operations that change an application. The errors every
# operation's shape implies (400, 401, 403, 404, 406, 415, 429) are added by portal.schema.PortalAutoSchema.
ERRORS = {409: ErrorSerializer}


# --- input --------------------------------------------------------------------------------


def _identifiers(**kwargs) -> serializers.ListField:
    return serializers.ListField(child=serializers.CharField(max_length=64), **kwargs)


class ApplicationFilterSerializer(serializers.Serializer):
    """Query parameters of the list; unknown ones are ignored (see portal.serializers)."""

    status = serializers.ChoiceField(choices=ApplicationStatus.choices, required=False)


class ApplicationCreateSerializer(InputSerializer):
    title = serializers.CharField(max_length=300)
    datasets = _identifiers(
        required=False,
        allow_empty=False,
        help_text="dataset identifiers (at least one); without this field, the datasets in the caller's basket",
    )


class ApplicationUpdateSerializer(InputModelSerializer):
    organisation_country = serializers.RegexField(
        r"^[A-Za-z]{2}$", allow_blank=True, required=False, help_text="ISO 3166-1 alpha-2 code, e.g. LV"
    )
    purpose_conditions = serializers.ListField(
        child=serializers.CharField(max_length=10),
        required=False,
        help_text="ICD-10 condition codes studied (disease-specific research), e.g. C50",
    )
    uses_ai = serializers.BooleanField(
        allow_null=True,
        required=False,
        help_text="the answer to “Does the project develop or use AI?”; null while unanswered (the submission "
        "check asks for it)",
    )
    ai_not_used_reason = serializers.CharField(
        max_length=2000,
        allow_blank=True,
        required=False,
        help_text="with uses_ai false: why the project uses no AI although its title or descriptions speak of it",
    )

    class Meta:
        model = Application
        fields = [*APPLICATION_FIELDS, "purpose_conditions"]


ACCESS_MODE_HELP = (
    "code of one of the access modes the dataset offers: DOWNLOAD, IN_SITU_PROCESSING or REMOTE_PROCESSING"
)


def _access_mode_input(when_absent: str) -> serializers.CharField:
    """The optional access-mode code of a requested dataset; `when_absent` says what happens without it."""
    return serializers.CharField(
        max_length=64,
        allow_blank=True,
        allow_null=True,
        required=False,
        default=None,
        help_text=f"{ACCESS_MODE_HELP}; without it, {when_absent}",
    )


class RequestedDatasetInputSerializer(InputSerializer):
    justification = serializers.CharField(allow_blank=True, required=False, default="")
    access_mode = _access_mode_input("the mode chosen before or the dataset's only one")


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "description": "the justification (the access mode stays as it was)"},
            {
                "type": "object",
                "properties": {
                    "justification": {"type": "string"},
                    "access_mode": {"type": "string", "nullable": True, "maxLength": 64},
                },
                "additionalProperties": False,
            },
        ]
    }
)
class RequestedDatasetInputField(serializers.Field):
    """A justification, or {"justification", "access_mode"}."""

    def to_internal_value(self, data):
        if isinstance(data, str):
            return {"justification": data, "access_mode": None}
        if isinstance(data, dict):
            serializer = RequestedDatasetInputSerializer(data=data)
            serializer.is_valid(raise_exception=True)
            return dict(serializer.validated_data)
        raise serializers.ValidationError("Expected a justification or an object with justification and access_mode.")

    def to_representation(self, value):
        return value


class DatasetsSetSerializer(InputSerializer):
    datasets = serializers.DictField(
        child=RequestedDatasetInputField(),
        allow_empty=False,
        help_text="dataset identifier → its justification, or {justification, access_mode} (at least one); "
        "datasets not named are removed from the application",
    )


class DatasetAddSerializer(InputSerializer):
    dataset = serializers.CharField(max_length=64, help_text="identifier of a published dataset")
    justification = serializers.CharField(allow_blank=True, required=False, default="")
    access_mode = _access_mode_input("the dataset's only one (else chosen later)")


class TeamMemberAddSerializer(InputSerializer):
    email = serializers.EmailField()
    role = serializers.CharField(max_length=100, required=False, default="Researcher")


class EthicsApprovalAddSerializer(InputSerializer):
    committee_name = serializers.CharField(max_length=200)
    reference = serializers.CharField(max_length=100)
    approved_on = serializers.DateField()
    expires_on = serializers.DateField()
    datasets = _identifiers(
        required=False, default=list, help_text="identifiers of the requested datasets this approval covers"
    )
    document = serializers.FileField(help_text="the approval as a PDF")


class DpiaUpdateSerializer(InputSerializer):
    data_categories = serializers.ListField(child=serializers.ChoiceField(choices=DataCategory.choices))
    processing_description = serializers.CharField(allow_blank=True)
    residual_risk = serializers.ChoiceField(choices=ResidualRisk.choices, allow_blank=True)
    dpo_name = serializers.CharField(max_length=200, allow_blank=True)
    dpo_consulted_on = serializers.DateField(allow_null=True)
    conclusion = serializers.CharField(allow_blank=True)
    document = serializers.FileField(required=False, help_text="the DPIA document as a PDF (optional)")


class DpiaRiskAddSerializer(InputSerializer):
    description = serializers.CharField(max_length=500)
    likelihood = serializers.IntegerField(min_value=1, max_value=3, help_text="1 (remote) to 3 (likely)")
    severity = serializers.IntegerField(min_value=1, max_value=3, help_text="1 (minimal) to 3 (severe)")
    mitigation = serializers.CharField(allow_blank=True, required=False, default="")


class RepresentationsUpdateSerializer(InputSerializer):
    institution_legal_name = serializers.CharField(max_length=300, allow_blank=True, required=False)
    signatory_name = serializers.CharField(max_length=200, allow_blank=True, required=False)
    signatory_role = serializers.CharField(max_length=200, allow_blank=True, required=False)
    signatory_email = serializers.EmailField(
        allow_blank=True,
        required=False,
        help_text="the signatory accepts the statements from a link sent here (`representations/signature/`)",
    )


class ReturnSerializer(InputSerializer):
    comments = serializers.DictField(
        child=serializers.CharField(allow_blank=True),
        help_text="section (overview, datasets, team, ethics, dpia, representations, ai) → what must change",
    )


class ForwardSerializer(InputSerializer):
    committee = serializers.PrimaryKeyRelatedField(
        queryset=Committee.objects.all(), help_text="id of the access committee"
    )


class WithdrawSerializer(InputSerializer):
    reason = serializers.CharField(allow_blank=True, required=False, default="", max_length=2000)


class ChecklistUpdateSerializer(InputSerializer):
    ethics_verified = serializers.BooleanField(required=False)
    dpia_reviewed = serializers.BooleanField(required=False)
    representations_checked = serializers.BooleanField(required=False)
    notes = serializers.CharField(allow_blank=True, required=False)


class MessagePostSerializer(InputSerializer):
    body = serializers.CharField()
    internal = serializers.BooleanField(
        required=False, default=False, help_text="an internal note, for the RDO and the committee only"
    )


# --- output -------------------------------------------------------------------------------


class PersonSerializer(serializers.Serializer):
    email = serializers.EmailField()
    full_name = serializers.CharField()


class RequestedDatasetSerializer(serializers.ModelSerializer):
    identifier = serializers.CharField(source="dataset.identifier")
    title = serializers.CharField(source="dataset.title")
    holder = serializers.CharField(source="dataset.holder.name")
    access_mode = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True, help_text="code of the access mode asked for"
    )
    access_modes_offered = serializers.SlugRelatedField(
        source="dataset.access_modes", slug_field="code", many=True, read_only=True
    )

    class Meta:
        model = ApplicationDataset
        fields = ["id", "identifier", "title", "holder", "justification", "access_mode", "access_modes_offered"]


class TeamMemberSerializer(serializers.ModelSerializer):
    full_name = serializers.CharField(source="user.full_name", default=None, allow_null=True)
    pending = serializers.SerializerMethodField(help_text="invited by e-mail, not accepted (yet): not a member")

    class Meta:
        model = TeamMember
        fields = ["id", "email", "full_name", "role", "pending", "invited_at", "joined_at"]

    def get_pending(self, member: TeamMember) -> bool:
        return member.user_id is None


def _absolute(serializer: serializers.Serializer, url: str) -> str:
    request = serializer.context.get("request")
    return request.build_absolute_uri(url) if request else url


class DocumentSerializer(serializers.Serializer):
    name = serializers.CharField()
    sha256 = serializers.CharField()
    size = serializers.IntegerField()
    url = serializers.CharField(help_text="streams the PDF (to people who may see the application)")


class EthicsApprovalSerializer(serializers.ModelSerializer):
    datasets = serializers.SerializerMethodField(help_text="identifiers of the requested datasets it covers")
    document = serializers.SerializerMethodField()
    uploaded_by = serializers.EmailField(source="uploaded_by.email")

    class Meta:
        model = EthicsApproval
        fields = [
            "id",
            "committee_name",
            "reference",
            "approved_on",
            "expires_on",
            "datasets",
            "document",
            "uploaded_by",
            "uploaded_at",
        ]

    def get_datasets(self, approval: EthicsApproval) -> list[str]:
        return [item.dataset.identifier for item in approval.datasets.all()]

    @extend_schema_field(DocumentSerializer)
    def get_document(self, approval: EthicsApproval) -> dict:
        url = reverse(
            "api-application-ethics-document", kwargs={"pk": approval.application_id, "approval_id": approval.pk}
        )
        return {
            "name": approval.document_name,
            "sha256": approval.document_sha256,
            "size": approval.document_size,
            "url": _absolute(self, url),
        }


class DpiaRiskSerializer(serializers.ModelSerializer):
    score = serializers.IntegerField(read_only=True, help_text="likelihood × severity, 1 to 9")

    class Meta:
        model = DpiaRisk
        fields = ["id", "description", "likelihood", "severity", "score", "mitigation"]


class DpiaSerializer(serializers.ModelSerializer):
    risks = DpiaRiskSerializer(many=True, read_only=True)
    document_url = serializers.SerializerMethodField(help_text="streams the DPIA document, when one is attached")

    class Meta:
        model = Dpia
        fields = [
            "data_categories",
            "processing_description",
            "risks",
            "residual_risk",
            "dpo_name",
            "dpo_consulted_on",
            "conclusion",
            "document_name",
            "document_sha256",
            "document_url",
            "updated_at",
        ]

    def get_document_url(self, dpia: Dpia) -> str | None:
        if not dpia.document_path:
            return None
        return _absolute(self, reverse("api-application-dpia-document", kwargs={"pk": dpia.application_id}))


class StatementSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="the statement's code")
    text = serializers.CharField(help_text="the wording accepted, or to accept")
    accepted = serializers.BooleanField(help_text="accepted by the institution's signatory (read-only)")
    accepted_by = serializers.EmailField(allow_null=True, help_text="the signatory's e-mail address")
    accepted_at = serializers.DateTimeField(allow_null=True)
    covered_sha256 = serializers.CharField(allow_null=True, help_text="hash of the summary the signatory signed")


class RepresentationsSerializer(serializers.ModelSerializer):
    statements = serializers.SerializerMethodField()

    class Meta:
        model = Representations
        fields = [
            "institution_legal_name",
            "signatory_name",
            "signatory_role",
            "signatory_email",
            "signature_requested_at",
            "signature_expires_at",
            "statements",
            "updated_at",
        ]
        read_only_fields = ["signature_requested_at", "signature_expires_at"]

    @extend_schema_field(StatementSerializer(many=True))
    def get_statements(self, reps: Representations) -> list[dict]:
        standing = reps.application.statement_acceptances.filter(voided_at__isnull=True).select_related("accepted_by")
        accepted = {a.statement: a for a in standing}
        rows = []
        for statement in LegalStatement:
            acceptance = accepted.get(statement.value)
            rows.append(
                {
                    "code": statement.value,
                    "text": acceptance.text if acceptance else statement.label,
                    "accepted": acceptance is not None,
                    "accepted_by": acceptance.accepted_by.email if acceptance else None,
                    "accepted_at": acceptance.accepted_at if acceptance else None,
                    "covered_sha256": acceptance.covered_sha256 if acceptance else None,
                }
            )
        return StatementSerializer(rows, many=True).data


class ReturnCommentSerializer(serializers.ModelSerializer):
    author = serializers.EmailField(source="author.email")

    class Meta:
        model = ReturnComment
        fields = ["submission_number", "section", "text", "author", "created_at"]


class MessageSerializer(serializers.ModelSerializer):
    author = PersonSerializer()

    class Meta:
        model = Message
        fields = ["id", "author", "body", "internal", "created_at"]


class ChecklistSerializer(serializers.ModelSerializer):
    complete = serializers.BooleanField(read_only=True)
    updated_by = serializers.EmailField(source="updated_by.email", default=None, allow_null=True)

    class Meta:
        model = RdoChecklist
        fields = [
            "submission_number",
            "ethics_verified",
            "dpia_reviewed",
            "representations_checked",
            "complete",
            "notes",
            "updated_by",
            "updated_at",
        ]


class CommitteeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class ApplicationSummarySerializer(serializers.ModelSerializer):
    applicant = PersonSerializer()
    datasets = serializers.SerializerMethodField(help_text="identifiers of the requested datasets")
    url = serializers.SerializerMethodField()

    class Meta:
        model = Application
        fields = [
            "id",
            "reference",
            "title",
            "status",
            "applicant",
            "datasets",
            "submission_count",
            "created_at",
            "updated_at",
            "submitted_at",
            "url",
        ]

    def get_datasets(self, application: Application) -> list[str]:
        return [item.dataset.identifier for item in application.requested.all()]

    def get_url(self, application: Application) -> str:
        return _absolute(self, reverse("api-application", kwargs={"pk": application.pk}))


class ApplicationDetailSerializer(ApplicationSummarySerializer):
    """Everything the caller may see. `messages` holds internal notes, and `checklist` the RDO's
    completeness check, only for the RDO and the reviewing committee."""

    purpose_conditions = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)
    access_end = serializers.DateField(read_only=True, allow_null=True)
    committee = CommitteeSerializer(allow_null=True)
    datasets = RequestedDatasetSerializer(source="requested", many=True)
    team = TeamMemberSerializer(many=True)
    ethics_approvals = EthicsApprovalSerializer(many=True)
    dpia = DpiaSerializer()
    representations = RepresentationsSerializer()
    return_comments = ReturnCommentSerializer(many=True)
    messages = serializers.SerializerMethodField()
    checklist = serializers.SerializerMethodField()

    class Meta(ApplicationSummarySerializer.Meta):
        fields = [
            *ApplicationSummarySerializer.Meta.fields,
            *[f for f in APPLICATION_FIELDS if f != "title"],
            "purpose_conditions",
            "access_end",
            "committee",
            "first_submitted_at",
            "team",
            "ethics_approvals",
            "dpia",
            "representations",
            "return_comments",
            "messages",
            "checklist",
        ]

    @extend_schema_field(MessageSerializer(many=True))
    def get_messages(self, application: Application) -> list[dict]:
        messages = application.messages.select_related("author")
        if not self.context.get("reviewer"):
            messages = messages.filter(internal=False)
        return MessageSerializer(messages, many=True).data

    @extend_schema_field(ChecklistSerializer(allow_null=True))
    def get_checklist(self, application: Application) -> dict | None:
        if not self.context.get("reviewer"):
            return None
        checklist = application.checklists.filter(submission_number=application.submission_count).first()
        return ChecklistSerializer(checklist).data if checklist else None


class ProblemSerializer(serializers.Serializer):
    section = serializers.CharField()
    field = serializers.CharField()
    code = serializers.CharField()
    message = serializers.CharField()


class CheckSerializer(serializers.Serializer):
    ready = serializers.BooleanField(help_text="true when the application can be submitted as it stands")
    problems = ProblemSerializer(many=True)


class ChangeSerializer(serializers.Serializer):
    section = serializers.CharField()
    section_label = serializers.CharField()
    field = serializers.CharField()
    before = serializers.JSONField()
    after = serializers.JSONField()
