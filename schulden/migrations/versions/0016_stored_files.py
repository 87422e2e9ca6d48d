"""Files in the database (the production PDF store, schulden/stored_files.py) and the letters a print batch had to
leave out because their PDF was missing.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stored_file",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("folder", sa.String(length=300), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_stored_file")),
    )
    op.create_index(op.f("ix_stored_file_folder"), "stored_file", ["folder"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        # PDFs are compressed already: PostgreSQL would spend CPU trying to compress them again on every write
        # (TOAST's default, EXTENDED) and keep them as they are. EXTERNAL stores them out of line, uncompressed.
        op.execute("ALTER TABLE stored_file ALTER COLUMN data SET STORAGE EXTERNAL")
    with op.batch_alter_table("print_batch") as batch:
        batch.add_column(sa.Column("left_out", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("print_batch") as batch:
        batch.drop_column("left_out")
    op.drop_index(op.f("ix_stored_file_folder"), table_name="stored_file")
    op.drop_table("stored_file")
