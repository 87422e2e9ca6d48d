"""Letters as an outbox (one row per step and type), and the print batches of the PIs' mailrooms.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "print_batch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pi_id", sa.Integer(), nullable=False),
        sa.Column("batch_date", sa.Date(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("letter_count", sa.Integer(), nullable=False),
        sa.Column("storage_key", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["pi_id"], ["organisation.id"], name=op.f("fk_print_batch_pi_id_organisation"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_print_batch")),
    )
    op.create_table(
        "letter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("debt_id", sa.Integer(), nullable=True),
        sa.Column("creditor_id", sa.Integer(), nullable=True),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("letter_type", sa.String(length=4), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=80), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("letter_date", sa.Date(), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("template_version", sa.String(length=20), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("storage_key", sa.String(length=200), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("size_bytes", sa.Integer(), nullable=True),
        sa.Column("rendered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("print_batch_id", sa.Integer(), nullable=True),
        sa.Column("delivery_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("email_message_id", sa.String(length=200), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reply_code_lookup", sa.String(length=8), nullable=True),
        sa.Column("reply_code_hash", sa.String(length=200), nullable=True),
        sa.Column("reply_token_hash", sa.String(length=64), nullable=True),
        sa.Column("reply_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reply_revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("channel IN ('post', 'email')", name=op.f("ck_letter_channel_known")),
        sa.CheckConstraint(
            "letter_type IN ('L1', 'L2', 'L3', 'L4', 'L5', 'L6', 'L7', 'L8', 'L9', 'L10')",
            name=op.f("ck_letter_type_known"),
        ),
        sa.CheckConstraint(
            "status IN ('queued', 'rendering', 'rendered', 'sent', 'failed', 'cancelled')",
            name=op.f("ck_letter_status_known"),
        ),
        sa.CheckConstraint(
            "status NOT IN ('rendered', 'sent') OR (sha256 IS NOT NULL AND storage_key IS NOT NULL)",
            name=op.f("ck_letter_rendered_has_pdf"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["debt_case.id"], name=op.f("fk_letter_case_id_debt_case"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["creditor_id"], ["creditor.id"], name=op.f("fk_letter_creditor_id_creditor"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(["debt_id"], ["debt.id"], name=op.f("fk_letter_debt_id_debt"), ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_letter_organisation_id_organisation"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["print_batch_id"],
            ["print_batch.id"],
            name=op.f("fk_letter_print_batch_id_print_batch"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_letter")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_letter_idempotency_key")),
        sa.UniqueConstraint("reply_code_lookup", name=op.f("uq_letter_reply_code_lookup")),
        sa.UniqueConstraint("reply_token_hash", name=op.f("uq_letter_reply_token_hash")),
    )
    with op.batch_alter_table("letter", schema=None) as batch_op:
        batch_op.create_index("ix_letter_case_id", ["case_id"], unique=False)
        batch_op.create_index("ix_letter_status_updated_at", ["status", "updated_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("letter", schema=None) as batch_op:
        batch_op.drop_index("ix_letter_status_updated_at")
        batch_op.drop_index("ix_letter_case_id")

    op.drop_table("letter")
    op.drop_table("print_batch")
