"""Detainee and case. Detention facts live on the case because a new detention is a new case."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column

from schulden.cases.search_keys import KEY_LENGTH, surname_keys
from schulden.db import Base
from workflows.store import utcnow


class DetentionType(StrEnum):
    PRE_TRIAL = "pre_trial"  # voorlopige hechtenis: release date unknown, may end abruptly
    PRISON_SENTENCE = "prison_sentence"  # gevangenisstraf
    SUBSTITUTE = "substitute"  # vervangende hechtenis
    CIVIL_DETENTION = "civil_detention"  # gijzeling (CJIB), at most one year
    OTHER = "other"


class Threat(StrEnum):
    """Threats that put the municipality on the 3-working-day track (art. 4a Wgs), plus attachment."""

    EVICTION = "eviction"
    UTILITY_CUT_OFF = "utility_cut_off"
    INSURANCE_TERMINATION = "insurance_termination"
    ATTACHMENT = "attachment"


#: The threats of art. 4a Wgs: eviction, cut-off of energy or water, termination of the health insurance put the
#: municipality's first conversation on the 3-working-day track. An attachment makes a case urgent for us, but the
#: law does not shorten the municipality's term for it. The one list: the case process, the letters, the handover
#: file and the work list all ask this one.
WGS_THREATS: frozenset[str] = frozenset(
    {Threat.EVICTION.value, Threat.UTILITY_CUT_OFF.value, Threat.INSURANCE_TERMINATION.value}
)


def graver_threat(current: str | None, new: str) -> str:
    """The threat a case keeps when `new` is recorded: a Wgs threat outranks an attachment; between two of the same
    weight the first one recorded stays, so a later, lighter report never takes a case off the short track."""
    if current is None or (new in WGS_THREATS and current not in WGS_THREATS):
        return new
    return current


class ClosureReason(StrEnum):
    HANDED_OVER = "handed_over"
    RELEASED_WITHOUT_REFERRAL = "released_without_referral"
    NO_CONSENT = "no_consent"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    NO_DEBTS = "no_debts"
    REFUSED_BY_MUNICIPALITY = "refused_by_municipality"
    TRANSFERRED_OUT = "transferred_out"
    DECEASED = "deceased"
    OTHER = "other"


class RoutingRule(StrEnum):
    """How the municipality of return was chosen (domain.md 7.1, Penitentiaire maatregel art. 1(c))."""

    INTENDED_ADDRESS = "intended_address"  # where he wants to settle after release (postcode, PC4 table)
    REGISTRATION = "registration"  # BRP registration before detention
    OVERRIDE = "override"  # chosen by a counsellor, with a reason


class ConsentPurpose(StrEnum):
    """The purposes a detainee consents to, each separately (domain.md 6.3 item 3)."""

    CONTACT_CREDITORS = "contact_creditors"  # contact creditors and request balances
    ARRANGEMENTS = "arrangements"  # request suspension and payment plans
    TERMINATE_CONTRACTS = "terminate_contracts"
    REPORT_CHANGES = "report_changes"  # Toeslagen, UWV, SVB, insurer
    REFER_MUNICIPALITY = "refer_municipality"  # refer to and share the inventory with the named municipality
    SHARE_PROBATION = "share_probation"


class Benefit(StrEnum):
    """A benefit or allowance the detainee received at arrest; each is reported to its office at intake (L7)."""

    ZORGTOESLAG = "zorgtoeslag"
    HUURTOESLAG = "huurtoeslag"
    KINDEROPVANGTOESLAG = "kinderopvangtoeslag"
    KINDGEBONDEN_BUDGET = "kindgebonden_budget"
    BIJSTAND = "bijstand"
    WW = "ww"
    ZIEKTEWET = "ziektewet"
    WIA = "wia"
    WAJONG = "wajong"
    AOW = "aow"
    ANW = "anw"
    KINDERBIJSLAG = "kinderbijslag"


class HouseholdRelation(StrEnum):
    PARTNER = "partner"
    CHILD = "child"


class Detainee(Base):
    """The person. BSN in compact form (9 digits) or empty; DJI's registration number is opaque."""

    __tablename__ = "detainee"

    id: Mapped[int] = mapped_column(primary_key=True)
    given_names: Mapped[str] = mapped_column(String(200))
    surname_prefix: Mapped[str | None] = mapped_column(String(40))
    surname: Mapped[str] = mapped_column(String(200))
    date_of_birth: Mapped[date]
    bsn: Mapped[str | None] = mapped_column(String(9))
    dji_number: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The surname folded for search (schulden.cases.search_keys): without the tussenvoegsel ("vries") and with it
    # ("de vries"). Filled from the name parts on every insert and update (`_fill_search_keys`), never by hand.
    search_key: Mapped[str] = mapped_column(String(KEY_LENGTH))
    search_key_full: Mapped[str] = mapped_column(String(KEY_LENGTH))

    __table_args__ = (
        # The 11-proef is checked in Python (python-stdnum); the database still refuses anything but 9 digits.
        # ltrim(x, digits) = '' is "only digits" in both PostgreSQL and SQLite.
        CheckConstraint("bsn IS NULL OR (length(bsn) = 9 AND ltrim(bsn, '0123456789') = '')", name="bsn_digits"),
        # "Achternaam begint met" is a range over these (queries._name_starts_with). PostgreSQL compares the range
        # bytewise with the pattern operators (~>=~, ~<~: what LIKE 'x%' becomes), which only a *_pattern_ops index
        # serves when the database's collation is not C; SQLite compares bytewise (BINARY) with a plain index.
        Index("ix_detainee_search_key", "search_key", postgresql_ops={"search_key": "varchar_pattern_ops"}),
        Index(
            "ix_detainee_search_key_full", "search_key_full", postgresql_ops={"search_key_full": "varchar_pattern_ops"}
        ),
    )


@event.listens_for(Detainee, "before_insert")
@event.listens_for(Detainee, "before_update")
def _fill_search_keys(_mapper: Any, _connection: Any, detainee: Detainee) -> None:
    """Every writer of a name (the intake, the API, the demo, the tests' factories) goes through the ORM, so the keys
    are made here, once, from the name as stored. (A bulk insert through Core must fill them itself.)"""
    detainee.search_key, detainee.search_key_full = surname_keys(detainee.surname_prefix, detainee.surname)


class Case(Base):
    """A detainee's debt case during one detention; its state lives in its workflow instance."""

    __tablename__ = "debt_case"

    id: Mapped[int] = mapped_column(primary_key=True)
    detainee_id: Mapped[int] = mapped_column(ForeignKey("detainee.id", ondelete="RESTRICT"))
    instance_id: Mapped[int] = mapped_column(ForeignKey("wf_instance.id", ondelete="RESTRICT"), unique=True)
    pi_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"))
    municipality_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"))
    detention_type: Mapped[str] = mapped_column(String(20))
    detention_start: Mapped[date]
    expected_release: Mapped[date | None]
    actual_release: Mapped[date | None]
    urgent: Mapped[bool] = mapped_column(default=False)
    threat: Mapped[str | None] = mapped_column(String(32))
    closure_reason: Mapped[str | None] = mapped_column(String(32))
    # The debt counselling team (an operator organisation) that runs the case; its counsellors see it.
    team_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"))
    # Routing (domain.md 7.1): the inputs, the rule that chose the municipality and the reason for an override.
    intended_postcode: Mapped[str | None] = mapped_column(String(7))
    registration_municipality_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"))
    municipality_rule: Mapped[str | None] = mapped_column(String(20))
    municipality_reason: Mapped[str | None] = mapped_column(Text)
    # Set when the referral is sent: from then on the municipality may see the case.
    referred_at: Mapped[datetime | None]
    # The basic health insurance (domain.md 2.3, L6): suspended from the start of detention, reactivated on release.
    health_insurer_id: Mapped[int | None] = mapped_column(ForeignKey("creditor.id", ondelete="RESTRICT"))
    health_policy_number: Mapped[str | None] = mapped_column(String(40))
    # A legal hold (a dispute, a complaint): the retention job erases nothing of the case until it is lifted
    # (schulden/retention.py). The kind is a choice, the note optional; neither goes into the audit log.
    legal_hold_kind: Mapped[str | None] = mapped_column(String(16))
    legal_hold_note: Mapped[str | None] = mapped_column(Text)
    legal_hold_since: Mapped[datetime | None]
    legal_hold_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    row_version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": row_version}  # noqa: RUF012 - mapper configuration

    __table_args__ = (
        CheckConstraint(
            "legal_hold_kind IS NULL OR legal_hold_kind IN ('dispute', 'complaint', 'authority', 'other')",
            name="legal_hold_kind_known",
        ),
        CheckConstraint(
            "detention_type IN ('pre_trial', 'prison_sentence', 'substitute', 'civil_detention', 'other')",
            name="detention_type_known",
        ),
        CheckConstraint("expected_release IS NULL OR expected_release >= detention_start", name="release_after_start"),
        CheckConstraint(
            "municipality_rule IS NULL OR municipality_rule IN ('intended_address', 'registration', 'override')",
            name="municipality_rule_known",
        ),
        Index("ix_debt_case_pi_id_created_at", "pi_id", "created_at"),
        # The PI's intake clocks on Mijn werk walk a PI's cases by arrival (schulden/worklist.py _intake_clocks).
        Index("ix_debt_case_pi_id_detention_start", "pi_id", "detention_start", "id"),
        Index("ix_debt_case_municipality_id", "municipality_id"),
        Index("ix_debt_case_team_id_created_at", "team_id", "created_at"),
    )


class Transfer(Base):
    """A move of the detainee to another PI; the case follows him (domain.md 1.6)."""

    __tablename__ = "detention_transfer"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("debt_case.id", ondelete="RESTRICT"), index=True)
    from_pi_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"))
    to_pi_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"))
    transferred_on: Mapped[date]
    recorded_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CasePartner(Base):
    """A probation or care organisation that follows the case (and may read it)."""

    __tablename__ = "case_partner"

    case_id: Mapped[int] = mapped_column(ForeignKey("debt_case.id", ondelete="RESTRICT"), primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Consent(Base):
    """One purpose (and optionally one recipient) of the signed authorisation (domain.md 6.3).

    Granular rows make partial withdrawal possible: withdrawing sets `withdrawn_at` on the rows it covers.
    """

    __tablename__ = "consent"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("debt_case.id", ondelete="RESTRICT"), index=True)
    purpose: Mapped[str] = mapped_column(String(32))
    # None: every recipient of the purpose (e.g. all creditors); otherwise one creditor or municipality.
    recipient_creditor_id: Mapped[int | None] = mapped_column(ForeignKey("creditor.id", ondelete="RESTRICT"))
    recipient_organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"))
    signed_on: Mapped[date]
    valid_until: Mapped[date]
    text_version: Mapped[str] = mapped_column(String(20))
    witness: Mapped[str | None] = mapped_column(String(200))
    recorded_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[datetime | None]
    withdrawn_by: Mapped[str | None] = mapped_column(String(64))
    withdrawal_note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint(
            "purpose IN ('contact_creditors', 'arrangements', 'terminate_contracts', 'report_changes', "
            "'refer_municipality', 'share_probation')",
            name="purpose_known",
        ),
        CheckConstraint("valid_until >= signed_on", name="valid_after_signed"),
    )

    def valid_on(self, day: date) -> bool:
        """In force on `day`: signed, not expired, not withdrawn."""
        return self.withdrawn_at is None and self.signed_on <= day <= self.valid_until


class CaseBenefit(Base):
    """A benefit the detainee received when detained (recorded at intake; one row per kind)."""

    __tablename__ = "case_benefit"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("debt_case.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(24))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("case_id", "kind"),
        CheckConstraint(
            "kind IN ('zorgtoeslag', 'huurtoeslag', 'kinderopvangtoeslag', 'kindgebonden_budget', 'bijstand', 'ww', "
            "'ziektewet', 'wia', 'wajong', 'aow', 'anw', 'kinderbijslag')",
            name="kind_known",
        ),
    )


class HouseholdMember(Base):
    """The partner or a child under 18 who stays behind (the family approach); the referral names them."""

    __tablename__ = "household_member"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("debt_case.id", ondelete="RESTRICT"), index=True)
    relation: Mapped[str] = mapped_column(String(10))
    given_names: Mapped[str | None] = mapped_column(String(200))
    date_of_birth: Mapped[date | None]
    shares_lease: Mapped[bool] = mapped_column(default=False)
    shares_debts: Mapped[bool] = mapped_column(default=False)

    __table_args__ = (CheckConstraint("relation IN ('partner', 'child')", name="relation_known"),)


class CaseNote(Base):
    """A note on a case. `shared`: visible to every organisation on the case; otherwise to the author's own."""

    __tablename__ = "case_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("debt_case.id", ondelete="RESTRICT"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="RESTRICT"))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"))
    body: Mapped[str] = mapped_column(Text)
    shared: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
