"""The Research Data Office's list of partner nodes: who this node asks and answers. Adding,
suspending or resuming a partner asks for the password again (the access table's `sudo`)."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from access_requests.forms import form_add_domain_error
from access_requests.models import EntitlementEvent
from federation import keys
from federation.forms import NodeForm
from federation.models import Node, ReceivedGrant
from federation.services import node_add, node_honour_grants, node_set_active
from portal.errors import DomainError

RECEIVED_SHOWN = 50


def _received() -> list[ReceivedGrant]:
    """The latest received grants, each with its newest relayed event (processing grants only)."""
    grants = list(
        ReceivedGrant.objects.select_related("node", "dataset").order_by("-updated_at", "-pk")[:RECEIVED_SHOWN]
    )
    newest = {}
    for event in EntitlementEvent.objects.filter(received__in=grants).order_by("received_id", "sequence"):
        newest[event.received_id] = event
    for grant in grants:
        grant.relayed = newest.get(grant.pk)
    return grants


def _page(request, form=None, status=200):
    own = {"public_key": keys.public_key_b64(), "key_id": keys.own_key_id()} if keys.has_key() else None
    return render(
        request,
        "federation/nodes.html",
        {
            "nodes": Node.objects.order_by("name"),
            "form": form or NodeForm(),
            "own": own,
            "received": _received(),
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
def node_list(request):
    if request.method == "GET":
        return _page(request)
    form = NodeForm(request.POST)
    if form.is_valid():
        try:
            node = node_add(actor=request.user, **form.cleaned_data)
        except DomainError as exc:
            form_add_domain_error(form, exc)
        else:
            messages.success(
                request, f"{node.name} is a partner: its requests are answered and it is asked in searches."
            )
            return redirect("federation:nodes")
    return _page(request, form, status=400)


@require_POST
def node_active(request, node_pk: int):
    node = get_object_or_404(Node, pk=node_pk)
    active = request.POST.get("active") == "1"
    node_set_active(actor=request.user, node=node, active=active)
    messages.success(
        request, f"{node.name} is {'a partner again' if active else 'suspended: neither asked nor answered'}."
    )
    return redirect("federation:nodes")


@require_POST
def node_grants(request, node_pk: int):
    node = get_object_or_404(Node, pk=node_pk)
    honours = request.POST.get("honours") == "1"
    node_honour_grants(actor=request.user, node=node, honours=honours)
    messages.success(
        request,
        f"This node {'now enforces' if honours else 'no longer accepts'} the grants {node.name}'s committee issues "
        "for its datasets.",
    )
    return redirect("federation:nodes")
