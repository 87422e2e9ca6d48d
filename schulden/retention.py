"""Retention and erasure (AVG art. 5(1)(e) storage limitation; issue 15; docs/privacy.md section 4).

Every record type has a term, counted from the moment its case closed (the case process's final state,
`wf_instance.updated_at` of a final instance) or, for what belongs to no case, from the row's own moment. The terms
are `RetentionTerms` (defaults below, each overridable by an environment variable read in schulden/settings.py);
`docs/privacy.md` gives the reason or source of each.

`erase_due` does one batch: it finds closed cases, not under a legal hold, with a record type past its term and
not erased yet, and erases that part. What the outcome figures (schulden/figures/) count survives only as an
anonymous skeleton: the case row without the person (a new blank detainee row; the old one goes when no other case
holds it), the debts' amounts without the creditor's reference, the letters' and answers' types, dates and
statuses without names, addresses or free text, the workflow history's events without reasons or payloads.
Everything else goes: notes, consents and withdrawals, the household, the answers' contact details and
attachments, the PDFs, the corrections (old and new values). Each part erased is one `case_erasure` row (what makes
a second run change nothing) and one `retention.erase` audit row with counts, never content. Audit rows older than
their term go too, but the rows of a case only once the case itself is erased, as do login attempts, ended sessions
and the job's own runs.

Files: the database store's rows (`stored_file`) are deleted in the same transaction; a folder store cannot join a
transaction, so its files are removed after the commit by `remove_erased_files`, which works from the
`case_erasure` rows whose files are not removed yet, so a crash in between is caught by the next run.

The service takes a session and an actor and never commits. No Flask, no integrations.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from marshmallow import fields as ma_fields
from sqlalchemy import (
    JSON,
    CheckConstraint,
    ColumnElement,
    ForeignKey,
    Index,
    String,
    and_,
    delete,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from schulden import audit
from schulden.actors import SYSTEM, UserActor
from schulden.audit import AuditEntry
from schulden.cases.conditions import ReleaseConditions
from schulden.cases.models import (
    Case,
    CaseBenefit,
    CaseNote,
    CasePartner,
    Consent,
    Detainee,
    HouseholdMember,
    Transfer,
)
from schulden.cases.queries import get_case
from schulden.consents import CASE_RETENTION_YEARS
from schulden.corrections import Correction
from schulden.db import Base
from schulden.debts.models import Debt
from schulden.errors import DomainError, NotPermitted
from schulden.fields import DutchSchema, PlainText, one_of
from schulden.idempotency import purge_expired
from schulden.letters import lifecycle as letter_lifecycle
from schulden.letters.models import Letter, PrintBatch
from schulden.referrals.models import Referral
from schulden.replies.models import CreditorReply, ReplySession
from schulden.replies.sessions import sweep_drafts
from schulden.roles import Role
from schulden.stored_files import StoredFile
from schulden.users.models import ApiToken, LoginAttempt
from workflows import Actor, HistoryEntry, TimerRow, WorkflowInstance
from workflows.store import utcnow

if TYPE_CHECKING:
    from schulden.ports import FileStore

# -- the terms -------------------------------------------------------------------------------------------------------


class Part(StrEnum):
    """The record types of a case, each with its own term; CASE last: it removes the person himself."""

    HANDOVER = "handover"  # the handover file and the detainee's summary (referrals/<case>/)
    NOTES = "notes"
    LETTERS = "letters"  # the letters' addresses, reply codes and PDFs (letters/<case>/)
    REPLIES = "replies"  # the creditors' answers' contact details, free text and attachments (replies/<case>/)
    CONSENTS = "consents"  # consents and withdrawals
    CASE = "case"  # the person, the household, the debts' references, the history's reasons: the rest


#: Where each part's files are in the store; `{case}` is the case id.
FILE_PREFIXES = {
    Part.HANDOVER: "referrals/{case}/",
    Part.LETTERS: "letters/{case}/",
    Part.REPLIES: "replies/{case}/",
}


@dataclass(frozen=True)
class RetentionTerms:
    """How long each record type is kept. The reason or source of each default: docs/privacy.md section 4."""

    #: The case and its debts: what the L9 form promises (schulden/consents.py CASE_RETENTION_YEARS).
    case_months: int = CASE_RETENTION_YEARS * 12
    letter_months: int = CASE_RETENTION_YEARS * 12
    reply_months: int = CASE_RETENTION_YEARS * 12
    consent_months: int = CASE_RETENTION_YEARS * 12
    #: Our copy of what went to the municipality; its hash stays on the referral as proof of what was sent.
    handover_months: int = 6
    #: Working notes: a complaint about conduct more than a year old need not be handled (Awb art. 9:8(1)(b)).
    note_months: int = 12
    #: The audit log, the proof of lawful processing (AVG art. 5(2)) while a claim can come (art. 3:310 BW).
    audit_months: int = 60
    login_days: int = 180
    session_days: int = 30
    print_batch_days: int = 90

    def months_for(self, part: Part) -> int:
        return {
            Part.HANDOVER: self.handover_months,
            Part.NOTES: self.note_months,
            Part.LETTERS: self.letter_months,
            Part.REPLIES: self.reply_months,
            Part.CONSENTS: self.consent_months,
            Part.CASE: self.case_months,
        }[part]

    def problems(self) -> list[tuple[str, str]]:
        """(environment variable, Dutch-free reason) for each term that cannot be used; empty when all can."""
        found: list[tuple[str, str]] = []
        for item in fields(self):
            value = getattr(self, item.name)
            if value < 1:
                found.append((ENVIRONMENT[item.name], "must be at least 1"))
        if self.case_months > CASE_RETENTION_YEARS * 12:
            promise = f"the L9 consent form promises {CASE_RETENTION_YEARS} years (consents.CASE_RETENTION_YEARS)"
            found.append((ENVIRONMENT["case_months"], f"must be at most {CASE_RETENTION_YEARS * 12}: {promise}"))
        for name in ("letter_months", "reply_months", "consent_months", "handover_months", "note_months"):
            if getattr(self, name) > self.case_months:
                found.append((ENVIRONMENT[name], "must be at most RETENTION_CASE_MONTHS: the case erases the rest"))
        if self.print_batch_days > self.case_months * 28:
            # A print batch holds letters of many cases in one PDF: it must be gone before the first of them.
            found.append((ENVIRONMENT["print_batch_days"], "must be shorter than RETENTION_CASE_MONTHS"))
        return found


#: The environment variable of each term (schulden/settings.py reads them; docs/operations.md lists them).
ENVIRONMENT: dict[str, str] = {
    "case_months": "RETENTION_CASE_MONTHS",
    "letter_months": "RETENTION_LETTER_MONTHS",
    "reply_months": "RETENTION_REPLY_MONTHS",
    "consent_months": "RETENTION_CONSENT_MONTHS",
    "handover_months": "RETENTION_HANDOVER_MONTHS",
    "note_months": "RETENTION_NOTE_MONTHS",
    "audit_months": "RETENTION_AUDIT_MONTHS",
    "login_days": "RETENTION_LOGIN_DAYS",
    "session_days": "RETENTION_SESSION_DAYS",
    "print_batch_days": "RETENTION_PRINT_BATCH_DAYS",
}


def terms_from(values: Mapping[str, int]) -> RetentionTerms:
    """Terms with the given fields changed (by field name)."""
    return RetentionTerms(**dict(values))


def months_before(moment: datetime, months: int) -> datetime:
    """The same moment `months` calendar months earlier (the 31st becomes the month's last day)."""
    month_index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(month_index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


# -- the tables --------------------------------------------------------------------------------------------------------


class CaseErasure(Base):
    """One part of one case, erased: the record that makes a second run change nothing. `files_removed_at` is set
    when the part's files are gone from the store too (after the commit, for a folder store)."""

    __tablename__ = "case_erasure"

    case_id: Mapped[int] = mapped_column(ForeignKey("debt_case.id", ondelete="RESTRICT"), primary_key=True)
    part: Mapped[str] = mapped_column(String(16), primary_key=True)
    erased_at: Mapped[datetime]
    files_removed_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("part IN ('handover', 'notes', 'letters', 'replies', 'consents', 'case')", name="part_known"),
    )


class RetentionRun(Base):
    """One run of the job, with its counts (ids and numbers only): `retention show`, and the tick's hourly mark."""

    __tablename__ = "retention_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (Index("ix_retention_run_at", "at"),)


class ErasurePermit(Base):
    """While a row exists in a transaction, the append-only triggers of wf_history and audit_entry let that
    transaction change and delete (migration 0017). Only `erase_due` inserts one, and removes it before it returns;
    other transactions never see it."""

    __tablename__ = "erasure_permit"

    id: Mapped[int] = mapped_column(primary_key=True)
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)


# -- the report --------------------------------------------------------------------------------------------------------


@dataclass
class ErasureReport:
    """What one run did (or, dry, would do): per case the counts per record type, and the purges."""

    at: datetime
    cases: dict[int, dict[str, int]] = field(default_factory=dict)
    parts: dict[str, list[int]] = field(default_factory=dict)
    purged: dict[str, int] = field(default_factory=dict)
    held: list[int] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.cases) or any(self.purged.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "cases": {str(k): v for k, v in self.cases.items()},
            "parts": self.parts,
            "purged": self.purged,
            "held": self.held,
        }


#: What an erased detainee row says instead of a name; the date stands for "unknown" (the column is required).
ERASED_SURNAME = "(gewist)"
ERASED_BIRTH = date(1900, 1, 1)
DEFAULT_BATCH = 25


# -- the service -------------------------------------------------------------------------------------------------------


def _closed_cases(now: datetime, terms: RetentionTerms) -> Any:
    """Closed cases, not under a legal hold, with a part past its term and not erased yet (oldest first)."""
    closed_at = WorkflowInstance.updated_at
    due: list[ColumnElement[bool]] = []
    for part in Part:
        done = exists().where(CaseErasure.case_id == Case.id, CaseErasure.part == part.value)
        due.append(and_(closed_at < months_before(now, terms.months_for(part)), ~done))
    return (
        select(Case.id, closed_at)
        .join(WorkflowInstance, WorkflowInstance.id == Case.instance_id)
        .where(WorkflowInstance.is_final.is_(True), or_(*due))
    )


def erase_due(
    session: Session,
    *,
    actor: Actor = SYSTEM,
    now: datetime,
    terms: RetentionTerms,
    batch_size: int = DEFAULT_BATCH,
) -> ErasureReport:
    """Erase what has passed its term: at most `batch_size` cases, then the purges. Does not commit; the caller
    commits and then calls `remove_erased_files` (or rolls back for a dry run)."""
    report = ErasureReport(at=now)
    permit = ErasurePermit(granted_at=now)
    session.add(permit)
    session.flush()
    try:
        candidates = _closed_cases(now, terms)
        report.held = list(
            session.scalars(candidates.with_only_columns(Case.id).where(Case.legal_hold_since.is_not(None)))
        )
        rows = session.execute(
            candidates.where(Case.legal_hold_since.is_(None))
            .order_by(WorkflowInstance.updated_at, Case.id)
            .limit(batch_size)
            # Two runs at once (two schedulers) take different cases; a case a person is changing waits for later.
            .with_for_update(of=Case, skip_locked=True)
        ).all()
        for case_id, closed_at in rows:
            _erase_case_parts(session, actor, case_id, closed_at, now, terms, report)
        _purge(session, actor, now, terms, report)
    finally:
        session.delete(permit)
        session.flush()
    return report


def _erase_case_parts(
    session: Session,
    actor: Actor,
    case_id: int,
    closed_at: datetime,
    now: datetime,
    terms: RetentionTerms,
    report: ErasureReport,
) -> None:
    done = set(session.scalars(select(CaseErasure.part).where(CaseErasure.case_id == case_id)))
    due = [p for p in Part if p.value not in done and closed_at < months_before(now, terms.months_for(p))]
    if Part.CASE in due:
        # The case takes every part with it (their terms are at most the case's: RetentionTerms.problems).
        due = [p for p in Part if p.value not in done]
    if not due:
        return
    counts: dict[str, int] = {}
    for part in due:
        counts |= ERASERS[part](session, case_id)
        session.add(CaseErasure(case_id=case_id, part=part.value, erased_at=now,
                                files_removed_at=None if part in FILE_PREFIXES else now))  # fmt: skip
        report.parts.setdefault(part.value, []).append(case_id)
    report.cases[case_id] = counts
    audit.record(
        session, actor=actor, action="retention.erase", object_type="case", object_id=case_id, case_id=case_id,
        details={"parts": [p.value for p in due], "counts": counts},
    )  # fmt: skip


def _count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _drop_stored_files(session: Session, part: Part, case_id: int) -> int:
    """The database store's files of the part, in this transaction (a folder store's go after the commit)."""
    prefix = FILE_PREFIXES[part].format(case=case_id)
    return _count(session.execute(delete(StoredFile).where(StoredFile.key.startswith(prefix, autoescape=True))))


def _erase_handover(session: Session, case_id: int) -> dict[str, int]:
    files = session.scalar(
        select(func.count(Referral.handover_key) + func.count(Referral.summary_key)).where(Referral.case_id == case_id)
    )
    session.execute(
        update(Referral).where(Referral.case_id == case_id).values(handover_key=None, summary_key=None)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    _drop_stored_files(session, Part.HANDOVER, case_id)
    return {"handover_files": int(files or 0)}


def _erase_notes(session: Session, case_id: int) -> dict[str, int]:
    return {"notes": _count(session.execute(delete(CaseNote).where(CaseNote.case_id == case_id)))}


def _erase_letters(session: Session, case_id: int) -> dict[str, int]:
    # A letter not gone out by now never will: cancelled, so no print batch or sweeper makes it again.
    letter_lifecycle.cancel_open(session, case_id, reason="retention")
    files = session.scalar(select(func.count(Letter.storage_key)).where(Letter.case_id == case_id)) or 0
    # The row keeps what the figures count (type, channel, status, dates, the creditor organisation) and its hash;
    # the recipient's copy of name and address (the detainee's own, for L9 and L10), the codes and errors go. The
    # storage key stays (a sent letter must name one, ck rendered_has_pdf); its file is removed.
    result = session.execute(
        update(Letter)
        .where(Letter.case_id == case_id)
        .values(
            recipient_name="", recipient_department=None, recipient_address_line=None, recipient_postcode=None,
            recipient_city=None, recipient_email=None, recipient_channel_note=None, last_error=None,
            email_message_id=None, reply_code_lookup=None, reply_code_hash=None, reply_token_hash=None,
        )
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    _drop_stored_files(session, Part.LETTERS, case_id)
    return {"letters": _count(result), "letter_files": int(files)}


def _erase_replies(session: Session, case_id: int) -> dict[str, int]:
    letters = select(Letter.id).where(Letter.case_id == case_id)
    sessions = _count(session.execute(delete(ReplySession).where(ReplySession.letter_id.in_(letters))))
    files = session.scalar(select(func.count(CreditorReply.attachment_key)).where(CreditorReply.case_id == case_id))
    # Kept for the figures: that an answer came, when, on which channel, its amounts and decisions. Gone: who
    # answered and how to reach them, the creditor's own numbers for the client, every free text, the attachment.
    result = session.execute(
        update(CreditorReply)
        .where(CreditorReply.case_id == case_id)
        .values(
            original_creditor=None, creditor_customer_number=None, creditor_invoice_number=None,
            arrangement_terms=None, arrangement_reason=None, termination_reason=None, contact_name=None,
            contact_phone=None, contact_email=None, no_cooperation_note=None, note=None, attachment_key=None,
            attachment_name=None, attachment_sha256=None, attachment_bytes=None,
        )
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    _drop_stored_files(session, Part.REPLIES, case_id)
    return {"replies": _count(result), "reply_files": int(files or 0), "reply_sessions": sessions}


def _erase_consents(session: Session, case_id: int) -> dict[str, int]:
    withdrawn = session.scalar(
        select(func.count()).where(Consent.case_id == case_id, Consent.withdrawn_at.is_not(None))
    )
    result = session.execute(delete(Consent).where(Consent.case_id == case_id))
    return {"consents": _count(result), "withdrawals": int(withdrawn or 0)}


def _erase_case(session: Session, case_id: int) -> dict[str, int]:
    case = session.get_one(Case, case_id)
    counts: dict[str, int] = {}
    # The person: the case gets a blank detainee of its own, so the skeleton links to nobody (not even to his other
    # cases); his row goes once no case holds it (a later detention keeps it until that case is erased in turn).
    old = case.detainee_id
    blank = Detainee(given_names="", surname_prefix=None, surname=ERASED_SURNAME, date_of_birth=ERASED_BIRTH)
    session.add(blank)
    session.flush()
    case.detainee_id = blank.id
    case.municipality_reason = None
    case.intended_postcode = None
    case.health_policy_number = None
    session.flush()
    others = session.scalar(select(func.count()).where(Case.detainee_id == old))
    counts["detainee"] = 0 if others else _count(session.execute(delete(Detainee).where(Detainee.id == old)))
    for model, name in (
        (HouseholdMember, "household_members"),
        (CaseBenefit, "benefits"),
        (Transfer, "transfers"),
        (CasePartner, "partners"),
    ):
        counts[name] = _count(session.execute(delete(model).where(model.case_id == case_id)))
    # The old and new values of every correction are the person's data (an old postcode, DJI number, amount): they
    # go with him. The audit rows that remain name the fields changed, never a value.
    counts["corrections"] = _count(session.execute(delete(Correction).where(Correction.case_id == case_id)))
    session.execute(
        update(Debt).where(Debt.case_id == case_id).values(creditor_reference=None)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    # The basisvoorwaarden's choices stay for the figures; the address, contact and office typed in go.
    session.execute(
        update(ReleaseConditions).where(ReleaseConditions.case_id == case_id)
        .values(income_office=None, postal_address=None, contact_after_release=None)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    session.execute(
        update(Referral).where(Referral.case_id == case_id)
        .values(last_error=None, refusal_reason=None, email_message_id=None, district_message_id=None,
                zaak_url=None, document_url=None)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    # The history keeps its events and moments (the figures count them); reasons and payloads are free text and
    # choices a person typed. The append-only triggers allow this only under the run's permit.
    instances = [case.instance_id, *session.scalars(select(Debt.instance_id).where(Debt.case_id == case_id))]
    counts["history_stripped"] = _count(
        session.execute(
            update(HistoryEntry.__table__)  # type: ignore[arg-type]
            .where(HistoryEntry.__table__.c.instance_id.in_(instances))
            .values(reason=None, payload={})
        )
    )
    session.execute(delete(TimerRow.__table__).where(TimerRow.__table__.c.instance_id.in_(instances)))  # type: ignore[arg-type]
    counts["case"] = 1
    return counts


ERASERS = {
    Part.HANDOVER: _erase_handover,
    Part.NOTES: _erase_notes,
    Part.LETTERS: _erase_letters,
    Part.REPLIES: _erase_replies,
    Part.CONSENTS: _erase_consents,
    Part.CASE: _erase_case,
}

#: At most this many audit rows go per run: a first run on years of log must not hold one huge transaction.
AUDIT_BATCH = 5000


def _purge(session: Session, actor: Actor, now: datetime, terms: RetentionTerms, report: ErasureReport) -> None:
    """The records that belong to no case: old audit rows, login attempts, ended sessions, the job's runs."""
    audit_cutoff = months_before(now, terms.audit_months)
    erased = select(CaseErasure.case_id).where(CaseErasure.part == Part.CASE.value)
    # A case's audit rows stay while the case is there (held cases, long cases): they go after its erasure.
    old_audit = (
        select(AuditEntry.id)
        .where(AuditEntry.at < audit_cutoff, or_(AuditEntry.case_id.is_(None), AuditEntry.case_id.in_(erased)))
        .order_by(AuditEntry.id)
        .limit(AUDIT_BATCH)
    )
    ids = list(session.scalars(old_audit))
    purged = {"audit_entries": _count(session.execute(delete(AuditEntry).where(AuditEntry.id.in_(ids))))}
    login_cutoff = now - timedelta(days=terms.login_days)
    purged["login_attempts"] = _count(session.execute(delete(LoginAttempt).where(LoginAttempt.at < login_cutoff)))
    session_cutoff = now - timedelta(days=terms.session_days)
    purged["sessions"] = _count(
        session.execute(
            delete(ApiToken).where(or_(ApiToken.revoked_at < session_cutoff, ApiToken.expires_at < session_cutoff))
        )
    )
    purged["reply_sessions"] = _count(
        session.execute(
            delete(ReplySession).where(func.coalesce(ReplySession.ended_at, ReplySession.expires_at) < session_cutoff)
        )
    )
    purged["idempotency_keys"] = purge_expired(session, now=now)
    purged["runs"] = _count(session.execute(delete(RetentionRun).where(RetentionRun.at < audit_cutoff)))
    report.purged = purged
    if any(v for k, v in purged.items() if k not in ("runs", "idempotency_keys")):
        audit.record(
            session, actor=actor, action="retention.purge", object_type="retention", object_id=None,
            details={"counts": purged, "before": {"audit": audit_cutoff.isoformat(),
                                                  "logins": login_cutoff.isoformat(),
                                                  "sessions": session_cutoff.isoformat()}},
        )  # fmt: skip


# -- after the commit: the files ---------------------------------------------------------------------------------------


def remove_erased_files(session: Session, store: FileStore, *, now: datetime, terms: RetentionTerms) -> int:
    """Remove from the store the files of the parts erased (and committed), the print batches past their term and
    the creditors' abandoned drafts; how many files. Call after `erase_due`'s commit, then commit again."""
    removed = 0
    pending = session.execute(
        select(CaseErasure).where(
            CaseErasure.files_removed_at.is_(None),
            CaseErasure.part.in_([p.value for p in FILE_PREFIXES]),
        )
    ).scalars()
    for row in pending:
        for key in store.keys(FILE_PREFIXES[Part(row.part)].format(case=row.case_id)):
            store.delete(key)
            removed += 1
        row.files_removed_at = now
    # A print batch is one PDF of many cases' letters, for the mailroom of that day: it goes after its own term.
    oldest = (now - timedelta(days=terms.print_batch_days)).timestamp()
    for pi_id in session.scalars(select(PrintBatch.pi_id).distinct()):
        for key, modified in store.entries(f"batches/{pi_id}"):
            if modified < oldest:
                store.delete(key)
                removed += 1
    sweep_drafts(store, now=now)
    return removed


# -- the run log and what is due ---------------------------------------------------------------------------------------


def record_run(session: Session, report: ErasureReport) -> RetentionRun:
    run = RetentionRun(at=report.at, report=report.as_dict())
    session.add(run)
    return run


def last_run(session: Session) -> RetentionRun | None:
    return session.scalar(select(RetentionRun).order_by(RetentionRun.at.desc(), RetentionRun.id.desc()).limit(1))


def due_now(session: Session, *, now: datetime, terms: RetentionTerms) -> dict[str, Any]:
    """For `retention show`: how many cases have each part due, and which due cases are held."""
    candidates = _closed_cases(now, terms).subquery()
    held = list(
        session.scalars(
            select(Case.id).join(candidates, candidates.c.id == Case.id)
            .where(Case.legal_hold_since.is_not(None)).order_by(Case.id)
        )
    )  # fmt: skip
    per_part: dict[str, int] = {}
    for part in Part:
        done = exists().where(CaseErasure.case_id == Case.id, CaseErasure.part == part.value)
        per_part[part.value] = int(
            session.scalar(
                select(func.count())
                .select_from(Case)
                .join(WorkflowInstance, WorkflowInstance.id == Case.instance_id)
                .where(
                    WorkflowInstance.is_final.is_(True),
                    WorkflowInstance.updated_at < months_before(now, terms.months_for(part)),
                    Case.legal_hold_since.is_(None),
                    ~done,
                )
            )
            or 0
        )
    erased = int(session.scalar(select(func.count()).where(CaseErasure.part == Part.CASE.value)) or 0)
    return {"due": per_part, "held": held, "erased_cases": erased}


# -- the legal hold ----------------------------------------------------------------------------------------------------


class HoldKind(StrEnum):
    DISPUTE = "dispute"
    COMPLAINT = "complaint"
    AUTHORITY = "authority"
    OTHER = "other"


class LiftReason(StrEnum):
    RESOLVED = "resolved"
    WITHDRAWN = "withdrawn"
    MISTAKE = "mistake"


HOLD_LABELS = {
    HoldKind.DISPUTE: "Geschil (over een schuld, een bedrag of een brief)",
    HoldKind.COMPLAINT: "Klacht (bij ons of bij de Autoriteit Persoonsgegevens)",
    HoldKind.AUTHORITY: "Verzoek van een rechter of toezichthouder",
    HoldKind.OTHER: "Andere reden",
}
LIFT_LABELS = {
    LiftReason.RESOLVED: "Afgehandeld",
    LiftReason.WITHDRAWN: "Ingetrokken",
    LiftReason.MISTAKE: "Ten onrechte gezet",
}

#: Who sets and lifts a legal hold: the counsellor who runs the case (an administrator sees no case content).
HOLD_ROLES = frozenset({Role.COUNSELLOR})


class LegalHoldIn(DutchSchema):
    kind = ma_fields.String(required=True, validate=one_of([k.value for k in HoldKind]))
    # Optional: what the hold is about, for the counsellor; never in the audit log, gone with the case.
    note = PlainText(load_default=None, allow_none=True, maximum=500)


class LegalHoldLiftIn(DutchSchema):
    reason = ma_fields.String(load_default=LiftReason.RESOLVED.value, validate=one_of([r.value for r in LiftReason]))


class LegalHoldRefused(DomainError):
    """The hold cannot be set or lifted in the case's state (erased already, not held)."""


def _hold_refusal(actor: UserActor) -> None:
    if actor.role not in HOLD_ROLES:
        raise NotPermitted("Alleen de schuldhulpverlener zet of beëindigt een bewaarblokkade.")


def set_legal_hold(
    session: Session,
    actor: UserActor,
    case_id: int,
    *,
    kind: str,
    note: str | None,
    now: datetime,
    origin: str | None = None,
) -> Case:
    """Put the case under a legal hold (or change its kind): the retention job erases nothing of it until lifted."""
    _hold_refusal(actor)
    case = get_case(session, actor, case_id, for_update=True)
    if session.get(CaseErasure, (case.id, Part.CASE.value)) is not None:
        raise LegalHoldRefused("Dit dossier is al gewist; er is niets meer om te bewaren.")
    changed = case.legal_hold_since is not None
    case.legal_hold_kind = HoldKind(kind).value
    case.legal_hold_note = (note or "").strip() or None
    if case.legal_hold_since is None:
        case.legal_hold_since = now
    case.legal_hold_by = actor.actor_id
    audit.record(
        session, actor=actor, action="retention.hold", object_type="case", object_id=case.id, case_id=case.id,
        origin=origin, details={"kind": case.legal_hold_kind, "changed": changed},
    )  # fmt: skip
    return case


def lift_legal_hold(
    session: Session, actor: UserActor, case_id: int, *, reason: str, origin: str | None = None
) -> Case:
    """Lift the case's legal hold; its terms apply again from the next run."""
    _hold_refusal(actor)
    case = get_case(session, actor, case_id, for_update=True)
    if case.legal_hold_since is None:
        raise LegalHoldRefused("Op dit dossier staat geen bewaarblokkade.")
    kind = case.legal_hold_kind
    case.legal_hold_kind = case.legal_hold_note = case.legal_hold_since = case.legal_hold_by = None
    audit.record(
        session, actor=actor, action="retention.hold_lifted", object_type="case", object_id=case.id,
        case_id=case.id, origin=origin, details={"kind": kind, "reason": LiftReason(reason).value},
    )  # fmt: skip
    return case


def erased_parts(session: Session, case_ids: Iterable[int]) -> dict[int, set[str]]:
    """The parts erased of each case (for the pages)."""
    found: dict[int, set[str]] = {}
    for case_id, part in session.execute(
        select(CaseErasure.case_id, CaseErasure.part).where(CaseErasure.case_id.in_(list(case_ids)))
    ):
        found.setdefault(case_id, set()).add(part)
    return found
