"""The right desk (issue 12, item 2): L6 to the health insurer and L7 to each benefit office, at intake, whether or
not there is a debt; a directory of correspondence addresses, never an objection desk; where no address exists, a
task for the counsellor with the channel to use."""

from __future__ import annotations

import subprocess
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from schulden.actors import UserActor
from schulden.cases.insurance import set_insurance
from schulden.cases.models import Case, DetentionType
from schulden.cases.services import fire_case_event
from schulden.creditors.models import Creditor, CreditorKind
from schulden.debts.models import DebtCategory
from schulden.debts.services import fire_debt_event
from schulden.errors import ValidationFailed
from schulden.letters.compose import Sender, compose
from schulden.letters.models import Channel, Letter
from schulden.reference import (
    CJIB,
    RETIRED_SEEDS,
    SVB,
    TOESLAGEN,
    UWV,
    is_objection_desk,
    load_reference_data,
)
from schulden.roles import Role
from tests.conftest import NOW
from tests.factories import make_case, make_debt
from workflows import Engine as WorkflowEngine

SENDER = Sender("Schuldroute", ("Postbus 1", "1000 AA  TEST"), "088 000 00 00", "a@b.example", "http://127.0.0.1")
COUNSELLOR = UserActor(user_id=1, role=Role.COUNSELLOR)


def _directory(session: Session, name: str) -> Creditor:
    return session.scalars(select(Creditor).where(Creditor.name == name, Creditor.active.is_(True))).one()


def _inventory_case(session: Session, engine: WorkflowEngine, **kwargs: object) -> Case:
    case = make_case(session, engine, **kwargs)  # type: ignore[arg-type]
    fire_case_event(session, engine, case, "record_consent", actor=COUNSELLOR, now=NOW)
    return case


def _letters(session: Session, case: Case, letter_type: str) -> list[Letter]:
    return list(
        session.scalars(
            select(Letter).where(Letter.case_id == case.id, Letter.letter_type == letter_type).order_by(Letter.id)
        )
    )


def _pdf_text(session: Session, engine: WorkflowEngine, letter: Letter, tmp_path: Path) -> str:
    from integrations.letters.render import render_pdf

    content = compose(session, letter, sender=SENDER, calendar=engine.calendar, reply=None)
    path = tmp_path / f"letter-{letter.id}.pdf"
    path.write_bytes(render_pdf(content))
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True)
    return " ".join(out.stdout.split())


# -- the directory ---------------------------------------------------------------------------------------------------


def test_the_directory_holds_correspondence_addresses_and_channels_never_an_objection_desk(session: Session) -> None:
    load_reference_data(session)
    active = list(session.scalars(select(Creditor).where(Creditor.active.is_(True))))
    assert active, "the directory is seeded"
    assert not [c.department for c in active if is_objection_desk(c.department)]
    cjib = _directory(session, CJIB)
    assert (cjib.address_line, cjib.postcode, cjib.city, cjib.department) == (
        "Postbus 1794",
        "8901 CB",
        "Leeuwarden",
        None,
    )
    # Where the sources found no correspondence address, the entry names the channel instead.
    for name in (TOESLAGEN, UWV, SVB, "CAK"):
        office = _directory(session, name)
        assert office.address_line is None, name
        assert office.channel_note, name
    assert "Mijn toeslagen" in (_directory(session, TOESLAGEN).channel_note or "")
    insurers = {c.name for c in active if c.kind == CreditorKind.HEALTH_INSURER.value}
    assert {"Zorg en Zekerheid", "Menzis", "Zilveren Kruis", "CZ", "VGZ", "DSW"} <= insurers
    assert _directory(session, "Zorg en Zekerheid").address_line == "Postbus 400"


def test_a_reload_retires_the_objection_desks_seeded_before(session: Session) -> None:
    old = Creditor(
        name="CAK", department="Afdeling bezwaar (onverzekerden / bestuursrechtelijke premie)", kind="government",
        category="zorg", may_receive_bsn=True, address_line="Antwoordnummer 91034", postcode="2509 VC",
        city="Den Haag", grade="A", source_url="https://hetcak.nl/en/self-service/making-objection-0",
    )  # fmt: skip
    session.add(old)
    session.flush()
    assert (old.name, old.department) in RETIRED_SEEDS

    counts = load_reference_data(session)

    assert counts["creditors_retired"] == 1
    assert old.active is False


def test_no_letter_is_made_to_an_objection_desk(session: Session, wf_engine: WorkflowEngine) -> None:
    case = _inventory_case(session, wf_engine)
    desk = Creditor(
        name="CAK", department="Afdeling bezwaar", kind="government", category="zorg", may_receive_bsn=True,
        address_line="Antwoordnummer 91034", postcode="2509 VC", city="Den Haag",
    )  # fmt: skip
    session.add(desk)
    session.flush()
    debt = make_debt(session, wf_engine, case, creditor=desk, category=DebtCategory.ZORG)

    with pytest.raises(ValidationFailed) as refused:
        fire_debt_event(session, wf_engine, debt, "send_letters", actor=COUNSELLOR, now=NOW)

    assert "bezwaar" in refused.value.errors["creditor_id"][0]


# -- L6 and L7 at intake ---------------------------------------------------------------------------------------------


def test_consent_then_insurance_makes_l6_to_the_insurer_and_l7_per_office(
    session: Session, wf_engine: WorkflowEngine
) -> None:
    load_reference_data(session)
    case = _inventory_case(session, wf_engine)
    insurer = _directory(session, "Zorg en Zekerheid")

    found = set_insurance(
        session, wf_engine, COUNSELLOR, case, insurer_id=insurer.id, policy_number="123456789",
        benefits=["zorgtoeslag", "huurtoeslag", "ww", "aow"],
    )  # fmt: skip

    l6 = _letters(session, case, "L6")
    assert [(x.recipient_name, x.channel, x.round, x.debt_id) for x in l6] == [
        ("Zorg en Zekerheid", Channel.POST.value, 1, None)
    ]
    l7 = {x.recipient_name: x for x in _letters(session, case, "L7")}
    assert set(l7) == {TOESLAGEN, UWV, SVB}
    # No correspondence address for these offices: the counsellor's task, with the channel to use.
    assert l7[TOESLAGEN].channel == Channel.MANUAL.value
    assert "Mijn toeslagen" in (l7[TOESLAGEN].recipient_channel_note or "")
    assert {x.id for x in found.letters} == {*(x.id for x in l6), *(x.id for x in l7.values())}

    # Asked for once: saving the same again asks nothing new.
    again = set_insurance(
        session, wf_engine, COUNSELLOR, case, insurer_id=insurer.id, policy_number="123456789",
        benefits=["zorgtoeslag", "huurtoeslag", "ww", "aow"],
    )  # fmt: skip
    assert {x.id for x in again.letters} == {x.id for x in found.letters}
    assert len(_letters(session, case, "L6")) == 1


def test_nothing_goes_out_before_the_consent(session: Session, wf_engine: WorkflowEngine) -> None:
    load_reference_data(session)
    case = make_case(session, wf_engine)  # draft: no consent recorded in the process yet
    insurer = _directory(session, "Menzis")

    found = set_insurance(session, wf_engine, COUNSELLOR, case, insurer_id=insurer.id, policy_number=None,
                          benefits=["bijstand"])  # fmt: skip

    assert found.letters == []
    assert _letters(session, case, "L6") == []


def test_insurance_recorded_at_intake_goes_out_when_the_consent_is_recorded(
    session: Session, wf_engine: WorkflowEngine
) -> None:
    load_reference_data(session)
    case = make_case(session, wf_engine)
    insurer = _directory(session, "Zorg en Zekerheid")
    set_insurance(session, wf_engine, COUNSELLOR, case, insurer_id=insurer.id, policy_number="P-1",
                  benefits=["zorgtoeslag"])  # fmt: skip

    fire_case_event(session, wf_engine, case, "record_consent", actor=COUNSELLOR, now=NOW)

    assert [x.recipient_name for x in _letters(session, case, "L6")] == ["Zorg en Zekerheid"]
    assert [x.recipient_name for x in _letters(session, case, "L7")] == [TOESLAGEN]


def test_a_zorgpremie_debt_no_longer_sends_l6_to_the_cak(session: Session, wf_engine: WorkflowEngine) -> None:
    load_reference_data(session)
    case = _inventory_case(session, wf_engine)
    debt = make_debt(session, wf_engine, case, creditor=_directory(session, "CAK"), category=DebtCategory.ZORG)

    fire_debt_event(session, wf_engine, debt, "send_letters", actor=COUNSELLOR, now=NOW)

    assert [x.letter_type for x in session.scalars(select(Letter).where(Letter.debt_id == debt.id))] == ["L1"]
    assert _letters(session, case, "L6") == []
    # The CAK has no correspondence address: the L1 is the counsellor's task with the channel.
    (l1,) = session.scalars(select(Letter).where(Letter.debt_id == debt.id))
    assert l1.channel == Channel.MANUAL.value
    assert "bezwaar" not in (l1.recipient_department or "").lower()


def test_bijstand_goes_to_the_municipality_s_income_department(session: Session, wf_engine: WorkflowEngine) -> None:
    case = _inventory_case(session, wf_engine)

    set_insurance(session, wf_engine, COUNSELLOR, case, insurer_id=None, policy_number=None, benefits=["bijstand"])

    (l7,) = _letters(session, case, "L7")
    assert l7.organisation_id == case.municipality_id
    assert l7.recipient_department == "Werk en Inkomen"
    assert l7.recipient_may_receive_bsn is True


def test_kindgebonden_budget_alone_is_reported_to_the_svb(session: Session, wf_engine: WorkflowEngine) -> None:
    load_reference_data(session)
    case = _inventory_case(session, wf_engine)

    set_insurance(session, wf_engine, COUNSELLOR, case, insurer_id=None, policy_number=None,
                  benefits=["kindgebonden_budget"])  # fmt: skip

    assert [x.recipient_name for x in _letters(session, case, "L7")] == [SVB]


def test_bad_input_names_the_field(session: Session, wf_engine: WorkflowEngine) -> None:
    load_reference_data(session)
    case = _inventory_case(session, wf_engine)
    cjib = _directory(session, CJIB)

    with pytest.raises(ValidationFailed) as refused:
        set_insurance(session, wf_engine, COUNSELLOR, case, insurer_id=cjib.id, policy_number="<script>",
                      benefits=["loterij"])  # fmt: skip

    assert set(refused.value.errors) == {"health_insurer_id", "health_policy_number", "benefits"}


# -- what the letters say --------------------------------------------------------------------------------------------


def test_l6_carries_the_policy_number_and_the_bsn_and_asks_to_suspend(
    session: Session, wf_engine: WorkflowEngine, tmp_path: Path
) -> None:
    load_reference_data(session)
    case = _inventory_case(session, wf_engine, detention_type=DetentionType.PRE_TRIAL)
    case_detainee_bsn(session, case, "999993653")
    insurer = _directory(session, "Zorg en Zekerheid")
    set_insurance(session, wf_engine, COUNSELLOR, case, insurer_id=insurer.id, policy_number="ZZ-778899",
                  benefits=[])  # fmt: skip
    (l6,) = _letters(session, case, "L6")

    text = _pdf_text(session, wf_engine, l6, tmp_path)

    assert "Zorg en Zekerheid" in text
    assert "Polis- of relatienummer ZZ-778899" in text
    assert "BSN 999993653" in text
    assert "de basisverzekering op te schorten vanaf" in text
    assert "voorlopige hechtenis" in text
    assert "bezwaar" not in text.lower()


def test_l7_states_per_benefit_what_detention_does_and_the_four_weeks(
    session: Session, wf_engine: WorkflowEngine, tmp_path: Path
) -> None:
    load_reference_data(session)
    # Detention began long before the letter: the report is late, and the letter says so instead of "within 4 weeks".
    case = _inventory_case(session, wf_engine, detention_start=date(2025, 11, 1))
    set_insurance(session, wf_engine, COUNSELLOR, case, insurer_id=None, policy_number=None,
                  benefits=["zorgtoeslag", "huurtoeslag"])  # fmt: skip
    (l7,) = _letters(session, case, "L7")

    text = _pdf_text(session, wf_engine, l7, tmp_path)

    assert "Zorgtoeslag: stopt" in text
    assert "Huurtoeslag: loopt door als de detentie korter dan een jaar duurt" in text
    assert "Deze melding komt later" in text


def case_detainee_bsn(session: Session, case: Case, bsn: str) -> None:
    from schulden.cases.models import Detainee

    session.get_one(Detainee, case.detainee_id).bsn = bsn
    session.flush()
