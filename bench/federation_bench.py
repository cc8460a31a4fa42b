#!/usr/bin/env python
"""The federated count query against 20 partner nodes, one slow and one down, beside a local count.

Usage (from the repository root, with a scratch PostgreSQL database it may create and fill):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_federation_bench \\
        .venv/bin/python bench/federation_bench.py [--nodes 20] [--queries 40] [--timeout 5]

The partners are simulated HTTP servers on loopback (each its own listening socket and threads)
answering like nodes: a count answer of 20 datasets after a few milliseconds. One answers only
after twice the timeout; one is down (a port nobody listens on). The hub is this process: the
portal's own `federated_counts` (federation/query.py) with its signing, concurrent requests and
per-node timeout; every query has new criteria, so none is answered from the cache. The local
count query is the hub's own answer (`local_counts`) over a seeded DICOM index, in the same run.
The scaling rows repeat the federated query with 5, 10, 20 and 40 answering nodes (no slow or
dead one) to show how the hub's cost grows with the number of nodes.
"""

import argparse
import base64
import json
import os
import statistics
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.search_bench import ensure_database, machine, setup_django  # noqa: E402


def answer(node: int) -> bytes:
    datasets = [
        {
            "identifier": f"N{node}-D{i}",
            "title": f"Dataset {i}",
            "holder": "H",
            "url": "",
            "subjects": 25,
            "studies": 40,
        }
        for i in range(20)
    ]
    return json.dumps(
        {"node": {}, "threshold": 10, "rounding": 5, "datasets": datasets, "total": {"subjects": 500, "studies": 800}}
    ).encode()


def fake_node(number: int, delay: float) -> ThreadingHTTPServer:
    body = answer(number)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the http.server interface
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            time.sleep(delay)
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def percentiles(timings: list[float]) -> tuple[float, float]:
    ordered = sorted(timings)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.95 * len(ordered)) - 1)]


def seed_index() -> None:
    """One searchable dataset with 2,000 indexed studies, for the local count."""
    from django.utils import timezone

    from catalogue.models import DataHolder, Dataset, DatasetFile, DicomInstance

    if Dataset.objects.filter(identifier="FED-BENCH").exists():
        return
    holder, _ = DataHolder.objects.get_or_create(
        slug="fed-bench",
        defaults={"name": "Bench hospital", "country": "LV", "storage_area": "fed-bench",
                  "contact_email": "a@b.example", "rdo_email": "a@b.example"},
    )  # fmt: skip
    dataset = Dataset.objects.create(
        identifier="FED-BENCH", title="Bench", description="Bench", holder=holder, status="published", tier=2,
        subjects_count=500, studies_count=2000,
    )  # fmt: skip
    files = DatasetFile.objects.bulk_create(
        DatasetFile(dataset=dataset, path=f"b/{i}.dcm", size_bytes=1, sha256=f"{i:064x}") for i in range(2000)
    )
    DicomInstance.objects.bulk_create(
        DicomInstance(
            file=f, patient_id=f"S{i % 500}", study_instance_uid=f"2.25.{i}", modality=("MR", "CT")[i % 2],
            patient_sex="FM"[i % 2], age_years=30 + i % 50, study_year=2015 + i % 10, passed=True,
            checked_at=timezone.now(),
        )
        for i, f in enumerate(files)
    )  # fmt: skip


SERVERS: list[ThreadingHTTPServer] = []


def key_of(number: int) -> str:
    return base64.b64encode(number.to_bytes(32, "big")).decode()


def partners(answering: int, *, slow: bool, down: bool, delay: float, timeout: float) -> None:
    """The hub's partners: `answering` fake nodes, and a slow and a down one when asked."""
    from federation.models import Node

    Node.objects.all().delete()
    for number in range(answering):
        server = fake_node(number, delay)
        SERVERS.append(server)
        Node.objects.create(
            name=f"Node {number:02d}",
            base_url=f"http://127.0.0.1:{server.server_address[1]}",
            public_key=key_of(number),
        )
    if slow:
        server = fake_node(98, 2 * timeout)
        SERVERS.append(server)
        Node.objects.create(
            name="Slow node", base_url=f"http://127.0.0.1:{server.server_address[1]}", public_key=key_of(98)
        )
    if down:
        Node.objects.create(name="Down node", base_url="http://127.0.0.1:9", public_key=key_of(99))


def run(label: str, queries: int) -> None:
    """`queries` federated queries, each with new criteria (never from the cache): a table row."""
    from django.core.cache import cache

    from federation.query import federated_counts

    timings, statuses = [], {}
    for i in range(queries):
        cache.clear()
        started = time.perf_counter()
        result = federated_counts({"age_min": i % 60, "modality": ["MR"]})
        timings.append((time.perf_counter() - started) * 1000)
        for node in result["nodes"]:
            statuses[node["status"]] = statuses.get(node["status"], 0) + 1
    p50, p95 = percentiles(timings)
    print(f"| {label} | {queries} | {p50:.0f} | {p95:.0f} | {statuses} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=20)
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--delay", type=float, default=0.02, help="how long an answering node takes")
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url:
        sys.exit("federation_bench: set DATABASE_URL to a scratch PostgreSQL database")
    ensure_database(database_url)
    setup_django(database_url)
    from django.conf import settings
    from django.core.management import call_command

    from federation.counts import local_counts
    from federation.keys import dev_key_create

    call_command("migrate", verbosity=0)
    key = Path(settings.VAR_DIR) / "federation" / "bench-key.pem"
    if not key.exists():
        dev_key_create(key)
    settings.FEDERATION_SIGNING_KEY = str(key)
    settings.FEDERATION_TIMEOUT = args.timeout
    seed_index()
    print(f"{machine()}; timeout {args.timeout:g} s; answering nodes reply after {args.delay * 1000:.0f} ms")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    print("| query | queries | p50 ms | p95 ms | node statuses (all queries) |")
    print("|---|---|---|---|---|")
    timings = []
    for i in range(args.queries):
        started = time.perf_counter()
        local_counts({"age_min": i % 60, "modality": ["MR"]})
        timings.append((time.perf_counter() - started) * 1000)
    p50, p95 = percentiles(timings)
    print(f"| local count (2,000 indexed studies) | {args.queries} | {p50:.1f} | {p95:.1f} | |")
    partners(args.nodes - 2, slow=True, down=True, delay=args.delay, timeout=args.timeout)
    run(f"federated, {args.nodes} partners (one slow, one down)", args.queries)
    print("\nScaling (answering nodes only):\n")
    print("| query | queries | p50 ms | p95 ms | node statuses (all queries) |")
    print("|---|---|---|---|---|")
    for count in (5, 10, 20, 40):
        partners(count, slow=False, down=False, delay=args.delay, timeout=args.timeout)
        run(f"federated, {count} partners", max(10, args.queries // 2))
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for server in SERVERS:
        server.shutdown()


if __name__ == "__main__":
    main()
