"""The federated search page: counts of matching subjects and studies at this node and every partner."""

from django.shortcuts import render
from django.views.decorators.http import require_GET

from federation.apis import run_query
from federation.forms import FederatedSearchForm
from federation.models import Node


@require_GET
def federated_search(request):
    """The criteria form and, once asked, each node's answer (or why it has none) and the totals."""
    asked = any(key in request.GET for key in FederatedSearchForm.base_fields) or "go" in request.GET
    form = FederatedSearchForm(request.GET if asked else None)
    result = None
    if asked and form.is_valid():
        result = run_query(request.user, form.criteria())
    return render(
        request,
        "federation/search.html",
        {"form": form, "result": result, "partners": Node.objects.filter(active=True).count()},
    )
