"""Small helpers for tests: audit assertions, a real Celery worker, a private Redis."""

import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

from portal.celery import app as celery_app
from portal.models import AuditEvent

ROOT = Path(__file__).resolve().parent.parent


def last_event(verb: str | None = None) -> AuditEvent:
    """The newest audit event (of `verb` if given; otherwise the newest that is not a refusal's record)."""
    events = AuditEvent.objects.order_by("-seq")
    events = events.filter(verb=verb) if verb else events.exclude(verb="access.refused")
    return events.first()


def change_events() -> int:
    """How many audit events record a change or a read (refusals, which leave a trace too, aside)."""
    return AuditEvent.objects.exclude(verb="access.refused").count()


def team_join(*, application, inviter, user, role: str = "Researcher"):
    """Put `user` on the team the only way the product allows: `inviter` invites, `user` accepts."""
    from access_requests.services import applications as svc

    member = svc.team_member_add(actor=inviter, application=application, email=user.email, role=role)
    return svc.team_invitation_accept(actor=user, member=member)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_database_url() -> str:
    """The URL of the database the tests run on, for processes started by a test."""
    cfg = connection.settings_dict
    auth = cfg["USER"] + (f":{cfg['PASSWORD']}" if cfg["PASSWORD"] else "")
    return f"postgres://{auth}@{cfg['HOST'] or '127.0.0.1'}:{cfg['PORT'] or 5432}/{cfg['NAME']}"


def _reset_celery_connections() -> None:
    celery_app._after_fork()  # drops the producer and connection pools bound to the old URL
    celery_app._backend_cache = None
    celery_app._local.__dict__.pop("backend", None)


@contextmanager
def celery_broker(url: str):
    """Make this test process publish tasks to a real broker at `url` instead of running them eagerly."""
    keys = ("broker_url", "result_backend", "task_always_eager")
    saved = {key: celery_app.conf[key] for key in keys}
    celery_app.conf.update(broker_url=url, result_backend=url, task_always_eager=False)
    _reset_celery_connections()
    try:
        yield celery_app
    finally:
        celery_app.conf.update(saved)
        _reset_celery_connections()


class RedisServer:
    """A private redis-server on a free port, which a test can stop and start again."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.workdir = workdir
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed (scripts/system_packages.sh test installs it)"
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


class CeleryWorker:
    """A real `celery worker` process on the test database and a given broker."""

    def __init__(self, broker_url: str, logdir: Path, extra_env: dict | None = None, concurrency: int = 0):
        self.concurrency = concurrency  # 0: one process (--pool=solo); else a prefork pool of that many
        self.broker_url = broker_url
        self.log = logdir / "worker.log"
        self.extra_env = extra_env or {}
        self.process = None

    def start(self) -> None:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "DATABASE_URL": test_database_url(),
            "REDIS_URL": self.broker_url,
            "DATASET_STORAGE_ROOT": str(settings.DATASET_STORAGE_ROOT),
            "DOCUMENT_STORAGE_ROOT": str(settings.DOCUMENT_STORAGE_ROOT),
            "DATABASE_CONN_MAX_AGE": "0",
            **self.extra_env,
        }
        celery = str(Path(sys.executable).parent / "celery")
        self.process = subprocess.Popen(
            [
                celery,
                "-A",
                "portal",
                "worker",
                *(("--pool=prefork", f"--concurrency={self.concurrency}") if self.concurrency else ("--pool=solo",)),
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"test-{os.getpid()}@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
            self.process = None


def wait_for(predicate, timeout: float = 30, interval: float = 0.2, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


def signed_in_long_ago(user, client=None):
    """A test client signed in as `user` so long ago that the password confirmation has lapsed
    (decisive acts ask for it again)."""
    from django.test import Client

    client = client or Client()
    client.force_login(user)
    session = client.session
    session["sudo_until"] = 0
    session.save()
    return client


def send_signed(client, method: str, path: str, body: bytes = b"{}", *, prepared=None):
    """A request signed by this node's key (federation/signatures.py), sent through a Django test
    client with its headers and body exactly as signed; `prepared` sends one signed earlier."""
    from federation.signatures import signed

    prepared = prepared or signed(method, f"http://testserver{path}", json_body=body)
    headers = {name: value for name, value in prepared.headers.items() if name.lower() != "content-length"}
    content_type = headers.pop("Content-Type", "application/json")
    return client.generic(prepared.method, path, data=prepared.body or b"", content_type=content_type, headers=headers)
