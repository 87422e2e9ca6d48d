"""/api/v1/municipalities: finding a municipality, its debt counselling team, and the routing proposal."""

from __future__ import annotations

import itertools

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from schulden.actors import SYSTEM
from schulden.audit import AuditEntry
from schulden.organisations.models import Organisation, OrganisationKind
from schulden.reference import load_reference_data
from schulden.roles import Role
from schulden.users.services import ROLE_ORGANISATION, create_user

PASSWORD = "geheim-wachtwoord-1"
_ids = itertools.count(1)


@pytest.fixture
def api(app: Flask, committed: sessionmaker[Session]) -> FlaskClient:
    """A test client of the app (create_app binds the API under /api/v1), with the reference data loaded."""
    with committed() as session:
        load_reference_data(session)
        session.commit()
    return app.test_client()


def sign_in(
    api: FlaskClient, committed: sessionmaker[Session], role: Role, organisation_id: int | None = None
) -> dict[str, str]:
    """A new user with `role` (and a fitting organisation unless given); returns the Authorization header."""
    n = next(_ids)
    username = f"{role.value.replace('_', '-')}-{n}"
    with committed() as session:
        organisation = session.get(Organisation, organisation_id) if organisation_id else None
        kind = ROLE_ORGANISATION[role]
        if organisation is None and kind is not None:
            organisation = Organisation(kind=kind.value, name=f"Organisatie {n}", code=f"T{n:05d}")
            session.add(organisation)
            session.flush()
        create_user(
            session,
            actor=SYSTEM,
            username=username,
            display_name=f"Test {role.value}",
            role=role,
            password=PASSWORD,
            organisation=organisation,
        )
        session.commit()
    response = api.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert response.status_code == 201, response.json
    return {"Authorization": f"Bearer {response.json['access_token']}"}


def municipality_id(committed: sessionmaker[Session], code: str) -> int:
    with committed() as session:
        found = session.scalar(
            select(Organisation.id).where(
                Organisation.kind == OrganisationKind.MUNICIPALITY.value, Organisation.code == code
            )
        )
    assert found is not None
    return found


@pytest.fixture
def reader(api: FlaskClient, committed: sessionmaker[Session]) -> dict[str, str]:
    return sign_in(api, committed, Role.VOLUNTEER)


@pytest.fixture
def admin(api: FlaskClient, committed: sessionmaker[Session]) -> dict[str, str]:
    return sign_in(api, committed, Role.ADMIN)


# -- reading ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["/api/v1/municipalities", "/api/v1/municipalities/1", "/api/v1/municipalities/proposal?postcode=8011AB"]
)
def test_everything_needs_a_token(api: FlaskClient, url: str) -> None:
    response = api.get(url)

    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"


def test_search_by_name_or_code(api: FlaskClient, reader: dict[str, str]) -> None:
    by_name = api.get("/api/v1/municipalities?q=ZWOL", headers=reader).json["items"]
    by_code = api.get("/api/v1/municipalities?q=gm0363", headers=reader).json["items"]

    assert [(m["code"], m["name"], m["province"]) for m in by_name] == [("GM0193", "Zwolle", "Overijssel")]
    assert [m["name"] for m in by_code] == ["Amsterdam"]
    assert set(by_code[0]) == {
        "id",
        "code",
        "name",
        "province",
        "team_name",
        "email",
        "address_line",
        "postcode",
        "city",
    }


def test_pages_return_every_municipality_exactly_once(api: FlaskClient, reader: dict[str, str]) -> None:
    seen: list[str] = []
    url = "/api/v1/municipalities?limit=100"
    while url:
        response = api.get(url, headers=reader)
        assert response.status_code == 200
        seen += [m["code"] for m in response.json["items"]]
        cursor = response.json["next"]
        url = f"/api/v1/municipalities?limit=100&after={cursor}" if cursor else ""

    assert len(seen) == len(set(seen)) == 342


def test_one_municipality_with_its_etag(
    api: FlaskClient, committed: sessionmaker[Session], reader: dict[str, str]
) -> None:
    zwolle = municipality_id(committed, "GM0193")

    response = api.get(f"/api/v1/municipalities/{zwolle}", headers=reader)
    missing = api.get("/api/v1/municipalities/999999", headers=reader)

    assert response.status_code == 200
    assert response.json["name"] == "Zwolle"
    assert response.headers["ETag"].startswith('W/"')
    assert missing.status_code == 404


def test_a_pi_is_not_a_municipality(api: FlaskClient, committed: sessionmaker[Session], reader: dict[str, str]) -> None:
    with committed() as session:
        pi = Organisation(kind=OrganisationKind.PI.value, name="PI Zwolle", code="PI-ZW")
        session.add(pi)
        session.commit()

    assert api.get(f"/api/v1/municipalities/{pi.id}", headers=reader).status_code == 404


# -- the routing proposal -------------------------------------------------------------------------------------------


def test_a_zwolle_postcode_proposes_zwolle(api: FlaskClient, reader: dict[str, str]) -> None:
    response = api.get("/api/v1/municipalities/proposal?postcode=8011AB", headers=reader)

    assert response.status_code == 200
    assert response.json["municipality"]["name"] == "Zwolle"
    assert response.json["municipality"]["code"] == "GM0193"
    assert response.json["rule"] == "intended_address"
    assert response.json["approximate"] is True
    assert "8011" in response.json["reason"]


def test_without_a_known_postcode_the_registration_decides(
    api: FlaskClient, committed: sessionmaker[Session], reader: dict[str, str]
) -> None:
    amsterdam = municipality_id(committed, "GM0363")

    registration = api.get(f"/api/v1/municipalities/proposal?registration_municipality_id={amsterdam}", headers=reader)
    unknown_pc4 = api.get(
        f"/api/v1/municipalities/proposal?postcode=1000AA&registration_municipality_id={amsterdam}", headers=reader
    )
    nothing = api.get("/api/v1/municipalities/proposal", headers=reader)

    assert (registration.json["municipality"]["name"], registration.json["rule"]) == ("Amsterdam", "registration")
    assert registration.json["approximate"] is False
    assert unknown_pc4.json["rule"] == "registration"
    assert "1000" in unknown_pc4.json["reason"]
    assert nothing.status_code == 200
    assert (nothing.json["municipality"], nothing.json["rule"]) == (None, None)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("postcode=12345", "postcode"),
        ("postcode=0123AB", "postcode"),
        ("registration_municipality_id=abc", "registration_municipality_id"),
        ("registration_municipality_id=999999", "registration_municipality_id"),
        ("registration_municipality_id=99999999999999999999", "registration_municipality_id"),
    ],
)
def test_bad_proposal_input_names_the_field(api: FlaskClient, reader: dict[str, str], query: str, field: str) -> None:
    response = api.get(f"/api/v1/municipalities/proposal?{query}", headers=reader)

    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert list(response.json["errors"]) == [field]


def test_a_bad_postcode_gets_the_dutch_rule(api: FlaskClient, reader: dict[str, str]) -> None:
    response = api.get("/api/v1/municipalities/proposal?postcode=12345", headers=reader)

    assert response.json["errors"]["postcode"] == ["Een postcode is 4 cijfers en 2 letters, bijvoorbeeld 1234 AB."]


# -- the debt counselling team's contact details --------------------------------------------------------------------

TEAM = {
    "team_name": "Schuldhulpverlening Zwolle",
    "email": "schuldhulp@zwolle.example",
    "address_line": "Postbus 10007",
    "postcode": "8000ga",
    "city": "Zwolle",
}


def test_an_administrator_sets_the_team_and_the_audit_log_says_so(
    api: FlaskClient, committed: sessionmaker[Session], admin: dict[str, str]
) -> None:
    zwolle = municipality_id(committed, "GM0193")
    etag = api.get(f"/api/v1/municipalities/{zwolle}", headers=admin).headers["ETag"]

    response = api.patch(f"/api/v1/municipalities/{zwolle}", json=TEAM, headers={**admin, "If-Match": etag})

    assert response.status_code == 200, response.json
    assert response.json["postcode"] == "8000 GA"
    assert response.json["team_name"] == "Schuldhulpverlening Zwolle"
    assert response.headers["ETag"] != etag
    with committed() as session:
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "municipality.update")).all()
    assert (entry.object_type, entry.object_id) == ("municipality", str(zwolle))
    assert entry.details == {"fields": sorted(TEAM)}


def test_a_municipality_edits_its_own_team_only(api: FlaskClient, committed: sessionmaker[Session]) -> None:
    zwolle = municipality_id(committed, "GM0193")
    kampen = municipality_id(committed, "GM0166")
    zwolle_user = sign_in(api, committed, Role.MUNICIPALITY, organisation_id=zwolle)
    own_etag = api.get(f"/api/v1/municipalities/{zwolle}", headers=zwolle_user).headers["ETag"]
    other_etag = api.get(f"/api/v1/municipalities/{kampen}", headers=zwolle_user).headers["ETag"]

    own = api.patch(
        f"/api/v1/municipalities/{zwolle}", json={"city": "Zwolle"}, headers={**zwolle_user, "If-Match": own_etag}
    )
    other = api.patch(
        f"/api/v1/municipalities/{kampen}", json={"city": "Zwolle"}, headers={**zwolle_user, "If-Match": other_etag}
    )

    assert own.status_code == 200
    assert other.status_code == 403
    assert other.mimetype == "application/problem+json"


@pytest.mark.parametrize("role", [Role.COUNSELLOR, Role.PI_STAFF, Role.VOLUNTEER])
def test_other_roles_may_not_edit_a_team(api: FlaskClient, committed: sessionmaker[Session], role: Role) -> None:
    zwolle = municipality_id(committed, "GM0193")
    headers = sign_in(api, committed, role)
    etag = api.get(f"/api/v1/municipalities/{zwolle}", headers=headers).headers["ETag"]

    response = api.patch(f"/api/v1/municipalities/{zwolle}", json=TEAM, headers={**headers, "If-Match": etag})

    assert response.status_code == 403


def test_a_stale_or_missing_version_is_refused(
    api: FlaskClient, committed: sessionmaker[Session], admin: dict[str, str]
) -> None:
    zwolle = municipality_id(committed, "GM0193")
    url = f"/api/v1/municipalities/{zwolle}"
    etag = api.get(url, headers=admin).headers["ETag"]
    assert api.patch(url, json={"team_name": "Eerste"}, headers={**admin, "If-Match": etag}).status_code == 200

    stale = api.patch(url, json={"team_name": "Tweede"}, headers={**admin, "If-Match": etag})
    missing = api.patch(url, json={"team_name": "Derde"}, headers=admin)

    assert stale.status_code == 412
    assert missing.status_code == 428
    assert stale.mimetype == missing.mimetype == "application/problem+json"
    assert api.get(url, headers=admin).json["team_name"] == "Eerste"


def test_team_details_are_validated_in_dutch(
    api: FlaskClient, committed: sessionmaker[Session], admin: dict[str, str]
) -> None:
    zwolle = municipality_id(committed, "GM0193")
    url = f"/api/v1/municipalities/{zwolle}"
    headers = {**admin, "If-Match": api.get(url, headers=admin).headers["ETag"]}

    bad_email = api.patch(url, json={"email": "schuldhulp at zwolle"}, headers=headers)
    bad_postcode = api.patch(url, json={"postcode": "8000"}, headers=headers)
    not_editable = api.patch(url, json={"name": "Zwolle-Noord"}, headers=headers)

    assert bad_email.json["errors"] == {"email": ["Geen geldig e-mailadres."]}
    assert bad_postcode.json["errors"] == {
        "postcode": ["Een postcode is 4 cijfers en 2 letters, bijvoorbeeld 1234 AB."]
    }
    assert not_editable.json["errors"] == {"name": ["Onbekend veld."]}
