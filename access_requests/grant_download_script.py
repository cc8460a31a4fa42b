#!/usr/bin/env python3
"""Download every file of access grant __GRANT_ID__ (dataset __DATASET__) from __PORTAL_URL__ and verify it.

Python 3.8 or later, standard library only. Authenticates with your personal API token, made on
__TOKENS_URL__ and given in the environment variable PORTAL_TOKEN:

    PORTAL_TOKEN=dap_... python3 download.py --dest __DATASET__

Each file is fetched through a personal link that lasts a short time; the script asks for a fresh
one when the old one lapses. An interrupted file is kept as `<name>.part` and resumed on the next
run. At the end every file's SHA-256 is checked: the script exits with status 1 naming each file
that is missing or does not match. `--verify-only` checks a finished download again.

The portal fills in its address and the grant when it serves this script (the placeholders in
the copy kept in the portal's repository: access_requests/grant_download_script.py).
"""

import argparse
import hashlib
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path, PurePosixPath

PORTAL = os.environ.get("PORTAL_URL", "__PORTAL_URL__").rstrip("/")
GRANT = "__GRANT_ID__"
TOKENS_PAGE = "__TOKENS_URL__"
CHUNK = 1024 * 1024
ATTEMPTS = 5  # per file, for a dropped connection or a lapsed link


class Refused(Exception):
    """The portal refused: status, code and its words."""

    def __init__(self, status, code, detail):
        super().__init__(f"{detail} (HTTP {status}, {code})")
        self.status = status
        self.code = code


def _request(url, token, *, method="GET", headers=None):
    """Open `url`; the token goes only to the portal itself."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"not a web address: {url}")
    headers = dict(headers or {})
    if (parts.scheme, parts.netloc) == urllib.parse.urlsplit(PORTAL)[:2]:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, method=method, headers=headers)  # noqa: S310  (http(s) checked above)
    return urllib.request.urlopen(request, timeout=60)  # noqa: S310  # nosec B310  # http(s) checked above


def _refusal(error):
    try:
        body = json.loads(error.read().decode("utf-8"))
    except (ValueError, OSError):
        body = {}
    return Refused(error.code, body.get("code", "error"), body.get("detail", error.reason))


def api(path_or_url, token, *, method="GET"):
    url = urllib.parse.urljoin(PORTAL + "/", path_or_url)
    try:
        with _request(url, token, method=method, headers={"Accept": "application/json"}) as response:
            return json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as error:
        raise _refusal(error) from None


def grant_files(token):
    """Every file of the grant: path, size, sha256 and id, page by page."""
    url = f"/api/v1/grants/{GRANT}/files/?page_size=100"
    while url:
        page = api(url, token)
        yield from page["results"]
        url = page.get("next")


def target_of(dest, relative):
    """Where a file goes under `dest`; a path that would leave it is refused."""
    parts = PurePosixPath(relative).parts
    if not parts or PurePosixPath(relative).is_absolute() or ".." in parts:
        raise ValueError(f"refusing a file path outside the destination: {relative!r}")
    return dest.joinpath(*parts)


def _transfer(link, part, have, token):
    """Fetch `link` into `part` from byte `have` (Range); a server that ignores Range answers 200
    with the whole file, which then replaces the part."""
    headers = {"Range": f"bytes={have}-"} if have else {}
    response = _request(urllib.parse.urljoin(PORTAL + "/", link), token, headers=headers)
    with response, open(part, "ab" if response.status == 206 else "wb") as out:
        for block in iter(lambda: response.read(CHUNK), b""):
            out.write(block)


def fetch(item, dest, token, log):
    """Download one file into `<target>.part`, resuming, then move it in place. Returns its path."""
    target = target_of(dest, item["path"])
    if target.exists() and target.stat().st_size == item["size"]:
        log(f"have   {item['path']}")
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    link = None
    for attempt in range(1, ATTEMPTS + 1):
        have = part.stat().st_size if part.exists() else 0
        if have > item["size"]:  # not this file's beginning: start again
            part.unlink()
            have = 0
        if have == item["size"]:
            break
        link = link or api(f"/api/v1/grants/{GRANT}/files/{item['id']}/link/", token, method="POST")["url"]
        try:
            _transfer(link, part, have, token)
        except urllib.error.HTTPError as error:
            refused = _refusal(error)
            if refused.status == 416:  # nothing past what we have: start the file again
                part.unlink()
            elif refused.status == 410 and refused.code == "link_expired":
                link = None  # ask for a fresh link
            else:
                raise refused from None
        except (urllib.error.URLError, OSError) as error:
            log(f"retry  {item['path']}: {error} (attempt {attempt} of {ATTEMPTS})")
            time.sleep(min(2**attempt, 30))
    if not part.exists() or part.stat().st_size != item["size"]:
        raise OSError(f"{item['path']}: incomplete after {ATTEMPTS} attempts")
    part.replace(target)
    log(f"got    {item['path']}")
    return target


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(items, dest):
    """The paths of the files missing or not matching their SHA-256."""
    bad = []
    for item in items:
        target = target_of(dest, item["path"])
        if not target.is_file():
            bad.append(f"{item['path']} (missing)")
        elif sha256_of(target) != item["sha256"]:
            bad.append(f"{item['path']} (SHA-256 does not match)")
    return bad


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dest", default="__DATASET__", help="folder to save the files in (default: %(default)s)")
    parser.add_argument("--verify-only", action="store_true", help="download nothing; check the files in --dest")
    parser.add_argument("--quiet", action="store_true", help="print only problems")
    args = parser.parse_args(argv)
    token = os.environ.get("PORTAL_TOKEN", "").strip()
    if not token:
        print(f"Set PORTAL_TOKEN to a personal API token: make one on {TOKENS_PAGE}", file=sys.stderr)
        return 2

    def log(line):
        if not args.quiet:
            print(line)

    dest = Path(args.dest)
    try:
        items = list(grant_files(token))
    except (Refused, urllib.error.URLError, OSError) as error:
        print(f"Could not list the grant's files: {error}", file=sys.stderr)
        return 2
    failed = []
    if not args.verify_only:
        dest.mkdir(parents=True, exist_ok=True)
        for item in items:
            try:
                fetch(item, dest, token, log)
            except (Refused, ValueError, OSError) as error:
                print(f"FAILED {item['path']}: {error}", file=sys.stderr)
                failed.append(item["path"])
                if isinstance(error, Refused) and error.status == 410 and error.code != "link_expired":
                    break  # the grant has ended or was revoked: no other file will come
    bad = verify(items, dest)
    for line in bad:
        print(f"BAD    {line}", file=sys.stderr)
    if bad or failed:
        print(f"{len(bad)} of {len(items)} files missing or not matching their SHA-256.", file=sys.stderr)
        return 1
    log(f"All {len(items)} files verified (SHA-256) in {dest}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
