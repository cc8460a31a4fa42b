"""Harvesting a partner's DCAT-AP export into this node's catalogue as remote, read-only datasets."""

import dataclasses

import pytest
from django.urls import reverse

from catalogue.models import BasketItem, Dataset, DatasetStatus
from catalogue.services import dataset_create, dataset_publish
from federation import harvest
from federation.models import Node
from portal.models import AuditEvent
from tests.catalogue.conftest import dataset_input


@pytest.fixture
def node(db):
    return Node.objects.create(name="Valencia hub", base_url="https://hub.valencia.example", public_key="B" * 43 + "=")


@pytest.fixture
def partner_export(client, steward, holder):
    """The Turtle a partner serves: two datasets, made here and exported as a partner would."""
    rich = dataset_input(
        identifier="MR-PROSTATE",
        title="Prostate MRI",
        conditions=["C61", "C50"],
        modalities=["MR"],
        body_parts=["PROSTATE"],
        access_modes=["IN_SITU_PROCESSING"],
        tier=2,
        manufacturers=["Philips"],
    )
    for data in (rich, dataset_input(identifier="MG-SCREEN")):
        dataset_publish(actor=steward, dataset=dataset_create(actor=steward, holder=holder, data=data))
    return client.get(reverse("catalogue:export-ttl")).content.decode()


def records_of(turtle: str, node: Node, prefix: str = "P-") -> list:
    """The partner's records, renamed so as not to meet the datasets the export was made from."""
    from rdflib import Graph

    exported = Graph().parse(data=turtle, format="turtle")
    return [
        dataclasses.replace(r, identifier=prefix + r.identifier, url=r.url.replace("http://testserver", node.base_url))
        for r in harvest.read_records(exported, node)
    ]


def test_a_harvest_adds_the_partners_datasets_as_remote_ones(node, partner_export):
    records = records_of(partner_export, node)
    result = harvest.harvest_apply(node, records)

    assert (result["added"], result["updated"], result["withdrawn"]) == (2, 0, 0)
    remote = Dataset.objects.get(identifier="P-MR-PROSTATE")
    assert remote.is_remote and remote.holder.node == node
    assert remote.status == DatasetStatus.PUBLISHED
    assert sorted(t.code for t in remote.conditions.all()) == ["C50", "C61"]
    assert [t.code for t in remote.modalities.all()] == ["MR"]
    assert [t.code for t in remote.access_modes.all()] == ["IN_SITU_PROCESSING"]
    assert {t.code for t in remote.data_use_terms.all()} == {"ETHICS_APPROVAL_REQUIRED", "GEOGRAPHICAL_RESTRICTION"}
    assert [m.name for m in remote.manufacturers.all()] == ["Philips"]
    assert (remote.tier, remote.subjects_count, remote.studies_count) == (2, 240, 480)
    assert remote.holder.name.startswith("Riga") or remote.holder.country == "LV"
    event = AuditEvent.objects.get(verb="federation.harvest")
    assert event.payload["added"] == 2


def test_a_second_harvest_updates_what_changed_and_withdraws_what_left(node, partner_export):
    records = records_of(partner_export, node)
    harvest.harvest_apply(node, records)

    changed = dataclasses.replace(records[0], fields={**records[0].fields, "title": "Prostate MRI, second release"})
    result = harvest.harvest_apply(node, [changed])

    assert (result["updated"], result["withdrawn"], result["unchanged"]) == (1, 1, 0)
    assert Dataset.objects.get(identifier=changed.identifier).title == "Prostate MRI, second release"
    gone = Dataset.objects.get(identifier=records[1].identifier)
    assert gone.status == DatasetStatus.WITHDRAWN

    again = harvest.harvest_apply(node, [changed, records[1]])
    assert (again["unchanged"], again["updated"]) == (1, 1)  # the returning one is published again
    assert Dataset.objects.get(identifier=records[1].identifier).status == DatasetStatus.PUBLISHED


def test_an_identifier_this_node_already_uses_is_skipped(node, partner_export):
    records = records_of(partner_export, node, prefix="")  # the same identifiers as this node's own

    result = harvest.harvest_apply(node, records)

    assert result["added"] == 0
    assert sorted(result["skipped"]) == ["MG-SCREEN", "MR-PROSTATE"]
    assert not Dataset.objects.filter(holder__node=node).exists()


def test_remote_datasets_are_found_with_a_node_facet_and_go_into_the_basket(node, partner_export, client, alice):
    harvest.harvest_apply(node, records_of(partner_export, node))

    page = client.get(reverse("catalogue:search"), {"node": "valencia-hub"}).content.decode()
    assert "P-MR-PROSTATE" in page and "At partner node Valencia hub" in page
    assert "LV-RTH" not in page and ">MG-SCREEN<" not in page
    detail = client.get(reverse("catalogue:dataset-detail", args=["P-MR-PROSTATE"])).content.decode()
    assert "https://hub.valencia.example/catalogue/datasets/MR-PROSTATE/" in detail
    client.force_login(alice)
    response = client.post(reverse("catalogue:dataset-apply", args=["P-MR-PROSTATE"]))
    assert response.status_code == 302
    # applied for here: this node's committee decides, the partner enforces the grant (federation/grants.py)
    assert BasketItem.objects.filter(user=alice, dataset__identifier="P-MR-PROSTATE").exists()


def test_remote_datasets_stay_out_of_this_nodes_export(node, partner_export, client):
    harvest.harvest_apply(node, records_of(partner_export, node))

    exported = client.get(reverse("catalogue:export-ttl")).content.decode()

    assert "P-MR-PROSTATE" not in exported
    assert "MR-PROSTATE" in exported


def test_a_partner_is_harvested_over_http_page_by_page(transactional_db, live_server, steward, holder, monkeypatch):
    """The export read from a real server, following its Hydra pages (one dataset a page here)."""
    monkeypatch.setattr("catalogue.dcat_pages.EXPORT_PAGE_SIZE", 1)
    for identifier in ("A-1", "A-2", "A-3"):
        data = dataset_input(identifier=identifier)
        dataset_publish(actor=steward, dataset=dataset_create(actor=steward, holder=holder, data=data))
    partner = Node.objects.create(name="Itself", base_url=live_server.url, public_key="C" * 43 + "=")

    result = harvest.harvest_node(partner)

    assert sorted(result["skipped"]) == ["A-1", "A-2", "A-3"]  # read, and refused: this node's own identifiers


def test_a_partner_that_cannot_be_read_is_left_as_it_was(node, partner_export):
    harvest.harvest_apply(node, records_of(partner_export, node))
    dead = Node.objects.create(name="Dead", base_url="http://127.0.0.1:9", public_key="D" * 43 + "=")

    result = harvest.harvest_node(dead)

    assert "unreachable" in result["error"]
    assert AuditEvent.objects.filter(verb="federation.harvest_fail").exists()
    assert Dataset.objects.filter(holder__node=node, status=DatasetStatus.PUBLISHED).count() == 2
