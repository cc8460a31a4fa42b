"""The ethics check adds up: the access period's inclusive end, and coverage judged per dataset
over every approval the application holds (renewals close gaps, one day between two approvals is
a gap, an approval covers only the datasets it names)."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from access_requests.models import Application
from access_requests.models.applications import access_period_end
from access_requests.services import applications as svc
from access_requests.services.checks import application_check, uncovered_spans
from access_requests.services.transitions import application_submit
from tests.access_requests.conftest import complete, make_dataset, pdf_upload

DAY = timedelta(days=1)


# --- the access period --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        (date(2027, 1, 1), 12, date(2027, 12, 31)),  # the example: a year, not a year and a day
        (date(2027, 1, 1), 1, date(2027, 1, 31)),
        (date(2027, 1, 15), 1, date(2027, 2, 14)),
        (date(2027, 3, 1), 1, date(2027, 3, 31)),
        (date(2027, 2, 28), 1, date(2027, 3, 27)),
        (date(2027, 1, 28), 1, date(2027, 2, 27)),
        (date(2027, 1, 31), 1, date(2027, 2, 28)),  # no 31 February: the month's last day
        (date(2027, 1, 29), 1, date(2027, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),  # a leap year
        (date(2027, 3, 31), 1, date(2027, 4, 30)),
        (date(2027, 12, 31), 2, date(2028, 2, 29)),
        (date(2027, 8, 31), 6, date(2028, 2, 29)),
        (date(2027, 6, 15), 24, date(2029, 6, 14)),
    ],
)
def test_the_access_period_ends_on_its_last_day_inclusive(start, months, end):
    assert access_period_end(start, months) == end


@pytest.mark.parametrize("first", [date(2027, 1, 1), date(2027, 1, 15), date(2027, 6, 10)])
def test_twelve_one_month_periods_end_to_end_make_the_twelve_month_period(first):
    start = first
    for _ in range(12):
        end = access_period_end(start, 1)
        assert end >= start
        start = end + DAY  # the next period starts the day after: no overlap, no day left out
    assert end == access_period_end(first, 12)


def test_the_application_the_page_and_the_api_show_the_same_end(ready, alice, client):
    start = date(timezone.localdate().year + 1, 1, 1)
    svc.application_update(actor=alice, application=ready, data={"access_start": start, "access_months": 12})
    ready.refresh_from_db()
    assert ready.access_end == date(start.year, 12, 31)
    client.force_login(alice)
    page = client.get(f"/applications/{ready.pk}/").content.decode()
    assert f"{start:%Y-%m-%d} to {start.year}-12-31 (12 months)" in page
    assert client.get(f"/api/v1/applications/{ready.pk}/").json()["access_end"] == f"{start.year}-12-31"


# --- the coverage arithmetic --------------------------------------------------------------


S, E = date(2027, 1, 1), date(2027, 12, 31)


@pytest.mark.parametrize(
    ("periods", "spans"),
    [
        ([(S, E)], []),  # exact fit, both ends inclusive
        ([(S - DAY * 30, E + DAY * 30)], []),
        ([(S, E - DAY)], [(E, E)]),  # one day short at the end
        ([(S + DAY, E)], [(S, S)]),  # one day short at the start
        ([(S, date(2027, 6, 30)), (date(2027, 7, 1), E)], []),  # adjacent: no gap
        ([(S, date(2027, 6, 30)), (date(2027, 7, 2), E)], [(date(2027, 7, 1), date(2027, 7, 1))]),
        ([(date(2027, 7, 2), E), (S, date(2027, 6, 30))], [(date(2027, 7, 1), date(2027, 7, 1))]),  # any order
        ([(S, date(2027, 9, 30)), (date(2027, 3, 1), date(2027, 6, 30))], [(date(2027, 10, 1), E)]),  # nested
        (
            [(date(2027, 2, 1), date(2027, 3, 31)), (date(2027, 5, 1), date(2027, 11, 30))],
            [(S, date(2027, 1, 31)), (date(2027, 4, 1), date(2027, 4, 30)), (date(2027, 12, 1), E)],
        ),
        ([(date(2026, 1, 1), date(2026, 12, 31))], [(S, E)]),  # expired before the period starts
        ([(date(2028, 1, 1), date(2028, 12, 31))], [(S, E)]),  # begins after the period ends
        ([], [(S, E)]),
    ],
)
def test_uncovered_spans(periods, spans):
    assert uncovered_spans(S, E, periods) == spans


# --- the submission check, per dataset over all approvals ---------------------------------


def approve(application, actor, reference, approved_on, expires_on, items):
    svc.ethics_approval_add(
        actor=actor,
        application=application,
        committee_name="UL Research Ethics Committee",
        reference=reference,
        approved_on=approved_on,
        expires_on=expires_on,
        covered_ids=[item.pk for item in items],
        document=pdf_upload(),
    )


def ethics_problems(application):
    application = Application.objects.get(pk=application.pk)
    return [p for p in application_check(application) if p.section == "ethics"]


@pytest.fixture
def next_year():
    """An access period of 12 months from 1 January next year: it ends on 31 December."""
    start = date(timezone.localdate().year + 1, 1, 1)
    return start, date(start.year, 12, 31)


@pytest.fixture
def period_app(alice, dataset, next_year):
    """A complete application whose only approval expires exactly when the access period ends."""
    start, end = next_year
    application = svc.application_create(actor=alice, title="Coverage", datasets=[dataset])
    return complete(application, alice, start=start, months=12, expires=end)


def test_one_approval_that_fits_the_period_exactly_passes(period_app, alice, next_year):
    assert application_check(period_app) == []
    assert application_submit(actor=alice, application=period_app).status == "submitted"


def test_an_approval_ending_the_day_before_the_period_ends_leaves_that_day_uncovered(period_app, alice, next_year):
    start, end = next_year
    approval = period_app.ethics_approvals.get()
    type(approval).objects.filter(pk=approval.pk).update(expires_on=end - DAY)
    [problem] = ethics_problems(period_app)
    assert (problem.field, problem.code) == ("expires_on", "ethics_expires")
    assert problem.message == (
        f"No ethics approval covers LV-MG-001 on {end:%Y-%m-%d}: ethics approval REC-2026-17 expires on "
        f"{end - DAY:%Y-%m-%d}, before the access period ends on {end:%Y-%m-%d}. Add a renewed approval covering "
        "that day, or shorten the access period."
    )


def test_an_approval_given_on_the_first_day_of_the_period_covers_it(alice, dataset, next_year):
    start, end = next_year
    application = svc.application_create(actor=alice, title="Coverage", datasets=[dataset])
    complete(application, alice, start=start, months=12, expires=end)
    approval = application.ethics_approvals.get()
    type(approval).objects.filter(pk=approval.pk).update(approved_on=start)
    assert ethics_problems(application) == []
    type(approval).objects.filter(pk=approval.pk).update(approved_on=start + DAY)
    [problem] = ethics_problems(application)
    assert (problem.field, problem.code) == ("approved_on", "ethics_gap")
    assert problem.message.startswith(f"No ethics approval covers LV-MG-001 on {start:%Y-%m-%d}: the access period")
    assert f"REC-2026-17 was given only on {start + DAY:%Y-%m-%d}" in problem.message


def test_a_gap_of_one_day_between_two_approvals_is_named(alice, dataset, next_year):
    start, end = next_year
    mid = date(start.year, 6, 30)
    application = svc.application_create(actor=alice, title="Coverage", datasets=[dataset])
    complete(application, alice, start=start, months=12, expires=mid)
    approve(application, alice, "REC-RENEWED", mid + 2 * DAY, end + 365 * DAY, application.requested.all())
    [problem] = ethics_problems(application)
    assert (problem.field, problem.code) == ("expires_on", "ethics_gap")
    assert problem.message == (
        f"No ethics approval covers LV-MG-001 on {mid + DAY:%Y-%m-%d}, between REC-2026-17, which expires on "
        f"{mid:%Y-%m-%d}, and REC-RENEWED, which starts on {mid + 2 * DAY:%Y-%m-%d}: add an approval covering "
        "that day."
    )


def test_a_renewal_covering_the_rest_of_the_period_clears_the_problem_the_check_named(alice, dataset, next_year):
    """The researcher does what the check said: the first approval stays, a renewal is added."""
    start, end = next_year
    expiry = date(start.year, 8, 31)
    application = svc.application_create(actor=alice, title="Renewal", datasets=[dataset])
    complete(application, alice, start=start, months=12, expires=expiry)
    [problem] = application_check(Application.objects.get(pk=application.pk))
    assert (problem.section, problem.code) == ("ethics", "ethics_expires")
    assert f"from {expiry + DAY:%Y-%m-%d} to {end:%Y-%m-%d}" in problem.message
    assert "Add a renewed approval covering those days" in problem.message

    approve(application, alice, "REC-2026-17/R1", expiry + DAY, end, application.requested.all())
    application.refresh_from_db()
    assert application_check(application) == []
    assert application_submit(actor=alice, application=application).status == "submitted"


def test_a_renewal_that_starts_a_day_late_still_leaves_that_day(alice, dataset, next_year):
    start, end = next_year
    expiry = date(start.year, 8, 31)
    application = svc.application_create(actor=alice, title="Renewal", datasets=[dataset])
    complete(application, alice, start=start, months=12, expires=expiry)
    approve(application, alice, "REC-2026-17/R1", expiry + 2 * DAY, end, application.requested.all())
    [problem] = ethics_problems(application)
    assert f"LV-MG-001 on {expiry + DAY:%Y-%m-%d}" in problem.message


def test_coverage_is_judged_per_dataset(alice, dataset, holder, next_year):
    """The first approval covers both datasets until the summer; the renewal names only one of them."""
    start, end = next_year
    expiry = date(start.year, 6, 30)
    extra = make_dataset(holder, "LV-CT-003")
    application = svc.application_create(actor=alice, title="Two datasets", datasets=[dataset, extra])
    complete(application, alice, start=start, months=12, expires=expiry)
    mg = application.requested.get(dataset=dataset)
    approve(application, alice, "REC-2026-17/R1", expiry - 30 * DAY, end, [mg])
    [problem] = ethics_problems(application)
    assert (problem.field, problem.code) == ("expires_on", "ethics_expires")
    assert problem.message.startswith(
        f"No ethics approval covers LV-CT-003 from {expiry + DAY:%Y-%m-%d} to {end:%Y-%m-%d}: ethics approval "
        f"REC-2026-17 expires on {expiry:%Y-%m-%d}"
    )
    assert "LV-MG-001" not in problem.message

    approve(application, alice, "REC-2026-17/R2", expiry + DAY, end, [application.requested.get(dataset=extra)])
    assert ethics_problems(application) == []


def test_an_approval_covering_no_dataset_neither_helps_nor_hurts(period_app, alice, next_year):
    start, end = next_year
    approve(period_app, alice, "REC-UNRELATED", start - 400 * DAY, start - 300 * DAY, [])
    assert ethics_problems(period_app) == []


def test_a_dataset_no_approval_names_is_uncovered_whatever_the_dates(alice, dataset, holder, next_year):
    start, end = next_year
    application = svc.application_create(actor=alice, title="Coverage", datasets=[dataset])
    complete(application, alice, start=start, months=12, expires=end)
    extra = make_dataset(holder, "LV-CT-003")
    svc.application_set_datasets(
        actor=alice, application=application, requested={dataset: "For training.", extra: "For validation."}
    )
    [problem] = ethics_problems(application)
    assert (problem.field, problem.code, problem.message) == (
        "datasets",
        "uncovered",
        "No ethics approval covers LV-CT-003.",
    )


@pytest.mark.parametrize(("expires", "ok"), [(None, True), (-1, False)])
def test_a_period_starting_on_31_january_for_one_month_runs_to_the_end_of_february(expires, ok, alice, dataset):
    start = date(timezone.localdate().year + 1, 1, 31)
    end = access_period_end(start, 1)
    assert end.month == 2 and (end + DAY).month == 3  # the last day of February, 28th or 29th
    application = svc.application_create(actor=alice, title="Short", datasets=[dataset])
    complete(application, alice, start=start, months=1, expires=end + DAY * (expires or 0))
    assert application.access_end == end
    messages = [p.message for p in ethics_problems(application)]
    if ok:
        assert messages == []
        return
    assert messages == [
        f"No ethics approval covers LV-MG-001 on {end:%Y-%m-%d}: ethics approval REC-2026-17 expires on "
        f"{end - DAY:%Y-%m-%d}, before the access period ends on {end:%Y-%m-%d}. Add a renewed approval covering "
        "that day, or shorten the access period."
    ]
