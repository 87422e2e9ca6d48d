"""Intake, consent, routing, household, notes, transfers, API tokens, login attempts and the audit log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from schulden.audit import AUDIT_TRIGGERS_POSTGRESQL, AUDIT_TRIGGERS_SQLITE

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("remote_addr", sa.String(length=45), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempt")),
    )
    with op.batch_alter_table("login_attempt", schema=None) as batch_op:
        batch_op.create_index("ix_login_attempt_remote_addr_at", ["remote_addr", "at"], unique=False)
        batch_op.create_index("ix_login_attempt_username_at", ["username", "at"], unique=False)

    op.create_table(
        "postcode_area",
        sa.Column("pc4", sa.String(length=4), nullable=False),
        sa.Column("municipality_code", sa.String(length=6), nullable=False),
        sa.Column("approximate", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("pc4", name=op.f("pk_postcode_area")),
    )
    op.create_table(
        "audit_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("object_id", sa.String(length=64), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("result", sa.String(length=10), nullable=False),
        sa.Column("origin", sa.String(length=45), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_audit_entry_organisation_id_organisation"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entry")),
    )
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.create_index("ix_audit_entry_actor_id_at", ["actor_id", "at"], unique=False)
        batch_op.create_index("ix_audit_entry_case_id_at", ["case_id", "at"], unique=False)

    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_api_token_user_id_app_user"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_token_token_hash")),
    )
    op.create_table(
        "case_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["app_user.id"], name=op.f("fk_case_note_author_id_app_user"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["debt_case.id"], name=op.f("fk_case_note_case_id_debt_case"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_case_note_organisation_id_organisation"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_note")),
    )
    with op.batch_alter_table("case_note", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_note_case_id"), ["case_id"], unique=False)

    op.create_table(
        "case_partner",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["debt_case.id"], name=op.f("fk_case_partner_case_id_debt_case"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_case_partner_organisation_id_organisation"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("case_id", "organisation_id", name=op.f("pk_case_partner")),
    )
    op.create_table(
        "consent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("recipient_creditor_id", sa.Integer(), nullable=True),
        sa.Column("recipient_organisation_id", sa.Integer(), nullable=True),
        sa.Column("signed_on", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("text_version", sa.String(length=20), nullable=False),
        sa.Column("witness", sa.String(length=200), nullable=True),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_by", sa.String(length=64), nullable=True),
        sa.Column("withdrawal_note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "purpose IN ('contact_creditors', 'arrangements', 'terminate_contracts', 'report_changes', 'refer_municipality', 'share_probation')",
            name=op.f("ck_consent_purpose_known"),
        ),
        sa.CheckConstraint("valid_until >= signed_on", name=op.f("ck_consent_valid_after_signed")),
        sa.ForeignKeyConstraint(
            ["case_id"], ["debt_case.id"], name=op.f("fk_consent_case_id_debt_case"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["recipient_creditor_id"],
            ["creditor.id"],
            name=op.f("fk_consent_recipient_creditor_id_creditor"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["recipient_organisation_id"],
            ["organisation.id"],
            name=op.f("fk_consent_recipient_organisation_id_organisation"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent")),
    )
    with op.batch_alter_table("consent", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consent_case_id"), ["case_id"], unique=False)

    op.create_table(
        "detention_transfer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("from_pi_id", sa.Integer(), nullable=False),
        sa.Column("to_pi_id", sa.Integer(), nullable=False),
        sa.Column("transferred_on", sa.Date(), nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["debt_case.id"], name=op.f("fk_detention_transfer_case_id_debt_case"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["from_pi_id"],
            ["organisation.id"],
            name=op.f("fk_detention_transfer_from_pi_id_organisation"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["to_pi_id"],
            ["organisation.id"],
            name=op.f("fk_detention_transfer_to_pi_id_organisation"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_detention_transfer")),
    )
    with op.batch_alter_table("detention_transfer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_detention_transfer_case_id"), ["case_id"], unique=False)

    op.create_table(
        "household_member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("relation", sa.String(length=10), nullable=False),
        sa.Column("given_names", sa.String(length=200), nullable=True),
        sa.Column("date_of_birth", sa.Date(), nullable=True),
        sa.Column("shares_lease", sa.Boolean(), nullable=False),
        sa.Column("shares_debts", sa.Boolean(), nullable=False),
        sa.CheckConstraint("relation IN ('partner', 'child')", name=op.f("ck_household_member_relation_known")),
        sa.ForeignKeyConstraint(
            ["case_id"], ["debt_case.id"], name=op.f("fk_household_member_case_id_debt_case"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_household_member")),
    )
    with op.batch_alter_table("household_member", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_household_member_case_id"), ["case_id"], unique=False)

    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("creditor", schema=None) as batch_op:
        batch_op.add_column(sa.Column("department", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("kind", sa.String(length=20), nullable=False, server_default="other"))
        batch_op.add_column(sa.Column("takes_email", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("address_line", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("postcode", sa.String(length=7), nullable=True))
        batch_op.add_column(sa.Column("city", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("kvk", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("grade", sa.String(length=1), nullable=True))
        batch_op.add_column(sa.Column("source_url", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())
        )
        batch_op.add_column(sa.Column("row_version", sa.Integer(), nullable=False, server_default="1"))
        batch_op.create_check_constraint(
            "kind_known",
            "kind IN ('government', 'health_insurer', 'landlord', 'utility', 'telecom', 'bank', "
            "'collection_agency', 'bailiff', 'other')",
        )
        batch_op.create_check_constraint("grade_known", "grade IS NULL OR grade IN ('A', 'B', 'C')")
        batch_op.create_check_constraint("email_when_taken", "takes_email = false OR email IS NOT NULL")
        batch_op.create_check_constraint(
            "kvk_digits", "kvk IS NULL OR (length(kvk) = 8 AND ltrim(kvk, '0123456789') = '')"
        )

    with op.batch_alter_table("debt", schema=None) as batch_op:
        batch_op.add_column(sa.Column("collecting_party_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("joint_with_partner", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("is_business_debt", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("source", sa.String(length=16), nullable=False, server_default="client"))
        batch_op.create_check_constraint("source_known", "source IN ('client', 'document', 'creditor', 'vroegsignaal')")
        batch_op.create_index("ix_debt_case_id", ["case_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_debt_collecting_party_id_creditor"),
            "creditor",
            ["collecting_party_id"],
            ["id"],
            ondelete="RESTRICT",
        )

    with op.batch_alter_table("debt_case", schema=None) as batch_op:
        batch_op.add_column(sa.Column("team_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("intended_postcode", sa.String(length=7), nullable=True))
        batch_op.add_column(sa.Column("registration_municipality_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("municipality_rule", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("municipality_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("referred_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_check_constraint(
            "municipality_rule_known",
            "municipality_rule IS NULL OR municipality_rule IN ('intended_address', 'registration', 'override')",
        )
        batch_op.create_index("ix_debt_case_municipality_id", ["municipality_id"], unique=False)
        batch_op.create_index("ix_debt_case_pi_id_created_at", ["pi_id", "created_at"], unique=False)
        batch_op.create_index("ix_debt_case_team_id_created_at", ["team_id", "created_at"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_debt_case_team_id_organisation"), "organisation", ["team_id"], ["id"], ondelete="RESTRICT"
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_debt_case_registration_municipality_id_organisation"),
            "organisation",
            ["registration_municipality_id"],
            ["id"],
            ondelete="RESTRICT",
        )

    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("team_name", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("address_line", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("postcode", sa.String(length=7), nullable=True))
        batch_op.add_column(sa.Column("city", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("province", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()))

    # The audit log is append-only, also for writes that bypass the ORM (security.md scenario 18).
    triggers = AUDIT_TRIGGERS_POSTGRESQL if op.get_bind().dialect.name == "postgresql" else AUDIT_TRIGGERS_SQLITE
    for statement in triggers:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_entry_append_only ON audit_entry")
        op.execute("DROP FUNCTION IF EXISTS audit_entry_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_entry_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_entry_no_delete")
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.drop_column("active")
        batch_op.drop_column("province")
        batch_op.drop_column("city")
        batch_op.drop_column("postcode")
        batch_op.drop_column("address_line")
        batch_op.drop_column("team_name")

    with op.batch_alter_table("debt_case", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_debt_case_municipality_rule_known"), type_="check")
        batch_op.drop_constraint(
            batch_op.f("fk_debt_case_registration_municipality_id_organisation"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("fk_debt_case_team_id_organisation"), type_="foreignkey")
        batch_op.drop_index("ix_debt_case_team_id_created_at")
        batch_op.drop_index("ix_debt_case_pi_id_created_at")
        batch_op.drop_index("ix_debt_case_municipality_id")
        batch_op.drop_column("referred_at")
        batch_op.drop_column("municipality_reason")
        batch_op.drop_column("municipality_rule")
        batch_op.drop_column("registration_municipality_id")
        batch_op.drop_column("intended_postcode")
        batch_op.drop_column("team_id")

    with op.batch_alter_table("debt", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_debt_source_known"), type_="check")
        batch_op.drop_constraint(batch_op.f("fk_debt_collecting_party_id_creditor"), type_="foreignkey")
        batch_op.drop_index("ix_debt_case_id")
        batch_op.drop_column("source")
        batch_op.drop_column("is_business_debt")
        batch_op.drop_column("joint_with_partner")
        batch_op.drop_column("collecting_party_id")

    with op.batch_alter_table("creditor", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_creditor_kind_known"), type_="check")
        batch_op.drop_constraint(op.f("ck_creditor_grade_known"), type_="check")
        batch_op.drop_constraint(op.f("ck_creditor_email_when_taken"), type_="check")
        batch_op.drop_constraint(op.f("ck_creditor_kvk_digits"), type_="check")
        batch_op.drop_column("row_version")
        batch_op.drop_column("updated_at")
        batch_op.drop_column("active")
        batch_op.drop_column("source_url")
        batch_op.drop_column("grade")
        batch_op.drop_column("kvk")
        batch_op.drop_column("city")
        batch_op.drop_column("postcode")
        batch_op.drop_column("address_line")
        batch_op.drop_column("takes_email")
        batch_op.drop_column("kind")
        batch_op.drop_column("department")

    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.drop_column("last_login_at")

    with op.batch_alter_table("household_member", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_household_member_case_id"))

    op.drop_table("household_member")
    with op.batch_alter_table("detention_transfer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_detention_transfer_case_id"))

    op.drop_table("detention_transfer")
    with op.batch_alter_table("consent", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_case_id"))

    op.drop_table("consent")
    op.drop_table("case_partner")
    with op.batch_alter_table("case_note", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_note_case_id"))

    op.drop_table("case_note")
    op.drop_table("api_token")
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_entry_case_id_at")
        batch_op.drop_index("ix_audit_entry_actor_id_at")

    op.drop_table("audit_entry")
    op.drop_table("postcode_area")
    with op.batch_alter_table("login_attempt", schema=None) as batch_op:
        batch_op.drop_index("ix_login_attempt_username_at")
        batch_op.drop_index("ix_login_attempt_remote_addr_at")

    op.drop_table("login_attempt")
