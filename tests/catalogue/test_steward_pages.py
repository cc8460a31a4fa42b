"""Steward pages: who may open them (404 outsider, 403 read-only), what they change, what they record."""

import hashlib
import re

import pytest
from django.urls import reverse

from catalogue.models import Dataset, DatasetFile, DatasetStatus, FileScan, FileScanStatus
from portal.models import AuditEvent
from tests.catalogue.conftest import dataset_input
from tests.helpers import last_event


def url(name: str, dataset=None) -> str:
    return reverse(f"catalogue:{name}", args=[dataset.identifier] if dataset else [])


def as_user(client, user):
    client.force_login(user)
    return client


def form_post(**overrides) -> dict:
    """What the dataset form posts for a complete dataset (the holder field only on create)."""
    data = {
        "holder": "riga-test",
        "identifier": "LV-RTH-CT-2022",
        "title": "Lung CT screening cohort",
        "description": "Low-dose CT of a lung cancer screening pilot.",
        "version": "1.0.0",
        "dataset_type": "original",
        "tier": "1",
        "access_rights": "RESTRICTED",
        "keywords": "lung, low-dose CT",
        "subjects_count": "120",
        "studies_count": "300",
        "age_min": "50",
        "age_max": "75",
        "conditions": ["C34"],
        "modalities": ["CT"],
        "body_parts": ["CHEST", "LUNG"],
        "manufacturers": "Siemens Healthineers\nCanon Medical Systems",
        "birth_sexes": ["FEMALE", "MALE"],
        "collection_method": "Retrospective collection from clinical routine",
        "provenance": "Screening pilot 2018-2021.",
        "access_modes": ["DOWNLOAD"],
        "data_use": ["ETHICS_APPROVAL_REQUIRED", "GEOGRAPHICAL_RESTRICTION"],
        "use_countries": "LV, EE",
    }
    data.update(overrides)
    return data


# --- my datasets --------------------------------------------------------------------------------


def test_my_datasets_lists_every_status_of_the_stewards_own_institutions_only(
    client, steward, holder, other_holder, other_steward, draft, make_dataset
):
    make_dataset(holder, identifier="OWN-WITHDRAWN", title="Withdrawn one", status="withdrawn")
    make_dataset(other_holder, identifier="OTHER-PUBLISHED", title="Valencia prostate MR")

    response = as_user(client, steward).get(url("steward-datasets"))

    assert response.status_code == 200
    listed = [d.identifier for d in response.context["datasets"]]
    assert sorted(listed) == ["LV-RTH-MG-2024", "OWN-WITHDRAWN"]
    assert b"Valencia prostate MR" not in response.content


def test_my_datasets_pages_by_latest_change_and_shows_each_dataset_once_while_one_is_edited(
    client, steward, holder, make_dataset
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for n in range(54):
        make_dataset(holder, identifier=f"LV-PAGE-{n:03d}", title=f"Paged dataset {n}")
    client = as_user(client, steward)
    first = client.get(url("steward-datasets"))
    seen = [d.identifier for d in first.context["datasets"]]
    assert len(seen) == 50 and first.context["page"].next_cursor
    assert "Paged dataset" in first.content.decode() and "<strong>54</strong>" in first.content.decode()
    # a dataset already shown is edited (it moves to the top): the next page neither repeats nor skips
    Dataset.objects.filter(identifier=seen[10]).update(title="Edited meanwhile")
    Dataset.objects.filter(identifier=seen[10]).first().save(update_fields=["title", "updated_at"])
    second = client.get(url("steward-datasets"), {"after": first.context["page"].next_cursor})
    rest = [d.identifier for d in second.context["datasets"]]
    assert sorted(seen + rest) == sorted(f"LV-PAGE-{n:03d}" for n in range(54))
    assert not second.context["page"].next_cursor
    assert [d.file_count for d in second.context["datasets"]] == [0] * len(rest)

    def statements(**params) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url("steward-datasets"), params).status_code == 200
        return len(queries)

    few = statements(after=first.context["page"].next_cursor)
    assert statements() == few, "a full page runs the statements of a short one"


@pytest.mark.parametrize("cursor", ["%%%", "W10", "bm90IGpzb24", "WyJ4IiwxXQ"])
def test_my_datasets_refuses_an_edited_page_link_with_a_message(client, steward, holder, cursor):
    response = as_user(client, steward).get(url("steward-datasets"), {"after": cursor})
    assert response.status_code == 400
    assert "This page link is not valid" in response.content.decode()


def test_my_datasets_is_refused_to_a_researcher_and_sends_the_anonymous_to_sign_in(client, alice):
    assert client.get(url("steward-datasets")).status_code == 302
    assert as_user(client, alice).get(url("steward-datasets")).status_code == 403


def test_the_navigation_shows_my_datasets_to_stewards_only(client, steward, alice):
    assert "My datasets" in as_user(client, steward).get(reverse("dashboard")).content.decode()
    assert "My datasets" not in as_user(client, alice).get(reverse("dashboard")).content.decode()


def test_the_dashboard_panel_counts_the_stewards_datasets_by_status(client, steward, published, make_dataset, holder):
    make_dataset(holder, identifier="OWN-DRAFT", status="draft")

    response = as_user(client, steward).get(reverse("dashboard"))

    panel = next(p for p in response.context["panels"] if p.title == "Your datasets")
    assert panel.count == 2
    assert {(item.label, item.detail) for item in panel.items} >= {("Draft", "1"), ("Published", "1")}


# --- create -------------------------------------------------------------------------------------


def test_a_steward_creates_a_draft_through_the_form(client, steward, holder):
    response = as_user(client, steward).post(url("steward-dataset-create"), form_post())

    dataset = Dataset.objects.get(identifier="LV-RTH-CT-2022")
    assert response.status_code == 302
    assert response["Location"] == url("dataset-detail", dataset)
    assert dataset.status == DatasetStatus.DRAFT
    assert dataset.holder == holder
    assert sorted(dataset.body_parts.values_list("code", flat=True)) == ["CHEST", "LUNG"]
    assert sorted(dataset.manufacturers.values_list("name", flat=True)) == [
        "Canon Medical Systems",
        "Siemens Healthineers",
    ]
    assert dataset.keywords == ["lung", "low-dose CT"]
    geo = dataset.use_conditions.get(term__code="GEOGRAPHICAL_RESTRICTION")
    assert geo.parameters == {"countries": ["EE", "LV"]}
    event = last_event("dataset.create")
    assert (event.actor, event.target_id) == (steward, str(dataset.pk))


def test_the_create_form_shows_grouped_vocabularies(client, steward):
    response = as_user(client, steward).get(url("steward-dataset-create"))

    page = response.content.decode()
    assert response.status_code == 200
    assert '<optgroup label="C50–C50 Breast">' in page
    assert '<optgroup label="Common in cancer imaging">' in page
    assert "Ethics approval required (DUO:0000021)" in page


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"modalities": ["XX"]}, "modalities", "Select a valid choice. XX is not one of the available choices."),
        ({"use_countries": ""}, "use_countries", "Needed for"),
        ({"use_countries": "LV, XX"}, "use_countries", "unknown country code 'XX'"),
        ({"data_use": ["ETHICS_APPROVAL_REQUIRED"]}, "use_countries", "Tick"),
        ({"age_min": "80", "age_max": "20"}, "age_max", "must not be below the minimum age"),
        ({"identifier": "has spaces"}, "identifier", "use letters, digits"),
        ({"holder": "valencia-test"}, "holder", "Select a valid choice"),
    ],
)
def test_bad_input_comes_back_as_a_form_error_and_writes_nothing(client, steward, overrides, field, message):
    as_user(client, steward)  # signing in is itself recorded
    before = AuditEvent.objects.count()

    response = client.post(url("steward-dataset-create"), form_post(**overrides))

    assert response.status_code == 400
    errors = {name: errs for group in response.context["form"].groups for name, errs in group.errors.items()}
    assert any(message in error for error in errors[field]), errors
    assert not Dataset.objects.exists()
    assert AuditEvent.objects.count() == before


def test_a_taken_identifier_is_a_form_error(client, steward, draft):
    response = as_user(client, steward).post(url("steward-dataset-create"), form_post(identifier=draft.identifier))

    assert response.status_code == 400
    assert response.context["form"].groups[0].errors["identifier"]
    assert Dataset.objects.count() == 1


def test_only_stewards_may_open_the_create_page(client, alice, rdo):
    assert as_user(client, alice).get(url("steward-dataset-create")).status_code == 403
    assert as_user(client, rdo).post(url("steward-dataset-create"), form_post()).status_code == 403
    assert not Dataset.objects.exists()


# --- edit ---------------------------------------------------------------------------------------


def test_a_steward_edits_a_dataset_and_the_event_lists_the_changes(client, steward, draft):
    page = as_user(client, steward).get(url("steward-dataset-edit", draft))
    assert page.status_code == 200
    assert page.context["form"].groups[3]["use_countries"].value() == "EE, LV"

    response = client.post(
        url("steward-dataset-edit", draft),
        form_post(identifier=draft.identifier, title="Riga mammography, second release", conditions=["C50", "D05"]),
    )

    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.title == "Riga mammography, second release"
    assert sorted(draft.conditions.values_list("code", flat=True)) == ["C50", "D05"]
    event = last_event("dataset.update")
    assert event.actor == steward
    assert "title" in event.payload["changed"]
    assert "conditions" in event.payload["changed"]


def test_the_identifier_of_a_published_dataset_cannot_be_changed_from_the_page(client, steward, published):
    response = as_user(client, steward).post(
        url("steward-dataset-edit", published), form_post(identifier="RENAMED", title="New title")
    )

    assert response.status_code == 302
    published.refresh_from_db()
    assert published.identifier == "LV-RTH-MG-2024"  # the disabled field ignores what was posted
    assert published.title == "New title"


def test_edit_is_404_for_an_outsider_and_403_for_a_read_only_role(client, steward, other_steward, alice, rdo, draft):
    draft_url = url("steward-dataset-edit", draft)
    assert as_user(client, other_steward).get(draft_url).status_code == 404  # may not see the draft
    assert as_user(client, alice).get(draft_url).status_code == 404
    assert as_user(client, rdo).get(draft_url).status_code == 403  # sees every dataset, stewards none
    assert as_user(client, other_steward).post(draft_url, form_post(title="Hijacked")).status_code == 404
    draft.refresh_from_db()
    assert draft.title != "Hijacked"
    assert last_event("dataset.update") is None


def test_edit_of_a_published_dataset_is_403_for_another_institutions_steward(client, other_steward, alice, published):
    edit_url = url("steward-dataset-edit", published)
    assert as_user(client, other_steward).post(edit_url, form_post(title="Hijacked")).status_code == 403
    assert as_user(client, alice).get(edit_url).status_code == 403
    published.refresh_from_db()
    assert published.title != "Hijacked"


# --- publish and withdraw -----------------------------------------------------------------------


def test_publishing_from_the_page_publishes_and_records_it(client, steward, draft):
    preview = as_user(client, steward).get(url("steward-dataset-publish", draft))
    assert preview.status_code == 200
    assert preview.context["problems"] == {}

    response = client.post(url("steward-dataset-publish", draft))

    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.status == DatasetStatus.PUBLISHED
    assert last_event("dataset.publish").actor == steward


def test_publishing_an_incomplete_draft_lists_what_is_missing(client, steward, holder):
    from catalogue.services import dataset_create

    dataset = dataset_create(actor=steward, holder=holder, data=dataset_input(keywords=[], data_use=[]))

    response = as_user(client, steward).post(url("steward-dataset-publish", dataset))

    assert response.status_code == 409
    assert set(response.context["problems"]) == {"keywords", "data_use"}
    assert "needs at least one keyword" in response.content.decode()
    dataset.refresh_from_db()
    assert dataset.status == DatasetStatus.DRAFT
    assert last_event("dataset.publish") is None


def test_publish_is_404_for_an_outsider_and_403_for_a_read_only_role(client, other_steward, rdo, draft):
    assert as_user(client, other_steward).post(url("steward-dataset-publish", draft)).status_code == 404
    assert as_user(client, rdo).post(url("steward-dataset-publish", draft)).status_code == 403
    draft.refresh_from_db()
    assert draft.status == DatasetStatus.DRAFT
    assert last_event("dataset.publish") is None


def test_withdrawing_asks_for_a_reason_then_records_it(client, steward, published):
    page = as_user(client, steward).get(url("steward-dataset-withdraw", published))
    assert page.status_code == 200
    assert "Why is the dataset withdrawn?" in page.content.decode()

    missing = client.post(url("steward-dataset-withdraw", published), {"reason": ""})
    assert missing.status_code == 400
    assert missing.context["form"].errors["reason"]
    published.refresh_from_db()
    assert published.status == DatasetStatus.PUBLISHED

    done = client.post(url("steward-dataset-withdraw", published), {"reason": "A subject withdrew consent"})

    assert done.status_code == 302
    published.refresh_from_db()
    assert published.status == DatasetStatus.WITHDRAWN
    event = last_event("dataset.withdraw")
    assert (event.actor, event.payload) == (steward, {"reason": "A subject withdrew consent"})


def test_withdrawing_a_draft_is_a_form_error_not_a_crash(client, steward, draft):
    response = as_user(client, steward).post(url("steward-dataset-withdraw", draft), {"reason": "Oops"})

    assert response.status_code == 400
    assert "cannot be withdrawn" in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == DatasetStatus.DRAFT


def test_withdraw_is_404_for_an_outsider_and_403_for_a_read_only_role(
    client, other_steward, alice, rdo, published, holder, make_dataset
):
    other_draft = make_dataset(holder, identifier="OWN-DRAFT", status="draft")
    assert as_user(client, other_steward).get(url("steward-dataset-withdraw", other_draft)).status_code == 404
    reason = {"reason": "not mine"}
    assert as_user(client, other_steward).post(url("steward-dataset-withdraw", published), reason).status_code == 403
    assert as_user(client, alice).post(url("steward-dataset-withdraw", published), reason).status_code == 403
    assert as_user(client, rdo).post(url("steward-dataset-withdraw", published), reason).status_code == 403
    published.refresh_from_db()
    assert published.status == DatasetStatus.PUBLISHED
    assert last_event("dataset.withdraw") is None


# --- files --------------------------------------------------------------------------------------


def test_registering_a_folder_from_the_page_scans_it(
    client, steward, draft, storage, django_capture_on_commit_callbacks
):
    content = b"\x00" * 128 + b"DICM" + b"pixels"
    storage.write("riga-test/LV-RTH-MG-2024/a/1.dcm", content)

    with django_capture_on_commit_callbacks(execute=True):
        response = as_user(client, steward).post(url("steward-dataset-files", draft), {"folder": "LV-RTH-MG-2024"})

    assert response.status_code == 302
    row = DatasetFile.objects.get(dataset=draft)
    assert (row.path, row.size_bytes, row.sha256) == (
        "riga-test/LV-RTH-MG-2024/a/1.dcm",
        len(content),
        hashlib.sha256(content).hexdigest(),
    )
    assert last_event("dataset.files_register").actor == steward
    page = client.get(url("steward-dataset-files", draft))
    assert not page.context["running"]
    assert 'http-equiv="refresh"' not in page.content.decode()


@pytest.mark.parametrize(
    ("folder", "message"), [("../../etc", "'..'"), ("/etc", "absolute path"), ("nowhere", "no folder")]
)
def test_a_folder_outside_the_storage_is_a_form_error(client, steward, draft, storage, folder, message):
    response = as_user(client, steward).post(url("steward-dataset-files", draft), {"folder": folder})

    assert response.status_code == 400
    assert message in response.context["form"].errors["folder"][0]
    assert not FileScan.objects.exists()
    assert last_event("dataset.files_register") is None


def test_the_files_page_refreshes_itself_only_while_a_scan_runs(client, steward, draft):
    scan = FileScan.objects.create(
        dataset=draft, folder="riga-test/x", requested_by=steward, status=FileScanStatus.RUNNING, files_total=10
    )
    FileScan.objects.filter(pk=scan.pk).update(files_done=4)

    page = as_user(client, steward).get(url("steward-dataset-files", draft)).content.decode()

    assert '<meta http-equiv="refresh" content="3">' in page
    assert "4 of 10 files" in page
    FileScan.objects.filter(pk=scan.pk).update(status=FileScanStatus.DONE)
    assert 'http-equiv="refresh"' not in client.get(url("steward-dataset-files", draft)).content.decode()


def test_files_page_is_404_for_an_outsider_and_403_for_a_read_only_role(
    client, other_steward, alice, published, storage, holder, make_dataset
):
    other_draft = make_dataset(holder, identifier="OWN-DRAFT", status="draft")
    storage.write("riga-test/LV-RTH-MG-2024/1.dcm", b"x")
    folder = {"folder": "LV-RTH-MG-2024"}
    assert as_user(client, other_steward).post(url("steward-dataset-files", other_draft), folder).status_code == 404
    assert as_user(client, alice).post(url("steward-dataset-files", published), folder).status_code == 403
    assert not FileScan.objects.exists()


# --- the panel on the dataset page --------------------------------------------------------------


def test_the_dataset_page_shows_the_steward_panel_to_its_stewards_only(client, steward, other_steward, published):
    mine = as_user(client, steward).get(url("dataset-detail", published)).content.decode()
    assert "You steward this dataset" in mine
    assert url("steward-dataset-withdraw", published) in mine

    theirs = as_user(client, other_steward).get(url("dataset-detail", published)).content.decode()
    assert "You steward this dataset" not in theirs


def test_saving_the_edit_form_untouched_changes_nothing(client, steward, draft):
    page = as_user(client, steward).get(url("steward-dataset-edit", draft))
    posted = {}
    for group in page.context["form"].groups:
        for field in group:
            value = field.value()
            if value not in (None, "") and not field.field.disabled:
                posted[field.name] = [str(v) for v in value] if isinstance(value, list) else str(value)
    before = AuditEvent.objects.count()

    response = client.post(url("steward-dataset-edit", draft), posted)

    assert response.status_code == 302, response.context and [g.errors for g in response.context["form"].groups]
    assert AuditEvent.objects.count() == before


# --- the form's groups and its long lists of codes ----------------------------------------------


def test_the_form_groups_its_fields_and_marks_the_long_code_lists_for_the_filter_box(client, steward):
    html = as_user(client, steward).get(url("steward-dataset-create")).content.decode()
    legends = re.findall(r'<fieldset class="form-group">\s*<legend>([^<]+)</legend>', html)
    assert legends == [
        "Description",
        "Coverage: subjects and imaging",
        "Provenance and de-identification",
        "Access and conditions of use",
        "Contact and further information",
    ]
    filtered = re.findall(r'data-option-filter="([^"]+)"', html)
    assert filtered == [
        "Cancer conditions (ICD-10)",
        "Imaging modalities (DICOM)",
        "Body parts (DICOM)",
        "Data-use conditions (GA4GH DUO)",
    ]
    assert 'src="/static/catalogue/option-filter.js"' in html and "<script>" not in html  # CSP: no inline script


def test_the_form_without_javascript_saves_every_value_of_the_multiple_choices(client, steward):
    chosen = {
        "conditions": ["C34", "C50", "D05"],
        "modalities": ["CT", "MG", "MR"],
        "body_parts": ["BREAST", "CHEST", "LUNG"],
        "data_use": ["ETHICS_APPROVAL_REQUIRED", "GEOGRAPHICAL_RESTRICTION", "PUBLICATION_REQUIRED"],
    }
    response = as_user(client, steward).post(url("steward-dataset-create"), form_post(**chosen))

    assert response.status_code == 302
    dataset = Dataset.objects.get(identifier="LV-RTH-CT-2022")
    assert sorted(dataset.conditions.values_list("code", flat=True)) == chosen["conditions"]
    assert sorted(dataset.modalities.values_list("code", flat=True)) == chosen["modalities"]
    assert sorted(dataset.body_parts.values_list("code", flat=True)) == chosen["body_parts"]
    assert sorted(dataset.use_conditions.values_list("term__code", flat=True)) == chosen["data_use"]
    assert (dataset.tier, dataset.access_rights) == (1, "RESTRICTED")  # now in the access group
