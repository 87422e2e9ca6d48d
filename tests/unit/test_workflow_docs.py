"""docs/workflows.md is generated from the definitions and must not go stale."""

from __future__ import annotations

from pathlib import Path

from schulden.processes import build_registry
from schulden.workflow_docs import render_workflows_markdown
from workflows.diagram import to_mermaid

DOC = Path(__file__).resolve().parents[2] / "docs" / "workflows.md"


def test_docs_workflows_md_is_up_to_date() -> None:
    expected = render_workflows_markdown(build_registry())
    assert DOC.read_text(encoding="utf-8") == expected, (
        "docs/workflows.md is stale: run `.venv/bin/schuldroute workflows docs --write docs/workflows.md`"
    )


def test_the_diagram_names_every_state_and_marks_the_current_one() -> None:
    case = build_registry().get("case")
    diagram = to_mermaid(case, current="inventory")

    assert diagram.startswith("stateDiagram-v2\n")
    for state in case.states:
        assert f'state "{state.label}" as {state.name}' in diagram
    assert (
        "inventory --> referral_due: referral_window_reached (na verwachte invrijheidstelling min 6 weken)" in diagram
    )
    assert "class inventory current" in diagram
    assert "closed --> [*]" in diagram
