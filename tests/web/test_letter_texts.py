"""Beheer of letter texts through the Flask test client (issue 10, item 1; ux.md, Administration).

A text that reaches past the merge fields is refused at save with a Dutch message and nothing is stored; a change can
be previewed on an invented case with its changed lines before it is saved; an earlier version can be put back.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from schulden.audit import AuditEntry
from schulden.letters.models import LetterTextVersion
from schulden.letters.templates import TEXTS_DIR
from tests.web.test_beheer import World, csrf, demo_world, text

ESCAPE = "{{ cycler.__init__.__globals__.os.getuid() }}"


def _l2_with(extra: str, version: int = 3) -> str:
    """The shipped L2 (versie 2) with a sentence added, as version `version`."""
    shipped = (TEXTS_DIR / "L2.txt").read_text(encoding="utf-8")
    return re.sub(r"^versie: \d+", f"versie: {version}", shipped, count=1, flags=re.MULTILINE).replace(
        "Geachte heer, mevrouw,", f"Geachte heer, mevrouw,\n\n{extra}", 1
    )


@pytest.fixture
def beheer_world(committed_url: str) -> World:
    return demo_world(committed_url)


def _stored(world: World) -> list[LetterTextVersion]:
    with world.db() as session:
        return list(session.scalars(select(LetterTextVersion).order_by(LetterTextVersion.id)))


def test_a_template_escape_is_refused_at_save_in_dutch_and_nothing_is_stored(beheer_world: World) -> None:
    admin = beheer_world.client("admin.demo")
    token = csrf(admin, "/beheer/sjablonen/L2")
    response = admin.post("/beheer/sjablonen/L2", data={"text": _l2_with(ESCAPE), "csrf_token": token})
    assert response.status_code == 422
    page = text(response)
    assert "De tekst klopt niet" in page
    assert "een functie aanroepen met ( ) kan niet in een brief" in page
    assert _stored(beheer_world) == []
    with beheer_world.db() as session:
        refused = session.scalars(select(AuditEntry).where(AuditEntry.action == "letter_text.refused")).all()
    assert len(refused) == 1


def test_a_preview_shows_the_changed_text_on_a_sample_case_and_stores_nothing(beheer_world: World) -> None:
    admin = beheer_world.client("admin.demo")
    token = csrf(admin, "/beheer/sjablonen/L2")
    changed = _l2_with("Wij schrijven u namens {{ client_name }}.")
    response = admin.post("/beheer/sjablonen/L2/voorbeeld", data={"text": changed, "csrf_token": token})
    assert response.status_code == 200
    page = text(response)
    assert "Voorbeeld op een verzonnen dossier" in page
    assert "Wij schrijven u namens Jan de Voorbeeld." in page  # rendered with the sample case
    assert "Nieuw: </span>" in page  # the changed line, marked for screen readers too
    assert "Wij schrijven u namens {{ client_name }}." in page
    assert _stored(beheer_world) == []


def test_a_preview_of_an_escape_shows_the_error_and_runs_nothing(beheer_world: World) -> None:
    admin = beheer_world.client("admin.demo")
    token = csrf(admin, "/beheer/sjablonen/L2")
    response = admin.post("/beheer/sjablonen/L2/voorbeeld", data={"text": _l2_with(ESCAPE), "csrf_token": token})
    assert response.status_code == 422
    assert "De tekst klopt niet" in text(response)
    assert "Voorbeeld op een verzonnen dossier" not in text(response)


def test_save_then_go_back_to_the_shipped_text_as_a_new_version(beheer_world: World) -> None:
    admin = beheer_world.client("admin.demo")
    token = csrf(admin, "/beheer/sjablonen/L2")
    saved = admin.post(
        "/beheer/sjablonen/L2", data={"text": _l2_with("Een extra zin.", version=3), "csrf_token": token}
    )
    assert saved.status_code == 303
    page = text(admin.get("/beheer/sjablonen/L2"))
    assert "Versie 3 van L2 is opgeslagen" in page
    assert "Meegeleverde tekst terugzetten" in page

    restored = admin.post("/beheer/sjablonen/L2/terugzetten", data={"version": "meegeleverd", "csrf_token": token})
    assert restored.status_code == 303
    rows = _stored(beheer_world)
    assert [row.version for row in rows] == [3, 4]
    assert "Een extra zin." not in rows[-1].text
    assert rows[-1].text.startswith("titel:")
    assert "versie: 4" in rows[-1].text
    page = text(admin.get("/beheer/sjablonen/L2"))
    assert "De tekst van de meegeleverde tekst is terug in gebruik als versie 4" in page

    back_to_3 = admin.post("/beheer/sjablonen/L2/terugzetten", data={"version": "3", "csrf_token": token})
    assert back_to_3.status_code == 303
    assert "Een extra zin." in _stored(beheer_world)[-1].text
    assert admin.post("/beheer/sjablonen/L2/terugzetten", data={"version": "x", "csrf_token": token}).status_code == 400


def test_only_administrators_reach_the_letter_texts(beheer_world: World) -> None:
    counsellor = beheer_world.client("schuldhulp.demo")
    assert counsellor.get("/beheer/sjablonen/L2").status_code == 403
    token = csrf(counsellor, "/")
    response = counsellor.post("/beheer/sjablonen/L2", data={"text": _l2_with("x"), "csrf_token": token})
    assert response.status_code == 403
    assert _stored(beheer_world) == []
