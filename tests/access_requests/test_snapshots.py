"""The submission snapshot reads prefetched rows when its caller prefetched them, and is the same either way."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from access_requests.models import Application, Submission
from access_requests.services.snapshots import (
    SNAPSHOT_RELATED,
    application_snapshot,
    snapshot_prefetch,
    snapshot_rows_load,
)

pytestmark = pytest.mark.django_db


def test_a_prefetched_snapshot_asks_nothing_and_is_the_submitted_one(ready, alice):
    from access_requests.services import applications as svc
    from access_requests.services.transitions import application_submit

    # an invited member too, so the team has more than one row to keep in order
    svc.team_member_add(actor=alice, application=ready, email="carol@uni.example", role="Researcher")
    application_submit(actor=alice, application=ready)
    plain = application_snapshot(Application.objects.get(pk=ready.pk))
    [many] = (
        Application.objects.filter(pk=ready.pk).select_related(*SNAPSHOT_RELATED).prefetch_related(*snapshot_prefetch())
    )
    with CaptureQueriesContext(connection) as queries:
        prefetched = application_snapshot(many)
    assert [q["sql"] for q in queries] == []
    [loaded] = Application.objects.filter(pk=ready.pk).select_related(*SNAPSHOT_RELATED)
    snapshot_rows_load([loaded])
    with CaptureQueriesContext(connection) as queries:
        from_loaded = application_snapshot(loaded)
    assert [q["sql"] for q in queries] == []
    assert json.dumps(from_loaded, default=str) == json.dumps(plain, default=str)
    # the same, keys in the same order
    assert json.dumps(prefetched, default=str) == json.dumps(plain, default=str)
    assert len(plain["team"]) == 2
    assert len([k for k in plain["representations"] if k.startswith("Statement")]) == 6
    assert Submission.objects.get(application=ready).snapshot == json.loads(json.dumps(plain, default=str))
