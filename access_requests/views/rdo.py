"""The Research Data Office's pages: the queue of submitted applications and the review page
(completeness checklist, return for revision with comments per section, forward to a committee,
and on a resubmission the field-by-field changes since the previous submission)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from access_requests.forms import ChecklistForm, ForwardForm, ReturnForm, form_add_domain_error
from access_requests.models import ApplicationStatus, RdoChecklist
from access_requests.permissions import application_get_for, applications_where
from access_requests.selectors import clock_context
from access_requests.services.review import default_committee_for
from access_requests.services.transitions import (
    application_forward,
    application_resubmit_changes,
    application_return,
    rdo_checklist_update,
)
from access_requests.views.presentation import (
    application_data,
    application_sections,
    comments_by_section,
    submission_words,
)
from portal.access import Rel
from portal.errors import DomainError
from portal.keyset import BadCursor, request_page

QUEUE_PAGE_SIZE = 50


@login_required
def rdo_queue(request):
    """Submitted applications, oldest waiting first, with their age in days: a page at a time, found
    by the age of the last one shown (keyset on submitted_at, id; index `application_queue`)."""
    waiting = (
        applications_where(request.user, Rel.REVIEWING_RDO)
        .filter(status=ApplicationStatus.SUBMITTED)
        .select_related("applicant")
    )
    try:
        page = request_page(request, waiting, order=("submitted_at", "pk"), size=QUEUE_PAGE_SIZE)
    except BadCursor as exc:
        return render(request, "access_requests/rdo_queue.html", {"page_error": str(exc)}, status=400)
    now = timezone.now()
    for application in page.object_list:
        application.age_days = (now - application.submitted_at).days if application.submitted_at else 0
        application.is_resubmission = application.submission_count > 1
    return render(request, "access_requests/rdo_queue.html", {"waiting": page.object_list, "page": page})


def _checklist(application) -> RdoChecklist | None:
    return RdoChecklist.objects.filter(application=application, submission_number=application.submission_count).first()


def _committee_preselected(application) -> int | None:
    """The committee the forward form offers first: the one already chosen, else the data holders' default."""
    if application.committee_id is not None:
        return application.committee_id
    default = default_committee_for(application)
    return default.pk if default is not None else None


def _review_page(request, application, *, checklist_form=None, return_form=None, forward_form=None, status=200):
    checklist = _checklist(application)
    initial = {}
    if checklist:
        initial = {
            name: getattr(checklist, name)
            for name in ("ethics_verified", "dpia_reviewed", "representations_checked", "notes")
        }
    comments = comments_by_section(application)
    return_form = return_form or ReturnForm()
    sections = application_sections(application, comments=comments, editable=False)
    for section in sections:
        section["comment_field"] = return_form[f"comment_{section['key']}"]
    context = {
        **application_data(application),
        "application": application,
        "sections": sections,
        "submission_words": submission_words(application),
        "waiting": application.status == ApplicationStatus.SUBMITTED,
        "checklist": checklist,
        "checklist_form": checklist_form or ChecklistForm(initial=initial),
        "return_form": return_form,
        "forward_form": forward_form or ForwardForm(initial={"committee": _committee_preselected(application)}),
        "changes": application_resubmit_changes(application),
        "earlier_comments": comments["latest_round"],
        **clock_context(application),
    }
    return render(request, "access_requests/rdo_review.html", context, status=status)


@login_required
def rdo_review(request, pk: int):
    application = application_get_for(user=request.user, pk=pk, action="review")
    return _review_page(request, application)


def _review_post(request, pk: int, form_class, form_key: str, act, done: str):
    """Validate the posted form, call the service; on refusal show the review page with the form's errors."""
    application = application_get_for(user=request.user, pk=pk, action="review")
    form = form_class(request.POST)
    if form.is_valid():
        try:
            act(application, form)
        except DomainError as exc:
            if application.status != ApplicationStatus.SUBMITTED:  # the page shows no form to put it on
                messages.error(request, exc.message)
                return redirect("access_requests:rdo-review", pk=pk)
            form_add_domain_error(form, exc, aliases={"comments": None})
        else:
            messages.success(request, done.format(reference=application.reference))
            return redirect("access_requests:rdo-review", pk=pk)
    return _review_page(request, application, **{form_key: form}, status=400)


@login_required
@require_POST
def rdo_checklist(request, pk: int):
    def act(application, form):
        rdo_checklist_update(actor=request.user, application=application, data=form.cleaned_data)

    return _review_post(request, pk, ChecklistForm, "checklist_form", act, "Checklist of {reference} saved.")


@login_required
@require_POST
def rdo_return(request, pk: int):
    def act(application, form):
        application_return(actor=request.user, application=application, comments=form.comments())

    return _review_post(
        request, pk, ReturnForm, "return_form", act, "{reference} returned to the applicant for revision."
    )


@login_required
@require_POST
def rdo_forward(request, pk: int):
    def act(application, form):
        application_forward(actor=request.user, application=application, committee=form.cleaned_data["committee"])

    return _review_post(request, pk, ForwardForm, "forward_form", act, "{reference} forwarded to the committee.")
