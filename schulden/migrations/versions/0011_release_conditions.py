"""The basisvoorwaarden at release (ID, bank account, income, housing, health insurance, care, contact): one row per
case, every column empty until known; the handover file and the L8 letter print "onbekend" for what is empty.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The values of each choice column, as in schulden/cases/conditions.py (a migration does not import the model).
CHOICES = {
    "id_document": ("valid", "expired", "none", "applied"),
    "bank_account": ("has_account", "blocked", "basic_account", "none"),
    "income_after_release": ("benefit_applied", "benefit_granted", "work", "none"),
    "housing_after_release": ("own_home", "rented_room", "family_or_friends", "shelter", "none"),
    "health_insurance": ("suspended", "active", "ended"),
    "care_arranged": ("arranged", "needed", "not_needed"),
}


def _known(column: str) -> sa.CheckConstraint:
    listed = ", ".join(f"'{v}'" for v in CHOICES[column])
    return sa.CheckConstraint(
        f"{column} IS NULL OR {column} IN ({listed})", name=op.f(f"ck_release_conditions_{column}_known")
    )


def upgrade() -> None:
    op.create_table(
        "release_conditions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("id_document", sa.String(length=10), nullable=True),
        sa.Column("id_valid_until", sa.Date(), nullable=True),
        sa.Column("bank_account", sa.String(length=16), nullable=True),
        sa.Column("income_after_release", sa.String(length=20), nullable=True),
        sa.Column("income_office", sa.String(length=200), nullable=True),
        sa.Column("income_applied_on", sa.Date(), nullable=True),
        sa.Column("housing_after_release", sa.String(length=20), nullable=True),
        sa.Column("postal_address", sa.String(length=300), nullable=True),
        sa.Column("health_insurance", sa.String(length=10), nullable=True),
        sa.Column("care_arranged", sa.String(length=12), nullable=True),
        sa.Column("contact_after_release", sa.String(length=200), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("row_version", sa.Integer(), nullable=False),
        *(_known(column) for column in CHOICES),
        sa.ForeignKeyConstraint(
            ["case_id"], ["debt_case.id"], name=op.f("fk_release_conditions_case_id_debt_case"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_release_conditions")),
        sa.UniqueConstraint("case_id", name=op.f("uq_release_conditions_case_id")),
    )


def downgrade() -> None:
    op.drop_table("release_conditions")
