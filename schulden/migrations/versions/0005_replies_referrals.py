"""Creditor replies, referrals to municipalities with their delivery settings, reply-code use on letters.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("wf_history", schema=None) as batch_op:
        batch_op.create_index("ix_wf_history_event_at", ["event", "at"], unique=False)
    op.create_table(
        "municipal_delivery",
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("district_team_name", sa.String(length=200), nullable=True),
        sa.Column("district_team_email", sa.String(length=254), nullable=True),
        sa.Column("zaken_api_url", sa.String(length=500), nullable=True),
        sa.Column("documenten_api_url", sa.String(length=500), nullable=True),
        sa.Column("zgw_client_id", sa.String(length=100), nullable=True),
        sa.Column("zgw_secret_setting", sa.String(length=100), nullable=True),
        sa.Column("zaaktype_url", sa.String(length=500), nullable=True),
        sa.Column("statustype_url", sa.String(length=500), nullable=True),
        sa.Column("roltype_url", sa.String(length=500), nullable=True),
        sa.Column("informatieobjecttype_url", sa.String(length=500), nullable=True),
        sa.Column("bronorganisatie", sa.String(length=9), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("channel IN ('email', 'zgw')", name=op.f("ck_municipal_delivery_channel_known")),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_municipal_delivery_organisation_id_organisation"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("organisation_id", name=op.f("pk_municipal_delivery")),
    )
    op.create_table(
        "creditor_reply",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("debt_id", sa.Integer(), nullable=True),
        sa.Column("letter_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("entered_by", sa.String(length=64), nullable=False),
        sa.Column("principal_cents", sa.BigInteger(), nullable=True),
        sa.Column("interest_cents", sa.BigInteger(), nullable=True),
        sa.Column("costs_cents", sa.BigInteger(), nullable=True),
        sa.Column("peildatum", sa.Date(), nullable=True),
        sa.Column("collection_suspended", sa.Boolean(), nullable=True),
        sa.Column("collection_suspended_until", sa.Date(), nullable=True),
        sa.Column("interest_suspended", sa.Boolean(), nullable=True),
        sa.Column("interest_suspended_until", sa.Date(), nullable=True),
        sa.Column("has_judgment", sa.Boolean(), nullable=True),
        sa.Column("has_attachment", sa.Boolean(), nullable=True),
        sa.Column("original_creditor", sa.String(length=200), nullable=True),
        sa.Column("arrangement_offered", sa.Boolean(), nullable=True),
        sa.Column("arrangement_monthly_cents", sa.BigInteger(), nullable=True),
        sa.Column("arrangement_terms", sa.Text(), nullable=True),
        sa.Column("contact_name", sa.String(length=200), nullable=True),
        sa.Column("contact_phone", sa.String(length=40), nullable=True),
        sa.Column("contact_email", sa.String(length=254), nullable=True),
        sa.Column("no_cooperation", sa.String(length=24), nullable=True),
        sa.Column("no_cooperation_note", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("attachment_key", sa.String(length=200), nullable=True),
        sa.Column("attachment_name", sa.String(length=200), nullable=True),
        sa.Column("attachment_sha256", sa.String(length=64), nullable=True),
        sa.Column("attachment_bytes", sa.Integer(), nullable=True),
        sa.Column("events", sa.String(length=200), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reviewed_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "channel IN ('web', 'post', 'phone', 'email')", name=op.f("ck_creditor_reply_channel_known")
        ),
        sa.CheckConstraint(
            "no_cooperation IS NULL OR no_cooperation IN ('client_unknown', 'final_discharge', 'recent_stabilisation', 'declines_helper', 'other')",
            name=op.f("ck_creditor_reply_no_cooperation_known"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["debt_case.id"], name=op.f("fk_creditor_reply_case_id_debt_case"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["debt_id"], ["debt.id"], name=op.f("fk_creditor_reply_debt_id_debt"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["letter_id"], ["letter.id"], name=op.f("fk_creditor_reply_letter_id_letter"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_creditor_reply")),
    )
    with op.batch_alter_table("creditor_reply", schema=None) as batch_op:
        batch_op.create_index("ix_creditor_reply_case_id", ["case_id"], unique=False)
        batch_op.create_index("ix_creditor_reply_debt_id", ["debt_id"], unique=False)
        batch_op.create_index("ix_creditor_reply_letter_id", ["letter_id"], unique=False)

    op.create_table(
        "referral",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("municipality_id", sa.Integer(), nullable=False),
        sa.Column("letter_id", sa.Integer(), nullable=True),
        sa.Column("include_district_team", sa.Boolean(), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("threat", sa.String(length=32), nullable=True),
        sa.Column("referred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("wgs_due_on", sa.Date(), nullable=True),
        sa.Column("wgs_rule", sa.String(length=80), nullable=True),
        sa.Column("wgs_breached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("handover_key", sa.String(length=200), nullable=True),
        sa.Column("handover_sha256", sa.String(length=64), nullable=True),
        sa.Column("summary_key", sa.String(length=200), nullable=True),
        sa.Column("summary_sha256", sa.String(length=64), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("email_message_id", sa.String(length=200), nullable=True),
        sa.Column("district_message_id", sa.String(length=200), nullable=True),
        sa.Column("zaak_url", sa.String(length=500), nullable=True),
        sa.Column("document_url", sa.String(length=500), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("first_conversation_on", sa.Date(), nullable=True),
        sa.Column("refusal_kind", sa.String(length=16), nullable=True),
        sa.Column("refusal_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("channel IN ('email', 'zgw')", name=op.f("ck_referral_channel_known")),
        sa.CheckConstraint(
            "refusal_kind IS NULL OR refusal_kind IN ('not_resident', 'other')", name=op.f("ck_referral_refusal_known")
        ),
        sa.CheckConstraint(
            "status IN ('queued', 'delivered', 'failed', 'cancelled', 'accepted', 'refused')",
            name=op.f("ck_referral_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["debt_case.id"], name=op.f("fk_referral_case_id_debt_case"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["letter_id"], ["letter.id"], name=op.f("fk_referral_letter_id_letter"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["municipality_id"],
            ["organisation.id"],
            name=op.f("fk_referral_municipality_id_organisation"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral")),
        sa.UniqueConstraint("case_id", "sequence", name=op.f("uq_referral_case_id_sequence")),
    )
    with op.batch_alter_table("referral", schema=None) as batch_op:
        batch_op.create_index("ix_referral_municipality_id_status", ["municipality_id", "status"], unique=False)

    with op.batch_alter_table("letter", schema=None) as batch_op:
        # Existing letters were never opened through their code: 0.
        batch_op.add_column(sa.Column("reply_used_count", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("reply_last_used_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("wf_history", schema=None) as batch_op:
        batch_op.drop_index("ix_wf_history_event_at")
    with op.batch_alter_table("letter", schema=None) as batch_op:
        batch_op.drop_column("reply_last_used_at")
        batch_op.drop_column("reply_used_count")

    with op.batch_alter_table("referral", schema=None) as batch_op:
        batch_op.drop_index("ix_referral_municipality_id_status")

    op.drop_table("referral")
    with op.batch_alter_table("creditor_reply", schema=None) as batch_op:
        batch_op.drop_index("ix_creditor_reply_letter_id")
        batch_op.drop_index("ix_creditor_reply_debt_id")
        batch_op.drop_index("ix_creditor_reply_case_id")

    op.drop_table("creditor_reply")
    op.drop_table("municipal_delivery")
