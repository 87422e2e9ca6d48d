"""Debts. Money is integer cents, never float. The creditor directory is schulden.creditors.models."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from schulden.db import Base
from workflows.store import utcnow


class DebtCategory(StrEnum):
    """The DDAS categories (VNG/Divosa data model, domain.md 3.3)."""

    ZORG = "zorg"
    PUBLIEK = "publiek"
    NUTS = "nuts"
    OVERIG = "overig"


#: Finer debt types (domain.md 9.2) with their DDAS category.
DEBT_TYPES: dict[str, DebtCategory] = {
    "cjib_boete": DebtCategory.PUBLIEK,
    "schadevergoedingsmaatregel": DebtCategory.PUBLIEK,
    "ontneming": DebtCategory.PUBLIEK,
    "toeslagen": DebtCategory.PUBLIEK,
    "belasting": DebtCategory.PUBLIEK,
    "duo": DebtCategory.PUBLIEK,
    "uitkering_terugvordering": DebtCategory.PUBLIEK,
    "zorgpremie": DebtCategory.ZORG,
    "zorgkosten": DebtCategory.ZORG,
    "huur": DebtCategory.OVERIG,
    "energie": DebtCategory.NUTS,
    "water": DebtCategory.NUTS,
    "telecom": DebtCategory.OVERIG,
    "bank_krediet": DebtCategory.OVERIG,
    "informeel": DebtCategory.OVERIG,
    "overig": DebtCategory.OVERIG,
}


class AmountStatus(StrEnum):
    ESTIMATED = "estimated"
    CONFIRMED = "confirmed"
    DISPUTED = "disputed"


class Debt(Base):
    """A claim of one creditor; its state lives in its workflow instance."""

    __tablename__ = "debt"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("debt_case.id", ondelete="RESTRICT"))
    instance_id: Mapped[int] = mapped_column(ForeignKey("wf_instance.id", ondelete="RESTRICT"), unique=True)
    creditor_id: Mapped[int] = mapped_column(ForeignKey("creditor.id", ondelete="RESTRICT"))
    # The incassobureau or bailiff collecting for the creditor, when it is not the creditor itself.
    collecting_party_id: Mapped[int | None] = mapped_column(ForeignKey("creditor.id", ondelete="RESTRICT"))
    creditor_reference: Mapped[str | None] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(16))
    debt_type: Mapped[str] = mapped_column(String(40))
    principal_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    interest_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    costs_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_status: Mapped[str] = mapped_column(String(16), default=AmountStatus.ESTIMATED.value)
    peildatum: Mapped[date | None]
    threat: Mapped[str | None] = mapped_column(String(32))
    # Joint debt with the partner who stays behind (the referral names the household).
    joint_with_partner: Mapped[bool] = mapped_column(default=False)
    is_business_debt: Mapped[bool] = mapped_column(default=False)
    # Where we learnt of it (domain.md 9.2): client, document, creditor or vroegsignaal.
    source: Mapped[str] = mapped_column(String(16), default="client")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    row_version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": row_version}  # noqa: RUF012 - mapper configuration

    __table_args__ = (
        CheckConstraint("source IN ('client', 'document', 'creditor', 'vroegsignaal')", name="source_known"),
        CheckConstraint("category IN ('zorg', 'publiek', 'nuts', 'overig')", name="category_known"),
        CheckConstraint("amount_status IN ('estimated', 'confirmed', 'disputed')", name="amount_status_known"),
        CheckConstraint(
            "principal_cents >= 0 AND interest_cents >= 0 AND costs_cents >= 0", name="amounts_not_negative"
        ),
        Index("ix_debt_case_id", "case_id"),
    )

    @property
    def total_cents(self) -> int:
        return self.principal_cents + self.interest_cents + self.costs_cents
