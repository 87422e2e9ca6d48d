"""A small synthetic process for engine tests: it knows nothing of debts, like the engine itself."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import NOW, actor
from workflows import (
    ANY,
    PREVIOUS,
    SYSTEM_ROLE,
    After,
    Context,
    Effect,
    Engine,
    Guard,
    Process,
    Registry,
    State,
    TimerSpec,
    Transition,
    WorkingDays,
)

#: Instance ids whose `escalate` effect raises (to test that one failing timer does not stop a tick).
EXPLODING: set[int] = set()


def _ok(ctx: Context) -> str | None:
    return None if ctx.payload.get("ok") is True else "Het resultaat is niet goedgekeurd."


def _escalate(ctx: Context) -> Mapping[str, Any]:
    if ctx.instance.id in EXPLODING:
        raise RuntimeError("escalation failed")
    return {"escalated": True}


TICKET = Process(
    name="ticket",
    version=1,
    title="Ticket",
    initial="open",
    start_roles=frozenset({"agent", "lead"}),
    states=(
        State("open", "Open", timers=(TimerSpec("expiry", "expire", After(timedelta(hours=1))),)),
        State("working", "In behandeling", timers=(TimerSpec("sla", "escalate", WorkingDays(2)),)),
        State("paused", "Gepauzeerd", holds_clocks=True),
        State("done", "Klaar", final=True),
        State("expired", "Verlopen", final=True),
    ),
    transitions=(
        Transition("begin", "open", "working", roles={"agent"}, label="Beginnen"),
        Transition("expire", "open", "expired", roles={SYSTEM_ROLE}),
        Transition(
            "escalate", "working", ANY, roles={SYSTEM_ROLE}, internal=True, effects=[Effect("escalate", _escalate)]
        ),
        Transition("bump", "working", "working", roles={"agent"}),
        Transition("pause", ("open", "working"), "paused", roles={"agent"}, requires_reason=True),
        Transition("resume", "paused", PREVIOUS, roles={"agent"}),
        Transition("finish", "working", "done", roles={"agent", "lead"}, guards=[Guard("goedgekeurd", _ok)]),
        Transition("cancel", ANY, "done", roles={"lead"}),
    ),
)

#: The same process as a plain table, written independently of the engine, for model-based tests:
#: (event, state) -> (target, roles, requires_reason, needs_ok). Target "=" stays, "<" returns to previous.
MODEL: dict[tuple[str, str], tuple[str, frozenset[str], bool, bool]] = {
    ("begin", "open"): ("working", frozenset({"agent"}), False, False),
    ("expire", "open"): ("expired", frozenset({SYSTEM_ROLE}), False, False),
    ("escalate", "working"): ("=", frozenset({SYSTEM_ROLE}), False, False),
    ("bump", "working"): ("working", frozenset({"agent"}), False, False),
    ("pause", "open"): ("paused", frozenset({"agent"}), True, False),
    ("pause", "working"): ("paused", frozenset({"agent"}), True, False),
    ("resume", "paused"): ("<", frozenset({"agent"}), False, False),
    ("finish", "working"): ("done", frozenset({"agent", "lead"}), False, True),
    ("cancel", "open"): ("done", frozenset({"lead"}), False, False),
    ("cancel", "working"): ("done", frozenset({"lead"}), False, False),
    ("cancel", "paused"): ("done", frozenset({"lead"}), False, False),
}
EVENTS = sorted({event for event, _ in MODEL})
TIMERS_OF = {"open": {"expiry"}, "working": {"sla"}, "paused": set(), "done": set(), "expired": set()}


def ticket_engine() -> Engine:
    return Engine(Registry(TICKET))


#: The ticket process's own role, as the engine tests act.
AGENT = actor("agent")


def open_tickets(committed: sessionmaker[Session], count: int) -> list[int]:
    """`count` tickets started at NOW by AGENT and committed: the instances the tick tests fire timers on."""
    engine = ticket_engine()
    with committed() as s:
        ids = [engine.start(s, "ticket", actor=AGENT, now=NOW).id for _ in range(count)]
        s.commit()
    return ids
