"""Applications API (mounted at /api/v1/)."""

from django.urls import path

from access_requests import apis, apis_access, apis_agreements, apis_downloads, apis_grants, apis_review, apis_visas

one = "applications/<int:pk>/"

urlpatterns = [
    path("applications/", apis.ApplicationListApi.as_view(), name="api-applications"),
    path(one, apis.ApplicationDetailApi.as_view(), name="api-application"),
    path(f"{one}datasets/", apis.DatasetsApi.as_view(), name="api-application-datasets"),
    path(f"{one}datasets/add/", apis.DatasetAddApi.as_view(), name="api-application-datasets-add"),
    path(f"{one}team/", apis.TeamApi.as_view(), name="api-application-team"),
    path(f"{one}team/<int:member_id>/", apis.TeamMemberApi.as_view(), name="api-application-team-member"),
    path(f"{one}ethics/", apis.EthicsApi.as_view(), name="api-application-ethics"),
    path(f"{one}ethics/<int:approval_id>/", apis.EthicsApprovalApi.as_view(), name="api-application-ethics-approval"),
    path(
        f"{one}ethics/<int:approval_id>/document/",
        apis.EthicsDocumentApi.as_view(),
        name="api-application-ethics-document",
    ),
    path(f"{one}dpia/", apis.DpiaApi.as_view(), name="api-application-dpia"),
    path(f"{one}dpia/document/", apis.DpiaDocumentApi.as_view(), name="api-application-dpia-document"),
    path(f"{one}dpia/risks/", apis.DpiaRisksApi.as_view(), name="api-application-dpia-risks"),
    path(f"{one}dpia/risks/<int:risk_id>/", apis.DpiaRiskApi.as_view(), name="api-application-dpia-risk"),
    path(f"{one}representations/", apis.RepresentationsApi.as_view(), name="api-application-representations"),
    path(
        f"{one}representations/signature/",
        apis.SignatureRequestApi.as_view(),
        name="api-application-signature-request",
    ),
    path(f"{one}check/", apis.CheckApi.as_view(), name="api-application-check"),
    path(f"{one}submit/", apis.SubmitApi.as_view(), name="api-application-submit"),
    path(f"{one}return/", apis.ReturnApi.as_view(), name="api-application-return"),
    path(f"{one}forward/", apis.ForwardApi.as_view(), name="api-application-forward"),
    path(f"{one}withdraw/", apis.WithdrawApi.as_view(), name="api-application-withdraw"),
    path(f"{one}checklist/", apis.ChecklistApi.as_view(), name="api-application-checklist"),
    path(f"{one}messages/", apis.MessagesApi.as_view(), name="api-application-messages"),
    path(f"{one}changes/", apis.ChangesApi.as_view(), name="api-application-changes"),
    # committee review (access_requests/apis_review.py)
    path(f"{one}rounds/", apis_review.RoundsApi.as_view(), name="api-application-rounds"),
    path(f"{one}rounds/<int:number>/", apis_review.RoundApi.as_view(), name="api-application-round"),
    path(f"{one}review/conflict/", apis_review.ConflictApi.as_view(), name="api-application-review-conflict"),
    path(f"{one}review/checks/<str:kind>/", apis_review.CheckApi.as_view(), name="api-application-review-check"),
    path(f"{one}review/vote/", apis_review.VoteApi.as_view(), name="api-application-review-vote"),
    path(f"{one}decision/", apis_review.DecisionApi.as_view(), name="api-application-decision"),
    path(f"{one}clock/", apis_review.ClockApi.as_view(), name="api-application-clock"),
    path(f"{one}clock/extension/", apis_review.ClockExtensionApi.as_view(), name="api-application-clock-extension"),
    path(
        f"{one}rounds/<int:number>/letter/",
        apis.DecisionLetterApi.as_view(),
        name="api-application-decision-letter",
    ),
    # the data-access agreement (access_requests/apis_agreements.py)
    path(f"{one}agreement/", apis_agreements.AgreementApi.as_view(), name="api-application-agreement"),
    path(
        f"{one}agreement/versions/<int:number>/pdf/",
        apis_agreements.AgreementVersionPdfApi.as_view(),
        name="api-application-agreement-version-pdf",
    ),
    path(
        f"{one}agreement/executed/pdf/",
        apis_agreements.AgreementExecutedPdfApi.as_view(),
        name="api-application-agreement-executed-pdf",
    ),
    path(f"{one}agreement/sign/", apis_agreements.AgreementSignApi.as_view(), name="api-application-agreement-sign"),
    path(f"{one}agreement/scan/", apis_agreements.AgreementScanApi.as_view(), name="api-application-agreement-scan"),
    path(
        f"{one}agreement/signatures/<int:signature_pk>/verify/",
        apis_agreements.AgreementScanVerifyApi.as_view(),
        name="api-application-agreement-scan-verify",
    ),
    path(
        f"{one}agreement/revise/",
        apis_agreements.AgreementReviseApi.as_view(),
        name="api-application-agreement-revise",
    ),
    # access grants, the grantee's side (access_requests/apis_grants.py)
    path("grants/", apis_grants.GrantListApi.as_view(), name="api-grants"),
    path("grants/<int:grant_pk>/", apis_grants.GrantDetailApi.as_view(), name="api-grant"),
    path("grants/<int:grant_pk>/files/", apis_grants.GrantFilesApi.as_view(), name="api-grant-files"),
    path(
        "grants/<int:grant_pk>/files/<int:file_id>/link/",
        apis_grants.GrantFileLinkApi.as_view(),
        name="api-grant-file-link",
    ),
    path(
        "grants/<int:grant_pk>/remote-links/", apis_grants.GrantRemoteLinksApi.as_view(), name="api-grant-remote-links"
    ),
    # a grant's signed download link (access_requests/apis_downloads.py)
    path("downloads/<str:token>/", apis_downloads.DownloadApi.as_view(), name="api-download"),
    # GA4GH Passport visas for processing grants, and the keys that verify them (access_requests/apis_visas.py)
    path("passport/", apis_visas.PassportApi.as_view(), name="api-passport"),
    path("jwks/", apis_visas.JwksApi.as_view(), name="api-jwks"),
    # the grant lifecycle (access_requests/apis_access.py)
    path(f"{one}revoke/", apis_access.ApplicationRevokeApi.as_view(), name="api-application-revoke"),
    path(f"{one}closeout/", apis_access.ApplicationCloseoutApi.as_view(), name="api-application-closeout"),
    path("grants/<int:grant_pk>/revoke/", apis_access.GrantRevokeApi.as_view(), name="api-grant-revoke"),
    path("grants/<int:grant_pk>/extension/", apis_access.GrantExtensionApi.as_view(), name="api-grant-extension"),
    path(
        "grants/<int:grant_pk>/extension/decision/",
        apis_access.GrantExtensionDecisionApi.as_view(),
        name="api-grant-extension-decision",
    ),
]
