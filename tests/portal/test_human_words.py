"""No field code or enum name reaches a person: every page each demo user reaches, and every e-mail
the demo sends, is rendered and searched for the codes of the product's vocabularies (choices of the
models and the catalogue's controlled terms).

A code with an underscore is never a word, so it is searched anywhere. A single-word code is
searched only where it cannot be an ordinary word: an upper-case code of three letters or more
(`DOWNLOAD`, `BREAST`, `RESTRICTED`) anywhere, case-sensitively; any other single-word code
(`draft`, `dpia`, `CT`) where a code would stand in for a label: as the whole text of an element
(`<td>draft</td>`, but not `<td>Draft</td>`), or in an e-mail as a whole line or the value after a
colon (`Status: draft`). Condition codes (ICD-10, `C50`) are shown on purpose beside their label."""

import html
import re

import pytest
from django.db.models import TextChoices
from django.test import Client

import access_requests.models as application_models
import catalogue.models as catalogue_models
import portal.models as portal_models
from catalogue.models import Term, Vocabulary
from portal.demo import PEOPLE, load_demo
from portal.models import OutboxEmail, User

pytestmark = pytest.mark.django_db

# Downloads, exports, the API and links that change something are not pages to read. The audit log
# shows each event's payload as it was recorded: that record is the evidence, codes and all.
SKIP = re.compile(r"/documents/|/api/|\.ttl$|\.jsonld$|remove|delete|withdraw|logout|/publish/|^/audit/")
PAGES_PER_PERSON = 40


def all_codes() -> set[str]:
    found = set()
    for module in (application_models, catalogue_models, portal_models):
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, TextChoices) and obj is not TextChoices:
                found |= set(obj.values)
    terms = Term.objects.exclude(vocabulary=Vocabulary.CONDITION)  # "C50 Malignant neoplasm of breast", on purpose
    return found | set(terms.values_list("code", flat=True))


def codes() -> set[str]:
    """Codes that are never words: searched anywhere in what a person reads."""
    return {code for code in all_codes() if "_" in code or (code.isupper() and code.isalpha() and len(code) >= 3)}


def word_codes() -> set[str]:
    """Single-word codes that are also words or abbreviations: searched only where a code would stand."""
    return all_codes() - codes()


def explained(page: str, terms: list[tuple[str, str]]) -> str:
    """The page with each code that stands beside its own label taken out: an abbreviation with its
    expansion (`<abbr title="Computed tomography">CT</abbr>`, `Computed tomography (CT)`) is words."""
    page = re.sub(r'<abbr title="([^"]+)">[^<]*</abbr>', r"\1", page)
    for code, label in terms:
        page = page.replace(f"{html.escape(label)} ({code})", label).replace(f"{label} ({code})", label)
    return page


def visible_text(page: str) -> str:
    page = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def leaks(text: str, vocabulary: set[str]) -> set[str]:
    return {code for code in vocabulary if re.search(rf"(?<![\w-]){re.escape(code)}(?![\w-])", text)}


def element_texts(page: str) -> set[str]:
    """The whole text of each element that has no element inside it, as written (case kept). Text
    hidden for screen readers belongs to the sentence around it ("Edit<span> team</span>")."""
    page = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", page, flags=re.S)
    page = re.sub(r'<span class="visually-hidden">([^<]*)</span>', r"\1", page)
    return {html.unescape(text).strip() for text in re.findall(r">([^<>]*)<", page)}


def page_word_leaks(page: str, vocabulary: set[str]) -> set[str]:
    return element_texts(page) & vocabulary


def mail_word_leaks(text: str, vocabulary: set[str]) -> set[str]:
    values = {line.strip() for line in text.splitlines()}
    values |= {line.rsplit(":", 1)[1].strip() for line in text.splitlines() if ":" in line}
    return values & vocabulary


def test_the_search_finds_a_code_and_not_a_word():
    assert leaks("Purpose: HEALTH_MEDICAL_BIOMEDICAL_RESEARCH", {"HEALTH_MEDICAL_BIOMEDICAL_RESEARCH"})
    assert not leaks("Health, medical or biomedical research", {"HEALTH_MEDICAL_BIOMEDICAL_RESEARCH"})
    assert visible_text('<input value="in_review"><p>In committee review</p>').strip() == "In committee review"


def test_a_single_word_code_is_found_where_a_code_stands_and_not_as_a_word():
    vocabulary = {"draft", "dpia", "CT"}
    assert page_word_leaks("<td>draft</td><td> dpia </td><span>CT</span>", vocabulary) == {"draft", "dpia", "CT"}
    assert not page_word_leaks("<td>Draft</td><p>Save a draft of the DPIA; CT and MR scans.</p>", vocabulary)
    assert mail_word_leaks("Status: draft\nSection:\n dpia\n", vocabulary) == {"draft", "dpia"}
    assert not mail_word_leaks("Your draft is saved.\nStatus: Draft\n", vocabulary)
    assert leaks("Access: DOWNLOAD", codes()) == {"DOWNLOAD"}
    assert not leaks("Access: Download access", codes())
    terms = [("CT", "Computed tomography"), ("BDUS", "Bone densitometry (ultrasound)")]
    page = '<abbr title="Computed tomography">CT</abbr>, Bone densitometry (ultrasound) (BDUS)'
    assert not leaks(visible_text(explained(page, terms)), {"BDUS"})
    assert not page_word_leaks(explained(page, terms), {"CT"})
    assert page_word_leaks(explained("<td>CT</td>", terms), {"CT"}) == {"CT"}  # a code without its label
    assert not page_word_leaks('<a>Edit<span class="visually-hidden"> team</span></a>', {"team"})


def test_no_page_or_e_mail_of_the_demo_shows_a_code(settings):
    settings.ALLOWED_HOSTS = ["testserver"]
    load_demo()
    vocabulary, words = codes(), word_codes()
    assert {"HEALTH_MEDICAL_BIOMEDICAL_RESEARCH", "in_review", "IN_SITU_PROCESSING", "DOWNLOAD", "BREAST"} <= vocabulary
    assert {"draft", "returned", "dpia", "rdo", "CT", "MG"} <= words
    assert not {"C50", "Draft"} & (vocabulary | words)
    terms = list(Term.objects.values_list("code", "label"))
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
            page = explained(page, terms)
            for code in leaks(visible_text(page), vocabulary) | page_word_leaks(page, words):
                shown.setdefault(code, set()).add(f"{person.key} {path}")
            queue += [href for href in re.findall(r'href="(/[^"#?]*)"', page) if not SKIP.search(href)]
    mails = list(OutboxEmail.objects.all())
    for mail in mails:
        text = f"{mail.subject}\n{mail.body_text}"
        text, body_html = explained(text, terms), explained(mail.body_html, terms)
        for code in leaks(text, vocabulary) | mail_word_leaks(text, words) | page_word_leaks(body_html, words):
            shown.setdefault(code, set()).add(f"e-mail {mail.template}")
    assert read > 60 and len(mails) > 10  # the walk really read the demo
    assert shown == {}, "\n".join(f"{code}: {sorted(places)[:5]}" for code, places in sorted(shown.items()))
