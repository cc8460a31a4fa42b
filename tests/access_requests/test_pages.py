"""The application pages through Django's test client: who sees what (404 for outsiders, 403 for
read-only roles), form errors instead of server errors, documents and their audit events."""

import html
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from access_requests.models import Application, ApplicationStatus, Message, ReturnComment, Section
from access_requests.services import applications as svc
from access_requests.services.transitions import (
    application_forward,
    application_return,
    application_submit,
    rdo_checklist_update,
)
from catalogue.models import BasketItem
from tests.access_requests.conftest import pdf_bytes
from tests.helpers import change_events, last_event, team_join


def url(name: str, *args) -> str:
    return reverse(f"access_requests:{name}", args=args)


@pytest.fixture
def as_user(client):
    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


@pytest.fixture
def submitted(ready, alice):
    return application_submit(actor=alice, application=ready)


@pytest.fixture
def returned(submitted, rdo):
    return application_return(actor=rdo, application=submitted, comments={Section.DPIA: "Name the DPO's office."})


@pytest.fixture
def team_bob(draft, alice, bob):
    team_join(application=draft, inviter=alice, user=bob)
    return bob


# --- the list and starting from the basket ------------------------------------------------------


def test_the_list_shows_only_what_the_user_may_see(as_user, draft, charlie):
    page = as_user(draft.applicant).get(url("application-list"))
    assert page.status_code == 200
    assert draft.reference in page.content.decode()
    assert draft.reference not in as_user(charlie).get(url("application-list")).content.decode()


def test_the_list_asks_anonymous_visitors_to_sign_in(client, db):
    response = client.get(url("application-list"))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_the_rdo_sees_submitted_applications_in_the_list_but_not_drafts(as_user, submitted, rdo, alice, dataset):
    other = svc.application_create(actor=alice, title="Never submitted", datasets=[dataset])
    body = as_user(rdo).get(url("application-list")).content.decode()
    assert submitted.reference in body
    assert other.reference not in body


def test_starting_an_application_takes_the_basket_and_empties_it(as_user, alice, dataset):
    BasketItem.objects.create(user=alice, dataset=dataset)
    response = as_user(alice).post(url("application-create"), {"title": "Screening density"})
    application = Application.objects.get(title="Screening density")
    assert response.status_code == 302
    assert response["Location"] == url("application-detail", application.pk)
    assert [i.dataset for i in application.requested.all()] == [dataset]
    assert not BasketItem.objects.filter(user=alice).exists()
    assert last_event("application.create").target_id == str(application.pk)


def test_starting_without_a_title_is_refused_with_a_message(as_user, alice, dataset):
    BasketItem.objects.create(user=alice, dataset=dataset)
    response = as_user(alice).post(url("application-create"), {"title": "  "}, follow=True)
    assert response.status_code == 200
    assert "Give the application a title" in response.content.decode()
    assert not Application.objects.exists()


def test_only_researchers_start_applications(as_user, rdo):
    assert as_user(rdo).post(url("application-create"), {"title": "No"}).status_code == 403


def test_the_basket_offers_the_start_form(as_user, alice, dataset):
    BasketItem.objects.create(user=alice, dataset=dataset)
    body = as_user(alice).get(reverse("catalogue:basket")).content.decode()
    assert f'action="{url("application-create")}"' in body
    assert 'name="title"' in body


# --- the application page --------------------------------------------------------------------


def test_the_application_page_is_refused_to_an_outsider(as_user, draft, charlie):
    assert as_user(charlie).get(url("application-detail", draft.pk)).status_code == 404


def test_the_application_page_shows_sections_and_timeline(as_user, ready, alice):
    body = as_user(alice).get(url("application-detail", ready.pk)).content.decode()
    assert ready.reference in body
    for section in Section:
        assert f'id="section-{section.value}"' in body
    assert "1 × 3 = 3" in body  # the DPIA risk's score
    assert "started the application" in body
    assert "accepted by Dr. Vera Signer (signatory)" in body


def test_return_comments_stand_beside_their_section(as_user, returned, alice):
    body = as_user(alice).get(url("application-detail", returned.pk)).content.decode()
    dpia_section = body[body.index('id="section-dpia"') : body.index('id="section-representations"')]
    assert "Name the DPO&#x27;s office." in dpia_section
    assert "revise" in body


def test_internal_notes_are_hidden_from_the_team(as_user, submitted, rdo, alice):
    as_user(rdo).post(url("message-create", submitted.pk), {"body": "Check the DPO date.", "internal": "on"})
    as_user(alice).post(url("message-create", submitted.pk), {"body": "When will you decide?"})
    assert Message.objects.filter(internal=True).count() == 1
    team_view = as_user(alice).get(url("application-detail", submitted.pk)).content.decode()
    assert "When will you decide?" in team_view
    assert "Check the DPO date." not in team_view
    rdo_view = as_user(rdo).get(url("application-detail", submitted.pk)).content.decode()
    assert "Check the DPO date." in rdo_view
    assert "Internal note" in rdo_view
    assert last_event("application.note").actor_id == rdo.pk


def test_an_empty_message_is_a_form_error(as_user, draft, alice):
    response = as_user(alice).post(url("message-create", draft.pk), {"body": ""})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not Message.objects.exists()


def test_an_outsider_cannot_post_a_message(as_user, draft, charlie):
    assert as_user(charlie).post(url("message-create", draft.pk), {"body": "hello"}).status_code == 404


# --- editing sections ------------------------------------------------------------------------


@pytest.mark.parametrize("section", [s.value for s in Section])
def test_every_section_edit_page_opens_for_the_team(as_user, draft, alice, section):
    assert as_user(alice).get(url("section-edit", draft.pk, section)).status_code == 200


def test_edit_pages_are_404_for_outsiders_and_403_for_the_rdo(as_user, returned, charlie, rdo):
    assert as_user(charlie).get(url("section-edit", returned.pk, "overview")).status_code == 404
    assert as_user(rdo).get(url("section-edit", returned.pk, "overview")).status_code == 403


def test_a_submitted_application_cannot_be_edited_by_its_team(as_user, submitted, alice):
    response = as_user(alice).get(url("section-edit", submitted.pk, "dpia"))
    assert response.status_code == 409  # the team may edit, the state may not
    assert "can be changed only while it is a draft or returned" in response.content.decode()


def test_an_unknown_section_is_404(as_user, draft, alice):
    assert as_user(alice).get(url("section-edit", draft.pk, "nonsense")).status_code == 404


def test_the_project_form_saves_through_the_service(as_user, draft, alice, settings):
    data = {
        "title": "Density v2",
        "purpose": "DISEASE_SPECIFIC_RESEARCH",
        "purpose_conditions": "c50",
        "access_months": "18",
        "access_start": str(timezone.localdate() + timedelta(days=10)),
        "organisation": "University of Latvia",
        "organisation_country": "LV",  # chosen from the list of countries
        "organisation_not_for_profit": "on",
    }
    response = as_user(alice).post(url("section-edit", draft.pk, "overview"), data)
    assert response.status_code == 302
    draft.refresh_from_db()
    assert (draft.title, draft.access_months, draft.organisation_country) == ("Density v2", 18, "LV")
    assert [t.code for t in draft.purpose_conditions.all()] == ["C50"]
    assert last_event("application.update").payload["fields"]


def test_a_too_long_access_period_is_a_form_error(as_user, draft, alice, settings):
    data = {"title": "x", "purpose": "GENERAL_RESEARCH_USE", "access_months": "99", "access_mode": "DOWNLOAD"}
    response = as_user(alice).post(url("section-edit", draft.pk, "overview"), data)
    assert response.status_code == 400
    assert f"less than or equal to {settings.ACCESS_MAX_MONTHS}" in response.content.decode()


def test_an_unknown_condition_code_comes_back_from_the_service_as_a_field_error(as_user, draft, alice):
    data = {
        "title": "x",
        "purpose": "DISEASE_SPECIFIC_RESEARCH",
        "purpose_conditions": "Z99",
        "access_months": "12",
        "access_mode": "DOWNLOAD",
    }
    response = as_user(alice).post(url("section-edit", draft.pk, "overview"), data)
    assert response.status_code == 400
    assert "unknown code" in response.content.decode()
    draft.refresh_from_db()
    assert draft.title == "Breast density and AI"


def _ethics_post(draft, document, **extra):
    item = draft.requested.get()
    return {
        "committee_name": "UL REC",
        "reference": "REC-1",
        "approved_on": str(timezone.localdate() - timedelta(days=3)),
        "expires_on": str(timezone.localdate() + timedelta(days=900)),
        "datasets": [str(item.pk)],
        "document": document,
        **extra,
    }


def test_an_ethics_pdf_is_uploaded_and_covers_the_dataset(as_user, draft, alice):
    upload = SimpleUploadedFile("rec.pdf", pdf_bytes(), content_type="application/pdf")
    response = as_user(alice).post(url("section-edit", draft.pk, "ethics"), _ethics_post(draft, upload))
    assert response.status_code == 302
    approval = draft.ethics_approvals.get()
    assert list(approval.datasets.all()) == [draft.requested.get()]
    assert last_event("application.ethics_add").payload["reference"] == "REC-1"


def test_a_fake_pdf_is_a_form_error_not_a_server_error(as_user, draft, alice):
    fake = SimpleUploadedFile("rec.pdf", b"MZ this is not a pdf", content_type="application/pdf")
    response = as_user(alice).post(url("section-edit", draft.pk, "ethics"), _ethics_post(draft, fake))
    assert response.status_code == 400
    assert "not a PDF file" in response.content.decode()
    assert not draft.ethics_approvals.exists()


def test_ethics_dates_in_the_wrong_order_are_a_form_error(as_user, draft, alice):
    upload = SimpleUploadedFile("rec.pdf", pdf_bytes(), content_type="application/pdf")
    data = _ethics_post(draft, upload, expires_on=str(timezone.localdate() - timedelta(days=30)))
    response = as_user(alice).post(url("section-edit", draft.pk, "ethics"), data)
    assert response.status_code == 400
    assert "Before the approval date." in response.content.decode()


def test_a_dpia_risk_is_added_and_an_invalid_one_refused(as_user, draft, alice):
    client = as_user(alice)
    ok = {"risk-description": "Linkage", "risk-likelihood": "2", "risk-severity": "3", "risk-mitigation": "None"}
    assert client.post(url("dpia-risk-add", draft.pk), ok).status_code == 302
    assert [r.score for r in draft.dpia.risks.all()] == [6]
    bad = {"risk-description": "", "risk-likelihood": "7", "risk-severity": "1"}
    response = client.post(url("dpia-risk-add", draft.pk), bad)
    assert response.status_code == 400
    assert draft.dpia.risks.count() == 1


def test_representations_name_the_signatory_and_accept_nothing(as_user, draft, alice):
    data = {
        "institution_legal_name": "University of Latvia",
        "signatory_name": "Vera",
        "signatory_role": "Rector",
        "signatory_email": "vera@uni.example",
    }
    assert as_user(alice).post(url("section-edit", draft.pk, "representations"), data).status_code == 302
    draft.representations.refresh_from_db()
    assert draft.representations.signatory_email == "vera@uni.example"
    refused = as_user(alice).post(url("section-edit", draft.pk, "representations"), {**data, "accept": ["deletion"]})
    assert refused.status_code == 400
    assert not draft.statement_acceptances.exists()


def test_ai_answers_are_saved_as_the_assessment(as_user, draft, alice):
    data = {"ai_algorithms": "A CNN", "ai_human_oversight": "yes", "ai_privacy": "na"}
    assert as_user(alice).post(url("section-edit", draft.pk, "ai"), data).status_code == 302
    draft.refresh_from_db()
    assert draft.ai_assessment == {"human_oversight": "yes", "privacy": "na"}


def test_a_team_member_is_invited_by_email_and_a_duplicate_refused(as_user, draft, alice):
    client, member = as_user(alice), {"email": "new@x.example", "role": "R"}
    assert client.post(url("section-edit", draft.pk, "team"), member).status_code == 302
    assert draft.team.filter(email="new@x.example", user__isnull=True).exists()
    again = client.post(url("section-edit", draft.pk, "team"), member)
    assert again.status_code == 400
    assert "Already invited" in again.content.decode()


def test_removing_the_applicant_from_the_team_is_a_message(as_user, draft, alice):
    member = draft.team.get(user=alice)
    response = as_user(alice).post(url("team-remove", draft.pk, member.pk), follow=True)
    assert "The applicant cannot be removed" in response.content.decode()
    assert draft.team.filter(pk=member.pk).exists()


def test_removing_a_dataset_goes_through_the_service(as_user, draft, alice, dataset, other_dataset):
    svc.application_set_datasets(actor=alice, application=draft, requested={dataset: "", other_dataset: ""})
    item = draft.requested.get(dataset=other_dataset)
    assert as_user(alice).post(url("dataset-remove", draft.pk, item.pk)).status_code == 302
    assert [i.dataset for i in draft.requested.all()] == [dataset]
    assert last_event("application.datasets_set").payload["datasets"] == [dataset.identifier]


def test_removing_the_last_dataset_is_refused_with_a_message(as_user, draft, alice, dataset):
    item = draft.requested.get()
    response = as_user(alice).post(url("dataset-remove", draft.pk, item.pk), follow=True)
    assert "An application asks for at least one dataset." in response.content.decode()
    assert [i.dataset for i in draft.requested.all()] == [dataset]


# --- check and submit, withdraw, delete --------------------------------------------------------


def test_the_check_page_lists_problems_and_refuses_submission(as_user, draft, alice):
    client = as_user(alice)
    page = client.get(url("application-submit", draft.pk)).content.decode()
    assert "to fix before you can submit" in page
    assert "disabled" in page
    assert url("section-edit", draft.pk, "dpia") in page
    response = client.post(url("application-submit", draft.pk))
    assert response.status_code == 409
    assert "cannot be submitted yet" in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == ApplicationStatus.DRAFT


def test_a_complete_application_is_submitted(as_user, ready, alice):
    response = as_user(alice).post(url("application-submit", ready.pk))
    assert response.status_code == 302
    ready.refresh_from_db()
    assert ready.status == ApplicationStatus.SUBMITTED
    assert last_event("application.submit").target_id == str(ready.pk)


def test_the_check_page_reminds_of_the_rdo_comments_on_a_resubmission(as_user, returned, alice):
    page = as_user(alice).get(url("application-submit", returned.pk)).content.decode()
    assert "Did you answer the Research Data Office?" in page
    assert "Resubmit the application" in page


def test_check_and_submit_is_404_for_outsiders_and_403_for_the_rdo(as_user, returned, charlie, rdo, team_bob):
    assert as_user(charlie).get(url("application-submit", returned.pk)).status_code == 404
    assert as_user(rdo).get(url("application-submit", returned.pk)).status_code == 403


def test_a_team_member_sees_the_check_but_cannot_submit(as_user, ready, alice, bob):
    team_join(application=ready, inviter=alice, user=bob)
    client = as_user(bob)
    assert "Only the applicant" in client.get(url("application-submit", ready.pk)).content.decode()
    response = client.post(url("application-submit", ready.pk))
    assert response.status_code == 403
    assert "Only the applicant can do this" in response.content.decode()
    ready.refresh_from_db()
    assert ready.status == ApplicationStatus.DRAFT


def test_withdrawing_asks_for_confirmation_then_records_the_reason(as_user, submitted, alice):
    client = as_user(alice)
    assert "Withdraw the application" in client.get(url("application-withdraw", submitted.pk)).content.decode()
    response = client.post(url("application-withdraw", submitted.pk), {"reason": "Funding ended."})
    assert response.status_code == 302
    submitted.refresh_from_db()
    assert submitted.status == ApplicationStatus.WITHDRAWN
    assert last_event("application.withdraw").payload["reason"] == "Funding ended."


def test_withdraw_is_404_for_outsiders_and_403_for_a_team_member(as_user, draft, charlie, team_bob):
    assert as_user(charlie).get(url("application-withdraw", draft.pk)).status_code == 404
    assert as_user(team_bob).get(url("application-withdraw", draft.pk)).status_code == 403


def test_a_draft_never_submitted_is_deleted(as_user, draft, alice):
    response = as_user(alice).post(url("application-delete", draft.pk))
    assert response.status_code == 302
    assert not Application.objects.filter(pk=draft.pk).exists()
    assert last_event("application.delete_draft").payload["reference"] == draft.reference


def test_a_submitted_application_is_not_deleted_and_the_page_says_why(as_user, returned, alice):
    response = as_user(alice).post(url("application-delete", returned.pk), follow=True)
    assert "has a history" in response.content.decode()
    assert Application.objects.filter(pk=returned.pk).exists()


def test_delete_is_404_for_outsiders_and_403_for_a_team_member(as_user, draft, charlie, team_bob):
    assert as_user(charlie).get(url("application-delete", draft.pk)).status_code == 404
    assert as_user(team_bob).post(url("application-delete", draft.pk)).status_code == 403
    assert Application.objects.filter(pk=draft.pk).exists()


# --- documents --------------------------------------------------------------------------------


def test_an_ethics_document_is_refused_to_an_outsider(as_user, ready, charlie):
    approval = ready.ethics_approvals.get()
    client = as_user(charlie)
    before = change_events()
    assert client.get(url("document-ethics", ready.pk, approval.pk)).status_code == 404
    assert change_events() == before
    assert last_event("access.refused").payload["path"] == url("document-ethics", ready.pk, approval.pk)


def test_opening_an_ethics_document_is_audited_for_an_allowed_reader(as_user, submitted, rdo):
    approval = submitted.ethics_approvals.get()
    response = as_user(rdo).get(url("document-ethics", submitted.pk, approval.pk))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert "attachment" in response["Content-Disposition"]
    assert b"".join(response.streaming_content).startswith(b"%PDF-")
    event = last_event("document.view")
    assert event.actor_id == rdo.pk
    assert event.target_id == str(submitted.pk)
    assert event.payload["sha256"] == approval.document_sha256


def test_the_dpia_document_is_served_and_audited(as_user, draft, alice, charlie):
    upload = SimpleUploadedFile("dpia.pdf", pdf_bytes(), content_type="application/pdf")
    svc.dpia_update(actor=alice, application=draft, data={}, document=upload)
    assert as_user(charlie).get(url("document-dpia", draft.pk)).status_code == 404
    response = as_user(alice).get(url("document-dpia", draft.pk))
    assert response.status_code == 200
    assert last_event("document.view").payload["document"] == "dpia.pdf"


def test_a_dpia_without_a_document_is_404(as_user, draft, alice):
    assert as_user(alice).get(url("document-dpia", draft.pk)).status_code == 404


# --- the Research Data Office ----------------------------------------------------------------


def test_the_queue_is_for_the_rdo_only(as_user, submitted, rdo, alice):
    assert as_user(alice).get(url("rdo-queue")).status_code == 403
    page = as_user(rdo).get(url("rdo-queue"))
    assert page.status_code == 200
    assert submitted.reference in page.content.decode()


def test_the_queue_lists_the_oldest_first_and_marks_resubmissions(as_user, ready, alice, rdo, dataset):
    from tests.access_requests.conftest import complete

    application_submit(actor=alice, application=ready)
    application_return(actor=rdo, application=ready, comments={Section.OVERVIEW: "More detail."})
    newer = complete(svc.application_create(actor=alice, title="Second", datasets=[dataset]), alice)
    application_submit(actor=alice, application=newer)
    application_submit(actor=alice, application=ready)
    Application.objects.filter(pk=ready.pk).update(submitted_at=timezone.now() - timedelta(days=3))
    body = as_user(rdo).get(url("rdo-queue")).content.decode()
    assert body.index(ready.reference) < body.index(newer.reference)
    assert "resubmission 2" in body
    assert "3 days" in body


def test_the_review_page_is_404_for_outsiders_and_403_for_other_viewers(as_user, submitted, charlie, steward, alice):
    assert as_user(charlie).get(url("rdo-review", submitted.pk)).status_code == 404
    assert as_user(steward).get(url("application-detail", submitted.pk)).status_code == 200
    assert as_user(steward).get(url("rdo-review", submitted.pk)).status_code == 403
    assert as_user(alice).post(url("rdo-return", submitted.pk), {"comment_dpia": "x"}).status_code == 403


def test_a_return_without_any_comment_is_a_form_error(as_user, submitted, rdo):
    response = as_user(rdo).post(url("rdo-return", submitted.pk), {})
    assert response.status_code == 400
    assert "comment on at least one section" in response.content.decode()
    submitted.refresh_from_db()
    assert submitted.status == ApplicationStatus.SUBMITTED


def test_the_rdo_returns_with_comments_per_section(as_user, submitted, rdo):
    data = {"comment_dpia": "Name the DPO's office.", "comment_ethics": "Renew the approval."}
    assert as_user(rdo).post(url("rdo-return", submitted.pk), data).status_code == 302
    submitted.refresh_from_db()
    assert submitted.status == ApplicationStatus.RETURNED
    assert set(ReturnComment.objects.values_list("section", flat=True)) == {"dpia", "ethics"}
    assert last_event("application.return").payload["sections"] == ["dpia", "ethics"]


def test_forwarding_before_the_checklist_is_complete_shows_the_service_message(as_user, submitted, rdo, committee):
    response = as_user(rdo).post(url("rdo-forward", submitted.pk), {"committee": committee.pk})
    assert response.status_code == 400
    assert "Complete the checklist first" in response.content.decode()
    submitted.refresh_from_db()
    assert submitted.status == ApplicationStatus.SUBMITTED


def test_the_rdo_completes_the_checklist_and_forwards(as_user, submitted, rdo, committee):
    client = as_user(rdo)
    checklist = {"ethics_verified": "on", "dpia_reviewed": "on", "representations_checked": "on", "notes": "ok"}
    assert client.post(url("rdo-checklist", submitted.pk), checklist).status_code == 302
    assert client.post(url("rdo-forward", submitted.pk), {"committee": committee.pk}).status_code == 302
    submitted.refresh_from_db()
    assert (submitted.status, submitted.committee) == (ApplicationStatus.IN_REVIEW, committee)
    assert "In committee review" in client.get(url("application-detail", submitted.pk)).content.decode()


def test_the_checklist_of_an_application_not_waiting_is_a_form_error(as_user, returned, rdo):
    response = as_user(rdo).post(url("rdo-checklist", returned.pk), {"ethics_verified": "on"}, follow=True)
    assert "kept while the application is submitted" in response.content.decode()


def test_a_resubmission_shows_the_rdo_what_changed(as_user, returned, alice, rdo):
    svc.dpia_update(actor=alice, application=returned, data={"dpo_name": "Dana Protection, DPO office"})
    application_submit(actor=alice, application=returned)
    body = as_user(rdo).get(url("rdo-review", returned.pk)).content.decode()
    assert "What changed since the previous submission" in body
    assert "DPO consulted" in body
    assert "Dana Protection, DPO office" in body


# --- dashboard panels --------------------------------------------------------------------------


def test_the_dashboards_show_what_waits(as_user, returned, alice, rdo, steward, committee, chair):
    assert "revise and resubmit" in as_user(alice).get("/").content.decode()
    assert "No submitted application waits" in as_user(rdo).get("/").content.decode()
    assert returned.reference in as_user(steward).get("/").content.decode()
    application_submit(actor=alice, application=returned)
    assert returned.reference in as_user(rdo).get("/").content.decode()
    rdo_checklist_update(
        actor=rdo,
        application=returned,
        data={"ethics_verified": True, "dpia_reviewed": True, "representations_checked": True},
    )
    application_forward(actor=rdo, application=returned, committee=committee)
    assert returned.reference in as_user(chair).get("/").content.decode()


def test_the_rdo_reads_each_section_beside_its_comment_box_and_cannot_forward_before_the_checklist(
    as_user, submitted, rdo
):
    from access_requests.models import Section

    body = as_user(rdo).get(url("rdo-review", submitted.pk)).content.decode()
    assert body.index("Completeness checklist") < body.index("The application")  # the checklist on top
    for section in Section:
        start = body.index(f'id="section-{section.value}"')
        end = body.find("</section>", start)
        assert f'name="comment_{section.value}"' in body[start:end]  # the box sits in its section
        assert 'form="return-form"' in body[start:end]
    assert "First submission" in body and "Submission</dt><dd>1" not in body
    forward = body[body.index("/review/forward/") :]
    assert 'disabled aria-describedby="forward-help"' in forward[: forward.index("</form>")]


def test_with_the_checklist_complete_the_forward_button_is_enabled(as_user, forwardable, rdo):
    body = as_user(rdo).get(url("rdo-review", forwardable.pk)).content.decode()
    forward = body[body.index("/review/forward/") :]
    assert "disabled" not in forward[: forward.index("</form>")]


@pytest.mark.parametrize(
    ("persona", "says"),
    [
        ("alice", "This list holds the applications you write or are on the team of."),
        ("rdo", "This list holds every application once submitted."),
        ("member", "This list holds the applications forwarded to your access committees."),
        ("steward", "This list holds the applications that request your institution's datasets."),
    ],
)
def test_the_application_list_says_what_it_holds_for_each_role(persona, says, request, as_user, db):
    user = request.getfixturevalue(persona)
    if persona == "member":
        from portal.models import Role
        from portal.services.accounts import user_grant_role

        user_grant_role(actor="system:test", user=user, role=Role.COMMITTEE)
    assert says in html.unescape(as_user(user).get(url("application-list")).content.decode())


def test_a_committee_member_is_told_what_happens_next_on_the_application_and_the_dashboard(as_user, in_review, member):
    from access_requests.dashboard import COMMITTEE_NEXT
    from portal.models import Role
    from portal.services.accounts import user_grant_role

    user_grant_role(actor="system:test", user=member, role=Role.COMMITTEE)
    client = as_user(member)
    page = html.unescape(client.get(url("application-detail", in_review.pk)).content.decode())
    assert "What happens next" in page and COMMITTEE_NEXT in page
    dashboard = html.unescape(client.get(reverse("dashboard")).content.decode())
    assert COMMITTEE_NEXT in dashboard and in_review.reference in dashboard


def test_the_team_is_not_shown_the_committees_next_steps(as_user, in_review, alice):
    assert "What happens next" not in as_user(alice).get(url("application-detail", in_review.pk)).content.decode()
