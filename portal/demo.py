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
    from catalogue.services import data_holder_add_steward, data_holder_create

    holders = {}
    for spec in HOLDERS:
        fields = {k: v for k, v in spec.items() if k not in ("key", "steward")}
        holder = DataHolder.objects.filter(slug=spec["slug"]).first() or data_holder_create(actor=ACTOR, **fields)
        data_holder_add_steward(actor=ACTOR, holder=holder, user=people[spec["steward"]])
        holders[spec["key"]] = holder
    return holders


def load_committee(people: dict[str, User]):
    from access_requests.models import Committee
    from access_requests.services.committees import committee_add_member, committee_create

    name = "European Imaging Data Access Committee"
    committee = Committee.objects.filter(name=name).first() or committee_create(
        actor=ACTOR,
        name=name,
        quorum=2,
        description="Reviews applications for the imaging collections of the federation's hospitals.",
    )
    committee_add_member(actor=ACTOR, committee=committee, user=people["chair"], chair=True)
    committee_add_member(actor=ACTOR, committee=committee, user=people["member1"])
    committee_add_member(actor=ACTOR, committee=committee, user=people["member2"])
    return committee


def load_demo() -> dict:
    """Create (or find) every demo object; returns them by key for tests and later steps."""
    from access_requests.demo import load_applications
    from catalogue.demo import load_catalogue, load_catalogue_changes

    with transaction.atomic():
        people = load_people()
        holders = load_holders(people)
        committee = load_committee(people)
        datasets = load_catalogue(people=people, holders=holders)
        applications = load_applications(people=people, datasets=datasets, committee=committee)
    # The file scans queued above run once that transaction commits; this step needs their files.
    load_catalogue_changes(people=people, datasets=datasets)
    return {
        "people": people,
        "holders": holders,
        "committee": committee,
        "datasets": datasets,
        "applications": applications,
    }
