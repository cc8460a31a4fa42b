"""The Research Data Office's committee settings: the committees, each one's decision rule and
periods, its members and chair, and the data holders whose applications it reviews by default.
Every change goes through access_requests/services/committees.py and asks for the password again
(the access table's `sudo`): these settings decide who binds the portal's decisions."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import Count, Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from access_requests.forms import form_add_domain_error
from access_requests.forms_committees import CommitteeCreateForm, CommitteeSettingsForm, HoldersForm, MemberAddForm
from access_requests.models import Committee, CommitteeAssignment, CommitteeMembership
from access_requests.services.committees import (
    RULE_SETTINGS,
    committee_add_member,
    committee_assign_holder,
    committee_configure,
    committee_create,
)
from portal.errors import DomainError


@login_required
def committee_list(request, *, create_form=None, status=200):
    committees = (
        Committee.objects.annotate(members_count=Count("memberships", distinct=True))
        .prefetch_related(
            Prefetch(
                "memberships",
                queryset=CommitteeMembership.objects.filter(role=CommitteeMembership.Role.CHAIR).select_related("user"),
                to_attr="chairs",
            ),
            Prefetch("assignments", queryset=CommitteeAssignment.objects.select_related("holder")),
        )
        .order_by("name")
    )
    return render(
        request,
        "access_requests/committees/list.html",
        {"committees": committees, "create_form": create_form or CommitteeCreateForm()},
        status=status,
    )


@login_required
@require_POST
def committee_new(request):
    form = CommitteeCreateForm(request.POST)
    if form.is_valid():
        try:
            committee = committee_create(actor=request.user, **form.cleaned_data)
        except DomainError as exc:
            form_add_domain_error(form, exc)
        else:
            messages.success(request, f"{committee.name} is created: add its members and its chair.")
            return redirect("access_requests:committee-settings", committee_pk=committee.pk)
    return committee_list(request, create_form=form, status=400)


def _settings_page(request, committee, *, settings_form=None, member_form=None, holders_form=None, status=200):
    memberships = committee.memberships.select_related("user").order_by("-role", "user__full_name")
    assigned = CommitteeAssignment.objects.filter(committee=committee).values_list("holder_id", flat=True)
    context = {
        "committee": committee,
        "memberships": memberships,
        "settings_form": settings_form or CommitteeSettingsForm(instance=committee),
        "member_form": member_form or MemberAddForm(),
        "holders_form": holders_form or HoldersForm(initial={"holders": list(assigned)}),
        "elsewhere": {
            a.holder_id: a.committee.name
            for a in CommitteeAssignment.objects.exclude(committee=committee).select_related("committee")
        },
    }
    return render(request, "access_requests/committees/settings.html", context, status=status)


@login_required
def committee_settings(request, committee_pk: int):
    committee = get_object_or_404(Committee, pk=committee_pk)
    if request.method != "POST":
        return _settings_page(request, committee)
    form = CommitteeSettingsForm(request.POST, instance=Committee.objects.get(pk=committee.pk))
    if form.is_valid():
        changed = {name: form.cleaned_data[name] for name in RULE_SETTINGS if name in form.changed_data}
        try:
            if changed:
                committee_configure(actor=request.user, committee=committee, settings=changed)
        except DomainError as exc:
            form_add_domain_error(form, exc)
        else:
            messages.success(
                request,
                f"{committee.name}'s settings are saved; rounds already open keep their voting deadline."
                if changed
                else "Nothing was changed.",
            )
            return redirect("access_requests:committee-settings", committee_pk=committee.pk)
    return _settings_page(request, committee, settings_form=form, status=400)


@login_required
@require_POST
def committee_member_add(request, committee_pk: int):
    committee = get_object_or_404(Committee, pk=committee_pk)
    form = MemberAddForm(request.POST)
    if form.is_valid():
        user = form.user
        try:
            if committee.memberships.filter(user=user).exists():
                form.add_error("email", f"{user.full_name or user.email} is already on this committee.")
            else:
                committee_add_member(
                    actor=request.user, committee=committee, user=user, chair=form.cleaned_data["chair"]
                )
        except DomainError as exc:
            form_add_domain_error(form, exc)
        if not form.errors:
            role = "chair" if form.cleaned_data["chair"] else "a member"
            messages.success(request, f"{user.full_name or user.email} is now {role} of {committee.name}.")
            return redirect(reverse("access_requests:committee-settings", args=[committee.pk]) + "#members-heading")
    return _settings_page(request, committee, member_form=form, status=400)


@login_required
@require_POST
def committee_holders(request, committee_pk: int):
    committee = get_object_or_404(Committee, pk=committee_pk)
    form = HoldersForm(request.POST)
    if not form.is_valid():
        return _settings_page(request, committee, holders_form=form, status=400)
    wanted = set(form.cleaned_data["holders"])
    current = {a.holder for a in CommitteeAssignment.objects.filter(committee=committee).select_related("holder")}
    with transaction.atomic():
        for holder in sorted(wanted - current, key=lambda h: h.name):
            committee_assign_holder(actor=request.user, holder=holder, committee=committee)
        for holder in sorted(current - wanted, key=lambda h: h.name):
            committee_assign_holder(actor=request.user, holder=holder, committee=None)
    messages.success(request, "The default data holders are saved." if wanted ^ current else "Nothing was changed.")
    return redirect(reverse("access_requests:committee-settings", args=[committee.pk]) + "#holders-heading")
