"""The Dutch words for the codes the pages, letters and exports show (ux.md: "labels for every code").

One place, so "L2" is "Verzoek saldo-opgave" and "cjib_boete" is "CJIB-boete" on every page: the letter titles
of domain.md section 4 (`effects.LETTER_TITLES`) and the debt types of the letters (`compose.DEBT_TYPE_LABELS`) are
re-exported from where the letters need them; the rest are the states and choices of the case and its letters.
`label(mapping, code)` falls back to the code itself, so a new code shows up as itself instead of breaking a page.
"""

from __future__ import annotations

from collections.abc import Mapping

from schulden.effects import LETTER_TITLES
from schulden.letters.compose import DEBT_TYPE_LABELS

__all__ = [
    "AMOUNT_STATUS_LABELS",
    "CATEGORY_LABELS",
    "CLOSURE_LABELS",
    "DEBT_TYPE_LABELS",
    "DETENTION_LABELS",
    "LETTER_STATUS_LABELS",
    "LETTER_TITLES",
    "THREAT_LABELS",
    "label",
    "letter_label",
]

CATEGORY_LABELS = {"zorg": "Zorg", "publiek": "Publiek", "nuts": "Nutsvoorzieningen", "overig": "Overig"}
AMOUNT_STATUS_LABELS = {"estimated": "Geschat", "confirmed": "Bevestigd", "disputed": "Betwist"}
LETTER_STATUS_LABELS = {
    "queued": "In de wachtrij",
    "rendering": "Wordt gemaakt",
    "rendered": "Gemaakt",
    "sent": "Verstuurd",
    "failed": "Mislukt",
    "cancelled": "Gestopt",
}
DETENTION_LABELS = {
    "pre_trial": "Voorlopige hechtenis",
    "prison_sentence": "Gevangenisstraf",
    "substitute": "Vervangende hechtenis",
    "civil_detention": "Gijzeling",
    "other": "Anders",
}
THREAT_LABELS = {
    "eviction": "Huisuitzetting",
    "utility_cut_off": "Afsluiting van energie of water",
    "insurance_termination": "Beëindiging van de zorgverzekering",
    "attachment": "Beslag",
}
CLOSURE_LABELS = {
    "handed_over": "Overgedragen aan de gemeente",
    "released_without_referral": "Vrijgelaten zonder verwijzing",
    "no_consent": "Geen toestemming",
    "consent_withdrawn": "Toestemming ingetrokken",
    "no_debts": "Geen schulden",
    "refused_by_municipality": "Geweigerd door de gemeente",
    "transferred_out": "Overgeplaatst",
    "deceased": "Overleden",
    "other": "Anders",
}


def label(mapping: Mapping[str, str], code: str | None) -> str:
    """The label of `code`, or the code itself when it has none (never an empty cell)."""
    if code is None:
        return ""
    return mapping.get(code, code)


def letter_label(letter_type: str, round_: int = 1) -> str:
    """The title, and the round in words after the first: "Herinnering (tweede keer)" rather than "L3 (ronde 2)"."""
    title = LETTER_TITLES.get(letter_type, letter_type)
    if round_ <= 1:
        return title
    words = {2: "tweede", 3: "derde", 4: "vierde"}
    return f"{title} ({words.get(round_, f'{round_}e')} keer)"
