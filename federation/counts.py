"""A node's answer to a federated count query: how many subjects and studies of each of its
searchable datasets match the criteria, with small counts never disclosed.

The criteria are those of EUCAIM's federated search: birth sex, age at the study, cancer
condition, study year, modality, body part and manufacturer. Counts come from the DICOM index
(`catalogue.models.DicomInstance`) of the files in force of published datasets at tier 2 or 3
(searchable through federated search), and only from files that pass the de-identification check.

Disclosure control: every searchable dataset is listed, whether or not anything matches (so a
listing says nothing about a dataset with one match). A count below FEDERATION_COUNT_THRESHOLD
(10) is withheld (null: "fewer than 10"); the others are rounded to the nearest multiple of
FEDERATION_COUNT_ROUNDING (5), so that the difference of two queries reveals nothing exact.
"""

from django.conf import settings
from django.db.models import Count, Q
from rest_framework import serializers

from catalogue.models import Dataset, DatasetStatus, DicomInstance, Tier
from portal.serializers import InputSerializer

SEXES = {"F": "Female", "M": "Male", "O": "Other"}


class CountCriteriaSerializer(InputSerializer):
    """The criteria of a federated count query; every one optional, values of one criterion are alternatives."""

    sex = serializers.ListField(
        child=serializers.ChoiceField(choices=sorted(SEXES.items())), required=False, max_length=3
    )
    age_min = serializers.IntegerField(required=False, min_value=0, max_value=130)
    age_max = serializers.IntegerField(required=False, min_value=0, max_value=130)
    condition = serializers.ListField(
        child=serializers.RegexField(r"^[A-Z][0-9]{2}(\.[0-9A-Z]{1,4})?$", max_length=8),
        required=False,
        max_length=20,
        help_text="ICD-10 codes, e.g. C50",
    )
    year_min = serializers.IntegerField(required=False, min_value=1900, max_value=2200)
    year_max = serializers.IntegerField(required=False, min_value=1900, max_value=2200)
    modality = serializers.ListField(
        child=serializers.RegexField(r"^[A-Z0-9]{1,16}$"), required=False, max_length=20, help_text="DICOM (0008,0060)"
    )
    body_part = serializers.ListField(
        child=serializers.RegexField(r"^[A-Z0-9 _]{1,16}$"),
        required=False,
        max_length=20,
        help_text="DICOM (0018,0015)",
    )
    manufacturer = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, max_length=20, help_text="DICOM (0008,0070)"
    )

    def validate(self, attrs):
        for low, high in (("age_min", "age_max"), ("year_min", "year_max")):
            if low in attrs and high in attrs and attrs[low] > attrs[high]:
                raise serializers.ValidationError({high: f"must be at least {low} ({attrs[low]})."})
        return {key: value for key, value in attrs.items() if value not in (None, [], "")}


def canonical(criteria: dict) -> dict:
    """The criteria in one order: lists sorted and without repeats, so equal queries are equal."""
    return {key: sorted(set(value)) if isinstance(value, list) else value for key, value in sorted(criteria.items())}


def searchable_datasets():
    """This node's own published datasets at tier 2 or 3 (not those harvested from partners)."""
    return Dataset.objects.filter(
        status=DatasetStatus.PUBLISHED, tier__gte=Tier.FEDERATED_SEARCH, holder__node__isnull=True
    )


def _matching(criteria: dict):
    instances = DicomInstance.objects.filter(
        passed=True,
        file__removed_at__isnull=True,
        file__dataset__in=searchable_datasets(),
    )
    simple = {
        "sex": "patient_sex__in",
        "modality": "modality__in",
        "body_part": "body_part_examined__in",
        "age_min": "age_years__gte",
        "age_max": "age_years__lte",
        "year_min": "study_year__gte",
        "year_max": "study_year__lte",
    }
    for name, lookup in simple.items():
        if name in criteria:
            instances = instances.filter(**{lookup: criteria[name]})
    if criteria.get("manufacturer"):
        makers = Q()
        for name in criteria["manufacturer"]:
            makers |= Q(manufacturer__iexact=name)
        instances = instances.filter(makers)
    if criteria.get("condition"):
        with_condition = Dataset.objects.filter(conditions__code__in=criteria["condition"]).values("pk")
        instances = instances.filter(file__dataset__in=with_condition)
    return instances


def disclosed(count: int) -> int | None:
    """A count as a node discloses it: None below the threshold, else rounded to the step."""
    if count < settings.FEDERATION_COUNT_THRESHOLD:
        return None
    step = max(1, settings.FEDERATION_COUNT_ROUNDING)
    return step * ((count + step // 2) // step)


def local_counts(criteria: dict) -> dict:
    """This node's answer: per searchable dataset, the disclosed subjects and studies, and the node's totals."""
    rows = {
        row["file__dataset_id"]: row
        for row in _matching(criteria)
        .values("file__dataset_id")
        .annotate(
            subjects=Count("patient_id", distinct=True),
            studies=Count("study_instance_uid", distinct=True),
        )
        .order_by()
    }
    datasets = []
    totals = {"subjects": 0, "studies": 0}
    for dataset in searchable_datasets().select_related("holder").order_by("identifier"):
        row = rows.get(dataset.pk, {"subjects": 0, "studies": 0})
        totals["subjects"] += row["subjects"]
        totals["studies"] += row["studies"]
        datasets.append(
            {
                "identifier": dataset.identifier,
                "title": dataset.title,
                "holder": dataset.holder.name,
                "url": f"{settings.SITE_URL}/catalogue/datasets/{dataset.identifier}/",
                "subjects": disclosed(row["subjects"]),
                "studies": disclosed(row["studies"]),
            }
        )
    return {
        "node": {"name": settings.SITE_NAME, "base_url": settings.SITE_URL},
        "threshold": settings.FEDERATION_COUNT_THRESHOLD,
        "rounding": settings.FEDERATION_COUNT_ROUNDING,
        "datasets": datasets,
        "total": {name: disclosed(value) for name, value in totals.items()},
    }
