"""No false facts (issue 12, item 1): every letter type, for every detention type, before and after the release,
rendered to PDF and read back with pdftotext as its recipient reads it.

- Only a pre-trial case is ever called pre-trial ("voorlopige hechtenis"); a sentence without an end date reads as an
  unknown date, not as pre-trial detention.
- After the release no letter says the client is detained now ("zit nu in detentie", "zolang onze cliënt
  gedetineerd is", ...), and the letters that state the detention name the release date instead.
"""

from __future__ import annotations

import subprocess
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations.letters.render import render_pdf
from schulden.actors import UserActor
from schulden.cases.insurance import set_insurance
from schulden.cases.models import Case, DetentionType
from schulden.cases.notices import request_insurer_letter
from schulden.cases.services import fire_case_event
from schulden.creditors.models import Creditor, CreditorKind
from schulden.debts.models import Debt
from schulden.debts.services import fire_debt_event
from schulden.letters.compose import Sender, compose
from schulden.letters.models import Letter
from schulden.letters.services import request_letter
from schulden.roles import Role
from tests.conftest import NOW
from tests.factories import make_case, make_creditor, make_debt
from workflows import SYSTEM
from workflows import Engine as WorkflowEngine

SENDER = Sender("Schuldroute", ("Postbus 1", "1000 AA  TEST"), "088 000 00 00", "a@b.example", "http://127.0.0.1")
COUNSELLOR = UserActor(user_id=1, role=Role.COUNSELLOR)
RELEASED_ON = date(2026, 4, 1)

#: What a letter may not say once the client is free: he is detained now.
DETAINED_NOW = (
    "zit nu in detentie",
    "zit in detentie",
    "zit in voorlopige hechtenis",
    "zolang onze cliënt gedetineerd is",
    "nog steeds gedetineerd",
    "In detentie sinds",
    "Tijdens de detentie heeft onze cliënt geen inkomen",
)
#: (detention type, expected release): pre-trial has none; a sentence with and without a known end.
DETENTIONS = (
    (DetentionType.PRE_TRIAL, None),
    (DetentionType.PRISON_SENTENCE, date(2026, 9, 1)),
    (DetentionType.PRISON_SENTENCE, None),
    (DetentionType.CIVIL_DETENTION, None),
)


def _insurer(session: Session) -> Creditor:
    insurer = Creditor(
        name="Zorgverzekeraar Test", kind=CreditorKind.HEALTH_INSURER.value, category="zorg", may_receive_bsn=True,
        address_line="Postbus 400", postcode="2300 AK", city="Leiden",
    )  # fmt: skip
    session.add(insurer)
    session.flush()
    return insurer


def _letters(session: Session, engine: WorkflowEngine, detention: DetentionType, release: date | None) -> list[Letter]:
    """One letter of every type for a case with an insurer, two benefits, a municipality and a debt."""
    case = make_case(session, engine, detention_type=detention, expected_release=release)
    fire_case_event(session, engine, case, "record_consent", actor=COUNSELLOR, now=NOW)
    set_insurance(session, engine, COUNSELLOR, case, insurer_id=_insurer(session).id, policy_number="P-1",
                  benefits=["zorgtoeslag", "bijstand"])  # fmt: skip
    request_insurer_letter(session, case, round_=2, requested_by="test", today=NOW.date())
    debt = make_debt(session, engine, case, creditor=make_creditor(session))
    fire_debt_event(session, engine, debt, "send_letters", actor=COUNSELLOR, now=NOW)
    fire_debt_event(session, engine, debt, "letters_sent", actor=SYSTEM, now=NOW)
    fire_debt_event(session, engine, debt, "reply_overdue", actor=SYSTEM, now=NOW)  # L3
    fire_debt_event(session, engine, debt, "confirm_balance", actor=COUNSELLOR, now=NOW)
    payload = {"monthly_cents": 1250, "months": 6, "start_date": "2026-05-01", "basis": "het leefgeld"}
    fire_debt_event(session, engine, debt, "propose_arrangement", actor=COUNSELLOR, payload=payload, now=NOW)
    other = make_debt(session, engine, case, creditor=make_creditor(session, name="Telecom B.V."))
    fire_debt_event(session, engine, other, "send_letters", actor=COUNSELLOR, now=NOW)
    fire_debt_event(session, engine, other, "letters_sent", actor=SYSTEM, now=NOW)
    fire_debt_event(session, engine, other, "request_termination", actor=COUNSELLOR, now=NOW)  # L5
    for kind in ("L2", "L8", "L9", "L10"):
        request_letter(
            session, case=case, letter_type=kind, key=f"facts-{case.id}-{kind}", requested_by="test",
            letter_date=NOW.date(), debt=session.get(Debt, debt.id) if kind == "L2" else None,
            organisation_id=case.municipality_id if kind == "L8" else None,
        )  # fmt: skip
    session.flush()
    letters = list(session.scalars(select(Letter).where(Letter.case_id == case.id).order_by(Letter.id)))
    assert {x.letter_type for x in letters} == {f"L{n}" for n in range(1, 11)}
    return letters


def _text(session: Session, engine: WorkflowEngine, letter: Letter, tmp_path: Path) -> str:
    content = compose(session, letter, sender=SENDER, calendar=engine.calendar, reply=None)
    path = tmp_path / f"{letter.letter_type}-{letter.id}.pdf"
    path.write_bytes(render_pdf(content))
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True)
    return " ".join(out.stdout.split())


@pytest.mark.parametrize("released", [False, True], ids=["gedetineerd", "vrijgelaten"])
@pytest.mark.parametrize(("detention", "release"), DETENTIONS, ids=lambda v: str(v))
def test_every_letter_states_the_detention_as_it_is(
    session: Session,
    wf_engine: WorkflowEngine,
    tmp_path: Path,
    detention: DetentionType,
    release: date | None,
    released: bool,
) -> None:
    letters = _letters(session, wf_engine, detention, release)
    case = session.get_one(Case, letters[0].case_id)
    if released:
        case.actual_release = RELEASED_ON
        session.flush()
    seen = set()
    for letter in letters:
        if released and letter.letter_type in ("L9",):
            continue  # the consent form is made at intake, to be signed in the PI; the release cancels it unsent
        if letter.letter_type == "L6" and (letter.round > 1) != released:
            continue  # suspension while detained, reactivation after the release (the release cancels the first)
        text = _text(session, wf_engine, letter, tmp_path)
        where = f"{letter.letter_type} (ronde {letter.round})"
        if detention is not DetentionType.PRE_TRIAL:
            assert "voorlopige hechtenis" not in text, where
        if released:
            for phrase in DETAINED_NOW:
                assert phrase not in text, f"{where} says '{phrase}' after the release"
        seen.add(letter.letter_type)
    assert len(seen) >= 9


def test_the_referral_after_an_early_release_names_the_release(
    session: Session, wf_engine: WorkflowEngine, tmp_path: Path
) -> None:
    letters = _letters(session, wf_engine, DetentionType.PRISON_SENTENCE, date(2026, 9, 1))
    session.get_one(Case, letters[0].case_id).actual_release = RELEASED_ON
    session.flush()
    [l8] = [x for x in letters if x.letter_type == "L8"]

    text = _text(session, wf_engine, l8, tmp_path)

    assert "Onze cliënt is op 1 april 2026 vrijgelaten." in text
    assert "Vrijgelaten op 1 april 2026" in text
    assert "zit nu in detentie" not in text
    assert "Verwachte vrijlating" not in text


def test_a_pre_trial_case_is_called_so_while_detained(
    session: Session, wf_engine: WorkflowEngine, tmp_path: Path
) -> None:
    letters = _letters(session, wf_engine, DetentionType.PRE_TRIAL, None)
    by_type = {x.letter_type: x for x in letters if not (x.letter_type == "L6" and x.round > 1)}
    for kind in ("L1", "L6", "L7", "L8"):
        assert "voorlopige hechtenis" in _text(session, wf_engine, by_type[kind], tmp_path), kind


def test_a_creditor_reads_only_the_threat_of_its_own_claim(
    session: Session, wf_engine: WorkflowEngine, tmp_path: Path
) -> None:
    """The eviction recorded on the rent debt is the landlord's business and the municipality's, not the CJIB's."""
    case = make_case(session, wf_engine)
    fire_case_event(session, wf_engine, case, "record_consent", actor=COUNSELLOR, now=NOW)
    rent = make_debt(session, wf_engine, case, creditor=make_creditor(session, name="Woonstichting"))
    fine = make_debt(
        session, wf_engine, case, creditor=make_creditor(session, name="Centraal Justitieel Incassobureau")
    )
    rent.threat = "eviction"
    case.threat, case.urgent = "eviction", True
    session.flush()
    for debt in (rent, fine):
        fire_debt_event(session, wf_engine, debt, "send_letters", actor=COUNSELLOR, now=NOW)
    l8 = request_letter(
        session, case=case, letter_type="L8", key=f"threat-{case.id}-L8", requested_by="test", letter_date=NOW.date(),
        organisation_id=case.municipality_id,
    )  # fmt: skip
    first = {x.debt_id: x for x in session.scalars(select(Letter).where(Letter.letter_type == "L1"))}

    assert "huisuitzetting" in _text(session, wf_engine, first[rent.id], tmp_path)
    assert "huisuitzetting" not in _text(session, wf_engine, first[fine.id], tmp_path)
    assert "huisuitzetting" in _text(session, wf_engine, l8, tmp_path)
