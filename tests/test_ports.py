"""The ports (schulden/ports.py): bound once per process into one Runtime, read by the front doors through
schulden/http/ports.py only, and built by integrations/assembly.py without an import loop in the integrations."""

from __future__ import annotations

import ast
from pathlib import Path

import grimp
import pytest
from flask import Flask

from integrations import runtime as runtime_module
from schulden.extensions import database
from schulden.http import ports
from schulden.ports import Runtime

ROOT = Path(__file__).resolve().parent.parent
ACCESSOR = ROOT / "schulden" / "http" / "ports.py"


def _reads_of_app_extensions(path: Path) -> list[str]:
    """`<x>.extensions["schuldroute…"]` and `<x>.extensions.get("schuldroute…")` in one file, as path:line."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        key: ast.expr | None = None
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute):
            if node.value.attr == "extensions":
                key = node.slice
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
            owner = node.func.value
            if isinstance(owner, ast.Attribute) and owner.attr == "extensions":
                key = node.args[0]
        if isinstance(key, ast.Constant) and isinstance(key.value, str) and key.value.startswith("schuldroute"):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_nothing_reads_app_extensions_by_string() -> None:
    sources = [*ROOT.joinpath("schulden").rglob("*.py"), *ROOT.joinpath("integrations").rglob("*.py")]
    found = [hit for path in sorted(sources) if path != ACCESSOR for hit in _reads_of_app_extensions(path)]

    assert found == [], "read the app's runtime through schulden/http/ports.py"


def test_the_app_holds_one_runtime_that_its_jobs_share(app: Flask) -> None:
    runtime = ports.runtime(app)

    assert isinstance(runtime, Runtime)
    # The process's jobs (the in-process queue of the embedded default) use the very same holder.
    assert runtime_module.runtime() is runtime
    assert runtime.database is database
    with app.app_context():
        assert ports.runtime() is runtime
        assert ports.settings() is runtime.settings
    assert runtime.queue.mode == "in-process"


def test_a_job_in_a_process_that_configured_no_runtime_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime_module, "_current", None)

    with pytest.raises(RuntimeError, match="schuldroute worker"):
        runtime_module.runtime()


def test_the_integrations_import_each_other_in_one_direction() -> None:
    # grimp reads every import statement, those inside functions too: a loop held by a lazy import counts.
    graph = grimp.build_graph("integrations", "schulden", "workflows")
    modules = sorted(m for m in graph.modules if m.startswith("integrations"))
    loops = [
        f"{importer} <-> {imported}"
        for importer in modules
        for imported in sorted(graph.find_modules_directly_imported_by(importer))
        if imported.startswith("integrations") and graph.chain_exists(importer=imported, imported=importer)
    ]

    assert loops == []


def test_the_runtime_module_imports_none_of_the_jobs_that_use_it() -> None:
    graph = grimp.build_graph("integrations", "schulden", "workflows")

    ours = {m for m in graph.find_modules_directly_imported_by("integrations.runtime") if m.startswith("integrations")}

    assert ours == set()
