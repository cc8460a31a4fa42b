"""The researcher's basket: only published datasets, once each, with the conditions they commit to."""

import pytest
from django.urls import reverse

from catalogue.models import BasketItem, Dataset, DatasetStatus
from catalogue.search import basket_add, basket_remove
from portal.errors import InvalidInput, NotPermitted
from tests.conftest import PASSWORD

BASKET = reverse("catalogue:basket")


def remove_url(identifier: str) -> str:
    return reverse("catalogue:basket-remove", args=[identifier])


@pytest.fixture
def datasets(holder, make_dataset):
    return {
        "geo": make_dataset(
            holder,
            identifier="LV-GEO",
            title="Baltic mammograms",
            data_use=("GEOGRAPHICAL_RESTRICTION", "PUBLICATION_REQUIRED"),
        ),
        "open": make_dataset(holder, identifier="LV-OPEN", title="Open lung CT", modalities=("CT",)),
        "draft": make_dataset(holder, identifier="LV-DRAFT", title="Draft", status="draft"),
    }


@pytest.fixture
def signed_in(client, alice):
    assert client.login(username=alice.email, password=PASSWORD)
    return client


def test_the_basket_lists_each_dataset_with_the_conditions_the_researcher_commits_to(signed_in, alice, datasets):
    from catalogue.models import DataUseCondition

    DataUseCondition.objects.filter(dataset=datasets["geo"], term__code="GEOGRAPHICAL_RESTRICTION").update(
        parameters={"countries": ["LV", "EE", "LT"]}
    )
    basket_add(actor=alice, dataset=datasets["geo"])
    basket_add(actor=alice, dataset=datasets["open"])
    html = signed_in.get(BASKET).content.decode()
    assert html.index("Baltic mammograms") < html.index("Open lung CT")  # in the order they were added
    for text in ["Geographical restriction", "DUO:0000022", "countries LV, EE, LT", "Publication required",
                 "DUO:0000019", "General research use", "Download access"]:  # fmt: skip
        assert text in html, text


def test_removing_takes_the_dataset_out_and_twice_is_harmless(signed_in, alice, datasets):
    basket_add(actor=alice, dataset=datasets["geo"])
    response = signed_in.post(remove_url("LV-GEO"), follow=True)
    assert "LV-GEO was taken out of your basket" in response.content.decode()
    assert not BasketItem.objects.filter(user=alice).exists()
    response = signed_in.post(remove_url("LV-GEO"), follow=True)
    assert response.status_code == 200
    assert "LV-GEO was not in your basket" in response.content.decode()
    assert signed_in.get(remove_url("LV-GEO")).status_code == 405


def test_only_published_datasets_and_only_researchers(alice, steward, datasets):
    with pytest.raises(InvalidInput):
        basket_add(actor=alice, dataset=datasets["draft"])
    with pytest.raises(NotPermitted):
        basket_add(actor=steward, dataset=datasets["open"])
    basket_add(actor=alice, dataset=datasets["open"])
    basket_add(actor=alice, dataset=datasets["open"])
    assert BasketItem.objects.filter(user=alice).count() == 1
    assert not BasketItem.objects.filter(user=steward).exists()


def test_a_dataset_withdrawn_after_it_was_added_is_flagged(signed_in, alice, datasets):
    basket_add(actor=alice, dataset=datasets["open"])
    Dataset.objects.filter(pk=datasets["open"].pk).update(status=DatasetStatus.WITHDRAWN)
    html = signed_in.get(BASKET).content.decode()
    assert "no longer published: remove it" in html
    assert reverse("catalogue:dataset-detail", args=["LV-OPEN"]) not in html  # its page is gone for her
    signed_in.post(remove_url("LV-OPEN"))
    assert not BasketItem.objects.exists()


def test_each_researcher_sees_only_their_own_basket(client, alice, bob, datasets):
    basket_add(actor=alice, dataset=datasets["geo"])
    assert client.login(username=bob.email, password=PASSWORD)
    html = client.get(BASKET).content.decode()
    assert "Baltic mammograms" not in html
    assert "Your basket is empty" in html
    client.post(remove_url("LV-GEO"))
    assert BasketItem.objects.filter(user=alice).count() == 1
    assert basket_remove(actor=bob, identifier="LV-GEO") is False


def test_anonymous_visitors_are_sent_to_sign_in(client, datasets):
    response = client.get(BASKET)
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
    assert client.post(remove_url("LV-GEO")).status_code == 302
