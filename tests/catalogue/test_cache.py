"""The anonymous facet counts and the DCAT export of the catalogue are cached (catalogue/cache.py):
a second anonymous visit runs fewer SQL statements, and publishing, editing or withdrawing a dataset
changes what the next visitor sees."""

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from catalogue import services
from tests.catalogue.conftest import dataset_input

LIST = reverse("api-datasets")
EXPORT = reverse("catalogue:export-ttl")


def statements(call) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as captured:
        response = call()
    assert response.status_code == 200
    return len(captured), response


def modality_counts(client=None) -> dict:
    body = (client or APIClient()).get(LIST, {"facets": "true"}).json()
    return {item["value"]: item["count"] for item in body["facets"]["modality"]}


def test_a_second_anonymous_search_runs_fewer_statements(client, published):
    url = reverse("catalogue:search")
    first, _ = statements(lambda: client.get(url, {"q": "mammography"}))
    second, page = statements(lambda: client.get(url, {"q": "mammography"}))
    assert second < first
    assert published.title in page.content.decode()
    api_first, _ = statements(lambda: APIClient().get(LIST, {"facets": "true", "modality": "MG"}))
    api_second, _ = statements(lambda: APIClient().get(LIST, {"facets": "true", "modality": "MG"}))
    assert api_second < api_first


def test_a_second_export_runs_fewer_statements_and_says_the_same(client, published):
    first, one = statements(lambda: client.get(EXPORT))
    second, two = statements(lambda: client.get(EXPORT))
    assert second < first
    assert one.content == two.content and published.identifier.encode() in one.content


def test_publish_edit_and_withdraw_change_the_counts_and_the_export(client, steward, holder, published):
    assert modality_counts() == {"MG": 1}
    assert b"LV-RTH-MG-2024" in client.get(EXPORT).content
    other = services.dataset_create(
        actor=steward, holder=holder, data=dataset_input(identifier="LV-RTH-MR-2025", modalities=["MR"])
    )
    assert modality_counts() == {"MG": 1}  # a draft is nobody's business but its stewards'
    assert b"LV-RTH-MR-2025" not in client.get(EXPORT).content
    services.dataset_publish(actor=steward, dataset=other)
    assert modality_counts() == {"MG": 1, "MR": 1}
    assert b"LV-RTH-MR-2025" in client.get(EXPORT).content
    services.dataset_update(actor=steward, dataset=other, data={"modalities": ["MG"], "title": "Renamed collection"})
    assert modality_counts() == {"MG": 2}
    assert b"Renamed collection" in client.get(EXPORT).content
    services.dataset_withdraw(actor=steward, dataset=published, reason="Consent withdrawn.")
    assert modality_counts() == {"MG": 1}
    assert b"LV-RTH-MG-2024" not in client.get(EXPORT).content


def test_signed_in_visitors_are_counted_afresh(client, alice, published, steward):
    from tests.conftest import PASSWORD

    assert client.login(username=alice.email, password=PASSWORD)
    url = reverse("catalogue:search")
    client.get(url)
    first, _ = statements(lambda: client.get(url))
    second, _ = statements(lambda: client.get(url))
    assert first == second
