"""Lists at scale (issue 9): the one visibility selector says what `application_relations` says for
every person and application, in SQL without join or DISTINCT; every list page, dashboard and the API
list runs as many SQL statements for 3 applications as for 30; keyset pages return every row once
while rows are added, and refuse a cursor they did not make with a 400."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from access_requests.models import Application, ApplicationStatus
from access_requests.permissions import application_relations, applications_visible_to, applications_where
from access_requests.services import applications as svc
from portal.access import RULES, Rel
from tests.access_requests.conftest import make_dataset
from tests.conftest import PASSWORD, _person
from tests.helpers import team_join

RELATIONS = (
    Rel.TEAM,
    Rel.APPLICANT,
    Rel.REVIEWING_RDO,
    Rel.ASSIGNED_COMMITTEE,
    Rel.COMMITTEE_CHAIR,
    Rel.REQUESTED_STEWARD,
)

# Each application's state after creation, by its number modulo 6 (set directly: the selector reads
# only status, submission count and committee; the transitions are tested in test_transitions.py).
# The first three are seen by every reviewer: the small set of the statement tests is not empty.
STATES = [
    (ApplicationStatus.IN_REVIEW, 1, True),
    (ApplicationStatus.SUBMITTED, 1, False),
    (ApplicationStatus.DRAFT, 0, False),
    (ApplicationStatus.RETURNED, 1, False),
    (ApplicationStatus.WITHDRAWN, 2, False),
    (ApplicationStatus.WITHDRAWN, 0, False),  # withdrawn before it was ever submitted
]


def put_in_state(application, n: int, committee) -> None:
    status, count, forwarded = STATES[n % len(STATES)]
    submitted = timezone.now() - timedelta(days=100 - n) if count else None
    Application.objects.filter(pk=application.pk).update(
        status=status,
        submission_count=count,
        submitted_at=submitted,
        first_submitted_at=submitted,
        committee=committee if forwarded else None,
    )


def applications(start: int, stop: int, *, applicants, teammates, datasets, committee) -> list[Application]:
    made = []
    for n in range(start, stop):
        applicant = applicants[n % len(applicants)]
        application = svc.application_create(
            actor=applicant, title=f"Study {n}", datasets=[datasets[n % len(datasets)]]
        )
        mate = teammates[n % len(teammates)]
        if mate is not None and mate != applicant:
            team_join(application=application, inviter=applicant, user=mate)
        put_in_state(application, n, committee)
        made.append(application)
    return made


@pytest.fixture
def world(alice, bob, charlie, rdo, committee, chair, member, steward, other_steward, holder, other_holder):
    """People in every relation, and applications in every state requesting either holder's data."""
    rdo_researcher = _person("rdo.researcher@portal.example", "Rui Both", ["rdo", "researcher"])
    member_researcher = _person("member.researcher@uni.example", "Mia Both", ["researcher"])
    from access_requests.services.committees import committee_add_member

    committee_add_member(actor="system:test", committee=committee, user=member_researcher)
    invited = _person("invited@uni.example", "Ian Invited", ["researcher"])
    datasets = [make_dataset(holder, "LV-SC-001"), make_dataset(other_holder, "ES-SC-002")]
    made = applications(
        0,
        24,
        applicants=[alice, charlie, rdo_researcher, member_researcher],
        teammates=[bob, None, alice, rdo_researcher, member_researcher],
        datasets=datasets,
        committee=committee,
    )
    svc.team_member_add(actor=alice, application=made[2], email=invited.email)  # invited, never joined
    people = [alice, bob, charlie, rdo, rdo_researcher, chair, member, member_researcher, steward, other_steward]
    people.append(invited)
    return people, made


def test_the_selector_and_the_per_object_relations_agree_for_everyone(world):
    people, made = world
    view = RULES["application.view"].allow
    for person in people:
        visible = set(applications_visible_to(person).values_list("pk", flat=True))
        by_relation = {rel: set(applications_where(person, rel).values_list("pk", flat=True)) for rel in RELATIONS}
        for application in made:
            application.refresh_from_db()
            held = application_relations(person, application)
            for rel in RELATIONS:
                assert (application.pk in by_relation[rel]) == (rel in held), (person.email, application.title, rel)
            assert (application.pk in visible) == bool(held & set(view)), (person.email, application.title)
    # Every relation is held by somebody somewhere: the loop above proved something for each.
    assert all(any(applications_where(p, rel).exists() for p in people) for rel in RELATIONS)


def test_the_selector_has_no_join_and_no_distinct(world):
    people, _ = world
    for person in people:
        sql = str(applications_visible_to(person).query).upper()
        assert " JOIN " not in sql and "DISTINCT" not in sql, person.email
        assert "GUARDIAN" not in sql


# --- statements per page, whatever the data size -----------------------------------------


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def statements(client, url: str, params=None) -> int:
    client.get(url, params)  # warm what is cached per process (content types, permissions)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params)
    assert response.status_code == 200, (url, response.status_code)
    return len(captured)


PAGES = [
    ("alice", "access_requests:application-list"),
    ("rdo", "access_requests:application-list"),
    ("steward", "access_requests:application-list"),
    ("member", "access_requests:application-list"),
    ("rdo", "access_requests:rdo-queue"),
    ("alice", "dashboard"),
    ("rdo", "dashboard"),
    ("steward", "dashboard"),
    ("member", "dashboard"),
    ("alice", "access_requests:invitation-list"),
]


@pytest.mark.parametrize(("persona", "url_name"), PAGES, ids=[f"{p} {u}" for p, u in PAGES])
def test_each_list_page_runs_the_same_statements_for_3_or_30_applications(
    request, persona, url_name, client, alice, bob, charlie, committee, dataset, other_dataset
):
    user = request.getfixturevalue(persona)
    request.getfixturevalue("steward")
    request.getfixturevalue("member")
    assert client.login(username=user.email, password=PASSWORD)
    people = dict(applicants=[alice, charlie], teammates=[bob, None], datasets=[dataset, other_dataset])
    applications(0, 3, committee=committee, **people)
    url = reverse(url_name)
    small = statements(client, url)
    applications(3, 30, committee=committee, **people)
    large = statements(client, url)
    assert small == large, f"{persona} {url_name}: {small} statements with 3 applications, {large} with 30"
    assert large <= 14  # measured: 5 for the lists and the queue, 6 to 14 for the dashboards (the RDO's has 8 panels)


@pytest.mark.parametrize("persona", ["alice", "rdo", "steward", "member"])
def test_the_api_list_runs_the_same_statements_for_3_or_30_applications(
    request, persona, alice, bob, charlie, committee, dataset, other_dataset
):
    user = request.getfixturevalue(persona)
    request.getfixturevalue("steward")
    request.getfixturevalue("member")
    client = _api(user)
    people = dict(applicants=[alice, charlie], teammates=[bob, None], datasets=[dataset, other_dataset])
    applications(0, 3, committee=committee, **people)
    url = reverse("api-applications")
    small = statements(client, url, {"page_size": 50})
    applications(3, 30, committee=committee, **people)
    large = statements(client, url, {"page_size": 50})
    assert small == large <= 6  # measured: 4


# --- keyset pages -------------------------------------------------------------------------


def _cursor(html: str, rel: str) -> str | None:
    import re

    found = re.search(rf'href="\?(?:[^"]*&amp;)?(after|before)=([^"&]+)"\s+rel="{rel}"', html)
    return found.group(2) if found else None


def test_the_queue_shows_every_waiting_application_once_while_more_arrive(
    client, rdo, alice, bob, charlie, committee, dataset, monkeypatch
):
    from access_requests.views import rdo as rdo_views

    monkeypatch.setattr(rdo_views, "QUEUE_PAGE_SIZE", 2)
    people = dict(applicants=[alice, charlie], teammates=[bob, None], datasets=[dataset])
    applications(0, 30, committee=committee, **people)
    assert client.login(username=rdo.email, password=PASSWORD)
    url = reverse("access_requests:rdo-queue")
    waiting = list(Application.objects.filter(status=ApplicationStatus.SUBMITTED).order_by("submitted_at", "pk"))
    seen, params, arrived = [], {}, 0
    while True:
        html = client.get(url, params).content.decode()
        seen += [a.reference for a in waiting if f">{a.reference}</a>" in html and a.reference not in seen]
        # One more submission arrives between two pages: it is the newest, so it comes last.
        newcomer = svc.application_create(actor=alice, title=f"Late {arrived}", datasets=[dataset])
        Application.objects.filter(pk=newcomer.pk).update(
            status=ApplicationStatus.SUBMITTED, submission_count=1, submitted_at=timezone.now()
        )
        newcomer.refresh_from_db()
        waiting.append(newcomer)
        arrived += 1
        after = _cursor(html, "next")
        if after is None:
            break
        params = {"after": after}
    shown = [a.reference for a in waiting if a.reference in seen]
    assert seen == shown  # oldest first, none twice
    assert set(seen) >= {a.reference for a in waiting[: len(waiting) - 1]}  # all but the very last arrival
    assert arrived > 2


def test_previous_leads_back_to_the_same_rows(client, rdo, alice, bob, charlie, committee, dataset, monkeypatch):
    from access_requests.views import researcher

    monkeypatch.setattr(researcher, "LIST_PAGE_SIZE", 5)
    applications(0, 24, committee=committee, applicants=[alice, charlie], teammates=[bob, None], datasets=[dataset])
    assert client.login(username=rdo.email, password=PASSWORD)
    url = reverse("access_requests:application-list")
    first = client.get(url).content.decode()
    second = client.get(url, {"after": _cursor(first, "next")}).content.decode()
    back = client.get(url, {"before": _cursor(second, "prev")}).content.decode()
    rows = lambda html: [line for line in html.splitlines() if "<td><a href" in line]  # noqa: E731
    assert rows(back) == rows(first) and rows(second) != rows(first)
    assert _cursor(back, "prev") is None


BAD_CURSORS = ["x", "!!!", "WzFd", "WyJub3QgYSBkYXRlIiwgMV0", "W10", "eyJhIjogMX0", "WzEsIDIsIDNd", "%00"]


@pytest.mark.parametrize(
    "url_name", ["access_requests:application-list", "access_requests:rdo-queue", "access_requests:invitation-list"]
)
@pytest.mark.parametrize("cursor", BAD_CURSORS)
def test_a_page_link_that_was_edited_is_refused_with_a_message(client, rdo, url_name, cursor):
    assert client.login(username=rdo.email, password=PASSWORD)
    for key in ("after", "before"):
        response = client.get(reverse(url_name), {key: cursor})
        assert response.status_code == 400
        assert "This page link is not valid" in response.content.decode()


def test_the_api_list_counts_up_to_a_cap_and_still_reaches_the_last_page(
    alice, bob, charlie, rdo, committee, dataset, monkeypatch
):
    import portal.pagination

    monkeypatch.setattr(portal.pagination, "COUNT_CAP", 10)
    applications(0, 24, committee=committee, applicants=[alice, charlie], teammates=[bob, None], datasets=[dataset])
    client = _api(rdo)
    visible = applications_visible_to(rdo).count()
    assert visible > 10
    first = client.get(reverse("api-applications"), {"page_size": 5}).json()
    assert (first["count"], first["count_exact"], first["next"] is not None) == (10, False, True)
    last_page = -(-visible // 5)
    last = client.get(reverse("api-applications"), {"page_size": 5, "page": last_page}).json()
    assert (last["count"], last["count_exact"], last["next"]) == (visible, True, None)
    small = client.get(reverse("api-applications"), {"status": "in_review"}).json()
    assert small["count_exact"] is True and small["count"] == len(small["results"])
    for page in ("0", "abc", str(last_page + 1), "99999999999999999999"):
        response = client.get(reverse("api-applications"), {"page_size": 5, "page": page})
        assert response.status_code == 400 and "page" in response.json()["errors"], page
