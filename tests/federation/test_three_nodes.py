"""Three real portal processes, each with its own PostgreSQL database, as federation nodes.

Node A (a hub with no data of its own) lists B and C (the demo's Tartu and Vilnius partners,
with datasets ingested from real DICOM files), a slow node and a dead one; B and C list A and each
other. A harvests B's and C's catalogues, answers a federated query over its API with each node's
status and B's and C's counts withheld below 10 and rounded to 5, and B refuses every request that
is not a fresh, unreplayed one signed by a partner.
"""

import datetime
import hashlib
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest
import requests
from http_message_signatures import HTTPMessageSigner, algorithms

from scripts.demo_federation import NodeProcess, node_env, peer
from tests import helpers
from tests.helpers import free_port

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


class _Slow(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - the http.server interface
        time.sleep(8)
        try:
            self.send_response(200)
            self.end_headers()
        except OSError:
            pass

    def log_message(self, *args):
        pass


def _database(base: str, name: str) -> str:
    prefix, _, _ = base.rpartition("/")
    with psycopg.connect(f"{prefix}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return f"{prefix}/{name}"


def _drop(base: str, name: str) -> None:
    prefix, _, _ = base.rpartition("/")
    with psycopg.connect(f"{prefix}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def nodes(tmp_path_factory, django_db_blocker):
    with django_db_blocker.unblock():
        base = helpers.test_database_url()
    root = tmp_path_factory.mktemp("nodes")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    started, names = {}, {}
    slow = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    slow.daemon_threads = True
    threading.Thread(target=slow.serve_forever, daemon=True).start()
    environment = {key: value for key, value in os.environ.items() if not key.startswith("TEST_")}
    environment |= {"PORTAL_PROFILE": "demo", "FEDERATION_TIMEOUT": "2", "LOG_LEVEL": "WARNING"}
    try:
        for key, site, loader in (
            ("a", "Hub node A", ()),
            ("b", "Tartu imaging node", ("load_partner_demo", "tartu")),
            ("c", "Vilnius imaging node", ("load_partner_demo", "vilnius")),
        ):
            names[key] = f"portal_three_nodes_{key}_{worker}"
            url = f"http://127.0.0.1:{free_port()}"
            env = node_env(environment, name=site, url=url, var=root / key, database_url=_database(base, names[key]))
            node = NodeProcess(site, url, env)
            node.prepare(*loader)
            started[key] = node
        peer(list(started.values()))
        hub = started["a"]
        hub.manage("federation_partner", "--name", "Slow node", "--url", f"http://127.0.0.1:{slow.server_address[1]}",
                   "--key", "U2xvd05vZGVTbG93Tm9kZVNsb3dOb2RlU2xvd05vZGU=")  # fmt: skip
        hub.manage("federation_partner", "--name", "Dead node", "--url", f"http://127.0.0.1:{free_port()}",
                   "--key", "RGVhZE5vZGVEZWFkTm9kZURlYWROb2RlRGVhZE5vZGU=")  # fmt: skip
        for key, node in started.items():
            node.serve(root / f"{key}.log")
        yield started
    finally:
        for node in started.values():
            node.stop()
        slow.shutdown()
        for name in names.values():
            _drop(base, name)


def hub_token(hub: NodeProcess) -> str:
    """An API token of a researcher at the hub, made in its own database."""
    code = (
        "from portal.services.accounts import user_create; from portal.services.tokens import api_token_create; "
        "u = user_create(actor='system:test', email='r@hub.example', full_name='R', password=None, "
        "roles=['researcher']); "
        "print(api_token_create(actor=u, name='t', days=1)[1])"
    )
    return hub.manage("shell", "-c", code).strip().splitlines()[-1]


def test_the_hub_harvests_both_partners(nodes):
    output = nodes["a"].manage("federation_harvest")

    assert "Tartu imaging node: added 2" in output
    assert "Vilnius imaging node: added 1" in output
    listed = requests.get(
        f"{nodes['a'].url}/api/v1/datasets/", params={"node": "tartu-imaging-node"}, timeout=10
    ).json()
    assert sorted(d["identifier"] for d in listed["results"]) == [
        "EE-TUH-CT-LUNG-2019-2024",
        "EE-TUH-MR-BREAST-2018-2023",
    ]


def test_a_federated_query_is_answered_by_every_node_with_small_counts_withheld(nodes):
    token = hub_token(nodes["a"])
    started = time.perf_counter()
    response = requests.post(
        f"{nodes['a'].url}/api/v1/federation/counts/",
        json={"condition": ["C50"], "modality": ["MR"]},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    elapsed = time.perf_counter() - started

    assert response.status_code == 200, response.text
    result = response.json()
    status = {node["name"]: node["status"] for node in result["nodes"]}
    assert status == {
        "Hub node A": "answered",
        "Tartu imaging node": "answered",
        "Vilnius imaging node": "answered",
        "Slow node": "timed_out",
        "Dead node": "error",
    }
    assert elapsed < 2 + 3  # the slow node costs the 2 s timeout, not its 8 s
    counts = {
        d["identifier"]: (d["subjects"], d["studies"])
        for node in result["nodes"]
        if node["status"] == "answered"
        for d in node["datasets"]
    }
    # Tartu's breast MRI: 24 subjects and 36 studies, rounded to 5; its lung CT matches nothing (withheld)
    assert counts["EE-TUH-MR-BREAST-2018-2023"] == (25, 35)
    assert counts["EE-TUH-CT-LUNG-2019-2024"] == (None, None)
    assert counts["LT-VSK-MR-BREAST-2020-2024"] == (20, 20)  # 18 subjects with one study each
    assert result["total"] == {"subjects": 45, "studies": 55}
    again = requests.post(
        f"{nodes['a'].url}/api/v1/federation/counts/",
        json={"modality": ["MR"], "condition": ["C50"]},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    ).json()
    assert again["cached"] is True


def _hub_signer(hub: NodeProcess, settings):
    settings.FEDERATION_SIGNING_KEY = str(Path(hub.env["PORTAL_VAR_DIR"]) / "federation" / "node-key.pem")


def _post(prepared) -> requests.Response:
    with requests.Session() as session:
        return session.send(prepared, timeout=10)


def test_a_partner_refuses_every_badly_signed_request(nodes, settings):
    from federation import keys
    from federation.signatures import TAG, _OwnKey, signed

    url = f"{nodes['b'].url}/federation/v1/counts"
    body = json.dumps({"modality": ["MR"]}).encode()

    unsigned = requests.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=10)
    assert (unsigned.status_code, unsigned.json()["code"]) == (401, "unsigned")

    stranger = _post(signed("POST", url, json_body=body))  # the test session's own key: no partner's
    assert (stranger.status_code, stranger.json()["code"]) == (401, "unknown_key")

    _hub_signer(nodes["a"], settings)
    fine = signed("POST", url, json_body=body)
    assert _post(fine).status_code == 200
    replayed = _post(fine)
    assert (replayed.status_code, replayed.json()["code"]) == (401, "replayed")

    stale = signed("POST", url, json_body=body)
    HTTPMessageSigner(signature_algorithm=algorithms.ED25519, key_resolver=_OwnKey()).sign(
        stale,
        key_id=keys.own_key_id(),
        created=datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=10),
        nonce="stale-one",
        tag=TAG,
        label="node",
        body=body,
        use_existing_digest=True,
    )
    assert _post(stale).json()["code"] == "stale"

    tampered = signed("POST", url, json_body=body)
    tampered.body = json.dumps({"modality": ["CT"]}).encode()
    assert _post(tampered).json()["code"] == "bad_signature"


def _shell(node: NodeProcess, code: str) -> str:
    return node.manage("shell", "-c", code).strip().splitlines()[-1]


def test_a_remote_dataset_applied_for_at_the_hub_is_enforced_at_its_node(nodes):
    hub, tartu = nodes["a"], nodes["b"]
    hub.manage("federation_harvest")

    # the demo researcher applies at the hub; the hub's committee approves; the agreement is executed
    out = hub.manage("apply_remote_demo", "EE-TUH-CT-LUNG-2019-2024").strip().splitlines()[-1]
    assert out.startswith("GRANT ") and " download EE-TUH-CT-LUNG-2019-2024 of Tartu imaging node " in out
    assert out.endswith(": granted delivered"), out  # pushed, signed, and accepted by Tartu
    grant_pk = int(out.split()[1])
    received = _shell(
        tartu,
        "from federation.models import ReceivedGrant as R; g = R.objects.get(); "
        "print(g.node.name, g.dataset.identifier, g.kind, g.status, g.grantees[0]['email'])",
    )
    assert received == "Hub node A EE-TUH-CT-LUNG-2019-2024 download active researcher@demo.example"

    # the grantee asks the hub for links; Tartu makes them after its own check, and serves the files
    token = _shell(
        hub,
        "from portal.models import User; from portal.services.tokens import api_token_create; "
        "print(api_token_create(actor=User.objects.get(email='researcher@demo.example'), name='t', days=1)[1])",
    )
    response = requests.post(
        f"{hub.url}/api/v1/grants/{grant_pk}/remote-links/", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert response.status_code == 200, response.text
    files = response.json()["files"]
    assert len(files) == 14 and all(f["url"].startswith(f"{tartu.url}/federation/files/") for f in files)
    first = requests.get(files[0]["url"], timeout=30)
    assert first.status_code == 200 and hashlib.sha256(first.content).hexdigest() == files[0]["sha256"]
    recorded = _shell(tartu, "from federation.models import ReceivedDownload as D; print(D.objects.count())")
    assert recorded == "1"

    # revoked at the hub: Tartu hears of it and refuses the link it made before
    hub.manage(
        "shell",
        "-c",
        "from access_requests.models import Grant; from access_requests.services.grants import grant_revoke; "
        "from portal.models import User; "
        f"grant_revoke(actor=User.objects.get(email='rdo@demo.example'), grant=Grant.objects.get(pk={grant_pk}), "
        "reason='Withdrawn by the committee.')",
    )
    again = requests.get(files[0]["url"], timeout=30)
    assert (again.status_code, again.json()["code"]) == (410, "revoked")
