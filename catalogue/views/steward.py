"""Steward pages: my datasets, create and edit, publish and withdraw, register files.

Each view validates a form, fetches the dataset through the permission-checked getter (404 for
what the user may not see, 403 for what they may see but not change), calls one service, and
shows a domain error as a form error.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Sum
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from catalogue.forms import DatasetForm, RegisterFilesForm, RemoveFileForm, WithdrawForm, initial_from
from catalogue.models import DatasetStatus, FileScanStatus
from catalogue.permissions import dataset_get_for_steward, holders_stewarded_by
from catalogue.selectors import datasets_count_by_status, datasets_stewarded_by, with_file_counts
from catalogue.services import (
    dataset_applicants,
    dataset_create,
    dataset_file_problems,
    dataset_file_remove,
    dataset_publish,
    dataset_publish_problems,
    dataset_register_files,
    dataset_snapshot,
    dataset_update,
    dataset_withdraw,
    next_file_version,
)
from portal.errors import DomainError
from portal.keyset import BadCursor, request_page

SCANS_SHOWN = 10
DATASETS_PAGE_SIZE = 50
REFRESH_SECONDS = 3


def _show_error(form, exc: DomainError) -> None:
    """A service's refusal as form errors: at the fields it names, else above the form."""
    for name, errors in (exc.fields or {None: [exc.message]}).items():
        for error in errors:
            form.add_error(name if name in form.fields else None, error)


def _detail(dataset):
    return redirect("catalogue:dataset-detail", identifier=dataset.identifier)


@login_required
def my_datasets(request):
    holders = list(holders_stewarded_by(request.user))
    if not holders:
        raise PermissionDenied("Only the stewards of a data holder look after datasets here.")
    datasets = datasets_stewarded_by(request.user)
    context = {
        "holders": holders,
        "by_status": [(DatasetStatus(s).label, n) for s, n in datasets_count_by_status(datasets).items()],
    }
    try:  # latest change first, a page at a time found by the last row shown (index dataset_holder_updated)
        page = request_page(request, datasets, order=("-updated_at", "-pk"), size=DATASETS_PAGE_SIZE)
    except BadCursor as exc:
        return render(request, "catalogue/steward/my_datasets.html", {**context, "page_error": str(exc)}, status=400)
    context |= {"page": page, "datasets": with_file_counts(page.object_list)}
    return render(request, "catalogue/steward/my_datasets.html", context)


def _dataset_form_page(request, form: DatasetForm, dataset, save, done: str):
    """Show the dataset form; on a valid POST call `save(form)` (a service) and go to the dataset page."""
    if request.method == "POST" and form.is_valid():
        try:
            saved = save(form)
        except DomainError as exc:
            form.add_service_errors(exc.fields, exc.message)
        else:
            messages.success(request, done.format(identifier=saved.identifier))
            return _detail(saved)
    status = 400 if request.method == "POST" else 200
    return render(request, "catalogue/steward/dataset_form.html", {"form": form, "dataset": dataset}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def dataset_create_view(request):
    holders = list(holders_stewarded_by(request.user))
    if not holders:
        raise PermissionDenied("Only the stewards of a data holder create datasets.")
    form = DatasetForm(request.POST or None, holders=holders, initial={"version": "1.0.0"})

    def save(form):
        holder = next(h for h in holders if h.slug == form.cleaned_data["holder"])
        return dataset_create(actor=request.user, holder=holder, data=form.service_data())

    return _dataset_form_page(request, form, None, save, "Draft {identifier} created. Publish it when it is complete.")


@login_required
@require_http_methods(["GET", "POST"])
def dataset_edit_view(request, identifier: str):
    dataset = dataset_get_for_steward(user=request.user, identifier=identifier)
    locked = dataset.status != DatasetStatus.DRAFT or dataset.published_at is not None
    form = DatasetForm(
        request.POST or None,
        initial=initial_from(dataset_snapshot(dataset)),
        identifier_locked=locked,
        indexed=dataset.indexed_fields or (),
    )

    def save(form):
        return dataset_update(actor=request.user, dataset=dataset, data=form.service_data())

    return _dataset_form_page(request, form, dataset, save, "{identifier} saved.")


@login_required
@require_http_methods(["GET", "POST"])
def dataset_publish_view(request, identifier: str):
    """GET: what publishing still needs; POST: publish."""
    dataset = dataset_get_for_steward(user=request.user, identifier=identifier)
    problems = dataset_publish_problems(dataset)
    if request.method == "POST":
        try:
            dataset = dataset_publish(actor=request.user, dataset=dataset)
        except DomainError as exc:
            problems = exc.fields or {"": [exc.message]}
        else:
            messages.success(request, f"{dataset.identifier} is published in the catalogue.")
            return _detail(dataset)
    context = {"dataset": dataset, "problems": problems, "file_count": dataset.files.count()}
    status = 409 if request.method == "POST" else 200
    return render(request, "catalogue/steward/dataset_publish.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def dataset_withdraw_view(request, identifier: str):
    dataset = dataset_get_for_steward(user=request.user, identifier=identifier)
    form = WithdrawForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            dataset = dataset_withdraw(actor=request.user, dataset=dataset, reason=form.cleaned_data["reason"])
        except DomainError as exc:
            _show_error(form, exc)
        else:
            messages.success(request, f"{dataset.identifier} is withdrawn from the public catalogue.")
            return _detail(dataset)
    status = 400 if request.method == "POST" else 200
    return render(request, "catalogue/steward/dataset_withdraw.html", {"dataset": dataset, "form": form}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def dataset_files_view(request, identifier: str):
    """Register the files of a folder; the page follows the scans and refreshes itself while one runs."""
    dataset = dataset_get_for_steward(user=request.user, identifier=identifier)
    form = RegisterFilesForm(request.POST or None, initial={"folder": dataset.identifier})
    if request.method == "POST" and form.is_valid():
        try:
            scan = dataset_register_files(actor=request.user, dataset=dataset, folder=form.cleaned_data["folder"])
        except DomainError as exc:
            _show_error(form, exc)
        else:
            messages.success(request, f"The files under {scan.folder} are being registered.")
            return redirect("catalogue:steward-dataset-files", identifier=dataset.identifier)
    scans = list(dataset.file_scans.select_related("requested_by")[:SCANS_SHOWN])
    running = any(scan.status in (FileScanStatus.QUEUED, FileScanStatus.RUNNING) for scan in scans)
    totals = dataset.files.aggregate(count=Count("pk"), size=Sum("size_bytes"))
    context = {
        "dataset": dataset,
        "form": form,
        "scans": scans,
        "running": running,
        "refresh_seconds": REFRESH_SECONDS,
        "file_count": totals["count"],
        "file_bytes": totals["size"] or 0,
        "can_steward": True,
        "storage_area": dataset.holder.storage_area,
        "file_problems": dataset_file_problems(dataset).get("files", []),
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "catalogue/steward/dataset_files.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def dataset_file_remove_view(request, identifier: str):
    """Remove a file registered by mistake, with a reason; on a published dataset that makes a new version.

    GET `?path=` names the file (the dataset page links here from each file); the form carries its
    SHA-256 so a file whose content changed since the page was opened is not removed unseen.
    """
    dataset = dataset_get_for_steward(user=request.user, identifier=identifier)
    path = request.POST.get("path") if request.method == "POST" else request.GET.get("path", "")
    file = dataset.files.filter(path=(path or "").strip()).first() if path else None
    initial = {"path": path, "sha256": file.sha256 if file else ""}
    form = RemoveFileForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            removed = dataset_file_remove(actor=request.user, dataset=dataset, **form.cleaned_data)
        except DomainError as exc:
            _show_error(form, exc)
        else:
            dataset.refresh_from_db()
            if removed.removed_in_id:
                messages.success(
                    request, f"{removed.path} is removed: {dataset.identifier} is now version {dataset.version}."
                )
                return redirect(reverse("catalogue:dataset-detail", args=[dataset.identifier]) + "#changes")
            messages.success(request, f"{removed.path} is removed from the draft.")
            return redirect(reverse("catalogue:dataset-detail", args=[dataset.identifier]) + "#files")
    published = dataset.status != DatasetStatus.DRAFT or dataset.published_at is not None
    context = {
        "dataset": dataset,
        "form": form,
        "file": file,
        "published": published,
        "next_version": next_file_version(dataset.version) if published else "",
        "applicant_count": len(dataset_applicants(dataset)) if published else 0,
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "catalogue/steward/dataset_file_remove.html", context, status=status)
