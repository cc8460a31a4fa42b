"""Concurrent writers keep the chain gapless (the head row serialises them)."""

import threading

import pytest
from django.db import connection

from portal.models import AuditEvent
from portal.services.audit import audit_record, audit_verify

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_parallel_writers_produce_one_unbroken_chain(alice):
    errors = []

    def write(n):
        try:
            for i in range(10):
                audit_record(actor=alice, verb="test.parallel", payload={"thread": n, "i": i})
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert AuditEvent.objects.filter(verb="test.parallel").count() == 40
    report = audit_verify()
    assert report.ok, report.reason
