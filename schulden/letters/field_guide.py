"""What an administrator sees beside a letter text in Beheer: the merge fields in Dutch, and a sample case to preview.

The sample is invented (no real person, a test BSN from RvIG's test set) and fills every field, so a preview shows
each optional paragraph of a text; the preview renders through the same checked, sandboxed path as a real letter.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from schulden.letters.content import Address, DebtLine, LetterContent

#: Every name a text may use, with what it means, in the order the Beheer page lists them.
FIELD_GUIDE: tuple[tuple[str, str], ...] = (
    ("client_name", "volledige naam van de cliënt (altijd aanwezig)"),
    ("client_initials", "voorletters"),
    ("date_of_birth", "geboortedatum"),
    ("bsn", "burgerservicenummer; alleen als de ontvanger het mag krijgen, dus altijd binnen {% if bsn %}"),
    ("dji_number", "registratienummer bij DJI"),
    ("pi_name", "naam van de penitentiaire inrichting"),
    ("pi_postal_address", "postadres van de inrichting"),
    ("detention_start", "begin van de detentie"),
    ("expected_release", "verwachte datum van vrijlating (kan leeg zijn)"),
    ("actual_release", "datum van vrijlating (kan leeg zijn)"),
    ("pre_trial", "waar bij voorlopige hechtenis"),
    ("household", "lijst van het huishouden"),
    ("threat", "dreigende situatie (kan leeg zijn); schrijf {{ threat|dreiging }}"),
    ("wgs_urgent", "waar als de gemeente binnen drie werkdagen moet starten (art. 4a Wgs)"),
    ("our_reference", "ons kenmerk"),
    ("their_reference", "kenmerk van de ontvanger (kan leeg zijn)"),
    ("letter_date", "datum van de brief"),
    ("reply_deadline", "uiterste datum voor een antwoord"),
    ("reply_code", "code om online te antwoorden (kan leeg zijn)"),
    ("sender_name", "onze organisatie"),
    ("recipient_name", "de ontvanger"),
    ("counsellor", "onze schuldhulpverlener (kan leeg zijn)"),
    ("collector_for", "oorspronkelijke schuldeiser als een incassobureau de brief krijgt"),
    ("debts_total_cents", "totaal van de schulden in centen; schrijf {{ debts_total_cents|bedrag }}"),
    ("text_version", "bijvoorbeeld 'L9 versie 1'"),
    ("first_letter_date", "L3: datum van de eerste brief"),
    ("first_reference", "L3: kenmerk van de eerste brief"),
    ("round", "L3: 1 = eerste herinnering, 2 = tweede"),
    ("missing", "L3: lijst van wat nog ontbreekt"),
    ("arrangement.monthly_cents", "L4: bedrag per maand in centen"),
    ("arrangement.months", "L4: aantal maanden"),
    ("arrangement.start_date", "L4: eerste betaling"),
    ("arrangement.basis", "L4: waarop het bedrag is gebaseerd"),
    ("arrangement_end", "L4: laatste betaling"),
    ("arrangement_total_cents", "L4: totaal van de regeling in centen"),
    ("contract_number", "L5: contractnummer"),
    ("end_date", "L5: einddatum (leeg = zo snel mogelijk)"),
    ("benefits", "L7: lijst van uitkeringen en toeslagen"),
    ("municipality_name", "L8: de gemeente"),
    ("first_appointment", "L8: voorgestelde datum van het eerste gesprek"),
    ("release_address", "L8: adres na vrijlating"),
    ("income_after_release", "L8: inkomen na vrijlating"),
    ("bank_account", "L8: bankrekening"),
    ("id_document", "L8: identiteitsbewijs"),
    ("casemanager", "L8: casemanager van de inrichting"),
    ("probation_officer", "L8: reclassering"),
    ("terminated_contracts", "L8: lijst van opgezegde overeenkomsten"),
    ("consent.purposes", "L9: lijst van doelen van de toestemming"),
    ("consent.recipients", "L9: lijst van ontvangers"),
    ("consent.valid_until", "L9: geldig tot"),
    ("consent.witness", "L9: getuige"),
    ("withdrawal.scope", "L10: lijst van wat wordt ingetrokken"),
    ("withdrawal.from_date", "L10: ingangsdatum van de intrekking"),
)

#: The formats, as the Beheer page explains them.
FORMAT_GUIDE: tuple[tuple[str, str], ...] = (
    ("datum", "1 oktober 2026"),
    ("bedrag", "€ 12,50 (het gegeven is in centen)"),
    ("dreiging", "een huisuitzetting, afsluiting van gas, stroom of water, ..."),
    ("opsomming", "a, b en c"),
    ("status", "geschat / bevestigd / betwist"),
)

_SAMPLE_FIELDS: Mapping[str, Any] = {
    "client_name": "Jan de Voorbeeld",
    "client_initials": "J.",
    "date_of_birth": date(1988, 4, 12),
    "bsn": "999993653",  # RvIG test number, not a person
    "dji_number": "0000000",
    "pi_name": "PI Voorbeeld",
    "pi_postal_address": "Postbus 1, 1000 AA  VOORBEELD",
    "detention_start": date(2026, 9, 1),
    "expected_release": date(2027, 3, 1),
    "actual_release": date(2027, 3, 1),
    "pre_trial": False,
    "collector_for": "Voorbeeld Energie",
    "threat": "eviction",
    "reply_deadline": date(2026, 12, 18),
    "first_letter_date": date(2026, 11, 20),
    "first_reference": "SR-000001-L1-1",
    "round": 1,
    "missing": ["het openstaande bedrag", "de kosten"],
    "arrangement": {"monthly_cents": 2500, "months": 12, "start_date": date(2027, 4, 1), "basis": "de leefgeldnorm"},
    "contract_number": "C-123456",
    "end_date": None,
    "benefits": ["zorgtoeslag", "huurtoeslag"],
    "municipality_name": "Voorbeeld",
    "first_appointment": date(2027, 2, 15),
    "release_address": "Voorbeeldstraat 1, 1000 AA  VOORBEELD",
    "income_after_release": "bijstand (aangevraagd)",
    "bank_account": "NL00 BANK 0000 0000 00",
    "id_document": "paspoort, geldig",
    "casemanager": "A. Casemanager, 000 000 00 00",
    "probation_officer": "B. Reclassering",
    "terminated_contracts": ["telefoonabonnement"],
    "consent": {
        "purposes": ["Contact met schuldeisers"],
        "recipients": ["schuldeisers"],
        "valid_until": date(2027, 9, 1),
        "witness": "C. Getuige",
    },
    "withdrawal": {"scope": ["Contact met schuldeisers"], "from_date": date(2027, 1, 1)},
    "household": ["Partner (deelt de huur)"],
}


def sample_content(letter_type: str) -> LetterContent:
    """An invented letter of `letter_type` with every field filled, for the preview of a changed text."""
    return LetterContent(
        letter_type=letter_type,
        letter_id=1,
        our_reference=f"SR-000001-{letter_type}-1",
        their_reference="VB-2026-0001",
        date=date(2026, 12, 4),
        sender=Address(("Schuldroute", "Postbus 0000", "0000 AA  NERGENS")),
        sender_contact=("M. Medewerker", "088 000 00 00"),
        recipient=Address(("Voorbeeld Incasso B.V.", "Postbus 2", "2000 BB  VOORBEELD")),
        fields=dict(_SAMPLE_FIELDS),
        debts=(DebtLine("Voorbeeld Incasso B.V.", "VB-2026-0001", "Energierekening", 45000, 1200, 4000, "estimated"),),
        reply_code="VOOR-BEEL-D000",
    )
