"""Storage confinement (issue 7): a steward registers files only from their own data holder's area.

The attacks found from outside: a steward registering the folder of applicants' uploaded ethics
approvals and DPIAs, or another hospital's dataset folder, as files of their own published dataset.
Each is tried through the service, the page and the API; each is refused with an error on `folder`,
changes nothing, and leaves a `dataset.files_refused` event.
"""

import hashlib
import os
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.test import APIClient

from catalogue.models import DatasetFile, FileScan, FileScanStatus
from catalogue.services import dataset_register_files
from portal.errors import InvalidInput
from portal.models import AuditEvent
from tests.helpers import ROOT, last_event

APPROVAL = b"%PDF-1.7 ethics approval of an applicant, with the names of the ethics board members"
OTHER_IMAGES = b"\x00" * 128 + b"DICM" + b"Valencia images"
OWN_IMAGES = b"\x00" * 128 + b"DICM" + b"Riga images"


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


@pytest.fixture
def world(storage, other_holder, tmp_path):
    """An applicant's document, another holder's dataset folder, and the steward's own folder."""

    class World:
        documents = storage.documents
        approval = storage.documents / "applications" / "AR-2026-00001" / "0f1e2d.pdf"
        other_area = storage.root / other_holder.storage_area
        area = storage.area
        tmp = tmp_path

        def link(self, name: str, target):
            os.symlink(target, self.area / name)

    world = World()
    world.approval.parent.mkdir(parents=True)
    world.approval.write_bytes(APPROVAL)
    storage.write(f"{other_holder.storage_area}/ES-MR-2023/study1/1.dcm", OTHER_IMAGES)
    storage.write(f"{storage.area.name}/LV-RTH-MG-2024/study1/1.dcm", OWN_IMAGES)
    return world


def register_by_service(steward, dataset, folder, client=None) -> str:
    with pytest.raises(InvalidInput) as caught:
        dataset_register_files(actor=steward, dataset=dataset, folder=folder)
    return caught.value.fields["folder"][0]


def register_by_page(steward, dataset, folder, client) -> str:
    client.force_login(steward)
    response = client.post(reverse("catalogue:steward-dataset-files", args=[dataset.identifier]), {"folder": folder})
    assert response.status_code == 400
    return response.context["form"].errors["folder"][0]


def register_by_api(steward, dataset, folder, client=None) -> str:
    api = APIClient()
    api.force_authenticate(steward)
    response = api.post(reverse("api-dataset-register-files", args=[dataset.identifier]), {"folder": folder})
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    assert set(body["errors"]) == {"folder"}
    return body["errors"]["folder"][0]


CHANNELS = {"service": register_by_service, "page": register_by_page, "api": register_by_api}


def attempt(channel, steward, dataset, folder, client) -> str:
    return CHANNELS[channel](steward, dataset, folder, client)


def assert_refused_and_recorded(steward, dataset, given, reason, events_before):
    assert not FileScan.objects.exists()
    assert not DatasetFile.objects.exists()
    new = list(AuditEvent.objects.filter(seq__gt=events_before).exclude(verb="user.login").order_by("seq"))
    assert [event.verb for event in new] == ["dataset.files_refused"]  # the record, and nothing else
    event = new[0]
    assert (event.actor_id, event.target_id) == (steward.pk, str(dataset.pk))
    assert (event.payload["folder"], event.payload["reason"]) == (given, reason)
    assert event.payload["message"]


def _seq() -> int:
    event = last_event()
    return event.seq if event else 0


# --- the applicants' documents ---------------------------------------------------------------

DOCUMENT_ATTACKS = {
    # name: (how the folder is given, the recorded reason, words of the message)
    "parent": (lambda w: "../../documents", "parent", ["'..'", "applicants' documents"]),
    "parent-into-applications": (lambda w: "../../documents/applications", "parent", ["'..'"]),
    "absolute": (lambda w: str(w.documents), "absolute", ["absolute path", "applicants' documents"]),
    "link": (lambda w: w.link("evidence", w.documents) or "evidence", "documents_root", ["symbolic link"]),
    "linked-parent": (lambda w: w.link("up", w.tmp) or "up/documents/applications", "documents_root", ["documents"]),
    # a link to a folder that contains the documents root (checked both ways, not only "inside")
    "link-to-an-ancestor": (lambda w: w.link("all", w.tmp) or "all", "documents_root", ["applicants' documents"]),
}


def assert_attack_refused(attack, steward, published, world, client, channel) -> None:
    """Register the attack's folder through `channel`: refused with words naming why, recorded, nothing else."""
    make_folder, reason, words = attack
    given = make_folder(world)
    before = _seq()
    message = attempt(channel, steward, published, given, client)
    for word in words:
        assert word in message
    assert_refused_and_recorded(steward, published, given, reason, before)


@pytest.mark.parametrize("channel", list(CHANNELS))
@pytest.mark.parametrize("attack", list(DOCUMENT_ATTACKS))
def test_a_steward_cannot_register_the_applicants_documents(steward, published, world, client, channel, attack):
    assert_attack_refused(DOCUMENT_ATTACKS[attack], steward, published, world, client, channel)
    listed = APIClient().get(reverse("api-dataset-detail", args=[published.identifier])).json()
    assert listed["files"] == []  # the public dataset API lists none of the applicant's files


# --- another data holder's area -----------------------------------------------------------------

OTHER_HOLDER_ATTACKS = {
    "parent": (lambda w: "../valencia-test", "parent", ["'..'", "another data holder's storage area"]),
    "parent-into-a-dataset": (lambda w: "../valencia-test/ES-MR-2023", "parent", ["another data holder"]),
    "absolute": (lambda w: str(w.other_area), "absolute", ["absolute path", "another data holder"]),
    "link": (lambda w: w.link("shared", w.other_area) or "shared", "other_holder", ["symbolic link"]),
    "link-to-a-dataset": (
        lambda w: w.link("partner", w.other_area / "ES-MR-2023") or "partner/study1",
        "other_holder",
        ["another data holder's storage area"],
    ),
}


@pytest.mark.parametrize("channel", list(CHANNELS))
@pytest.mark.parametrize("attack", list(OTHER_HOLDER_ATTACKS))
def test_a_steward_cannot_register_another_holders_area(steward, published, world, client, channel, attack):
    assert_attack_refused(OTHER_HOLDER_ATTACKS[attack], steward, published, world, client, channel)


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ("../..", ["'..'"]),
        ("/etc", ["absolute path"]),
        ("C:\\data", ["absolute path"]),
        ("LV-RTH-MG-2024/../../../etc", ["'..'"]),
    ],
)
def test_any_path_out_of_the_area_is_refused_and_recorded(steward, published, world, given, words):
    before = _seq()
    message = register_by_service(steward, published, given)
    for word in words:
        assert word in message
    assert_refused_and_recorded(steward, published, given, "parent" if ".." in given else "absolute", before)


def test_a_link_out_of_the_area_to_anywhere_is_refused(steward, published, world):
    outside = world.tmp / "elsewhere"
    outside.mkdir()
    world.link("escape", outside)
    before = _seq()

    message = register_by_service(steward, published, "escape")

    assert message == "follows a symbolic link and leaves your data holder's storage area"
    assert_refused_and_recorded(steward, published, "escape", "outside_area", before)


@pytest.mark.django_db(transaction=True)  # real commits: the record must outlive the refusal
def test_the_refusal_record_is_committed_although_the_request_fails(steward, published, world):
    register_by_api(steward, published, "../../documents")

    assert AuditEvent.objects.filter(verb="dataset.files_refused", target_id=str(published.pk)).count() == 1
    assert not FileScan.objects.exists()
    assert not DatasetFile.objects.exists()


# --- what still works ---------------------------------------------------------------------------


def test_a_folder_of_the_stewards_own_area_registers_with_true_checksums(
    steward, published, world, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        scan = dataset_register_files(actor=steward, dataset=published, folder="LV-RTH-MG-2024")

    scan.refresh_from_db()
    assert scan.status == FileScanStatus.DONE
    assert scan.folder == "riga-test/LV-RTH-MG-2024"
    assert list(DatasetFile.objects.values_list("path", "size_bytes", "sha256")) == [
        ("riga-test/LV-RTH-MG-2024/study1/1.dcm", len(OWN_IMAGES), sha(OWN_IMAGES))
    ]
    assert last_event("dataset.files_refused") is None


def test_a_scan_skips_links_to_documents_and_to_another_holders_files(
    steward, published, world, django_capture_on_commit_callbacks
):
    """The check is against the holder's area, not the whole dataset root: another holder's file is inside
    the root and still left out."""
    folder = world.area / "LV-RTH-MG-2024"
    os.symlink(world.approval, folder / "approval.pdf")
    os.symlink(world.other_area / "ES-MR-2023" / "study1" / "1.dcm", folder / "borrowed.dcm")
    os.symlink(world.tmp, folder / "up")  # a linked folder is never followed

    with django_capture_on_commit_callbacks(execute=True):
        scan = dataset_register_files(actor=steward, dataset=published, folder="LV-RTH-MG-2024")

    scan.refresh_from_db()
    assert scan.status == FileScanStatus.DONE
    skipped = {entry["path"]: entry["reason"] for entry in scan.skipped}
    assert skipped == {
        "riga-test/LV-RTH-MG-2024/approval.pdf": "a link into the applicants' documents storage",
        "riga-test/LV-RTH-MG-2024/borrowed.dcm": "a link into another data holder's storage area",
        "riga-test/LV-RTH-MG-2024/up": "a link to a folder: linked folders are not followed",
    }
    hashes = set(DatasetFile.objects.values_list("sha256", flat=True))
    assert hashes == {sha(OWN_IMAGES)}
    assert "riga-test/LV-RTH-MG-2024/approval.pdf" in last_event("dataset.files_scan").payload["skipped"]


def test_a_scan_takes_links_within_the_area_and_leaves_out_special_files(
    steward, published, world, django_capture_on_commit_callbacks
):
    """A link to a file of the holder's own area is registered at the link's path; a named pipe or
    a dangling link is no regular file and is listed as left out, and nothing waits on it."""
    folder = world.area / "LV-RTH-MG-2024"
    os.symlink(folder / "study1" / "1.dcm", folder / "again.dcm")
    os.symlink(folder / "gone.dcm", folder / "dangling.dcm")
    os.mkfifo(folder / "pipe")

    with django_capture_on_commit_callbacks(execute=True):
        scan = dataset_register_files(actor=steward, dataset=published, folder="LV-RTH-MG-2024")

    scan.refresh_from_db()
    assert scan.status == FileScanStatus.DONE
    skipped = {entry["path"]: entry["reason"] for entry in scan.skipped}
    assert skipped == {
        "riga-test/LV-RTH-MG-2024/dangling.dcm": "not a regular file",
        "riga-test/LV-RTH-MG-2024/pipe": "not a regular file",
    }
    assert sorted(DatasetFile.objects.values_list("path", "sha256")) == [
        ("riga-test/LV-RTH-MG-2024/again.dcm", sha(OWN_IMAGES)),
        ("riga-test/LV-RTH-MG-2024/study1/1.dcm", sha(OWN_IMAGES)),
    ]


# --- roots configured oddly ----------------------------------------------------------------------


def test_a_documents_root_that_resolves_into_the_area_makes_the_area_unusable(steward, published, world, settings):
    """Settings refuse overlapping roots at start-up; if they overlap anyway (here through a link),
    registration checks the resolved paths both ways and refuses everything in that area."""
    inbox = world.area / "inbox"
    inbox.mkdir()
    (inbox / "dpia.pdf").write_bytes(APPROVAL)
    os.symlink(inbox, world.tmp / "documents-link")
    settings.DOCUMENT_STORAGE_ROOT = world.tmp / "documents-link"
    before = _seq()

    for given in ("inbox", "LV-RTH-MG-2024"):
        message = register_by_service(steward, published, given)
        assert "misconfigured" in message

    assert not FileScan.objects.exists()
    reasons = [e.payload["reason"] for e in AuditEvent.objects.filter(seq__gt=before, verb="dataset.files_refused")]
    assert reasons == ["area_misconfigured", "area_misconfigured"]


def test_a_folder_that_contains_the_documents_root_is_refused(steward, published, world, settings):
    settings.DOCUMENT_STORAGE_ROOT = world.area / "LV-RTH-MG-2024" / "study1" / "uploads"
    settings.DOCUMENT_STORAGE_ROOT.mkdir()
    before = _seq()

    message = register_by_service(steward, published, "LV-RTH-MG-2024")

    assert "misconfigured" in message
    assert_refused_and_recorded(steward, published, "LV-RTH-MG-2024", "area_misconfigured", before)


def test_another_holders_area_inside_the_stewards_area_makes_it_unusable(steward, published, world, other_holder):
    """An operator who linked another holder's area into this one: nothing here may be registered."""
    world.other_area.rename(world.area / "valencia-files")
    os.symlink(world.area / "valencia-files", world.other_area)
    before = _seq()

    message = register_by_service(steward, published, "LV-RTH-MG-2024")

    assert "misconfigured" in message
    assert_refused_and_recorded(steward, published, "LV-RTH-MG-2024", "area_misconfigured", before)


def test_a_document_path_that_resolves_into_the_dataset_storage_is_not_served(world):
    from access_requests.services.documents import document_absolute_path

    os.symlink(world.area / "LV-RTH-MG-2024", world.documents / "applications" / "planted")

    with pytest.raises(FileNotFoundError):
        document_absolute_path("applications/planted/study1/1.dcm")
    assert document_absolute_path("applications/AR-2026-00001/0f1e2d.pdf").read_bytes() == APPROVAL


def _settings_import(tmp_path, **env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.endswith("_STORAGE_ROOT")}
    environment |= {"PORTAL_VAR_DIR": str(tmp_path / "var"), "DJANGO_SETTINGS_MODULE": "portal.settings", **env}
    code = "import django; django.setup()"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )


def test_settings_refuse_one_storage_root_inside_the_other(tmp_path):
    inside = _settings_import(
        tmp_path, DATASET_STORAGE_ROOT=str(tmp_path / "store"), DOCUMENT_STORAGE_ROOT=str(tmp_path / "store" / "docs")
    )
    assert inside.returncode != 0
    assert "must be separate folders, neither inside the other" in inside.stderr
    assert "ImproperlyConfigured" in inside.stderr.strip().splitlines()[-1]

    same = _settings_import(tmp_path, DATASET_STORAGE_ROOT=str(tmp_path), DOCUMENT_STORAGE_ROOT=str(tmp_path))
    assert same.returncode != 0 and "neither inside the other" in same.stderr

    old = _settings_import(tmp_path, PROTECTED_STORAGE_ROOT=str(tmp_path / "protected"))
    assert old.returncode != 0 and "PROTECTED_STORAGE_ROOT is no longer read" in old.stderr

    apart = _settings_import(
        tmp_path, DATASET_STORAGE_ROOT=str(tmp_path / "d"), DOCUMENT_STORAGE_ROOT=str(tmp_path / "e")
    )
    assert apart.returncode == 0, apart.stderr


# --- check_storage --------------------------------------------------------------------------------


def check_storage() -> tuple[str, CommandError | None]:
    out = StringIO()
    try:
        call_command("check_storage", stdout=out)
    except CommandError as exc:
        return out.getvalue(), exc
    return out.getvalue(), None


def test_check_storage_passes_a_clean_database(steward, published, world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        dataset_register_files(actor=steward, dataset=published, folder="LV-RTH-MG-2024")

    output, error = check_storage()

    assert error is None
    assert "1 file(s) and 1 scan(s) checked" in output


def test_check_storage_passes_an_empty_database(db):
    output, error = check_storage()
    assert error is None
    assert "0 file(s) and 0 scan(s) checked" in output


def test_check_storage_reports_each_planted_row_and_fails(steward, published, world):
    def plant(path: str, content: bytes = OWN_IMAGES) -> DatasetFile:
        return DatasetFile.objects.create(dataset=published, path=path, size_bytes=len(content), sha256=sha(content))

    os.symlink(world.documents, world.area / "evidence")
    good = plant("riga-test/LV-RTH-MG-2024/study1/1.dcm")
    planted = {
        plant("valencia-test/ES-MR-2023/study1/1.dcm", OTHER_IMAGES): "in another data holder's storage area",
        plant("../documents/applications/AR-2026-00001/0f1e2d.pdf", APPROVAL): "leaves the dataset storage root",
        plant("riga-test/evidence/applications/AR-2026-00001/0f1e2d.pdf", APPROVAL): "documents storage",
        plant("riga-test/LV-RTH-MG-2024/study9/gone.dcm"): "the file is missing",
        plant("datasets/LV-RTH-MG-2024/old.dcm"): "not in its data holder's storage area 'riga-test'",
    }
    scan = FileScan.objects.create(dataset=published, folder="datasets/LV-RTH-MG-2024", requested_by=steward)
    before = (DatasetFile.objects.count(), FileScan.objects.count(), _seq())

    output, error = check_storage()

    assert error is not None and error.returncode == 1
    assert "6 row(s) break storage confinement" in str(error)
    lines = output.strip().splitlines()
    assert len(lines) == 6
    for row, reason in planted.items():
        line = next(line for line in lines if line.startswith(f"file {row.pk} "))
        assert f"of dataset {published.identifier}: {row.path}: " in line
        assert reason in line
    assert any(line.startswith(f"scan {scan.pk} of dataset {published.identifier}: datasets/") for line in lines)
    assert not any(line.startswith(f"file {good.pk} ") for line in lines)
    assert (DatasetFile.objects.count(), FileScan.objects.count(), _seq()) == before  # reports, changes nothing


def test_check_storage_exits_non_zero_from_the_command_line(steward, published, world):
    DatasetFile.objects.create(dataset=published, path="valencia-test/x.dcm", size_bytes=1, sha256="0" * 64)
    output, error = check_storage()
    assert error is not None and error.returncode != 0
    assert "valencia-test/x.dcm" in output


# --- the migration ----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_every_existing_holder_its_own_area():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before = [("catalogue", "0007_dataset_sort_indexes")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps.get_model("catalogue", "DataHolder")
        for name, slug in (("A", "Riga-East"), ("B", "riga-east_"), ("C", "la-fe")):
            old.objects.create(name=name, slug=slug, country="LV", contact_email="a@b.example", rdo_email="r@b.example")
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())  # everything again, whatever depends on 0008

    from catalogue.models import DataHolder

    areas = dict(DataHolder.objects.values_list("slug", "storage_area"))
    assert areas == {"Riga-East": "riga-east", "riga-east_": "riga-east-2", "la-fe": "la-fe"}
