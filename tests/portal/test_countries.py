"""Countries are chosen and read by name from a maintained list, stored as ISO codes, and validated."""

import pytest
from django.urls import reverse

from access_requests.services import applications as svc
from portal.countries import country_name, is_country
from portal.errors import InvalidInput
from tests.access_requests.conftest import make_dataset

pytestmark = pytest.mark.django_db


def test_codes_read_as_names_and_unknown_codes_are_not_countries():
    assert country_name("lv") == "Latvia" and country_name("ES") == "Spain"
    assert is_country("EE") and not is_country("ZZ") and not is_country("")
    assert country_name("ZZ") == "ZZ"  # shown as given rather than hidden


def test_sign_up_offers_countries_by_name_with_none_chosen(client):
    body = client.get(reverse("signup")).content.decode()
    assert '<option value="LV">Latvia</option>' in body
    options = body.split('name="country"', 1)[1].split("</select>", 1)[0]
    assert options.count(" selected>") == 1 and 'value="" selected>' in options  # only the empty choice


def test_sign_up_refuses_a_country_not_on_the_list(client):
    response = client.post(reverse("signup"), {"email": "x@uni.example", "country": "ZZ", "full_name": "X"})
    assert response.status_code in (200, 400)
    assert "Select a valid choice" in response.content.decode()


def test_the_project_refuses_an_unknown_country_code(alice, holder):
    dataset = make_dataset(holder, "LV-MG-001")
    application = svc.application_create(actor=alice, title="Study", datasets=[dataset])
    with pytest.raises(InvalidInput) as refused:
        svc.application_update(actor=alice, application=application, data={"organisation_country": "zz"})
    assert "organisation_country" in refused.value.fields
    svc.application_update(actor=alice, application=application, data={"organisation_country": "ee"})
    application.refresh_from_db()
    assert application.organisation_country == "EE"


def test_pages_and_search_facets_name_the_country(client, holder):
    make_dataset(holder, "LV-MG-001")
    assert "(Latvia)" in client.get(reverse("catalogue:dataset-detail", args=["LV-MG-001"])).content.decode()
    search = client.get(reverse("catalogue:search")).content.decode()
    assert "Latvia" in search.split('name="country"', 1)[1][:400]
