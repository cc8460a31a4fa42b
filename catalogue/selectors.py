"""Reads of the catalogue: which datasets a user may see, faceted search, the basket."""

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.core.paginator import EmptyPage, Page, Paginator
from django.db import connection
from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    Max,
    Min,
    Model,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Sum,
)
from django.http import Http404
from django.utils.text import slugify

from catalogue.models import (
    BasketItem,
    DataHolder,
    Dataset,
    DatasetFile,
    DatasetRevision,
    DatasetStatus,
    DataUseCondition,
    DicomInstance,
    Manufacturer,
    Term,
    Vocabulary,
)
from catalogue.permissions import can_steward_holder, holders_stewarded_by
from catalogue.search import text_filter
from portal.countries import country_name
from portal.errors import InvalidInput, NotPermitted
from portal.models import Role


@dataclass(frozen=True)
class Facet:
    """A facet of the search: its query parameter, and where a dataset keeps its values.

    `through` is the table that links a dataset to its values (None when the value sits on the
    dataset itself); `key` is the integer column there that identifies a value. Queries filter
    and group on these keys, whose statistics the planner knows; public values (codes, names,
    slugs) are mapped to keys and back by FacetOptions. A country is the set of its data holders.
    """

    name: str
    label: str
    key: str
    through: type[Model] | None = None
    vocabulary: str = ""


FACETS: tuple[Facet, ...] = (
    Facet("modality", "Modality", "term_id", Dataset.modalities.through, Vocabulary.MODALITY),
    Facet("condition", "Cancer condition", "term_id", Dataset.conditions.through, Vocabulary.CONDITION),
    Facet("body_part", "Body part", "term_id", Dataset.body_parts.through, Vocabulary.BODY_PART),
    Facet("manufacturer", "Manufacturer", "manufacturer_id", Dataset.manufacturers.through),
    Facet("country", "Country", "holder_id"),
    Facet("holder", "Data holder", "holder_id"),
    # this node's own datasets, or those harvested from a partner node: a node is the set of its data holders
    Facet("node", "Node", "holder_id"),
    Facet("data_use", "Data-use condition", "term_id", DataUseCondition, Vocabulary.DATA_USE),
    Facet("access_mode", "Access mode", "term_id", Dataset.access_modes.through, Vocabulary.ACCESS_MODE),
)
LOCAL_NODE = "local"
FACET_NAMES = tuple(facet.name for facet in FACETS)
_FACET_LABELS = {facet.name: facet.label for facet in FACETS}

SORTS = {
    "relevance": "Best match",
    "title": "Title",
    "newest": "Newest first",
    "subjects": "Most subjects",
    "studies": "Most studies",
}
_ORDERINGS = {
    "title": ("title", "pk"),
    "newest": (F("published_at").desc(nulls_first=True), "-created_at", "-pk"),  # drafts (no date) first
    "subjects": ("-subjects_count", "title", "pk"),
    "studies": ("-studies_count", "title", "pk"),
}

# What a result list shows of each dataset, fetched in a fixed number of queries.
LIST_PREFETCH = (
    "modalities",
    "conditions",
    "body_parts",
    "birth_sexes",
    "access_modes",
    "manufacturers",
    Prefetch("use_conditions", queryset=DataUseCondition.objects.select_related("term").order_by("term__code")),
)


@dataclass(frozen=True)
class DatasetQuery:
    """A validated search: free text, facet values (public codes), statuses, sort."""

    text: str = ""
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    statuses: tuple[str, ...] = ()
    sort: str = ""

    @property
    def effective_sort(self) -> str:
        if self.sort and self.sort != "relevance":
            return self.sort
        return "relevance" if self.text else "title"


@dataclass(frozen=True)
class FacetValue:
    value: str
    label: str
    count: int
    selected: bool


@dataclass(frozen=True)
class FacetGroup:
    name: str
    label: str
    values: list[FacetValue]


class FacetOptions:
    """Every value each facet may take, with its label and database keys: three queries per request."""

    def __init__(self) -> None:
        self.labels: dict[str, dict[str, str]] = {facet.name: {} for facet in FACETS}
        self._keys: dict[str, dict[str, list[int]]] = {facet.name: {} for facet in FACETS}
        self._values: dict[str, dict[int, str]] = {facet.name: {} for facet in FACETS}
        by_vocabulary = {facet.vocabulary: facet.name for facet in FACETS if facet.vocabulary}
        for term in Term.objects.filter(vocabulary__in=by_vocabulary).order_by("code"):
            self._add(by_vocabulary[term.vocabulary], term.code, term.pk, str(term))
        for pk, name in Manufacturer.objects.values_list("pk", "name"):
            self._add("manufacturer", name, pk, name)
        holders = DataHolder.objects.values_list("pk", "slug", "name", "country", "node__name")
        for pk, slug, name, country, node in holders:
            self._add("holder", slug, pk, name)
            self._add("country", country, pk, country_name(country))
            self._add("node", slugify(node) if node else LOCAL_NODE, pk, node or "This node")
        self.labels["country"] = dict(sorted(self.labels["country"].items(), key=lambda item: item[1]))

    def _add(self, facet: str, value: str, key: int, label: str) -> None:
        self.labels[facet][value] = label
        self._keys[facet].setdefault(value, []).append(key)
        self._values[facet][key] = value

    def choices(self, facet: str) -> list[tuple[str, str]]:
        return list(self.labels[facet].items())

    def unknown(self, facet: str, values) -> list[str]:
        return [value for value in values if value not in self.labels[facet]]

    def label(self, facet: str, value: str) -> str:
        return self.labels[facet].get(value, value)

    def keys(self, facet: str, values) -> list[int]:
        return [key for value in values for key in self._keys[facet].get(value, ())]

    def value(self, facet: str, key: int) -> str | None:
        return self._values[facet].get(key)


# --- visibility ---------------------------------------------------------------------------


def datasets_visible_to(user) -> QuerySet[Dataset]:
    """Published datasets for everyone; stewards also their own holders' drafts and withdrawn ones; the RDO all."""
    datasets = Dataset.objects.all()
    if user is None or not user.is_authenticated:
        return datasets.filter(status=DatasetStatus.PUBLISHED)
    if user.has_role(Role.RDO):
        return datasets
    if user.has_role(Role.STEWARD):
        own = holders_stewarded_by(user).values("pk")
        return datasets.filter(Q(status=DatasetStatus.PUBLISHED) | Q(holder_id__in=own))
    return datasets.filter(status=DatasetStatus.PUBLISHED)


def dataset_get_visible(*, user, identifier: str, detail: bool = False) -> Dataset:
    """The dataset with this identifier if `user` may see it, else 404 (whether or not it exists)."""
    datasets = datasets_visible_to(user).select_related("holder__node")
    if detail:
        datasets = datasets.prefetch_related(*LIST_PREFETCH, "revisions")
    try:
        return datasets.get(identifier=identifier)
    except Dataset.DoesNotExist:
        raise Http404("No such dataset.")


def data_holder_get_for_steward(*, user, slug: str) -> DataHolder:
    """The data holder a steward creates a dataset for: unknown slug is a field error, another's is 403."""
    holder = DataHolder.objects.filter(slug=slug).first()
    if holder is None:
        raise InvalidInput("Unknown data holder.", fields={"holder": [f"No data holder {slug!r}."]})
    if not can_steward_holder(user, holder):
        raise NotPermitted("Only the data holder's stewards may create datasets for it.")
    return holder


# --- search -------------------------------------------------------------------------------


def _facet_match(facet: Facet, keys: list[int]) -> Q:
    """Datasets carrying any of `keys` (OR within a facet), as an uncorrelated IN, which PostgreSQL hashes once."""
    lookup = {f"{facet.key}__in": keys}
    if facet.through is None:
        return Q(**lookup)
    return Q(pk__in=facet.through.objects.filter(**lookup).values("dataset_id"))


def _matching(user, query: DatasetQuery, options: FacetOptions, *, with_facets: bool = True) -> QuerySet[Dataset]:
    datasets = text_filter(datasets_visible_to(user), query.text)
    if query.statuses:
        datasets = datasets.filter(status__in=query.statuses)
    if with_facets:
        for facet in FACETS:
            values = query.filters.get(facet.name)
            if values:
                datasets = datasets.filter(_facet_match(facet, options.keys(facet.name, values)))
    return datasets


def dataset_search(*, user, query: DatasetQuery, options: FacetOptions | None = None) -> QuerySet[Dataset]:
    """The datasets `user` may see that match `query`, sorted, with what a result list shows."""
    datasets = _matching(user, query, options or FacetOptions())
    sort = query.effective_sort
    ordering = ("-relevance", "title", "pk") if sort == "relevance" else _ORDERINGS[sort]
    return datasets.select_related("holder__node").prefetch_related(*LIST_PREFETCH).order_by(*ordering)


def _facet_count_sql(user, query: DatasetQuery, options: FacetOptions) -> tuple[str, list]:
    """One statement counting every facet's values.

    The datasets matching the text, visibility and statuses are computed once (a CTE, which the
    ORM cannot express), each with a flag per selected facet; every facet then groups its own
    values over the rows that pass all the *other* facets' flags.
    """
    selected = [facet for facet in FACETS if query.filters.get(facet.name)]
    flags = {
        f"m_{facet.name}": ExpressionWrapper(
            _facet_match(facet, options.keys(facet.name, query.filters[facet.name])), output_field=BooleanField()
        )
        for facet in selected
    }
    base = _matching(user, query, options, with_facets=False).order_by().annotate(**flags)
    base_sql, base_params = base.values_list("pk", "holder_id", *flags).query.sql_with_params()
    columns = ", ".join(["id", "holder_id", *flags])
    materialized = "MATERIALIZED " if connection.vendor == "postgresql" else ""
    parts, params = [], list(base_params)
    for facet in FACETS:
        where = " AND ".join(f"b.m_{other.name}" for other in selected if other is not facet) or "1 = 1"
        if facet.through is None:
            source, key = "base b", f"b.{facet.key}"
        else:
            table = connection.ops.quote_name(facet.through._meta.db_table)
            source, key = f"base b JOIN {table} t ON t.dataset_id = b.id", f"t.{facet.key}"
        # only names from this module and Django's quoting reach the text; every value is a parameter
        parts.append(f"SELECT %s, {key}, COUNT(*) FROM {source} WHERE {where} GROUP BY {key}")  # noqa: S608  # nosec B608  # see above
        params.append(facet.name)
    sql = f"WITH base ({columns}) AS {materialized}({base_sql}) " + " UNION ALL ".join(parts)
    return sql, params


def dataset_facet_counts(*, user, query: DatasetQuery, options: FacetOptions) -> list[FacetGroup]:
    """For each facet, how many matching datasets carry each value, in one SQL statement.

    A facet's counts apply the text and every other facet's selection but not its own, so a
    user sees how many results each further value of the same facet would add (OR within a
    facet, AND across facets).
    """
    counts: dict[str, dict[str, int]] = {name: {} for name in FACET_NAMES}

    def count_rows() -> list:
        with connection.cursor() as cursor:
            cursor.execute(*_facet_count_sql(user, query, options))
            return [tuple(row) for row in cursor.fetchall()]

    if getattr(user, "is_authenticated", False):
        rows = count_rows()
    else:  # every anonymous visitor gets the same answer: cached until the catalogue changes
        from catalogue.cache import remembered

        shape = (query.text, sorted((k, sorted(v)) for k, v in query.filters.items() if v), sorted(query.statuses))
        rows = remembered("facets", shape, count_rows)
    for facet_name, key, n in rows:
        value = options.value(facet_name, key)
        if value is not None:
            counts[facet_name][value] = counts[facet_name].get(value, 0) + n
    groups = []
    for facet in FACETS:
        selected = set(query.filters.get(facet.name, ()))
        shown = {value: n for value, n in counts[facet.name].items() if n}
        shown.update({value: shown.get(value, 0) for value in selected})
        values = [
            FacetValue(value, options.label(facet.name, value), n, value in selected)
            for value, n in sorted(shown.items(), key=lambda item: (-item[1], options.label(facet.name, item[0])))
        ]
        groups.append(FacetGroup(facet.name, facet.label, values))
    return groups


@dataclass(frozen=True)
class SearchPage:
    page: Page
    facets: list[FacetGroup]
    out_of_range: bool = False


def dataset_search_page(
    *, user, query: DatasetQuery, options: FacetOptions, page: int = 1, per_page: int = 20
) -> SearchPage:
    """One page of results and the facet counts; a page past the end gives the last page, flagged."""
    paginator = Paginator(dataset_search(user=user, query=query, options=options), per_page)
    out_of_range = False
    try:
        result_page = paginator.page(page)
    except EmptyPage:
        out_of_range = True
        result_page = paginator.page(paginator.num_pages)
    facets = dataset_facet_counts(user=user, query=query, options=options)
    return SearchPage(result_page, facets, out_of_range)


@dataclass(frozen=True)
class Relaxation:
    """One filter (or the search words) dropped from a search that found nothing, and what it would find."""

    facet: str  # the facet's parameter, or "q" for the words
    value: str
    label: str
    count: int


def dataset_search_relaxations(*, user, query: DatasetQuery, options: FacetOptions) -> list[Relaxation]:
    """For a search that finds nothing: each filter value, and the words, dropped one at a time, with
    how many datasets the search would then find (one count per active filter; only those that help)."""
    found = []
    for name, values in query.filters.items():
        for value in values:
            rest = {k: tuple(v for v in vs if not (k == name and v == value)) for k, vs in query.filters.items()}
            relaxed = DatasetQuery(text=query.text, filters=rest, statuses=query.statuses, sort=query.sort)
            label = f"{_FACET_LABELS.get(name, name)}: {options.label(name, value)}"
            count = dataset_search(user=user, query=relaxed, options=options).count()
            found.append(Relaxation(name, value, label, count))
    if query.text:
        relaxed = DatasetQuery(filters=query.filters, statuses=query.statuses, sort=query.sort)
        count = dataset_search(user=user, query=relaxed, options=options).count()
        found.append(Relaxation("q", query.text, f"the words “{query.text}”", count))
    return sorted((r for r in found if r.count), key=lambda r: -r.count)


# --- the basket ---------------------------------------------------------------------------


def basket_items_for(user) -> QuerySet[BasketItem]:
    """The user's basket, oldest first, with each dataset's holder and data-use conditions."""
    return (
        BasketItem.objects.filter(user=user)
        .select_related("dataset__holder")
        .prefetch_related(
            Prefetch(
                "dataset__use_conditions",
                queryset=DataUseCondition.objects.select_related("term").order_by("term__code"),
            ),
            "dataset__access_modes",
        )
    )


def basket_dataset_ids(user) -> set[int]:
    if user is None or not user.is_authenticated:
        return set()
    return set(BasketItem.objects.filter(user=user).values_list("dataset_id", flat=True))


# --- stewards (appended by the steward pages) ---------------------------------------------


def datasets_stewarded_by(user) -> QuerySet[Dataset]:
    """Every dataset, whatever its status, of the data holders `user` stewards (no order: pages pick one)."""
    from catalogue.permissions import holders_stewarded_by

    return Dataset.objects.filter(holder_id__in=holders_stewarded_by(user).values("pk")).select_related("holder")


def datasets_count_by_status(datasets: QuerySet[Dataset]) -> dict[str, int]:
    """How many of `datasets` are in each status (every status named, zero included), in one statement."""
    counts = dict(datasets.order_by().values_list("status").annotate(n=Count("pk")))
    return {status.value: counts.get(status.value, 0) for status in DatasetStatus}


def with_file_counts(datasets: list[Dataset]) -> list[Dataset]:
    """Set `file_count` (files in force) on each of a page of datasets, in one statement for the page."""
    counts = dict(
        DatasetFile.objects.filter(dataset__in=datasets).order_by().values_list("dataset").annotate(n=Count("pk"))
    )
    for dataset in datasets:
        dataset.file_count = counts.get(dataset.pk, 0)
    return datasets


# --- a published dataset's versions ---------------------------------------------------------


@dataclass(frozen=True)
class DatasetChange:
    """One version in a dataset's history, with (some of) the files it added and removed."""

    revision: DatasetRevision
    removed: list[DatasetFile]
    added: list[DatasetFile]

    @property
    def more_files(self) -> int:
        return self.revision.files_added + self.revision.files_removed - len(self.removed) - len(self.added)


def _first_files_of(revisions: list[DatasetRevision], column: str, each: int) -> dict[int, list[DatasetFile]]:
    """Per revision, its first `each` files by path, in one query (a row number per revision)."""
    from django.db.models import Window
    from django.db.models.functions import RowNumber

    rows = (
        DatasetFile.all_registrations.filter(**{f"{column}__in": [r.pk for r in revisions]})
        .annotate(n=Window(RowNumber(), partition_by=[F(column)], order_by=[F("path").asc()]))
        .filter(n__lte=each)
        .order_by(column, "path")
    )
    found: dict[int, list[DatasetFile]] = {}
    for row in rows:
        found.setdefault(getattr(row, f"{column}_id"), []).append(row)
    return found


def dataset_changes_page(*, dataset: Dataset, page, per_page: int = 10, files_each: int = 10) -> tuple[Page, list]:
    """A page of the versions the dataset's files went through since publication, newest first, each
    with up to `files_each` of the files it removed and added: three queries whatever the history."""
    changes = Paginator(DatasetRevision.objects.filter(dataset=dataset).select_related(None), per_page).get_page(page)
    revisions = list(changes)
    removed = _first_files_of(revisions, "removed_in", files_each) if revisions else {}
    added = _first_files_of(revisions, "added_in", files_each) if revisions else {}
    items = [DatasetChange(r, removed.get(r.pk, []), added.get(r.pk, [])) for r in revisions]
    return changes, items


_INDEX_LISTS = {
    "modalities": "modality",
    "body_parts": "body_part_examined",
    "manufacturers": "manufacturer",
    "sexes": "patient_sex",
}


def _distinct(column: str) -> Count:
    return Count(column, distinct=True, filter=~Q(**{column: ""}))


def dataset_index_counts(dataset: Dataset) -> dict:
    """What the DICOM index says of the dataset's registered files (removed ones left out), in seven queries.

    subjects, studies, series and images count distinct Patient IDs, Study, Series and SOP
    Instance UIDs (an instance registered under two paths counts once); files_dicom counts the
    index rows, files_passed / files_failed their de-identification verdicts (files_unreadable is
    among the failed). size_bytes and files are over every registered file, DICOM or not, and
    media_types counts them by type. Lists are sorted; ranges are (lowest, highest) or None.
    """
    index = DicomInstance.objects.filter(file__dataset=dataset, file__removed_at__isnull=True)
    found = index.aggregate(
        subjects=_distinct("patient_id"),
        studies=_distinct("study_instance_uid"),
        series=_distinct("series_instance_uid"),
        images=_distinct("sop_instance_uid"),
        files_dicom=Count("pk"),
        files_passed=Count("pk", filter=Q(passed=True)),
        files_failed=Count("pk", filter=Q(passed=False)),
        # an unreadable file's only failure says so (catalogue/dicom_index.py unreadable_fields)
        files_unreadable=Count("pk", filter=Q(failures__0__code="DICOM_UNREADABLE")),
        age_min=Min("age_years"),
        age_max=Max("age_years"),
        year_min=Min("study_year"),
        year_max=Max("study_year"),
    )
    for name, column in _INDEX_LISTS.items():  # one query each: no array aggregate on SQLite
        found[name] = list(index.exclude(**{column: ""}).order_by().values_list(column, flat=True).distinct())
    files = DatasetFile.objects.filter(dataset=dataset)
    totals = files.aggregate(files=Count("pk"), size_bytes=Sum("size_bytes", default=0))
    media_types = dict(
        files.order_by().values_list("media_type").annotate(n=Count("pk")).values_list("media_type", "n")
    )
    age = (found.pop("age_min"), found.pop("age_max"))
    years = (found.pop("year_min"), found.pop("year_max"))
    return {
        **found,
        **{name: sorted(found[name]) for name in _INDEX_LISTS},
        "age_range": age if age[0] is not None else None,
        "study_years": years if years[0] is not None else None,
        **totals,
        "media_types": dict(sorted(media_types.items())),
    }


# What the steward reads for each reason a file is not integrated (the ingestion report, its CSV).
# The DEID_* codes are those of catalogue/deid/check.py, DICOM_UNREADABLE that of catalogue/dicom_index.py.
REJECTION_REASONS = {
    "DEID_PATIENT_IDENTITY_NOT_REMOVED": "Patient Identity Removed (0012,0062) is not YES",
    "DEID_METHOD_MISSING": "no De-identification Method (0012,0063) or its code sequence",
    "DEID_BURNED_IN_ANNOTATION": "the pixels carry burned-in annotation (0028,0301 is YES)",
    "DEID_ATTRIBUTE_NOT_REMOVED": "an attribute the profile removes is still there",
    "DEID_ATTRIBUTE_NOT_REPLACED": "an attribute the profile empties or replaces still holds a real value",
    "DEID_DATE_NOT_REMOVED": "a date is kept although the file declares neither kept nor shifted dates",
    "DEID_PRIVATE_ATTRIBUTE": "a private attribute is there without the Retain Safe Private option",
    "DEID_SOURCE_UID": "a UID lies under the hospital's source UID root",
    "DICOM_UNREADABLE": "claims to be DICOM but its header cannot be read",
}
EXCLUDED_BY_STEWARD = "EXCLUDED"


def rejection_reason_text(code: str) -> str:
    """The human words for a reason code of the ingestion report (a left-out entry carries its own)."""
    from catalogue.ingestion import NOT_REGISTERED

    if code == EXCLUDED_BY_STEWARD:
        return "failed the check and was excluded by a steward"
    if code.startswith(NOT_REGISTERED):
        return "not registered: " + code.removeprefix(NOT_REGISTERED)
    return REJECTION_REASONS.get(code, code)


def rate_text(integrated: int, identified: int) -> str:
    """A rate of integration in percent to one decimal, rounded down: one file rejected never shows 100%."""
    if not identified:
        return ""
    if integrated >= identified:
        return "100%"
    return f"{math.floor(integrated * 1000 / identified) / 10:.1f}%"


@dataclass(frozen=True)
class IngestionReport:
    """What ingestion made of a dataset's files: identified, integrated, rejected and why, and the index's figures.

    `rejected_by_reason` is a list of (code, words, files); a file failing two rules counts under
    both, so its sum may pass `rejected`. `failing` is the queryset of the registered files' index
    rows that fail the check (the rejected-files table pages through it).
    """

    identified: int
    integrated: int
    rejected: int
    failing_count: int
    excluded: int
    left_out: int
    rejected_by_reason: list
    counts: dict
    failing: QuerySet

    @property
    def rate(self) -> float | None:
        return self.integrated / self.identified if self.identified else None

    @property
    def rate_text(self) -> str:
        return rate_text(self.integrated, self.identified)

    @property
    def registered_rate_text(self) -> str:
        """The share of the registered files that pass: 100% once the failing ones are fixed or excluded
        (the rate of integration stays below, as the excluded files were identified and not integrated)."""
        return rate_text(self.integrated, self.counts["files"])


# Patient's Sex (0010,0040) in words
SEX_WORDS = {"F": "female", "M": "male", "O": "other"}


def index_words(counts: dict) -> dict[str, list[str]]:
    """The index's modalities, body parts and sexes as a person reads them: "Computed tomography (CT)";
    a value outside the vocabulary as the header gives it, said to be so (one query)."""
    wanted = {Vocabulary.MODALITY: counts["modalities"], Vocabulary.BODY_PART: counts["body_parts"]}
    labels = {
        (vocabulary, code): label
        for vocabulary, code, label in Term.objects.filter(
            vocabulary__in=list(wanted), code__in=[code for codes in wanted.values() for code in codes]
        ).values_list("vocabulary", "code", "label")
    }

    def words(vocabulary: str, code: str) -> str:
        label = labels.get((vocabulary, code))
        return f"{label} ({code})" if label else f"“{code}” (not in the vocabulary)"

    return {
        "modalities": [words(Vocabulary.MODALITY, code) for code in counts["modalities"]],
        "body_parts": [words(Vocabulary.BODY_PART, code) for code in counts["body_parts"]],
        "sexes": [SEX_WORDS.get(code, f"“{code}”") for code in counts["sexes"]],
    }


def dataset_ingestion_report(dataset: Dataset) -> IngestionReport:
    """The dataset's ingestion report from its index and registrations, in a bounded number of queries.

    Identified: the files registered in force, the files stewards excluded for failing the check
    (a removed registration with a failing index row, by a steward, whose path is not registered
    again; counted by path) and the entries the latest finished scan of each folder left out
    (files it could not take; those a steward had excluded are counted once, as excluded).
    Integrated: the registered files less those failing the check. Removed registrations are
    otherwise left out.
    """
    from catalogue.ingestion import NOT_REGISTERED, REMOVED_BY_STEWARD, rejected_by_rule
    from catalogue.models import FileScan, FileScanStatus

    registered = DatasetFile.objects.filter(dataset=dataset)
    failing = DicomInstance.objects.filter(file__dataset=dataset, file__removed_at__isnull=True, passed=False)
    counts = dataset_index_counts(dataset)
    counts["words"] = index_words(counts)
    in_force = counts["files"]
    failing_count = counts["files_failed"]
    excluded = (
        DatasetFile.all_registrations.filter(
            dataset=dataset, removed_by__isnull=False, dicom__passed=False, removed_at__isnull=False
        )
        .exclude(path__in=registered.values("path"))
        .order_by()
        .values("path")
        .distinct()
        .count()
    )
    done = FileScan.objects.filter(dataset=dataset, status=FileScanStatus.DONE)
    newer = done.filter(folder=OuterRef("folder"), created_at__gt=OuterRef("created_at"))
    left_out_by: Counter = Counter()
    for report in done.filter(~Exists(newer)).values_list("report", flat=True):
        for reason, count in ((report or {}).get("rejected_by_reason") or {}).items():
            if reason.startswith(NOT_REGISTERED) and reason != NOT_REGISTERED + REMOVED_BY_STEWARD:
                left_out_by[reason] += count
    left_out = sum(left_out_by.values())
    by_reason = list(rejected_by_rule(failing).items())
    if excluded:
        by_reason.append((EXCLUDED_BY_STEWARD, excluded))
    by_reason += sorted(left_out_by.items(), key=lambda item: (-item[1], item[0]))
    identified = in_force + excluded + left_out
    integrated = in_force - failing_count
    return IngestionReport(
        identified=identified,
        integrated=integrated,
        rejected=identified - integrated,
        failing_count=failing_count,
        excluded=excluded,
        left_out=left_out,
        rejected_by_reason=[(code, rejection_reason_text(code), n) for code, n in by_reason],
        counts=counts,
        failing=failing.select_related("file"),
    )
