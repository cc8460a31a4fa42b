"""The public catalogue pages: search with facets, the dataset page, the apply page."""

import re

import pytest
from django.urls import reverse

from tests.conftest import PASSWORD

SEARCH = reverse("catalogue:search")


def detail_url(dataset) -> str:
    return reverse("catalogue:dataset-detail", args=[dataset.identifier])


def result_titles(response) -> list[str]:
    return re.findall(r'<h3><a href="/catalogue/datasets/[^"]+/">([^<]+)</a></h3>', response.content.decode())


@pytest.fixture
def datasets(holder, other_holder, make_dataset):
    return {
        "mg": make_dataset(holder, identifier="LV-MG", title="Riga screening mammograms", modalities=("MG",)),
        "mr": make_dataset(
            other_holder, identifier="ES-MR", title="Valencia breast MRI", modalities=("MR",), keywords=("dce",)
        ),
        "draft": make_dataset(holder, identifier="LV-DRAFT", title="Secret draft collection", status="draft"),
    }


def login(client, user):
    assert client.login(username=user.email, password=PASSWORD)
    return client


class TestSearchPage:
    def test_anonymous_visitors_search_published_datasets_only(self, client, datasets):
        response = client.get(SEARCH)
        assert response.status_code == 200
        assert result_titles(response) == ["Riga screening mammograms", "Valencia breast MRI"]
        assert "Secret draft collection" not in response.content.decode()
        assert "LV-DRAFT" not in response.content.decode()

    def test_text_and_facets_narrow_the_results_and_show_counts(self, client, datasets):
        response = client.get(SEARCH, {"modality": "MR"})
        assert result_titles(response) == ["Valencia breast MRI"]
        html = response.content.decode()
        assert re.search(r'name="modality" value="MR"[^>]*checked', html)
        # the other modality stays offered with its count, so the user can widen the search
        assert re.search(
            r'name="modality" value="MG"[^>]*>\s*<label[^>]*>Mammography <span class="facet-count">\(1', html
        )
        response = client.get(SEARCH, {"q": "dce"})
        assert result_titles(response) == ["Valencia breast MRI"]

    def test_several_values_of_a_facet_are_kept_across_pages(self, client, holder, make_dataset):
        for n in range(25):
            make_dataset(
                holder, identifier=f"P-{n:02d}", title=f"Collection {n:02d}", modalities=("MG", "CT")[n % 2 :][:1]
            )
        response = client.get(SEARCH, {"modality": ["MG", "CT"], "sort": "title"})
        assert response.status_code == 200
        html = response.content.decode()
        assert "25 datasets" in html
        next_link = re.search(r'href="\?([^"]+)" rel="next"', html).group(1).replace("&amp;", "&")
        assert sorted(next_link.split("&")) == ["modality=CT", "modality=MG", "page=2", "sort=title"]
        page_two = client.get(f"{SEARCH}?{next_link}")
        assert result_titles(page_two) == [
            "Collection 20",
            "Collection 21",
            "Collection 22",
            "Collection 23",
            "Collection 24",
        ]

    @pytest.mark.parametrize(
        ("params", "message"),
        [
            ({"modality": "ZZ"}, "Unknown modality “ZZ”"),
            ({"holder": "nowhere"}, "Unknown data holder “nowhere”"),
            ({"sort": "price"}, "Sort by: Select a valid choice"),
            ({"page": "zero"}, "Enter a whole number"),
            ({"q": "x" * 300}, "at most 200 characters"),
        ],
    )
    def test_bad_parameters_are_reported_on_the_page_not_a_500(self, client, datasets, params, message):
        response = client.get(SEARCH, params)
        assert response.status_code == 400
        html = response.content.decode()
        assert 'role="alert"' in html
        assert message in html
        assert result_titles(response)  # the rest of the search still runs

    def test_a_page_past_the_end_shows_the_last_page_with_a_message(self, client, datasets):
        response = client.get(SEARCH, {"page": 99})
        assert response.status_code == 200
        assert "There is no page 99" in response.content.decode()
        assert len(result_titles(response)) == 2

    def test_the_navigation_offers_the_catalogue_to_everyone_and_the_basket_to_researchers(self, client, alice):
        html = client.get(SEARCH).content.decode()
        assert f'href="{SEARCH}"' in html
        assert reverse("catalogue:basket") not in html
        html = login(client, alice).get(SEARCH).content.decode()
        assert f'href="{reverse("catalogue:basket")}"' in html


class TestDatasetPage:
    def test_it_shows_the_public_metadata_and_the_files_without_personal_data(self, client, datasets, steward):
        from catalogue.models import DatasetFile, DataUseCondition, Term

        dataset = datasets["mg"]
        DatasetFile.objects.create(dataset=dataset, path="lv-mg/001.dcm", size_bytes=2048, sha256="a" * 64)
        DataUseCondition.objects.create(
            dataset=dataset,
            term=Term.objects.get(code="GEOGRAPHICAL_RESTRICTION"),
            parameters={"countries": ["LV", "EE"]},
        )
        response = client.get(detail_url(dataset))
        assert response.status_code == 200
        html = response.content.decode()
        for text in [
            "Riga screening mammograms",
            "LV-MG",
            "Mammography (MG)",
            "C50 Malignant neoplasm of breast",
            "lv-mg/001.dcm",
            "a" * 64,
            "2048 bytes",
            "DUO:0000042",
            "DUO:0000022",
            "countries LV, EE",
            "data@riga.example",
            "Siemens Healthineers",
        ]:
            assert text in html, text
        for private in [steward.email, steward.full_name, "rdo@riga.example"]:
            assert private not in html

    def test_a_draft_is_not_found_for_the_public_and_researchers(self, client, datasets, alice):
        assert client.get(detail_url(datasets["draft"])).status_code == 404
        assert login(client, alice).get(detail_url(datasets["draft"])).status_code == 404

    def test_an_unknown_identifier_is_not_found(self, client, db):
        assert client.get(reverse("catalogue:dataset-detail", args=["NOPE"])).status_code == 404

    def test_the_steward_of_the_dataset_sees_their_draft_with_the_steward_panel(self, client, datasets, steward):
        response = login(client, steward).get(detail_url(datasets["draft"]))
        assert response.status_code == 200
        assert response.context["can_steward"] is True
        assert "catalogue/_steward_panel.html" in [t.name for t in response.templates]

    def test_another_holders_steward_gets_no_steward_panel(self, client, datasets, other_steward):
        response = login(client, other_steward).get(detail_url(datasets["mg"]))
        assert response.status_code == 200
        assert response.context["can_steward"] is False
        assert "catalogue/_steward_panel.html" not in [t.name for t in response.templates]
        assert login(client, other_steward).get(detail_url(datasets["draft"])).status_code == 404


class TestApplyPage:
    def test_it_explains_the_process_and_asks_anonymous_visitors_to_sign_in(self, client, datasets):
        url = reverse("catalogue:dataset-apply", args=["LV-MG"])
        html = client.get(url).content.decode()
        for step in [
            "Ethics approval",
            "impact assessment",
            "Legal representations",
            "Research Data Office",
            "Access Committee",
            "agreement",
            "Time-limited access",
            "General research use",
        ]:
            assert step.lower() in html.lower(), step
        assert f"{reverse('login')}?next={url}" in html.replace("%2F", "/")
        response = client.post(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))

    def test_a_researcher_adds_the_dataset_to_the_basket(self, client, datasets, alice):
        from catalogue.models import BasketItem

        url = reverse("catalogue:dataset-apply", args=["LV-MG"])
        response = login(client, alice).post(url)
        assert response.status_code == 302
        assert response.url == reverse("catalogue:basket")
        assert list(BasketItem.objects.filter(user=alice).values_list("dataset__identifier", flat=True)) == ["LV-MG"]
        client.post(url)  # twice is still once
        assert BasketItem.objects.filter(user=alice).count() == 1
        assert "This dataset is in your basket" in client.get(url).content.decode()

    def test_a_user_without_the_researcher_role_cannot_add_to_a_basket(self, client, datasets, steward):
        from catalogue.models import BasketItem

        url = reverse("catalogue:dataset-apply", args=["LV-MG"])
        assert "Only researchers can apply" in login(client, steward).get(url).content.decode()
        response = client.post(url, follow=True)
        assert "Only researchers collect datasets" in response.content.decode()
        assert not BasketItem.objects.exists()

    def test_the_apply_page_of_a_draft_is_not_found_for_researchers(self, client, datasets, alice):
        assert login(client, alice).post(reverse("catalogue:dataset-apply", args=["LV-DRAFT"])).status_code == 404


class TestSearchThatFinds:
    def test_each_example_in_the_search_box_finds_datasets_in_the_demo(self, client, db):
        from catalogue.views.search import SEARCH_EXAMPLES
        from portal.demo import load_demo

        load_demo()
        page = client.get(SEARCH).content.decode()
        assert f'placeholder="e.g. {", ".join(SEARCH_EXAMPLES)}"' in page
        for example in SEARCH_EXAMPLES:
            assert result_titles(client.get(SEARCH, {"q": example})), example

    def test_a_search_that_finds_nothing_keeps_its_filters_and_says_which_to_drop(self, client, datasets):
        response = client.get(SEARCH, {"modality": ["MG"], "country": ["ES"]})
        body = response.content.decode()
        assert result_titles(response) == []
        assert re.search(r'name="modality" value="MG"[^>]*checked', body)  # the filters are kept
        assert re.search(r'name="country" value="ES"[^>]*checked', body)
        drops = re.findall(r'<li><a href="/catalogue/\?([^"]+)">Without ([^<]+)</a>: (\d+) dataset', body)
        assert {(label, count) for _, label, count in drops} == {("Modality: MG", "1"), ("Country: Spain", "1")} or {
            (label.split(":")[0], count) for _, label, count in drops
        } == {("Modality", "1"), ("Country", "1")}
        for query, _, _ in drops:  # each suggestion is the same search with one filter fewer, and finds something
            assert result_titles(client.get(f"{SEARCH}?{query.replace('&amp;', '&')}"))

    def test_words_that_find_nothing_are_offered_as_the_thing_to_drop(self, client, datasets):
        body = client.get(SEARCH, {"q": "xylophone", "modality": ["MG"]}).content.decode()
        assert "Without the words" in body and "xylophone" in body

    def test_a_long_facet_shows_every_value_behind_show_more_without_javascript(self, client, holder, make_dataset):
        for number in range(12):
            maker = (f"Maker {number:02}",)
            make_dataset(holder, identifier=f"LV-K{number:02}", title=f"Set {number}", manufacturers=maker)
        body = client.get(SEARCH).content.decode()
        more = body[body.index('class="facet-more"') :]
        assert "Show 4 more" in more
        assert len(re.findall(r'name="manufacturer" value="', body)) == 12  # all values are in the page
        assert '<script src="/static/catalogue/search.js" defer></script>' in body
