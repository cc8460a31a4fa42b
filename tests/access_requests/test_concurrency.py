"""Two people acting on the same application at the same moment: the row lock leaves one consistent
outcome, and the audit chain records exactly what happened."""

import threading

import pytest
from django.db import connection

from access_requests.models import Application, ApplicationStatus, Submission
from access_requests.services import transitions as tr
from portal.errors import DomainError
from portal.models import AuditEvent
from portal.services.audit import audit_verify

# Real commits, so the threads see each other's locks. The data migrations load (vocabularies, role
# groups) are put back for each transactional test by tests/conftest.py's _reference_data.
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def race(*actions) -> list:
    """Run the actions in threads released together; each returns its result or the domain error it raised."""
    barrier = threading.Barrier(len(actions))
    results: list = [None] * len(actions)

    def run(index, action):
        try:
            barrier.wait(timeout=10)
            results[index] = action()
        except DomainError as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, action)) for i, action in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a transition never finished: a lock is held"
    return results


TRANSITION_VERBS = ["application.submit", "application.resubmit", "application.return", "application.withdraw"]


def _events(application) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(
            target_type="access_requests.application", target_id=str(application.pk), verb__in=TRANSITION_VERBS
        ).order_by("seq")
    )


def test_two_submissions_at_once_submit_once(ready, alice, rdo):
    results = race(
        lambda: tr.application_submit(actor=alice, application=ready),
        lambda: tr.application_submit(actor=alice, application=ready),
    )
    assert all(isinstance(r, Application) for r in results)  # the second returns quietly
    application = Application.objects.get(pk=ready.pk)
    assert (application.status, application.submission_count) == (ApplicationStatus.SUBMITTED, 1)
    assert Submission.objects.filter(application=application).count() == 1
    assert [e.verb for e in _events(application)] == ["application.submit"]
    assert audit_verify().ok


def test_a_submission_and_a_withdrawal_at_once_leave_one_consistent_story(ready, alice, rdo):
    submitted, withdrawn = race(
        lambda: tr.application_submit(actor=alice, application=ready),
        lambda: tr.application_withdraw(actor=alice, application=ready, reason="Changed plans."),
    )
    application = Application.objects.get(pk=ready.pk)
    assert isinstance(withdrawn, Application)
    assert application.status == ApplicationStatus.WITHDRAWN
    events = _events(application)
    if isinstance(submitted, Application):  # the submission won the lock: withdrawn after it
        assert [e.verb for e in events] == ["application.submit", "application.withdraw"]
        assert events[1].payload["from"] == ApplicationStatus.SUBMITTED
        assert application.submission_count == 1
    else:  # the withdrawal won: the submission was refused, and left nothing
        assert "Cannot submit" in submitted.message
        assert [e.verb for e in events] == ["application.withdraw"]
        assert events[0].payload["from"] == ApplicationStatus.DRAFT
        assert application.submission_count == 0
        assert not Submission.objects.filter(application=application).exists()
    assert audit_verify().ok


def test_a_return_and_a_withdrawal_at_once_leave_one_consistent_story(submitted, alice, rdo):
    returned, withdrawn = race(
        lambda: tr.application_return(actor=rdo, application=submitted, comments={"dpia": "Name the DPO."}),
        lambda: tr.application_withdraw(actor=alice, application=submitted, reason="Changed plans."),
    )
    application = Application.objects.get(pk=submitted.pk)
    assert isinstance(withdrawn, Application)
    assert application.status == ApplicationStatus.WITHDRAWN
    verbs = [e.verb for e in _events(application)]
    if isinstance(returned, Application):
        assert verbs == ["application.submit", "application.return", "application.withdraw"]
        assert application.return_comments.count() == 1
    else:
        assert "Cannot return" in returned.message
        assert verbs == ["application.submit", "application.withdraw"]
        assert not application.return_comments.exists()
    assert audit_verify().ok


def test_two_withdrawals_at_once_withdraw_once(submitted, alice):
    results = race(
        lambda: tr.application_withdraw(actor=alice, application=submitted, reason="One."),
        lambda: tr.application_withdraw(actor=alice, application=submitted, reason="Two."),
    )
    assert all(isinstance(r, Application) for r in results)
    assert [e.verb for e in _events(submitted)] == ["application.submit", "application.withdraw"]
