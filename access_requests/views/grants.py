"""The grantee's pages of access grants: My data (every grant naming the signed-in person), a grant's
page (a download grant's files, each with a fresh personal link, its checksum manifest and the
download script; a processing grant's environment), the manifest and the script.

The access table (portal.access: "signed_in", "grant.view", "grant.use") decides who reaches each
page; links are made only for a grantee the grant's per-request check lets through
(services/grants.py `download_usable`), and the download view checks again at every request.
Whoever else may see the grant (the RDO, the committee, a steward) sees it without links."""

from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

from access_requests.models import GrantKind
from access_requests.selectors_grants import (
    days_left_words,
    grant_files,
    grant_for_page,
    grant_refusal,
    grant_words,
    grants_of_grantee,
)
from access_requests.services.grants import (
    GrantRefused,
    file_relative_path,
    files_held_here,
    link_token,
    link_url,
    portal_today,
)
from federation.grants import links_request
from portal.access import may, require
from portal.keyset import BadCursor, request_page
from portal.services.audit import audit_record

FILES_PAGE_SIZE = 100
MANIFEST_CHUNK = 2000
SCRIPT_TEMPLATE = Path(__file__).resolve().parent.parent / "grant_download_script.py"


def grant_get_for(user, grant_pk: int, rule: str = "grant.view"):
    """The grant if `user` may see it (else 404) and do `rule` (else 403)."""
    grant = grant_for_page(grant_pk)
    require(user, "grant.view", grant)
    require(user, rule, grant)
    return grant


def _row(grant, today) -> dict:
    words = grant_words(grant, today)
    return {
        "grant": grant,
        "state": words.state,
        "state_words": words.words,
        "days_left": days_left_words(words.days_left),
        "url": reverse("grant-detail", args=[grant.pk]),
    }


@login_required
@require_GET
def my_data(request):
    """The signed-in person's grants, grouped by application, with their dates and how each stands."""
    today = portal_today()
    groups: list[dict] = []
    for grant in grants_of_grantee(request.user):
        if not groups or groups[-1]["application"].pk != grant.application_id:
            groups.append({"application": grant.application, "rows": []})
        groups[-1]["rows"].append(_row(grant, today))
    return render(request, "access_requests/grants/my_data.html", {"groups": groups})


@login_required
@require_GET
def grant_detail(request, grant_pk: int):
    grant = grant_get_for(request.user, grant_pk)
    today = portal_today()
    is_grantee = may(request.user, "grant.use", grant)
    refusal = grant_refusal(grant, request.user, today) if is_grantee else None
    context = {
        **_row(grant, today),
        "is_grantee": is_grantee,
        "refusal": refusal,
        "usable": is_grantee and refusal is None,
        "is_download": grant.kind == GrantKind.DOWNLOAD,
        "link_minutes": settings.DOWNLOAD_LINK_SECONDS // 60,
        "remote_node": grant.dataset.holder.node,
    }
    if grant.kind == GrantKind.PROCESSING:
        context["environment"] = grant.dataset.holder.processing_environment
        return render(request, "access_requests/grants/grant_detail.html", context)
    if context["remote_node"] is not None:
        return _remote_files(request, grant, context)
    try:
        page = request_page(request, grant_files(grant), order=("pk",), size=FILES_PAGE_SIZE, kinds=(int,))
    except BadCursor as exc:
        return render(
            request, "access_requests/grants/grant_detail.html", {**context, "page_error": str(exc)}, status=400
        )
    area = grant.dataset.holder.storage_area
    files = []
    for file in page.object_list:
        row = {"file": file, "path": file_relative_path(file, area)}
        if context["usable"]:
            # grant_files leaves out files failing the check (services/grants.py file_releasable)
            row["link"] = link_url(link_token(user=request.user, grant=grant, file=file))
        files.append(row)
    context.update(page=page, files=files)
    return render(request, "access_requests/grants/grant_detail.html", context)


def _remote_files(request, grant, context: dict):
    """A download grant of a partner node's dataset: its files and their links come from that node,
    asked now for this grantee (federation/grants.py); the node checks the grant again."""
    if context["usable"]:
        try:
            links = links_request(grant, request.user)
        except GrantRefused as refused:
            context["remote_error"] = refused.message
        else:
            context["remote_links"] = links
    return render(request, "access_requests/grants/grant_detail.html", context)


def _usable_or_page(request, grant_pk: int):
    """(grant, None) when the caller may use the download grant today, else (grant, the refusal's page)."""
    grant = grant_get_for(request.user, grant_pk, "grant.use")
    refusal = grant_refusal(grant, request.user, portal_today())
    if refusal is None:
        try:
            files_held_here(grant)
        except GrantRefused as held:
            refusal = held
    if refusal is None and grant.kind != GrantKind.DOWNLOAD:
        refusal_words = "This grant is for processing where the data live: it has no files to download."
        return grant, render(
            request, "access_requests/grants/refused.html", {"grant": grant, "message": refusal_words}, status=403
        )
    if refusal is not None:
        return grant, render(
            request,
            "access_requests/grants/refused.html",
            {"grant": grant, "message": refusal.message},
            status=refusal.status,
        )
    return grant, None


def _manifest_lines(grant):
    """`sha256sum -c` lines, read in keyset chunks: memory and each query stay bounded."""
    area = grant.dataset.holder.storage_area
    last = 0
    while True:
        chunk = list(
            grant_files(grant).filter(pk__gt=last).order_by("pk").only("pk", "path", "sha256")[:MANIFEST_CHUNK]
        )
        if not chunk:
            return
        yield "".join(f"{f.sha256}  {file_relative_path(f, area)}\n" for f in chunk)
        last = chunk[-1].pk


@login_required
@require_GET
def grant_manifest(request, grant_pk: int):
    """The dataset's checksums, `sha256sum -c` style, streamed."""
    grant, refused = _usable_or_page(request, grant_pk)
    if refused is not None:
        return refused
    audit_record(
        actor=request.user,
        verb="grant.manifest",
        target=grant.application,
        payload={"grant": grant.pk, "dataset": grant.dataset.identifier},
    )
    response = StreamingHttpResponse(_manifest_lines(grant), content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, f"{grant.dataset.identifier}.sha256")
    response["Cache-Control"] = "private, no-store"
    return response


def download_script(grant, portal_url: str) -> str:
    """The download script with this portal's address and the grant filled in."""
    text = SCRIPT_TEMPLATE.read_text(encoding="utf-8")
    return (
        text.replace("__PORTAL_URL__", portal_url.rstrip("/"))
        .replace("__GRANT_ID__", str(grant.pk))
        .replace("__DATASET__", grant.dataset.identifier)
        .replace("__TOKENS_URL__", portal_url.rstrip("/") + reverse("tokens"))
    )


@login_required
@require_GET
def grant_script(request, grant_pk: int):
    """A Python 3 script (standard library only) that fetches every file of the grant and verifies it."""
    grant, refused = _usable_or_page(request, grant_pk)
    if refused is not None:
        return refused
    response = HttpResponse(download_script(grant, settings.SITE_URL), content_type="text/x-python; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, "download.py")
    response["Cache-Control"] = "private, no-store"
    return response
