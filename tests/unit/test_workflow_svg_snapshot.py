"""render_svg gives byte-for-byte the same drawing as before its split into small functions (issue 11).

The digests in workflow_svg_snapshot.json were taken from the renderer before the split; the inputs are the
project's processes and seeded random ones, with every state current in turn, some visited and small fan-in limits.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from schulden.cases.workflow import build_case_process
from schulden.debts.workflow import build_debt_process
from tests.ticket_process import TICKET
from workflows import ANY, PREVIOUS, Process, State, Transition
from workflows.svg import render_svg

SNAPSHOT = Path(__file__).with_name("workflow_svg_snapshot.json")
LABEL_CHARACTERS = "abcdefghij KLMNOP <&>\"'é€ ✓"


def _random_process(seed: int) -> Process:
    """Like the hypothesis strategy in test_workflow_svg, but seeded: the same process on every run."""
    rng = random.Random(seed)

    def label() -> str:
        return "".join(rng.choice(LABEL_CHARACTERS) for _ in range(rng.randint(0, 30)))

    names = [f"s{i}" for i in range(rng.randint(1, 9))]
    finals = set(rng.sample(names[1:], k=min(len(names) - 1, rng.randint(0, 2))))
    states = tuple(State(n, label(), final=n in finals) for n in names)
    open_states = [n for n in names if n not in finals]
    transitions = []
    for i in range(rng.randint(0, 14)):
        sources = rng.sample(open_states, k=rng.randint(1, min(6, len(open_states))))
        kind = rng.choice(["plain", "plain", "plain", "any", "previous", "internal"])
        if kind == "any":
            transitions.append(Transition(f"e{i}", ANY, rng.choice(names), roles={"r"}))
        elif kind == "previous":
            transitions.append(Transition(f"e{i}", sources, PREVIOUS, roles={"r"}))
        elif kind == "internal":
            transitions.append(Transition(f"e{i}", sources, ANY, roles={"r"}, internal=True))
        else:
            transitions.append(Transition(f"e{i}", sources, rng.choice(names), roles={"r"}, label=label()))
    return Process(name=f"random{seed}", version=1, initial=names[0], states=states, transitions=tuple(transitions))


def _processes() -> list[Process]:
    return [build_case_process(), build_debt_process(), TICKET, *(_random_process(seed) for seed in range(60))]


def _drawings() -> Iterator[tuple[str, str]]:
    for process in _processes():
        names = [s.name for s in process.states]
        for current in [None, *names]:
            for fan_in_limit in (1, 4):
                visited = names[: len(names) // 2]
                key = f"{process.name}|{current}|{fan_in_limit}"
                svg = render_svg(process, current, visited=visited, id_prefix=f"p{len(key)}", fan_in_limit=fan_in_limit)
                yield key, hashlib.sha256(svg.encode()).hexdigest()


def _write_snapshot() -> None:
    """Run on the renderer before the split, and again when a process changes (issue 12 added `request_balance`
    and the release guards): `python -m tests.unit.test_workflow_svg_snapshot`."""
    SNAPSHOT.write_text(json.dumps(dict(_drawings()), indent=0, sort_keys=True) + "\n", encoding="utf-8")


def test_drawings_are_unchanged() -> None:
    expected = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    actual = dict(_drawings())
    assert actual.keys() == expected.keys()
    changed = [key for key in expected if actual[key] != expected[key]]
    assert not changed, f"{len(changed)} drawings changed, first: {changed[:5]}"


@pytest.mark.parametrize("process", [build_case_process(), build_debt_process(), TICKET], ids=lambda p: p.name)
def test_the_projects_processes_are_in_the_snapshot(process: Process) -> None:
    expected = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    assert f"{process.name}|None|4" in expected


if __name__ == "__main__":
    _write_snapshot()
