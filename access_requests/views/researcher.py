"""The applicant's pages: the list, the application page, its sections' edit pages, check and
submit, withdraw and delete, the message thread.

Each view fetches the application through `application_get_for` (404 for outsiders, 403 for
those who may see but not act), validates a form, calls one service and shows a service's
refusal (`DomainError`) on the form or as a message, never as a server error.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from access_requests.dashboard import COMMITTEE_NEXT
from access_requests.forms import (
    AiForm,
    ApplicationCreateForm,
    DatasetsForm,
    DpiaForm,
    DpiaRiskForm,
    EthicsApprovalForm,
    MessageForm,
    ProjectForm,
    RepresentationsForm,
    TeamMemberForm,
    WithdrawForm,
    form_add_domain_error,
)
from access_requests.models import ApplicationStatus, Section
from access_requests.permissions import (
    application_get_for,
    application_relations,
    applications_visible_to,
    can_edit,
    is_applicant,
    is_rdo,
    is_reviewer,
    is_team,
    relations_remembered,
)
from access_requests.selectors import clock_context
from access_requests.services import applications as svc
from access_requests.services.agreements import agreement_overview
from access_requests.services.checks import application_check
from access_requests.services.letters import decision_letters_of
from access_requests.services.messages import message_post
from access_requests.services.transitions import TRANSITIONS, application_submit, application_withdraw
from access_requests.views.entitlements import processing_grants_for_review
from access_requests.views.lifecycle import access_overview
from access_requests.views.presentation import (
    application_data,
    application_sections,
    comments_by_section,
    problems_by_section,
    representations_context,
    thread_for,
    timeline_for,
)
from catalogue.selectors import datasets_visible_to
from portal.access import Rel, may
from portal.errors import DomainError
from portal.keyset import BadCursor, request_page
from portal.models import Role

LIST_PAGE_SIZE = 50


def _call(form, act, *args) -> bool:
    """Run a service call; on refusal put its reasons on the form and answer False."""
    try:
        act(*args)
    except DomainError as exc:
        form_add_domain_error(form, exc)
        return False
    except ValidationError as exc:  # a model's own clean() rule, reached through the service
        for field, errors in exc.message_dict.items():
            for error in errors:
                form.add_error(field if field in form.fields else None, error)
        return False
    return True


def _accepted(request, form, act) -> bool:
    """The form was posted, is valid, and the service `act(cleaned_data)` accepted it."""
    return request.method == "POST" and form.is_valid() and _call(form, act, form.cleaned_data)


def _section_url(application, section: str) -> str:
    return reverse("access_requests:application-detail", args=[application.pk]) + f"#section-{section}"


def _saved(request, application, section: str, text: str = ""):
    messages.success(request, text or f"{Section(section).label}: saved.")
    return redirect(_section_url(application, section))


# --- list, create, the application page ---------------------------------------------------


@login_required
def application_list(request):
    """Latest change first, a page at a time found by the last change shown (keyset on updated_at, id;
    index `application_updated`), with the total counted up to a cap."""
    applications = applications_visible_to(request.user).select_related("applicant", "committee")
    context = {
        "is_rdo": is_rdo(request.user),
        "is_researcher": request.user.has_role(Role.RESEARCHER),
        "what_you_see": _what_you_see(request.user),
    }
    try:
        context["page"] = request_page(request, applications, order=("-updated_at", "-pk"), size=LIST_PAGE_SIZE)
    except BadCursor as exc:
        return render(request, "access_requests/application_list.html", {**context, "page_error": str(exc)}, status=400)
    return render(request, "access_requests/application_list.html", context)


# What the list holds for each role, in the order the sentence names them.
_LIST_HOLDS = [
    (Role.RESEARCHER, "the applications you write or are on the team of"),
    (Role.RDO, "every application once submitted"),
    (Role.COMMITTEE, "the applications forwarded to your access committees"),
    (Role.STEWARD, "the applications that request your institution's datasets"),
]


def _what_you_see(user) -> str:
    parts = [text for role, text in _LIST_HOLDS if user.has_role(role)] or [_LIST_HOLDS[0][1]]
    sentence = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"This list holds {sentence}."


@login_required
@require_POST
def application_create(request):
    """Start a draft from the basket (the service takes its datasets and empties it)."""
    form = ApplicationCreateForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the application a title to start it.")
        return redirect("catalogue:basket")
    try:
        application = svc.application_create(actor=request.user, title=form.cleaned_data["title"])
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("catalogue:basket")
    messages.success(request, f"Application {application.reference} started. Fill in each section, then submit it.")
    return redirect("access_requests:application-detail", pk=application.pk)


def detail_context(request, application, *, message_form=None) -> dict:
    user = request.user
    reviewer = is_reviewer(user, application)
    editable = can_edit(user, application)
    applicant = is_applicant(user, application)
    comments = comments_by_section(application)
    return {
        **application_data(application),
        "application": application,
        "sections": application_sections(application, comments=comments, editable=editable),
        "latest_comments": comments["latest_round"],
        "timeline": timeline_for(application, reviewer=reviewer),
        "thread": thread_for(application, reviewer=reviewer),
        "message_form": message_form or MessageForm(reviewer=reviewer),
        "can_edit": editable,
        "is_applicant": applicant,
        "is_rdo": is_rdo(user),
        "can_withdraw": applicant and application.status in TRANSITIONS["withdraw"][0],
        "can_delete": applicant and application.status == ApplicationStatus.DRAFT and not application.submission_count,
        "is_committee": may(user, "application.committee", application),
        **(clock_context(application) if reviewer or is_team(user, application) else {}),
        "decision_letters": decision_letters_of(application),
        "agreement": agreement_overview(application),
        "processing_deliveries": processing_grants_for_review(user, application),
        "access": access_overview(user, application),
        "committee_next": COMMITTEE_NEXT
        if application.status == ApplicationStatus.IN_REVIEW
        and Rel.ASSIGNED_COMMITTEE in application_relations(user, application)
        else "",
    }


@login_required
def application_detail(request, pk: int):
    with relations_remembered():
        application = application_get_for(user=request.user, pk=pk)
        return render(request, "access_requests/application_detail.html", detail_context(request, application))


@login_required
@require_POST
def message_create(request, pk: int):
    application = application_get_for(user=request.user, pk=pk)
    form = MessageForm(request.POST, reviewer=is_reviewer(request.user, application))
    if _accepted(
        request,
        form,
        lambda data: message_post(
            actor=request.user, application=application, body=data["body"], internal=data.get("internal", False)
        ),
    ):
        messages.success(request, "Internal note added." if form.cleaned_data.get("internal") else "Message sent.")
        return redirect(reverse("access_requests:application-detail", args=[pk]) + "#messages")
    context = detail_context(request, application, message_form=form)
    return render(request, "access_requests/application_detail.html", context, status=400)


# --- edit pages, one per section ----------------------------------------------------------


def _edit_page(request, application, section: str, context: dict):
    """Render a section's edit page; 400 when a posted form came back with errors."""
    comments = comments_by_section(application)
    failed = any(getattr(value, "errors", None) for key, value in context.items() if key.endswith("form"))
    context = {
        "application": application,
        "section": section,
        "section_label": Section(section).label,
        "section_comments": comments["by_section"][section],
        "back_url": _section_url(application, section),
        **context,
    }
    return render(request, f"access_requests/edit_{section}.html", context, status=400 if failed else 200)


def _edit_overview(request, application):
    form = ProjectForm(request.POST or None, initial=ProjectForm.initial_for(application))
    if _accepted(
        request, form, lambda data: svc.application_update(actor=request.user, application=application, data=data)
    ):
        return _saved(request, application, Section.OVERVIEW)
    return _edit_page(request, application, Section.OVERVIEW, {"form": form})


def _requested(application):
    return list(
        application.requested.select_related("dataset", "access_mode").prefetch_related(
            "dataset__use_conditions__term", "dataset__access_modes"
        )
    )


def _edit_datasets(request, application):
    items = _requested(application)
    form = DatasetsForm(request.POST or None, items=items)
    if _accepted(
        request,
        form,
        lambda data: svc.application_set_datasets(
            actor=request.user, application=application, requested=form.requested()
        ),
    ):
        return _saved(request, application, Section.DATASETS)
    return _edit_page(request, application, Section.DATASETS, {"form": form, "items": items})


def _edit_team(request, application):
    form = TeamMemberForm(request.POST or None)
    if _accepted(
        request,
        form,
        lambda data: svc.team_member_add(
            actor=request.user, application=application, email=data["email"], role=data["role"]
        ),
    ):
        return _saved(
            request,
            application,
            Section.TEAM,
            f"Invitation sent to {form.cleaned_data['email']}: they join once they accept.",
        )
    context = {"form": form, "team": application.team.select_related("user")}
    return _edit_page(request, application, Section.TEAM, context)


def _add_ethics_approval(request, application, data) -> None:
    svc.ethics_approval_add(
        actor=request.user,
        application=application,
        committee_name=data["committee_name"],
        reference=data["reference"],
        approved_on=data["approved_on"],
        expires_on=data["expires_on"],
        covered_ids=[int(pk) for pk in data["datasets"]],
        document=data["document"],
    )


def _edit_ethics(request, application):
    form = EthicsApprovalForm(request.POST or None, request.FILES or None, items=_requested(application))
    if _accepted(request, form, lambda data: _add_ethics_approval(request, application, data)):
        return _saved(request, application, Section.ETHICS, f"Ethics approval {form.cleaned_data['reference']} added.")
    approvals = application.ethics_approvals.prefetch_related("datasets__dataset")
    return _edit_page(request, application, Section.ETHICS, {"form": form, "approvals": approvals})


def _edit_dpia(request, application, risk_form=None):
    """The DPIA form and the risk form share the page; a failed risk posts back here with its errors."""
    dpia = application.dpia
    posted = request.method == "POST" and risk_form is None
    form = DpiaForm(
        request.POST if posted else None,
        request.FILES if posted else None,
        initial={name: getattr(dpia, name) for name in DpiaForm.FIELDS},
    )
    if posted and _accepted(
        request,
        form,
        lambda data: svc.dpia_update(
            actor=request.user, application=application, data=form.data_for_service(), document=data["document"]
        ),
    ):
        return _saved(request, application, Section.DPIA)
    risk_form = risk_form or DpiaRiskForm(prefix="risk")
    context = {"form": form, "risk_form": risk_form, "dpia": dpia, "risks": dpia.risks.all()}
    return _edit_page(request, application, Section.DPIA, context)


def _edit_representations(request, application):
    reps = application.representations
    form = RepresentationsForm(
        request.POST or None, initial={name: getattr(reps, name) for name in RepresentationsForm.FIELDS}
    )
    if request.method == "POST" and "accept" in request.POST:
        form.is_valid()
        form.add_error(None, svc.SIGNATORY_ACCEPTS)
    elif _accepted(
        request,
        form,
        lambda data: svc.representations_update(
            actor=request.user,
            application=application,
            data={name: data[name] for name in RepresentationsForm.FIELDS},
        ),
    ):
        return _saved(request, application, Section.REPRESENTATIONS)
    context = {"form": form, "reps": reps, **representations_context(application)}
    return _edit_page(request, application, Section.REPRESENTATIONS, context)


def _edit_ai(request, application):
    form = AiForm(request.POST or None, initial=AiForm.initial_for(application))
    if _accepted(
        request,
        form,
        lambda data: svc.application_update(actor=request.user, application=application, data=form.data_for_service()),
    ):
        return _saved(request, application, Section.AI)
    return _edit_page(request, application, Section.AI, {"form": form})


SECTION_EDITORS = {
    Section.OVERVIEW: _edit_overview,
    Section.DATASETS: _edit_datasets,
    Section.TEAM: _edit_team,
    Section.ETHICS: _edit_ethics,
    Section.DPIA: _edit_dpia,
    Section.REPRESENTATIONS: _edit_representations,
    Section.AI: _edit_ai,
}


@login_required
def section_edit(request, pk: int, section: str):
    editor = SECTION_EDITORS.get(section)
    if editor is None:
        raise Http404("No such section.")
    application = application_get_for(user=request.user, pk=pk, action="edit")
    return editor(request, application)


@login_required
@require_POST
def dpia_risk_add(request, pk: int):
    application = application_get_for(user=request.user, pk=pk, action="edit")
    form = DpiaRiskForm(request.POST, prefix="risk")
    if _accepted(request, form, lambda data: svc.dpia_risk_add(actor=request.user, application=application, **data)):
        return _saved(request, application, Section.DPIA, "Risk added.")
    return _edit_dpia(request, application, risk_form=form)


def _remove(request, pk: int, section: str, find, service, what: str):
    """POST-only removal of one part of a section, through its service."""
    application = application_get_for(user=request.user, pk=pk, action="edit")
    try:
        service(actor=request.user, application=application, **find(application))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{what} removed.")
    return redirect("access_requests:section-edit", pk=pk, section=section)


@login_required
@require_POST
def dataset_remove(request, pk: int, item_pk: int):
    def find(application):
        items = {item.pk: item for item in application.requested.select_related("dataset")}
        if item_pk not in items:
            raise Http404("Not a dataset of this application.")
        return {"requested": {i.dataset: i.justification for key, i in items.items() if key != item_pk}}

    return _remove(request, pk, Section.DATASETS, find, svc.application_set_datasets, "Dataset")


@login_required
@require_POST
def dataset_add(request, pk: int):
    """Add the dataset named in the body (`dataset`: its identifier) to a draft or returned application,
    from the dataset page or the basket (`back`: "basket" or "dataset", where a refusal is shown)."""
    application = application_get_for(user=request.user, pk=pk, action="team")
    identifier = request.POST.get("dataset", "").strip()
    dataset = datasets_visible_to(request.user).filter(identifier=identifier).first() if identifier else None
    back = request.POST.get("back")
    if back == "basket":
        back_url = reverse("catalogue:basket")
    elif dataset is not None:
        back_url = reverse("catalogue:dataset-apply", args=[dataset.identifier])
    else:
        back_url = reverse("access_requests:application-detail", args=[pk])
    if dataset is None:
        messages.error(request, "No such dataset: choose one from the catalogue.")
        return redirect(back_url)
    try:
        svc.application_add_dataset(actor=request.user, application=application, dataset=dataset)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(back_url)
    messages.success(
        request, f"{dataset.identifier} added to {application.reference}: say why you need it and how you will use it."
    )
    return redirect("access_requests:section-edit", pk=pk, section=Section.DATASETS)


@login_required
@require_POST
def team_member_remove(request, pk: int, member_pk: int):
    def find(application):
        return {"member": get_object_or_404(application.team, pk=member_pk)}

    return _remove(request, pk, Section.TEAM, find, svc.team_member_remove, "Team member")


@login_required
@require_POST
def ethics_approval_remove(request, pk: int, approval_pk: int):
    def find(application):
        return {"approval": get_object_or_404(application.ethics_approvals, pk=approval_pk)}

    return _remove(request, pk, Section.ETHICS, find, svc.ethics_approval_remove, "Ethics approval")


@login_required
@require_POST
def dpia_risk_remove(request, pk: int, risk_pk: int):
    def find(application):
        return {"risk": get_object_or_404(application.dpia.risks, pk=risk_pk)}

    return _remove(request, pk, Section.DPIA, find, svc.dpia_risk_remove, "Risk")


# --- check and submit, withdraw, delete ------------------------------------------------------


@login_required
def application_submit_page(request, pk: int):
    """The one list of problems; submission is refused (by the service) while it is not empty."""
    application = application_get_for(user=request.user, pk=pk, action="edit")
    if request.method == "POST":
        try:
            application_submit(actor=request.user, application=application)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Application {application.reference} submitted to the Research Data Office.")
            return redirect("access_requests:application-detail", pk=pk)
    problems = application_check(application)
    context = {
        "application": application,
        "groups": problems_by_section(problems),
        "problem_count": len(problems),
        "is_applicant": is_applicant(request.user, application),
        "latest_comments": comments_by_section(application)["latest_round"],
    }
    return render(request, "access_requests/submit.html", context, status=409 if request.method == "POST" else 200)


@login_required
def application_withdraw_page(request, pk: int):
    application = application_get_for(user=request.user, pk=pk, action="applicant")
    form = WithdrawForm(request.POST or None)
    withdrawable = application.status in TRANSITIONS["withdraw"][0]
    if request.method == "POST" and form.is_valid():
        try:
            application_withdraw(actor=request.user, application=application, reason=form.cleaned_data["reason"])
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Application {application.reference} is withdrawn.")
        return redirect("access_requests:application-detail", pk=pk)
    context = {"application": application, "form": form, "withdrawable": withdrawable}
    return render(request, "access_requests/withdraw.html", context)


@login_required
def application_delete_page(request, pk: int):
    application = application_get_for(user=request.user, pk=pk, action="applicant")
    if request.method == "POST":
        try:
            svc.application_delete_draft(actor=request.user, application=application)
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect("access_requests:application-detail", pk=pk)
        messages.success(request, f"Draft {application.reference} deleted.")
        return redirect("access_requests:application-list")
    deletable = application.status == ApplicationStatus.DRAFT and not application.submission_count
    return render(request, "access_requests/delete.html", {"application": application, "deletable": deletable})
