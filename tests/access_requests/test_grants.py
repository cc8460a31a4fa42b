"""Access grants issued at execution: one per approved dataset, of the kind its access mode allows,
for the team the agreement names, ending at the earliest of the agreement, the ethics approvals and
the dataset's own time limit; revocation and expiry end them at once."""

from access_requests.models import (
    ApplicationStatus,
    EntitlementEvent,
    Grant,
    GrantKind,
    GrantLimit,
)
from portal.models import AuditEvent
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
