"""Letters as an outbox: a row is written in the transaction that asks for the letter; jobs render and deliver it.

One row per (case, debt, type, round) — the idempotency key — so a double click, a replayed request or a second
run of a job can never make a second letter. The database, not the queue, is the record (security.md 1.7).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from schulden.db import Base
from workflows.store import utcnow


class LetterStatus(StrEnum):
    QUEUED = "queued"  # asked for; a job will render it
    RENDERING = "rendering"  # claimed by a job
    RENDERED = "rendered"  # PDF stored, hash recorded; waits for the print batch or the e-mail job
    SENT = "sent"  # in a print batch handed to the mailroom, or accepted by the mail server
    FAILED = "failed"  # rendering failed after the last retry; a person must look (shown on the counsellor's list)
    CANCELLED = "cancelled"  # consent withdrawn or the case closed before it went out


class Channel(StrEnum):
    POST = "post"
    EMAIL = "email"
    # No correspondence address: the counsellor delivers it through the creditor's own channel (phone line, online
    # form), named in `recipient_channel_note`, and marks it done. It never enters a print batch.
    MANUAL = "manual"


class Letter(Base):
    __tablename__ = "letter"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("debt_case.id", ondelete="RESTRICT"))
    debt_id: Mapped[int | None] = mapped_column(ForeignKey("debt.id", ondelete="RESTRICT"))
    # The recipient: a creditor (or collecting party), a municipality (L8), or the detainee in the PI (L9, L10).
    creditor_id: Mapped[int | None] = mapped_column(ForeignKey("creditor.id", ondelete="RESTRICT"))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"))
    # A creditor's address as it was when the letter was asked for. Rendering and e-mail use this copy, never the
    # directory: a later change there (or a forged one) cannot redirect a letter already made, nor its retries.
    recipient_name: Mapped[str | None] = mapped_column(String(200))
    recipient_department: Mapped[str | None] = mapped_column(String(200))
    recipient_address_line: Mapped[str | None] = mapped_column(String(200))
    recipient_postcode: Mapped[str | None] = mapped_column(String(7))
    recipient_city: Mapped[str | None] = mapped_column(String(100))
    recipient_email: Mapped[str | None] = mapped_column(String(254))
    recipient_may_receive_bsn: Mapped[bool] = mapped_column(default=False, server_default=false())
    recipient_channel_note: Mapped[str | None] = mapped_column(Text)
    letter_type: Mapped[str] = mapped_column(String(4))
    round: Mapped[int] = mapped_column(Integer, default=1)
    idempotency_key: Mapped[str] = mapped_column(String(80), unique=True)
    status: Mapped[str] = mapped_column(String(12), default=LetterStatus.QUEUED.value)
    channel: Mapped[str] = mapped_column(String(8), default=Channel.POST.value)
    # The letter's date is fixed when it is asked for, so a re-render gives the same letter.
    letter_date: Mapped[date]
    requested_by: Mapped[str] = mapped_column(String(64))
    template_version: Mapped[str | None] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    storage_key: Mapped[str | None] = mapped_column(String(200))
    sha256: Mapped[str | None] = mapped_column(String(64))
    size_bytes: Mapped[int | None]
    rendered_at: Mapped[datetime | None]
    print_batch_id: Mapped[int | None] = mapped_column(ForeignKey("print_batch.id", ondelete="RESTRICT"))
    delivery_started_at: Mapped[datetime | None]
    email_message_id: Mapped[str | None] = mapped_column(String(200))
    sent_at: Mapped[datetime | None]
    # Reply: the short code is typed by a person, the token sits in the QR link. Only their hashes are kept.
    reply_code_lookup: Mapped[str | None] = mapped_column(String(8), unique=True)
    reply_code_hash: Mapped[str | None] = mapped_column(String(200))
    reply_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    reply_expires_at: Mapped[datetime | None]
    reply_revoked_at: Mapped[datetime | None]
    # How often the code or link was used to open the reply page (security.md 2.2), for the counsellor and audit.
    reply_used_count: Mapped[int] = mapped_column(Integer, default=0)
    reply_last_used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (
        CheckConstraint(
            "status IN ('queued', 'rendering', 'rendered', 'sent', 'failed', 'cancelled')", name="status_known"
        ),
        CheckConstraint("channel IN ('post', 'email', 'manual')", name="channel_known"),
        CheckConstraint("creditor_id IS NULL OR recipient_name IS NOT NULL", name="creditor_address_fixed"),
        CheckConstraint(
            "letter_type IN ('L1', 'L2', 'L3', 'L4', 'L5', 'L6', 'L7', 'L8', 'L9', 'L10')", name="type_known"
        ),
        CheckConstraint(
            "status NOT IN ('rendered', 'sent') OR (sha256 IS NOT NULL AND storage_key IS NOT NULL)",
            name="rendered_has_pdf",
        ),
        Index("ix_letter_case_id", "case_id"),
        Index("ix_letter_status_updated_at", "status", "updated_at"),
    )


class PrintBatch(Base):
    """The day's post of one PI: one merged PDF (cover sheet, list, letters) for its mailroom."""

    __tablename__ = "print_batch"

    id: Mapped[int] = mapped_column(primary_key=True)
    pi_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"))
    batch_date: Mapped[date]
    created_by: Mapped[str] = mapped_column(String(64))
    letter_count: Mapped[int]
    storage_key: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Letters that were due in this batch but whose PDF was missing from the store: put back to be made again,
    #: they go in a later batch (issue 14; the batch names them instead of failing).
    left_out: Mapped[list[int]] = mapped_column(JSON, default=list, server_default="[]")


class LetterTextVersion(Base):
    """A letter text stored by an administrator: the full text (header, `---`, body) as in texts/<type>.txt.

    Append-only: a change is a new row with a higher version; the newest row per type is the text in use, in every
    web and worker process (schulden/letters/text_versions.py). The shipped files stay the baseline.
    """

    __tablename__ = "letter_text_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    letter_type: Mapped[str] = mapped_column(String(4))
    version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("letter_type", "version"),
        CheckConstraint(
            "letter_type IN ('L1', 'L2', 'L3', 'L4', 'L5', 'L6', 'L7', 'L8', 'L9', 'L10')", name="type_known"
        ),
    )
