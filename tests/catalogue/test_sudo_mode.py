"""Publishing and withdrawing a dataset are decisive acts: a steward whose password confirmation has
lapsed is asked for it again, on the pages and in the API, and nothing changes until they give it."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from catalogue.models import Dataset, DatasetStatus
from portal.services.tokens import api_token_create
from tests.conftest import PASSWORD
from tests.helpers import signed_in_long_ago

pytestmark = pytest.mark.django_db


def status_of(dataset) -> str:
    return Dataset.objects.get(pk=dataset.pk).status


@pytest.mark.parametrize(
    ("fixture", "action", "body", "after"),
    [
        ("draft", "publish", {}, DatasetStatus.PUBLISHED),
        ("published", "withdraw", {"reason": "Consent withdrawn by the hospital."}, DatasetStatus.WITHDRAWN),
    ],
)
def test_the_page_asks_for_the_password_then_acts(fixture, action, body, after, request, steward):
    dataset = request.getfixturevalue(fixture)
    before = status_of(dataset)
    client = signed_in_long_ago(steward)
    target = reverse(f"catalogue:steward-dataset-{action}", args=[dataset.identifier])
    assert client.get(target).status_code == 200  # the confirmation page itself is only read
    response = client.post(target, body, HTTP_REFERER=f"http://testserver{target}")
    assert response.status_code == 302 and response["Location"].startswith(reverse("sudo"))
    assert status_of(dataset) == before
    client.post(reverse("sudo"), {"password": PASSWORD, "next": target})
    client.post(target, body)
    assert status_of(dataset) == after


@pytest.mark.parametrize(
    ("fixture", "action", "body"),
    [("draft", "publish", {}), ("published", "withdraw", {"reason": "Consent withdrawn by the hospital."})],
)
def test_the_api_needs_the_password_with_a_token(fixture, action, body, request, steward):
    dataset = request.getfixturevalue(fixture)
    before = status_of(dataset)
    _, raw = api_token_create(actor=steward, name="catalogue script", days=7)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    url = f"/api/v1/datasets/{dataset.identifier}/{action}/"
    refused = client.post(url, body, format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "sudo_required"
    assert status_of(dataset) == before
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}", HTTP_X_CONFIRM_PASSWORD=PASSWORD)
    assert client.post(url, body, format="json").status_code == 200
    assert status_of(dataset) != before


def test_editing_a_draft_is_not_a_decisive_act(draft, steward):
    client = signed_in_long_ago(steward)
    response = client.get(reverse("catalogue:steward-dataset-edit", args=[draft.identifier]))
    assert response.status_code == 200
