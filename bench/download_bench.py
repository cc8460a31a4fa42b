#!/usr/bin/env python
"""Downloads through grant links: a large file in both serving modes against nginx serving it directly.

Usage (from the repository root, with a scratch PostgreSQL database it may drop, create and fill):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_bench_download .venv/bin/python bench/download_bench.py
    # or: make bench-download BENCH_ARGS="--size-mib 1024 --runs 10"

What it does:
1. drops and creates the database, migrates, and seeds its own small world straight into the tables
   (a fixture, as bench/scale_bench.py's seeding is): a data holder, a published dataset offered for
   download with its anonymisation verified, one file of --size-mib MiB of random bytes in the
   holder's storage area, an active application with an approved round and an executed agreement,
   and an active download grant naming one researcher, who gets a personal API token;
2. starts three servers of its own on loopback ports: gunicorn (gthread) with PROTECTED_SERVE_MODE=django
   (the portal sends the file itself, sendfile); gunicorn with PROTECTED_SERVE_MODE=nginx behind
   Debian's nginx running deploy/nginx/portal.conf (rendered by deploy/nginx/render.py); and, in
   that same nginx, a plain server on another port serving the dataset root directly;
3. in every round downloads the whole file once through each variant (django / X-Accel / direct),
   the order rotating from round to round so that the page cache and the machine's load hit all
   alike, each download a fresh link (signed as the portal signs them) and a fresh connection;
   measures throughput (bytes / wall time), and for the two link variants the time to the first
   byte of the body;
4. a resumed download in each link mode: the first half with `Range: bytes=0-(n/2-1)`, the connection
   closed, then `Range: bytes=n/2-` with `If-Range: <ETag>`; the assembled bytes' SHA-256 is
   checked against the registered one;
5. the peak resident memory (VmHWM) of the gunicorn worker that served the django-mode downloads.

Medians over --runs rounds (10 by default). The file is written once per run of the script (a
random 1 GiB takes a few seconds) and removed at the end.
"""

import argparse
import atexit
import hashlib
import http.client
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "deploy" / "nginx"))

from render import render_site, render_standalone  # noqa: E402
from scale_bench import admin_connection, free_port, load, log  # noqa: E402

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
CURL = shutil.which("curl")
CHUNK = 1024 * 1024
VARIANTS = ("django", "x-accel", "nginx direct")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} CPUs, {memory:.0f} GiB RAM, {platform.system()} {platform.release()}"


def nginx_version() -> str:
    out = subprocess.run([NGINX, "-v"], capture_output=True, text=True, check=False)  # nosec B603
    return (out.stderr or out.stdout).strip().split("/")[-1]


def curl_version() -> str:
    out = subprocess.run([CURL, "--version"], capture_output=True, text=True, check=False)  # nosec B603
    return out.stdout.split()[1] if out.stdout else "?"


# --- set-up --------------------------------------------------------------------------------------


def recreate_database(database_url: str) -> None:
    conn, name = admin_connection(database_url)
    with conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def bench_env(database_url: str, var: Path, datasets: Path, documents: Path) -> dict:
    return {
        "DATABASE_URL": database_url,
        "DEBUG": "false",
        "SECRET_KEY": "bench-only-" + "x" * 50,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "PORTAL_VAR_DIR": str(var),
        "AUDIT_ANCHOR_FILE": "",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATASET_STORAGE_ROOT": str(datasets),
        "DOCUMENT_STORAGE_ROOT": str(documents),
        "PROTECTED_ACCEL_PREFIX": "/protected/",
    }


def write_random_file(path: Path, size: int) -> str:
    """`size` random bytes at `path`; their SHA-256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    block = os.urandom(CHUNK)
    with path.open("wb") as out:
        left = size
        n = 0
        while left > 0:
            # a fresh random block every 64 MiB keeps writing fast and the content unlike any other file
            if n % 64 == 0:
                block = os.urandom(CHUNK)
            piece = block[: min(CHUNK, left)]
            out.write(piece)
            digest.update(piece)
            left -= len(piece)
            n += 1
    return digest.hexdigest()


def seed(datasets: Path, size: int) -> dict:
    """The smallest world in which a link serves: rows written straight into the tables."""
    from django.utils import timezone

    from access_requests.models import (
        Agreement,
        Application,
        ApplicationDataset,
        Committee,
        Grant,
        ReviewRound,
    )
    from catalogue.models import Dataset, DatasetFile, Term, Vocabulary
    from catalogue.services import data_holder_create
    from portal.models import User
    from portal.services.tokens import api_token_create

    now = timezone.now()
    today = timezone.localdate()
    earlier = Grant.objects.select_related("dataset__holder").filter(application__reference="AR-2026-90001").first()
    if earlier is not None:  # --keep-database: the same rows, the file written afresh into this run's folder
        file = DatasetFile.objects.get(dataset=earlier.dataset)
        log(f"writing {size / 2**20:.0f} MiB of random bytes")
        file.sha256 = write_random_file(datasets / file.path, size)
        file.size_bytes = size
        file.save(update_fields=["sha256", "size_bytes"])
        researcher = earlier.grantees.get()
        _, token = api_token_create(actor=researcher, name=f"download bench {time.time_ns()}", days=2)
        return {"user": researcher, "grant": earlier, "file": file, "token": token}
    researcher = User.objects.create_user(
        email="bench.researcher@uni.example", password=None, full_name="Bench Researcher"
    )
    holder = data_holder_create(
        actor="system:bench",
        name="Bench Hospital",
        slug="bench-hospital",
        country="LV",
        contact_email="data@bench.example",
        rdo_email="rdo@bench.example",
    )
    download = Term.objects.get(vocabulary=Vocabulary.ACCESS_MODE, code="DOWNLOAD")
    dataset = Dataset.objects.create(
        identifier="BENCH-DL-001",
        title="Benchmark dataset",
        description="One large anonymised file.",
        holder=holder,
        status="published",
        subjects_count=1,
        studies_count=1,
        published_at=now,
        anonymisation_profile="DICOM PS3.15 Basic Profile",
        anonymisation_verified_on=today,
    )
    dataset.access_modes.set([download])
    relative = "bench/large-study.dcm"
    log(f"writing {size / 2**20:.0f} MiB of random bytes")
    sha256 = write_random_file(datasets / holder.storage_area / relative, size)
    file = DatasetFile.objects.create(
        dataset=dataset, path=f"{holder.storage_area}/{relative}", size_bytes=size, sha256=sha256
    )
    committee = Committee.objects.create(name="Bench committee")
    application = Application.objects.create(
        reference="AR-2026-90001",
        status="active",
        applicant=researcher,
        title="Download benchmark",
        access_start=today,
        access_months=12,
        committee=committee,
        submission_count=1,
        submitted_at=now,
        first_submitted_at=now,
    )
    requested = ApplicationDataset.objects.create(application=application, dataset=dataset, access_mode=download)
    review_round = ReviewRound.objects.create(
        application=application,
        number=1,
        committee=committee,
        submission_number=1,
        opened_at=now - timedelta(days=20),
        voting_deadline=now - timedelta(days=6),
        closed_at=now - timedelta(days=5),
        outcome="approved",
        rationale="Benchmark.",
    )
    agreement = Agreement.objects.create(
        application=application,
        round=review_round,
        reference="DAA-AR-2026-90001",
        status="executed",
        executed_at=now,
        executed_sha256="0" * 64,
        executed_path="agreements/bench.pdf",  # never read here: download_permit checks the status and hash
        executed_size=1,
    )
    end = application.access_end
    grant = Grant.objects.create(
        application=application,
        agreement=agreement,
        requested=requested,
        dataset=dataset,
        kind="download",
        access_mode=download,
        valid_from=today,
        valid_until=end,
        limited_by="agreement",
        agreement_end=end,
        issued_at=now,
    )
    grant.grantees.set([researcher])
    _, token = api_token_create(actor=researcher, name="download bench", days=2)
    return {"user": researcher, "grant": grant, "file": file, "token": token}


def fresh_link(world: dict) -> str:
    from access_requests.services.grants import link_token, link_url

    return link_url(link_token(user=world["user"], grant=world["grant"], file=world["file"]))


# --- servers -------------------------------------------------------------------------------------


def wait_listening(port: int, proc: subprocess.Popen, what: str) -> None:
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if proc.poll() is not None:
                sys.exit(f"download_bench: {what} exited at start")
            time.sleep(0.1)
    sys.exit(f"download_bench: {what} did not listen within 20 s")


def start(command: list[str], env: dict | None, what: str, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(command, cwd=ROOT, env=env)  # nosec B603  # fixed local commands
    atexit.register(lambda: proc.poll() is None and proc.send_signal(signal.SIGTERM))
    wait_listening(port, proc, what)
    return proc


def start_gunicorn(env: dict, mode: str, port: int, threads: int) -> subprocess.Popen:
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    command = [
        gunicorn,
        "portal.wsgi:application",
        "--worker-class=gthread",
        "--workers=1",
        f"--threads={threads}",
        f"--bind=127.0.0.1:{port}",
        "--log-level=warning",
        "--timeout=120",
    ]
    return start(command, {**os.environ, **env, "PROTECTED_SERVE_MODE": mode}, f"gunicorn ({mode})", port)


def worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children")
    try:
        return [int(p) for p in children.read_text().split()]
    except OSError:
        return []


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def current_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# --- one download --------------------------------------------------------------------------------


def fetch(port: int, path: str, headers: dict, *, expect: int, limit: int | None = None, keep: bool = False):
    """(status, headers, seconds to the first body byte, seconds in all, bytes, body if `keep`).
    Reads the body in 1 MiB pieces and throws them away unless `keep`; `limit` stops early."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    began = time.perf_counter()
    conn.request("GET", path, headers={"Host": "127.0.0.1", **headers})
    response = conn.getresponse()
    if response.status != expect:
        raise SystemExit(f"download_bench: {path} answered {response.status}: {response.read(300)!r}")
    first = response.read(1)
    ttfb = time.perf_counter() - began
    received, kept = len(first), [first] if keep else []
    while limit is None or received < limit:
        piece = response.read(CHUNK if limit is None else min(CHUNK, limit - received))
        if not piece:
            break
        received += len(piece)
        if keep:
            kept.append(piece)
    elapsed = time.perf_counter() - began
    answered = {k.lower(): v for k, v in response.getheaders()}
    conn.close()
    return response.status, answered, ttfb, elapsed, received, b"".join(kept) if keep else None


def curl_fetch(port: int, path: str, headers: dict) -> tuple[int, float, float, int]:
    """(status, seconds to the first byte, seconds in all, bytes) of one GET by curl, body to /dev/null:
    a client in C, so that the client is not what limits the throughput measured."""
    command = [
        CURL,
        "-s",
        "-o",
        "/dev/null",
        "--http1.1",
        "-w",
        "%{http_code} %{time_starttransfer} %{time_total} %{size_download}",
    ]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run([*command, f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, check=True)  # nosec B603
    status, ttfb, total, size = out.stdout.split()
    return int(status), float(ttfb), float(total), int(size)


def resumed(port: int, world: dict, auth: dict) -> tuple[bool, int, int]:
    """First half, connection closed, then the rest with If-Range: (SHA-256 matches, halves' sizes)."""
    size = world["file"].size_bytes
    half = size // 2
    _, headers, *_, first = fetch(
        port, fresh_link(world), {**auth, "Range": f"bytes=0-{half - 1}"}, expect=206, keep=True
    )
    _, _, *_, rest = fetch(
        port,
        fresh_link(world),
        {**auth, "Range": f"bytes={half}-", "If-Range": headers.get("etag", "")},
        expect=206,
        keep=True,
    )
    digest = hashlib.sha256(first)
    digest.update(rest)
    return digest.hexdigest() == world["file"].sha256, len(first), len(rest)


# --- main ----------------------------------------------------------------------------------------


def measure(args, world: dict, auth: dict, ports: dict, direct_path: str, workers: list[int]):
    """The rounds, the resumed downloads and the worker's memory."""
    size = world["file"].size_bytes
    rss_before = {pid: current_rss_mib(pid) for pid in workers}

    def one(variant: str) -> tuple[float, float, int]:
        """(seconds to the first byte, seconds in all, bytes) of one whole download."""
        port, path, headers = {
            "django": (ports["django"], fresh_link(world), auth),
            "x-accel": (ports["x-accel"], fresh_link(world), auth),
            "nginx direct": (ports["nginx direct"], direct_path, {}),
        }[variant]
        if CURL:
            status, ttfb, elapsed, received = curl_fetch(port, path, headers)
            if status != 200:
                sys.exit(f"download_bench: {variant} answered {status}")
            return ttfb, elapsed, received
        _, _, ttfb, elapsed, received, _ = fetch(port, path, headers, expect=200)
        return ttfb, elapsed, received

    # the django-mode worker's first request loads the portal's code: its memory is read after that
    fetch(ports["django"], fresh_link(world), {**auth, "Range": "bytes=0-0"}, expect=206)
    rss_warm = {pid: peak_rss_mib(pid) for pid in workers}
    # warm-up: the file into the page cache, each server's first request
    for variant in VARIANTS:
        one(variant)
    results = {v: {"mib_s": [], "ttfb_ms": []} for v in VARIANTS}
    load_start = os.getloadavg()[0]
    for run in range(args.runs):
        order = VARIANTS[run % 3 :] + VARIANTS[: run % 3]
        line = []
        for variant in order:
            ttfb, elapsed, received = one(variant)
            if received != size:
                sys.exit(f"download_bench: {variant} sent {received} of {size} bytes")
            results[variant]["mib_s"].append(size / 2**20 / elapsed)
            results[variant]["ttfb_ms"].append(ttfb * 1000)
            line.append(f"{variant} {size / 2**20 / elapsed:,.0f} MiB/s")
        log(f"round {run + 1}/{args.runs}: " + ", ".join(line) + f"; load {load()}")
    load_end = os.getloadavg()[0]
    resume = {"django": resumed(ports["django"], world, auth), "x-accel": resumed(ports["x-accel"], world, auth)}
    rss = {pid: (rss_before[pid], rss_warm[pid], peak_rss_mib(pid)) for pid in workers}

    return results, resume, rss, (load_start, load_end)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="the file's size (1 GiB by default)")
    parser.add_argument("--runs", type=int, default=10, help="rounds; each downloads once per variant")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads (one worker per mode)")
    parser.add_argument("--keep-dir", action="store_true", help="keep the scratch folder (file, logs)")
    parser.add_argument(
        "--keep-database", action="store_true", help="reuse the database and the world an earlier run seeded"
    )
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url:
        sys.exit("download_bench: set DATABASE_URL to a scratch PostgreSQL database, e.g. .../portal_bench_download")
    if not os.path.exists(NGINX):
        sys.exit("download_bench: Debian's nginx is needed (make system-test installs it)")

    scratch = Path(tempfile.mkdtemp(prefix="portal-download-bench-"))
    if not args.keep_dir:
        atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    datasets, documents, static = scratch / "datasets", scratch / "documents", scratch / "static"
    for folder in (datasets, documents, static):
        folder.mkdir()
    env = bench_env(database_url, scratch / "var", datasets, documents)
    log(f"machine: {machine()}; nginx {nginx_version()}; load average {load()}")
    if not args.keep_database:
        recreate_database(database_url)
    os.environ.update(env)
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    world = seed(datasets, args.size_mib * 2**20)
    from django.utils import timezone

    began = timezone.now()
    size = world["file"].size_bytes
    auth = {"Authorization": f"Bearer {world['token']}", "User-Agent": "download-bench"}

    django_port, accel_app_port, web_port, direct_port = (free_port() for _ in range(4))
    django_app = start_gunicorn(env, "django", django_port, args.threads)
    start_gunicorn({**env, "TRUSTED_PROXY_COUNT": "1"}, "nginx", accel_app_port, args.threads)
    site = render_site(
        upstream=f"127.0.0.1:{accel_app_port}",
        listen=f"127.0.0.1:{web_port}",
        static_root=static,
        dataset_storage_root=datasets,
        document_storage_root=documents,
    )
    # nginx straight from disk: the same sendfile settings as the internal location, no portal
    direct = f"""    server {{
        listen 127.0.0.1:{direct_port};
        sendfile on;
        tcp_nopush on;
        sendfile_max_chunk 2m;
        output_buffers 2 1m;
        location /direct/ {{ alias {datasets.resolve()}/; }}
    }}"""
    conf = render_standalone(scratch / "nginx", site, workers=1, extra_http=direct)
    start([NGINX, "-p", str(conf.parent), "-c", str(conf)], None, "nginx", web_port)
    wait_listening(direct_port, django_app, "nginx direct")
    workers = worker_pids(django_app.pid)
    log(
        f"servers up: django-mode gunicorn :{django_port} (worker {workers}), nginx :{web_port} → gunicorn "
        f":{accel_app_port}, nginx direct :{direct_port}; load {load()}"
    )

    direct_path = f"/direct/{world['file'].path}"
    ports = {"django": django_port, "x-accel": web_port, "nginx direct": direct_port}
    results, resume, rss, loads = measure(args, world, auth, ports, direct_path, workers)
    from access_requests.models import Download

    recorded = Download.objects.filter(started_at__gte=began).count()
    report(args, size, results, resume, rss, loads, recorded)


def report(args, size, results, resume, rss, loads, recorded) -> None:
    direct = statistics.median(results["nginx direct"]["mib_s"])
    print()
    print(f"## Results, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print()
    print(f"Machine: {machine()}; nginx {nginx_version()}; 1-minute load {loads[0]:.1f} to {loads[1]:.1f}.")
    print(
        f"File: {size / 2**20:,.0f} MiB of random bytes, page cache warm; {args.runs} rounds, the three variants "
        f"in rotating order each round, a fresh link and connection per download; loopback."
    )
    print()
    print("| variant | median MiB/s | min | max | × nginx direct | median time to first byte ms |")
    print("|---|---|---|---|---|---|")
    for variant in VARIANTS:
        speeds, ttfb = results[variant]["mib_s"], results[variant]["ttfb_ms"]
        median = statistics.median(speeds)
        print(
            f"| {variant} | {median:,.0f} | {min(speeds):,.0f} | {max(speeds):,.0f} | {median / direct:.2f} | "
            f"{statistics.median(ttfb):.1f} |"
        )
    print()
    for mode, (ok, first, rest) in resume.items():
        print(f"Resumed download ({mode}): {first:,} + {rest:,} bytes, SHA-256 {'matches' if ok else 'DIFFERS'}.")
    for pid, (before, warm, peak) in rss.items():
        print(
            f"Django-mode gunicorn worker (pid {pid}): RSS {before:.0f} MiB after start-up; peak RSS (VmHWM) "
            f"{warm:.0f} MiB after its first request (a 1-byte range), {peak:.0f} MiB after {args.runs + 1} whole "
            f"downloads of {size / 2**20:,.0f} MiB and two resumed ones."
        )
    client = "curl " + curl_version() if CURL else "Python http.client"
    print(f"Download rows this run recorded: {recorded}. Client: {client}.")


if __name__ == "__main__":
    main()
