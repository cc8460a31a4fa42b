"""The holes found from outside: only researchers start applications, and nobody reviews an
application they started or are on the team of, whatever roles they hold (pages, API and services)."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from access_requests.models import Application, ApplicationStatus, RdoChecklist
from access_requests.services import applications as svc
from access_requests.services import transitions as tr
from catalogue.models import BasketItem
from portal.errors import NotPermitted
from tests.access_requests.conftest import CHECKLIST_DONE, complete, frozen
from tests.conftest import PASSWORD, _person
from tests.helpers import team_join

pytestmark = pytest.mark.django_db


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    client.credentials(HTTP_X_CONFIRM_PASSWORD=PASSWORD)
    return client


@pytest.mark.parametrize("persona", ["rdo", "steward", "member", "chair"])
def test_no_one_but_a_researcher_starts_an_application_over_the_api(persona, request, dataset):
    user = request.getfixturevalue(persona)
    BasketItem.objects.create(user=user, dataset=dataset)
    for body in ({"title": "Mine", "datasets": [dataset.identifier]}, {"title": "From my basket"}):
        response = api(user).post("/api/v1/applications/", body, format="json")
        assert response.status_code == 403, response.content
        assert response.json()["detail"] == "Only researchers can do this."
    assert not Application.objects.exists()
    with pytest.raises(NotPermitted):
        svc.application_create(actor=user, title="Through the service", datasets=[dataset])
    assert not Application.objects.exists()


@pytest.mark.parametrize("persona", ["rdo", "steward", "member"])
def test_no_one_but_a_researcher_starts_an_application_on_the_page(persona, request, client, dataset):
    user = request.getfixturevalue(persona)
    BasketItem.objects.create(user=user, dataset=dataset)
    client.force_login(user)
    assert client.post(reverse("access_requests:application-create"), {"title": "Mine"}).status_code == 403
    assert not Application.objects.exists()


@pytest.fixture
def rdo_researcher(db):
    """An RDO administrator who also holds the researcher role."""
    return _person("ravi@portal.example", "Ravi Officer", ["rdo", "researcher"], country="LV")


def _own_submitted(rdo_researcher, dataset):
    application = svc.application_create(actor=rdo_researcher, title="My own study", datasets=[dataset])
    complete(application, rdo_researcher)
    return tr.application_submit(actor=rdo_researcher, application=application)


def _on_team_submitted(alice, rdo_researcher, dataset):
    application = svc.application_create(actor=alice, title="Alice's study", datasets=[dataset])
    team_join(application=application, inviter=alice, user=rdo_researcher)
    complete(application, alice)
    return tr.application_submit(actor=alice, application=application)


@pytest.mark.parametrize("relation", ["started", "on_team"])
def test_an_rdo_cannot_check_return_or_forward_an_application_they_are_party_to(
    relation, rdo_researcher, alice, dataset, committee, rdo
):
    application = (
        _own_submitted(rdo_researcher, dataset)
        if relation == "started"
        else _on_team_submitted(alice, rdo_researcher, dataset)
    )
    client = api(rdo_researcher)
    pages = APIClient()
    pages.force_login(rdo_researcher)
    before = frozen(application)
    base = f"/api/v1/applications/{application.pk}/"
    assert client.get(base).status_code == 200  # they see it, as its team does
    for method, path, body in [
        ("patch", "checklist/", CHECKLIST_DONE),
        ("post", "return/", {"comments": {"dpia": "Looks fine to me."}}),
        ("post", "forward/", {"committee": committee.pk}),
    ]:
        response = getattr(client, method)(base + path, body, format="json")
        assert response.status_code == 403, (path, response.content)
    note = client.post(base + "messages/", {"body": "Fine by me.", "internal": True}, format="json")
    assert note.status_code == 403  # nor do they write the reviewers' internal notes
    with pytest.raises(NotPermitted):
        tr.rdo_checklist_update(actor=rdo_researcher, application=application, data=CHECKLIST_DONE)
    with pytest.raises(NotPermitted):
        tr.application_forward(actor=rdo_researcher, application=application, committee=committee)
    with pytest.raises(NotPermitted):
        tr.application_return(actor=rdo_researcher, application=application, comments={"dpia": "x"})
    assert pages.get(reverse("access_requests:rdo-review", args=[application.pk])).status_code == 403
    assert pages.post(reverse("access_requests:rdo-forward", args=[application.pk])).status_code == 403
    assert frozen(application) == before
    assert not RdoChecklist.objects.filter(application=application, ethics_verified=True).exists()
    # another RDO, who is no party to it, reviews it
    tr.rdo_checklist_update(actor=rdo, application=application, data=CHECKLIST_DONE)
    forwarded = tr.application_forward(actor=rdo, application=application, committee=committee)
    assert forwarded.status == ApplicationStatus.IN_REVIEW


def test_a_wrong_actor_repeating_a_finished_transition_is_refused_not_quietly_answered(submitted, charlie, bob):
    with pytest.raises(NotPermitted):
        tr.application_submit(actor=charlie, application=submitted)
    with pytest.raises(NotPermitted):
        tr.application_submit(actor=bob, application=submitted)
