"""The decision letter: rendered with WeasyPrint by a task after the decision commits, kept once per
round with its SHA-256, downloadable by whoever may see the application, on the page and the API."""

import base64
import hashlib
import io
from pathlib import Path

import pytest
from django.conf import settings
from django.db import transaction
from django.test import Client
from pypdf import PdfReader

from access_requests.models import DecisionLetter, ReviewRound
from access_requests.services import applications as svc
from access_requests.services import letters
from access_requests.services import review as rv
from access_requests.services import transitions as tr
from access_requests.services.documents import DOCUMENT_PATH_FIELDS, document_path_settled
from access_requests.tasks import decision_letter_render
from portal.models import AuditEvent, OutboxEmail
from tests.access_requests.conftest import CHECKLIST_DONE, complete
from tests.helpers import last_event


def _text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


def _stored(letter: DecisionLetter) -> bytes:
    return document_path_settled(letter.path).read_bytes()


def _decide(capture, chair, application, **kwargs):
    """The chair decides; the commit runs its callbacks (the letter's task, eagerly)."""
    with capture(execute=True):
        rv.round_decide(actor=chair, application=application, **kwargs)


@pytest.fixture
def two_holders(alice, rdo, committee, chair, member, dataset, other_dataset):
    draft = svc.application_create(actor=alice, title="Breast density and AI", datasets=[dataset, other_dataset])
    application = complete(draft, alice)
    tr.application_submit(actor=alice, application=application)
    tr.rdo_checklist_update(actor=rdo, application=application, data=CHECKLIST_DONE)
    tr.application_forward(actor=rdo, application=application, committee=committee)
    return application


@pytest.fixture
def split_letter(two_holders, chair, member, django_capture_on_commit_callbacks):
    review_round = rv.current_round(two_holders)
    rv.vote_cast(actor=chair, review_round=review_round, choice="approve")
    rv.vote_cast(actor=member, review_round=review_round, choice="approve")
    first, second = two_holders.requested.order_by("pk")
    _decide(
        django_capture_on_commit_callbacks,
        chair,
        two_holders,
        outcome="approved",
        rationale="The Riga images fit the study; the Valencia ones do not.",
        conditions="Publish the trained model's evaluation openly.",
        datasets={first.pk: (True, ""), second.pk: (False, "Prostate MR is outside the stated purpose.")},
    )
    return DecisionLetter.objects.get(round=review_round)


def test_an_approval_with_a_split_gets_a_letter_naming_what_was_approved_and_refused(split_letter, two_holders):
    content = _stored(split_letter)
    assert content.startswith(b"%PDF-")
    assert hashlib.sha256(content).hexdigest() == split_letter.sha256
    assert split_letter.size == len(content)
    assert split_letter.template_version == "2026-11"
    assert split_letter.path.startswith(f"applications/{two_holders.reference}/")
    text = _text(content)
    for words in (
        two_holders.reference,
        "Breast density and AI",
        "Alice Applicant",
        "University of Latvia",
        "Test Access Committee",
        "Approved for some datasets only",
        "LV-MG-001",
        "ES-MR-002",
        "Prostate MR is outside the stated purpose.",
        "Publish the trained model's evaluation openly.",
        "data-access agreement",
        "Page 1 of",
    ):
        assert words in text, words
    event = last_event("review.letter_render")
    assert event.payload["sha256"] == split_letter.sha256
    assert event.payload["round"] == 1


def test_a_rejection_and_a_return_get_their_letters(
    round1, in_review, chair, member, django_capture_on_commit_callbacks
):
    rv.vote_cast(actor=member, review_round=round1, choice="request_changes", rationale="Name the DPO.")
    _decide(
        django_capture_on_commit_callbacks, chair, in_review, outcome="returned", rationale="Add the DPO's opinion."
    )
    text = _text(_stored(DecisionLetter.objects.get(round=round1)))
    assert "Returned for changes" in text and "Add the DPO's opinion." in text and "resubmit" in text
    assert "Request changes 1" in text  # the tally

    application = in_review
    tr.application_submit(actor=application.applicant, application=application)
    rdo = AuditEvent.objects.filter(verb="application.forward").first().actor
    tr.rdo_checklist_update(actor=rdo, application=application, data=CHECKLIST_DONE)
    tr.application_forward(actor=rdo, application=application, committee=application.committee)
    _decide(
        django_capture_on_commit_callbacks,
        chair,
        application,
        outcome="rejected",
        rationale="The risks of re-identification remain too high.",
    )
    second = DecisionLetter.objects.get(round__application=application, round__number=2)
    text = _text(_stored(second))
    assert "Rejected" in text and "The risks of re-identification remain too high." in text
    assert "LV-MG-001" in text
    assert DecisionLetter.objects.filter(round__application=application).count() == 2


def test_the_letter_is_rendered_once_whatever_the_task_is_run(split_letter):
    events = AuditEvent.objects.filter(verb="review.letter_render").count()
    assert decision_letter_render.delay(split_letter.round_id).get() == split_letter.pk
    assert letters.decision_letter_render(round_id=split_letter.round_id) == split_letter
    assert DecisionLetter.objects.count() == 1
    assert AuditEvent.objects.filter(verb="review.letter_render").count() == events


def test_a_task_that_loses_the_race_leaves_one_row_and_removes_its_file(split_letter, monkeypatch):
    round_id = split_letter.round_id
    folder = Path(settings.DOCUMENT_STORAGE_ROOT) / Path(split_letter.path).parent
    before = sorted(p.name for p in folder.iterdir())
    # this task checked for a letter before the other one recorded its own: its first look finds none
    real = DecisionLetter.objects.filter
    looks = []

    def late(*args, **kwargs):
        looks.append(kwargs)
        return real(*args, **kwargs).none() if len(looks) == 1 else real(*args, **kwargs)

    monkeypatch.setattr(DecisionLetter.objects, "filter", late)
    result = letters.decision_letter_render(round_id=round_id)
    monkeypatch.undo()
    assert DecisionLetter.objects.filter(round_id=round_id).count() == 1
    assert sorted(p.name for p in folder.iterdir()) == before  # the loser's staged file is gone
    assert result == split_letter


def test_a_decision_rolled_back_renders_nothing(round1, in_review, chair, member, django_capture_on_commit_callbacks):
    rv.vote_cast(actor=member, review_round=round1, choice="approve")
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        rv.round_decide(actor=chair, application=in_review, outcome="rejected", rationale="No.")
        raise RuntimeError("the request failed after the decision")
    assert callbacks == []
    assert not DecisionLetter.objects.exists()
    assert ReviewRound.objects.get(pk=round1.pk).closed_at is None


def test_a_failed_rendering_is_retried_and_the_decision_stands(
    round1, in_review, chair, member, monkeypatch, django_capture_on_commit_callbacks, caplog
):
    calls = []

    def broken(template, context):
        calls.append(template)
        raise ValueError("WeasyPrint could not lay out the page")

    monkeypatch.setattr(letters, "pdf_render", broken)
    _decide(django_capture_on_commit_callbacks, chair, in_review, outcome="rejected", rationale="No.")
    assert ReviewRound.objects.get(pk=round1.pk).outcome == "rejected"  # the failure did not undo it
    assert not DecisionLetter.objects.exists()
    assert "decision letter" in caplog.text
    # the task retries, with a growing delay, a bounded number of times (eagerly: one after the other)
    calls.clear()
    monkeypatch.setitem(decision_letter_render.app.conf, "task_eager_propagates", False)
    result = decision_letter_render.apply(args=(round1.pk,))
    assert result.failed()
    assert len(calls) == decision_letter_render.max_retries + 1
    assert decision_letter_render.retry_backoff and decision_letter_render.autoretry_for == (Exception,)


def test_the_sweep_queues_again_a_letter_the_broker_never_received(round1, in_review, chair, member, alice):
    from datetime import timedelta

    from access_requests.tasks import decision_letters_sweep

    rv.vote_cast(actor=member, review_round=round1, choice="approve")
    rv.round_decide(actor=chair, application=in_review, outcome="rejected", rationale="No.")  # nothing queued
    closed_at = ReviewRound.objects.get(pk=round1.pk).closed_at
    assert letters.decision_letters_missing(closed_at + timedelta(minutes=5)) == []  # may still be on its way
    assert letters.decision_letters_missing(closed_at + timedelta(days=31)) == []  # too old for the sweep
    ReviewRound.objects.filter(pk=round1.pk).update(closed_at=closed_at - timedelta(hours=1))
    assert decision_letters_sweep.delay().get() == 1
    assert DecisionLetter.objects.filter(round=round1).exists()
    assert decision_letters_sweep.delay().get() == 0
    assert "decision-letters-sweep" in settings.CELERY_BEAT_SCHEDULE


def test_the_decision_email_says_the_letter_will_be_on_the_page(split_letter):
    mail = OutboxEmail.objects.filter(template="application_decided").latest("pk")
    assert "decision letter" in mail.body_text


def test_the_sweep_keeps_a_letters_file(split_letter):
    assert ("access_requests.DecisionLetter", "path") in DOCUMENT_PATH_FIELDS


# --- downloading it ---------------------------------------------------------------------------


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("who", ["alice", "rdo", "chair", "member", "steward", "other_steward"])
def test_who_may_see_the_application_downloads_the_letter_and_nobody_else(
    who, split_letter, two_holders, request, steward, other_steward, charlie
):
    user = request.getfixturevalue(who)
    url = f"/applications/{two_holders.pk}/rounds/1/letter/"
    api = f"/api/v1/applications/{two_holders.pk}/rounds/1/letter/"
    for address in (url, api):
        response = _client(user).get(address)
        assert response.status_code == 200, (who, address)
        content = b"".join(response.streaming_content)
        assert hashlib.sha256(content).hexdigest() == split_letter.sha256
        assert response["Content-Type"] == "application/pdf"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert "no-store" in response["Cache-Control"]
        assert "attachment" in response["Content-Disposition"]
        assert response["X-Content-SHA256"] == split_letter.sha256
        digest = base64.b64encode(bytes.fromhex(split_letter.sha256)).decode()
        assert response["Repr-Digest"] == f"sha-256=:{digest}:"
        event = last_event("document.view")
        assert (event.actor, event.payload["kind"], event.payload["sha256"]) == (
            user,
            "decision_letter",
            split_letter.sha256,
        )
    outsider = _client(charlie)
    assert outsider.get(url).status_code == 404
    assert outsider.get(api).status_code == 404


def test_the_letter_is_listed_on_the_application_page(split_letter, two_holders, alice):
    page = _client(alice).get(f"/applications/{two_holders.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Decision letters" in html
    assert f"/applications/{two_holders.pk}/rounds/1/letter/" in html
    assert split_letter.sha256 in html


def test_before_the_letter_is_rendered_the_answer_is_404_saying_it_is_being_prepared(
    round1, in_review, alice, chair, member
):
    rv.vote_cast(actor=member, review_round=round1, choice="approve")
    rv.round_decide(actor=chair, application=in_review, outcome="rejected", rationale="No.")  # callbacks not run
    client = _client(alice)
    assert client.get(f"/applications/{in_review.pk}/rounds/1/letter/").status_code == 404
    response = client.get(f"/api/v1/applications/{in_review.pk}/rounds/1/letter/")
    assert response.status_code == 404
    assert "being prepared" in response.json()["detail"]
    assert client.get(f"/api/v1/applications/{in_review.pk}/rounds/2/letter/").status_code == 404
    assert "Decision letters" not in client.get(f"/applications/{in_review.pk}/").content.decode()
