#!/usr/bin/env python
"""Ingestion: the file scan over 10,000 de-identified DICOM files against a bare pydicom loop.

Usage (from the repository root, with a scratch PostgreSQL database it may drop, create and fill):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_bench_ingest .venv/bin/python bench/ingestion_bench.py
    # or: make bench-ingest BENCH_ARGS="--files 10000 --runs 3"

What it does:
1. generates --files DICOM files once (kept in --scratch, reused by later runs; --regenerate makes
   them again) from pydicom's bundled samples (CT, MR, NM, MR RLE, US big-endian), laid out as
   `q<part>/<subject>/<study>/<series>/<instance>.dcm` in a folder of a data holder's storage area
   under DATASET_STORAGE_ROOT: a subject every ten files, two studies of two series each, varied
   sex, age, study date, body part and manufacturer, every UID new; each header de-identified by
   `catalogue.deid.recipe.deidentify` (a sample checked with `catalogue.deid.check.file_verdict`).
   The first of the four parts, `q1`, holds a quarter of the files: the smaller size;
2. drops and creates the database, migrates, and makes the data holder (`data_holder_create`, whose
   storage area is where the files lie) and its steward (`data_holder_add_steward`);
3. reads every file once (page cache warm), then in each of --runs rounds runs, each in a fresh
   child process of its own (so that its peak memory is its own), the order rotating from round to round:
   - the FLOOR: `os.walk` sorted as the scan walks, `pydicom.dcmread(path, stop_before_pixels=True)`
     for every file, nothing else;
   - the FLOOR + VERDICT: the same loop, also computing `catalogue.deid.check.deidentification_verdict`
     of each header, as the scan must for its index (--no-check-floor leaves it out); for reading
     the scan's figure, not part of the target's ratio;
   - the SCAN: a fresh draft dataset of the holder, `catalogue.services.dataset_register_files` on
     the folder and `catalogue.ingestion.file_scan_run` (Celery runs eagerly: the task runs inside
     the registration; the script calls the service itself if the scan is still queued), timed
     from the registration to the scan's end;
   - the SCAN BY A WORKER (the scan as deployed; --no-worker leaves it out): the same, with a real
     Celery worker of --worker-processes processes (default: one per CPU) on the Redis database
     --redis-url (emptied first): the walking task queues a task per batch, the pool stages them
     at once, the last applies the scan; timed from the registration until the scan is done;
   - the RESCAN: the same folder registered again for the same dataset, nothing changed on disk;
4. runs the floors and the scan once more on the quarter (`q1`, --small-runs rounds), for memory
   against the number of files;
5. prints a summary table (median files/s, scan / floor, peak RSS) and exits non-zero if a scan
   failed or registered (or indexed, or found de-identified) another number of files than generated.

Peak RSS is the child's VmHWM (/proc/self/status) at its end; "at start" is VmHWM once its imports
(and Django) are loaded, before the work. Only the scan's entry points and models are used
(dataset_register_files, catalogue.ingestion.file_scan_run, DatasetFile, DicomInstance, FileScan), so the script
measures whatever the scan's internals are.
"""

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from scale_bench import admin_connection, load, log, machine  # noqa: E402

HOLDER_SLUG = "bench-ingest"
STEWARD_EMAIL = "steward@bench-ingest.example"
# The UID roots of the "source" system and of the de-identified copies (under pydicom's own root).
SOURCE_ROOT = "1.2.826.0.1.3680043.10.990."
DEID_ROOT = "1.2.826.0.1.3680043.10.991."
# (pydicom sample, weight): the modality is the sample's own, matching its SOP class.
SAMPLES = (
    ("CT_small.dcm", 4),
    ("MR_small.dcm", 3),
    ("JPEG2000.dcm", 1),
    ("MR_small_RLE.dcm", 1),
    ("ExplVR_BigEnd.dcm", 1),
)
BODY_PARTS = ("CHEST", "HEAD", "ABDOMEN", "PELVIS", "BREAST", "KNEE", "SPINE")
MANUFACTURERS = ("Siemens Healthineers", "GE HealthCare", "Philips", "Canon Medical", "Fujifilm")
SEXES = ("F", "M", "O")
# per subject: two studies, each of two series, of (2, 2) and (3, 3) instances: ten files
LAYOUT = ((2, 2), (3, 3))
PARTS = 4
GENERATION = 2  # bumped when the generated files change, so that an older cache is made again


# --- generation ----------------------------------------------------------------------------------


def tree_paths(top: Path) -> list[str]:
    """Every file under `top` in the scan's order: os.walk, folders and names sorted."""
    paths = []
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames.sort()
        paths.extend(os.path.join(dirpath, name) for name in sorted(filenames))
    return paths


def plan(files: int, rng: random.Random) -> list[dict]:
    """One entry per file: its relative path and the header values it gets."""
    per_subject = sum(sum(series) for series in LAYOUT)
    subjects = -(-files // per_subject)
    names = [name for name, weight in SAMPLES for _ in range(weight)]
    entries = []
    for subject in range(subjects):
        part = 1 + subject * PARTS // subjects
        pseudonym = f"SUBJ-{subject + 1:05d}"  # a dummy the check accepts without a pattern
        patient = {
            "sex": rng.choice(SEXES),
            "age": rng.randint(18, 90),
            "shift": rng.randint(10, 400),
        }
        for study_no, series_sizes in enumerate(LAYOUT, start=1):
            study_date = date(2010, 1, 1) + timedelta(days=rng.randint(0, 15 * 365))
            study_uid = f"{SOURCE_ROOT}{subject + 1}.{study_no}.{rng.getrandbits(40)}"
            for series_no, instances in enumerate(series_sizes, start=1):
                series = {
                    "sample": rng.choice(names),
                    "body_part": rng.choice(BODY_PARTS),
                    "manufacturer": rng.choice(MANUFACTURERS),
                    "uid": f"{study_uid}.{series_no}",
                }
                for instance in range(1, instances + 1):
                    if len(entries) == files:
                        return entries
                    entries.append(
                        {
                            "relative": f"q{part}/{pseudonym}/study-{study_no}/series-{series_no}/{instance:04d}.dcm",
                            "subject": pseudonym,
                            **patient,
                            "study_date": study_date.strftime("%Y%m%d"),
                            "study_uid": study_uid,
                            "series": series,
                            "instance": instance,
                            "sop_uid": f"{series['uid']}.{instance}",
                        }
                    )
    return entries


def generate(top: Path, files: int, seed: int) -> None:
    """Write the files of `plan` under `top`, each header de-identified by the product's recipe."""
    from pydicom import dcmread
    from pydicom.data import get_testdata_file

    from catalogue.deid.recipe import deidentify
    from catalogue.deid.table import Option

    kept = (Option.RETAIN_PATIENT_CHARACTERISTICS, Option.RETAIN_DEVICE_IDENTITY)
    samples = {name: dcmread(get_testdata_file(name, download=False)) for name, _ in SAMPLES}
    if top.exists():
        shutil.rmtree(top)
    began = time.perf_counter()
    for n, entry in enumerate(plan(files, random.Random(seed)), start=1):
        source = samples[entry["series"]["sample"]]
        # The sample is changed in place and deidentify copies it: no second copy per file.
        source.PatientID = f"MRN{entry['subject']}"
        source.PatientName = f"Patient^{entry['subject']}"
        source.PatientSex = entry["sex"]
        source.PatientAge = f"{entry['age']:03d}Y"
        source.StudyDate = source.SeriesDate = entry["study_date"]
        source.StudyInstanceUID = entry["study_uid"]
        source.SeriesInstanceUID = entry["series"]["uid"]
        source.SOPInstanceUID = entry["sop_uid"]
        source.InstanceNumber = entry["instance"]
        source.BodyPartExamined = entry["series"]["body_part"]
        source.Manufacturer = entry["series"]["manufacturer"]
        clean = deidentify(
            source, subject_id=entry["subject"], uid_root=DEID_ROOT, shift_days=entry["shift"], options=kept
        )
        path = top / entry["relative"]
        path.parent.mkdir(parents=True, exist_ok=True)
        clean.save_as(path, enforce_file_format=True)
        if n % 2000 == 0:
            log(f"  generated {n:,} of {files:,} files ({n / (time.perf_counter() - began):,.0f}/s)")


def ensure_files(scratch: Path, top: Path, files: int, seed: int, regenerate: bool) -> tuple[int, int]:
    """The generated tree at `top` (made once, reused while its record matches): (files, files in q1)."""
    record = scratch / f"generated-{top.name}.json"
    wanted = {"files": files, "seed": seed, "generation": GENERATION}
    if not regenerate and record.exists() and top.exists():
        made = json.loads(record.read_text())
        if {k: made.get(k) for k in wanted} == wanted and len(tree_paths(top)) == files:
            log(f"reusing the {files:,} files generated at {made['at']} in {top}")
            return made["files"], made["quarter"]
    log(f"generating {files:,} DICOM files in {top}")
    began = time.perf_counter()
    record.unlink(missing_ok=True)
    generate(top, files, seed)
    written, quarter = len(tree_paths(top)), len(tree_paths(top / "q1"))
    if written != files:
        sys.exit(f"ingestion_bench: generated {written} files, not {files}")
    record.write_text(json.dumps({**wanted, "quarter": quarter, "at": datetime.now(UTC).isoformat()}))
    log(f"generated {written:,} files ({quarter:,} in q1) in {time.perf_counter() - began:.0f} s")
    return written, quarter


def check_sample(top: Path, count: int = 50) -> int:
    """How many of `count` files spread over the tree fail the product's de-identification check."""
    from catalogue.deid.check import file_verdict

    paths = tree_paths(top)
    picked = paths[:: max(1, len(paths) // count)][:count]
    failed = [p for p in picked if not file_verdict(p).passed]
    log(f"de-identification check on {len(picked)} sample files: {len(picked) - len(failed)} pass")
    return len(failed)


def warm(top: Path) -> int:
    """Read every file once, so that every variant finds the page cache warm; bytes read."""
    total = 0
    for path in tree_paths(top):
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                total += len(chunk)
    return total


# --- the children --------------------------------------------------------------------------------


def vm_hwm_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_floor(top: str, check: str = "") -> dict:
    """The bare loop a scan cannot beat: walk, and read every header; with `check`, also the
    product's de-identification verdict of each header, which the scan computes for its index."""
    import pydicom

    if check:
        from catalogue.deid.check import deidentification_verdict
    at_start = vm_hwm_mib()
    began = time.perf_counter()
    paths = tree_paths(Path(top))
    for path in paths:
        header = pydicom.dcmread(path, stop_before_pixels=True)
        if check:
            deidentification_verdict(header)
    seconds = time.perf_counter() - began
    return {"files": len(paths), "seconds": seconds, "rss_start": at_start, "rss_peak": vm_hwm_mib()}


def _scan(dataset, steward, folder: str) -> tuple[float, object]:
    from catalogue.ingestion import file_scan_run
    from catalogue.models import FileScan, FileScanStatus
    from catalogue.services import dataset_register_files

    began = time.perf_counter()
    scan = dataset_register_files(actor=steward, dataset=dataset, folder=folder)
    scan = FileScan.objects.get(pk=scan.pk)
    if scan.status not in (FileScanStatus.DONE, FileScanStatus.FAILED):
        scan = file_scan_run(scan_id=scan.pk)  # not run by an eager task: run here, still timed
    return time.perf_counter() - began, scan


def _outcome(dataset, scan, seconds: float, at_start: float) -> dict:
    from catalogue.models import DatasetFile, DicomInstance

    dicom = DicomInstance.objects.filter(file__dataset=dataset, file__removed_at__isnull=True)
    return {
        "dataset": dataset.pk,
        "status": str(scan.status),
        "error": scan.error,
        "files": DatasetFile.objects.filter(dataset=dataset).count(),
        "indexed": dicom.count(),
        "passed": dicom.filter(passed=True).count(),
        "skipped": len(scan.skipped or []),
        "seconds": seconds,
        "rss_start": at_start,
        "rss_peak": vm_hwm_mib(),
    }


def fresh_dataset(label: str):
    """A new draft dataset of the benchmark's holder, and the holder's steward."""
    from catalogue.models import DataHolder, Dataset
    from portal.models import User

    holder = DataHolder.objects.get(slug=HOLDER_SLUG)
    n = Dataset.objects.filter(holder=holder).count() + 1
    dataset = Dataset.objects.create(
        identifier=f"BENCH-INGEST-{n:03d}",
        title=f"Ingestion benchmark, {label}",
        description="Generated DICOM files registered by the ingestion benchmark.",
        holder=holder,
        subjects_count=0,
        studies_count=0,
    )
    return dataset, User.objects.get(email=STEWARD_EMAIL)


def child_scan(folder: str, label: str) -> dict:
    """A fresh draft dataset of the holder, its files registered from `folder` by the product's scan."""
    import django

    django.setup()
    dataset, steward = fresh_dataset(label)
    at_start = vm_hwm_mib()
    seconds, scan = _scan(dataset, steward, folder)
    return _outcome(dataset, scan, seconds, at_start)


def _worker_processes(pid: int) -> list[int]:
    """The Celery worker's main process and its pool's children."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [pid, *(int(child) for child in children.read_text().split())] if children.exists() else [pid]


def _vm_hwm_of(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def child_scan_worker(folder: str, label: str, processes: str) -> dict:
    """The scan as deployed: `dataset_register_files` queues the task on Redis and a real Celery worker
    (prefork, `processes` processes, as `celery worker` starts on this machine by default) runs it:
    the walking task queues a task per batch, which the pool's processes stage at once; timed from
    the registration until the scan is done. Peak RSS: the largest of the pool's processes."""
    import django

    django.setup()
    from catalogue.models import FileScan, FileScanStatus
    from catalogue.services import dataset_register_files
    from portal.celery import app

    dataset, steward = fresh_dataset(label)
    celery = str(Path(sys.executable).parent / "celery")
    worker = subprocess.Popen(  # nosec B603  # fixed arguments: this virtualenv's celery
        [celery, "-A", "portal", "worker", f"--concurrency={processes}", "--loglevel=WARNING"]
        + ["--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"bench-{os.getpid()}@%h"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not app.control.ping(timeout=0.5):
            if time.monotonic() > deadline or worker.poll() is not None:
                raise SystemExit("ingestion_bench: the Celery worker did not start")
        pool = _worker_processes(worker.pid)[1:]
        at_start = max(_vm_hwm_of(pid) for pid in pool)
        began = time.perf_counter()
        scan = dataset_register_files(actor=steward, dataset=dataset, folder=folder)
        while (scan := FileScan.objects.get(pk=scan.pk)).status not in (FileScanStatus.DONE, FileScanStatus.FAILED):
            time.sleep(0.02)
        seconds = time.perf_counter() - began
        peak = max(_vm_hwm_of(pid) for pid in _worker_processes(worker.pid)[1:])
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
    outcome = _outcome(dataset, scan, seconds, at_start)
    outcome.update(rss_peak=peak, processes=len(pool))
    return outcome


def child_rescan(folder: str, dataset_id: int) -> dict:
    """The same folder registered again for a dataset whose files are already registered, unchanged."""
    import django

    django.setup()
    from catalogue.models import Dataset
    from portal.models import User

    dataset = Dataset.objects.get(pk=dataset_id)
    steward = User.objects.get(email=STEWARD_EMAIL)
    at_start = vm_hwm_mib()
    seconds, scan = _scan(dataset, steward, folder)
    return _outcome(dataset, scan, seconds, at_start)


def flush_redis(url: str) -> None:
    """Empty the benchmark's Redis database: no task of an earlier run is left in the queue."""
    import redis

    redis.Redis.from_url(url).flushdb()


def run_child(env: dict, *arguments: str) -> dict:
    """One variant in a fresh process (exec'd, so its VmHWM is its own); its JSON answer."""
    out = subprocess.run(  # nosec B603  # fixed arguments: this Python running this script
        [sys.executable, __file__, "--child", *arguments],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        sys.exit(f"ingestion_bench: child {' '.join(arguments)} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- the run -------------------------------------------------------------------------------------


def bench_env(database_url: str, scratch: Path) -> dict:
    return {
        "DATABASE_URL": database_url,
        "DEBUG": "false",
        "SECRET_KEY": "bench-only-" + "x" * 50,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "PORTAL_VAR_DIR": str(scratch / "var"),
        "AUDIT_ANCHOR_FILE": "",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATASET_STORAGE_ROOT": str(scratch / "datasets"),
        "DOCUMENT_STORAGE_ROOT": str(scratch / "documents"),
    }


def recreate_database(database_url: str) -> None:
    conn, name = admin_connection(database_url)
    with conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    log(f"dropped and created database {name}")


def make_holder():
    """The data holder (its storage area holds the generated folder) and its steward, as the services make them."""
    from catalogue.services import data_holder_add_steward, data_holder_create
    from portal.models import User

    holder = data_holder_create(
        actor="system:bench",
        name="Ingestion Bench Hospital",
        slug=HOLDER_SLUG,
        country="LV",
        contact_email="data@bench-ingest.example",
        rdo_email="rdo@bench-ingest.example",
    )
    steward = User.objects.create_user(email=STEWARD_EMAIL, password=None, full_name="Ingestion Steward")
    data_holder_add_steward(actor="system:bench", holder=holder, user=steward)
    return holder


def run_variant(env: dict, variant: str, top: Path, folder: str, label: str, worker: dict | None) -> dict:
    if variant == "floor":
        return run_child(env, "floor", str(top))
    if variant == "floor+check":
        return run_child(env, "floor", str(top), "check")
    if variant == "scan, worker":
        flush_redis(worker["redis_url"])
        worker_env = {**env, "REDIS_URL": worker["redis_url"]}
        return run_child(worker_env, "scan-worker", folder, f"{label}, worker", str(worker["processes"]))
    return run_child(env, "scan", folder, label)


def rounds(
    env: dict,
    top: Path,
    folder: str,
    runs: int,
    expected: int,
    *,
    rescan: bool,
    check: bool,
    label: str,
    worker: dict | None,
) -> dict:
    """`runs` rounds of the floor(s) and the scans (the order rotating), each in-process scan followed by its rescan."""
    results: dict[str, list[dict]] = {"floor": [], "floor+check": [], "scan": [], "scan, worker": [], "rescan": []}
    variants = ("floor", "floor+check", "scan") if check else ("floor", "scan")
    if worker:
        variants += ("scan, worker",)
    for run in range(runs):
        order = variants[run % len(variants) :] + variants[: run % len(variants)]
        line = []
        for variant in order:
            got = run_variant(env, variant, top, folder, f"{label}, round {run + 1}", worker)
            results[variant].append(got)
            line.append(f"{variant} {got['files'] / got['seconds']:,.0f} files/s ({got['rss_peak']:.0f} MiB)")
        if rescan:
            got = run_child(env, "rescan", folder, str(results["scan"][-1]["dataset"]))
            results["rescan"].append(got)
            line.append(f"rescan {got['files'] / got['seconds']:,.0f} files/s ({got['rss_peak']:.0f} MiB)")
        log(f"{label} round {run + 1}/{runs}: " + ", ".join(line) + f"; load {load()}")
    problems = []
    for variant, got in results.items():
        for n, one in enumerate(got, start=1):
            if not variant.startswith("floor") and one["status"] != "done":
                problems.append(f"{label} {variant} round {n}: scan {one['status']}: {one['error']}")
            for key in ("files",) if variant.startswith("floor") else ("files", "indexed", "passed"):
                if one[key] != expected:
                    problems.append(f"{label} {variant} round {n}: {key} {one[key]:,}, generated {expected:,}")
    results["problems"] = problems
    return results


def median_rate(got: list[dict]) -> float:
    return statistics.median(one["files"] / one["seconds"] for one in got)


def summary(args, sizes: dict, full: dict, small: dict, loads: tuple, size_mib: float) -> None:
    floor, scan = median_rate(full["floor"]), median_rate(full["scan"])
    print()
    print(f"## Results, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print()
    print(f"Machine: {machine()}; 1-minute load {loads[0]:.1f} to {loads[1]:.1f}.")
    print(
        f"Files: {sizes['full']:,} DICOM files ({size_mib:,.0f} MiB), {sizes['quarter']:,} of them in the quarter; "
        f"page cache warm; each variant in its own process; rounds at full size: {args.runs} "
        f"({args.small_runs} at the quarter); the order of the variants rotates from round to round."
    )
    print()
    print("| variant | files | rounds | median files/s | min | max | median s | peak RSS MiB | RSS at start MiB |")
    print("|---|---|---|---|---|---|---|---|---|")
    rows = (
        ("floor (pydicom loop)", full["floor"]),
        ("floor + de-identification verdict", full["floor+check"]),
        ("scan, one process (tasks eager)", full["scan"]),
        (f"scan, Celery worker of {args.worker_processes} processes", full["scan, worker"]),
        ("rescan, unchanged (one process)", full["rescan"]),
        ("floor, quarter", small["floor"]),
        ("floor + verdict, quarter", small["floor+check"]),
        ("scan, one process, quarter", small["scan"]),
        ("scan, worker, quarter", small["scan, worker"]),
    )
    for name, got in rows:
        if not got:
            continue
        rates = [one["files"] / one["seconds"] for one in got]
        print(
            f"| {name} | {got[0]['files']:,} | {len(got)} | {statistics.median(rates):,.0f} | {min(rates):,.0f} | "
            f"{max(rates):,.0f} | {statistics.median(one['seconds'] for one in got):.1f} | "
            f"{max(one['rss_peak'] for one in got):.0f} | {statistics.median(one['rss_start'] for one in got):.0f} |"
        )
    print()
    if full["scan, worker"]:
        deployed = median_rate(full["scan, worker"])
        print(f"Scan by the worker / floor (median files/s): {deployed / floor:.2f} (target ≥ 0.8).")
    print(f"Scan in one process / floor (median files/s): {scan / floor:.2f}.")
    if full["floor+check"]:
        print(f"Scan / (floor + verdict): {scan / median_rate(full['floor+check']):.2f}.")
    if full["rescan"]:
        print(f"Rescan / floor: {median_rate(full['rescan']) / floor:.2f}.")
    for variant in ("scan", "scan, worker"):
        if small[variant] and full[variant]:
            big = max(one["rss_peak"] for one in full[variant])
            little = max(one["rss_peak"] for one in small[variant])
            print(
                f"{variant.capitalize()}: peak RSS {little:.0f} MiB at {sizes['quarter']:,} files, {big:.0f} MiB at "
                f"{sizes['full']:,} ({big - little:+.0f} MiB for {sizes['full'] - sizes['quarter']:,} more files)."
            )
    print(
        "Every scan registered, indexed and found de-identified as many files as were generated."
        if not (full["problems"] or small["problems"])
        else "PROBLEMS:\n  " + "\n  ".join(full["problems"] + small["problems"])
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000, help="DICOM files to generate (10,000)")
    parser.add_argument("--runs", type=int, default=3, help="rounds at full size (3)")
    parser.add_argument("--small-runs", type=int, default=1, help="rounds at a quarter of the files (1)")
    parser.add_argument("--no-rescan", action="store_true", help="leave out the rescans")
    parser.add_argument(
        "--no-check-floor", action="store_true", help="leave out the floor that also computes the verdict"
    )
    parser.add_argument("--seed", type=int, default=20261201, help="the generator's random seed")
    parser.add_argument(
        "--scratch",
        type=Path,
        default=Path(tempfile.gettempdir()) / "portal-ingest-bench",
        help="where the generated files (kept for the next run) and the storage root lie",
    )
    parser.add_argument("--regenerate", action="store_true", help="generate the files again")
    parser.add_argument(
        "--worker-processes",
        type=int,
        default=os.cpu_count() or 1,
        help="processes of the Celery worker that runs the deployed scan (default: the CPUs, as `celery worker`)",
    )
    parser.add_argument("--no-worker", action="store_true", help="leave out the scan by a Celery worker")
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13"),
        help="a Redis database the benchmark may empty, the worker's broker (BENCH_REDIS_URL)",
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        answer = {
            "floor": child_floor,
            "scan": child_scan,
            "scan-worker": child_scan_worker,
            "rescan": lambda f, d: child_rescan(f, int(d)),
        }[kind](*rest)
        print(json.dumps(answer))
        return

    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url:
        sys.exit("ingestion_bench: set DATABASE_URL to a scratch PostgreSQL database, e.g. .../portal_bench_ingest")
    scratch = args.scratch.resolve()
    for folder in ("datasets", "documents", "var"):
        (scratch / folder).mkdir(parents=True, exist_ok=True)
    env = bench_env(database_url, scratch)
    log(f"machine: {machine()}; load average {load()}")
    recreate_database(database_url)
    os.environ.update(env)
    os.environ.pop("REDIS_URL", None)  # no broker: the scan task runs eagerly, in the process that registers
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    holder = make_holder()
    area = scratch / "datasets" / holder.storage_area
    inner = f"dicom-{args.files}"
    top = area / inner
    total, quarter = ensure_files(scratch, top, args.files, args.seed, args.regenerate)
    if check_sample(top):
        sys.exit("ingestion_bench: generated files fail the de-identification check")
    size_mib = warm(top) / 2**20
    log(f"read {total:,} files ({size_mib:,.0f} MiB) once: page cache warm")

    worker = None if args.no_worker else {"redis_url": args.redis_url, "processes": args.worker_processes}
    loads = [os.getloadavg()[0]]
    full = rounds(
        env,
        top,
        inner,
        args.runs,
        total,
        rescan=not args.no_rescan,
        check=not args.no_check_floor,
        label=f"{total:,} files",
        worker=worker,
    )
    small = (
        rounds(
            env,
            top / "q1",
            f"{inner}/q1",
            args.small_runs,
            quarter,
            rescan=False,
            check=not args.no_check_floor,
            label=f"{quarter:,} files",
            worker=worker,
        )
        if args.small_runs
        else {"floor": [], "floor+check": [], "scan": [], "scan, worker": [], "rescan": [], "problems": []}
    )
    loads.append(os.getloadavg()[0])
    summary(args, {"full": total, "quarter": quarter}, full, small, tuple(loads), size_mib)
    if full["problems"] or small["problems"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
