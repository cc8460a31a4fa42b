"""The demo data, API tokens per role, and the WSGI app the API tests call in-process."""

from datetime import timedelta

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.utils import timezone

from access_requests.services import applications as svc
from portal.demo import DEMO_PASSWORD
from portal.services.tokens import api_token_create
from tests.access_requests.conftest import (  # noqa: F401 (fixtures, shared with the applications tests)
    complete,
    dataset,
    draft,
    forwardable,
    in_review,
    pdf_upload,
    ready,
    submitted,
)


@pytest.fixture
def demo(db, django_capture_on_commit_callbacks):
    """The demo's people, holders, committee, catalogue and one application per state, plus two
    complete drafts of the demo researcher's: one with a teammate, a second ethics approval and a
    DPIA risk for the sections' operations, one kept intact for submit and withdraw."""
    from portal.demo import load_demo

    with django_capture_on_commit_callbacks(execute=True):  # file scans run after commit, eagerly
        data = load_demo()
    people = data["people"]
    published = data["applications"]["draft"].requested.first().dataset
    fuzzed = svc.application_create(actor=people["researcher"], title="Fuzzed draft", datasets=[published])
    complete(fuzzed, people["researcher"], start=timezone.localdate() + timedelta(days=10))
    svc.team_member_add(actor=people["researcher"], application=fuzzed, email=people["researcher2"].email)
    svc.ethics_approval_add(
        actor=people["researcher"],
        application=fuzzed,
        committee_name="Second committee",
        reference="REC-2",
        approved_on=timezone.localdate() - timedelta(days=5),
        expires_on=timezone.localdate() + timedelta(days=900),
        covered_ids=list(fuzzed.requested.values_list("pk", flat=True)),
        document=pdf_upload("second.pdf"),
    )
    data["fuzzed_draft"] = fuzzed
    intact = svc.application_create(actor=people["researcher"], title="Ready to submit", datasets=[published])
    data["ready_draft"] = complete(intact, people["researcher"], start=timezone.localdate() + timedelta(days=10))
    return data


@pytest.fixture
def token_for(db):
    """Headers carrying a fresh personal API token of a (demo) user, and its password for decisive acts."""

    def make(user, password: str = DEMO_PASSWORD) -> dict[str, str]:
        _, raw = api_token_create(actor=user, name="api tests", days=1)
        return {"Authorization": f"Bearer {raw}", "X-Confirm-Password": password}

    return make


@pytest.fixture
def wsgi_app(db):
    """Django's WSGI app, kept on the test's database connection (as Django's test client does):
    it would otherwise close the connection, and with it the test's transaction, after each request."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield WSGIHandler()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)
