"""Retention (issue 15): a legal hold on a case, the record of what was erased of each case, the runs of the
retention job, and the permit that lets only that job strip the append-only tables (wf_history, audit_entry).

The append-only triggers keep refusing every UPDATE and DELETE, except inside a transaction that holds a row of
`erasure_permit`. Only schulden.retention inserts one, and deletes it again before its transaction ends; another
transaction never sees an uncommitted row, so the permit is the erasure's own and lasts one transaction.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = ("wf_history", "audit_entry")


def _postgresql_function(table: str, *, permit: bool) -> str:
    check = "IF EXISTS (SELECT 1 FROM erasure_permit) THEN RETURN COALESCE(NEW, OLD); END IF;" if permit else ""
    return f"""
        CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            {check}
            RAISE EXCEPTION '{table} is append-only';
        END $$
        """


def _sqlite_triggers(table: str, *, permit: bool) -> list[str]:
    when = " WHEN NOT EXISTS (SELECT 1 FROM erasure_permit)" if permit else ""
    statements = []
    for operation in ("UPDATE", "DELETE"):
        name = f"{table}_no_{operation.lower()}"
        statements.append(f"DROP TRIGGER IF EXISTS {name}")
        statements.append(
            f"CREATE TRIGGER {name} BEFORE {operation} ON {table}{when} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
        )
    return statements


def _set_triggers(*, permit: bool) -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table in APPEND_ONLY:
        if postgresql:
            op.execute(_postgresql_function(table, permit=permit))
        else:
            for statement in _sqlite_triggers(table, permit=permit):
                op.execute(statement)


def upgrade() -> None:
    with op.batch_alter_table("debt_case") as batch:
        batch.add_column(sa.Column("legal_hold_kind", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("legal_hold_note", sa.Text(), nullable=True))
        batch.add_column(sa.Column("legal_hold_since", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("legal_hold_by", sa.String(length=64), nullable=True))
        batch.create_check_constraint(
            op.f("ck_debt_case_legal_hold_kind_known"),
            "legal_hold_kind IS NULL OR legal_hold_kind IN ('dispute', 'complaint', 'authority', 'other')",
        )
    op.create_table(
        "case_erasure",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("part", sa.String(length=16), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("files_removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["debt_case.id"], name=op.f("fk_case_erasure_case_id_debt_case"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("case_id", "part", name=op.f("pk_case_erasure")),
        sa.CheckConstraint(
            "part IN ('handover', 'notes', 'letters', 'replies', 'consents', 'case')",
            name=op.f("ck_case_erasure_part_known"),
        ),
    )
    op.create_table(
        "retention_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_run")),
    )
    op.create_index(op.f("ix_retention_run_at"), "retention_run", ["at"], unique=False)
    op.create_table(
        "erasure_permit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasure_permit")),
    )
    _set_triggers(permit=True)


def downgrade() -> None:
    _set_triggers(permit=False)
    op.drop_table("erasure_permit")
    op.drop_index(op.f("ix_retention_run_at"), table_name="retention_run")
    op.drop_table("retention_run")
    op.drop_table("case_erasure")
    with op.batch_alter_table("debt_case") as batch:
        batch.drop_constraint(op.f("ck_debt_case_legal_hold_kind_known"), type_="check")
        batch.drop_column("legal_hold_by")
        batch.drop_column("legal_hold_since")
        batch.drop_column("legal_hold_note")
        batch.drop_column("legal_hold_kind")
