"""API plumbing shared by every app, and the account endpoint."""

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from portal.errors import DomainError


def exception_handler(exc, context):
    """Every API error is JSON with a `detail`; domain errors carry their status and field errors."""
    if isinstance(exc, DomainError):
        body = {"detail": exc.message, "code": exc.code}
        if exc.fields:
            body["errors"] = exc.fields
        return Response(body, status=exc.status)
    if isinstance(exc, DjangoValidationError):
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return Response({"detail": "Invalid input.", "code": "invalid", "errors": errors}, status=400)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "detail" not in response.data:
        response.data = {"detail": "Invalid input.", "code": "invalid", "errors": response.data}
    elif response is not None and isinstance(response.data, list):
        response.data = {"detail": "Invalid input.", "code": "invalid", "errors": {"non_field_errors": response.data}}
    return response


def json_error(request, status: int, detail: str) -> JsonResponse:
    return JsonResponse(
        {"detail": detail, "code": {404: "not_found", 403: "forbidden", 400: "bad_request"}.get(status, "error")},
        status=status,
    )


class ErrorSerializer(serializers.Serializer):
    """The body of every API error answer, as `exception_handler` writes it."""

    detail = serializers.CharField()
    code = serializers.CharField()
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="field errors; a refused submission lists its problems under `check`",
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
