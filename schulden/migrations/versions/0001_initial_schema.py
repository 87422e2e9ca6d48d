"""Initial schema: workflow instances, history and timers; organisations, users, detainees, cases, debts.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from workflows.store import HISTORY_TRIGGERS_POSTGRESQL, HISTORY_TRIGGERS_SQLITE

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "creditor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("may_receive_bsn", sa.Boolean(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "category IN ('zorg', 'publiek', 'nuts', 'overig')", name=op.f("ck_creditor_category_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_creditor")),
    )
    op.create_table(
        "detainee",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("given_names", sa.String(length=200), nullable=False),
        sa.Column("surname_prefix", sa.String(length=40), nullable=True),
        sa.Column("surname", sa.String(length=200), nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=False),
        sa.Column("bsn", sa.String(length=9), nullable=True),
        sa.Column("dji_number", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "bsn IS NULL OR (length(bsn) = 9 AND ltrim(bsn, '0123456789') = '')",
            name=op.f("ck_detainee_bsn_digits"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_detainee")),
    )
    op.create_table(
        "organisation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('pi', 'municipality', 'probation', 'care', 'operator')",
            name=op.f("ck_organisation_kind_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisation")),
        sa.UniqueConstraint("kind", "code", name=op.f("uq_organisation_kind_code")),
    )
    op.create_table(
        "wf_instance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("process", sa.String(length=64), nullable=False),
        sa.Column("process_version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=64), nullable=False),
        sa.Column("previous_state", sa.String(length=64), nullable=True),
        sa.Column("is_final", sa.Boolean(), nullable=False),
        sa.Column("held_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("row_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wf_instance")),
    )
    with op.batch_alter_table("wf_instance", schema=None) as batch_op:
        batch_op.create_index("ix_wf_instance_process_state", ["process", "state"], unique=False)

    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "role IN ('pi_staff', 'volunteer', 'counsellor', 'municipality', 'partner', 'admin')",
            name=op.f("ck_app_user_role_known"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_app_user_organisation_id_organisation"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_user")),
        sa.UniqueConstraint("username", name=op.f("uq_app_user_username")),
    )
    op.create_table(
        "debt_case",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("detainee_id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("pi_id", sa.Integer(), nullable=False),
        sa.Column("municipality_id", sa.Integer(), nullable=True),
        sa.Column("detention_type", sa.String(length=20), nullable=False),
        sa.Column("detention_start", sa.Date(), nullable=False),
        sa.Column("expected_release", sa.Date(), nullable=True),
        sa.Column("actual_release", sa.Date(), nullable=True),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("threat", sa.String(length=32), nullable=True),
        sa.Column("closure_reason", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("row_version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "detention_type IN ('pre_trial', 'prison_sentence', 'substitute', 'civil_detention', 'other')",
            name=op.f("ck_debt_case_detention_type_known"),
        ),
        sa.CheckConstraint(
            "expected_release IS NULL OR expected_release >= detention_start",
            name=op.f("ck_debt_case_release_after_start"),
        ),
        sa.ForeignKeyConstraint(
            ["detainee_id"],
            ["detainee.id"],
            name=op.f("fk_debt_case_detainee_id_detainee"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["wf_instance.id"],
            name=op.f("fk_debt_case_instance_id_wf_instance"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["municipality_id"],
            ["organisation.id"],
            name=op.f("fk_debt_case_municipality_id_organisation"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["pi_id"], ["organisation.id"], name=op.f("fk_debt_case_pi_id_organisation"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_debt_case")),
        sa.UniqueConstraint("instance_id", name=op.f("uq_debt_case_instance_id")),
    )
    op.create_table(
        "wf_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("from_state", sa.String(length=64), nullable=True),
        sa.Column("to_state", sa.String(length=64), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("effects", sa.JSON(), nullable=False),
        sa.Column("timer_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["wf_instance.id"],
            name=op.f("fk_wf_history_instance_id_wf_instance"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wf_history")),
        sa.UniqueConstraint("instance_id", "seq", name=op.f("uq_wf_history_instance_id_seq")),
    )
    op.create_table(
        "wf_timer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=True),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["wf_instance.id"],
            name=op.f("fk_wf_timer_instance_id_wf_instance"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wf_timer")),
    )
    with op.batch_alter_table("wf_timer", schema=None) as batch_op:
        batch_op.create_index("ix_wf_timer_instance_id", ["instance_id"], unique=False)
        batch_op.create_index(
            "ix_wf_timer_pending_due",
            ["due_at"],
            unique=False,
            postgresql_where=sa.text("status = 'pending'"),
            sqlite_where=sa.text("status = 'pending'"),
        )

    op.create_table(
        "debt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("creditor_id", sa.Integer(), nullable=False),
        sa.Column("creditor_reference", sa.String(length=100), nullable=True),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("debt_type", sa.String(length=40), nullable=False),
        sa.Column("principal_cents", sa.BigInteger(), nullable=False),
        sa.Column("interest_cents", sa.BigInteger(), nullable=False),
        sa.Column("costs_cents", sa.BigInteger(), nullable=False),
        sa.Column("amount_status", sa.String(length=16), nullable=False),
        sa.Column("peildatum", sa.Date(), nullable=True),
        sa.Column("threat", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("row_version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "amount_status IN ('estimated', 'confirmed', 'disputed')",
            name=op.f("ck_debt_amount_status_known"),
        ),
        sa.CheckConstraint("category IN ('zorg', 'publiek', 'nuts', 'overig')", name=op.f("ck_debt_category_known")),
        sa.CheckConstraint(
            "principal_cents >= 0 AND interest_cents >= 0 AND costs_cents >= 0",
            name=op.f("ck_debt_amounts_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["debt_case.id"], name=op.f("fk_debt_case_id_debt_case"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["creditor_id"], ["creditor.id"], name=op.f("fk_debt_creditor_id_creditor"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["wf_instance.id"],
            name=op.f("fk_debt_instance_id_wf_instance"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_debt")),
        sa.UniqueConstraint("instance_id", name=op.f("uq_debt_instance_id")),
    )
    # wf_history is append-only, also for writes that bypass the ORM.
    triggers = HISTORY_TRIGGERS_POSTGRESQL if op.get_bind().dialect.name == "postgresql" else HISTORY_TRIGGERS_SQLITE
    for statement in triggers:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS wf_history_append_only ON wf_history")
        op.execute("DROP FUNCTION IF EXISTS wf_history_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS wf_history_no_update")
        op.execute("DROP TRIGGER IF EXISTS wf_history_no_delete")
    op.drop_table("debt")
    with op.batch_alter_table("wf_timer", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_wf_timer_pending_due",
            postgresql_where=sa.text("status = 'pending'"),
            sqlite_where=sa.text("status = 'pending'"),
        )
        batch_op.drop_index("ix_wf_timer_instance_id")

    op.drop_table("wf_timer")
    op.drop_table("wf_history")
    op.drop_table("debt_case")
    op.drop_table("app_user")
    with op.batch_alter_table("wf_instance", schema=None) as batch_op:
        batch_op.drop_index("ix_wf_instance_process_state")

    op.drop_table("wf_instance")
    op.drop_table("organisation")
    op.drop_table("detainee")
    op.drop_table("creditor")
