"""The export's pages, put together from each dataset's kept description, are the catalogue's graph."""

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rdflib import Graph
from rdflib.compare import isomorphic

from catalogue.dcat import ExportPage, catalogue_graph, datasets_for_export
from catalogue.dcat_pages import export_page
from catalogue.models import DatasetFile
from catalogue.services import dataset_create, dataset_publish, dataset_update
from tests.catalogue.conftest import dataset_input

PARSERS = {"ttl": "turtle", "jsonld": "json-ld"}


@pytest.fixture
def published_three(steward, holder):
    made = []
    for number, conditions in enumerate((["C50"], ["C61", "C34"], ["C50"])):
        data = dataset_input(identifier=f"LV-RTH-{number}", conditions=conditions)
        made.append(dataset_publish(actor=steward, dataset=dataset_create(actor=steward, holder=holder, data=data)))
    DatasetFile.objects.create(dataset=made[0], path="d/1.dcm", size_bytes=3, sha256="a" * 64)
    return made


def page_of(datasets) -> ExportPage:
    return ExportPage(number=1, last=1, total=len(datasets), size=100, url=f"{settings.SITE_URL}/catalogue/export.ttl")


@pytest.mark.parametrize("fmt", ["ttl", "jsonld"])
def test_a_page_is_the_same_graph_as_the_catalogue_rendered_whole(published_three, fmt):
    cache.clear()
    datasets = list(datasets_for_export())
    page = page_of(datasets)
    whole = catalogue_graph(datasets, page)

    cold = Graph().parse(data=export_page(fmt, datasets, page), format=PARSERS[fmt])
    warm = Graph().parse(data=export_page(fmt, list(datasets_for_export()), page), format=PARSERS[fmt])

    assert isomorphic(cold, whole)
    assert isomorphic(warm, whole)


def test_a_changed_dataset_is_rendered_again_and_the_others_are_not(published_three, steward, client):
    cache.clear()
    first = Graph().parse(data=client.get(reverse("catalogue:export-ttl")).content.decode(), format="turtle")
    dataset_update(actor=steward, dataset=published_three[1], data={"title": "Prostate and lung MRI, renamed"})
    DatasetFile.objects.create(dataset=published_three[0], path="d/2.dcm", size_bytes=5, sha256="b" * 64)

    with CaptureQueriesContext(connection) as queries:
        second = client.get(reverse("catalogue:export-ttl")).content.decode()
    graph = Graph().parse(data=second, format="turtle")

    assert "Prostate and lung MRI, renamed" in second
    assert not isomorphic(first, graph)
    # one read of the files, for the manifests of the two datasets that changed
    manifest_reads = [q["sql"] for q in queries.captured_queries if '"path"' in q["sql"] and "ORDER BY" in q["sql"]]
    assert len(manifest_reads) == 1
    assert isomorphic(graph, catalogue_graph(list(datasets_for_export()), page_of(published_three)))


def test_the_warming_task_makes_every_page_ahead_of_the_harvester(published_three, monkeypatch, client):
    from catalogue import dcat_pages
    from catalogue.cache import catalogue_version
    from catalogue.tasks import dcat_export_warm

    monkeypatch.setattr(dcat_pages, "EXPORT_PAGE_SIZE", 2)
    cache.clear()
    assert dcat_export_warm(catalogue_version()) == 4  # two pages, two formats

    with CaptureQueriesContext(connection) as queries:
        for fmt in ("ttl", "jsonld"):
            for number in (1, 2):
                assert client.get(reverse(f"catalogue:export-{fmt}"), {"page": number}).status_code == 200
    assert not [q for q in queries.captured_queries if "catalogue_dataset" in q["sql"]]


def test_a_warming_run_for_an_old_version_stops(published_three):
    from catalogue.cache import catalogue_changed, catalogue_version
    from catalogue.tasks import dcat_export_warm

    old = catalogue_version()
    catalogue_changed()

    assert dcat_export_warm(old) == 0


def test_a_change_queues_the_warming_when_a_worker_is_there(
    published_three, steward, settings, monkeypatch, django_capture_on_commit_callbacks
):
    from catalogue.tasks import dcat_export_warm

    queued = []
    monkeypatch.setattr(dcat_export_warm, "apply_async", lambda args, countdown: queued.append((args, countdown)))
    settings.DCAT_EXPORT_WARM = True
    settings.DCAT_EXPORT_WARM_DELAY = 7

    with django_capture_on_commit_callbacks(execute=True):
        dataset_update(actor=steward, dataset=published_three[0], data={"title": "Renamed"})
        assert queued == []  # not before the change is committed
    from catalogue.cache import catalogue_version

    assert queued == [([catalogue_version()], 7)]
