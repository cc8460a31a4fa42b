"""The catalogue API: public search and reads, and stewards' writes with the pages' rules."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from catalogue.models import Dataset, DatasetStatus, FileScan
from tests.conftest import PASSWORD
from tests.helpers import last_event

LIST = reverse("api-datasets")


def detail(identifier: str, action: str = "") -> str:
    if not action:
        return reverse("api-dataset-detail", args=[identifier])
    return reverse(f"api-dataset-{action}", args=[identifier])


def api(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
        client.credentials(HTTP_X_CONFIRM_PASSWORD=PASSWORD)  # decisive acts ask for the password
    return client


def identifiers(response) -> list[str]:
    return [item["identifier"] for item in response.json()["results"]]


@pytest.fixture
def datasets(holder, other_holder, make_dataset):
    return {
        "mg": make_dataset(holder, identifier="LV-MG", title="Riga screening mammograms", modalities=("MG",)),
        "mr": make_dataset(other_holder, identifier="ES-MR", title="Valencia breast MRI", modalities=("MR",)),
        "draft": make_dataset(holder, identifier="LV-DRAFT", title="Riga draft", status="draft"),
        "withdrawn": make_dataset(other_holder, identifier="ES-OLD", title="Old", status="withdrawn"),
    }


NEW_DATASET = {
    "holder": "riga-test",
    "identifier": "LV-NEW-CT",
    "title": "Riga thoracic CT",
    "description": "Low-dose chest CT.",
    "subjects_count": 10,
    "studies_count": 12,
    "provenance": "Clinical routine.",
    "modalities": ["CT"],
    "conditions": ["C34"],
    "body_parts": ["CHEST"],
    "birth_sexes": ["FEMALE", "MALE"],
    "access_modes": ["DOWNLOAD"],
    "data_use": [{"code": "GEOGRAPHICAL_RESTRICTION", "parameters": {"countries": ["LV"]}}],
    "manufacturers": ["Siemens Healthineers"],
    "keywords": ["lung", "thorax"],
}


class TestReading:
    def test_anonymous_callers_list_published_datasets_only(self, datasets):
        response = api().get(LIST)
        assert response.status_code == 200
        body = response.json()
        assert body["count"] == 2
        assert identifiers(response) == ["LV-MG", "ES-MR"]
        assert "facets" not in body

    def test_no_personal_data_reaches_anonymous_callers(self, datasets, steward):
        text = api().get(LIST).content.decode() + api().get(detail("LV-MG")).content.decode()
        assert "data@riga.example" in text  # the holder's public contact point
        for private in (steward.email, steward.full_name, "rdo@riga.example"):
            assert private not in text

    def test_filters_facets_and_sorting(self, datasets):
        assert identifiers(api().get(LIST, {"modality": "MR"})) == ["ES-MR"]
        assert identifiers(api().get(LIST, {"modality": ["MR", "MG"], "country": "LV"})) == ["LV-MG"]
        assert identifiers(api().get(LIST, {"holder": "valencia-test"})) == ["ES-MR"]
        assert identifiers(api().get(LIST, {"sort": "title"})) == ["LV-MG", "ES-MR"]
        body = api().get(LIST, {"modality": "MR", "facets": "true"}).json()
        modality = {item["value"]: (item["count"], item["selected"]) for item in body["facets"]["modality"]}
        assert modality == {"MR": (1, True), "MG": (1, False)}
        assert {item["value"]: item["count"] for item in body["facets"]["country"]} == {"ES": 1}
        assert set(body["facets"]) == {
            "modality", "condition", "body_part", "manufacturer", "country", "holder", "node",
            "data_use", "access_mode",
        }  # fmt: skip

    def test_the_detail_lists_every_public_field_and_the_files(self, datasets):
        from catalogue.models import DatasetFile

        DatasetFile.objects.create(dataset=datasets["mg"], path="lv-mg/1.dcm", size_bytes=10, sha256="b" * 64)
        body = api().get(detail("LV-MG")).json()
        assert body["holder"] == {
            "slug": "riga-test",
            "name": "Riga Test Hospital",
            "country": "LV",
            "city": "",
            "website": "",
            "contact_point": "data@riga.example",
        }
        assert body["modalities"] == [{"code": "MG", "label": "Mammography"}]
        assert body["data_use"] == [
            {"code": "GENERAL_RESEARCH_USE", "label": "General research use", "duo": "DUO:0000042", "parameters": {}}
        ]
        assert body["files"] == [
            {"path": "lv-mg/1.dcm", "size_bytes": 10, "sha256": "b" * 64, "media_type": "application/dicom"}
        ]
        assert body["apply_url"] == "http://testserver/catalogue/datasets/LV-MG/apply/"

    def test_drafts_and_withdrawn_datasets_are_not_found_for_the_public(self, datasets, alice):
        for client in (api(), api(alice)):
            for identifier in ("LV-DRAFT", "ES-OLD"):
                response = client.get(detail(identifier))
                assert response.status_code == 404
                assert response.json()["detail"]
        assert api(alice).get(LIST, {"status": "draft"}).json()["count"] == 0

    def test_stewards_see_and_filter_their_own_drafts(self, datasets, steward):
        response = api(steward).get(LIST, {"status": "draft"})
        assert identifiers(response) == ["LV-DRAFT"]
        assert api(steward).get(detail("LV-DRAFT")).status_code == 200
        assert api(steward).get(detail("ES-OLD")).status_code == 404

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"modality": "XX"}, "modality"),
            ({"condition": "C999"}, "condition"),
            ({"holder": "nowhere"}, "holder"),
            ({"country": "ZZ"}, "country"),
            ({"manufacturer": "Acme"}, "manufacturer"),
            ({"data_use": "ANYTHING"}, "data_use"),
            ({"access_mode": "TELEPATHY"}, "access_mode"),
            ({"status": "secret"}, "status"),
            ({"sort": "price"}, "sort"),
            ({"facets": "maybe"}, "facets"),
            ({"q": "x" * 201}, "q"),
            ({"page_size": "1000"}, "page_size"),
            ({"page_size": "-1"}, "page_size"),
            ({"page": "99"}, "page"),
            ({"page": "abc"}, "page"),
        ],
    )
    def test_bad_query_parameters_are_a_400_naming_the_field(self, datasets, params, field):
        response = api().get(LIST, params)
        assert response.status_code == 400, response.content
        assert field in response.json()["errors"]

    @pytest.mark.parametrize("identifier", ["-starts-with-dash", "has space", "x" * 65, "semi;colon"])
    def test_a_malformed_identifier_names_no_dataset(self, db, identifier):
        response = api().get(detail(identifier))
        assert response.status_code == 404
        assert response.json()["detail"] == "No such dataset."

    def test_an_unknown_identifier_is_a_json_404(self, db):
        response = api().get(detail("NO-SUCH"))
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"


class TestStewardWrites:
    def test_a_steward_creates_a_draft_for_their_holder(self, steward, holder):
        response = api(steward).post(LIST, NEW_DATASET, format="json")
        assert response.status_code == 201, response.content
        body = response.json()
        assert (body["identifier"], body["status"]) == ("LV-NEW-CT", "draft")
        assert body["data_use"][0]["parameters"] == {"countries": ["LV"]}
        event = last_event("dataset.create")
        assert (event.actor_id, event.target_id) == (steward.pk, str(Dataset.objects.get(identifier="LV-NEW-CT").pk))
        assert api().get(detail("LV-NEW-CT")).status_code == 404  # a draft stays private

    def test_create_refuses_an_unknown_holder_a_foreign_holder_and_unknown_codes(self, steward, other_holder):
        response = api(steward).post(LIST, {**NEW_DATASET, "holder": "nowhere"}, format="json")
        assert (response.status_code, list(response.json()["errors"])) == (400, ["holder"])
        response = api(steward).post(LIST, {**NEW_DATASET, "holder": "valencia-test"}, format="json")
        assert response.status_code == 403
        response = api(steward).post(LIST, {**NEW_DATASET, "modalities": ["XRAY"]}, format="json")
        assert response.status_code == 400
        assert "XRAY" in str(response.json()["errors"]["modalities"])
        response = api(steward).post(LIST, {**NEW_DATASET, "subjects_count": "many"}, format="json")
        assert "subjects_count" in response.json()["errors"]
        assert not Dataset.objects.exists()

    def test_anonymous_callers_cannot_write(self, datasets):
        assert api().post(LIST, NEW_DATASET, format="json").status_code == 401
        assert api().patch(detail("LV-MG"), {"title": "x"}, format="json").status_code == 401
        assert api().post(detail("LV-MG", "withdraw"), {"reason": "x"}, format="json").status_code == 401

    def test_a_steward_edits_their_dataset_and_the_change_is_audited_and_searchable(self, datasets, steward):
        response = api(steward).patch(detail("LV-MG"), {"title": "Tallinn tomosynthesis archive"}, format="json")
        assert response.status_code == 200, response.content
        assert response.json()["title"] == "Tallinn tomosynthesis archive"
        event = last_event("dataset.update")
        assert (event.actor_id, event.payload["changed"]) == (steward.pk, ["title"])
        assert identifiers(api().get(LIST, {"q": "tallinn"})) == ["LV-MG"]

    @pytest.mark.parametrize(
        ("who", "identifier", "status"),
        [
            ("alice", "LV-DRAFT", 404),  # an outsider cannot see the draft
            ("alice", "LV-MG", 403),  # a researcher sees the published dataset but may not change it
            ("other_steward", "LV-MG", 403),  # another holder's steward
            ("other_steward", "LV-DRAFT", 404),
            ("rdo", "LV-DRAFT", 403),  # sees everything, stewards nothing
        ],
    )
    def test_others_cannot_write(self, request, datasets, who, identifier, status):
        user = request.getfixturevalue(who)
        before = last_event()
        client = api(user)
        assert client.patch(detail(identifier), {"title": "Hijacked"}, format="json").status_code == status
        assert client.post(detail(identifier, "publish")).status_code == status
        assert client.post(detail(identifier, "withdraw"), {"reason": "x"}, format="json").status_code == status
        assert client.post(detail(identifier, "register-files"), {"folder": "x"}, format="json").status_code == status
        assert Dataset.objects.get(identifier=identifier).title != "Hijacked"
        assert last_event() == before

    def test_publish_and_withdraw_follow_the_allowed_transitions(self, datasets, steward):
        client = api(steward)
        response = client.post(detail("LV-DRAFT", "publish"))
        assert (response.status_code, response.json()["status"]) == (200, "published")
        assert last_event("dataset.publish").actor_id == steward.pk
        assert api().get(detail("LV-DRAFT")).status_code == 200
        response = client.post(detail("LV-DRAFT", "withdraw"), {}, format="json")
        assert (response.status_code, list(response.json()["errors"])) == (400, ["reason"])
        response = client.post(detail("LV-DRAFT", "withdraw"), {"reason": "consent revoked"}, format="json")
        assert (response.status_code, response.json()["status"]) == (200, "withdrawn")
        assert last_event("dataset.withdraw").payload == {"reason": "consent revoked"}
        assert api().get(detail("LV-DRAFT")).status_code == 404

    def test_publishing_an_incomplete_draft_is_a_conflict_naming_the_fields(self, holder, steward, make_dataset):
        make_dataset(holder, identifier="LV-BARE", status="draft", keywords=(), manufacturers=())
        response = api(steward).post(detail("LV-BARE", "publish"))
        assert response.status_code == 409
        assert set(response.json()["errors"]) == {"keywords", "manufacturers"}
        assert Dataset.objects.get(identifier="LV-BARE").status == DatasetStatus.DRAFT

    def test_a_steward_registers_the_files_of_a_folder(self, datasets, steward, storage):
        storage.write("riga-test/lv-mg/1.dcm", b"DICM")
        response = api(steward).post(detail("LV-MG", "register-files"), {"folder": "lv-mg"}, format="json")
        assert response.status_code == 202, response.content
        scan = FileScan.objects.get(pk=response.json()["id"])
        assert (scan.dataset.identifier, scan.folder) == ("LV-MG", "riga-test/lv-mg")
        assert "requested_by" not in response.json()
        assert last_event("dataset.files_register").payload == {"folder": "riga-test/lv-mg", "scan": scan.pk}
        response = api(steward).post(detail("LV-MG", "register-files"), {"folder": "../.."}, format="json")
        assert response.status_code == 400
        assert "folder" in response.json()["errors"]
