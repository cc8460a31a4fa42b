"""Pages of access applications (mounted at /applications/)."""

from django.urls import path

from access_requests.views import (
    agreements,
    committee,
    committees,
    documents,
    invitations,
    lifecycle,
    rdo,
    researcher,
    signatory,
)

app_name = "access_requests"

urlpatterns = [
    path("", researcher.application_list, name="application-list"),
    path("new/", researcher.application_create, name="application-create"),
    path("queue/", rdo.rdo_queue, name="rdo-queue"),
    path("committee/", committee.committee_queue, name="committee-queue"),
    path("committees/", committees.committee_list, name="committee-list"),
    path("committees/new/", committees.committee_new, name="committee-new"),
    path("committees/<int:committee_pk>/", committees.committee_settings, name="committee-settings"),
    path("committees/<int:committee_pk>/members/", committees.committee_member_add, name="committee-member-add"),
    path("committees/<int:committee_pk>/holders/", committees.committee_holders, name="committee-holders"),
    path("invitations/", invitations.invitation_list, name="invitation-list"),
    path("invitations/<str:token>/", invitations.invitation_respond, name="invitation"),
    path("signatures/<str:token>/", signatory.signature, name="signature"),
    path("<int:pk>/", researcher.application_detail, name="application-detail"),
    path("<int:pk>/messages/", researcher.message_create, name="message-create"),
    # the end of access (access_requests/views/lifecycle.py)
    path("<int:pk>/revoke/", lifecycle.application_revoke_page, name="application-revoke"),
    path("<int:pk>/closeout/", lifecycle.application_closeout_page, name="application-closeout"),
    path("<int:pk>/closeout/remind/", lifecycle.closeout_remind_page, name="application-closeout-remind"),
    path("<int:pk>/edit/<str:section>/", researcher.section_edit, name="section-edit"),
    path("<int:pk>/datasets/add/", researcher.dataset_add, name="dataset-add"),
    path("<int:pk>/datasets/<int:item_pk>/remove/", researcher.dataset_remove, name="dataset-remove"),
    path("<int:pk>/team/<int:member_pk>/remove/", researcher.team_member_remove, name="team-remove"),
    path("<int:pk>/ethics/<int:approval_pk>/remove/", researcher.ethics_approval_remove, name="ethics-remove"),
    path("<int:pk>/representations/signature/", signatory.signature_request, name="signature-request"),
    path("<int:pk>/dpia/risks/add/", researcher.dpia_risk_add, name="dpia-risk-add"),
    path("<int:pk>/dpia/risks/<int:risk_pk>/remove/", researcher.dpia_risk_remove, name="dpia-risk-remove"),
    path("<int:pk>/submit/", researcher.application_submit_page, name="application-submit"),
    path("<int:pk>/withdraw/", researcher.application_withdraw_page, name="application-withdraw"),
    path("<int:pk>/delete/", researcher.application_delete_page, name="application-delete"),
    path("<int:pk>/documents/ethics/<int:approval_pk>/", documents.ethics_document, name="document-ethics"),
    path("<int:pk>/documents/dpia/", documents.dpia_document, name="document-dpia"),
    path("<int:pk>/rounds/<int:number>/letter/", documents.decision_letter, name="decision-letter"),
    path("<int:pk>/review/", rdo.rdo_review, name="rdo-review"),
    path("<int:pk>/review/checklist/", rdo.rdo_checklist, name="rdo-checklist"),
    path("<int:pk>/review/return/", rdo.rdo_return, name="rdo-return"),
    path("<int:pk>/review/forward/", rdo.rdo_forward, name="rdo-forward"),
    path("<int:pk>/committee/", committee.committee_review, name="committee-review"),
    path("<int:pk>/committee/conflict/", committee.committee_conflict, name="committee-conflict"),
    path("<int:pk>/committee/checks/<str:kind>/", committee.committee_check, name="committee-check"),
    path("<int:pk>/committee/vote/", committee.committee_vote, name="committee-vote"),
    path("<int:pk>/committee/decide/", committee.committee_decide, name="committee-decide"),
    path("<int:pk>/committee/extend/", committee.committee_extend, name="committee-extend"),
    path("<int:pk>/agreement/", agreements.agreement_page, name="agreement"),
    path("<int:pk>/agreement/status/", agreements.agreement_status, name="agreement-status"),
    path(
        "<int:pk>/agreement/versions/<int:number>/pdf/", agreements.agreement_version_pdf, name="agreement-version-pdf"
    ),
    path("<int:pk>/agreement/executed/pdf/", agreements.agreement_executed_pdf, name="agreement-executed-pdf"),
    path("<int:pk>/agreement/sign/", agreements.agreement_sign, name="agreement-sign"),
    path("<int:pk>/agreement/scan/", agreements.agreement_scan_upload, name="agreement-scan-upload"),
    path(
        "<int:pk>/agreement/signatures/<int:signature_pk>/scan/",
        agreements.agreement_scan_pdf,
        name="agreement-scan-pdf",
    ),
    path(
        "<int:pk>/agreement/signatures/<int:signature_pk>/verify/",
        agreements.agreement_scan_verify,
        name="agreement-scan-verify",
    ),
    path("<int:pk>/agreement/revise/", agreements.agreement_revise, name="agreement-revise"),
]
