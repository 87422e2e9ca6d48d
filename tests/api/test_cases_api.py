"""The case API as a casemanager, a counsellor and a municipality use it: intake, consent, debts, versions,
events, and who sees what."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from schulden.actors import SYSTEM
from schulden.audit import AuditEntry
from schulden.creditors.models import Creditor
from schulden.organisations.models import Organisation, OrganisationKind
from schulden.roles import Role
from schulden.users.services import create_user

PASSWORD = "pw-test-1234"


@pytest.fixture
def client(committed_app: Flask) -> FlaskClient:
    """Requests here ask for letters, whose jobs open connections of their own: the app commits for real."""
    return committed_app.test_client()


@pytest.fixture
def world(committed: sessionmaker[Session]) -> dict[str, int]:
    """Two PIs with their teams, a municipality, a creditor, and a user for each role that matters here."""
    with committed() as s:
        team = Organisation(kind=OrganisationKind.OPERATOR.value, name="Team", code="T1")
        s.add(team)
        s.flush()
        pi_a = Organisation(kind=OrganisationKind.PI.value, name="PI A", code="PI-A", counselling_team_id=team.id)
        pi_b = Organisation(kind=OrganisationKind.PI.value, name="PI B", code="PI-B")
        gm = Organisation(kind=OrganisationKind.MUNICIPALITY.value, name="Zwolle", code="GM0193")
        cjib = Creditor(name="CJIB", category="publiek", kind="government", may_receive_bsn=True)
        s.add_all([pi_a, pi_b, gm, cjib])
        s.flush()
        for username, role, org in [
            ("pi_a", Role.PI_STAFF, pi_a),
            ("pi_b", Role.PI_STAFF, pi_b),
            ("vol_a", Role.VOLUNTEER, pi_a),
            ("cns", Role.COUNSELLOR, team),
            ("mun", Role.MUNICIPALITY, gm),
        ]:
            create_user(
                s,
                actor=SYSTEM,
                username=username,
                display_name=username,
                role=role,
                password=PASSWORD,
                organisation=org,
            )
        s.commit()
        return {"pi_a": pi_a.id, "pi_b": pi_b.id, "gm": gm.id, "cjib": cjib.id, "team": team.id}


def login(client: FlaskClient, username: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert response.status_code == 201, response.json
    return {"Authorization": f"Bearer {response.json['access_token']}"}


INTAKE: dict[str, Any] = {
    "detainee": {
        "given_names": "Ĳsbrand",
        "surname_prefix": "van",
        "surname": "Dijk",
        "date_of_birth": "1988-05-17",
        "bsn": "1112.22.333",
        "dji_number": "DJI-0000201",
    },
    "detention": {"type": "prison_sentence", "start": "2026-01-05", "expected_release": "2027-03-01"},
}


def open_case(client: FlaskClient, headers: dict[str, str], world: dict[str, int], **extra: Any) -> dict[str, Any]:
    body = {**INTAKE, "registration_municipality_id": world["gm"], **extra}
    response = client.post("/api/v1/cases", json=body, headers=headers)
    assert response.status_code == 201, response.json
    return dict(response.json)


def test_intake_consent_and_three_debts_as_the_casemanager(client: FlaskClient, world: dict[str, int]) -> None:
    pi_a = login(client, "pi_a")

    case = open_case(client, pi_a, world)

    assert case["state"] == "draft"
    assert case["detainee"]["given_names"] == "Ĳsbrand"
    assert case["detainee"]["bsn_masked"] == "*****2333"
    assert case["detention"]["pi"]["id"] == world["pi_a"]
    assert (case["municipality"]["name"], case["municipality_rule"]) == ("Zwolle", "registration")

    consent = client.post(
        f"/api/v1/cases/{case['id']}/consents",
        json={"purposes": [{"purpose": "contact_creditors"}], "signed_on": "2026-01-10", "valid_until": "2030-01-01"},
        headers=pi_a,
    )
    assert consent.status_code == 201, consent.json
    for principal, debt_type in [(45_000, "cjib_boete"), (120_000, "toeslagen"), (61_200, "zorgpremie")]:
        created = client.post(
            f"/api/v1/cases/{case['id']}/debts",
            json={"creditor_id": world["cjib"], "debt_type": debt_type, "principal_cents": principal},
            headers=pi_a,
        )
        assert created.status_code == 201, created.json
        assert created.json["state"] == "identified"

    detail = client.get(f"/api/v1/cases/{case['id']}", headers=pi_a)
    assert detail.json["state"] == "inventory"
    assert detail.json["debts"] == {
        "count": 3,
        "principal_cents": 226_200,
        "interest_cents": 0,
        "costs_cents": 0,
        "total_cents": 226_200,
    }
    debts = client.get(f"/api/v1/cases/{case['id']}/debts", headers=pi_a).json
    assert debts["totals"]["by_category"] == {"publiek": 165_000, "zorg": 61_200}
    history = client.get(f"/api/v1/cases/{case['id']}/history", headers=pi_a).json
    assert [h["event"] for h in history] == ["start", "set_municipality", "record_consent"]


def test_another_pi_and_the_municipality_get_404_until_the_referral(
    client: FlaskClient, world: dict[str, int], committed: sessionmaker[Session]
) -> None:
    case = open_case(client, login(client, "pi_a"), world)

    for user in ("pi_b", "mun"):
        headers = login(client, user)
        response = client.get(f"/api/v1/cases/{case['id']}", headers=headers)
        assert response.status_code == 404
        assert response.mimetype == "application/problem+json"
        assert "Dijk" not in response.get_data(as_text=True)
        assert client.get("/api/v1/cases", headers=headers).json["items"] == []
    assert client.get("/api/v1/cases/999999", headers=login(client, "pi_b")).status_code == 404

    with committed() as s:
        denied = s.scalars(select(AuditEntry).where(AuditEntry.result == "denied")).all()
        assert {(d.object_type, d.object_id) for d in denied} >= {("case", str(case["id"])), ("case", "999999")}


def test_a_volunteer_never_sees_a_bsn_field(client: FlaskClient, world: dict[str, int]) -> None:
    case = open_case(client, login(client, "pi_a"), world)
    volunteer = login(client, "vol_a")

    body = client.get(f"/api/v1/cases/{case['id']}", headers=volunteer).get_data(as_text=True)

    assert "bsn" not in body
    assert client.get(f"/api/v1/cases/{case['id']}/bsn", headers=volunteer).status_code == 403
    with_bsn = dict(INTAKE, detainee=dict(INTAKE["detainee"]))
    refused = client.post("/api/v1/cases", json=with_bsn, headers=volunteer)
    assert refused.status_code == 422
    assert "detainee.bsn" in refused.json["errors"]


def test_revealing_the_bsn_is_logged(
    client: FlaskClient, world: dict[str, int], committed: sessionmaker[Session]
) -> None:
    headers = login(client, "pi_a")
    case = open_case(client, headers, world)

    response = client.get(f"/api/v1/cases/{case['id']}/bsn", headers=headers)

    assert response.json == {"bsn": "111222333"}
    with committed() as s:
        assert s.scalar(select(AuditEntry).where(AuditEntry.action == "bsn.reveal")) is not None


def test_a_change_needs_the_current_version(client: FlaskClient, world: dict[str, int]) -> None:
    headers = login(client, "pi_a")
    case = open_case(client, headers, world)
    url = f"/api/v1/cases/{case['id']}"
    etag = client.get(url, headers=headers).headers["ETag"]

    missing = client.patch(url, json={"dji_number": "X-1"}, headers=headers)
    first = client.patch(url, json={"dji_number": "X-2"}, headers={**headers, "If-Match": etag})
    stale = client.patch(url, json={"dji_number": "X-3"}, headers={**headers, "If-Match": etag})

    assert missing.status_code == 428
    assert first.status_code == 200, first.json
    assert first.headers["ETag"] != etag
    assert stale.status_code == 412
    assert client.get(url, headers=headers).json["detainee"]["dji_number"] == "X-2"


def test_events_answer_with_the_reason_when_refused(client: FlaskClient, world: dict[str, int]) -> None:
    headers = login(client, "pi_a")
    case = open_case(client, headers, world)

    refused = client.post(f"/api/v1/cases/{case['id']}/events", json={"event": "complete_inventory"}, headers=headers)
    fired = client.post(f"/api/v1/cases/{case['id']}/events", json={"event": "request_consent"}, headers=headers)
    actions = {a["event"]: a for a in client.get(f"/api/v1/cases/{case['id']}/actions", headers=headers).json}

    assert refused.status_code == 409
    assert refused.json["detail"] == "Niet mogelijk in de status 'Concept'."
    assert fired.status_code == 201
    assert fired.json["state"] == "awaiting_consent"
    assert actions["record_consent"]["allowed"] is False
    assert actions["record_consent"]["reason"].startswith("Er is geen geldige toestemming")


def test_the_list_pages_with_a_cursor_and_filters(client: FlaskClient, world: dict[str, int]) -> None:
    headers = login(client, "pi_a")
    ids = [open_case(client, headers, world)["id"] for _ in range(5)]

    seen: list[int] = []
    url = "/api/v1/cases?limit=2"
    while url:
        page = client.get(url, headers=headers).json
        seen += [item["id"] for item in page["items"]]
        url = f"/api/v1/cases?limit=2&after={page['next']}" if page["next"] else ""

    assert seen == sorted(ids, reverse=True)
    found = client.post("/api/v1/cases/search", json={"surname": "dij"}, headers=headers)
    assert found.json["items"][0]["surname"] == "Dijk"
    assert client.post("/api/v1/cases/search", json={"surname": "zzz"}, headers=headers).json["items"] == []
    assert client.get("/api/v1/cases?q=dij", headers=headers).status_code == 200  # unknown query args are ignored
    assert client.get("/api/v1/cases?state=draft&state=closed", headers=headers).json["items"]
    bad = client.get("/api/v1/cases?after=%%%", headers=headers)
    assert bad.status_code == 422
    assert "after" in bad.json["errors"]


def test_a_token_can_be_revoked_and_logins_are_rate_limited(client: FlaskClient, world: dict[str, int]) -> None:
    headers = login(client, "pi_a")
    assert client.delete("/api/v1/auth/token", headers=headers).status_code == 204
    assert client.get("/api/v1/cases", headers=headers).status_code == 401

    answers = [
        client.post("/api/v1/auth/token", json={"username": "pi_b", "password": "wrong"}).status_code for _ in range(6)
    ]
    assert answers == [401] * 5 + [429]
    assert client.post("/api/v1/auth/token", json={"username": "pi_b", "password": PASSWORD}).status_code == 429
