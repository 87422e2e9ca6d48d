"""Persoonsgegevens verbeteren on the case page (issue 15 part 2, AVG art. 16): the casemanager or counsellor corrects a
wrong name, date of birth or BSN in the browser, as PATCH /api/v1/cases/<id>/identity does; the old value is kept."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from schulden.cases.models import Case, Detainee
from schulden.corrections import Correction
from tests.demo_world import DemoWorld
from tests.web.test_foundation import csrf_of


@pytest.fixture
def world(demo_world: DemoWorld) -> DemoWorld:
    return demo_world


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def _detainee(world: DemoWorld, case_id: int) -> Detainee:
    with world.db() as s:
        detainee = s.get_one(Detainee, s.get_one(Case, case_id).detainee_id)
        s.expunge(detainee)
        return detainee


def _form(detainee: Detainee, **changes: str) -> dict[str, str]:
    born = detainee.date_of_birth
    return {
        "given_names": detainee.given_names,
        "surname_prefix": detainee.surname_prefix or "",
        "surname": detainee.surname,
        "date_of_birth-dag": str(born.day),
        "date_of_birth-maand": str(born.month),
        "date_of_birth-jaar": str(born.year),
        "bsn": "",
        **changes,
    }


def test_the_counsellor_corrects_the_name_and_the_old_one_is_kept(world: DemoWorld) -> None:
    demir = world.case_id("Demir")
    before = _detainee(world, demir)
    client = world.client("schuldhulp.demo")
    assert "Persoonsgegevens verbeteren" in text(client.get(f"/dossiers/{demir}")), "the case page links to it"
    url = f"/dossiers/{demir}/persoonsgegevens"
    page = text(client.get(url))
    assert f'value="{before.surname}"' in page
    assert before.bsn is not None
    assert before.bsn not in page, "opening the form shows no full BSN"
    assert f"Het huidige BSN eindigt op {before.bsn[-4:]}" in page

    done = client.post(url, data={"csrf_token": csrf_of(client, url), **_form(before, surname="Demirr")})
    assert done.status_code == 303
    assert done.headers["Location"].endswith(f"/dossiers/{demir}")
    assert "Verbeterd: achternaam" in text(client.get(done.headers["Location"]))
    after = _detainee(world, demir)
    assert (after.surname, after.given_names, after.bsn) == ("Demirr", before.given_names, before.bsn)
    with world.db() as s:
        kept = s.scalars(select(Correction).where(Correction.case_id == demir)).all()
        assert [(c.field, c.old_value, c.new_value) for c in kept] == [("surname", before.surname, "Demirr")]
    [row] = world.audit("case.identity")
    assert row.details == {"fields": ["surname"]}, "the audit row names the field, never a value"


def test_a_new_bsn_and_date_of_birth_are_checked_and_saved(world: DemoWorld) -> None:
    demir = world.case_id("Demir")
    before = _detainee(world, demir)
    client = world.client("pi.demo")
    url = f"/dossiers/{demir}/persoonsgegevens"
    token = csrf_of(client, url)
    changes = {"bsn": "111222333", "date_of_birth-dag": "3", "date_of_birth-maand": "4", "date_of_birth-jaar": "1980"}
    assert client.post(url, data={"csrf_token": token, **_form(before, **changes)}).status_code == 303
    after = _detainee(world, demir)
    assert (after.bsn, after.date_of_birth) == ("111222333", date(1980, 4, 3))


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"bsn": "123456789"}, "bsn", "de elfproef faalt"),
        ({"given_names": ""}, "given_names", "Voornamen"),
        ({"date_of_birth-dag": "31", "date_of_birth-maand": "2"}, "date_of_birth", "Geboortedatum"),
        ({"date_of_birth-jaar": "2090"}, "date_of_birth", "De geboortedatum ligt in de toekomst."),
    ],
)
def test_bad_input_names_the_field_in_dutch_and_changes_nothing(
    world: DemoWorld, changes: dict[str, str], field: str, message: str
) -> None:
    demir = world.case_id("Demir")
    before = _detainee(world, demir)
    client = world.client("schuldhulp.demo")
    url = f"/dossiers/{demir}/persoonsgegevens"
    refused = client.post(url, data={"csrf_token": csrf_of(client, url), **_form(before, **changes)})
    assert refused.status_code == 422
    page = text(refused)
    assert page.count("<title>Fout: ") == 1
    assert message in page
    assert f'href="#veld-{field}' in page, "the error summary links to the field"
    after = _detainee(world, demir)
    assert (after.given_names, after.bsn, after.date_of_birth) == (before.given_names, before.bsn, before.date_of_birth)
    assert not world.audit("case.identity")


def test_nothing_changed_says_so(world: DemoWorld) -> None:
    demir = world.case_id("Demir")
    client = world.client("schuldhulp.demo")
    url = f"/dossiers/{demir}/persoonsgegevens"
    done = client.post(url, data={"csrf_token": csrf_of(client, url), **_form(_detainee(world, demir))})
    assert done.status_code == 303
    assert "er is niets veranderd" in text(client.get(done.headers["Location"]))
    assert not world.audit("case.identity")


def test_only_the_casemanager_and_the_counsellor_reach_the_form(world: DemoWorld) -> None:
    demir = world.case_id("Demir")
    assert world.client("vrijwilliger.demo").get(f"/dossiers/{demir}/persoonsgegevens").status_code == 403
    assert "Persoonsgegevens verbeteren" not in text(world.client("vrijwilliger.demo").get(f"/dossiers/{demir}"))


def test_another_pi_finds_nothing_and_its_post_changes_nothing(world: DemoWorld) -> None:
    demir = world.case_id("Demir")  # a case of PI Zwolle
    before = _detainee(world, demir)
    client = world.client("pi.lelystad.demo")
    url = f"/dossiers/{demir}/persoonsgegevens"
    assert client.get(url).status_code == 404
    token = csrf_of(client, "/")
    refused = client.post(url, data={"csrf_token": token, **_form(before, surname="Overgenomen")})
    assert refused.status_code == 404
    assert _detainee(world, demir).surname == before.surname
    assert not world.audit("case.identity")
