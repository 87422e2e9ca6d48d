"""The handover PDF is byte-for-byte what it was when the digests were taken: a change in the layout shows here.

The digests in handover_render_snapshot.json were first taken before `_handover_story` was split into parts (issue
11), and taken again when the basisvoorwaarden, the part per creditor and the contracts ended were added (issue 12
item 7; `python -m tests.integration.test_handover_render_snapshot`). The inputs are plain values (no database): one
full handover and variants that take each branch of the story the other way.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from integrations.referrals.render import render_handover_pdf
from schulden.referrals.handover import (
    Arrangement,
    ConditionsDetails,
    ConsentLine,
    ConsentScope,
    Contact,
    DebtFollowUp,
    DetaineeDetails,
    Handover,
    HandoverDebt,
    HouseholdPart,
    HouseholdPerson,
    LetterLine,
    MunicipalityDetails,
    TerminatedContract,
    ThreatLine,
    Total,
    Urgency,
)

SNAPSHOT = Path(__file__).with_name("handover_render_snapshot.json")


def _debt(debt_id: int, creditor: str, state: str, *, arrangement: Arrangement | None = None) -> HandoverDebt:
    return HandoverDebt(
        debt_id=debt_id,
        creditor=creditor,
        creditor_kvk="12345678" if debt_id % 2 else None,
        collecting_party="Incasso Noord B.V." if debt_id == 1 else None,
        reference=f"REF-{debt_id}",
        category="other",
        category_label="Overig",
        debt_type="rent",
        type_label="Huurachterstand",
        principal_cents=100_000 + debt_id,
        interest_cents=1_250,
        costs_cents=4_000,
        amount_status="estimated",
        amount_status_label="Geschat",
        peildatum=date(2026, 2, 15) if debt_id % 2 else None,
        state=state,
        state_label=state.capitalize(),
        arrangement=arrangement,
        threat="eviction" if debt_id == 1 else None,
        joint_with_partner=debt_id == 2,
        is_business_debt=False,
        follow_up=(
            DebtFollowUp(
                address=("Woonstichting Thuis", "Postbus 5", "1000 AA  AMSTERDAM"),
                contact="M. de Wit, 020 123 45 67",
                has_judgment=False,
                has_attachment=True,
                suspended=True,
                suspended_until=date(2026, 9, 1),
                letters=(
                    LetterLine("L1", "Melding detentie", date(2026, 1, 5), date(2026, 1, 6), date(2026, 1, 20)),
                    LetterLine("L3", "Herinnering", date(2026, 2, 2), date(2026, 2, 3), None),
                    LetterLine("L4", "Voorstel betalingsregeling", date(2026, 2, 20), None, None),
                ),
            )
            if debt_id == 1
            else None
        ),
    )


FULL = Handover(
    case_id=7,
    reference="SR-000007-OD",
    made_on=date(2026, 3, 2),
    detainee=DetaineeDetails(
        name="Jan <b>de</b> Vries & Zn",
        date_of_birth=date(1990, 5, 17),
        bsn="123456782",
        dji_number="DJI-1",
        pi_name="PI Zwolle",
        pi_address="Hoofdweg 1, Zwolle",
        detention_type="sentence",
        detention_type_label="Gevangenisstraf",
        detention_start=date(2025, 12, 1),
        expected_release=date(2026, 6, 1),
        pre_trial=False,
        intended_postcode="8011 AB",
        registration_municipality="Zwolle",
        routing_rule="de postcode na vrijlating",
        routing_reason="opgegeven door de gedetineerde",
    ),
    municipality=MunicipalityDetails(
        name="Zwolle", team_name="Schuldhulp Zwolle", address=("Postbus 1", "8000 AA Zwolle"), email=None, phone=None
    ),
    contacts=(
        Contact("Schuldhulpverlener", "Els", "Gemeente Zwolle", "038-1234567", "els@zwolle.example"),
        Contact("Casemanager PI", None, None, None, None),
    ),
    urgency=Urgency(
        urgent=True,
        threats=(
            ThreatLine("eviction", "een huisuitzetting", "dossier", wgs_urgent=True),
            ThreatLine("cut_off", "een afsluiting", "Energie B.V.", wgs_urgent=False),
        ),
        wgs_urgent=True,
        first_conversation_due=date(2026, 3, 5),
        rule="binnen 3 werkdagen (art. 4a Wgs)",
    ),
    first_conversation=date(2026, 3, 4),
    consent=ConsentScope(
        lines=(
            ConsentLine(
                "refer_municipality", "Delen met de gemeente", "Zwolle", date(2026, 1, 2), date(2027, 1, 2), "v2"
            ),
        ),
        covers_referral=True,
        valid_until=date(2027, 1, 2),
        withdrawn=("delen met de reclassering",),
    ),
    debts=(
        _debt(1, "Woonstichting Thuis", "suspended", arrangement=Arrangement(1_250, 12, date(2026, 4, 1))),
        _debt(2, "Energie B.V.", "paid"),
        _debt(3, "CJIB", "registered"),
    ),
    totals_by_category=(Total("other", "Overig", 2, 200_004, 2_500, 8_000),),
    totals_by_status=(Total("estimated", "Geschat", 2, 200_004, 2_500, 8_000),),
    household=HouseholdPart(
        members=(
            HouseholdPerson("partner", "Partner", "Anna", date(1991, 1, 1), shares_lease=True, shares_debts=True),
            HouseholdPerson("child", "Kind", None, None, shares_lease=False, shares_debts=False),
        ),
        joint_debts=(_debt(2, "Energie B.V.", "registered"),),
    ),
    conditions=ConditionsDetails(
        id_document="valid",
        id_valid_until=date(2030, 5, 3),
        bank_account="blocked",
        income_after_release="benefit_applied",
        income_office="gemeente Zwolle",
        income_applied_on=date(2026, 2, 10),
        housing_after_release="family_or_friends",
        postal_address="Dorpsstraat 1, 8011 AB  ZWOLLE",
        health_insurance="suspended",
        health_insurer="VGZ",
        care_arranged="needed",
        contact_after_release="06 12345678",
    ),
    terminated_contracts=(
        TerminatedContract("Bel Goedkoop", "Telefoon en internet", "TEL-1", confirmed=True, requested_on=None),
        TerminatedContract("Sportschool", "Overige schuld", None, confirmed=False, requested_on=date(2026, 2, 1)),
    ),
)

VARIANTS = {
    "full": FULL,
    "no_municipality": replace(FULL, municipality=None),
    "no_team": replace(FULL, municipality=replace(FULL.municipality, team_name=None)),  # type: ignore[type-var]
    "pre_trial": replace(FULL, detainee=replace(FULL.detainee, pre_trial=True)),
    "release_unknown": replace(
        FULL,
        detainee=replace(
            FULL.detainee,
            expected_release=None,
            bsn=None,
            dji_number=None,
            pi_address=None,
            intended_postcode=None,
            registration_municipality=None,
            routing_rule=None,
        ),
    ),
    "rule_without_reason": replace(FULL, detainee=replace(FULL.detainee, routing_reason=None)),
    "no_threats": replace(FULL, urgency=replace(FULL.urgency, threats=(), urgent=False), first_conversation=None),
    "no_consent": replace(FULL, consent=ConsentScope(lines=(), covers_referral=False, valid_until=None, withdrawn=())),
    "no_contacts": replace(FULL, contacts=()),
    "no_debts": replace(FULL, debts=(), totals_by_category=(), totals_by_status=()),
    "nothing_settled": replace(FULL, debts=FULL.debts[:1]),
    "no_household": replace(FULL, household=None),
    "empty_household": replace(FULL, household=HouseholdPart(members=(), joint_debts=())),
    "conditions_unknown": replace(FULL, conditions=ConditionsDetails(), terminated_contracts=()),
}


def test_the_variants_take_both_ways_of_settled() -> None:
    assert FULL.debts[1].settled
    assert not FULL.debts[0].settled


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_handover_pdf_is_unchanged(name: str) -> None:
    expected = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    assert hashlib.sha256(render_handover_pdf(VARIANTS[name])).hexdigest() == expected[name]


def _write_snapshot() -> None:
    """Run after a deliberate change of the layout: `python -m tests.integration.test_handover_render_snapshot`."""
    digests = {name: hashlib.sha256(render_handover_pdf(h)).hexdigest() for name, h in VARIANTS.items()}
    SNAPSHOT.write_text(json.dumps(digests, indent=0, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    _write_snapshot()
