"""Drill 6: the letter store full, then freed (docs/drills.md).

The folder store (FILE_STORE=folder, LETTER_STORE on a 2 MB tmpfs) is filled with one big file; letters asked for
meanwhile cannot be written. None may end `failed` or spend an attempt: the letter goes back to `queued` with its
attempt given back, and its job is retried by RQ (after 10 s, then 60 s) and then by the sweeper. /status says the
store is not writable while it is full. Once the big file is deleted the letters are made without anyone's help.
"""

from __future__ import annotations

import errno
import subprocess
import time
from typing import BinaryIO

import pytest

from tests.drills.harness import (
    PROBLEM_STORE,
    Deployment,
    Ledger,
    check_no_write_lost,
    check_one_pdf_each,
    letters_for,
    metric,
    wait_for,
    wait_rendered,
)

#: RQ's first retry comes 10 s after the failure, the second 60 s after that.
RECOVERY_BOUND = 90


def test_a_full_store_spends_no_attempt_and_heals_when_freed(d: Deployment) -> None:
    d.settings["FILE_STORE"] = "folder"
    d.store.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(d.store)], check=True, timeout=30)
    d.mounts.append(d.store)
    d.start_web()
    worker = d.start_worker()
    d.start_ticker()
    d.wait_ticking()

    filler = d.store / "filler"
    with filler.open("wb") as out, pytest.raises(OSError, match="No space left") as full:
        _fill(out)
    assert full.value.errno == errno.ENOSPC
    status = d.status().json()
    assert PROBLEM_STORE in " ".join(status["problems"]), status
    assert metric(d.metrics(), "schuldroute_letter_store_writable") == 0

    ledger = Ledger()
    debts = letters_for(d, ledger, cases=2)

    def tried() -> bool:  # each letter's render was tried and deferred, with the reason on the letter
        return all(lt.last_error for lt in d.letters(debt_id=debts))

    wait_for(tried, 30, "the renders to meet the full store")
    letters = d.letters(debt_id=debts)
    d.note(f"store full: {[(lt.status, lt.attempts, lt.last_error) for lt in letters][:2]}")
    assert {lt.status for lt in letters} <= {"queued", "rendering"}, letters
    assert {lt.attempts for lt in letters if lt.status == "queued"} == {0}, "a full store spent an attempt"

    filler.unlink()
    freed = time.monotonic()
    took = wait_rendered(d, debts, RECOVERY_BOUND)
    d.note(f"store freed: every letter made {took:.1f} s later")
    letters = check_one_pdf_each(d, debts)
    assert {lt.attempts for lt in letters} == {1}, "an attempt was spent on the full store"
    assert metric(d.metrics(), "schuldroute_letter_store_writable") == 1
    assert worker.running()
    check_no_write_lost(d, ledger)
    assert time.monotonic() - freed < RECOVERY_BOUND


def _fill(out: BinaryIO) -> None:
    """Write until the file system says it is full."""
    while True:
        out.write(b"\0" * 65536)
        out.flush()
