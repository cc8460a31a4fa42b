"""A real transition takes the audit chain's head lock last: after it, only the audit writes, then COMMIT."""

import pytest
from django.db import connection

from access_requests.models import ApplicationStatus
from access_requests.services import transitions as tr
from portal.models import AuditEvent
from portal.services.audit import audit_verify

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_submit_locks_the_chain_head_only_for_the_audit_writes_before_commit(ready, alice):
    from psycopg.pq import TransactionStatus

    transactions: list[list[str]] = []  # the statements of each transaction, in order

    def spy(execute, sql, params, many, context):
        starts = connection.get_autocommit() or connection.connection.info.transaction_status == TransactionStatus.IDLE
        if starts:
            transactions.append([])
        transactions[-1].append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(spy):
        application = tr.application_submit(actor=alice, application=ready)
    assert application.status == ApplicationStatus.SUBMITTED
    assert connection.get_autocommit() and not connection.in_atomic_block  # committed before it returned

    (in_transaction,) = [statements for statements in transactions if any("portal_auditevent" in s for s in statements)]
    (lock,) = [i for i, sql in enumerate(in_transaction) if "portal_auditchainhead" in sql and "FOR UPDATE" in sql]
    after_lock = in_transaction[lock + 1 :]
    assert [" ".join(sql.replace(" INTO ", " ").split()[:2]) for sql in after_lock] == [
        'INSERT "portal_auditevent"',
        'UPDATE "portal_auditchainhead"',
    ], after_lock
    before_lock = " ".join(in_transaction[:lock])
    assert 'INSERT INTO "portal_outboxemail"' in before_lock  # the e-mails were rendered before, not under it
    assert 'UPDATE "access_requests_application"' in before_lock
    event = AuditEvent.objects.get(verb="application.submit", target_id=str(ready.pk))
    assert event.payload["status"] == ApplicationStatus.SUBMITTED
    assert audit_verify().ok
