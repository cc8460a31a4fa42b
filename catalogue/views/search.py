"""Public catalogue pages: search with facets, the dataset page, how to apply, the basket."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.db.models import Sum
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from access_requests.models import ApplicationStatus
from access_requests.permissions import applications_where
from catalogue.search import MAX_QUERY_LENGTH, basket_add, basket_remove
from catalogue.selectors import (
    FACETS,
    SORTS,
    DatasetQuery,
    FacetOptions,
    basket_dataset_ids,
    basket_items_for,
    dataset_changes_page,
    dataset_get_visible,
    dataset_search_page,
    dataset_search_relaxations,
)
from portal.access import Rel
from portal.errors import DomainError
from portal.models import Role

RESULTS_PER_PAGE = 20
FILES_PER_PAGE = 100


class DatasetSearchForm(forms.Form):
    """The search page's GET parameters; facet values must be known codes, names or slugs."""

    q = forms.CharField(label="Search the catalogue", required=False, max_length=MAX_QUERY_LENGTH)
    sort = forms.ChoiceField(label="Sort by", required=False, choices=list(SORTS.items()))
    page = forms.IntegerField(required=False, min_value=1)

    def __init__(self, data, *, options: FacetOptions):
        super().__init__(data)
        for facet in FACETS:
            self.fields[facet.name] = forms.MultipleChoiceField(
                label=facet.label,
                required=False,
                choices=options.choices(facet.name),
                error_messages={"invalid_choice": f"Unknown {facet.label.lower()} “%(value)s”: it was ignored."},
            )

    def query(self) -> DatasetQuery:
        """The search the valid parameters describe; an invalid one is left out (and reported)."""
        data = self.cleaned_data
        return DatasetQuery(
            text=data.get("q") or "",
            filters={facet.name: tuple(data[facet.name]) for facet in FACETS if data.get(facet.name)},
            sort=data.get("sort") or "",
        )

    def problems(self) -> list[str]:
        return [
            f"{self.fields[name].label}: {message}" if name in self.fields else message
            for name, errors in self.errors.items()
            for message in errors
        ]


def _describe_parameters(conditions) -> None:
    """Give each data-use condition a readable `parameters_text` (e.g. "countries LV, EE; months 24")."""
    for condition in conditions:
        parts = []
        for key, value in (condition.parameters or {}).items():
            shown = ", ".join(str(v) for v in value) if isinstance(value, list | tuple) else str(value)
            parts.append(f"{key.replace('_', ' ')} {shown}")
        condition.parameters_text = "; ".join(parts)


# The search box's examples: each finds datasets in the demo catalogue (tests/catalogue/test_search_pages.py).
SEARCH_EXAMPLES = ("screening mammography", "lung CT", "prostate MRI")


@require_GET
def search(request):
    options = FacetOptions()
    form = DatasetSearchForm(request.GET, options=options)
    form.is_valid()
    result = dataset_search_page(
        user=request.user,
        query=form.query(),
        options=options,
        page=form.cleaned_data.get("page") or 1,
        per_page=RESULTS_PER_PAGE,
    )
    problems = form.problems()
    if result.out_of_range:
        problems.append(f"There is no page {form.cleaned_data['page']}: this is the last page.")
    relaxations = []
    if not result.page.paginator.count and not form.errors:
        for relaxation in dataset_search_relaxations(user=request.user, query=form.query(), options=options):
            params = request.GET.copy()
            params.pop("page", None)
            if relaxation.facet == "q":
                params.pop("q", None)
            else:
                params.setlist(relaxation.facet, [v for v in params.getlist(relaxation.facet) if v != relaxation.value])
            relaxations.append({"label": relaxation.label, "count": relaxation.count, "query": params.urlencode()})
    context = {
        "placeholder": "e.g. " + ", ".join(SEARCH_EXAMPLES),
        "relaxations": relaxations,
        "form": form,
        "result": result,
        "page": result.page,
        "problems": problems,
        "sorts": SORTS,
        "basket_ids": basket_dataset_ids(request.user),
    }
    return render(request, "catalogue/search.html", context, status=400 if form.errors else 200)


@require_GET
def dataset_detail(request, identifier: str):
    from catalogue.permissions import can_steward_dataset
    from catalogue.services import dataset_file_problems

    dataset = dataset_get_visible(user=request.user, identifier=identifier, detail=True)
    can_steward = can_steward_dataset(request.user, dataset)
    files = Paginator(dataset.files.all(), FILES_PER_PAGE).get_page(request.GET.get("files_page"))
    _describe_parameters(dataset.use_conditions.all())
    changes_page, changes = dataset_changes_page(dataset=dataset, page=request.GET.get("changes_page"))
    context = {
        "dataset": dataset,
        "files": files,
        "files_bytes": dataset.files.aggregate(size=Sum("size_bytes"))["size"] or 0,
        "changes_page": changes_page,
        "changes": changes,
        "can_steward": can_steward,
        "scans": dataset.file_scans.all()[:10] if can_steward else [],
        "file_problems": dataset_file_problems(dataset).get("files", []) if can_steward else [],
        "in_basket": dataset.pk in basket_dataset_ids(request.user),
    }
    return render(request, "catalogue/dataset_detail.html", context)


def _open_applications(user) -> list:
    """The draft or returned applications on whose team `user` is: a dataset can be added to them."""
    if not user.is_authenticated:
        return []
    applications = (
        applications_where(user, Rel.TEAM)
        .filter(status__in=[ApplicationStatus.DRAFT, ApplicationStatus.RETURNED])
        .prefetch_related("requested")
        .order_by("-updated_at", "pk")
    )
    return list(applications)


def _requesting(application, dataset) -> bool:
    return any(item.dataset_id == dataset.pk for item in application.requested.all())


def dataset_apply(request, identifier: str):
    """How access is granted (the DCAT distribution's access URL); a researcher adds the dataset to the basket."""
    dataset = dataset_get_visible(user=request.user, identifier=identifier, detail=True)
    _describe_parameters(dataset.use_conditions.all())
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        try:
            basket_add(actor=request.user, dataset=dataset)
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect("catalogue:dataset-apply", identifier=dataset.identifier)
        messages.success(request, f"“{dataset.title}” is in your basket.")
        return redirect("catalogue:basket")
    applications = _open_applications(request.user)
    context = {
        "dataset": dataset,
        "addable_to": [a for a in applications if not _requesting(a, dataset)],
        "requested_by": [a for a in applications if _requesting(a, dataset)],
        "in_basket": dataset.pk in basket_dataset_ids(request.user),
        "is_researcher": request.user.is_authenticated and request.user.has_role(Role.RESEARCHER),
    }
    return render(request, "catalogue/dataset_apply.html", context)


@login_required
@require_GET
def basket(request):
    items = list(basket_items_for(request.user))
    applications = _open_applications(request.user)
    for item in items:
        _describe_parameters(item.dataset.use_conditions.all())
        item.addable_to = [a for a in applications if not _requesting(a, item.dataset)]
    return render(request, "catalogue/basket.html", {"items": items, "open_applications": applications})


@login_required
@require_POST
def basket_remove_view(request, identifier: str):
    if basket_remove(actor=request.user, identifier=identifier):
        messages.success(request, f"{identifier} was taken out of your basket.")
    else:
        messages.info(request, f"{identifier} was not in your basket.")
    return redirect("catalogue:basket")
