"""Demo data, created through the product's own services so every rule and audit event applies.

Each step is idempotent: running the loader again reuses what is there. Later capabilities
add their steps to DEMO_STEPS.
"""

from dataclasses import dataclass

from django.db import transaction

from portal.models import Role, User
from portal.services.accounts import user_create

DEMO_PASSWORD = "demo-portal-2026"  # nosec B105  # the demo accounts' password, published in the README
ACTOR = "system:demo"


@dataclass(frozen=True)
class DemoPerson:
    key: str
    email: str
    full_name: str
    organisation: str
    country: str
    roles: tuple[str, ...]
    what: str


PEOPLE = [
    DemoPerson(
        "researcher",
        "researcher@demo.example",
        "Ilze Ozola",
        "University of Latvia",
        "LV",
        (Role.RESEARCHER,),
        "researcher (applicant)",
    ),
    DemoPerson(
        "researcher2",
        "researcher2@demo.example",
        "Marco Bianchi",
        "Università di Bologna",
        "IT",
        (Role.RESEARCHER,),
        "second researcher (team member)",
    ),
    DemoPerson(
        "rdo",
        "rdo@demo.example",
        "Sofia Lindqvist",
        "Research Data Office",
        "SE",
        (Role.RDO,),
        "Research Data Office administrator",
    ),
    DemoPerson(
        "chair", "chair@demo.example", "Pieter de Vries", "Access Committee", "NL", (), "access committee chair"
    ),
    DemoPerson("member1", "member1@demo.example", "Ana Kovač", "Access Committee", "HR", (), "access committee member"),
    DemoPerson(
        "member2", "member2@demo.example", "Jonas Petraitis", "Access Committee", "LT", (), "access committee member"
    ),
    DemoPerson(
        "member3",
        "member3@demo.example",
        "Elena Popescu",
        "Access Committee",
        "RO",
        (),
        "access committee member (also on the Iberian committee)",
    ),
    DemoPerson(
        "chair_iberia",
        "chair.iberia@demo.example",
        "Tiago Ferreira",
        "Iberian Imaging Access Committee",
        "PT",
        (),
        "chair of the Iberian committee, which approves unless a member objects within 5 working days",
    ),
    DemoPerson(
        "steward_riga",
        "steward.riga@demo.example",
        "Kristaps Ozols",
        "Riga East Clinical University Hospital",
        "LV",
        (),
        "data holder steward, Riga",
    ),
    DemoPerson(
        "steward_valencia",
        "steward.valencia@demo.example",
        "Lucía Martínez",
        "Hospital Universitari i Politècnic La Fe",
        "ES",
        (),
        "data holder steward, Valencia",
    ),
    DemoPerson(
        "signatory",
        "signatory@demo.example",
        "Laura Kalniņa",
        "University of Latvia",
        "LV",
        (),
        "the University of Latvia's signatory (accepts the legal statements)",
    ),
]

HOLDERS = [
    {
        "key": "riga",
        "name": "Riga East Clinical University Hospital",
        "slug": "riga-east",
        "country": "LV",
        "city": "Riga",
        "website": "https://www.aslimnica.lv",
        "contact_email": "imaging-data@riga.demo.example",
        "rdo_email": "rdo@riga.demo.example",
        "steward": "steward_riga",
        "processing_environment": "Riga East secure research workspace (a demo address): sign in at "
        "https://workspace.riga.demo.example with your portal e-mail address after connecting to the "
        "hospital's research VPN; the datasets of your processing grants are mounted read-only under "
        "/data/<dataset identifier>, and only aggregate results may be exported, after the steward's check.",
    },
    {
        "key": "valencia",
        "name": "Hospital Universitari i Politècnic La Fe",
        "slug": "la-fe",
        "country": "ES",
        "city": "Valencia",
        "website": "https://www.iislafe.es",
        "contact_email": "imaging-data@lafe.demo.example",
        "rdo_email": "rdo@lafe.demo.example",
        "steward": "steward_valencia",
        "processing_environment": "La Fe remote analysis platform (a demo address): open "
        "https://analysis.lafe.demo.example in a browser and sign in with your portal e-mail address; the "
        "datasets of your processing grants appear in your project's workspace, with no way to download them.",
    },
]


def load_people() -> dict[str, User]:
    people = {}
    for person in PEOPLE:
        user = User.objects.filter(email=person.email).first() or user_create(
            actor=ACTOR,
            email=person.email,
            full_name=person.full_name,
            password=DEMO_PASSWORD,
            roles=list(person.roles),
            organisation=person.organisation,
            country=person.country,
        )
        people[person.key] = user
    return people


def load_holders(people: dict[str, User]) -> dict:
    from catalogue.models import DataHolder
    from catalogue.services import data_holder_add_steward, data_holder_create, data_holder_processing_set

    holders = {}
    for spec in HOLDERS:
        fields = {k: v for k, v in spec.items() if k not in ("key", "steward", "processing_environment")}
        holder = DataHolder.objects.filter(slug=spec["slug"]).first() or data_holder_create(actor=ACTOR, **fields)
        data_holder_add_steward(actor=ACTOR, holder=holder, user=people[spec["steward"]])
        # where grantees of its processing grants work (no push address: the demo has no environment to
        # receive entitlement events, which wait for one); set once, so a second run writes nothing
        if holder.processing_environment != spec["processing_environment"]:
            holder = data_holder_processing_set(actor=ACTOR, holder=holder, environment=spec["processing_environment"])
        holders[spec["key"]] = holder
    return holders


# key: (name, description, chair, members, rule settings given to a new committee, data holders it reviews for)
COMMITTEES = {
    "main": (
        "European Imaging Data Access Committee",
        "Reviews applications for the imaging collections of the federation's hospitals.",
        "chair",
        ("member1", "member2", "member3"),
        {},  # a majority of the votes, quorum 2 (the defaults)
        ("riga",),
    ),
    "iberia": (
        "Iberian Imaging Access Committee",
        "Reviews applications for the Valencia collections: an application is approved unless a member "
        "objects within five working days.",
        "chair_iberia",
        ("member1", "member3"),
        {"decision_rule": "objection_window", "objection_days": 5},
        ("valencia",),
    ),
}


def _committee(people: dict[str, User], key: str):
    from access_requests.models import Committee
    from access_requests.services.committees import committee_add_member, committee_configure, committee_create

    name, description, chair, members, settings, _ = COMMITTEES[key]
    committee = Committee.objects.filter(name=name).first()
    if committee is None:
        committee = committee_create(actor=ACTOR, name=name, quorum=2, description=description)
        if settings:  # configured once, when made: a second run writes no new audit event
            committee = committee_configure(actor=ACTOR, committee=committee, settings=settings)
    committee_add_member(actor=ACTOR, committee=committee, user=people[chair], chair=True)
    for member in members:
        committee_add_member(actor=ACTOR, committee=committee, user=people[member])
    return committee


def load_committee(people: dict[str, User]):
    """The main committee (majority of the votes): the chair and three members."""
    return _committee(people, "main")


def load_committees(people: dict[str, User], holders: dict) -> dict:
    """Both demo committees, each the default reviewer of its data holders' datasets."""
    from access_requests.models import CommitteeAssignment
    from access_requests.services.committees import committee_assign_holder

    committees = {key: _committee(people, key) for key in COMMITTEES}
    for key, spec in COMMITTEES.items():
        for holder_key in spec[5]:
            holder = holders[holder_key]
            if not CommitteeAssignment.objects.filter(holder=holder, committee=committees[key]).exists():
                committee_assign_holder(actor=ACTOR, holder=holder, committee=committees[key])
    return committees


def load_demo() -> dict:
    """Create (or find) every demo object; returns them by key for tests and later steps."""
    from access_requests.demo import load_applications
    from access_requests.demo_agreements import load_agreements
    from access_requests.demo_grants import load_grants
    from access_requests.demo_review import load_reviews
    from catalogue.demo import load_catalogue, load_catalogue_changes

    with transaction.atomic():
        people = load_people()
        holders = load_holders(people)
        committees = load_committees(people, holders)
        committee = committees["main"]
        datasets = load_catalogue(people=people, holders=holders)
        applications = load_applications(people=people, datasets=datasets, committee=committee)
        reviews = load_reviews(people=people, datasets=datasets, committees=committees)
    # The file scans queued above run once that transaction commits; this step needs their files.
    load_catalogue_changes(people=people, datasets=datasets)
    # The approvals above queued their agreements' creation and rendering for after the commit; the
    # parties sign (and the last signature executes and seals) once they exist.
    agreements = load_agreements(people=people, reviews=reviews)
    # The executed agreement issued its grants; one is revoked, and two more applications get theirs
    # (a processing grant, and one whose period has ended).
    grants = load_grants(people=people, datasets=datasets, committees=committees, agreements=agreements)
    for application in reviews.values():
        application.refresh_from_db()  # an executed agreement made its application active
    return {
        "people": people,
        "holders": holders,
        "committee": committee,
        "committees": committees,
        "datasets": datasets,
        "applications": applications,
        "reviews": reviews,
        "agreements": agreements,
        "grants": grants,
    }
