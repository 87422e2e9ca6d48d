"""Letters a creditor can match and accept (issue 12, item 3), read from the rendered PDF as a creditor reads it.

One reference per client and debt on every letter about it; the notice of detention carries the request for a
statement of account (one letter, one reply code); a reminder names the letter it chases, its date and reference,
repeats the questions and never calls a released client detained; the attachments listed are exactly the ones the
text promises; a payment proposal is set against the whole claim; the CJIB gets its own variant.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations.letters.render import render_pdf
from schulden.cases.models import Case, DetentionType
from schulden.debts.models import Debt, DebtCategory
from schulden.debts.services import fire_debt_event
from schulden.letters.compose import ATTACHMENT_WORDS, Sender, _attachments, compose
from schulden.letters.content import LETTER_TYPES
from schulden.letters.field_guide import sample_content
from schulden.letters.models import Letter, LetterStatus
from schulden.letters.templates import BulletList, Facts, Heading, Paragraph, render_text
from schulden.roles import Role
from tests.conftest import NOW, actor
from tests.factories import make_case, make_creditor, make_debt
from workflows import SYSTEM
from workflows import Engine as WorkflowEngine

SENDER = Sender("Schuldroute", ("Postbus 1", "1000 AA  TEST"), "088 000 00 00", "a@b.example", "http://127.0.0.1")
COUNSELLOR = actor(Role.COUNSELLOR.value, "user:cns")
CJIB = "Centraal Justitieel Incassobureau (CJIB)"
KENMERK = "2026-0042-7781"
RELEASE = date(2026, 9, 1)  # expected release of a sentence (NOW is 2 March 2026)
L1_TITLE = "Melding detentie, verzoek om de incasso op te schorten en om een saldo-opgave"


# -- helpers -----------------------------------------------------------------------------------------------------------


def _debt(
    session: Session,
    engine: WorkflowEngine,
    *,
    detention_type: DetentionType = DetentionType.PRISON_SENTENCE,
    creditor: str = "Woonstichting Test",
    debt_type: str = "huur",
    principal_cents: int = 47_500,
) -> Debt:
    release = None if detention_type is DetentionType.PRE_TRIAL else RELEASE
    case = make_case(session, engine, detention_type=detention_type, expected_release=release)
    is_cjib = creditor.startswith("Centraal")
    category = DebtCategory.PUBLIEK if is_cjib else DebtCategory.OVERIG
    debt = make_debt(
        session,
        engine,
        case,
        creditor=make_creditor(session, name=creditor, category=category, may_receive_bsn=is_cjib),
        debt_type=debt_type,
        category=category,
        principal_cents=principal_cents,
    )
    debt.creditor_reference = KENMERK
    session.flush()
    return debt


#: The debt process's events that the system fires (its timers and the sent mark); the rest the counsellor.
SYSTEM_EVENTS = frozenset({"letters_sent", "reply_overdue", "second_reminder_due", "arrangement_reply_overdue"})


def _fire(session: Session, engine: WorkflowEngine, debt: Debt, *steps: str, days: int = 0, **payload: object) -> None:
    """Fire `steps` on the debt, `days` after NOW (a letter's date is the day its step was taken)."""
    for event in steps:
        who = SYSTEM if event in SYSTEM_EVENTS else COUNSELLOR
        fire_debt_event(
            session, engine, debt, event, actor=who, payload=payload or None, now=NOW + timedelta(days=days)
        )
    session.flush()


def _letters(session: Session, debt: Debt, letter_type: str) -> list[Letter]:
    return list(
        session.scalars(
            select(Letter).where(Letter.debt_id == debt.id, Letter.letter_type == letter_type).order_by(Letter.id)
        )
    )


def _mark_sent(session: Session, debt: Debt) -> None:
    for letter in session.scalars(select(Letter).where(Letter.debt_id == debt.id)):
        letter.status = LetterStatus.SENT.value
        letter.storage_key, letter.sha256 = f"letters/{letter.id}.pdf", "0" * 64
    session.flush()


#: The footer line of every page: our reference, the letter type and text version, the letter number, the page.
FOOTER = re.compile(r"^\s*SR-\d{6}(?:-\d+)? · L\d+ versie \d+ · brief \d+\s+Pagina \d+ van \d+\s*$")


def _pdf_lines(session: Session, engine: WorkflowEngine, letter: Letter, tmp_path: Path) -> list[str]:
    content = compose(session, letter, sender=SENDER, calendar=engine.calendar, reply=None)
    path = tmp_path / f"letter-{letter.id}.pdf"
    path.write_bytes(render_pdf(content))
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True)
    return out.stdout.splitlines()


def _pdf(session: Session, engine: WorkflowEngine, letter: Letter, tmp_path: Path) -> str:
    """The letter as pdftotext -layout reads it, without the page footers and with whitespace collapsed, so that a
    sentence wrapped over lines (or pages) reads as one."""
    lines = _pdf_lines(session, engine, letter, tmp_path)
    return " ".join(" ".join(line for line in lines if not FOOTER.match(line)).split())


def _released(session: Session, debt: Debt, on: date) -> None:
    case = session.get_one(Case, debt.case_id)
    case.actual_release = on
    session.flush()


def _reference(debt: Debt) -> str:
    return f"SR-{debt.case_id:06d}-{debt.id}"


# -- one reference, one notice -----------------------------------------------------------------------------------------


def test_every_letter_about_a_debt_carries_the_same_reference(
    session: Session, wf_engine: WorkflowEngine, tmp_path: Path
) -> None:
    debt = _debt(session, wf_engine)
    _fire(session, wf_engine, debt, "send_letters", "letters_sent")
    _mark_sent(session, debt)
    _fire(session, wf_engine, debt, "reply_overdue", days=15)
    _fire(session, wf_engine, debt, "request_termination", days=20)
    other = _debt(session, wf_engine)
    _fire(session, wf_engine, other, "send_letters")
    letters = [*_letters(session, debt, "L1"), *_letters(session, debt, "L3"), *_letters(session, debt, "L5")]
    assert [x.letter_type for x in letters] == ["L1", "L3", "L5"]
    for letter in letters:
        text = _pdf(session, wf_engine, letter, tmp_path)
        footers = [line.split() for line in _pdf_lines(session, wf_engine, letter, tmp_path) if FOOTER.match(line)]
        # The letter itself is still told apart: its type and number on every page.
        assert footers
        assert all(f[:3] == [_reference(debt), "·", letter.letter_type] and f[7] == str(letter.id) for f in footers)
        assert "Ons kenmerk" in text
        assert _reference(debt) in text
        assert f"Vermeld bij uw antwoord altijd ons kenmerk {_reference(debt)}." in text
    other_text = _pdf(session, wf_engine, _letters(session, other, "L1")[0], tmp_path)
    assert _reference(other) in other_text
    assert _reference(debt) != _reference(other)


def test_first_contact_is_one_notice_that_asks_for_the_statement_of_account(
    session: Session, wf_engine: WorkflowEngine, tmp_path: Path
) -> None:
    debt = _debt(session, wf_engine)
    _fire(session, wf_engine, debt, "send_letters")
    letters = list(session.scalars(select(Letter).where(Letter.debt_id == debt.id)))
    assert [x.letter_type for x in letters] == ["L1"]
    text = _pdf(session, wf_engine, letters[0], tmp_path)
    assert "Uw kenmerk" in text
    assert KENMERK in text
    assert f"Deze brief gaat over uw vordering met kenmerk {KENMERK}." in text
    assert "de incasso op te schorten zolang onze cliënt gedetineerd is;" in text
    # Everything the statement-of-account request (L2) asks, domain.md 4.
    for asked in (
        "de hoofdsom;",
        "de rente;",
        "de incassokosten (buitengerechtelijke kosten);",
        "de kosten van een rechtszaak of deurwaarder, als die er zijn;",
        "de betalingen die u al heeft ontvangen;",
        "de datum waarop de schuld is ontstaan;",
        "of er een vonnis is, en of er beslag is gelegd;",
        "of de vordering is verkocht of overgedragen aan een andere partij;",
        "de naam van de oorspronkelijke schuldeiser, als u de vordering int voor een ander;",
        "de datum waarop het saldo is berekend (de peildatum).",
        "Wilt u ook laten weten of u wilt meewerken aan een regeling?",
    ):
        assert asked in text, asked


# -- the reminder ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("detention_type", [DetentionType.PRE_TRIAL, DetentionType.PRISON_SENTENCE])
@pytest.mark.parametrize("released", [False, True], ids=["detained", "released"])
def test_a_reminder_names_the_letter_it_chases_and_repeats_the_questions(
    session: Session, wf_engine: WorkflowEngine, tmp_path: Path, detention_type: DetentionType, released: bool
) -> None:
    debt = _debt(session, wf_engine, detention_type=detention_type)
    _fire(session, wf_engine, debt, "send_letters", "letters_sent")
    _mark_sent(session, debt)
    _fire(session, wf_engine, debt, "reply_overdue", days=15)
    if released:
        # The process asks no reminder after release; one asked before it may still be rendered (a retried job).
        _released(session, debt, date(2026, 3, 18))
    notice, reminder = _letters(session, debt, "L1")[0], _letters(session, debt, "L3")[0]
    text = _pdf(session, wf_engine, reminder, tmp_path)
    assert f"Herinnering: onze brief van 2 maart 2026, kenmerk {_reference(debt)}" in text
    assert (
        f'Op 2 maart 2026 stuurden wij u onze brief "{L1_TITLE}" over Jan Jansen, met ons kenmerk '
        f"{_reference(debt)} en uw kenmerk {KENMERK}." in text
    )
    assert notice.letter_date == date(2026, 3, 2)
    assert reminder.letter_date == date(2026, 3, 17)
    assert "In onze brief van 2 maart 2026 vroegen wij u:" in text
    assert "de vordering niet over te dragen aan een incassobureau of deurwaarder;" in text
    assert "ons een overzicht van de vordering te sturen: de hoofdsom, de rente" in text
    assert "de peildatum van het saldo;" in text
    if released:
        assert "Onze cliënt is inmiddels vrijgelaten." in text
        assert "gedetineerd" not in text
        assert "tot wij u een betalingsvoorstel doen" in text
    else:
        assert "Onze cliënt is nog steeds gedetineerd; de situatie van onze cliënt is niet veranderd." in text
        assert "vrijgelaten" not in text
    assert "voorlopige hechtenis" not in text


def test_a_reminder_of_a_payment_proposal_chases_the_proposal_as_its_first_reminder(
    session: Session, wf_engine: WorkflowEngine, tmp_path: Path
) -> None:
    debt = _debt(session, wf_engine)
    _fire(session, wf_engine, debt, "send_letters", "letters_sent")
    _mark_sent(session, debt)
    _fire(session, wf_engine, debt, "reply_overdue", days=15)
    _fire(session, wf_engine, debt, "confirm_balance", days=20)
    _fire(
        session, wf_engine, debt, "propose_arrangement", days=21,
        monthly_cents=1250, months=20, start_date="2026-04-01", basis="het inkomen tijdens de detentie",
    )  # fmt: skip
    _mark_sent(session, debt)
    _fire(session, wf_engine, debt, "arrangement_reply_overdue", days=40)
    reminder = _letters(session, debt, "L3")[-1]
    text = _pdf(session, wf_engine, reminder, tmp_path)
    assert text.count("Tweede herinnering") == 0
    assert f"Herinnering: onze brief van 23 maart 2026, kenmerk {_reference(debt)}" in text
    assert 'onze brief "Voorstel voor een betalingsregeling"' in text
    assert "akkoord gaat met ons voorstel voor een betalingsregeling van € 12,50 per maand vanaf 1 april 2026" in text
    assert "incassobureau" not in text
    assert "gemeente" not in text


# -- attachments -------------------------------------------------------------------------------------------------------

#: A sentence that says we enclose something.
PROMISE = re.compile(r"\bbijlagen?\b|\bbijgevoegd|\bmeegestuurd|\bsturen wij (?:\w+ )?mee\b", re.IGNORECASE)


def _sentences(letter_type: str, fields: dict[str, object]) -> list[str]:
    content = replace(sample_content(letter_type), fields=fields)
    parts: list[str] = []
    for block in render_text(content).blocks:
        if isinstance(block, Paragraph | Heading):
            parts.append(block.text)
        elif isinstance(block, BulletList):
            parts.extend(block.items)
        elif isinstance(block, Facts):
            parts.extend(f"{label}: {value}" for label, value in block.rows)
    return [s for part in parts for s in re.split(r"(?<=[.;?!])\s+", part)]


def _variants(letter_type: str) -> list[dict[str, object]]:
    base = dict(sample_content(letter_type).fields)
    variants = [base, {**base, "actual_release": None}, {**base, "cjib": {"schadevergoeding": True,
                "deferral_start": None}}]  # fmt: skip
    if letter_type == "L6":
        variants.append({**base, "reactivation": True})
    return variants


@pytest.mark.parametrize("letter_type", LETTER_TYPES)
def test_the_attachments_listed_are_exactly_the_ones_the_text_promises(letter_type: str) -> None:
    for fields in _variants(letter_type):
        attachments = _attachments(letter_type, fields)
        sentences = _sentences(letter_type, fields)
        promises = [s for s in sentences if PROMISE.search(s)]
        for attachment in attachments:
            words = ATTACHMENT_WORDS[attachment]
            assert any(any(w in s.lower() for w in words) for s in promises), (letter_type, attachment, promises)
        for promise in promises:
            assert any(any(w in promise.lower() for w in ATTACHMENT_WORDS[a]) for a in attachments), (
                letter_type,
                promise,
                attachments,
            )


def test_the_attachments_are_printed_under_bijlagen(
    session: Session, wf_engine: WorkflowEngine, tmp_path: Path
) -> None:
    debt = _debt(session, wf_engine)
    _fire(session, wf_engine, debt, "send_letters", "letters_sent", "request_termination")
    notice = _pdf(session, wf_engine, _letters(session, debt, "L1")[0], tmp_path)
    assert "Bijlagen • Machtiging en toestemmingsverklaring (getekend) • Detentieverklaring" in notice
    termination = _pdf(session, wf_engine, _letters(session, debt, "L5")[0], tmp_path)
    assert "Een detentieverklaring sturen wij mee." in termination
    assert "Bijlagen • Machtiging en toestemmingsverklaring (getekend) • Detentieverklaring" in termination


# -- the payment proposal ----------------------------------------------------------------------------------------------


def _proposal(
    session: Session, wf_engine: WorkflowEngine, tmp_path: Path, *, monthly: int, months: int, released: bool = False
) -> str:
    debt = _debt(session, wf_engine, principal_cents=47_500)
    if released:
        _released(session, debt, date(2026, 3, 1))
    _fire(session, wf_engine, debt, "send_letters", "letters_sent", "confirm_balance")
    _fire(
        session, wf_engine, debt, "propose_arrangement",
        monthly_cents=monthly, months=months, start_date="2026-04-01", basis="het inkomen tijdens de detentie",
    )  # fmt: skip
    return _pdf(session, wf_engine, _letters(session, debt, "L4")[0], tmp_path)


def test_a_plan_for_less_than_the_claim_says_it_is_for_the_detention_and_what_remains(
    session: Session, wf_engine: WorkflowEngine, tmp_path: Path
) -> None:
    text = _proposal(session, wf_engine, tmp_path, monthly=1250, months=20)
    assert "Totaal van de termijnen € 250,00" in text
    assert "Totaal van de vordering € 475,00" in text
    assert "Blijft daarna open € 225,00" in text
    assert (
        "Deze regeling is bedoeld voor de periode dat onze cliënt gedetineerd is. Zij betaalt niet de hele vordering: "
        "na de laatste termijn staat er nog € 225,00 open. Na de vrijlating bekijken wij opnieuw" in text
    )
    # No invoice is enclosed: the text asks the creditor for it and lists only the authorisation.
    assert "Wilt u bij uw antwoord uw laatste factuur of aanmaning voegen?" in text
    assert "sturen wij uw laatste factuur" not in text
    assert "Bijlagen • Machtiging en toestemmingsverklaring (getekend)" in text
    assert "Factuur" not in text.split("Bijlagen")[-1]


def test_after_release_a_partial_plan_is_not_called_a_plan_for_the_detention(
    session: Session, wf_engine: WorkflowEngine, tmp_path: Path
) -> None:
    text = _proposal(session, wf_engine, tmp_path, monthly=1250, months=20, released=True)
    assert "gedetineerd" not in text
    assert "Deze regeling betaalt niet de hele vordering: na de laatste termijn staat er nog € 225,00 open." in text


def test_a_plan_that_covers_the_claim_says_when_it_is_paid(
    session: Session, wf_engine: WorkflowEngine, tmp_path: Path
) -> None:
    text = _proposal(session, wf_engine, tmp_path, monthly=2500, months=20)
    # 19 instalments of EUR 25 pay EUR 475: the 19th, on 1 October 2027, pays it off.
    assert "Met deze regeling is de hele vordering van € 475,00 uiterlijk op 1 oktober 2027 betaald." in text
    assert "Blijft daarna open" not in text
    assert "bedoeld voor de periode" not in text


# -- the CJIB ----------------------------------------------------------------------------------------------------------


def test_the_cjib_gets_no_word_about_collection_agencies_and_its_betalingskenmerk(
    session: Session, wf_engine: WorkflowEngine, tmp_path: Path
) -> None:
    debt = _debt(session, wf_engine, creditor=CJIB, debt_type="cjib_boete")
    _fire(session, wf_engine, debt, "send_letters")
    text = _pdf(session, wf_engine, _letters(session, debt, "L1")[0], tmp_path)
    assert "incassobureau" not in text
    assert "deurwaarder;" not in text
    assert f"Betalingskenmerk {KENMERK}" in text
    assert "Uw kenmerk" not in text
    assert f"Deze brief gaat over de vordering met betalingskenmerk {KENMERK}." in text
    assert "in die periode geen verhogingen en geen kosten toe te voegen;" in text
    assert "de incasso op te schorten zolang onze cliënt gedetineerd is;" in text


def test_other_creditors_are_asked_not_to_hand_the_claim_over(
    session: Session, wf_engine: WorkflowEngine, tmp_path: Path
) -> None:
    debt = _debt(session, wf_engine)
    _fire(session, wf_engine, debt, "send_letters")
    text = _pdf(session, wf_engine, _letters(session, debt, "L1")[0], tmp_path)
    assert "de vordering niet over te dragen aan een incassobureau of deurwaarder;" in text
    assert "Betalingskenmerk" not in text


@pytest.mark.parametrize(
    ("detention_type", "released", "until"),
    [
        (DetentionType.PRISON_SENTENCE, None, "1 oktober 2026"),  # expected release 1 September + a month
        (DetentionType.PRE_TRIAL, None, "een maand na de vrijlating van onze cliënt"),
        (DetentionType.PRE_TRIAL, date(2026, 5, 20), "20 juni 2026"),
    ],
)
def test_a_schadevergoedingsmaatregel_asks_a_deferral_with_a_start_date(
    session: Session,
    wf_engine: WorkflowEngine,
    tmp_path: Path,
    detention_type: DetentionType,
    released: date | None,
    until: str,
) -> None:
    debt = _debt(
        session, wf_engine, detention_type=detention_type, creditor=CJIB, debt_type="schadevergoedingsmaatregel"
    )
    _fire(session, wf_engine, debt, "send_letters", "letters_sent")
    _mark_sent(session, debt)
    _fire(session, wf_engine, debt, "reply_overdue", days=15)
    if released is not None:
        _released(session, debt, released)
    notice = _pdf(session, wf_engine, _letters(session, debt, "L1")[0], tmp_path)
    assert f"de betaling uit te stellen tot {until};" in notice
    assert "zolang onze cliënt gedetineerd is" not in notice
    assert "incassobureau" not in notice
    if released is None and detention_type is DetentionType.PRE_TRIAL:
        assert "het uitstel loopt dan tot een maand na die datum" in notice
    reminder = _pdf(session, wf_engine, _letters(session, debt, "L3")[0], tmp_path)
    assert f"de betaling van de schadevergoedingsmaatregel uit te stellen tot {until}" in reminder
    assert "zolang onze cliënt gedetineerd is" not in reminder
    assert f"het betalingskenmerk {KENMERK}" in reminder


def test_a_reminder_when_the_round_restarts_counts_from_the_chased_letter(
    session: Session, wf_engine: WorkflowEngine
) -> None:
    debt = _debt(session, wf_engine)
    _fire(session, wf_engine, debt, "send_letters", "letters_sent")
    _fire(session, wf_engine, debt, "reply_overdue", days=15)
    _fire(session, wf_engine, debt, "second_reminder_due", days=30)
    first, second = _letters(session, debt, "L3")
    rendered = render_text(compose(session, second, sender=SENDER, calendar=wf_engine.calendar, reply=None))
    assert rendered.subject.startswith("Tweede herinnering: onze brief van 2 maart 2026")
    rendered = render_text(compose(session, first, sender=SENDER, calendar=wf_engine.calendar, reply=None))
    assert rendered.subject.startswith("Herinnering: onze brief van 2 maart 2026")
