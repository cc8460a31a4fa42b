#!/usr/bin/env python
"""The DCAT-AP export of a 20,000-dataset catalogue: every page, cold, warm and after one change.

Usage (from the repository root, with a scratch PostgreSQL database it may create and fill, and a
Redis database it empties):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_export_bench \\
        .venv/bin/python bench/export_bench.py [--datasets 22200] [--redis-url redis://127.0.0.1:6379/13]

The catalogue is seeded as bench/search_bench.py seeds it (about nine datasets in ten published:
22,200 seeded give about 20,000 in the export). A harvester's walk is timed: every page of the
export in order (100 datasets a page, `?page=N`), through Django's test Client in-process (routing,
middleware, view, SQL, rendering; no HTTP server) with the cache in Redis, as deployed. Three walks
a format:

- cold: the cache emptied first, so every dataset's description is rendered;
- warm: the same pages again, each one read from the cache;
- after a change: one dataset edited (the catalogue's version moves on, so every page is put
  together again), with the other datasets' descriptions still kept;
- after a change warmed: one dataset edited and the warming task (catalogue.tasks.dcat_export_warm,
  queued after every change where a worker runs) run first, as a worker runs it; its own time is
  printed below the table.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.search_bench import ensure_database, machine, seed, setup_django  # noqa: E402

FORMATS = (("Turtle", "/catalogue/export.ttl"), ("JSON-LD", "/catalogue/export.jsonld"))


def walk(client, path: str, pages: int) -> tuple[float, float, float, int]:
    """Every page in order: (total s, p50 ms, p95 ms, bytes)."""
    timings, size = [], 0
    for number in range(1, pages + 1):
        started = time.perf_counter()
        response = client.get(path, {"page": number})
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (number, response.content[:300])
        size += len(response.content)
    ordered = sorted(timings)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * len(ordered)) - 1)]
    return sum(timings) / 1000, statistics.median(timings), p95, size


def edit_one_dataset(number: int) -> None:
    """What a steward's edit does to the catalogue: the row changes and the catalogue's version moves."""
    from django.utils import timezone

    from catalogue.cache import catalogue_changed
    from catalogue.models import Dataset

    dataset = Dataset.objects.filter(status="published").order_by("identifier")[number]
    Dataset.objects.filter(pk=dataset.pk).update(title=f"{dataset.title} (edited)", updated_at=timezone.now())
    catalogue_changed()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=22_200)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--reseed", action="store_true")
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url:
        sys.exit("export_bench: set DATABASE_URL to a scratch PostgreSQL database, e.g. .../portal_export_bench")
    ensure_database(database_url)
    setup_django(database_url, args.redis_url)
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from catalogue.dcat_pages import EXPORT_PAGE_SIZE
    from catalogue.models import Dataset

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    seed(args.datasets, args.reseed)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    published = Dataset.objects.filter(status="published").count()
    pages = -(-published // EXPORT_PAGE_SIZE)
    print(f"{published} published datasets, {pages} pages of {EXPORT_PAGE_SIZE}; {machine()}")
    print(f"PostgreSQL {connection.pg_version}, cache in Redis ({args.redis_url}), Django test Client in-process")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    print("| format | walk | whole export, s | a page, p50 ms | a page, p95 ms | MB |")
    print("|---|---|---|---|---|---|")
    client = Client()
    warming = []

    def edit_and_warm() -> None:
        from catalogue.cache import catalogue_version
        from catalogue.dcat_pages import export_warm

        edit_one_dataset(published // 3)
        started = time.perf_counter()
        made = export_warm(catalogue_version())
        warming.append((made, time.perf_counter() - started))

    for label, path in FORMATS:
        cache.clear()
        for walk_label, before in (
            ("cold (cache empty)", None),
            ("warm", None),
            ("after one dataset's edit", lambda: edit_one_dataset(published // 2)),
            ("after one edit, warmed by the task", edit_and_warm),
        ):
            if before:
                before()
            total, p50, p95, size = walk(client, path, pages)
            print(f"| {label} | {walk_label} | {total:.1f} | {p50:.1f} | {p95:.1f} | {size / 1e6:.0f} |", flush=True)
    for made, seconds in warming:
        print(f"\nthe warming task after an edit: {made} pages (both formats) in {seconds:.1f} s")
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
