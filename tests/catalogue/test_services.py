"""Dataset services: input rules, the status table, stewards' reach, audit events."""

import pytest

from catalogue.models import Dataset, DatasetStatus, DataUseCondition, Manufacturer
from catalogue.services import dataset_create, dataset_publish, dataset_update, dataset_withdraw
from portal.errors import InvalidInput, NotPermitted, TransitionError
from portal.models import AuditEvent
from tests.catalogue.conftest import dataset_input
from tests.helpers import last_event


def codes(manager):
    return sorted(manager.values_list("code", flat=True))


def test_it_creates_a_draft_with_its_codes_and_records_the_event(steward, holder):
    dataset = dataset_create(actor=steward, holder=holder, data=dataset_input())

    assert dataset.status == DatasetStatus.DRAFT
    assert dataset.holder == holder
    assert codes(dataset.modalities) == ["MG"]
    assert codes(dataset.conditions) == ["C50"]
    assert codes(dataset.body_parts) == ["BREAST"]
    assert list(dataset.manufacturers.values_list("name", flat=True)) == ["Siemens Healthineers"]
    assert dataset.keywords == ["mammography", "screening"]
    geo = dataset.use_conditions.get(term__code="GEOGRAPHICAL_RESTRICTION")
    assert geo.parameters == {"countries": ["EE", "LV"]}
    event = last_event("dataset.create")
    assert event.actor == steward
    assert event.target_id == str(dataset.pk)
    assert event.payload["identifier"] == "LV-RTH-MG-2024"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("modalities", ["MG", "XX"], "unknown code 'XX'"),
        ("conditions", ["C50", "C99"], "unknown code 'C99'"),
        ("body_parts", ["NOSUCHPART"], "unknown code 'NOSUCHPART'"),
        ("birth_sexes", ["F"], "unknown code 'F'"),
        ("access_modes", ["TELEPORT"], "unknown code 'TELEPORT'"),
        ("data_use", [{"code": "DUO_MADE_UP"}], "unknown code 'DUO_MADE_UP'"),
    ],
)
def test_it_refuses_an_unknown_code_naming_the_field_and_the_value(steward, holder, field, value, message):
    with pytest.raises(InvalidInput) as caught:
        dataset_create(actor=steward, holder=holder, data=dataset_input(**{field: value}))

    assert caught.value.fields == {field: [message]}
    assert f"{field}: {message}" in caught.value.message
    assert caught.value.status == 400
    assert not Dataset.objects.exists()


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ({"code": "GEOGRAPHICAL_RESTRICTION", "parameters": {}}, "GEOGRAPHICAL_RESTRICTION needs countries"),
        ({"code": "GEOGRAPHICAL_RESTRICTION", "parameters": {"countries": ["LV", "XX"]}}, "unknown country code 'XX'"),
        ({"code": "DISEASE_SPECIFIC_RESEARCH", "parameters": {"conditions": ["C50", "Z99"]}}, "unknown condition code"),
        ({"code": "DISEASE_SPECIFIC_RESEARCH", "parameters": {}}, "DISEASE_SPECIFIC_RESEARCH needs conditions"),
        ({"code": "TIME_LIMIT_ON_USE", "parameters": {"months": 0}}, "TIME_LIMIT_ON_USE needs months"),
        ({"code": "TIME_LIMIT_ON_USE", "parameters": {"months": "24"}}, "TIME_LIMIT_ON_USE needs months"),
        ({"code": "TIME_LIMIT_ON_USE", "parameters": {"months": True}}, "TIME_LIMIT_ON_USE needs months"),
        ({"code": "ETHICS_APPROVAL_REQUIRED", "parameters": {"months": 3}}, "unknown parameter 'months'"),
        ({"code": "ETHICS_APPROVAL_REQUIRED", "parameters": []}, "parameters must be an object"),
    ],
)
def test_it_checks_each_data_use_conditions_parameters(steward, holder, condition, message):
    with pytest.raises(InvalidInput) as caught:
        dataset_create(actor=steward, holder=holder, data=dataset_input(data_use=[condition]))

    assert list(caught.value.fields) == ["data_use"]
    assert message in caught.value.fields["data_use"][0]


def test_it_keeps_valid_parameters_normalised(steward, holder):
    data = dataset_input(
        data_use=[
            {"code": "DISEASE_SPECIFIC_RESEARCH", "parameters": {"conditions": ["c50", "D05"]}},
            {"code": "TIME_LIMIT_ON_USE", "parameters": {"months": 24, "note": "from the grant"}},
            {"code": "GEOGRAPHICAL_RESTRICTION", "parameters": {"countries": ["lv", "LV", "es"]}},
        ]
    )
    dataset = dataset_create(actor=steward, holder=holder, data=data)

    params = {c.term.code: c.parameters for c in dataset.use_conditions.select_related("term")}
    assert params == {
        "DISEASE_SPECIFIC_RESEARCH": {"conditions": ["C50", "D05"]},
        "TIME_LIMIT_ON_USE": {"months": 24, "note": "from the grant"},
        "GEOGRAPHICAL_RESTRICTION": {"countries": ["ES", "LV"]},
    }


def test_it_writes_nothing_when_one_field_is_bad(steward, holder):
    before = AuditEvent.objects.count()
    data = dataset_input(manufacturers=["Brand New Vendor"], modalities=["MG", "XX"], age_min=80, age_max=20)

    with pytest.raises(InvalidInput):
        dataset_create(actor=steward, holder=holder, data=data)

    assert not Dataset.objects.exists()
    assert not Manufacturer.objects.filter(name="Brand New Vendor").exists()
    assert AuditEvent.objects.count() == before


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"age_min": 80, "age_max": 20}, "age_max"),
        ({"acquisition_start": "2024-01-01", "acquisition_end": "2023-01-01"}, "acquisition_end"),
        ({"subjects_count": 500, "studies_count": 10}, "subjects_count"),
        ({"identifier": "has spaces"}, "identifier"),
        ({"identifier": "../etc"}, "identifier"),
        ({"subjects_count": -1}, "subjects_count"),
        ({"acquisition_start": "not a date"}, "acquisition_start"),
        ({"title": ""}, "title"),
        ({"dataset_type": "imaginary"}, "dataset_type"),
        ({"landing_page": "not a url"}, "landing_page"),
    ],
)
def test_model_rules_come_back_as_field_errors(steward, holder, overrides, field):
    with pytest.raises(InvalidInput) as caught:
        dataset_create(actor=steward, holder=holder, data=dataset_input(**overrides))

    assert field in caught.value.fields


def test_it_refuses_a_second_dataset_with_the_same_identifier(steward, holder, draft):
    with pytest.raises(InvalidInput) as caught:
        dataset_create(actor=steward, holder=holder, data=dataset_input())

    assert "identifier" in caught.value.fields
    assert Dataset.objects.count() == 1


def test_it_refuses_unknown_keys_and_status(steward, holder):
    with pytest.raises(InvalidInput) as caught:
        dataset_create(actor=steward, holder=holder, data=dataset_input(colour="blue", status="published"))

    assert set(caught.value.fields) == {"colour", "status"}


def test_update_changes_only_the_given_keys_and_lists_them_in_the_event(steward, draft):
    updated = dataset_update(
        actor=steward, dataset=draft, data={"title": "New title", "modalities": ["MG", "US"], "keywords": ["x"]}
    )

    assert updated.title == "New title"
    assert codes(updated.modalities) == ["MG", "US"]
    assert codes(updated.conditions) == ["C50"]  # untouched
    assert updated.use_conditions.count() == 2  # untouched
    assert updated.keywords == ["x"]
    event = last_event("dataset.update")
    assert event.payload == {"changed": ["keywords", "modalities", "title"]}
    assert event.actor == steward


def test_update_replaces_data_use_conditions_as_given(steward, draft):
    dataset_update(
        actor=steward, dataset=draft, data={"data_use": [{"code": "TIME_LIMIT_ON_USE", "parameters": {"months": 6}}]}
    )

    rows = DataUseCondition.objects.filter(dataset=draft).select_related("term")
    assert [(r.term.code, r.parameters) for r in rows] == [("TIME_LIMIT_ON_USE", {"months": 6})]


def test_an_update_that_changes_nothing_writes_no_event(steward, draft):
    before = AuditEvent.objects.count()

    dataset_update(actor=steward, dataset=draft, data={"title": draft.title, "modalities": ["MG"]})

    assert AuditEvent.objects.count() == before


def test_the_identifier_may_change_while_the_dataset_was_never_published(steward, draft):
    updated = dataset_update(actor=steward, dataset=draft, data={"identifier": "LV-RTH-MG-2025"})

    assert updated.identifier == "LV-RTH-MG-2025"
    assert last_event("dataset.update").payload["identifier"] == {"from": "LV-RTH-MG-2024", "to": "LV-RTH-MG-2025"}


@pytest.mark.parametrize("withdraw_first", [False, True])
def test_the_identifier_is_fixed_once_the_dataset_was_published(steward, published, withdraw_first):
    if withdraw_first:
        dataset_withdraw(actor=steward, dataset=published, reason="Consent review")

    with pytest.raises(InvalidInput) as caught:
        dataset_update(actor=steward, dataset=published, data={"identifier": "SOMETHING-ELSE", "title": "T"})

    assert "identifier" in caught.value.fields
    published.refresh_from_db()
    assert published.identifier == "LV-RTH-MG-2024"
    assert published.title != "T"


def test_publishing_needs_every_mandatory_field(steward, holder):
    data = dataset_input(keywords=[], manufacturers=[], body_parts=[], data_use=[], provenance="")
    dataset = dataset_create(actor=steward, holder=holder, data=data)

    with pytest.raises(TransitionError) as caught:
        dataset_publish(actor=steward, dataset=dataset)

    assert set(caught.value.fields) == {"keywords", "manufacturers", "body_parts", "data_use", "provenance"}
    dataset.refresh_from_db()
    assert dataset.status == DatasetStatus.DRAFT
    assert last_event("dataset.publish") is None


def test_publishing_a_complete_draft_without_files_succeeds_and_is_recorded(steward, draft):
    dataset = dataset_publish(actor=steward, dataset=draft)

    assert dataset.status == DatasetStatus.PUBLISHED
    assert dataset.published_at is not None
    event = last_event("dataset.publish")
    assert event.actor == steward
    assert event.payload == {"from": "draft", "files": 0}


def test_publishing_twice_returns_quietly_with_one_event(steward, published):
    again = dataset_publish(actor=steward, dataset=published)

    assert again.status == DatasetStatus.PUBLISHED
    assert AuditEvent.objects.filter(verb="dataset.publish").count() == 1


def test_withdrawing_needs_a_reason_and_records_it(steward, published):
    with pytest.raises(InvalidInput) as caught:
        dataset_withdraw(actor=steward, dataset=published, reason="  ")
    assert "reason" in caught.value.fields

    dataset = dataset_withdraw(actor=steward, dataset=published, reason="Consent withdrawn by a subject")

    assert dataset.status == DatasetStatus.WITHDRAWN
    assert last_event("dataset.withdraw").payload == {"reason": "Consent withdrawn by a subject"}


def test_a_draft_cannot_be_withdrawn(steward, draft):
    with pytest.raises(TransitionError) as caught:
        dataset_withdraw(actor=steward, dataset=draft, reason="No")

    assert caught.value.status == 409
    draft.refresh_from_db()
    assert draft.status == DatasetStatus.DRAFT


def test_a_withdrawn_dataset_can_be_published_again(steward, published):
    dataset_withdraw(actor=steward, dataset=published, reason="Fixing labels")
    dataset_withdraw(actor=steward, dataset=published, reason="again")  # quiet
    assert AuditEvent.objects.filter(verb="dataset.withdraw").count() == 1

    dataset = dataset_publish(actor=steward, dataset=published)

    assert dataset.status == DatasetStatus.PUBLISHED
    assert last_event("dataset.publish").payload["from"] == "withdrawn"


def test_a_steward_cannot_touch_another_institutions_datasets(other_steward, steward, holder, draft):
    before = AuditEvent.objects.count()
    attempts = [
        lambda: dataset_create(actor=other_steward, holder=holder, data=dataset_input(identifier="OTHER-1")),
        lambda: dataset_update(actor=other_steward, dataset=draft, data={"title": "Hijacked"}),
        lambda: dataset_publish(actor=other_steward, dataset=draft),
        lambda: dataset_withdraw(actor=other_steward, dataset=draft, reason="mine now"),
    ]
    for attempt in attempts:
        with pytest.raises(NotPermitted):
            attempt()

    draft.refresh_from_db()
    assert draft.title != "Hijacked"
    assert draft.status == DatasetStatus.DRAFT
    assert Dataset.objects.count() == 1
    assert AuditEvent.objects.count() == before


def test_a_researcher_cannot_create_datasets(alice, holder):
    with pytest.raises(NotPermitted):
        dataset_create(actor=alice, holder=holder, data=dataset_input())


@pytest.mark.postgres
def test_a_write_refreshes_the_search_vector(steward, draft):
    from catalogue.search import text_filter

    dataset_update(actor=steward, dataset=draft, data={"title": "Glioblastoma perfusion series"})

    assert list(text_filter(Dataset.objects.all(), "glioblastoma")) == [draft]
