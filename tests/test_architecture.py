"""The allowed arrows of docs/architecture.md, checked on the source by the import-linter contracts in .importlinter.

The contracts cover every module (the "parts" contract is exhaustive); these tests run them the way `make lint`
does, show that they catch a page importing an API module, and check what import-linter cannot (wsgi.py).
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from importlinter.api import read_configuration

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / ".importlinter"
# The console script next to this interpreter: the same lint-imports that `make lint` runs.
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"

CONTRACTS = {contract["id"]: contract for contract in read_configuration(str(CONFIG))["contracts_options"]}


def _lint_imports(cwd: Path, *contract_ids: str) -> subprocess.CompletedProcess[str]:
    # lint-imports finds the packages from its working directory, which comes first on sys.path; no cache, so a
    # run never writes into the checkout.
    arguments = [str(LINT_IMPORTS), str(cwd / ".importlinter"), "--no-cache", "--no-logo"]
    for contract_id in contract_ids:
        arguments += ["--contract", contract_id]
    return subprocess.run(arguments, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("contract_id", sorted(CONTRACTS))
def test_the_contract_is_kept(contract_id: str) -> None:
    result = _lint_imports(ROOT, contract_id)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_domain_of_the_parts_contract_is_the_domain_that_may_not_import_flask() -> None:
    # Two lists of the same modules: a module added to one and not the other would escape a rule.
    bottom_layer = CONTRACTS["parts"]["layers"][-1]
    domain = {f"schulden.{tail.strip()}" for tail in bottom_layer.split(":")}
    assert domain == set(CONTRACTS["domain"]["source_modules"])


def _python_only(directory: str, names: list[str]) -> list[str]:
    # import-linter reads the .py files only; templates, texts and data stay behind.
    return [n for n in names if n == "__pycache__" or not (n.endswith(".py") or (Path(directory) / n).is_dir())]


def _copy_of_the_checkout(tmp_path: Path) -> Path:
    copy = tmp_path / "checkout"
    copy.mkdir()
    for package in ("schulden", "integrations", "workflows"):
        shutil.copytree(ROOT / package, copy / package, ignore=_python_only)
    shutil.copy(CONFIG, copy / ".importlinter")
    return copy


@pytest.mark.parametrize(
    ("module", "source", "contract_id", "reported"),
    [
        ("schulden/web/crossing.py", "from schulden.api import cases\n", "doors", "schulden.api.cases"),
        ("schulden/api/crossing.py", "from schulden.web import cases\n", "doors", "schulden.web.cases"),
        ("schulden/cases/crossing.py", "import flask\n", "domain", "flask"),
        ("schulden/debts/crossing.py", "from schulden.http import requests\n", "domain", "schulden.http.requests"),
        ("workflows/crossing.py", "from schulden import roles\n", "workflows", "schulden.roles"),
    ],
    ids=["page-imports-api", "api-imports-page", "domain-imports-flask", "domain-imports-http", "engine-imports-ours"],
)
def test_a_contract_fails_on_an_import_across_a_boundary(
    tmp_path: Path, module: str, source: str, contract_id: str, reported: str
) -> None:
    # A copy of the checkout with one forbidden import added; the checkout itself is never touched.
    copy = _copy_of_the_checkout(tmp_path)
    (copy / module).write_text(source, encoding="utf-8")
    importer = module.removesuffix(".py").replace("/", ".")

    result = _lint_imports(copy, contract_id)

    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{importer} -> {reported}" in result.stdout, result.stdout


def test_a_new_top_level_module_must_be_placed_in_a_part(tmp_path: Path) -> None:
    copy = _copy_of_the_checkout(tmp_path)
    (copy / "schulden" / "unplaced.py").write_text('"""Belongs to no part yet."""\n', encoding="utf-8")

    result = _lint_imports(copy, "parts")

    assert result.returncode == 1, result.stdout + result.stderr
    assert "schulden.unplaced" in result.stdout, result.stdout


def test_wsgi_only_builds_the_app() -> None:
    # grimp takes packages only, so the single module wsgi.py is checked here: it imports the app factory and
    # nothing else, and nothing imports it.
    tree = ast.parse((ROOT / "wsgi.py").read_text(encoding="utf-8"))
    statements = [n for n in tree.body if not isinstance(n, ast.Expr)]  # the docstring
    assert len(statements) == 2
    imports = [n for n in statements if isinstance(n, ast.ImportFrom)]
    assert [(n.module, [a.name for a in n.names]) for n in imports] == [("schulden.app", ["create_app"])]
