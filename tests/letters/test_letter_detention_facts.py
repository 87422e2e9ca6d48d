"""What a creditor reads about the detention is what the case records (issue 12, item 1, the pre-trial part).

Every case without an expected release date was written up as pre-trial detention: a sentenced detainee's landlord
read "Onze cliënt zit in voorlopige hechtenis". Here the notice of detention (L1) is composed and rendered for
every detention type, with and without a release date, and the sentences about pre-trial detention appear exactly
for pre-trial cases; an unknown end date of a sentence reads "nog onbekend".
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from schulden.cases.models import DetentionType
from schulden.debts.services import fire_debt_event
from schulden.letters.compose import Sender, compose
from schulden.letters.models import Letter
from schulden.letters.templates import render_text
from tests.conftest import NOW, actor
from tests.factories import make_case, make_creditor, make_debt
from tests.letter_text import text_of
from workflows import Engine as WorkflowEngine

SENDER = Sender("Schuldroute", ("Postbus 1", "1000 AA  TEST"), "088 000 00 00", "a@b.example", "http://127.0.0.1")
PRE_TRIAL_WORDS = "voorlopige hechtenis"
COUNSELLOR = actor("counsellor", "user:cns")


def _l1_text(session: Session, engine: WorkflowEngine, detention_type: DetentionType, release: date | None) -> str:
    case = make_case(session, engine, detention_type=detention_type, expected_release=release)
    debt = make_debt(session, engine, case, creditor=make_creditor(session))
    fire_debt_event(session, engine, debt, "send_letters", actor=COUNSELLOR, now=NOW)
    session.flush()
    letter = session.scalars(select(Letter).where(Letter.debt_id == debt.id, Letter.letter_type == "L1")).one()
    return text_of(render_text(compose(session, letter, sender=SENDER, calendar=engine.calendar, reply=None)))


#: Every detention type without a release date, and with one (a pre-trial case has none: the intake refuses it).
CASES = [(kind, None) for kind in DetentionType] + [
    (kind, date(2027, 3, 1)) for kind in DetentionType if kind is not DetentionType.PRE_TRIAL
]


@pytest.mark.parametrize(("detention_type", "release"), CASES, ids=lambda v: str(v))
def test_only_a_pre_trial_case_is_called_pre_trial(
    session: Session, wf_engine: WorkflowEngine, detention_type: DetentionType, release: date | None
) -> None:
    text = _l1_text(session, wf_engine, detention_type, release)
    if detention_type is DetentionType.PRE_TRIAL:
        assert "Onze cliënt zit in voorlopige hechtenis." in text
        assert "Verwachte vrijlating: onbekend (voorlopige hechtenis)" in text
        return
    assert PRE_TRIAL_WORDS not in text
    if release is None:
        assert "Verwachte vrijlating: nog onbekend" in text
    else:
        assert "Verwachte vrijlating: 1 maart 2027" in text
