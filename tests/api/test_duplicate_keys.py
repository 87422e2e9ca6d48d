"""A JSON body with a duplicate key at any depth is refused with 400 problem+json naming the key, before any
validation, and nothing is stored (security review item 7, security.md scenario 41). Python's json would keep the
last value ("the last one wins"), so two `bsn` fields could be read differently here and in a proxy or a log.

Both JSON readers of the app are covered: the body check in front of webargs (every `@blp.arguments`) and the
app's JSON provider behind `request.get_json()` / `flask.json.loads`.
"""

from __future__ import annotations

import json

import pytest
from flask import Flask, request
from flask.json.tag import TaggedJSONSerializer
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.exceptions import BadRequest

from schulden.api.jsonbody import DuplicateKey, duplicate_key_path
from schulden.cases.models import Case, Consent, Detainee
from schulden.debts.models import Debt
from schulden.users.models import ApiToken
from tests.api.world import PASSWORD, World
from workflows import WorkflowInstance
from workflows.store import HistoryEntry

API = "/api/v1"
DETAINEE = '{"given_names": "Jan", "surname": "Testpersoon", "date_of_birth": "1980-05-17"}'
DETENTION = '{"type": "prison_sentence", "start": "2026-01-05"}'


def _counts(db: sessionmaker[Session]) -> dict[str, int]:
    with db() as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Detainee, Case, WorkflowInstance, HistoryEntry, Debt, Consent, ApiToken)
        }


#: (name, method, url, raw body, the path the answer must name). `{case}` / `{debt}` are filled in from the world.
DUPLICATES: list[tuple[str, str, str, str, str]] = [
    (
        "top level: two detainees",
        "POST", "/cases",
        f'{{"detainee": {DETAINEE}, "detention": {DETENTION}, "detainee": {DETAINEE}}}',
        "detainee",
    ),
    (
        "nested: two BSNs",
        "POST", "/cases",
        '{"detainee": {"given_names": "Jan", "surname": "Testpersoon", "date_of_birth": "1980-05-17", '
        '"bsn": "111222333", "bsn": "999999990"}, "detention": ' + DETENTION + "}",
        "detainee.bsn",
    ),
    (
        "two amounts",
        "POST", "/cases/{case}/debts",
        '{"creditor_id": {creditor}, "debt_type": "huur", "principal_cents": 100, "principal_cents": 999999}',
        "principal_cents",
    ),
    (
        "in an array element",
        "POST", "/cases/{case}/consents",
        '{"purposes": [{"purpose": "contact_creditors"}, {"purpose": "refer_municipality", '
        '"purpose": "contact_creditors"}], "signed_on": "2026-01-05"}',
        "purposes.1.purpose",
    ),
    (
        "in a free-form payload",
        "POST", "/cases/{case}/events",
        '{"event": "flag_threat", "payload": {"threat": "eviction", "threat": "eviction"}}',
        "payload.threat",
    ),
    (
        "a write that also lacks If-Match",
        "PATCH", "/debts/{debt}",
        '{"principal_cents": 1, "principal_cents": 2}',
        "principal_cents",
    ),
    (
        "the login",
        "POST", "/auth/token",
        '{"username": "nobody", "password": "x", "username": "pi_a", "password": "' + PASSWORD + '"}',
        "username",
    ),
    (
        "the same key twice, same value",
        "POST", "/cases/{case}/debts",
        '{"creditor_id": {creditor}, "debt_type": "huur", "debt_type": "huur"}',
        "debt_type",
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "application/merge-patch+json"]
)
@pytest.mark.parametrize(("name", "method", "url", "raw", "path"), DUPLICATES, ids=[d[0] for d in DUPLICATES])
def test_a_duplicate_key_is_refused_with_400_naming_it_and_nothing_is_stored(
    client: FlaskClient,
    db: sessionmaker[Session],
    world: World,
    name: str,
    method: str,
    url: str,
    raw: str,
    path: str,
    content_type: str,
) -> None:
    case = world.cases["a_only"]
    user = "cns_1" if method == "PATCH" else "pi_a"
    headers = {} if url == "/auth/token" else world.headers(client, user)
    before = _counts(db)
    target = API + url.format(case=case.id, debt=case.debts[0].id)
    body = raw.replace("{creditor}", str(world.creditor_ids[0]))
    assert json.loads(body), "the corpus itself is JSON (Python's json reads it, the last key winning)"

    response = client.open(target, method=method, data=body, headers={**headers, "Content-Type": content_type})

    assert response.status_code == 400, (name, response.status_code, response.get_data(as_text=True)[:300])
    assert response.mimetype == "application/problem+json"
    problem = response.json
    assert problem["title"] == "Ongeldig verzoek"
    assert f'"{path}"' in problem["detail"]
    assert "meer dan eens" in problem["detail"]
    assert list(problem["errors"]) == [path]
    assert "access_token" not in problem
    assert _counts(db) == before


def test_the_same_key_in_different_objects_is_no_duplicate(
    client: FlaskClient, db: sessionmaker[Session], world: World
) -> None:
    """Two consent items each with their own "purpose", two objects each with a "type": all fine."""
    case = world.cases["a_only"]
    headers = {**world.headers(client, "pi_a"), "Content-Type": "application/json"}
    body = json.dumps(
        {"purposes": [{"purpose": "contact_creditors"}, {"purpose": "refer_municipality"}], "signed_on": "2026-01-05"}
    )
    response = client.post(f"{API}/cases/{case.id}/consents", data=body, headers=headers)
    assert response.status_code < 500
    assert response.status_code != 400, response.get_data(as_text=True)[:300]


def test_a_duplicate_deep_down_is_found_and_named(client: FlaskClient, db: sessionmaker[Session], world: World) -> None:
    depth = 500
    raw = '{"detainee": ' + '{"a": ' * depth + '{"x": 1, "x": 2}' + "}" * depth + "}"
    headers = {**world.headers(client, "pi_a"), "Content-Type": "application/json"}
    before = _counts(db)
    response = client.post(f"{API}/cases", data=raw, headers=headers)
    assert response.status_code == 400
    assert list(response.json["errors"]) == ["detainee." + "a." * depth + "x"]
    assert _counts(db) == before


def test_bodies_that_are_not_json_still_get_the_parsers_answer(client: FlaskClient, world: World) -> None:
    """The duplicate check leaves other defects alone: bad JSON stays the 400 it was, deep nesting too."""
    headers = {**world.headers(client, "pi_a"), "Content-Type": "application/json"}
    for raw in ('{"detainee": ', b'{"detainee": "\xff"}', '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}"):
        response = client.post(f"{API}/cases", data=raw, headers=headers)
        assert response.status_code == 400, response.get_data(as_text=True)[:300]
        assert response.mimetype == "application/problem+json"


# -- the app's JSON provider (request.get_json, flask.json.loads) ------------------------------------------------------


def test_the_apps_json_provider_refuses_duplicates(app: Flask) -> None:
    with pytest.raises(DuplicateKey) as refused:
        app.json.loads('{"bsn": "111222333", "nested": {"bsn": 1, "bsn": 2}}')
    assert refused.value.path == "bsn"
    assert isinstance(refused.value, ValueError)
    assert app.json.loads('{"a": {"b": 1}, "c": [{"b": 2}]}') == {"a": {"b": 1}, "c": [{"b": 2}]}


def test_get_json_answers_400_on_a_duplicate(app: Flask) -> None:
    """A view that reads the body itself (force=True even skips the Content-Type check of the body check)."""
    raw = '{"bsn": "111222333", "bsn": "999999990"}'
    with (
        app.test_request_context("/api/v1/x", method="POST", data=raw, content_type="text/plain"),
        pytest.raises(BadRequest),
    ):
        request.get_json(force=True)
    with app.test_request_context("/api/v1/x", method="POST", data='{"bsn": "111222333"}', content_type="text/plain"):
        assert request.get_json(force=True) == {"bsn": "111222333"}


def test_the_session_cookie_serializer_still_reads_its_own_json(app: Flask) -> None:
    """Flask's signed session goes through the same provider: tagged values (tuples, bytes) survive."""
    with app.app_context():
        serializer = TaggedJSONSerializer()
        value = {"reply": {"letter": 3, "until": "2026-01-01T00:00:00"}, "t": (1, 2), "b": b"x"}
        assert serializer.loads(serializer.dumps(value)) == value


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("{}", None),
        ("[]", None),
        ('{"a": 1, "b": {"a": 2}}', None),
        ('{"a": 1, "a": 1}', "a"),
        ('{"a": {"b": [0, {"c": 1, "c": 2}]}}', "a.b.1.c"),
        ('[{"k": 1}, {"k": 1, "k": 2}]', "1.k"),
        ('{"a": 1, "b": 2, "a": 3, "b": 4}', "a"),
        ('{"' + "k" * 200 + '": 1, "' + "k" * 200 + '": 2}', "k" * 64 + "…"),
    ],
)
def test_duplicate_key_path(text: str, path: str | None) -> None:
    assert duplicate_key_path(text) == path


def test_duplicate_key_path_raises_what_json_raises_for_non_json() -> None:
    for text in ("{", "NaN-ish", '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}"):
        with pytest.raises((ValueError, RecursionError)):
            duplicate_key_path(text)
