from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination


class PortalPagination(PageNumberPagination):
    """Page-number pagination that refuses a malformed or oversized page size with a 400."""

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
