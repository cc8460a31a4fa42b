"""Every access mode of the catalogue can be applied for: the mode is asked for per requested
dataset, among those the dataset offers (issue 8, item 3)."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from access_requests.models import Application, ApplicationDataset
from access_requests.services import applications as svc
from access_requests.services.checks import application_check
from access_requests.services.transitions import application_submit
from catalogue.models import Term, Vocabulary
from portal.errors import InvalidInput
from tests.access_requests.conftest import complete, make_dataset
from tests.conftest import PASSWORD
from tests.helpers import last_event

BASE = "/api/v1/applications/"


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    client.credentials(HTTP_X_CONFIRM_PASSWORD=PASSWORD)
    return client


def mode(application, dataset) -> str | None:
    item = ApplicationDataset.objects.select_related("access_mode").get(application=application, dataset=dataset)
    return item.access_mode.code if item.access_mode else None


@pytest.fixture
def remote_only(holder):
    return make_dataset(holder, "LV-CT-REMOTE", modes=("REMOTE_PROCESSING",))


@pytest.fixture
def two_modes(other_holder):
    return make_dataset(other_holder, "ES-MR-TWO", modes=("DOWNLOAD", "IN_SITU_PROCESSING"))


# --- through the services -------------------------------------------------------------------


def test_a_remote_processing_only_dataset_is_applied_for_and_submitted(alice, remote_only):
    application = svc.application_create(actor=alice, title="Federated radiomics", datasets=[remote_only])
    assert mode(application, remote_only) == "REMOTE_PROCESSING"  # its only mode, chosen for the applicant
    complete(application, alice)
    assert application_check(application) == []
    assert application_submit(actor=alice, application=application).status == "submitted"
    snapshot = application.submissions.get().snapshot
    assert snapshot["datasets"]["LV-CT-REMOTE access mode"] == "Remote or federated processing"
    assert "Access mode" not in snapshot["overview"]


def test_a_dataset_with_a_choice_of_modes_needs_one_chosen_before_submission(alice, dataset, two_modes):
    application = svc.application_create(actor=alice, title="Two sites", datasets=[dataset, two_modes])
    assert (mode(application, dataset), mode(application, two_modes)) == ("DOWNLOAD", None)
    complete(application, alice)
    ApplicationDataset.objects.filter(dataset=two_modes).update(access_mode=None)  # as if not chosen yet
    problems = application_check(application)
    assert [(p.section, p.field, p.code) for p in problems] == [("datasets", "access_mode", "required")]
    assert "ES-MR-TWO" in problems[0].message

    svc.application_set_datasets(
        actor=alice,
        application=application,
        requested={
            dataset: "Training.",
            two_modes: {"justification": "Validation.", "access_mode": "IN_SITU_PROCESSING"},
        },
    )
    assert mode(application, two_modes) == "IN_SITU_PROCESSING"
    assert application_check(application) == []
    event = last_event("application.datasets_set")
    assert event.payload["access_modes"] == {"ES-MR-TWO": "IN_SITU_PROCESSING", "LV-MG-001": "DOWNLOAD"}

    # a justification alone keeps the mode chosen before
    svc.application_set_datasets(
        actor=alice, application=application, requested={dataset: "Training.", two_modes: "Validation again."}
    )
    assert mode(application, two_modes) == "IN_SITU_PROCESSING"


@pytest.mark.parametrize(
    ("code", "words"),
    [("REMOTE_PROCESSING", "is not offered for remote or federated processing"), ("TELEPATHY", "no access mode")],
)
def test_a_mode_the_dataset_does_not_offer_is_refused_with_a_field_error(draft, alice, dataset, code, words):
    with pytest.raises(InvalidInput) as refused:
        svc.application_set_datasets(
            actor=alice, application=draft, requested={dataset: {"justification": "x", "access_mode": code}}
        )
    assert list(refused.value.fields) == ["access_mode"]
    assert words in refused.value.fields["access_mode"][0]
    assert mode(draft, dataset) == "DOWNLOAD"
    assert ApplicationDataset.objects.get(application=draft, dataset=dataset).justification == ""


def test_a_dataset_that_states_no_mode_takes_any_of_the_catalogue(draft, alice, holder):
    unstated = make_dataset(holder, "LV-XR-NONE", modes=())
    svc.application_set_datasets(
        actor=alice,
        application=draft,
        requested={draft.requested.get().dataset: "x", unstated: {"access_mode": "REMOTE_PROCESSING"}},
    )
    assert mode(draft, unstated) == "REMOTE_PROCESSING"


def test_the_check_refuses_a_mode_the_dataset_stopped_offering(ready, alice, dataset):
    dataset.access_modes.set(Term.objects.filter(vocabulary=Vocabulary.ACCESS_MODE, code="REMOTE_PROCESSING"))
    [problem] = application_check(ready)
    assert (problem.field, problem.code) == ("access_mode", "access_mode")
    assert problem.message == ("LV-MG-001 is not offered for download access: choose remote or federated processing.")


# --- through the API ------------------------------------------------------------------------


def test_a_remote_processing_only_dataset_is_applied_for_over_the_api(alice, remote_only, two_modes):
    client = api_for(alice)
    response = client.post(BASE, {"title": "Federated", "datasets": ["LV-CT-REMOTE", "ES-MR-TWO"]}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert "access_mode" not in body  # no application-level mode any more
    assert [(d["identifier"], d["access_mode"]) for d in body["datasets"]] == [
        ("LV-CT-REMOTE", "REMOTE_PROCESSING"),
        ("ES-MR-TWO", None),
    ]
    assert body["datasets"][1]["access_modes_offered"] == ["DOWNLOAD", "IN_SITU_PROCESSING"]
    application = Application.objects.get(pk=body["id"])
    complete(application, alice)

    response = client.put(
        f"{BASE}{application.pk}/datasets/",
        {
            "datasets": {
                "LV-CT-REMOTE": {"justification": "Federated training.", "access_mode": "REMOTE_PROCESSING"},
                "ES-MR-TWO": {"justification": "Validation.", "access_mode": "DOWNLOAD"},
            }
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    assert sorted((d["identifier"], d["access_mode"]) for d in response.json()) == [
        ("ES-MR-TWO", "DOWNLOAD"),
        ("LV-CT-REMOTE", "REMOTE_PROCESSING"),
    ]
    assert client.get(f"{BASE}{application.pk}/check/").json()["problems"] == []
    assert client.post(f"{BASE}{application.pk}/submit/", format="json").status_code == 200
    assert (mode(application, remote_only), mode(application, two_modes)) == ("REMOTE_PROCESSING", "DOWNLOAD")


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"justification": "x", "access_mode": "REMOTE_PROCESSING"}, "access_mode"),
        ({"justification": "x", "access_mode": "TELEPATHY"}, "access_mode"),
        ({"justification": "x", "mode": "DOWNLOAD"}, "datasets"),
        (42, "datasets"),
    ],
    ids=["not-offered", "unknown", "unknown-key", "not-a-string"],
)
def test_the_api_refuses_a_mode_the_dataset_does_not_offer(draft, alice, entry, field):
    response = api_for(alice).put(f"{BASE}{draft.pk}/datasets/", {"datasets": {"LV-MG-001": entry}}, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert ApplicationDataset.objects.get(application=draft).justification == ""


# --- through the page -----------------------------------------------------------------------


def test_the_datasets_page_offers_each_datasets_own_modes_and_saves_the_choice(client, draft, alice, two_modes):
    svc.application_add_dataset(actor=alice, application=draft, dataset=two_modes)
    items = {item.dataset.identifier: item for item in draft.requested.select_related("dataset")}
    page_url = reverse("access_requests:section-edit", args=[draft.pk, "datasets"])
    client.force_login(alice)
    page = client.get(page_url).content.decode()
    assert "Remote or federated processing" not in page
    assert "Processing inside the data holder&#x27;s secure environment" in page

    mine, theirs = items["LV-MG-001"].pk, items["ES-MR-TWO"].pk
    data = {
        f"justification_{mine}": "Training.",
        f"access_mode_{mine}": "DOWNLOAD",
        f"justification_{theirs}": "Validation.",
        f"access_mode_{theirs}": "REMOTE_PROCESSING",
    }
    refused = client.post(page_url, data)
    assert refused.status_code == 400
    assert "Select a valid choice" in refused.content.decode()
    assert mode(draft, two_modes) is None

    data[f"access_mode_{theirs}"] = "IN_SITU_PROCESSING"
    assert client.post(page_url, data).status_code == 302
    assert mode(draft, two_modes) == "IN_SITU_PROCESSING"
    detail = client.get(reverse("access_requests:application-detail", args=[draft.pk])).content.decode()
    assert "Processing inside the data holder&#x27;s secure environment" in detail


# --- the migration --------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_each_requested_dataset_the_applications_mode_or_the_datasets_first(holder, alice):
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    both = make_dataset(holder, "M-BOTH", modes=("DOWNLOAD", "IN_SITU_PROCESSING"))
    remote = make_dataset(holder, "M-REMOTE", modes=("REMOTE_PROCESSING",))
    down_remote = make_dataset(holder, "M-DOWN-REMOTE", modes=("REMOTE_PROCESSING", "DOWNLOAD"))
    unstated = make_dataset(holder, "M-NONE", modes=())

    before = [("access_requests", "0006_signatory")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps
        OldApplication = old.get_model("access_requests", "Application")
        OldItem = old.get_model("access_requests", "ApplicationDataset")
        download = OldApplication.objects.create(
            reference="AR-2026-90001", applicant_id=alice.pk, title="D", access_mode="DOWNLOAD"
        )
        in_situ = OldApplication.objects.create(
            reference="AR-2026-90002", applicant_id=alice.pk, title="I", access_mode="IN_SITU_PROCESSING"
        )
        for application, dataset in [
            (download, both),
            (download, remote),
            (in_situ, down_remote),
            (in_situ, unstated),
            (in_situ, both),
        ]:
            OldItem.objects.create(application_id=application.pk, dataset_id=dataset.pk)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())

    modes = {
        (item.application.reference, item.dataset.identifier): item.access_mode.code
        for item in ApplicationDataset.objects.select_related("application", "dataset", "access_mode")
    }
    assert modes == {
        ("AR-2026-90001", "M-BOTH"): "DOWNLOAD",  # the application's mode, offered
        ("AR-2026-90001", "M-REMOTE"): "REMOTE_PROCESSING",  # not offered: the dataset's first
        ("AR-2026-90002", "M-DOWN-REMOTE"): "DOWNLOAD",  # the first offered, by code
        ("AR-2026-90002", "M-NONE"): "IN_SITU_PROCESSING",  # states none: the application's
        ("AR-2026-90002", "M-BOTH"): "IN_SITU_PROCESSING",
    }
    assert "access_mode" not in {f.name for f in Application._meta.get_fields()}
