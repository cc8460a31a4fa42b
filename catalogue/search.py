"""The catalogue's text search, behind one interface for PostgreSQL and SQLite, and the basket.

On PostgreSQL each dataset carries a stored `search_vector` (title weight A; keywords and the
labels and codes of its conditions, modalities and body parts B; description C; the data
holder's name and city D) under a GIN index, and text queries are ranked full-text matches.
The vector depends on many-to-many rows, so no generated column can hold it: every write to a
dataset calls `dataset_refresh_search_vector` afterwards. On SQLite (the embedded demo) every
word of the query must occur, case-insensitively, in one of the same fields, and a title
match ranks first.
"""

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connection as default_connection
from django.db import connections
from django.db.models import Case, Exists, F, IntegerField, OuterRef, Q, QuerySet, TextField, Value, When
from django.db.models.functions import Cast

from catalogue.models import BasketItem, Dataset, DatasetStatus, Term
from portal.access import require_actor
from portal.errors import InvalidInput

SEARCH_CONFIG = "english"
MAX_QUERY_LENGTH = 200

# One statement refreshes any number of datasets; the migration that adds the column uses it too.
# People search for "cancer" where ICD-10 says "malignant neoplasm": the condition adds the word.
_REFRESH_SQL = """
UPDATE {dataset} AS d SET search_vector =
    setweight(to_tsvector(%(config)s::regconfig, coalesce(d.title, '')), 'A')
 || setweight(to_tsvector(%(config)s::regconfig, concat_ws(' ',
        (SELECT string_agg(k.value, ' ') FROM jsonb_array_elements_text(
            CASE WHEN jsonb_typeof(d.keywords) = 'array' THEN d.keywords ELSE '[]'::jsonb END) AS k),
        (SELECT string_agg(t.code || ' ' || t.label
                || CASE WHEN t.label ILIKE 'malignant neoplasm%%' THEN ' cancer' ELSE '' END, ' ')
            FROM {term} AS t WHERE t.id IN (
            SELECT term_id FROM {conditions} WHERE dataset_id = d.id
            UNION ALL SELECT term_id FROM {modalities} WHERE dataset_id = d.id
            UNION ALL SELECT term_id FROM {body_parts} WHERE dataset_id = d.id)))), 'B')
 || setweight(to_tsvector(%(config)s::regconfig, coalesce(d.description, '')), 'C')
 || setweight(to_tsvector(%(config)s::regconfig, concat_ws(' ', h.name, h.city)), 'D')
FROM {holder} AS h
WHERE h.id = d.holder_id {where}
"""


def datasets_refresh_search_vectors(*, dataset_model=Dataset, ids=None, connection=None) -> int:
    """Recompute the stored search vector of the given datasets (all when `ids` is None) in one statement.

    `dataset_model` and `connection` let a migration pass its historical model and schema
    editor's connection. A no-op returning 0 on databases other than PostgreSQL.
    """
    connection = connection or default_connection
    if connection.vendor != "postgresql":
        return 0
    tables = {
        "dataset": dataset_model._meta.db_table,
        "holder": dataset_model._meta.get_field("holder").related_model._meta.db_table,
        "term": dataset_model._meta.get_field("conditions").related_model._meta.db_table,
        "conditions": dataset_model.conditions.through._meta.db_table,
        "modalities": dataset_model.modalities.through._meta.db_table,
        "body_parts": dataset_model.body_parts.through._meta.db_table,
    }
    quoted = {name: connection.ops.quote_name(table) for name, table in tables.items()}
    params: dict = {"config": SEARCH_CONFIG}
    where = ""
    if ids is not None:
        where = "AND d.id = ANY(%(ids)s)"
        params["ids"] = list(ids)
    with connection.cursor() as cursor:
        cursor.execute(_REFRESH_SQL.format(where=where, **quoted), params)
        return cursor.rowcount


def dataset_refresh_search_vector(dataset: Dataset) -> None:
    """Bring one dataset's stored search vector up to date.

    Call it last in every service that creates or changes a dataset, inside its transaction and
    after the many-to-many rows are written: the statement reads them back.
    """
    datasets_refresh_search_vectors(ids=[dataset.pk], connection=connections[dataset._state.db or "default"])


def _words(text: str) -> list[str]:
    return [word for word in text.split() if word.strip("\"'-")][:12]


def _sqlite_word_match(word: str) -> Q:
    terms = Term.objects.filter(Q(label__icontains=word) | Q(code__iexact=word))
    if word.lower().startswith("cancer"):  # as on PostgreSQL, "cancer" finds the malignant neoplasms
        terms = Term.objects.filter(Q(label__icontains="malignant neoplasm") | Q(pk__in=terms))
    through = {
        "conditions": Dataset.conditions.through,
        "modalities": Dataset.modalities.through,
        "body_parts": Dataset.body_parts.through,
    }
    term_hits = [Exists(model.objects.filter(dataset_id=OuterRef("pk"), term__in=terms)) for model in through.values()]
    q = (
        Q(title__icontains=word)
        | Q(description__icontains=word)
        | Q(keywords_text__icontains=word)
        | Q(holder__name__icontains=word)
    )
    for hit in term_hits:
        q |= hit
    return q


def text_filter(datasets: QuerySet, text: str) -> QuerySet:
    """Datasets matching `text`, annotated with `relevance` (higher is better)."""
    text = text.strip()
    if not text:
        return datasets
    if connections[datasets.db].vendor == "postgresql":
        query = SearchQuery(text, search_type="websearch", config=SEARCH_CONFIG)
        return datasets.filter(search_vector=query).annotate(relevance=SearchRank(F("search_vector"), query))
    datasets = datasets.annotate(keywords_text=Cast("keywords", output_field=TextField()))
    for word in _words(text) or [text]:
        datasets = datasets.filter(_sqlite_word_match(word.strip("\"'")))
    return datasets.annotate(
        relevance=Case(When(title__icontains=text, then=Value(1)), default=Value(0), output_field=IntegerField())
    )


# --- the basket ---------------------------------------------------------------------------
# Writes of a researcher's private shortlist. They change no governance state, so they are not
# audit events: the application started from the basket is.


def basket_add(*, actor, dataset: Dataset) -> BasketItem:
    """Put a published dataset into a researcher's basket; adding it twice keeps one entry. A partner
    node's dataset too: this node's committee decides, and the node enforces the grant (federation/grants.py)."""
    require_actor(actor, "researcher")
    if dataset.status != DatasetStatus.PUBLISHED:
        raise InvalidInput(
            "Only published datasets can be requested.",
            fields={"dataset": [f"{dataset.identifier} is not published."]},
        )
    item, _ = BasketItem.objects.get_or_create(user=actor, dataset=dataset)
    return item


def basket_remove(*, actor, identifier: str) -> bool:
    """Take a dataset out of the actor's basket; False when it was not there."""
    deleted, _ = BasketItem.objects.filter(user=actor, dataset__identifier=identifier).delete()
    return bool(deleted)
