"""Demo data-access agreements, for two of the applications the committee approved in
access_requests/demo_review.py, made only through the agreement services:

- "executed": the agreement of "Early signs of cancer on prior screening images", signed by the
  University of Latvia's signatory, the Riga steward and the Research Data Office, then executed and
  sealed with the portal's certificate: the application is active;
- "awaiting": the agreement of "Cancer imaging across two national screening programmes" (approved
  for the Riga dataset only, so Valencia is no party), signed by the signatory and the Riga steward
  and awaiting the Research Data Office's signature.

Each party signs with `agreement_sign` over the SHA-256 the rendered version records, as the signing
page does. The agreement itself is created and rendered by the tasks the approval queued (eager in the
demo); the steps below call the same services, which return what is already there, so the result does
not depend on when those tasks ran.

Idempotent like demo_review.py: the signatures are made only while the agreement has none, so a
second load signs nothing and writes no audit event.
"""

from access_requests.models import (
    Agreement,
    AgreementSignature,
    AgreementStatus,
    Application,
    ApplicationStatus,
    PartyKind,
)
from access_requests.services import agreements as ag

# key: (the committee scenario of access_requests/demo_review.py, the kinds of party that sign)
PLAN = {
    "executed": ("approved", (PartyKind.SIGNATORY, PartyKind.STEWARD, PartyKind.RDO)),
    "awaiting": ("partial", (PartyKind.SIGNATORY, PartyKind.STEWARD)),
}

# Who signs for the institution and for the infrastructure (demo people, portal/demo.py); a data
# holder's steward is the one portal/demo.py HOLDERS names for it.
SIGNERS = {PartyKind.SIGNATORY: "signatory", PartyKind.RDO: "rdo"}
USER_AGENT = "Demo data (signed by the demo loader)"


def _signer(party, people: dict):
    from portal.demo import HOLDERS

    if party.kind == PartyKind.STEWARD:
        stewards = {spec["slug"]: spec["steward"] for spec in HOLDERS}
        return people[stewards[party.holder.slug]]
    return people[SIGNERS[party.kind]]


def _rendered(application: Application):
    """The application's agreement with its current version rendered (created if the task has not run)."""
    agreement = ag.agreement_create(actor=ag.SYSTEM, application=application)
    version = agreement.current_version
    if version is not None and not version.is_rendered:
        version = ag.agreement_version_render(version_id=version.pk)
    return Agreement.objects.get(pk=agreement.pk), version


def _sign(agreement: Agreement, version, kinds: tuple, people: dict) -> None:
    for party in version.parties.select_related("holder").order_by("position"):
        if party.kind not in kinds:
            continue
        signer = _signer(party, people)
        ag.agreement_sign(
            actor=signer,
            version=version,
            party=party,
            typed_name=signer.full_name,
            ip=None,
            user_agent=USER_AGENT,
            shown_sha256=version.sha256,
        )
    # The last signature queued the execution; run it here too (it does nothing twice), so that the
    # sealed agreement exists when this step returns whenever the queued task runs.
    ag.agreement_execute(agreement_id=agreement.pk)


def load_agreements(*, people: dict, reviews: dict) -> dict[str, Agreement]:
    """The demo agreements by key; a scenario whose application is missing or no longer approved and
    without an agreement is skipped."""
    result = {}
    for key, (scenario, kinds) in PLAN.items():
        application = reviews.get(scenario)
        if application is None:
            continue
        application = Application.objects.get(pk=application.pk)
        existing = Agreement.objects.filter(application=application).exclude(status=AgreementStatus.VOIDED).first()
        if existing is not None and AgreementSignature.objects.filter(version__agreement=existing).exists():
            result[key] = existing  # told already (or signed since, in the browser)
            continue
        if existing is None and application.status != ApplicationStatus.APPROVED:
            continue
        agreement, version = _rendered(application)
        if agreement.status == AgreementStatus.AWAITING_SIGNATURES and version is not None and version.is_rendered:
            _sign(agreement, version, kinds, people)
        result[key] = Agreement.objects.get(pk=agreement.pk)
    return result
