"""Detainee and case. Detention facts live on the case because a new detention is a new case."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from schulden.db import Base
from workflows.store import utcnow


class DetentionType(StrEnum):
    PRE_TRIAL = "pre_trial"  # voorlopige hechtenis: release date unknown, may end abruptly
    PRISON_SENTENCE = "prison_sentence"  # gevangenisstraf
    SUBSTITUTE = "substitute"  # vervangende hechtenis
    CIVIL_DETENTION = "civil_detention"  # gijzeling (CJIB), at most one year
    OTHER = "other"


class Threat(StrEnum):
    """Threats that put the municipality on the 3-working-day track (art. 4a Wgs), plus attachment."""

    EVICTION = "eviction"
    UTILITY_CUT_OFF = "utility_cut_off"
    INSURANCE_TERMINATION = "insurance_termination"
    ATTACHMENT = "attachment"


class ClosureReason(StrEnum):
    HANDED_OVER = "handed_over"
    RELEASED_WITHOUT_REFERRAL = "released_without_referral"
    NO_CONSENT = "no_consent"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    NO_DEBTS = "no_debts"
    REFUSED_BY_MUNICIPALITY = "refused_by_municipality"
    TRANSFERRED_OUT = "transferred_out"
    DECEASED = "deceased"
    OTHER = "other"


class Detainee(Base):
    """The person. BSN in compact form (9 digits) or empty; DJI's registration number is opaque."""

    __tablename__ = "detainee"

    id: Mapped[int] = mapped_column(primary_key=True)
    given_names: Mapped[str] = mapped_column(String(200))
    surname_prefix: Mapped[str | None] = mapped_column(String(40))
    surname: Mapped[str] = mapped_column(String(200))
    date_of_birth: Mapped[date]
    bsn: Mapped[str | None] = mapped_column(String(9))
    dji_number: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        # The 11-proef is checked in Python (python-stdnum); the database still refuses anything but 9 digits.
        # ltrim(x, digits) = '' is "only digits" in both PostgreSQL and SQLite.
        CheckConstraint("bsn IS NULL OR (length(bsn) = 9 AND ltrim(bsn, '0123456789') = '')", name="bsn_digits"),
    )


class Case(Base):
    """A detainee's debt case during one detention; its state lives in its workflow instance."""

    __tablename__ = "debt_case"

    id: Mapped[int] = mapped_column(primary_key=True)
    detainee_id: Mapped[int] = mapped_column(ForeignKey("detainee.id", ondelete="RESTRICT"))
    instance_id: Mapped[int] = mapped_column(ForeignKey("wf_instance.id", ondelete="RESTRICT"), unique=True)
    pi_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"))
    municipality_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"))
    detention_type: Mapped[str] = mapped_column(String(20))
    detention_start: Mapped[date]
    expected_release: Mapped[date | None]
    actual_release: Mapped[date | None]
    urgent: Mapped[bool] = mapped_column(default=False)
    threat: Mapped[str | None] = mapped_column(String(32))
    closure_reason: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    row_version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": row_version}  # noqa: RUF012 - mapper configuration

    __table_args__ = (
        CheckConstraint(
            "detention_type IN ('pre_trial', 'prison_sentence', 'substitute', 'civil_detention', 'other')",
            name="detention_type_known",
        ),
        CheckConstraint("expected_release IS NULL OR expected_release >= detention_start", name="release_after_start"),
    )
