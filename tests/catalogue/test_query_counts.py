"""The search page and the list API run a fixed number of SQL queries, however many results they show."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.conftest import PASSWORD

MODALITIES = ("MG", "MR", "CT", "US")
MANUFACTURERS = ("Siemens Healthineers", "GE Healthcare", "Philips")


def fill(make_dataset, holders, start: int, stop: int) -> None:
    for n in range(start, stop):
        make_dataset(
            holders[n % len(holders)],
            identifier=f"Q-{n:03d}",
            title=f"Breast imaging collection {n}",
            modalities=(MODALITIES[n % 4], MODALITIES[(n + 1) % 4]),
            manufacturers=(MANUFACTURERS[n % 3],),
            data_use=("GENERAL_RESEARCH_USE", "PUBLICATION_REQUIRED") if n % 2 else ("NO_RESTRICTION",),
            keywords=("breast", f"k{n}"),
        )


def expected_results(params: dict) -> int:
    from django.contrib.auth.models import AnonymousUser

    from catalogue.selectors import DatasetQuery, dataset_search

    skip = ("q", "sort", "facets", "page_size")
    filters = {k: tuple(v) if isinstance(v, list) else (v,) for k, v in params.items() if k not in skip}
    query = DatasetQuery(text=params.get("q", ""), filters=filters)
    return dataset_search(user=AnonymousUser(), query=query).count()


def queries_for(client, url: str, params: dict, shown: int) -> int:
    client.get(url, params)  # warm caches that are not per request (content types, permissions)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params)
    assert response.status_code == 200
    if "/api/" in url:
        assert len(response.json()["results"]) == shown
    else:
        assert response.content.decode().count('<li class="result">') == shown
    return len(captured)


SEARCHES = [
    {},
    {"q": "breast"},
    {"modality": ["MG", "CT"], "manufacturer": "Philips"},
    {"q": "imaging", "data_use": "GENERAL_RESEARCH_USE", "sort": "subjects"},
]


def queries_for_5_and_40(client, make_dataset, holders, url: str, params: dict, per_page: int) -> tuple[int, int]:
    """SQL statements of one request with 5 datasets, then with 40 (the page shows up to `per_page`)."""
    fill(make_dataset, holders, 0, 5)
    few = expected_results(params)
    small = queries_for(client, url, params, min(few, per_page))
    fill(make_dataset, holders, 5, 40)
    many = expected_results(params)
    assert many > few
    return small, queries_for(client, url, params, min(many, per_page))


@pytest.mark.parametrize("params", SEARCHES)
def test_the_search_page_runs_the_same_queries_for_5_or_40_datasets(client, holder, other_holder, make_dataset, params):
    url = reverse("catalogue:search")
    small, large = queries_for_5_and_40(client, make_dataset, [holder, other_holder], url, params, per_page=20)
    assert small == large


@pytest.mark.parametrize("params", SEARCHES)
@pytest.mark.parametrize("facets", ["true", "false"])
def test_the_list_api_runs_the_same_queries_for_5_or_40_datasets(
    client, holder, other_holder, make_dataset, params, facets
):
    url = reverse("api-datasets")
    params = {**params, "facets": facets, "page_size": 50}
    small, large = queries_for_5_and_40(client, make_dataset, [holder, other_holder], url, params, per_page=50)
    assert small == large


def test_a_signed_in_researchers_search_page_has_a_fixed_number_of_queries(client, alice, holder, make_dataset):
    assert client.login(username=alice.email, password=PASSWORD)
    url = reverse("catalogue:search")
    fill(make_dataset, [holder], 0, 5)
    small = queries_for(client, url, {"q": "breast"}, 5)
    fill(make_dataset, [holder], 5, 20)
    large = queries_for(client, url, {"q": "breast"}, 20)
    assert small == large <= 20
