"""docs/workflows.md, generated from the process definitions (a test fails when the file is stale)."""

from __future__ import annotations

from workflows import SYSTEM_ROLE, Process, Registry
from workflows.definition import ANY, PREVIOUS
from workflows.diagram import to_mermaid

HEADER = """# Workflows

Generated from the process definitions by `schuldroute workflows docs --write`; do not edit by hand
(`tests/unit/test_workflow_docs.py` fails when this file is stale).

Conventions: a timer starts when its state is entered and is cancelled when the state is left; "werkdagen" are
Dutch working days under the Algemene termijnenwet (weekends, New Year's Day, Good Friday, Easter Monday, King's
Day, 5 May, Ascension Day, Whit Monday, Christmas and Boxing Day); a deadline of N working days after day D is the
N-th working day strictly after D, and its timer fires when that day is over. `on_hold` holds the clocks: back
from hold, a state's deadlines are shifted by the days held. Effects marked *intent* record in the history what
a later capability will do (letters, referral); their names stay when that capability fills them in.
"""


def _roles(roles: frozenset[str]) -> str:
    return ", ".join(sorted(r if r != SYSTEM_ROLE else "system (timer)" for r in roles))


def _process_section(process: Process) -> str:
    out = [f"## {process.title or process.name} (`{process.name}` v{process.version})", ""]
    out += ["```mermaid", to_mermaid(process).rstrip(), "```", ""]
    out += ["### States", "", "| state | label | timers |", "|---|---|---|"]
    for state in process.states:
        timers = "; ".join(f"`{t.name}`: {t.delay.describe()} → `{t.event}`" for t in state.timers)
        flags = " (final)" if state.final else " (holds clocks)" if state.holds_clocks else ""
        out.append(f"| `{state.name}`{flags} | {state.label} | {timers or '-'} |")
    out += [
        "",
        "### Transitions",
        "",
        "| event | from | to | who | guards | effects |",
        "|---|---|---|---|---|---|",
    ]
    for t in process.transitions:
        sources = "any open state" if ANY in t.sources else ", ".join(f"`{s}`" for s in t.sources)
        target = "(stays)" if t.internal else "previous state" if t.target == PREVIOUS else f"`{t.target}`"
        guards = "; ".join(g.description for g in t.guards)
        if t.requires_reason:
            guards = "; ".join(filter(None, ["reason required", guards]))
        effects = "; ".join(f"`{e.name}`" for e in t.effects)
        out.append(f"| `{t.event}` | {sources} | {target} | {_roles(t.roles)} | {guards or '-'} | {effects or '-'} |")
    out.append("")
    return "\n".join(out)


def _effects_section(registry: Registry) -> str:
    out = ["## Effects", "", "| effect | process | what it does |", "|---|---|---|"]
    seen: set[tuple[str, str]] = set()
    for process in registry.latest():
        for t in process.transitions:
            for e in t.effects:
                if (process.name, e.name) in seen:
                    continue
                seen.add((process.name, e.name))
                out.append(f"| `{e.name}` | {process.name} | {e.description} |")
    out.append("")
    return "\n".join(out)


def render_workflows_markdown(registry: Registry) -> str:
    """The whole document for the latest version of every process."""
    parts = [HEADER]
    parts += [_process_section(p) for p in registry.latest()]
    parts.append(_effects_section(registry))
    return "\n".join(parts)
