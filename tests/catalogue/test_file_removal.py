"""Removing a file registered by mistake: freely (audited) before publication; after publication only
as a new version, listed on the dataset's page and announced to the applicants of that dataset. The
registration is kept, marked removed, and left out of every listing, total and export."""

import hashlib

import pytest
from django.urls import reverse
from rdflib import Graph, Literal
from rdflib.namespace import DCAT, XSD
from rest_framework.test import APIClient

from access_requests.models import Application
from access_requests.services import applications as svc
from catalogue.models import Dataset, DatasetFile, DatasetRevision
from catalogue.services import dataset_file_remove, next_file_version
from portal.errors import InvalidInput, NotPermitted, TransitionError
from portal.models import OutboxEmail
from portal.services.tokens import api_token_create
from tests.conftest import PASSWORD
from tests.helpers import change_events, last_event, signed_in_long_ago

pytestmark = pytest.mark.django_db

GOOD = b"\x00" * 128 + b"DICM" + b"a mammogram " * 40
WRONG = b"\x00" * 128 + b"DICM" + b"another patient's scan " * 30  # registered by mistake
WRONG_PATH = "riga-test/LV-RTH-MG-2024/stray/IM9999.dcm"
GOOD_PATH = "riga-test/LV-RTH-MG-2024/study1/IM0001.dcm"
REASON = "Belongs to another study; registered by mistake."


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def register(dataset, path: str, content: bytes) -> DatasetFile:
    return DatasetFile.objects.create(dataset=dataset, path=path, size_bytes=len(content), sha256=sha(content))


@pytest.fixture
def draft_with_files(draft):
    register(draft, GOOD_PATH, GOOD)
    register(draft, WRONG_PATH, WRONG)
    return draft


@pytest.fixture
def published_with_files(steward, draft_with_files):
    from catalogue.services import dataset_publish

    return dataset_publish(actor=steward, dataset=draft_with_files)


def application_for(user, dataset, status: str = "draft") -> Application:
    application = svc.application_create(actor=user, title=f"Study of {user.full_name}", datasets=[dataset])
    Application.objects.filter(pk=application.pk).update(status=status)  # the state is what matters here
    return application


def mails(template: str = "dataset_file_removed") -> list[OutboxEmail]:
    return list(OutboxEmail.objects.filter(template=template).order_by("pk"))


# --- the service ------------------------------------------------------------------------------


def test_before_publication_a_file_is_removed_and_audited_without_a_new_version(steward, draft_with_files):
    removed = dataset_file_remove(actor=steward, dataset=draft_with_files, path=WRONG_PATH, reason=REASON)

    draft = Dataset.objects.get(pk=draft_with_files.pk)
    assert draft.version == "1.0.0" and not DatasetRevision.objects.exists()
    assert list(draft.files.values_list("path", flat=True)) == [GOOD_PATH]
    row = DatasetFile.all_registrations.get(pk=removed.pk)  # kept for the record, never deleted
    assert (row.removed_by, row.removal_reason, row.removed_in) == (steward, REASON, None)
    event = last_event("dataset.file_remove")
    assert event.payload == {"path": WRONG_PATH, "sha256": sha(WRONG), "size_bytes": len(WRONG), "reason": REASON}
    assert not mails()


def test_after_publication_the_removal_makes_a_major_version_audited_and_announced_to_its_applicants(
    steward, published_with_files, alice, bob, charlie, other_holder, make_dataset
):
    dataset = published_with_files
    application_for(alice, dataset, "draft")
    submitted = application_for(bob, dataset, "submitted")
    application_for(charlie, dataset, "withdrawn")  # ended: not written to
    application_for(charlie, make_dataset(other_holder), "submitted")  # another dataset: not written to

    dataset_file_remove(actor=steward, dataset=dataset, path=WRONG_PATH, reason=REASON, sha256=sha(WRONG))

    dataset.refresh_from_db()
    assert dataset.version == "2.0.0"
    revision = DatasetRevision.objects.get(dataset=dataset)
    assert (revision.previous_version, revision.version, revision.reason) == ("1.0.0", "2.0.0", REASON)
    assert (revision.made_by, revision.files_removed, revision.files_added) == (steward, 1, 0)
    assert DatasetFile.all_registrations.get(path=WRONG_PATH).removed_in == revision
    event = last_event("dataset.file_remove")
    assert event.payload["version"] == {"from": "1.0.0", "to": "2.0.0"} and event.payload["announced"] == 2
    assert event.payload["sha256"] == sha(WRONG)
    sent = mails()
    assert [m.to for m in sent] == [[alice.email], [bob.email]]  # one message each: never each other's address
    body = sent[1].body_text
    assert submitted.reference in body and WRONG_PATH in body and sha(WRONG) in body and REASON in body
    assert "2.0.0" in sent[1].subject and "&" not in body


def test_a_removal_without_a_reason_is_a_field_error_and_changes_nothing(steward, published_with_files):
    before = change_events()
    with pytest.raises(InvalidInput) as refused:
        dataset_file_remove(actor=steward, dataset=published_with_files, path=WRONG_PATH, reason="  ")
    assert "reason" in refused.value.fields
    assert published_with_files.files.count() == 2 and change_events() == before


def test_an_unknown_path_is_a_field_error_and_a_changed_file_a_conflict(steward, published_with_files):
    with pytest.raises(InvalidInput) as unknown:
        dataset_file_remove(actor=steward, dataset=published_with_files, path="riga-test/nope.dcm", reason=REASON)
    assert "path" in unknown.value.fields
    with pytest.raises(TransitionError):
        dataset_file_remove(
            actor=steward, dataset=published_with_files, path=WRONG_PATH, reason=REASON, sha256=sha(GOOD)
        )
    assert Dataset.objects.get(pk=published_with_files.pk).version == "1.0.0"


def test_removing_it_again_returns_quietly(steward, published_with_files):
    dataset_file_remove(actor=steward, dataset=published_with_files, path=WRONG_PATH, reason=REASON)
    events = change_events()
    again = dataset_file_remove(actor=steward, dataset=published_with_files, path=WRONG_PATH, reason=REASON)
    assert again.removed_at is not None and change_events() == events
    assert DatasetRevision.objects.count() == 1


def test_only_a_steward_of_the_holder_removes(other_steward, alice, published_with_files):
    for actor in (other_steward, alice):
        with pytest.raises(NotPermitted):
            dataset_file_remove(actor=actor, dataset=published_with_files, path=WRONG_PATH, reason=REASON)
    assert published_with_files.files.count() == 2


@pytest.mark.parametrize(
    ("before", "after"), [("1.0.0", "2.0.0"), ("1.2", "2.0"), ("v3", "v4"), ("2024.1-rc1", "2025.0"), ("", "2.0.0")]
)
def test_a_change_to_the_files_makes_the_next_major_version(before, after):
    assert next_file_version(before) == after


# --- what people see ----------------------------------------------------------------------------


def test_the_public_page_lists_the_change_and_no_longer_the_file(client, steward, published_with_files):
    dataset_file_remove(actor=steward, dataset=published_with_files, path=WRONG_PATH, reason=REASON)

    page = client.get(reverse("catalogue:dataset-detail", args=[published_with_files.identifier]))
    html = page.content.decode()
    files_part, changes_part = html.split('id="changes"')
    assert WRONG_PATH not in files_part and GOOD_PATH in files_part
    assert "1 file, " in files_part and f"({len(GOOD)} bytes)" in files_part  # the totals leave it out
    assert "Version 2.0.0" in changes_part and REASON in changes_part and WRONG_PATH in changes_part
    assert sha(WRONG) in changes_part
    assert "version 2.0.0" in html  # the dataset's own version line


def test_the_cached_catalogue_export_follows_a_removal(client, steward, published_with_files):
    def byte_sizes() -> set:
        graph = Graph().parse(data=client.get(reverse("catalogue:export-ttl")).content.decode(), format="turtle")
        return set(graph.objects(None, DCAT.byteSize))

    assert byte_sizes() == {Literal(len(GOOD) + len(WRONG), datatype=XSD.nonNegativeInteger)}  # now cached
    dataset_file_remove(actor=steward, dataset=published_with_files, path=WRONG_PATH, reason=REASON)
    assert byte_sizes() == {Literal(len(GOOD), datatype=XSD.nonNegativeInteger)}


def test_removed_files_leave_the_api_totals_and_the_dcat_byte_size(client, steward, published_with_files):
    dataset_file_remove(actor=steward, dataset=published_with_files, path=WRONG_PATH, reason=REASON)

    detail = client.get(f"/api/v1/datasets/{published_with_files.identifier}/").json()
    assert [f["path"] for f in detail["files"]] == [GOOD_PATH]
    assert detail["version"] == "2.0.0" and detail["changes"][0]["reason"] == REASON
    ttl = client.get(reverse("catalogue:dataset-dcat-ttl", args=[published_with_files.identifier]))
    graph = Graph().parse(data=ttl.content.decode(), format="turtle")
    assert set(graph.objects(None, DCAT.byteSize)) == {Literal(len(GOOD), datatype=XSD.nonNegativeInteger)}
    client.force_login(steward)
    mine = client.get(reverse("catalogue:steward-datasets"))
    assert [d.file_count for d in mine.context["datasets"]] == [1]


def test_a_later_scan_does_not_register_the_removed_file_again(
    steward, published, storage, django_capture_on_commit_callbacks
):
    from catalogue.services import dataset_register_files

    storage.write(GOOD_PATH, GOOD)
    storage.write(WRONG_PATH, WRONG)
    with django_capture_on_commit_callbacks(execute=True):
        dataset_register_files(actor=steward, dataset=published, folder="LV-RTH-MG-2024")
    published.refresh_from_db()
    assert published.version == "1.0.0"  # a published dataset's first files are its data arriving
    dataset_file_remove(actor=steward, dataset=published, path=WRONG_PATH, reason=REASON)
    with django_capture_on_commit_callbacks(execute=True):
        scan = dataset_register_files(actor=steward, dataset=published, folder="LV-RTH-MG-2024")
    scan.refresh_from_db()
    assert list(published.files.values_list("path", flat=True)) == [GOOD_PATH]
    assert {"path": WRONG_PATH, "reason": "removed from the dataset by a steward"} in scan.skipped
    published.refresh_from_db()
    assert published.version == "2.0.0"  # the removal made a version; the scan changed nothing more
    versions = list(DatasetRevision.objects.filter(dataset=published).values_list("version", "files_removed"))
    assert versions == [("2.0.0", 1)]


# --- the pages ----------------------------------------------------------------------------------


def remove_url(dataset, path: str = "") -> str:
    url = reverse("catalogue:steward-dataset-file-remove", args=[dataset.identifier])
    return f"{url}?path={path}" if path else url


def test_the_steward_page_shows_the_file_and_what_removing_it_does(client, steward, published_with_files, alice):
    application_for(alice, published_with_files, "submitted")
    client.force_login(steward)
    page = client.get(remove_url(published_with_files, WRONG_PATH))
    html = page.content.decode()
    assert page.status_code == 200 and sha(WRONG) in html
    assert "<strong>1.0.0</strong> becomes <strong>2.0.0</strong>" in html and "1 application" in html


def test_the_page_removes_the_file_after_the_password_and_asks_for_a_reason(client, steward, published_with_files):
    client = signed_in_long_ago(steward)
    url = remove_url(published_with_files)
    body = {"path": WRONG_PATH, "reason": REASON, "sha256": sha(WRONG)}
    asked = client.post(url, body)
    assert asked.status_code == 302 and asked["Location"].startswith(reverse("sudo"))
    assert published_with_files.files.count() == 2
    client.post(reverse("sudo"), {"password": PASSWORD, "next": url})

    no_reason = client.post(url, {"path": WRONG_PATH, "reason": ""})
    assert no_reason.status_code == 400 and no_reason.context["form"].errors["reason"]
    done = client.post(url, body)
    assert done.status_code == 302 and done["Location"].endswith("#changes")
    assert Dataset.objects.get(pk=published_with_files.pk).version == "2.0.0"
    assert list(published_with_files.files.values_list("path", flat=True)) == [GOOD_PATH]


def test_a_draft_file_is_removed_from_the_page(client, steward, draft_with_files):
    client.force_login(steward)
    done = client.post(remove_url(draft_with_files), {"path": WRONG_PATH, "reason": REASON})
    assert done.status_code == 302 and done["Location"].endswith("#files")
    assert draft_with_files.files.count() == 1 and not DatasetRevision.objects.exists()


def test_other_stewards_and_researchers_are_refused(
    client, other_steward, alice, holder, published_with_files, make_dataset
):
    draft = make_dataset(holder, status="draft")
    for user, dataset, status in ((other_steward, published_with_files, 403), (alice, published_with_files, 403)):
        client.force_login(user)
        assert client.get(remove_url(dataset, WRONG_PATH)).status_code == status
        assert client.post(remove_url(dataset), {"path": WRONG_PATH, "reason": REASON}).status_code == status
    client.force_login(other_steward)
    assert client.get(remove_url(draft)).status_code == 404  # another holder's draft: not even seen
    assert published_with_files.files.count() == 2
    assert last_event().verb != "dataset.file_remove"


def test_the_steward_sees_a_remove_link_per_file_and_others_do_not(client, steward, alice, published_with_files):
    detail = reverse("catalogue:dataset-detail", args=[published_with_files.identifier])
    client.force_login(steward)
    assert remove_url(published_with_files) in client.get(detail).content.decode()
    client.force_login(alice)
    assert remove_url(published_with_files) not in client.get(detail).content.decode()


# --- the API ------------------------------------------------------------------------------------


def api_as(user, *, password: bool = True) -> APIClient:
    _, raw = api_token_create(actor=user, name=f"steward script {password}", days=7)
    client = APIClient()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    if password:
        headers["HTTP_X_CONFIRM_PASSWORD"] = PASSWORD
    client.credentials(**headers)
    return client


def test_the_api_removes_a_file_as_a_decisive_act(steward, published_with_files):
    url = f"/api/v1/datasets/{published_with_files.identifier}/files/remove/"
    body = {"path": WRONG_PATH, "reason": REASON, "sha256": sha(WRONG)}
    refused = api_as(steward, password=False).post(url, body, format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "sudo_required"

    client = api_as(steward)
    missing = client.post(url, {"path": WRONG_PATH}, format="json")
    assert missing.status_code == 400 and "reason" in missing.json()["errors"]
    unknown = client.post(url, {**body, "path": "riga-test/none.dcm"}, format="json")
    assert unknown.status_code == 400 and "path" in unknown.json()["errors"]
    changed = client.post(url, {**body, "sha256": sha(GOOD)}, format="json")
    assert changed.status_code == 409
    done = client.post(url, body, format="json")
    assert done.status_code == 200 and done.json()["version"] == "2.0.0"
    assert [f["path"] for f in done.json()["files"]] == [GOOD_PATH]


def test_the_api_refuses_other_stewards_and_hides_their_drafts(
    other_steward, holder, published_with_files, make_dataset
):
    draft = make_dataset(holder, status="draft")
    client = api_as(other_steward)
    body = {"path": WRONG_PATH, "reason": REASON}
    assert client.post(f"/api/v1/datasets/{published_with_files.identifier}/files/remove/", body).status_code == 403
    assert client.post(f"/api/v1/datasets/{draft.identifier}/files/remove/", body).status_code == 404
    assert published_with_files.files.count() == 2


def test_the_schema_describes_the_removal():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/datasets/{identifier}/files/remove/"]["post"]
    assert operation["operationId"] == "datasets_remove_file"
    assert {"200", "400", "403", "404", "409"} <= set(operation["responses"])


def test_a_scan_of_a_published_dataset_records_changed_and_vanished_files_as_a_new_version(
    client, steward, published, storage, django_capture_on_commit_callbacks
):
    from catalogue.services import dataset_register_files

    storage.write(GOOD_PATH, GOOD)
    vanishing = storage.write(WRONG_PATH, WRONG)
    with django_capture_on_commit_callbacks(execute=True):
        dataset_register_files(actor=steward, dataset=published, folder="LV-RTH-MG-2024")
    published.refresh_from_db()
    assert published.version == "1.0.0", "the first files a published dataset receives are not a new version"
    assert not DatasetRevision.objects.filter(dataset=published).exists()
    storage.write(GOOD_PATH, GOOD + b"corrected")
    vanishing.unlink()
    with django_capture_on_commit_callbacks(execute=True):
        dataset_register_files(actor=steward, dataset=published, folder="LV-RTH-MG-2024")

    published.refresh_from_db()
    assert published.version == "2.0.0"
    assert list(published.files.values_list("path", "sha256")) == [(GOOD_PATH, sha(GOOD + b"corrected"))]
    old = DatasetFile.all_registrations.filter(removed_at__isnull=False).order_by("path")
    assert [(f.path, f.removal_reason) for f in old] == [
        (WRONG_PATH, "no longer in the storage area when riga-test/LV-RTH-MG-2024 was scanned"),
        (GOOD_PATH, "replaced by a file with other content when riga-test/LV-RTH-MG-2024 was scanned"),
    ]
    latest = DatasetRevision.objects.filter(dataset=published).first()
    assert (latest.version, latest.files_added, latest.files_removed) == ("2.0.0", 1, 2)
    page = client.get(reverse("catalogue:dataset-detail", args=[published.identifier])).content.decode()
    assert "Version 2.0.0" in page and "2 files removed, 1 file added" in page
    assert last_event("dataset.files_scan").payload["version"] == "2.0.0"
