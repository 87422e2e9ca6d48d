"""Dates as three boxes dag / maand / jaar on every staff form (ux.md "Dates": never a browser picker with an ISO
hint), on the demo world (SQLite and PostgreSQL).

Each converted form shows a fieldset with the date's legend and three labelled boxes; no page of the demo, for any
role, has an <input type="date">; a date that does not exist gets its Dutch message next to the field and in the
error summary with everything else typed kept; an empty required date says which date is missing; and dates typed
in the boxes go all the way through (the intake, the release, the municipality's acceptance, the filters)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from html import unescape
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from flask import render_template_string
from flask.testing import FlaskClient
from sqlalchemy import select

from schulden.cases.conditions import FIELD_LABELS
from schulden.cases.models import Case, Consent, Detainee
from schulden.demo import DEMO_USERS
from schulden.organisations.models import Organisation
from schulden.referrals.models import Referral
from tests.demo_world import DemoWorld
from tests.web.dates import box_values, date_form, shown
from tests.web.test_intake import DETAINEE, post
from workflows import WorkflowInstance

WRONG = {"dag": "31", "maand": "2", "jaar": "2027"}  # 31 February: no such day
NO_SUCH_DATE = "Deze datum bestaat niet. Controleer de dag en de maand, bijvoorbeeld 4 12 2026."


@pytest.fixture
def world(demo_world: DemoWorld) -> DemoWorld:
    return demo_world


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def wrong(name: str) -> dict[str, str]:
    return {f"{name}-{part}": value for part, value in WRONG.items()}


def field_id(name: str) -> str:
    return "veld-" + name.replace(".", "-")


def fieldset(page: str, name: str) -> str:
    """The fieldset of date field `name`: its legend, hint, message and boxes."""
    found = re.search(rf'<fieldset[^>]*\bid="{field_id(name)}".*?</fieldset>', page, re.S)
    assert found is not None, f"no fieldset for {name}"
    return found.group(0)


def assert_date_boxes(page: str, name: str, legend: str, *, required: bool) -> None:
    """Three boxes Dag, Maand, Jaar, each with its label, in a fieldset whose legend names the date."""
    box = fieldset(page, name)
    assert re.search(rf"<legend[^>]*>{re.escape(legend)}</legend>", box), legend
    for part, label in (("dag", "Dag"), ("maand", "Maand"), ("jaar", "Jaar")):
        box_id = f"{field_id(name)}-{part}"
        assert f'<label class="utrecht-form-label" for="{box_id}">{label}</label>' in box
        tag = re.search(rf'<input[^>]*\bid="{box_id}"[^>]*>', box)
        assert tag is not None, box_id
        assert f'name="{name}-{part}"' in tag.group(0)
        assert 'type="text"' in tag.group(0)
        assert 'inputmode="numeric"' in tag.group(0)
        assert ('aria-required="true"' in tag.group(0)) is required, box_id


def assert_said_at_the_field(page: str, name: str, message: str) -> None:
    """The message next to the field (inside its fieldset, its boxes marked) and in the summary, linking to it."""
    assert message in fieldset(page, name)
    assert 'aria-invalid="true"' in fieldset(page, name)
    summary = re.search(r'<div class="utrecht-alert utrecht-alert--error sr-error-summary".*?</ul>', page, re.S)
    assert summary is not None
    link = re.search(rf'<a class="utrecht-link" href="#{field_id(name)}">([^<]*)</a>', summary.group(0))
    assert link is not None, f"no summary link to {name}"
    assert message in unescape(link.group(1))
    assert "<title>Fout: " in page


def hidden_fields(page: str, action: str) -> dict[str, str]:
    """The hidden fields of the form posting to `action` (a check page's values travel in them)."""
    form = re.search(rf'<form[^>]*action="{re.escape(action)}"[^>]*>(.*?)</form>', page, re.S)
    assert form is not None, action
    fields = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form.group(1))
    return {unescape(name): unescape(value) for name, value in fields}


# -- the macro ------------------------------------------------------------------------------------------------------


def test_the_date_field_macro_names_its_boxes_after_the_field(world: DemoWorld) -> None:
    template = """{% import "macros/forms.html" as forms %}
    {{ forms.error_summary(errors, {"detention.start": "Begin detentie"}) }}
    {{ forms.date_field("detention.start", "Begin detentie", values, errors, required=true) }}
    {{ forms.date_field("detention.expected_release", "Verwachte vrijlating", values, errors,
                        description="Leeg laten bij voorlopige hechtenis.") }}"""
    values = {"detention.start-dag": "31", "detention.start-maand": "2", "detention.start-jaar": "<2027>"}
    errors = {"detention.start": [NO_SUCH_DATE]}
    with world.app.test_request_context("/"):
        page = render_template_string(template, values=values, errors=errors)

    assert_date_boxes(page, "detention.start", "Begin detentie", required=True)
    assert_date_boxes(page, "detention.expected_release", "Verwachte vrijlating", required=False)
    start = fieldset(page, "detention.start")
    assert 'aria-describedby="veld-detention-start-uitleg veld-detention-start-fout"' in start
    assert "Bijvoorbeeld 4 12 2026." in start  # the hint when the page gives none
    assert NO_SUCH_DATE in start
    assert box_values(page, "detention.start") == ("31", "2", "<2027>")
    assert 'value="&lt;2027&gt;"' in start  # kept, and escaped
    release = fieldset(page, "detention.expected_release")
    assert "Leeg laten bij voorlopige hechtenis." in release
    assert 'aria-describedby="veld-detention-expected_release-uitleg"' in release
    assert "aria-invalid" not in release
    assert '<a class="utrecht-link" href="#veld-detention-start">' in page


# -- every converted form -------------------------------------------------------------------------------------------


@dataclass
class Form:
    """A page with date fields: who opens it, how, and its dates (name, legend, required)."""

    user: str
    open: Callable[[DemoWorld, FlaskClient], Any]
    dates: list[tuple[str, str, bool]] = field(default_factory=list)


def _step_two(world: DemoWorld, client: FlaskClient) -> Any:
    return post(client, "/intake", {"stap": "1", **DETAINEE})


def _referral_consent_page(world: DemoWorld, client: FlaskClient) -> Any:
    """After Zwolle refused the Vries referral and the counsellor chose Amsterdam: the referral consent's form."""
    case_id = world.case_id("Vries")
    form = {"kind": "not_resident", "reason": "Staat in Amsterdam ingeschreven.", "confirm": "1"}
    refused = post(world.client("gemeente.demo"), f"/gemeente/verwijzingen/{_referral_of(world)}/weigeren", form)
    assert refused.status_code == 303
    with world.db() as s:
        amsterdam_id = s.scalar(select(Organisation.id).where(Organisation.code == "GM0363"))
        version = s.get_one(Case, case_id).row_version
    choice = {"municipality_id": str(amsterdam_id), "reason": "woont in Amsterdam", "version": str(version)}
    assert post(client, f"/dossiers/{case_id}/verwijzing/gemeente", choice).status_code == 303
    return client.get(f"/dossiers/{case_id}/verwijzing")


def _referral_of(world: DemoWorld) -> int:
    case_id = world.case_id("Vries")
    with world.db() as s:
        found = s.scalars(select(Referral.id).where(Referral.case_id == case_id).order_by(Referral.sequence)).first()
    assert found is not None
    return found


FORMS = {
    "intake-gedetineerde": Form(
        "pi.demo", lambda w, c: c.get("/intake"), [("detainee.date_of_birth", "Geboortedatum", True)]
    ),
    "intake-detentie": Form(
        "pi.demo",
        _step_two,
        [("detention.start", "Begin detentie", True), ("detention.expected_release", "Verwachte vrijlating", False)],
    ),
    "intake-toestemming": Form(
        "pi.demo",
        lambda w, c: c.get(f"/intake/{w.case_id('IJsselstein')}/toestemming"),
        [("signed_on", "Ondertekend op", True), ("valid_until", "Geldig tot", True)],
    ),
    "dossiers-filters": Form(
        "pi.demo",
        lambda w, c: c.get("/dossiers"),
        [("release_after", "Vrijlating vanaf", False), ("release_before", "Vrijlating tot en met", False)],
    ),
    "basisvoorwaarden": Form(
        "pi.demo",
        lambda w, c: c.get(f"/dossiers/{w.case_id('Demir')}/basisvoorwaarden"),
        [
            ("id_valid_until", FIELD_LABELS["id_valid_until"], False),
            ("income_applied_on", FIELD_LABELS["income_applied_on"], False),
        ],
    ),
    "vrijlating": Form(
        "pi.demo",
        lambda w, c: c.get(f"/dossiers/{w.case_id('Demir')}/vrijlating"),
        [("released_on", "Datum van vrijlating", True)],
    ),
    "verwijzing-toestemming": Form(
        "schuldhulp.demo",
        _referral_consent_page,
        [("signed_on", "Ondertekend op", True), ("valid_until", "Geldig tot", True)],
    ),
    "gemeente-accepteren": Form(
        "gemeente.demo",
        lambda w, c: c.get(f"/gemeente/verwijzingen/{_referral_of(w)}"),
        [("first_conversation_on", "Datum eerste gesprek", True)],
    ),
    "cijfers": Form(
        "gemeente.demo", lambda w, c: c.get("/cijfers"), [("from", "Van", True), ("to", "Tot en met", True)]
    ),
}


@pytest.mark.parametrize("form", list(FORMS))
def test_each_date_is_three_labelled_boxes_in_a_fieldset_with_its_legend(world: DemoWorld, form: str) -> None:
    spec = FORMS[form]
    page = spec.open(world, world.client(spec.user))
    assert page.status_code == 200, text(page)[:2000]
    html = text(page)
    assert 'type="date"' not in html
    for name, legend, required in spec.dates:
        assert_date_boxes(html, name, legend, required=required)


def test_the_proposed_dates_stand_in_the_boxes(world: DemoWorld) -> None:
    """A page that proposes a date (the release today, the figures this year) shows it as day, month and year."""
    pi = world.client("pi.demo")
    release = text(pi.get(f"/dossiers/{world.case_id('Demir')}/vrijlating"))
    assert box_values(release, "released_on") == shown(world.today)
    consent = text(pi.get(f"/intake/{world.case_id('IJsselstein')}/toestemming"))
    assert box_values(consent, "signed_on") == shown(world.today)
    assert all(box_values(consent, "valid_until"))
    figures = text(world.client("gemeente.demo").get("/cijfers"))
    assert box_values(figures, "from") == ("1", "1", str(world.today.year))
    assert box_values(figures, "to") == shown(world.today)
    # A filter in a link (an ISO date, as the sort links carry it) is shown in its boxes too.
    soon = world.today + timedelta(weeks=4)
    listed = text(pi.get(f"/dossiers?release_before={soon.isoformat()}"))
    assert box_values(listed, "release_before") == shown(soon)
    assert box_values(listed, "release_after") == ("", "", "")


# -- no browser date picker anywhere ---------------------------------------------------------------------------------

_LINK = re.compile(r'href="([^"#]*)')
_SKIP = re.compile(r"\.(pdf|csv|json|css|js|png|svg|ico|txt)(\?|$)|^/(static|api)/")
MAX_PAGES = 250  # per role: far more than the demo's distinct pages, a stop should a link ever grow a loop


def _crawl(client: FlaskClient, start: str) -> dict[str, str]:
    """Every page reachable by links from `start` for this client: path -> HTML."""
    seen: dict[str, str] = {}
    queue = [start]
    while queue and len(seen) < MAX_PAGES:
        url = queue.pop(0)
        if url in seen:
            continue
        response = client.get(url)
        if response.status_code in (301, 302, 303):
            seen[url] = ""
            queue.append(urlsplit(response.headers["Location"]).path or "/")
            continue
        if not response.mimetype.startswith("text/html"):
            seen[url] = ""
            continue
        html = text(response)
        seen[url] = html
        for href in _LINK.findall(html):
            target = urljoin(url, unescape(href))
            parts = urlsplit(target)
            if parts.scheme or parts.netloc or _SKIP.search(parts.path):
                continue
            link = parts.path + (f"?{parts.query}" if parts.query else "")
            if link not in seen:
                queue.append(link)
    return seen


@pytest.mark.parametrize("username", [None, *(user[0] for user in DEMO_USERS)])
def test_no_page_of_the_demo_has_a_browser_date_picker(world: DemoWorld, username: str | None) -> None:
    """Every page each role reaches from its start page (and the login page for a visitor), and the forms only a
    POST reaches (the intake's second step), has no <input type="date">."""
    client = world.client(username) if username else world.app.test_client()
    pages = _crawl(client, "/" if username else "/aanmelden")
    if username == "pi.demo":
        pages["/intake (stap 2)"] = text(_step_two(world, client))
    assert len([html for html in pages.values() if html]) >= (5 if username else 1), sorted(pages)
    with_picker = sorted(url for url, html in pages.items() if re.search(r'type="date"', html))
    assert not with_picker


# -- a date that does not exist ---------------------------------------------------------------------------------------


def test_a_wrong_date_in_the_intake_is_said_at_its_field_and_everything_typed_stays(world: DemoWorld) -> None:
    client = world.client("pi.demo")
    release = world.today + timedelta(weeks=20)
    page = post(
        client,
        "/intake",
        {
            "stap": "2",
            **DETAINEE,
            "detention.type": "prison_sentence",
            **wrong("detention.start"),
            **date_form("detention.expected_release", release),
            "intended_postcode": "8011 AB",
        },
    )
    assert page.status_code == 422
    html = text(page)
    assert_said_at_the_field(html, "detention.start", NO_SUCH_DATE)
    assert box_values(html, "detention.start") == ("31", "2", "2027")
    assert box_values(html, "detention.expected_release") == shown(release)
    assert '<option value="prison_sentence" selected>' in html
    assert 'value="8011 AB"' in html
    assert 'name="detainee.surname" value="El Amrani"' in html  # step 1 still carried along

    # On step 1 the birth date: the names typed stay.
    born = post(
        client, "/intake", {"stap": "1", **DETAINEE, "detainee.date_of_birth": "", **wrong("detainee.date_of_birth")}
    )
    assert born.status_code == 422
    assert_said_at_the_field(text(born), "detainee.date_of_birth", NO_SUCH_DATE)
    assert 'value="El Amrani"' in text(born)
    assert box_values(text(born), "detainee.date_of_birth") == ("31", "2", "2027")

    # Back to step 1 from a wrong step 2: the wrong date travels along as typed, and comes back with step 2.
    back = post(client, "/intake", {"stap": "2", **DETAINEE, **wrong("detention.start"), "terug": "1"})
    assert back.status_code == 200
    again = post(client, "/intake", {"stap": "1", **hidden_fields(text(back), "/intake"), **_typed_names()})
    assert box_values(text(again), "detention.start") == ("31", "2", "2027")


def _typed_names() -> dict[str, str]:
    return {k: v for k, v in DETAINEE.items() if k != "detainee.date_of_birth"} | date_form(
        "detainee.date_of_birth", DETAINEE["detainee.date_of_birth"]
    )


@dataclass
class Post:
    """A form that posts a date: who, where, what else is typed (and must stay), and the field with the date."""

    user: str
    url: Callable[[DemoWorld], str]
    date: str
    other: dict[str, str]
    kept: list[str]


def _intake_case(world: DemoWorld) -> str:
    return f"/intake/{world.case_id('IJsselstein')}/toestemming"


POSTS = {
    "intake-toestemming": Post(
        "pi.demo",
        _intake_case,
        "signed_on",
        {"purpose.contact_creditors": "on", **date_form("valid_until", "2027-06-04"), "witness": "J. Bakker"},
        ['value="J. Bakker"', 'name="purpose.contact_creditors" value="on" checked'],
    ),
    "basisvoorwaarden": Post(
        "pi.demo",
        lambda w: f"/dossiers/{w.case_id('Demir')}/basisvoorwaarden",
        "id_valid_until",
        {
            "id_document": "valid",
            "income_after_release": "benefit_applied",
            "income_office": "UWV",
            **date_form("income_applied_on", "2026-11-02"),
        },
        ['<option value="valid" selected>', '<option value="benefit_applied" selected>', 'value="UWV"'],
    ),
    "vrijlating": Post(
        "pi.demo", lambda w: f"/dossiers/{w.case_id('Demir')}/vrijlating", "released_on", {"stap": "controleren"}, []
    ),
    "gemeente-accepteren": Post(
        "gemeente.demo",
        lambda w: f"/gemeente/verwijzingen/{_referral_of(w)}/accepteren",
        "first_conversation_on",
        {},
        [],
    ),
}


@pytest.mark.parametrize("form", list(POSTS))
def test_a_date_that_does_not_exist_is_said_at_its_field(world: DemoWorld, form: str) -> None:
    spec = POSTS[form]
    page = post(world.client(spec.user), spec.url(world), {**spec.other, **wrong(spec.date)})
    assert page.status_code == 422, text(page)[:2000]
    html = text(page)
    assert_said_at_the_field(html, spec.date, NO_SUCH_DATE)
    assert box_values(html, spec.date) == ("31", "2", "2027")
    for typed in spec.kept:
        assert typed in html
    for name in [n.removesuffix("-dag") for n in spec.other if n.endswith("-dag")]:
        assert box_values(html, name) == (
            spec.other[f"{name}-dag"],
            spec.other[f"{name}-maand"],
            spec.other[f"{name}-jaar"],
        )


def test_a_wrong_date_in_the_referral_consent_is_said_at_its_field(world: DemoWorld) -> None:
    client = world.client("schuldhulp.demo")
    _referral_consent_page(world, client)
    url = f"/dossiers/{world.case_id('Vries')}/verwijzing/toestemming"
    page = post(client, url, {**wrong("signed_on"), **date_form("valid_until", "2027-06-04"), "witness": "J. Bakker"})
    assert page.status_code == 422
    html = text(page)
    assert_said_at_the_field(html, "signed_on", NO_SUCH_DATE)
    assert box_values(html, "signed_on") == ("31", "2", "2027")
    assert box_values(html, "valid_until") == ("4", "6", "2027")
    assert 'value="J. Bakker"' in html


def test_a_wrong_date_in_a_filter_is_said_at_its_field_and_the_other_filters_stay(world: DemoWorld) -> None:
    client = world.client("pi.demo")
    soon = world.today + timedelta(weeks=4)
    query = {**wrong("release_after"), **date_form("release_before", soon), "state": "inventory"}
    page = client.get("/dossiers", query_string=query)
    assert page.status_code == 422
    html = text(page)
    assert_said_at_the_field(html, "release_after", NO_SUCH_DATE)
    assert box_values(html, "release_after") == ("31", "2", "2027")
    assert box_values(html, "release_before") == shown(soon)
    assert '<option value="inventory" selected>' in html
    assert '<details class="sr-filters-details" open>' in html
    assert "Filters (3 gekozen)" in html  # a wrong date is one filter, not its three boxes

    figures = world.client("gemeente.demo").get(
        "/cijfers", query_string={**wrong("from"), **date_form("to", "2027-03-31"), "group_by": "municipality"}
    )
    assert figures.status_code == 422
    html = text(figures)
    assert_said_at_the_field(html, "from", NO_SUCH_DATE)
    assert box_values(html, "from") == ("31", "2", "2027")
    assert box_values(html, "to") == ("31", "3", "2027")
    assert re.search(r'value="municipality"\s+checked', html)


def test_half_a_date_says_what_is_missing(world: DemoWorld) -> None:
    page = post(
        world.client("pi.demo"),
        f"/dossiers/{world.case_id('Demir')}/vrijlating",
        {"stap": "controleren", "released_on-dag": "4", "released_on-jaar": "2026"},
    )
    assert page.status_code == 422
    assert_said_at_the_field(text(page), "released_on", "Vul ook de maand in, bijvoorbeeld 4 12 2026.")
    assert box_values(text(page), "released_on") == ("4", "", "2026")


# -- an empty required date ----------------------------------------------------------------------------------------


EMPTY = {
    "geboortedatum": (
        "pi.demo",
        lambda w: "/intake",
        {"stap": "1", **{k: v for k, v in DETAINEE.items() if k != "detainee.date_of_birth"}},
        "detainee.date_of_birth",
        "Vul de geboortedatum in, bijvoorbeeld 2 11 1985.",
    ),
    "begin-detentie": (
        "pi.demo",
        lambda w: "/intake",
        {"stap": "2", **DETAINEE, "detention.type": "pre_trial"},
        "detention.start",
        "Vul de datum in waarop de detentie begon, bijvoorbeeld 4 12 2026.",
    ),
    "ondertekend-op": (
        "pi.demo",
        _intake_case,
        {"purpose.contact_creditors": "on", **date_form("valid_until", "2027-06-04")},
        "signed_on",
        "Vul de datum in waarop de gedetineerde de machtiging ondertekende, bijvoorbeeld 4 12 2026.",
    ),
    "vrijlating": (
        "pi.demo",
        lambda w: f"/dossiers/{w.case_id('Demir')}/vrijlating",
        {"stap": "controleren"},
        "released_on",
        "Vul de datum van vrijlating in, bijvoorbeeld 4 12 2026.",
    ),
    "eerste-gesprek": (
        "gemeente.demo",
        lambda w: f"/gemeente/verwijzingen/{_referral_of(w)}/accepteren",
        {},
        "first_conversation_on",
        "Vul de datum van het eerste gesprek in, bijvoorbeeld 4 12 2026.",
    ),
}


@pytest.mark.parametrize("case", list(EMPTY))
def test_an_empty_required_date_says_which_date_is_missing(world: DemoWorld, case: str) -> None:
    user, url, data, name, message = EMPTY[case]
    page = post(world.client(user), url(world), data)
    assert page.status_code == 422, text(page)[:2000]
    assert_said_at_the_field(text(page), name, message)


def test_an_empty_period_date_says_which_one(world: DemoWorld) -> None:
    page = world.client("gemeente.demo").get("/cijfers", query_string=date_form("to", "2026-03-31"))
    assert page.status_code == 422
    assert_said_at_the_field(text(page), "from", "Vul de eerste dag van de periode in, bijvoorbeeld 1 1 2026.")
    assert box_values(text(page), "to") == ("31", "3", "2026")


# -- dates typed in boxes go all the way through ---------------------------------------------------------------------


def test_the_intake_opens_a_case_and_records_the_consent_from_dates_in_boxes(world: DemoWorld) -> None:
    client = world.client("pi.demo")
    born, start, release = date(1990, 5, 17), world.today - timedelta(days=3), world.today + timedelta(weeks=20)
    step_one = {k: v for k, v in DETAINEE.items() if k != "detainee.date_of_birth"} | date_form(
        "detainee.date_of_birth", born
    )
    step_two = post(client, "/intake", {"stap": "1", **step_one})
    assert step_two.status_code == 200
    assert "geboren 17 mei 1990" in text(step_two)  # the date in words, not as ISO text
    typed = {
        **hidden_fields(text(step_two), "/intake"),
        "stap": "2",
        "detention.type": "prison_sentence",
        **date_form("detention.start", start),
        **date_form("detention.expected_release", release),
    }
    check = post(client, "/intake", typed)
    assert check.status_code == 200, text(check)[:3000]
    assert "Controleer de gegevens voordat u het dossier opent" in text(check)
    assert "17 mei 1990" in text(check)
    # "Wijzigen" of step 2 shows the dates in their boxes again.
    carried = hidden_fields(text(check), "/intake")
    change = post(client, "/intake", {**carried, "wijzig": "2"})
    assert box_values(text(change), "detention.start") == shown(start)
    assert box_values(text(change), "detention.expected_release") == shown(release)

    opened = post(client, "/intake", carried)
    assert opened.status_code == 303, text(opened)[:3000]
    case_id = int(opened.headers["Location"].split("/")[-2])
    with world.db() as s:
        case = s.get_one(Case, case_id)
        assert (case.detention_start, case.expected_release) == (start, release)
        assert s.get_one(Detainee, case.detainee_id).date_of_birth == born

    valid_until = world.today + timedelta(weeks=26)
    consent = {
        "purpose.contact_creditors": "on",
        **date_form("signed_on", world.today),
        **date_form("valid_until", valid_until),
    }
    signed = post(client, f"/intake/{case_id}/toestemming", consent)
    assert signed.status_code == 303, text(signed)[:3000]
    with world.db() as s:
        row = s.scalars(select(Consent).where(Consent.case_id == case_id)).one()
        assert (row.signed_on, row.valid_until) == (world.today, valid_until)


def test_the_municipality_accepts_with_the_first_conversation_typed_in_boxes(world: DemoWorld) -> None:
    referral_id = _referral_of(world)
    gemeente = world.client("gemeente.demo")
    url = f"/gemeente/verwijzingen/{referral_id}/accepteren"
    on = world.today + timedelta(days=7)
    check = post(gemeente, url, date_form("first_conversation_on", on))
    assert check.status_code == 200, text(check)[:3000]
    assert "Controleer uw besluit: accepteren" in text(check)
    carried = hidden_fields(text(check), url)
    assert carried["first_conversation_on"] == on.isoformat()
    done = post(gemeente, url, {**carried, "confirm": "1"})
    assert done.status_code == 303, text(done)[:3000]
    with world.db() as s:
        referral = s.get_one(Referral, referral_id)
        assert referral.first_conversation_on == on
        case = s.get_one(Case, referral.case_id)
        assert s.get_one(WorkflowInstance, case.instance_id).state == "accepted"


def test_the_release_is_recorded_from_the_date_typed_in_boxes(world: DemoWorld) -> None:
    demir = world.case_id("Demir")
    with world.db() as s:  # the fast world starts no job: without an insurer the release asks for no letter
        s.get_one(Case, demir).health_insurer_id = None
        s.commit()
    client = world.client("pi.demo")
    url = f"/dossiers/{demir}/vrijlating"
    released_on = world.today - timedelta(days=2)
    check = post(client, url, {"stap": "controleren", **date_form("released_on", released_on)})
    assert check.status_code == 200, text(check)[:3000]
    assert "Wat er gaat gebeuren" in text(check)
    done = post(client, url, hidden_fields(text(check), url))
    assert done.status_code == 303, text(done)[:3000]
    with world.db() as s:
        assert s.get_one(Case, demir).actual_release == released_on


def test_the_basisvoorwaarden_are_saved_with_dates_typed_in_boxes(world: DemoWorld) -> None:
    demir = world.case_id("Demir")
    client = world.client("pi.demo")
    url = f"/dossiers/{demir}/basisvoorwaarden"
    version = hidden_fields(text(client.get(url)), url)["version"]
    valid, applied = date(2031, 3, 4), world.today - timedelta(days=1)
    saved = post(
        client,
        url,
        {
            "version": version,
            "id_document": "valid",
            **date_form("id_valid_until", valid),
            "income_after_release": "benefit_applied",
            **date_form("income_applied_on", applied),
        },
    )
    assert saved.status_code == 303, re.findall(r'<p class="utrecht-paragraph">[^<]*</p>', text(saved))
    page = text(client.get(url))
    assert box_values(page, "id_valid_until") == shown(valid)
    assert box_values(page, "income_applied_on") == shown(applied)


def test_filters_typed_in_boxes_filter_and_links_carry_them_as_iso_dates(world: DemoWorld) -> None:
    client = world.client("pi.demo")
    soon = world.today + timedelta(weeks=4)
    listed = client.get("/dossiers", query_string=date_form("release_before", soon))
    assert listed.status_code == 200
    html = text(listed)
    assert "Vries" in html
    assert "Demir" not in html
    assert box_values(html, "release_before") == shown(soon)
    assert f"release_before={soon.isoformat()}" in unescape(html)  # the sort links
    assert "release_before-dag=" not in unescape(html)  # no boxes in a link

    start, end = date(world.today.year, 1, 1), world.today
    figures = world.client("gemeente.demo").get(
        "/cijfers", query_string={**date_form("from", start), **date_form("to", end), "group_by": "pi"}
    )
    assert figures.status_code == 200, text(figures)[:3000]
    csv_link = re.search(r'href="(/cijfers/kengetallen\.csv[^"]*)"', text(figures))
    assert csv_link is not None
    assert f"from={start.isoformat()}" in unescape(csv_link.group(1))
    assert f"to={end.isoformat()}" in unescape(csv_link.group(1))
    assert world.client("gemeente.demo").get(unescape(csv_link.group(1))).status_code == 200
