"""What needs the user today ("Mijn werk", ux.md "Every role starts with its work"), per role:

* PI staff: cases waiting for the detainee's signature, letters waiting for the print batch, releases close without
  a referral, the PI's intake clocks (volunteers: the signatures and releases, which they can help with, not the
  steps only staff may take);
* counsellors: creditor answers to read, deadlines today, cases ready to refer, referrals due or failed, Wgs
  breaches, failed letters, letters they deliver by hand;
* municipalities: referrals to decide, first conversations due, Wgs breaches;
* administrators: failed letters, referral deliveries that failed or wait too long, proposed creditor changes;
* partners: the cases they follow.

Every case query is limited by the case scope of the actor, so a task list never shows (or counts) a case its user
may not see. An administrator sees no case (access.case_scope): their tasks are about the system's own objects and
never name a detainee. Each task says where it is done (`place`, mapped to a page by schulden/web/home.py). Marking a
hand-delivered letter as sent (`mark_sent_manually`) is the one task done from the list itself.
"""

from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, and_, exists, or_, select
from sqlalchemy.orm import Session

from schulden import audit
from schulden.access import case_scope
from schulden.actors import UserActor
from schulden.cases.models import WGS_THREATS, Case, Detainee
from schulden.creditors.models import Creditor, CreditorChangeProposal, ProposalStatus
from schulden.debts.models import Debt
from schulden.effects import LETTER_TITLES
from schulden.errors import NotPermitted
from schulden.letters import lifecycle
from schulden.letters.models import Channel, Letter, LetterStatus
from schulden.letters.queries import scoped_letter
from schulden.letters.services import NO_CHANNEL
from schulden.organisations.models import Organisation
from schulden.referrals.lifecycle import DECIDABLE
from schulden.referrals.models import Referral, ReferralStatus
from schulden.replies.models import CreditorReply
from schulden.roles import Role
from workflows import BusinessCalendar, Engine, WorkflowInstance, dutch_calendar
from workflows.store import HistoryEntry, TimerRow, TimerStatus

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
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


#: An administrator's referral delivery that is still queued after this long is stuck (the job retries within
#: minutes; the sweeper picks up a lost job after a quarter of an hour).
DELIVERY_STUCK_AFTER = timedelta(hours=2)
#: An accepted referral's first conversation shows on the municipality's list from this many days before its date.
FIRST_CONVERSATION_AHEAD = timedelta(days=7)


@dataclass(frozen=True)
class Task:
    kind: str  # reply_to_review, referral_due, refer_now, release_near, screening_due, send_manually, ...
    title: str
    case_id: int | None  # None: a task about no case (an administrator's creditor proposal)
    detail: str  # who or what: the detainee's name, or (for an administrator) the recipient
    due_on: date | None = None  # until when
    urgent: bool = False
    object_id: int | None = None
    since: date | None = None  # since when it waits
    #: Where the task is done, as the pages name it (web/home.py maps it to an address): "case" (the case page),
    #: "reply", "consent", "print_batch", "referral_page", "referral_decision", "creditor", "letter_text",
    #: "delivery". `place_key`: the id or code that place needs beyond the case (creditor id, letter type, ...).
    place: str = "case"
    place_key: int | str | None = None


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
    now: datetime | None = None,
) -> list[Task]:
    """`tasks_for` as a person reads it ("Mijn werk", GET /api/v1/tasks): with the `tasks.list` audit row.

    The list names detainees, so the row names their cases (NEN 7513: every read of a dossier). Does not commit.
    """
    tasks = tasks_for(session, actor, today=today, calendar=calendar, now=now)
    case_ids = sorted({t.case_id for t in tasks if t.case_id is not None})
    audit.record(session, actor=actor, action="tasks.list", object_type="case", object_id=None, origin=origin,
                 details={"case_ids": case_ids})  # fmt: skip
    return tasks


def tasks_for(
    session: Session,
    actor: UserActor,
    *,
    today: date,
    calendar: BusinessCalendar | None = None,
    now: datetime | None = None,
) -> list[Task]:
    """The actor's tasks, the urgent ones and the earliest deadlines first. `calendar`: the engine's working days
    (for the screening's 10 working days); the Dutch one by default. `now`: the engine's clock, for a delivery that
    waits too long (the wall clock by default)."""
    scope = case_scope(actor)
    tasks: list[Task] = []
    role = actor.role
    if role in (Role.COUNSELLOR, Role.PI_STAFF):
        # The referral page is the counsellor's; PI staff see what happens on the case page.
        tasks += _refer_now(session, scope, today, "referral_page" if role is Role.COUNSELLOR else "case")
    if role in (Role.PI_STAFF, Role.VOLUNTEER):
        tasks += _consent_awaited(session, scope, volunteer=role is Role.VOLUNTEER)
    if role is Role.PI_STAFF:
        tasks += _print_batch(session, scope)
    if role is Role.COUNSELLOR:
        tasks += _replies_to_review(session, scope)
        tasks += _referrals_due(session, scope, today)
        tasks += _ready_to_refer(session, scope)
        tasks += _failed_letters(session, scope)
        tasks += _manual_letters(session, scope)
        tasks += _answers_overdue(session, scope)
        tasks += _deadlines_due(session, scope, today)
    if role in (Role.COUNSELLOR, Role.PI_STAFF, Role.VOLUNTEER):
        tasks += _releases_near(session, scope, today)
    if role is Role.PI_STAFF:
        # The screening and the D&R-plan are the PI's own work (domain.md 1.2): the casemanager's list, not the
        # counsellor's, whose list would otherwise fill with every new detainee's intake.
        tasks += _intake_clocks(session, scope, calendar or dutch_calendar())
    if role is Role.MUNICIPALITY:
        tasks += _referrals_to_decide(session, scope, actor)
        tasks += _first_conversations(session, scope, actor, today)
    if role in (Role.COUNSELLOR, Role.MUNICIPALITY):
        tasks += _wgs_breaches(session, scope, actor)
    if role is Role.COUNSELLOR:
        tasks += _failed_referrals(session, scope, actor)
    if role is Role.PARTNER:
        tasks += _followed(session, scope)
    if role is Role.ADMIN:
        tasks += _admin_failed_letters(session)
        tasks += _admin_deliveries(session, now or datetime.now(UTC))
        tasks += _admin_proposals(session)
    return sorted(tasks, key=lambda t: (not t.urgent, t.due_on or date.max, t.case_id or 0))


def _day(moment: datetime | None) -> date | None:
    """The calendar day of a stored moment, in the engine's zone (the day a person would name)."""
    return moment.replace(tzinfo=moment.tzinfo or UTC).astimezone(AMSTERDAM).date() if moment is not None else None


def _cases(scope: ColumnElement[bool]) -> Select[Case, Detainee, WorkflowInstance]:
    """Cases in scope with their detainee and process instance."""
    return (
        select(Case, Detainee, WorkflowInstance)
        .join(Detainee, Detainee.id == Case.detainee_id)
        .join(WorkflowInstance, WorkflowInstance.id == Case.instance_id)
        .where(scope)
    )


def _consent_awaited(session: Session, scope: ColumnElement[bool], *, volunteer: bool) -> list[Task]:
    """Cases opened and waiting for the detainee's signature on the consent form (state `awaiting_consent`). Staff
    record the signed form (the intake's consent step); a volunteer may not, but can bring the form to him."""
    rows = session.execute(
        _cases(scope)
        .where(WorkflowInstance.state == "awaiting_consent")
        .order_by(Case.created_at, Case.id)
        .limit(LIMIT)
    )
    title = ("Toestemmingsformulier laten tekenen (de casemanager legt het vast)" if volunteer
             else "Getekende toestemming vastleggen")  # fmt: skip
    return [
        Task("consent_awaited", title, case.id, _name(detainee), since=_day(case.created_at),
             place="case" if volunteer else "consent")
        for case, detainee, _instance in rows
    ]  # fmt: skip


def _print_batch(session: Session, scope: ColumnElement[bool]) -> list[Task]:
    """Letters made for the post of the PI's cases and not in a print batch yet (letters.queries.pending_post):
    they go out with the next batch, made on the print batch page."""
    rows = session.execute(
        select(Letter, Case, Detainee)
        .join(Case, Case.id == Letter.case_id)
        .join(Detainee, Detainee.id == Case.detainee_id)
        .where(
            scope,
            Letter.status == LetterStatus.RENDERED.value,
            Letter.channel == Channel.POST.value,
            Letter.print_batch_id.is_(None),
        )
        .order_by(Letter.id)
        .limit(LIMIT)
    )
    return [
        # A letter to the detainee himself (the consent form, L9) names no recipient: he is the case's person.
        Task("print_batch", f"In de printbatch: {letter_title(letter)}"
             + (f" aan {letter.recipient_name}" if letter.recipient_name else ""),
             case.id, _name(detainee), object_id=letter.id, since=_day(letter.rendered_at) or letter.letter_date,
             place="print_batch")
        for letter, case, detainee in rows
    ]  # fmt: skip


def _replies_to_review(session: Session, scope: ColumnElement[bool]) -> list[Task]:
    # The creditor's name tells two answers of one person apart: the debt's creditor, or for a notice without a
    # debt (the insurer's L6, a benefit office's L7) the letter's recipient.
    rows = session.execute(
        select(CreditorReply, Case, Detainee, Creditor.name, Letter.recipient_name)
        .join(Case, Case.id == CreditorReply.case_id)
        .join(Detainee, Detainee.id == Case.detainee_id)
        .outerjoin(Debt, Debt.id == CreditorReply.debt_id)
        .outerjoin(Creditor, Creditor.id == Debt.creditor_id)
        .outerjoin(Letter, Letter.id == CreditorReply.letter_id)
        .where(scope, CreditorReply.reviewed_at.is_(None), CreditorReply.superseded_at.is_(None))
        .order_by(CreditorReply.id)
        .limit(LIMIT)
    )
    return [
        Task(
            "reply_to_review",
            f"Antwoord van {creditor or recipient or 'een schuldeiser'} lezen",
            case.id,
            _name(detainee),
            object_id=reply.id,
            since=reply.received_on,
            place="reply",
        )
        for reply, case, detainee, creditor, recipient in rows
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
             due_on=today if case.actual_release is not None else case.expected_release, urgent=True,
             place="referral_page")
        for case, detainee, _instance in rows
    ]  # fmt: skip


def _ready_to_refer(session: Session, scope: ColumnElement[bool]) -> list[Task]:
    """Cases whose inventory is complete while the referral window is not open yet: the referral can be prepared
    (municipality, consent for it) and asked for now ("Verwijzing voorbereiden")."""
    rows = session.execute(
        _cases(scope)
        .where(WorkflowInstance.state == "inventory_complete", Case.referred_at.is_(None))
        .order_by(Case.expected_release.nulls_last(), Case.id)
        .limit(LIMIT)
    )
    return [
        Task("ready_to_refer", "Inventarisatie compleet: verwijzing voorbereiden", case.id, _name(detainee),
             due_on=case.expected_release, since=_day(instance.updated_at), place="referral_page")
        for case, detainee, instance in rows
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
        Task("letter_failed", f"Brief niet gemaakt: {letter_title(letter)}", case.id, _name(detainee), urgent=True,
             object_id=letter.id, since=_day(letter.updated_at))
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


#: What a case's or a debt's timer (its name in the process definitions) asks of the counsellor when it falls due.
DEADLINE_TITLES: dict[str, str] = {
    "consent_reminder": "Toestemming nog niet getekend",
    "referral_window": "Verwijstermijn gaat in: verwijzing voorbereiden",
    "inventory_ready": "Inventarisatie compleet: verwijzing voorbereiden",
    "release_near": "Vrijlating binnen 14 dagen: nu verwijzen",
    "referral_reminder": "Gemeente herinneren aan de verwijzing",
    "wgs_first_conversation": "Termijn eerste gesprek (Wgs) verloopt",
    "letters_due": "Brieven aan de schuldeiser nog niet gevraagd",
    "answer_due": "Antwoordtermijn schuldeiser verloopt",
    "reply_overdue": "Antwoordtermijn schuldeiser verloopt",
    "second_reminder_due": "Tweede herinnering aan de schuldeiser",
}


def _deadlines_due(session: Session, scope: ColumnElement[bool], today: date) -> list[Task]:
    """Deadlines of the case or its debts that fall today or passed without firing yet (the tick runs at night)."""
    case_timers = select(TimerRow.name, TimerRow.deadline, Case.id, Detainee).join(
        Case, Case.instance_id == TimerRow.instance_id
    )
    debt_timers = (
        select(TimerRow.name, TimerRow.deadline, Case.id, Detainee)
        .join(Debt, Debt.instance_id == TimerRow.instance_id)
        .join(Case, Case.id == Debt.case_id)
    )
    tasks = []
    for query in (case_timers, debt_timers):
        for name, deadline, case_id, detainee in session.execute(
            query.join(Detainee, Detainee.id == Case.detainee_id)
            .where(
                scope,
                TimerRow.status == TimerStatus.PENDING,
                TimerRow.deadline.is_not(None),
                TimerRow.deadline <= today,
            )
            .order_by(TimerRow.deadline)
            .limit(LIMIT)
        ):
            title = DEADLINE_TITLES.get(name, "Termijn verloopt vandaag")
            tasks.append(Task("due_today", title, case_id, _name(detainee), due_on=deadline,
                              urgent=deadline is not None and deadline < today))  # fmt: skip
    return tasks


#: Case states before the referral is sent, in which a Wgs threat means: refer now.
_BEFORE_REFERRAL = ("awaiting_consent", "inventory", "inventory_complete", "referral_due", "rerouting", "on_hold")


def _refer_now(session: Session, scope: ColumnElement[bool], today: date, place: str) -> list[Task]:
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
             else "Vrijgelaten: nu verwijzen naar de gemeente", case.id, _name(detainee), due_on=today, urgent=True,
             place=place)
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
    """Referrals the municipality may still decide on (referrals.lifecycle.DECIDABLE: on its way, delivered, or
    failed to arrive by mail: the referral is in Schuldroute all the same), the first Wgs term first."""
    rows = session.execute(
        _referrals(scope, actor)
        .where(Referral.status.in_(DECIDABLE))
        .order_by(Referral.wgs_due_on.nulls_last(), Referral.id)
        .limit(LIMIT)
    )
    return [
        Task("referral_to_decide", "Verwijzing beoordelen en eerste gesprek plannen", case.id, _name(detainee),
             due_on=referral.wgs_due_on, urgent=referral.urgent, object_id=referral.id,
             since=_day(referral.referred_at), place="referral_decision")
        for referral, case, detainee in rows
    ]  # fmt: skip


def _first_conversations(session: Session, scope: ColumnElement[bool], actor: UserActor, today: date) -> list[Task]:
    """Accepted referrals whose first conversation is near or past while the case is still open: the conversation is
    due, and after it the warm handover is recorded on the case page ("Warme overdracht afgerond"). Urgent when its
    date is past, or when it lies after the Wgs term."""
    rows = session.execute(
        _referrals(scope, actor)
        .join(WorkflowInstance, WorkflowInstance.id == Case.instance_id)
        .where(
            Referral.status == ReferralStatus.ACCEPTED.value,
            WorkflowInstance.state == "accepted",
            or_(
                Referral.first_conversation_on.is_(None),
                Referral.first_conversation_on <= today + FIRST_CONVERSATION_AHEAD,
            ),
        )
        .order_by(Referral.first_conversation_on.nulls_first(), Referral.id)
        .limit(LIMIT)
    )
    tasks = []
    for referral, case, detainee in rows:
        on = referral.first_conversation_on
        late = on is None or on < today or (referral.wgs_due_on is not None and on > referral.wgs_due_on)
        title = ("Eerste gesprek plannen" if on is None
                 else "Eerste gesprek gehouden? Dan de warme overdracht afronden" if on < today
                 else "Eerste gesprek voeren")  # fmt: skip
        tasks.append(Task("first_conversation", title, case.id, _name(detainee), due_on=on or referral.wgs_due_on,
                          urgent=late, object_id=referral.id, since=_day(referral.decided_at)))  # fmt: skip
    return tasks


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
             object_id=referral.id, since=_day(referral.updated_at), place="referral_page")
        for referral, case, detainee in rows
    ]  # fmt: skip


#: A followed case's state in the words a partner reads.
FOLLOWED_STATES: dict[str, str] = {
    "draft": "Dossier wordt aangemaakt",
    "awaiting_consent": "Wacht op toestemming van de cliënt",
    "inventory": "Schulden worden in kaart gebracht",
    "inventory_complete": "Schulden in kaart; verwijzing volgt",
    "referral_due": "Verwijzing naar de gemeente wordt voorbereid",
    "referred": "Verwezen naar de gemeente",
    "rerouting": "Andere gemeente wordt gezocht",
    "accepted": "Gemeente heeft de verwijzing geaccepteerd",
    "on_hold": "Aangehouden",
}


def _followed(session: Session, scope: ColumnElement[bool]) -> list[Task]:
    """The open cases a partner (probation, care) follows, the nearest release first: what they read, not act on."""
    rows = session.execute(
        _cases(scope)
        .where(WorkflowInstance.is_final.is_(False))
        .order_by(Case.expected_release.nulls_last(), Case.id)
        .limit(LIMIT)
    )
    return [
        Task("followed", FOLLOWED_STATES.get(instance.state, "Dossier loopt"), case.id, _name(detainee),
             due_on=case.expected_release, urgent=case.urgent, since=_day(case.created_at))
        for case, detainee, instance in rows
    ]  # fmt: skip


# -- the administrator's: the system's own objects, never a detainee's name (an administrator sees no case) ----------


def _admin_failed_letters(session: Session) -> list[Task]:
    """Letters that could not be made after the last try. What an administrator fixes: the creditor's address in
    the directory, or the letter's text; the counsellor then has the letter made again from the case."""
    rows = session.execute(
        select(Letter).where(Letter.status == LetterStatus.FAILED.value).order_by(Letter.updated_at).limit(LIMIT)
    )
    tasks = []
    for letter in rows.scalars():
        to = letter.recipient_name or "de ontvanger"
        # A creditor's letter: its address in the directory; any other (L8, L9, L10): its text.
        fix = ("creditor", letter.creditor_id) if letter.creditor_id else ("letter_text", letter.letter_type)
        tasks.append(Task("admin_letter_failed", f"Brief niet gemaakt: {letter_title(letter)} aan {to}",
                          letter.case_id, _error_text(letter.last_error), urgent=True, object_id=letter.id,
                          since=_day(letter.updated_at), place=fix[0], place_key=fix[1]))  # fmt: skip
    return tasks


def _admin_deliveries(session: Session, now: datetime) -> list[Task]:
    """Referrals whose delivery to the municipality failed, or still waits after DELIVERY_STUCK_AFTER: the
    municipality's address or its zaaksysteem settings (municipal_delivery) need an administrator."""
    stuck = now - DELIVERY_STUCK_AFTER
    rows = session.execute(
        select(Referral, Organisation.name)
        .join(Organisation, Organisation.id == Referral.municipality_id)
        .where(
            or_(
                Referral.status == ReferralStatus.FAILED.value,
                and_(Referral.status == ReferralStatus.QUEUED.value, Referral.updated_at < stuck),
            )
        )
        .order_by(Referral.updated_at, Referral.id)
        .limit(LIMIT)
    )
    tasks = []
    for referral, municipality in rows:
        failed = referral.status == ReferralStatus.FAILED.value
        title = (f"Verwijzing aan {municipality} niet afgeleverd" if failed
                 else f"Verwijzing aan {municipality} wacht al te lang op aflevering")  # fmt: skip
        tasks.append(Task("admin_delivery", title, referral.case_id, _error_text(referral.last_error), urgent=True,
                          object_id=referral.id, since=_day(referral.updated_at), place="delivery",
                          place_key=referral.municipality_id))  # fmt: skip
    return tasks


def _admin_proposals(session: Session) -> list[Task]:
    """Changes of a creditor's contact data proposed by a counsellor or a PI: approved or rejected on the
    creditor's page in Beheer."""
    rows = session.execute(
        select(CreditorChangeProposal, Creditor.name)
        .join(Creditor, Creditor.id == CreditorChangeProposal.creditor_id)
        .where(CreditorChangeProposal.status == ProposalStatus.PROPOSED.value)
        .order_by(CreditorChangeProposal.id)
        .limit(LIMIT)
    )
    return [
        Task("creditor_proposal", "Voorgestelde wijziging van de gegevens beoordelen", None, creditor,
             object_id=proposal.id, since=_day(proposal.proposed_at), place="creditor",
             place_key=proposal.creditor_id)
        for proposal, creditor in rows
    ]  # fmt: skip


def _error_text(error: str | None) -> str:
    """The stored reason of a failure, short (the technical name before the colon is the job's, not a reader's)."""
    if not error:
        return "Geen reden vastgelegd"
    head, sep, rest = error.partition(": ")
    text = rest if sep and head.isidentifier() else error
    text = text[:1].upper() + text[1:]
    return text if len(text) <= 160 else f"{text[:157]}..."


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
            tasks.append(Task(kind, title, case.id, _name(detainee), due_on=due, since=case.detention_start))
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
        # A channel the directory names reads "via <channel>"; without one the directory's own instruction
        # (NO_CHANNEL, "Geen adres of kanaal ...: zoek ...") follows the person's name as a sentence.
        Task("send_manually",
             f"Zelf versturen: {letter_title(letter)} aan {letter.recipient_name or 'de ontvanger'}"
             + ("" if letter.recipient_channel_note == NO_CHANNEL
                else f" via {letter.recipient_channel_note or 'het kanaal van de ontvanger'}"),
             case.id,
             f"{_name(detainee)}. {NO_CHANNEL}" if letter.recipient_channel_note == NO_CHANNEL
             else _name(detainee),
             due_on=letter.letter_date, object_id=letter.id)
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
