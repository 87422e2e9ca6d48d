"""A creditor's answer to a letter, or to a debt when it came on paper or by phone; the creditor's reply session.

One row per submission: a creditor who corrects an earlier answer adds a row with the next `version` of that debt
(of that letter, for the answer to a notice about no debt: L6, L7) and the earlier row gets `superseded_at`;
nothing is overwritten, so the case shows what each creditor said and when (domain.md 9.2; security.md 2.2 "a
reply is write-once"), while the debt and the task list follow the newest.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from schulden.db import Base
from workflows.store import utcnow


class ReplyChannel(StrEnum):
    WEB = "web"  # the creditor on the reply page
    POST = "post"  # entered by the counsellor from a paper letter
    PHONE = "phone"
    EMAIL = "email"


class NoCooperation(StrEnum):
    """The reasons of the Schuldenknooppunt message 'Geen medewerking' (domain.md 3.6), plus 'other'."""

    CLIENT_UNKNOWN = "client_unknown"
    FINAL_DISCHARGE = "final_discharge"  # recent finale kwijting
    RECENT_STABILISATION = "recent_stabilisation"
    DECLINES_HELPER = "declines_helper"
    OTHER = "other"

    @property
    def label(self) -> str:
        return NO_COOPERATION_LABELS[self]


NO_COOPERATION_LABELS = {
    NoCooperation.CLIENT_UNKNOWN: "Klant is bij ons niet bekend",
    NoCooperation.FINAL_DISCHARGE: "Recent finale kwijting verleend",
    NoCooperation.RECENT_STABILISATION: "Recent al een stabilisatiepoging",
    NoCooperation.DECLINES_HELPER: "Wij werken niet samen met deze hulpverlener",
    NoCooperation.OTHER: "Andere reden",
}


class CreditorReply(Base):
    __tablename__ = "creditor_reply"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("debt_case.id", ondelete="RESTRICT"))
    debt_id: Mapped[int | None] = mapped_column(ForeignKey("debt.id", ondelete="RESTRICT"))
    letter_id: Mapped[int | None] = mapped_column(ForeignKey("letter.id", ondelete="RESTRICT"))
    channel: Mapped[str] = mapped_column(String(8))
    received_on: Mapped[date]
    entered_by: Mapped[str] = mapped_column(String(64))
    # The balance as the creditor states it, in cents, with the date it applies to.
    principal_cents: Mapped[int | None] = mapped_column(BigInteger)
    interest_cents: Mapped[int | None] = mapped_column(BigInteger)
    costs_cents: Mapped[int | None] = mapped_column(BigInteger)
    peildatum: Mapped[date | None]
    collection_suspended: Mapped[bool | None]
    collection_suspended_until: Mapped[date | None]
    interest_suspended: Mapped[bool | None]
    interest_suspended_until: Mapped[date | None]
    has_judgment: Mapped[bool | None]
    has_attachment: Mapped[bool | None]
    original_creditor: Mapped[str | None] = mapped_column(String(200))
    # The creditor's own numbers for the client and the claim (Schuldenknooppunt's Kennisgeving antwoord).
    creditor_customer_number: Mapped[str | None] = mapped_column(String(64))
    creditor_invoice_number: Mapped[str | None] = mapped_column(String(64))
    arrangement_offered: Mapped[bool | None]
    arrangement_monthly_cents: Mapped[int | None] = mapped_column(BigInteger)
    arrangement_terms: Mapped[str | None] = mapped_column(Text)
    # The creditor's decision on our payment proposal (L4): accept, refuse (with its reason) or counter (with the
    # counter-proposal in the arrangement fields above). The counsellor records the debt's step from it.
    arrangement_decision: Mapped[str | None] = mapped_column(String(8))
    arrangement_reason: Mapped[str | None] = mapped_column(Text)
    # The answer to a termination (L5): confirmed, and from when; or not, and why.
    termination_confirmed: Mapped[bool | None]
    termination_date: Mapped[date | None]
    termination_reason: Mapped[str | None] = mapped_column(Text)
    # The insurer's answer to the suspension of the basic health insurance (L6): confirmed, and from when.
    insurance_suspended: Mapped[bool | None]
    insurance_suspended_from: Mapped[date | None]
    # A benefit office's answer to the change report (L7): processed, and any amount it will reclaim (in cents),
    # which the counsellor may add to the case as a debt.
    change_confirmed: Mapped[bool | None]
    reclaim_cents: Mapped[int | None] = mapped_column(BigInteger)
    contact_name: Mapped[str | None] = mapped_column(String(200))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    no_cooperation: Mapped[str | None] = mapped_column(String(24))
    no_cooperation_note: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    # An optional PDF: stored in the file store, checked for type and size before it was accepted.
    attachment_key: Mapped[str | None] = mapped_column(String(200))
    attachment_name: Mapped[str | None] = mapped_column(String(200))
    attachment_sha256: Mapped[str | None] = mapped_column(String(64))
    attachment_bytes: Mapped[int | None]
    # What the reply did to the debt: the workflow events it fired, for the counsellor's review.
    events: Mapped[str | None] = mapped_column(String(200))
    # 1 for the first answer about the debt, n+1 for the next (from any channel); the newest has no superseded_at.
    version: Mapped[int] = mapped_column(default=1)
    superseded_at: Mapped[datetime | None]
    reviewed_at: Mapped[datetime | None]
    reviewed_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        CheckConstraint("channel IN ('web', 'post', 'phone', 'email')", name="channel_known"),
        CheckConstraint(
            "no_cooperation IS NULL OR no_cooperation IN "
            "('client_unknown', 'final_discharge', 'recent_stabilisation', 'declines_helper', 'other')",
            name="no_cooperation_known",
        ),
        CheckConstraint(
            "arrangement_decision IS NULL OR arrangement_decision IN ('accept', 'refuse', 'counter')",
            name="arrangement_decision_known",
        ),
        Index("ix_creditor_reply_case_id", "case_id"),
        Index("ix_creditor_reply_debt_id", "debt_id"),
        Index("ix_creditor_reply_letter_id", "letter_id"),
        # Two answers racing for the same version: one of them fails instead of both claiming it.
        UniqueConstraint("debt_id", "version"),
    )

    @property
    def total_cents(self) -> int | None:
        parts = (self.principal_cents, self.interest_cents, self.costs_cents)
        if all(p is None for p in parts):
            return None
        return sum(p or 0 for p in parts)

    @property
    def has_balance(self) -> bool:
        """The creditor named an amount (hoofdsom, rente or kosten): amounts a counsellor can take over."""
        return any(p is not None for p in (self.principal_cents, self.interest_cents, self.costs_cents))

    @property
    def amounts_taken_over(self) -> bool:
        """A counsellor made this answer's amounts the debt's (the debt process's `confirm_balance` named it).

        Read from `events`, which lists what the answer did to the debt: no column of its own, so an answer from
        before this rule that confirmed the debt at once counts as taken over too, which is what happened."""
        return TAKEN_OVER_EVENT in (self.events or "").split(",")

    @property
    def review_status(self) -> ReviewStatus:
        """Where the counsellor is with this answer: new, read, or its amounts taken over."""
        if self.amounts_taken_over:
            return ReviewStatus.TAKEN_OVER
        if self.reviewed_at is not None:
            return ReviewStatus.READ
        return ReviewStatus.NEW

    @property
    def awaits_take_over(self) -> bool:
        """The newest answer named amounts that the debt does not carry yet: the counsellor still has to check."""
        return self.superseded_at is None and self.has_balance and not self.amounts_taken_over

    @property
    def decision_steps(self) -> tuple[DecisionStep, ...]:
        """The debt steps the creditor's decision asks of the counsellor (none when it asks none): an accepted
        proposal is agreed, a refused one rejected, a counter-proposal agreed or answered with a new proposal, a
        confirmed termination confirmed. Declining (geen medewerking) asks none: the answer did that itself."""
        if self.no_cooperation:
            return ()
        if self.arrangement_decision == ArrangementDecision.ACCEPT:
            return (DecisionStep.AGREE,)
        if self.arrangement_decision == ArrangementDecision.REFUSE:
            return (DecisionStep.REJECT,)
        if self.arrangement_decision == ArrangementDecision.COUNTER:
            return (DecisionStep.AGREE, DecisionStep.PROPOSE_AGAIN)
        if self.termination_confirmed:
            return (DecisionStep.CONFIRM_TERMINATION,)
        return ()

    @property
    def decision_taken(self) -> str | None:
        """The debt event a counsellor fired from this answer's decision (agree_arrangement, ...), or None; read
        from `events`, as `amounts_taken_over` is."""
        fired = (self.events or "").split(",")
        return next((event for event in DECISION_EVENTS if event in fired), None)


class ArrangementDecision(StrEnum):
    """The creditor's answer to a payment proposal (L4)."""

    ACCEPT = "accept"
    REFUSE = "refuse"
    COUNTER = "counter"


class DecisionStep(StrEnum):
    """What a counsellor records on the debt from a creditor's decision (schulden/replies/decisions.py)."""

    AGREE = "agree"  # agree_arrangement: the proposal, or the creditor's counter-proposal, is agreed
    REJECT = "reject"  # reject_arrangement
    PROPOSE_AGAIN = "propose_again"  # reject_arrangement, then propose_arrangement with a new plan
    CONFIRM_TERMINATION = "confirm_termination"


#: The debt event each step fires first (debts/workflow.py); PROPOSE_AGAIN then fires `propose_arrangement`.
STEP_EVENTS = {
    DecisionStep.AGREE: "agree_arrangement",
    DecisionStep.REJECT: "reject_arrangement",
    DecisionStep.PROPOSE_AGAIN: "reject_arrangement",
    DecisionStep.CONFIRM_TERMINATION: "confirm_termination",
}
#: The debt events of the steps, as `events` records them: one of them settles the answer's decision.
DECISION_EVENTS = ("agree_arrangement", "reject_arrangement", "confirm_termination")


#: The debt event that takes an answer's amounts over (schulden.debts.workflow), as `events` records it.
TAKEN_OVER_EVENT = "confirm_balance"


class ReviewStatus(StrEnum):
    NEW = "new"
    READ = "read"
    TAKEN_OVER = "taken_over"

    @property
    def label(self) -> str:
        return {"new": "Nieuw", "read": "Gelezen", "taken_over": "Overgenomen"}[self.value]


class ReplySessionEnd(StrEnum):
    SUBMITTED = "submitted"  # the answer was sent: the form is gone, the thank-you page stays
    REVOKED = "revoked"  # the counsellor revoked the letter's code and link
    EXPIRED = "expired"  # its 45 minutes ran out (or the letter's code expired meanwhile)
    REPLACED = "replaced"  # the same browser opened a reply session again


class ReplySession(Base):
    """A creditor's reply session: the cookie holds only a random 256-bit id, this row says which letter it opens.

    Like the staff sessions (schulden/web/auth.py) it lives on the server, so ending it (submit, revoke) takes
    effect at the next request, and a cookie signed with the right key but naming a letter opens nothing.
    """

    __tablename__ = "reply_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_hash: Mapped[str] = mapped_column(String(64), unique=True)
    letter_id: Mapped[int] = mapped_column(ForeignKey("letter.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    ended_reason: Mapped[str | None] = mapped_column(String(16))

    __table_args__ = (
        CheckConstraint(
            "ended_reason IS NULL OR ended_reason IN ('submitted', 'revoked', 'expired', 'replaced')",
            name="ended_reason_known",
        ),
        Index("ix_reply_session_letter_id", "letter_id"),
    )
