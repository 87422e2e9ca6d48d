"""Finding a person by surname on the case list (the page's POST search and the API's /cases/search), on SQLite and
PostgreSQL alike: case, accents, the IJ ligature and the tussenvoegsel do not matter (ux.md, Searching and lists);
and the list sorted by the column a person clicks, page after page, with no name in any URL or cursor."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from schulden.cases.models import Case, Detainee, DetentionType
from schulden.cases.services import open_case
from schulden.http.ports import runtime
from schulden.organisations.models import Organisation
from tests.conftest import SmtpServer
from tests.demo_world import DemoWorld
from tests.factories import PI_STAFF
from tests.web.live import Live, demo_server, log_in
from tests.web.test_browser_smoke import AXE, Visit, _chromium
from tests.web.test_foundation import csrf_of


@pytest.fixture
def world(demo_world: DemoWorld) -> DemoWorld:
    """The demo (PI Zwolle: IJsselstein, Demir, P. de Vries) and two more people in PI Zwolle."""
    with demo_world.db() as s:
        zwolle = s.scalars(select(Organisation).where(Organisation.code == "PI-ZWOLLE")).one()
        for given, prefix, surname in (("IJsbrand", None, "Ĳzerman"), ("Anna", "van der", "Berg-Müller")):
            open_case(
                s, demo_world.runtime.engine, actor=PI_STAFF, given_names=given, surname_prefix=prefix,
                surname=surname, date_of_birth=date(1985, 3, 4), pi=zwolle,
                detention_type=DetentionType.PRISON_SENTENCE, detention_start=date(2026, 1, 5),
            )  # fmt: skip
        s.commit()
    return demo_world


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def body(response: Any) -> Any:
    data = response.json
    assert data is not None
    return data


def page_search(world: DemoWorld, typed: str) -> str:
    client = world.client("pi.demo")
    response = client.post("/dossiers", data={"surname": typed, "csrf_token": csrf_of(client, "/dossiers")})
    assert response.status_code == 200, typed
    return text(response)


def api_search(world: DemoWorld, typed: str) -> list[str]:
    response = world.http.post("/api/v1/cases/search", json={"surname": typed}, headers=world.token("pi.demo"))
    assert response.status_code == 200, response.json
    return sorted(item["surname"] for item in body(response)["items"])


FINDS = [
    # P. de Vries, with and without the tussenvoegsel, in any case.
    ("vries", ["Vries"]),
    ("Vries", ["Vries"]),
    ("de vries", ["Vries"]),
    ("De Vries", ["Vries"]),
    ("DE VR", ["Vries"]),
    # IJsbrand Ĳzerman: the ligature, the two letters, the Dutch capital IJ and a lazy Ij are one name.
    ("ijzerman", ["Ĳzerman"]),
    ("IJzerman", ["Ĳzerman"]),
    ("Ĳzerman", ["Ĳzerman"]),
    ("Ijzerman", ["Ĳzerman"]),
    ("ĳz", ["Ĳzerman"]),
    # Accents and a hyphen: "Berg-Müller" is "berg muller"; "van der" may be typed or not.
    ("berg muller", ["Berg-Müller"]),
    ("Berg-Muller", ["Berg-Müller"]),
    ("van der berg", ["Berg-Müller"]),
    ("VAN DER BÉRG", ["Berg-Müller"]),
    # A start only: the tussenvoegsel is a start too; the middle of a name is not.
    ("de", ["Demir", "Vries"]),
    ("d", ["Demir", "Vries"]),
    ("ries", []),
    ("zerman", []),
    ("vriesen", []),
]


@pytest.mark.parametrize(("typed", "found"), FINDS)
def test_the_api_search_finds_a_surname_however_it_is_typed(world: DemoWorld, typed: str, found: list[str]) -> None:
    assert api_search(world, typed) == found


def test_the_page_search_finds_the_same_and_keeps_the_name_out_of_urls(world: DemoWorld) -> None:
    for typed, found in FINDS:
        body = page_search(world, typed)
        shown = re.findall(r'href="/dossiers/\d+">([^,<]+),', body)
        assert sorted(shown) == found, typed
        if found:
            urls = re.findall(r'(?:href|action)="([^"]+)"', body)
            queries = " ".join(url.split("?", 1)[1] for url in urls if "?" in url).lower()
            assert "surname" not in queries
            assert typed.lower() not in queries, typed


def test_search_without_a_letter_says_what_to_do(world: DemoWorld) -> None:
    response = world.http.post("/api/v1/cases/search", json={"surname": "--"}, headers=world.token("pi.demo"))
    assert response.status_code == 422
    assert "Vul ten minste één letter van de achternaam in." in json.dumps(response.json, ensure_ascii=False)
    client = world.client("pi.demo")
    page = client.post("/dossiers", data={"surname": "'", "csrf_token": csrf_of(client, "/dossiers")})
    assert page.status_code == 422
    assert "Vul ten minste één letter van de achternaam in." in text(page)


def test_a_changed_name_is_found_by_its_new_spelling(world: DemoWorld) -> None:
    """The keys follow every write of the name (the ORM hook), not only the intake."""
    with world.db() as s:
        detainee = s.scalars(select(Detainee).where(Detainee.surname == "Demir")).one()
        detainee.surname_prefix, detainee.surname = "van", "Ærtsen"
        s.commit()
    assert api_search(world, "demir") == []
    assert api_search(world, "aertsen") == ["Ærtsen"]
    assert api_search(world, "van aert") == ["Ærtsen"]


# -- sorting ---------------------------------------------------------------------------------------------------------


def api_pages(world: DemoWorld, sort: str, *, limit: int = 2) -> list[int]:
    """Every case id of the list in this sort, following the cursors; no cursor may carry a name."""
    headers = world.token("pi.demo")
    ids: list[int] = []
    after: str | None = None
    for _ in range(20):
        query: dict[str, Any] = {"sort": sort, "limit": limit} | ({"after": after} if after else {})
        response = world.http.get("/api/v1/cases", query_string=query, headers=headers)
        assert response.status_code == 200, response.json
        ids += [item["id"] for item in body(response)["items"]]
        after = body(response)["next"]
        if after is None:
            return ids
        decoded = base64.urlsafe_b64decode(after + "=" * (-len(after) % 4)).decode().lower()
        for name in ("vries", "demir", "ijsselstein", "zerman", "berg"):
            assert name not in decoded, (sort, decoded)
    raise AssertionError("the pages did not end")


def test_every_sort_pages_through_all_cases_in_order(world: DemoWorld) -> None:
    with world.db() as s:
        rows = s.execute(
            select(Case.id, Detainee.search_key, Case.expected_release, Case.created_at)
            .join(Detainee)
            .where(Case.pi_id == s.scalars(select(Organisation.id).where(Organisation.code == "PI-ZWOLLE")).one())
        ).all()
    by_name = [r.id for r in sorted(rows, key=lambda r: (r.search_key, r.id))]
    assert api_pages(world, "name") == by_name
    assert api_pages(world, "-name") == by_name[::-1]
    assert api_pages(world, "created", limit=1) == [r.id for r in sorted(rows, key=lambda r: (r.created_at, r.id))]
    for sort in ("release", "state", "pi", "municipality"):
        ascending = api_pages(world, sort)
        assert sorted(ascending) == sorted(r.id for r in rows), sort
        assert api_pages(world, f"-{sort}") == ascending[::-1], sort
        assert api_pages(world, sort, limit=50) == ascending, sort  # paging changes nothing of the order
    release = {r.id: r.expected_release or date.max for r in rows}
    assert [release[i] for i in api_pages(world, "release")] == sorted(release.values())


def test_a_cursor_of_another_sort_is_refused(world: DemoWorld) -> None:
    headers = world.token("pi.demo")
    first = body(world.http.get("/api/v1/cases", query_string={"sort": "name", "limit": 1}, headers=headers))
    other = world.http.get(
        "/api/v1/cases", query_string={"sort": "state", "limit": 1, "after": first["next"]}, headers=headers
    )
    assert other.status_code == 422
    assert "Ongeldige cursor" in json.dumps(other.json)


def test_the_page_sorts_by_the_clicked_column_with_aria_sort(world: DemoWorld) -> None:
    client = world.client("pi.demo")
    body = text(client.get("/dossiers"))
    assert re.search(r'aria-sort="descending">\s*<a class="utrecht-link" href="/dossiers\?sort=created">Geopend', body)
    assert 'href="/dossiers?sort=name">Naam' in body

    body = text(client.get("/dossiers?sort=name&state=draft"))
    assert re.search(r'aria-sort="ascending">\s*<a [^>]*href="/dossiers\?state=draft&amp;sort=-name">Naam', body)
    names = re.findall(r'href="/dossiers/\d+">([^,<]+),', body)
    assert names == ["Berg-Müller", "Ĳzerman"]  # the two just opened, in draft
    assert 'name="sort" value="name"' in body  # the filters' form keeps the sort

    descending = re.findall(r'href="/dossiers/\d+">([^,<]+),', text(client.get("/dossiers?sort=-name&state=draft")))
    assert descending == names[::-1]
    assert client.get("/dossiers?sort=shoesize").status_code == 422


def test_a_search_sorts_by_post_so_the_name_stays_out_of_the_url(world: DemoWorld) -> None:
    client = world.client("pi.demo")
    token = csrf_of(client, "/dossiers")
    body = text(client.post("/dossiers", data={"surname": "i", "csrf_token": token}))
    assert re.findall(r'href="/dossiers/\d+">([^,<]+),', body) == ["Ĳzerman", "IJsselstein"]  # newest first
    assert '<button type="submit" form="sorteren" name="sort" value="name"' in body
    assert re.search(r'<form method="post" action="/dossiers" id="sorteren" hidden>.*name="surname" value="i"', body,
                     re.S)  # fmt: skip
    by_name = text(client.post("/dossiers", data={"surname": "i", "sort": "name", "csrf_token": token}))
    assert re.findall(r'href="/dossiers/\d+">([^,<]+),', by_name) == ["IJsselstein", "Ĳzerman"]
    assert 'aria-sort="ascending"' in by_name


# -- in chromium, at a phone's width and a desktop's ------------------------------------------------------------------


@pytest.fixture
def live(database: object, committed_url: str, smtp_server: SmtpServer, tmp_path: Path) -> Iterator[Live]:
    with demo_server(committed_url, tmp_path, smtp_port=smtp_server.port) as server:
        with server.db() as s:
            zwolle = s.scalars(select(Organisation).where(Organisation.code == "PI-ZWOLLE")).one()
            open_case(
                s, runtime(server.app).engine, actor=PI_STAFF, given_names="IJsbrand", surname="Ĳzerman",
                date_of_birth=date(1985, 3, 4), pi=zwolle, detention_type=DetentionType.PRISON_SENTENCE,
                detention_start=date(2026, 1, 5),
            )  # fmt: skip
            s.commit()
        yield server


def look(visit: Visit, name: str) -> None:
    """axe, console and screenshot (Visit.check), and no sideways scrolling of the page itself."""
    wide, inner = visit.page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    culprits = visit.page.evaluate(
        "w => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > w + 1)"
        ".slice(0, 8).map(e => e.tagName + '.' + e.className + '#' + e.id + ' ' + e.getBoundingClientRect().width)",
        inner,
    )
    assert wide <= inner, f"{name}: the page scrolls sideways ({wide} > {inner}): {culprits}"
    visit.check(name)


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)  # the browser adds nothing on a second backend
@pytest.mark.parametrize("width", [375, 1280])
def test_finding_and_sorting_in_chromium(live: Live, width: int) -> None:
    chromium = _chromium()
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_context(locale="nl-NL", viewport={"width": width, "height": 800}).new_page()
            visit = Visit(page, AXE.read_text(encoding="utf-8"))
            log_in(page, live, "pi.demo")
            page.goto(f"{live.url}/dossiers")
            # The results come before the folded filters: on a phone the first case is on the first screen.
            look(visit, f"naam-zoeken-{width}-01-lijst")
            first_case = page.get_by_role("link", name="Ĳzerman, IJsbrand")
            assert first_case.bounding_box()["y"] < 800  # type: ignore[index]
            assert not page.get_by_label("Status").is_visible()

            page.get_by_role("link", name="Naam", exact=True).click()
            page.wait_for_url(f"{live.url}/dossiers?sort=name")
            assert page.locator("th[aria-sort]").text_content().strip().startswith("Naam")  # type: ignore[union-attr]
            names = page.locator("tbody a.utrecht-link").all_text_contents()
            assert [n.split(",")[0].strip() for n in names] == ["Demir", "IJsselstein", "Ĳzerman", "Vries"]
            look(visit, f"naam-zoeken-{width}-02-op-naam")

            page.locator("summary", has_text="Filters").click()
            page.get_by_label("Status").select_option("draft")
            page.get_by_role("button", name="Filteren", exact=True).click()
            page.wait_for_load_state()
            assert "sort=name" in page.url
            assert "state=draft" in page.url
            look(visit, f"naam-zoeken-{width}-03-gefilterd")

            page.goto(f"{live.url}/dossiers?sort=-created")
            page.get_by_label("Achternaam begint met").fill("IJZERMAN")
            page.get_by_role("button", name="Zoeken").click()
            page.wait_for_load_state()
            assert "zerman" not in page.url.lower()
            assert page.get_by_role("link", name="Ĳzerman, IJsbrand").is_visible()
            look(visit, f"naam-zoeken-{width}-04-ijzerman")

            page.get_by_label("Achternaam begint met").fill("vries")
            page.get_by_role("button", name="Zoeken").click()
            page.wait_for_load_state()
            assert page.get_by_role("link", name="Vries, de, Pieter").is_visible()
            # A search sorts by posting again: the name stays out of the address bar.
            page.get_by_role("button", name="Naam", exact=True).click()
            page.wait_for_load_state()
            assert "vries" not in page.url.lower()
            assert page.get_by_role("link", name="Vries, de, Pieter").is_visible()
            look(visit, f"naam-zoeken-{width}-05-vries-op-naam")
        finally:
            browser.close()
