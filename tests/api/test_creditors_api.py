"""/api/v1/creditors: the creditor directory as a user of the API meets it."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from schulden.actors import SYSTEM
from schulden.audit import AuditEntry
from schulden.creditors.models import Creditor
from schulden.organisations.models import Organisation
from schulden.reference import DIRECTORY, load_reference_data
from schulden.roles import Role
from schulden.users.services import ROLE_ORGANISATION, create_user

PASSWORD = "geheim-wachtwoord-1"
_ids = itertools.count(1)


@pytest.fixture
def api(app: Flask) -> FlaskClient:
    """A test client of the app (create_app binds the API under /api/v1)."""
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


@pytest.fixture
def reference(committed: sessionmaker[Session]) -> None:
    with committed() as session:
        load_reference_data(session)
        session.commit()


@pytest.fixture
def counsellor(api: FlaskClient, committed: sessionmaker[Session]) -> dict[str, str]:
    return sign_in(api, committed, Role.COUNSELLOR)


def new_creditor(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Woonstichting De Linie",
        "department": "Huurincasso",
        "kind": "landlord",
        "category": "overig",
        "address_line": "Postbus 12",
        "postcode": "8000AA",
        "city": "Zwolle",
        "kvk": "12345678",
    }
    body.update(changes)
    return body


def audit_rows(committed: sessionmaker[Session], action: str) -> list[AuditEntry]:
    with committed() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


# -- reading ---------------------------------------------------------------------------------------------------------


def test_reading_needs_a_token(api: FlaskClient) -> None:
    response = api.get("/api/v1/creditors")

    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_search_finds_cjib_whatever_the_case(
    api: FlaskClient, committed: sessionmaker[Session], reference: None
) -> None:
    headers = sign_in(api, committed, Role.VOLUNTEER)  # any signed-in user may read the directory

    response = api.get("/api/v1/creditors?q=cjib", headers=headers)

    assert response.status_code == 200
    names = {item["name"] for item in response.json["items"]}
    assert names == {"Centraal Justitieel Incassobureau (CJIB)"}
    # One entry: the correspondence address (the objection desks seeded before are retired).
    assert len(response.json["items"]) == 1
    assert all(item["may_receive_bsn"] for item in response.json["items"])
    assert response.json["next"] is None


def test_filter_by_category_and_kind(api: FlaskClient, counsellor: dict[str, str], reference: None) -> None:
    zorg = api.get("/api/v1/creditors?category=zorg&kind=government", headers=counsellor).json["items"]
    landlords = api.get("/api/v1/creditors?kind=landlord", headers=counsellor).json["items"]

    assert {item["name"] for item in zorg} == {"CAK"}
    assert landlords == []


def test_empty_parameters_mean_no_filter(api: FlaskClient, counsellor: dict[str, str], reference: None) -> None:
    response = api.get("/api/v1/creditors?q=&kind=&category=&after=", headers=counsellor)

    assert response.status_code == 200
    assert len(response.json["items"]) == len(DIRECTORY)


def test_pages_return_every_creditor_exactly_once(
    api: FlaskClient, committed: sessionmaker[Session], counsellor: dict[str, str]
) -> None:
    with committed() as session:
        # Equal names on purpose: the id breaks the tie, so no row is skipped or repeated at a page boundary.
        names = [f"Schuldeiser {i % 7}" for i in range(23)] + ["aap", "Zeeman", "Éénhoorn"]
        session.add_all(
            Creditor(name=name, department=f"afdeling {i}", category="overig") for i, name in enumerate(names)
        )
        session.commit()

    seen: list[int] = []
    pages = 0
    url = "/api/v1/creditors?limit=5"
    while True:
        response = api.get(url, headers=counsellor)
        assert response.status_code == 200
        assert len(response.json["items"]) <= 5
        seen += [item["id"] for item in response.json["items"]]
        pages += 1
        if response.json["next"] is None:
            break
        url = f"/api/v1/creditors?limit=5&after={response.json['next']}"

    assert len(seen) == len(set(seen)) == len(names)
    assert pages == 6
    with committed() as session:
        expected = session.scalars(select(Creditor.id).order_by(Creditor.name, Creditor.id)).all()
    assert seen == list(expected)


def test_a_bad_cursor_or_limit_is_refused_in_dutch(api: FlaskClient, counsellor: dict[str, str]) -> None:
    bad_cursor = api.get("/api/v1/creditors?after=bm9uc2Vucw", headers=counsellor)
    bad_limit = api.get("/api/v1/creditors?limit=0", headers=counsellor)

    assert bad_cursor.status_code == 422
    assert "after" in bad_cursor.json["errors"]
    assert bad_limit.status_code == 422
    assert bad_limit.json["errors"]["limit"] == ["Kies een limit van 1 tot en met 200."]


def test_an_unknown_creditor_is_not_found(api: FlaskClient, counsellor: dict[str, str]) -> None:
    response = api.get("/api/v1/creditors/999999", headers=counsellor)
    beyond_any_id = api.get("/api/v1/creditors/99999999999999999999", headers=counsellor)

    assert response.status_code == beyond_any_id.status_code == 404
    assert response.mimetype == "application/problem+json"


# -- creating --------------------------------------------------------------------------------------------------------


def test_a_counsellor_adds_a_creditor_and_the_audit_log_says_so(
    api: FlaskClient, committed: sessionmaker[Session], counsellor: dict[str, str]
) -> None:
    response = api.post("/api/v1/creditors", json=new_creditor(), headers=counsellor)

    assert response.status_code == 201, response.json
    body = response.json
    assert body["name"] == "Woonstichting De Linie"
    assert body["postcode"] == "8000 AA"
    assert (body["kind"], body["category"], body["may_receive_bsn"], body["takes_email"]) == (
        "landlord",
        "overig",
        False,
        False,
    )
    assert response.headers["ETag"] == f'"{body["row_version"]}"'
    assert response.headers["Location"].endswith(f"/api/v1/creditors/{body['id']}")
    assert api.get(f"/api/v1/creditors/{body['id']}", headers=counsellor).json == body
    [entry] = audit_rows(committed, "creditor.create")
    assert (entry.object_type, entry.object_id) == ("creditor", str(body["id"]))
    assert entry.actor_id.startswith("user:")
    assert set(entry.details["fields"]) == set(new_creditor())


@pytest.mark.parametrize("role", [Role.PI_STAFF, Role.ADMIN])
def test_pi_staff_and_administrators_may_add(api: FlaskClient, committed: sessionmaker[Session], role: Role) -> None:
    response = api.post("/api/v1/creditors", json=new_creditor(), headers=sign_in(api, committed, role))

    assert response.status_code == 201


@pytest.mark.parametrize("role", [Role.VOLUNTEER, Role.MUNICIPALITY])
def test_others_may_not_add(api: FlaskClient, committed: sessionmaker[Session], role: Role) -> None:
    headers = sign_in(api, committed, role)

    response = api.post("/api/v1/creditors", json=new_creditor(), headers=headers)
    invalid = api.post("/api/v1/creditors", json={"colour": "red"}, headers=headers)

    assert response.status_code == 403
    assert response.mimetype == "application/problem+json"
    assert response.json["title"] == "Geen toegang"
    assert invalid.status_code == 403  # the role is checked before the body is read
    assert audit_rows(committed, "creditor.create") == []


def test_creating_needs_a_token(api: FlaskClient) -> None:
    assert api.post("/api/v1/creditors", json={"colour": "red"}).status_code == 401


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"kind": "pawnshop"},
            "kind",
            "Kies een van: government, health_insurer, landlord, utility, telecom, bank, collection_agency, "
            "bailiff, other.",
        ),
        ({"category": "energie"}, "category", "Kies een van: zorg, publiek, nuts, overig."),
        (
            {"takes_email": True},
            "email",
            "Vul een e-mailadres in: deze schuldeiser neemt post per e-mail aan.",
        ),
        ({"email": "geen-adres"}, "email", "Geen geldig e-mailadres."),
        ({"postcode": "12345"}, "postcode", "Een postcode is 4 cijfers en 2 letters, bijvoorbeeld 1234 AB."),
        ({"kvk": "1234567"}, "kvk", "Een KvK-nummer is precies 8 cijfers, bijvoorbeeld 12345678."),
        ({"kvk": "1234567a"}, "kvk", "Een KvK-nummer is precies 8 cijfers, bijvoorbeeld 12345678."),
        ({"colour": "red"}, "colour", "Onbekend veld."),
        ({"name": None}, "name", "Dit veld mag niet leeg (null) zijn."),
        ({"grade": "D"}, "grade", "Kies een van: A, B, C."),
        ({"source_url": "javascript:alert(1)"}, "source_url", "Geen geldig webadres (http:// of https://)."),
    ],
)
def test_invalid_input_is_refused_with_a_dutch_message_on_the_field(
    api: FlaskClient,
    committed: sessionmaker[Session],
    counsellor: dict[str, str],
    changes: dict[str, Any],
    field: str,
    message: str,
) -> None:
    response = api.post("/api/v1/creditors", json=new_creditor(**changes), headers=counsellor)

    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.json["errors"][field] == [message]
    with committed() as session:
        assert session.scalars(select(Creditor)).all() == []


def test_name_and_category_are_required(api: FlaskClient, counsellor: dict[str, str]) -> None:
    response = api.post("/api/v1/creditors", json={}, headers=counsellor)

    assert response.status_code == 422
    assert response.json["errors"] == {"name": ["Dit veld is verplicht."], "category": ["Dit veld is verplicht."]}


def test_e_mail_is_accepted_with_takes_email(api: FlaskClient, counsellor: dict[str, str]) -> None:
    body = new_creditor(takes_email=True, email="incasso@delinie.example")

    response = api.post("/api/v1/creditors", json=body, headers=counsellor)

    assert response.status_code == 201
    assert response.json["email"] == "incasso@delinie.example"


def test_the_same_creditor_cannot_be_added_twice(api: FlaskClient, counsellor: dict[str, str]) -> None:
    assert api.post("/api/v1/creditors", json=new_creditor(), headers=counsellor).status_code == 201

    again = api.post("/api/v1/creditors", json=new_creditor(name="WOONSTICHTING de linie"), headers=counsellor)

    assert again.status_code == 422
    assert "name" in again.json["errors"]


def test_only_an_administrator_decides_that_a_creditor_may_receive_the_bsn(
    api: FlaskClient, committed: sessionmaker[Session], counsellor: dict[str, str]
) -> None:
    body = new_creditor(name="Gemeente Zwolle", kind="government", category="publiek", may_receive_bsn=True)

    refused = api.post("/api/v1/creditors", json=body, headers=counsellor)
    allowed = api.post("/api/v1/creditors", json=body, headers=sign_in(api, committed, Role.ADMIN))

    assert refused.status_code == 422
    assert refused.json["errors"]["may_receive_bsn"] == [
        "Alleen een beheerder mag vastleggen of een schuldeiser het BSN mag ontvangen "
        "(daarvoor is een wettelijke grondslag nodig)."
    ]
    assert allowed.status_code == 201
    assert allowed.json["may_receive_bsn"] is True
    # A correction by a counsellor cannot take it away either: it is contact data, for an administrator.
    etag = allowed.headers["ETag"]
    patch = api.patch(
        f"/api/v1/creditors/{allowed.json['id']}",
        json={"may_receive_bsn": False},
        headers={**counsellor, "If-Match": etag},
    )
    assert patch.status_code == 403
    assert "may_receive_bsn" in patch.json["detail"]
    assert api.get(f"/api/v1/creditors/{allowed.json['id']}", headers=counsellor).json["may_receive_bsn"] is True


# -- correcting ------------------------------------------------------------------------------------------------------


@pytest.fixture
def created(api: FlaskClient, counsellor: dict[str, str]) -> tuple[int, str]:
    response = api.post("/api/v1/creditors", json=new_creditor(), headers=counsellor)
    assert response.status_code == 201
    return response.json["id"], response.headers["ETag"]


def test_a_correction_with_the_current_version_is_saved_and_audited(
    api: FlaskClient, committed: sessionmaker[Session], counsellor: dict[str, str], created: tuple[int, str]
) -> None:
    creditor_id, etag = created

    response = api.patch(
        f"/api/v1/creditors/{creditor_id}",
        json={"kind": "other", "kvk": None, "category": "overig"},
        headers={**counsellor, "If-Match": etag},
    )

    assert response.status_code == 200, response.json
    assert (response.json["kind"], response.json["kvk"]) == ("other", None)
    assert response.headers["ETag"] != etag
    assert response.headers["ETag"] == f'"{response.json["row_version"]}"'
    [entry] = audit_rows(committed, "creditor.update")
    assert entry.details == {"fields": ["kind", "kvk"]}  # the category did not change
    assert entry.object_id == str(creditor_id)


def test_a_correction_without_if_match_is_refused(
    api: FlaskClient, counsellor: dict[str, str], created: tuple[int, str]
) -> None:
    creditor_id, _etag = created

    response = api.patch(f"/api/v1/creditors/{creditor_id}", json={"kvk": "87654321"}, headers=counsellor)

    assert response.status_code == 428
    assert "If-Match" in response.json["detail"]
    assert api.get(f"/api/v1/creditors/{creditor_id}", headers=counsellor).json["kvk"] == "12345678"


def test_a_stale_correction_never_overwrites(
    api: FlaskClient, committed: sessionmaker[Session], counsellor: dict[str, str], created: tuple[int, str]
) -> None:
    creditor_id, etag = created
    colleague = sign_in(api, committed, Role.PI_STAFF)
    first = api.patch(
        f"/api/v1/creditors/{creditor_id}", json={"kvk": "11111111"}, headers={**colleague, "If-Match": etag}
    )
    assert first.status_code == 200

    stale = api.patch(
        f"/api/v1/creditors/{creditor_id}", json={"kvk": "22222222"}, headers={**counsellor, "If-Match": etag}
    )

    assert stale.status_code == 412
    assert stale.mimetype == "application/problem+json"
    assert stale.json["title"] == "Voorwaarde niet vervuld"
    assert api.get(f"/api/v1/creditors/{creditor_id}", headers=counsellor).json["kvk"] == "11111111"
    assert len(audit_rows(committed, "creditor.update")) == 1


def test_a_correction_is_validated_like_a_new_creditor(
    api: FlaskClient, committed: sessionmaker[Session], counsellor: dict[str, str], created: tuple[int, str]
) -> None:
    creditor_id, etag = created
    headers = {**sign_in(api, committed, Role.ADMIN), "If-Match": etag}  # takes_email is for an administrator

    no_email = api.patch(f"/api/v1/creditors/{creditor_id}", json={"takes_email": True}, headers=headers)
    bad_kind = api.patch(f"/api/v1/creditors/{creditor_id}", json={"kind": "pawnshop"}, headers=headers)
    unknown = api.patch(f"/api/v1/creditors/{creditor_id}", json={"row_version": 9}, headers=headers)

    assert no_email.status_code == bad_kind.status_code == unknown.status_code == 422
    assert "email" in no_email.json["errors"]
    assert "kind" in bad_kind.json["errors"]
    assert unknown.json["errors"] == {"row_version": ["Onbekend veld."]}


def test_a_volunteer_may_not_correct(
    api: FlaskClient, committed: sessionmaker[Session], created: tuple[int, str]
) -> None:
    creditor_id, etag = created
    volunteer = sign_in(api, committed, Role.VOLUNTEER)

    response = api.patch(
        f"/api/v1/creditors/{creditor_id}", json={"city": "Kampen"}, headers={**volunteer, "If-Match": etag}
    )

    assert response.status_code == 403


def test_the_address_of_a_creditor_that_receives_the_bsn_is_changed_by_an_administrator_only(
    api: FlaskClient, committed: sessionmaker[Session], counsellor: dict[str, str], reference: None
) -> None:
    cjib = api.get("/api/v1/creditors?q=cjib", headers=counsellor).json["items"][0]
    url = f"/api/v1/creditors/{cjib['id']}"
    etag = api.get(url, headers=counsellor).headers["ETag"]
    assert (cjib["may_receive_bsn"], cjib["grade"]) == (True, "A")

    refused = api.patch(url, json={"address_line": "Postbus 1"}, headers={**counsellor, "If-Match": etag})
    admin = sign_in(api, committed, Role.ADMIN)
    allowed = api.patch(url, json={"address_line": "Postbus 1"}, headers={**admin, "If-Match": etag})

    assert refused.status_code == 403
    assert refused.mimetype == "application/problem+json"
    assert "alleen een beheerder" in refused.json["detail"]
    assert "change-proposals" in refused.json["detail"]
    assert allowed.status_code == 200, allowed.json
    # A changed address is no longer the confirmed one from the public source.
    assert (allowed.json["address_line"], allowed.json["grade"]) == ("Postbus 1", None)
