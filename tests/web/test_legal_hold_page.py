"""Bewaarblokkade on the case page (issue 15): the counsellor chooses a reason, checks, confirms; the case page shows
the hold; lifting goes the same way. Other roles see the state but no way to change it."""

from __future__ import annotations

from typing import Any

import pytest
from flask import g, render_template_string
from sqlalchemy import select

from schulden.actors import UserActor
from schulden.cases.models import Case
from schulden.roles import Role
from schulden.users.models import User
from tests.demo_world import DemoWorld
from tests.web.test_foundation import csrf_of


@pytest.fixture
def world(demo_world: DemoWorld) -> DemoWorld:
    return demo_world


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def test_the_counsellor_sets_and_lifts_a_hold_with_a_check_page(world: DemoWorld) -> None:
    demir = world.case_id("Demir")
    client = world.client("schuldhulp.demo")
    url = f"/dossiers/{demir}/bewaren"
    form = text(client.get(url))
    assert "Waarom bewaren" in form
    assert "Geen gegevens over gezondheid, geloof of strafzaken" in form
    token = csrf_of(client, url)

    empty = client.post(url, data={"csrf_token": token, "kind": ""})
    assert empty.status_code == 422
    assert "Kies waarom het dossier bewaard moet blijven." in text(empty)

    check = client.post(url, data={"csrf_token": token, "kind": "dispute", "note": "Kenmerk G-7"})
    assert check.status_code == 200
    assert "Controleer de blokkade" in text(check)
    with world.db() as s:
        assert s.get_one(Case, demir).legal_hold_since is None, "the check page changes nothing"

    done = client.post(url, data={"csrf_token": token, "kind": "dispute", "note": "Kenmerk G-7", "confirm": "1"})
    assert done.status_code == 303
    with world.db() as s:
        case = s.get_one(Case, demir)
        assert (case.legal_hold_kind, case.legal_hold_note) == ("dispute", "Kenmerk G-7")
    assert [r.details["kind"] for r in world.audit("retention.hold")] == ["dispute"]

    lift_url = f"/dossiers/{demir}/bewaren?action=opheffen"
    assert "Waarom opheffen" in text(client.get(lift_url))
    lifted = client.post(url, data={"csrf_token": token, "action": "opheffen", "reason": "resolved", "confirm": "1"})
    assert lifted.status_code == 303
    with world.db() as s:
        assert s.get_one(Case, demir).legal_hold_since is None
    assert [r.details["reason"] for r in world.audit("retention.hold_lifted")] == ["resolved"]


def test_the_partial_shows_the_hold_and_only_the_counsellor_gets_the_link(world: DemoWorld) -> None:
    """The partial as the case page includes it: {% include "dossiers/_legal_hold.html" %}."""
    demir = world.case_id("Demir")
    with world.db() as s:
        case = s.get_one(Case, demir)
        case.legal_hold_kind, case.legal_hold_since = "complaint", case.created_at
        s.commit()
        users = {u.username: UserActor(u.id, Role(u.role), u.organisation_id) for u in s.scalars(select(User))}
    include = '{% include "dossiers/_legal_hold.html" %}'
    for username, may_change in (("schuldhulp.demo", True), ("pi.demo", False)):
        with world.app.test_request_context(f"/dossiers/{demir}"):
            g.web_actor = users[username]
            html = render_template_string(include, case={"id": demir})
        assert "Bewaarblokkade</strong> sinds" in html
        assert ("Bewaarblokkade opheffen" in html) is may_change, username
    assert world.client("pi.demo").get(f"/dossiers/{demir}/bewaren").status_code == 403
