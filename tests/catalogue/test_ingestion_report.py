"""The steward's ingestion report: the rate of integration, the rejected files and why, the figures
from the DICOM index, a CSV of every verdict, and the exclusion of the failing files.

Files are pydicom's samples de-identified by catalogue.deid.recipe (tests/catalogue/test_dicom_index.py),
written into the holder's storage area and registered by a scan as a steward would.
"""

import csv
import hashlib
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from catalogue.models import DatasetFile, DatasetStatus, DicomInstance
from catalogue.selectors import dataset_ingestion_report
from catalogue.services import dataset_publish
from catalogue.views.ingestion import csv_cell
from tests.catalogue.test_dicom_index import STORED, TRUNCATED, clean, scan, write
from tests.conftest import PASSWORD
from tests.helpers import last_event

NAMED = f"{STORED}/sub3/ct.dcm"
UNREADABLE = f"{STORED}/truncated.dcm"


@pytest.fixture
def scanned(steward, draft, storage, django_capture_on_commit_callbacks):
    """Six files: three clean DICOM (one whose modality reads as a spreadsheet formula), a text file,
    a CT still naming its patient, and a file claiming DICOM that cannot be read."""
    write(storage, "sub1/ct1.dcm", clean("CT_small.dcm", "SUBJ-0001", instance=1, age="045Y", body_part="CHEST"))
    formula = clean("CT_small.dcm", "SUBJ-0001", instance=2, age="045Y", body_part="CHEST")
    formula.Modality = "=1+2"
    write(storage, "sub1/ct2.dcm", formula)
    write(storage, "sub2/mr.dcm", clean("MR_small.dcm", "SUBJ-0002", age="062Y", body_part="HEAD"))
    named = clean("CT_small.dcm", "SUBJ-0003", age="070Y", body_part="ABDOMEN", shift_days=0)
    named.PatientName = "Doe^Jane"
    write(storage, "sub3/ct.dcm", named)
    storage.write(UNREADABLE, TRUNCATED)
    storage.write(f"{STORED}/notes.txt", b"read me\n")
    scan(steward, draft, django_capture_on_commit_callbacks)
    return draft


def url(dataset, name="steward-dataset-ingestion") -> str:
    return reverse(f"catalogue:{name}", args=[dataset.identifier])


def signed_in(client, user):
    assert client.login(username=user.email, password=PASSWORD)
    return client


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_report_counts_what_ingestion_made_of_the_files(scanned):
    report = dataset_ingestion_report(scanned)

    assert (report.identified, report.integrated, report.rejected, report.failing_count) == (6, 4, 2, 2)
    assert report.rate_text == "66.6%"  # 4 of 6, rounded down
    assert report.rejected_by_reason[0][2] == 1
    by_code = {code: n for code, _words, n in report.rejected_by_reason}
    assert by_code == {"DEID_ATTRIBUTE_NOT_REPLACED": 1, "DICOM_UNREADABLE": 1}
    assert (report.counts["subjects"], report.counts["studies"], report.counts["files"]) == (3, 3, 6)


def test_the_steward_sees_the_rate_the_figures_and_the_rejected_files_with_their_rules(client, steward, scanned):
    response = signed_in(client, steward).get(url(scanned))

    assert response.status_code == 200
    page = response.content.decode()
    assert "66.6% integrated</strong>: 4 of 6 files" in page
    assert "an attribute the profile empties or replaces still holds a real value" in page
    assert "claims to be DICOM but its header cannot be read" in page
    rejected = response.context["page"].object_list
    assert [row.file.path for row in rejected] == [NAMED, UNREADABLE]
    assert f'value="{NAMED}"' in page and "(0010,0010)" in page and "Patient&#x27;s Name" in page
    assert "Exclude the 2 failing files" in page
    assert "2 registered files fail the de-identification check" in page  # the publication warning
    assert "Subjects</dt><dd>3</dd>" in page
    assert "text/plain: 1" in page
    assert "1 read" not in page and "6 files read" in page  # the scan's report: every file read once


def test_the_files_page_and_the_dataset_page_link_the_report_and_warn(client, steward, scanned):
    signed_in(client, steward)
    for page in (url(scanned, "steward-dataset-files"), reverse("catalogue:dataset-detail", args=[scanned.identifier])):
        content = client.get(page).content.decode()
        assert url(scanned) in content
        assert "2 registered files fail the de-identification check" in content


def test_the_csv_lists_every_dicom_verdict_without_pseudonyms_and_defuses_formulas(client, steward, scanned):
    response = signed_in(client, steward).get(url(scanned, "steward-dataset-ingestion-csv"))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="{scanned.identifier}-ingestion.csv"'
    rows = csv_rows(response)
    header, body = rows[0], rows[1:]
    assert header[:6] == ["path", "sha256", "size_bytes", "modality", "series_instance_uid", "passed"]
    by_path = {row[0]: dict(zip(header, row, strict=True)) for row in body}
    assert sorted(by_path) == sorted(
        f"{STORED}/{name}" for name in ("sub1/ct1.dcm", "sub1/ct2.dcm", "sub2/mr.dcm", "sub3/ct.dcm", "truncated.dcm")
    )
    assert by_path[f"{STORED}/sub1/ct2.dcm"]["modality"] == "'=1+2"
    named = by_path[NAMED]
    assert (named["passed"], named["failure_codes"]) == ("no", "DEID_ATTRIBUTE_NOT_REPLACED")
    assert "Patient's Name" in named["first_failure"]
    registered = DatasetFile.objects.get(path=NAMED)
    assert named["sha256"] == registered.sha256
    assert not any("SUBJ-000" in cell for row in rows for cell in row)  # no pseudonym

    rejected = csv_rows(signed_in(client, steward).get(url(scanned, "steward-dataset-ingestion-csv") + "?rejected=1"))
    assert sorted(row[0] for row in rejected[1:]) == [NAMED, UNREADABLE]


@pytest.mark.parametrize(
    ("value", "cell"),
    [("=SUM(A1)", "'=SUM(A1)"), ("+1", "'+1"), ("-2", "'-2"), ("@cmd", "'@cmd"), ("CT", "CT"), (None, ""), (3, "3")],
)
def test_a_csv_cell_never_starts_a_formula(value, cell):
    assert csv_cell(value) == cell


def test_others_get_404_and_the_anonymous_the_login_page(client, other_steward, scanned):
    for name in ("steward-dataset-ingestion", "steward-dataset-ingestion-csv"):
        anonymous = client.get(url(scanned, name))
        assert anonymous.status_code == 302 and anonymous["Location"].startswith(reverse("login"))
    signed_in(client, other_steward)
    for name in ("steward-dataset-ingestion", "steward-dataset-ingestion-csv"):
        assert client.get(url(scanned, name)).status_code == 404
    assert client.post(url(scanned), {"reason": "not mine", "scope": "all"}).status_code == 404
    assert DatasetFile.objects.filter(dataset=scanned).count() == 6


def test_excluding_without_a_reason_is_a_field_error(client, steward, scanned):
    response = signed_in(client, steward).post(url(scanned), {"reason": " ", "scope": "all"})

    assert response.status_code == 400
    assert response.context["form"].errors["reason"]
    assert DatasetFile.objects.filter(dataset=scanned).count() == 6


def test_excluding_a_ticked_file_leaves_the_other(client, steward, scanned):
    response = signed_in(client, steward).post(
        url(scanned), {"reason": "Still names the patient.", "scope": "chosen", "path": [NAMED]}
    )

    assert response.status_code == 302
    assert not DatasetFile.objects.filter(path=NAMED).exists()
    assert DatasetFile.objects.filter(path=UNREADABLE).exists()
    report = dataset_ingestion_report(scanned)
    assert (report.identified, report.integrated, report.excluded, report.failing_count) == (6, 4, 1, 1)


def test_excluding_the_failing_files_is_audited_and_lets_the_dataset_be_published(client, steward, scanned):
    response = signed_in(client, steward).post(url(scanned), {"reason": "Not de-identified.", "scope": "all"})

    assert response.status_code == 302 and response["Location"] == url(scanned)
    event = last_event("dataset.files_exclude")
    assert event.payload["excluded"] == 2 and event.payload["reason"] == "Not de-identified."
    assert sorted(f["path"] for f in event.payload["files"]) == [NAMED, UNREADABLE]
    page = client.get(url(scanned)).content.decode()
    assert "2 files are excluded" in page
    assert "Registered files passing the check: <strong>100%</strong> (4 of 4)" in page
    assert "66.6% integrated" in page  # the excluded files were identified, never integrated
    assert "failed the check and was excluded by a steward" in page
    assert "Every registered file passes the check." in page
    assert "fail the de-identification check" not in page

    assert dataset_publish(actor=steward, dataset=scanned).status == DatasetStatus.PUBLISHED


def _plant(dataset, count: int, start: int) -> None:
    """`count` registered DICOM files failing the check, written as the scan writes them."""
    files = DatasetFile.objects.bulk_create(
        DatasetFile(
            dataset=dataset,
            path=f"{STORED}/bulk/{start + i:05}.dcm",
            size_bytes=10,
            sha256=hashlib.sha256(str(start + i).encode()).hexdigest(),
        )
        for i in range(count)
    )
    failure = {"code": "DEID_METHOD_MISSING", "tag": "(0012,0063)", "message": "no method"}
    DicomInstance.objects.bulk_create(
        DicomInstance(
            file=file,
            modality="CT",
            passed=False,
            failures=[failure],
            failure_count=1,
            checked_at=timezone.now(),
            sop_instance_uid=f"2.25.{file.pk}",
        )
        for file in files
    )


def test_the_page_takes_as_many_queries_for_many_files_as_for_a_few(client, steward, draft, storage):
    signed_in(client, steward)
    _plant(draft, 3, 0)
    client.get(url(draft))  # the session and caches warm
    with CaptureQueriesContext(connection) as few:
        assert client.get(url(draft)).status_code == 200
    _plant(draft, 400, 3)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url(draft))
    assert response.status_code == 200
    assert len(response.context["page"].object_list) == 50
    assert "Exclude the 403 failing files" in response.content.decode()
    assert len(many) == len(few) <= 25  # 22 when measured


def test_a_running_scan_shows_its_progress_and_the_page_refreshes_itself(client, steward, scanned):
    from catalogue.models import FileScan, FileScanStatus

    FileScan.objects.create(
        dataset=scanned,
        folder=STORED,
        requested_by=steward,
        status=FileScanStatus.RUNNING,
        files_total=500,
        files_done=120,
        files_reused=100,
        progress_at=timezone.now(),
    )
    page = signed_in(client, steward).get(url(scanned)).content.decode()

    assert '<meta http-equiv="refresh"' in page
    assert 'max="500" value="120"' in page and "120 of 500 files" in page
    assert "100 unchanged since the last scan (not read again)" in page
    assert "66.6% integrated</strong>: 4 of 6 files" in page  # the finished scan's own report, below
    assert "waits for the file scan under way to finish" in page


def test_a_rescan_after_the_exclusion_counts_each_file_once(
    client, steward, scanned, django_capture_on_commit_callbacks
):
    from catalogue.services import dataset_files_exclude

    dataset_files_exclude(actor=steward, dataset=scanned, reason="Not de-identified.")
    rescan = scan(steward, scanned, django_capture_on_commit_callbacks)

    # the excluded files are still in the folder: the scan leaves them out, the report counts them as excluded
    assert rescan.report["rejected_by_reason"] == {"NOT_REGISTERED: removed from the dataset by a steward": 2}
    report = dataset_ingestion_report(scanned)
    assert (report.identified, report.integrated, report.excluded, report.left_out) == (6, 4, 2, 0)
    assert report.rejected_by_reason == [("EXCLUDED", "failed the check and was excluded by a steward", 2)]


def test_an_entry_the_scan_left_out_is_identified_and_rejected_with_its_reason(
    steward, draft, storage, django_capture_on_commit_callbacks
):
    write(storage, "ct1.dcm", clean("CT_small.dcm", "SUBJ-0001", instance=1, age="045Y", body_part="CHEST"))
    outside = storage.root / "elsewhere.txt"
    outside.write_bytes(b"not the holder's")
    (storage.root / STORED / "link.txt").symlink_to(outside)
    done = scan(steward, draft, django_capture_on_commit_callbacks)

    report = dataset_ingestion_report(draft)
    assert (report.identified, report.integrated, report.left_out, report.rate_text) == (2, 1, 1, "50.0%")
    [(code, words, files)] = report.rejected_by_reason
    assert code.startswith("NOT_REGISTERED: ") and words.startswith("not registered: ") and files == 1
    assert done.skipped[0]["path"].endswith("link.txt")
