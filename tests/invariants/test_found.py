"""What the invariant checks found in the product, kept as plain regression tests.

`check_invariants` on the demo found an agreement awaiting signatures whose datasets' files had
changed after some parties signed, with those signatures still standing (invariant 6: a change to
anything an agreement covers voids its signatures). The applicant's own changes were followed
(`agreements_follow`), the catalogue's were not: a steward's rescan, file removal or description
change now revises every unexecuted agreement naming the dataset (catalogue/signals.py)."""

import pytest

from access_requests.invariants import check
from access_requests.models import Agreement, AgreementSignature, AgreementStatus, AgreementVersion
from access_requests.services import agreements as ag
from access_requests.services import applications as svc
from catalogue.services import dataset_file_remove, dataset_update
from tests.access_requests.conftest import (  # noqa: F401 (fixtures)
    _agreement_pdf_rendered_once,
    approved_with_agreement,
    dataset,
    download_files,
    member2,
    signatory_person,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_by_the_signatory(
    _agreement_pdf_rendered_once,  # noqa: F811
    alice,
    dataset,  # noqa: F811
    download_files,  # noqa: F811
    rdo,
    committee,
    chair,
    member,
    member2,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    """An approved application whose agreement's first version the institution's signatory has signed."""
    application = svc.application_create(actor=alice, title="Breast density and AI", datasets=[dataset])
    version = approved_with_agreement(
        application,
        applicant=alice,
        rdo=rdo,
        committee=committee,
        chair=chair,
        voters=[member, member2],
        capture=django_capture_on_commit_callbacks,
    )
    signatory = signatory_person()
    ag.agreement_sign(
        actor=signatory,
        version=version,
        typed_name=signatory.full_name,
        ip="192.0.2.10",
        user_agent="pytest",
        shown_sha256=version.sha256,
    )
    assert check([6]) == []
    return version.agreement


def _signatures_voided(agreement: Agreement) -> None:
    agreement.refresh_from_db()
    assert agreement.status != AgreementStatus.EXECUTED
    first, second = AgreementVersion.objects.filter(agreement=agreement).order_by("number")
    assert first.superseded_at is not None and second.superseded_at is None
    assert not AgreementSignature.objects.filter(version__agreement=agreement, voided_at__isnull=True).exists()
    assert check([6]) == []


def test_a_file_removed_from_a_dataset_voids_the_signatures_on_an_agreement_naming_it(
    signed_by_the_signatory,
    steward,
    download_files,  # noqa: F811
):
    file = download_files[0]
    dataset_file_remove(actor=steward, dataset=file.dataset, path=file.path, reason="Registered by mistake.")
    _signatures_voided(signed_by_the_signatory)


def test_a_changed_dataset_description_voids_the_signatures_on_an_agreement_naming_it(
    signed_by_the_signatory,
    steward,
    dataset,  # noqa: F811
):
    dataset_update(actor=steward, dataset=dataset, data={"title": "Mammography screening, second edition"})
    _signatures_voided(signed_by_the_signatory)


def test_a_change_the_agreement_does_not_cover_leaves_its_signatures(signed_by_the_signatory, steward, dataset):  # noqa: F811
    dataset_update(actor=steward, dataset=dataset, data={"description": "Anonymised images, described anew."})
    agreement = signed_by_the_signatory
    assert AgreementVersion.objects.filter(agreement=agreement).count() == 1
    assert AgreementSignature.objects.filter(version__agreement=agreement, voided_at__isnull=True).count() == 1
