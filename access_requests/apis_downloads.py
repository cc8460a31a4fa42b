"""The download link of a grant (/api/v1/downloads/<token>/): a browser session or a personal API
token, the link's own user only. Everything else is access_requests/services/downloads.py."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.views import APIView

from access_requests.apis import AnyAcceptNegotiation
from access_requests.services.downloads import download_response
from portal.apis import ErrorSerializer

_REFUSED = "refused; `code` says why ({})"


class DownloadApi(APIView):
    """Download one file of a download grant through a signed link (made for the caller, valid for
    DOWNLOAD_LINK_SECONDS). The grant, its application, agreement and dataset are checked at every
    request. Supports `Range` (one range; `bytes=a-b`, `a-`, `-n`) and `If-Range` to resume."""

    content_negotiation_class = AnyAcceptNegotiation

    @extend_schema(
        summary="Download a file through a grant's download link",
        parameters=[
            OpenApiParameter("Range", OpenApiTypes.STR, OpenApiParameter.HEADER, description="e.g. `bytes=1048576-`"),
            OpenApiParameter("If-Range", OpenApiTypes.STR, OpenApiParameter.HEADER, description="the ETag"),
        ],
        responses={
            (200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY, description="the whole file"),
            (206, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY, description="the range asked"),
            403: OpenApiResponse(ErrorSerializer, description=_REFUSED.format("tampered, not_link_owner, ...")),
            404: OpenApiResponse(ErrorSerializer, description=_REFUSED.format("file_outside_grant, ...")),
            410: OpenApiResponse(ErrorSerializer, description=_REFUSED.format("link_expired, revoked, expired")),
            416: OpenApiResponse(ErrorSerializer, description="the range lies outside the file"),
        },
    )
    def get(self, request, token: str):
        return download_response(request, token)
