"""Applying here for a partner node's dataset, and enforcing at a holder's node the grants a partner issued.

The hub's side runs against a small HTTP server standing in for the holder's node (it records what it
is sent); the holder's side answers requests signed by a partner (this test node's own key). The
three real portal processes of tests/federation/test_three_nodes.py run the whole path between them.
"""

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.urls import reverse
from django.utils import timezone

from access_requests.models import EntitlementEvent, Grant, GrantKind, PartyKind
from access_requests.services import agreements as ag
from access_requests.services import applications as svc
from access_requests.services.entitlements import entitlements_deliver
from access_requests.services.grants import grant_revoke
from catalogue.models import DataHolder
from catalogue.search import basket_add
from federation.models import Node, ReceivedDownload, ReceivedGrant
from portal.models import AuditEvent
from tests.access_requests.conftest import (
    approved_with_agreement,
    dataset_file_write,
    make_dataset,
    member2,  # noqa: F401  a fixture
    signatory_person,
)
from tests.helpers import send_signed

# --- at the hub ------------------------------------------------------------------------------------


class _HolderNode(BaseHTTPRequestHandler):
    """Records each POST; answers a grant event with 200 and a links request with one file's link."""

    def do_POST(self):  # noqa: N802 - the http.server interface
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.received.append((self.path, dict(self.headers), json.loads(body)))
        if self.path.endswith("/links"):
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            answer = {
                "dataset": "EE-TUH-MG-1",
                "expires_at": "2026-12-01T10:00:00+00:00",
                "files": [{"path": "mg/a.dcm", "size_bytes": 3, "sha256": "ab" * 32, "url": self.server.link(base)}],
            }
        else:
            answer = {"received": 1, "applied": True, "status": "active", "valid_until": "2027-01-01"}
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def holder_node():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HolderNode)
    server.received = []
    server.link = lambda base: f"{base}/federation/files/a-token"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


@pytest.fixture
def remote_dataset(db, holder_node):
    """A partner's download dataset, as harvesting lists it: its holder belongs to the partner's node."""
    node = Node.objects.create(
        name="Tartu imaging node",
        base_url=f"http://127.0.0.1:{holder_node.server_address[1]}",
        public_key="T" * 43 + "=",
    )
    remote_holder = DataHolder.objects.create(
        name="Tartu University Hospital",
        slug="tartu-uh",
        storage_area="tartu-uh",
        country="EE",
        contact_email="data@tartu.example",
        node=node,
    )
    return make_dataset(remote_holder, "EE-TUH-MG-1", conditions=("C50",))


@pytest.fixture
def remote_grant(remote_dataset, alice, rdo, committee, chair, member, member2, django_capture_on_commit_callbacks):  # noqa: F811
    """Alice applies for the partner's dataset from her basket; approved, signed, executed here."""
    basket_add(actor=alice, dataset=remote_dataset)
    application = svc.application_create(actor=alice, title="Density across the Baltic")
    version = approved_with_agreement(
        application,
        applicant=alice,
        rdo=rdo,
        committee=committee,
        chair=chair,
        voters=[member, member2],
        capture=django_capture_on_commit_callbacks,
    )
    for person in [signatory_person(), rdo]:
        with django_capture_on_commit_callbacks(execute=False):
            ag.agreement_sign(
                actor=person,
                version=version,
                typed_name=person.full_name,
                ip="192.0.2.10",
                user_agent="pytest",
                shown_sha256=version.sha256,
            )
    with django_capture_on_commit_callbacks(execute=True):
        ag.agreement_execute(agreement_id=version.agreement_id)
    return Grant.objects.get(application=application)


def test_the_agreement_for_a_partners_dataset_is_signed_by_the_institution_and_this_nodes_rdo(remote_grant):
    version = remote_grant.agreement.versions.get(number=1)
    assert sorted(p.kind for p in version.parties.all()) == sorted([PartyKind.SIGNATORY, PartyKind.RDO])
    rdo_party = version.parties.get(kind=PartyKind.RDO)
    assert "data holders at partner nodes" in rdo_party.representative
    (entry,) = version.snapshot["datasets"]
    assert entry["node"] == "Tartu imaging node"


def test_a_partners_dataset_applied_for_here_is_granted_and_pushed_signed_to_its_node(remote_grant, holder_node):
    assert remote_grant.kind == GrantKind.DOWNLOAD
    event = EntitlementEvent.objects.get(grant=remote_grant)
    assert (event.kind, event.sequence, event.status) == ("granted", 1, "delivered")  # pushed after the commit
    ((path, headers, body),) = holder_node.received
    assert path == "/federation/v1/grants"
    assert 'tag="imaging-portal-federation"' in headers["Signature-Input"]
    assert headers["Signature"].startswith("node=:") and headers["Content-Digest"].startswith("sha-256=:")
    assert body["event"] == "granted" and body["kind"] == "download" and body["dataset"] == "EE-TUH-MG-1"
    assert [g["email"] for g in body["grantees"]] == [remote_grant.application.applicant.email]


def test_the_holders_node_hears_of_a_revocation_here(
    remote_grant, rdo, holder_node, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        grant_revoke(actor=rdo, grant=remote_grant, reason="The committee withdrew its approval.")

    assert [body["event"] for _, _, body in holder_node.received] == ["granted", "revoked"]
    assert holder_node.received[-1][2]["status"] == "revoked" and holder_node.received[-1][2]["sequence"] == 2


def test_an_unreachable_node_leaves_the_event_waiting_to_be_sent_again(remote_grant, rdo, holder_node):
    node = remote_grant.dataset.holder.node
    Node.objects.filter(pk=node.pk).update(base_url="http://127.0.0.1:9")  # nothing listens there
    grant_revoke(actor=rdo, grant=remote_grant, reason="Withdrawn.")
    entitlements_deliver(grant_id=remote_grant.pk)

    event = EntitlementEvent.objects.get(grant=remote_grant, sequence=2)
    assert event.status == "pending" and event.attempts == 1 and event.next_attempt_at > timezone.now()
    assert "ConnectionError" in event.last_error


def test_the_grantee_gets_the_files_links_from_the_holders_node(remote_grant, alice, client, holder_node):
    client.force_login(alice)
    page = client.get(reverse("grant-detail", args=[remote_grant.pk])).content.decode()

    assert "held at the partner node <strong>Tartu imaging node</strong>" in page
    assert f"http://127.0.0.1:{holder_node.server_address[1]}/federation/files/a-token" in page
    path, headers, body = holder_node.received[-1]
    assert path == f"/federation/v1/grants/{remote_grant.pk}/links"
    assert body == {"grantee": str(alice.pk)} and "Signature" in headers
    api = client.post(reverse("api-grant-remote-links", args=[remote_grant.pk]))
    assert api.status_code == 200 and api.json()["files"][0]["path"] == "mg/a.dcm"


def test_a_link_pointing_away_from_the_node_is_not_shown(remote_grant, alice, client, holder_node):
    holder_node.link = lambda base: "https://elsewhere.example/steal"
    client.force_login(alice)
    response = client.post(reverse("api-grant-remote-links", args=[remote_grant.pk]))

    assert response.status_code == 502 and response.json()["code"] == "node_answer_unreadable"
    assert "elsewhere.example" not in client.get(reverse("grant-detail", args=[remote_grant.pk])).content.decode()


def test_a_revoked_remote_grant_asks_the_node_for_nothing(remote_grant, alice, rdo, client, holder_node):
    grant_revoke(actor=rdo, grant=remote_grant, reason="Withdrawn.")
    sent = len(holder_node.received)
    client.force_login(alice)
    response = client.post(reverse("api-grant-remote-links", args=[remote_grant.pk]))

    assert response.status_code == 410 and response.json()["code"] == "revoked"
    assert all(not path.endswith("/links") for path, _, _ in holder_node.received[sent:])


# --- at the holder's node ------------------------------------------------------------------------------


@pytest.fixture
def honoured(partner):
    Node.objects.filter(pk=partner.pk).update(honours_grants=True)
    partner.refresh_from_db()
    return partner


@pytest.fixture
def own_dataset(holder):
    from catalogue.models import Dataset

    dataset = make_dataset(holder, "LV-MG-FED", conditions=("C50",))
    Dataset.objects.filter(pk=dataset.pk).update(
        anonymisation_profile="DICOM PS3.15 Basic Profile", anonymisation_verified_on=timezone.localdate()
    )
    dataset.refresh_from_db()
    dataset_file_write(dataset, "mg/one.dcm", b"first file " * 100)
    dataset_file_write(dataset, "mg/two.dcm", b"second file " * 100)
    return dataset


def event(sequence: int = 1, what: str = "granted", **changes) -> dict:
    today = timezone.localdate()
    return {
        "event": what,
        "grant": 41,
        "sequence": sequence,
        "kind": "download",
        "application": "AR-2026-00007",
        "dataset": "LV-MG-FED",
        "access_mode": "DOWNLOAD",
        "status": "active",
        "valid_from": today.isoformat(),
        "valid_until": (today + timedelta(days=90)).isoformat(),
        "grantees": [{"sub": "12", "email": "ilze@hub.example", "name": "Ilze Ozola"}],
        "issuer": "https://hub.example",
        "id": 900 + sequence,
        **changes,
    }


def push(client, body: dict):
    return send_signed(client, "POST", reverse("federation:node-grants"), json.dumps(body).encode())


def links(client, grantee: str = "12", grant: int = 41):
    path = reverse("federation:node-grant-links", args=[grant])
    return send_signed(client, "POST", path, json.dumps({"grantee": grantee}).encode())


def test_a_partners_grant_is_applied_once_and_in_order(client, honoured, own_dataset):
    first = push(client, event())
    assert first.status_code == 200 and first.json()["applied"] is True
    again = push(client, event())
    assert again.status_code == 200 and again.json()["applied"] is False
    ahead = push(client, event(3, "extended"))
    assert (ahead.status_code, ahead.json()["code"]) == (409, "out_of_order")
    later = (timezone.localdate() + timedelta(days=120)).isoformat()
    assert push(client, event(2, "extended", valid_until=later)).json()["applied"] is True

    grant = ReceivedGrant.objects.get()
    assert (grant.node, grant.dataset, grant.last_sequence) == (honoured, own_dataset, 2)
    assert grant.valid_until.isoformat() == later and grant.grantees[0]["email"] == "ilze@hub.example"
    received = AuditEvent.objects.filter(verb="federation.grant_receive").order_by("pk")
    assert [e.payload["sequence"] for e in received] == [1, 2]


def test_a_grant_from_a_partner_not_honoured_is_refused(client, partner, own_dataset):
    response = push(client, event())

    assert (response.status_code, response.json()["code"]) == (403, "grants_not_honoured")
    assert not ReceivedGrant.objects.exists()


@pytest.mark.parametrize(
    "changes, status, code",
    [
        ({"dataset": "NOT-HERE"}, 404, "no_such_dataset"),
        ({"access_mode": "IN_SITU_PROCESSING"}, 409, "mode_not_offered"),
        ({"event": "extended"}, 409, "out_of_order"),
        ({"valid_until": "2020-01-01"}, 400, "period_reversed"),
    ],
)
def test_a_grant_this_node_cannot_enforce_is_refused(client, honoured, own_dataset, changes, status, code):
    response = push(client, event(**changes))

    assert (response.status_code, response.json()["code"]) == (status, code)
    assert not ReceivedGrant.objects.exists()


def test_a_malformed_event_is_a_field_error(client, honoured, own_dataset):
    response = push(client, event(grantees=[], kind="stream"))

    assert response.status_code == 400
    assert {"grantees", "kind"} <= set(response.json()["errors"])


def test_an_unsigned_push_is_refused(client, honoured, own_dataset):
    response = client.post(reverse("federation:node-grants"), event(), content_type="application/json")

    assert (response.status_code, response.json()["code"]) == (401, "unsigned")


def test_a_grantee_downloads_through_links_the_node_makes_and_records(client, honoured, own_dataset):
    push(client, event())
    answer = links(client)
    assert answer.status_code == 200
    files = answer.json()["files"]
    assert [f["path"] for f in files] == ["mg/one.dcm", "mg/two.dcm"]

    url = files[0]["url"].removeprefix("http://testserver")
    whole = client.get(url)
    assert whole.status_code == 200 and b"".join(whole.streaming_content) == b"first file " * 100
    part = client.get(url, headers={"Range": "bytes=0-4"})
    assert part.status_code == 206 and b"".join(part.streaming_content) == b"first"
    recorded = ReceivedDownload.objects.order_by("pk")
    assert [(d.grantee_email, d.status_code) for d in recorded] == [("ilze@hub.example", 200)] + [
        ("ilze@hub.example", 206)
    ]
    assert AuditEvent.objects.filter(verb="federation.file_download").count() == 2


def test_links_are_refused_to_anyone_the_grant_does_not_name(client, honoured, own_dataset):
    push(client, event())

    response = links(client, grantee="13")
    assert (response.status_code, response.json()["code"]) == (403, "not_grantee")
    assert (links(client, grant=42).status_code, links(client, grant=42).json()["code"]) == (404, "no_such_grant")


def test_a_revocation_stops_a_link_made_before_it(client, honoured, own_dataset):
    push(client, event())
    url = links(client).json()["files"][0]["url"].removeprefix("http://testserver")
    push(client, event(2, "revoked", status="revoked"))

    response = client.get(url)
    assert (response.status_code, response.json()["code"]) == (410, "revoked")
    assert (links(client).status_code, links(client).json()["code"]) == (410, "revoked")
    assert not ReceivedDownload.objects.exists()


def test_a_changed_link_is_refused(client, honoured, own_dataset):
    push(client, event())
    url = links(client).json()["files"][0]["url"].removeprefix("http://testserver")

    response = client.get(url[:-2] + ("AA" if not url.endswith("AA") else "BB"))
    assert (response.status_code, response.json()["code"]) == (403, "tampered")


def test_a_processing_grant_is_relayed_to_the_holders_environment_and_gives_no_links(
    client, honoured, own_dataset, holder_node, django_capture_on_commit_callbacks
):
    from catalogue.models import Term, Vocabulary

    own_dataset.access_modes.add(Term.objects.get(vocabulary=Vocabulary.ACCESS_MODE, code="IN_SITU_PROCESSING"))
    environment = f"http://127.0.0.1:{holder_node.server_address[1]}/entitlements"
    DataHolder.objects.filter(pk=own_dataset.holder_id).update(
        processing_push_url=environment, processing_push_secret="s" * 32
    )
    with django_capture_on_commit_callbacks(execute=True):
        push(client, event(kind="processing", access_mode="IN_SITU_PROCESSING"))
    with django_capture_on_commit_callbacks(execute=True):
        push(client, event(2, "revoked", kind="processing", access_mode="IN_SITU_PROCESSING", status="revoked"))

    relayed = EntitlementEvent.objects.filter(received__isnull=False).order_by("sequence")
    assert [(e.kind, e.status) for e in relayed] == [("granted", "delivered"), ("revoked", "delivered")]
    sent = [(path, headers, body) for path, headers, body in holder_node.received if path == "/entitlements"]
    assert [body["event"] for _, _, body in sent] == ["granted", "revoked"]
    _, headers, body = sent[0]
    assert body["issuer"] == "https://hub.example" and body["grant"] == 41 and body["node"] == honoured.name
    assert headers["X-Entitlement-Grant"] == "41" and headers["X-Entitlement-Signature"].startswith("sha256=")
    response = links(client)
    assert (response.status_code, response.json()["code"]) == (410, "revoked")


def test_links_are_refused_for_a_processing_grant(client, honoured, own_dataset):
    from catalogue.models import Term, Vocabulary

    own_dataset.access_modes.add(Term.objects.get(vocabulary=Vocabulary.ACCESS_MODE, code="IN_SITU_PROCESSING"))
    push(client, event(kind="processing", access_mode="IN_SITU_PROCESSING"))

    response = links(client)
    assert (response.status_code, response.json()["code"]) == (403, "processing_only")


def test_a_partners_files_are_never_listed_or_scripted_here(remote_grant, alice, client):
    client.force_login(alice)

    listed = client.get(reverse("api-grant-files", args=[remote_grant.pk]))
    assert (listed.status_code, listed.json()["code"]) == (409, "held_at_partner")
    for name in ("grant-manifest", "grant-script"):
        page = client.get(reverse(name, args=[remote_grant.pk]))
        assert page.status_code == 409 and "held at the partner node Tartu imaging node" in page.content.decode()
