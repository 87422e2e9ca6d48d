"""Corrections (AVG art. 16, issue 15 part 2): a value of a case, a debt or the detainee that is changed keeps its old
value here, with the new one, when and by whom (docs/privacy.md section 6.3).

Why a table of its own and not the audit log: audit rows outlive the case (60 months, docs/privacy.md section 4)
and must hold no personal data, so they name only the fields changed. The values themselves (an old postcode, DJI
number, amount or creditor's reference) are personal data: they live only here, and the retention job deletes them
with the case (`schulden.retention`, the CASE part).

Values are stored as a person reads them ("4 december 2026", "€ 1.234,56", an organisation's name), because the one
reader is the detainee's access overview (schulden/cases/access_export.py): a code or an id would mean nothing to
him, and the organisation it named may be renamed or gone by then.

The services that change a value call `record` in their own transaction; nothing here commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, Session, mapped_column

from schulden.db import Base
from workflows import Actor
from workflows.store import utcnow

OBJECT_TYPES = ("case", "debt", "detainee")

#: The fields in words, as the detainee's overview names them (per object type: "threat" is the debt's here).
FIELD_LABELS: dict[str, dict[str, str]] = {
    "case": {
        "expected_release": "Verwachte vrijlating",
        "intended_postcode": "Postcode na vrijlating",
        "registration_municipality_id": "Gemeente van inschrijving",
        "health_insurer_id": "Zorgverzekeraar",
        "health_policy_number": "Polisnummer",
    },
    "debt": {
        "creditor_reference": "Kenmerk bij de schuldeiser",
        "collecting_party_id": "Incassobureau",
        "principal_cents": "Hoofdsom",
        "interest_cents": "Rente",
        "costs_cents": "Kosten",
        "amount_status": "Status van het bedrag",
        "peildatum": "Peildatum",
        "threat": "Dreiging",
        "joint_with_partner": "Samen met partner",
        "is_business_debt": "Zakelijke schuld",
    },
    "detainee": {
        "given_names": "Voornamen",
        "surname_prefix": "Tussenvoegsel",
        "surname": "Achternaam",
        "date_of_birth": "Geboortedatum",
        "bsn": "BSN",
        "dji_number": "Registratienummer DJI",
    },
}


class Correction(Base):
    """One changed field: its value before and after, as text for a person; None is "not filled in"."""

    __tablename__ = "correction"

    id: Mapped[int] = mapped_column(primary_key=True)
    # RESTRICT: only the retention job removes a case, and it deletes these rows first (they are personal data).
    case_id: Mapped[int] = mapped_column(ForeignKey("debt_case.id", ondelete="RESTRICT"))
    object_type: Mapped[str] = mapped_column(String(16))
    object_id: Mapped[int]
    field: Mapped[str] = mapped_column(String(40))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[str] = mapped_column(String(64))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"))

    __table_args__ = (
        CheckConstraint("object_type IN ('case', 'debt', 'detainee')", name="object_type_known"),
        Index("ix_correction_case_id_changed_at", "case_id", "changed_at"),
    )


def field_label(object_type: str, field: str) -> str:
    return FIELD_LABELS.get(object_type, {}).get(field, field)


def shown(value: Any, *, amount: bool = False, words: Mapping[str, str] | None = None) -> str | None:
    """A value as a person reads it: dates and amounts the Dutch way, yes/no, a code in words; None stays None."""
    # Imported here: the letters' formatting pulls in the letter package, which itself imports the case models.
    from schulden.letters.templates import bedrag, datum

    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "ja" if value else "nee"
    if amount and isinstance(value, int):
        return bedrag(value)
    if isinstance(value, datetime):
        return datum(value.date())
    if isinstance(value, date):
        return datum(value)
    if words is not None:
        return words.get(str(value), str(value))
    return str(value)


def record(
    session: Session,
    *,
    actor: Actor,
    case_id: int,
    object_type: str,
    object_id: int,
    changes: Mapping[str, tuple[str | None, str | None]],
    at: datetime | None = None,
) -> list[Correction]:
    """One row per field whose shown value changed ({field: (old, new)}, both already `shown`); added to the caller's
    transaction. A field whose words did not change (an amount given again) writes nothing."""
    if object_type not in OBJECT_TYPES:
        raise ValueError(object_type)
    rows = [
        Correction(
            case_id=case_id,
            object_type=object_type,
            object_id=object_id,
            field=field,
            old_value=old,
            new_value=new,
            changed_at=at or utcnow(),
            actor_id=actor.actor_id,
            organisation_id=getattr(actor, "organisation_id", None),
        )
        for field, (old, new) in changes.items()
        if old != new
    ]
    session.add_all(rows)
    return rows
