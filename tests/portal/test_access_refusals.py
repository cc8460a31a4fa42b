"""Refused reads and acts on an object leave a trace in the audit log, bounded per caller."""

import pytest
from django.core.cache import cache
from django.test import Client

from portal import access
from portal.models import AuditEvent
from portal.services.audit import audit_verify
from tests.access_requests.conftest import make_dataset

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_budgets():
    cache.clear()
    yield
    cache.clear()


def refusals():
    return AuditEvent.objects.filter(verb="access.refused")


def test_probing_applications_is_recorded_up_to_the_budget_per_caller(charlie, alice, holder):
    from access_requests.services import applications as svc

    dataset = make_dataset(holder, "LV-MG-001")
    application = svc.application_create(actor=alice, title="Alice's draft", datasets=[dataset])
    client = Client()
    client.force_login(charlie)
    probes = access.REFUSALS_RECORDED_PER_WINDOW + 5
    for _ in range(probes):
        assert client.get(f"/applications/{application.pk}/").status_code == 404
    events = list(refusals())
    assert len(events) == access.REFUSALS_RECORDED_PER_WINDOW
    assert {e.actor_id for e in events} == {charlie.pk}
    assert events[0].payload == {
        "method": "GET",
        "path": f"/applications/{application.pk}/",
        "status": 404,
        "application": str(application.pk),
    }
    other = Client()
    other.force_login(alice)
    assert other.get("/applications/999999/").status_code == 404  # another caller has a budget of their own
    assert refusals().count() == access.REFUSALS_RECORDED_PER_WINDOW + 1
    assert audit_verify().ok


def test_anonymous_probes_of_draft_datasets_cannot_grow_the_chain_without_bound(holder, settings):
    from catalogue.models import DatasetStatus

    draft = make_dataset(holder, "LV-CT-DRAFT", status=DatasetStatus.DRAFT)
    settings.ALLOWED_HOSTS = ["*"]
    for number in range(access.ANONYMOUS_REFUSALS_RECORDED_PER_WINDOW // access.REFUSALS_RECORDED_PER_WINDOW + 2):
        client = Client(REMOTE_ADDR=f"203.0.113.{number}")
        for _ in range(access.REFUSALS_RECORDED_PER_WINDOW):
            assert client.get(f"/api/v1/datasets/{draft.identifier}/").status_code == 404
    assert refusals().count() == access.ANONYMOUS_REFUSALS_RECORDED_PER_WINDOW
    assert refusals().first().payload["address"].startswith("203.0.113.")


def test_a_refusal_that_is_not_about_an_object_is_not_recorded(alice):
    client = Client()
    client.force_login(alice)
    assert client.get("/audit/").status_code == 403
    assert not refusals().exists()
