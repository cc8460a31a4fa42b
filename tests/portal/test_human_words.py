"""No field code or enum name reaches a person: every page each demo user reaches, and every e-mail
the demo sends, is rendered and searched for the codes of the product's vocabularies (choices of the
models and the catalogue's controlled terms written with underscores, which are never words)."""

import html
import re

import pytest
from django.db.models import TextChoices
from django.test import Client

import access_requests.models as application_models
import catalogue.models as catalogue_models
from catalogue.models import Term
from portal.demo import PEOPLE, load_demo
from portal.models import OutboxEmail, User

pytestmark = pytest.mark.django_db

# Downloads, exports, the API and links that change something are not pages to read. The audit log
# shows each event's payload as it was recorded: that record is the evidence, codes and all.
SKIP = re.compile(r"/documents/|/api/|\.ttl$|\.jsonld$|remove|delete|withdraw|logout|/publish/|^/audit/")
PAGES_PER_PERSON = 40


def codes() -> set[str]:
    found = set()
    for module in (application_models, catalogue_models):
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, TextChoices) and obj is not TextChoices:
                found |= {value for value in obj.values if "_" in value}
    return found | {code for code in Term.objects.values_list("code", flat=True) if "_" in code}


def visible_text(page: str) -> str:
    page = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def leaks(text: str, vocabulary: set[str]) -> set[str]:
    return {code for code in vocabulary if re.search(rf"(?<![\w-]){re.escape(code)}(?![\w-])", text)}


def test_the_search_finds_a_code_and_not_a_word():
    assert leaks("Purpose: HEALTH_MEDICAL_BIOMEDICAL_RESEARCH", {"HEALTH_MEDICAL_BIOMEDICAL_RESEARCH"})
    assert not leaks("Health, medical or biomedical research", {"HEALTH_MEDICAL_BIOMEDICAL_RESEARCH"})
    assert visible_text('<input value="in_review"><p>In committee review</p>').strip() == "In committee review"


def test_no_page_or_e_mail_of_the_demo_shows_a_code(settings):
    settings.ALLOWED_HOSTS = ["testserver"]
    load_demo()
    vocabulary = codes()
    assert {"HEALTH_MEDICAL_BIOMEDICAL_RESEARCH", "in_review", "IN_SITU_PROCESSING"} <= vocabulary
    shown, read = {}, 0
    for person in PEOPLE:
        client = Client()
        client.force_login(User.objects.get(email=person.email))
        queue, seen = ["/"], set()
        while queue and len(seen) < PAGES_PER_PERSON:
            path = queue.pop(0)
            if path in seen:
                continue
            seen.add(path)
            response = client.get(path)
            if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
                continue
            page = response.content.decode()
            read += 1
            for code in leaks(visible_text(page), vocabulary):
                shown.setdefault(code, set()).add(f"{person.key} {path}")
            queue += [href for href in re.findall(r'href="(/[^"#?]*)"', page) if not SKIP.search(href)]
    mails = list(OutboxEmail.objects.all())
    for mail in mails:
        for code in leaks(f"{mail.subject}\n{mail.body_text}", vocabulary):
            shown.setdefault(code, set()).add(f"e-mail {mail.template}")
    assert read > 60 and len(mails) > 10  # the walk really read the demo
    assert shown == {}, "\n".join(f"{code}: {sorted(places)[:5]}" for code, places in sorted(shown.items()))
