"""Creditor contact changes: proposals, approvals, and the address fixed on each letter.

Existing letters to a creditor get the creditor's address as the directory holds it now: the best record there
is of where they went (or will go).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: letter column <- creditor column
_COPIED = {
    "recipient_name": "name",
    "recipient_department": "department",
    "recipient_address_line": "address_line",
    "recipient_postcode": "postcode",
    "recipient_city": "city",
    "recipient_email": "email",
    "recipient_may_receive_bsn": "may_receive_bsn",
}


def upgrade() -> None:
    op.create_table(
        "creditor_change_proposal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("creditor_id", sa.Integer(), nullable=False),
        sa.Column("proposed_by", sa.String(length=64), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("base_version", sa.Integer(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(status = 'proposed' AND decided_at IS NULL AND decided_by IS NULL) "
            "OR (status <> 'proposed' AND decided_at IS NOT NULL AND decided_by IS NOT NULL)",
            name=op.f("ck_creditor_change_proposal_decided_when_not_proposed"),
        ),
        sa.CheckConstraint(
            "status IN ('proposed', 'approved', 'rejected')", name=op.f("ck_creditor_change_proposal_status_known")
        ),
        sa.ForeignKeyConstraint(
            ["creditor_id"],
            ["creditor.id"],
            name=op.f("fk_creditor_change_proposal_creditor_id_creditor"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_creditor_change_proposal_organisation_id_organisation"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_creditor_change_proposal")),
    )
    op.create_index(
        "ix_creditor_change_proposal_status_creditor_id",
        "creditor_change_proposal",
        ["status", "creditor_id"],
        unique=False,
    )

    with op.batch_alter_table("letter", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recipient_name", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("recipient_department", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("recipient_address_line", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("recipient_postcode", sa.String(length=7), nullable=True))
        batch_op.add_column(sa.Column("recipient_city", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("recipient_email", sa.String(length=254), nullable=True))
        batch_op.add_column(
            sa.Column("recipient_may_receive_bsn", sa.Boolean(), server_default=sa.false(), nullable=False)
        )

    # One correlated UPDATE: valid on PostgreSQL and SQLite alike.
    assignments = ", ".join(
        f"{target} = (SELECT creditor.{source} FROM creditor WHERE creditor.id = letter.creditor_id)"
        for target, source in _COPIED.items()
    )
    op.execute(f"UPDATE letter SET {assignments} WHERE creditor_id IS NOT NULL")

    with op.batch_alter_table("letter", schema=None) as batch_op:
        batch_op.create_check_constraint(
            batch_op.f("ck_letter_creditor_address_fixed"), "creditor_id IS NULL OR recipient_name IS NOT NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("letter", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_letter_creditor_address_fixed"), type_="check")
        batch_op.drop_column("recipient_may_receive_bsn")
        batch_op.drop_column("recipient_email")
        batch_op.drop_column("recipient_city")
        batch_op.drop_column("recipient_postcode")
        batch_op.drop_column("recipient_address_line")
        batch_op.drop_column("recipient_department")
        batch_op.drop_column("recipient_name")
    op.drop_index("ix_creditor_change_proposal_status_creditor_id", table_name="creditor_change_proposal")
    op.drop_table("creditor_change_proposal")
