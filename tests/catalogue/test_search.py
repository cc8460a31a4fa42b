"""Search selectors: who sees what, text search, facets with counts, sorting."""

import pytest

from catalogue.models import Dataset
from catalogue.search import dataset_refresh_search_vector
from catalogue.selectors import (
    DatasetQuery,
    FacetOptions,
    dataset_facet_counts,
    dataset_search,
    dataset_search_page,
    datasets_visible_to,
)


def identifiers(datasets) -> list[str]:
    return [dataset.identifier for dataset in datasets]


def counts(groups, facet: str) -> dict[str, int]:
    return {value.value: value.count for group in groups if group.name == facet for value in group.values}


@pytest.fixture
def catalogue(holder, other_holder, make_dataset):
    """Four published datasets across two holders, one draft and one withdrawn."""
    return {
        "mg": make_dataset(
            holder,
            identifier="LV-MG",
            title="Riga screening mammograms",
            modalities=("MG",),
            conditions=("C50",),
            subjects_count=100,
            studies_count=200,
        ),
        "mr": make_dataset(
            holder,
            identifier="LV-MR",
            title="Breast MRI follow-up",
            modalities=("MR",),
            conditions=("C50",),
            manufacturers=("Philips",),
            subjects_count=500,
            studies_count=900,
        ),
        "ct": make_dataset(
            other_holder,
            identifier="ES-CT",
            title="Lung CT cohort",
            description="Low-dose chest CT of a lung cancer screening trial.",
            modalities=("CT",),
            conditions=("C34",),
            body_parts=("CHEST", "LUNG"),
            birth_sexes=("FEMALE", "MALE"),
            access_modes=("IN_SITU_PROCESSING",),
            data_use=("DISEASE_SPECIFIC_RESEARCH", "NOT_FOR_PROFIT_NON_COMMERCIAL_USE_ONLY"),
            keywords=("lung", "low-dose"),
            subjects_count=50,
            studies_count=60,
        ),
        "mgmr": make_dataset(
            other_holder,
            identifier="ES-MGMR",
            title="Multimodal breast imaging",
            modalities=("MG", "MR"),
            conditions=("C50",),
            manufacturers=("GE Healthcare", "Philips"),
            subjects_count=300,
            studies_count=400,
        ),
        "draft": make_dataset(holder, identifier="LV-DRAFT", title="Unpublished prostate MRI", status="draft"),
        "withdrawn": make_dataset(other_holder, identifier="ES-OLD", title="Withdrawn mammograms", status="withdrawn"),
    }


PUBLISHED = {"LV-MG", "LV-MR", "ES-CT", "ES-MGMR"}


class TestVisibility:
    def test_anonymous_sees_only_published_datasets(self, catalogue):
        from django.contrib.auth.models import AnonymousUser

        assert set(identifiers(datasets_visible_to(AnonymousUser()))) == PUBLISHED

    def test_a_researcher_sees_only_published_datasets(self, catalogue, alice):
        assert set(identifiers(datasets_visible_to(alice))) == PUBLISHED

    def test_a_steward_also_sees_their_own_holders_drafts_but_not_others(self, catalogue, steward, other_steward):
        assert set(identifiers(datasets_visible_to(steward))) == PUBLISHED | {"LV-DRAFT"}
        assert set(identifiers(datasets_visible_to(other_steward))) == PUBLISHED | {"ES-OLD"}

    def test_the_research_data_office_sees_every_dataset(self, catalogue, rdo):
        assert set(identifiers(datasets_visible_to(rdo))) == PUBLISHED | {"LV-DRAFT", "ES-OLD"}

    def test_search_never_returns_a_draft_to_a_researcher(self, catalogue, alice):
        found = dataset_search(user=alice, query=DatasetQuery(text="prostate"))
        assert identifiers(found) == []


class TestFacets:
    def test_values_of_one_facet_are_alternatives(self, catalogue, alice):
        query = DatasetQuery(filters={"modality": ("MG", "CT")})
        assert set(identifiers(dataset_search(user=alice, query=query))) == {"LV-MG", "ES-CT", "ES-MGMR"}

    def test_different_facets_must_all_match(self, catalogue, alice):
        query = DatasetQuery(filters={"modality": ("MR",), "country": ("ES",)})
        assert identifiers(dataset_search(user=alice, query=query)) == ["ES-MGMR"]

    def test_each_facet_is_filtered_on_holder_manufacturer_data_use_and_access_mode(self, catalogue, alice):
        cases = {
            "holder": (("riga-test",), {"LV-MG", "LV-MR"}),
            "manufacturer": (("Philips",), {"LV-MR", "ES-MGMR"}),
            "data_use": (("DISEASE_SPECIFIC_RESEARCH",), {"ES-CT"}),
            "access_mode": (("IN_SITU_PROCESSING",), {"ES-CT"}),
            "body_part": (("LUNG",), {"ES-CT"}),
            "condition": (("C50",), {"LV-MG", "LV-MR", "ES-MGMR"}),
        }
        for facet, (values, expected) in cases.items():
            found = dataset_search(user=alice, query=DatasetQuery(filters={facet: values}))
            assert set(identifiers(found)) == expected, facet

    def test_counts_cover_every_visible_dataset_without_a_query(self, catalogue, alice):
        groups = dataset_facet_counts(user=alice, query=DatasetQuery(), options=FacetOptions())
        assert counts(groups, "modality") == {"MG": 2, "MR": 2, "CT": 1}
        assert counts(groups, "country") == {"LV": 2, "ES": 2}
        assert counts(groups, "condition") == {"C50": 3, "C34": 1}
        assert counts(groups, "manufacturer") == {"Siemens Healthineers": 2, "Philips": 2, "GE Healthcare": 1}
        assert counts(groups, "data_use") == {
            "GENERAL_RESEARCH_USE": 3,
            "DISEASE_SPECIFIC_RESEARCH": 1,
            "NOT_FOR_PROFIT_NON_COMMERCIAL_USE_ONLY": 1,
        }

    def test_a_facets_counts_apply_the_other_facets_but_not_its_own(self, catalogue, alice):
        query = DatasetQuery(filters={"modality": ("MR",), "country": ("LV",)})
        groups = dataset_facet_counts(user=alice, query=query, options=FacetOptions())
        # modality counts: restricted to LV, not to MR, so the user sees what MG would add
        assert counts(groups, "modality") == {"MG": 1, "MR": 1}
        # country counts: restricted to MR, not to LV
        assert counts(groups, "country") == {"LV": 1, "ES": 1}
        # other facets: both selections apply
        assert counts(groups, "holder") == {"riga-test": 1}

    def test_a_selected_value_without_results_is_still_listed_and_marked(self, catalogue, alice):
        query = DatasetQuery(filters={"modality": ("US",)})
        groups = dataset_facet_counts(user=alice, query=query, options=FacetOptions())
        modality = next(group for group in groups if group.name == "modality")
        us = next(value for value in modality.values if value.value == "US")
        assert (us.count, us.selected, us.label) == (0, True, "Ultrasound")

    def test_counts_do_not_include_drafts_for_the_public(self, catalogue, alice, steward):
        public = dataset_facet_counts(user=alice, query=DatasetQuery(text="prostate"), options=FacetOptions())
        assert all(not group.values for group in public)
        own = dataset_facet_counts(user=steward, query=DatasetQuery(text="prostate"), options=FacetOptions())
        assert counts(own, "holder") == {"riga-test": 1}


class TestTextAndSort:
    def test_text_matches_keywords_and_condition_names(self, catalogue, alice):
        assert identifiers(dataset_search(user=alice, query=DatasetQuery(text="low-dose"))) == ["ES-CT"]
        found = dataset_search(user=alice, query=DatasetQuery(text="cancer", filters={"modality": ("MG",)}))
        assert set(identifiers(found)) == {"LV-MG", "ES-MGMR"}

    def test_every_word_must_match(self, catalogue, alice):
        assert identifiers(dataset_search(user=alice, query=DatasetQuery(text="breast lung"))) == []

    @pytest.mark.postgres
    def test_a_title_match_ranks_above_a_match_in_the_description(self, holder, make_dataset, alice):
        make_dataset(holder, identifier="DESC", title="Chest imaging", description="Includes tomosynthesis views.")
        make_dataset(holder, identifier="KW", title="Thorax series", keywords=("tomosynthesis",))
        make_dataset(holder, identifier="TITLE", title="Tomosynthesis of the breast", description="Views.")
        found = dataset_search(user=alice, query=DatasetQuery(text="tomosynthesis"))
        assert identifiers(found) == ["TITLE", "KW", "DESC"]

    @pytest.mark.postgres
    def test_full_text_search_matches_word_forms(self, catalogue, alice):
        assert identifiers(dataset_search(user=alice, query=DatasetQuery(text="trials"))) == ["ES-CT"]
        assert identifiers(dataset_search(user=alice, query=DatasetQuery(text="mammogram")))[0] == "LV-MG"

    @pytest.mark.postgres
    def test_the_search_vector_follows_an_edit_once_refreshed(self, catalogue, alice):
        dataset = catalogue["mg"]
        Dataset.objects.filter(pk=dataset.pk).update(title="Tallinn tomosynthesis archive")
        assert identifiers(dataset_search(user=alice, query=DatasetQuery(text="tallinn"))) == []
        dataset_refresh_search_vector(dataset)
        assert identifiers(dataset_search(user=alice, query=DatasetQuery(text="tallinn"))) == ["LV-MG"]

    def test_sorts(self, catalogue, alice):
        def ordered(sort):
            return identifiers(dataset_search(user=alice, query=DatasetQuery(sort=sort)))

        assert ordered("title") == ["LV-MR", "ES-CT", "ES-MGMR", "LV-MG"]
        assert ordered("subjects")[:2] == ["LV-MR", "ES-MGMR"]
        assert ordered("studies")[0] == "LV-MR"
        assert ordered("studies")[-1] == "ES-CT"
        assert ordered("newest")[0] == "ES-MGMR"
        assert ordered("") == ordered("title")

    def test_a_page_past_the_end_gives_the_last_page_flagged(self, catalogue, alice):
        result = dataset_search_page(user=alice, query=DatasetQuery(), options=FacetOptions(), page=9, per_page=3)
        assert result.out_of_range
        assert result.page.number == 2
        assert identifiers(result.page) == ["LV-MG"]
