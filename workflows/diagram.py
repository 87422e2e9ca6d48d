"""Mermaid state diagrams generated from process definitions (for docs/ and the case page)."""

from __future__ import annotations

from workflows.definition import ANY, PREVIOUS, SYSTEM_ROLE, Process


def _node(name: str) -> str:
    # Mermaid state ids may not contain dots or dashes; ours are snake_case already, but be safe.
    return name.replace(".", "_").replace("-", "_")


def to_mermaid(process: Process, *, current: str | None = None) -> str:
    """A `stateDiagram-v2` of `process`. Timer-driven edges name their delay; `current` is highlighted."""
    timer_delays = {
        (state.name, timer.event): timer.delay.describe() for state in process.states for timer in state.timers
    }
    lines = ["stateDiagram-v2"]
    for state in process.states:
        label = state.label or state.name
        lines.append(f'    state "{label}" as {_node(state.name)}')
    lines.append(f"    [*] --> {_node(process.initial)}")
    for transition in process.transitions:
        sources = process.sources_of(transition)
        roles = sorted(transition.roles - {SYSTEM_ROLE})
        for source in sources:
            target = source if transition.internal else transition.target
            if target == PREVIOUS:
                continue  # drawn once below, as a note: the target depends on the history
            text = transition.event
            delay = timer_delays.get((source, transition.event))
            if delay:
                text += f" (na {delay})"
            elif ANY in transition.sources and len(sources) > 3:
                text += " (vanuit elke open status)"
            if roles and not delay:
                text += f" [{', '.join(roles)}]"
            lines.append(f"    {_node(source)} --> {_node(target)}: {text}")
    for transition in process.transitions:
        if transition.target == PREVIOUS:
            for source in process.sources_of(transition):
                lines.append(f"    note right of {_node(source)}: {transition.event} keert terug naar de vorige status")
    for state in process.states:
        if state.final:
            lines.append(f"    {_node(state.name)} --> [*]")
    if current is not None:
        lines.append("    classDef current fill:#ffd966,stroke:#7f6000,stroke-width:3px")
        lines.append(f"    class {_node(current)} current")
    return "\n".join(lines) + "\n"
