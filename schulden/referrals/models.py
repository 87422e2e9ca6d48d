"""The referral to the municipality (warm handover, letter L8) and where each municipality wants it delivered.

A case can be referred more than once: when a municipality answers "not our resident" the case is re-routed and
referred again, and both referrals stay, each with its own Wgs clock and outcome (issue 5: re-routing keeps the
history).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from schulden.db import Base
from workflows.store import utcnow


class ReferralStatus(StrEnum):
    QUEUED = "queued"  # fired; the handover file is being made and delivered by a job
    DELIVERED = "delivered"  # in the municipality's mailbox or zaaksysteem
    FAILED = "failed"  # delivery failed after the last retry; the counsellor sees it in the task list
    CANCELLED = "cancelled"  # consent withdrawn or the case closed before it went out
    ACCEPTED = "accepted"
    REFUSED = "refused"


class DeliveryChannel(StrEnum):
    EMAIL = "email"
    ZGW = "zgw"


class RefusalKind(StrEnum):
    NOT_RESIDENT = "not_resident"  # starts a re-routing to another municipality
    OTHER = "other"  # closes the case


class Referral(Base):
    __tablename__ = "referral"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("debt_case.id", ondelete="RESTRICT"))
    sequence: Mapped[int]  # 1 for the first referral of the case, 2 after a re-routing, ...
    municipality_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"))
    letter_id: Mapped[int | None] = mapped_column(ForeignKey("letter.id", ondelete="RESTRICT"))
    include_district_team: Mapped[bool] = mapped_column(default=False)
    channel: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(12), default=ReferralStatus.QUEUED.value)
    urgent: Mapped[bool] = mapped_column(default=False)
    threat: Mapped[str | None] = mapped_column(String(32))
    referred_at: Mapped[datetime]
    # The Wgs term for the first conversation (art. 4a): due date and the rule that produced it.
    wgs_due_on: Mapped[date | None]
    wgs_rule: Mapped[str | None] = mapped_column(String(80))
    wgs_breached_at: Mapped[datetime | None]
    created_by: Mapped[str] = mapped_column(String(64))
    # Delivery (by the job, after commit).
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    handover_key: Mapped[str | None] = mapped_column(String(200))
    handover_sha256: Mapped[str | None] = mapped_column(String(64))
    summary_key: Mapped[str | None] = mapped_column(String(200))
    summary_sha256: Mapped[str | None] = mapped_column(String(64))
    delivered_at: Mapped[datetime | None]
    email_message_id: Mapped[str | None] = mapped_column(String(200))
    district_message_id: Mapped[str | None] = mapped_column(String(200))
    zaak_url: Mapped[str | None] = mapped_column(String(500))
    document_url: Mapped[str | None] = mapped_column(String(500))
    # The municipality's answer.
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(64))
    first_conversation_on: Mapped[date | None]
    refusal_kind: Mapped[str | None] = mapped_column(String(16))
    refusal_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("case_id", "sequence"),
        CheckConstraint(
            "status IN ('queued', 'delivered', 'failed', 'cancelled', 'accepted', 'refused')", name="status_known"
        ),
        CheckConstraint("channel IN ('email', 'zgw')", name="channel_known"),
        CheckConstraint("refusal_kind IS NULL OR refusal_kind IN ('not_resident', 'other')", name="refusal_known"),
        Index("ix_referral_municipality_id_status", "municipality_id", "status"),
    )


class MunicipalDelivery(Base):
    """How one municipality receives referrals. Without a row (or without ZGW settings) referrals go by e-mail
    to the municipality's debt counselling address (organisation.email).

    The ZGW client secret is not stored here: `zgw_secret_setting` names the environment variable that holds it,
    so a database dump never carries a credential.
    """

    __tablename__ = "municipal_delivery"

    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(8), default=DeliveryChannel.EMAIL.value)
    district_team_name: Mapped[str | None] = mapped_column(String(200))
    district_team_email: Mapped[str | None] = mapped_column(String(254))
    zaken_api_url: Mapped[str | None] = mapped_column(String(500))
    documenten_api_url: Mapped[str | None] = mapped_column(String(500))
    zgw_client_id: Mapped[str | None] = mapped_column(String(100))
    zgw_secret_setting: Mapped[str | None] = mapped_column(String(100))
    zaaktype_url: Mapped[str | None] = mapped_column(String(500))
    statustype_url: Mapped[str | None] = mapped_column(String(500))
    roltype_url: Mapped[str | None] = mapped_column(String(500))
    informatieobjecttype_url: Mapped[str | None] = mapped_column(String(500))
    bronorganisatie: Mapped[str | None] = mapped_column(String(9))  # RSIN of the municipality
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (CheckConstraint("channel IN ('email', 'zgw')", name="channel_known"),)
