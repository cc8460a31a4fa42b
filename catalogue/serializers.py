"""Input and output shapes of the catalogue API.

Output never names a person: a dataset's publisher is its data holder with the holder's public
contact point, never a steward.
"""

import re

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalogue.models import AccessRights, Dataset, DatasetStatus, DatasetType, FileScan, FileScanStatus, Tier
from catalogue.search import MAX_QUERY_LENGTH
from catalogue.selectors import FACETS, SORTS, DatasetQuery, FacetOptions
from catalogue.services import DATA_FIELDS
from portal.serializers import InputModelSerializer, InputSerializer

IDENTIFIER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
IDENTIFIER_MAX = Dataset._meta.get_field("identifier").max_length


def validate_identifier(identifier: str) -> str:
    """A dataset identifier from a URL: refused with a field error when it could never exist."""
    if len(identifier) > IDENTIFIER_MAX or not IDENTIFIER_RE.match(identifier):
        raise serializers.ValidationError(
            {"identifier": [f"Not a dataset identifier: letters, digits, '.', '_' and '-', at most {IDENTIFIER_MAX}."]}
        )
    return identifier


@extend_schema_field({"type": "string", "enum": list(DatasetStatus.values)}, component_name="DatasetStatus")
class DatasetStatusField(serializers.ChoiceField):
    """A dataset status, as its own schema component: other apps' fields are called `status` too."""

    def __init__(self, **kwargs):
        super().__init__(choices=DatasetStatus.choices, **kwargs)


@extend_schema_field({"type": "string", "enum": list(FileScanStatus.values)}, component_name="FileScanStatus")
class FileScanStatusField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=FileScanStatus.choices, **kwargs)


# --- search -------------------------------------------------------------------------------


def _facet_list(name: str) -> serializers.ListField:
    facet = next(facet for facet in FACETS if facet.name == name)
    return serializers.ListField(
        child=serializers.CharField(max_length=200),
        required=False,
        default=list,
        help_text=f"{facet.label}: repeat the parameter for alternatives (OR); facets combine with AND.",
    )


class DatasetSearchInputSerializer(serializers.Serializer):
    """Query parameters of the dataset list. Facet values are codes (modality, condition, body part,
    data use, access mode), manufacturer names, ISO country codes, data-holder slugs or nodes (`local`
    for this node's own datasets, a partner's name as a slug for those harvested from it). Unknown
    parameters are ignored (see portal.serializers): `page` and `page_size` belong to the paginator."""

    q = serializers.CharField(required=False, allow_blank=True, max_length=MAX_QUERY_LENGTH, default="")
    modality = _facet_list("modality")
    condition = _facet_list("condition")
    body_part = _facet_list("body_part")
    manufacturer = _facet_list("manufacturer")
    country = _facet_list("country")
    holder = _facet_list("holder")
    node = _facet_list("node")
    data_use = _facet_list("data_use")
    access_mode = _facet_list("access_mode")
    status = serializers.ListField(
        child=DatasetStatusField(),
        required=False,
        default=list,
        help_text="Stewards and the RDO: narrow to these statuses (others only ever see published datasets).",
    )
    sort = serializers.ChoiceField(choices=list(SORTS), required=False, allow_blank=True, default="")
    facets = serializers.BooleanField(required=False, default=False, help_text="Add facet counts to the page.")

    def validate(self, attrs):
        options: FacetOptions = self.context["options"]
        errors = {}
        for facet in FACETS:
            unknown = options.unknown(facet.name, attrs.get(facet.name, []))
            if unknown:
                errors[facet.name] = [f"Unknown {facet.label.lower()}: {value!r}." for value in unknown]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def query(self) -> DatasetQuery:
        data = self.validated_data
        return DatasetQuery(
            text=data["q"],
            filters={facet.name: tuple(data[facet.name]) for facet in FACETS if data[facet.name]},
            statuses=tuple(data["status"]),
            sort=data["sort"],
        )


class FacetValueSerializer(serializers.Serializer):
    value = serializers.CharField()
    label = serializers.CharField()
    count = serializers.IntegerField()
    selected = serializers.BooleanField()


class FacetCountsSerializer(serializers.Serializer):
    """Per facet, the values with their counts; a facet's counts apply every other facet's selection."""

    modality = FacetValueSerializer(many=True)
    condition = FacetValueSerializer(many=True)
    body_part = FacetValueSerializer(many=True)
    manufacturer = FacetValueSerializer(many=True)
    country = FacetValueSerializer(many=True)
    holder = FacetValueSerializer(many=True)
    data_use = FacetValueSerializer(many=True)
    access_mode = FacetValueSerializer(many=True)

    def to_representation(self, groups):
        return {group.name: FacetValueSerializer(group.values, many=True).data for group in groups}


# --- datasets -----------------------------------------------------------------------------


class TermSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()


class DataUseSerializer(serializers.Serializer):
    code = serializers.CharField(source="term.code")
    label = serializers.CharField(source="term.label")
    duo = serializers.CharField(source="term.external_code", help_text="GA4GH Data Use Ontology code")
    parameters = serializers.DictField()


class HolderSerializer(serializers.Serializer):
    """The publisher: an institution and its public contact point."""

    slug = serializers.SlugField()
    name = serializers.CharField()
    country = serializers.CharField()
    city = serializers.CharField()
    website = serializers.URLField()
    contact_point = serializers.EmailField(source="contact_email")


class DatasetFileSerializer(serializers.Serializer):
    path = serializers.CharField()
    size_bytes = serializers.IntegerField()
    sha256 = serializers.CharField()
    media_type = serializers.CharField()


class DatasetRevisionSerializer(serializers.Serializer):
    """A version made by a change to the files of the published dataset."""

    version = serializers.CharField()
    previous_version = serializers.CharField()
    created_at = serializers.DateTimeField()
    reason = serializers.CharField()
    files_added = serializers.IntegerField()
    files_removed = serializers.IntegerField()


class DatasetListSerializer(serializers.Serializer):
    identifier = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    version = serializers.CharField()
    status = DatasetStatusField()
    holder = HolderSerializer()
    modalities = TermSerializer(many=True)
    conditions = TermSerializer(many=True)
    body_parts = TermSerializer(many=True)
    birth_sexes = TermSerializer(many=True)
    access_modes = TermSerializer(many=True)
    data_use = DataUseSerializer(many=True, source="use_conditions")
    manufacturers = serializers.SerializerMethodField()
    keywords = serializers.ListField(child=serializers.CharField())
    subjects_count = serializers.IntegerField()
    studies_count = serializers.IntegerField()
    published_at = serializers.DateTimeField(allow_null=True)
    url = serializers.SerializerMethodField()
    page_url = serializers.SerializerMethodField()
    apply_url = serializers.SerializerMethodField()

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_manufacturers(self, dataset) -> list[str]:
        return [manufacturer.name for manufacturer in dataset.manufacturers.all()]

    def _absolute(self, name: str, dataset) -> str:
        path = reverse(name, args=[dataset.identifier])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, dataset) -> str:
        return self._absolute("api-dataset-detail", dataset)

    @extend_schema_field(OpenApiTypes.URI)
    def get_page_url(self, dataset) -> str:
        return self._absolute("catalogue:dataset-detail", dataset)

    @extend_schema_field(OpenApiTypes.URI)
    def get_apply_url(self, dataset) -> str:
        return self._absolute("catalogue:dataset-apply", dataset)


class DatasetDetailSerializer(DatasetListSerializer):
    dataset_type = serializers.ChoiceField(choices=DatasetType.choices)
    access_rights = serializers.ChoiceField(choices=AccessRights.choices)
    tier = serializers.ChoiceField(choices=Tier.choices)
    age_min = serializers.IntegerField(allow_null=True)
    age_max = serializers.IntegerField(allow_null=True)
    series_count = serializers.IntegerField(allow_null=True)
    images_count = serializers.IntegerField(allow_null=True)
    size_bytes = serializers.IntegerField(allow_null=True)
    acquisition_start = serializers.DateField(allow_null=True)
    acquisition_end = serializers.DateField(allow_null=True)
    collection_method = serializers.CharField()
    provenance = serializers.CharField()
    anonymisation_profile = serializers.CharField()
    anonymisation_verified_on = serializers.DateField(
        allow_null=True, help_text="the day the portal's check last found every registered DICOM file passing"
    )
    counts_note = serializers.CharField(help_text="the steward's note where the collection differs from its files")
    indexed_fields = serializers.ListField(
        child=serializers.CharField(), help_text="the fields set from the DICOM index of the registered files"
    )
    licence = serializers.CharField()
    landing_page = serializers.CharField()
    updated_at = serializers.DateTimeField()
    files = DatasetFileSerializer(many=True, help_text="the registered files in force (removed ones are left out)")
    changes = DatasetRevisionSerializer(
        many=True, source="revisions", help_text="versions made by changes to the files since publication, newest first"
    )


class PaginatedDatasetListSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = DatasetListSerializer(many=True)
    facets = FacetCountsSerializer(required=False, help_text="Only with facets=true.")


# --- stewards' writes ---------------------------------------------------------------------


class DataUseInputSerializer(InputSerializer):
    code = serializers.CharField(max_length=64)
    parameters = serializers.DictField(required=False, default=dict)


def _codes(help_text: str) -> serializers.ListField:
    return serializers.ListField(child=serializers.CharField(max_length=200), required=False, help_text=help_text)


class DatasetWriteSerializer(InputModelSerializer):
    """A dataset's fields as a steward sends them; codes are checked against the vocabularies by the service."""

    modalities = _codes("DICOM modality codes, e.g. MG, MR")
    conditions = _codes("ICD-10 chapter II codes, e.g. C50")
    body_parts = _codes("DICOM body-part codes, e.g. BREAST")
    birth_sexes = _codes("FEMALE, MALE, OTHER, UNKNOWN")
    access_modes = _codes("DOWNLOAD, IN_SITU_PROCESSING, REMOTE_PROCESSING")
    manufacturers = _codes("manufacturer names as in DICOM (0008,0070)")
    keywords = _codes("free keywords")
    data_use = DataUseInputSerializer(many=True, required=False)

    class Meta:
        model = Dataset
        fields = list(DATA_FIELDS)  # what the catalogue services accept, in their order
        # uniqueness and rules across fields are the service's to check, inside its transaction
        extra_kwargs = {"identifier": {"validators": []}}
        validators: list = []


class DatasetCreateSerializer(DatasetWriteSerializer):
    holder = serializers.SlugField(help_text="slug of the data holder the dataset belongs to")

    class Meta(DatasetWriteSerializer.Meta):
        fields = ["holder", *DatasetWriteSerializer.Meta.fields]


class DatasetWithdrawSerializer(InputSerializer):
    reason = serializers.CharField(max_length=2000, help_text="why the dataset leaves the catalogue")


class DatasetRegisterFilesSerializer(InputSerializer):
    folder = serializers.CharField(
        max_length=1000,
        help_text="a folder relative to the storage area of the dataset's data holder, e.g. the dataset's "
        "identifier; a path that leaves the area (`..`, absolute, a symbolic link out, another holder's area, "
        "the applicants' documents) is refused (400, an error on `folder`) and recorded in the audit log",
    )


class DatasetRemoveFileSerializer(InputSerializer):
    path = serializers.CharField(max_length=1000, help_text="the registered file's path, as the dataset lists it")
    reason = serializers.CharField(
        max_length=2000, help_text="why the file is removed; shown with the change and sent to the applicants"
    )
    sha256 = serializers.RegexField(
        r"^[0-9a-f]{64}$",
        required=False,
        default="",
        help_text="the content you mean to remove: if the file at `path` has another checksum now, 409",
    )


class FileScanSerializer(serializers.ModelSerializer):
    status = FileScanStatusField(read_only=True)

    class Meta:
        model = FileScan
        fields = [
            "id",
            "folder",
            "status",
            "files_total",
            "files_done",
            "bytes_done",
            "skipped",
            "error",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields
