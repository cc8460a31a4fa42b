"""Access grants issued at execution: one per approved dataset, of the kind its access mode allows,
for the team the agreement names, ending at the earliest of the agreement, the ethics approvals and
the dataset's own time limit; revocation and expiry end them at once."""

from datetime import date, timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from access_requests.models import (
    ApplicationStatus,
    EntitlementEvent,
    Grant,
    GrantKind,
    GrantLimit,
    GrantStatus,
)
from access_requests.models.applications import access_period_end
from access_requests.services import grants as gr
from portal.errors import InvalidInput, NotPermitted, TransitionError
from portal.models import AuditEvent, OutboxEmail
from portal.services.audit import audit_verify


def test_execution_issues_one_grant_per_approved_dataset_of_the_kind_its_mode_allows(
    active, alice, dataset, processing_dataset
):
    assert active.status == ApplicationStatus.ACTIVE
    grants = {g.dataset_id: g for g in Grant.objects.filter(application=active)}
    assert set(grants) == {dataset.pk, processing_dataset.pk}
    download, processing = grants[dataset.pk], grants[processing_dataset.pk]
    assert download.kind == GrantKind.DOWNLOAD and processing.kind == GrantKind.PROCESSING
    for grant in grants.values():
        assert list(grant.grantees.all()) == [alice]
        assert grant.valid_from == active.access_start
        assert grant.valid_until == active.access_end == grant.agreement_end
        assert grant.limited_by == GrantLimit.AGREEMENT
    # a processing grant is an entitlement pushed to its holder; a download grant is served here
    assert [e.kind for e in EntitlementEvent.objects.filter(grant=processing)] == ["granted"]
    assert not EntitlementEvent.objects.filter(grant=download).exists()
    event = AuditEvent.objects.get(verb="grant.issue")
    assert {g["dataset"] for g in event.payload["grants"]} == {dataset.identifier, processing_dataset.identifier}
    assert audit_verify().ok


# --- the limits: agreement, ethics coverage, time limit on use -------------------------------------


def _approval(requested, approved_on, expires_on, reference):
    from access_requests.models import EthicsApproval

    approval = EthicsApproval.objects.create(
        application=requested.application,
        committee_name="REC",
        reference=reference,
        approved_on=approved_on,
        expires_on=expires_on,
        document_path="x.pdf",
        document_name="x.pdf",
        document_sha256="0" * 64,
        document_size=1,
        uploaded_by=requested.application.applicant,
    )
    approval.datasets.add(requested)
    return approval


def test_ethics_coverage_runs_through_a_renewal_that_follows_without_a_gap_and_stops_at_a_gap(active, dataset):
    requested = active.requested.get(dataset=dataset)
    requested.ethics_approvals.clear()
    start = date(2027, 1, 1)
    _approval(requested, date(2026, 6, 1), date(2027, 3, 31), "A")
    _approval(requested, date(2027, 4, 1), date(2027, 9, 30), "B")  # the day after A: coverage carries on
    _approval(requested, date(2027, 10, 2), date(2028, 12, 31), "C")  # 1 October uncovered: stops there
    assert gr.ethics_coverage_end(requested, start) == date(2027, 9, 30)
    span = gr.grant_period(requested, start, date(2027, 12, 31))
    assert (span.valid_until, span.limited_by) == (date(2027, 9, 30), GrantLimit.ETHICS)
    # an approval that starts after the period's start covers nothing of it: no grant at all
    requested.ethics_approvals.clear()
    _approval(requested, date(2027, 1, 2), date(2028, 1, 1), "D")
    assert gr.grant_period(requested, start, date(2027, 12, 31)).valid_until is None


def test_a_datasets_time_limit_on_use_ends_its_grant_before_the_agreement(active, dataset):
    """The submission check keeps the requested period within the limit; a limit set later still binds."""
    from catalogue.models import DataUseCondition, Term, Vocabulary

    DataUseCondition.objects.create(
        dataset=dataset,
        term=Term.objects.get(vocabulary=Vocabulary.DATA_USE, code="TIME_LIMIT_ON_USE"),
        parameters={"months": 6},
    )
    requested = active.requested.get(dataset=dataset)
    start = active.access_start
    span = gr.grant_period(requested, start, active.access_end)
    assert span.limited_by == GrantLimit.TIME_LIMIT
    assert span.valid_until == span.time_limit_end == access_period_end(start, 6) < active.access_end


def test_the_table_refuses_a_grant_past_the_agreements_end(active, dataset):
    grant = Grant.objects.get(application=active, dataset=dataset)
    with pytest.raises(IntegrityError), transaction.atomic():
        Grant.objects.filter(pk=grant.pk).update(valid_until=grant.agreement_end + timedelta(days=1))


# --- who the grant names --------------------------------------------------------------------------


def test_grantees_are_the_team_the_executed_agreement_names(request, dataset, alice, bob):
    """Bob joined before the approval and is named; Charlie's invitation was never accepted."""
    from access_requests.services import applications as svc
    from tests.helpers import team_join

    original = svc.application_create

    def create_with_team(**kwargs):
        application = original(**kwargs)
        team_join(application=application, inviter=alice, user=bob, role="Radiologist")
        svc.team_member_add(actor=alice, application=application, email="charlie@elsewhere.example")
        return application

    svc.application_create = create_with_team
    try:
        application = request.getfixturevalue("active")
    finally:
        svc.application_create = original
    for grant in Grant.objects.filter(application=application):
        assert sorted(u.email for u in grant.grantees.all()) == sorted([alice.email, bob.email])


# --- the check at every request -------------------------------------------------------------------


def test_the_permit_admits_a_grantee_for_a_file_of_the_grant_and_nobody_else(
    active, alice, bob, dataset, download_files, processing_dataset
):
    download = Grant.objects.get(application=active, dataset=dataset)
    processing = Grant.objects.get(application=active, dataset=processing_dataset)
    today = gr.portal_today()
    gr.download_permit(download, alice, download_files[0], today=today)  # no refusal
    with pytest.raises(gr.GrantRefused) as refused:
        gr.download_permit(download, bob, download_files[0], today=today)
    assert (refused.value.status, refused.value.code) == (403, "not_grantee")
    with pytest.raises(gr.GrantRefused) as refused:
        gr.download_permit(processing, alice, download_files[0], today=today)
    assert (refused.value.status, refused.value.code) == (403, "processing_only")
    with pytest.raises(gr.GrantRefused) as refused:
        gr.download_permit(download, alice, download_files[0], today=download.valid_until + timedelta(days=1))
    assert (refused.value.status, refused.value.code) == (410, "expired")
    with pytest.raises(gr.GrantRefused) as refused:
        gr.download_permit(download, alice, download_files[0], today=download.valid_from - timedelta(days=1))
    assert (refused.value.status, refused.value.code) == (403, "not_started")


def test_the_permit_refuses_a_dataset_the_decision_refused_one_withdrawn_and_one_not_deidentified(
    active, alice, dataset, download_files
):
    from access_requests.models import DatasetDecision
    from catalogue.models import Dataset, DatasetStatus

    grant = Grant.objects.get(application=active, dataset=dataset)
    today = gr.portal_today()
    Dataset.objects.filter(pk=dataset.pk).update(anonymisation_verified_on=None)
    with pytest.raises(gr.GrantRefused) as refused:
        gr.download_permit(Grant.objects.get(pk=grant.pk), alice, download_files[0], today=today)
    assert refused.value.code == "not_deidentified"
    Dataset.objects.filter(pk=dataset.pk).update(status=DatasetStatus.WITHDRAWN)
    with pytest.raises(gr.GrantRefused) as refused:
        gr.download_permit(Grant.objects.get(pk=grant.pk), alice, download_files[0], today=today)
    assert (refused.value.status, refused.value.code) == (410, "dataset_withdrawn")
    # the decision, written another way (a per-dataset refusal): the grant no longer stands on it
    DatasetDecision.objects.create(round=grant.agreement.round, requested=grant.requested, approved=False, reason="x")
    with pytest.raises(gr.GrantRefused) as refused:
        gr.download_permit(Grant.objects.get(pk=grant.pk), alice, download_files[0], today=today)
    assert refused.value.code == "not_approved"


# --- revocation ---------------------------------------------------------------------------------------


def test_the_rdo_revokes_one_grant_at_once_pushing_and_telling_the_grantees(
    active, rdo, alice, processing_dataset, django_capture_on_commit_callbacks
):
    grant = Grant.objects.get(application=active, dataset=processing_dataset)
    gr.grant_revoke(actor=rdo, grant=grant, reason="The environment reported misuse.")
    grant.refresh_from_db()
    assert grant.status == GrantStatus.REVOKED and grant.ended_at and grant.revoked_by == rdo
    assert gr.grant_state(grant, gr.portal_today()) == "revoked"
    assert [e.kind for e in EntitlementEvent.objects.filter(grant=grant)] == ["granted", "revoked"]
    mail = OutboxEmail.objects.get(template="grant_revoked")
    assert mail.to == [alice.email] and "misuse" in mail.body_text
    assert AuditEvent.objects.filter(verb="grant.revoke").count() == 1
    active.refresh_from_db()
    assert active.status == ApplicationStatus.ACTIVE  # the download grant still runs
    with pytest.raises(TransitionError, match="already revoked"):
        gr.grant_revoke(actor=rdo, grant=grant, reason="Again.")


def test_revoking_the_last_grant_closes_the_application(active, rdo):
    for grant in Grant.objects.filter(application=active):
        gr.grant_revoke(actor=rdo, grant=grant, reason="Ended early by agreement of the parties.")
    active.refresh_from_db()
    assert active.status == ApplicationStatus.CLOSED and active.ended_at is not None
    assert OutboxEmail.objects.filter(template="application_closed").exists()
    assert audit_verify().ok


def test_the_chair_revokes_the_whole_application_and_the_applicant_may_not(active, alice, chair, member):
    before = AuditEvent.objects.count()
    for who in (alice, member):
        with pytest.raises(NotPermitted):
            gr.application_revoke(actor=who, application=active, reason="No.")
    with pytest.raises(InvalidInput):
        gr.application_revoke(actor=chair, application=active, reason="  ")
    assert AuditEvent.objects.exclude(verb="access.refused").count() == before
    gr.application_revoke(actor=chair, application=active, reason="The ethics approval was withdrawn.")
    active.refresh_from_db()
    assert active.status == ApplicationStatus.REVOKED and active.end_reason == "The ethics approval was withdrawn."
    assert set(Grant.objects.filter(application=active).values_list("status", flat=True)) == {GrantStatus.REVOKED}
    assert OutboxEmail.objects.filter(template="application_revoked").exists()


def test_a_refused_execution_leaves_no_grant(in_review):
    """Grants come only with an executed agreement: an application in review has none."""
    assert not Grant.objects.filter(application=in_review).exists()


def test_issuing_twice_keeps_one_set_of_grants(active):
    from access_requests.models import Agreement, AgreementVersion

    agreement = Agreement.objects.get(application=active)
    version = AgreementVersion.objects.get(agreement=agreement, superseded_at__isnull=True)
    with transaction.atomic():
        gr.grants_issue(agreement=agreement, version=version, now=timezone.now())
    assert Grant.objects.filter(application=active).count() == 2
    assert AuditEvent.objects.filter(verb="grant.issue").count() == 1
