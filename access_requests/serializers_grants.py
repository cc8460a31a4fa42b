"""The grants API's bodies (access_requests/apis_grants.py): read-only shapes written from the
grant rows and the words the My data pages show (access_requests/selectors_grants.py)."""

from rest_framework import serializers

from access_requests.models import GrantKind, GrantLimit

# services/grants.py grant_state: by today's date as well as the stored status
GRANT_STATES = [("active", "active"), ("upcoming", "upcoming"), ("expired", "expired"), ("revoked", "revoked")]


class GrantApplicationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    reference = serializers.CharField()
    title = serializers.CharField()


class GrantDatasetSerializer(serializers.Serializer):
    identifier = serializers.CharField()
    title = serializers.CharField()


class GrantRefusalSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="why the caller may not use the grant now, for people")
    code = serializers.CharField(
        help_text="for programs: `not_grantee`, `revoked`, `expired`, `not_started`, `application_<status>`, "
        "`agreement_not_executed`, `not_approved`, `dataset_withdrawn`, `processing_only`"
    )


class GrantSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    application = GrantApplicationSerializer()
    dataset = GrantDatasetSerializer()
    kind = serializers.ChoiceField(choices=GrantKind.choices, help_text="download, or processing where the data live")
    kind_display = serializers.CharField()
    state = serializers.ChoiceField(
        choices=GRANT_STATES,
        help_text="by today's date as well as the stored status",
    )
    state_display = serializers.CharField(help_text="the state in words: 'Active', 'Starts on …', 'Ended on …', …")
    valid_from = serializers.DateField()
    valid_until = serializers.DateField(help_text="the last day of access, included")
    limited_by = serializers.ChoiceField(choices=GrantLimit.choices, help_text="which limit sets the last day")
    limited_by_display = serializers.CharField()
    days_left = serializers.IntegerField(
        allow_null=True, help_text="whole days after today still in the grant (0 on its last day); null unless active"
    )
    revoke_reason = serializers.CharField(allow_blank=True)
    url = serializers.CharField(help_text="the grant's page in the portal")


class GrantDetailSerializer(GrantSerializer):
    usable = serializers.BooleanField(help_text="whether the caller may use the grant now (links, environment)")
    refusal = GrantRefusalSerializer(allow_null=True, help_text="why not, when `usable` is false")
    files_url = serializers.CharField(allow_null=True, help_text="a download grant's files (grantees only)")
    manifest_url = serializers.CharField(allow_null=True, help_text="`sha256sum -c` checksum file (grantees only)")
    script_url = serializers.CharField(allow_null=True, help_text="the download script (grantees only)")
    processing_environment = serializers.CharField(
        allow_null=True, help_text="a processing grant's environment: where and how to reach it"
    )


class GrantFileSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    path = serializers.CharField(help_text="under the folder the dataset is saved in, as in the manifest")
    size = serializers.IntegerField(help_text="bytes")
    sha256 = serializers.CharField()


class GrantLinkSerializer(serializers.Serializer):
    url = serializers.URLField(help_text="the personal download link (HTTP Range supported)")
    expires_at = serializers.DateTimeField(help_text="when the link stops working; ask for a new one then")
