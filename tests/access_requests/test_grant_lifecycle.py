"""The lifecycle of access grants after issue: expiry and the seven-day reminder (by moving the
clock), extensions within the grant's limits, revocation by the RDO or the committee's chair, and the
closeout the applicant attests when access has ended (with its reminders)."""

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from access_requests.models import (
    ApplicationStatus,
    Closeout,
    EntitlementEvent,
    ExtensionRequest,
    ExtensionStatus,
    Grant,
    GrantKind,
    GrantStatus,
    ResearchOutput,
)
from access_requests.services.grants import GrantRefused, grant_revoke, grant_usable, grants_sweep
from access_requests.services.lifecycle import (
    closeout_missing,
    closeout_outputs_add,
    closeout_remind,
    closeout_submit,
    extension_decide,
    extension_request,
)
from portal.errors import InvalidInput, NotPermitted, TransitionError
from portal.models import AuditEvent, OutboxEmail
from portal.services.audit import audit_verify


def at(day, hour=9):
    """A moment on `day` in the portal's time zone."""
    return timezone.make_aware(datetime.combine(day, time(hour)))


def grants_of(application):
    found = {g.kind: g for g in Grant.objects.filter(application=application)}
    return found[GrantKind.DOWNLOAD], found[GrantKind.PROCESSING]


def mails(template):
    return list(OutboxEmail.objects.filter(template=template))


def state_of(application) -> dict:
    """What a refused act must leave as it was."""
    return {
        "grants": sorted(Grant.objects.filter(application=application).values_list("pk", "status", "valid_until")),
        "requests": sorted(ExtensionRequest.objects.values_list("pk", "status", "granted_until")),
        "status": type(application).objects.get(pk=application.pk).status,
        "audit": AuditEvent.objects.exclude(verb="access.refused").count(),
        "outbox": OutboxEmail.objects.count(),
        "closeouts": Closeout.objects.count(),
        "outputs": ResearchOutput.objects.count(),
        "events": EntitlementEvent.objects.count(),
    }


# --- expiry, closing and the reminder, by moving the clock ---------------------------------------


def test_the_sweep_reminds_once_seven_days_before_then_expires_and_closes(active, alice):
    download, processing = grants_of(active)
    end = download.valid_until
    assert grants_sweep(now=at(end - timedelta(days=8)))["reminded"] == 0
    assert grants_sweep(now=at(end - timedelta(days=7)))["reminded"] == 2
    assert len(mails("grant_expiring")) == 2 and mails("grant_expiring")[0].to == [alice.email]
    # the next day's run, and a second run, remind no one again
    assert grants_sweep(now=at(end - timedelta(days=6)))["reminded"] == 0
    assert grants_sweep(now=at(end - timedelta(days=6), 15))["reminded"] == 0
    assert len(mails("grant_expiring")) == 2
    # the last day is still a day of access
    assert grants_sweep(now=at(end, 23))["expired"] == 0
    grant_usable(download, alice, today=end)
    # the day after: expired, pushed, notified, and the application closed
    counts = grants_sweep(now=at(end + timedelta(days=1), 0))
    assert counts["expired"] == 2 and counts["closed"] == 1
    for grant in (download, processing):
        grant.refresh_from_db()
        assert grant.status == GrantStatus.EXPIRED and grant.ended_at is not None
    assert [e.kind for e in EntitlementEvent.objects.filter(grant=processing)] == ["granted", "ended"]
    active.refresh_from_db()
    assert active.status == ApplicationStatus.CLOSED and active.ended_at is not None
    assert AuditEvent.objects.filter(verb="application.close", target_id=str(active.pk)).count() == 1
    assert AuditEvent.objects.filter(verb="grant.expire").count() == 2
    assert len(mails("grant_expired")) == 2 and len(mails("application_closed")) == 1
    # run twice: nothing more
    assert grants_sweep(now=at(end + timedelta(days=1), 1)) == {
        "expired": 0,
        "closed": 0,
        "reminded": 0,
        "closeout_reminded": 0,
    }
    assert audit_verify().ok


def test_a_link_check_refuses_the_day_after_the_last_day_before_the_sweep_ran(active, alice):
    download, _ = grants_of(active)
    grant_usable(download, alice, today=download.valid_until)
    with pytest.raises(GrantRefused) as refused:
        grant_usable(download, alice, today=download.valid_until + timedelta(days=1))
    assert refused.value.status == 410 and refused.value.code == "expired"
    download.refresh_from_db()
    assert download.status == GrantStatus.ACTIVE  # the sweep has not run: the dates alone refuse


def test_a_revoked_grant_is_not_reminded_and_the_other_one_is(active, rdo):
    download, processing = grants_of(active)
    grant_revoke(actor=rdo, grant=download, reason="Breach of the agreement's terms.")
    grants_sweep(now=at(download.valid_until - timedelta(days=3)))
    reminded = Grant.objects.filter(reminded_at__isnull=False)
    assert list(reminded) == [processing]
    assert len(mails("grant_expiring")) == 1


def test_revoking_the_last_grant_closes_the_application(active, rdo, chair):
    download, processing = grants_of(active)
    grant_revoke(actor=rdo, grant=download, reason="Files shared outside the team.")
    active.refresh_from_db()
    assert active.status == ApplicationStatus.ACTIVE
    grant_revoke(actor=chair, grant=processing, reason="The committee withdrew its approval.")
    active.refresh_from_db()
    assert active.status == ApplicationStatus.CLOSED
    assert AuditEvent.objects.filter(verb="grant.revoke").count() == 2
    processing.refresh_from_db()
    assert processing.revoked_by == chair and processing.revoke_reason == "The committee withdrew its approval."


@pytest.mark.parametrize("who", ["alice", "member", "steward", "other_steward"])
def test_revocation_is_refused_to_the_applicant_a_member_and_stewards_and_changes_nothing(active, request, who):
    from access_requests.services.grants import application_revoke

    person = request.getfixturevalue(who)
    download, _ = grants_of(active)
    before = state_of(active)
    with pytest.raises(NotPermitted):
        grant_revoke(actor=person, grant=download, reason="No.")
    with pytest.raises(NotPermitted):
        application_revoke(actor=person, application=active, reason="No.")
    assert state_of(active) == before


def test_a_revocation_without_a_reason_is_refused(active, rdo):
    download, _ = grants_of(active)
    before = state_of(active)
    with pytest.raises(InvalidInput):
        grant_revoke(actor=rdo, grant=download, reason="  ")
    assert state_of(active) == before


# --- extensions ------------------------------------------------------------------------------


def shorten(grant, *, days: int, **limits):
    """The grant ending `days` days from today, its limits set as given (as if issued so)."""
    today = timezone.localdate()
    Grant.objects.filter(pk=grant.pk).update(valid_until=today + timedelta(days=days), **limits)
    grant.refresh_from_db()
    return grant


def test_an_extension_granted_moves_the_end_clears_the_reminder_and_pushes(active, alice, rdo):
    download, processing = grants_of(active)
    processing = shorten(processing, days=5)
    grants_sweep(now=timezone.now())
    processing.refresh_from_db()
    assert processing.reminded_at is not None
    until = processing.valid_until + timedelta(days=30)
    request = extension_request(actor=alice, grant=processing, until=until, reason="Training takes longer.")
    assert mails("grant_extension_requested")[0].to == [rdo.email]
    # one pending request per grant
    with pytest.raises(TransitionError):
        extension_request(actor=alice, grant=processing, until=until, reason="Again.")
    extension_decide(actor=rdo, request=request, approve=True)
    processing.refresh_from_db()
    request.refresh_from_db()
    assert processing.valid_until == until and processing.reminded_at is None
    assert request.status == ExtensionStatus.GRANTED and request.granted_until == until and request.decided_by == rdo
    assert [e.kind for e in EntitlementEvent.objects.filter(grant=processing)] == ["granted", "extended"]
    assert EntitlementEvent.objects.get(grant=processing, kind="extended").payload["valid_until"] == until.isoformat()
    verbs = list(AuditEvent.objects.filter(verb__startswith="grant.ext").values_list("verb", flat=True))
    assert sorted(verbs) == ["grant.extend", "grant.extension_request"]
    assert mails("grant_extended")[0].to == [alice.email]
    # decided once
    with pytest.raises(TransitionError):
        extension_decide(actor=rdo, request=request, approve=False, reason="Changed my mind.")
    assert audit_verify().ok


def test_the_rdo_may_grant_a_shorter_extension_than_asked(active, alice, rdo):
    download, _ = grants_of(active)
    download = shorten(download, days=20)
    request = extension_request(
        actor=alice, grant=download, until=download.valid_until + timedelta(days=60), reason="More cases."
    )
    shorter = download.valid_until + timedelta(days=10)
    extension_decide(actor=rdo, request=request, approve=True, until=shorter)
    download.refresh_from_db()
    assert download.valid_until == shorter


def test_an_extension_must_pass_the_current_end(active, alice):
    download, _ = grants_of(active)
    before = state_of(active)
    with pytest.raises(InvalidInput) as refused:
        extension_request(actor=alice, grant=download, until=download.valid_until, reason="More time.")
    assert "until" in refused.value.fields
    assert state_of(active) == before


def test_no_extension_past_the_agreement_needs_a_new_agreement_version(active, alice, rdo):
    download, _ = grants_of(active)
    assert download.valid_until == download.agreement_end
    with pytest.raises(InvalidInput) as refused:
        extension_request(
            actor=alice, grant=download, until=download.agreement_end + timedelta(days=1), reason="More time."
        )
    assert "new version of the data-access agreement" in refused.value.message
    # and the RDO cannot grant past it either
    download = shorten(download, days=30)
    request = extension_request(actor=alice, grant=download, until=download.agreement_end, reason="More time.")
    before = state_of(active)
    with pytest.raises(InvalidInput) as refused:
        extension_decide(actor=rdo, request=request, approve=True, until=download.agreement_end + timedelta(days=1))
    assert "new version of the data-access agreement" in refused.value.message
    assert state_of(active) == before


def test_no_extension_past_the_ethics_approval_needs_a_renewed_approval(active, alice, rdo):
    download, _ = grants_of(active)
    today = timezone.localdate()
    download = shorten(download, days=10, ethics_end=today + timedelta(days=20), limited_by="ethics")
    with pytest.raises(InvalidInput) as refused:
        extension_request(actor=alice, grant=download, until=today + timedelta(days=21), reason="More time.")
    assert "renewed ethics approval" in refused.value.message
    request = extension_request(actor=alice, grant=download, until=today + timedelta(days=20), reason="More time.")
    extension_decide(actor=rdo, request=request, approve=True)
    download.refresh_from_db()
    assert download.valid_until == today + timedelta(days=20) == download.ethics_end


def test_no_extension_past_the_datasets_time_limit(active, alice, rdo):
    download, _ = grants_of(active)
    today = timezone.localdate()
    download = shorten(download, days=10, time_limit_end=today + timedelta(days=15), limited_by="time_limit")
    with pytest.raises(InvalidInput) as refused:
        extension_request(actor=alice, grant=download, until=today + timedelta(days=16), reason="More time.")
    assert "time limit on use" in refused.value.message
    request = extension_request(actor=alice, grant=download, until=today + timedelta(days=12), reason="More time.")
    before = state_of(active)
    with pytest.raises(InvalidInput):
        extension_decide(actor=rdo, request=request, approve=True, until=today + timedelta(days=16))
    assert state_of(active) == before


def test_a_refusal_needs_a_reason_and_tells_the_grantees(active, alice, rdo):
    download, _ = grants_of(active)
    download = shorten(download, days=10)
    request = extension_request(
        actor=alice, grant=download, until=download.valid_until + timedelta(days=5), reason="R."
    )
    before = state_of(active)
    with pytest.raises(InvalidInput) as refused:
        extension_decide(actor=rdo, request=request, approve=False, reason="")
    assert "reason" in refused.value.fields
    assert state_of(active) == before
    extension_decide(actor=rdo, request=request, approve=False, reason="The terms were not met.")
    request.refresh_from_db()
    download.refresh_from_db()
    assert request.status == ExtensionStatus.REFUSED and request.decision_reason == "The terms were not met."
    assert download.valid_until == timezone.localdate() + timedelta(days=10)
    assert AuditEvent.objects.filter(verb="grant.extension_refuse").count() == 1
    refusal = mails("grant_extension_refused")[0]
    assert refusal.to == [alice.email] and "The terms were not met." in refusal.body_text
    # a new request may follow a refusal
    extension_request(actor=alice, grant=download, until=download.valid_until + timedelta(days=5), reason="Again.")


@pytest.mark.parametrize("who", ["member", "chair", "steward"])
def test_only_a_grantee_asks_and_only_the_reviewing_rdo_decides(active, alice, request, who):
    person = request.getfixturevalue(who)
    download, _ = grants_of(active)
    download = shorten(download, days=10)
    before = state_of(active)
    with pytest.raises(NotPermitted):
        extension_request(actor=person, grant=download, until=download.valid_until + timedelta(days=5), reason="R.")
    assert state_of(active) == before
    pending = extension_request(
        actor=alice, grant=download, until=download.valid_until + timedelta(days=5), reason="R."
    )
    before = state_of(active)
    for decider in (person, alice):
        with pytest.raises(NotPermitted):
            extension_decide(actor=decider, request=pending, approve=True)
    assert state_of(active) == before


def test_an_ended_grant_cannot_be_extended_and_its_pending_request_is_closed(active, alice, rdo):
    download, _ = grants_of(active)
    download = shorten(download, days=10)
    pending = extension_request(
        actor=alice, grant=download, until=download.valid_until + timedelta(days=5), reason="R."
    )
    grant_revoke(actor=rdo, grant=download, reason="Breach.")
    pending.refresh_from_db()
    assert pending.status == ExtensionStatus.REFUSED
    with pytest.raises(TransitionError):
        extension_request(actor=alice, grant=download, until=download.valid_until + timedelta(days=5), reason="R.")


# --- closeout ------------------------------------------------------------------------------------

OUTPUTS = [
    {"kind": "publication", "title": "Density and detection", "doi": "https://doi.org/10.1234/abcd.5", "url": ""},
    {"kind": "model", "title": "Lesion detector v1", "doi": "", "url": "https://models.example/lesion"},
]


def ended(application, rdo, *, days_ago: int = 0):
    from access_requests.models import Application
    from access_requests.services.grants import application_revoke

    application_revoke(actor=rdo, application=application, reason="Project stopped.")
    if days_ago:
        Application.objects.filter(pk=application.pk).update(ended_at=timezone.now() - timedelta(days=days_ago))
    return Application.objects.get(pk=application.pk)


def test_closeout_is_attested_once_by_the_applicant_with_results(active, alice, rdo):
    with pytest.raises(TransitionError):  # access still active
        closeout_submit(actor=alice, application=active, copies_deleted=True)
    application = ended(active, rdo)
    before = state_of(application)
    with pytest.raises(InvalidInput) as refused:
        closeout_submit(actor=alice, application=application, copies_deleted=False)
    assert "copies_deleted" in refused.value.fields
    with pytest.raises(InvalidInput) as refused:
        closeout_submit(
            actor=alice,
            application=application,
            copies_deleted=True,
            outputs=[{"kind": "publication", "title": "A paper", "doi": "not-a-doi"}],
        )
    assert "outputs[0]" in refused.value.fields
    assert state_of(application) == before
    closeout_submit(
        actor=alice, application=application, copies_deleted=True, statement="Wiped on 1 May.", outputs=OUTPUTS
    )
    closeout = Closeout.objects.get(application=application)
    assert closeout.attested_by == alice and closeout.statement == "Wiped on 1 May."
    outputs = list(ResearchOutput.objects.filter(application=application))
    assert [(o.kind, o.doi, o.url) for o in outputs] == [
        ("publication", "10.1234/abcd.5", ""),
        ("model", "", "https://models.example/lesion"),
    ]
    event = AuditEvent.objects.get(verb="application.closeout")
    assert len(event.payload["outputs"]) == 2
    assert mails("application_closeout")[0].to == [rdo.email]
    with pytest.raises(TransitionError):
        closeout_submit(actor=alice, application=application, copies_deleted=True)
    # results published later are added
    closeout_outputs_add(
        actor=alice,
        application=application,
        outputs=[{"kind": "publication", "title": "Follow-up", "doi": "10.5555/x"}],
    )
    assert ResearchOutput.objects.filter(application=application).count() == 3
    assert audit_verify().ok


@pytest.mark.parametrize("who", ["bob", "rdo", "chair", "steward"])
def test_closeout_is_refused_to_anyone_but_the_applicant(active, rdo, request, who):
    application = ended(active, rdo)
    person = request.getfixturevalue(who)
    before = state_of(application)
    with pytest.raises(NotPermitted):
        closeout_submit(actor=person, application=application, copies_deleted=True)
    assert state_of(application) == before


def test_a_missing_closeout_is_reminded_by_the_sweep_once_after_30_days(active, alice, rdo):
    application = ended(active, rdo, days_ago=29)
    assert not closeout_missing().exists()
    assert grants_sweep()["closeout_reminded"] == 0
    application = ended(application, rdo, days_ago=31)
    assert list(closeout_missing()) == [application]
    assert grants_sweep()["closeout_reminded"] == 1
    assert grants_sweep()["closeout_reminded"] == 0
    assert [m.to for m in mails("closeout_reminder")] == [[alice.email]]
    assert AuditEvent.objects.get(verb="application.closeout_remind").payload == {"automatic": True}
    closeout_submit(actor=alice, application=application, copies_deleted=True)
    assert not closeout_missing().exists()


def test_the_rdo_reminds_at_most_once_a_day(active, alice, rdo, chair):
    application = ended(active, rdo, days_ago=40)
    with pytest.raises(NotPermitted):
        closeout_remind(actor=chair, application=application)
    assert closeout_remind(actor=rdo, application=application) is True
    assert closeout_remind(actor=rdo, application=application) is False
    assert closeout_remind(actor=rdo, application=application, now=timezone.now() + timedelta(days=1)) is True
    assert len(mails("closeout_reminder")) == 2
    assert AuditEvent.objects.filter(verb="application.closeout_remind").count() == 2
