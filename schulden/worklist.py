"""What needs the user today ("Mijn werk"): creditor answers to read, referrals due or failed, Wgs breaches,
releases close without a referral, failed letters, the PI's intake clocks, letters the counsellor delivers by hand.
Every query is limited by the case scope of the actor, so a task list never shows (or counts) a case its user may
not see. Marking a hand-delivered letter as sent (`mark_sent_manually`) is the one task done from the list itself.
"""

from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import ColumnElement, Select, exists, or_, select
from sqlalchemy.orm import Session

from schulden import audit
from schulden.access import case_scope
from schulden.actors import UserActor
from schulden.cases.models import WGS_THREATS, Case, Detainee
from schulden.debts.models import Debt
from schulden.effects import LETTER_TITLES
from schulden.errors import NotPermitted
from schulden.letters import lifecycle
from schulden.letters.models import Channel, Letter, LetterStatus
from schulden.letters.queries import scoped_letter
from schulden.referrals.models import Referral, ReferralStatus
from schulden.replies.models import CreditorReply
from schulden.roles import Role
from workflows import BusinessCalendar, Engine, WorkflowInstance, dutch_calendar
from workflows.store import HistoryEntry, TimerRow, TimerStatus

#: Debt states in which the creditor's answer is overdue (reminders sent, domain.md 9.2).
OVERDUE_DEBT_STATES = ("reminded", "reminded_again")
#: Releases this close without a referral are flagged (the default referral window).
RELEASE_HORIZON = timedelta(weeks=6)
#: Rows per kind of task: a work list, not a report. The case list with its filters shows the rest; a longer list
#: costs every page view (bench/pages.py: 200 a kind made "Mijn werk" 5x slower at 30,000 cases).
LIMIT = 25
#: The PI's intake clocks (domain.md 1.2): screening within 10 working days of arrival (DJI), the D&R-plan within one
#: calendar month (art. 18a Pbw). Each is a task until its event is in the case's history (cases/workflow.py).
SCREENING_WORKING_DAYS = 10


@dataclass(frozen=True)
class Task:
    kind: str  # reply_to_review, referral_due, refer_now, release_near, screening_due, send_manually, ...
    title: str
    case_id: int
    detail: str
    due_on: date | None = None
    urgent: bool = False
    object_id: int | None = None


def _name(detainee: Detainee) -> str:
    prefix = f"{detainee.surname_prefix} " if detainee.surname_prefix else ""
    return f"{detainee.given_names} {prefix}{detainee.surname}"


def list_tasks(
    session: Session,
    actor: UserActor,
    *,
    today: date,
    origin: str | None = None,
    calendar: BusinessCalendar | None = None,
) -> list[Task]:
    """`tasks_for` as a person reads it ("Mijn werk", GET /api/v1/tasks): with the `tasks.list` audit row.

    The list names detainees, so the row names their cases (NEN 7513: every read of a dossier). Does not commit.
    """
    tasks = tasks_for(session, actor, today=today, calendar=calendar)
    audit.record(session, actor=actor, action="tasks.list", object_type="case", object_id=None, origin=origin,
                 details={"case_ids": sorted({t.case_id for t in tasks})})  # fmt: skip
    return tasks


def tasks_for(
    session: Session, actor: UserActor, *, today: date, calendar: BusinessCalendar | None = None
) -> list[Task]:
    """The actor's tasks, the urgent ones and the earliest deadlines first. `calendar`: the engine's working days
    (for the screening's 10 working days); the Dutch one by default."""
    scope = case_scope(actor)
    tasks: list[Task] = []
    if actor.role in (Role.COUNSELLOR, Role.PI_STAFF):
        tasks += _refer_now(session, scope, today)
    if actor.role is Role.COUNSELLOR:
        tasks += _replies_to_review(session, scope)
        tasks += _referrals_due(session, scope, today)
        tasks += _failed_letters(session, scope)
        tasks += _manual_letters(session, scope)
        tasks += _answers_overdue(session, scope)
        tasks += _deadlines_due(session, scope, today)
    if actor.role in (Role.COUNSELLOR, Role.PI_STAFF):
        tasks += _releases_near(session, scope, today)
    if actor.role is Role.PI_STAFF:
        # The screening and the D&R-plan are the PI's own work (domain.md 1.2): the casemanager's list, not the
        # counsellor's, whose list would otherwise fill with every new detainee's intake.
        tasks += _intake_clocks(session, scope, calendar or dutch_calendar())
    if actor.role is Role.MUNICIPALITY:
        tasks += _referrals_to_decide(session, scope, actor)
    if actor.role in (Role.COUNSELLOR, Role.MUNICIPALITY):
        tasks += _wgs_breaches(session, scope, actor)
    if actor.role is Role.COUNSELLOR:
        tasks += _failed_referrals(session, scope, actor)
    return sorted(tasks, key=lambda t: (not t.urgent, t.due_on or date.max, t.case_id))


def _cases(scope: ColumnElement[bool]) -> Select[Case, Detainee, WorkflowInstance]:
    """Cases in scope with their detainee and process instance."""
    return (
        select(Case, Detainee, WorkflowInstance)
        .join(Detainee, Detainee.id == Case.detainee_id)
        .join(WorkflowInstance, WorkflowInstance.id == Case.instance_id)
        .where(scope)
    )


def _replies_to_review(session: Session, scope: ColumnElement[bool]) -> list[Task]:
    rows = session.execute(
        select(CreditorReply, Case, Detainee)
        .join(Case, Case.id == CreditorReply.case_id)
        .join(Detainee, Detainee.id == Case.detainee_id)
        .where(scope, CreditorReply.reviewed_at.is_(None), CreditorReply.superseded_at.is_(None))
        .order_by(CreditorReply.id)
        .limit(LIMIT)
    )
    return [
        Task("reply_to_review", "Antwoord van schuldeiser lezen", case.id, _name(detainee), object_id=reply.id)
        for reply, case, detainee in rows
    ]


def _referrals_due(session: Session, scope: ColumnElement[bool], today: date) -> list[Task]:
    rows = session.execute(
        _cases(scope)
        .where(WorkflowInstance.state.in_(("referral_due", "rerouting")))
        .order_by(Case.actual_release.is_(None), Case.expected_release.nulls_last(), Case.id)
        .limit(LIMIT)
    )
    # Released: the referral cannot wait for a date that has passed; it is due the day the release is known.
    return [
        Task("referral_due", "Verwijzing versturen", case.id, _name(detainee),
             due_on=today if case.actual_release is not None else case.expected_release, urgent=True)
        for case, detainee, _instance in rows
    ]  # fmt: skip


def _failed_letters(session: Session, scope: ColumnElement[bool]) -> list[Task]:
    rows = session.execute(
        select(Letter, Case, Detainee)
        .join(Case, Case.id == Letter.case_id)
        .join(Detainee, Detainee.id == Case.detainee_id)
        .where(scope, Letter.status == LetterStatus.FAILED.value)
        .limit(LIMIT)
    )
    return [
        Task("letter_failed", f"Brief {letter.letter_type} mislukt", case.id, _name(detainee), urgent=True,
             object_id=letter.id)
        for letter, case, detainee in rows
    ]  # fmt: skip


def _answers_overdue(session: Session, scope: ColumnElement[bool]) -> list[Task]:
    """Creditors past their answer term: the debt was reminded once or twice and still no answer."""
    rows = session.execute(
        select(Debt, Case, Detainee, WorkflowInstance)
        .join(Case, Case.id == Debt.case_id)
        .join(Detainee, Detainee.id == Case.detainee_id)
        .join(WorkflowInstance, WorkflowInstance.id == Debt.instance_id)
        .where(scope, WorkflowInstance.state.in_(OVERDUE_DEBT_STATES))
        .order_by(Debt.updated_at, Debt.id)
        .limit(LIMIT)
    )
    tasks = []
    for debt, case, detainee, instance in rows:
        again = " (tweede herinnering verstuurd)" if instance.state == "reminded_again" else ""
        tasks.append(Task("answer_overdue", f"Antwoord schuldeiser te laat{again}", case.id, _name(detainee),
                          object_id=debt.id))  # fmt: skip
    return tasks


def _deadlines_due(session: Session, scope: ColumnElement[bool], today: date) -> list[Task]:
    """Deadlines of the case or its debts that fall today or passed without firing yet (the tick runs at night)."""
    case_timers = select(TimerRow.id, TimerRow.deadline, TimerRow.rule, Case.id.label("case_id")).join(
        Case, Case.instance_id == TimerRow.instance_id
    )
    debt_timers = (
        select(TimerRow.id, TimerRow.deadline, TimerRow.rule, Debt.case_id.label("case_id"))
        .join(Debt, Debt.instance_id == TimerRow.instance_id)
        .join(Case, Case.id == Debt.case_id)
    )
    tasks = []
    for query in (case_timers, debt_timers):
        for _timer_id, deadline, rule, case_id in session.execute(
            query.where(
                scope,
                TimerRow.status == TimerStatus.PENDING,
                TimerRow.deadline.is_not(None),
                TimerRow.deadline <= today,
            )
            .order_by(TimerRow.deadline)
            .limit(LIMIT)
        ):
            tasks.append(Task("due_today", "Termijn verloopt vandaag", case_id, rule, due_on=deadline,
                              urgent=deadline is not None and deadline < today))  # fmt: skip
    return tasks


#: Case states before the referral is sent, in which a Wgs threat means: refer now.
_BEFORE_REFERRAL = ("awaiting_consent", "inventory", "inventory_complete", "referral_due", "rerouting", "on_hold")


def _refer_now(session: Session, scope: ColumnElement[bool], today: date) -> list[Task]:
    """A Wgs threat (eviction, cut-off, the end of the health insurance) or a release on a case not yet referred: the
    referral cannot wait for the expected release, whatever its date; due today, so it stands at the top."""
    rows = session.execute(
        _cases(scope)
        .where(
            Case.referred_at.is_(None),
            or_(Case.threat.in_(sorted(WGS_THREATS)), Case.actual_release.is_not(None)),
            WorkflowInstance.state.in_(_BEFORE_REFERRAL),
        )
        .order_by(Case.id)
        .limit(LIMIT)
    )
    return [
        Task("refer_now", "Dreiging: nu verwijzen naar de gemeente" if case.threat in WGS_THREATS
             else "Vrijgelaten: nu verwijzen naar de gemeente", case.id, _name(detainee), due_on=today, urgent=True)
        for case, detainee, _instance in rows
    ]  # fmt: skip


def _releases_near(session: Session, scope: ColumnElement[bool], today: date) -> list[Task]:
    rows = session.execute(
        _cases(scope)
        .where(
            Case.referred_at.is_(None),
            Case.expected_release.is_not(None),
            Case.expected_release <= today + RELEASE_HORIZON,
            WorkflowInstance.state.in_(("inventory", "inventory_complete", "awaiting_consent", "on_hold")),
        )
        .order_by(Case.expected_release, Case.id)
        .limit(LIMIT)
    )
    return [
        Task("release_near", "Vrijlating binnen 6 weken, nog niet verwezen", case.id, _name(detainee),
             due_on=case.expected_release, urgent=True)
        for case, detainee, _instance in rows
    ]  # fmt: skip


def _referrals(scope: ColumnElement[bool], actor: UserActor) -> Select[Referral, Case, Detainee]:
    """Referrals of cases in scope; a municipality's only those addressed to it."""
    query = (
        select(Referral, Case, Detainee)
        .join(Case, Case.id == Referral.case_id)
        .join(Detainee, Detainee.id == Case.detainee_id)
        .where(scope)
    )
    if actor.role is Role.MUNICIPALITY:
        query = query.where(Referral.municipality_id == actor.organisation_id)
    return query


def _referrals_to_decide(session: Session, scope: ColumnElement[bool], actor: UserActor) -> list[Task]:
    rows = session.execute(
        _referrals(scope, actor).where(Referral.status == ReferralStatus.DELIVERED.value).limit(LIMIT)
    )
    return [
        Task("referral_to_decide", "Verwijzing beoordelen en eerste gesprek plannen", case.id, _name(detainee),
             due_on=referral.wgs_due_on, urgent=referral.urgent, object_id=referral.id)
        for referral, case, detainee in rows
    ]  # fmt: skip


def _wgs_breaches(session: Session, scope: ColumnElement[bool], actor: UserActor) -> list[Task]:
    rows = session.execute(
        _referrals(scope, actor)
        .where(
            Referral.wgs_breached_at.is_not(None),
            Referral.status.in_((ReferralStatus.DELIVERED.value, ReferralStatus.ACCEPTED.value)),
        )
        .limit(LIMIT)
    )
    return [
        Task("wgs_breach", "Termijn eerste gesprek (Wgs) overschreden", case.id, _name(detainee),
             due_on=referral.wgs_due_on, urgent=True, object_id=referral.id)
        for referral, case, detainee in rows
    ]  # fmt: skip


def _failed_referrals(session: Session, scope: ColumnElement[bool], actor: UserActor) -> list[Task]:
    rows = session.execute(_referrals(scope, actor).where(Referral.status == ReferralStatus.FAILED.value).limit(LIMIT))
    return [
        Task("referral_failed", "Verwijzing kon niet worden afgeleverd", case.id, _name(detainee), urgent=True,
             object_id=referral.id)
        for referral, case, detainee in rows
    ]  # fmt: skip


def _recorded(event: str) -> ColumnElement[bool]:
    return exists().where(HistoryEntry.instance_id == Case.instance_id, HistoryEntry.event == event)


def one_month_after(day: date) -> date:
    """The same day a calendar month later; the month's last day when it has no such day (31 January -> 28/29
    February), as a term of one month is counted (art. 18a Pbw)."""
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return date(year, month, min(day.day, monthrange(year, month)[1]))


def _intake_clocks(session: Session, scope: ColumnElement[bool], calendar: BusinessCalendar) -> list[Task]:
    """The PI's screening (10 working days after arrival) and D&R-plan (a month after arrival), on open cases of a
    client still detained, until `record_screening` / `record_dr_plan` is in the case's history. Not urgent: an
    overdue intake step must not push a threat or a release off the top of the list."""
    tasks = []
    for event, kind, title in (
        ("record_screening", "screening_due", "Screening afronden"),
        ("record_dr_plan", "dr_plan_due", "D&R-plan vaststellen"),
    ):
        rows = session.execute(
            _cases(scope)
            .where(WorkflowInstance.is_final.is_(False), Case.actual_release.is_(None), ~_recorded(event))
            .order_by(Case.detention_start, Case.id)
            .limit(LIMIT)
        )
        for case, detainee, _instance in rows:
            due = (
                calendar.add_working_days(case.detention_start, SCREENING_WORKING_DAYS)
                if event == "record_screening"
                else one_month_after(case.detention_start)
            )
            tasks.append(Task(kind, title, case.id, _name(detainee), due_on=due))
    return tasks


def letter_title(letter: Letter) -> str:
    """The letter's title as the work list names it (L6's second round is the reactivation)."""
    if letter.letter_type == "L6" and letter.round >= 2:
        return "Heractivering zorgverzekering"
    return LETTER_TITLES.get(letter.letter_type, letter.letter_type)


def _manual_letters(session: Session, scope: ColumnElement[bool]) -> list[Task]:
    """Letters to a creditor without a correspondence address: made as a PDF, delivered by the counsellor through
    the creditor's own channel (`recipient_channel_note`), and marked sent from the list."""
    rows = session.execute(
        select(Letter, Case, Detainee)
        .join(Case, Case.id == Letter.case_id)
        .join(Detainee, Detainee.id == Case.detainee_id)
        .where(scope, Letter.channel == Channel.MANUAL.value, Letter.status == LetterStatus.RENDERED.value)
        .order_by(Letter.letter_date, Letter.id)
        .limit(LIMIT)
    )
    return [
        Task("send_manually",
             f"Zelf versturen: {letter_title(letter)} aan {letter.recipient_name or 'de ontvanger'} via "
             f"{letter.recipient_channel_note or 'het kanaal van de ontvanger'}",
             case.id, _name(detainee), due_on=letter.letter_date, object_id=letter.id)
        for letter, case, detainee in rows
    ]  # fmt: skip


def mark_sent_manually(
    session: Session, engine: Engine, actor: UserActor, letter_id: int, *, origin: str | None = None
) -> Letter:
    """The counsellor delivered a manual letter through the creditor's own channel ("Verstuurd via eigen kanaal"):
    the letter is sent from now and a first contact starts the creditor's answer clock, as a posted letter's does.
    NotPermitted for other roles, NotFound out of scope, LetterStateError when it is not a rendered manual letter.
    Writes the `letter.sent_manually` audit row; does not commit."""
    if actor.role is not Role.COUNSELLOR:
        raise NotPermitted("Uw rol mag een brief als verstuurd afmelden niet uitvoeren.")
    letter = scoped_letter(session, actor, letter_id)
    lifecycle.sent_manually(session, engine, letter, at=engine.clock())
    audit.record(session, actor=actor, action="letter.sent_manually", object_type="letter", object_id=letter.id,
                 case_id=letter.case_id, origin=origin)  # fmt: skip
    return letter
