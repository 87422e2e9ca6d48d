"""The engine: starts instances, fires events, lists what an actor may do, and ticks due timers.

Every write happens in the caller's session and transaction (the engine never commits), except `tick`, which is a
boundary of its own and commits per batch. Firing an event is: check (state, role, reason, guards), change the
instance under its row version, append a history row, stop and start timers, run effects. A concurrent fire on the
same instance fails with ConcurrentUpdate when its write finds the row version moved; nothing is overwritten.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.orm.exc import StaleDataError

from workflows.batch_writes import CancelTimers, NewHistory, NewTimer, insert_rows, write_changes
from workflows.calendar import BusinessCalendar, dutch_calendar
from workflows.definition import (
    PREVIOUS,
    START_EVENT,
    SYSTEM,
    Actor,
    Context,
    Process,
    Registry,
    Transition,
)
from workflows.errors import ConcurrentUpdate, ReplayError, TransitionRefused
from workflows.store import HistoryEntry, TimerRow, TimerStatus, WorkflowInstance, utcnow

log = logging.getLogger(__name__)

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


@dataclass(frozen=True)
class EventOption:
    """One event as the UI shows it: allowed, or refused with a code and a reason."""

    event: str
    label: str
    target: str | None
    allowed: bool
    code: str | None = None
    reason: str | None = None
    requires_reason: bool = False


@dataclass
class TickReport:
    """What one tick did."""

    fired: int = 0
    refused: int = 0
    failed: int = 0
    batches: int = 0

    @property
    def handled(self) -> int:
        return self.fired + self.refused + self.failed


@dataclass
class _TimerCache:
    """Active timers per instance, loaded once per batch so a tick does not query per timer. In a tick it also
    holds the timers the batch started and has not written yet (`NewTimer`)."""

    by_instance: dict[int, list[TimerRow | NewTimer]] = field(default_factory=dict)

    def active(self, session: Session, instance_id: int) -> list[TimerRow | NewTimer]:
        if instance_id not in self.by_instance:
            self.load(session, [instance_id])
        return [t for t in self.by_instance[instance_id] if t.status in TimerStatus.ACTIVE]

    def load(self, session: Session, instance_ids: Iterable[int]) -> None:
        ids = [i for i in instance_ids if i not in self.by_instance]
        if not ids:
            return
        for i in ids:
            self.by_instance[i] = []
        rows = session.scalars(
            select(TimerRow).where(TimerRow.instance_id.in_(ids), TimerRow.status.in_(TimerStatus.ACTIVE))
        )
        for row in rows:
            self.by_instance[row.instance_id].append(row)

    def add(self, row: TimerRow | NewTimer) -> None:
        self.by_instance.setdefault(row.instance_id, []).append(row)


@dataclass
class _NewRows:
    """The history and timer rows that a tick batch or a fire has made and not written yet, in the order they were
    made. For a fire (`cancels_by_statement`) also the instances whose timers its statement cancels unread."""

    rows: list[NewHistory | NewTimer] = field(default_factory=list)
    cancels_by_statement: bool = False
    cancels: list[CancelTimers] = field(default_factory=list)

    def write(self, session: Session, cache: _TimerCache) -> None:
        """Insert the rows now. The tick calls this before it runs a process's own guard or effect, which may read
        the engine's tables and must find there what the ORM would have flushed by then. (A timer's delay is not
        given this: a delay computes a date from the instance and its case, not from the engine's tables.)"""
        if not self.rows:
            return
        # The instances first, under their versions, as the ORM's flush orders them: where no row lock holds them
        # (SQLite), a moved version must be a ConcurrentUpdate, not a duplicate history seq.
        session.flush()
        insert_rows(session, self.rows)
        # Once written, such an instance's timers are the database's: the process's code may change them through
        # ORM objects (an effect that fires on another instance), so the cache loads them afresh when next asked.
        for instance_id in {row.instance_id for row in self.rows if type(row) is NewTimer}:
            cache.by_instance.pop(instance_id, None)
        self.rows.clear()


class Engine:
    """Applies the registered process definitions to stored instances."""

    def __init__(
        self,
        registry: Registry,
        *,
        calendar: BusinessCalendar | None = None,
        timezone: ZoneInfo = AMSTERDAM,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.registry = registry
        self.calendar = calendar or dutch_calendar()
        self.timezone = timezone
        self.clock = clock

    def today(self, now: datetime | None = None) -> date:
        """The calendar date of `now` (default: the clock) where the deadlines are kept: in the engine's timezone, so
        that 00:30 in Amsterdam is already tomorrow while it is still today in UTC."""
        return (now or self.clock()).astimezone(self.timezone).date()

    # -- starting and firing -------------------------------------------------------------------------------

    def process_of(self, instance: WorkflowInstance) -> Process:
        """The definition (at the instance's own version) that governs `instance`."""
        return self.registry.get(instance.process, instance.process_version)

    def start(
        self,
        session: Session,
        process_name: str,
        *,
        actor: Actor,
        payload: Mapping[str, Any] | None = None,
        now: datetime | None = None,
    ) -> WorkflowInstance:
        """Create an instance of the latest version of a process in its initial state. Does not commit."""
        process = self.registry.get(process_name)
        if process.start_roles and not (actor.roles & process.start_roles):
            raise TransitionRefused(START_EVENT, "role", "Uw rol mag dit proces niet starten.")
        now = now or self.clock()
        instance = WorkflowInstance(
            process=process.name,
            process_version=process.version,
            state=process.initial,
            is_final=process.state(process.initial).final,
            last_seq=1,
            created_at=now,
            updated_at=now,
        )
        session.add(instance)
        session.flush()
        session.add(
            HistoryEntry(
                instance_id=instance.id,
                seq=1,
                event=START_EVENT,
                from_state=None,
                to_state=process.initial,
                actor_id=actor.actor_id,
                at=now,
                payload=dict(payload or {}),
                effects=[],
            )
        )
        ctx = self._context(session, instance, START_EVENT, actor, payload, None, now)
        self._start_timers(session, process, instance, process.initial, ctx, _TimerCache(), None)
        return instance

    def fire(
        self,
        session: Session,
        instance: WorkflowInstance,
        event: str,
        *,
        actor: Actor,
        payload: Mapping[str, Any] | None = None,
        reason: str | None = None,
        now: datetime | None = None,
    ) -> HistoryEntry:
        """Fire `event` on `instance` as `actor`. Raises TransitionRefused or ConcurrentUpdate; does not commit.

        After ConcurrentUpdate the session must be rolled back by the caller.
        """
        now = now or self.clock()
        ctx = self._context(session, instance, event, actor, payload, reason, now)
        transition = self._check(ctx, check_reason=True)
        if transition.effects or not self._writes_directly(session, instance):
            entry = self._apply(ctx, transition, timer=None, cache=_TimerCache(), pending=None)
            assert isinstance(entry, HistoryEntry)  # pending=None: an ORM row in the session
            return entry
        # Without effects nothing reads the database between the check and the end of the fire, so its writes
        # can wait and go in one statement: the instance under its version first, then the timers and the new
        # rows, only if the version still held.
        cache, pending = _TimerCache(), _NewRows(cancels_by_statement=True)
        row = self._apply(ctx, transition, timer=None, cache=cache, pending=pending, flush=False)
        assert isinstance(row, NewHistory)  # with `pending`: a plain row, written below
        try:
            [history_id] = write_changes(
                session,
                [instance],
                (t for timers in cache.by_instance.values() for t in timers),
                pending.rows,
                pending.cancels,
            )
        except StaleDataError as exc:
            raise ConcurrentUpdate(instance.id) from exc
        entry = row.as_orm()
        entry.id = history_id
        # Written already: into the session as a stored row, as the flush would have left it.
        make_transient_to_detached(entry)
        session.add(entry)
        return entry

    @staticmethod
    def _timers_in_session(session: Session, instance_id: int) -> bool:
        """Whether the session holds timers of the instance (which a statement behind its back would leave stale)."""
        return any(
            type(obj) is TimerRow and instance_state(obj).dict.get("instance_id") == instance_id
            for objects in (session.identity_map.values(), session.new)
            for obj in objects
        )

    @staticmethod
    def _writes_directly(session: Session, instance: WorkflowInstance) -> bool:
        """Whether `fire` may write its rows itself (workflows/batch_writes.py) rather than through the flush:
        on PostgreSQL, for a stored instance with no unwritten changes of the caller's (those the flush must
        write, under the same version), outside a savepoint (whose rollback the ORM undoes in memory only for what
        its own flush wrote there)."""
        state = inspect(instance)
        return (
            session.connection().dialect.name == "postgresql"
            and not session.in_nested_transaction()
            and state.persistent
            and not state.modified
            and not state.unloaded
        )

    def available_events(
        self, session: Session, instance: WorkflowInstance, actor: Actor, *, now: datetime | None = None
    ) -> list[EventOption]:
        """Every event of the instance's process, each allowed or refused with the reason (for buttons)."""
        process = self.process_of(instance)
        now = now or self.clock()
        options = []
        for event in process.events:
            ctx = self._context(session, instance, event, actor, None, None, now)
            transition = process.transition(event, instance.state)
            target = None
            if transition is not None:
                target = self._target(transition, instance)
            try:
                found = self._check(ctx, check_reason=False, check_input=False)
            except TransitionRefused as refused:
                options.append(
                    EventOption(event, self._label(process, event), target, False, refused.code, refused.reason)
                )
            else:
                options.append(
                    EventOption(
                        event,
                        self._label(process, event),
                        target,
                        True,
                        requires_reason=found.requires_reason,
                    )
                )
        return options

    def history(self, session: Session, instance: WorkflowInstance) -> list[HistoryEntry]:
        """The instance's history, oldest first."""
        return list(
            session.scalars(
                select(HistoryEntry).where(HistoryEntry.instance_id == instance.id).order_by(HistoryEntry.seq)
            )
        )

    def timers(self, session: Session, instance: WorkflowInstance, *, active_only: bool = True) -> list[TimerRow]:
        """The instance's timers, earliest due first."""
        query = select(TimerRow).where(TimerRow.instance_id == instance.id)
        if active_only:
            query = query.where(TimerRow.status.in_(TimerStatus.ACTIVE))
        return list(session.scalars(query.order_by(TimerRow.due_at, TimerRow.id)))

    # -- timers ---------------------------------------------------------------------------------------------

    def tick_batch(self, session: Session, *, now: datetime | None = None, limit: int = 500) -> TickReport:
        """Fire up to `limit` due timers in the caller's transaction. Does not commit.

        Due timers and their instances are locked with FOR UPDATE SKIP LOCKED on PostgreSQL, so two tickers
        share the work and never fire one timer twice; a user firing on a locked instance waits and then gets
        ConcurrentUpdate. A timer whose event is refused is marked `refused` with the reason.
        """
        now = now or self.clock()
        rows = session.execute(
            select(TimerRow, WorkflowInstance)
            .join(WorkflowInstance, WorkflowInstance.id == TimerRow.instance_id)
            .where(TimerRow.status == TimerStatus.PENDING, TimerRow.due_at <= now)
            .order_by(TimerRow.due_at, TimerRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=(TimerRow, WorkflowInstance))
        ).all()
        report = TickReport(batches=1)
        cache = _TimerCache()
        pending = _NewRows()
        cache.load(session, {instance.id for _, instance in rows})
        for timer, instance in rows:
            self._fire_timer(session, timer, instance, now, cache, report, pending)
        try:
            # The batch's writes in one statement (workflows/batch_writes.py): the instances under their
            # versions, the changed timers (the cache holds every timer the batch touched), the new history and
            # timer rows; the flush writes whatever else is left, e.g. rows that effects added.
            write_changes(
                session,
                (instance for _, instance in rows),
                (t for timers in cache.by_instance.values() for t in timers),
                pending.rows,
            )
            session.flush()
        except StaleDataError as exc:
            # Only without row locks (SQLite): another writer got to one of the instances first.
            raise ConcurrentUpdate(None) from exc
        return report

    def tick(
        self,
        session_factory: Callable[[], Session],
        *,
        now: datetime | None = None,
        batch_size: int = 500,
        max_batches: int = 1000,
    ) -> TickReport:
        """Fire every due timer, one transaction per batch, until none is due. Commits.

        When a batch fails (an effect raised), it is rolled back and redone with a savepoint per timer, so one
        bad timer is marked `failed` and the others still fire.
        """
        now = now or self.clock()
        total = TickReport()
        for _ in range(max_batches):
            with session_factory() as session:
                try:
                    report = self.tick_batch(session, now=now, limit=batch_size)
                    session.commit()
                except ConcurrentUpdate:
                    session.rollback()
                    continue
                except Exception:
                    session.rollback()
                    log.exception("tick batch failed; retrying timer by timer")
                    report = self._tick_isolated(session, now, batch_size)
                    session.commit()
            total.fired += report.fired
            total.refused += report.refused
            total.failed += report.failed
            total.batches += 1
            if report.handled < batch_size:
                break
        return total

    def _tick_isolated(self, session: Session, now: datetime, limit: int) -> TickReport:
        rows = session.execute(
            select(TimerRow.id)
            .where(TimerRow.status == TimerStatus.PENDING, TimerRow.due_at <= now)
            .order_by(TimerRow.due_at, TimerRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        report = TickReport(batches=1)
        for (timer_id,) in rows:
            try:
                with session.begin_nested():
                    timer = session.get_one(TimerRow, timer_id)
                    instance = session.get_one(WorkflowInstance, timer.instance_id, with_for_update=True)
                    if timer.status == TimerStatus.PENDING:
                        self._fire_timer(session, timer, instance, now, _TimerCache(), report)
                        session.flush()
            except Exception as exc:
                log.warning("timer %s failed: %s", timer_id, type(exc).__name__)
                session.expire_all()
                timer = session.get_one(TimerRow, timer_id)
                timer.status = TimerStatus.FAILED
                timer.fired_at = now
                timer.outcome = f"fout: {type(exc).__name__}"
                report.failed += 1
        session.flush()
        return report

    def _fire_timer(
        self,
        session: Session,
        timer: TimerRow,
        instance: WorkflowInstance,
        now: datetime,
        cache: _TimerCache,
        report: TickReport,
        pending: _NewRows | None = None,
    ) -> None:
        if timer.status != TimerStatus.PENDING:
            return  # cancelled by an earlier timer of the same instance in this batch
        ctx = self._context(session, instance, timer.event, SYSTEM, {"timer": timer.name}, None, now)
        if pending is not None:
            found = self.process_of(instance).transition(timer.event, instance.state)
            if found is not None and (found.guards or found.effects):
                pending.write(session, cache)
        try:
            transition = self._check(ctx, check_reason=False)
        except TransitionRefused as refused:
            timer.status = TimerStatus.REFUSED
            timer.fired_at = now
            timer.outcome = refused.reason
            report.refused += 1
            return
        # Mark the timer before applying, so leaving the state does not also cancel it.
        timer.status = TimerStatus.FIRED
        timer.fired_at = now
        self._apply(ctx, transition, timer=timer, cache=cache, pending=pending, flush=False)
        timer.outcome = f"{ctx.event}: {instance.state}"
        report.fired += 1

    # -- internals ------------------------------------------------------------------------------------------

    def _context(
        self,
        session: Session,
        instance: WorkflowInstance,
        event: str,
        actor: Actor,
        payload: Mapping[str, Any] | None,
        reason: str | None,
        now: datetime,
    ) -> Context:
        return Context(
            session=session,
            engine=self,
            instance=instance,
            event=event,
            actor=actor,
            payload=dict(payload or {}),
            reason=reason,
            now=now,
            calendar=self.calendar,
            timezone=self.timezone,
        )

    @staticmethod
    def _target(transition: Transition, instance: WorkflowInstance) -> str:
        if transition.internal:
            return instance.state
        if transition.target == PREVIOUS:
            assert instance.previous_state is not None  # _check refuses PREVIOUS without a previous state
            return instance.previous_state
        return transition.target

    @staticmethod
    def _label(process: Process, event: str) -> str:
        for t in process.transitions:
            if t.event == event and t.label:
                return t.label
        return event

    def _check(self, ctx: Context, *, check_reason: bool, check_input: bool = True) -> Transition:
        process = self.process_of(ctx.instance)
        if ctx.event not in process.events:
            raise TransitionRefused(ctx.event, "unknown_event", f"Onbekende actie '{ctx.event}'.")
        state = process.state(ctx.instance.state)
        transition = process.transition(ctx.event, state.name)
        if transition is None:
            label = state.label or state.name
            raise TransitionRefused(ctx.event, "state", f"Niet mogelijk in de status '{label}'.")
        if transition.target == PREVIOUS and ctx.instance.previous_state is None:
            raise TransitionRefused(ctx.event, "state", "Er is geen eerdere status om naar terug te keren.")
        if not (ctx.actor.roles & transition.roles):
            raise TransitionRefused(ctx.event, "role", "Uw rol mag deze actie niet uitvoeren.")
        if check_reason and transition.requires_reason and not (ctx.reason and ctx.reason.strip()):
            raise TransitionRefused(ctx.event, "reason_required", "Geef een reden op voor deze actie.")
        for guard in transition.guards:
            if guard.needs_input and not check_input:
                continue
            refusal = guard.check(ctx)
            if refusal:
                raise TransitionRefused(ctx.event, "guard", refusal)
        return transition

    def _apply(
        self,
        ctx: Context,
        transition: Transition,
        *,
        timer: TimerRow | None,
        cache: _TimerCache,
        pending: _NewRows | None,
        flush: bool = True,
    ) -> HistoryEntry | NewHistory:
        """Change the instance, run the effects, stop and start timers. The history row and new timers are ORM
        objects added to the session, or, in a tick (`pending`), plain rows that the batch writes itself."""
        session, instance = ctx.session, ctx.instance
        process = self.process_of(instance)
        source = instance.state
        target = self._target(transition, instance)
        changes_state = not transition.internal

        if changes_state:
            self._leave(session, process, instance, source, target, ctx, cache, pending)
            instance.previous_state = source
            instance.state = target
            instance.is_final = process.state(target).final
        instance.last_seq += 1
        instance.updated_at = ctx.now
        instance_id = instance.id  # read before a failed flush makes attribute access impossible
        if flush:
            # Flush now: the instance's row version decides a race before anything else is written. A tick
            # skips this and flushes once per batch, its rows being locked already.
            try:
                session.flush()
            except StaleDataError as exc:
                raise ConcurrentUpdate(instance_id) from exc

        row = NewHistory(
            instance_id=instance_id,
            seq=instance.last_seq,
            event=transition.event,
            from_state=source,
            to_state=instance.state,
            actor_id=ctx.actor.actor_id,
            at=ctx.now,
            reason=ctx.reason,
            payload=dict(ctx.payload),
            effects=[],
            timer_id=timer.id if timer is not None else None,
        )
        # Effects run before the new state's timers start: a timer may depend on what an effect records
        # (a threat shortens the municipality's term).
        results = []
        for effect in transition.effects:
            outcome = effect.run(ctx)
            results.append({"effect": effect.name, **(dict(outcome) if outcome else {})})
        row.effects = results
        if changes_state:
            self._enter(session, process, instance, source, target, ctx, cache, pending)
        if pending is not None:
            pending.rows.append(row)
            return row
        entry = row.as_orm()
        session.add(entry)
        return entry

    def _leave(
        self,
        session: Session,
        process: Process,
        instance: WorkflowInstance,
        source: str,
        target: str,
        ctx: Context,
        cache: _TimerCache,
        pending: _NewRows | None,
    ) -> None:
        holding = process.state(target).holds_clocks and not process.state(source).holds_clocks
        cancel = CancelTimers(instance.id, source, target)
        if (
            pending is not None
            and pending.cancels_by_statement
            and not holding
            and not process.state(source).holds_clocks
            and instance.id not in cache.by_instance
            and not self._timers_in_session(session, instance.id)
        ):
            # Every active timer is simply cancelled (no clock is held or resumed), and none is in the session to
            # be kept up to date: the fire's statement cancels them without reading them first (one round trip
            # less). The cache holds none, so entering `target` starts its timers without a query either.
            pending.cancels.append(cancel)
            cache.by_instance[instance.id] = []
            return
        for row in cache.active(session, instance.id):
            if holding and row.status == TimerStatus.PENDING and row.state == source:
                row.status = TimerStatus.PAUSED  # resumed, shifted, if the instance comes back to `source`
            elif row.status == TimerStatus.PAUSED and row.state == target:
                continue  # handled by _enter when the held state is re-entered
            else:
                row.status = TimerStatus.CANCELLED
                row.outcome = cancel.outcome
        if holding:
            instance.held_since = ctx.now

    def _enter(
        self,
        session: Session,
        process: Process,
        instance: WorkflowInstance,
        source: str,
        target: str,
        ctx: Context,
        cache: _TimerCache,
        pending: _NewRows | None,
    ) -> None:
        paused: list[TimerRow | NewTimer] = []
        if process.state(source).holds_clocks:  # only leaving a held state resumes paused clocks
            paused = [r for r in cache.active(session, instance.id) if r.status == TimerStatus.PAUSED]
        if paused and instance.held_since is not None:
            held = ctx.now - instance.held_since
            # Whole local calendar days, so a hold across a daylight-saving change is not a day longer.
            days = (ctx.today - instance.held_since.astimezone(self.timezone).date()).days
            for row in paused:
                self._resume(row, held, days, ctx)
            instance.held_since = None
            return  # the state's clocks run on from where they stood; they are not started afresh
        if not process.state(target).holds_clocks:
            instance.held_since = None
        self._start_timers(session, process, instance, target, ctx, cache, pending)

    def _resume(self, row: TimerRow | NewTimer, held: timedelta, days: int, ctx: Context) -> None:
        row.status = TimerStatus.PENDING
        if row.deadline is None:
            row.due_at = row.due_at + held
        else:
            # Shifted by the calendar days held, then rolled to a working day: a deadline never lands on a
            # weekend or holiday because of a hold. The timer keeps its distance to the deadline day.
            # Keep the timer's distance to its deadline in local days and clock time, not in hours, which a
            # daylight-saving change would stretch or shrink.
            local_due = row.due_at.astimezone(ctx.timezone)
            offset_days = (local_due.date() - row.deadline).days
            row.deadline = self.calendar.next_working_day(row.deadline + timedelta(days=days))
            row.due_at = datetime.combine(
                row.deadline + timedelta(days=offset_days), local_due.timetz().replace(tzinfo=None), ctx.timezone
            )
        row.rule = f"{row.rule}; {days} dag(en) aangehouden tot {ctx.today.isoformat()}"

    def _start_timers(
        self,
        session: Session,
        process: Process,
        instance: WorkflowInstance,
        state_name: str,
        ctx: Context,
        cache: _TimerCache,
        pending: _NewRows | None,
    ) -> None:
        for spec in process.state(state_name).timers:
            due = spec.delay.due(ctx)
            if due is None:
                continue
            new = NewTimer(
                instance_id=instance.id,
                name=spec.name,
                event=spec.event,
                state=state_name,
                status=TimerStatus.PENDING,
                due_at=due.at,
                deadline=due.deadline,
                rule=due.rule,
                created_at=ctx.now,
            )
            row: TimerRow | NewTimer = new
            if pending is None:
                row = new.as_orm()
                session.add(row)
            else:
                pending.rows.append(new)
            cache.add(row)


def replay(process: Process, entries: Iterable[HistoryEntry]) -> tuple[str, str | None]:
    """Recompute (state, previous state) from a history; raises ReplayError on an impossible step.

    The stored state must always equal this replay: it proves no state was written around the engine.
    """
    state: str | None = None
    previous: str | None = None
    expected_seq = 1
    for entry in entries:
        if entry.seq != expected_seq:
            raise ReplayError(f"gap in history: expected seq {expected_seq}, found {entry.seq}")
        expected_seq += 1
        if state is None:
            if entry.event != START_EVENT or entry.to_state != process.initial:
                raise ReplayError(f"history does not start in {process.initial}")
            state = process.initial
            continue
        if entry.from_state != state:
            raise ReplayError(f"seq {entry.seq}: from {entry.from_state}, but the replay is in {state}")
        transition = process.transition(entry.event, state)
        if transition is None:
            raise ReplayError(f"seq {entry.seq}: {entry.event} is not possible from {state}")
        target: str | None = state
        if not transition.internal:
            target = previous if transition.target == PREVIOUS else transition.target
            previous = state
        if target is None or target != entry.to_state:
            raise ReplayError(f"seq {entry.seq}: {entry.event} leads to {target}, history says {entry.to_state}")
        state = target
    if state is None:
        raise ReplayError("empty history")
    return state, previous
