"""`manage.py check_invariants` on a live database: it passes where the product made every row, and
for each of the eight invariants in turn, a direct write that breaks it (what a bug, a hand-edited
production row or a script bypassing the services would leave) is found and reported, naming the
objects involved, by the check of that invariant and by the command, which then exits non-zero.

The world is an active application (tests/access_requests/conftest.py `active`: approved by a
quorum, agreement signed by every party and sealed, a download grant and a processing grant)
from which Alice has downloaded one file through the real endpoint."""

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.utils import timezone
from rest_framework.test import APIClient

from access_requests.invariants import INVARIANTS, check
from access_requests.models import (
    AgreementSignature,
    Application,
    ConflictDeclaration,
    Download,
    EthicsApproval,
    Grant,
    GrantKind,
    PartyKind,
    ReviewRound,
    Vote,
)
from access_requests.services import grants as gs
from catalogue.models import DatasetFile
from tests.access_requests.conftest import (  # noqa: F401 (fixtures: an active application with files on disk)
    _agreement_pdf_rendered_once,
    active,
    dataset,
    demo,
    download_files,
    draft,
    member2,
    processing_dataset,
    ready,
    returned,
    submitted,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(active, alice, download_files):  # noqa: F811
    """The active application after Alice downloaded a file through the real endpoint."""
    grant = Grant.objects.get(application=active, kind=GrantKind.DOWNLOAD)
    client = APIClient()
    client.force_login(alice)
    response = client.get(gs.link_url(gs.link_token(user=alice, grant=grant, file=download_files[0])))
    assert response.status_code == 200
    b"".join(response.streaming_content)
    download = Download.objects.get()
    return {"application": active, "grant": grant, "download": download, "file": download_files[0]}


def _run_command(*args) -> tuple[bool, str]:
    out = io.StringIO()
    try:
        call_command("check_invariants", *args, stdout=out)
    except CommandError as exc:
        return False, out.getvalue() + str(exc)
    return True, out.getvalue()


def _found(number: int, *names: str) -> list:
    """The violations of invariant `number`; at least one of them names every one of `names`; and the
    command reports it (the same names in its output) and fails."""
    violations = check([number])
    assert violations, f"invariant {number} was broken but its check found nothing"
    assert all(v.invariant == number for v in violations)
    named = [v for v in violations if all(any(name in obj for obj in v.objects) for name in names)]
    assert named, (names, [str(v) for v in violations])
    passed, output = _run_command("--only", str(number))
    assert not passed
    assert f"invariant {number} VIOLATED" in output
    for name in names:
        assert name in output, (name, output)
    return named


@pytest.fixture
def broken():
    """Run the block that breaks an invariant in a savepoint rolled back afterwards: each test breaks
    the invariant more than one way on the one world it built."""

    class Broken:
        def __enter__(self):
            self.atomic = transaction.atomic()
            self.atomic.__enter__()

        def __exit__(self, *exc):
            transaction.set_rollback(True)
            self.atomic.__exit__(None, None, None)
            return False

    return Broken


def test_the_invariants_hold_where_the_product_made_every_row(world):
    assert check() == []
    passed, output = _run_command()
    assert passed, output
    for number, (title, _) in INVARIANTS.items():
        assert f"invariant {number} holds" in output and title in output
    assert "All 8 invariants hold" in output


def test_the_invariants_hold_on_the_demo_after_its_researcher_downloads_a_file(demo):  # noqa: F811
    grant = demo["grants"]["download"]
    researcher = demo["people"]["researcher"]
    file = grant.dataset.files.order_by("path").first()
    client = APIClient()
    client.force_login(researcher)
    response = client.get(gs.link_url(gs.link_token(user=researcher, grant=grant, file=file)))
    assert response.status_code == 200 and b"".join(response.streaming_content)[128:132] == b"DICM"
    passed, output = _run_command()
    assert passed, output
    assert Download.objects.count() == 1


def test_1_bytes_for_someone_the_grant_does_not_name(world, charlie, broken):
    grant, file = world["grant"], world["file"]
    with broken():
        stray = Download.objects.create(
            grant=grant, user=charlie, file=file, started_at=timezone.now(), bytes_sent=file.size_bytes
        )
        (violation,) = _found(1, f"download #{stray.pk}", charlie.email, f"grant #{grant.pk}")
        assert "not a grantee" in violation.message
    with broken():  # bytes of a dataset offered only for processing where it lives
        processing = Grant.objects.get(application=world["application"], kind=GrantKind.PROCESSING)
        alice = world["download"].user
        stray = Download.objects.create(
            grant=processing, user=alice, file=file, started_at=timezone.now(), bytes_sent=1
        )
        messages = {v.message for v in _found(1, f"download #{stray.pk}", f"grant #{processing.pk}")}
        assert any("not a download grant" in m for m in messages)
        assert any("not one of the grant's dataset's files" in m for m in messages)
    with broken():  # the dataset's de-identification was never verified
        world["file"].dataset.__class__.objects.filter(pk=file.dataset_id).update(anonymisation_verified_on=None)
        (violation,) = _found(1, f"download #{world['download'].pk}")
        assert "de-identification" in violation.message
    with broken():  # an agreement "executed" without the infrastructure as a party (its signature gone with it)
        from access_requests.models import AgreementParty

        AgreementParty.objects.filter(version__agreement__application=world["application"], kind=PartyKind.RDO).delete()
        messages = {v.message for v in _found(1, f"download #{world['download'].pk}", f"grant #{grant.pk}")}
        assert any("agreement was not executed" in m for m in messages)


def test_2_a_grant_outlasting_its_ethics_approval(world, broken):
    grant = world["grant"]
    with broken():
        # the approval the grant relies on is made to end early, the grant left as it was
        approval = EthicsApproval.objects.get(application=world["application"], datasets=grant.requested)
        ends = grant.valid_from + timedelta(days=30)
        EthicsApproval.objects.filter(pk=approval.pk).update(expires_on=ends)
        (violation,) = _found(2, f"grant #{grant.pk}", world["application"].reference)
        assert "past the ethics approvals" in violation.message and str(ends) in violation.message
    with broken():  # the grant's own days pushed past the agreement (its recorded limits pushed along)
        later = grant.agreement_end + timedelta(days=90)
        Grant.objects.filter(pk=grant.pk).update(
            valid_until=later, agreement_end=later, ethics_end=None, time_limit_end=None
        )
        messages = {v.message for v in _found(2, f"grant #{grant.pk}")}
        assert any("past the agreement's end" in m for m in messages)


def test_3_a_download_after_the_grant_was_revoked(world, rdo, broken):
    grant, file = world["grant"], world["file"]
    gs.grant_revoke(actor=rdo, grant=grant, reason="Breach reported by the institution.")
    assert check([3]) == []
    with broken():
        late = Download.objects.create(
            grant=grant,
            user=world["download"].user,
            file=file,
            started_at=timezone.now() + timedelta(seconds=1),
            bytes_sent=file.size_bytes,
        )
        (violation,) = _found(3, f"download #{late.pk}", f"grant #{grant.pk}")
        assert "after its grant (revoked)" in violation.message


def test_3_a_grant_left_active_under_a_revoked_application(world, broken):
    application, grant = world["application"], world["grant"]
    with broken():
        Application.objects.filter(pk=application.pk).update(status="revoked", ended_at=timezone.now())
        violations = _found(3, f"grant #{grant.pk}", application.reference)
        assert any("still active although its application is revoked" in v.message for v in violations)


def test_4_a_change_or_a_download_without_its_audit_event(world, broken):
    application, grant, file = world["application"], world["grant"], world["file"]
    with broken():
        Application.objects.filter(pk=application.pk).update(status="closed", ended_at=timezone.now())
        (violation,) = _found(4, application.reference)
        assert "is closed but its last audited transition left it active" in violation.message
    with broken():
        unrecorded = Download.objects.create(
            grant=grant, user=world["download"].user, file=file, started_at=timezone.now(), bytes_sent=1
        )
        (violation,) = _found(4, f"download #{unrecorded.pk}", f"grant #{grant.pk}")
        assert "0 download.serve events" in violation.message
    with broken():  # an event rewritten in place: the database refuses UPDATE, a superuser lifts that
        from django.db import connection

        from portal.models import AuditEvent

        event = AuditEvent.objects.get(verb="download.serve")
        with connection.cursor() as cursor:
            # what someone with the database's own powers could do: write with the triggers off
            if connection.vendor == "postgresql":
                cursor.execute("SET LOCAL session_replication_role = replica")
            else:
                cursor.execute("DROP TRIGGER IF EXISTS portal_auditevent_no_update")
            cursor.execute("UPDATE portal_auditevent SET actor_label = 'nobody' WHERE seq = %s", [event.seq])
            if connection.vendor == "postgresql":
                cursor.execute("SET LOCAL session_replication_role = origin")
        (violation,) = _found(4, f"audit event #{event.seq}")
        assert "chain is broken" in violation.message and "altered" in violation.message


def test_5_a_vote_by_a_recused_member_and_an_approval_without_quorum(world, member, member2, broken):  # noqa: F811
    application = world["application"]
    review_round = ReviewRound.objects.get(application=application)
    vote = Vote.objects.get(round=review_round, member=member)
    with broken():
        ConflictDeclaration.objects.create(round=review_round, member=member, reason="Co-author of the applicant.")
        violations = _found(5, f"vote #{vote.pk}", member.email, application.reference)
        assert any("recused" in v.message for v in violations)
    with broken():  # the committee's quorum is 2: one vote gone leaves the approval without it
        Vote.objects.filter(round=review_round, member=member2).delete()
        (violation,) = _found(5, f"round #{review_round.pk}", application.reference)
        assert "approved although the committee's rule did not allow it" in violation.message


def test_6_a_submitted_application_changed_and_a_signature_over_another_document(world, broken):
    application = world["application"]
    with broken():
        Application.objects.filter(pk=application.pk).update(title="A different project altogether")
        (violation,) = _found(6, application.reference)
        assert "differs from what was submitted" in violation.message and "Title" in violation.message
    with broken():
        signature = AgreementSignature.objects.filter(version__agreement__application=application).first()
        AgreementSignature.objects.filter(pk=signature.pk).update(shown_sha256="0" * 64)
        violations = _found(6, f"signature #{signature.pk}")
        assert any("over another document" in v.message for v in violations)


def test_6_an_application_withdrawn_while_returned_may_differ_from_its_submission(returned, alice):  # noqa: F811
    from access_requests.services import applications as svc
    from access_requests.services import transitions as tr

    svc.application_update(actor=alice, application=returned, data={"title": "Reworked after the RDO's comments"})
    tr.application_withdraw(actor=alice, application=returned, reason="The project was cancelled.")
    assert Application.objects.get(pk=returned.pk).status == "withdrawn"
    assert check([6]) == []


def test_7_an_applicants_document_registered_as_a_dataset_file(world, charlie, broken):
    application = world["application"]
    held = world["file"].dataset
    approval = EthicsApproval.objects.filter(application=application).first()
    with broken():
        leaked = DatasetFile.objects.create(
            dataset=held,
            path=f"{held.holder.storage_area}/ethics-copy.pdf",
            size_bytes=approval.document_size,
            sha256=approval.document_sha256,
        )
        (violation,) = _found(7, f"dataset file #{leaked.pk}", held.identifier)
        assert "content of an applicant's document" in violation.message
    with broken():
        escaped = DatasetFile.objects.create(
            dataset=held, path=f"{held.holder.storage_area}/../other-holder/x.dcm", size_bytes=1, sha256="a" * 64
        )
        (violation,) = _found(7, f"dataset file #{escaped.pk}")
        assert "outside its holder's storage area" in violation.message
    with broken():  # an object permission handed to someone outside the team
        from guardian.shortcuts import assign_perm

        assign_perm("access_requests.view_application", charlie, application)
        violations = _found(7, charlie.email, application.reference)
        assert any("object permission" in v.message for v in violations)


def test_8_someone_on_the_team_countersigns_for_a_data_holder(world, alice, broken):
    application = world["application"]
    signature = AgreementSignature.objects.get(
        version__agreement__application=application,
        party__kind=PartyKind.STEWARD,
        party__holder=world["file"].dataset.holder,
    )
    with broken():
        AgreementSignature.objects.filter(pk=signature.pk).update(user=alice)
        (violation,) = _found(8, f"signature #{signature.pk}", alice.email, application.reference)
        assert "countersigned for a data holder" in violation.message
    with broken():
        ReviewRound.objects.filter(application=application).update(decided_by=alice)
        violations = _found(8, alice.email, application.reference)
        assert any("team decided it" in v.message for v in violations)


def test_the_command_refuses_unknown_invariant_numbers():
    for bad in ("9", "x", ","):
        passed, output = _run_command("--only", bad)
        assert not passed and "invariant numbers 1 to 8" in output
