"""Nothing scrolls sideways on a phone: every page each demo user reaches, at 390 px wide, fits its
width (wide tables scroll inside their own box, long values wrap). Asserted from the page's own
scroll width, as a person would notice it."""

import re

import pytest

from portal.demo import DEMO_PASSWORD, PEOPLE, load_demo
from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
# Downloads, exports, the API, and links that change something are not pages to look at.
SKIP = re.compile(
    r"/documents/|/letter/|/pdf/|/scan/|/api/|\.ttl$|\.jsonld$|remove|delete|withdraw|logout|/publish/|\?"
)


def reachable(page, base: str) -> list[str]:
    hrefs = page.eval_on_selector_all("main a[href], header a[href]", "links => links.map(a => a.href)")
    return [h.split("#")[0] for h in hrefs if h.startswith(base) and not SKIP.search(h.removeprefix(base))]


def test_no_page_a_demo_user_reaches_scrolls_sideways_on_a_phone(live_server, browser):
    load_demo()
    base = live_server.url
    too_wide, visited = [], set()
    for person in PEOPLE:
        context = browser.new_context(viewport=PHONE)
        page = context.new_page()
        sign_in(page, base, person.email, DEMO_PASSWORD)
        page.wait_for_url(f"{base}/")
        queue, seen = [f"{base}/"], set()
        while queue and len(seen) < 25:
            url = queue.pop(0)
            if url in seen:
                continue
            seen.add(url)
            page.goto(url)
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > PHONE["width"]:
                too_wide.append(f"{person.key}: {url.removeprefix(base)} is {width} px wide")
            queue += reachable(page, base)
        visited |= {u.removeprefix(base) for u in seen}
        context.close()
    assert len(visited) > 25, sorted(visited)
    assert too_wide == [], "\n".join(too_wide)
