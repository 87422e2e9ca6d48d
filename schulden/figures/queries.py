"""Outcome figures per PI or per municipality over a period (issues 5 and 12), computed from what is stored: the
cases, the workflow history, the debts and their letters, the creditors' replies, the referrals and the recorded
basisvoorwaarden.
docs/figures.md defines every figure.

Each figure (or a family of figures over the same rows) is one aggregate query, scoped in SQL with the same
clause as every case read (schulden.access.case_scope), so a PI's staff can never count another PI's cases.
Days are calendar days in the engine's time zone (Europe/Amsterdam), not UTC dates: a letter posted at 23:30 in
Amsterdam belongs to that day, not to the next. PostgreSQL converts with AT TIME ZONE; SQLite has no time zones,
so the conversion runs as a small Python function registered on the connection for the query.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    ScalarSelect,
    SQLColumnExpression,
    and_,
    case,
    distinct,
    exists,
    false,
    func,
    literal_column,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from schulden import audit
from schulden.access import case_scope
from schulden.actors import UserActor
from schulden.cases.conditions import IdDocument, ReleaseConditions
from schulden.cases.models import Case
from schulden.creditors.models import Creditor
from schulden.debts.models import Debt
from schulden.errors import ValidationFailed
from schulden.figures.conditions import BASISVOORWAARDEN, ConditionState
from schulden.letters.models import Letter, LetterStatus
from schulden.organisations.models import Organisation
from schulden.referrals.models import Referral, ReferralStatus
from schulden.replies.models import CreditorReply
from schulden.roles import Role
from workflows import BusinessCalendar, HistoryEntry, dutch_calendar
from workflows.store import utcnow

AMSTERDAM = ZoneInfo("Europe/Amsterdam")

#: The longest period one request may cover: two years, a leap day included. It bounds the work of one request
#: and is as far back as a comparison of two years needs.
MAX_PERIOD_DAYS = 731

#: Roles that may read the figures at all. Volunteers enter data and partners follow single cases: neither
#: manages a PI or a municipality.
FIGURE_READERS = frozenset({Role.PI_STAFF, Role.COUNSELLOR, Role.MUNICIPALITY, Role.ADMIN})

#: A creditor's answer, in whatever form it reaches the debt's history (docs/figures.md). `reply_received` is
#: fired for every reply, besides the event that the reply's content leads to. Only the first-answer figures read
#: these: "no answer" (unanswered_debts) asks for a creditor_reply row, which a counsellor's click does not write.
ANSWER_EVENTS = (
    "reply_received",
    "confirm_balance",
    "decline",
    "grant_suspension",
    "refuse_suspension",
    "agree_arrangement",
    "reject_arrangement",
    "confirm_termination",
    "mark_paid",
    "write_off",
)

#: The intake norm: a case is opened at the latest on this working day after the detention started.
INTAKE_WORKING_DAYS = 10

#: Referrals that will get no first conversation from this municipality: it refused (another may get the case)
#: or the referral was withdrawn. Their term passing is not a conversation overdue.
_REFERRAL_ENDED = (ReferralStatus.REFUSED.value, ReferralStatus.CANCELLED.value)

#: The name SQLite knows the local-day function by while a figures query runs.
_SQLITE_LOCAL_DAY = "schulden_local_day"


class Grouping(StrEnum):
    PI = "pi"
    MUNICIPALITY = "municipality"


@dataclass(frozen=True)
class Period:
    """Calendar days `start` to `end`, both included, in the engine's time zone."""

    start: date
    end: date


def check_period(start: date, end: date) -> Period:
    """The period, or ValidationFailed keyed by the API's parameter names (`from`, `to`)."""
    if end < start:
        raise ValidationFailed({"to": ["De einddatum ligt voor de begindatum."]})
    if (end - start).days + 1 > MAX_PERIOD_DAYS:
        raise ValidationFailed({"to": [f"Een periode beslaat hoogstens {MAX_PERIOD_DAYS} dagen (twee jaar)."]})
    return Period(start, end)


@dataclass(frozen=True)
class GroupRef:
    """The PI or municipality a row is about; `id` None: cases without a municipality chosen."""

    id: int | None
    name: str
    code: str | None


@dataclass(frozen=True)
class CreditorCount:
    creditor_id: int
    name: str
    debts: int


@dataclass
class ConditionCounts:
    """Of the cases released in the period: how many had one basisvoorwaarde geregeld, niet geregeld, onbekend."""

    arranged: int = 0
    not_arranged: int = 0
    unknown: int = 0

    def of(self, state: ConditionState) -> int:
        return int(getattr(self, state.value))

    def add(self, other: ConditionCounts) -> None:
        self.arranged += other.arranged
        self.not_arranged += other.not_arranged
        self.unknown += other.unknown


def _no_conditions() -> dict[str, ConditionCounts]:
    return {name: ConditionCounts() for name in BASISVOORWAARDEN}


@dataclass
class FigureRow:
    """The figures of one group (or, with `group` None, of all groups together)."""

    group: GroupRef | None
    cases_opened: int = 0
    released: int = 0
    inventory_complete_at_release: int = 0
    referred_before_release: int = 0
    referred: int = 0
    accepted: int = 0
    answered_debts: int = 0
    median_days_to_first_answer: float | None = None
    no_response_debts: int = 0
    unanswered_debts: int = 0
    never_answering_creditors: list[CreditorCount] = field(default_factory=list)
    wgs_breaches: int = 0
    intake_within_10_working_days: int = 0
    referrals_with_first_conversation: int = 0
    first_conversation_within_wgs_term: int = 0
    wgs_term_passed_without_first_conversation: int = 0
    #: Per basisvoorwaarde (a column of release_conditions, in the order of figures.conditions.BASISVOORWAARDEN),
    #: its state on the released cases; the three counts add up to `released`.
    conditions_at_release: dict[str, ConditionCounts] = field(default_factory=_no_conditions)

    @property
    def intake_share(self) -> float | None:
        """Percentage of the cases opened that were opened within the intake norm; None without cases."""
        return _percentage(self.intake_within_10_working_days, self.cases_opened)

    @property
    def first_conversation_share(self) -> float | None:
        """Percentage of the recorded first conversations that fall within the Wgs term; None without any."""
        return _percentage(self.first_conversation_within_wgs_term, self.referrals_with_first_conversation)


@dataclass(frozen=True)
class Figures:
    period: Period
    group_by: Grouping
    rows: list[FigureRow]
    total: FigureRow


def _percentage(part: int, whole: int) -> float | None:
    return None if not whole else 100 * part / whole


# -- calendar days in SQL ----------------------------------------------------------------------------------------------


class LocalDay(FunctionElement[date]):
    """The calendar day of a UTC timestamp in a time zone: local_day(moment, zone literal)."""

    type = Date()
    inherit_cache = True
    name = "local_day"


class DaysBetween(FunctionElement[int]):
    """Whole calendar days from the second day to the first: days_between(later, earlier)."""

    type = Integer()
    inherit_cache = True
    name = "days_between"


@compiles(LocalDay, "postgresql")
def _local_day_postgresql(element: LocalDay, compiler: SQLCompiler, **kw: Any) -> str:
    moment, zone = list(element.clauses)
    return f"CAST(({compiler.process(moment, **kw)} AT TIME ZONE {compiler.process(zone, **kw)}) AS DATE)"


@compiles(LocalDay, "sqlite")
def _local_day_sqlite(element: LocalDay, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{_SQLITE_LOCAL_DAY}({compiler.process(element.clauses, **kw)})"


@compiles(DaysBetween, "postgresql")
def _days_between_postgresql(element: DaysBetween, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = list(element.clauses)
    return f"({compiler.process(later, **kw)} - {compiler.process(earlier, **kw)})"


@compiles(DaysBetween, "sqlite")
def _days_between_sqlite(element: DaysBetween, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = list(element.clauses)
    # julianday of two ISO dates differs by a whole number; ROUND only guards the float.
    return (
        f"CAST(ROUND(julianday({compiler.process(later, **kw)}) - julianday({compiler.process(earlier, **kw)}))"
        " AS INTEGER)"
    )


@lru_cache(maxsize=8)
def _zone(key: str) -> ZoneInfo:
    return ZoneInfo(key)


def _local_day_text(value: str | None, zone: str) -> str | None:
    """SQLite's local_day: the stored text is a naive UTC timestamp (workflows.store.UTCDateTime)."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value).replace(tzinfo=UTC)
    return moment.astimezone(_zone(zone)).date().isoformat()


def _prepare(session: Session) -> None:
    """Per backend, what the figures' queries need in this transaction."""
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        raw: Any = connection.connection.driver_connection
        raw.create_function(_SQLITE_LOCAL_DAY, 2, _local_day_text, deterministic=True)
    elif connection.dialect.name == "postgresql":
        # The planner's cost estimates for these aggregates pass the JIT threshold, and compiling them took
        # longer than running them (1-2 s against 0.1-0.5 s on 30,000 cases; docs/figures.md). LOCAL: for this
        # transaction only.
        session.execute(text("SET LOCAL jit = off"))


def _zone_literal(zone: ZoneInfo) -> ColumnElement[str]:
    # Inline, not bound: a literal keeps the compiled statement cacheable per zone, and the key comes from the
    # settings, never from a request; the pattern still refuses anything that could leave the quotes.
    if not re.fullmatch(r"[A-Za-z0-9_+\-/]+", zone.key):
        raise ValueError(f"unexpected time zone key {zone.key!r}")
    return literal_column(f"'{zone.key}'")


# -- the figures ---------------------------------------------------------------------------------------------------


def outcome_figures(
    session: Session,
    *,
    actor: UserActor,
    period: Period,
    group_by: Grouping,
    timezone: ZoneInfo = AMSTERDAM,
    calendar: BusinessCalendar | None = None,
    today: date | None = None,
) -> Figures:
    """The outcome figures of the cases `actor` may see, one row per PI or municipality, and their total.

    `calendar` is the engine's working-day calendar (default: the Dutch one the engine uses), `today` the engine's
    day (default: the wall clock in `timezone`): a Wgs term counts as passed once its due day lies before today.
    Reads only; does not commit. Administrators count every case: figures are counts, not case content.
    """
    calendar = calendar or dutch_calendar()
    today = today or utcnow().astimezone(timezone).date()
    _prepare(session)
    query = _Queries(
        period=period,
        group=Case.pi_id if group_by is Grouping.PI else Case.municipality_id,
        scope=true() if actor.role is Role.ADMIN else case_scope(actor),
        zone=_zone_literal(timezone),
        # The period's bounds as UTC instants: midnight in the zone at its start and after its last day.
        start=datetime.combine(period.start, time(0), tzinfo=timezone).astimezone(UTC),
        end=datetime.combine(period.end + timedelta(days=1), time(0), tzinfo=timezone).astimezone(UTC),
    )
    rows: dict[int | None, FigureRow] = {}

    def row(key: int | None) -> FigureRow:
        return rows.setdefault(key, FigureRow(group=None))

    # Staff of one PI (or one municipality) grouping by their own kind see their own row, even when it is empty.
    own_kind = {Role.PI_STAFF: Grouping.PI, Role.MUNICIPALITY: Grouping.MUNICIPALITY}.get(actor.role)
    if own_kind is group_by and actor.organisation_id is not None:
        row(actor.organisation_id)

    for key, opened in session.execute(query.cases_opened()):
        row(key).cases_opened = opened
    for key, released, complete, referred_before in session.execute(query.releases()):
        target = row(key)
        target.released = released
        target.inventory_complete_at_release = int(complete or 0)
        target.referred_before_release = int(referred_before or 0)
    _conditions(session.execute(query.conditions_at_release()).all(), row)
    for key, referred, accepted in session.execute(query.referral_events()):
        target = row(key)
        target.referred = referred
        target.accepted = accepted
    # Breaches are the referrals marked on either ground: the term passed unanswered, or the first conversation was
    # planned after it (schulden/effects.py). Counted by referral, so a re-routed case can breach twice.
    for key, breaches in session.execute(query.wgs_breaches()):
        row(key).wgs_breaches = int(breaches or 0)
    for key, recorded, within, overdue in session.execute(query.first_conversations(today)):
        target = row(key)
        target.referrals_with_first_conversation = int(recorded or 0)
        target.first_conversation_within_wgs_term = int(within or 0)
        target.wgs_term_passed_without_first_conversation = int(overdue or 0)
    _intake(session.execute(query.intake_days()).all(), row, calendar)
    total = FigureRow(group=None)
    _medians(session.execute(query.first_answers()).all(), row, total)
    for key, debts in session.execute(query.no_response()):
        row(key).no_response_debts = debts
    for key, debts in session.execute(query.unanswered_debts()):
        row(key).unanswered_debts = debts
    for key, creditor_id, name, debts in session.execute(query.unanswered_by_creditor()):
        row(key).never_answering_creditors.append(CreditorCount(creditor_id, name, debts))

    names = _group_refs(session, [key for key in rows if key is not None])
    for key, target in rows.items():
        target.group = names.get(key) if key is not None else GroupRef(None, "Geen gemeente gekozen", None)
        target.never_answering_creditors.sort(key=lambda c: (-c.debts, c.name.casefold(), c.creditor_id))
    ordered = sorted(rows.values(), key=_row_order)
    _add_up(ordered, total)
    return Figures(period=period, group_by=group_by, rows=ordered, total=total)


def read_figures(
    session: Session,
    actor: UserActor,
    args: Mapping[str, Any],
    *,
    timezone: ZoneInfo,
    calendar: BusinessCalendar | None = None,
    today: date | None = None,
    export: bool = False,
    origin: str | None = None,
) -> Figures:
    """The figures a user asks for on the Cijfers page or from the API (`args` as FiguresArgs loads them): the
    period checked, the actor's scope, and the read logged (`figures.read`, or `figures.export` for a CSV: an
    export is a read too, NEN 7513). The role check (FIGURE_READERS) comes first, at the door. Does not commit."""
    period = check_period(args["start"], args["end"])
    group_by = Grouping(args["group_by"])
    result = outcome_figures(
        session, actor=actor, period=period, group_by=group_by, timezone=timezone, calendar=calendar, today=today
    )
    audit.record(
        session,
        actor=actor,
        action="figures.export" if export else "figures.read",
        object_type="figures",
        object_id=None,
        origin=origin,
        details={"from": period.start.isoformat(), "to": period.end.isoformat(), "group_by": result.group_by.value},
    )
    return result


@dataclass(frozen=True)
class _Queries:
    period: Period
    group: SQLColumnExpression[int | None]
    scope: ColumnElement[bool]
    zone: ColumnElement[str]
    start: datetime
    end: datetime

    def _day(self, moment: SQLColumnExpression[Any] | ScalarSelect[Any]) -> LocalDay:
        return LocalDay(moment, self.zone)

    def cases_opened(self) -> Any:
        """Cases created in the period."""
        return (
            select(self.group, func.count())
            .where(self.scope, Case.created_at >= self.start, Case.created_at < self.end)
            .group_by(self.group)
        )

    def _released(self) -> Any:
        """The release cohort: the cases whose release day falls in the period, with their group and that day."""
        early = (
            select(HistoryEntry.instance_id, func.min(HistoryEntry.at).label("early_at"))
            .where(HistoryEntry.event == "release_early")
            .group_by(HistoryEntry.instance_id)
            .subquery()
        )
        release_day = func.coalesce(self._day(early.c.early_at), Case.actual_release, Case.expected_release)
        return (
            select(Case.id, Case.instance_id, self.group.label("grp"), release_day.label("release_day"))
            .outerjoin(early, early.c.instance_id == Case.instance_id)
            .where(self.scope, release_day >= self.period.start, release_day <= self.period.end)
            .subquery()
        )

    def releases(self) -> Any:
        """Cases whose release day falls in the period; of those, the ones whose inventory was complete on that
        day and the ones referred on or before it."""
        cohort = self._released()
        entry = aliased(HistoryEntry)
        per_case = (
            select(
                cohort.c.grp,
                # complete_inventory and reopen_inventory alternate, complete first: more completions than
                # reopenings up to the release day means the inventory stood complete that day.
                func.sum(
                    case(
                        (entry.event == "complete_inventory", 1),
                        (entry.event == "reopen_inventory", -1),
                        else_=0,
                    )
                ).label("balance"),
                func.max(case((entry.event == "send_referral", 1), else_=0)).label("referred"),
            )
            .select_from(cohort)
            .outerjoin(
                entry,
                and_(
                    entry.instance_id == cohort.c.instance_id,
                    entry.event.in_(("complete_inventory", "reopen_inventory", "send_referral")),
                    self._day(entry.at) <= cohort.c.release_day,
                ),
            )
            .group_by(cohort.c.instance_id, cohort.c.grp)
            .subquery()
        )
        return select(
            per_case.c.grp,
            func.count(),
            func.sum(case((per_case.c.balance > 0, 1), else_=0)),
            func.sum(per_case.c.referred),
        ).group_by(per_case.c.grp)

    def conditions_at_release(self) -> Any:
        """Per group: the cases released in the period, then per basisvoorwaarde how many were geregeld and how
        many niet geregeld (figures.conditions); the rest is onbekend. The values are the ones stored now."""
        cohort = self._released()
        conditions = ReleaseConditions
        counts: list[Any] = [cohort.c.grp, func.count()]
        for name, condition in BASISVOORWAARDEN.items():
            column = getattr(conditions, name)
            if condition.values is None:
                arranged: ColumnElement[bool] = and_(column.is_not(None), column != "")
                not_arranged: ColumnElement[bool] = false()
            else:
                arranged = column.in_(sorted(str(v) for v, ok in condition.values.items() if ok))
                not_arranged = column.in_(sorted(str(v) for v, ok in condition.values.items() if not ok))
            if name == "id_document":
                # A valid ID whose recorded end lies before the release day had expired by then.
                expired = and_(
                    column == IdDocument.VALID.value,
                    conditions.id_valid_until.is_not(None),
                    conditions.id_valid_until < cohort.c.release_day,
                )
                arranged, not_arranged = and_(arranged, ~expired), or_(not_arranged, expired)
            counts.append(func.sum(case((arranged, 1), else_=0)))
            counts.append(func.sum(case((not_arranged, 1), else_=0)))
        return (
            select(*counts)
            .select_from(cohort)
            .outerjoin(conditions, conditions.case_id == cohort.c.id)
            .group_by(cohort.c.grp)
        )

    def referral_events(self) -> Any:
        """Cases referred and cases accepted in the period."""
        entry = HistoryEntry
        return (
            select(
                self.group,
                func.count(distinct(case((entry.event == "send_referral", Case.id)))),
                func.count(distinct(case((entry.event == "accept_referral", Case.id)))),
            )
            .select_from(entry)
            .join(Case, Case.instance_id == entry.instance_id)
            .where(
                self.scope,
                entry.event.in_(("send_referral", "accept_referral")),
                entry.at >= self.start,
                entry.at < self.end,
            )
            .group_by(self.group)
        )

    def wgs_breaches(self) -> Any:
        """Referrals whose Wgs term for the first conversation was breached in the period."""
        return (
            select(self.group, func.count())
            .select_from(Referral)
            .join(Case, Case.id == Referral.case_id)
            .where(self.scope, Referral.wgs_breached_at >= self.start, Referral.wgs_breached_at < self.end)
            .group_by(self.group)
        )

    def first_answers(self) -> Any:
        """Per group, how many debts waited how many days for their creditor's first answer, for the answers that
        came in the period: (group, days, debts). Days is NULL for an answer that came before any letter of ours
        went out; it answered no letter and has no waiting time. The medians are read off this histogram."""
        answer = aliased(HistoryEntry)
        earlier = aliased(HistoryEntry)
        # The first letter is the earliest one sent: when any was sent by the answer, the earliest was too. Through
        # the case's letters, because the letter table is indexed by case, not by debt.
        first_sent = (
            select(func.min(Letter.sent_at))
            .where(Letter.case_id == Debt.case_id, Letter.debt_id == Debt.id, Letter.sent_at <= answer.at)
            .scalar_subquery()
        )
        waits = (
            select(
                self.group.label("grp"),
                DaysBetween(self._day(answer.at), self._day(first_sent)).label("days"),
            )
            .select_from(answer)
            .join(Debt, Debt.instance_id == answer.instance_id)
            .join(Case, Case.id == Debt.case_id)
            .where(
                self.scope,
                answer.event.in_(ANSWER_EVENTS),
                answer.at >= self.start,
                answer.at < self.end,
                # The first answer only: no answer earlier in the debt's history.
                ~exists().where(
                    earlier.instance_id == answer.instance_id,
                    earlier.event.in_(ANSWER_EVENTS),
                    earlier.seq < answer.seq,
                ),
            )
            .subquery()
        )
        return select(waits.c.grp, waits.c.days, func.count()).group_by(waits.c.grp, waits.c.days)

    def no_response(self) -> Any:
        """Debts that went to no_response in the period: the workflow's own verdict after two reminders."""
        entry = HistoryEntry
        return (
            select(self.group, func.count(distinct(Debt.id)))
            .select_from(entry)
            .join(Debt, Debt.instance_id == entry.instance_id)
            .join(Case, Case.id == Debt.case_id)
            .where(self.scope, entry.event == "no_reply", entry.at >= self.start, entry.at < self.end)
            .group_by(self.group)
        )

    def _unanswered_letters(self) -> Any:
        """Letters to a creditor about a debt, sent in the period, whose debt has no creditor answer at all: no
        creditor_reply row, from the reply page or typed in by the counsellor from post, phone or e-mail. A
        counsellor's workflow click ("Saldo ontvangen") writes no such row, and so is no answer."""
        return (
            select(self.group.label("grp"), Letter.debt_id, Letter.creditor_id)
            .select_from(Letter)
            .join(Case, Case.id == Letter.case_id)
            .where(
                self.scope,
                Letter.status == LetterStatus.SENT.value,
                Letter.debt_id.is_not(None),
                Letter.creditor_id.is_not(None),
                Letter.sent_at >= self.start,
                Letter.sent_at < self.end,
                ~exists().where(CreditorReply.debt_id == Letter.debt_id),
            )
        )

    def unanswered_debts(self) -> Any:
        """Per group, the debts without a creditor answer that had a letter sent in the period."""
        letters = self._unanswered_letters().subquery()
        return select(letters.c.grp, func.count(distinct(letters.c.debt_id))).group_by(letters.c.grp)

    def unanswered_by_creditor(self) -> Any:
        """The same debts per group and per creditor addressed. The letter names its recipient (`creditor_id`): the
        collecting party when one collects for the creditor (letters.services.recipient_of), and it is that party
        that did not answer."""
        letters = self._unanswered_letters().subquery()
        return (
            select(letters.c.grp, Creditor.id, Creditor.name, func.count(distinct(letters.c.debt_id)))
            .select_from(letters)
            .join(Creditor, Creditor.id == letters.c.creditor_id)
            .group_by(letters.c.grp, Creditor.id, Creditor.name)
        )

    def intake_days(self) -> Any:
        """Cases opened in the period as (group, detention start, opening day, cases): the working-day calendar is
        Python's (workflows.calendar), so the norm is judged there, on a histogram of a few rows per day."""
        opened = (
            select(
                self.group.label("grp"),
                Case.detention_start.label("detention_start"),
                self._day(Case.created_at).label("opened_on"),
            )
            .where(self.scope, Case.created_at >= self.start, Case.created_at < self.end)
            .subquery()
        )
        return select(opened.c.grp, opened.c.detention_start, opened.c.opened_on, func.count()).group_by(
            opened.c.grp, opened.c.detention_start, opened.c.opened_on
        )

    def first_conversations(self, today: date) -> Any:
        """Referrals whose Wgs term ends in the period: with a first conversation date recorded (the municipality
        gives it when it accepts), of those the ones on or before the term's last day, and the ones still open
        without a date whose term has passed (its last day lies before today)."""
        recorded = Referral.first_conversation_on.is_not(None)
        return (
            select(
                self.group,
                func.sum(case((recorded, 1), else_=0)),
                func.sum(case((and_(recorded, Referral.first_conversation_on <= Referral.wgs_due_on), 1), else_=0)),
                func.sum(
                    case(
                        (
                            and_(
                                ~recorded,
                                Referral.status.not_in(_REFERRAL_ENDED),
                                Referral.wgs_due_on < today,
                            ),
                            1,
                        ),
                        else_=0,
                    )
                ),
            )
            .select_from(Referral)
            .join(Case, Case.id == Referral.case_id)
            .where(self.scope, Referral.wgs_due_on >= self.period.start, Referral.wgs_due_on <= self.period.end)
            .group_by(self.group)
        )


def _conditions(rows: Iterable[Any], row: Callable[[int | None], FigureRow]) -> None:
    """Fill conditions_at_release from (group, released, then geregeld and niet geregeld per basisvoorwaarde);
    onbekend is what remains: no row, an empty column."""
    for key, released, *sums in rows:
        target = row(key).conditions_at_release
        for index, name in enumerate(BASISVOORWAARDEN):
            arranged, not_arranged = int(sums[2 * index] or 0), int(sums[2 * index + 1] or 0)
            target[name] = ConditionCounts(arranged, not_arranged, released - arranged - not_arranged)


def _intake(histogram: Iterable[Any], row: Callable[[int | None], FigureRow], calendar: BusinessCalendar) -> None:
    """Fill intake_within_10_working_days from (group, detention start, opening day, cases): opened at the latest
    on the tenth working day after the detention started (that day itself does not count, as in every term of the
    Algemene termijnenwet); opened on the day the detention started is day 0."""
    deadlines: dict[date, date] = {}
    for key, detention_start, opened_on, cases in histogram:
        deadline = deadlines.get(detention_start)
        if deadline is None:
            deadline = deadlines[detention_start] = calendar.add_working_days(detention_start, INTAKE_WORKING_DAYS)
        if _as_date(opened_on) <= deadline:
            row(key).intake_within_10_working_days += cases


def _as_date(value: date | str) -> date:
    # SQLite hands back the local day as the ISO text its function made when the driver skips the type.
    return value if isinstance(value, date) else date.fromisoformat(value)


def _median(histogram: dict[int, int]) -> float | None:
    """The median of values given as {value: how often}: the middle one, or the mean of the middle two."""
    count = sum(histogram.values())
    if not count:
        return None
    wanted = sorted({(count + 1) // 2, (count + 2) // 2})  # 1-based positions in the sorted values
    found: list[int] = []
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        while wanted and wanted[0] <= seen:
            found.append(value)
            wanted.pop(0)
    return sum(found) / len(found)


def _medians(histogram: Iterable[Any], row: Callable[[int | None], FigureRow], total: FigureRow) -> None:
    """Fill answered_debts and the median wait per group and over all groups from the (group, days, debts) rows."""
    by_group: dict[int | None, dict[int, int]] = {}
    overall: dict[int, int] = {}
    for key, days, debts in histogram:
        if days is None:
            continue
        by_group.setdefault(key, {})[days] = debts
        overall[days] = overall.get(days, 0) + debts
    for key, values in by_group.items():
        target = row(key)
        target.answered_debts = sum(values.values())
        target.median_days_to_first_answer = _median(values)
    total.answered_debts = sum(overall.values())
    total.median_days_to_first_answer = _median(overall)


def _group_refs(session: Session, ids: list[int]) -> dict[int | None, GroupRef]:
    if not ids:
        return {}
    found = session.execute(
        select(Organisation.id, Organisation.name, Organisation.code).where(Organisation.id.in_(ids))
    ).all()
    return {org_id: GroupRef(org_id, name, code) for org_id, name, code in found}


def _row_order(row: FigureRow) -> tuple[bool, str, int]:
    group = row.group
    # Cases without a municipality last; otherwise alphabetical, as a person looks for a name.
    if group is None or group.id is None:
        return (True, "", 0)
    return (False, group.name.casefold(), group.id)


def _add_up(rows: list[FigureRow], total: FigureRow) -> None:
    """The total of counts over the groups; groups share no case, so their counts add up. The median and the
    number of answered debts were computed over all rows by the query itself."""
    creditors: dict[int, CreditorCount] = {}
    for row in rows:
        total.cases_opened += row.cases_opened
        total.released += row.released
        total.inventory_complete_at_release += row.inventory_complete_at_release
        total.referred_before_release += row.referred_before_release
        total.referred += row.referred
        total.accepted += row.accepted
        total.no_response_debts += row.no_response_debts
        total.unanswered_debts += row.unanswered_debts
        total.wgs_breaches += row.wgs_breaches
        total.intake_within_10_working_days += row.intake_within_10_working_days
        total.referrals_with_first_conversation += row.referrals_with_first_conversation
        total.first_conversation_within_wgs_term += row.first_conversation_within_wgs_term
        total.wgs_term_passed_without_first_conversation += row.wgs_term_passed_without_first_conversation
        for name, counts in row.conditions_at_release.items():
            total.conditions_at_release[name].add(counts)
        for item in row.never_answering_creditors:
            known = creditors.get(item.creditor_id)
            creditors[item.creditor_id] = (
                item if known is None else CreditorCount(item.creditor_id, item.name, known.debts + item.debts)
            )
    total.never_answering_creditors = sorted(
        creditors.values(), key=lambda c: (-c.debts, c.name.casefold(), c.creditor_id)
    )
