"""Demo access grants of the demo researcher (Ilze Ozola), made only through the services (applications,
review, agreements, grants), so every rule, audit event, notification and entitlement event applies:

- "download": the executed agreement of "Early signs of cancer on prior screening images"
  (access_requests/demo_agreements.py, access from the day the demo is loaded) issued a download
  grant of the Riga mammography collection: active, with real DICOM files to download (a small
  synthetic cohort made from pydicom's test files, de-identified and checked, registered with their
  sizes and SHA-256 by catalogue/demo.py);
- "revoked": the same agreement's grant of the Riga lung CT collection, revoked by the Research
  Data Office with its reason;
- "processing": "Glioma MRI features and survival", approved for the Riga brain MRI collection,
  which is processed only where it lives: its agreement, signed by every party and executed,
  issued an active processing grant (the hospital's processing environment, portal/demo.py,
  says where to work);
- "expired": "Recall rates before and after double reading", approved for the Riga mammography
  collection for an access period that ended a month ago: the grant its agreement issued is
  marked expired by the periodic sweep (`grants_sweep`, run here at the present time) and the
  application closed.

The expired grant needs the past. No date is written on a row: the applicant gives, after the
Research Data Office returned the application for it, a period that started 400 days ago (the
submission check refuses a start in the past only before the first submission; the ethics
approval dates from before it), the committee approves it, the parties sign today and the
execution issues a grant whose last day has passed, which the sweep then ends as it would any
night. The audit log tells that story with today's times.

Idempotent like demo_review.py: an application is looked up by its title and applicant and its
story is told only when it is first created; the revocation is made only while no grant of the
first application is revoked.
"""

from datetime import timedelta

from django.utils import timezone

from access_requests.demo import PROJECT, _candidates, _fill, _Fit
from access_requests.demo_agreements import _rendered, _sign
from access_requests.demo_review import CONDITIONS, _forward
from access_requests.models import (
    Application,
    ApplicationStatus,
    Grant,
    GrantKind,
    GrantStatus,
    LegalStatement,
    PartyKind,
)
from access_requests.services import applications as svc
from access_requests.services import review
from access_requests.services import transitions as tr
from access_requests.services.grants import grant_revoke, grants_sweep

# key: (title, the demo dataset key of catalogue/demo.py)
PLAN = {
    "processing": ("Glioma MRI features and survival", "brain"),
    "expired": ("Recall rates before and after double reading", "mg"),
}
EVERY_PARTY = (PartyKind.SIGNATORY, PartyKind.STEWARD, PartyKind.RDO)

# The expired application's access period started this many days before the demo was loaded (twelve
# months: it ended about a month ago), and its ethics approval was given a month before that.
EXPIRED_START_DAYS_AGO = 400
EXPIRED_RETURN = {
    "overview": "Your pilot under the hospital's earlier arrangement used these images from last year: give the "
    "access period as it actually ran, so that the agreement covers that use."
}

REVOKED_DATASET = "LV-RECUH-CT-LUNG-2018-2023"
REVOKE_REASON = (
    "The hospital found patients' names burned into the pixels of some CT images in this collection; access "
    "stops until the collection has been anonymised again and checked."
)


def _approve(application: Application, people: dict, committees: dict) -> None:
    """Forward to the main committee; every member approves; the chair decides, with conditions of use."""
    rnd = _forward(application, people, committees["main"])
    for member in ("member1", "member2", "member3"):
        review.vote_cast(actor=people[member], review_round=rnd, choice="approve", rationale="")
    review.round_decide(
        actor=people["chair"],
        application=application,
        outcome="approved",
        rationale="A clear question and a low risk to the people in the images; every member approves.",
        conditions=CONDITIONS,
    )


def _execute(application: Application, people: dict) -> None:
    """Every party signs the agreement's current version (over the hash it records), which executes it."""
    agreement, version = _rendered(Application.objects.get(pk=application.pk))
    if version is not None and version.is_rendered:
        _sign(agreement, version, EVERY_PARTY, people)


def _processing(application: Application, fit: _Fit, people: dict, committees: dict) -> None:
    today = timezone.localdate()
    application = _fill(application, people["researcher"], fit, people["signatory"], PROJECT, start=today)
    _approve(application, people, committees)
    _execute(application, people)


def _expired(application: Application, fit: _Fit, people: dict, committees: dict) -> None:
    applicant, rdo = people["researcher"], people["rdo"]
    today = timezone.localdate()
    began = today - timedelta(days=EXPIRED_START_DAYS_AGO)
    application = _fill(
        application, applicant, fit, people["signatory"], PROJECT, start=today, ethics_from=began - timedelta(days=30)
    )
    tr.application_submit(actor=applicant, application=application)
    tr.application_return(actor=rdo, application=application, comments=EXPIRED_RETURN)
    svc.application_update(actor=applicant, application=application, data={"access_start": began})
    # the period is part of what the institution's signatory accepted: they accept the statements again
    reps = svc.representations_request_signature(actor=applicant, application=application)
    svc.representations_accept(
        actor=people["signatory"],
        reps=reps,
        statements=LegalStatement.values,
        covered_sha256=svc.representations_covered_hash(application),
    )
    application = Application.objects.get(pk=application.pk)
    _approve(application, people, committees)  # resubmitted, checked and forwarded by _forward
    _execute(application, people)
    grants_sweep()  # the periodic task, at the present: the grant's last day has passed


STORIES = {"processing": _processing, "expired": _expired}


def _revoke(application: Application, people: dict) -> None:
    grants = Grant.objects.filter(application=application)
    if grants.filter(status=GrantStatus.REVOKED).exists():
        return
    grant = grants.filter(dataset__identifier=REVOKED_DATASET, status=GrantStatus.ACTIVE).first()
    if grant is not None:
        grant_revoke(actor=people["rdo"], grant=grant, reason=REVOKE_REASON)


def _newest(application: Application | None, **filters) -> Grant | None:
    if application is None:
        return None
    return Grant.objects.filter(application=application, **filters).order_by("-pk").first()


def load_grants(*, people: dict, datasets: dict, committees: dict, agreements: dict) -> dict[str, Grant]:
    """The demo grants by key ("download", "revoked", "processing", "expired"); a key whose story could
    not be told (its datasets or the executed agreement missing) is left out."""
    applicant = people["researcher"]
    by_identifier = {d.identifier: d for d in _candidates(datasets)}
    applications = {}
    for key, (title, dataset_key) in PLAN.items():
        existing = Application.objects.filter(title=title, applicant=applicant).first()
        if existing is not None:
            applications[key] = existing
            continue
        dataset = datasets.get(dataset_key)
        dataset = by_identifier.get(dataset.identifier) if dataset is not None else None
        fit = _Fit(applicant.country)
        if dataset is None or not fit.admit(dataset):
            continue
        application = svc.application_create(actor=applicant, title=title, datasets=[dataset])
        STORIES[key](application, fit, people, committees)
        applications[key] = Application.objects.get(pk=application.pk)

    executed = agreements.get("executed")
    first = Application.objects.get(pk=executed.application_id) if executed is not None else None
    if first is not None and first.status == ApplicationStatus.ACTIVE:
        _revoke(first, people)
    found = {
        "download": _newest(first, kind=GrantKind.DOWNLOAD, status=GrantStatus.ACTIVE),
        "revoked": _newest(first, status=GrantStatus.REVOKED),
        "processing": _newest(applications.get("processing"), kind=GrantKind.PROCESSING),
        "expired": _newest(applications.get("expired"), status=GrantStatus.EXPIRED),
    }
    return {key: grant for key, grant in found.items() if grant is not None}
