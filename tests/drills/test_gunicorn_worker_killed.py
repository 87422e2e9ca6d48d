"""Drill 5: kill -9 one gunicorn worker of a node under a steady load of writes (docs/drills.md).

The node keeps answering: the other worker takes the requests and the master starts a new worker. A request the
killed worker was in the middle of gets no answer (its connection closes); nothing that answered 201 is lost.
"""

from __future__ import annotations

import signal
import time

from tests.drills.harness import Deployment, Load, alive, check_no_write_lost, signal_pid, wait_for

#: What the drill allows gunicorn to take to have two workers again (measured: about a second).
RESPAWN_BOUND = 10


def test_a_killed_gunicorn_worker_is_replaced_and_the_node_keeps_answering(d: Deployment) -> None:
    d.start_web(workers=2)
    before = sorted(d.web_workers())
    load = Load(d).start()
    wait_for(lambda: load.ledger.statuses()[201] >= 10, 60, "the load to get going")

    victim = before[0]
    answered_before = len(load.ledger.answers)
    killed_at = time.monotonic()
    signal_pid(victim, signal.SIGKILL)
    respawned = wait_for(
        lambda: not alive(victim) and len(d.web_workers()) == 2 and set(d.web_workers()) != set(before),
        RESPAWN_BOUND, "gunicorn to start a new worker",
    )  # fmt: skip
    wait_for(lambda: load.ledger.statuses()[201] >= answered_before + 20, 60, "the load to carry on")
    ledger = load.finish()
    d.note(f"gunicorn worker {victim} killed; two workers again after {respawned:.1f} s; "
           f"answers {dict(ledger.statuses())}")  # fmt: skip

    after_kill = ledger.answers[answered_before:]
    no_answer = [a for a in after_kill if a.status == 0]
    # At most the request the killed worker was serving, and those sent before the master noticed.
    assert len(no_answer) <= 1, f"requests without an answer: {no_answer}"
    assert not [a for a in ledger.answers if a.status not in (0, 201)], ledger.statuses()
    assert time.monotonic() - killed_at < 120
    check_no_write_lost(d, ledger)
    # Nothing in /metrics counts gunicorn's workers: the operator's sign is gunicorn's own error log.
    assert f"Worker (pid:{victim}) was sent SIGKILL!" in d.web.log.read_text(errors="replace")
    health = d.http("GET", "/healthz")
    assert health.status == 200
    assert health.json()["status"] == "ok"
