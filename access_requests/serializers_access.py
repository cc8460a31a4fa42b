"""Serializers of the grant lifecycle API (access_requests/apis_access.py): revocation, extensions,
the closeout."""

from rest_framework import serializers

from access_requests.models import (
    Application,
    Closeout,
    ExtensionRequest,
    Grant,
    OutputKind,
    ResearchOutput,
)
from portal.serializers import InputSerializer


class ReasonSerializer(InputSerializer):
    reason = serializers.CharField(max_length=2000, help_text="Why: the grantees are told it.")


class ExtensionAskSerializer(InputSerializer):
    until = serializers.DateField(help_text="The new last day of access asked for (inclusive).")
    reason = serializers.CharField(max_length=2000, help_text="Why the grantee needs longer.")


class ExtensionDecisionSerializer(InputSerializer):
    approve = serializers.BooleanField(help_text="true grants the pending request, false refuses it.")
    until = serializers.DateField(
        required=False, allow_null=True, default=None, help_text="The last day granted; by default the day asked for."
    )
    reason = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=2000, help_text="Required for a refusal."
    )


class OutputInputSerializer(InputSerializer):
    kind = serializers.ChoiceField(choices=OutputKind.choices)
    title = serializers.CharField(max_length=500)
    doi = serializers.CharField(required=False, allow_blank=True, default="", max_length=220, help_text="10.1234/abcd")
    url = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


class CloseoutInputSerializer(InputSerializer):
    copies_deleted = serializers.BooleanField(
        required=False,
        help_text="Must be true on the first closeout: every downloaded copy has been deleted. "
        "Omit it to add results to a closeout already attested.",
    )
    statement = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)
    outputs = OutputInputSerializer(many=True, required=False, default=list)


class ExtensionRequestSerializer(serializers.ModelSerializer):
    requested_by = serializers.EmailField(source="requested_by.email", read_only=True)

    class Meta:
        model = ExtensionRequest
        fields = [
            "id",
            "grant",
            "requested_by",
            "requested_at",
            "requested_until",
            "reason",
            "status",
            "decided_at",
            "decision_reason",
            "granted_until",
        ]
        read_only_fields = fields


class GrantStateSerializer(serializers.ModelSerializer):
    dataset = serializers.CharField(source="dataset.identifier", read_only=True)
    application = serializers.CharField(source="application.reference", read_only=True)

    class Meta:
        model = Grant
        fields = [
            "id",
            "application",
            "dataset",
            "kind",
            "status",
            "valid_from",
            "valid_until",
            "limited_by",
            "agreement_end",
            "ethics_end",
            "time_limit_end",
            "ended_at",
            "revoke_reason",
        ]
        read_only_fields = fields


class ApplicationEndSerializer(serializers.ModelSerializer):
    class Meta:
        model = Application
        fields = ["id", "reference", "status", "ended_at", "end_reason"]
        read_only_fields = fields


class ResearchOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = ResearchOutput
        fields = ["id", "kind", "title", "doi", "url", "description", "reported_at"]
        read_only_fields = fields


class CloseoutSerializer(serializers.ModelSerializer):
    application = serializers.CharField(source="application.reference", read_only=True)
    attested_by = serializers.EmailField(source="attested_by.email", read_only=True)
    outputs = ResearchOutputSerializer(source="application.outputs", many=True, read_only=True)

    class Meta:
        model = Closeout
        fields = ["application", "attested_by", "attested_at", "copies_deleted", "statement", "outputs"]
        read_only_fields = fields
