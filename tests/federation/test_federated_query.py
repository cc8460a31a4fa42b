"""The federated count query over real HTTP: a partner portal answering (a live server), a slow node,
a dead one, one that refuses and one that answers nonsense; each node's status, the totals, the
per-node timeout and the one-minute cache."""

import base64
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.urls import reverse

from federation import keys
from federation.models import Node
from federation.query import federated_counts
from portal.models import AuditEvent
from tests.helpers import free_port


class _Fake(BaseHTTPRequestHandler):
    """A node that answers as told: `delay` seconds late, with `status` and `body`."""

    delay, status, body = 0.0, 200, b"{}"
    hits = 0

    def do_POST(self):  # noqa: N802 - the http.server interface
        type(self).hits += 1
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        time.sleep(self.delay)
        try:
            self.send_response(self.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(self.body)))
            self.end_headers()
            self.wfile.write(self.body)
        except (BrokenPipeError, ConnectionResetError):  # the querying node gave up on it, as it should
            pass

    def log_message(self, *args):
        pass


def fake_node(**answer):
    handler = type("Handler", (_Fake,), {"hits": 0, **answer})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, handler


@pytest.fixture
def fakes():
    started = []

    def start(**answer):
        server, handler = fake_node(**answer)
        started.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}", handler

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


@pytest.fixture
def federation(transactional_db, live_server, searchable, fakes, settings):
    """A partner portal (the live server, which lists this node's key), and four nodes that misbehave."""
    settings.FEDERATION_TIMEOUT = 1.0
    Node.objects.create(name="Partner portal", base_url=live_server.url, public_key=keys.public_key_b64())
    slow_url, slow = fakes(delay=3.0)
    refusing_url, _ = fakes(status=401, body=b'{"detail": "unknown key", "code": "unknown_key"}')
    nonsense_url, _ = fakes(body=b'{"datasets": "many"}')
    dead_url = f"http://127.0.0.1:{free_port()}"
    for name, url in (("Slow node", slow_url), ("Refusing node", refusing_url), ("Nonsense node", nonsense_url)) + (
        ("Dead node", dead_url),
    ):
        Node.objects.create(name=name, base_url=url, public_key=base64.b64encode(os.urandom(32)).decode())
    return slow


def test_every_node_is_asked_at_once_and_each_status_reported(federation, settings):
    started = time.perf_counter()
    result = federated_counts({"modality": ["MR"]})
    elapsed = time.perf_counter() - started

    statuses = {node["name"]: node["status"] for node in result["nodes"]}
    assert statuses == {
        settings.SITE_NAME: "answered",
        "Partner portal": "answered",
        "Slow node": "timed_out",
        "Refusing node": "refused",
        "Nonsense node": "error",
        "Dead node": "error",
    }
    assert elapsed < settings.FEDERATION_TIMEOUT + 0.8  # the slow node costs the timeout, not its 3 s
    partner = next(node for node in result["nodes"] if node["name"] == "Partner portal")
    assert partner["datasets"][0]["identifier"] == "LV-FED-MR-1"
    assert partner["total"] == {"subjects": 25, "studies": 45}
    # this node and the partner portal (the same database here) each answered 25 subjects, 45 studies
    assert result["total"] == {"subjects": 50, "studies": 90}
    assert (result["answered"], result["asked"]) == (2, 6)
    # the partner portal audited the question it answered
    assert AuditEvent.objects.filter(verb="federation.counts_answer").count() == 1


def test_the_same_query_within_a_minute_is_answered_from_the_cache(federation):
    first = federated_counts({"modality": ["MR"], "sex": ["F"]})
    again = federated_counts({"sex": ["F"], "modality": ["MR"]})  # the same criteria in another order

    assert (first["cached"], again["cached"]) == (False, True)
    assert federation.hits == 1  # the slow node was asked once
    assert again["nodes"] == first["nodes"]
    assert federated_counts({"modality": ["CT"]})["cached"] is False


def test_the_researchers_page_shows_each_node_and_the_totals(federation, client, alice):
    client.force_login(alice)

    page = client.get(reverse("federation:search"), {"modality": "MR", "go": "1"}).content.decode()

    assert "Partner portal" in page and "Timed out" in page and "Refused" in page and "Error" in page
    assert "2 of 6 nodes answered" in page
    event = AuditEvent.objects.filter(verb="federation.counts_query").latest("seq")
    assert event.actor_label == alice.email
    assert event.payload["statuses"]["Slow node"] == "timed_out"


def test_the_api_answers_the_same_and_refuses_bad_criteria(federation, client, alice):
    client.force_login(alice)

    answer = client.post(reverse("api-federation-counts"), {"modality": ["MR"]}, content_type="application/json")
    bad = client.post(
        reverse("api-federation-counts"), {"year_min": 2030, "year_max": 2001}, content_type="application/json"
    )

    assert answer.status_code == 200
    assert [node["status"] for node in answer.json()["nodes"]].count("answered") == 2
    assert bad.status_code == 400
    assert "year_max" in bad.json()["errors"]
