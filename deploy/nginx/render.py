#!/usr/bin/env python3
"""Render deploy/nginx/portal.conf: its @PLACEHOLDERS@ filled, its TLS lines kept or dropped.

    python deploy/nginx/render.py --upstream 127.0.0.1:8000 --server-name portal.example.org \\
        --static-root /srv/portal/static --dataset-storage-root /srv/portal/datasets \\
        --document-storage-root /srv/portal/documents \\
        --tls-certificate CERT --tls-certificate-key KEY > /etc/nginx/sites-available/portal

`--standalone PREFIX` writes instead a whole nginx.conf around the site (no daemon, pid, logs and
temporary files under PREFIX, Debian's mime.types) that `nginx -p PREFIX -c PREFIX/nginx.conf`
runs as an ordinary process: how the tests and bench/download_bench.py run this same file on a
loopback port. Python callers use `render_site` and `render_standalone`.
"""

import argparse
import getpass
import os
import re
import sys
from pathlib import Path

TEMPLATE = Path(__file__).with_name("portal.conf")
MIME_TYPES = "/etc/nginx/mime.types"
_TLS_BLOCK = re.compile(r"^[ \t]*# @TLS\{\n.*?^[ \t]*# @TLS\}\n", re.MULTILINE | re.DOTALL)
_TLS_MARK = re.compile(r"^[ \t]*# @TLS[{}]\n", re.MULTILINE)


def _path(value) -> str:
    text = str(value).rstrip("/") or "/"
    if any(c in text for c in " ;{}\"'\n\\$"):
        raise ValueError(f"{text!r}: a path for nginx may not contain spaces, quotes, ';', braces, '$' or '\\'")
    return text


def render_site(
    *,
    upstream: str,
    static_root,
    dataset_storage_root,
    document_storage_root,
    server_name: str = "_",
    listen: str | None = None,
    tls_certificate=None,
    tls_certificate_key=None,
) -> str:
    """The site file: portal.conf with every placeholder filled."""
    tls = bool(tls_certificate and tls_certificate_key)
    text = TEMPLATE.read_text()
    text = _TLS_MARK.sub("", text) if tls else _TLS_BLOCK.sub("", text)
    values = {
        "UPSTREAM": upstream,
        "SERVER_NAME": server_name,
        "LISTEN": listen or ("443 ssl http2" if tls else "80"),
        "STATIC_ROOT": _path(static_root),
        "DATASET_STORAGE_ROOT": _path(Path(dataset_storage_root).resolve()),
        "DOCUMENT_STORAGE_ROOT": _path(Path(document_storage_root).resolve()),
    }
    if tls:
        values |= {"TLS_CERTIFICATE": _path(tls_certificate), "TLS_CERTIFICATE_KEY": _path(tls_certificate_key)}
    for name, value in values.items():
        text = text.replace(f"@{name}@", value)
    left = sorted(set(re.findall(r"@[A-Z_]+@", text)))
    if left:
        raise ValueError(f"placeholders left unfilled: {', '.join(left)}")
    return text


def render_standalone(prefix, site: str, *, workers: int = 2, extra_http: str = "") -> Path:
    """Write PREFIX/nginx.conf (and PREFIX/portal.conf, the site) for a foreground nginx owned by the
    caller; returns the path of nginx.conf. `extra_http` adds servers (the benchmark's direct one)."""
    prefix = Path(prefix).resolve()
    for folder in ("logs", "temp/client", "temp/proxy", "temp/fastcgi", "temp/uwsgi", "temp/scgi"):
        (prefix / folder).mkdir(parents=True, exist_ok=True)
    (prefix / "portal.conf").write_text(site)
    # nginx started by root hands its workers to `nobody`, who cannot read a test's private folders
    user = f"user {getpass.getuser()};\n" if os.geteuid() == 0 else ""
    conf = f"""{user}daemon off;
worker_processes {workers};
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 256; }}
http {{
    include {MIME_TYPES};
    default_type application/octet-stream;
    access_log off;
    client_body_temp_path {prefix}/temp/client;
    proxy_temp_path {prefix}/temp/proxy;
    fastcgi_temp_path {prefix}/temp/fastcgi;
    uwsgi_temp_path {prefix}/temp/uwsgi;
    scgi_temp_path {prefix}/temp/scgi;
    include {prefix}/portal.conf;
{extra_http}
}}
"""
    path = prefix / "nginx.conf"
    path.write_text(conf)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, help="gunicorn's address, e.g. 127.0.0.1:8000")
    parser.add_argument("--server-name", default="_")
    parser.add_argument("--listen", help="default: '443 ssl http2' with a certificate, else 80")
    parser.add_argument("--static-root", required=True, help="STATIC_ROOT (collectstatic's target)")
    parser.add_argument("--dataset-storage-root", required=True, help="DATASET_STORAGE_ROOT")
    parser.add_argument("--document-storage-root", required=True, help="DOCUMENT_STORAGE_ROOT")
    parser.add_argument("--tls-certificate")
    parser.add_argument("--tls-certificate-key")
    parser.add_argument("--standalone", metavar="PREFIX", help="write PREFIX/nginx.conf for a foreground nginx")
    args = parser.parse_args()
    site = render_site(
        upstream=args.upstream,
        server_name=args.server_name,
        listen=args.listen,
        static_root=args.static_root,
        dataset_storage_root=args.dataset_storage_root,
        document_storage_root=args.document_storage_root,
        tls_certificate=args.tls_certificate,
        tls_certificate_key=args.tls_certificate_key,
    )
    if args.standalone:
        print(render_standalone(args.standalone, site))
    else:
        sys.stdout.write(site)


if __name__ == "__main__":
    main()
