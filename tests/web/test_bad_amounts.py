"""Bad amounts (and their neighbours) on the forms that take money: the intake's debt step and the creditors' reply
page, on the demo world (SQLite and PostgreSQL). Security review item 7 / security.md scenario 41: every bad value
is refused with 422 and a Dutch message at the field, what was typed is kept, nothing is stored, and nothing
answers 500 (`NaN`, `Infinity`, `1e400`, `1E+30`, `sNaN` and 40 digits did); `1,5e3` is not € 1.500."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from html import escape
from typing import Any

import pytest
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import delete, func, select
from werkzeug.test import TestResponse

from schulden.cases.models import Case, Detainee
from schulden.debts.models import Debt
from schulden.letters.models import Letter
from schulden.replies.models import CreditorReply
from schulden.users.models import LoginAttempt
from tests.demo_world import DemoWorld, csrf

CODE = re.compile(r"\b([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})\b")

#: Amounts that must be refused: the review's list, scenario 41's and their relatives.
BAD_AMOUNTS = [
    "NaN",
    "nan",
    "Infinity",
    "-Infinity",
    "sNaN",
    "1e400",
    "1E+30",
    "1e308",
    "1,5e3",
    "9" * 40,
    "9" * 5000,
    "10.000.000,01",
    "-1",
    "-0,01",
    "0,001",
    "1,505",
    "1,234.50",
    "0.500",
    "\uff11\uff12",  # full-width digits
    "\u0663",  # Arabic-Indic three
    "12\x00",
    "<script>alert(1)</script>",
    "{{7*7}}",
    "twaalf",
]

#: Amounts that must be read, and as what.
GOOD_AMOUNTS = [("1.500", 150_000), ("1,50", 150), ("€ 12", 1200), ("1.500,00", 150_000), ("12.50", 1250)]


@pytest.fixture
def world(demo_world: DemoWorld) -> DemoWorld:
    """Fast; the reply page's tests ask for `committed`: they read the code printed on a rendered letter."""
    return demo_world


def _debts(world: DemoWorld, case_id: int) -> list[tuple[int, int]]:
    with world.db() as s:
        rows = s.execute(select(Debt.id, Debt.principal_cents).where(Debt.case_id == case_id).order_by(Debt.id))
        return [(row.id, row.principal_cents) for row in rows]


def _refused_at(response: TestResponse, typed: str, message: str = "Vul een bedrag in euro in") -> None:
    """422 with the Dutch message on the page and (for short input) what was typed kept in its box."""
    page = response.get_data(as_text=True)
    assert response.status_code == 422, (typed[:50], response.status_code, page[:300])
    assert message in page
    if len(typed) < 100 and "\x00" not in typed:
        assert f'value="{escape(typed)}"' in page


# -- the intake's debt step ----------------------------------------------------------------------------------------


def _add_debt(client: FlaskClient, case_id: int, **fields: str) -> TestResponse:
    path = f"/intake/{case_id}/schulden"
    body = {"creditor_id": fields.pop("creditor_id", ""), "debt_type": "cjib_boete", **fields}
    return client.post(path, data={**body, "csrf_token": csrf(client, path)})


def _cjib(world: DemoWorld) -> str:
    from schulden.creditors.models import Creditor

    with world.db() as s:
        return str(s.scalar(select(Creditor.id).where(Creditor.name.like("%CJIB%"))))


def test_the_intake_refuses_every_bad_amount_and_stores_nothing(world: DemoWorld, subtests: Any) -> None:
    client = world.client("pi.demo")
    case_id = world.case_id("Demir")
    creditor = _cjib(world)
    before = _debts(world, case_id)
    for typed in BAD_AMOUNTS:
        with subtests.test(amount=typed[:40]):
            response = _add_debt(client, case_id, creditor_id=creditor, principal_cents=typed)
            _refused_at(response, typed)
    assert _debts(world, case_id) == before


def test_the_intake_reads_dutch_amounts_and_not_1_5e3_as_1500(world: DemoWorld) -> None:
    client = world.client("pi.demo")
    case_id = world.case_id("Demir")
    creditor = _cjib(world)
    stored = []
    for typed, cents in GOOD_AMOUNTS:
        response = _add_debt(client, case_id, creditor_id=creditor, principal_cents=typed)
        assert response.status_code == 303, response.get_data(as_text=True)[:1000]
        stored.append(cents)
    assert [c for _id, c in _debts(world, case_id)][-len(stored) :] == stored
    _refused_at(_add_debt(client, case_id, creditor_id=creditor, principal_cents="1,5e3"), "1,5e3")
    assert [c for _id, c in _debts(world, case_id)][-1] == stored[-1]


def test_the_intake_refuses_odd_creditor_numbers_without_a_500(world: DemoWorld, subtests: Any) -> None:
    """'²' passed str.isdigit() and then failed int(): a 500 before the fix."""
    client = world.client("pi.demo")
    case_id = world.case_id("Demir")
    before = _debts(world, case_id)
    for creditor_id in ["\u00b2", "\u0663", "9" * 40, "-1", "0", "1e3", "NaN", "1\x00"]:
        with subtests.test(creditor_id=creditor_id):
            response = _add_debt(client, case_id, creditor_id=creditor_id, principal_cents="12,50")
            assert response.status_code == 422, (response.status_code, response.get_data(as_text=True)[:300])
            assert _debts(world, case_id) == before


# -- the creditors' reply page -------------------------------------------------------------------------------------


def _reply_client(world: DemoWorld) -> tuple[FlaskClient, Letter]:
    """A creditor with the code printed on the CJIB's L2 letter, signed in to its reply session."""
    demir = world.case_id("Demir")
    with world.db() as s:
        letter = s.scalars(
            select(Letter).where(Letter.case_id == demir, Letter.letter_type == "L1").order_by(Letter.id)
        ).first()
        assert letter is not None
        assert letter.storage_key is not None
        s.expunge(letter)
    data = world.runtime.store.get(letter.storage_key)
    code = CODE.search("\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages))
    assert code, "the letter prints a reply code"
    client = world.app.test_client()
    opened = client.post("/antwoord", data={"code": code.group(1), "csrf_token": csrf(client, "/antwoord")})
    assert opened.status_code == 303, opened.get_data(as_text=True)[:500]
    return client, letter


def _answer(world: DemoWorld, client: FlaskClient, **fields: str) -> TestResponse:
    # The reply form counts submissions per letter and refuses more than a handful in an hour (that limit has its
    # own tests); here every value of the corpus is a fresh attempt, so the count is cleared first.
    with world.db() as s:
        s.execute(delete(LoginAttempt))
        s.commit()
    return client.post("/antwoord/brief", data={**fields, "csrf_token": csrf(client, "/antwoord/brief")})


def _replies(world: DemoWorld, letter: Letter) -> int:
    """The answers to this letter (the demo has answers of its own to other letters)."""
    with world.db() as s:
        return (
            s.scalar(select(func.count()).select_from(CreditorReply).where(CreditorReply.letter_id == letter.id)) or 0
        )


@pytest.mark.usefixtures("committed")
def test_the_reply_page_refuses_every_bad_amount_in_every_amount_field(world: DemoWorld, subtests: Any) -> None:
    client, letter = _reply_client(world)
    yesterday = (world.today - timedelta(days=1)).isoformat()
    for field in ("principal_cents", "interest_cents", "costs_cents", "arrangement_monthly_cents"):
        # The whole corpus on one field, the review's values on the others (each is the same parser).
        corpus = BAD_AMOUNTS if field == "principal_cents" else ["NaN", "1e400", "sNaN", "9" * 40, "1,5e3", "-1"]
        for typed in corpus:
            with subtests.test(field=field, amount=typed[:40]):
                extra = {"arrangement_offered": "ja"} if field == "arrangement_monthly_cents" else {}
                response = _answer(
                    world, client, **{"principal_cents": "100", "peildatum": yesterday, **extra, field: typed}
                )
                _refused_at(response, typed)
    assert _replies(world, letter) == 0


@pytest.mark.usefixtures("committed")
def test_the_reply_page_refuses_odd_dates_and_flags_without_a_500(world: DemoWorld, subtests: Any) -> None:
    client, letter = _reply_client(world)
    answers: list[dict[str, str]] = [
        {"peildatum": "0000-01-01"},
        {"peildatum": "2023-02-29"},
        {"peildatum": "31-12-2024"},
        {"peildatum": "9" * 40},
        {"peildatum": "2024-01-01\x00"},
        {"collection_suspended": "ja", "collection_suspended_until": "1e400"},
        {"interest_suspended": "ja", "interest_suspended_until": "NaN"},
        {"contact_email": "a\x00@b.nl"},
        {"no_cooperation": "\u202e"},
        {"note": "x" * 100_000},
    ]
    for answer in answers:
        with subtests.test(answer=str(answer)[:60]):
            response = _answer(world, client, principal_cents="100", **answer)
            assert response.status_code == 422, (answer, response.status_code, response.get_data(as_text=True)[:300])
    assert _replies(world, letter) == 0


@pytest.mark.usefixtures("committed")
def test_the_reply_page_reads_12_500_as_twelve_thousand_five_hundred_euro(world: DemoWorld) -> None:
    client, letter = _reply_client(world)
    _refused_at(_answer(world, client, principal_cents="1,5e3", peildatum=world.today.isoformat()), "1,5e3")
    checked = _answer(
        world, client, principal_cents="12.500", costs_cents="€ 1.234,56", peildatum=world.today.isoformat()
    )
    assert checked.status_code == 303, checked.get_data(as_text=True)[:2000]
    assert checked.headers["Location"].endswith("/antwoord/controleer")
    check = client.get("/antwoord/controleer").get_data(as_text=True)
    assert "12.500,00" in check  # the page shows back how it read the amount before anything is sent
    done = client.post(
        "/antwoord/controleer", data={"confirm": "1", "csrf_token": csrf(client, "/antwoord/controleer")}
    )
    assert done.status_code == 303, done.get_data(as_text=True)[:2000]
    with world.db() as s:
        reply = s.scalars(select(CreditorReply).where(CreditorReply.letter_id == letter.id)).one()
        assert (reply.principal_cents, reply.costs_cents) == (1_250_000, 123_456)
        # The debt keeps its amounts until a counsellor takes the answer's over (issue 13).
        assert s.get_one(Debt, letter.debt_id).amount_status != "confirmed"


# -- the rest of the intake wizard: scenario 41's identifier corpus, never a 500 ------------------------------------

DETAINEE = {
    "detainee.given_names": "Fatima",
    "detainee.surname": "El Amrani",
    "detainee.date_of_birth": "1990-05-17",
    "detainee.bsn": "000009878",
}
DETENTION = {"detention.type": "pre_trial", "detention.start": "2026-01-05"}
BAD_DATES = ["0000-01-01", "2023-02-29", "31-12-2024", "9" * 40, "1e400", "NaN", "2024-01-01\x00", "\uff12024-01-01"]
BAD_TEXT = ["\x00", "a\x00b", "\u202eabc", "x" * 10_000, "\U0001f600"]
#: (field, bad values); the step that takes the field follows from its name.
WIZARD_CORPUS: list[tuple[str, list[str]]] = [
    ("detainee.given_names", BAD_TEXT),
    ("detainee.surname", BAD_TEXT),
    ("detainee.date_of_birth", BAD_DATES),
    (
        "detainee.bsn",
        [
            "123456789",
            "\uff11" * 9,  # full-width digits
            "\u0660\u0660\u0660\u0660\u0660\u0669\u0668\u0667\u0668",  # Arabic-Indic 000009878
            "9" * 40,
            "-1",
            "1.11222333e8",
            "\x00",
            "+31111222333",
        ],
    ),
    ("detainee.dji_number", ["\x00", "x" * 100, "<script>"]),
    ("detention.type", ["\x00", "NaN", "x" * 10_000]),
    ("detention.start", BAD_DATES),
    ("detention.expected_release", BAD_DATES),
    ("intended_postcode", ["\uff11234 AB", "0123 AB", "1234 SS", "\x00", "9" * 40]),
]


def test_the_intake_wizard_refuses_the_identifier_corpus_without_a_500(world: DemoWorld, subtests: Any) -> None:
    client = world.client("pi.demo")
    with world.db() as s:
        cases_before = s.scalar(select(func.count()).select_from(Case))
    for field, values in WIZARD_CORPUS:
        for typed in values:
            with subtests.test(field=field, value=typed[:40]):
                if field.startswith("detainee."):
                    form = {"stap": "1", **DETAINEE, field: typed}
                else:
                    form = {"stap": "2", **DETAINEE, **DETENTION, field: typed}
                response = client.post("/intake", data={**form, "csrf_token": csrf(client, "/intake")})
                assert response.status_code == 422, (field, typed[:40], response.status_code)
                assert "Controleer de invoer" in response.get_data(as_text=True)
    with world.db() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == cases_before


def test_the_consent_step_refuses_odd_dates_and_text_without_a_500(world: DemoWorld, subtests: Any) -> None:
    client = world.client("pi.demo")
    with world.db() as s:
        case_id = s.scalar(select(Case.id).join(Detainee).where(Detainee.surname == "IJsselstein"))
    path = f"/intake/{case_id}/toestemming"
    for field, values in (("signed_on", BAD_DATES), ("valid_until", BAD_DATES), ("witness", BAD_TEXT)):
        for typed in values:
            with subtests.test(field=field, value=typed[:40]):
                form = {"purpose.contact_creditors": "on", "signed_on": "2026-01-05", field: typed}
                response = client.post(path, data={**form, "csrf_token": csrf(client, path)})
                assert response.status_code == 422, (field, typed[:40], response.status_code)


def test_the_print_batch_form_refuses_odd_pi_numbers_without_a_500(world: DemoWorld, subtests: Any) -> None:
    """'²' passed str.isdigit() and then failed int(): a 500 before the fix."""
    client = world.client("pi.demo")
    for pi_id in ["\u00b2", "\u0663", "9" * 40, "-1", "1e3", "\x00"]:
        with subtests.test(pi_id=pi_id):
            response = client.post("/printbatch", data={"pi_id": pi_id, "csrf_token": csrf(client, "/printbatch")})
            assert response.status_code == 422, (response.status_code, response.get_data(as_text=True)[:300])


def test_choosing_a_municipality_refuses_odd_numbers_without_a_500(world: DemoWorld, subtests: Any) -> None:
    """The referral page's municipality choice: '²' passed str.isdigit() and then failed int() (a 500)."""
    client = world.client("schuldhulp.demo")
    case_id = world.case_id("Demir")
    page = f"/dossiers/{case_id}/verwijzing"
    with world.db() as s:
        version = str(s.get_one(Case, case_id).row_version)
    for municipality_id in ["\u00b2", "9" * 40, "-1", "1e3", "NaN", "\x00"]:
        with subtests.test(municipality_id=municipality_id):
            form = {"municipality_id": municipality_id, "reason": "Verhuist na vrijlating.", "version": version}
            response = client.post(f"{page}/gemeente", data={**form, "csrf_token": csrf(client, page)})
            assert response.status_code == 422, (response.status_code, response.get_data(as_text=True)[:300])
    with world.db() as s:
        assert str(s.get_one(Case, case_id).row_version) == version
