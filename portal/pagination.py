from functools import cached_property, partial

from django.core.paginator import Paginator
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from portal.keyset import COUNT_CAP, capped_count


class PortalPagination(PageNumberPagination):
    """Page-number pagination that refuses a malformed or oversized page size, and a page that is not
    a number or lies past the end, with a 400 naming the parameter (DRF answers the latter with 404)."""

    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isdigit() or int(raw) < 1:
            raise ValidationError({"page_size": ["Must be a whole number of at least 1."]})
        if int(raw) > self.max_page_size:
            raise ValidationError({"page_size": [f"At most {self.max_page_size} items per page."]})
        return int(raw)

    def paginate_queryset(self, queryset, request, view=None):
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound as exc:
            raise ValidationError({self.page_query_param: [str(exc.detail)]}) from exc


class CappedCountPaginator(Paginator):
    """Counts up to `COUNT_CAP` rows; past it the count is exact only for a page that reaches past the
    cap (rare; its OFFSET reads that far anyway). `count_exact` says which it is."""

    def __init__(self, object_list, per_page, *, reach: int = 0):
        super().__init__(object_list, per_page)
        self.reach = reach  # rows up to the end of the page asked for; past the cap, count them all
        self.count_exact = True

    @cached_property
    def count(self) -> int:
        found, exact = capped_count(self.object_list, COUNT_CAP)
        if exact:
            return found
        if self.reach > COUNT_CAP:
            return self.object_list.count()
        self.count_exact = False
        return COUNT_CAP + 1  # there are more: the pages up to the cap all exist and have a next one


class CappedCountPagination(PortalPagination):
    """Page numbers as PortalPagination, with `count` counted up to 1,000: at tens of thousands of rows
    a COUNT over the visibility query costs more than the page. The response adds `count_exact`: when
    false there are more than `count` items (the count stops there)."""

    def paginate_queryset(self, queryset, request, view=None):
        size = self.get_page_size(request)
        raw = request.query_params.get(self.page_query_param) or "1"
        reach = int(raw) * size if raw.isdigit() and len(raw) < 10 else COUNT_CAP + 1
        self.django_paginator_class = partial(CappedCountPaginator, reach=reach)
        return super().paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data):
        paginator = self.page.paginator
        exact = paginator.count_exact
        return Response(
            {
                "count": paginator.count if exact else COUNT_CAP,
                "count_exact": exact,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema):
        shape = super().get_paginated_response_schema(schema)
        shape["properties"] = {
            "count": {
                "type": "integer",
                "example": 123,
                "description": f"how many items there are; when `count_exact` is false, more than this "
                f"(counting stops at {COUNT_CAP:,})",
            },
            "count_exact": {
                "type": "boolean",
                "description": f"false when there are more than {COUNT_CAP:,} items and `count` is that floor",
            },
            **{k: v for k, v in shape["properties"].items() if k != "count"},
        }
        shape["required"] = ["count", "count_exact", "results"]
        return shape
