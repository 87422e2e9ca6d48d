"""A creditor's decision is data on its answer, not the first line of its note: the answer to a payment proposal
(accept, refuse with its reason, counter), to a termination (confirmed and from when, or why not), and the answers
to the notices at intake that can now be given online (the insurer's suspension of the basic insurance and from
when; a benefit office's confirmation of the change and any reclaim).

Every column is nullable: answers from before carry none of them (their decision stays in their note, as written).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("creditor_reply") as batch_op:
        batch_op.add_column(sa.Column("arrangement_decision", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("arrangement_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("termination_confirmed", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("termination_date", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("termination_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("insurance_suspended", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("insurance_suspended_from", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("change_confirmed", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("reclaim_cents", sa.BigInteger(), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_creditor_reply_arrangement_decision_known"),
            "arrangement_decision IS NULL OR arrangement_decision IN ('accept', 'refuse', 'counter')",
        )


def downgrade() -> None:
    with op.batch_alter_table("creditor_reply") as batch_op:
        batch_op.drop_constraint(op.f("ck_creditor_reply_arrangement_decision_known"), type_="check")
        batch_op.drop_column("reclaim_cents")
        batch_op.drop_column("change_confirmed")
        batch_op.drop_column("insurance_suspended_from")
        batch_op.drop_column("insurance_suspended")
        batch_op.drop_column("termination_reason")
        batch_op.drop_column("termination_date")
        batch_op.drop_column("termination_confirmed")
        batch_op.drop_column("arrangement_reason")
        batch_op.drop_column("arrangement_decision")
