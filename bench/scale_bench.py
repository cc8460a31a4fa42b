#!/usr/bin/env python
"""The portal at scale: 30,000 applications, a million audit events, 20,000 datasets, over real HTTP.

Usage (from the repository root, with a scratch PostgreSQL database it may create and fill):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_bench REDIS_URL=redis://127.0.0.1:6379/6 \\
        .venv/bin/python bench/scale_bench.py            # or: make bench-scale

What it does, in order (each part can be left out, see --help):
1. seeds, once (the data is kept for the next run; --reseed drops the database and starts again):
   users of every role, committees and stewards, 20,000 datasets (bench/search_bench.py's seeding)
   with 203,000 files, 30,000 applications in every state with their parts (requested datasets, team
   with the object permissions the product grants, ethics approvals, DPIA and risks, representations
   and accepted statements, submissions with snapshots, RDO checklists and return comments,
   messages), the committee's review rounds of every forwarded application (votes, checks, recusals,
   the decision clock), and 1,000,000 audit events chained with the product's own `event_hash`, the chain head
   set so that `manage.py verify_audit` passes; then VACUUM ANALYZE. Sizes by flags.
2. counts the SQL statements of every target in-process (Django test Client, execute wrapper),
   here and on a small database (`<name>_small`, seeded by a child run of this script);
3. serves the portal with gunicorn (gthread, DEBUG off, collected static files) and measures p50
   and p95 of every target over HTTP, round-robin, against the signed-in floor `/api/v1/me/`;
4. measures transitions per second (submit / return / resubmit through the product's services)
   with 1, 2, 4 and 8 processes, each on its own application;
5. times `manage.py verify_audit` and its peak memory.

Seeding writes straight into the tables (bulk_create, COPY), which product code never does; the rows
mirror what the services write (see `seed_applications`). Adding a target is one line in TARGETS.
"""

import argparse
import atexit
import hashlib
import http.client
import json
import multiprocessing
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

PASSWORD = "bench-password-1"  # noqa: S105  # nosec B105  # the seeded accounts of a scratch benchmark database
SEED = 20261130


# --- targets -------------------------------------------------------------------------------
# One line per target: label, who asks (a key of the people `pick_people` finds, or None for an
# anonymous visitor), the URL name, its kwargs (strings naming a picked object, e.g. "app"), the
# query string, and at most how many timed samples (for targets too slow to repeat every round: these
# are requested only in rounds spread evenly over the run, with no warm-up request).
@dataclass(frozen=True)
class Target:
    label: str
    who: str | None
    url: str
    kwargs: tuple = ()
    query: str = ""
    cap: int | None = None


FLOOR = Target("signed-in floor /api/v1/me/", "rdo", "api-me")
TARGETS = [
    FLOOR,
    Target("RDO queue", "rdo", "access_requests:rdo-queue"),
    Target("application list (RDO)", "rdo", "access_requests:application-list"),
    Target("application list (researcher, 5 applications)", "researcher", "access_requests:application-list"),
    Target("application list (steward)", "steward", "access_requests:application-list"),
    Target("application list (committee member)", "committee", "access_requests:application-list"),
    Target("API application list (RDO)", "rdo", "api-applications"),
    Target("API application list (researcher)", "researcher", "api-applications"),
    Target("API application list (steward)", "steward", "api-applications"),
    Target("application page (RDO)", "rdo", "access_requests:application-detail", (("pk", "app"),)),
    Target("application page (applicant)", "applicant", "access_requests:application-detail", (("pk", "app"),)),
    Target("RDO review page", "rdo", "access_requests:rdo-review", (("pk", "app"),)),
    Target("API application detail (RDO)", "rdo", "api-application", (("pk", "app"),)),
    Target("invitations (researcher)", "researcher", "access_requests:invitation-list"),
    Target("committee queue", "committee", "access_requests:committee-queue"),
    Target("committee review page", "committee", "access_requests:committee-review", (("pk", "review"),)),
    Target("API review rounds (committee member)", "committee", "api-application-rounds", (("pk", "review"),)),
    Target("My data (grantee)", "grantee", "my-data"),
    Target("grant page, files (grantee)", "grantee", "grant-detail", (("grant_pk", "grant"),)),
    Target("API grant files (grantee)", "grantee", "api-grant-files", (("grant_pk", "grant"),)),
    Target("application page, active (RDO)", "rdo", "access_requests:application-detail", (("pk", "active"),)),
    Target("dashboard (researcher)", "researcher", "dashboard"),
    Target("dashboard (RDO)", "rdo", "dashboard"),
    Target("dashboard (committee member)", "committee", "dashboard"),
    Target("dashboard (steward)", "steward", "dashboard"),
    Target("steward's datasets", "steward", "catalogue:steward-datasets"),
    Target(
        "ingestion report, 12,484 files (steward)",
        "steward",
        "catalogue:steward-dataset-ingestion",
        (("identifier", "ingested"),),
    ),
    Target("audit log, first page", "rdo", "audit_log"),
    Target("audit log, deep page", "rdo", "audit_log", query="@deep"),
    Target("audit log, verb filter", "rdo", "audit_log", query="verb=application.submit"),
    Target("catalogue search page with facets", None, "catalogue:search"),
    Target("catalogue search page, facet filter", None, "catalogue:search", query="modality=MR&country=ES"),
    Target("API datasets with facet counts", None, "api-datasets", query="facets=true"),
    Target("DCAT export (Turtle), first page", None, "catalogue:export-ttl"),
    Target("DCAT export (JSON-LD), a deep page", None, "catalogue:export-jsonld", query="@dcat-deep"),
]

STATES = {  # share of the applications in each state
    "draft": 0.25,
    "submitted": 0.15,
    "returned": 0.10,
    "in_review": 0.12,
    "withdrawn": 0.08,
    "approved": 0.08,
    "rejected": 0.05,
    "active": 0.10,
    "closed": 0.05,
    "revoked": 0.02,
}
LEGAL = [
    ("no_reidentification", "We will make no attempt to re-identify any individual."),
    ("no_onward_transfer", "We will not transfer the data to anyone outside the named team."),
    ("security_measures", "Appropriate technical and organisational security measures are in place."),
    ("deletion", "We will delete the data at the end of the access period and confirm it."),
    ("acknowledgement", "Publications will acknowledge the data holders and the federation."),
    ("breach_notice", "We will notify any personal-data breach within 72 hours."),
]
SECTIONS = ("overview", "datasets", "team", "ethics", "dpia", "representations", "ai")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S', time.gmtime())} UTC] {message}", flush=True)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# --- set-up ----------------------------------------------------------------------------------


def bench_env(database_url: str, var: Path, redis_url: str) -> dict:
    env = {
        "DATABASE_URL": database_url,
        "DEBUG": "false",
        "SECRET_KEY": "bench-only-" + "x" * 50,
        "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "PORTAL_VAR_DIR": str(var),
        "AUDIT_ANCHOR_FILE": "",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
    }
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def setup_django(env: dict) -> None:
    os.environ.update(env)
    if "REDIS_URL" not in env:
        os.environ.pop("REDIS_URL", None)
    import django

    django.setup()


def admin_connection(database_url: str):
    import dj_database_url
    import psycopg

    cfg = dj_database_url.parse(database_url)
    if "postgresql" not in cfg["ENGINE"]:
        sys.exit("scale_bench: DATABASE_URL must point to PostgreSQL (a scratch database, e.g. portal_bench)")
    conn = psycopg.connect(
        host=cfg["HOST"] or "127.0.0.1",
        port=cfg["PORT"] or 5432,
        user=cfg["USER"] or "postgres",
        password=cfg["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )
    return conn, cfg["NAME"]


def ensure_database(database_url: str, *, drop: bool) -> None:
    conn, name = admin_connection(database_url)
    with conn:
        if drop:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            log(f"dropped database {name}")
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
            log(f"created database {name}")


# --- seeding ---------------------------------------------------------------------------------


def _copy(table: str, columns: list[str], rows) -> int:
    """COPY rows (tuples in column order) into a table, through Django's own connection."""
    from django.db import connection

    connection.ensure_connection()
    count = 0
    with (
        connection.connection.cursor() as cursor,
        cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def seed_people(sizes, rng):
    """Researchers (five applications each), co-researchers (on teams), RDO users, committees with
    members, stewards of every data holder (role, Stewardship and the object permission the
    product's `data_holder_add_steward` grants), signatories. Returns ids by kind."""
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group, Permission
    from django.contrib.contenttypes.models import ContentType
    from django.utils import timezone
    from guardian.models import UserObjectPermission

    from access_requests.models import Committee, CommitteeMembership
    from catalogue.models import DataHolder, Stewardship
    from portal.models import Role, User

    if User.objects.filter(email="rdo0@bench.example").exists():
        return
    started = time.perf_counter()
    password = make_password(PASSWORD)
    now = timezone.now()
    countries = ("LV", "ES", "DE", "SE", "FR", "NL", "IT", "EE", "LT", "HR")
    researchers = max(1, sizes.applications // 5)
    spec = (
        [(f"r{n:05d}@bench.example", f"Researcher {n}", Role.RESEARCHER) for n in range(researchers)]
        + [(f"co{n:05d}@bench.example", f"Co-researcher {n}", Role.RESEARCHER) for n in range(researchers // 2 + 1)]
        + [(f"rdo{n}@bench.example", f"RDO officer {n}", Role.RDO) for n in range(5)]
        + [(f"committee{n:02d}@bench.example", f"Committee member {n}", Role.COMMITTEE) for n in range(20)]
        + [(f"steward{n:02d}@bench.example", f"Steward {n}", Role.STEWARD) for n in range(20)]
        + [(f"signatory{n:02d}@bench.example", f"Signatory {n}", None) for n in range(20)]
    )
    users = User.objects.bulk_create(
        [
            User(
                email=email,
                full_name=name,
                organisation=f"University {i % 97}",
                country=countries[i % len(countries)],
                password=password,
                email_verified_at=now,
                date_joined=now - timedelta(days=800),
            )
            for i, (email, name, _role) in enumerate(spec)
        ],
        batch_size=2000,
    )
    groups = {g.name: g.pk for g in Group.objects.filter(name__in=Role.values)}
    through = User.groups.through
    through.objects.bulk_create(
        [through(user_id=u.pk, group_id=groups[role]) for u, (_e, _n, role) in zip(users, spec, strict=True) if role],
        batch_size=5000,
    )
    committee_users = [u for u in users if u.email.startswith("committee")]
    for c in range(4):
        committee = Committee.objects.create(name=f"Bench access committee {c + 1}", quorum=3)
        CommitteeMembership.objects.bulk_create(
            [
                CommitteeMembership(committee=committee, user=u, role="chair" if k == 0 else "member")
                for k, u in enumerate(committee_users[c * 5 : c * 5 + 5])
            ]
        )
    # members since before the first application (auto_now_add ignores a given value)
    CommitteeMembership.objects.filter(committee__name__startswith="Bench").update(since=now - timedelta(days=760))
    holders = list(DataHolder.objects.order_by("pk"))
    stewards = [u for u in users if u.email.startswith("steward")]
    holder_ct = ContentType.objects.get_for_model(DataHolder)
    change_holder = Permission.objects.get(content_type=holder_ct, codename="change_dataholder")
    for k, user in enumerate(stewards):
        holder = holders[k % len(holders)]
        Stewardship.objects.create(holder=holder, user=user)
        UserObjectPermission.objects.create(
            user=user, permission=change_holder, content_type=holder_ct, object_pk=str(holder.pk)
        )
    log(f"seeded {len(users)} people, 4 committees, {len(stewards)} stewards in {time.perf_counter() - started:.1f} s")


def seed_holders() -> None:
    """The ten data holders of search_bench, with their storage areas (as data_holder_create sets)."""
    from search_bench import HOLDERS

    from catalogue.models import DataHolder

    for name, slug, country in HOLDERS:
        if not DataHolder.objects.filter(slug=slug).exists():
            DataHolder.objects.create(
                name=name,
                slug=slug,
                country=country,
                storage_area=slug,
                contact_email=f"data@{slug}.example",
                rdo_email=f"rdo@{slug}.example",
            )


def seed_files(total: int, rng) -> None:
    from catalogue.models import Dataset, DatasetFile

    existing = DatasetFile.objects.count()
    if existing >= total:
        return
    started = time.perf_counter()
    datasets = list(Dataset.objects.order_by("pk").values_list("pk", "identifier", "holder__storage_area"))
    now = datetime.now(UTC)
    per = total / len(datasets)

    def rows():
        made = existing
        for pk, identifier, area in datasets:
            for k in range(max(1, round(rng.uniform(0.2, 1.8) * per))):
                if made >= total:
                    return
                made += 1
                yield (
                    pk,
                    f"{area}/{identifier}/series{k // 50:03d}/image{k:05d}.dcm",
                    rng.randint(200_000, 40_000_000),
                    hashlib.sha256(f"{identifier}/{k}".encode()).hexdigest(),
                    "application/dicom",
                    now,
                    "",
                )

    if existing:
        DatasetFile.objects.all().delete()
        existing = 0
    n = _copy(
        DatasetFile._meta.db_table,
        ["dataset_id", "path", "size_bytes", "sha256", "media_type", "registered_at", "removal_reason"],
        rows(),
    )
    log(f"seeded {n} dataset files in {time.perf_counter() - started:.1f} s (COPY)")


# The reference hospital of ../shared/product/seeds/: 12,484 studies identified, 10,892 integrated.
INGESTED_FILES, INGESTED_FAILING = 12_484, 12_484 - 10_892


def ingested_dataset():
    """The dataset of the first steward's holder that gets a DICOM index (the report page's target)."""
    from catalogue.models import Dataset, Stewardship

    holder = Stewardship.objects.order_by("pk").values("holder_id")[:1]
    return Dataset.objects.filter(holder_id__in=holder).order_by("pk").first()


def seed_index(rng) -> None:
    """One dataset's files and DICOM index at the reference hospital's size, as the scan writes them:
    a file row and an index row per file, the failing ones with the rules they fail."""
    import json

    from catalogue.models import DatasetFile, DicomInstance

    dataset = ingested_dataset()
    if DicomInstance.objects.filter(file__dataset=dataset).count() >= INGESTED_FILES:
        return
    started = time.perf_counter()
    now = datetime.now(UTC)
    area = dataset.holder.storage_area
    _copy(
        DatasetFile._meta.db_table,
        ["dataset_id", "path", "size_bytes", "sha256", "media_type", "registered_at", "removal_reason"],
        (
            (
                dataset.pk,
                f"{area}/{dataset.identifier}/ingested/s{k // 40:04d}/{k:05d}.dcm",
                rng.randint(200_000, 40_000_000),
                hashlib.sha256(f"ingested/{k}".encode()).hexdigest(),
                "application/dicom",
                now,
                "",
            )
            for k in range(INGESTED_FILES)
        ),
    )
    files = DatasetFile.objects.filter(dataset=dataset, path__contains="/ingested/").order_by("path")
    failing = set(rng.sample(range(INGESTED_FILES), INGESTED_FAILING))
    rule = {"code": "DEID_ATTRIBUTE_NOT_REPLACED", "tag": "(0010,0010)", "message": "Patient's Name must be replaced."}
    n = _copy(
        DicomInstance._meta.db_table,
        [
            "file_id", "patient_id", "study_instance_uid", "series_instance_uid", "sop_instance_uid",
            "sop_class_uid", "modality", "body_part_examined", "manufacturer", "manufacturer_model_name",
            "patient_sex", "age_years", "study_year", "segmented_series_uid", "deid_options", "passed",
            "failures", "failure_count", "checked_at", "check_key",
        ],
        (
            (
                file_id, f"SUBJ-{k // 12:05d}",
                f"2.25.{k // 12}", f"2.25.{k // 12}.{k // 4}", f"2.25.{k // 12}.{k // 4}.{k}",
                "1.2.840.10008.5.1.4.1.1.1.2", "MG", "BREAST", "Hologic", "Selenia", "F", 50 + k % 20, 2015 + k % 8, "",
                "[]", k not in failing, json.dumps([rule] if k in failing else []), int(k in failing), now, "",
            )
            for k, file_id in enumerate(files.values_list("pk", flat=True))
        ),
    )  # fmt: skip
    log(f"seeded the DICOM index of {dataset.identifier}: {n} files, {INGESTED_FAILING} failing, in "
        f"{time.perf_counter() - started:.1f} s (COPY)")  # fmt: skip


def seed_applications(sizes, rng) -> None:  # noqa: C901  # one pass writes every part of a batch
    """Applications in every state with the rows the services write for them.

    application_create: the Application, its ApplicationDataset rows (with an access mode the dataset
    offers), an empty Dpia and Representations, the applicant's TeamMember row (joined) and the
    guardian object permissions view_application and change_application; team_invitation_accept:
    a joined member and the same two permissions; team_member_add: a pending invitation (no
    permission); ethics_approval_add, dpia_update, dpia_risk_add, representations_update and
    representations_accept (six StatementAcceptance rows); application_submit: a Submission with its
    snapshot and an RdoChecklist per submission; application_return: ReturnComment rows; forward and
    later: the committee; message_post: messages, some internal.
    """
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection, transaction
    from guardian.models import UserObjectPermission

    from access_requests.models import (
        Application,
        ApplicationDataset,
        Committee,
        Dpia,
        DpiaRisk,
        EthicsApproval,
        Message,
        RdoChecklist,
        Representations,
        ReturnComment,
        StatementAcceptance,
        Submission,
        TeamMember,
    )
    from access_requests.services.snapshots import SNAPSHOT_RELATED, application_snapshot, snapshot_prefetch
    from catalogue.models import Dataset
    from portal.models import User

    existing = Application.objects.filter(reference__startswith="AR-2025-").count()
    if existing >= sizes.applications:
        return
    if existing:
        sys.exit(
            f"scale_bench: {existing} seeded applications, fewer than --applications {sizes.applications}: use --reseed"
        )
    started = time.perf_counter()
    people = {
        prefix: list(User.objects.filter(email__startswith=prefix).order_by("email").values_list("pk", "email"))
        for prefix in ("r0", "co0", "rdo", "signatory")
    }
    researchers, coresearchers, rdos, signatories = people["r0"], people["co0"], people["rdo"], people["signatory"]
    committees = list(Committee.objects.filter(name__startswith="Bench").values_list("pk", flat=True))
    modes = {}
    for dataset_id, term_id in Dataset.access_modes.through.objects.filter(dataset__status="published").values_list(
        "dataset_id", "term_id"
    ):
        modes.setdefault(dataset_id, term_id)
    published = sorted(modes)
    app_ct = ContentType.objects.get_for_model(Application)
    perms = [
        Permission.objects.get(content_type=app_ct, codename=c) for c in ("view_application", "change_application")
    ]
    states = list(STATES)
    weights = [STATES[s] for s in states]
    now = datetime.now(UTC)
    today = date.today()
    counts: dict[str, int] = {}
    batch = 1000
    with transaction.atomic():
        for start in range(0, sizes.applications, batch):
            plan = []
            for n in range(start, min(start + batch, sizes.applications)):
                # researcher n % R: every researcher starts exactly five applications (at full scale)
                applicant = researchers[n % len(researchers)]
                # every state appears even in a tiny run: the first applications take one state each
                state = states[n] if n < len(states) else rng.choices(states, weights)[0]
                counts[state] = counts.get(state, 0) + 1
                submitted = state not in ("draft",) and not (state == "withdrawn" and n % 3 == 0)
                submissions = (1 if rng.random() < 0.7 else 2) if submitted else 0
                if state == "returned":
                    submissions = max(submissions, 1)
                created = now - timedelta(days=90, minutes=(sizes.applications - n) * 30 + rng.randint(0, 20))
                title = f"{rng.choice(['Radiomics', 'Deep learning', 'Outcome prediction', 'Screening'])} of "
                title += f"{rng.choice(['breast', 'lung', 'prostate', 'liver', 'brain'])} imaging, study {n}"
                app = Application(
                    reference=f"AR-2025-{n:05d}" if n < 100_000 else f"AR-2025-{n:07d}",
                    status=state,
                    applicant_id=applicant[0],
                    title=title,
                    lay_summary="We study which image features help radiologists find cancer earlier.",
                    scientific_description="A retrospective multi-centre study of anonymised imaging studies.",
                    timeline="Months 1-4 curation; 5-10 measurement; 11-12 analysis.",
                    intended_use="Measure image features and relate them to outcomes.",
                    purpose="HEALTH_MEDICAL_BIOMEDICAL_RESEARCH" if submitted else "",
                    methods_development=False if submitted else None,
                    commercial_use=False if submitted else None,
                    uses_ai=False if submitted else None,
                    access_start=today + timedelta(days=rng.randint(-300, 60)) if submitted else None,
                    access_months=12,
                    organisation=f"University {n % 97}",
                    organisation_country="LV",
                    committee_id=committees[n % len(committees)]
                    if state in ("in_review", "approved", "rejected", "active", "closed", "revoked")
                    else None,
                    submission_count=submissions,
                    submitted_at=created + timedelta(days=2) if submissions else None,
                    first_submitted_at=created + timedelta(days=1) if submissions else None,
                )
                items = [(d, modes[d]) for d in rng.sample(published, rng.randint(1, 3))]
                team = [(applicant, "Applicant", True)]
                if rng.random() < 0.5:
                    team.append((rng.choice(coresearchers), "Researcher", True))
                if rng.random() < 0.2:
                    team.append(((None, f"invitee{n}@elsewhere.example"), "Researcher", False))
                plan.append((app, created, items, team, submissions))
            apps = Application.objects.bulk_create([p[0] for p in plan])
            # auto_now_add/auto_now ignore given values: spread the dates as the years would
            with connection.cursor() as cursor:
                cursor.executemany(
                    f"UPDATE {Application._meta.db_table} SET created_at = %s, updated_at = %s WHERE id = %s",  # noqa: S608  # nosec B608  # the model's own table name
                    [
                        (created, (p[0].submitted_at or created) + timedelta(hours=3), a.pk)
                        for a, (_app, created, *_rest), p in zip(apps, plan, plan, strict=True)
                    ],
                )
            requested = ApplicationDataset.objects.bulk_create(
                [
                    ApplicationDataset(
                        application_id=a.pk,
                        dataset_id=d,
                        access_mode_id=mode,
                        justification="Gives the cases the study needs." if p[4] else "",
                    )
                    for a, p in zip(apps, plan, strict=True)
                    for d, mode in p[2]
                ]
            )
            by_app: dict[int, list] = {}
            for item in requested:
                by_app.setdefault(item.application_id, []).append(item.pk)
            members, grants = [], []
            for a, p in zip(apps, plan, strict=True):
                for (user_id, email), role, joined in p[3]:
                    members.append(
                        TeamMember(
                            application_id=a.pk,
                            user_id=user_id,
                            email=email,
                            role=role,
                            joined_at=p[1] if joined else None,
                            invitation_key="" if joined else hashlib.sha256(email.encode()).hexdigest(),
                            expires_at=None if joined else now + timedelta(days=14),
                            invited_by_id=None if role == "Applicant" else a.applicant_id,
                        )
                    )
                    if joined:
                        grants += [
                            UserObjectPermission(
                                user_id=user_id, permission=perm, content_type=app_ct, object_pk=str(a.pk)
                            )
                            for perm in perms
                        ]
            TeamMember.objects.bulk_create(members)
            UserObjectPermission.objects.bulk_create(grants)
            approvals, covers, dpias, reps, accepts, subs, checks, comments, messages = ([] for _ in range(9))
            for a, p in zip(apps, plan, strict=True):
                app, created, items, team, submissions = p
                signatory = signatories[a.pk % len(signatories)]
                filled = submissions > 0 or rng.random() < 0.4
                if filled:
                    approvals.append(
                        EthicsApproval(
                            application_id=a.pk,
                            committee_name=f"{app.organisation} Research Ethics Committee",
                            reference=f"REC-{app.reference[3:]}",
                            approved_on=min(created.date(), app.access_start or today) - timedelta(days=30),
                            expires_on=today + timedelta(days=600),
                            document_path=f"applications/{a.pk}/ethics/approval.pdf",
                            document_name="ethics-approval.pdf",
                            document_sha256=hashlib.sha256(app.reference.encode()).hexdigest(),
                            document_size=48_213,
                            uploaded_by_id=app.applicant_id,
                        )
                    )
                dpias.append(
                    Dpia(
                        application_id=a.pk,
                        data_categories=["images", "image_metadata", "demographic"] if filled else [],
                        processing_description="On the university's research cluster, encrypted at rest."
                        if filled
                        else "",
                        residual_risk="low" if filled else "",
                        dpo_name="Dana Protection" if filled else "",
                        dpo_consulted_on=today - timedelta(days=30) if filled else None,
                        conclusion="The processing may proceed with the mitigations listed." if filled else "",
                    )
                )
                reps.append(
                    Representations(
                        application_id=a.pk,
                        institution_legal_name=app.organisation,
                        signatory_name=f"Signatory {signatory[0]}" if filled else "",
                        signatory_role="Vice-rector for research" if filled else "",
                        signatory_email=signatory[1] if filled else "",
                    )
                )
                if submissions:
                    accepts += [
                        StatementAcceptance(
                            application_id=a.pk,
                            statement=code,
                            text=text,
                            accepted_by_id=signatory[0],
                            accepted_at=created + timedelta(hours=20),
                            covered_sha256=hashlib.sha256(f"{a.pk}".encode()).hexdigest(),
                        )
                        for code, text in LEGAL
                    ]
                    rdo = rdos[a.pk % len(rdos)][0]
                    forwarded = app.committee_id is not None
                    for number in range(1, submissions + 1):
                        subs.append(
                            Submission(
                                application_id=a.pk,
                                number=number,
                                submitted_by_id=app.applicant_id,
                                submitted_at=created + timedelta(days=number),
                                snapshot={},  # below: what the product's application_snapshot makes of the rows
                            )
                        )
                        done = forwarded and number == submissions
                        checks.append(
                            RdoChecklist(
                                application_id=a.pk,
                                submission_number=number,
                                ethics_verified=done,
                                dpia_reviewed=done,
                                representations_checked=done,
                                updated_by_id=rdo if done else None,
                            )
                        )
                        if number < submissions or app.status == "returned":
                            comments += [
                                ReturnComment(
                                    application_id=a.pk,
                                    submission_number=number,
                                    section=section,
                                    text="Say how the results will be validated on another site's data.",
                                    author_id=rdo,
                                )
                                for section in rng.sample(SECTIONS, rng.randint(1, 3))
                            ]
                    for k in range(rng.randint(0, 4)):
                        internal = k % 3 == 2
                        messages.append(
                            Message(
                                application_id=a.pk,
                                author_id=rdo if internal or k % 2 == 0 else app.applicant_id,
                                body="Does the ethics approval cover the use of the images for AI training?",
                                internal=internal,
                            )
                        )
            made = EthicsApproval.objects.bulk_create(approvals)
            through = EthicsApproval.datasets.through
            covers = [
                through(ethicsapproval_id=e.pk, applicationdataset_id=item)
                for e in made
                for item in by_app[e.application_id]
            ]
            through.objects.bulk_create(covers)
            made_dpias = Dpia.objects.bulk_create(dpias)
            DpiaRisk.objects.bulk_create(
                [
                    DpiaRisk(
                        dpia_id=d.pk,
                        description="Re-identification from residual DICOM header fields",
                        likelihood=1 + k % 3,
                        severity=3 - k % 3,
                        mitigation="Headers are stripped again on arrival.",
                    )
                    for d in made_dpias
                    if d.residual_risk
                    for k in range(rng.randint(1, 3))
                ]
            )
            Representations.objects.bulk_create(reps)
            StatementAcceptance.objects.bulk_create(accepts)
            # the application as submitted: nothing changes after the (last) submission in this seed
            snapshots = {
                a.pk: application_snapshot(a)
                for a in Application.objects.filter(pk__in={s.application_id for s in subs})
                .select_related(*SNAPSHOT_RELATED)
                .prefetch_related(*snapshot_prefetch())
            }
            for sub in subs:
                sub.snapshot = snapshots[sub.application_id]
            Submission.objects.bulk_create(subs)
            RdoChecklist.objects.bulk_create(checks)
            ReturnComment.objects.bulk_create(comments)
            Message.objects.bulk_create(messages)
    log(
        f"seeded {sizes.applications} applications in {time.perf_counter() - started:.1f} s: "
        + ", ".join(f"{s} {counts.get(s, 0)}" for s in states)
    )


def seed_reviews(rng) -> None:
    """The committee's rows for every forwarded application, as access_requests/services/review.py
    writes them: round 1 opened at the forward (votes cast by some members, one member recused now
    and then, checks recorded) and the decision clock started; an application still in review has
    its round open (a tenth with the clock extended), a decided one has it closed with the chair's
    outcome and the clock stopped."""
    from django.db import transaction

    from access_requests.models import (
        Application,
        CommitteeMembership,
        ConflictDeclaration,
        DecisionClockEvent,
        ReviewCheck,
        ReviewRound,
        Vote,
    )

    if ReviewRound.objects.filter(application__reference__startswith="AR-2025-").exists():
        return
    started = time.perf_counter()
    members: dict[int, list[tuple[int, str]]] = {}
    for committee_id, user_id, role in CommitteeMembership.objects.values_list("committee_id", "user_id", "role"):
        members.setdefault(committee_id, []).append((user_id, role))
    forwarded = Application.objects.filter(reference__startswith="AR-2025-", committee__isnull=False)
    rows = list(forwarded.values_list("pk", "status", "committee_id", "submitted_at", "submission_count"))
    outcome_of = {"rejected": "rejected"}
    choices = ["approve", "approve", "approve", "reject", "abstain", "request_changes"]
    with transaction.atomic():
        for start in range(0, len(rows), 1000):
            rounds, plan, clocks = [], [], []
            for pk, status, committee_id, submitted_at, submissions in rows[start : start + 1000]:
                opened = submitted_at + timedelta(days=2)
                chair = next(u for u, role in members[committee_id] if role == "chair")
                decided = status != "in_review"
                outcome = outcome_of.get(status, "approved") if decided else ""
                rounds.append(
                    ReviewRound(
                        application_id=pk,
                        number=1,
                        committee_id=committee_id,
                        submission_number=submissions,
                        opened_at=opened,
                        voting_deadline=opened + timedelta(days=14),
                        closed_at=opened + timedelta(days=20) if decided else None,
                        outcome=outcome,
                        decided_by_id=chair if decided else None,
                        rationale="The committee's vote and checks support this decision." if decided else "",
                    )
                )
                voters = [u for u, _ in members[committee_id]]
                recused = voters[-1] if rng.random() < 0.1 else None
                casting = [u for u in voters if u != recused][: (4 if decided else rng.randint(0, 4))]
                plan.append((recused, casting, decided))
                clocks.append(DecisionClockEvent(application_id=pk, kind="start", at=opened, months=3))
                if decided:
                    clocks.append(DecisionClockEvent(application_id=pk, kind="stop", at=opened + timedelta(days=20)))
                elif rng.random() < 0.1:
                    clocks.append(
                        DecisionClockEvent(
                            application_id=pk,
                            kind="extend",
                            at=opened + timedelta(days=30),
                            months=2,
                            reason="The committee waits for the data holder's opinion on re-identification risks.",
                            actor_id=chair,
                        )
                    )
            made = ReviewRound.objects.bulk_create(rounds)
            conflicts, votes, checks = [], [], []
            for review_round, (recused, casting, decided) in zip(made, plan, strict=True):
                if recused:
                    conflicts.append(
                        ConflictDeclaration(
                            round_id=review_round.pk, member_id=recused, reason="I co-authored with the applicant."
                        )
                    )
                for k, user_id in enumerate(casting):
                    choice = "approve" if decided and review_round.outcome == "approved" else rng.choice(choices)
                    votes.append(
                        Vote(
                            round_id=review_round.pk,
                            member_id=user_id,
                            choice=choice,
                            rationale="" if choice == "approve" else "The DPIA leaves a re-identification risk.",
                            cast_at=review_round.opened_at + timedelta(days=1 + k),
                        )
                    )
                    checks.append(
                        ReviewCheck(
                            round_id=review_round.pk,
                            member_id=user_id,
                            kind="legal" if k % 2 == 0 else "technical",
                            answers={"legal_basis": True} if k % 2 == 0 else {"environment": True},
                            notes="",
                        )
                    )
            ConflictDeclaration.objects.bulk_create(conflicts)
            Vote.objects.bulk_create(votes)
            ReviewCheck.objects.bulk_create(checks)
            DecisionClockEvent.objects.bulk_create(clocks)
    log(f"seeded review rounds of {len(rows)} forwarded applications in {time.perf_counter() - started:.1f} s")


BREACH = "The data holder reported a breach of the conditions."


def seed_grants(rng) -> None:  # noqa: C901  # one pass writes every part of a batch
    """What execution writes for every application that reached access, as services/agreements.py
    `agreement_execute` and services/grants.py `grants_issue` do: the executed agreement and one grant
    per requested dataset for the applicant and the joined team; download records on half the
    active download grants, a pending extension request on a twentieth, and the closeout of half the
    closed applications. Closed applications' grants have expired, revoked ones' were revoked."""
    from django.db import transaction
    from django.utils import timezone

    from access_requests.models import (
        Agreement,
        AgreementParty,
        AgreementSignature,
        AgreementVersion,
        Application,
        ApplicationDataset,
        Closeout,
        Download,
        ExtensionRequest,
        Grant,
        Representations,
        ReviewRound,
        TeamMember,
    )
    from access_requests.models.applications import access_period_end
    from catalogue.models import DataHolder, Dataset, DatasetFile, Stewardship
    from portal.models import User

    if Grant.objects.filter(application__reference__startswith="AR-2025-").exists():
        return
    started = time.perf_counter()
    apps = Application.objects.filter(reference__startswith="AR-2025-", status__in=["active", "closed", "revoked"])
    rounds = {
        app_id: (pk, closed_at)
        for app_id, pk, closed_at in ReviewRound.objects.filter(application__in=apps, outcome="approved").values_list(
            "application_id", "pk", "closed_at"
        )
    }
    requested: dict[int, list] = {}
    for row in ApplicationDataset.objects.filter(application__in=apps).values_list(
        "pk", "application_id", "dataset_id", "access_mode_id", "access_mode__code"
    ):
        requested.setdefault(row[1], []).append(row)
    team: dict[int, list[int]] = {}
    for app_id, user_id in TeamMember.objects.filter(
        application__in=apps, user__isnull=False, joined_at__isnull=False
    ).values_list("application_id", "user_id"):
        team.setdefault(app_id, []).append(user_id)
    datasets = {row[2] for rows in requested.values() for row in rows}
    holder_of = dict(Dataset.objects.filter(pk__in=datasets).values_list("pk", "holder_id"))
    holder_names = dict(DataHolder.objects.values_list("pk", "name"))
    stewards: dict[int, list[int]] = {}
    for holder_id, user_id in Stewardship.objects.order_by("user__email").values_list("holder_id", "user_id"):
        stewards.setdefault(holder_id, []).append(user_id)
    rdos = list(User.objects.filter(email__startswith="rdo").order_by("email").values_list("pk", "full_name"))
    signers = dict(User.objects.filter(email__startswith="signatory").values_list("email", "pk"))
    reps = {
        app_id: (name, role, email)
        for app_id, name, role, email in Representations.objects.filter(application__in=apps).values_list(
            "application_id", "signatory_name", "signatory_role", "signatory_email"
        )
    }
    institution = dict(apps.values_list("pk", "organisation"))
    files: dict[int, list[tuple[int, int]]] = {}
    for file_id, dataset_id, size in DatasetFile.objects.filter(dataset_id__in=datasets).values_list(
        "pk", "dataset_id", "size_bytes"
    ):
        if len(files.setdefault(dataset_id, [])) < 3:
            files[dataset_id].append((file_id, size))
    now = timezone.now()
    today = timezone.localdate()
    # the published datasets passed the de-identification check, so their files may be released
    Dataset.objects.filter(status="published", anonymisation_verified_on__isnull=True).update(
        anonymisation_verified_on=today - timedelta(days=100)
    )
    rows = list(apps.values_list("pk", "reference", "status", "access_start", "access_months", "applicant_id"))
    counts = {"agreements": 0, "grants": 0, "downloads": 0}
    with transaction.atomic():
        for first in range(0, len(rows), 1000):
            batch = [r for r in rows[first : first + 1000] if r[0] in rounds]
            agreements = Agreement.objects.bulk_create(
                Agreement(
                    application_id=pk,
                    round_id=rounds[pk][0],
                    reference=f"DAA-{reference}",
                    status="executed",
                    executed_at=rounds[pk][1] + timedelta(days=5),
                    executed_path=f"applications/{reference}/executed.pdf",
                    executed_sha256=f"{rng.getrandbits(256):064x}",
                    executed_size=180_000,
                    seal_certificate_sha256="0" * 64,
                )
                for pk, reference, *_ in batch
            )
            counts["agreements"] += len(agreements)
            versions = AgreementVersion.objects.bulk_create(
                AgreementVersion(
                    agreement_id=agreement.pk,
                    number=1,
                    template_version="2026.1",
                    reason="The first version, after the committee's approval.",
                    snapshot={"application": {"reference": reference}},
                    path=f"applications/{reference}/agreement-v1.pdf",
                    sha256=f"{rng.getrandbits(256):064x}",
                    size=170_000,
                    rendered_at=rounds[pk][1] + timedelta(days=1),
                )
                for agreement, (pk, reference, *_) in zip(agreements, batch, strict=True)
            )
            # the parties agreement_render names (the institution's signatory, each data holder, the
            # RDO) and their online signatures over the version's bytes, all before execution
            parties, signers_of = [], []
            for version, (pk, *_rest) in zip(versions, batch, strict=True):
                name, role, email = reps[pk]
                holders = sorted({holder_of[row[2]] for row in requested.get(pk, [])})
                rdo = rdos[pk % len(rdos)]
                spec = [("signatory", None, institution[pk], f"{name}, {role}", email, signers[email], name)]
                spec += [
                    ("steward", h, holder_names[h], "", "", stewards[h][pk % len(stewards[h])], f"Steward {h}")
                    for h in holders
                ]
                spec.append(("rdo", None, "The Research Data Office", "", "", rdo[0], rdo[1]))
                for position, (kind, holder, party_name, representative, address, user_id, typed) in enumerate(spec):
                    parties.append(
                        AgreementParty(
                            version_id=version.pk,
                            kind=kind,
                            holder_id=holder,
                            name=party_name,
                            representative=representative,
                            email=address,
                            position=position,
                        )
                    )
                    signers_of.append((version, user_id, typed, position))
            made_parties = AgreementParty.objects.bulk_create(parties)
            AgreementSignature.objects.bulk_create(
                AgreementSignature(
                    version_id=version.pk,
                    party_id=party.pk,
                    method="online",
                    user_id=user_id,
                    typed_name=typed,
                    signed_at=version.rendered_at + timedelta(days=1, hours=position),
                    ip="192.0.2.10",
                    user_agent="Mozilla/5.0",
                    shown_sha256=version.sha256,
                )
                for party, (version, user_id, typed, position) in zip(made_parties, signers_of, strict=True)
            )
            grants, plans = [], []
            for agreement, (pk, _, status, start, months, applicant) in zip(agreements, batch, strict=True):
                rdo = rdos[pk % len(rdos)][0]
                start = start or today - timedelta(days=30)
                end = access_period_end(start, months or 12)
                for req_pk, _, dataset_id, mode_id, code in requested.get(pk, []):
                    if mode_id is None:
                        continue
                    state, until, ended = "active", end, None
                    if status == "closed" or end < today:
                        state, until, ended = "expired", min(end, today - timedelta(days=1)), now - timedelta(days=35)
                    elif status == "revoked":
                        state, ended = "revoked", now - timedelta(days=35)
                    grants.append(
                        Grant(
                            application_id=pk,
                            agreement_id=agreement.pk,
                            requested_id=req_pk,
                            dataset_id=dataset_id,
                            kind="download" if code == "DOWNLOAD" else "processing",
                            access_mode_id=mode_id,
                            status=state,
                            valid_from=min(start, until),
                            valid_until=until,
                            limited_by="agreement",
                            agreement_end=end,
                            issued_at=agreement.executed_at,
                            ended_at=ended,
                            revoked_by_id=rdo if state == "revoked" else None,
                            revoke_reason="The data holder reported a breach of the conditions."
                            if ended and state == "revoked"
                            else "",
                        )
                    )
                    plans.append(sorted({applicant, *team.get(pk, [])}))
            made = Grant.objects.bulk_create(grants)
            counts["grants"] += len(made)
            through = Grant.grantees.through
            through.objects.bulk_create(
                through(grant_id=grant.pk, user_id=user_id)
                for grant, users in zip(made, plans, strict=True)
                for user_id in users
            )
            downloads, extensions = [], []
            for grant, users in zip(made, plans, strict=True):
                if grant.status != "active":
                    continue
                # downloads in the grant's days (its first day may lie ahead)
                if grant.kind == "download" and grant.valid_from <= today - timedelta(days=3) and rng.random() < 0.5:
                    for k, (file_id, size) in enumerate(files.get(grant.dataset_id, [])):
                        downloads.append(
                            Download(
                                grant_id=grant.pk,
                                user_id=users[0],
                                file_id=file_id,
                                started_at=now - timedelta(days=k + 1),
                                bytes_sent=size,
                                ip="192.0.2.44",
                                user_agent="portal-download/1.0",
                            )
                        )
                if rng.random() < 0.05:
                    extensions.append(
                        ExtensionRequest(
                            grant_id=grant.pk,
                            requested_by_id=users[0],
                            requested_at=now - timedelta(days=2),
                            requested_until=grant.valid_until + timedelta(days=90),
                            reason="The validation study needs three more months.",
                        )
                    )
            counts["downloads"] += len(Download.objects.bulk_create(downloads))
            ExtensionRequest.objects.bulk_create(extensions)
            Closeout.objects.bulk_create(
                Closeout(
                    application_id=pk,
                    attested_by_id=applicant,
                    attested_at=now - timedelta(days=20),
                    copies_deleted=True,
                    statement="Every copy was deleted from the project storage and its backups.",
                )
                for pk, _, status, _, _, applicant in batch
                if status == "closed" and rng.random() < 0.5
            )
        Application.objects.filter(pk__in=[r[0] for r in rows if r[2] != "active"]).update(
            ended_at=now - timedelta(days=35)
        )
    log(
        f"seeded {counts['agreements']} executed agreements, {counts['grants']} grants and "
        f"{counts['downloads']} downloads in {time.perf_counter() - started:.1f} s"
    )


# The events of no particular state change, spread over the chain between the applications' own
# (verb, target kind, who acts, weight): sign-ins and documents opened dominate, as the issue says.
# "applicant" and "rdo" act on a random application (its applicant, an RDO officer); "anyone" on
# their own account; "steward" on a dataset.
VERBS = [
    ("user.login", "user", "anyone", 30),
    ("document.view", "application", "applicant", 18),
    ("application.update", "application", "applicant", 12),
    ("application.note", "application", "rdo", 4),
    ("application.checklist_update", "application", "rdo", 3),
    ("application.dpia_update", "application", "applicant", 3),
    ("application.ethics_add", "application", "applicant", 2),
    ("dataset.update", "dataset", "steward", 8),
    ("dataset.files_register", "dataset", "steward", 3),
    ("user.logout", "user", "anyone", 2),
    ("api_token.create", "user", "anyone", 1),
]
AGREEMENTS_SYSTEM = "system:agreements"  # the actor labels of access_requests/services/agreements.py and grants.py
GRANTS_SYSTEM = "system:grants"
WITHDRAW_REASON = "The study lost its funding."


def lifecycle_events(first_at: datetime) -> list[tuple]:  # noqa: C901  # one pass per kind of row
    """The events the services wrote for the seeded rows, in time order: each committee's creation;
    each application's creation and transitions (payload `status` as the transition left it), its
    round's conflicts, checks, votes and decision, its agreement's signatures and execution, the
    grants issued, every download served, and the end (grants expired and the application closed,
    or revoked). Tuples (at, actor_id, actor_label, verb, target_type, target_id, target_label, payload)."""
    from access_requests.models import (
        AgreementSignature,
        AgreementVersion,
        Application,
        ApplicationDataset,
        Committee,
        ConflictDeclaration,
        Download,
        Grant,
        ReturnComment,
        ReviewCheck,
        ReviewRound,
        Submission,
        TeamMember,
        Vote,
    )
    from portal.models import User

    emails = dict(User.objects.values_list("pk", "email"))
    rdos = list(User.objects.filter(email__startswith="rdo").order_by("email").values_list("pk", flat=True))
    events: list[tuple] = []
    us = timedelta(microseconds=1)

    def add(at, actor, verb, target, payload):
        actor_id, label = (None, actor) if isinstance(actor, str) else (actor, emails[actor])
        events.append((at, actor_id, label, verb, *target, payload))

    for k, (pk, name, quorum) in enumerate(Committee.objects.order_by("pk").values_list("pk", "name", "quorum")):
        add(
            first_at + timedelta(minutes=k),
            rdos[0],
            "committee.create",
            ("access_requests.committee", str(pk), name),
            {"name": name, "quorum": quorum},
        )
    datasets: dict[int, list[str]] = {}
    for app_id, identifier in ApplicationDataset.objects.order_by("pk").values_list(
        "application_id", "dataset__identifier"
    ):
        datasets.setdefault(app_id, []).append(identifier)
    submissions: dict[int, list] = {}
    for app_id, number, at in Submission.objects.order_by("number").values_list(
        "application_id", "number", "submitted_at"
    ):
        submissions.setdefault(app_id, []).append((number, at))
    sections: dict[tuple[int, int], set[str]] = {}
    for app_id, number, section in ReturnComment.objects.values_list("application_id", "submission_number", "section"):
        sections.setdefault((app_id, number), set()).add(section)
    rounds = {
        row[0]: row[1:]
        for row in ReviewRound.objects.values_list(
            "application_id",
            "pk",
            "number",
            "opened_at",
            "closed_at",
            "outcome",
            "decided_by_id",
            "committee_id",
            "committee__name",
        )
    }
    by_round: dict[int, list] = {}
    for round_id, member_id, reason in ConflictDeclaration.objects.values_list("round_id", "member_id", "reason"):
        by_round.setdefault(round_id, []).append(("conflict", member_id, reason))
    for round_id, member_id, choice, cast_at in Vote.objects.order_by("cast_at").values_list(
        "round_id", "member_id", "choice", "cast_at"
    ):
        by_round.setdefault(round_id, []).append(("vote", member_id, choice, cast_at))
    for round_id, member_id, kind, answers in ReviewCheck.objects.values_list(
        "round_id", "member_id", "kind", "answers"
    ):
        by_round.setdefault(round_id, []).append(("check", member_id, kind, answers))
    agreements = {
        row[0]: row[1:]
        for row in AgreementVersion.objects.filter(superseded_at__isnull=True).values_list(
            "agreement__application_id",
            "agreement__reference",
            "number",
            "sha256",
            "rendered_at",
            "agreement__executed_at",
            "agreement__executed_sha256",
        )
    }
    signatures: dict[int, list] = {}
    for row in AgreementSignature.objects.order_by("signed_at").values_list(
        "version__agreement__application_id", "user_id", "party__name", "party__kind", "shown_sha256", "signed_at", "ip"
    ):
        signatures.setdefault(row[0], []).append(row[1:])
    grants: dict[int, list] = {}
    for row in Grant.objects.order_by("pk").values_list(
        "application_id",
        "pk",
        "dataset__identifier",
        "kind",
        "valid_from",
        "valid_until",
        "limited_by",
        "status",
        "ended_at",
        "revoke_reason",
    ):
        grants.setdefault(row[0], []).append(row[1:])
    grantees: dict[int, set[str]] = {}
    for app_id, email in Grant.grantees.through.objects.values_list("grant__application_id", "user__email"):
        grantees.setdefault(app_id, set()).add(email)
    downloads: dict[int, list] = {}
    for row in Download.objects.order_by("started_at").values_list(
        "grant__application_id",
        "pk",
        "grant_id",
        "grant__dataset__identifier",
        "user_id",
        "file_id",
        "file__path",
        "file__sha256",
        "started_at",
        "range_start",
        "range_end",
        "bytes_sent",
        "status_code",
        "mode",
        "ip",
    ):
        downloads.setdefault(row[0], []).append(row[1:])
    joined: dict[int, list] = {}
    for app_id, email, user_id, at in TeamMember.objects.filter(
        joined_at__isnull=False, user__isnull=False, invited_by__isnull=False
    ).values_list("application_id", "email", "user_id", "joined_at"):
        joined.setdefault(app_id, []).append((email, user_id, at))

    for pk, reference, title, status, applicant, created, ended_at, end_reason in Application.objects.order_by(
        "pk"
    ).values_list("pk", "reference", "title", "status", "applicant_id", "created_at", "ended_at", "end_reason"):
        app = ("access_requests.application", str(pk), f"{reference} {title}"[:300])
        rdo = rdos[pk % len(rdos)]
        add(created, applicant, "application.create", app, {"reference": reference, "datasets": datasets.get(pk, [])})
        for email, user_id, at in joined.get(pk, []):
            add(at + us, user_id, "application.team_accept", app, {"email": email})
        subs = submissions.get(pk, [])
        for number, at in subs:
            verb = "application.resubmit" if number > 1 else "application.submit"
            add(at, applicant, verb, app, {"status": "submitted", "submission": number})
            if number < len(subs) or status == "returned":
                add(
                    at + timedelta(hours=6),
                    rdo,
                    "application.return",
                    app,
                    {"status": "returned", "sections": sorted(sections.get((pk, number), ()))},
                )
        if status == "withdrawn":
            at = (subs[-1][1] if subs else created) + timedelta(days=1)
            add(
                at,
                applicant,
                "application.withdraw",
                app,
                {"status": "withdrawn", "from": "submitted" if subs else "draft", "reason": WITHDRAW_REASON},
            )
        if pk in rounds:
            round_id, number, opened, closed, outcome, chair, committee_id, committee = rounds[pk]
            add(
                opened,
                rdo,
                "application.forward",
                app,
                {"status": "in_review", "committee": committee, "committee_id": committee_id, "round": number},
            )
            for row in by_round.get(round_id, []):
                if row[0] == "conflict":
                    add(
                        opened + timedelta(hours=6),
                        row[1],
                        "review.conflict_declare",
                        app,
                        {"round": number, "reason": row[2]},
                    )
                elif row[0] == "vote":
                    add(row[3], row[1], "review.vote", app, {"round": number, "choice": row[2]})
                else:
                    add(
                        opened + timedelta(days=1, hours=1),
                        row[1],
                        "review.check_record",
                        app,
                        {"round": number, "kind": row[2], "answers": row[3]},
                    )
            if outcome:
                verb = "application.decide_approve" if outcome == "approved" else "application.decide_reject"
                add(
                    closed,
                    chair,
                    verb,
                    app,
                    {
                        "status": outcome,
                        "round": number,
                        "rule": "the committee's vote allowed it",
                        "datasets": {identifier: outcome == "approved" for identifier in datasets.get(pk, [])},
                    },
                )
        if pk in agreements:
            agreement, version, sha256, rendered, executed, executed_sha256 = agreements[pk]
            add(
                rendered,
                AGREEMENTS_SYSTEM,
                "agreement.render",
                app,
                {"agreement": agreement, "version": version, "sha256": sha256},
            )
            signed = signatures.get(pk, [])
            for user_id, party, kind, shown, at, ip in signed:
                add(
                    at,
                    user_id,
                    "agreement.sign",
                    app,
                    {
                        "agreement": agreement,
                        "version": version,
                        "party": party,
                        "kind": kind,
                        "sha256": shown,
                        "ip": ip or "",
                    },
                )
            add(
                executed,
                AGREEMENTS_SYSTEM,
                "agreement.execute",
                app,
                {
                    "agreement": agreement,
                    "version": version,
                    "version_sha256": sha256,
                    "sha256": executed_sha256,
                    "signatures": len(signed),
                },
            )
            add(
                executed + us,
                AGREEMENTS_SYSTEM,
                "application.activate",
                app,
                {"status": "active", "agreement": agreement},
            )
            issued = grants.get(pk, [])
            add(
                executed + 2 * us,
                GRANTS_SYSTEM,
                "grant.issue",
                app,
                {
                    "agreement": agreement,
                    "grants": [
                        {
                            "grant": g[0],
                            "dataset": g[1],
                            "kind": g[2],
                            "valid_from": g[3].isoformat(),
                            "valid_until": g[4].isoformat(),
                            "limited_by": g[5],
                        }
                        for g in issued
                    ],
                    "grantees": sorted(grantees.get(pk, ())),
                    "withheld": [],
                },
            )
            for (
                download,
                grant,
                identifier,
                user_id,
                file_id,
                path,
                file_sha256,
                at,
                first,
                last,
                sent,
                code,
                mode,
                ip,
            ) in downloads.get(pk, []):
                add(
                    at,
                    user_id,
                    "download.serve",
                    app,
                    {
                        "download": download,
                        "grant": grant,
                        "dataset": identifier,
                        "file": file_id,
                        "path": path,
                        "sha256": file_sha256,
                        "range": None if first is None else [first, last],
                        "bytes": sent,
                        "status": code,
                        "mode": mode,
                        "ip": ip,
                    },
                )
            if status == "closed":
                for g in issued:
                    add(
                        g[7],
                        GRANTS_SYSTEM,
                        "grant.expire",
                        app,
                        {"grant": g[0], "dataset": g[1], "ended_on": str(g[4])},
                    )
                add(ended_at + us, GRANTS_SYSTEM, "application.close", app, {"status": "closed", "reason": end_reason})
            elif status == "revoked":
                add(
                    ended_at,
                    rdo,
                    "application.revoke",
                    app,
                    {"status": "revoked", "grants": [g[0] for g in issued if g[6] == "revoked"], "reason": BREACH},
                )
            else:
                for g in issued:
                    if g[6] == "expired":
                        add(
                            g[7],
                            GRANTS_SYSTEM,
                            "grant.expire",
                            app,
                            {"grant": g[0], "dataset": g[1], "ended_on": str(g[4])},
                        )
    events.sort(key=lambda e: e[0])  # stable: an application's events at one moment keep their order
    return events


def seed_audit(total: int, rng) -> None:  # noqa: C901  # one generator merges the two streams
    """Events 1..total chained with `portal.services.audit.event_hash`, continuing the current head:
    the events of every seeded row (`lifecycle_events`) at their moments, and between them events of
    no state change (`VERBS`) up to `total` in all."""
    from django.db import connection, transaction

    from access_requests.models import Application
    from catalogue.models import Dataset, Stewardship
    from portal.models import AuditChainHead, AuditEvent, User
    from portal.services.audit import EVENT_FIELDS, GENESIS_HASH, event_hash

    with transaction.atomic():
        head = AuditChainHead.objects.select_for_update().filter(id=1).first()
        seq, prev = (head.seq, head.hash) if head else (0, GENESIS_HASH)
        if seq >= total:
            return
        started = time.perf_counter()
        users = list(User.objects.values_list("pk", "email"))
        emails = dict(users)
        rdos = list(User.objects.filter(email__startswith="rdo").values_list("pk", "email"))
        stewards = list(Stewardship.objects.values_list("user_id", "user__email"))
        apps = list(Application.objects.values_list("pk", "reference", "title", "applicant_id")[:50_000])
        datasets = list(Dataset.objects.values_list("pk", "identifier", "title")[:50_000])
        verbs = [v[0] for v in VERBS]
        spec = {v[0]: v[1:3] for v in VERBS}
        weights = [v[3] for v in VERBS]
        first_at = datetime.now(UTC) - timedelta(days=730)
        life = lifecycle_events(first_at)
        missing = max(total - seq - len(life), 0)  # the other events, so that the chain holds `total`
        step = timedelta(days=729) / max(missing, 1)
        log(f"{len(life)} events of the seeded rows, {missing} others")

        def other(k: int) -> tuple:
            verb = rng.choices(verbs, weights)[0]
            kind, who = spec[verb]
            if kind == "user":
                actor = rng.choice(users)
                target = ("portal.user", str(actor[0]), actor[1])
                payload = {"ip": f"10.0.{k % 250}.{k % 199}"}
            elif kind == "application":
                pk, ref, title, applicant = rng.choice(apps)
                actor = rng.choice(rdos) if who == "rdo" else (applicant, emails[applicant])
                target = ("access_requests.application", str(pk), f"{ref} {title}"[:300])
                payload = {"reference": ref}
            else:
                actor = rng.choice(stewards)
                pk, identifier, title = rng.choice(datasets)
                target = ("catalogue.dataset", str(pk), f"{title} ({identifier})"[:300])
                payload = {"identifier": identifier}
            return (first_at + step * k, actor[0], actor[1], verb, *target, payload)

        def merged():
            i = 0
            for k in range(missing):
                event = other(k)
                while i < len(life) and life[i][0] <= event[0]:
                    yield life[i]
                    i += 1
                yield event
            yield from life[i:]

        def rows():
            nonlocal seq, prev
            for created, actor_id, actor_label, verb, target_type, target_id, target_label, payload in merged():
                seq += 1
                digest = event_hash(
                    seq=seq,
                    created_at=created,
                    actor_id=actor_id,
                    actor_label=actor_label,
                    verb=verb,
                    target_type=target_type,
                    target_id=target_id,
                    target_label=target_label,
                    payload=payload,
                    prev_hash=prev,
                )
                yield (
                    seq,
                    created,
                    actor_id,
                    actor_label,
                    verb,
                    target_type,
                    target_id,
                    target_label,
                    json.dumps(payload),
                    prev,
                    digest,
                )
                prev = digest

        n = _copy(AuditEvent._meta.db_table, list(EVENT_FIELDS), rows())
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {AuditChainHead._meta.db_table} (id, seq, hash, updated_at) "  # noqa: S608  # nosec B608
                "VALUES (1, %s, %s, now()) "
                "ON CONFLICT (id) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash, updated_at = now()",
                [seq, prev],
            )
    log(f"seeded {n} audit events (chain now #{seq}) in {time.perf_counter() - started:.1f} s (event_hash + COPY)")


def seed(sizes) -> float:
    import search_bench
    from django.db import connection

    started = time.perf_counter()
    rng = random.Random(SEED)
    seed_holders()
    search_bench.seed(sizes.datasets, False)
    seed_files(sizes.files, rng)
    seed_people(sizes, rng)
    seed_index(rng)
    seed_applications(sizes, rng)
    seed_reviews(rng)
    seed_grants(rng)
    seed_audit(sizes.audit_events, rng)
    seconds = time.perf_counter() - started
    if seconds > 5:
        vacuum = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        log(f"VACUUM ANALYZE in {time.perf_counter() - vacuum:.1f} s")
    return time.perf_counter() - started


def describe_data() -> str:
    from django.db.models import Count

    from access_requests.models import Application
    from catalogue.models import Dataset, DatasetFile
    from portal.models import AuditChainHead, User

    head = AuditChainHead.objects.filter(id=1).first()
    states = dict(Application.objects.values_list("status").annotate(n=Count("pk")).order_by())
    return (
        f"{Application.objects.count()} applications ({', '.join(f'{k} {v}' for k, v in sorted(states.items()))}); "
        f"{head.seq if head else 0} audit events; {Dataset.objects.count()} datasets with "
        f"{DatasetFile.objects.count()} files; {User.objects.count()} users"
    )


# --- who asks, and about what ----------------------------------------------------------------


def pick_people() -> dict:
    from django.db.models import Count

    from access_requests.models import Application
    from catalogue.models import Stewardship
    from portal.models import User

    rdo = User.objects.get(email="rdo0@bench.example")
    researcher = User.objects.get(email="r00000@bench.example")
    steward = User.objects.get(pk=Stewardship.objects.order_by("pk").values("user_id")[:1])
    committee = User.objects.filter(committee_memberships__isnull=False).order_by("email").first()
    # a submitted application with two submissions and messages: the heaviest page an RDO opens
    app = (
        Application.objects.filter(status="submitted", submission_count=2, reference__startswith="AR-2025-")
        .annotate(m=Count("messages"))
        .order_by("-m", "pk")
        .first()
        or Application.objects.filter(status="submitted").order_by("pk").first()
    )
    # an application in review before the picked member's committee, with votes cast in its round
    review = (
        Application.objects.filter(
            status="in_review", committee__memberships__user=committee, reference__startswith="AR-2025-"
        )
        .annotate(v=Count("review_rounds__votes"))
        .order_by("-v", "pk")
        .first()
    )
    # the grantee with the most active grants, and their download grant with the most files
    from django.utils import timezone

    from access_requests.models import Grant

    today = timezone.localdate()
    grant = (
        Grant.objects.filter(
            status="active",
            kind="download",
            valid_from__lte=today,
            valid_until__gte=today,
            application__status="active",
            application__reference__startswith="AR-2025-",
        )
        .annotate(f=Count("dataset__files"))
        .order_by("-f", "pk")
        .first()
    )
    grantee = (
        User.objects.filter(grants__status="active").annotate(g=Count("grants")).order_by("-g", "pk").first()
        if grant is None
        else grant.grantees.order_by("pk").first()
    )
    active = Application.objects.filter(status="active", reference__startswith="AR-2025-").order_by("pk").first()
    return {
        "people": {
            "rdo": rdo,
            "researcher": researcher,
            "steward": steward,
            "committee": committee,
            "applicant": app.applicant,
            "grantee": grantee,
        },
        "objects": {
            "app": app.pk,
            "review": review.pk,
            "grant": grant.pk if grant else 0,
            "active": grant.application_id if grant else active.pk,
            "ingested": ingested_dataset().identifier,
        },
    }


def target_path(target: Target, picked: dict, deep: str) -> str:
    from django.urls import reverse

    path = reverse(target.url, kwargs={k: picked["objects"][v] for k, v in target.kwargs})
    query = deep if target.query == "@deep" else target.query
    if query == "@dcat-deep":
        query = f"page={deep_export_page()}"
    return f"{path}?{query}" if query else path


def deep_export_page() -> int:
    """The catalogue export's page 3/4 of the way through the published datasets (at any scale)."""
    from catalogue.dcat_pages import EXPORT_PAGE_SIZE
    from catalogue.models import Dataset, DatasetStatus

    pages = max(1, -(-Dataset.objects.filter(status=DatasetStatus.PUBLISHED).count() // EXPORT_PAGE_SIZE))
    return max(1, pages * 3 // 4)


def deep_audit_query(get) -> tuple[str, str]:
    """The deep audit page, as the current code pages: by sequence number (`before=`, keyset) when
    its next link says so, else by page number, 3/4 of the way to the oldest event."""
    from django.urls import reverse

    from portal.models import AuditChainHead

    html = get(reverse("audit_log"))
    head = AuditChainHead.objects.get(id=1).seq
    links = re.findall(r'href="\?([^"]+)"', html) + re.findall(r'href="[^"?]*audit/\?([^"]+)"', html)
    links = [link.replace("&amp;", "&") for link in links]
    for key in ("before", "after_seq", "seq"):
        if any(re.search(rf"(^|&){key}=\d+", link) for link in links):
            return f"{key}={max(2, head // 4)}", f"keyset `?{key}=` at event #{max(2, head // 4)} of {head}"
    cursor = next((link for link in links if "cursor=" in link), None)
    if cursor:
        return cursor, "opaque cursor: the second page only (no deep page can be named)"
    pages = max(1, -(-head // 50))
    page = max(1, pages * 3 // 4)
    return f"page={page}", f"page number `?page={page}` of {pages} (OFFSET {50 * (page - 1)})"


# --- SQL statements per target, in-process ---------------------------------------------------


def count_statements(picked: dict, deep: str) -> dict[str, int]:
    from django.db import connection
    from django.test import Client

    clients = {None: Client()}
    for key, user in picked["people"].items():
        clients[key] = Client()
        clients[key].force_login(user)
    executed = []

    def counter(execute, sql, params, many, context):
        executed.append(sql)
        return execute(sql, params, many, context)

    result = {}
    for target in TARGETS:
        client = clients[target.who]
        path = target_path(target, picked, deep)
        if target.cap is None:
            first = client.get(path)  # warm-up: caches fill, as they would for the second visitor
            assert first.status_code == 200, f"{target.label}: {path} answered {first.status_code}"
        executed.clear()
        with connection.execute_wrapper(counter):
            response = client.get(path)
        assert response.status_code == 200, f"{target.label}: {path} answered {response.status_code}"
        result[target.label] = len(executed)
        if target.cap is not None:
            log(f"counted the statements of {target.label}")
    return result


# --- HTTP latency ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(env: dict, workers: int, threads: int) -> tuple[subprocess.Popen, int]:
    port = free_port()
    gunicorn = Path(sys.executable).with_name("gunicorn")
    proc = subprocess.Popen(  # nosec B603  # fixed arguments: the venv's gunicorn on a local port
        [
            str(gunicorn),
            "portal.wsgi:application",
            "--worker-class",
            "gthread",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "--timeout",
            "900",
        ],
        cwd=ROOT,
        env={**os.environ, **env},
    )
    atexit.register(lambda: proc.poll() is None and proc.send_signal(signal.SIGTERM))
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, port
        except OSError:
            if proc.poll() is not None:
                sys.exit("scale_bench: gunicorn exited at start")
            time.sleep(0.2)
    sys.exit("scale_bench: gunicorn did not listen within 20 s")


class HttpClient:
    """One keep-alive connection per visitor, sending the visitor's session cookie."""

    def __init__(self, port: int, cookie: str = ""):
        self.port, self.cookie = port, cookie
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=900)

    def get(self, path: str) -> tuple[int, bytes]:
        headers = {"Host": "127.0.0.1", "Accept": "*/*"}
        if self.cookie:
            headers["Cookie"] = self.cookie
        for attempt in (1, 2):
            try:
                self.conn.request("GET", path, headers=headers)
                response = self.conn.getresponse()
                return response.status, response.read()
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=900)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def session_cookie(user) -> str:
    """A signed-in session made as the login view makes it, stored where the server reads it."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def measure_http(port: int, picked: dict, deep: str, rounds: int, warmup: int) -> list[tuple]:
    clients = {None: HttpClient(port)}
    for key, user in picked["people"].items():
        clients[key] = HttpClient(port, session_cookie(user))
    paths = [(t, target_path(t, picked, deep)) for t in TARGETS]
    timings: dict[str, list[float]] = {t.label: [] for t in TARGETS}
    sizes: dict[str, int] = {}
    loads = []
    for r in range(warmup + rounds):
        loads.append(os.getloadavg()[0])
        if r and r % 10 == 0:
            log(f"round {r} of {warmup + rounds}; load {load()}")
        for target, path in paths:
            if target.cap is not None and (
                r < warmup or (r - warmup) % max(1, rounds // target.cap) or len(timings[target.label]) >= target.cap
            ):
                continue
            started = time.perf_counter()
            status, body = clients[target.who].get(path)
            elapsed = (time.perf_counter() - started) * 1000
            if status != 200:
                raise SystemExit(f"scale_bench: {target.label} {path} answered {status}: {body[:300]!r}")
            sizes[target.label] = len(body)
            if r >= warmup:
                timings[target.label].append(elapsed)
    floor = percentile(timings[FLOOR.label], 0.95)
    rows = []
    for target, path in paths:
        t = timings[target.label]
        p95 = percentile(t, 0.95)
        rows.append((target.label, path, len(t), statistics.median(t), p95, p95 / floor, sizes[target.label]))
    return rows, (min(loads), max(loads))


# --- transitions -----------------------------------------------------------------------------


def transition_applications(count: int) -> list[int]:
    """`count` complete applications made through the product's services (the demo's `_fill`), each
    a draft ready to submit; made afresh every run, so their dates always pass the submission check."""
    from access_requests import demo
    from access_requests.services.applications import application_create
    from catalogue.models import Dataset
    from portal.models import User

    applicant = User.objects.get(email="r00001@bench.example")
    signatory = User.objects.get(email="signatory00@bench.example")
    pool = list(
        Dataset.objects.filter(status="published")
        .order_by("pk")
        .prefetch_related("access_modes", "use_conditions__term")[:400]
    )
    ids = []
    for k in range(count):
        chosen, fit = demo._choose(pool, (k * 37) % len(pool), applicant.country)
        application = application_create(actor=applicant, title=f"Transition benchmark {k}", datasets=chosen)
        ids.append(demo._fill(application, applicant, fit, signatory).pk)
    return ids


def _transition_worker(app_id: int, rdo_email: str, seconds: float, start_at: float, queue) -> None:
    from django.db import connections

    connections.close_all()
    from access_requests.models import Application
    from access_requests.services import transitions as tr
    from portal.models import User

    rdo = User.objects.get(email=rdo_email)
    application = Application.objects.select_related("applicant").get(pk=app_id)
    applicant = application.applicant
    while time.time() < start_at:
        time.sleep(0.001)
    done, deadline = 0, start_at + seconds
    while time.time() < deadline:
        if application.status == "submitted":
            application = tr.application_return(
                actor=rdo, application=application, comments={"dpia": "Name the data-protection officer's office."}
            )
        else:
            application = tr.application_submit(actor=applicant, application=application)
        done += 1
    connections.close_all()
    queue.put(done)


def measure_transitions(levels: list[int], seconds: float) -> list[tuple[int, int, float]]:
    from django.db import connections

    ids = transition_applications(max(levels))
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    rows = []
    for n in levels:
        queue = ctx.Queue()
        start_at = time.time() + 1.0
        procs = [
            ctx.Process(target=_transition_worker, args=(ids[k], f"rdo{k % 5}@bench.example", seconds, start_at, queue))
            for k in range(n)
        ]
        for p in procs:
            p.start()
        total = sum(queue.get(timeout=seconds + 120) for _ in procs)
        for p in procs:
            p.join()
        rows.append((n, total, total / seconds))
        log(f"transitions with {n} process(es): {total} in {seconds:.0f} s")
    return rows


# --- verify_audit ----------------------------------------------------------------------------


_LAUNCHER = (
    "import resource, subprocess, sys, time\n"
    "started = time.perf_counter()\n"
    "out = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "seconds = time.perf_counter() - started\n"
    "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "print(out.returncode, seconds, rss, (out.stdout + out.stderr).strip().replace(chr(10), ' '))\n"
)


def measure_verify(env: dict) -> tuple[float, float, str]:
    """Wall time and peak RSS of `manage.py verify_audit`, started by a small launcher process: a
    child forked straight from this process would count this process's own memory in its peak."""
    out = subprocess.run(  # nosec B603  # fixed arguments: this Python running manage.py
        [sys.executable, "-c", _LAUNCHER, sys.executable, "manage.py", "verify_audit", "--no-anchors"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    code, seconds, rss, output = out.stdout.strip().split(" ", 3)
    if code != "0":
        raise SystemExit(f"scale_bench: verify_audit failed: {output}")
    return float(seconds), int(rss) / 1024, output


def measure_invariants(env: dict) -> tuple[float, float, int, str]:
    """Wall time, peak RSS (of the largest process: the command or one of its workers) and exit code
    of `manage.py check_invariants --limit 5`, with its report, started by the launcher as above."""
    out = subprocess.run(  # nosec B603  # fixed arguments: this Python running manage.py
        [
            sys.executable,
            "-c",
            _LAUNCHER.replace(".replace(chr(10), ' ')", ""),
            sys.executable,
            "manage.py",
            "check_invariants",
            "--limit",
            "5",
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    code, seconds, rss, output = out.stdout.strip().split(" ", 3)
    return float(seconds), int(rss) / 1024, int(code), output


# --- the run ---------------------------------------------------------------------------------


def machine() -> str:
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout  # nosec B603 B607
        model = next(
            (line.split(":", 1)[1].strip() for line in lscpu.splitlines() if line.startswith("Model name")), ""
        )
    except OSError:
        model = ""
    return f"{os.cpu_count()} CPUs, {model or platform.processor()}, Python {platform.python_version()}"


def small_counts(args, env_var: Path) -> dict | None:
    """Statement counts on a small database, from a child run of this script (one Django per process)."""
    url = args.database_url
    parts = urlsplit(url)
    small = parts._replace(path=parts.path + "_small").geturl()
    command = [
        sys.executable,
        __file__,
        "--counts-json",
        "--applications",
        "300",
        "--audit-events",
        "3000",
        "--datasets",
        "300",
        "--files",
        "3000",
        "--exclude",
        args.exclude,
    ]
    env = {**os.environ, "DATABASE_URL": small}
    env.pop("REDIS_URL", None)
    out = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)  # nosec B603
    if out.returncode != 0:
        log(f"small-scale counts failed: {out.stderr[-2000:]}")
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:  # noqa: C901  # one flag per part of the run
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--applications", type=int, default=30_000)
    parser.add_argument("--audit-events", type=int, default=1_000_000)
    parser.add_argument("--datasets", type=int, default=20_000)
    parser.add_argument("--files", type=int, default=203_000)
    parser.add_argument("--reseed", action="store_true", help="drop the database and seed again")
    parser.add_argument("--rounds", type=int, default=40, help="timed requests per target (round-robin)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed rounds first")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--transition-seconds", type=float, default=10)
    parser.add_argument("--transition-levels", default="1,2,4,8")
    parser.add_argument(
        "--skip", default="", help="comma-separated parts to leave out: counts,small,http,transitions,verify"
    )
    parser.add_argument("--exclude", default="", help="leave out the targets whose label matches this regex, e.g. DCAT")
    parser.add_argument("--seed-only", action="store_true")
    parser.add_argument(
        "--invariants",
        action="store_true",
        help="seed if needed, then time manage.py check_invariants on the data (and nothing else)",
    )
    parser.add_argument("--counts-json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.database_url = os.environ.get("DATABASE_URL", "")
    if not args.database_url:
        sys.exit("scale_bench: set DATABASE_URL to a scratch PostgreSQL database, e.g. .../portal_bench")
    skip = set(filter(None, args.skip.split(",")))
    if args.exclude:
        TARGETS[:] = [t for t in TARGETS if t is FLOOR or not re.search(args.exclude, t.label)]
    ensure_database(args.database_url, drop=args.reseed)
    var = Path(tempfile.mkdtemp(prefix="portal-scale-bench-"))  # static files and uploaded documents
    atexit.register(shutil.rmtree, var, ignore_errors=True)
    env = bench_env(args.database_url, var, os.environ.get("REDIS_URL", ""))
    setup_django(env)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if args.counts_json:  # the child run for the small scale
        with open(os.devnull, "w") as quiet:
            stdout, sys.stdout = sys.stdout, quiet
            call_command("collectstatic", interactive=False, verbosity=0)
            seed(args)
            picked = pick_people()
            deep, _ = deep_audit_query(_client_getter(picked))
            counts = count_statements(picked, deep)
            sys.stdout = stdout
        print(json.dumps({"counts": counts, "data": describe_data()}))
        return
    log(f"machine: {machine()}; load average {load()}")
    seeding = seed(args)
    log(f"seeding took {seeding:.1f} s; {describe_data()}")
    if args.seed_only:
        return
    if args.invariants:
        seconds, rss, code, output = measure_invariants(env)
        print(output)
        log(f"check_invariants: exit {code} in {seconds:.1f} s, peak RSS {rss:.0f} MiB; load average {load()}")
        sys.exit(code)
    call_command("collectstatic", interactive=False, verbosity=0)
    if env.get("REDIS_URL"):
        from django.core.cache import cache

        cache.clear()  # no answer cached by an earlier run of other code
    picked = pick_people()
    deep, deep_how = deep_audit_query(_client_getter(picked))
    log(f"audit log deep page: {deep_how}")

    counts = small = None
    if "counts" not in skip:
        counts = count_statements(picked, deep)
    if "small" not in skip:
        small = small_counts(args, var)
    http_rows, http_load = [], None
    if "http" not in skip:
        proc, port = start_gunicorn(env, args.workers, args.threads)
        log(f"gunicorn gthread {args.workers} workers × {args.threads} threads on port {port}; load {load()}")
        http_rows, http_load = measure_http(port, picked, deep, args.rounds, args.warmup)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        log(f"HTTP measured; load {load()}")
    transitions = []
    if "transitions" not in skip:
        levels = [int(x) for x in args.transition_levels.split(",")]
        transitions = measure_transitions(levels, args.transition_seconds)
    verify = None
    if "verify" not in skip:
        verify = measure_verify(env)
        log(f"verify_audit: {verify[2]}")
    report(args, seeding, deep_how, counts, small, (http_rows, http_load), transitions, verify)


def _client_getter(picked):
    from django.test import Client

    client = Client()
    client.force_login(picked["people"]["rdo"])

    def get(path):
        response = client.get(path)
        assert response.status_code == 200, path
        return response.content.decode()

    return get


def report(args, seeding, deep_how, counts, small, http, transitions, verify) -> None:
    from django.db import connection

    http_rows, http_load = http
    pg = connection.pg_version
    print()
    print(f"## Results, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print()
    print(f"Machine: {machine()}, PostgreSQL {pg // 10000}.{pg % 10000}; load average at the end {load()}.")
    print(f"Data: {describe_data()}. Seeding this run: {seeding:.0f} s.")
    if small:
        print(f"Small scale (statement counts only): {small['data']}.")
    print(f"Audit log deep page: {deep_how}.")
    print()
    if http_rows:
        print(
            f"gunicorn gthread, {args.workers} workers × {args.threads} threads, DEBUG off; one client, keep-alive; "
            f"{args.rounds} timed rounds after {args.warmup} warm-up rounds, round-robin over the targets; "
            f"1-minute load average {http_load[0]:.1f} to {http_load[1]:.1f} during the requests."
        )
        print()
        print("| target | requests | p50 ms | p95 ms | × floor (p95) | × floor (p50) | bytes | SQL large | SQL small |")
        print("|---|---|---|---|---|---|---|---|---|")
        floor_p50 = http_rows[0][3]
        for label, _path, n, p50, p95, ratio, size in http_rows:
            c = counts.get(label, "") if counts else ""
            s = small["counts"].get(label, "") if small else ""
            times = f"{p50:.1f} | {p95:.1f} | {ratio:.1f} | {p50 / floor_p50:.1f}"
            print(f"| {label} | {n} | {times} | {size:,} | {c} | {s} |")
        print()
        print("Paths: " + "; ".join(f"{label} `{path}`" for label, path, *_ in http_rows))
        print()
    elif counts:
        print("| target | SQL large | SQL small |")
        print("|---|---|---|")
        for label, c in counts.items():
            print(f"| {label} | {c} | {small['counts'].get(label, '') if small else ''} |")
        print()
    if transitions:
        print("| processes | transitions | per second |")
        print("|---|---|---|")
        for n, total, rate in transitions:
            print(f"| {n} | {total} | {rate:.1f} |")
        print()
    if verify:
        seconds, rss, output = verify
        print(f"verify_audit: {seconds:.1f} s, peak RSS {rss:.0f} MiB ({output})")


if __name__ == "__main__":
    main()
