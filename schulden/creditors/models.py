"""The creditor directory, and proposed changes to a creditor's contact data waiting for an administrator.

The directory is shared by every PI and every counsellor: where a creditor's letters go decides who receives a
detainee's name, date of birth, detention and debts. So only an administrator changes those fields; anyone else
who may write to the directory proposes, and nothing changes until an administrator approves.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from schulden.db import Base
from workflows.store import utcnow


class CreditorKind(StrEnum):
    GOVERNMENT = "government"  # CJIB, Belastingdienst/Toeslagen, UWV, SVB, DUO, CAK, municipality
    HEALTH_INSURER = "health_insurer"
    LANDLORD = "landlord"
    UTILITY = "utility"  # energy, water
    TELECOM = "telecom"
    BANK = "bank"
    COLLECTION_AGENCY = "collection_agency"  # incassobureau
    BAILIFF = "bailiff"  # gerechtsdeurwaarder
    OTHER = "other"


class Creditor(Base):
    """A creditor or collecting party in the directory users extend and correct.

    `may_receive_bsn`: a government body with a legal basis to process the BSN; letters to others never carry it.
    `grade`: how sure the address is (A official page, B other public page, C unverified; shared/data README).
    """

    __tablename__ = "creditor"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    department: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default=CreditorKind.OTHER.value)
    category: Mapped[str] = mapped_column(String(16))
    may_receive_bsn: Mapped[bool] = mapped_column(default=False)
    takes_email: Mapped[bool] = mapped_column(default=False)
    email: Mapped[str | None] = mapped_column(String(254))
    address_line: Mapped[str | None] = mapped_column(String(200))
    postcode: Mapped[str | None] = mapped_column(String(7))
    city: Mapped[str | None] = mapped_column(String(100))
    kvk: Mapped[str | None] = mapped_column(String(8))
    grade: Mapped[str | None] = mapped_column(String(1))
    # How a helper reaches the creditor where no correspondence address exists (a phone line, an online form):
    # a letter to such a creditor is not posted but becomes a task for the counsellor (issue 12).
    channel_note: Mapped[str | None] = mapped_column(Text)
    source_url: Mapped[str | None] = mapped_column(String(500))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    row_version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": row_version}  # noqa: RUF012 - mapper configuration

    __table_args__ = (
        CheckConstraint("category IN ('zorg', 'publiek', 'nuts', 'overig')", name="category_known"),
        CheckConstraint(
            "kind IN ('government', 'health_insurer', 'landlord', 'utility', 'telecom', 'bank', "
            "'collection_agency', 'bailiff', 'other')",
            name="kind_known",
        ),
        CheckConstraint("grade IS NULL OR grade IN ('A', 'B', 'C')", name="grade_known"),
        CheckConstraint("takes_email = false OR email IS NOT NULL", name="email_when_taken"),
        CheckConstraint("kvk IS NULL OR (length(kvk) = 8 AND ltrim(kvk, '0123456789') = '')", name="kvk_digits"),
    )


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
