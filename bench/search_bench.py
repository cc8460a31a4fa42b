#!/usr/bin/env python
"""Latency of the catalogue search page and the dataset list API over 20,000 datasets.

Usage (from the repository root, with a scratch PostgreSQL database it may create and fill):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_bench .venv/bin/python bench/search_bench.py

Options: --datasets N (20000), --requests N per scenario (60), --reseed (drop and refill the
catalogue). The database is created and migrated when missing; seeded datasets are kept for the
next run. Seeding uses bulk_create straight into the tables, which product code never does: it is
a benchmark fixture, not a way to publish datasets. Requests go through Django's test Client
in-process (URL routing, middleware, view, SQL, template or JSON rendering; no HTTP server or
network), as an anonymous visitor, with DEBUG off.
"""

import argparse
import atexit
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WORDS = (
    "screening",
    "diagnostic",
    "follow-up",
    "cohort",
    "retrospective",
    "prospective",
    "multicentre",
    "annotated",
    "segmented",
    "contrast-enhanced",
    "low-dose",
    "high-resolution",
    "longitudinal",
    "baseline",
    "treatment",
    "response",
    "radiotherapy",
    "chemotherapy",
    "biopsy-proven",
    "staging",
    "surveillance",
    "tomosynthesis",
    "perfusion",
    "diffusion",
    "dynamic",
)
ORGANS = {
    "breast": ("C50", "BREAST", ("MG", "MR", "US")),
    "lung": ("C34", "LUNG", ("CT", "PT")),
    "prostate": ("C61", "PROSTATE", ("MR", "US")),
    "colorectal": ("C18", "COLON", ("CT", "MR")),
    "liver": ("C22", "LIVER", ("CT", "MR", "US")),
    "brain": ("C71", "BRAIN", ("MR", "CT")),
    "pancreas": ("C25", "PANCREAS", ("CT", "MR")),
    "kidney": ("C64", "KIDNEY", ("CT", "US")),
}
MANUFACTURERS = ("Siemens Healthineers", "GE Healthcare", "Philips", "Canon Medical", "Fujifilm", "Hologic")
DATA_USE = (
    "GENERAL_RESEARCH_USE",
    "HEALTH_MEDICAL_BIOMEDICAL_RESEARCH",
    "DISEASE_SPECIFIC_RESEARCH",
    "NOT_FOR_PROFIT_NON_COMMERCIAL_USE_ONLY",
    "PUBLICATION_REQUIRED",
    "ETHICS_APPROVAL_REQUIRED",
)
HOLDERS = [
    ("Riga East University Hospital", "riga-east", "LV"),
    ("Pauls Stradins Clinical University Hospital", "stradins", "LV"),
    ("Hospital La Fe Valencia", "la-fe", "ES"),
    ("Hospital Clinic Barcelona", "clinic-bcn", "ES"),
    ("Charite Berlin", "charite", "DE"),
    ("Karolinska University Hospital", "karolinska", "SE"),
    ("Institut Gustave Roussy", "gustave-roussy", "FR"),
    ("Radboud University Medical Center", "radboud", "NL"),
    ("Fondazione IRCCS Istituto Nazionale dei Tumori", "int-milano", "IT"),
    ("University of Tartu Hospital", "tartu", "EE"),
]


def setup_django(database_url: str, redis_url: str = "") -> None:
    """Django on `database_url`, DEBUG off; the cache in Redis at `redis_url`, else in-process."""
    var = Path(tempfile.mkdtemp(prefix="portal-bench-"))  # collected static files; removed at exit
    atexit.register(shutil.rmtree, var, ignore_errors=True)
    os.environ.update(
        {
            "DATABASE_URL": database_url,
            "DEBUG": "false",
            "SECRET_KEY": "bench-only-" + "x" * 50,
            "ALLOWED_HOSTS": "testserver",
            "SECURE_SSL_REDIRECT": "false",
            "PORTAL_VAR_DIR": str(var),
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "portal.settings",
        }
    )
    if redis_url:
        os.environ["REDIS_URL"] = redis_url
    else:
        os.environ.pop("REDIS_URL", None)
    import django

    django.setup()


def ensure_database(database_url: str) -> None:
    import dj_database_url
    import psycopg

    cfg = dj_database_url.parse(database_url)
    if "postgresql" not in cfg["ENGINE"]:
        sys.exit("search_bench: DATABASE_URL must point to PostgreSQL (a scratch database, e.g. portal_bench)")
    conn = psycopg.connect(
        host=cfg["HOST"] or "127.0.0.1",
        port=cfg["PORT"] or 5432,
        user=cfg["USER"] or "postgres",
        password=cfg["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )
    with conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [cfg["NAME"]]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{cfg["NAME"]}"')
            print(f"created database {cfg['NAME']}")


def seed(count: int, reseed: bool) -> None:
    from django.db import transaction
    from django.utils import timezone

    from catalogue.models import DataHolder, Dataset, DataUseCondition, Manufacturer, Term
    from catalogue.search import datasets_refresh_search_vectors

    if reseed:
        Dataset.objects.all().delete()
    existing = Dataset.objects.count()
    if existing >= count:
        print(f"{existing} datasets already seeded")
        return
    started = time.perf_counter()
    rng = random.Random(20261121)
    terms = {(t.vocabulary, t.code): t.pk for t in Term.objects.all()}
    holders = []
    for name, slug, country in HOLDERS:
        holder, _ = DataHolder.objects.get_or_create(
            slug=slug,
            defaults={
                "name": name,
                "country": country,
                "storage_area": slug,
                "contact_email": f"data@{slug}.example",
                "rdo_email": f"rdo@{slug}.example",
            },
        )
        holders.append(holder)
    manufacturers = [Manufacturer.objects.get_or_create(name=name)[0].pk for name in MANUFACTURERS]
    now = timezone.now()
    through = {name: getattr(Dataset, name).through for name in ("modalities", "conditions", "body_parts")}
    through |= {name: getattr(Dataset, name).through for name in ("birth_sexes", "access_modes", "manufacturers")}
    batch = 2000
    with transaction.atomic():
        for start in range(existing, count, batch):
            rows, links = [], []
            for n in range(start, min(start + batch, count)):
                organ = rng.choice(list(ORGANS))
                condition, body_part, modalities = ORGANS[organ]
                chosen = rng.sample(modalities, rng.randint(1, min(2, len(modalities))))
                adjectives = rng.sample(WORDS, 3)
                holder = rng.choice(holders)
                subjects = rng.randint(20, 5000)
                status = rng.choices(["published", "draft", "withdrawn"], weights=[90, 7, 3])[0]
                first = date(2010, 1, 1) + timedelta(days=rng.randint(0, 3000))
                rows.append(
                    Dataset(
                        identifier=f"BENCH-{n:06d}",
                        title=f"{organ.capitalize()} {' '.join(chosen)} {adjectives[0]} collection {n}",
                        description=f"{adjectives[1].capitalize()} {organ} cancer imaging from {holder.name}: "
                        f"{' '.join(rng.sample(WORDS, 8))}.",
                        holder=holder,
                        status=status,
                        subjects_count=subjects,
                        studies_count=subjects + rng.randint(0, 5000),
                        keywords=[organ, adjectives[2]],
                        acquisition_start=first,
                        acquisition_end=first + timedelta(days=rng.randint(30, 1500)),
                        published_at=now - timedelta(minutes=n) if status == "published" else None,
                    )
                )
                links.append(
                    {
                        "modalities": [terms["modality", code] for code in chosen],
                        "conditions": [terms["condition", condition]],
                        "body_parts": [terms["body_part", body_part]],
                        "birth_sexes": [terms["birth_sex", "FEMALE"], terms["birth_sex", "MALE"]][: rng.randint(1, 2)],
                        "access_modes": [terms["access_mode", rng.choice(["DOWNLOAD", "IN_SITU_PROCESSING"])]],
                        "manufacturers": rng.sample(manufacturers, rng.randint(1, 2)),
                        "data_use": [terms["data_use", code] for code in rng.sample(DATA_USE, rng.randint(1, 3))],
                    }
                )
            created = Dataset.objects.bulk_create(rows)
            for name, model in through.items():
                column = "manufacturer_id" if name == "manufacturers" else "term_id"
                model.objects.bulk_create(
                    [
                        model(dataset_id=d.pk, **{column: pk})
                        for d, link in zip(created, links, strict=True)
                        for pk in link[name]
                    ]
                )
            DataUseCondition.objects.bulk_create(
                [
                    DataUseCondition(dataset=d, term_id=pk)
                    for d, link in zip(created, links, strict=True)
                    for pk in link["data_use"]
                ]
            )
        vectors_started = time.perf_counter()
        datasets_refresh_search_vectors()
        vectors = time.perf_counter() - vectors_started
    print(
        f"seeded {count - existing} datasets in {time.perf_counter() - started:.1f} s "
        f"(search vectors of all {count} in {vectors:.1f} s, one statement)"
    )


def scenarios() -> list[tuple[str, str, str, str, list[dict]]]:
    texts = ["breast", "lung screening", "prostate mr", "cancer", "tomosynthesis", "liver follow-up"]
    filters = [
        {"modality": ["MR", "CT"], "country": "ES"},
        {"condition": "C50", "data_use": "GENERAL_RESEARCH_USE"},
        {"modality": "CT", "manufacturer": ["Philips", "GE Healthcare"]},
        {"holder": ["charite", "radboud"], "access_mode": "DOWNLOAD"},
    ]
    result = []
    for text in (False, True):
        for with_filters in (False, True):
            params = [
                {
                    **({"q": texts[i % len(texts)]} if text else {}),
                    **(filters[i % len(filters)] if with_filters else {}),
                }
                for i in range(12)
            ]
            filtered = "yes" if with_filters else "no"
            label = "yes" if text else "no"
            result.append(("page /catalogue/", "always", filtered, label, params))
            for counts in (False, True):
                api_params = [{**p, **({"facets": "true"} if counts else {})} for p in params]
                result.append(("API /api/v1/datasets/", "yes" if counts else "no", filtered, label, api_params))
    return result


def measure(requests: int) -> list[tuple]:
    from django.db import connection
    from django.test import Client

    client = Client()
    executed = []

    def count_queries(execute, sql, params, many, context):
        executed.append(sql)
        return execute(sql, params, many, context)

    rows = []
    for target, counts, filtered, text, params in scenarios():
        path = "/catalogue/" if target.startswith("page") else "/api/v1/datasets/"
        for p in params[:5]:  # warm-up
            assert client.get(path, p).status_code == 200
        executed.clear()
        with connection.execute_wrapper(count_queries):
            response = client.get(path, params[0])
        assert response.status_code == 200, response.content[:500]
        timings = []
        for i in range(requests):
            started = time.perf_counter()
            response = client.get(path, params[i % len(params)])
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
        timings.sort()
        p50 = statistics.median(timings)
        p95 = timings[min(len(timings) - 1, round(0.95 * len(timings)) - 1)]
        rows.append((target, counts, filtered, text, requests, len(executed), p50, p95))
    return rows


def machine() -> str:
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next(
            (line.split(":", 1)[1].strip() for line in lscpu.splitlines() if line.startswith("Model name")), ""
        )
    except OSError:
        model = ""
    return f"{os.cpu_count()} CPUs, {model or platform.processor()}, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=20000)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--reseed", action="store_true")
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url:
        sys.exit("search_bench: set DATABASE_URL to a scratch PostgreSQL database, e.g. .../portal_bench")
    ensure_database(database_url)
    setup_django(database_url)
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    seed(args.datasets, args.reseed)
    with connection.cursor() as cursor:
        # the steady state autovacuum reaches: seeding rewrote every row once for its search vector
        cursor.execute("VACUUM ANALYZE")
    from catalogue.models import Dataset

    published = Dataset.objects.filter(status="published").count()
    print(
        f"{Dataset.objects.count()} datasets ({published} published); {machine()}; PostgreSQL {connection.pg_version}"
    )
    print(f"Django test Client in-process, anonymous visitor, {args.requests} requests per row after 5 warm-up")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    print("| target | facet counts | facet filters | text | requests | SQL queries | p50 ms | p95 ms |")
    print("|---|---|---|---|---|---|---|---|")
    for target, counts, filtered, text, n, queries, p50, p95 in measure(args.requests):
        print(f"| {target} | {counts} | {filtered} | {text} | {n} | {queries} | {p50:.1f} | {p95:.1f} |")
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
