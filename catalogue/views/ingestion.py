"""The steward's ingestion report of a dataset: what its files came to, why some were rejected, and
the exclusion of the failing ones; with a CSV of every registered DICOM file's verdict.

Like the other steward pages: the dataset comes through the permission-checked getter (404 for
what the user may not see), the exclusion is one service call, and its refusals are form errors.
"""

import csv
from collections.abc import Iterator

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from catalogue.forms import ExcludeFilesForm
from catalogue.models import FileScanStatus
from catalogue.permissions import dataset_get_for_steward
from catalogue.selectors import dataset_ingestion_report, rate_text, rejection_reason_text
from catalogue.services import dataset_file_problems, dataset_files_exclude
from portal.errors import DomainError
from portal.keyset import BadCursor, request_page

REJECTED_PAGE_SIZE = 50
SCANS_SHOWN = 10
REFRESH_SECONDS = 3
CSV_CHUNK = 2000
CSV_COLUMNS = (
    "path",
    "sha256",
    "size_bytes",
    "modality",
    "series_instance_uid",
    "passed",
    "failure_count",
    "failure_codes",
    "first_failure",
)
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value) -> str:
    """A value as a CSV cell a spreadsheet shows as text: a leading formula character gets a quote before it."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class _Echo:
    """A file-like object whose write returns the line, so csv.writer can feed a streaming response."""

    def write(self, value: str) -> str:
        return value


def _report_page(request, dataset, form: ExcludeFilesForm, status: int = 200):
    report = dataset_ingestion_report(dataset)
    context = {"dataset": dataset, "report": report, "form": form, "refresh_seconds": REFRESH_SECONDS}
    try:  # the failing files in registration order (a folder's files are registered in path order)
        page = request_page(request, report.failing, order=("file_id",), size=REJECTED_PAGE_SIZE, kinds=(int,))
    except BadCursor as exc:
        context["page_error"] = str(exc)
        status = 400
    else:
        context["page"] = page
    scans = list(dataset.file_scans.select_related("requested_by")[:SCANS_SHOWN])
    for scan in scans:
        scan.rate_text = rate_text(scan.report.get("integrated") or 0, scan.report.get("identified") or 0)
        scan.reasons = [
            (code, rejection_reason_text(code), n) for code, n in (scan.report.get("rejected_by_reason") or {}).items()
        ]
    context |= {
        "scans": scans,
        "running": any(scan.status in (FileScanStatus.QUEUED, FileScanStatus.RUNNING) for scan in scans),
        "problems": dataset_file_problems(dataset).get("files", []),
    }
    return render(request, "catalogue/steward/dataset_ingestion.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def dataset_ingestion_view(request, identifier: str):
    """The ingestion report; POST excludes the failing files (all, or those ticked) with a reason."""
    dataset = dataset_get_for_steward(user=request.user, identifier=identifier)
    form = ExcludeFilesForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        paths = request.POST.getlist("path") if request.POST.get("scope") == "chosen" else None
        try:
            excluded = dataset_files_exclude(
                actor=request.user, dataset=dataset, reason=form.cleaned_data["reason"], paths=paths
            )
        except DomainError as exc:
            for name, errors in (exc.fields or {None: [exc.message]}).items():
                for error in errors:
                    form.add_error(name if name in form.fields else None, error)
        else:
            if excluded:
                files = "file is" if len(excluded) == 1 else "files are"
                messages.success(request, f"{len(excluded)} {files} excluded from {dataset.identifier}.")
            else:
                messages.info(request, "No registered file fails the check: nothing was excluded.")
            return redirect("catalogue:steward-dataset-ingestion", identifier=dataset.identifier)
    return _report_page(request, dataset, form, status=400 if request.method == "POST" else 200)


def _verdict_rows(rows) -> Iterator[list[str]]:
    yield list(CSV_COLUMNS)
    for path, sha256, size, modality, series, passed, count, failures in rows:
        failures = failures or []
        codes = ";".join(failure.get("code", "") for failure in failures)
        first = failures[0].get("message", "") if failures else ""
        verdict = "yes" if passed else "no"
        yield [csv_cell(v) for v in (path, sha256, size, modality, series, verdict, count, codes, first)]


@login_required
@require_GET
def dataset_ingestion_csv(request, identifier: str):
    """Every registered DICOM file with its verdict (`?rejected=1`: the failing ones only), streamed.

    The subjects' pseudonyms are left out: the file goes round by e-mail and spreadsheets.
    """
    from catalogue.models import DicomInstance

    dataset = dataset_get_for_steward(user=request.user, identifier=identifier)
    index = DicomInstance.objects.filter(file__dataset=dataset, file__removed_at__isnull=True)
    rejected = request.GET.get("rejected") == "1"
    if rejected:
        index = index.filter(passed=False)
    rows = (
        index.order_by("file__path")
        .values_list(
            "file__path",
            "file__sha256",
            "file__size_bytes",
            "modality",
            "series_instance_uid",
            "passed",
            "failure_count",
            "failures",
        )
        .iterator(chunk_size=CSV_CHUNK)
    )
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in _verdict_rows(rows)), content_type="text/csv; charset=utf-8"
    )
    name = f"{dataset.identifier}-{'rejected' if rejected else 'ingestion'}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
