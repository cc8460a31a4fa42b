"""The production install works: a fresh virtual environment with requirements.txt alone (no test
tools) migrates a database, serves pages with gunicorn, and runs the Celery worker and beat against
Redis, which deliver an e-mail queued through the outbox.

Everything runs in processes started from that environment, on a database of its own; the test
process only watches. Every process it starts is stopped, and the database dropped, pass or fail.
"""

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import dj_database_url
import psycopg
import pytest
from django.conf import settings

from tests.helpers import ROOT, free_port, wait_for

pytestmark = pytest.mark.worker

RECIPIENT = "runtime-install@portal.example"

QUEUE_ONE_EMAIL = f"""
import django
django.setup()
from django.db import transaction
from portal.services.notifications import notification_queue
with transaction.atomic():
    message = notification_queue(
        to="{RECIPIENT}",
        template="welcome",
        context={{"user": {{"full_name": "Runtime Install", "email": "{RECIPIENT}"}}}},
    )
print(message.pk)
"""


def run(args, *, env, timeout, what):
    result = subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)  # noqa: S603
    assert result.returncode == 0, f"{what} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result.stdout


class Processes:
    """Long-running processes of the test, each with its log; all are stopped on the way out."""

    def __init__(self, logdir: Path):
        self.logdir = logdir
        self.started: dict[str, subprocess.Popen] = {}

    def start(self, name: str, args: list[str], env: dict) -> subprocess.Popen:
        log = (self.logdir / f"{name}.log").open("w")
        process = subprocess.Popen(args, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
        self.started[name] = process
        return process

    def log(self, name: str) -> str:
        return (self.logdir / f"{name}.log").read_text()

    def wait(self, predicate, *, timeout: float, what: str, show: str) -> None:
        """wait_for, failing with the log of the process `show` as it is by then."""
        try:
            wait_for(predicate, timeout=timeout, message=what)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- {show} log ---\n{self.log(show)}") from None

    def stop(self, name: str, timeout: float = 20) -> int:
        """SIGTERM (warm shutdown), then SIGKILL if it does not end in time; returns the exit code."""
        process = self.started.pop(name)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return process.returncode

    def stop_all(self) -> None:
        for name in list(self.started):
            self.stop(name, timeout=10)


@pytest.fixture
def runtime_venv(tmp_path_factory) -> Path:
    """A fresh virtual environment with requirements.txt only (pip's cache makes it quick)."""
    venv = tmp_path_factory.mktemp("runtime") / "venv"
    base_python = getattr(sys, "_base_executable", sys.executable)
    run([base_python, "-m", "venv", str(venv)], env=dict(os.environ), timeout=120, what="python -m venv")
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
    run([*pip, "install", "-q", "-r", "requirements.txt"], env=dict(os.environ), timeout=600, what="pip install")
    run([*pip, "check"], env=dict(os.environ), timeout=120, what="pip check")
    # The point of the exercise: nothing from requirements-test.txt is there.
    for test_tool in ("pytest", "ruff", "playwright", "bandit"):
        assert not (venv / "bin" / test_tool).exists(), test_tool
    return venv


@pytest.fixture
def runtime_database():
    """A PostgreSQL database of its own, dropped afterwards."""
    cfg = dj_database_url.parse(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal"))
    name = f"{cfg['NAME']}_runtime_install"
    server = {
        "host": cfg["HOST"] or "127.0.0.1",
        "port": cfg["PORT"] or 5432,
        "user": cfg["USER"] or "postgres",
        "password": cfg["PASSWORD"] or None,
    }

    def admin(sql: str) -> None:
        with psycopg.connect(dbname="postgres", autocommit=True, **server) as conn:
            conn.execute(sql)

    admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin(f'CREATE DATABASE "{name}"')
    auth = server["user"] + (f":{server['password']}" if server["password"] else "")
    try:
        yield {"url": f"postgres://{auth}@{server['host']}:{server['port']}/{name}", "server": server, "name": name}
    finally:
        admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def outbox_row(database, pk: int) -> tuple[str, object]:
    with psycopg.connect(dbname=database["name"], **database["server"]) as conn:
        return conn.execute("SELECT status, sent_at FROM portal_outboxemail WHERE id = %s", [pk]).fetchone()


def get(url: str):
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310  (a local http URL)
        return response.status, dict(response.headers), response.read()


def test_a_runtime_only_install_serves_pages_and_delivers_an_email_through_worker_and_beat(
    runtime_venv, runtime_database, tmp_path
):
    bin_dir = runtime_venv / "bin"
    maildir = tmp_path / "mail"
    maildir.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"VIRTUAL_ENV", "PYTHONPATH", "DJANGO_SETTINGS_MODULE", "REDIS_URL", "DATABASE_URL"}
    }
    env.update(
        {
            "PATH": f"{bin_dir}:{env.get('PATH', '')}",
            "PYTHONPATH": str(ROOT),
            "PYTHONNOUSERSITE": "1",
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "DEBUG": "false",
            "SECRET_KEY": "runtime-install-test-key-" + "x" * 40,
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "false",
            "DATABASE_URL": runtime_database["url"],
            "DATABASE_CONN_MAX_AGE": "0",
            "REDIS_URL": os.environ["TEST_REDIS_URL"],
            "PORTAL_VAR_DIR": str(tmp_path / "var"),
            "DATASET_STORAGE_ROOT": str(settings.DATASET_STORAGE_ROOT),
            "DOCUMENT_STORAGE_ROOT": str(settings.DOCUMENT_STORAGE_ROOT),
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(maildir),
            "OUTBOX_FLUSH_SECONDS": "1",
        }
    )
    python = str(bin_dir / "python")
    run([python, "manage.py", "migrate", "--noinput"], env=env, timeout=300, what="migrate")
    run([python, "manage.py", "collectstatic", "--noinput"], env=env, timeout=120, what="collectstatic")

    processes = Processes(tmp_path)
    try:
        port = free_port()
        web = processes.start(
            "gunicorn",
            [str(bin_dir / "gunicorn"), "portal.wsgi", "--bind", f"127.0.0.1:{port}", "--worker-class", "gthread"],
            env,
        )
        worker = processes.start(
            "worker",
            [str(bin_dir / "celery"), "-A", "portal", "worker", "--pool=solo", "--loglevel=INFO", "-n", "runtime@%h"],
            env,
        )
        beat = processes.start(
            "beat",
            [str(bin_dir / "celery"), "-A", "portal", "beat", "--loglevel=INFO", "-s", str(tmp_path / "beat-schedule")],
            env,
        )

        # The web tier: a page with its headers, and the static files collected for it.
        healthz = f"http://127.0.0.1:{port}/healthz"
        processes.wait(
            lambda: web.poll() is not None or _answers(healthz), timeout=60, what="gunicorn", show="gunicorn"
        )
        assert web.poll() is None, processes.log("gunicorn")
        status, headers, body = get(f"http://127.0.0.1:{port}/accounts/login/")
        assert status == 200
        assert "script-src 'self'" in headers["Content-Security-Policy"]
        assert b"/static/portal/portal." in body
        assert get(f"http://127.0.0.1:{port}/static/portal/portal.css")[0] == 200

        processes.wait(
            lambda: worker.poll() is not None or " ready." in processes.log("worker"),
            timeout=90,
            what="the worker to start",
            show="worker",
        )
        assert worker.poll() is None, f"the worker exited:\n{processes.log('worker')}"

        # One e-mail through the product's own service, from the runtime environment's python.
        message_pk = int(run([python, "-c", QUEUE_ONE_EMAIL], env=env, timeout=120, what="queueing").split()[-1])
        processes.wait(
            lambda: outbox_row(runtime_database, message_pk)[0] == "sent",
            timeout=60,
            what="the worker to send the e-mail",
            show="worker",
        )
        assert outbox_row(runtime_database, message_pk)[1] is not None
        files = list(maildir.iterdir())
        assert len(files) == 1
        assert f"To: {RECIPIENT}" in files[0].read_text()

        # Beat stays up and schedules the outbox sweep, which the worker runs.
        processes.wait(
            lambda: "Task portal.tasks.outbox_flush[" in processes.log("worker"),
            timeout=60,
            what="beat to send the outbox sweep and the worker to run it",
            show="beat",
        )
        assert "Sending due task outbox-flush" in processes.log("beat")
        assert beat.poll() is None, f"beat exited:\n{processes.log('beat')}"
        assert worker.poll() is None, f"the worker exited:\n{processes.log('worker')}"

        # Each stops cleanly on SIGTERM.
        assert processes.stop("beat") == 0, processes.log("beat")
        assert processes.stop("worker") == 0, processes.log("worker")
        assert processes.stop("gunicorn") == 0, processes.log("gunicorn")
    finally:
        processes.stop_all()
    assert "Warm shutdown" in processes.log("worker")
    assert len(list(maildir.iterdir())) == 1  # the sweep found nothing left to send twice


def _answers(url: str) -> bool:
    try:
        return get(url)[0] == 200
    except OSError:
        return False
