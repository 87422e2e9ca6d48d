"""/api/v1/organisations: an administrator sets up a debt counselling team and its PI without SQL (issue 14 item 5),
with the CLI's rules (schulden/organisations/setup.py); nobody else gets past the door, and a retry with the same
`Idempotency-Key` creates nothing twice."""

from __future__ import annotations

import uuid
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from schulden.audit import AuditEntry
from schulden.organisations.models import Organisation, OrganisationKind
from tests.api.world import World

API = "/api/v1/organisations"
TEAM = {"name": "Schuldhulpteam Oost", "code": "sht-oost", "email": "oost@schuldhulp.example"}
PI = {"name": "PI Arnhem", "code": "PI-ARNHEM", "team": "SHT-OOST", "address_line": "Postbus 9000",
      "postcode": "6800 AA", "city": "Arnhem"}  # fmt: skip


def _count(db: sessionmaker[Session]) -> int:
    with db() as s:
        return int(s.scalar(select(func.count()).select_from(Organisation)) or 0)


def _errors(response: Any) -> dict[str, list[str]]:
    assert response.status_code == 422, (response.status_code, response.json)
    assert response.mimetype == "application/problem+json"
    return dict(response.json["errors"])


def test_an_administrator_sets_up_a_team_and_then_its_pi(client: FlaskClient, world: World, db: Any) -> None:
    admin = world.headers(client, "admin")
    team = client.post(f"{API}/teams", json=TEAM, headers=admin)
    assert team.status_code == 201, team.json
    assert team.json["code"] == "SHT-OOST"  # stored in capitals, as the CLI does
    assert team.json["kind"] == "team"
    assert team.headers["Location"] == f"{API}/{team.json['id']}"
    assert client.get(team.headers["Location"], headers=admin).json == team.json

    pi = client.post(f"{API}/pis", json=PI, headers=admin)
    assert pi.status_code == 201, pi.json
    assert pi.json == {"id": pi.json["id"], "kind": "pi", "code": "PI-ARNHEM", "name": "PI Arnhem", "email": None,
                       "address_line": "Postbus 9000", "postcode": "6800 AA", "city": "Arnhem",
                       "team_id": team.json["id"], "team_code": "SHT-OOST"}  # fmt: skip
    assert pi.headers["Location"] == f"{API}/{pi.json['id']}"

    listed = client.get(API, headers=admin).json["items"]
    assert team.json in listed
    assert pi.json in listed
    kinds = [item["kind"] for item in listed]
    assert kinds == sorted(kinds, key=["team", "pi"].index)  # the teams first, then the PIs
    assert {i["code"] for i in client.get(API, query_string={"kind": "pi"}, headers=admin).json["items"]} == {
        "PIA", "PIB", "PI-ARNHEM"}  # fmt: skip
    teams = client.get(API, query_string={"kind": "team"}, headers=admin).json["items"]
    assert {i["code"] for i in teams} == {"TEAM-1", "TEAM-2", "SHT-OOST"}
    assert _errors(client.get(API, query_string={"kind": "municipality"}, headers=admin)).keys() == {"kind"}

    with db() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.action == "organisation.create")
                         .order_by(AuditEntry.id)).all()  # fmt: skip
        assert [(r.object_type, r.object_id, r.details["code"]) for r in rows] == [
            ("organisation", str(team.json["id"]), "SHT-OOST"),
            ("organisation", str(pi.json["id"]), "PI-ARNHEM"),
        ]
        assert rows[0].actor_id == world.users["admin"].actor_id
        stored = s.get_one(Organisation, pi.json["id"])
        assert (stored.kind, stored.counselling_team_id) == (OrganisationKind.PI.value, team.json["id"])


def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(
    client: FlaskClient, world: World, db: Any
) -> None:
    admin = world.headers(client, "admin")
    before = _count(db)
    taken = _errors(client.post(f"{API}/teams", json={**TEAM, "code": "team-1"}, headers=admin))
    assert taken == {"code": ["De code TEAM-1 is al in gebruik (Schuldhulpteam Noord)."]}
    # A code is unique over every kind: a PI cannot take a municipality's either.
    assert "code" in _errors(client.post(f"{API}/pis", json={**PI, "code": "GM9001", "team": "TEAM-1"},
                                         headers=admin))  # fmt: skip
    unknown = _errors(client.post(f"{API}/pis", json={**PI, "team": "GEEN-TEAM"}, headers=admin))
    assert unknown == {"team": ["Er is geen schuldhulpteam met code GEEN-TEAM; maak het team eerst aan."]}
    # A PI's code is no team: the team must be a debt counselling team.
    assert "team" in _errors(client.post(f"{API}/pis", json={**PI, "team": "PIA"}, headers=admin))
    bad = _errors(client.post(f"{API}/teams", json={**TEAM, "code": "Team Oost!"}, headers=admin))
    assert bad == {"code": ["Een code is 2 tot 16 tekens: hoofdletters, cijfers en streepjes, bijv. PI-ZWOLLE."]}
    missing = _errors(client.post(f"{API}/pis", json={"code": "PI-X"}, headers=admin))
    assert {"name", "team"} <= missing.keys()
    assert "extra" in _errors(client.post(f"{API}/teams", json={**TEAM, "extra": 1}, headers=admin))
    assert _count(db) == before


def test_nobody_but_an_administrator_gets_past_the_door(client: FlaskClient, world: World, db: Any) -> None:
    before = _count(db)
    team_id = world.orgs["team-1"]
    for username in ("cns_1", "pi_a", "vol_a", "mun_1", "partner_p"):
        headers = world.headers(client, username)
        for method, path, body in [("POST", f"{API}/teams", TEAM), ("POST", f"{API}/pis", {**PI, "team": "TEAM-1"}),
                                   ("GET", API, None), ("GET", f"{API}/{team_id}", None)]:  # fmt: skip
            response = client.open(path, method=method, json=body, headers=headers)
            assert response.status_code == 403, (username, method, path, response.status_code)
            assert response.json["detail"] == "Uw rol mag schuldhulpteams en PI's inzien of aanmaken niet uitvoeren."
        # Before the body is read: a malformed body gets the same 403, so it tells nothing of the rules.
        assert client.post(f"{API}/teams", data="{", content_type="application/json",
                           headers=headers).status_code == 403  # fmt: skip
    assert client.post(f"{API}/teams", json=TEAM).status_code == 401
    assert _count(db) == before
    with db() as s:
        assert not s.scalars(select(AuditEntry).where(AuditEntry.action == "organisation.create")).all()


def test_a_municipality_is_no_team_or_pi_here(client: FlaskClient, world: World) -> None:
    admin = world.headers(client, "admin")
    assert client.get(f"{API}/{world.orgs['M-1']}", headers=admin).status_code == 404
    assert client.get(f"{API}/{world.orgs['PI-A']}", headers=admin).json["team_code"] == "TEAM-1"
    assert all(item["kind"] in ("team", "pi") for item in client.get(API, headers=admin).json["items"])


def test_a_retry_with_the_same_idempotency_key_creates_one_team(client: FlaskClient, world: World, db: Any) -> None:
    headers = {**world.headers(client, "admin"), "Idempotency-Key": str(uuid.uuid4())}
    first = client.post(f"{API}/teams", json=TEAM, headers=headers)
    again = client.post(f"{API}/teams", json=TEAM, headers=headers)
    assert first.status_code == again.status_code == 201, (first.json, again.json)
    assert again.json == first.json
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    # Without the key the same body is a new request: refused, the code is taken by the first one.
    without_key = {"Authorization": headers["Authorization"]}
    assert "code" in _errors(client.post(f"{API}/teams", json=TEAM, headers=without_key))
    # The same key on another path is another key: a new PI. Then with another body: refused, nothing created.
    assert client.post(f"{API}/pis", json=PI, headers=headers).status_code == 201
    assert "Idempotency-Key" in _errors(client.post(f"{API}/pis", json={**PI, "name": "PI Anders"}, headers=headers))
    with db() as s:
        assert s.scalar(select(func.count()).select_from(Organisation).where(Organisation.code == "SHT-OOST")) == 1
        assert s.scalar(select(func.count()).select_from(Organisation).where(Organisation.code == "PI-ARNHEM")) == 1
        assert len(s.scalars(select(AuditEntry).where(AuditEntry.action == "organisation.create")).all()) == 2
