"""Which recorded basisvoorwaarden count as arranged ("geregeld") at release: the one table the figures read
(issue 12 item 9; docs/figures.md, "Basisvoorwaarden bij vrijlating", gives the reasons per value).

The principle: a condition is geregeld when it is in place on the day of release, or when the step the route is for
was taken in detention and what remains is waiting or a routine step after release (an application made, an
insurance that resumes on the release papers). It is niet geregeld when it is missing, blocked, ended or still
needed. Nothing recorded — no release_conditions row, or the column empty — is onbekend.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from schulden.cases.conditions import (
    BankAccount,
    CareArranged,
    HealthInsurance,
    HousingAfterRelease,
    IdDocument,
    IncomeAfterRelease,
)


class ConditionState(StrEnum):
    ARRANGED = "arranged"
    NOT_ARRANGED = "not_arranged"
    UNKNOWN = "unknown"


#: The states in the order the page and the CSV show them, with their Dutch words.
STATE_LABELS: dict[ConditionState, str] = {
    ConditionState.ARRANGED: "geregeld",
    ConditionState.NOT_ARRANGED: "niet geregeld",
    ConditionState.UNKNOWN: "onbekend",
}


@dataclass(frozen=True)
class Basisvoorwaarde:
    """One condition: its Dutch name and, per stored value, True for geregeld and False for niet geregeld.
    `values` None: free text, where any text is geregeld and there is no "niet geregeld". `note`: what the Cijfers
    page adds to the values in Dutch."""

    label: str
    values: dict[str, bool] | None
    note: str = ""


#: Per column of release_conditions. tests/integration/test_figures_conditions.py checks that every value the
#: column accepts (schulden.cases.conditions.CHOICES) is in this table, so a new value cannot fall through to
#: "onbekend" unnoticed. A "valid" ID whose recorded valid-until date lies before the release day had expired by
#: then and counts as niet geregeld (queries.py); that is the one rule the table cannot say.
BASISVOORWAARDEN: dict[str, Basisvoorwaarde] = {
    "id_document": Basisvoorwaarde(
        "Identiteitsbewijs",
        {
            IdDocument.VALID: True,
            # Applied for in detention (domain.md 1.3: the 26 prison municipalities issue the card): collecting it
            # is what remains.
            IdDocument.APPLIED: True,
            IdDocument.EXPIRED: False,
            IdDocument.NONE: False,
        },
        "Een geldig identiteitsbewijs dat volgens de vastgelegde datum voor de dag van vrijlating verliep, telt als "
        "niet geregeld.",
    ),
    "bank_account": Basisvoorwaarde(
        "Bankrekening",
        {
            BankAccount.HAS_ACCOUNT: True,
            BankAccount.BASIC_ACCOUNT: True,
            BankAccount.BLOCKED: False,  # no money in or out: a benefit cannot be paid on it
            BankAccount.NONE: False,
        },
    ),
    "income_after_release": Basisvoorwaarde(
        "Inkomen",
        {
            IncomeAfterRelease.BENEFIT_GRANTED: True,
            IncomeAfterRelease.WORK: True,
            # The application before release is the municipality's task (domain.md 1.3); the decision follows.
            IncomeAfterRelease.BENEFIT_APPLIED: True,
            IncomeAfterRelease.NONE: False,
        },
    ),
    "housing_after_release": Basisvoorwaarde(
        "Wonen",
        {
            HousingAfterRelease.OWN_HOME: True,
            HousingAfterRelease.RENTED_ROOM: True,
            HousingAfterRelease.FAMILY_OR_FRIENDS: True,
            # The basisvoorwaarde is onderdak, a roof from the first night: a place in the shelter gives it.
            HousingAfterRelease.SHELTER: True,
            HousingAfterRelease.NONE: False,
        },
    ),
    "health_insurance": Basisvoorwaarde(
        "Zorgverzekering",
        {
            HealthInsurance.ACTIVE: True,
            # Suspended is the rule in detention (domain.md 2.3): the insurance still exists and resumes on the
            # release papers, which recording the release asks the insurer for (L6, second round).
            HealthInsurance.SUSPENDED: True,
            HealthInsurance.ENDED: False,  # no insurance: one must be taken out after release
        },
    ),
    "care_arranged": Basisvoorwaarde(
        "Zorg en begeleiding",
        {CareArranged.ARRANGED: True, CareArranged.NOT_NEEDED: True, CareArranged.NEEDED: False},
    ),
    "contact_after_release": Basisvoorwaarde(
        "Contact na vrijlating",
        None,
        "geregeld als er een telefoonnummer of e-mailadres is vastgelegd, anders onbekend.",
    ),
}
