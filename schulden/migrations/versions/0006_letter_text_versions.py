"""Letter texts stored by an administrator, as new versions (append-only).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "letter_text_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("letter_type", sa.String(length=4), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "letter_type IN ('L1', 'L2', 'L3', 'L4', 'L5', 'L6', 'L7', 'L8', 'L9', 'L10')",
            name=op.f("ck_letter_text_version_type_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_letter_text_version")),
        sa.UniqueConstraint("letter_type", "version", name=op.f("uq_letter_text_version_letter_type_version")),
    )


def downgrade() -> None:
    op.drop_table("letter_text_version")
