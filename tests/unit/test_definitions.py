"""A process definition that contradicts itself is refused when it is built, with a message saying where."""

from __future__ import annotations

from datetime import timedelta

import pytest

from workflows import After, DefinitionError, Process, Registry, State, TimerSpec, Transition, UnknownProcess


def _process(*transitions: Transition, states: tuple[State, ...] | None = None, version: int = 1) -> Process:
    return Process(
        name="p",
        version=version,
        initial="a",
        states=states or (State("a"), State("b"), State("z", final=True)),
        transitions=transitions,
    )


@pytest.mark.parametrize(
    ("transitions", "states", "message"),
    [
        ((Transition("go", "a", "nowhere", roles={"r"}),), None, "unknown state 'nowhere'"),
        ((Transition("go", "x", "b", roles={"r"}),), None, "from unknown state 'x'"),
        ((Transition("go", "z", "a", roles={"r"}),), None, "leaves final state 'z'"),
        ((Transition("go", "a", "b", roles=()),), None, "names no role"),
        ((Transition("go", "a", "b", roles={"r"}), Transition("go", "a", "z", roles={"r"})), None, "defined twice"),
        ((Transition("start", "a", "b", roles={"r"}),), None, "reserved"),
        (
            (Transition("go", "a", "b", roles={"r"}),),
            (State("a", timers=(TimerSpec("t", "go", After(timedelta(1))),)), State("b")),
            "not a system transition",
        ),
    ],
)
def test_inconsistent_definitions_are_refused(
    transitions: tuple[Transition, ...], states: tuple[State, ...] | None, message: str
) -> None:
    with pytest.raises(DefinitionError, match=message):
        _process(*transitions, states=states)


def test_registry_keeps_every_version_and_serves_the_latest_by_default() -> None:
    v1 = _process(Transition("go", "a", "b", roles={"r"}))
    v2 = _process(Transition("go", "a", "z", roles={"r"}), version=2)
    registry = Registry(v1, v2)

    assert registry.get("p") is v2
    assert registry.get("p", 1) is v1
    with pytest.raises(UnknownProcess):
        registry.get("p", 3)
    with pytest.raises(DefinitionError, match="registered twice"):
        registry.add(v1)
