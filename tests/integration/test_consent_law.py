"""Consent as the law asks (issue 12 item 6, domain.md 6.3).

The consent form (L9) says that consent is free and changes nothing about detention or leave, names the controller,
a concrete retention period, the detention data shared and the municipality of a referral; it does not call the PI's
casemanager a debt counsellor. A referral consent without a municipality is refused, by the domain operation and so
by the API. A partial withdrawal makes the withdrawal form (L10) for the detainee, stops the letters still waiting
for what was withdrawn, and tells each creditor who had one that our authorisation has ended.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from schulden.cases.models import Case, Consent, ConsentPurpose
from schulden.cases.services import ConsentItem, fire_case_event, record_consents, withdraw_consents
from schulden.consent_notices import notify_creditors_of_withdrawal
from schulden.consents import CASE_RETENTION_YEARS
from schulden.creditors.models import Creditor
from schulden.debts.models import Debt
from schulden.debts.services import fire_debt_event
from schulden.errors import ValidationFailed
from schulden.letters import lifecycle
from schulden.letters.compose import Sender, compose
from schulden.letters.models import Letter, LetterStatus
from schulden.letters.services import request_letter
from schulden.letters.templates import render_text
from schulden.organisations.models import Organisation
from schulden.roles import Role
from schulden.users.models import User
from tests.conftest import NOW, actor
from tests.factories import PI_STAFF, make_case, make_creditor, make_debt, make_municipality
from tests.letter_text import text_of
from workflows import Engine as WorkflowEngine

SENDER = Sender("Stichting Schuldroute", ("Postbus 1", "1000 AA  TEST"), "088 000 00 00", "a@b.example", "http://x")
COUNSELLOR = actor("counsellor", "user:cns")
TODAY = date(2026, 3, 2)  # NOW's day


def _text(session: Session, engine: WorkflowEngine, letter: Letter) -> str:
    return text_of(render_text(compose(session, letter, sender=SENDER, calendar=engine.calendar, reply=None)))


def _casemanager(session: Session) -> User:
    """A PI casemanager who asks for the form: his name must not be put next to 'schuldhulpverlener'."""
    user = User(username="cm.pi", display_name="Karel Casemanager", role=Role.PI_STAFF.value, password_hash="x")
    session.add(user)
    session.flush()
    return user


def _form(session: Session, engine: WorkflowEngine, case: Case, requested_by: str = "user:cns") -> str:
    letter = request_letter(
        session, case=case, letter_type="L9", key=f"t-L9-{case.id}", requested_by=requested_by, letter_date=TODAY
    )
    return _text(session, engine, letter)


# -- the form (L9) ---------------------------------------------------------------------------------------------------


def test_the_consent_form_says_what_the_law_asks(session: Session, wf_engine: WorkflowEngine) -> None:
    zwolle = make_municipality(session, name="Zwolle")
    case = make_case(session, wf_engine, municipality=zwolle, consent=False, expected_release=date(2026, 9, 1))
    casemanager = _casemanager(session)

    text = _form(session, wf_engine, case, requested_by=f"user:{casemanager.id}")

    # Free, and without effect on detention or leave.
    assert "U bent niet verplicht om toestemming te geven." in text
    assert "Dan heeft dat geen gevolgen voor uw detentie en ook niet voor uw verlof." in text
    # The controller, by name.
    assert "Stichting Schuldroute is verantwoordelijk voor wat er met uw gegevens gebeurt." in text
    assert "verwerkingsverantwoordelijke" in text
    # A concrete retention period, the one constant the retention job uses too.
    assert f"Wij bewaren uw dossier tot {CASE_RETENTION_YEARS} jaar nadat het is afgesloten." in text
    assert "vernietigen wij uw gegevens, of wij maken ze anoniem" in text
    # The detention data that are shared.
    assert "Dat u gedetineerd bent: in welke gevangenis, sinds wanneer en tot wanneer." in text
    # The referral names its municipality, as a box and in words.
    assert "aanmelden bij en overdragen aan de gemeente Zwolle" in text.splitlines()
    assert "Dan mogen wij u aanmelden bij de gemeente Zwolle. Alleen bij die gemeente." in text
    assert "Voor de aanmelding: alleen met de gemeente Zwolle." in text


def test_the_pi_casemanager_is_not_called_a_debt_counsellor(session: Session, wf_engine: WorkflowEngine) -> None:
    case = make_case(session, wf_engine, municipality=make_municipality(session), consent=False)
    casemanager = _casemanager(session)

    text = _form(session, wf_engine, case, requested_by=f"user:{casemanager.id}")

    assert "De casemanager werkt voor de gevangenis, niet voor Stichting Schuldroute." in text
    for line in text.splitlines():
        if "schuldhulpverlener" in line.lower():
            assert "casemanager" not in line.lower(), line
            assert casemanager.display_name not in line, line
    assert "Uw schuldhulpverlener is" not in text


def test_without_a_municipality_the_form_leaves_the_referral_out(session: Session, wf_engine: WorkflowEngine) -> None:
    case = make_case(session, wf_engine, consent=False)
    case.municipality_id = None
    session.flush()

    text = _form(session, wf_engine, case)

    assert "Aanmelden bij de gemeente staat nog niet op dit formulier." in text
    assert "aanmelden bij en overdragen aan de gemeente" not in text


def test_the_signed_form_names_the_municipality_consented_to(session: Session, wf_engine: WorkflowEngine) -> None:
    zwolle, deventer = make_municipality(session, name="Zwolle"), make_municipality(session, name="Deventer")
    case = make_case(session, wf_engine, municipality=deventer, consent=False)
    record_consents(
        session, wf_engine, case, actor=PI_STAFF,
        items=[ConsentItem(ConsentPurpose.CONTACT_CREDITORS),
               ConsentItem(ConsentPurpose.REFER_MUNICIPALITY, None, zwolle.id)],
        signed_on=TODAY, valid_until=date(2027, 1, 1), now=NOW,
    )  # fmt: skip

    text = _form(session, wf_engine, case)

    assert "aanmelden bij en overdragen aan de gemeente Zwolle" in text.splitlines()
    assert "Deventer" not in text


# -- a referral consent names its municipality ----------------------------------------------------------------------


def _refer(session: Session, engine: WorkflowEngine, case: Case, organisation_id: int | None = None) -> list[Consent]:
    return record_consents(
        session, engine, case, actor=PI_STAFF,
        items=[ConsentItem(ConsentPurpose.CONTACT_CREDITORS),
               ConsentItem(ConsentPurpose.REFER_MUNICIPALITY, None, organisation_id)],
        signed_on=TODAY, valid_until=date(2027, 1, 1), now=NOW,
    )  # fmt: skip


def test_a_referral_consent_without_a_municipality_is_refused(session: Session, wf_engine: WorkflowEngine) -> None:
    case = make_case(session, wf_engine, consent=False)
    case.municipality_id = None
    session.flush()

    with pytest.raises(ValidationFailed) as refused:
        _refer(session, wf_engine, case)

    assert "moet één gemeente noemen" in refused.value.errors["recipient_organisation_id"][0]
    assert session.scalars(select(Consent).where(Consent.case_id == case.id)).all() == []


def test_a_referral_consent_to_something_else_than_a_municipality_is_refused(
    session: Session, wf_engine: WorkflowEngine
) -> None:
    case = make_case(session, wf_engine, consent=False)
    pi = session.get_one(Organisation, case.pi_id)

    with pytest.raises(ValidationFailed) as refused:
        _refer(session, wf_engine, case, pi.id)

    assert "is geen gemeente" in refused.value.errors["recipient_organisation_id"][0]


def test_a_referral_consent_names_the_case_municipality_when_none_is_given(
    session: Session, wf_engine: WorkflowEngine
) -> None:
    zwolle = make_municipality(session, name="Zwolle")
    case = make_case(session, wf_engine, municipality=zwolle, consent=False)

    rows = _refer(session, wf_engine, case)

    referral = next(r for r in rows if r.purpose == ConsentPurpose.REFER_MUNICIPALITY.value)
    assert referral.recipient_organisation_id == zwolle.id


def test_the_api_refuses_a_referral_consent_without_a_municipality(client: FlaskClient, world: object) -> None:
    case = world.cases["b_only"]  # type: ignore[attr-defined]
    headers = world.headers(client, "pi_b")  # type: ignore[attr-defined]
    body = {
        "purposes": [{"purpose": "refer_municipality"}],
        "signed_on": "2026-01-05",
        "valid_until": "2030-01-01",
    }

    response = client.post(f"/api/v1/cases/{case.id}/consents", json=body, headers=headers)

    assert response.status_code == 422, response.get_data(as_text=True)[:500]
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert "moet één gemeente noemen" in response.json["errors"]["recipient_organisation_id"][0]


# -- a partial withdrawal -------------------------------------------------------------------------------------------


def _sent(session: Session, engine: WorkflowEngine, letter: Letter) -> None:
    letter.status = LetterStatus.RENDERED.value
    letter.storage_key, letter.sha256 = f"test/{letter.id}.pdf", "0" * 64
    session.flush()
    lifecycle.sent(session, engine, [letter], at=NOW)


def _first_contact(session: Session, engine: WorkflowEngine, case: Case, creditor: Creditor) -> tuple[Debt, Letter]:
    debt = make_debt(session, engine, case, creditor=creditor)
    fire_debt_event(session, engine, debt, "send_letters", actor=COUNSELLOR, now=NOW)
    session.flush()
    letter = session.scalars(select(Letter).where(Letter.debt_id == debt.id, Letter.letter_type == "L1")).one()
    return debt, letter


def _consent_for(session: Session, case: Case, purpose: ConsentPurpose) -> Consent:
    return session.scalars(
        select(Consent).where(
            Consent.case_id == case.id, Consent.purpose == purpose.value, Consent.withdrawn_at.is_(None)
        )
    ).one()


def _running_case(session: Session, engine: WorkflowEngine, **kwargs: Any) -> Case:
    """A case with a consent for every purpose, in its inventory (as recording the consent leaves it)."""
    case = make_case(session, engine, **kwargs)
    fire_case_event(session, engine, case, "record_consent", actor=PI_STAFF, now=NOW)
    return case


def _l10s(session: Session, case: Case) -> list[Letter]:
    return list(session.scalars(select(Letter).where(Letter.case_id == case.id, Letter.letter_type == "L10")))


def test_a_partial_withdrawal_stops_letters_and_tells_the_creditors_written_to(
    session: Session, wf_engine: WorkflowEngine
) -> None:
    case = _running_case(session, wf_engine, expected_release=date(2026, 9, 1))
    session.flush()
    written = make_creditor(session, name="Woonstichting Thuis", may_receive_bsn=False)
    waiting_for = make_creditor(session, name="Energie B.V.")
    _, sent_letter = _first_contact(session, wf_engine, case, written)
    _sent(session, wf_engine, sent_letter)
    _, waiting = _first_contact(session, wf_engine, case, waiting_for)
    other_purpose = request_letter(
        session, case=case, letter_type="L5", key="t-L5", requested_by="user:cns", letter_date=TODAY,
        debt=make_debt(session, wf_engine, case, creditor=make_creditor(session, name="Telecom B.V.")),
    )  # fmt: skip

    withdrawn = withdraw_consents(
        session, wf_engine, case, actor=COUNSELLOR,
        consent_ids=[_consent_for(session, case, ConsentPurpose.CONTACT_CREDITORS).id], now=NOW,
    )  # fmt: skip

    assert [r.purpose for r in withdrawn] == [ConsentPurpose.CONTACT_CREDITORS.value]
    # The waiting letter for the withdrawn purpose is stopped; the sent one stays sent; another purpose goes on.
    assert waiting.status == LetterStatus.CANCELLED.value
    assert sent_letter.status == LetterStatus.SENT.value
    assert other_purpose.status == LetterStatus.QUEUED.value
    # The detainee's withdrawal form, and one notice: to the creditor who had a letter, not to the one who did not.
    l10s = _l10s(session, case)
    to_detainee = [lt for lt in l10s if lt.creditor_id is None]
    to_creditors = [lt for lt in l10s if lt.creditor_id is not None]
    assert len(to_detainee) == 1
    assert [lt.creditor_id for lt in to_creditors] == [written.id]
    notice = to_creditors[0]
    assert (notice.recipient_name, notice.status, notice.letter_date) == ("Woonstichting Thuis", "queued", TODAY)
    assert notice.reply_code_lookup is None
    assert notice.reply_code_hash is None
    # The case goes on with what is left.
    assert case.closure_reason is None

    form = _text(session, wf_engine, to_detainee[0])
    assert "Wat trekt u in?" in form
    assert "schuldeisers benaderen en saldo opvragen" in form.splitlines()
    assert "Vanaf 2 maart 2026." in form


def test_the_creditor_notice_says_the_authorisation_has_ended(session: Session, wf_engine: WorkflowEngine) -> None:
    """Needs compose.py's _letter_type_fields to pass the letter to withdrawal_fields (the integrator's change)."""
    case = _running_case(session, wf_engine, expected_release=date(2026, 9, 1))
    creditor = make_creditor(session, name="Woonstichting Thuis")
    _, letter = _first_contact(session, wf_engine, case, creditor)
    _sent(session, wf_engine, letter)
    withdraw_consents(
        session, wf_engine, case, actor=COUNSELLOR,
        consent_ids=[_consent_for(session, case, ConsentPurpose.CONTACT_CREDITORS).id], now=NOW,
    )  # fmt: skip
    notice = next(lt for lt in _l10s(session, case) if lt.creditor_id == creditor.id)

    content = compose(session, notice, sender=SENDER, calendar=wf_engine.calendar, reply=None)
    text = _text(session, wf_engine, notice)

    assert content.recipient.lines[0] == "Woonstichting Thuis"
    assert content.reply_code is None
    assert content.reply_url is None
    assert text.startswith("Einde machtiging \u2013 Jan Jansen")
    assert "Vanaf 2 maart 2026 treden wij niet meer namens onze cliënt op." in text
    assert "schuldeisers benaderen en saldo opvragen" in text.splitlines()
    assert "Neem vanaf nu rechtstreeks contact op met onze cliënt." in text
    # Nothing a creditor has no business with: not the detention, not the form the detainee signs.
    assert "Penitentiaire inrichting" not in text
    assert "PI Test" not in text
    assert "Handtekening" not in text


def test_a_creditor_still_covered_by_a_consent_naming_him_is_not_told(
    session: Session, wf_engine: WorkflowEngine
) -> None:
    case = _running_case(session, wf_engine)
    named = make_creditor(session, name="Genoemd B.V.")
    session.add(
        Consent(
            case_id=case.id, purpose=ConsentPurpose.CONTACT_CREDITORS.value, recipient_creditor_id=named.id,
            signed_on=date(2025, 1, 6), valid_until=date(2035, 12, 31), text_version="test", recorded_by="test",
        )
    )  # fmt: skip
    session.flush()
    _, letter = _first_contact(session, wf_engine, case, named)
    _sent(session, wf_engine, letter)
    general = session.scalars(
        select(Consent).where(
            Consent.case_id == case.id,
            Consent.purpose == ConsentPurpose.CONTACT_CREDITORS.value,
            Consent.recipient_creditor_id.is_(None),
        )
    ).one()

    withdraw_consents(session, wf_engine, case, actor=COUNSELLOR, consent_ids=[general.id], now=NOW)

    assert [lt.creditor_id for lt in _l10s(session, case)] == [None]  # only the detainee's form


def test_a_creditor_is_told_once(session: Session, wf_engine: WorkflowEngine) -> None:
    case = _running_case(session, wf_engine)
    creditor = make_creditor(session)
    _, letter = _first_contact(session, wf_engine, case, creditor)
    _sent(session, wf_engine, letter)
    purposes = [ConsentPurpose.CONTACT_CREDITORS]
    for consent in session.scalars(select(Consent).where(Consent.case_id == case.id)):
        if consent.purpose == ConsentPurpose.CONTACT_CREDITORS.value:
            consent.withdrawn_at = NOW

    first = notify_creditors_of_withdrawal(session, case, purposes, on=TODAY, requested_by="t", key_prefix="k1")
    again = notify_creditors_of_withdrawal(session, case, purposes, on=TODAY, requested_by="t", key_prefix="k1")
    later = notify_creditors_of_withdrawal(
        session, case, list(ConsentPurpose), on=TODAY + timedelta(days=3), requested_by="t", key_prefix="k2",
        only_uncovered=False,
    )  # fmt: skip

    assert [lt.creditor_id for lt in first] == [creditor.id]
    # Nothing new to tell him, not even when everything is withdrawn later.
    assert again == []
    assert later == []
    assert len([lt for lt in _l10s(session, case) if lt.creditor_id == creditor.id]) == 1


def test_the_full_withdrawal_tells_the_creditors_too(session: Session, wf_engine: WorkflowEngine) -> None:
    """Needs the case's withdraw_consent step to carry NOTIFY_CREDITORS_OF_WITHDRAWAL (the integrator's change)."""
    case = _running_case(session, wf_engine)
    creditor = make_creditor(session, name="Woonstichting Thuis")
    _, letter = _first_contact(session, wf_engine, case, creditor)
    _sent(session, wf_engine, letter)
    _, waiting = _first_contact(session, wf_engine, case, make_creditor(session, name="Energie B.V."))

    withdraw_consents(session, wf_engine, case, actor=COUNSELLOR, consent_ids=None, now=NOW)

    assert waiting.status == LetterStatus.CANCELLED.value
    l10s = [lt for lt in _l10s(session, case) if lt.status == LetterStatus.QUEUED.value]
    assert sorted((lt.creditor_id or 0) for lt in l10s) == [0, creditor.id]


def test_a_partial_withdrawal_of_the_referral_tells_no_creditor(session: Session, wf_engine: WorkflowEngine) -> None:
    case = _running_case(session, wf_engine)
    _, letter = _first_contact(session, wf_engine, case, make_creditor(session))
    _sent(session, wf_engine, letter)

    withdraw_consents(
        session, wf_engine, case, actor=COUNSELLOR,
        consent_ids=[_consent_for(session, case, ConsentPurpose.REFER_MUNICIPALITY).id], now=NOW,
    )  # fmt: skip

    assert [lt.creditor_id for lt in _l10s(session, case)] == [None]
