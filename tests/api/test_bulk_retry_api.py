"""GET /api/v1/letters/failed/groups and POST /api/v1/letters/failed/retry (issue 14 item 2): the administrator's
failed letters by kind of error and type, and all of one kind made again in one call; 403 for everyone else before
the body is read, 422 naming the field, an Idempotency-Key replays the first answer."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from schulden.letters.models import Letter
from tests.demo_world import DemoWorld
from tests.web.test_failed_letters_page import fail_letters

GROUPS = "/api/v1/letters/failed/groups"
RETRY = "/api/v1/letters/failed/retry"


def test_the_administrator_lists_the_groups(demo_world: DemoWorld) -> None:
    ids = fail_letters(demo_world, ("queued",), 2)
    response = demo_world.http.get(GROUPS, headers=demo_world.token("admin.demo"))
    assert response.status_code == 200, response.json
    groups = response.json
    assert groups is not None
    full = [g for g in groups if g["reason"] == "OSError"]
    assert sum(g["count"] for g in full) == len(ids)
    assert {g["label"] for g in full} == {"De opslag was vol of niet schrijfbaar"}
    assert all(set(g) == {"reason", "label", "letter_type", "count", "since"} for g in groups)
    assert any(g["reason"] == "unknown" for g in groups)  # the demo's own failed letter


OTHERS = ["schuldhulp.demo", "pi.demo", "gemeente.demo", "partner.demo", "vrijwilliger.demo"]


@pytest.mark.parametrize("username", OTHERS)
def test_everyone_else_gets_403_before_the_body_is_read(demo_world: DemoWorld, username: str) -> None:
    headers = demo_world.token(username)
    assert demo_world.http.get(GROUPS, headers=headers).status_code == 403
    for body in ({"reason": "OSError"}, {"letter_type": "L99", "unknown": 1}):
        refused = demo_world.http.post(RETRY, json=body, headers=headers)
        assert refused.status_code == 403
        assert refused.content_type.startswith("application/problem+json")
        assert "mislukte brieven in één keer opnieuw laten maken" in (refused.json or {})["detail"]


def test_an_unknown_letter_type_is_refused_naming_the_field(demo_world: DemoWorld) -> None:
    headers = demo_world.token("admin.demo")
    refused = demo_world.http.post(RETRY, json={"letter_type": "L11"}, headers=headers)
    assert refused.status_code == 422
    assert "Onbekend brieftype" in refused.json["errors"]["letter_type"][0]
    bad_reason = demo_world.http.post(RETRY, json={"reason": "geen naam"}, headers=headers)
    assert bad_reason.status_code == 422
    assert list(bad_reason.json["errors"]) == ["reason"]
    # A kind no letter has is no error: nothing to do.
    none = demo_world.http.post(RETRY, json={"reason": "KeyError"}, headers=headers)
    assert (none.status_code, none.json) == (200, {"retried": 0})


@pytest.mark.usefixtures("committed")
def test_one_call_makes_every_letter_of_the_kind_again_and_a_replay_does_not(demo_world: DemoWorld) -> None:
    ids = fail_letters(demo_world, ("rendered", "sent"), 3)
    headers = demo_world.token("admin.demo") | {"Idempotency-Key": "bulk-retry-1"}
    first = demo_world.http.post(RETRY, json={"reason": "OSError", "letter_type": None}, headers=headers)
    assert (first.status_code, first.json) == (200, {"retried": 3})
    with demo_world.db() as s:
        made = s.execute(select(Letter.status, Letter.attempts).where(Letter.id.in_(ids))).all()
    assert [tuple(row) for row in made] == [("rendered", 1)] * 3  # the in-process queue made them after the commit
    again = demo_world.http.post(RETRY, json={"reason": "OSError", "letter_type": None}, headers=headers)
    assert (again.status_code, again.json) == (200, {"retried": 3})
    assert again.headers.get("Idempotent-Replayed") == "true"
    rows = demo_world.audit("letter.retry")
    assert sorted(int(r.object_id or 0) for r in rows) == sorted(ids)
    assert {r.origin for r in rows} != {None}
