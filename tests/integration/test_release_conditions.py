"""The basisvoorwaarden at release (schulden/cases/conditions.py): the operation, its rules and audit row, and both
doors (PUT/GET /api/v1/cases/<id>/release-conditions and the page), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from schulden.audit import AuditEntry
from schulden.cases.conditions import ReleaseConditions, conditions_of, set_release_conditions
from schulden.cases.models import Case
from schulden.errors import NotPermitted, ValidationFailed
from tests.demo_world import DemoWorld, csrf
from workflows import ConcurrentUpdate

API = "/api/v1"
TODAY = date(2026, 3, 2)
FULL = {
    "id_document": "valid",
    "id_valid_until": "2030-05-03",
    "bank_account": "blocked",
    "income_after_release": "benefit_applied",
    "income_office": "gemeente Zwolle",
    "income_applied_on": "2026-02-10",
    "housing_after_release": "family_or_friends",
    "postal_address": "Dorpsstraat 1, 8011 AB  ZWOLLE",
    "health_insurance": "suspended",
    "care_arranged": "needed",
    "contact_after_release": "06 12345678",
}


def _url(case_id: int) -> str:
    return f"{API}/cases/{case_id}/release-conditions"


def _audit(db: sessionmaker[Session], case_id: int, action: str) -> list[AuditEntry]:
    with db() as session:
        return list(
            session.scalars(select(AuditEntry).where(AuditEntry.case_id == case_id, AuditEntry.action == action))
        )


# -- the operation ---------------------------------------------------------------------------------------------------


def test_set_release_conditions_stores_replaces_and_audits(db: sessionmaker[Session], world: Any) -> None:
    case_id = world.cases["a_only"].id
    pi_a = world.users["pi_a"].actor
    with db() as session:
        case = session.get_one(Case, case_id)
        values = {"id_document": "valid", "id_valid_until": date(2030, 5, 3), "contact_after_release": " 06 1234 "}
        row = set_release_conditions(session, pi_a, case, values, origin="192.0.2.1", expected_version=0, today=TODAY)
        assert (row.id_document, row.contact_after_release, row.row_version) == ("valid", "06 1234", 1)
        # A PUT replaces the whole set: what is left out becomes unknown.
        row = set_release_conditions(session, pi_a, case, {"bank_account": "none"}, expected_version=1, today=TODAY)
        assert (row.id_document, row.id_valid_until, row.bank_account, row.row_version) == (None, None, "none", 2)
        session.commit()
    rows = _audit(db, case_id, "case.conditions.update")
    assert len(rows) == 2
    assert rows[0].details == {"fields": ["id_document", "id_valid_until", "contact_after_release"], "created": True}
    assert rows[0].origin == "192.0.2.1"
    # Field names only: no address, phone or date of the person in the log.
    assert "06 1234" not in str([r.details for r in rows])


@pytest.mark.parametrize(
    ("values", "field", "words"),
    [
        ({"id_document": "lost"}, "id_document", "Identiteitsbewijs: kies een van"),
        ({"id_document": "none", "id_valid_until": date(2030, 1, 1)}, "id_valid_until", "alleen in bij een geldig"),
        ({"id_document": "valid", "id_valid_until": date(2025, 1, 1)}, "id_valid_until", "deze datum is voorbij"),
        ({"id_document": "expired", "id_valid_until": date(2030, 1, 1)}, "id_valid_until", "nog niet voorbij"),
        ({"income_after_release": "work", "income_office": "UWV"}, "income_office", "uitkering is aangevraagd"),
        (
            {"income_after_release": "benefit_applied", "income_applied_on": date(2027, 1, 1)},
            "income_applied_on",
            "in de toekomst",
        ),
        ({"contact_after_release": "bel mijn moeder"}, "contact_after_release", "telefoonnummer of een e-mailadres"),
        ({"shoe_size": 44}, "shoe_size", "Onbekend veld"),
    ],
)
def test_the_rules_refuse_with_a_dutch_message_naming_the_field(
    db: sessionmaker[Session], world: Any, values: dict[str, Any], field: str, words: str
) -> None:
    with db() as session:
        case = session.get_one(Case, world.cases["a_only"].id)
        with pytest.raises(ValidationFailed) as refused:
            set_release_conditions(session, world.users["pi_a"].actor, case, values, today=TODAY)
        assert field in refused.value.errors
        assert words in " ".join(refused.value.errors[field])
        assert conditions_of(session, case.id) is None


def test_a_stale_version_and_a_role_that_may_not_write_are_refused(db: sessionmaker[Session], world: Any) -> None:
    with db() as session:
        case = session.get_one(Case, world.cases["a_ref_m1"].id)
        set_release_conditions(session, world.users["cns_1"].actor, case, {"care_arranged": "arranged"}, today=TODAY)
        with pytest.raises(ConcurrentUpdate):
            set_release_conditions(
                session, world.users["pi_a"].actor, case, {"care_arranged": "needed"}, expected_version=0, today=TODAY
            )
        with pytest.raises(NotPermitted):
            set_release_conditions(session, world.users["mun_1"].actor, case, {}, today=TODAY)
        assert session.scalars(select(ReleaseConditions)).one().care_arranged == "arranged"


# -- the API ---------------------------------------------------------------------------------------------------------


def test_get_put_round_trip_with_etag(client: FlaskClient, db: sessionmaker[Session], world: Any) -> None:
    case_id = world.cases["a_only"].id
    headers = world.headers(client, "pi_a")

    empty = client.get(_url(case_id), headers=headers)
    assert empty.status_code == 200
    assert empty.headers["ETag"] == '"0"'
    assert all(empty.json[name] is None for name in FULL)

    missing = client.put(_url(case_id), json=FULL, headers=headers)
    assert missing.status_code == 428
    stored = client.put(_url(case_id), json=FULL, headers={**headers, "If-Match": '"0"'})
    assert stored.status_code == 200, stored.json
    assert stored.headers["ETag"] == '"1"'
    assert {name: stored.json[name] for name in FULL} == FULL
    stale = client.put(_url(case_id), json={}, headers={**headers, "If-Match": '"0"'})
    assert stale.status_code == 412
    assert client.get(_url(case_id), headers=headers).json["income_office"] == "gemeente Zwolle"
    assert len(_audit(db, case_id, "case.conditions.update")) == 1
    assert len(_audit(db, case_id, "case.conditions.read")) == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"bank_account": "swiss"}, "bank_account"),
        ({"id_valid_until": "3 mei 2030"}, "id_valid_until"),
        ({"postal_address": "x" * 301}, "postal_address"),
        ({"income_after_release": "none", "income_office": "UWV"}, "income_office"),
        ({"nonsense": 1}, "nonsense"),
        ({"contact_after_release": 612345678}, "contact_after_release"),
    ],
)
def test_bad_input_is_a_422_problem_naming_the_field(
    client: FlaskClient, world: Any, body: dict[str, Any], field: str
) -> None:
    headers = {**world.headers(client, "cns_1"), "If-Match": '"0"'}
    response = client.put(_url(world.cases["a_only"].id), json=body, headers=headers)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert field in response.json["errors"]


def test_roles_and_scope_as_the_household(client: FlaskClient, world: Any) -> None:
    case_id = world.cases["a_only"].id
    # Out of scope answers 404 (as absent); a role that may never write answers 403.
    assert client.get(_url(case_id), headers=world.headers(client, "pi_b")).status_code == 404
    for username in ("mun_1", "partner_p", "admin"):
        headers = {**world.headers(client, username), "If-Match": '"0"'}
        assert client.put(_url(case_id), json={}, headers=headers).status_code == 403, username
    response = client.put(_url(case_id), json={}, headers={**world.headers(client, "pi_b"), "If-Match": '"0"'})
    assert response.status_code == 404
    response = client.put(_url(case_id), json={}, headers={**world.headers(client, "vol_a"), "If-Match": '"0"'})
    assert response.status_code == 200


# -- the page ----------------------------------------------------------------------------------------------------------


def test_the_page_shows_saves_and_refuses_like_the_api(demo_world: DemoWorld) -> None:
    client = demo_world.client("pi.demo")
    case_id = demo_world.case_id("Demir")
    page = f"/dossiers/{case_id}/basisvoorwaarden"

    shown = client.get(page)
    assert shown.status_code == 200
    html = shown.get_data(as_text=True)
    assert "Basisvoorwaarden na vrijlating" in html
    assert 'name="version" value="0"' in html
    assert page in client.get(f"/dossiers/{case_id}").get_data(as_text=True)  # linked from the case page

    token = csrf(client, page)
    refused = client.post(
        page, data={"csrf_token": token, "version": "0", "id_document": "none", "id_valid_until": "2030-01-01"}
    )
    assert refused.status_code == 422
    body = refused.get_data(as_text=True)
    assert "Controleer de invoer" in body
    assert 'href="#veld-id_valid_until"' in body
    assert "vul dit alleen in bij een geldig of verlopen identiteitsbewijs" in body

    form = {"csrf_token": token, "version": "0", **{k: v for k, v in FULL.items() if k != "id_valid_until"}}
    form["id_document"] = "applied"
    saved = client.post(page, data=form)
    assert saved.status_code == 303, saved.get_data(as_text=True)[:2000]
    again = client.post(page, data=form)  # the same page again: version 0 is stale now
    assert again.status_code == 422
    assert "intussen gewijzigd" in again.get_data(as_text=True)
    with demo_world.db() as session:
        row = conditions_of(session, case_id)
        assert row is not None
        assert (row.id_document, row.postal_address, row.row_version) == ("applied", FULL["postal_address"], 1)
    assert client.get(page).status_code == 200
    # A municipality's user never gets the form (the household's roles).
    assert demo_world.client("gemeente.demo").get(page).status_code in (403, 404)
