"""`Idempotency-Key` on the creating calls: a client that retries after a dropped connection gets the first answer,
not a second case (schulden/api/idempotency.py, docs/api.md)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from schulden.actors import SYSTEM
from schulden.api import cases as cases_api
from schulden.audit import AuditEntry
from schulden.cases.models import Case, CaseNote
from schulden.idempotency import IdempotencyKey, RequestKey, claim, fingerprint, purge_expired
from schulden.organisations.models import Organisation, OrganisationKind
from schulden.roles import Role
from schulden.users.models import User
from schulden.users.services import create_user
from tests.api.test_cases_api import INTAKE, PASSWORD
from tests.conftest import DatabaseUnderTest
from workflows.store import utcnow

CASES = "/api/v1/cases"
REPLAYED = "Idempotent-Replayed"


def _people(factory: sessionmaker[Session]) -> dict[str, int]:
    """A PI with its team, two of its casemanagers and a volunteer."""
    with factory() as s:
        team = Organisation(kind=OrganisationKind.OPERATOR.value, name="Team", code="T-IDEM")
        s.add(team)
        s.flush()
        pi = Organisation(kind=OrganisationKind.PI.value, name="PI Idem", code="PI-IDEM", counselling_team_id=team.id)
        s.add(pi)
        s.flush()
        for username, role in [("pi_1", Role.PI_STAFF), ("pi_2", Role.PI_STAFF), ("vol_1", Role.VOLUNTEER)]:
            create_user(s, actor=SYSTEM, username=username, display_name=username, role=role, password=PASSWORD,
                        organisation=pi)  # fmt: skip
        s.commit()
        return {"pi": pi.id, "team": team.id}


@pytest.fixture
def people(db: sessionmaker[Session]) -> dict[str, int]:
    return _people(db)


def _headers(client: FlaskClient, username: str, key: str | None = None) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert response.status_code == 201, response.json
    headers = {"Authorization": f"Bearer {response.json['access_token']}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return headers


def _intake(dji: str = "DJI-0000777") -> dict[str, Any]:
    return {**INTAKE, "detainee": {**INTAKE["detainee"], "dji_number": dji}}


def _cases(factory: sessionmaker[Session]) -> int:
    with factory() as s:
        return int(s.scalar(select(func.count()).select_from(Case)) or 0)


def test_a_retry_after_a_dropped_connection_gets_the_first_case(
    client: FlaskClient, db: sessionmaker[Session], people: dict[str, int]
) -> None:
    headers = _headers(client, "pi_1", key=str(uuid.uuid4()))
    first = client.post(CASES, json=_intake(), headers=headers)
    # The connection dropped before the client read `first`: it sends the very same request again.
    retry = client.post(CASES, json=_intake(), headers=headers)

    assert first.status_code == 201, first.json
    assert REPLAYED not in first.headers
    assert retry.status_code == 201
    assert retry.headers[REPLAYED] == "true"
    assert retry.json == first.json
    assert retry.headers["Location"] == first.headers["Location"] == f"{CASES}/{first.json['id']}"
    assert retry.headers["ETag"] == first.headers["ETag"]
    assert _cases(db) == 1
    with db() as s:
        replays = list(s.scalars(select(AuditEntry).where(AuditEntry.action == "request.replay")))
        assert [(r.details["method"], r.details["path"], r.details["status"]) for r in replays] == [
            ("POST", CASES, 201)
        ]


def test_the_same_body_in_another_order_or_spacing_is_the_same_request(
    client: FlaskClient, db: sessionmaker[Session], people: dict[str, int]
) -> None:
    headers = _headers(client, "pi_1", key="intake-2026-0001")
    first = client.post(CASES, json=_intake(), headers=headers)
    body = json.dumps(dict(reversed(list(_intake().items()))), indent=2)
    retry = client.post(CASES, data=body, headers={**headers, "Content-Type": "application/json"})

    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.headers[REPLAYED] == "true"
    assert _cases(db) == 1


def test_the_same_key_with_another_body_is_refused_and_names_the_header(
    client: FlaskClient, db: sessionmaker[Session], people: dict[str, int]
) -> None:
    headers = _headers(client, "pi_1", key="intake-2026-0002")
    first = client.post(CASES, json=_intake("DJI-0000001"), headers=headers)
    other = client.post(CASES, json=_intake("DJI-0000002"), headers=headers)

    assert first.status_code == 201
    assert other.status_code == 422
    assert other.mimetype == "application/problem+json"
    assert other.json["title"] == "Ongeldige invoer"
    assert other.json["detail"].startswith("Idempotency-Key: deze sleutel is al gebruikt")
    assert list(other.json["errors"]) == ["Idempotency-Key"]
    assert _cases(db) == 1


def test_without_a_key_a_retry_opens_a_second_case_as_before(
    client: FlaskClient, db: sessionmaker[Session], people: dict[str, int]
) -> None:
    headers = _headers(client, "pi_1")
    answers = [client.post(CASES, json=_intake(), headers=headers) for _ in range(2)]

    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].json["id"] != answers[1].json["id"]
    assert all(REPLAYED not in a.headers for a in answers)
    assert _cases(db) == 2
    with db() as s:
        assert s.scalar(select(func.count()).select_from(IdempotencyKey)) == 0


def test_a_key_belongs_to_its_user(client: FlaskClient, db: sessionmaker[Session], people: dict[str, int]) -> None:
    first = client.post(CASES, json=_intake(), headers=_headers(client, "pi_1", key="same-key"))
    colleague = client.post(CASES, json=_intake(), headers=_headers(client, "pi_2", key="same-key"))

    assert (first.status_code, colleague.status_code) == (201, 201)
    assert REPLAYED not in colleague.headers
    assert _cases(db) == 2


def test_a_quoted_key_is_the_same_key(client: FlaskClient, db: sessionmaker[Session], people: dict[str, int]) -> None:
    # draft-ietf-httpapi-idempotency-key-header writes the key as a Structured Field string: "..."
    first = client.post(CASES, json=_intake(), headers=_headers(client, "pi_1", key='"9c1b7c1e"'))
    retry = client.post(CASES, json=_intake(), headers=_headers(client, "pi_1", key="9c1b7c1e"))

    assert retry.headers[REPLAYED] == "true"
    assert retry.json["id"] == first.json["id"]


@pytest.mark.parametrize("key", ["", " ", "met spatie", "x" * 256, "sleutel\u00e9", '""'])
def test_a_malformed_key_is_refused_before_anything_is_done(
    client: FlaskClient, db: sessionmaker[Session], people: dict[str, int], key: str
) -> None:
    response = client.post(CASES, json=_intake(), headers=_headers(client, "pi_1", key=key))

    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert response.json["errors"] == {
        "Idempotency-Key": ["Idempotency-Key: gebruik 1 tot 255 zichtbare ASCII-tekens zonder spaties, "
                            "bijvoorbeeld een UUID."]
    }  # fmt: skip
    assert _cases(db) == 0


def test_a_key_of_255_characters_is_taken(
    client: FlaskClient, db: sessionmaker[Session], people: dict[str, int]
) -> None:
    response = client.post(CASES, json=_intake(), headers=_headers(client, "pi_1", key="k" * 255))

    assert response.status_code == 201


def test_a_refused_request_keeps_no_key_so_the_corrected_one_may_use_it(
    client: FlaskClient, db: sessionmaker[Session], people: dict[str, int]
) -> None:
    headers = _headers(client, "vol_1", key="intake-vol-1")
    refused = client.post(CASES, json=_intake(), headers=headers)  # a volunteer records no BSN
    without_bsn = {**_intake(), "detainee": {k: v for k, v in _intake()["detainee"].items() if k != "bsn"}}
    corrected = client.post(CASES, json=without_bsn, headers=headers)
    again = client.post(CASES, json=without_bsn, headers=headers)

    assert refused.status_code == 422
    assert corrected.status_code == 201, corrected.json
    assert REPLAYED not in corrected.headers
    assert again.headers[REPLAYED] == "true"
    assert _cases(db) == 1


def test_a_key_of_yesterday_starts_a_new_request(
    client: FlaskClient, db: sessionmaker[Session], people: dict[str, int]
) -> None:
    headers = _headers(client, "pi_1", key="intake-old")
    first = client.post(CASES, json=_intake(), headers=headers)
    with db() as s:
        s.execute(update(IdempotencyKey).values(created_at=utcnow() - timedelta(hours=24, seconds=1)))
        s.commit()
    later = client.post(CASES, json=_intake(), headers=headers)

    assert (first.status_code, later.status_code) == (201, 201)
    assert REPLAYED not in later.headers
    assert later.json["id"] != first.json["id"]
    with db() as s:
        assert s.scalar(select(func.count()).select_from(IdempotencyKey)) == 1


@pytest.mark.parametrize(
    ("age", "detail"),
    [
        (timedelta(seconds=1), "Idempotency-Key: een verzoek met deze sleutel wordt nog verwerkt"),
        (timedelta(minutes=5), "Idempotency-Key: het verzoek met deze sleutel is uitgevoerd, maar het antwoord"),
    ],
    ids=["still-running", "answer-lost"],
)
def test_a_key_without_an_answer_is_a_conflict(
    client: FlaskClient, db: sessionmaker[Session], people: dict[str, int], age: timedelta, detail: str
) -> None:
    body = json.dumps(_intake()).encode()
    with db() as s:
        user_id = s.scalar(select(User.id).where(User.username == "pi_1"))
        assert user_id is not None
        key = RequestKey(user_id, "POST", CASES, "in-flight")
        s.add(IdempotencyKey(scope=key.scope, user_id=user_id, fingerprint=fingerprint(b"", body),
                             created_at=utcnow() - age))  # fmt: skip
        s.commit()

    response = client.post(CASES, data=body, headers={**_headers(client, "pi_1", key="in-flight"),
                                                      "Content-Type": "application/json"})  # fmt: skip

    assert response.status_code == 409
    assert response.json["detail"].startswith(detail)
    assert _cases(db) == 0


def test_what_is_stored_is_the_answer_and_hashes_not_the_key_or_the_request(
    client: FlaskClient, db: sessionmaker[Session], people: dict[str, int]
) -> None:
    key = "client-key-visible-nowhere"
    first = client.post(CASES, json=_intake(), headers=_headers(client, "pi_1", key=key))

    with db() as s:
        row = s.scalars(select(IdempotencyKey)).one()
        stored = json.dumps([row.scope, row.fingerprint, row.status, row.body, row.headers])
    assert key not in stored
    assert INTAKE["detainee"]["bsn"] not in stored  # the request's BSN; the answer has it masked
    assert row.status == 201
    assert json.loads(row.body or "") == first.json
    assert row.headers == {"Location": first.headers["Location"], "ETag": first.headers["ETag"]}


def test_a_note_retried_is_written_once(client: FlaskClient, db: sessionmaker[Session], people: dict[str, int]) -> None:
    case = client.post(CASES, json=_intake(), headers=_headers(client, "pi_1"))
    headers = _headers(client, "pi_1", key="note-1")
    note = {"body": "Gebeld met de woningcorporatie."}
    notes = [client.post(f"{CASES}/{case.json['id']}/notes", json=note, headers=headers) for _ in range(2)]

    assert [n.status_code for n in notes] == [201, 201]
    assert notes[1].headers[REPLAYED] == "true"
    with db() as s:
        assert s.scalar(select(func.count()).select_from(CaseNote)) == 1


def test_the_openapi_document_names_the_header(client: FlaskClient) -> None:
    spec = client.get("/api/openapi.json").json
    parameters = spec["paths"][CASES]["post"]["parameters"]

    assert [p["name"] for p in parameters if p["in"] == "header"] == ["Idempotency-Key"]
    assert "parameters" not in spec["paths"][CASES]["get"] or all(
        p["name"] != "Idempotency-Key" for p in spec["paths"][CASES]["get"]["parameters"]
    )


def test_purge_expired_deletes_only_what_is_older_than_a_day(session: Session) -> None:
    user = create_user(session, actor=SYSTEM, username="purge", display_name="purge", role=Role.ADMIN,
                       password=PASSWORD, organisation=None)  # fmt: skip
    now = utcnow()
    for name, age in [("old", timedelta(hours=25)), ("young", timedelta(hours=23))]:
        assert claim(session, RequestKey(user.id, "POST", CASES, name), "f", now=now - age) is None

    assert purge_expired(session, now=now) == 1
    assert session.scalar(select(func.count()).select_from(IdempotencyKey)) == 1


# -- two requests at once (PostgreSQL: real row locks) ----------------------------------------------------------------


@pytest.fixture
def committed_people(committed: sessionmaker[Session]) -> Iterator[dict[str, int]]:
    yield _people(committed)
    with committed() as s:  # no foreign key of the truncated tables reaches it on every path: clean up here
        s.execute(delete(IdempotencyKey))
        s.commit()


def test_two_requests_at_once_with_one_key_open_one_case(
    pg_database: DatabaseUnderTest,
    committed_app: Flask,
    committed: sessionmaker[Session],
    committed_people: dict[str, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    opened = cases_api.open_from_intake

    def slow_intake(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.5)  # the second request arrives while the first is still at work
        return opened(*args, **kwargs)

    monkeypatch.setattr(cases_api, "open_from_intake", slow_intake)
    headers = _headers(committed_app.test_client(), "pi_1", key=str(uuid.uuid4()))
    start = threading.Barrier(2)
    answers: list[TestResponse] = []

    def post() -> None:
        client = committed_app.test_client()
        start.wait()
        answers.append(client.post(CASES, json=_intake(), headers=headers))

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(answers) == 2
    fresh = [a for a in answers if a.status_code == 201 and REPLAYED not in a.headers]
    others = [a for a in answers if a not in fresh]
    assert len(fresh) == 1, [(a.status_code, a.json) for a in answers]
    # The second waited for the first's commit: it gets the first's answer, or "still running" if it came between
    # the commit and the stored answer.
    assert others[0].status_code in (201, 409), others[0].json
    if others[0].status_code == 201:
        assert others[0].json == fresh[0].json
    assert _cases(committed) == 1
