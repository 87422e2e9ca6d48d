"""Creditor reply sessions on the server; earlier answers kept as versions.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reply_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_hash", sa.String(length=64), nullable=False),
        sa.Column("letter_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_reason", sa.String(length=16), nullable=True),
        sa.CheckConstraint(
            "ended_reason IS NULL OR ended_reason IN ('submitted', 'revoked', 'expired', 'replaced')",
            name=op.f("ck_reply_session_ended_reason_known"),
        ),
        sa.ForeignKeyConstraint(
            ["letter_id"], ["letter.id"], name=op.f("fk_reply_session_letter_id_letter"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reply_session")),
        sa.UniqueConstraint("session_hash", name=op.f("uq_reply_session_session_hash")),
    )
    with op.batch_alter_table("reply_session", schema=None) as batch_op:
        batch_op.create_index("ix_reply_session_letter_id", ["letter_id"], unique=False)

    # Answers so far become versions 1..n per debt in the order received; all but the newest are superseded
    # (at the moment the next one came in).
    with op.batch_alter_table("creditor_reply", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE creditor_reply SET version = CASE WHEN debt_id IS NULL THEN 1 ELSE "
        "(SELECT count(*) FROM creditor_reply AS earlier "
        "WHERE earlier.debt_id = creditor_reply.debt_id AND earlier.id <= creditor_reply.id) END"
    )
    op.execute(
        "UPDATE creditor_reply SET superseded_at = "
        "(SELECT min(later.created_at) FROM creditor_reply AS later "
        "WHERE later.debt_id = creditor_reply.debt_id AND later.id > creditor_reply.id)"
    )
    with op.batch_alter_table("creditor_reply", schema=None) as batch_op:
        batch_op.alter_column("version", existing_type=sa.Integer(), nullable=False)
        batch_op.create_unique_constraint(op.f("uq_creditor_reply_debt_id_version"), ["debt_id", "version"])


def downgrade() -> None:
    with op.batch_alter_table("creditor_reply", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_creditor_reply_debt_id_version"), type_="unique")
        batch_op.drop_column("superseded_at")
        batch_op.drop_column("version")
    with op.batch_alter_table("reply_session", schema=None) as batch_op:
        batch_op.drop_index("ix_reply_session_letter_id")
    op.drop_table("reply_session")
