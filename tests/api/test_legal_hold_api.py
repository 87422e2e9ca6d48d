"""PUT and DELETE /api/v1/cases/{id}/legal-hold (issue 15): only the case's counsellor, If-Match, audited without
the note, 409 for a hold that is not there; a held case is skipped by the retention job
(tests/integration/test_retention.py)."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from schulden.audit import AuditEntry
from schulden.cases.models import Case
from tests.api.world import World

API = "/api/v1/cases/{}/legal-hold"


def _version(db: sessionmaker[Session], case_id: int) -> str:
    with db() as s:
        return f'"{s.get_one(Case, case_id).row_version}"'


def test_the_counsellor_sets_and_lifts_a_hold(client: FlaskClient, world: World, db: sessionmaker[Session]) -> None:
    case_id = world.cases["a_only"].id
    headers = world.headers(client, "cns_1")
    url = API.format(case_id)

    assert client.put(url, json={"kind": "complaint"}, headers=headers).status_code == 428
    stale = client.put(url, json={"kind": "complaint"}, headers={**headers, "If-Match": '"0"'})
    assert stale.status_code == 412
    bad = client.put(url, json={"kind": "boos"}, headers={**headers, "If-Match": _version(db, case_id)})
    assert bad.status_code == 422
    assert "kind" in bad.get_data(as_text=True)

    put = client.put(url, json={"kind": "complaint", "note": "AP-kenmerk 123"},
                     headers={**headers, "If-Match": _version(db, case_id)})  # fmt: skip
    assert put.status_code == 200, put.json
    assert put.json is not None
    assert put.json["held"] is True
    assert put.json["kind"] == "complaint"
    assert put.headers["ETag"] == f'"{put.json["version"]}"'

    lift = client.delete(url + "?reason=resolved", headers={**headers, "If-Match": put.headers["ETag"]})
    assert lift.status_code == 200, lift.json
    assert lift.json is not None
    assert lift.json["held"] is False
    again = client.delete(url, headers={**headers, "If-Match": lift.headers["ETag"]})
    assert again.status_code == 409
    assert again.headers["Content-Type"].startswith("application/problem+json")

    with db() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.action.like("retention.%"))).all()
        assert [(r.action, r.details.get("kind")) for r in rows] == [
            ("retention.hold", "complaint"),
            ("retention.hold_lifted", "complaint"),
        ]
        assert all("AP-kenmerk" not in str(r.details) for r in rows), "the note never goes into the audit log"


def test_other_roles_and_other_teams_cannot(client: FlaskClient, world: World, db: sessionmaker[Session]) -> None:
    case_id = world.cases["a_only"].id
    url = API.format(case_id)
    version = _version(db, case_id)
    for username, status in (("pi_a", 403), ("admin", 403), ("mun_1", 403), ("cns_2", 404)):
        headers = {**world.headers(client, username), "If-Match": version}
        response = client.put(url, json={"kind": "dispute"}, headers=headers)
        assert response.status_code == status, (username, response.json)
    with db() as s:
        assert s.get_one(Case, case_id).legal_hold_since is None
