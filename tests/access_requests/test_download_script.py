"""The download script, as a grantee gets it from their grant's page, run as a separate Python process
against a live portal with a real personal API token: it fetches every file and verifies it, resumes
a partial `.part` file with a Range request, asks for a fresh link when one has lapsed, and exits
non-zero naming a file whose SHA-256 does not match."""

import hashlib
import os
import subprocess
import sys
import time

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse

from access_requests import apis_grants
from access_requests.models import Download, Grant, GrantKind
from access_requests.services.grants import LINK_SALT
from portal.services.tokens import api_token_create

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def script(live_server, settings, alice, active, tmp_path):
    """The grant's download script as served to Alice, and a run of it with her token."""
    settings.SITE_URL = live_server.url
    grant = Grant.objects.get(application=active, kind=GrantKind.DOWNLOAD)
    client = Client()
    client.force_login(alice)
    response = client.get(reverse("grant-script", args=[grant.pk]))
    assert response.status_code == 200
    path = tmp_path / "download.py"
    path.write_bytes(response.content)
    _, secret = api_token_create(actor=alice, name="script", days=30)
    dest = tmp_path / "data"

    def run(*args: str, token: str = secret) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if k not in ("PORTAL_TOKEN", "PORTAL_URL")}
        env["PORTAL_TOKEN"] = token
        return subprocess.run(  # noqa: S603  (the script the portal served, run by the test)
            [sys.executable, str(path), "--dest", str(dest), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    run.dest = dest
    run.grant = grant
    return run


def _on_disk(file) -> bytes:
    from django.conf import settings

    return (settings.DATASET_STORAGE_ROOT / file.path).read_bytes()


def _relative(file) -> str:
    return file.path.split("/", 1)[1]


def test_the_script_downloads_every_file_and_verifies_it(script, download_files):
    done = script()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "All 3 files verified (SHA-256)" in done.stdout
    for file in download_files:
        got = (script.dest / _relative(file)).read_bytes()
        assert got == _on_disk(file) and hashlib.sha256(got).hexdigest() == file.sha256
    assert not list(script.dest.rglob("*.part"))
    assert Download.objects.filter(grant=script.grant).count() == 3
    # run again: nothing to fetch, everything checked
    again = script()
    assert again.returncode == 0 and again.stdout.count("have ") == 3
    assert Download.objects.filter(grant=script.grant).count() == 3


def test_a_partial_file_is_resumed_from_its_size(script, download_files):
    file = download_files[2]
    target = script.dest / _relative(file)
    target.parent.mkdir(parents=True)
    have = 100_000
    target.with_name(target.name + ".part").write_bytes(_on_disk(file)[:have])
    done = script()
    assert done.returncode == 0, done.stdout + done.stderr
    assert target.read_bytes() == _on_disk(file)
    resumed = Download.objects.get(grant=script.grant, file=file)
    assert resumed.range_start == have and resumed.bytes_sent == file.size_bytes - have
    assert resumed.status_code == 206


def test_a_lapsed_link_is_asked_for_again(script, download_files, monkeypatch):
    """The first link the API makes is two hours old: the download answers 410 `link_expired` and the
    script asks for a fresh link, then completes."""
    made = []
    fresh = apis_grants.link_token

    def first_one_stale(*, user, grant, file):
        made.append(file.pk)
        if len(made) > 1:
            return fresh(user=user, grant=grant, file=file)
        stale = signing.b62_encode(int(time.time()) - 7200)
        return signing.Signer(salt=LINK_SALT).sign(f"{user.pk}.{grant.pk}.{file.pk}:{stale}")

    monkeypatch.setattr(apis_grants, "link_token", first_one_stale)
    done = script()
    assert done.returncode == 0, done.stdout + done.stderr
    assert made[0] == made[1]  # the same file, asked for twice
    assert len(made) == 4
    assert all((script.dest / _relative(f)).read_bytes() == _on_disk(f) for f in download_files)


def test_a_corrupted_file_is_named_and_the_exit_status_is_not_zero(script, download_files):
    assert script().returncode == 0
    file = download_files[1]
    target = script.dest / _relative(file)
    data = bytearray(target.read_bytes())
    data[5000] ^= 0xFF  # same size: only the checksum can tell
    target.write_bytes(bytes(data))
    for args in ((), ("--verify-only",)):
        done = script(*args)
        assert done.returncode == 1
        assert f"{_relative(file)} (SHA-256 does not match)" in done.stderr
        assert "1 of 3 files missing or not matching" in done.stderr
    (script.dest / _relative(download_files[0])).unlink()
    checked = script("--verify-only")
    assert checked.returncode == 1 and f"{_relative(download_files[0])} (missing)" in checked.stderr


def test_without_a_token_the_script_says_where_to_make_one(script):
    done = script(token="")
    assert done.returncode == 2 and "/settings/tokens/" in done.stderr
    refused = script(token="dap_not-a-real-token")
    assert refused.returncode == 2 and "Could not list the grant's files" in refused.stderr


def test_a_server_that_ignores_range_sends_the_whole_file_which_replaces_the_part(script, download_files, monkeypatch):
    from access_requests.services import downloads

    whole = downloads.range_answer
    monkeypatch.setattr(downloads, "range_answer", lambda header, size: whole(None, size))
    file = download_files[0]
    target = script.dest / _relative(file)
    target.parent.mkdir(parents=True)
    target.with_name(target.name + ".part").write_bytes(b"x" * 50_000)  # not even the file's beginning
    done = script()
    assert done.returncode == 0, done.stdout + done.stderr
    assert target.read_bytes() == _on_disk(file)
    answered = Download.objects.get(grant=script.grant, file=file)
    assert answered.status_code == 200 and answered.bytes_sent == file.size_bytes
