"""Drill 8: 50 people edit the same case at once (docs/drills.md).

Fifty client threads each read the case and change it with `If-Match` (up to three tries, reading again after a
412), while fifty more add a debt to it. No edit may be lost: the successful changes form one chain of versions
(each based on the one before), the case ends with the last of them, every debt answered 201 is there, and a
conflict answers 412, never 500.
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy import select

from schulden.debts.models import Debt
from tests.drills.harness import Answer, Deployment, Ledger, intake

EDITORS = 50
TRIES = 3
#: A stale If-Match answers 412; an edit that meets another in flight (the row version moved under it) 409.
CONFLICT = (409, 412)


@dataclass(frozen=True)
class Edit:
    if_match: str
    value: str
    answer: Answer


def _edit(d: Deployment, case_id: int, editor: int) -> list[Edit]:
    edits = []
    for attempt in range(TRIES):
        read = d.http("GET", f"/api/v1/cases/{case_id}", user="pi.drill")
        assert read.status == 200, (read.status, read.body[:200])
        value = f"DJI-E{editor:02d}-{attempt}"
        answer = d.http("PATCH", f"/api/v1/cases/{case_id}", user="pi.drill", body={"dji_number": value},
                        headers={"If-Match": read.headers["etag"]})  # fmt: skip
        edits.append(Edit(read.headers["etag"], value, answer))
        if answer.status not in CONFLICT:
            break
    return edits


def _add(d: Deployment, case_id: int, n: int, creditor_id: int) -> Answer:
    return d.http("POST", f"/api/v1/cases/{case_id}/debts", user="pi.drill",
                  body={"creditor_id": creditor_id, "debt_type": "huur", "principal_cents": 1_000 + n})  # fmt: skip


def test_fifty_concurrent_edits_lose_no_update(d: Deployment) -> None:
    d.start_web(workers=2)
    ledger = Ledger()
    case_id = intake(d, ledger)
    assert case_id is not None
    creditor_id = int(d.http("GET", "/api/v1/creditors?q=Drill", user="pi.drill").json()["items"][0]["id"])
    d.token("pi.drill")

    d.note("web node up, the case opened")
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=EDITORS * 2) as pool:
        edits_of = [pool.submit(_edit, d, case_id, n) for n in range(EDITORS)]
        adds = [pool.submit(_add, d, case_id, n, creditor_id) for n in range(EDITORS)]
        edits = [edit for future in edits_of for edit in future.result(timeout=120)]
        added = [future.result(timeout=120) for future in adds]
    took = time.monotonic() - started

    statuses = sorted({e.answer.status for e in edits} | {a.status for a in added})
    assert set(statuses) <= {200, 201, *CONFLICT}, f"answers: {statuses}"
    won = [e for e in edits if e.answer.status == 200]
    assert won, "no edit succeeded"
    # One chain: no two successful edits were based on the same version, and each was based on the one before.
    assert len({e.if_match for e in won}) == len(won), "two edits of the same version both succeeded: a lost update"
    after = {e.if_match: e for e in won}
    produced = {e.answer.headers["etag"] for e in won}
    first = [e for e in won if e.if_match not in produced]
    assert len(first) == 1, "the successful edits do not form one chain of versions"
    chain = [first[0]]
    while chain[-1].answer.headers["etag"] in after:
        chain.append(after[chain[-1].answer.headers["etag"]])
    assert len(chain) == len(won), "an edit's version was overwritten by another's"
    final = d.http("GET", f"/api/v1/cases/{case_id}", user="pi.drill")
    assert final.headers["etag"] == chain[-1].answer.headers["etag"]
    assert final.json()["detainee"]["dji_number"] == chain[-1].value

    created = [a for a in added if a.status == 201]
    assert len(created) == EDITORS, f"adding debts: {sorted(a.status for a in added)}"
    with d.engine.connect() as conn:
        principals = sorted(conn.execute(select(Debt.principal_cents).where(Debt.case_id == case_id)).scalars())
    assert principals == sorted(a.json()["principal_cents"] for a in created)

    # The conflicts are what an operator sees: 412 answers in the request metrics, and no 5xx.
    values = d.metrics()
    answered = {k: v for k, v in values.items() if k.startswith("schuldroute_http_request_duration_seconds_count")}
    conflicts = sum(v for k, v in answered.items() if 'status="412"' in k or 'status="409"' in k)
    assert conflicts == len(edits) - len(won)
    assert not [k for k in answered if 'status="5' in k]
    d.note(f"50 editors: {len(won)} edits in one chain, {Counter(e.answer.status for e in edits)}; "
          f"50 debts added; {took:.1f} s")  # fmt: skip
