"""The grants API (/api/v1/grants/...): the caller's grants as a grantee, a grant, a download grant's
files, and a fresh personal download link for one file.

The access table (portal.access: "signed_in", "grant.view", "grant.use") decides who reaches each
operation; the grant's per-request check (services/grants.py `download_usable`, `download_permit`)
decides whether a grantee may use it today. A link refused is answered with the check's status
(403, 404 or 410) and its `code`, and recorded as a `grant.link_refuse` audit event; a link made is
not recorded (the download it leads to is, by the download view)."""

from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from access_requests.models import GrantKind
from access_requests.selectors_grants import grant_files, grant_for_page, grant_refusal, grant_words, grants_of_grantee
from access_requests.serializers_grants import (
    GrantDetailSerializer,
    GrantFileSerializer,
    GrantLinkSerializer,
    GrantSerializer,
)
from access_requests.services.grants import (
    GrantRefused,
    download_permit,
    download_usable,
    file_relative_path,
    files_held_here,
    link_expires_at,
    link_token,
    link_url,
    portal_today,
)
from catalogue.models import DatasetFile
from federation.grants import links_request
from portal.access import may, require
from portal.apis import ErrorSerializer
from portal.pagination import PortalPagination
from portal.ratelimit import client_ip
from portal.services.audit import audit_record

REFUSED = OpenApiResponse(
    ErrorSerializer,
    description="The grant may not be used now: `code` says why (`revoked`, `expired`, `not_started`, "
    "`application_<status>`, `agreement_not_executed`, `not_approved`, `dataset_withdrawn`, `processing_only`, "
    "`file_outside_grant`, `not_deidentified`).",
)


def grant_get_for(user, grant_pk: int, rule: str = "grant.view"):
    grant = grant_for_page(grant_pk)
    require(user, "grant.view", grant)
    require(user, rule, grant)
    return grant


def refused_response(refused: GrantRefused) -> Response:
    return Response({"detail": refused.message, "code": refused.code}, status=refused.status)


def grant_data(request, grant, today) -> dict:
    words = grant_words(grant, today)
    return {
        "id": grant.pk,
        "application": {
            "id": grant.application_id,
            "reference": grant.application.reference,
            "title": grant.application.title,
        },
        "dataset": {"identifier": grant.dataset.identifier, "title": grant.dataset.title},
        "kind": grant.kind,
        "kind_display": grant.get_kind_display(),
        "state": words.state,
        "state_display": words.words,
        "valid_from": grant.valid_from,
        "valid_until": grant.valid_until,
        "limited_by": grant.limited_by,
        "limited_by_display": grant.get_limited_by_display(),
        "days_left": words.days_left,
        "revoke_reason": grant.revoke_reason,
        "url": request.build_absolute_uri(reverse("grant-detail", args=[grant.pk])),
    }


class GrantListApi(APIView):
    """Any signed-in user: the grants that name them, newest application first."""

    pagination_class = PortalPagination

    @extend_schema(
        summary="My grants: the access grants naming the caller", responses={200: GrantSerializer(many=True)}
    )
    def get(self, request):
        today = portal_today()
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(grants_of_grantee(request.user), request, view=self)
        return paginator.get_paginated_response([grant_data(request, grant, today) for grant in page])


class GrantDetailApi(APIView):
    """Its grantees, and whoever may see its application (they learn no links)."""

    @extend_schema(
        summary="An access grant, and whether the caller may use it now", responses={200: GrantDetailSerializer}
    )
    def get(self, request, grant_pk: int):
        grant = grant_get_for(request.user, grant_pk)
        today = portal_today()
        is_grantee = may(request.user, "grant.use", grant)
        refusal = grant_refusal(grant, request.user, today) if is_grantee else None
        usable = is_grantee and refusal is None
        download = grant.kind == GrantKind.DOWNLOAD
        data = grant_data(request, grant, today)

        def url(name):
            return request.build_absolute_uri(reverse(name, args=[grant.pk])) if usable and download else None

        data.update(
            usable=usable,
            refusal={"detail": refusal.message, "code": refusal.code} if refusal else None,
            files_url=url("api-grant-files"),
            manifest_url=url("grant-manifest"),
            script_url=url("grant-script"),
            processing_environment=None if download else grant.dataset.holder.processing_environment,
        )
        return Response(data)


class GrantFilesApi(APIView):
    """The grantees of a download grant they may use today: its dataset's files, by id."""

    pagination_class = PortalPagination

    @extend_schema(
        summary="A download grant's files: path, size and SHA-256",
        responses={
            200: GrantFileSerializer(many=True),
            403: REFUSED,
            409: OpenApiResponse(ErrorSerializer, description="`held_at_partner`: use remote-links/"),
            410: REFUSED,
        },
    )
    def get(self, request, grant_pk: int):
        grant = grant_get_for(request.user, grant_pk, "grant.use")
        try:
            download_usable(grant, request.user, today=portal_today())
            files_held_here(grant)
        except GrantRefused as refused:
            return refused_response(refused)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(grant_files(grant).order_by("pk"), request, view=self)
        area = grant.dataset.holder.storage_area
        return paginator.get_paginated_response(
            [{"id": f.pk, "path": file_relative_path(f, area), "size": f.size_bytes, "sha256": f.sha256} for f in page]
        )


class GrantFileLinkApi(APIView):
    """The grantees of a download grant: a personal link to one of its files, valid DOWNLOAD_LINK_SECONDS."""

    @extend_schema(
        summary="A fresh download link for one file of the grant",
        request=None,
        responses={200: GrantLinkSerializer, 403: REFUSED, 404: REFUSED, 410: REFUSED},
    )
    def post(self, request, grant_pk: int, file_id: int):
        grant = grant_get_for(request.user, grant_pk, "grant.use")
        file = DatasetFile.objects.select_related("dataset").filter(pk=file_id).first()
        try:
            download_permit(grant, request.user, file, today=portal_today())
        except GrantRefused as refused:
            audit_record(
                actor=request.user,
                verb="grant.link_refuse",
                target=grant.application,
                payload={
                    "grant": grant.pk,
                    "file": file_id,
                    "status": refused.status,
                    "code": refused.code,
                    "ip": client_ip(request),
                },
            )
            return refused_response(refused)
        token = link_token(user=request.user, grant=grant, file=file)
        return Response({"url": request.build_absolute_uri(link_url(token)), "expires_at": link_expires_at()})


class RemoteFileSerializer(serializers.Serializer):
    path = serializers.CharField()
    size_bytes = serializers.IntegerField()
    sha256 = serializers.CharField()
    url = serializers.URLField(help_text="at the partner node; personal, valid until `expires_at`")


class RemoteLinksSerializer(serializers.Serializer):
    node = serializers.CharField(help_text="the partner node that holds the files and enforces the grant")
    expires_at = serializers.DateTimeField()
    files = RemoteFileSerializer(many=True)


class GrantRemoteLinksApi(APIView):
    """The grantees of a download grant of a partner node's dataset: links to every file, made by
    that node for the caller after its own check of the grant (federation/grants.py). 502 when the
    node cannot be reached or answers nonsense."""

    @extend_schema(
        summary="Links to a partner node's files of the grant",
        request=None,
        responses={
            200: RemoteLinksSerializer,
            403: REFUSED,
            404: REFUSED,
            409: OpenApiResponse(ErrorSerializer, description="`not_remote`: the dataset is held at this node"),
            410: REFUSED,
            502: OpenApiResponse(ErrorSerializer, description="`node_unreachable`, `node_refused`, ..."),
            503: OpenApiResponse(ErrorSerializer, description="`node_suspended`"),
        },
    )
    def post(self, request, grant_pk: int):
        grant = grant_get_for(request.user, grant_pk, "grant.use")
        try:
            links = links_request(grant, request.user)
        except GrantRefused as refused:
            return refused_response(refused)
        return Response({"node": links.node, "expires_at": links.expires_at, "files": links.files})
