"""The committee's pages: the review page, the members' conflict, checks and vote (with and without
the script), the chair's decision and extension, the queue, the dashboards and the clock elsewhere."""

import html
import re
import time

import pytest
from django.urls import reverse

from access_requests.models import (
    ApplicationStatus,
    CommitteeAssignment,
    ConflictDeclaration,
    DatasetDecision,
    DecisionClockEvent,
    ReviewCheck,
    ReviewRound,
    Vote,
)
from access_requests.services import applications as svc
from access_requests.services import review
from access_requests.services import transitions as tr
from portal.models import AuditEvent, Role
from portal.services.accounts import user_grant_role
from portal.sudo import SESSION_KEY
from tests.access_requests.conftest import CHECKLIST_DONE, complete

pytestmark = pytest.mark.django_db

FETCH = {"HTTP_X_REQUESTED_WITH": "fetch"}


@pytest.fixture
def as_user(client):
    def sign_in(user, *, sudo=False):
        client.force_login(user)
        session = client.session
        session[SESSION_KEY] = time.time() + (600 if sudo else -1)
        session.save()
        return client

    return sign_in


def url(name, application, **kwargs):
    return reverse(f"access_requests:{name}", kwargs={"pk": application.pk, **kwargs})


def text(response) -> str:
    return html.unescape(response.content.decode())


def test_the_review_page_shows_the_application_its_documents_checklist_clock_and_round(as_user, round1, member):
    page = text(as_user(member).get(url("committee-review", round1.application)))
    assert "Round 1" in page and "Voting deadline" in page and "Majority of the votes" in page
    assert "Decision due by" in page and "days left" in page
    assert "?view=inline" in page  # the ethics approval opens in the browser
    assert "Ethics approvals verified: yes" in page
    assert "Declare a conflict of interest" in page
    assert "Legal check" in page and "Technical check" in page
    assert "The legal basis for the processing is stated and sound" in page
    assert "Hidden until you vote" in page
    assert "review.js" in page
    assert "The chair's decision" not in page  # a member, not the chair


def test_a_document_link_from_the_review_page_opens_inline(as_user, round1, member):
    approval = round1.application.ethics_approvals.first()
    client = as_user(member)
    response = client.get(url("document-ethics", round1.application, approval_pk=approval.pk) + "?view=inline")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("inline")
    plain = client.get(url("document-ethics", round1.application, approval_pk=approval.pk))
    assert plain["Content-Disposition"].startswith("attachment")


def test_the_tally_is_hidden_until_the_member_votes_and_the_chair_always_sees_it(
    as_user, round1, member, member2, chair
):
    review.vote_cast(actor=member2, review_round=round1, choice="reject", rationale="Too broad.")
    application = round1.application
    before = text(as_user(member).get(url("committee-review", application)))
    assert "Hidden until you vote" in before and "Too broad." not in before and "Mia Second" not in before
    review.vote_cast(actor=member, review_round=round1, choice="approve")
    after = text(as_user(member).get(url("committee-review", application)))
    assert "2 of 3 members voted" in after and "Mia Second" in after and "Too broad." in after
    assert "Your vote: <strong>Approve</strong>" in after
    chair_page = text(as_user(chair).get(url("committee-review", application)))
    assert "2 of 3 members voted" in chair_page and "The chair's decision" in chair_page


def test_the_members_checks_show_with_the_tally_and_not_before(as_user, round1, member, member2, chair):
    review.check_record(
        actor=member2,
        review_round=round1,
        kind="legal",
        answers={"legal_basis": True, "ethics": False},
        notes="The ethics approval ends before the access period.",
    )
    application = round1.application
    before = text(as_user(member).get(url("committee-review", application)))
    assert "The committee's checks in this round" not in before and "ends before the access" not in before
    review.vote_cast(actor=member, review_round=round1, choice="approve")
    after = text(as_user(member).get(url("committee-review", application)))
    assert "The committee's checks in this round" in after
    assert "Mia Second</strong>, legal check: 1 of 4 items answered yes" in after
    assert "The ethics approvals cover the requested datasets and the access period" in after
    assert "The ethics approval ends before the access period." in after
    assert "ends before the access period" in text(as_user(chair).get(url("committee-review", application)))


def test_a_vote_posted_by_the_script_answers_the_vote_section_and_records_it(as_user, round1, member):
    client = as_user(member)
    response = client.post(url("committee-vote", round1.application), {"round": 1, "choice": "approve"}, **FETCH)
    assert response.status_code == 200
    fragment = text(response)
    assert fragment.lstrip().startswith('<section id="committee-vote"')
    assert "Your vote is recorded" in fragment and "1 of 3 members voted" in fragment
    assert "<html" not in fragment
    assert Vote.objects.get(round=round1, member=member).choice == "approve"
    assert AuditEvent.objects.filter(verb="review.vote", actor=member).exists()


def test_a_plain_vote_post_redirects_back_with_a_message(as_user, round1, member):
    client = as_user(member)
    response = client.post(url("committee-vote", round1.application), {"round": 1, "choice": "approve"})
    assert response.status_code == 302
    assert response["Location"].endswith(url("committee-review", round1.application) + "#vote-heading")
    page = text(client.get(response["Location"]))
    assert "Your vote is recorded" in page


def test_a_member_changes_their_vote_until_the_round_closes(as_user, round1, member):
    client = as_user(member)
    client.post(url("committee-vote", round1.application), {"round": 1, "choice": "approve"}, **FETCH)
    client.post(
        url("committee-vote", round1.application),
        {"round": 1, "choice": "request_changes", "rationale": "Name the cluster."},
        **FETCH,
    )
    assert Vote.objects.get(round=round1, member=member).choice == "request_changes"
    assert AuditEvent.objects.filter(verb="review.vote_change", actor=member).exists()


def test_a_vote_other_than_approve_without_rationale_shows_the_field_error(as_user, round1, member):
    client = as_user(member)
    response = client.post(url("committee-vote", round1.application), {"round": 1, "choice": "reject"}, **FETCH)
    assert response.status_code == 400
    assert "Give a rationale." in text(response)
    plain = client.post(url("committee-vote", round1.application), {"round": 1, "choice": "reject"})
    assert plain.status_code == 400 and "Give a rationale." in text(plain) and "<html" in text(plain)
    assert not Vote.objects.filter(round=round1).exists()


def test_a_conflict_declared_recuses_the_member_and_hides_their_vote_form(as_user, round1, member):
    client = as_user(member)
    response = client.post(
        url("committee-conflict", round1.application), {"round": 1, "reason": "I supervise the applicant."}, **FETCH
    )
    assert response.status_code == 200
    fragment = text(response)
    assert "You are recused" in fragment and "I supervise the applicant." in fragment
    assert 'id="committee-checks"' in fragment and 'id="committee-vote"' in fragment
    assert "Cast my vote" not in fragment
    assert ConflictDeclaration.objects.filter(round=round1, member=member).exists()


def test_a_conflict_needs_a_reason(as_user, round1, member):
    response = as_user(member).post(url("committee-conflict", round1.application), {"round": 1, "reason": " "})
    assert response.status_code == 400
    assert not ConflictDeclaration.objects.filter(round=round1, member=member).exists()


def test_an_automatic_recusal_shows_its_reason(as_user, forwardable, rdo, committee, chair, member, alice):
    # a steward of the requested dataset's holder on the committee is recused by the portal
    from catalogue.services import data_holder_add_steward

    holder = forwardable.requested.first().dataset.holder
    data_holder_add_steward(actor="system:test", holder=holder, user=member)
    application = tr.application_forward(actor=rdo, application=forwardable, committee=committee)
    page = text(as_user(member).get(url("committee-review", application)))
    assert "You are recused" in page and "Steward of Riga Test Hospital" in page


def test_a_check_is_saved_and_shown_with_its_answers(as_user, round1, member):
    client = as_user(member)
    response = client.post(
        url("committee-check", round1.application, kind="legal"),
        {"round": 1, "item_legal_basis": "on", "item_ethics": "on", "notes": "The basis is consent."},
        **FETCH,
    )
    assert response.status_code == 200
    assert "Legal check saved." in text(response)
    check = ReviewCheck.objects.get(round=round1, member=member, kind="legal")
    assert check.answers == {"legal_basis": True, "ethics": True, "representations": False, "use_conditions": False}
    page = client.get(url("committee-review", round1.application)).content.decode()
    assert 'name="item_legal_basis" id="id_legal_item_legal_basis" checked' in page
    assert "The basis is consent." in page


def test_an_unknown_check_kind_is_not_found(as_user, round1, member):
    response = as_user(member).post(url("committee-check", round1.application, kind="medical"), {"round": 1})
    assert response.status_code == 404


def test_a_post_for_a_round_no_longer_open_changes_nothing_and_says_reload(as_user, round1, member, chair):
    review.vote_cast(actor=member, review_round=round1, choice="approve")
    review.vote_cast(actor=chair, review_round=round1, choice="approve")
    review.round_decide(actor=chair, application=round1.application, outcome="rejected", rationale="Too broad.")
    client = as_user(member)
    before = AuditEvent.objects.count()
    response = client.post(
        url("committee-vote", round1.application), {"round": 1, "choice": "reject", "rationale": "No."}, **FETCH
    )
    assert response.status_code == 409
    assert "The round closed while this page was open: reload" in response.content.decode()
    plain = client.post(url("committee-conflict", round1.application), {"round": 1, "reason": "Late."})
    assert plain.status_code == 302
    assert "The round closed while this page was open" in text(client.get(plain["Location"]))
    assert Vote.objects.get(round=round1, member=member).choice == "approve"
    assert not ConflictDeclaration.objects.filter(round=round1, member=member).exists()
    assert AuditEvent.objects.exclude(verb="access.refused").count() == before


def test_a_post_naming_an_earlier_round_is_refused_when_a_new_one_is_open(as_user, round1, member):
    response = as_user(member).post(
        url("committee-vote", round1.application), {"round": 2, "choice": "approve"}, **FETCH
    )
    assert response.status_code == 409
    assert not Vote.objects.exists()


def test_the_chair_sees_the_rule_met_and_approves(as_user, round1, member, member2, chair):
    review.vote_cast(actor=member, review_round=round1, choice="approve")
    review.vote_cast(actor=member2, review_round=round1, choice="approve")
    client = as_user(chair, sudo=True)
    page = text(client.get(url("committee-review", round1.application)))
    assert "The committee's rule is met: the votes allow an approval." in page
    response = client.post(
        url("committee-decide", round1.application),
        {"round": 1, "outcome": "approved", "rationale": "Sound project.", "conditions": "No linkage."},
    )
    assert response.status_code == 302
    round1.refresh_from_db()
    assert round1.outcome == "approved" and round1.conditions == "No linkage."
    assert round1.application.__class__.objects.get(pk=round1.application_id).status == ApplicationStatus.APPROVED
    page = text(client.get(response["Location"]))
    assert "Round 1: Approved" in page and "Sound project." in page and "No linkage." in page


def test_approve_is_disabled_and_refused_while_the_rule_is_not_met(as_user, round1, chair):
    client = as_user(chair, sudo=True)
    page = client.get(url("committee-review", round1.application)).content.decode()
    assert re.search(r'<input[^>]*value="approved"[^>]*disabled', page)
    assert not re.search(r'<input[^>]*value="rejected"[^>]*disabled', page)
    response = client.post(
        url("committee-decide", round1.application), {"round": 1, "outcome": "approved", "rationale": "Yes."}
    )
    assert response.status_code == 400
    assert "does not allow an approval" in text(response)
    assert ReviewRound.objects.get(pk=round1.pk).closed_at is None


def test_the_decision_asks_for_the_password_again(as_user, round1, chair):
    response = as_user(chair).post(
        url("committee-decide", round1.application), {"round": 1, "outcome": "rejected", "rationale": "No."}
    )
    assert response.status_code == 302 and "confirm-password" in response["Location"]
    assert ReviewRound.objects.get(pk=round1.pk).closed_at is None


@pytest.fixture
def two_holders(alice, rdo, committee, chair, member, member2, dataset, other_dataset):
    """In review: an application requesting a dataset of each of two data holders."""
    application = svc.application_create(actor=alice, title="Breast density and AI", datasets=[dataset, other_dataset])
    application = complete(application, alice)
    tr.application_submit(actor=alice, application=application)
    tr.rdo_checklist_update(actor=rdo, application=application, data=CHECKLIST_DONE)
    return tr.application_forward(actor=rdo, application=application, committee=committee)


def test_the_chair_approves_one_dataset_and_refuses_the_other(as_user, two_holders, member, member2, chair):
    current = review.current_round(two_holders)
    review.vote_cast(actor=member, review_round=current, choice="approve")
    review.vote_cast(actor=member2, review_round=current, choice="approve")
    first, second = two_holders.requested.select_related("dataset").order_by("pk")
    client = as_user(chair, sudo=True)
    page = text(client.get(url("committee-review", two_holders)))
    assert "Dataset by dataset" in page and "Valencia Test Hospital" in page
    missing_reason = client.post(
        url("committee-decide", two_holders),
        {
            "round": current.number,
            "outcome": "approved",
            "rationale": "Partly.",
            f"dataset_{first.pk}": "approve",
            f"dataset_{second.pk}": "refuse",
        },
    )
    assert missing_reason.status_code == 400
    assert f"Say why {second.dataset.identifier} is refused." in text(missing_reason)
    response = client.post(
        url("committee-decide", two_holders),
        {
            "round": current.number,
            "outcome": "approved",
            "rationale": "Partly.",
            f"dataset_{first.pk}": "approve",
            f"dataset_{second.pk}": "refuse",
            f"reason_{second.pk}": "Prostate images are out of scope.",
        },
    )
    assert response.status_code == 302
    decisions = {d.requested_id: (d.approved, d.reason) for d in DatasetDecision.objects.filter(round=current)}
    assert decisions == {first.pk: (True, ""), second.pk: (False, "Prostate images are out of scope.")}
    assert "refused, Prostate images are out of scope." in text(client.get(response["Location"]))


def test_the_chair_extends_the_clock_once(as_user, round1, chair):
    client = as_user(chair, sudo=True)
    assert "Extend the decision time" in text(client.get(url("committee-review", round1.application)))
    too_long = client.post(url("committee-extend", round1.application), {"months": 9, "reason": "Busy."})
    assert too_long.status_code == 400
    response = client.post(url("committee-extend", round1.application), {"months": 2, "reason": "Summer recess."})
    assert response.status_code == 302
    page = text(client.get(response["Location"]))
    assert "Extended by 2 months: Summer recess." in page
    assert "cannot be extended again" in page
    again = client.post(url("committee-extend", round1.application), {"months": 1, "reason": "More."})
    assert again.status_code == 400 and "already been extended" in text(again)
    assert DecisionClockEvent.objects.filter(application=round1.application, kind="extend").count() == 1


def test_a_member_cannot_decide_or_extend(as_user, round1, member):
    client = as_user(member, sudo=True)
    assert client.post(url("committee-decide", round1.application), {"round": 1}).status_code == 403
    assert client.post(url("committee-extend", round1.application), {"months": 1}).status_code == 403


def test_the_queue_lists_the_open_rounds_nearest_deadline_first_with_the_members_part(
    as_user, round1, two_holders, member, member2
):
    user_grant_role(actor="system:test", user=member, role=Role.COMMITTEE)
    ReviewRound.objects.filter(pk=round1.pk).update(voting_deadline=round1.voting_deadline + timedelta_days(3))
    later = review.current_round(two_holders)
    review.vote_cast(actor=member, review_round=later, choice="approve")
    client = as_user(member)
    page = text(client.get(reverse("access_requests:committee-queue")))
    assert page.index(two_holders.reference) < page.index(round1.application.reference)
    assert "Voted" in page and "Not voted yet" in page and "days left" in page
    assert 'href="/applications/committee/"' in page  # in the navigation


def timedelta_days(days):
    from datetime import timedelta

    return timedelta(days=days)


def test_the_queue_refuses_a_tampered_cursor(as_user, member):
    user_grant_role(actor="system:test", user=member, role=Role.COMMITTEE)
    response = as_user(member).get(reverse("access_requests:committee-queue") + "?after=garbage")
    assert response.status_code == 400


def test_the_review_page_and_the_queue_make_a_bounded_number_of_queries(
    as_user, round1, two_holders, member, member2, chair, django_assert_max_num_queries
):
    user_grant_role(actor="system:test", user=member, role=Role.COMMITTEE)
    for current in (round1, review.current_round(two_holders)):
        review.vote_cast(actor=member2, review_round=current, choice="approve")
        review.vote_cast(actor=member, review_round=current, choice="approve")
    client = as_user(member)
    with django_assert_max_num_queries(48):
        assert client.get(url("committee-review", round1.application)).status_code == 200
    with django_assert_max_num_queries(10):
        assert client.get(reverse("access_requests:committee-queue")).status_code == 200


def test_the_dashboards_show_votes_decisions_and_clocks(as_user, round1, member, member2, chair, rdo):
    for user in (member, chair):
        user_grant_role(actor="system:test", user=user, role=Role.COMMITTEE)
    reference = round1.application.reference
    page = text(as_user(member).get(reverse("dashboard")))
    assert "Votes awaiting you" in page and reference in page and "round 1, vote by" in page
    review.vote_cast(actor=member, review_round=round1, choice="approve")
    review.vote_cast(actor=member2, review_round=round1, choice="approve")
    page = text(as_user(member).get(reverse("dashboard")))
    assert "No open round waits for your vote." in page
    chair_page = text(as_user(chair).get(reverse("dashboard")))
    assert "Decisions awaiting you" in chair_page and "the rule allows an approval" in chair_page
    assert "decision due" in chair_page
    # the RDO sees the clocks due within two weeks
    rdo_page = text(as_user(rdo).get(reverse("dashboard")))
    assert (
        "Decision clocks" in rdo_page and reference not in rdo_page.split("Decision clocks")[1].split("</section>")[0]
    )
    DecisionClockEvent.objects.filter(application=round1.application, kind="start").update(
        at=round1.opened_at - timedelta_days(85)
    )
    rdo_page = text(as_user(rdo).get(reverse("dashboard")))
    assert reference in rdo_page.split("Decision clocks")[1].split("</section>")[0]


def test_the_application_page_shows_the_clock_to_the_team_and_links_the_committee(as_user, round1, alice, member):
    page = text(as_user(alice).get(url("application-detail", round1.application)))
    assert "Decision due by" in page and "days left" in page
    assert "Review as the access committee" not in page
    page = text(as_user(member).get(url("application-detail", round1.application)))
    assert "Review as the access committee" in page


def test_the_forward_form_preselects_the_data_holders_committee(as_user, forwardable, rdo, committee, holder):
    CommitteeAssignment.objects.create(holder=holder, committee=committee)
    page = as_user(rdo).get(url("rdo-review", forwardable)).content.decode()
    assert f'<option value="{committee.pk}" selected>' in page


def test_a_team_member_cannot_open_the_committee_page(as_user, round1, alice):
    assert as_user(alice).get(url("committee-review", round1.application)).status_code == 403


def test_the_votes_of_a_closed_round_are_shown_to_every_member(as_user, round1, member, member2, chair):
    review.vote_cast(actor=member, review_round=round1, choice="approve")
    review.vote_cast(actor=chair, review_round=round1, choice="reject", rationale="Too broad.")
    review.conflict_declare(actor=member2, review_round=round1, reason="I know the team.")
    review.round_decide(actor=chair, application=round1.application, outcome="rejected", rationale="Too broad.")
    page = text(as_user(member2).get(url("committee-review", round1.application)))
    assert "Round 1: Rejected" in page and "Who voted what" in page
    assert "Max Member</strong>: Approve" in page and "Carla Chair</strong>: Reject" in page
    assert "Recused: Mia Second." in page
    assert "Your part in round" not in page  # nothing is open to act on


def test_the_rdo_review_page_shows_the_clock(as_user, round1, rdo):
    page = text(as_user(rdo).get(url("rdo-review", round1.application)))
    assert "Decision clock" in page and "Decision due by" in page


def test_the_team_does_not_see_the_committees_votes_in_the_timeline(as_user, round1, member, alice, rdo):
    review.vote_cast(actor=member, review_round=round1, choice="approve")
    assert "voted in round 1" not in text(as_user(alice).get(url("application-detail", round1.application)))
    assert "voted in round 1" in text(as_user(rdo).get(url("application-detail", round1.application)))
