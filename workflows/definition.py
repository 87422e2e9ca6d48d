"""Process definitions as data: states, transitions, guards, effects and timers.

A definition is immutable and versioned. Instances remember the version they started with, so a new version of a
process never changes the rules under a running case. Nothing here touches a database; the engine (engine.py)
applies a definition to stored instances.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from workflows.errors import DefinitionError, UnknownProcess

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from workflows.calendar import BusinessCalendar
    from workflows.engine import Engine
    from workflows.store import WorkflowInstance

#: Target of a transition that returns to the state the instance was in before its current one (e.g. "resume").
PREVIOUS = "@previous"
#: Source of a transition that may fire from every non-final state (e.g. "close").
ANY = "*"
#: The role timers fire their events with.
SYSTEM_ROLE = "system"
#: The event name of the first history row of every instance.
START_EVENT = "start"


@runtime_checkable
class Actor(Protocol):
    """Who fires an event: an id for the history and the roles that permissions are checked against."""

    @property
    def actor_id(self) -> str: ...

    @property
    def roles(self) -> frozenset[str]: ...


@dataclass(frozen=True)
class SystemActor:
    """The actor of timers and other automatic steps."""

    actor_id: str = "system"
    roles: frozenset[str] = frozenset({SYSTEM_ROLE})


SYSTEM = SystemActor()


@dataclass(frozen=True)
class Context:
    """Everything a guard, effect or delay may look at while an event is being fired.

    `engine` lets an effect fire events on other instances in the same transaction (a case handing over its
    debts); `session` is the caller's, and nothing here commits.
    """

    session: Session
    engine: Engine
    instance: WorkflowInstance
    event: str
    actor: Actor
    payload: Mapping[str, Any]
    reason: str | None
    now: datetime
    calendar: BusinessCalendar
    timezone: ZoneInfo

    @property
    def today(self) -> date:
        """The local date of `now`: deadlines are counted in days of the Netherlands, not UTC."""
        return self.now.astimezone(self.timezone).date()


@dataclass(frozen=True)
class Guard:
    """A business rule: `check` returns None to allow, or the reason (for the user) to refuse.

    `needs_input`: the rule checks what the user types with the event (the payload). Listing the available
    events cannot know that yet, so it skips such guards; firing always checks them.
    """

    description: str
    check: Callable[[Context], str | None]
    needs_input: bool = False


@dataclass(frozen=True)
class Effect:
    """Work done inside the transition's transaction; what `run` returns is stored in the history row."""

    name: str
    run: Callable[[Context], Mapping[str, Any] | None]
    description: str = ""


@dataclass(frozen=True)
class Due:
    """When a timer fires, the deadline date it stands for (if any) and the rule that produced it."""

    at: datetime
    deadline: date | None
    rule: str


def start_of_day(day: date, tz: ZoneInfo) -> datetime:
    """00:00 local time on `day`, as an aware datetime."""
    return datetime.combine(day, time(0, 0), tzinfo=tz)


def _when_over(deadline: date, ctx: Context, rule: str) -> Due:
    """A timer for the day `deadline`: it fires when that day is over, at 00:00 local time the day after."""
    return Due(at=start_of_day(deadline + timedelta(days=1), ctx.timezone), deadline=deadline, rule=rule)


class Delay(Protocol):
    """Computes when a timer fires; None means the timer does not start (e.g. release date unknown)."""

    def due(self, ctx: Context) -> Due | None: ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class WorkingDays:
    """A deadline N working days after today; the timer fires when that day is over."""

    days: int

    def due(self, ctx: Context) -> Due:
        deadline = ctx.calendar.add_working_days(ctx.today, self.days)
        return _when_over(deadline, ctx, f"{self.days} werkdagen na {ctx.today.isoformat()} (Algemene termijnenwet)")

    def describe(self) -> str:
        return f"{self.days} werkdagen"


@dataclass(frozen=True)
class Weeks:
    """A deadline N weeks after today, moved to the next working day; fires when that day is over."""

    weeks: int

    def due(self, ctx: Context) -> Due:
        deadline = ctx.calendar.add_weeks(ctx.today, self.weeks)
        return _when_over(
            deadline, ctx, f"{self.weeks} weken na {ctx.today.isoformat()}, naar de eerstvolgende werkdag"
        )

    def describe(self) -> str:
        return f"{self.weeks} weken"


@dataclass(frozen=True)
class After:
    """A plain duration, for clocks that are not counted in days (and for tests)."""

    duration: timedelta

    def due(self, ctx: Context) -> Due:
        at = ctx.now + self.duration
        return Due(at=at, deadline=None, rule=f"{self.duration} na {ctx.now.isoformat()}")

    def describe(self) -> str:
        return str(self.duration)


@dataclass(frozen=True)
class OnDate:
    """Fires at the start of a date computed from the instance's data (e.g. expected release minus 6 weeks)."""

    compute: Callable[[Context], date | None]
    rule: str

    def due(self, ctx: Context) -> Due | None:
        day = self.compute(ctx)
        if day is None:
            return None
        return Due(at=start_of_day(day, ctx.timezone), deadline=day, rule=self.rule)

    def describe(self) -> str:
        return self.rule


@dataclass(frozen=True)
class DelayFrom:
    """Chooses a delay from the instance's data (e.g. 3 working days when a threat exists, else 4 weeks)."""

    choose: Callable[[Context], Delay]
    rule: str

    def due(self, ctx: Context) -> Due | None:
        return self.choose(ctx).due(ctx)

    def describe(self) -> str:
        return self.rule


@dataclass(frozen=True)
class TimerSpec:
    """A timer started when its state is entered and cancelled when the state is left; fires `event`."""

    name: str
    event: str
    delay: Delay


@dataclass(frozen=True)
class State:
    """A state. `holds_clocks`: entering it pauses the running timers, returning resumes them shifted."""

    name: str
    label: str = ""
    final: bool = False
    timers: tuple[TimerSpec, ...] = ()
    holds_clocks: bool = False


def _as_tuple(value: str | Iterable[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


@dataclass(frozen=True)
class Transition:
    """Event `event` moves an instance from one of `sources` to `target`.

    `internal` transitions stay in the state they fire from and keep its timers running (their `target` is
    ignored; write ANY). A non-internal self-transition leaves and re-enters the state, so its timers restart
    (used when an input of a clock, such as a release date, changes).
    """

    event: str
    sources: tuple[str, ...]
    target: str
    roles: frozenset[str]
    guards: tuple[Guard, ...] = ()
    effects: tuple[Effect, ...] = ()
    internal: bool = False
    requires_reason: bool = False
    label: str = ""

    def __init__(
        self,
        event: str,
        sources: str | Iterable[str],
        target: str,
        *,
        roles: Iterable[str],
        guards: Iterable[Guard] = (),
        effects: Iterable[Effect] = (),
        internal: bool = False,
        requires_reason: bool = False,
        label: str = "",
    ) -> None:
        # A hand-written __init__ so definitions can say `sources="draft"` and `roles={"counsellor"}`.
        object.__setattr__(self, "event", event)
        object.__setattr__(self, "sources", _as_tuple(sources))
        object.__setattr__(self, "target", target)
        object.__setattr__(self, "roles", frozenset(roles))
        object.__setattr__(self, "guards", tuple(guards))
        object.__setattr__(self, "effects", tuple(effects))
        object.__setattr__(self, "internal", internal)
        object.__setattr__(self, "requires_reason", requires_reason)
        object.__setattr__(self, "label", label)


@dataclass(frozen=True)
class Process:
    """A named, versioned process definition, checked for consistency when it is built."""

    name: str
    version: int
    initial: str
    states: tuple[State, ...]
    transitions: tuple[Transition, ...]
    start_roles: frozenset[str] = frozenset()
    title: str = ""
    _by_state: Mapping[str, State] = field(init=False, repr=False, compare=False)
    _by_key: Mapping[tuple[str, str], Transition] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_state = {s.name: s for s in self.states}
        if len(by_state) != len(self.states):
            raise DefinitionError(f"{self.name}: duplicate state names")
        if self.initial not in by_state:
            raise DefinitionError(f"{self.name}: unknown initial state {self.initial!r}")
        non_final = [s.name for s in self.states if not s.final]
        by_key: dict[tuple[str, str], Transition] = {}
        for t in self.transitions:
            if t.event == START_EVENT:
                raise DefinitionError(f"{self.name}: {START_EVENT!r} is reserved")
            if not t.internal and t.target != PREVIOUS and t.target not in by_state:
                raise DefinitionError(f"{self.name}: {t.event} targets unknown state {t.target!r}")
            if not t.roles:
                raise DefinitionError(f"{self.name}: {t.event} names no role that may fire it")
            for source in self._expand(t.sources, non_final):
                if source not in by_state:
                    raise DefinitionError(f"{self.name}: {t.event} from unknown state {source!r}")
                if by_state[source].final:
                    raise DefinitionError(f"{self.name}: {t.event} leaves final state {source!r}")
                if (t.event, source) in by_key:
                    raise DefinitionError(f"{self.name}: {t.event} defined twice from {source!r}")
                by_key[(t.event, source)] = t
        for s in self.states:
            for timer in s.timers:
                target = by_key.get((timer.event, s.name))
                if target is None or SYSTEM_ROLE not in target.roles:
                    raise DefinitionError(
                        f"{self.name}: timer {timer.name} in {s.name} fires {timer.event}, "
                        "which is not a system transition from that state"
                    )
        object.__setattr__(self, "_by_state", by_state)
        object.__setattr__(self, "_by_key", by_key)

    @staticmethod
    def _expand(sources: tuple[str, ...], non_final: list[str]) -> list[str]:
        return non_final if ANY in sources else list(sources)

    def state(self, name: str) -> State:
        """The state called `name` (KeyError for an unknown one)."""
        return self._by_state[name]

    def transition(self, event: str, source: str) -> Transition | None:
        """The transition `event` fires from `source`, or None."""
        return self._by_key.get((event, source))

    def sources_of(self, transition: Transition) -> list[str]:
        """The concrete source states of a transition (ANY expanded)."""
        return self._expand(transition.sources, [s.name for s in self.states if not s.final])

    @property
    def events(self) -> list[str]:
        """Every event name, in definition order, once."""
        return list(dict.fromkeys(t.event for t in self.transitions))

    def edges(self) -> list[tuple[str, str, Transition]]:
        """(source, target, transition) for every concrete edge; PREVIOUS edges have target PREVIOUS."""
        return [(src, t.target, t) for t in self.transitions for src in self.sources_of(t)]


class Registry:
    """All process definitions the application knows, by name and version."""

    def __init__(self, *processes: Process) -> None:
        self._processes: dict[tuple[str, int], Process] = {}
        for p in processes:
            self.add(p)

    def add(self, process: Process) -> None:
        """Register a definition; registering a second one with the same name and version is an error."""
        key = (process.name, process.version)
        if key in self._processes:
            raise DefinitionError(f"{process.name} v{process.version} is registered twice")
        self._processes[key] = process

    def get(self, name: str, version: int | None = None) -> Process:
        """The definition by name and version, or the latest version when `version` is None."""
        if version is None:
            versions = [v for (n, v) in self._processes if n == name]
            if not versions:
                raise UnknownProcess(name)
            version = max(versions)
        try:
            return self._processes[(name, version)]
        except KeyError:
            raise UnknownProcess(f"{name} v{version}") from None

    def all(self) -> list[Process]:
        """Every registered definition, sorted by name and version."""
        return sorted(self._processes.values(), key=lambda p: (p.name, p.version))

    def latest(self) -> list[Process]:
        """The newest version of every process, sorted by name."""
        names = sorted({n for (n, _) in self._processes})
        return [self.get(n) for n in names]
