"""The detainee's rights on the case page (issue 15): the section "Inzage en verstrekkingen" (the partial
dossiers/_access.html), the page "Inzageoverzicht" and its PDF and JSON downloads, through the Flask test client on
the demo world (SQLite and PostgreSQL)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask import render_template_string
from pypdf import PdfReader

from schulden.cases.access_export import AUDIT_ACTION
from tests.demo_world import DemoWorld

#: The one line the case page's template includes (dossiers/detail.html); rendered here on its own until it does.
INCLUDE = '{% include "dossiers/_access.html" %}'


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def _section(world: DemoWorld, username: str, case_id: int) -> str:
    """The partial as the case page renders it for `username` (signed in through the login page)."""
    client = world.client(username)
    with client:
        client.get(f"/dossiers/{case_id}")  # signs the request context in as the user, as the case page does
        return render_template_string(INCLUDE, case={"id": case_id})


def test_the_section_lists_to_whom_what_went(demo_world: DemoWorld) -> None:
    case_id = demo_world.case_id("Vries")
    # The probation partner reads the case (API): that is a disclosure to the partner.
    demo_world.http.get(f"/api/v1/cases/{case_id}", headers=demo_world.token("partner.demo"))

    body = _section(demo_world, "schuldhulp.demo", case_id)

    assert "Inzage en verstrekkingen" in body
    assert "Aan wie is wat verstrekt" in body
    assert f'href="/dossiers/{case_id}/inzageoverzicht"' in body
    assert "Inzageoverzicht maken" in body
    assert "delen met de reclassering" in body
    assert "BSN" in body
    assert "Nee" in body
    # The section itself writes no export row: only making the overview does.
    assert demo_world.audit(AUDIT_ACTION) == []


def test_the_section_says_when_nothing_went_out(demo_world: DemoWorld) -> None:
    body = _section(demo_world, "pi.demo", demo_world.case_id("IJsselstein"))
    assert "Er is nog niets over deze persoon aan anderen verstrekt" in body


@pytest.mark.parametrize("username", ["vrijwilliger.demo", "partner.demo"])
def test_the_section_is_not_shown_to_roles_that_make_no_overview(demo_world: DemoWorld, username: str) -> None:
    body = _section(demo_world, username, demo_world.case_id("Vries"))
    assert body.strip() == ""


def test_the_page_shows_what_the_overview_holds_and_both_downloads(demo_world: DemoWorld) -> None:
    case_id = demo_world.case_id("Demir")
    client = demo_world.client("schuldhulp.demo")

    page = client.get(f"/dossiers/{case_id}/inzageoverzicht")

    assert page.status_code == 200
    body = text(page)
    assert "Inzageoverzicht van Ayşe Demir" in body
    for heading in ("Wie bent u", "Uw schulden", "Brieven over u", "Antwoorden van schuldeisers",
                    "Uw toestemming", "Wie uw dossier bekeek of wijzigde", "Aan wie wij gegevens gaven"):  # fmt: skip
        assert heading in body, heading
    assert "volledige BSN" in body
    assert f'href="/dossiers/{case_id}/inzageoverzicht.pdf"' in body

    pdf = client.get(f"/dossiers/{case_id}/inzageoverzicht.pdf")
    assert pdf.status_code == 200
    assert pdf.mimetype == "application/pdf"
    assert "Demir" not in pdf.headers["Content-Disposition"]
    assert "Brieven over u" in "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)

    download = client.get(f"/dossiers/{case_id}/inzageoverzicht.json")
    assert download.status_code == 200
    assert download.headers["Content-Disposition"] == f'attachment; filename="inzageoverzicht-SR-{case_id:06d}.json"'
    assert download.get_json()["person"]["surname"] == "Demir"

    assert [row.details["format"] for row in demo_world.audit(AUDIT_ACTION)] == ["page", "pdf", "json"]


@pytest.mark.parametrize("path", ["inzageoverzicht", "inzageoverzicht.pdf", "inzageoverzicht.json"])
def test_a_volunteer_is_refused_and_another_pi_finds_nothing(demo_world: DemoWorld, path: str) -> None:
    case_id = demo_world.case_id("Demir")
    assert demo_world.client("vrijwilliger.demo").get(f"/dossiers/{case_id}/{path}").status_code == 403
    assert demo_world.client("pi.lelystad.demo").get(f"/dossiers/{case_id}/{path}").status_code == 404
    assert demo_world.audit(AUDIT_ACTION) == []
