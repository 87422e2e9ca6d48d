"""The search keys of a detainee's surname: the name folded for search (case, accents, the IJ ligature) without and
with the tussenvoegsel, each with an index that serves "begins with" on PostgreSQL and SQLite alike.

The existing rows are filled with the application's own folding (schulden.cases.search_keys.surname_keys), in
batches, before the columns become NOT NULL: SQL's lower() would not fold the same way on both databases.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from schulden.cases.search_keys import KEY_LENGTH, surname_keys

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1_000


def _backfill() -> None:
    conn = op.get_bind()
    detainee = sa.table(
        "detainee",
        sa.column("id", sa.Integer),
        sa.column("surname_prefix", sa.String),
        sa.column("surname", sa.String),
        sa.column("search_key", sa.String),
        sa.column("search_key_full", sa.String),
    )
    update = (
        sa.update(detainee)
        .where(detainee.c.id == sa.bindparam("row_id"))
        .values(search_key=sa.bindparam("key"), search_key_full=sa.bindparam("key_full"))
    )
    last = 0
    while True:
        rows = conn.execute(
            sa.select(detainee.c.id, detainee.c.surname_prefix, detainee.c.surname)
            .where(detainee.c.id > last)
            .order_by(detainee.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        values = []
        for row_id, prefix, surname in rows:
            key, key_full = surname_keys(prefix, surname)
            values.append({"row_id": row_id, "key": key, "key_full": key_full})
        conn.execute(update, values)
        last = rows[-1][0]


def upgrade() -> None:
    with op.batch_alter_table("detainee") as batch:
        batch.add_column(sa.Column("search_key", sa.String(length=KEY_LENGTH), nullable=True))
        batch.add_column(sa.Column("search_key_full", sa.String(length=KEY_LENGTH), nullable=True))
    _backfill()
    with op.batch_alter_table("detainee") as batch:
        batch.alter_column("search_key", existing_type=sa.String(length=KEY_LENGTH), nullable=False)
        batch.alter_column("search_key_full", existing_type=sa.String(length=KEY_LENGTH), nullable=False)
    op.create_index(
        "ix_detainee_search_key",
        "detainee",
        ["search_key"],
        unique=False,
        postgresql_ops={"search_key": "varchar_pattern_ops"},
    )
    op.create_index(
        "ix_detainee_search_key_full",
        "detainee",
        ["search_key_full"],
        unique=False,
        postgresql_ops={"search_key_full": "varchar_pattern_ops"},
    )


def downgrade() -> None:
    op.drop_index("ix_detainee_search_key_full", table_name="detainee")
    op.drop_index("ix_detainee_search_key", table_name="detainee")
    with op.batch_alter_table("detainee") as batch:
        batch.drop_column("search_key_full")
        batch.drop_column("search_key")
