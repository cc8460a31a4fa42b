"""The institution's signatory signs the representations (issue 8, item 1).

The applicant names the signatory and asks them to sign; the signatory follows a signed, expiring
link, signed in with a proved address equal to the named one, reads only the summary of what they
sign and accepts each statement with their password. The submission check counts only their
acceptances of what the application says now; a change to what the statements cover voids them.
"""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from access_requests.models import LegalStatement, StatementAcceptance
from access_requests.services import applications as svc
from access_requests.services.checks import application_check
from portal.errors import InvalidInput, NotPermitted, TransitionError
from portal.models import OutboxEmail
from portal.services.accounts import user_create
from tests.access_requests.conftest import SIGNATORY_EMAIL, complete, signatory_person, signatory_signs
from tests.conftest import PASSWORD
from tests.helpers import change_events, last_event, signed_in_long_ago, team_join

pytestmark = pytest.mark.django_db

NAMED = {
    "institution_legal_name": "University of Latvia",
    "signatory_name": "Dr. Vera Signer",
    "signatory_role": "Vice-rector for research",
    "signatory_email": SIGNATORY_EMAIL,
}


def signature_link(address: str = SIGNATORY_EMAIL) -> str:
    mail = OutboxEmail.objects.filter(template="signature_request", to=[address]).latest("pk")
    return re.search(r"http://127\.0\.0\.1:8000(/\S+)", mail.body_text).group(1)


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def statement_problems(application) -> list[str]:
    return [p.field for p in application_check(application) if p.code == "statement"]


@pytest.fixture
def signer(db):
    return signatory_person()


@pytest.fixture
def asked(ready, alice, signer):
    """Alice's complete application whose acceptances were voided, the signatory asked again."""
    StatementAcceptance.objects.filter(application=ready).delete()
    svc.representations_request_signature(actor=alice, application=ready)
    return ready


def sign(client, link, statements=None, password=PASSWORD):
    page = client.get(link)
    covered = re.search(r'name="covered" value="([0-9a-f]{64})"', page.content.decode()).group(1)
    data = {"statements": statements or LegalStatement.values, "password": password, "covered": covered}
    return client.post(link, data)


# --- asking ----------------------------------------------------------------------------------


def test_the_team_names_the_signatory_and_asks_them_by_email(draft, alice, signer):
    svc.representations_update(actor=alice, application=draft, data=NAMED)
    response = client_of(alice).post(f"/applications/{draft.pk}/representations/signature/")
    assert response.status_code == 302
    mail = OutboxEmail.objects.get(template="signature_request")
    assert mail.to == [SIGNATORY_EMAIL]
    assert draft.reference in mail.subject and "Dr. Vera Signer" in mail.body_text
    assert signature_link().startswith("/applications/signatures/")
    event = last_event("application.signature_request")
    assert event.actor == alice and event.payload["signatory_email"] == SIGNATORY_EMAIL


def test_asking_needs_a_named_signatory(draft, alice):
    with pytest.raises(InvalidInput) as refused:
        svc.representations_request_signature(actor=alice, application=draft)
    assert "signatory_name" in refused.value.fields and "signatory_email" in refused.value.fields
    assert not OutboxEmail.objects.filter(template="signature_request").exists()


def test_someone_on_the_team_cannot_be_the_signatory(draft, alice, bob):
    team_join(application=draft, inviter=alice, user=bob)
    with pytest.raises(InvalidInput) as refused:
        svc.representations_update(actor=alice, application=draft, data={**NAMED, "signatory_email": bob.email})
    assert "signatory_email" in refused.value.fields


def test_a_signatory_who_joins_the_team_no_longer_signs_for_it(ready, alice, signer):
    team_join(application=ready, inviter=alice, user=signer)
    [problem] = application_check(ready)
    assert (problem.field, problem.code) == ("signatory_email", "signatory_on_team")


def test_outsiders_cannot_ask(draft, charlie, alice):
    svc.representations_update(actor=alice, application=draft, data=NAMED)
    with pytest.raises(NotPermitted):
        svc.representations_request_signature(actor=charlie, application=draft)
    assert client_of(charlie).post(f"/applications/{draft.pk}/representations/signature/").status_code == 404


# --- the link: only the named signatory, signed in with a proved address --------------------


def test_the_named_signatory_sees_only_the_summary_of_what_they_sign(asked, signer, alice):
    response = client_of(signer).get(signature_link())
    assert response.status_code == 200
    body = response.content.decode()
    summary = body[body.index('id="signature-summary"') :]
    for shown in (asked.reference, asked.title, "University of Latvia", asked.lay_summary[:40], "12 months"):
        assert shown in summary
    for item in asked.requested.select_related("dataset"):
        assert item.dataset.identifier in summary
    dpia = asked.dpia
    approval = asked.ethics_approvals.first()
    for hidden in (
        asked.scientific_description[:40],
        asked.intended_use[:40],
        asked.timeline[:40],
        dpia.processing_description,
        dpia.dpo_name,
        approval.reference,
        alice.email,
        "/documents/",
    ):
        assert hidden not in body, hidden
    for statement in LegalStatement:
        assert statement.label in body
    assert 'type="password"' in body


def test_the_signatory_needs_no_researcher_role(asked, signer):
    assert signer.roles == set() or not signer.roles
    assert client_of(signer).get(signature_link()).status_code == 200


def test_anonymous_visitors_are_sent_to_sign_in_first(asked):
    response = Client().get(signature_link())
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=")


def test_anyone_else_is_refused_without_learning_anything(asked, alice, bob, charlie):
    link = signature_link()
    for user in (alice, charlie):
        response = client_of(user).get(link)
        assert response.status_code == 404
        assert asked.reference not in response.content.decode()
        assert asked.title not in response.content.decode()
        assert (
            client_of(user).post(link, {"statements": LegalStatement.values, "password": PASSWORD}).status_code == 404
        )
    assert not StatementAcceptance.objects.filter(application=asked).exists()


def test_an_unproved_account_at_the_signatory_address_is_refused(ready, alice):
    StatementAcceptance.objects.filter(application=ready).delete()
    svc.representations_update(actor=alice, application=ready, data={"signatory_email": "newsigner@uni.example"})
    svc.representations_request_signature(actor=alice, application=ready)
    unproved = user_create(
        actor="system:test",
        email="newsigner@uni.example",
        full_name="Not Yet Proved",
        password=PASSWORD,
        email_verified=False,
    )
    response = client_of(unproved).get(signature_link("newsigner@uni.example"))
    # an unproved account is not signed in at all: sent to sign in, shown nothing
    assert response.status_code in (302, 404) and ready.reference not in response.content.decode()
    assert response.status_code == 404 or response["Location"].startswith("/accounts/login/")
    unproved.email_verified_at = timezone.now()
    unproved.save(update_fields=["email_verified_at"])
    assert client_of(unproved).get(signature_link("newsigner@uni.example")).status_code == 200


def test_a_tampered_link_is_refused(asked, signer):
    link = signature_link()
    token = link.rstrip("/").rsplit("/", 1)[-1]
    tampered = link.replace(token, token[:-2] + ("xx" if not token.endswith("xx") else "yy"))
    client = client_of(signer)
    before = change_events()
    response = client.get(tampered)
    assert response.status_code == 404 and asked.reference not in response.content.decode()
    assert change_events() == before


def test_an_expired_link_is_refused(asked, signer):
    asked.representations.__class__.objects.filter(pk=asked.representations.pk).update(
        signature_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert client_of(signer).get(signature_link()).status_code == 404


def test_asking_again_replaces_the_link(asked, alice, signer):
    old = signature_link()
    svc.representations_request_signature(actor=alice, application=asked)
    new = signature_link()
    assert new != old
    assert client_of(signer).get(old).status_code == 404
    assert client_of(signer).get(new).status_code == 200


# --- accepting -------------------------------------------------------------------------------


def test_the_signatory_accepts_with_their_password_and_it_is_recorded(asked, signer):
    response = sign(client_of(signer), signature_link())
    assert response.status_code == 302
    rows = list(StatementAcceptance.objects.filter(application=asked, voided_at__isnull=True))
    assert sorted(r.statement for r in rows) == sorted(LegalStatement.values)
    covered = svc.representations_covered_hash(asked)
    for row in rows:
        assert row.accepted_by == signer
        assert row.text == LegalStatement(row.statement).label
        assert row.covered_sha256 == covered
        assert timezone.now() - row.accepted_at < timedelta(minutes=1)
    event = last_event("application.statements_accept")
    assert event.actor == signer and event.payload["covered_sha256"] == covered
    assert application_check(asked) == []


def test_the_signatory_may_accept_one_statement_at_a_time(asked, signer):
    sign(client_of(signer), signature_link(), statements=[LegalStatement.DELETION])
    assert statement_problems(asked) == [s for s in LegalStatement.values if s != LegalStatement.DELETION]


def test_a_wrong_password_is_a_form_error_and_accepts_nothing(asked, signer):
    response = sign(client_of(signer), signature_link(), password="not-my-password")
    assert response.status_code == 400
    assert "That is not your password." in response.content.decode()
    assert not StatementAcceptance.objects.filter(application=asked).exists()


def test_wrong_passwords_count_as_failed_sign_ins(asked, signer, settings):
    settings.AXES_FAILURE_LIMIT = 2
    client = client_of(signer)
    for _ in range(2):
        sign(client, signature_link(), password="not-my-password")
    assert sign(client, signature_link()).status_code == 429
    assert not StatementAcceptance.objects.filter(application=asked).exists()


def test_accepting_is_decided_by_the_password_on_the_form_not_a_second_prompt(asked, signer):
    client = signed_in_long_ago(signer)
    link = signature_link()
    covered = re.search(r'name="covered" value="([0-9a-f]{64})"', client.get(link).content.decode()).group(1)
    wrong = client.post(link, {"statements": LegalStatement.values, "password": "not-mine", "covered": covered})
    assert wrong.status_code == 400
    assert not StatementAcceptance.objects.filter(application=asked).exists()
    right = client.post(link, {"statements": LegalStatement.values, "password": PASSWORD, "covered": covered})
    assert right.status_code == 302 and "confirm-password" not in right["Location"]
    assert StatementAcceptance.objects.filter(application=asked, voided_at__isnull=True).count() == len(
        LegalStatement.values
    )


def test_a_change_while_the_signatory_reads_is_refused(asked, signer, alice):
    client = client_of(signer)
    link = signature_link()
    page = client.get(link).content.decode()
    covered = re.search(r'name="covered" value="([0-9a-f]{64})"', page).group(1)
    svc.application_update(actor=alice, application=asked, data={"title": "A different project"})
    response = client.post(link, {"statements": LegalStatement.values, "password": PASSWORD, "covered": covered})
    assert response.status_code == 400
    assert "changed while you were reading" in response.content.decode()
    assert not StatementAcceptance.objects.filter(application=asked).exists()


def test_nothing_is_accepted_once_the_application_is_submitted(ready, alice, signer):
    from access_requests.services.transitions import application_submit

    application_submit(actor=alice, application=ready)
    StatementAcceptance.objects.filter(application=ready, statement=LegalStatement.DELETION).delete()
    reps = ready.representations
    reps.refresh_from_db()
    with pytest.raises(TransitionError):
        svc.representations_accept(
            actor=signer,
            reps=reps,
            statements=[LegalStatement.DELETION],
            covered_sha256=svc.representations_covered_hash(ready),
        )
    assert "cannot be changed now" in client_of(signer).get(signature_link()).content.decode()


# --- the applicant cannot accept -------------------------------------------------------------


def test_the_applicant_cannot_accept_statements(draft, alice):
    svc.representations_update(actor=alice, application=draft, data=NAMED)
    with pytest.raises(InvalidInput) as refused:
        svc.representations_update(actor=alice, application=draft, data={}, accept=LegalStatement.values)
    assert refused.value.code == "signatory_accepts"
    page = client_of(alice).post(
        f"/applications/{draft.pk}/edit/representations/", {**NAMED, "accept": LegalStatement.values}
    )
    assert page.status_code == 400 and "signatory" in page.content.decode()
    api = APIClient()
    api.force_authenticate(alice)
    response = api.patch(
        f"/api/v1/applications/{draft.pk}/representations/", {"accept": LegalStatement.values}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "signatory_accepts" and "accept" in response.json()["errors"]
    reps = svc.representations_request_signature(actor=alice, application=draft)
    with pytest.raises(NotPermitted):
        svc.representations_accept(
            actor=alice,
            reps=reps,
            statements=LegalStatement.values,
            covered_sha256=svc.representations_covered_hash(draft),
        )
    assert not StatementAcceptance.objects.filter(application=draft).exists()


def test_the_representations_page_offers_no_statement_to_tick(draft, alice):
    body = client_of(alice).get(f"/applications/{draft.pk}/edit/representations/").content.decode()
    assert 'name="accept"' not in body


# --- the check, and changes to what is covered ----------------------------------------------


def test_the_check_requires_every_statement_accepted_by_the_named_signatory(ready, alice):
    assert application_check(ready) == []
    StatementAcceptance.objects.filter(application=ready).update(accepted_by=alice)
    assert statement_problems(ready) == LegalStatement.values


COVERED_CHANGES = {
    "title": lambda app, actor: svc.application_update(actor=actor, application=app, data={"title": "Other"}),
    "lay_summary": lambda app, actor: svc.application_update(
        actor=actor, application=app, data={"lay_summary": "Another summary."}
    ),
    "access_months": lambda app, actor: svc.application_update(actor=actor, application=app, data={"access_months": 6}),
    "access_start": lambda app, actor: svc.application_update(
        actor=actor, application=app, data={"access_start": app.access_start + timedelta(days=1)}
    ),
    "institution": lambda app, actor: svc.representations_update(
        actor=actor, application=app, data={"institution_legal_name": "Latvijas Universitāte"}
    ),
    "signatory": lambda app, actor: svc.representations_update(
        actor=actor, application=app, data={"signatory_role": "Rector"}
    ),
}


@pytest.mark.parametrize("change", sorted(COVERED_CHANGES))
def test_a_change_to_what_is_covered_voids_the_acceptances_and_asks_again(change, ready, alice, signer):
    old_link = signature_link()
    COVERED_CHANGES[change](ready, alice)
    rows = StatementAcceptance.objects.filter(application=ready)
    assert rows.count() == len(LegalStatement.values) and not rows.filter(voided_at__isnull=True).exists()
    event = last_event("application.representations_void")
    assert event.actor == alice and sorted(event.payload["statements"]) == sorted(LegalStatement.values)
    assert statement_problems(ready) == LegalStatement.values
    assert client_of(signer).get(old_link).status_code == 404
    svc.representations_request_signature(actor=alice, application=ready)
    assert sign(client_of(signer), signature_link()).status_code == 302
    assert application_check(ready) == []


def test_a_change_to_the_datasets_voids_the_acceptances(ready, alice, other_dataset):
    requested = {item.dataset: item.justification for item in ready.requested.select_related("dataset")}
    svc.application_set_datasets(actor=alice, application=ready, requested={**requested, other_dataset: "More."})
    assert not StatementAcceptance.objects.filter(application=ready, voided_at__isnull=True).exists()
    assert last_event("application.representations_void").payload["statements"]


def test_a_change_to_what_is_not_covered_keeps_the_acceptances(ready, alice):
    svc.application_update(actor=alice, application=ready, data={"timeline": "Two phases of six months."})
    assert StatementAcceptance.objects.filter(application=ready, voided_at__isnull=True).count() == 6
    assert application_check(ready) == []


def test_renaming_the_signatory_needs_the_new_signatory(ready, alice, charlie):
    svc.representations_update(actor=alice, application=ready, data={"signatory_email": charlie.email})
    assert statement_problems(ready) == LegalStatement.values
    signatory_signs(ready, alice, signatory=charlie)
    assert application_check(ready) == []
    assert set(
        StatementAcceptance.objects.filter(application=ready, voided_at__isnull=True).values_list(
            "accepted_by__email", flat=True
        )
    ) == {charlie.email}


# --- the API shows the acceptances, read-only -------------------------------------------------


def test_the_api_shows_the_acceptances_read_only(ready, alice):
    api = APIClient()
    api.force_authenticate(alice)
    body = api.get(f"/api/v1/applications/{ready.pk}/").json()["representations"]
    assert {s["code"] for s in body["statements"] if s["accepted"]} == set(LegalStatement.values)
    assert {s["accepted_by"] for s in body["statements"]} == {SIGNATORY_EMAIL}
    assert {s["covered_sha256"] for s in body["statements"]} == {svc.representations_covered_hash(ready)}
    response = api.patch(
        f"/api/v1/applications/{ready.pk}/representations/", {"statements": body["statements"]}, format="json"
    )
    assert response.status_code == 400
    assert StatementAcceptance.objects.filter(application=ready, voided_at__isnull=True).count() == 6


def test_the_api_asks_the_signatory(draft, alice):
    svc.representations_update(actor=alice, application=draft, data=NAMED)
    api = APIClient()
    api.force_authenticate(alice)
    response = api.post(f"/api/v1/applications/{draft.pk}/representations/signature/")
    assert response.status_code == 200 and response.json()["signature_expires_at"]
    assert OutboxEmail.objects.filter(template="signature_request", to=[SIGNATORY_EMAIL]).count() == 1


def test_complete_goes_through_the_signatory(draft, alice):
    application = complete(draft, alice)
    assert {a.accepted_by.email for a in application.statement_acceptances.all()} == {SIGNATORY_EMAIL}


def test_the_signatory_dashboard_lists_what_waits_for_them(asked, signer, charlie):
    body = client_of(signer).get("/").content.decode()
    assert "Legal statements to sign" in body
    # the dashboard signs its own link when it renders: the same request as the e-mail's, though its
    # time stamp (after the first colon) may be a second later
    assert asked.reference in body and signature_link().split(":")[0] in body
    assert "waiting for your acceptance" in body
    assert "Legal statements to sign" not in client_of(charlie).get("/").content.decode()


def test_the_demo_signatory_accepted_the_statements_of_the_demo_applications(db, django_capture_on_commit_callbacks):
    from access_requests.demo import load_applications
    from portal.demo import load_committee, load_holders, load_people
    from tests.access_requests.conftest import make_dataset

    people = load_people()
    holders = load_holders(people)
    dataset = make_dataset(holders["riga"], "LV-DEMO-MG", conditions=("C50",), use=[("ETHICS_APPROVAL_REQUIRED", {})])
    with django_capture_on_commit_callbacks(execute=True):
        applications = load_applications(people=people, datasets={"riga": dataset}, committee=load_committee(people))
    submitted = applications["submitted"]
    acceptances = submitted.statement_acceptances.filter(voided_at__isnull=True)
    assert {a.accepted_by.email for a in acceptances} == {"signatory@demo.example"}
    assert acceptances.count() == len(LegalStatement.values)
    assert not people["signatory"].roles
