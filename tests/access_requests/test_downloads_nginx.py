"""A download through Debian's nginx with deploy/nginx/portal.conf in front of the portal under
gunicorn (gthread), both started here on loopback ports against the test database: the portal
checks the link and answers X-Accel-Redirect, nginx sends the bytes (Range and resume included)."""

import hashlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from access_requests.models import Download, Grant, GrantKind
from access_requests.services import grants as gs
from portal.models import AuditEvent
from portal.services.tokens import api_token_create
from tests.access_requests.conftest import dataset_file_write

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "deploy" / "nginx"))
from render import render_site, render_standalone  # noqa: E402

from tests.conftest import NGINX  # noqa: E402

pytestmark = [pytest.mark.postgres, pytest.mark.nginx]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_listening(port: int, proc: subprocess.Popen, what: str) -> None:
    for _ in range(150):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if proc.poll() is not None:
                raise AssertionError(f"{what} exited at start ({proc.returncode})") from None
            time.sleep(0.1)
    raise AssertionError(f"{what} did not listen within 15 s")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def served(transactional_db, tmp_path):
    """gunicorn (gthread, PROTECTED_SERVE_MODE=nginx) and nginx with deploy/'s configuration."""
    app_port, web_port = _free_port(), _free_port()
    database = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        "DEBUG": "false",
        "SECRET_KEY": settings.SECRET_KEY,  # the links the test signs must verify there
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "PORTAL_VAR_DIR": str(tmp_path / "var"),
        "AUDIT_ANCHOR_FILE": "",
        "DATASET_STORAGE_ROOT": str(settings.DATASET_STORAGE_ROOT),
        "DOCUMENT_STORAGE_ROOT": str(settings.DOCUMENT_STORAGE_ROOT),
        "PROTECTED_SERVE_MODE": "nginx",
        "PROTECTED_ACCEL_PREFIX": "/protected/",
        "TRUSTED_PROXY_COUNT": "1",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)
    gunicorn = subprocess.Popen(  # nosec B603  # the venv's gunicorn on a loopback port
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "portal.wsgi:application",
            "--worker-class=gthread",
            "--workers=1",
            "--threads=4",
            f"--bind=127.0.0.1:{app_port}",
            "--log-level=warning",
        ],
        cwd=ROOT,
        env=env,
    )
    static = tmp_path / "static"
    static.mkdir()
    site = render_site(
        upstream=f"127.0.0.1:{app_port}",
        listen=f"127.0.0.1:{web_port}",
        static_root=static,
        dataset_storage_root=settings.DATASET_STORAGE_ROOT,
        document_storage_root=settings.DOCUMENT_STORAGE_ROOT,
    )
    conf = render_standalone(tmp_path / "nginx", site, workers=1)
    nginx = subprocess.Popen([NGINX, "-p", str(conf.parent), "-c", str(conf)])  # nosec B603
    try:
        _wait_listening(app_port, gunicorn, "gunicorn")
        _wait_listening(web_port, nginx, "nginx")
        yield web_port
    finally:
        _stop(nginx)
        _stop(gunicorn)


def _get(port: int, path: str, headers: dict) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path, headers={"Host": "127.0.0.1", **headers})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def test_a_download_through_nginx_with_x_accel_redirect_resumes_and_matches(active, alice, dataset, served):
    grant = Grant.objects.get(application=active, kind=GrantKind.DOWNLOAD)
    content = os.urandom(3 * 1024 * 1024 + 12345)
    file = dataset_file_write(dataset, "mg/large case.dcm", content)
    _, raw = api_token_create(actor=alice, name="download script", days=30)
    auth = {"Authorization": f"Token {raw}", "User-Agent": "portal-download-test"}
    url = gs.link_url(gs.link_token(user=alice, grant=grant, file=file))

    status, headers, body = _get(served, url, auth)
    assert status == 200, body[:300]
    assert body == content
    assert headers["content-length"] == str(len(content))
    assert headers["content-type"] == "application/dicom"
    assert headers["content-disposition"] == 'attachment; filename="large case.dcm"'
    assert headers["x-content-type-options"] == "nosniff"
    assert "no-store" in headers["cache-control"]
    assert headers["x-content-sha256"] == file.sha256 and headers["repr-digest"].startswith("sha-256=:")
    assert "x-accel-redirect" not in headers  # nginx consumed it
    etag = headers["etag"]

    # the first half arrives, then the transfer resumes from the break with If-Range
    half = len(content) // 2
    status, headers, first = _get(served, url, {**auth, "Range": f"bytes=0-{half - 1}"})
    assert status == 206 and len(first) == half
    status, headers, rest = _get(served, url, {**auth, "Range": f"bytes={half}-", "If-Range": etag})
    assert status == 206
    assert headers["content-range"] == f"bytes {half}-{len(content) - 1}/{len(content)}"
    assert hashlib.sha256(first + rest).hexdigest() == file.sha256

    status, headers, _ = _get(served, url, {**auth, "Range": "bytes=-4096"})
    assert status == 206 and headers["content-range"].endswith(f"/{len(content)}")
    status, headers, _ = _get(served, url, {**auth, "Range": f"bytes={len(content)}-"})
    assert status == 416 and headers["content-range"] == f"bytes */{len(content)}"

    downloads = list(Download.objects.order_by("pk"))
    assert [(d.status_code, d.range_start, d.bytes_sent, d.mode) for d in downloads] == [
        (200, None, len(content), "nginx"),
        (206, 0, half, "nginx"),
        (206, half, len(content) - half, "nginx"),
        (206, len(content) - 4096, 4096, "nginx"),
        (416, None, 0, "nginx"),
    ]
    assert {d.ip for d in downloads} == {"127.0.0.1"} and downloads[0].user_agent == "portal-download-test"
    assert AuditEvent.objects.filter(verb="download.serve").count() == 5

    # the internal location is not reachable from outside, and a refused link never reaches it
    status, _, _ = _get(served, f"/protected/datasets/{quote(file.path)}", {})
    assert status == 404
    status, headers, body = _get(served, url.replace(":", "x", 1), auth)
    assert status == 403 and json.loads(body)["code"] == "tampered"


def test_the_production_rendering_with_tls_passes_nginx_own_check(tmp_path):
    """The same file rendered for production (TLS, port 80 redirecting) is a configuration nginx accepts."""
    tmp_path = tmp_path / "production"
    tmp_path.mkdir()
    certificate, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(  # nosec B603 B607  # a throwaway self-signed certificate
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=portal.test"]
        + ["-keyout", str(key), "-out", str(certificate)],
        check=True,
        capture_output=True,
    )
    for folder in ("static", "datasets", "documents"):
        (tmp_path / folder).mkdir()
    site = render_site(
        upstream="127.0.0.1:8000",
        server_name="portal.example.org",
        static_root=tmp_path / "static",
        dataset_storage_root=tmp_path / "datasets",
        document_storage_root=tmp_path / "documents",
        tls_certificate=certificate,
        tls_certificate_key=key,
    )
    assert "listen 443 ssl http2;" in site and "return 301 https://$host$request_uri;" in site
    assert not re.findall(r"@[A-Z_]+@", site)
    conf = render_standalone(tmp_path / "nginx", site)
    checked = subprocess.run([NGINX, "-t", "-p", str(conf.parent), "-c", str(conf)], capture_output=True, text=True)  # nosec B603
    assert checked.returncode == 0, checked.stderr
    plain = render_site(
        upstream="127.0.0.1:8000",
        listen="127.0.0.1:8080",
        static_root=tmp_path / "static",
        dataset_storage_root=tmp_path / "datasets",
        document_storage_root=tmp_path / "documents",
    )
    assert "ssl_certificate" not in plain and "listen 80;" not in plain
    assert not re.search(r"^\s*# @TLS[{}]$", plain + site, re.MULTILINE)
