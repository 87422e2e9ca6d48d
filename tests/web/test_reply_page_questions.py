"""The creditor's reply page asks what the letter asked (issue 13 item 8; ux.md "Public creditor page"): a saldo
request asks amounts, the notice also the suspension, a payment proposal agree/refuse/counter, a termination its
confirmation and end date, a reminder what the letter it chases asked; every letter keeps "Geen medewerking".
Before anything is sent, "Controleer uw antwoord" shows how the page read it; the confirmation gives the reference,
the date, what was sent and how to correct it; a correction is a new version and the earlier one stays; a file
chosen before an error is kept on the server; every step says who "wij" are and whom to call.

On the fast demo world: letters of each type are added to Demir's first debt, marked sent, with reply secrets the
test knows (no PDF is rendered; the page only links to it)."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date, timedelta
from html import unescape
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from schulden.cases.models import Case, Detainee
from schulden.http.ports import runtime
from schulden.letters.models import Letter, LetterStatus
from schulden.letters.reply_codes import ReplyCodeKey, new_reply_secrets
from schulden.replies.models import CreditorReply
from schulden.replies.schemas import Proposal, stored_answer
from tests.demo_world import DemoWorld
from tests.web.reply_support import confirm, csrf, fill, open_with_link, submit
from tests.web.test_reply_uploads import make_pdf
from workflows.store import utcnow

MONTHS = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober",
          "november", "december")  # fmt: skip


@dataclass
class Letters:
    """Demir's first debt with one letter of each type the test asked for: type -> (letter id, token, code)."""

    demo: DemoWorld
    debt_id: int
    letters: dict[str, tuple[int, str, str]]

    @property
    def client(self) -> FlaskClient:
        return self.demo.http

    def open(self, kind: str) -> None:
        open_with_link(self.client, self.letters[kind][1])

    def replies(self, kind: str) -> list[CreditorReply]:
        with self.demo.db() as s:
            rows = list(
                s.scalars(
                    select(CreditorReply)
                    .where(CreditorReply.letter_id == self.letters[kind][0])
                    .order_by(CreditorReply.version)
                )
            )
            s.expunge_all()
            return rows


def _day(value: date) -> str:
    return f"{value.day} {MONTHS[value.month - 1]} {value.year}"


def _parts(name: str, value: date) -> dict[str, str]:
    return {f"{name}-dag": str(value.day), f"{name}-maand": str(value.month), f"{name}-jaar": str(value.year)}


def _text(response: Any) -> str:
    return unescape(response.get_data(as_text=True)).replace("\xa0", " ")


@pytest.fixture
def letters(demo_world: DemoWorld) -> Letters:
    """L1 (the demo's own), and L2, L4, L3 (chasing the L4), L5 and an L6 without a debt, added in that order."""
    found: dict[str, tuple[int, str, str]] = {}
    with demo_world.db() as session:
        first = session.scalars(
            select(Letter)
            .join(Case, Case.id == Letter.case_id)
            .join(Detainee, Detainee.id == Case.detainee_id)
            .where(Detainee.surname == "Demir", Letter.letter_type == "L1", Letter.debt_id.is_not(None))
            .order_by(Letter.id)
        ).first()
        assert first is not None
        made = [first]
        for kind in ("L2", "L4", "L3", "L5", "L6"):
            letter = Letter(
                case_id=first.case_id,
                debt_id=None if kind == "L6" else first.debt_id,
                creditor_id=first.creditor_id,
                recipient_name=first.recipient_name,
                letter_type=kind,
                idempotency_key=f"test-reply-page-{kind}-{first.id}",
                letter_date=demo_world.today - timedelta(days=3),
                requested_by="user:1",
            )
            session.add(letter)
            session.flush()
            made.append(letter)
        for letter in made:
            known = new_reply_secrets(ReplyCodeKey.derive(demo_world.runtime.settings.secret_key))
            letter.status = LetterStatus.SENT.value
            letter.storage_key, letter.sha256 = f"letters/test-{letter.id}.pdf", "0" * 64  # never fetched here
            letter.reply_code_lookup, letter.reply_code_hash = known.lookup, known.code_hash
            letter.reply_token_hash = known.token_hash
            letter.reply_expires_at = utcnow() + timedelta(days=30)
            found[letter.letter_type] = (letter.id, known.token, known.code)
        debt_id = first.debt_id
        session.commit()
    assert debt_id is not None
    return Letters(demo_world, debt_id, found)


ASKED = {
    # letter: (field names the form has, field names it must not have)
    "L1": (
        ["principal_cents", "peildatum-dag", "collection_suspended", "interest_suspended", "creditor_customer_number",
         "arrangement_offered", "no_cooperation"],
        ["arrangement_decision", "termination_confirmed"],
    ),
    "L2": (
        ["principal_cents", "interest_cents", "costs_cents", "peildatum-jaar", "has_judgment", "no_cooperation"],
        ["collection_suspended", "arrangement_decision", "termination_confirmed"],
    ),
    "L4": (
        ["arrangement_decision", "arrangement_reason", "arrangement_monthly_cents", "interest_suspended",
         "no_cooperation"],
        ["principal_cents", "collection_suspended", "termination_confirmed", "peildatum-dag"],
    ),
    "L3": (  # the reminder of the payment proposal asks what the proposal asked
        ["arrangement_decision", "no_cooperation"],
        ["principal_cents", "collection_suspended", "termination_confirmed"],
    ),
    "L5": (
        ["termination_confirmed", "termination_date-dag", "termination_reason", "no_cooperation"],
        ["principal_cents", "collection_suspended", "arrangement_decision"],
    ),
}  # fmt: skip


@pytest.mark.parametrize("kind", list(ASKED))
def test_each_letter_asks_only_what_it_asked_and_says_who_we_are(letters: Letters, kind: str) -> None:
    letters.open(kind)
    page = _text(letters.client.get("/antwoord/brief"))

    present, absent = ASKED[kind]
    for name in present:
        assert f'name="{name}"' in page, (kind, name)
    for name in absent:
        assert f'name="{name}"' not in page, (kind, name)
    config = runtime(letters.demo.app).settings
    assert "Wie zijn wij?" in page
    assert f"Wij zijn {config.sender_name}" in page
    assert config.sender_phone in page
    assert config.sender_email in page
    if kind == "L3":
        assert "Herinnering van onze brief 'Voorstel betalingsregeling'" in page
    words = re.sub(r"<[^>]*>", " ", page)  # what a reader sees, not the attributes (a CSRF token may hold "L2")
    assert re.search(r"\bL[0-9]+\b", words) is None  # no letter codes, only words


def test_a_saldo_answer_is_checked_then_sent_and_confirmed_with_reference_date_and_summary(letters: Letters) -> None:
    letters.open("L2")
    yesterday = letters.demo.today - timedelta(days=1)

    filled = fill(letters.client, {"principal_cents": "1.234,56", "costs_cents": "40", "has_judgment": "nee",
                                   **_parts("peildatum", yesterday), "contact_name": "Afdeling Inning"})  # fmt: skip

    assert filled.status_code == 303, _text(filled)[:3000]
    assert filled.headers["Location"].endswith("/antwoord/controleer")
    assert letters.replies("L2") == []  # nothing is sent before the check
    check = letters.client.get("/antwoord/controleer")
    page = _text(check)
    assert check.status_code == 200
    assert "<title>Controleer uw antwoord" in page
    assert "€ 1.234,56" in page
    assert "€ 40,00" in page
    assert _day(yesterday) in page
    assert "Afdeling Inning" in page
    assert page.count(">Wijzigen<") == 5
    assert 'href="/antwoord/brief#veld-principal_cents"' in page
    assert "Wie zijn wij?" in page
    # "Wijzigen" goes back to the form with everything typed so far.
    again = _text(letters.client.get("/antwoord/brief"))
    assert 'value="1.234,56"' in again
    assert f'value="{yesterday.day}"' in again

    sent = confirm(letters.client)

    assert sent.status_code == 303
    assert sent.headers["Location"].endswith("/antwoord/bedankt")
    [reply] = letters.replies("L2")
    assert (reply.principal_cents, reply.costs_cents, reply.peildatum, reply.has_judgment, reply.version) == (
        123_456, 4_000, yesterday, False, 1)  # fmt: skip
    thanks = _text(letters.client.get("/antwoord/bedankt"))
    assert "Bedankt voor uw antwoord" in thanks
    assert re.search(r"SR-\d{6}-\d+, antwoord 1", thanks)  # the reference
    assert _day(letters.demo.today) in thanks  # the date it was received
    assert "Wat u ons stuurde" in thanks
    assert "€ 1.234,56" in thanks
    assert "Iets verbeteren of aanvullen?" in thanks
    assert "Wijzigen" not in thanks  # what was sent is sent
    assert letters.client.get("/antwoord/brief").status_code == 303  # the session ended with the answer


def test_errors_are_dutch_next_to_their_fields_and_the_title_says_fout(letters: Letters) -> None:
    letters.open("L1")

    refused = fill(letters.client, {"principal_cents": "veel", "peildatum-dag": "31", "peildatum-maand": "2",
                                    "peildatum-jaar": "2026", "collection_suspended_until-dag": "4"})  # fmt: skip

    page = _text(refused)
    assert refused.status_code == 422
    assert "<title>Fout: " in page
    assert "Controleer de invoer" in page  # the summary at the top
    assert 'id="veld-principal_cents-fout"' in page
    assert "Vul een bedrag in euro in" in page
    assert 'id="veld-peildatum-fout"' in page
    assert "Deze datum bestaat niet." in page
    assert "Vul ook de maand en het jaar in" in page
    assert 'value="veel"' in page  # what was typed stays
    assert "principal_cents:" not in page  # no internal names in the messages


def test_a_payment_proposal_is_answered_with_agree_refuse_or_counter(letters: Letters) -> None:
    letters.open("L4")
    nothing = fill(letters.client, {"note": "Wij kijken ernaar."})
    assert nothing.status_code == 422
    assert "Kies of u akkoord gaat met het voorstel." in _text(nothing)
    no_reason = fill(letters.client, {"arrangement_decision": "refuse"})
    assert no_reason.status_code == 422
    assert "Schrijf waarom u niet akkoord gaat." in _text(no_reason)

    refused = submit(letters.client, {"arrangement_decision": "refuse", "arrangement_reason": "Te laag bedrag."})

    assert refused.status_code == 303, _text(refused)[:3000]
    letters.open("L4")
    counter_offer = {
        "arrangement_decision": "counter",
        "arrangement_monthly_cents": "25,00",
        "arrangement_terms": "Vanaf de vrijlating.",
        "interest_suspended": "ja",
    }
    counter = submit(letters.client, counter_offer)
    assert counter.status_code == 303, _text(counter)[:3000]
    first, second = letters.replies("L4")
    # The decision is data; the note is left for the creditor's own words.
    assert (first.arrangement_decision, first.arrangement_reason, first.arrangement_offered, first.version) == (
        "refuse", "Te laag bedrag.", False, 1)  # fmt: skip
    assert first.note is None
    assert (second.arrangement_decision, second.arrangement_offered, second.arrangement_monthly_cents) == (
        "counter", True, 2_500)  # fmt: skip
    assert (second.arrangement_terms, second.interest_suspended, second.note) == ("Vanaf de vrijlating.", True, None)


def test_accepting_a_proposal_takes_the_plan_the_letter_proposed() -> None:
    plan = Proposal(monthly_cents=1_250, months=20, start_date=date(2027, 2, 1))

    data, errors = stored_answer("L4", {"arrangement_decision": "accept", "note": "Graag per maand."}, plan)

    assert errors == {}
    assert (data["arrangement_decision"], data["arrangement_offered"], data["arrangement_monthly_cents"]) == (
        "accept", True, 1_250)  # fmt: skip
    assert data["note"] == "Graag per maand."  # the creditor's own words, nothing of ours


def test_a_termination_is_confirmed_with_its_end_date(letters: Letters) -> None:
    letters.open("L5")
    end = letters.demo.today + timedelta(days=20)
    without_date = fill(letters.client, {"termination_confirmed": "ja"})
    assert without_date.status_code == 422
    assert "Vul de datum in waarop de overeenkomst eindigt." in _text(without_date)

    done = submit(letters.client, {"termination_confirmed": "ja", **_parts("termination_date", end),
                                   "note": "Modem graag retour sturen."})  # fmt: skip

    assert done.status_code == 303, _text(done)[:3000]
    [reply] = letters.replies("L5")
    assert (reply.termination_confirmed, reply.termination_date, reply.termination_reason) == (True, end, None)
    assert reply.note == "Modem graag retour sturen."


def test_no_cooperation_can_be_answered_to_every_letter(letters: Letters) -> None:
    for kind in ("L2", "L4", "L5"):
        letters.open(kind)
        done = submit(letters.client, {"no_cooperation": "client_unknown"})
        assert done.status_code == 303, (kind, _text(done)[:3000])
        [reply] = letters.replies(kind)
        assert reply.no_cooperation == "client_unknown"


def test_returning_with_the_code_shows_the_earlier_answer_and_a_correction_is_version_2(letters: Letters) -> None:
    yesterday = letters.demo.today - timedelta(days=1)
    letters.open("L2")
    assert submit(letters.client, {"principal_cents": "1.000,00", **_parts("peildatum", yesterday)}).status_code == 303

    code = letters.letters["L2"][2]
    opened = letters.client.post("/antwoord", data={"code": code, "csrf_token": csrf(letters.client, "/antwoord")})
    assert opened.status_code == 303
    form = _text(letters.client.get("/antwoord/brief"))
    assert "U hebt al geantwoord" in form
    assert f"Op {_day(letters.demo.today)} stuurde u ons dit antwoord (antwoord 1)" in form
    assert "€ 1.000,00" in form  # the summary
    assert 'value="1.000,00"' in form  # and the form filled in with it, to correct
    filled = fill(letters.client, {"principal_cents": "1.250,75", **_parts("peildatum", yesterday)})
    assert filled.status_code == 303
    check = _text(letters.client.get("/antwoord/controleer"))
    assert "Dit antwoord vervangt uw antwoord van" in check

    assert confirm(letters.client).status_code == 303

    first, second = letters.replies("L2")
    assert (first.version, first.principal_cents, first.superseded_at is not None) == (1, 100_000, True)
    assert (second.version, second.principal_cents, second.superseded_at) == (2, 125_075, None)
    assert re.search(r"SR-\d{6}-\d+, antwoord 2", _text(letters.client.get("/antwoord/bedankt")))


def _with_file(data: bytes, name: str = "saldo.pdf") -> FileStorage:
    return FileStorage(io.BytesIO(data), filename=name, content_type="application/pdf")


def test_a_chosen_file_is_kept_after_an_error_on_another_field(letters: Letters) -> None:
    pdf = make_pdf()
    letters.open("L2")

    refused = fill(letters.client, {"principal_cents": "veel", "attachment": _with_file(pdf)})

    page = _text(refused)
    assert refused.status_code == 422
    assert "U hebt het bestand <strong>saldo.pdf</strong> gekozen. Wij hebben het bewaard" in page
    assert "Dit bestand niet meesturen" in page
    # Corrected without choosing the file again: the check page lists it, and it is sent with the answer.
    yesterday = letters.demo.today - timedelta(days=1)
    assert fill(letters.client, {"principal_cents": "12,00", **_parts("peildatum", yesterday)}).status_code == 303
    assert "saldo.pdf" in _text(letters.client.get("/antwoord/controleer"))
    assert confirm(letters.client).status_code == 303
    [reply] = letters.replies("L2")
    assert (reply.attachment_name, reply.attachment_bytes) == ("saldo.pdf", len(pdf))
    assert reply.attachment_key is not None
    assert runtime(letters.demo.app).store.get(reply.attachment_key) == pdf


def test_a_kept_file_can_be_left_out_and_a_refused_file_must_be_chosen_again(letters: Letters) -> None:
    letters.open("L2")
    assert fill(letters.client, {"principal_cents": "veel", "attachment": _with_file(make_pdf())}).status_code == 422
    yesterday = letters.demo.today - timedelta(days=1)
    left_out = fill(letters.client, {"principal_cents": "12,00", **_parts("peildatum", yesterday),
                                     "remove_attachment": "on"})  # fmt: skip
    assert left_out.status_code == 303
    assert "saldo.pdf" not in _text(letters.client.get("/antwoord/controleer"))

    refused = fill(letters.client, {"principal_cents": "12,00", "attachment": _with_file(b"GIF89a" + b"\0" * 50)})

    page = _text(refused)
    assert refused.status_code == 422
    # The summary names the field only where the message does not (macros/forms.html error_summary).
    assert "Alleen een PDF-bestand kan als bijlage mee." in page
    assert "Wij hebben het bewaard" not in page


def test_the_insurers_notice_without_a_debt_asks_only_the_suspension(letters: Letters) -> None:
    letters.open("L6")
    page = _text(letters.client.get("/antwoord/brief"))

    assert "Deze brief beantwoordt u per post, mail of telefoon" not in page
    for name in ("insurance_suspended", "insurance_suspended_from-dag", "contact_name", "note"):
        assert f'name="{name}"' in page, name
    for name in ("principal_cents", "no_cooperation", "arrangement_decision", "termination_confirmed"):
        assert f'name="{name}"' not in page, name
    assert "Wie zijn wij?" in page
