"""The grant lifecycle API: revoke a grant or a whole application (the reviewing RDO or the committee's
chair), ask for an extension (a grantee) and decide on it (the reviewing RDO), attest the closeout
(the applicant).

The access table (portal.access URLS) decides who reaches each operation before the view runs; the
getter loads the object and checks the same rule; the service (access_requests/services/grants.py,
lifecycle.py) checks once more and acts. Revoking and deciding are decisive acts: the password is
confirmed (sudo). Refusals answer `{"detail": ...}`: 400 with `fields`, 403, 404, 409."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from access_requests.apis import _validated
from access_requests.models import Application, Closeout, ExtensionStatus, Grant
from access_requests.permissions import application_get_for
from access_requests.serializers_access import (
    ApplicationEndSerializer,
    CloseoutInputSerializer,
    CloseoutSerializer,
    ExtensionAskSerializer,
    ExtensionDecisionSerializer,
    ExtensionRequestSerializer,
    GrantStateSerializer,
    ReasonSerializer,
)
from access_requests.services import grants as grant_svc
from access_requests.services import lifecycle
from access_requests.views.lifecycle import grant_get_for
from portal.apis import ErrorSerializer
from portal.errors import TransitionError

REFUSED = {
    400: OpenApiResponse(ErrorSerializer, description="A field is missing or refused (`fields` says which)."),
    409: OpenApiResponse(ErrorSerializer, description="The grant's or the application's state refuses it."),
}


def _grant(grant: Grant) -> Response:
    grant = Grant.objects.select_related("dataset", "application").get(pk=grant.pk)
    return Response(GrantStateSerializer(grant).data)


class GrantRevokeApi(APIView):
    """The reviewing RDO or the chair of the committee that decided: one grant ends at once, its links
    stop on their next request, and its processing environment is told. A decisive act."""

    @extend_schema(
        summary="Revoke one access grant, with a reason",
        request=ReasonSerializer,
        responses={200: GrantStateSerializer, **REFUSED},
    )
    def post(self, request, grant_pk: int):
        grant = grant_get_for(request.user, grant_pk, "grant.revoke")
        data = _validated(ReasonSerializer, request.data)
        grant_svc.grant_revoke(actor=request.user, grant=grant, reason=data["reason"])
        return _grant(grant)


class ApplicationRevokeApi(APIView):
    """The reviewing RDO or the committee's chair: every grant of an active application ends, and the
    application is revoked. A decisive act."""

    @extend_schema(
        summary="Revoke a whole application's access, with a reason",
        request=ReasonSerializer,
        responses={200: ApplicationEndSerializer, **REFUSED},
    )
    def post(self, request, pk: int):
        application = application_get_for(user=request.user, pk=pk, action="view")
        data = _validated(ReasonSerializer, request.data)
        grant_svc.application_revoke(actor=request.user, application=application, reason=data["reason"])
        return Response(ApplicationEndSerializer(Application.objects.get(pk=pk)).data)


class GrantExtensionApi(APIView):
    """A grantee asks for the grant to last longer, with a reason. One request waits per grant; the
    day asked for must pass the current end and stay within the agreement, the ethics approvals and
    the dataset's time limit on use (else 400, saying which)."""

    @extend_schema(
        summary="Ask for an extension of an access grant",
        request=ExtensionAskSerializer,
        responses={201: ExtensionRequestSerializer, **REFUSED},
    )
    def post(self, request, grant_pk: int):
        grant = grant_get_for(request.user, grant_pk, "grant.use")
        data = _validated(ExtensionAskSerializer, request.data)
        asked = lifecycle.extension_request(actor=request.user, grant=grant, until=data["until"], reason=data["reason"])
        return Response(ExtensionRequestSerializer(asked).data, status=status.HTTP_201_CREATED)


class GrantExtensionDecisionApi(APIView):
    """The reviewing RDO grants the pending extension request (to `until`, by default the day asked
    for, never past a limit) or refuses it with a reason. A decisive act."""

    @extend_schema(
        summary="Grant or refuse the pending extension of an access grant",
        request=ExtensionDecisionSerializer,
        responses={200: ExtensionRequestSerializer, **REFUSED},
    )
    def post(self, request, grant_pk: int):
        grant = grant_get_for(request.user, grant_pk, "grant.review")
        data = _validated(ExtensionDecisionSerializer, request.data)
        pending = grant.extension_requests.filter(status=ExtensionStatus.PENDING).first()
        if pending is None:
            raise TransitionError("No extension of this grant waits for a decision.")
        decided = lifecycle.extension_decide(
            actor=request.user, request=pending, approve=data["approve"], until=data["until"], reason=data["reason"]
        )
        return Response(ExtensionRequestSerializer(decided).data)


class ApplicationCloseoutApi(APIView):
    """The applicant, once access has ended (closed or revoked): attest that every downloaded copy was
    deleted (`copies_deleted` true, required the first time) and list the results that used the data.
    Once attested, a later call adds results."""

    @extend_schema(
        summary="Attest the closeout of an application, or add results to it",
        request=CloseoutInputSerializer,
        responses={201: CloseoutSerializer, 200: CloseoutSerializer, **REFUSED},
    )
    def post(self, request, pk: int):
        application = application_get_for(user=request.user, pk=pk, action="applicant")
        data = _validated(CloseoutInputSerializer, request.data)
        outputs = [dict(row) for row in data["outputs"]]
        code = status.HTTP_200_OK
        if Closeout.objects.filter(application=application).exists() and "copies_deleted" not in data:
            lifecycle.closeout_outputs_add(actor=request.user, application=application, outputs=outputs)
        else:
            lifecycle.closeout_submit(
                actor=request.user,
                application=application,
                copies_deleted=data.get("copies_deleted", False),
                statement=data["statement"],
                outputs=outputs,
            )
            code = status.HTTP_201_CREATED
        closeout = Closeout.objects.select_related("application", "attested_by").get(application=application)
        return Response(CloseoutSerializer(closeout).data, status=code)
