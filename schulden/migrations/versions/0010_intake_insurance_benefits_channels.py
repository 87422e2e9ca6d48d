"""Intake records the health insurer, the policy number and the benefits; creditors without a correspondence
address name their channel, and letters to them become the counsellor's task; replies carry the creditor's numbers.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BENEFITS = (
    "'zorgtoeslag', 'huurtoeslag', 'kinderopvangtoeslag', 'kindgebonden_budget', 'bijstand', 'ww', "
    "'ziektewet', 'wia', 'wajong', 'aow', 'anw', 'kinderbijslag'"
)


def upgrade() -> None:
    with op.batch_alter_table("debt_case") as batch_op:
        batch_op.add_column(sa.Column("health_insurer_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("health_policy_number", sa.String(length=40), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_debt_case_health_insurer_id_creditor"), "creditor", ["health_insurer_id"], ["id"],
            ondelete="RESTRICT",
        )  # fmt: skip
    op.create_table(
        "case_benefit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f"kind IN ({BENEFITS})", name=op.f("ck_case_benefit_kind_known")),
        sa.ForeignKeyConstraint(
            ["case_id"], ["debt_case.id"], name=op.f("fk_case_benefit_case_id_debt_case"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_benefit")),
        sa.UniqueConstraint("case_id", "kind", name=op.f("uq_case_benefit_case_id_kind")),
    )
    with op.batch_alter_table("creditor") as batch_op:
        batch_op.add_column(sa.Column("channel_note", sa.Text(), nullable=True))
    with op.batch_alter_table("letter") as batch_op:
        batch_op.add_column(sa.Column("recipient_channel_note", sa.Text(), nullable=True))
        batch_op.drop_constraint(op.f("ck_letter_channel_known"), type_="check")
        batch_op.create_check_constraint(op.f("ck_letter_channel_known"), "channel IN ('post', 'email', 'manual')")
    with op.batch_alter_table("creditor_reply") as batch_op:
        batch_op.add_column(sa.Column("creditor_customer_number", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("creditor_invoice_number", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("creditor_reply") as batch_op:
        batch_op.drop_column("creditor_invoice_number")
        batch_op.drop_column("creditor_customer_number")
    with op.batch_alter_table("letter") as batch_op:
        batch_op.drop_constraint(op.f("ck_letter_channel_known"), type_="check")
        batch_op.create_check_constraint(op.f("ck_letter_channel_known"), "channel IN ('post', 'email')")
        batch_op.drop_column("recipient_channel_note")
    with op.batch_alter_table("creditor") as batch_op:
        batch_op.drop_column("channel_note")
    op.drop_table("case_benefit")
    with op.batch_alter_table("debt_case") as batch_op:
        batch_op.drop_constraint(op.f("fk_debt_case_health_insurer_id_creditor"), type_="foreignkey")
        batch_op.drop_column("health_policy_number")
        batch_op.drop_column("health_insurer_id")
