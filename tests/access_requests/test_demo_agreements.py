"""The demo's data-access agreements: one awaiting the Research Data Office's signature, one executed and
sealed, both signed through the signing service over the version's hash, and made only once."""

import hashlib
import io

from django.core.management import call_command

from access_requests.models import (
    Agreement,
    AgreementParty,
    AgreementSignature,
    AgreementStatus,
    AgreementVersion,
    ApplicationStatus,
    PartyKind,
)
from access_requests.services.agreements import awaited_parties
from access_requests.services.documents import document_absolute_path
from portal.models import AuditEvent, OutboxEmail
from portal.services.audit import audit_verify


def _signers(version) -> dict[str, str]:
    return {
        s.party.kind: s.user.email
        for s in AgreementSignature.objects.filter(version=version).select_related("party", "user")
        if s.counts
    }


def test_one_agreement_awaits_only_the_research_data_offices_signature(demo):
    agreement = demo["agreements"]["awaiting"]
    assert agreement.application == demo["reviews"]["partial"]
    assert agreement.status == AgreementStatus.AWAITING_SIGNATURES
    assert demo["reviews"]["partial"].status == ApplicationStatus.APPROVED
    version = agreement.current_version
    assert version.is_rendered and version.number == 1
    # the Valencia dataset was refused: its holder is no party
    assert [p.kind for p in version.parties.all()] == [PartyKind.SIGNATORY, PartyKind.STEWARD, PartyKind.RDO]
    assert [p.kind for p in awaited_parties(version)] == [PartyKind.RDO]
    assert _signers(version) == {
        PartyKind.SIGNATORY: "signatory@demo.example",
        PartyKind.STEWARD: "steward.riga@demo.example",
    }
    assert set(AgreementSignature.objects.filter(version=version).values_list("shown_sha256", flat=True)) == {
        version.sha256
    }


def test_one_agreement_is_executed_sealed_and_its_application_active(demo):
    agreement = demo["agreements"]["executed"]
    assert agreement.application == demo["reviews"]["approved"]
    assert agreement.status == AgreementStatus.EXECUTED
    assert demo["reviews"]["approved"].status == ApplicationStatus.ACTIVE
    version = agreement.current_version
    assert awaited_parties(version) == []
    assert _signers(version) == {
        PartyKind.SIGNATORY: "signatory@demo.example",
        PartyKind.STEWARD: "steward.riga@demo.example",
        PartyKind.RDO: "rdo@demo.example",
    }
    path = document_absolute_path(agreement.executed_path)
    assert path.is_file()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == agreement.executed_sha256
    printed = io.StringIO()
    call_command("verify_agreement", str(path), stdout=printed)  # raises CommandError on any failure
    assert "[FAIL]" not in printed.getvalue() and agreement.reference in printed.getvalue()


def test_loading_the_demo_again_signs_and_seals_nothing_more(demo, django_capture_on_commit_callbacks):
    from portal.demo import load_demo

    models = (Agreement, AgreementVersion, AgreementParty, AgreementSignature, AuditEvent, OutboxEmail)
    counts = [m.objects.count() for m in models]
    with django_capture_on_commit_callbacks(execute=True):
        again = load_demo()
    assert {k: a.pk for k, a in again["agreements"].items()} == {k: a.pk for k, a in demo["agreements"].items()}
    assert [m.objects.count() for m in models] == counts
    assert audit_verify().ok
