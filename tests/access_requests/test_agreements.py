"""Data-access agreements: created from the approval, signed by every party over one document hash,
voided by a change, executed and sealed; `verify_agreement` tells a sealed file from a tampered one."""

import hashlib
import io
import subprocess

import pytest
from django.core.management import CommandError, call_command

from access_requests.models import (
    Agreement,
    AgreementSignature,
    AgreementStatus,
    AgreementVersion,
    ApplicationStatus,
    PartyKind,
)
from access_requests.services import agreements as ag
from access_requests.services import review as rv
from access_requests.services.documents import document_absolute_path
from catalogue.models import DatasetFile
from portal.errors import InvalidInput, NotPermitted, TransitionError
from portal.models import AuditEvent, OutboxEmail
from portal.services.audit import audit_verify
from tests.access_requests.conftest import pdf_upload, signatory_person
from tests.conftest import _person
from tests.helpers import last_event

CONDITIONS = "Publish the model weights openly and cite the data holders."


@pytest.fixture
def seal(agreement_seal_folder):
    """The development seal tests/conftest.py configures for every test."""
    return agreement_seal_folder


@pytest.fixture
def files(dataset):
    return [
        DatasetFile.objects.create(
            dataset=dataset,
            path=f"riga-test/mg/case-{n:03}.dcm",
            size_bytes=1000 + n,
            sha256=hashlib.sha256(str(n).encode()).hexdigest(),
        )
        for n in range(3)
    ]


@pytest.fixture
def signatory(in_review):
    return signatory_person()


def approve(application, chair, member, member2, capture):
    review_round = rv.current_round(application)
    rv.vote_cast(actor=member, review_round=review_round, choice="approve")
    rv.vote_cast(actor=member2, review_round=review_round, choice="approve")
    with capture(execute=True):  # the agreement is created and rendered after the approval commits
        rv.round_decide(
            actor=chair, application=application, outcome="approved", rationale="Sound.", conditions=CONDITIONS
        )
    return Agreement.objects.get(application=application)


@pytest.fixture
def agreement(
    in_review, files, round1, chair, member, member2, steward, rdo, signatory, django_capture_on_commit_callbacks
):
    return approve(in_review, chair, member, member2, django_capture_on_commit_callbacks)


def current(agreement) -> AgreementVersion:
    return AgreementVersion.objects.get(agreement=agreement, superseded_at__isnull=True)


def sign(person, version, *, sha=None, name=None):
    return ag.agreement_sign(
        actor=person,
        version=version,
        typed_name=name or person.full_name,
        ip="192.0.2.10",
        user_agent="pytest browser",
        shown_sha256=sha or version.sha256,
    )


def sign_all(agreement, signatory, steward, rdo, capture):
    version = current(agreement)
    sign(signatory, version)
    sign(steward, version)
    with capture(execute=True):  # the last signature executes the agreement after its commit
        sign(rdo, version)
    return Agreement.objects.get(pk=agreement.pk)


def pdf_text(content: bytes) -> str:
    result = subprocess.run(["pdftotext", "-layout", "-", "-"], input=content, capture_output=True, check=True)  # noqa: S603, S607
    return " ".join(result.stdout.decode().split())


# --- creation and rendering ----------------------------------------------------------------------


def test_an_approval_creates_the_agreement_renders_it_and_asks_each_party_to_sign(agreement, in_review, steward, rdo):
    version = current(agreement)
    assert agreement.status == AgreementStatus.AWAITING_SIGNATURES
    assert agreement.reference == f"DAA-{in_review.reference}"
    assert (version.number, version.template_version) == (1, ag.AGREEMENT_TEMPLATE_VERSION)
    content = document_absolute_path(version.path).read_bytes()
    assert hashlib.sha256(content).hexdigest() == version.sha256 and len(content) == version.size
    parties = [(p.kind, p.name) for p in version.parties.all()]
    assert parties == [
        (PartyKind.SIGNATORY, "University of Latvia"),
        (PartyKind.STEWARD, "Riga Test Hospital"),
        (PartyKind.RDO, parties[2][1]),
    ]
    to_sign = OutboxEmail.objects.filter(template="agreement_to_sign")
    assert {address for message in to_sign for address in message.to} == {
        "signer@uni.example",
        steward.email,
        rdo.email,
    }
    text = pdf_text(content)
    assert "LV-MG-001" in text and CONDITIONS in text and "case-000.dcm" in text
    assert f"{agreement.reference} · version 1" in text and "Page 1 of" in text
    assert [e.verb for e in AuditEvent.objects.filter(verb__startswith="agreement.").order_by("seq")] == [
        "agreement.create",
        "agreement.render",
    ]


def test_rendering_twice_stores_one_pdf_and_asks_once(agreement):
    version = current(agreement)
    mails = OutboxEmail.objects.count()
    again = ag.agreement_version_render(version_id=version.pk)
    assert (again.sha256, again.path) == (version.sha256, version.path)
    assert OutboxEmail.objects.count() == mails
    assert AuditEvent.objects.filter(verb="agreement.render").count() == 1


def test_creating_twice_for_one_approval_keeps_one_agreement(agreement, in_review):
    assert ag.agreement_create(actor=ag.SYSTEM, application=in_review) == agreement
    assert Agreement.objects.filter(application=in_review).count() == 1


def test_a_large_dataset_annex_is_capped_but_its_manifest_digest_covers_every_file(agreement, dataset, settings):
    from access_requests.services import agreement_snapshots as snapshots

    snapshots.ANNEX_FILES_PER_DATASET, limit = 2, snapshots.ANNEX_FILES_PER_DATASET
    try:
        entry = snapshots._manifest(dataset)
    finally:
        snapshots.ANNEX_FILES_PER_DATASET = limit
    lines = "".join(
        f"{sha}  {path}\n" for path, sha in DatasetFile.objects.filter(dataset=dataset).values_list("path", "sha256")
    )
    assert (entry["files"], len(entry["manifest"]), entry["manifest_truncated"]) == (3, 2, True)
    assert entry["manifest_sha256"] == hashlib.sha256(lines.encode()).hexdigest()


# --- signing -------------------------------------------------------------------------------------


def test_a_party_signs_over_the_hash_it_was_shown(agreement, steward):
    version = current(agreement)
    signature = sign(steward, version)
    assert (signature.party.kind, signature.user, signature.shown_sha256) == (
        PartyKind.STEWARD,
        steward,
        version.sha256,
    )
    assert (signature.ip, signature.user_agent, signature.typed_name) == (
        "192.0.2.10",
        "pytest browser",
        steward.full_name,
    )
    event = last_event()
    assert (event.verb, event.actor, event.payload["sha256"]) == ("agreement.sign", steward, version.sha256)
    assert [p.kind for p in ag.awaited_parties(version)] == [PartyKind.SIGNATORY, PartyKind.RDO]


def test_it_refuses_a_hash_other_than_the_versions_and_records_nothing(agreement, steward):
    version = current(agreement)
    with pytest.raises(InvalidInput) as refused:
        sign(steward, version, sha="0" * 64)
    assert "shown_sha256" in refused.value.fields
    assert not AgreementSignature.objects.exists()


def test_it_refuses_a_typed_name_other_than_the_signers(agreement, steward):
    with pytest.raises(InvalidInput) as refused:
        sign(steward, current(agreement), name="Someone Else")
    assert "typed_name" in refused.value.fields


def test_it_refuses_a_party_signing_twice(agreement, steward):
    version = current(agreement)
    sign(steward, version)
    with pytest.raises(TransitionError, match="already signed"):
        sign(steward, version)
    assert AgreementSignature.objects.filter(version=version).count() == 1


@pytest.mark.parametrize("who", ["alice", "charlie", "member", "chair", "other_steward"])
def test_it_refuses_a_person_not_entitled_to_sign_for_any_party(agreement, who, request):
    person = request.getfixturevalue(who)
    with pytest.raises(NotPermitted, match="not entitled"):
        sign(person, current(agreement))
    assert not AgreementSignature.objects.exists()


def test_a_steward_on_the_team_may_not_sign_for_the_holder(agreement, in_review, steward, alice):
    from access_requests.models import TeamMember

    TeamMember.objects.create(application=in_review, user=steward, email=steward.email, joined_at=in_review.created_at)
    with pytest.raises(NotPermitted):
        sign(steward, current(agreement))


def test_a_superseded_version_is_refused(agreement, steward, rdo, django_capture_on_commit_callbacks):
    first = current(agreement)
    with django_capture_on_commit_callbacks(execute=True):  # the new version renders after the commit
        ag.agreement_revise(actor=rdo, agreement=agreement, reason="The access period was corrected.")
    with pytest.raises(TransitionError, match="superseded"):
        sign(steward, first)
    second = current(agreement)
    assert second.number == 2 and second.is_rendered
    assert sign(steward, second).version == second


def test_a_change_voids_the_signatures_and_tells_each_signer_why(
    agreement, in_review, steward, signatory, rdo, django_capture_on_commit_callbacks
):
    from access_requests.models import Application

    first = current(agreement)
    sign(steward, first)
    sign(signatory, first)
    Application.objects.filter(pk=in_review.pk).update(access_months=6)  # what the agreement covers changed
    with django_capture_on_commit_callbacks(execute=True):
        second = ag.agreement_revise(actor=rdo, agreement=agreement, reason="The team asked for six months only.")
    second.refresh_from_db()
    assert AgreementSignature.objects.filter(version=first, voided_at__isnull=False).count() == 2
    assert not any(s.counts for s in AgreementSignature.objects.filter(version=first))
    assert second.snapshot["period"]["months"] == 6 and second.is_rendered and second.sha256 != first.sha256
    event = last_event("agreement.revise")
    assert event.payload["changes"] == ["the access period"]
    assert sorted(event.payload["signatures_voided"]) == ["Riga Test Hospital", "University of Latvia"]
    told = OutboxEmail.objects.get(template="agreement_signatures_voided")
    assert sorted(told.to) == sorted([steward.email, signatory.email])
    assert "six months only" in told.body_text and "the access period" in told.body_text
    assert [p.kind for p in ag.awaited_parties(second)] == [PartyKind.SIGNATORY, PartyKind.STEWARD, PartyKind.RDO]


@pytest.fixture
def invited(ready, alice):
    """An invitation sent while the application was a draft, still open when the approval comes."""
    from access_requests.services import applications as svc

    person = _person("late@university.example", "Lena Late", ["researcher"])
    return person, svc.team_member_add(actor=alice, application=ready, email=person.email)


def test_a_member_joining_after_the_approval_makes_a_new_version_and_voids_the_signatures(
    invited, agreement, steward, django_capture_on_commit_callbacks
):
    from access_requests.services import applications as svc

    person, invitation = invited
    version = current(agreement)
    sign(steward, version)
    with django_capture_on_commit_callbacks(execute=True):
        svc.team_invitation_accept(actor=person, member=invitation)
    revised = current(agreement)
    assert revised.number == 2 and revised.reason == "Lena Late joined the team after the approval."
    assert "Lena Late" in str(revised.snapshot) and "Lena Late" not in str(version.snapshot)
    assert AgreementSignature.objects.get(version=version).voided_at is not None
    event = AuditEvent.objects.filter(verb="agreement.revise").latest("pk")
    assert event.actor == person and event.payload["version"] == 2
    assert OutboxEmail.objects.filter(template="agreement_signatures_voided", to__contains=[steward.email]).exists()


def test_only_the_rdo_revises_and_never_after_execution(
    agreement, steward, signatory, rdo, django_capture_on_commit_callbacks
):
    with pytest.raises(NotPermitted):
        ag.agreement_revise(actor=steward, agreement=agreement, reason="Mine.")
    agreement = sign_all(agreement, signatory, steward, rdo, django_capture_on_commit_callbacks)
    with pytest.raises(TransitionError, match="executed"):
        ag.agreement_revise(actor=rdo, agreement=agreement, reason="Too late.")


# --- the paper route ------------------------------------------------------------------------------


def test_a_scan_counts_once_the_rdo_verified_it(agreement, signatory, steward, rdo, django_capture_on_commit_callbacks):
    version = current(agreement)
    scan = ag.agreement_scan_upload(actor=steward, version=version, upload=pdf_upload("countersigned.pdf"))
    assert not scan.counts and PartyKind.STEWARD in [p.kind for p in ag.awaited_parties(version)]
    assert OutboxEmail.objects.filter(template="agreement_scan_uploaded", to__contains=[rdo.email]).exists()
    with pytest.raises(NotPermitted):
        ag.agreement_scan_verify(actor=steward, signature=scan)
    sign(signatory, version)
    with django_capture_on_commit_callbacks(execute=True):
        sign(rdo, version)
    assert Agreement.objects.get(pk=agreement.pk).status == AgreementStatus.AWAITING_SIGNATURES  # the scan waits
    other_rdo = _rdo_colleague()
    with django_capture_on_commit_callbacks(execute=True):
        verified = ag.agreement_scan_verify(actor=other_rdo, signature=scan)
    assert verified.counts and verified.verified_by == other_rdo
    event = AuditEvent.objects.get(verb="agreement.scan_verify")
    assert (event.actor, event.payload["scan_sha256"]) == (other_rdo, scan.scan_sha256)
    assert Agreement.objects.get(pk=agreement.pk).status == AgreementStatus.EXECUTED


def _rdo_colleague():
    from tests.conftest import _person

    return _person("rdo2@portal.example", "Rob Office", ["rdo"])


def test_the_uploader_of_a_scan_does_not_verify_it(agreement, rdo):
    scan = ag.agreement_scan_upload(actor=rdo, version=current(agreement), upload=pdf_upload())
    with pytest.raises(TransitionError, match="Someone other"):
        ag.agreement_scan_verify(actor=rdo, signature=scan)


# --- execution, seal, verification ----------------------------------------------------------------


def test_the_last_signature_executes_seals_and_activates_the_application(
    agreement, in_review, signatory, steward, rdo, django_capture_on_commit_callbacks
):
    agreement = sign_all(agreement, signatory, steward, rdo, django_capture_on_commit_callbacks)
    assert agreement.status == AgreementStatus.EXECUTED and agreement.executed_at is not None
    in_review.refresh_from_db()
    assert in_review.status == ApplicationStatus.ACTIVE
    content = document_absolute_path(agreement.executed_path).read_bytes()
    assert hashlib.sha256(content).hexdigest() == agreement.executed_sha256
    text = pdf_text(content)
    version = current(agreement)
    for expected in (
        "University of Latvia",
        "Riga Test Hospital",
        "Research Data Office",
        "LV-MG-001",
        CONDITIONS,
        "Signature certificate",
        signatory.full_name,
        steward.full_name,
        rdo.full_name,
    ):
        assert expected in text, expected
    assert "".join(text.split()).count(version.sha256) == 4  # the version's hash, and each signature's
    verbs = [e.verb for e in AuditEvent.objects.filter(verb__in=["agreement.execute", "application.activate"])]
    assert verbs == ["agreement.execute", "application.activate"]
    assert OutboxEmail.objects.filter(template="agreement_executed").exists()
    assert audit_verify().ok


def test_pyhankos_validator_accepts_the_seal(
    agreement, signatory, steward, rdo, seal, django_capture_on_commit_callbacks
):
    from pyhanko.keys import load_cert_from_pemder
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    agreement = sign_all(agreement, signatory, steward, rdo, django_capture_on_commit_callbacks)
    content = document_absolute_path(agreement.executed_path).read_bytes()
    (signature,) = PdfFileReader(io.BytesIO(content)).embedded_signatures
    context = ValidationContext(trust_roots=[load_cert_from_pemder(str(seal / "ca-cert.pem"))], allow_fetching=False)
    status = validate_pdf_signature(signature, context)
    assert status.bottom_line and status.intact and status.valid and status.trusted
    assert status.docmdp_ok


def test_executing_twice_seals_once(agreement, signatory, steward, rdo, django_capture_on_commit_callbacks):
    agreement = sign_all(agreement, signatory, steward, rdo, django_capture_on_commit_callbacks)
    again = ag.agreement_execute(agreement_id=agreement.pk)
    assert again.executed_sha256 == agreement.executed_sha256
    assert AuditEvent.objects.filter(verb="agreement.execute").count() == 1


def test_no_signature_is_taken_after_execution(agreement, signatory, steward, rdo, django_capture_on_commit_callbacks):
    agreement = sign_all(agreement, signatory, steward, rdo, django_capture_on_commit_callbacks)
    with pytest.raises(TransitionError, match="already executed"):
        sign(_rdo_colleague(), current(agreement))


@pytest.fixture
def executed_file(agreement, signatory, steward, rdo, tmp_path, django_capture_on_commit_callbacks):
    agreement = sign_all(agreement, signatory, steward, rdo, django_capture_on_commit_callbacks)
    target = tmp_path / "executed.pdf"
    target.write_bytes(document_absolute_path(agreement.executed_path).read_bytes())
    return target


def test_verify_agreement_accepts_the_executed_pdf(executed_file, agreement):
    out = io.StringIO()
    call_command("verify_agreement", str(executed_file), stdout=out)
    printed = out.getvalue()
    assert f"is the executed agreement {agreement.reference}" in printed
    assert "[FAIL]" not in printed and "No modification after the seal" in printed


def test_one_changed_byte_makes_verify_agreement_fail_clearly(executed_file):
    content = bytearray(executed_file.read_bytes())
    content[len(content) // 2] ^= 0x01
    executed_file.write_bytes(bytes(content))
    out = io.StringIO()
    with pytest.raises(CommandError, match="does not carry the portal's intact seal"):
        call_command("verify_agreement", str(executed_file), stdout=out)
    assert "[FAIL] The file is an executed agreement on record" in out.getvalue()


def test_a_sealed_file_unknown_to_the_portal_fails(executed_file, tmp_path):
    from access_requests.sealing import seal_pdf
    from access_requests.services.generated import pdf_render

    other = tmp_path / "other.pdf"
    other.write_bytes(seal_pdf(pdf_render("access_requests/agreements/agreement_1.css", {}), reason="Not on record"))
    with pytest.raises(CommandError, match="matches no executed agreement on record"):
        call_command("verify_agreement", str(other), stdout=io.StringIO())


def test_an_unsealed_file_fails(db, tmp_path):
    from tests.access_requests.conftest import pdf_bytes

    plain = tmp_path / "plain.pdf"
    plain.write_bytes(pdf_bytes())
    with pytest.raises(CommandError, match="intact seal"):
        call_command("verify_agreement", str(plain), stdout=io.StringIO())


def test_the_dev_certificate_command_refuses_to_overwrite(seal):  # noqa: ARG001 - the configured seal exists
    with pytest.raises(CommandError, match="already exists"):
        call_command("agreement_dev_certificate", stdout=io.StringIO())


# --- at the same moment, on PostgreSQL ----------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_party_signing_twice_at_once_leaves_one_signature(agreement, steward):
    from tests.access_requests.test_concurrency import race

    version = current(agreement)
    results = race(lambda: sign(steward, version), lambda: sign(steward, version))
    assert sorted(type(result).__name__ for result in results) == ["AgreementSignature", "TransitionError"]
    assert AgreementSignature.objects.filter(version=version).count() == 1
    assert AuditEvent.objects.filter(verb="agreement.sign").count() == 1
    assert audit_verify().ok


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_last_two_parties_signing_at_once_execute_the_agreement_once(agreement, in_review, signatory, steward, rdo):
    from tests.access_requests.test_concurrency import race

    version = current(agreement)
    sign(signatory, version)
    results = race(lambda: sign(steward, version), lambda: sign(rdo, version))
    assert all(isinstance(result, AgreementSignature) for result in results)
    agreement.refresh_from_db()
    in_review.refresh_from_db()
    assert (agreement.status, in_review.status) == (AgreementStatus.EXECUTED, ApplicationStatus.ACTIVE)
    assert AuditEvent.objects.filter(verb="agreement.execute").count() == 1
    assert audit_verify().ok


def test_a_withdrawal_after_approval_voids_the_agreement_and_takes_no_more_signatures(
    agreement, in_review, alice, steward
):
    from access_requests.services.transitions import application_withdraw

    application_withdraw(actor=alice, application=in_review, reason="The project ended.")
    agreement.refresh_from_db()
    assert (agreement.status, agreement.void_reason) == (
        AgreementStatus.VOIDED,
        "The applicant withdrew the application.",
    )
    assert last_event("agreement.void").actor == alice
    with pytest.raises(TransitionError, match="voided"):
        sign(steward, current(agreement))


def test_the_sweep_creates_and_renders_what_a_lost_dispatch_left_out(
    in_review, files, round1, chair, member, member2, steward, rdo, signatory
):
    from datetime import timedelta

    from django.utils import timezone

    rv.vote_cast(actor=member, review_round=round1, choice="approve")
    rv.vote_cast(actor=member2, review_round=round1, choice="approve")
    rv.round_decide(actor=chair, application=in_review, outcome="approved", rationale="Sound.")  # no commit here
    assert not Agreement.objects.exists()
    later = timezone.now() + timedelta(minutes=10)
    # created, then its version (whose own dispatch waits for a commit that never comes) rendered
    assert ag.agreements_sweep(now=later) == {"created": 1, "rendered": 1, "executed": 0}
    agreement = Agreement.objects.get(application=in_review)
    assert agreement.status == AgreementStatus.AWAITING_SIGNATURES and current(agreement).is_rendered
    assert ag.agreements_sweep(now=later) == {"created": 0, "rendered": 0, "executed": 0}


def test_an_overdue_agreement_is_flagged_to_the_rdo_and_the_awaited_parties_reminded_once(
    agreement, steward, signatory, rdo, settings
):
    from datetime import timedelta

    from django.utils import timezone

    sign(steward, current(agreement))
    assert ag.agreements_overdue_notify() == 0  # not overdue yet
    later = timezone.now() + timedelta(days=settings.AGREEMENT_EXECUTION_DAYS + 1)
    assert ag.agreements_overdue_notify(now=later) == 1
    assert ag.agreements_overdue_notify(now=later) == 0  # once
    flagged = OutboxEmail.objects.get(template="agreement_overdue_staff")
    assert rdo.email in flagged.to and "University of Latvia" in flagged.body_text
    reminders = OutboxEmail.objects.filter(template="agreement_to_sign", subject__startswith="Reminder")
    assert {address for message in reminders for address in message.to} == {signatory.email, rdo.email}
    assert last_event("agreement.overdue").payload["awaited"] == [
        "University of Latvia",
        current(agreement).parties.get(kind=PartyKind.RDO).name,
    ]


def test_a_version_re_renders_as_it_was_signed(agreement, in_review):
    from access_requests.models import Application

    version = current(agreement)
    Application.objects.filter(pk=in_review.pk).update(title="A different title now")  # the snapshot holds
    again = ag.version_render_bytes(version)
    original = document_absolute_path(version.path).read_bytes()
    assert pdf_text(again) == pdf_text(original)
    assert "A different title now" not in pdf_text(again)


def test_development_creates_its_seal_on_first_use_and_production_never(settings, tmp_path):
    from access_requests.sealing import SealUnavailable, seal_dev_ensure, seal_pdf
    from tests.access_requests.conftest import pdf_bytes

    folder = tmp_path / "fresh-seal"
    settings.AGREEMENT_SEAL_DIR = folder
    settings.AGREEMENT_SEAL_KEY = str(folder / "seal-key.pem")
    settings.AGREEMENT_SEAL_CERT = str(folder / "seal-cert.pem")
    settings.AGREEMENT_SEAL_TRUST_ROOTS = str(folder / "ca-cert.pem")
    settings.DEBUG, settings.DEMO = False, False
    with pytest.raises(SealUnavailable, match="cannot be read"):
        seal_pdf(pdf_bytes(), reason="Production without a key")
    assert not folder.exists()
    settings.DEBUG = True
    assert seal_pdf(pdf_bytes(), reason="Development").startswith(b"%PDF")
    assert (folder / "seal-cert.pem").exists() and not seal_dev_ensure()


def test_the_application_page_shows_who_signed_and_who_is_awaited(agreement, in_review, steward, alice, client):
    from tests.conftest import PASSWORD

    sign(steward, current(agreement))
    client.login(email=alice.email, password=PASSWORD)
    response = client.get(f"/applications/{in_review.pk}/")
    assert response.status_code == 200
    body = " ".join(response.content.decode().split())
    assert agreement.reference in body and current(agreement).sha256 in body
    assert f"signed by {steward.full_name}" in body
    assert "<strong>University of Latvia</strong> (Dr. Vera Signer, Vice-rector for research): awaited" in body


def test_sealing_and_checking_work_while_this_thread_runs_an_event_loop(db):
    """A test session driving a browser (or an async server) runs an event loop in the thread that seals."""
    import asyncio

    from access_requests.sealing import seal_check, seal_pdf
    from tests.access_requests.conftest import pdf_bytes

    async def inside_a_loop():
        return seal_check(seal_pdf(pdf_bytes(), reason="Inside a loop"))

    assert asyncio.run(inside_a_loop()).ok
