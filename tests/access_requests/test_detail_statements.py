"""The application page and the API detail fold their reads (DPIA, representations, timeline,
datasets, team, documents, thread): the number of SQL statements does not grow with what the
application holds, and stays small."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from access_requests.services import applications as svc
from access_requests.services.messages import message_post
from tests.access_requests.conftest import make_dataset, pdf_upload
from tests.conftest import PASSWORD, _person
from tests.helpers import team_join

PAGE_BOUND = 18  # measured: 18 (sign-in 3, access gate 2, the page 13)
API_BOUND = 16  # measured: 15 for the team, 16 for the RDO


def grow(application, alice, n: int) -> None:
    """`n` more of every part: team members, datasets, ethics approvals, DPIA risks, messages."""
    holder = application.requested.first().dataset.holder
    for i in range(n):
        member = _person(f"grow{application.pk}-{i}@uni.example", f"Member {i}", ["researcher"])
        team_join(application=application, inviter=alice, user=member)
        dataset = make_dataset(holder, f"LV-GROW-{application.pk}-{i}", conditions=("C50",))
        item = svc.application_add_dataset(actor=alice, application=application, dataset=dataset)
        svc.ethics_approval_add(
            actor=alice,
            application=application,
            committee_name=f"Ethics board {i}",
            reference=f"REC-G-{i}",
            approved_on=timezone.localdate() - timedelta(days=3),
            expires_on=timezone.localdate() + timedelta(days=900),
            covered_ids=[item.pk],
            document=pdf_upload(),
        )
        svc.dpia_risk_add(
            actor=alice, application=application, description=f"Risk {i}", likelihood=1, severity=2, mitigation="Care."
        )
        message_post(actor=alice, application=application, body=f"Question {i}?")


def statements(client, url: str) -> int:
    client.get(url)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.status_code
    return len(captured)


@pytest.mark.parametrize("persona", ["alice", "rdo"])
def test_the_application_page_runs_a_fixed_small_number_of_statements(request, persona, returned, alice, client):
    user = request.getfixturevalue(persona)
    assert client.login(username=user.email, password=PASSWORD)
    url = reverse("access_requests:application-detail", args=[returned.pk])
    small = statements(client, url)
    grow(returned, alice, 3)
    large = statements(client, url)
    assert small == large <= PAGE_BOUND, (small, large)


@pytest.mark.parametrize("persona", ["alice", "rdo"])
def test_the_api_detail_runs_a_fixed_small_number_of_statements(request, persona, returned, alice):
    user = request.getfixturevalue(persona)
    client = APIClient()
    client.force_authenticate(user)
    url = reverse("api-application", args=[returned.pk])
    small = statements(client, url)
    grow(returned, alice, 3)
    large = statements(client, url)
    assert small == large <= API_BOUND, (small, large)
