"""`manage.py import_datasets`: create or update by identifier, through the services, all or nothing."""

import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from catalogue.models import Dataset, DatasetStatus, Manufacturer
from portal.models import AuditEvent
from tests.catalogue.conftest import dataset_input
from tests.helpers import last_event

EXAMPLE = Path(__file__).resolve().parents[2] / "catalogue" / "fixtures" / "example_import.json"


def record(identifier: str, holder: str = "riga-test", **overrides) -> dict:
    return {**dataset_input(identifier=identifier), "holder": holder, **overrides}


def write(tmp_path, records) -> str:
    path = tmp_path / "datasets.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    return str(path)


def run(path, *args) -> str:
    from io import StringIO

    out = StringIO()
    call_command("import_datasets", path, *args, stdout=out)
    return out.getvalue()


def test_it_creates_and_publishes_datasets_through_the_services(tmp_path, holder, other_holder):
    path = write(
        tmp_path,
        [record("IMP-1", status="published"), record("IMP-2", holder="valencia-test", modalities=["MR"])],
    )

    output = run(path)

    one, two = Dataset.objects.get(identifier="IMP-1"), Dataset.objects.get(identifier="IMP-2")
    assert one.status == DatasetStatus.PUBLISHED
    assert two.status == DatasetStatus.DRAFT
    assert two.holder == other_holder
    assert list(two.modalities.values_list("code", flat=True)) == ["MR"]
    assert "IMP-1: created and published" in output
    assert AuditEvent.objects.filter(verb="dataset.create", actor_label="system:import").count() == 2
    assert last_event("dataset.publish").target_id == str(one.pk)


def test_a_second_import_updates_by_identifier(tmp_path, holder):
    run(write(tmp_path, [record("IMP-1")]))

    output = run(write(tmp_path, [record("IMP-1", title="Corrected title")]))

    assert Dataset.objects.count() == 1
    assert Dataset.objects.get().title == "Corrected title"
    assert "IMP-1: updated" in output
    assert last_event("dataset.update").payload == {"changed": ["title"]}
    assert "IMP-1: unchanged" in run(write(tmp_path, [record("IMP-1", title="Corrected title")]))


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (record("IMP-BAD", modalities=["XX"]), "modalities: unknown code 'XX'"),
        (record("IMP-BAD", holder="nowhere"), "holder: unknown data holder 'nowhere'"),
        (record("IMP-BAD", status="withdrawn"), "status must be 'draft' or 'published'"),
        (record("IMP-BAD", keywords=[], status="published"), "keywords: needs at least one keyword"),
        (record("IMP-BAD", colour="red"), "colour: unknown field"),
        ("not an object", "not an object"),
    ],
)
def test_a_bad_record_is_reported_by_position_and_nothing_is_changed(tmp_path, holder, bad, reason):
    path = write(tmp_path, [record("IMP-1", manufacturers=["New Vendor Ltd"]), record("IMP-2"), bad])
    events = AuditEvent.objects.count()

    with pytest.raises(CommandError) as caught:
        run(path)

    message = str(caught.value)
    assert "record 3 of 3 (index 2" in message
    assert reason in message
    assert "Nothing was imported" in message
    assert not Dataset.objects.exists()  # the good records before the bad one are not created either
    assert not Manufacturer.objects.filter(name="New Vendor Ltd").exists()
    assert AuditEvent.objects.count() == events


def test_a_failing_file_leaves_existing_datasets_as_they_were(tmp_path, holder):
    run(write(tmp_path, [record("IMP-1")]))

    with pytest.raises(CommandError):
        run(write(tmp_path, [record("IMP-1", title="Changed"), record("IMP-2", conditions=["C999"])]))

    assert Dataset.objects.get(identifier="IMP-1").title != "Changed"
    assert not Dataset.objects.filter(identifier="IMP-2").exists()


def test_an_identifier_of_another_data_holder_is_refused(tmp_path, holder, other_holder):
    run(write(tmp_path, [record("IMP-1")]))

    with pytest.raises(CommandError) as caught:
        run(write(tmp_path, [record("IMP-1", holder="valencia-test")]))

    assert "already used by a dataset of Riga Test Hospital" in str(caught.value)


def test_acting_as_a_steward_keeps_the_steward_to_their_own_institution(tmp_path, steward, other_holder):
    path = write(tmp_path, [record("IMP-1"), record("IMP-2", holder="valencia-test")])

    with pytest.raises(CommandError) as caught:
        run(path, "--actor", steward.email)

    assert "index 1" in str(caught.value)
    assert "Only the stewards of Valencia Test Hospital" in str(caught.value)
    assert not Dataset.objects.exists()


def test_a_dry_run_checks_every_record_and_changes_nothing(tmp_path, holder):
    output = run(write(tmp_path, [record("IMP-1"), record("IMP-2")]), "--dry-run")

    assert "all 2 records are valid" in output
    assert not Dataset.objects.exists()


@pytest.mark.parametrize("content", ["{not json", '{"identifier": "X"}'])
def test_a_file_that_is_not_a_list_of_records_is_refused(tmp_path, db, content):
    path = tmp_path / "bad.json"
    path.write_text(content)

    with pytest.raises(CommandError):
        run(str(path))


def test_the_example_file_imports_into_the_demo_holders(tmp_path, db):
    from portal.demo import load_holders, load_people

    load_holders(load_people())

    output = run(str(EXAMPLE))

    assert "2 records imported" in output
    published = Dataset.objects.get(identifier="LV-RECUH-MG-PROSPECTIVE-2025")
    assert published.status == DatasetStatus.PUBLISHED
    liver = Dataset.objects.get(identifier="ES-LAFE-CT-LIVER-2023")
    assert liver.use_conditions.get(term__code="TIME_LIMIT_ON_USE").parameters == {"months": 24}


# --- the audit chain during an import (PostgreSQL, real commits) -------------------------------


def _chain_head():
    from portal.models import AuditChainHead

    return AuditChainHead.objects.filter(id=1).values_list("seq", "hash").first()


def test_a_dry_run_writes_no_audit_event(tmp_path, holder):
    path = write(tmp_path, [record("IMP-1", status="published"), record("IMP-2")])
    head, events = _chain_head(), AuditEvent.objects.count()

    output = run(path, "--dry-run")

    assert "all 2 records are valid" in output
    assert (_chain_head(), AuditEvent.objects.count()) == (head, events)
    assert not Dataset.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_dry_run_never_waits_for_the_chain_head(tmp_path, holder):
    """Another transaction holds the head's lock for 3 s; a dry run does not touch the head, so it does not wait."""
    import threading
    import time

    from django.db import connection, transaction

    path = write(tmp_path, [record(f"IMP-{n}") for n in range(5)])
    locked, release = threading.Event(), threading.Event()

    def hold_the_head():
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT seq FROM portal_auditchainhead WHERE id = 1 FOR UPDATE")
                locked.set()
                release.wait(3)
        finally:
            connection.close()

    holder_thread = threading.Thread(target=hold_the_head)
    holder_thread.start()
    assert locked.wait(10)
    head = _chain_head()
    started = time.monotonic()
    output = run(path, "--dry-run")
    elapsed = time.monotonic() - started
    release.set()
    holder_thread.join(timeout=30)
    assert "all 5 records are valid" in output
    assert elapsed < 2.5, f"the dry run waited {elapsed:.2f} s"
    assert _chain_head() == head
    assert not Dataset.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_running_import_does_not_block_a_sign_in(tmp_path, holder, alice, client, settings):
    """The import's transaction stays open 2 s after its records are in; a sign-in meanwhile does not wait.

    Before, each record's audit event locked the chain head until the import committed: a
    300-record import held every sign-in for its whole run.
    """
    import threading
    import time

    from django.db import connection, transaction

    from portal.services.audit import audit_verify
    from tests.conftest import PASSWORD

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # time the lock, not the hash
    alice.set_password(PASSWORD)
    alice.save(update_fields=["password"])
    path = write(tmp_path, [record(f"IMP-{n}", status="published") for n in range(20)])
    imported, errors, held_for = threading.Event(), [], 2.0

    def import_in_a_long_transaction():
        try:
            with transaction.atomic():
                run(path)
                imported.set()
                time.sleep(held_for)  # the import goes on (more records, slow storage): still uncommitted
        except Exception as exc:  # pragma: no cover - asserted below
            errors.append(exc)
        finally:
            connection.close()

    importer = threading.Thread(target=import_in_a_long_transaction)
    importer.start()
    assert imported.wait(60), errors
    started = time.monotonic()
    response = client.post("/accounts/login/", {"username": alice.email, "password": PASSWORD})
    elapsed = time.monotonic() - started
    still_importing = importer.is_alive()
    importer.join(timeout=60)
    assert errors == []
    assert response.status_code == 302
    assert still_importing
    assert elapsed < held_for / 2, f"the sign-in waited {elapsed:.2f} s for the import"
    login = AuditEvent.objects.get(verb="user.login")
    created = list(AuditEvent.objects.filter(verb__in=["dataset.create", "dataset.publish"]).order_by("seq"))
    assert len(created) == 40 and Dataset.objects.count() == 20
    assert login.seq < created[0].seq  # the import's events joined the chain when it committed, after the sign-in
    assert [e.seq for e in created] == list(range(created[0].seq, created[0].seq + 40))  # in one step, no gap
    assert audit_verify().ok
