"""The Dutch identifier and bad-input corpus through the API (security.md Part 3, scenario 41).

Every invalid value is refused with 4xx (422 with `errors` naming the field), never a 500, and a refused request
stores nothing (no detainee, case, workflow instance or debt row). Every valid value is stored in canonical form:
the BSN compact (9 digits), names NFC, the postcode as "1234 AB".

One world per backend per test; each corpus value is a subtest, so a run reports every value that misbehaves.
"""

from __future__ import annotations

import base64
import csv
import json
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from schulden.cases.models import Case, Consent, Detainee
from schulden.creditors.models import Creditor
from schulden.debts.models import Debt
from tests.api.world import World
from tests.conftest import DatabaseUnderTest
from workflows import WorkflowInstance

API = "/api/v1"
IDENTIFIERS = Path("/work/shared/data/identifiers")

# -- the corpus from the shared identifier files -----------------------------------------------------------------------


def _rows(name: str) -> list[dict[str, str]]:
    with (IDENTIFIERS / name).open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _rvig_bsns(valid: bool, count: int) -> list[str]:
    """BSNs of the RvIG test set (test-bsn-rvig.csv), passing the 11-proef or not."""
    wanted = "true" if valid else "false"
    return [row["bsn"] for row in _rows("test-bsn-rvig.csv") if row["passes_11_proef"] == wanted][:count]


def _examples(kind: str, expected: str) -> list[str]:
    """Values of nl-identifier-examples.csv for one stdnum module."""
    return [
        row["value"]
        for row in _rows("nl-identifier-examples.csv")
        if row["type"] == kind and row["expected"] == expected
    ]


# -- what a response must be -------------------------------------------------------------------------------------------


def names_field(errors: dict[str, Any], path: str) -> bool:
    """Whether a 422's `errors` names the field at `path` ("detainee.bsn").

    Schema errors use the full path; rules checked in the services name the field by its last part
    ("date_of_birth") or joined with an underscore ("detention_start"). Either tells the caller which field.
    """
    last = path.rsplit(".", 1)[-1]
    return any(key in (path, last, path.replace(".", "_")) for key in errors)


def _counts(db: sessionmaker[Session]) -> dict[str, int]:
    with db() as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Detainee, Case, WorkflowInstance, Debt, Consent)
        }


@dataclass(frozen=True)
class Refused:
    """The value is refused: 4xx; with 422, `errors` names `field`."""

    field: str


@dataclass(frozen=True)
class Stored:
    """The value is accepted (201) and stored as `value` (None: exactly as sent)."""

    value: Any = None


@dataclass(frozen=True)
class Either:
    """A policy question either answer fits (refused, or stored as `value`); never a 500, never half-stored."""

    field: str
    value: Any = None


Outcome = Refused | Stored | Either


def _check(
    db: sessionmaker[Session],
    response: Any,
    outcome: Outcome,
    stored: Callable[[Any], Any],
    sent: Any,
    before: dict[str, int],
) -> None:
    status = response.status_code
    text = response.get_data(as_text=True)[:400]
    assert status < 500, f"{status}: {text}"
    if isinstance(outcome, Stored) or (isinstance(outcome, Either) and status == 201):
        assert status == 201, f"expected 201, got {status}: {text}"
        want = outcome.value if outcome.value is not None else sent
        assert stored(response) == want
        return
    assert 400 <= status < 500, f"expected a refusal, got {status}: {text}"
    if status == 422:
        errors = response.json["errors"]
        assert names_field(errors, outcome.field), f"errors do not name {outcome.field}: {errors}"
    assert _counts(db) == before, "a refused request stored something"


# -- the case intake ---------------------------------------------------------------------------------------------------


def case_body(**changes: Any) -> dict[str, Any]:
    """A valid intake; `changes` maps a dotted path to its value ("detainee.bsn": "111222333")."""
    body: dict[str, Any] = {
        "detainee": {"given_names": "Jan", "surname": "Testpersoon", "date_of_birth": "1980-05-17"},
        "detention": {"type": "prison_sentence", "start": "2026-01-05"},
    }
    for path, value in changes.items():
        target = body
        *parents, last = path.split(".")
        for part in parents:
            target = target[part]
        target[last] = value
    return body


def _detainee(db: sessionmaker[Session], response: Any) -> Detainee:
    case_id = response.json["id"]
    with db() as session:
        case = session.get_one(Case, case_id)
        return session.get_one(Detainee, case.detainee_id)


def _case(db: sessionmaker[Session], response: Any) -> Case:
    with db() as session:
        return session.get_one(Case, response.json["id"])


LONG_DIGITS = "1" * 5000


def full_width(text: str) -> str:
    """ASCII digits and letters as their full-width forms (U+FF10 onwards), as a Japanese keyboard types them."""
    return "".join(chr(ord(ch) + 0xFEE0) if ch.isascii() and ch.isalnum() else ch for ch in text)


def arabic_indic(digits: str) -> str:
    return "".join(chr(0x0660 + int(d)) for d in digits)


BSN_CORPUS: list[tuple[Any, Outcome]] = [
    ("111222333", Stored()),
    ("999999990", Stored()),
    ("1112.22.333", Stored("111222333")),
    ("111 222 333", Stored("111222333")),
    ("111-222-333", Stored("111222333")),
    (" 111222333\n", Stored("111222333")),
    *[(bsn, Stored()) for bsn in _rvig_bsns(True, 5)],
    *[(bsn, Stored()) for bsn in (row["bsn"] for row in _rows("test-bsn-haalcentraal-situaties.csv")[:3])],
    *[(value, Stored("".join(ch for ch in value if ch.isdigit()))) for value in _examples("stdnum.nl.bsn", "valid")],
    ("123456789", Refused("detainee.bsn")),
    *[(bsn, Refused("detainee.bsn")) for bsn in _rvig_bsns(False, 5)],  # 010008579: in the RvIG set, fails 11-proef
    *[(value, Refused("detainee.bsn")) for value in _examples("stdnum.nl.bsn", "invalid")],
    ("11122233", Refused("detainee.bsn")),  # 8 digits; zero-padded it fails the 11-proef
    # 8 digits whose zero-padded form passes: refusing is fine, accepting must store 9 digits.
    ("00009830", Either("detainee.bsn", "000009830")),
    ("1112223334", Refused("detainee.bsn")),  # 10 digits
    ("000000000", Refused("detainee.bsn")),
    ("11122233A", Refused("detainee.bsn")),
    ("abcdefghi", Refused("detainee.bsn")),
    (full_width("111222333"), Refused("detainee.bsn")),
    (arabic_indic("111222333"), Refused("detainee.bsn")),
    ("+31111222333", Refused("detainee.bsn")),
    ("+31 111222333", Refused("detainee.bsn")),
    ("1.11222333e8", Refused("detainee.bsn")),
    ("", Refused("detainee.bsn")),
    ("         ", Refused("detainee.bsn")),
    (111222333, Refused("detainee.bsn")),  # a JSON number, not a string
    (1.11222333e8, Refused("detainee.bsn")),
    (-111222333, Refused("detainee.bsn")),
    (True, Refused("detainee.bsn")),
    (["111222333"], Refused("detainee.bsn")),
    ({"bsn": "111222333"}, Refused("detainee.bsn")),
    (LONG_DIGITS, Refused("detainee.bsn")),
    ("111222333" * 50, Refused("detainee.bsn")),
    ("111222333\x00", Refused("detainee.bsn")),
]

POSTCODE_CORPUS: list[tuple[Any, Outcome]] = [
    ("1234 AB", Stored("1234 AB")),
    ("1234ab", Stored("1234 AB")),
    ("1234AB", Stored("1234 AB")),
    ("1234 ab", Stored("1234 AB")),
    (" 1234ab ", Stored("1234 AB")),
    *[(value, Stored()) for value in _examples("stdnum.nl.postcode", "valid") if " " in value],  # 2601 DC
    (None, Stored()),
    ("0123 AB", Refused("intended_postcode")),
    ("1234 SA", Refused("intended_postcode")),
    ("1234 SD", Refused("intended_postcode")),
    ("1234 SS", Refused("intended_postcode")),
    ("1234sa", Refused("intended_postcode")),
    *[(value, Refused("intended_postcode")) for value in _examples("stdnum.nl.postcode", "invalid")],
    (full_width("1234 AB"), Refused("intended_postcode")),
    ("1234 " + full_width("AB"), Refused("intended_postcode")),
    ("1234  AB", Refused("intended_postcode")),
    ("12345 AB", Refused("intended_postcode")),
    ("AB 1234", Refused("intended_postcode")),
    ("1234", Refused("intended_postcode")),
    ("", Refused("intended_postcode")),
    (1234, Refused("intended_postcode")),
    ("1234 AB" * 100, Refused("intended_postcode")),
    ("1234 A\u0301B", Refused("intended_postcode")),
]

DATE_CORPUS: list[tuple[str, Any, Outcome]] = [
    ("detention.start", "2024-02-29", Stored()),
    ("detainee.date_of_birth", "1980-02-29", Stored()),
    ("detention.expected_release", "2028-02-29", Stored()),
    ("detention.start", "2023-02-29", Refused("detention.start")),
    ("detainee.date_of_birth", "2023-02-29", Refused("detainee.date_of_birth")),
    ("detainee.date_of_birth", "0000-01-01", Refused("detainee.date_of_birth")),
    ("detainee.date_of_birth", "0001-01-01", Refused("detainee.date_of_birth")),
    ("detainee.date_of_birth", "9999-12-31", Refused("detainee.date_of_birth")),
    ("detention.expected_release", "9999-12-31", Refused("detention.expected_release")),
    ("detainee.date_of_birth", "31-12-1980", Refused("detainee.date_of_birth")),  # Dutch order
    ("detainee.date_of_birth", "17/05/1980", Refused("detainee.date_of_birth")),
    ("detainee.date_of_birth", "1980-13-01", Refused("detainee.date_of_birth")),
    ("detainee.date_of_birth", "1980-05-17T00:00:00+02:00", Refused("detainee.date_of_birth")),
    ("detainee.date_of_birth", "", Refused("detainee.date_of_birth")),
    ("detainee.date_of_birth", 19800517, Refused("detainee.date_of_birth")),
    ("detainee.date_of_birth", None, Refused("detainee.date_of_birth")),
    ("detainee.date_of_birth", "2030-01-01", Refused("detainee.date_of_birth")),  # in the future
    ("detainee.date_of_birth", "2024-01-01", Refused("detainee.date_of_birth")),  # a toddler in adult detention
    ("detention.start", "2030-01-01", Refused("detention.start")),  # detention cannot start in the future
    ("detention.expected_release", "2025-01-01", Refused("detention.expected_release")),  # before the start
]

NAME_CORPUS: list[tuple[str, Any, Outcome]] = [
    ("detainee.surname", "Ĳsselmeer", Stored("Ĳsselmeer")),  # the IJ ligature is kept (NFC leaves it alone)
    ("detainee.given_names", "\u02bbOkina", Stored()),  # U+02BB, the Hawaiian okina: a letter
    ("detainee.surname", "van der Berg", Stored()),
    ("detainee.surname_prefix", "van der", Stored()),
    ("detainee.surname", "d'Ancona", Stored()),
    ("detainee.surname", "Jose\u0301", Stored("José")),  # NFD in, NFC stored
    ("detainee.given_names", "Ange\u0300le Zoe\u0308", Stored("Angèle Zoë")),
    ("detainee.surname", "A", Stored()),
    ("detainee.surname", "x" * 200, Stored()),
    ("detainee.surname", "<script>alert(1)</script>", Stored()),  # stored as text; escaping is the output's job
    ("detainee.surname", "O'Brien); DROP TABLE detainee;--", Stored()),
    ("detainee.surname", "  Jansen  ", Stored("Jansen")),
    ("detainee.surname", "Ev\u202eil", Refused("detainee.surname")),  # right-to-left override
    ("detainee.surname", "\u202eJansen", Refused("detainee.surname")),
    ("detainee.given_names", "Jo\u200dhn", Refused("detainee.given_names")),  # zero-width joiner
    ("detainee.surname", "Jan\u200bsen", Refused("detainee.surname")),  # zero-width space
    ("detainee.surname", "Jan\x00sen", Refused("detainee.surname")),  # NUL
    ("detainee.surname", "Jan\nsen", Refused("detainee.surname")),
    ("detainee.surname", "x" * 201, Refused("detainee.surname")),
    ("detainee.surname", "x" * 500, Refused("detainee.surname")),
    ("detainee.surname_prefix", "v" * 41, Refused("detainee.surname_prefix")),
    ("detainee.surname", "", Refused("detainee.surname")),
    ("detainee.surname", "   ", Refused("detainee.surname")),
    ("detainee.surname", "😀", Refused("detainee.surname")),  # no letter at all
    ("detainee.surname", 42, Refused("detainee.surname")),
    ("detainee.surname", None, Refused("detainee.surname")),
    ("detainee.surname", ["Jansen"], Refused("detainee.surname")),
    # Policy questions: refusing is fine; accepting must store the text itself (never the template's result).
    ("detainee.surname", "Jansen 😀", Either("detainee.surname")),
    ("detainee.surname", "{{7*7}}", Either("detainee.surname")),
    ("detainee.surname", "Jansen {{7*7}}", Either("detainee.surname")),
]


def _stored_detainee(db: sessionmaker[Session], path: str) -> Callable[[Any], Any]:
    field = path.rsplit(".", 1)[-1]

    def read(response: Any) -> Any:
        if path.startswith("detention."):
            column = {"start": "detention_start", "expected_release": "expected_release"}[field]
            value = getattr(_case(db, response), column)
            return value.isoformat() if value else None
        value = getattr(_detainee(db, response), field)
        return value.isoformat() if hasattr(value, "isoformat") else value

    return read


def _post_case(client: FlaskClient, headers: dict[str, str], body: Any) -> Any:
    return client.post(f"{API}/cases", json=body, headers=headers)


def test_bsn_corpus(client: FlaskClient, db: sessionmaker[Session], world: World, subtests: Any) -> None:
    headers = world.headers(client, "pi_a")
    stored = _stored_detainee(db, "detainee.bsn")
    for value, outcome in BSN_CORPUS:
        with subtests.test(msg="detainee.bsn", value=value):
            before = _counts(db)
            response = _post_case(client, headers, case_body(**{"detainee.bsn": value}))
            _check(db, response, outcome, stored, value, before)
            if response.status_code == 201:
                bsn = stored(response)
                assert len(bsn) == 9
                assert bsn.isascii()
                assert bsn.isdigit()
                # The answer shows it masked only.
                assert response.json["detainee"]["bsn_masked"] == "*****" + bsn[-4:]
                assert bsn not in response.get_data(as_text=True)


@pytest.mark.parametrize("value", ["-111222333", "111222333-", "---111222333", ".111222333", "111222333.."])
def test_bsn_with_stray_separators_is_refused(
    client: FlaskClient, db: sessionmaker[Session], world: World, value: str
) -> None:
    before = _counts(db)
    response = _post_case(client, world.headers(client, "pi_a"), case_body(**{"detainee.bsn": value}))
    _check(db, response, Refused("detainee.bsn"), _stored_detainee(db, "detainee.bsn"), value, before)


def test_volunteer_records_no_bsn(client: FlaskClient, db: sessionmaker[Session], world: World) -> None:
    before = _counts(db)
    response = _post_case(client, world.headers(client, "vol_a"), case_body(**{"detainee.bsn": "111222333"}))
    assert response.status_code == 422
    assert "detainee.bsn" in response.json["errors"]
    assert _counts(db) == before


def test_postcode_corpus(client: FlaskClient, db: sessionmaker[Session], world: World, subtests: Any) -> None:
    headers = world.headers(client, "pi_a")
    for value, outcome in POSTCODE_CORPUS:
        with subtests.test(msg="intended_postcode", value=value):
            before = _counts(db)
            response = _post_case(client, headers, case_body(intended_postcode=value))
            _check(db, response, outcome, lambda r: _case(db, r).intended_postcode, value, before)
            if response.status_code == 201:
                assert response.json["intended_postcode"] == _case(db, response).intended_postcode


def test_date_corpus(client: FlaskClient, db: sessionmaker[Session], world: World, subtests: Any) -> None:
    headers = world.headers(client, "pi_a")
    for path, value, outcome in DATE_CORPUS:
        with subtests.test(msg=path, value=value):
            before = _counts(db)
            response = _post_case(client, headers, case_body(**{path: value}))
            _check(db, response, outcome, _stored_detainee(db, path), value, before)


def test_name_corpus(client: FlaskClient, db: sessionmaker[Session], world: World, subtests: Any) -> None:
    headers = world.headers(client, "pi_a")
    for path, value, outcome in NAME_CORPUS:
        with subtests.test(msg=path, value=value):
            before = _counts(db)
            response = _post_case(client, headers, case_body(**{path: value}))
            _check(db, response, outcome, _stored_detainee(db, path), value, before)
            if response.status_code == 201:
                name = _stored_detainee(db, path)(response)
                assert unicodedata.is_normalized("NFC", name)
                assert response.json["detainee"][path.rsplit(".", 1)[-1]] == name
                assert "49" not in name


# -- amounts -----------------------------------------------------------------------------------------------------------

MAX_CENTS = 1_000_000_000

AMOUNT_CORPUS: list[tuple[str, Any, Outcome]] = [
    ("principal_cents", 0, Stored()),
    ("principal_cents", 1, Stored()),
    ("principal_cents", 1250, Stored()),
    ("principal_cents", MAX_CENTS, Stored()),
    ("interest_cents", 7, Stored()),
    ("costs_cents", 99, Stored()),
    ("principal_cents", -1, Refused("principal_cents")),
    ("costs_cents", -1, Refused("costs_cents")),
    ("principal_cents", MAX_CENTS + 1, Refused("principal_cents")),
    ("principal_cents", 1.5, Refused("principal_cents")),
    ("principal_cents", 1.0, Refused("principal_cents")),
    ("principal_cents", 0.01, Refused("principal_cents")),
    ("principal_cents", "12,50", Refused("principal_cents")),
    ("principal_cents", "1250", Refused("principal_cents")),
    ("principal_cents", "1.500,00", Refused("principal_cents")),
    ("principal_cents", "€ 12", Refused("principal_cents")),
    ("principal_cents", 1e308, Refused("principal_cents")),
    ("principal_cents", "NaN", Refused("principal_cents")),
    ("principal_cents", "Infinity", Refused("principal_cents")),
    ("principal_cents", "-Infinity", Refused("principal_cents")),
    ("principal_cents", 2**63, Refused("principal_cents")),
    ("principal_cents", 2**64 + 1, Refused("principal_cents")),
    ("principal_cents", 10**400, Refused("principal_cents")),
    ("principal_cents", -(2**63) - 1, Refused("principal_cents")),
    ("principal_cents", True, Refused("principal_cents")),
    ("principal_cents", None, Refused("principal_cents")),
    ("principal_cents", [1], Refused("principal_cents")),
    ("interest_cents", 2**31, Refused("interest_cents")),
]


def test_amount_corpus(client: FlaskClient, db: sessionmaker[Session], world: World, subtests: Any) -> None:
    headers = world.headers(client, "pi_a")
    case = world.cases["a_only"]
    for field, value, outcome in AMOUNT_CORPUS:
        with subtests.test(msg=field, value=value):
            before = _counts(db)
            body = {"creditor_id": world.creditor_ids[0], "debt_type": "huur", field: value}
            response = client.post(f"{API}/cases/{case.id}/debts", json=body, headers=headers)

            def stored(r: Any, field: str = field) -> Any:
                with db() as session:
                    return getattr(session.get_one(Debt, r.json["id"]), field)

            _check(db, response, outcome, stored, value, before)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999", "-0", "1E2", "12.50"])
def test_amount_json_literals(client: FlaskClient, db: sessionmaker[Session], world: World, literal: str) -> None:
    """Literals the JSON grammar forbids (NaN, Infinity) or that are not whole cents, sent as raw body text."""
    case = world.cases["a_only"]
    before = _counts(db)
    raw = f'{{"creditor_id": {world.creditor_ids[0]}, "debt_type": "huur", "principal_cents": {literal}}}'
    response = client.post(
        f"{API}/cases/{case.id}/debts",
        data=raw,
        headers={**world.headers(client, "pi_a"), "Content-Type": "application/json"},
    )
    if literal == "-0":
        # JSON's -0 is the integer 0: a valid amount.
        assert response.status_code == 201
        return
    assert 400 <= response.status_code < 500, (response.status_code, response.get_data(as_text=True)[:300])
    assert _counts(db) == before


# -- payloads ----------------------------------------------------------------------------------------------------------


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


#: json.loads raises RecursionError (not a ValueError) on deep nesting; webargs only catches JSONDecodeError.
DEEP_NESTING_BUG: tuple[()] = ()  # fixed: schulden/api/blueprint.py SafeParser answers 400

PAYLOADS: list[Any] = [
    ("over 1 MB", json.dumps({**case_body(), "padding": "x" * (1024 * 1024)}), "application/json"),
    ("900-level nesting", '{"detainee": ' + _nested(900) + "}", "application/json"),
    pytest.param(
        "1000-level nesting",
        '{"detainee": ' + _nested(1000) + "}",
        "application/json",
        marks=DEEP_NESTING_BUG,
        id="1000-level nesting",
    ),
    pytest.param(
        "1000-level objects",
        '{"detainee": ' + '{"a": ' * 1000 + "1" + "}" * 1000 + "}",
        "application/json",
        marks=DEEP_NESTING_BUG,
        id="1000-level objects",
    ),
    pytest.param(
        "100000-level nesting",
        '{"detainee": ' + _nested(100_000) + "}",
        "application/json",
        marks=DEEP_NESTING_BUG,
        id="100000-level nesting",
    ),
    ("100000-element array", json.dumps({**case_body(), "detainee": [0] * 100_000}), "application/json"),
    ("not JSON", "{detainee: ", "application/json"),
    ("truncated JSON", json.dumps(case_body())[:-3], "application/json"),
    ("empty body", "", "application/json"),
    ("JSON null", "null", "application/json"),
    ("JSON array", "[]", "application/json"),
    ("JSON string", '"hallo"', "application/json"),
    ("JSON number", "42", "application/json"),
    ("invalid UTF-8", b'{"detainee": "\xff\xfe"}', "application/json"),
    ("UTF-16", json.dumps(case_body()).encode("utf-16"), "application/json"),
    ("lone surrogate", '{"detainee": {"surname": "\\ud800"}}', "application/json"),
    ("wrong content type", json.dumps(case_body()), "text/plain"),
    ("form encoded", "detainee=1", "application/x-www-form-urlencoded"),
    ("no content type", json.dumps(case_body()), ""),
    ("xml", "<case/>", "application/xml"),
]


@pytest.mark.parametrize(
    ("name", "data", "content_type"), PAYLOADS, ids=[p[0] if isinstance(p, tuple) else p.id for p in PAYLOADS]
)
def test_bad_payloads_are_refused(
    client: FlaskClient, db: sessionmaker[Session], world: World, name: str, data: bytes | str, content_type: str
) -> None:
    before = _counts(db)
    headers = world.headers(client, "pi_a")
    if content_type:
        headers = {**headers, "Content-Type": content_type}
    response = client.post(f"{API}/cases", data=data, headers=headers)
    assert 400 <= response.status_code < 500, (name, response.status_code, response.get_data(as_text=True)[:300])
    assert response.mimetype == "application/problem+json"
    if name == "over 1 MB":
        assert response.status_code == 413
    if name in ("not JSON", "truncated JSON", "invalid UTF-8"):
        assert response.status_code == 400
    assert _counts(db) == before


def test_duplicate_keys_are_not_an_error_of_the_server(
    client: FlaskClient, db: sessionmaker[Session], world: World
) -> None:
    """Duplicate keys: refused, or the last one wins (Python's json); never a 500, never both stored."""
    detainee = json.dumps(case_body()["detainee"])
    other = json.dumps({**case_body()["detainee"], "surname": "Laatste", "bsn": "111222333"})
    raw = f'{{"detainee": {detainee}, "detention": {json.dumps(case_body()["detention"])}, "detainee": {other}}}'
    before = _counts(db)
    response = client.post(
        f"{API}/cases", data=raw, headers={**world.headers(client, "pi_a"), "Content-Type": "application/json"}
    )
    assert response.status_code in (201, 400, 422), response.status_code
    if response.status_code == 201:
        assert _detainee(db, response).surname == "Laatste"
        assert _counts(db)["detainee"] == before["detainee"] + 1
    else:
        assert _counts(db) == before


def test_event_payload_limits(client: FlaskClient, db: sessionmaker[Session], world: World) -> None:
    """The free-form event payload is small and flat: big, nested or odd payloads are refused before any change."""
    case = world.cases["a_only"]
    headers = world.headers(client, "pi_a")
    before = _counts(db)
    bodies: list[Any] = [
        {"event": "flag_threat", "payload": {f"k{i}": i for i in range(10_000)}},
        {"event": "flag_threat", "payload": {"threat": {"nested": {"deep": 1}}}},
        {"event": "flag_threat", "payload": {"threat": ["eviction"]}},
        {"event": "flag_threat", "payload": {"threat": "x" * 600}},
        {"event": "flag_threat", "payload": {"threat": "not-a-threat"}},
        {"event": "flag_threat", "payload": {"": 1}},
        {"event": "flag_threat", "payload": []},
        {"event": "flag_threat", "payload": "threat"},
        {"event": "flag_threat", "payload": {"threat": 1e308}},
        {"event": "", "payload": {}},
        {"event": "x" * 65},
        {"event": "no_such_event"},
        {"event": 42},
        {"event": None},
        {"event": "flag_threat", "reason": "\u202e"},
    ]
    for body in bodies:
        response = client.post(f"{API}/cases/{case.id}/events", json=body, headers=headers)
        assert 400 <= response.status_code < 500, (body if len(json.dumps(body)) < 200 else "big", response.status_code)
    assert _counts(db) == before


# -- NUL bytes (schemathesis found GET /cases?state=%00 answering 500 on PostgreSQL) ---------------------------------

#: PostgreSQL refuses NUL in text ("PostgreSQL text fields cannot contain NUL (0x00) bytes"): a NUL that reaches a
#: query as a parameter raises DataError, answered 500. SQLite stores or compares it without complaint.
NUL_FAILS_ON_POSTGRESQL = (
    "BUG: a NUL byte in a free-text filter, the login name, a creditor's source_url or a cursor reaches a "
    "PostgreSQL query as a text parameter: psycopg DataError, answered 500 (a creditor's source_url with NUL is "
    "even stored on SQLite). Refuse \\x00 in every string field (e.g. in DutchSchema.on_bind_field) and in "
    "decoded cursors."
)


def _cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


#: (name, method, url, JSON body, may the answer be 200 (a filter that finds nothing), where it fails today:
#: "postgresql", "both" or "")
NUL_REQUESTS: list[tuple[str, str, str, Any, bool, str]] = [
    ("list state", "GET", "/cases?state=a%00b", None, True, "postgresql"),
    ("search surname", "POST", "/cases/search", {"surname": "Jans\x00"}, True, "postgresql"),
    ("search state", "POST", "/cases/search", {"state": ["inventory\x00"]}, True, "postgresql"),
    ("creditor q", "GET", "/creditors?q=a%00", None, True, "postgresql"),
    ("creditor cursor", "GET", "/creditors?after=" + _cursor(["a\x00", 1]), None, True, "postgresql"),
    ("municipality q", "GET", "/municipalities?q=a%00", None, True, "postgresql"),
    ("case cursor", "GET", "/cases?after=" + _cursor(["2026-01-01T00:00:00\x00", 1]), None, True, ""),
    ("login name", "POST", "/auth/token", {"username": "pi_a\x00", "password": "pw-test-1234"}, False, "postgresql"),
    ("creditor source_url", "POST", "/creditors", {"name": "Nul B.V.", "category": "overig",
                                                   "source_url": "https://nul.example/\x00"}, False, "both"),
    ("creditor email", "POST", "/creditors", {"name": "Nul B.V.", "category": "overig", "email": "a\x00@b.nl"},
     False, ""),
    ("debt type", "POST", "/cases/{case_id}/debts", {"creditor_id": 1, "debt_type": "huur\x00"}, False, ""),
    ("note", "POST", "/cases/{case_id}/notes", {"body": "a\x00b"}, False, ""),
    ("event", "POST", "/cases/{case_id}/events", {"event": "flag_threat\x00"}, False, ""),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "method", "url", "body", "may_find_nothing", "fails_on"),
    NUL_REQUESTS,
    ids=[r[0] for r in NUL_REQUESTS],
)
def test_nul_bytes_are_refused(
    request: pytest.FixtureRequest,
    database: DatabaseUnderTest,
    client: FlaskClient,
    db: sessionmaker[Session],
    world: World,
    name: str,
    method: str,
    url: str,
    body: Any,
    may_find_nothing: bool,
    fails_on: str,
) -> None:
    """A NUL byte anywhere is refused (4xx) or, in a filter, finds nothing: never a 500, never stored."""
    case = world.cases["a_only"]
    before = _counts(db)
    with db() as session:
        creditors = session.scalar(select(func.count()).select_from(Creditor))
    response = client.open(
        API + url.format(case_id=case.id), method=method, json=body, headers=world.headers(client, "pi_a")
    )
    allowed = {200} if may_find_nothing else set()
    assert response.status_code in allowed or 400 <= response.status_code < 500, (name, response.status_code)
    if response.status_code == 200:
        assert response.json["items"] == []
    assert _counts(db) == before
    with db() as session:
        assert session.scalar(select(func.count()).select_from(Creditor)) == creditors
