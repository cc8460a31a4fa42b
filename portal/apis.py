"""API plumbing shared by every app: the one writer of error bodies, and the account endpoint."""

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from portal.errors import DomainError

# The `code` of an error that names no more precise one, by HTTP status.
STATUS_CODES = {
    400: "invalid",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    429: "throttled",
    500: "server_error",
}
# Domain codes that say no more than the status; the API answers the status's one code for them.
GENERIC_CODES = {"forbidden": "permission_denied", "error": None}


def _leaves(errors, path: tuple = ()):
    """(path, message) for every message in DRF's nested errors; a path is a tuple of keys and indexes."""
    if isinstance(errors, dict):
        for key, value in errors.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(errors, (list, tuple)):
        for index, item in enumerate(errors):
            yield from _leaves(item, (*path, index) if isinstance(item, (dict, list, tuple)) else path)
    elif errors is not None:
        yield path, str(errors)


def flatten_errors(errors) -> dict[str, list[str]]:
    """Field errors as `{field: [messages]}`, so every body matches the one `Error` schema. An error
    inside a field (an item of a list, a key of an object, a nested field) keeps its place at the
    start of its message: `{"data_use": ["[0].code: This field is required."]}`."""
    flat: dict[str, list[str]] = {}
    for path, message in _leaves(errors):
        field, inner = (str(path[0]), path[1:]) if path else ("non_field_errors", ())
        where = "".join(f"[{part}]" if isinstance(part, int) or str(part).isdigit() else f".{part}" for part in inner)
        flat.setdefault(field, []).append(f"{where.lstrip('.')}: {message}" if where else message)
    return flat


def _body(status: int, detail: str, code: str | None, errors=None) -> dict:
    code = GENERIC_CODES.get(code, code) if code else None
    body = {"detail": str(detail), "code": str(code or STATUS_CODES.get(status, "error"))}
    errors = flatten_errors(errors) if errors else {}
    if errors:
        body["errors"] = errors
    return body


def _as_api_exception(exc):
    """Django's and the domain's exceptions as DRF's, so that one path writes every body."""
    if isinstance(exc, Http404):
        return exceptions.NotFound(*exc.args)
    if isinstance(exc, PermissionDenied):
        return exceptions.PermissionDenied(*exc.args)
    return exc


def exception_handler(exc, context):
    """Every API error is JSON matching `ErrorSerializer`: `detail`, a `code`, and field `errors` when
    the input was refused. Domain errors carry their status; DRF's own headers (WWW-Authenticate on a
    401, Retry-After on a 429) and its transaction rollback are kept."""
    if isinstance(exc, DomainError):
        return Response(_body(exc.status, exc.message, exc.code, exc.fields), status=exc.status)
    if isinstance(exc, DjangoValidationError):
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return Response(_body(400, "Invalid input.", "invalid", errors), status=400)
    exc = _as_api_exception(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # not an API error: a 500, answered by portal.errorpages.server_error
    if isinstance(exc, exceptions.ValidationError):
        response.data = _body(response.status_code, "Invalid input.", "invalid", exc.detail)
    else:
        detail = exc.detail
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code
        if not isinstance(detail, str):  # a handler that raised a dict or list: field errors
            response.data = _body(response.status_code, "Invalid input.", code, detail)
        else:
            response.data = _body(response.status_code, detail, code)
    return response


class _StatusError(exceptions.APIException):
    def __init__(self, status: int, detail: str):
        self.status_code = status
        super().__init__(detail, code=STATUS_CODES.get(status, "error"))


def json_error(request, status: int, detail: str) -> JsonResponse:
    """The Error body for an answer Django gives outside DRF (an unknown /api/ path, a 500),
    written by `exception_handler` like every other."""
    response = exception_handler(_StatusError(status, detail), {"request": request, "view": None})
    return JsonResponse(response.data, status=status)


class ErrorSerializer(serializers.Serializer):
    """The body of every API error answer, as `exception_handler` writes it."""

    detail = serializers.CharField(help_text="what went wrong, for people")
    code = serializers.CharField(
        help_text="for programs: `invalid` (400), `not_authenticated` or `authentication_failed` (401), "
        "`permission_denied` (403), `not_found` (404), `method_not_allowed` (405), `not_acceptable` (406), "
        "`conflict` or `illegal_transition` (409), `unsupported_media_type` (415), `throttled` (429), "
        "or a more precise code a service names"
    )
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="field errors by field; an error inside a field starts with its place (`[0].code: ...`); "
        "a refused submission lists its problems under `check`",
    )


class MeSerializer(serializers.Serializer):
    email = serializers.EmailField()
    full_name = serializers.CharField()
    organisation = serializers.CharField()
    roles = serializers.ListField(child=serializers.CharField())
    authenticated_by = serializers.CharField()


class MeApi(APIView):
    """Who the caller is, with which roles, and whether by session or token."""

    @extend_schema(responses=MeSerializer)
    def get(self, request):
        user = request.user
        data = {
            "email": user.email,
            "full_name": user.full_name,
            "organisation": user.organisation,
            "roles": sorted(user.roles),
            "authenticated_by": "token" if request.auth is not None else "session",
        }
        return Response(MeSerializer(data).data)


__all__ = ["exception_handler", "MeApi", "Http404", "PermissionDenied"]
