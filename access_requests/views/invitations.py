"""Team invitations, seen and answered by the invited person.

The link in the invitation e-mail works only for someone signed in with a proved address equal
to the invited one. Anyone else (another account, a tampered, expired, withdrawn or answered
link) gets the same "not available" page, which names nothing.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from access_requests.services import applications as svc
from portal.errors import DomainError
from portal.keyset import BadCursor, request_page

INVITATIONS_PAGE_SIZE = 50


@login_required
@require_GET
def invitation_list(request):
    """The signed-in person's open invitations: reference, title and who invited them."""
    try:
        page = request_page(
            request,
            svc.team_invitations_open_for(user=request.user),
            order=("-invited_at", "-pk"),
            size=INVITATIONS_PAGE_SIZE,
        )
    except BadCursor as exc:
        return render(request, "access_requests/invitation_list.html", {"page_error": str(exc)}, status=400)
    return render(
        request,
        "access_requests/invitation_list.html",
        {"invitations": [(m, svc.team_invitation_path(m)) for m in page.object_list], "page": page},
    )


@login_required
@require_http_methods(["GET", "POST"])
def invitation_respond(request, token: str):
    member = svc.team_invitation_find(user=request.user, token=token)
    if member is None:
        return render(request, "access_requests/invitation_unavailable.html", status=404)
    if request.method == "POST":
        decision = request.POST.get("decision")
        if decision not in {"accept", "decline"}:
            messages.error(request, "Choose to accept or decline the invitation.")
            return redirect("access_requests:invitation", token=token)
        act = svc.team_invitation_accept if decision == "accept" else svc.team_invitation_decline
        try:
            act(actor=request.user, member=member)
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect("access_requests:invitation-list")
        if decision == "decline":
            messages.success(request, f"You declined the invitation to {member.application.reference}.")
            return redirect("access_requests:invitation-list")
        messages.success(request, f"You are on the team of {member.application.reference} now.")
        return redirect("access_requests:application-detail", pk=member.application_id)
    return render(request, "access_requests/invitation.html", {"member": member})
