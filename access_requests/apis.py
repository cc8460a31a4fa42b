"""The applications API (/api/v1/applications/): the pages' rules, through the same services and getter.

Every view looks alike: an input serializer checks the shape of the request, application_get_for
fetches the application (404 when the caller may not see it, 403 when they may see it but not do
this), one service does the work, an output serializer answers. The services raise the domain
errors the project's exception handler turns into 400 (field errors; a refused submission lists
its problems under `errors.check`), 403 and 409 (a state that does not allow the action).
"""

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from access_requests.downloads import decision_letter_response, dpia_document_response, ethics_document_response
from access_requests.models import (
    Application,
    ApplicationDataset,
    DpiaRisk,
    EthicsApproval,
    ReturnComment,
    TeamMember,
)
from access_requests.permissions import (
    application_get_for,
    applications_visible_to,
    is_reviewer,
    relations_remembered,
)
from access_requests.serializers import (
    ERRORS,
    ApplicationCreateSerializer,
    ApplicationDetailSerializer,
    ApplicationFilterSerializer,
    ApplicationSummarySerializer,
    ApplicationUpdateSerializer,
    ChangeSerializer,
    ChecklistSerializer,
    ChecklistUpdateSerializer,
    CheckSerializer,
    DatasetAddSerializer,
    DatasetsSetSerializer,
    DpiaRiskAddSerializer,
    DpiaRiskSerializer,
    DpiaSerializer,
    DpiaUpdateSerializer,
    EthicsApprovalAddSerializer,
    EthicsApprovalSerializer,
    ForwardSerializer,
    MessagePostSerializer,
    MessageSerializer,
    RepresentationsSerializer,
    RepresentationsUpdateSerializer,
    RequestedDatasetSerializer,
    ReturnSerializer,
    TeamMemberAddSerializer,
    TeamMemberSerializer,
    WithdrawSerializer,
)
from access_requests.services import applications as svc
from access_requests.services import transitions
from access_requests.services.checks import application_check
from access_requests.services.messages import message_post
from catalogue.models import Dataset
from catalogue.selectors import datasets_visible_to
from portal.apis import ErrorSerializer
from portal.errors import InvalidInput
from portal.pagination import CappedCountPagination

NO_CONTENT = {204: OpenApiResponse(description="done"), **ERRORS}  # ERRORS: 409, when the state refuses


def _validated(serializer_class, data, **kwargs) -> dict:
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _datasets_named(user, identifiers: list[str], field: str = "datasets") -> list[Dataset]:
    """The datasets the caller may see with these identifiers, in order; any other is a field error."""
    identifiers = list(dict.fromkeys(identifiers))
    found = {d.identifier: d for d in datasets_visible_to(user).filter(identifier__in=identifiers)}
    unknown = [identifier for identifier in identifiers if identifier not in found]
    if unknown:
        raise serializers.ValidationError({field: [f"Unknown dataset: {', '.join(unknown)}."]})
    return [found[identifier] for identifier in identifiers]


def _requested_ids(application: Application, identifiers: list[str]) -> list[int]:
    """Ids of the application's requested datasets named by identifier; any other is a field error."""
    ids = dict(
        application.requested.filter(dataset__identifier__in=identifiers).values_list("dataset__identifier", "pk")
    )
    unknown = [identifier for identifier in identifiers if identifier not in ids]
    if unknown:
        raise serializers.ValidationError({"datasets": [f"Not requested by this application: {', '.join(unknown)}."]})
    return list(ids.values())


def _detail(request, application: Application, code: int = status.HTTP_200_OK) -> Response:
    application = (
        Application.objects.select_related("applicant", "committee", "dpia", "representations")
        .prefetch_related(
            "purpose_conditions",
            Prefetch(
                "requested",
                ApplicationDataset.objects.select_related("dataset__holder", "access_mode").prefetch_related(
                    "dataset__access_modes"
                ),
            ),
            Prefetch("team", TeamMember.objects.select_related("user")),
            "dpia__risks",
            Prefetch("return_comments", ReturnComment.objects.select_related("author")),
            Prefetch(
                "ethics_approvals",
                EthicsApproval.objects.select_related("uploaded_by").prefetch_related(
                    Prefetch("datasets", ApplicationDataset.objects.select_related("dataset"))
                ),
            ),
        )
        .get(pk=application.pk)
    )
    context = {"request": request, "reviewer": is_reviewer(request.user, application)}
    return Response(ApplicationDetailSerializer(application, context=context).data, status=code)


class ApplicationApi(APIView):
    # A view about one application. `actions` says what each HTTP method asks of the caller:
    # view | team (on the team; the service answers 409 unless it is a draft or returned) |
    # applicant | review (RDO) | note (RDO or the reviewing committee). Each view's docstring
    # says it for the schema's readers.
    actions: dict[str, str] = {}

    def application(self, request, pk: int) -> Application:
        return application_get_for(user=request.user, pk=pk, action=self.actions.get(request.method, "view"))


# --- the application ----------------------------------------------------------------------


class ApplicationListApi(APIView):
    """Any signed-in user. Lists what they may see: their team's applications; the RDO every one but
    drafts never submitted; a committee member those forwarded to it; a steward those requesting
    their data holder's datasets."""

    pagination_class = CappedCountPagination

    @extend_schema(
        summary="Applications the caller may see, newest first",
        parameters=[ApplicationFilterSerializer],
        responses={200: ApplicationSummarySerializer(many=True)},
    )
    def get(self, request):
        filters = _validated(ApplicationFilterSerializer, request.query_params)
        applications = (
            applications_visible_to(request.user)
            .select_related("applicant")
            .prefetch_related("requested__dataset")
            .order_by("-created_at", "-pk")
        )
        if filters.get("status"):
            applications = applications.filter(status=filters["status"])
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(applications, request, view=self)
        data = ApplicationSummarySerializer(page, many=True, context={"request": request}).data
        return paginator.get_paginated_response(data)

    @extend_schema(
        summary="Start a draft application (without `datasets`, from the caller's basket)",
        request=ApplicationCreateSerializer,
        responses={201: ApplicationDetailSerializer},
    )
    def post(self, request):
        data = _validated(ApplicationCreateSerializer, request.data)
        datasets = _datasets_named(request.user, data["datasets"]) if "datasets" in data else None
        application = svc.application_create(actor=request.user, title=data["title"], datasets=datasets)
        return _detail(request, application, status.HTTP_201_CREATED)


class ApplicationDetailApi(ApplicationApi):
    """Read: whoever may see the application. Change: its team, while a draft or returned.
    Delete: the applicant, a draft never submitted."""

    actions = {"GET": "view", "PATCH": "team", "DELETE": "applicant"}

    @extend_schema(summary="The application, every section", responses={200: ApplicationDetailSerializer})
    def get(self, request, pk: int):
        with relations_remembered():
            return _detail(request, self.application(request, pk))

    @extend_schema(
        summary="Change the application's own fields",
        request=ApplicationUpdateSerializer,
        responses={200: ApplicationDetailSerializer, **ERRORS},
    )
    def patch(self, request, pk: int):
        application = self.application(request, pk)
        data = _validated(ApplicationUpdateSerializer, request.data, partial=True)
        application = svc.application_update(actor=request.user, application=application, data=data)
        return _detail(request, application)

    @extend_schema(summary="Delete a draft that was never submitted (the applicant)", responses=NO_CONTENT)
    def delete(self, request, pk: int):
        svc.application_delete_draft(actor=request.user, application=self.application(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class DatasetsApi(ApplicationApi):
    """The application's team, while it is a draft or returned."""

    actions = {"PUT": "team"}

    @extend_schema(
        summary="Set the requested datasets with their justifications",
        request=DatasetsSetSerializer,
        responses={200: RequestedDatasetSerializer(many=True), **ERRORS},
    )
    def put(self, request, pk: int):
        application = self.application(request, pk)
        data = _validated(DatasetsSetSerializer, request.data)
        named = _datasets_named(request.user, list(data["datasets"]))
        requested = {dataset: data["datasets"][dataset.identifier] for dataset in named}
        application = svc.application_set_datasets(actor=request.user, application=application, requested=requested)
        return Response(RequestedDatasetSerializer(_requested_items(application), many=True).data)


class DatasetAddApi(ApplicationApi):
    """The application's team, while it is a draft or returned; published datasets only."""

    actions = {"POST": "team"}

    @extend_schema(
        summary="Add one dataset to the application (with its justification and access mode, if given)",
        request=DatasetAddSerializer,
        responses={201: RequestedDatasetSerializer(many=True), **ERRORS},
    )
    def post(self, request, pk: int):
        application = self.application(request, pk)
        data = _validated(DatasetAddSerializer, request.data)
        (dataset,) = _datasets_named(request.user, [data["dataset"]], field="dataset")
        svc.application_add_dataset(
            actor=request.user,
            application=application,
            dataset=dataset,
            justification=data["justification"],
            access_mode=data["access_mode"],
        )
        items = _requested_items(application)
        return Response(RequestedDatasetSerializer(items, many=True).data, status=status.HTTP_201_CREATED)


def _requested_items(application: Application):
    return application.requested.select_related("dataset__holder", "access_mode").prefetch_related(
        "dataset__access_modes"
    )


# --- team ---------------------------------------------------------------------------------


class TeamApi(ApplicationApi):
    """The application's team, while it is a draft or returned."""

    actions = {"POST": "team"}

    @extend_schema(
        summary="Invite a team member by e-mail; they join when they accept, signed in with that address",
        request=TeamMemberAddSerializer,
        responses={201: TeamMemberSerializer, **ERRORS, 429: ErrorSerializer},
    )
    def post(self, request, pk: int):
        application = self.application(request, pk)
        data = _validated(TeamMemberAddSerializer, request.data)
        member = svc.team_member_add(actor=request.user, application=application, **data)
        return Response(TeamMemberSerializer(member).data, status=status.HTTP_201_CREATED)


class TeamMemberApi(ApplicationApi):
    """The application's team, while it is a draft or returned; the applicant stays."""

    actions = {"DELETE": "team"}

    @extend_schema(summary="Remove a team member", responses=NO_CONTENT)
    def delete(self, request, pk: int, member_id: int):
        application = self.application(request, pk)
        member = get_object_or_404(TeamMember, application=application, pk=member_id)
        svc.team_member_remove(actor=request.user, application=application, member=member)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- ethics approvals ---------------------------------------------------------------------


class EthicsApi(ApplicationApi):
    """The application's team, while it is a draft or returned. The document must really be a PDF."""

    actions = {"POST": "team"}
    # JSON is parsed too, only so that a JSON body is refused like any other bad upload: 400 with
    # the field errors (`document`: not a file), rather than 415.
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(
        summary="Add an ethics approval with its PDF (multipart)",
        request={"multipart/form-data": EthicsApprovalAddSerializer},
        responses={201: EthicsApprovalSerializer, **ERRORS},
    )
    def post(self, request, pk: int):
        application = self.application(request, pk)
        data = _validated(EthicsApprovalAddSerializer, request.data)
        approval = svc.ethics_approval_add(
            actor=request.user,
            application=application,
            committee_name=data["committee_name"],
            reference=data["reference"],
            approved_on=data["approved_on"],
            expires_on=data["expires_on"],
            covered_ids=_requested_ids(application, data["datasets"]),
            document=data["document"],
        )
        return Response(
            EthicsApprovalSerializer(approval, context={"request": request}).data, status=status.HTTP_201_CREATED
        )


class EthicsApprovalApi(ApplicationApi):
    """The application's team, while it is a draft or returned."""

    actions = {"DELETE": "team"}

    @extend_schema(summary="Remove an ethics approval", responses=NO_CONTENT)
    def delete(self, request, pk: int, approval_id: int):
        application = self.application(request, pk)
        approval = get_object_or_404(EthicsApproval, application=application, pk=approval_id)
        svc.ethics_approval_remove(actor=request.user, application=application, approval=approval)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AnyAcceptNegotiation(BaseContentNegotiation):
    """A document download answers with the file whatever the client accepts; errors stay JSON."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


DOCUMENT_RESPONSES = {(200, "application/pdf"): OpenApiTypes.BINARY}


class EthicsDocumentApi(ApplicationApi):
    """Whoever may see the application; every download is recorded as a `document.view` audit event."""

    actions = {"GET": "view"}
    content_negotiation_class = AnyAcceptNegotiation

    @extend_schema(summary="Download an ethics approval's PDF", responses=DOCUMENT_RESPONSES)
    def get(self, request, pk: int, approval_id: int):
        application = self.application(request, pk)
        return ethics_document_response(request, application, approval_id)


class DpiaDocumentApi(ApplicationApi):
    """Whoever may see the application; every download is recorded as a `document.view` audit event."""

    actions = {"GET": "view"}
    content_negotiation_class = AnyAcceptNegotiation

    @extend_schema(summary="Download the DPIA's document (404 when none is attached)", responses=DOCUMENT_RESPONSES)
    def get(self, request, pk: int):
        return dpia_document_response(request, self.application(request, pk))


class DecisionLetterApi(ApplicationApi):
    """Whoever may see the application; every download is recorded as a `document.view` audit event.
    The letter is rendered a few moments after the decision: until then the answer is 404 (its
    detail says the letter is being prepared). `Repr-Digest` (RFC 9530) and `X-Content-SHA256`
    carry the letter's SHA-256."""

    actions = {"GET": "view"}
    content_negotiation_class = AnyAcceptNegotiation

    @extend_schema(
        summary="Download the decision letter of a review round (404 while it is being prepared)",
        parameters=[
            OpenApiParameter(
                "Repr-Digest",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                response=[200],
                description="The letter's SHA-256, as `sha-256=:<base64>:` (RFC 9530).",
            ),
            OpenApiParameter(
                "X-Content-SHA256",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                response=[200],
                description="The letter's SHA-256 in hexadecimal.",
            ),
        ],
        responses={
            (200, "application/pdf"): OpenApiResponse(response=OpenApiTypes.BINARY, description="The letter (PDF)."),
            (404, "application/json"): OpenApiResponse(
                response=ErrorSerializer, description="No such round, or its letter is being prepared."
            ),
        },
    )
    def get(self, request, pk: int, number: int):
        return decision_letter_response(request, self.application(request, pk), number)


# --- DPIA and representations -------------------------------------------------------------


class DpiaApi(ApplicationApi):
    """The application's team, while it is a draft or returned."""

    actions = {"PATCH": "team"}
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(
        summary="Change the DPIA (JSON, or multipart to attach its document)",
        request={"application/json": DpiaUpdateSerializer, "multipart/form-data": DpiaUpdateSerializer},
        responses={200: DpiaSerializer, **ERRORS},
    )
    def patch(self, request, pk: int):
        application = self.application(request, pk)
        data = _validated(DpiaUpdateSerializer, request.data, partial=True)
        document = data.pop("document", None)
        dpia = svc.dpia_update(actor=request.user, application=application, data=data, document=document)
        return Response(DpiaSerializer(dpia, context={"request": request}).data)


class DpiaRisksApi(ApplicationApi):
    """The application's team, while it is a draft or returned."""

    actions = {"POST": "team"}

    @extend_schema(
        summary="Add a risk to the DPIA",
        request=DpiaRiskAddSerializer,
        responses={201: DpiaRiskSerializer, **ERRORS},
    )
    def post(self, request, pk: int):
        application = self.application(request, pk)
        data = _validated(DpiaRiskAddSerializer, request.data)
        risk = svc.dpia_risk_add(actor=request.user, application=application, **data)
        return Response(DpiaRiskSerializer(risk).data, status=status.HTTP_201_CREATED)


class DpiaRiskApi(ApplicationApi):
    """The application's team, while it is a draft or returned."""

    actions = {"DELETE": "team"}

    @extend_schema(summary="Remove a risk from the DPIA", responses=NO_CONTENT)
    def delete(self, request, pk: int, risk_id: int):
        application = self.application(request, pk)
        risk = get_object_or_404(DpiaRisk, dpia__application=application, pk=risk_id)
        svc.dpia_risk_remove(actor=request.user, application=application, risk=risk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RepresentationsApi(ApplicationApi):
    """The application's team, while it is a draft or returned. The statements are accepted by the
    institution's signatory from the link they are sent (read-only here; `accept` is refused)."""

    actions = {"PATCH": "team"}

    @extend_schema(
        summary="Change the institution and its signatory",
        request=RepresentationsUpdateSerializer,
        responses={200: RepresentationsSerializer, **ERRORS},
    )
    def patch(self, request, pk: int):
        application = self.application(request, pk)
        if hasattr(request.data, "keys") and "accept" in request.data:
            raise InvalidInput(
                svc.SIGNATORY_ACCEPTS, code="signatory_accepts", fields={"accept": [svc.SIGNATORY_ACCEPTS]}
            )
        data = _validated(RepresentationsUpdateSerializer, request.data, partial=True)
        reps = svc.representations_update(actor=request.user, application=application, data=data)
        return Response(RepresentationsSerializer(reps).data)


class SignatureRequestApi(ApplicationApi):
    """The application's team, while it is a draft or returned: e-mails the named signatory a new link
    to accept the statements (the one before stops working)."""

    actions = {"POST": "team"}

    @extend_schema(
        summary="Ask the institution's signatory to accept the statements; 400 while no signatory is named",
        request=None,
        responses={
            200: RepresentationsSerializer,
            400: ErrorSerializer,
            429: OpenApiResponse(ErrorSerializer, description="`rate_limited`: too many requests in the last hour"),
            **ERRORS,
        },
    )
    def post(self, request, pk: int):
        application = self.application(request, pk)
        reps = svc.representations_request_signature(actor=request.user, application=application)
        return Response(RepresentationsSerializer(reps).data)


# --- check and transitions ----------------------------------------------------------------


class CheckApi(ApplicationApi):
    """Whoever may see the application."""

    actions = {"GET": "view"}

    @extend_schema(summary="Everything that stops the application being submitted", responses={200: CheckSerializer})
    def get(self, request, pk: int):
        problems = application_check(self.application(request, pk))
        return Response(CheckSerializer({"ready": not problems, "problems": [p.as_dict() for p in problems]}).data)


class SubmitApi(ApplicationApi):
    """The applicant; from draft or returned (409 otherwise)."""

    actions = {"POST": "applicant"}

    @extend_schema(
        summary="Submit (or resubmit after a return); 400 with errors.check while the check finds problems",
        request=None,
        responses={200: ApplicationDetailSerializer, 400: ErrorSerializer, **ERRORS},
    )
    def post(self, request, pk: int):
        application = transitions.application_submit(actor=request.user, application=self.application(request, pk))
        return _detail(request, application)


class ReturnApi(ApplicationApi):
    """The Research Data Office; from submitted (409 otherwise)."""

    actions = {"POST": "review"}

    @extend_schema(
        summary="Return for revision with comments per section (RDO)",
        request=ReturnSerializer,
        responses={200: ApplicationDetailSerializer, **ERRORS},
    )
    def post(self, request, pk: int):
        application = self.application(request, pk)
        data = _validated(ReturnSerializer, request.data)
        application = transitions.application_return(
            actor=request.user, application=application, comments=data["comments"]
        )
        return _detail(request, application)


class ForwardApi(ApplicationApi):
    """The Research Data Office; from submitted, with the checklist complete (409 otherwise)."""

    actions = {"POST": "review"}

    @extend_schema(
        summary="Forward to an access committee once the checklist is complete (RDO)",
        request=ForwardSerializer,
        responses={200: ApplicationDetailSerializer, **ERRORS},
    )
    def post(self, request, pk: int):
        application = self.application(request, pk)
        data = _validated(ForwardSerializer, request.data)
        application = transitions.application_forward(
            actor=request.user, application=application, committee=data["committee"]
        )
        return _detail(request, application)


class WithdrawApi(ApplicationApi):
    """The applicant; any time before access is active (409 otherwise)."""

    actions = {"POST": "applicant"}

    @extend_schema(
        summary="Withdraw the application (the applicant, before access is active)",
        request=WithdrawSerializer,
        responses={200: ApplicationDetailSerializer, **ERRORS},
    )
    def post(self, request, pk: int):
        application = self.application(request, pk)
        data = _validated(WithdrawSerializer, request.data)
        application = transitions.application_withdraw(
            actor=request.user, application=application, reason=data["reason"]
        )
        return _detail(request, application)


class ChecklistApi(ApplicationApi):
    """The Research Data Office, while the application is submitted."""

    actions = {"PATCH": "review"}

    @extend_schema(
        summary="Tick the RDO's completeness checklist of the current submission",
        request=ChecklistUpdateSerializer,
        responses={200: ChecklistSerializer, **ERRORS},
    )
    def patch(self, request, pk: int):
        application = self.application(request, pk)
        data = _validated(ChecklistUpdateSerializer, request.data, partial=True)
        checklist = transitions.rdo_checklist_update(actor=request.user, application=application, data=data)
        return Response(ChecklistSerializer(checklist).data)


# --- messages and changes -----------------------------------------------------------------


class MessagesApi(ApplicationApi):
    """Whoever may see the application; internal notes are read and written by the RDO and the
    reviewing committee only."""

    actions = {"GET": "view", "POST": "view"}

    @extend_schema(
        summary="The application's thread (internal notes only for the RDO and the committee)",
        responses={200: MessageSerializer(many=True)},
    )
    def get(self, request, pk: int):
        application = self.application(request, pk)
        messages = application.messages.select_related("author")
        if not is_reviewer(request.user, application):
            messages = messages.filter(internal=False)
        return Response(MessageSerializer(messages, many=True).data)

    @extend_schema(
        summary="Write to the thread (`internal`: a note for the RDO and the committee only)",
        request=MessagePostSerializer,
        responses={201: MessageSerializer},
    )
    def post(self, request, pk: int):
        application = self.application(request, pk)
        data = _validated(MessagePostSerializer, request.data)
        message = message_post(actor=request.user, application=application, **data)
        return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)


class ChangesApi(ApplicationApi):
    """Whoever may see the application."""

    actions = {"GET": "view"}

    @extend_schema(
        summary="Field-by-field changes of the latest submission against the one before",
        responses={200: ChangeSerializer(many=True)},
    )
    def get(self, request, pk: int):
        changes = transitions.application_resubmit_changes(self.application(request, pk))
        rows = [
            {
                "section": c.section,
                "section_label": c.section_label,
                "field": c.field,
                "before": c.before,
                "after": c.after,
            }
            for c in changes
        ]
        return Response(ChangeSerializer(rows, many=True).data)
