"""Demo applications before the access committees, created only through the services (forward,
conflict declarations, checks, votes, the chair's extension and decisions), so every rule, audit
event and notification applies:

- "voting": a round in progress on the main committee: votes cast, a member recused for a
  declared conflict, a legal and a technical check recorded;
- "window": an application in review on the Iberian committee, which approves unless a member
  objects within five working days;
- "extended": a review whose decision clock started ten weeks ago and which the chair extended;
- "approved": returned for changes by the committee in a first round, resubmitted, and approved
  with conditions of use in the second;
- "partial": datasets of both data holders, approved for one and refused for the other;
- "rejected": rejected by the committee.

Idempotent like access_requests/demo.py: an application is looked up by its title and applicant
and its story is told only when it is first created.
"""

from datetime import timedelta

from django.db.models import F
from django.utils import timezone

from access_requests.demo import CHECKLIST_DONE, DATASETS_PER_APPLICATION, PROJECT, _candidates, _fill, _Fit
from access_requests.models import (
    CHECK_ITEMS,
    Application,
    ClockEventKind,
    DecisionClockEvent,
    ReviewRound,
    Vote,
)
from access_requests.services import applications as svc
from access_requests.services import review
from access_requests.services import transitions as tr
from catalogue.models import Dataset

# key: (title, committee key, the data holders whose datasets it asks for)
PLAN = {
    "voting": ("Breast arterial calcification as a marker of heart disease", "main", ("riga",)),
    "window": ("Prostate cancer grading from MRI with and without biopsy", "iberia", ("valencia",)),
    "extended": ("Screening outcomes after a change of mammography equipment", "main", ("riga",)),
    "approved": ("Early signs of cancer on prior screening images", "main", ("riga",)),
    "partial": ("Cancer imaging across two national screening programmes", "main", ("riga", "valencia")),
    "rejected": ("Predicting age from medical images", "main", ("riga",)),
}

# The approved application's access period starts on the day the demo is loaded, so that the grants its
# executed agreement issues (access_requests/demo_agreements.py, demo_grants.py) are active at once; the
# others start three weeks later, as an application written today would.
STARTS_TODAY = ("approved",)

# The extended review's clock looks this old (see _backdate).
CLOCK_AGE = timedelta(weeks=10)

CONDITIONS = (
    "Publish the results within 12 months of the end of the access period and cite the data holders. "
    "Do not link the images with any other data about the same people."
)


def _all_yes(kind: str) -> dict:
    return {key: True for key, _ in CHECK_ITEMS[kind]}


def _pick(candidates: list[Dataset], holders: list, country: str) -> tuple[list[Dataset], _Fit]:
    """One or two datasets of each data holder named, that one applicant can ask for together."""
    fit = _Fit(country)
    each = 1 if len(holders) > 1 else DATASETS_PER_APPLICATION
    chosen = []
    for holder in holders:
        taken = 0
        for dataset in (d for d in candidates if d.holder_id == holder.pk):
            if taken < each and fit.admit(dataset):  # admit() narrows the fit: ask only while choosing
                chosen.append(dataset)
                taken += 1
    return chosen, fit


def _forward(application: Application, people: dict, committee) -> ReviewRound:
    applicant, rdo = people["researcher"], people["rdo"]
    tr.application_submit(actor=applicant, application=application)
    tr.rdo_checklist_update(actor=rdo, application=application, data={**CHECKLIST_DONE, "notes": "Complete."})
    tr.application_forward(actor=rdo, application=application, committee=committee)
    return review.current_round(application)


def _voting(application, people, committees):
    """The round in progress: two votes, a recusal, a legal and a technical check; the chair has not decided."""
    rnd = _forward(application, people, committees["main"])
    review.conflict_declare(
        actor=people["member2"],
        review_round=rnd,
        reason="I co-wrote two papers with the applicant's research group in the last three years.",
    )
    review.check_record(
        actor=people["member1"],
        review_round=rnd,
        kind="legal",
        answers=_all_yes("legal"),
        notes="The ethics approval covers both datasets for the whole access period.",
    )
    review.check_record(
        actor=people["member3"],
        review_round=rnd,
        kind="technical",
        answers={**_all_yes("technical"), "minimisation": False},
        notes="Ask whether the study needs the full screening history or only the last two rounds.",
    )
    review.vote_cast(
        actor=people["member1"],
        review_round=rnd,
        choice="approve",
        rationale="A clear question, a sound plan and a low risk to the people in the images.",
    )
    review.vote_cast(
        actor=people["member3"],
        review_round=rnd,
        choice="abstain",
        rationale="I wait for the answer on how much screening history is needed.",
    )


def _window(application, people, committees):
    """On the objection-window committee: one member approves, none has objected yet."""
    rnd = _forward(application, people, committees["iberia"])
    review.check_record(
        actor=people["member3"],
        review_round=rnd,
        kind="technical",
        answers=_all_yes("technical"),
        notes="The university's cluster meets the hospital's security requirements.",
    )
    review.vote_cast(actor=people["member1"], review_round=rnd, choice="approve", rationale="")


def _extended(application, people, committees):
    """A split committee; the chair extends the decision time to hear the data holder."""
    rnd = _forward(application, people, committees["main"])
    review.vote_cast(actor=people["member1"], review_round=rnd, choice="approve", rationale="")
    review.vote_cast(
        actor=people["member2"],
        review_round=rnd,
        choice="request_changes",
        rationale="The hospital should confirm which screening rounds used the new equipment.",
    )
    review.clock_extend(
        actor=people["chair"],
        application=application,
        months=2,
        reason="The committee needs the hospital's record of when each screening unit was replaced, "
        "which the hospital can send only after its own audit next month.",
    )
    _backdate(application, CLOCK_AGE)


def _backdate(application: Application, age: timedelta) -> None:
    """The services stamp everything with the present moment; so that the demo shows a clock that has
    run for weeks, only the timestamps of this application's review are moved back afterwards (the
    round's opening and voting deadline, its votes and the clock's events). Nothing else changes."""
    ReviewRound.objects.filter(application=application).update(
        opened_at=F("opened_at") - age, voting_deadline=F("voting_deadline") - age
    )
    # the votes were cast in the first days of the round, the extension a week ago
    Vote.objects.filter(round__application=application).update(cast_at=F("cast_at") - age + timedelta(days=3))
    DecisionClockEvent.objects.filter(application=application, kind=ClockEventKind.START).update(at=F("at") - age)
    DecisionClockEvent.objects.filter(application=application, kind=ClockEventKind.EXTEND).update(
        at=F("at") - timedelta(weeks=1)
    )


def _approved(application, people, committees):
    """Round 1: the committee asks for changes. The applicant adds the risk asked for and resubmits;
    round 2 approves with conditions of use."""
    applicant, chair = people["researcher"], people["chair"]
    rnd = _forward(application, people, committees["main"])
    asked = "Add the risk of linking the images with the cancer registry, and how it is prevented."
    review.vote_cast(actor=people["member1"], review_round=rnd, choice="request_changes", rationale=asked)
    review.vote_cast(actor=people["member2"], review_round=rnd, choice="request_changes", rationale=asked)
    review.round_decide(actor=chair, application=application, outcome="returned", rationale=asked)
    svc.dpia_risk_add(
        actor=applicant,
        application=application,
        description="Re-identification by linking the images with the cancer registry",
        likelihood=1,
        severity=3,
        mitigation="No registry data are requested; the agreement forbids any linkage.",
    )
    rnd = _forward(application, people, committees["main"])
    for member in ("member1", "member2", "member3"):
        review.vote_cast(actor=people[member], review_round=rnd, choice="approve", rationale="")
    review.round_decide(
        actor=chair,
        application=application,
        outcome="approved",
        rationale="The linkage risk is now addressed, and every member who voted approves.",
        conditions=CONDITIONS,
    )


def _partial(application, people, committees):
    """Approved for the Riga dataset, refused for the Valencia one."""
    rnd = _forward(application, people, committees["main"])
    review.vote_cast(actor=people["member1"], review_round=rnd, choice="approve", rationale="")
    review.vote_cast(
        actor=people["member3"],
        review_round=rnd,
        choice="approve",
        rationale="Approve the Riga collection only: the Valencia collection is not needed for the question asked.",
    )
    decisions = {}
    for item in application.requested.select_related("dataset__holder"):
        if item.dataset.holder.slug == "riga-east":
            decisions[item.pk] = (True, "")
        else:
            decisions[item.pk] = (
                False,
                "The study's question concerns screening in Latvia; this collection adds no screening cases.",
            )
    review.round_decide(
        actor=people["chair"],
        application=application,
        outcome="approved",
        rationale="The committee approves the datasets the study needs and refuses the one it does not.",
        conditions=CONDITIONS,
        datasets=decisions,
    )


def _rejected(application, people, committees):
    rnd = _forward(application, people, committees["main"])
    reason = "Estimating age from images serves no cancer research question, which these datasets are shared for."
    review.vote_cast(actor=people["member1"], review_round=rnd, choice="reject", rationale=reason)
    review.vote_cast(actor=people["member2"], review_round=rnd, choice="reject", rationale=reason)
    review.round_decide(actor=people["chair"], application=application, outcome="rejected", rationale=reason)


STEPS = {
    "voting": _voting,
    "window": _window,
    "extended": _extended,
    "approved": _approved,
    "partial": _partial,
    "rejected": _rejected,
}


def load_reviews(*, people: dict, datasets: dict, committees: dict) -> dict[str, Application]:
    """Create (or find) one application per committee scenario; returns them by scenario key.

    Skips a scenario when the published datasets (from the catalogue step, or any in the database)
    offer none of its data holders' datasets that the demo researcher can ask for.
    """
    applicant = people["researcher"]
    candidates = _candidates(datasets)
    holders = {}
    for dataset in candidates:
        holders.setdefault(dataset.holder.slug, dataset.holder)
    by_key = {"riga": holders.get("riga-east"), "valencia": holders.get("la-fe")}
    result = {}
    for key, (title, _, holder_keys) in PLAN.items():
        existing = Application.objects.filter(title=title, applicant=applicant).first()
        if existing is not None:
            result[key] = existing
            continue
        wanted = [by_key[h] for h in holder_keys]
        if None in wanted:
            continue
        chosen, fit = _pick(candidates, wanted, applicant.country)
        if {d.holder_id for d in chosen} != {h.pk for h in wanted}:
            continue
        application = svc.application_create(actor=applicant, title=title, datasets=chosen)
        start = timezone.localdate() if key in STARTS_TODAY else None
        application = _fill(application, applicant, fit, people["signatory"], PROJECT, start=start)
        STEPS[key](application, people, committees)
        result[key] = Application.objects.get(pk=application.pk)
    return result
