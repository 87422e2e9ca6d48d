"""The lock files (requirements/*.txt, written by `make lock`) pin every dependency with hashes, and are current.

`make run` and `make test` install only from these files with `pip install --require-hashes --no-deps`, so a
dependency that pyproject.toml names but the lock does not is missing on a fresh machine, and one without a hash is
installed from whatever the index serves. Nothing here touches the network: pip check in the Makefile and a fresh
install (README, "Dependencies") cover the resolution itself.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
RUN_LOCK = ROOT / "requirements" / "run.txt"
TEST_LOCK = ROOT / "requirements" / "test.txt"
TOOLS_LOCK = ROOT / "requirements" / "lock-tools.txt"
PROJECT = "schuldroute"

# The lock is made for this interpreter and platform (README); markers in pyproject.toml are read for it.
LOCKED_FOR = {
    "python_version": "3.11",
    "python_full_version": "3.11.7",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "os_name": "posix",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
}

HEADER = re.compile(r"^# pyproject-dependencies-sha256: ([0-9a-f]{64})$", re.MULTILINE)
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)$")
HASH = re.compile(r"^--hash=sha256:[0-9a-f]{64}$")


@dataclass
class Lock:
    name: str
    header_sha256: str | None
    pins: dict[str, tuple[Version, frozenset[str]]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def dependency_inputs_sha256(pyproject: dict[str, Any]) -> str:
    """What scripts/lock.sh writes into each lock's header; keep the two the same."""
    inputs = {
        "requires-python": pyproject["project"].get("requires-python"),
        "build-system.requires": pyproject["build-system"]["requires"],
        "dependencies": pyproject["project"].get("dependencies", []),
        "optional-dependencies": pyproject["project"].get("optional-dependencies", {}),
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def parse_lock(name: str, text: str) -> Lock:
    header = HEADER.search(text)
    lock = Lock(name=name, header_sha256=header.group(1) if header else None)
    logical = re.sub(r"\\\n", " ", text)
    for line in logical.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        requirement, *options = line.split()
        if requirement.startswith("-"):
            # --index-url, --find-links, -e, -r ...: a lock names packages and hashes, not where they come from.
            lock.problems.append(f"{name}: option line {line!r}")
            continue
        pin = PIN.match(requirement)
        if pin is None:
            lock.problems.append(f"{name}: {requirement!r} is not pinned with ==")
            continue
        hashes = frozenset(option for option in options if HASH.match(option))
        if not hashes or len(hashes) != len(options):
            lock.problems.append(f"{name}: {requirement} needs --hash=sha256:... and nothing else")
        lock.pins[canonicalize_name(pin.group(1))] = (Version(pin.group(2)), hashes)
    return lock


def applies(requirement: Requirement) -> bool:
    return requirement.marker is None or requirement.marker.evaluate(LOCKED_FOR)


def expected_in(requirements: list[str], lock: Lock) -> list[str]:
    """Each requirement that applies on the locked platform is pinned in the lock to a version it allows."""
    problems = []
    for text in requirements:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        if name == PROJECT or not applies(requirement):
            continue  # "schuldroute[test]": the project's own extra, checked as that extra
        if name not in lock.pins:
            problems.append(f"{lock.name}: {requirement.name} (pyproject.toml) is not in the lock; run `make lock`")
            continue
        version, _ = lock.pins[name]
        if not requirement.specifier.contains(version, prereleases=True):
            problems.append(f"{lock.name}: {requirement.name}=={version} does not satisfy {text!r}; run `make lock`")
    return problems


def lock_problems(pyproject: dict[str, Any], run: Lock, test: Lock) -> list[str]:
    problems = [*run.problems, *test.problems]
    current = dependency_inputs_sha256(pyproject)
    for lock in (run, test):
        if lock.header_sha256 != current:
            problems.append(f"{lock.name}: made from another pyproject.toml dependency list; run `make lock`")

    # pip and the build backend: make run installs the project with --no-build-isolation from the lock alone.
    installers = ["pip", *pyproject["build-system"]["requires"]]
    runtime = pyproject["project"].get("dependencies", [])
    extras = pyproject["project"].get("optional-dependencies", {})
    problems += expected_in(installers + runtime, run)
    problems += expected_in(installers + runtime + extras.get("test", []) + extras.get("dev", []), test)

    # Both files install the same version of a package, from the same files.
    for name, pinned in run.pins.items():
        if test.pins.get(name) != pinned:
            problems.append(f"{name}: {run.name} and {test.name} differ; run `make lock`")
    return problems


def read_pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def read_lock(path: Path) -> Lock:
    return parse_lock(path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8"))


def test_the_lock_files_pin_everything_pyproject_names_with_hashes() -> None:
    assert lock_problems(read_pyproject(), read_lock(RUN_LOCK), read_lock(TEST_LOCK)) == []


def test_make_test_installs_the_test_extras_and_the_tools_from_the_lock() -> None:
    test = read_lock(TEST_LOCK)
    for name in ("pytest", "ruff", "mypy", "playwright", "pip", "setuptools"):
        assert name in test.pins, name


def test_the_lock_tool_is_itself_pinned_with_hashes() -> None:
    tools = read_lock(TOOLS_LOCK)
    assert tools.problems == []
    assert "pip-tools" in tools.pins


def test_a_dependency_added_without_relocking_is_caught() -> None:
    pyproject = read_pyproject()
    pyproject["project"]["dependencies"].append("left-pad>=1.0")
    pyproject["project"]["optional-dependencies"]["test"].append("pytest-left-pad>=2")

    problems = lock_problems(pyproject, read_lock(RUN_LOCK), read_lock(TEST_LOCK))

    assert "requirements/run.txt: made from another pyproject.toml dependency list; run `make lock`" in problems
    assert "requirements/run.txt: left-pad (pyproject.toml) is not in the lock; run `make lock`" in problems
    assert "requirements/test.txt: pytest-left-pad (pyproject.toml) is not in the lock; run `make lock`" in problems


def test_a_range_the_pin_no_longer_meets_is_caught() -> None:
    pyproject = read_pyproject()
    pyproject["project"]["dependencies"] = [
        "flask>=99" if Requirement(text).name.lower() == "flask" else text
        for text in pyproject["project"]["dependencies"]
    ]

    problems = lock_problems(pyproject, read_lock(RUN_LOCK), read_lock(TEST_LOCK))

    assert any(p.startswith("requirements/run.txt: flask==") and "'flask>=99'" in p for p in problems), problems


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("rq==3.0.0", "rq==3.0.0 needs --hash=sha256:... and nothing else"),
        ("rq>=3 \\\n    --hash=sha256:" + "a" * 64, "'rq>=3' is not pinned with =="),
        ("schuldroute @ file:///somewhere", "'schuldroute' is not pinned with =="),
        ("--extra-index-url https://example.invalid/simple", "option line '--extra-index-url https://"),
        ("rq==3.0.0 \\\n    --hash=md5:" + "a" * 32, "rq==3.0.0 needs --hash=sha256:... and nothing else"),
    ],
)
def test_an_unpinned_unhashed_or_redirected_entry_is_caught(line: str, problem: str) -> None:
    lock = parse_lock("requirements/run.txt", line + "\n")

    assert any(problem in p for p in lock.problems), lock.problems


def test_make_installs_only_from_the_lock_files_with_hashes() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    installs = re.findall(r"^\t.*\bpip install\b.*$", makefile, re.MULTILINE)

    assert installs
    for install in installs:
        hashed = re.search(r"--require-hashes --no-deps -r requirements/(run|test)\.txt$", install)
        project_only = install.rstrip().endswith("--no-deps --no-build-isolation -e .")
        assert hashed or project_only, install
    # A changed lock file reinstalls the venv.
    assert re.search(r"^\$\(VENV\)/\.installed: .*requirements/run\.txt", makefile, re.MULTILINE)
    assert re.search(r"^\$\(VENV\)/\.installed-dev: .*requirements/test\.txt", makefile, re.MULTILINE)
