"""Corrections (issue 15, AVG art. 16): the old and the new value of every field a person changes on a case, a debt
or the detainee (schulden/corrections.py). Personal data: erased with the case by the retention job.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-10
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "correction",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("object_type", sa.String(length=16), nullable=False),
        sa.Column("object_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=40), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["debt_case.id"], name=op.f("fk_correction_case_id_debt_case"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_correction_organisation_id_organisation"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_correction")),
        sa.CheckConstraint("object_type IN ('case', 'debt', 'detainee')", name=op.f("ck_correction_object_type_known")),
    )
    op.create_index("ix_correction_case_id_changed_at", "correction", ["case_id", "changed_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_correction_case_id_changed_at", table_name="correction")
    op.drop_table("correction")
