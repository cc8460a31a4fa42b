"""Adding a dataset to a draft or returned application, from the dataset page, the basket and the
API, and removing one (issue 8, item 5)."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from access_requests.models import ApplicationDataset, Section
from access_requests.services import applications as svc
from access_requests.services.transitions import application_return, application_submit
from catalogue.models import BasketItem, DatasetStatus
from portal.errors import InvalidInput, NotPermitted, TransitionError
from tests.access_requests.conftest import complete, make_dataset
from tests.conftest import PASSWORD
from tests.helpers import change_events, last_event, team_join


def add_url(application) -> str:
    return reverse("access_requests:dataset-add", args=[application.pk])


def apply_url(dataset) -> str:
    return reverse("catalogue:dataset-apply", args=[dataset.identifier])


def requested(application) -> list[str]:
    return sorted(application.requested.values_list("dataset__identifier", flat=True))


@pytest.fixture
def remote_only(other_holder):
    return make_dataset(other_holder, "ES-CT-REMOTE", modes=("REMOTE_PROCESSING",))


@pytest.fixture
def returned(ready, alice, rdo):
    application_submit(actor=alice, application=ready)
    return application_return(actor=rdo, application=ready, comments={Section.DATASETS: "Add a second site."})


# --- the service ----------------------------------------------------------------------------


def test_the_team_adds_a_published_dataset_to_a_draft(draft, alice, bob, remote_only):
    team_join(application=draft, inviter=alice, user=bob)
    BasketItem.objects.create(user=bob, dataset=remote_only)
    item = svc.application_add_dataset(actor=bob, application=draft, dataset=remote_only, justification=" Sites. ")
    assert (item.justification, item.access_mode.code) == ("Sites.", "REMOTE_PROCESSING")
    assert requested(draft) == ["ES-CT-REMOTE", "LV-MG-001"]
    assert not BasketItem.objects.filter(user=bob).exists()  # it left the basket for the application
    event = last_event()
    assert (event.verb, event.actor_id, event.payload) == (
        "application.dataset_add",
        bob.pk,
        {"dataset": "ES-CT-REMOTE", "access_mode": "REMOTE_PROCESSING"},
    )


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("submitted", TransitionError),
        ("outsider", NotPermitted),
        ("unpublished", InvalidInput),
        ("twice", InvalidInput),
    ],
)
def test_the_service_refuses(case, error, draft, alice, charlie, other_holder, dataset):
    actor, application, target = alice, draft, make_dataset(other_holder, "ES-MR-NEW")
    if case == "submitted":
        application = application_submit(actor=alice, application=complete(draft, alice))
    elif case == "outsider":
        actor = charlie
    elif case == "unpublished":
        target = make_dataset(other_holder, "ES-MR-DRAFT", status=DatasetStatus.DRAFT)
    else:
        target = dataset
    before, events = requested(application), change_events()
    with pytest.raises(error):
        svc.application_add_dataset(actor=actor, application=application, dataset=target)
    assert (requested(application), change_events()) == (before, events)


# --- from the dataset page ------------------------------------------------------------------


def test_the_dataset_page_offers_only_the_users_own_open_applications(client, draft, alice, bob, remote_only):
    bobs = svc.application_create(actor=bob, title="Bob's own", datasets=[remote_only])
    client.force_login(alice)
    page = client.get(apply_url(remote_only)).content.decode()
    assert f"Add to {draft.reference}" in page
    assert bobs.reference not in page

    client.force_login(bob)
    page = client.get(apply_url(remote_only)).content.decode()
    assert f"Add to {draft.reference}" not in page
    assert "Already asked for by" in page and bobs.reference in page


def test_a_dataset_is_added_to_a_draft_from_its_page(client, draft, alice, remote_only):
    client.force_login(alice)
    response = client.post(add_url(draft), {"dataset": remote_only.identifier, "back": "dataset"})
    assert response.status_code == 302
    assert response["Location"] == reverse("access_requests:section-edit", args=[draft.pk, "datasets"])
    assert requested(draft) == ["ES-CT-REMOTE", "LV-MG-001"]
    page = client.get(response["Location"]).content.decode()
    assert f"ES-CT-REMOTE added to {draft.reference}" in page
    assert "How you will use ES-CT-REMOTE" in page
    # once added, the dataset page says so instead of offering it again
    again = client.get(apply_url(remote_only)).content.decode()
    assert f"Add to {draft.reference}" not in again and "Already asked for by" in again


def test_a_dataset_is_added_to_a_returned_application_from_its_page(client, returned, alice, remote_only):
    client.force_login(alice)
    assert f"Add to {returned.reference}" in client.get(apply_url(remote_only)).content.decode()
    response = client.post(add_url(returned), {"dataset": remote_only.identifier, "back": "dataset"})
    assert response.status_code == 302
    assert requested(returned) == ["ES-CT-REMOTE", "LV-MG-001"]
    assert last_event("application.dataset_add").payload["dataset"]
    assert last_event().verb == "application.representations_void"  # the datasets are part of what was signed


def test_adding_to_a_submitted_application_is_refused_with_a_message(client, ready, alice, remote_only):
    application_submit(actor=alice, application=ready)
    client.force_login(alice)
    assert f"Add to {ready.reference}" not in client.get(apply_url(remote_only)).content.decode()
    events = change_events()
    response = client.post(add_url(ready), {"dataset": remote_only.identifier, "back": "dataset"}, follow=True)
    assert response.redirect_chain[-1][0] == apply_url(remote_only)
    assert "it can be changed only while it is a draft or returned for revision" in response.content.decode()
    assert (requested(ready), change_events()) == (["LV-MG-001"], events)


def test_someone_not_on_the_team_cannot_add(client, draft, charlie, remote_only):
    client.force_login(charlie)
    response = client.post(add_url(draft), {"dataset": remote_only.identifier})
    assert response.status_code in (403, 404)
    assert requested(draft) == ["LV-MG-001"]


def test_an_unpublished_dataset_cannot_be_added(client, draft, alice, other_holder):
    hidden = make_dataset(other_holder, "ES-MR-DRAFT", status=DatasetStatus.DRAFT)
    client.force_login(alice)
    response = client.post(add_url(draft), {"dataset": hidden.identifier, "back": "dataset"}, follow=True)
    assert "No such dataset" in response.content.decode()
    assert requested(draft) == ["LV-MG-001"]


# --- from the basket ------------------------------------------------------------------------


def test_a_dataset_is_added_from_the_basket(client, draft, alice, remote_only, other_holder):
    kept = make_dataset(other_holder, "ES-MR-KEPT")
    BasketItem.objects.create(user=alice, dataset=remote_only)
    BasketItem.objects.create(user=alice, dataset=kept)
    client.force_login(alice)
    page = client.get(reverse("catalogue:basket")).content.decode()
    assert page.count(f"to {draft.reference}</button>") == 2
    response = client.post(add_url(draft), {"dataset": remote_only.identifier, "back": "basket"})
    assert response.status_code == 302
    assert requested(draft) == ["ES-CT-REMOTE", "LV-MG-001"]
    assert list(BasketItem.objects.filter(user=alice).values_list("dataset__identifier", flat=True)) == ["ES-MR-KEPT"]


def test_a_refusal_from_the_basket_comes_back_to_the_basket(client, draft, alice, dataset):
    BasketItem.objects.create(user=alice, dataset=dataset)
    client.force_login(alice)
    response = client.post(add_url(draft), {"dataset": dataset.identifier, "back": "basket"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("catalogue:basket")
    assert f"{draft.reference} asks for LV-MG-001 already." in response.content.decode()


# --- over the API ---------------------------------------------------------------------------


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    client.credentials(HTTP_X_CONFIRM_PASSWORD=PASSWORD)
    return client


def test_the_api_adds_a_dataset(draft, alice, remote_only):
    response = api_for(alice).post(
        f"/api/v1/applications/{draft.pk}/datasets/add/",
        {"dataset": "ES-CT-REMOTE", "justification": "Federated.", "access_mode": "REMOTE_PROCESSING"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert [(d["identifier"], d["access_mode"], d["justification"]) for d in response.json()] == [
        ("LV-MG-001", "DOWNLOAD", ""),
        ("ES-CT-REMOTE", "REMOTE_PROCESSING", "Federated."),
    ]


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"dataset": "ES-CT-REMOTE", "access_mode": "DOWNLOAD"}, 400, "access_mode"),
        ({"dataset": "NOPE-1"}, 400, "dataset"),
        ({"dataset": "LV-MG-001"}, 400, "dataset"),
        ({}, 400, "dataset"),
    ],
    ids=["mode-not-offered", "unknown", "twice", "missing"],
)
def test_the_api_refuses_bad_additions(draft, alice, remote_only, body, code, field):
    response = api_for(alice).post(f"/api/v1/applications/{draft.pk}/datasets/add/", body, format="json")
    assert response.status_code == code, response.content
    assert field in response.json()["errors"]
    assert requested(draft) == ["LV-MG-001"]


def test_the_api_answers_409_for_a_submitted_application_and_404_to_outsiders(ready, alice, charlie, remote_only):
    application_submit(actor=alice, application=ready)
    path = f"/api/v1/applications/{ready.pk}/datasets/add/"
    assert api_for(alice).post(path, {"dataset": "ES-CT-REMOTE"}, format="json").status_code == 409
    assert api_for(charlie).post(path, {"dataset": "ES-CT-REMOTE"}, format="json").status_code == 404
    assert requested(ready) == ["LV-MG-001"]


# --- removal --------------------------------------------------------------------------------


def test_a_dataset_is_removed_but_never_the_last_one(client, draft, alice, remote_only):
    svc.application_add_dataset(actor=alice, application=draft, dataset=remote_only)
    client.force_login(alice)
    added = ApplicationDataset.objects.get(application=draft, dataset=remote_only)
    remove = reverse("access_requests:dataset-remove", args=[draft.pk, added.pk])
    assert client.post(remove).status_code == 302
    assert requested(draft) == ["LV-MG-001"]
    last = draft.requested.get()
    response = client.post(reverse("access_requests:dataset-remove", args=[draft.pk, last.pk]), follow=True)
    assert "An application asks for at least one dataset." in response.content.decode()
    assert requested(draft) == ["LV-MG-001"]
    assert draft.requested.get().access_mode.code == "DOWNLOAD"  # the one left keeps its mode
