"""A small workflow engine: processes declared as data, durable history, and timers in the database.

It knows nothing about debts or cases; the application declares its processes with these building blocks and
hands the engine a SQLAlchemy session. Importing this package imports neither Flask nor the application.
"""

from workflows.calendar import BusinessCalendar, dutch_calendar
from workflows.definition import (
    ANY,
    PREVIOUS,
    START_EVENT,
    SYSTEM,
    SYSTEM_ROLE,
    Actor,
    After,
    Context,
    Delay,
    DelayFrom,
    Due,
    Effect,
    Guard,
    OnDate,
    Process,
    Registry,
    State,
    SystemActor,
    TimerSpec,
    Transition,
    Weeks,
    WorkingDays,
)
from workflows.engine import Engine, EventOption, TickReport, replay
from workflows.errors import (
    ConcurrentUpdate,
    DefinitionError,
    ReplayError,
    TransitionRefused,
    UnknownProcess,
    WorkflowError,
)
from workflows.store import HistoryEntry, TimerRow, TimerStatus, WorkflowBase, WorkflowInstance, metadata

__all__ = [
    "ANY",
    "PREVIOUS",
    "START_EVENT",
    "SYSTEM",
    "SYSTEM_ROLE",
    "Actor",
    "After",
    "BusinessCalendar",
    "ConcurrentUpdate",
    "Context",
    "DefinitionError",
    "Delay",
    "DelayFrom",
    "Due",
    "Effect",
    "Engine",
    "EventOption",
    "Guard",
    "HistoryEntry",
    "OnDate",
    "Process",
    "Registry",
    "ReplayError",
    "State",
    "SystemActor",
    "TickReport",
    "TimerRow",
    "TimerSpec",
    "TimerStatus",
    "Transition",
    "TransitionRefused",
    "UnknownProcess",
    "Weeks",
    "WorkflowBase",
    "WorkflowError",
    "WorkflowInstance",
    "WorkingDays",
    "dutch_calendar",
    "metadata",
    "replay",
]
