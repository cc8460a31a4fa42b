"""The main path through the services: draft, submit, return, resubmit, forward."""

from access_requests.models import ApplicationStatus, Section
from access_requests.services.checks import application_check
from access_requests.services.transitions import (
    application_forward,
    application_resubmit_changes,
    application_return,
    application_submit,
    rdo_checklist_update,
)
from portal.services.audit import audit_verify
from tests.access_requests.conftest import complete  # noqa: F401


def test_the_main_path_through_the_services(ready, alice, rdo, committee, chair):
    assert application_check(ready) == []
    application_submit(actor=alice, application=ready)
    assert ready.__class__.objects.get(pk=ready.pk).status == ApplicationStatus.SUBMITTED
    application_return(actor=rdo, application=ready, comments={Section.DPIA: "Name the DPO's office."})
    from access_requests.services.applications import dpia_update

    dpia_update(actor=alice, application=ready, data={"dpo_name": "Dana Protection, DPO office"})
    application_submit(actor=alice, application=ready)
    changes = application_resubmit_changes(ready)
    assert [(c.section, c.field) for c in changes] == [(Section.DPIA, "DPO consulted")]
    rdo_checklist_update(
        actor=rdo,
        application=ready,
        data={"ethics_verified": True, "dpia_reviewed": True, "representations_checked": True},
    )
    application_forward(actor=rdo, application=ready, committee=committee)
    ready.refresh_from_db()
    assert ready.status == ApplicationStatus.IN_REVIEW
    assert audit_verify().ok
