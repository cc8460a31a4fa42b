"""The RDO's view of a processing grant's entitlement events: what was pushed to the data holder's
processing environment, what waits, and why (access_requests/services/entitlements.py)."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from access_requests.models import DeliveryStatus, Grant, GrantKind
from portal.access import require


def grant_get_for_review(user, grant_pk: int) -> Grant:
    grant = Grant.objects.select_related("application", "dataset__holder").filter(pk=grant_pk).first()
    if grant is None:
        raise Http404("No such grant.")
    require(user, "grant.review", grant)
    return grant


@login_required
def grant_deliveries(request, grant_pk: int):
    grant = grant_get_for_review(request.user, grant_pk)
    holder = grant.dataset.holder
    events = list(grant.entitlement_events.order_by("sequence"))
    return render(
        request,
        "access_requests/grant_deliveries.html",
        {
            "grant": grant,
            "application": grant.application,
            "holder": holder,
            "is_processing": grant.kind == GrantKind.PROCESSING,
            "configured": bool(holder.processing_push_url),
            "events": events,
            "waiting": sum(1 for e in events if e.status == DeliveryStatus.PENDING),
        },
    )


def processing_grants_for_review(user, application) -> list[Grant]:
    """The application's processing grants whose deliveries `user` may see (the reviewing RDO), for
    the application's page; none before the agreement is executed."""
    if application.status not in ("active", "closed", "revoked"):
        return []
    from portal.access import may

    grants = Grant.objects.filter(application=application, kind=GrantKind.PROCESSING).select_related(
        "application", "dataset"
    )
    return [g for g in grants if may(user, "grant.review", g)]
