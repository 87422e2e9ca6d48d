"""Which municipality a case goes to (domain.md 7.1; Penitentiaire maatregel art. 1(c)).

The proposal: the municipality of the intended address after release (by postcode, through the PC4 table, which
is approximate because a PC4 area can cross a border), else the municipality of registration before detention.
A counsellor can override it with a reason. Every choice names its rule and reason, and lands in the history.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from schulden.cases.models import RoutingRule
from schulden.organisations.models import Organisation, OrganisationKind, PostcodeArea


@dataclass(frozen=True)
class RoutingProposal:
    municipality: Organisation | None
    rule: RoutingRule | None
    reason: str


def municipality_for_postcode(session: Session, postcode: str) -> Organisation | None:
    """The municipality of a postcode's PC4 area, or None when the area is unknown."""
    area = session.get(PostcodeArea, postcode[:4])
    if area is None:
        return None
    return session.scalar(
        select(Organisation).where(
            Organisation.kind == OrganisationKind.MUNICIPALITY.value, Organisation.code == area.municipality_code
        )
    )


def propose_municipality(
    session: Session, *, intended_postcode: str | None, registration_municipality: Organisation | None
) -> RoutingProposal:
    """The proposed municipality with the rule that chose it and a reason a person can check."""
    if intended_postcode:
        found = municipality_for_postcode(session, intended_postcode)
        if found is not None:
            return RoutingProposal(
                found,
                RoutingRule.INTENDED_ADDRESS,
                f"Beoogd adres na vrijlating, postcode {intended_postcode}: gebied {intended_postcode[:4]} "
                f"hoort (bij benadering) bij {found.name}.",
            )
    if registration_municipality is not None:
        return RoutingProposal(
            registration_municipality,
            RoutingRule.REGISTRATION,
            f"Ingeschreven in {registration_municipality.name} voor de detentie.",
        )
    return RoutingProposal(None, None, "Nog geen beoogd adres of inschrijving bekend.")
