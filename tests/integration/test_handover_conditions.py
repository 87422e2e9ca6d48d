"""The basisvoorwaarden, each creditor's state and the contracts ended in the handover file, the L8's fields and the
detainee's summary (issue 12 item 7). The PDFs are read with `pdftotext -layout`, as a municipality's system would;
nothing prints blank: what is not known prints "onbekend"."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from integrations.referrals.render import render_detainee_summary_pdf, render_handover_pdf
from schulden.actors import UserActor
from schulden.cases.conditions import set_release_conditions
from schulden.cases.models import Case
from schulden.debts.models import Debt
from schulden.letters.handover_fields import L8_HANDOVER_FIELDS, handover_fields
from schulden.letters.models import Letter, LetterStatus
from schulden.referrals.handover import Handover, build_handover, detainee_summary
from schulden.replies.models import CreditorReply
from schulden.roles import Role
from tests.factories import make_case, make_creditor, make_debt
from workflows import Engine, WorkflowInstance

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils (pdftotext) is not installed")

MADE_ON = date(2026, 3, 2)
DASH = "\u2013"  # en dash, as the file prints between a name and what it is
COUNSELLOR = UserActor(1, Role.COUNSELLOR, None)
CONDITIONS = {
    "id_document": "valid",
    "id_valid_until": date(2030, 5, 3),
    "bank_account": "blocked",
    "income_after_release": "benefit_applied",
    "income_office": "gemeente Testdorp",
    "income_applied_on": date(2026, 2, 10),
    "housing_after_release": "family_or_friends",
    "postal_address": "Dorpsstraat 1, 9999 ZZ  TESTDORP",
    "health_insurance": "suspended",
    "care_arranged": "needed",
    "contact_after_release": "06 12345678",
}


def read(pdf: bytes, tmp_path: Path, name: str) -> str:
    """pdftotext -layout, runs of spaces folded to one so a label and its value read as one line."""
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True)
    return "\n".join(re.sub(r"[ \xa0]+", " ", line).strip() for line in out.stdout.splitlines())


def letter(session: Session, debt: Debt, kind: str, on: date, *, sent: bool, creditor_id: int) -> Letter:
    row = Letter(
        case_id=debt.case_id,
        debt_id=debt.id,
        creditor_id=creditor_id,
        recipient_name="Woonstichting Thuis",
        recipient_department="Incasso",
        recipient_address_line="Postbus 5",
        recipient_postcode="1000 AA",
        recipient_city="Amsterdam",
        letter_type=kind,
        idempotency_key=f"test-{debt.id}-{kind}",
        letter_date=on,
        requested_by="test",
        status=LetterStatus.SENT.value if sent else LetterStatus.QUEUED.value,
        sha256="0" * 64 if sent else None,
        storage_key="letters/test.pdf" if sent else None,
        sent_at=datetime(on.year, on.month, on.day + 1, 9, tzinfo=UTC) if sent else None,
    )
    session.add(row)
    session.flush()
    return row


def make_handover(session: Session, engine: Engine, *, conditions: bool, released: date | None = None) -> Handover:
    """A case with a rent debt that has letters and an answer, a phone contract ended and one asked to end."""
    case = make_case(session, engine)
    case.actual_release = released
    if conditions:
        set_release_conditions(session, COUNSELLOR, case, CONDITIONS, today=MADE_ON)
    landlord = make_creditor(session, name="Woonstichting Thuis")
    rent = make_debt(session, engine, case, creditor=landlord, debt_type="huur", principal_cents=120_000)
    rent.creditor_reference = "HUUR-7"
    first = letter(session, rent, "L1", date(2026, 1, 5), sent=True, creditor_id=landlord.id)
    letter(session, rent, "L3", date(2026, 2, 2), sent=True, creditor_id=landlord.id)
    session.add(
        CreditorReply(
            case_id=case.id,
            debt_id=rent.id,
            letter_id=first.id,
            channel="web",
            received_on=date(2026, 1, 20),
            entered_by="creditor:reply",
            contact_name="M. de Wit",
            contact_phone="020 123 45 67",
            has_judgment=False,
            has_attachment=True,
            collection_suspended=True,
            collection_suspended_until=date(2026, 9, 1),
        )
    )
    phone = make_debt(session, engine, case, creditor=make_creditor(session, name="Bel Goedkoop"), debt_type="telecom")
    gym = make_debt(session, engine, case, creditor=make_creditor(session, name="Sportschool Fit"), debt_type="overig")
    session.get_one(WorkflowInstance, phone.instance_id).state = "terminated"
    letter(session, gym, "L5", date(2026, 2, 1), sent=False, creditor_id=gym.creditor_id)
    session.flush()
    return build_handover(session, case.id, include_household=False, made_on=MADE_ON)


def test_the_handover_prints_every_condition_each_creditor_and_the_contracts_ended(
    session: Session, wf_engine: Engine, tmp_path: Path
) -> None:
    text = read(render_handover_pdf(make_handover(session, wf_engine, conditions=True)), tmp_path, "handover")

    for line in (
        "Basisvoorwaarden na vrijlating",
        "Identiteitsbewijs geldig identiteitsbewijs, geldig tot 3 mei 2030",
        "Bankrekening bankrekening geblokkeerd",
        "Inkomen uitkering aangevraagd",
        "Uitkering aangevraagd bij gemeente Testdorp",
        "Uitkering aangevraagd op 10 februari 2026",
        "Wonen bij familie of vrienden",
        "Adres of postadres Dorpsstraat 1, 9999 ZZ TESTDORP",
        "Zorgverzekering opgeschort tijdens de detentie",
        "Zorg en begeleiding nodig, nog niet geregeld",
        "Telefoon of e-mail 06 12345678",
        # per creditor
        "Per schuldeiser",
        f"Woonstichting Thuis {DASH} Huurachterstand (kenmerk HUUR-7)",
        "Contact M. de Wit, 020 123 45 67",
        "Vonnis nee",
        "Beslag ja",
        "Uitstel van betaling toegekend tot 1 september 2026",
        # the contracts ended
        "Opgezegde overeenkomsten",
        f"• Bel Goedkoop {DASH} Telefoon en internet: opgezegd",
        f"• Sportschool Fit {DASH} Overige schuld: opzegging gevraagd op 1 februari 2026, nog niet bevestigd",
    ):
        assert line in text, line
    flat = " ".join(text.split())
    assert "Adres Woonstichting Thuis, t.a.v. Incasso, Postbus 5, 1000 AA AMSTERDAM" in flat
    # The letter's title is the letters' own (schulden.effects.LETTER_TITLES); the dates are what matter here.
    assert re.search(r"Brieven L1 .+ van 5 januari 2026: verstuurd op 6 januari 2026, beantwoord op 20 januari", flat)
    assert "L3 Herinnering van 2 februari 2026: verstuurd op 3 februari 2026, geen antwoord" in flat


def test_what_is_not_known_prints_onbekend(session: Session, wf_engine: Engine, tmp_path: Path) -> None:
    text = read(render_handover_pdf(make_handover(session, wf_engine, conditions=False)), tmp_path, "unknown")

    for label in (
        "Identiteitsbewijs",
        "Bankrekening",
        "Inkomen",
        "Uitkering aangevraagd bij",
        "Uitkering aangevraagd op",
        "Wonen",
        "Adres of postadres",
        "Zorgverzekering",
        "Zorg en begeleiding",
        "Telefoon of e-mail",
    ):
        assert f"\n{label} onbekend\n" in text, label
    # The phone contract has no letters or answers: its rows say so, never a blank.
    for line in ("Contact onbekend", "Vonnis onbekend", "Beslag onbekend", "Uitstel van betaling onbekend"):
        assert line in text, line
    assert "Brieven nog geen brieven gestuurd" in text


def test_the_l8_fields_are_filled_and_never_empty(session: Session, wf_engine: Engine) -> None:
    handover = make_handover(session, wf_engine, conditions=False)
    case = session.get_one(Case, handover.case_id)

    assert handover_fields(session, "L1", case, MADE_ON) == {}
    fields = handover_fields(session, "L8", case, MADE_ON)

    assert set(fields) == set(L8_HANDOVER_FIELDS)
    for name in ("id_document", "bank_account", "income_after_release", "housing_after_release", "release_address",
                 "health_insurance", "care_after_release", "contact_after_release"):  # fmt: skip
        assert fields[name] == "onbekend", name
    assert fields["casemanager"] == "PI Test"  # nobody of the PI worked on the case yet: the PI itself
    assert fields["probation_officer"] is None  # no probation organisation on the case: the letter leaves it out
    rent = next(line for line in fields["debt_details"] if line.startswith("Woonstichting Thuis"))
    assert "vonnis: nee; beslag: ja; uitstel van betaling: toegekend tot 1 september 2026" in rent
    assert fields["terminated_contracts"] == [
        f"Bel Goedkoop {DASH} Telefoon en internet: opgezegd",
        f"Sportschool Fit {DASH} Overige schuld: opzegging gevraagd op 1 februari 2026, nog niet bevestigd",
    ]


def test_the_l8_fields_carry_the_recorded_conditions(session: Session, wf_engine: Engine) -> None:
    handover = make_handover(session, wf_engine, conditions=True)
    fields = handover_fields(session, "L8", session.get_one(Case, handover.case_id), MADE_ON)

    assert fields["id_document"] == "geldig identiteitsbewijs, geldig tot 3 mei 2030"
    assert fields["income_after_release"] == (
        "uitkering aangevraagd (bij gemeente Testdorp, aangevraagd op 10 februari 2026)"
    )
    assert fields["release_address"] == "Dorpsstraat 1, 9999 ZZ  TESTDORP"
    assert fields["contact_after_release"] == "06 12345678"


def test_the_summary_gives_the_municipality_and_a_todo_list_before_release(
    session: Session, wf_engine: Engine, tmp_path: Path
) -> None:
    summary = detainee_summary(make_handover(session, wf_engine, conditions=False))
    text = " ".join(read(render_detainee_summary_pdf(summary), tmp_path, "before").split())

    assert "Wat doet u in de eerste dagen na uw vrijlating?" in text
    for item in (
        "Vraag een uitkering aan bij de gemeente (bijstand) of bij UWV.",
        "Zorgverzekering: stuur uw ontslagbewijs naar de verzekeraar.",
        "Vraag opnieuw zorgtoeslag aan bij Dienst Toeslagen.",
        "Geen geldig identiteitsbewijs? Vraag een nieuw aan bij de gemeente.",
        "Neem mee: uw ID, ontslagbewijs, bankpas en de brieven van schuldeisers.",
    ):
        assert item in text, item
    assert summary.municipality is not None
    assert f"Adres: {', '.join(summary.municipality.address)}".replace("  ", " ") in text
    assert "Zolang u in de gevangenis zit, kunt u ook uw casemanager" in text
    assert "U bent vrijgekomen" not in text


def test_the_summary_after_release_never_asks_whether_he_is_still_in_prison(
    session: Session, wf_engine: Engine, tmp_path: Path
) -> None:
    summary = detainee_summary(make_handover(session, wf_engine, conditions=True, released=date(2026, 2, 27)))
    text = " ".join(read(render_detainee_summary_pdf(summary), tmp_path, "after").split())

    assert "U bent vrijgekomen op 27 februari 2026." in text
    assert "Wat moet u nu doen?" in text
    assert "gevangenis" not in text.lower()
    assert "casemanager" not in text.lower()
    assert "na uw vrijlating nog niets gehoord" not in text
    # What is arranged is not asked again: a valid ID and an applied benefit change the list.
    assert "U hebt een uitkering aangevraagd bij gemeente Testdorp. Hoort u niets? Bel dan zelf." in text
    assert "Geen geldig identiteitsbewijs?" not in text
    assert "Neem mee: uw ID, ontslagbewijs, bankpas en de brieven van schuldeisers." in text


def test_the_handover_after_release_states_the_release_not_a_detention(
    session: Session, wf_engine: Engine, tmp_path: Path
) -> None:
    handover = make_handover(session, wf_engine, conditions=False, released=date(2026, 2, 27))
    text = " ".join(read(render_handover_pdf(handover), tmp_path, "released").split())

    assert "Vrijgelaten op 27 februari 2026" in text
    assert "Laatste penitentiaire" in text  # the label wraps in its column
    assert "In detentie sinds" not in text
    assert "Verwachte vrijlating" not in text
