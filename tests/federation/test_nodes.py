"""The Research Data Office lists, suspends and resumes partner nodes; each change is audited."""

import base64
import os
import time

import pytest
from django.urls import reverse

from federation import keys
from federation.models import Node
from portal.models import AuditEvent
from portal.sudo import SESSION_KEY


def key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.fixture
def rdo_client(client, rdo):
    client.force_login(rdo)
    session = client.session
    session[SESSION_KEY] = time.time() + 600  # the password confirmed a moment ago
    session.save()
    return client


def test_the_rdo_adds_a_partner_and_sees_this_nodes_own_key(rdo_client):
    public = key()
    response = rdo_client.post(
        reverse("federation:nodes"),
        {"name": "Tartu hub", "base_url": "https://hub.tartu.example/", "public_key": public},
    )

    assert response.status_code == 302
    node = Node.objects.get()
    assert (node.name, node.base_url, node.active) == ("Tartu hub", "https://hub.tartu.example", True)
    event = AuditEvent.objects.get(verb="federation.node_add")
    assert event.payload["key_id"] == node.key_id
    page = rdo_client.get(reverse("federation:nodes")).content.decode()
    assert "Tartu hub" in page and keys.public_key_b64() in page


@pytest.mark.parametrize(
    ("public_key", "message"),
    [("not base64!", "Not base64"), (base64.b64encode(b"short").decode(), "32 bytes")],
)
def test_a_key_that_is_not_an_ed25519_public_key_is_a_field_error(rdo_client, public_key, message):
    response = rdo_client.post(
        reverse("federation:nodes"), {"name": "Bad", "base_url": "https://bad.example", "public_key": public_key}
    )

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Node.objects.exists()


def test_the_same_key_or_address_twice_is_refused(rdo_client):
    public = key()
    Node.objects.create(name="First", base_url="https://first.example", public_key=public)

    twice = rdo_client.post(
        reverse("federation:nodes"), {"name": "Second", "base_url": "https://second.example", "public_key": public}
    )

    assert twice.status_code == 400
    assert Node.objects.count() == 1


def test_the_rdo_suspends_and_resumes_a_partner(rdo_client):
    node = Node.objects.create(name="First", base_url="https://first.example", public_key=key())

    rdo_client.post(reverse("federation:node-active", args=[node.pk]), {"active": "0"})
    node.refresh_from_db()
    assert node.active is False
    rdo_client.post(reverse("federation:node-active", args=[node.pk]), {"active": "1"})
    node.refresh_from_db()
    assert node.active is True
    verbs = list(
        AuditEvent.objects.filter(verb__startswith="federation.node_").order_by("seq").values_list("verb", flat=True)
    )
    assert verbs == ["federation.node_suspend", "federation.node_resume"]


def test_the_rdo_agrees_to_enforce_a_partners_grants_and_sees_what_it_received(rdo_client, holder):
    from datetime import date

    from django.utils import timezone

    from catalogue.models import Dataset
    from federation.models import ReceivedGrant

    node = Node.objects.create(name="Hub", base_url="https://hub.example", public_key=key())
    rdo_client.post(reverse("federation:node-grants-honour", args=[node.pk]), {"honours": "1"})
    node.refresh_from_db()
    assert node.honours_grants is True
    event = AuditEvent.objects.get(verb="federation.grants_honour")
    assert event.payload == {"honours": True}

    dataset = Dataset.objects.create(
        identifier="LV-X-1", title="X", description="X", holder=holder, subjects_count=1, studies_count=1
    )
    ReceivedGrant.objects.create(
        node=node,
        remote_grant=5,
        dataset=dataset,
        kind="download",
        access_mode="DOWNLOAD",
        application_reference="AR-2026-00005",
        valid_from=date(2026, 1, 1),
        valid_until=date(2026, 12, 31),
        grantees=[{"sub": "3", "email": "ilze@hub.example", "name": "Ilze"}],
        received_at=timezone.now(),
        updated_at=timezone.now(),
    )
    page = rdo_client.get(reverse("federation:nodes")).content.decode()
    assert "Grants received from partners" in page and "AR-2026-00005" in page and "ilze@hub.example" in page
    assert "Enforced here" in page

    rdo_client.post(reverse("federation:node-grants-honour", args=[node.pk]), {"honours": "0"})
    node.refresh_from_db()
    assert node.honours_grants is False


def test_only_the_rdo_sees_the_partners(client, alice):
    client.force_login(alice)

    assert client.get(reverse("federation:nodes")).status_code == 403


def test_a_partner_listed_again_with_a_new_key_gets_it(db):
    from django.core.management import call_command

    from federation.models import key_id_of, raw_public_key

    first, second = key(), key()
    call_command("federation_partner", "--name", "Tartu", "--url", "https://tartu.example", "--key", first)
    call_command("federation_partner", "--name", "Tartu", "--url", "https://tartu.example/", "--key", second)

    node = Node.objects.get()
    assert node.key_id == key_id_of(raw_public_key(second))
    event = AuditEvent.objects.get(verb="federation.node_rekey")
    assert event.payload == {"old": key_id_of(raw_public_key(first)), "new": node.key_id}
