"""The layering of the design card, checked on the source: a new import across a boundary fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _top(names: set[str]) -> set[str]:
    return {n.split(".")[0] for n in names}


@pytest.mark.parametrize("path", sorted((ROOT / "workflows").rglob("*.py")), ids=lambda p: p.name)
def test_the_workflow_engine_imports_nothing_of_ours_and_no_flask(path: Path) -> None:
    assert not _top(_imports(path)) & {"flask", "schulden", "integrations", "werkzeug"}


DOMAIN = [
    p
    for p in (ROOT / "schulden").rglob("*.py")
    if p.name in {"services.py", "models.py", "workflow.py"} or p.name in {"effects.py", "processes.py", "demo.py"}
]


@pytest.mark.parametrize("path", sorted(DOMAIN), ids=lambda p: str(p.relative_to(ROOT)))
def test_domain_modules_import_neither_flask_nor_integrations(path: Path) -> None:
    assert not _top(_imports(path)) & {"flask", "integrations"}


def test_only_the_app_factory_and_cli_wire_integrations_into_the_domain() -> None:
    wiring = {
        str(p.relative_to(ROOT)) for p in (ROOT / "schulden").rglob("*.py") if "integrations" in _top(_imports(p))
    }
    assert wiring <= {"schulden/app.py", "schulden/cli.py"}


def test_wsgi_only_builds_the_app() -> None:
    tree = ast.parse((ROOT / "wsgi.py").read_text(encoding="utf-8"))
    statements = [n for n in tree.body if not isinstance(n, ast.Expr)]  # the docstring
    assert len(statements) == 2
