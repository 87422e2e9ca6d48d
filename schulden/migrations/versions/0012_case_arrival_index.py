"""An index for the PI's intake clocks on Mijn werk: a PI's cases in order of arrival.

Without it PostgreSQL built all of a PI's open cases (902 of 1,000 in bench/pages.py) before keeping the 25 shown,
twice per page: Mijn werk's p99 went from 39 to 101 ms (docs/benchmarks.md).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_debt_case_pi_id_detention_start", "debt_case", ["pi_id", "detention_start", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_debt_case_pi_id_detention_start", table_name="debt_case")
