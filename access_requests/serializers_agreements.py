"""Input and output shapes of the data-access agreement API (access_requests/apis_agreements.py).

The agreement is shown to whoever may see it (its application's team, the reviewing RDO and
committee, the requested holders' stewards, and each party's signatory) as its page shows it: the
current version with its SHA-256, each party signed or awaited, the earlier versions and why they
changed, and the executed copy once every party has signed.
"""

from rest_framework import serializers

from access_requests.models import AgreementStatus, PartyKind, SignatureMethod
from portal.serializers import InputSerializer

SHA256_HELP = "SHA-256 of the PDF, in hexadecimal"


def _version_field() -> serializers.IntegerField:
    return serializers.IntegerField(
        min_value=1,
        max_value=32767,
        help_text="the number of the version the caller read: refused (409) unless it is the current one",
    )


def _party_field() -> serializers.IntegerField:
    return serializers.IntegerField(
        min_value=1,
        max_value=2147483647,
        required=False,
        help_text="the id of the party the caller signs for; may be left out when they may sign for one party only",
    )


# --- input --------------------------------------------------------------------------------


class AgreementSignSerializer(InputSerializer):
    version = _version_field()
    sha256 = serializers.RegexField(
        r"^[0-9a-fA-F]{64}$",
        help_text="SHA-256 of the version's PDF the caller read: refused (409) unless it is the current version's",
    )
    typed_name = serializers.CharField(max_length=200, help_text="the signer's full name, as their account has it")
    party = _party_field()


class AgreementScanSerializer(InputSerializer):
    file = serializers.FileField(help_text="the countersigned copy of the version, scanned as a PDF")
    version = _version_field()
    party = _party_field()


class AgreementReviseSerializer(InputSerializer):
    reason = serializers.CharField(
        max_length=5000, help_text="what changed: every party who signed the version before is told"
    )


# --- output -------------------------------------------------------------------------------


class AgreementSignatureSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    signer = serializers.CharField(help_text="the name of the person who signed")
    signed_at = serializers.DateTimeField()
    sha256 = serializers.CharField(help_text="SHA-256 of the version's PDF they signed over")
    method = serializers.ChoiceField(choices=SignatureMethod.choices)
    verified = serializers.BooleanField(help_text="a scan: checked by the Research Data Office (online: always)")
    verified_at = serializers.DateTimeField(allow_null=True)
    counts = serializers.BooleanField(help_text="the signature counts towards execution")


class AgreementPartySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(help_text="the party as the agreement names it")
    kind = serializers.ChoiceField(choices=PartyKind.choices)
    representative = serializers.CharField(allow_blank=True)
    signed = serializers.BooleanField(help_text="its signature counts")
    awaited = serializers.BooleanField(help_text="its signature is still awaited (or a scan awaits the check)")
    signature = AgreementSignatureSerializer(allow_null=True)


class AgreementVersionSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    template_version = serializers.CharField()
    reason = serializers.CharField()
    sha256 = serializers.CharField(allow_blank=True, help_text=f"{SHA256_HELP}; empty while being prepared")
    size = serializers.IntegerField(allow_null=True, help_text="bytes")
    rendered = serializers.BooleanField(help_text="the PDF is ready (it is prepared a few moments after)")
    created_at = serializers.DateTimeField()
    parties = AgreementPartySerializer(many=True)


class AgreementEarlierVersionSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    reason = serializers.CharField()
    sha256 = serializers.CharField(allow_blank=True, help_text=SHA256_HELP)
    superseded_at = serializers.DateTimeField()


class AgreementExecutedSerializer(serializers.Serializer):
    sha256 = serializers.CharField(help_text=f"{SHA256_HELP} (the sealed copy)")
    executed_at = serializers.DateTimeField()


class AgreementSerializer(serializers.Serializer):
    reference = serializers.CharField()
    status = serializers.ChoiceField(choices=AgreementStatus.choices)
    overdue = serializers.BooleanField(help_text="awaiting signatures for longer than allowed")
    current = AgreementVersionSerializer()
    earlier = AgreementEarlierVersionSerializer(many=True, help_text="earlier versions, latest first")
    executed = AgreementExecutedSerializer(allow_null=True)
    may_sign = serializers.ListField(
        child=serializers.IntegerField(), help_text="ids of the parties the caller may still sign for"
    )
