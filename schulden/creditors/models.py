"""Proposed changes to a creditor's contact data, waiting for an administrator.

The directory is shared by every PI and every counsellor: where a creditor's letters go decides who receives a
detainee's name, date of birth, detention and debts. So only an administrator changes those fields; anyone else
who may write to the directory proposes, and nothing changes until an administrator approves.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from schulden.db import Base
from workflows.store import utcnow


class ProposalStatus(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"


class CreditorChangeProposal(Base):
    __tablename__ = "creditor_change_proposal"

    id: Mapped[int] = mapped_column(primary_key=True)
    creditor_id: Mapped[int] = mapped_column(ForeignKey("creditor.id", ondelete="RESTRICT"))
    # Who proposed it: the actor id (user:<id>), never a name, and the organisation they worked for then.
    proposed_by: Mapped[str] = mapped_column(String(64))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"))
    proposed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The creditor's version the proposer saw: the administrator is shown whether it changed since.
    base_version: Mapped[int] = mapped_column(Integer)
    # The proposed values of the contact fields (only the fields proposed; null clears a field).
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10), default=ProposalStatus.PROPOSED.value)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("status IN ('proposed', 'approved', 'rejected')", name="status_known"),
        CheckConstraint(
            "(status = 'proposed' AND decided_at IS NULL AND decided_by IS NULL) "
            "OR (status <> 'proposed' AND decided_at IS NOT NULL AND decided_by IS NOT NULL)",
            name="decided_when_not_proposed",
        ),
        Index("ix_creditor_change_proposal_status_creditor_id", "status", "creditor_id"),
    )
