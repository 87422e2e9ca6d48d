"""Issue 10 item 2: no organisation can redirect another's letters.

The creditor directory is shared. Before this change PI staff of PI Lelystad could PATCH the e-mail address of a
creditor used by PI Zwolle's cases, and the next tick mailed Zwolle's letters (name, date of birth, detention,
debts, reply code) to that address. Now contact data is changed by an administrator, or proposed by others and
approved by an administrator, and every step is in the audit log without the values.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from integrations.tick import tick
from schulden.actors import UserActor
from schulden.cases.models import Case, Detainee
from schulden.creditors.models import Creditor, CreditorChangeProposal
from schulden.creditors.services import get_creditor, update_creditor
from schulden.errors import ValidationFailed
from schulden.letters.models import Letter
from schulden.roles import Role
from tests.conftest import SmtpServer
from tests.demo_world import DemoWorld

API = "/api/v1"
ATTACKER = "post@aanvaller.example"
REAL = "incasso@woonstichting.example"


@pytest.fixture
def demo(demo_world: DemoWorld) -> DemoWorld:
    """Fast; the end-to-end test asks for `committed`: letters render in-process after commit and e-mail goes to a
    real SMTP server."""
    return demo_world


def _woning(demo: DemoWorld) -> tuple[int, str]:
    """The demo landlord that takes e-mail (PI Zwolle's case Demir owes it rent): its id and ETag."""
    with demo.db() as s:
        creditor_id = s.scalar(select(Creditor.id).where(Creditor.name == "Woonstichting De Demo"))
    assert creditor_id is not None
    etag = demo.http.get(f"{API}/creditors/{creditor_id}", headers=demo.token("admin.demo")).headers["ETag"]
    return creditor_id, etag


def _creditor(demo: DemoWorld, creditor_id: int) -> dict[str, Any]:
    with demo.db() as s:
        row = s.get_one(Creditor, creditor_id)
        return {c: getattr(row, c) for c in ("email", "takes_email", "address_line", "city", "row_version")}


def _recipients(smtp: SmtpServer) -> list[str]:
    return [str(message["To"]) for message in smtp.messages]


@pytest.mark.usefixtures("committed")
def test_lelystad_cannot_redirect_zwolles_letters_end_to_end(demo: DemoWorld) -> None:
    """The attack from the review, through the API and the tick, with a real SMTP server: nothing reaches the
    attacker, Zwolle's letters (old and new) go to the creditor's real address."""
    baseline = _recipients(demo.smtp)
    assert baseline.count(REAL) == 1  # the demo's rent letter L1 went out on seeding (and its referral)
    woning_id, etag = _woning(demo)
    before = _creditor(demo, woning_id)
    lelystad = demo.token("pi.lelystad.demo")

    # The attack: PI Lelystad's casemanager points the shared creditor at his own mailbox.
    for body in ({"email": ATTACKER}, {"email": ATTACKER, "takes_email": True}, {"name": "Woonstichting"}):
        response = demo.http.patch(f"{API}/creditors/{woning_id}", json=body, headers={**lelystad, "If-Match": etag})
        assert response.status_code == 403, response.json
        assert response.mimetype == "application/problem+json"
        assert ATTACKER not in response.get_data(as_text=True)
    # A proposal is stored, but changes nothing; Lelystad cannot approve it itself.
    proposal = demo.http.post(f"{API}/creditors/{woning_id}/change-proposals", json={"email": ATTACKER},
                                headers=lelystad)  # fmt: skip
    assert proposal.status_code == 201, proposal.json
    assert proposal.json["status"] == "proposed"
    approve = demo.http.post(f"{API}/creditors/change-proposals/{proposal.json['id']}/approve", headers=lelystad)
    assert approve.status_code == 403
    assert _creditor(demo, woning_id) == before

    # Zwolle carries on: a new debt to the same landlord, letters asked for, then the periodic tick.
    with demo.db() as s:
        case_id = s.scalar(select(Case.id).join(Detainee).where(Detainee.surname == "Demir"))
    debt = demo.http.post(
        f"{API}/cases/{case_id}/debts",
        json={"creditor_id": woning_id, "debt_type": "huur", "principal_cents": 50_000},
        headers=demo.token("pi.demo"),
    )
    assert debt.status_code == 201, debt.json
    sent = demo.http.post(
        f"{API}/debts/{debt.json['id']}/events", json={"event": "send_letters"}, headers=demo.token("schuldhulp.demo")
    )
    assert sent.status_code == 201, sent.json
    with demo.app.app_context():
        tick()

    assert _recipients(demo.smtp)[len(baseline) :] == [REAL]  # the new debt's L1 (with the saldo request)
    assert not [m for m in demo.smtp.messages if ATTACKER in m.as_string()]
    with demo.db() as s:
        letters = s.scalars(select(Letter).where(Letter.creditor_id == woning_id)).all()
        assert {(lt.channel, lt.status, lt.recipient_email) for lt in letters} == {("email", "sent", REAL)}
    # The attempts are logged as refusals; the proposal as a proposal, without the address.
    assert len(demo.audit("authz_forbidden")) >= 4
    [proposed] = demo.audit("creditor.change_proposed")
    assert proposed.details == {"creditor_id": woning_id, "fields": ["email"]}
    assert demo.audit("creditor.update") == []


def test_a_proposal_changes_nothing_until_an_administrator_approves_it(demo: DemoWorld) -> None:
    woning_id, _etag = _woning(demo)
    before = _creditor(demo, woning_id)
    counsellor = demo.token("schuldhulp.demo")
    admin = demo.token("admin.demo")
    body = {"email": "debiteuren@woonstichting.example", "address_line": "Postbus 99", "city": "Kampen"}

    proposed = demo.http.post(f"{API}/creditors/{woning_id}/change-proposals", json=body, headers=counsellor)

    assert proposed.status_code == 201, proposed.json
    assert proposed.headers["Location"].endswith(f"/creditors/change-proposals/{proposed.json['id']}")
    assert proposed.json["changes"] == body
    assert (proposed.json["status"], proposed.json["base_version"]) == ("proposed", before["row_version"])
    assert _creditor(demo, woning_id) == before
    queue = demo.http.get(f"{API}/creditors/change-proposals", headers=admin)
    assert [item["id"] for item in queue.json["items"]] == [proposed.json["id"]]

    approved = demo.http.post(f"{API}/creditors/change-proposals/{proposed.json['id']}/approve", headers=admin)

    assert approved.status_code == 200, approved.json
    assert approved.json["status"] == "approved"
    assert approved.json["decided_by"].startswith("user:")
    after = _creditor(demo, woning_id)
    assert (after["email"], after["address_line"], after["city"]) == (body["email"], "Postbus 99", "Kampen")
    assert demo.http.get(f"{API}/creditors/change-proposals", headers=admin).json["items"] == []
    again = demo.http.post(f"{API}/creditors/change-proposals/{proposed.json['id']}/approve", headers=admin)
    assert again.status_code == 409
    # Three audit rows: the proposal, the change (naming the proposal), the decision. Field names, never values.
    rows = demo.audit("creditor.change_proposed", "creditor.update", "creditor.change_approved")
    assert [row.action for row in rows] == ["creditor.change_proposed", "creditor.update", "creditor.change_approved"]
    assert rows[1].details == {"fields": ["address_line", "city", "email"], "proposal_id": proposed.json["id"]}
    assert rows[0].actor_id != rows[2].actor_id
    assert rows[0].organisation_id is not None
    for row in rows:
        assert "woonstichting.example" not in json.dumps(row.details)
        assert "Kampen" not in json.dumps(row.details)


def test_a_rejected_proposal_changes_nothing(demo: DemoWorld) -> None:
    woning_id, _etag = _woning(demo)
    before = _creditor(demo, woning_id)
    proposed = demo.http.post(
        f"{API}/creditors/{woning_id}/change-proposals", json={"takes_email": False}, headers=demo.token("pi.demo")
    )
    assert proposed.status_code == 201, proposed.json
    admin = demo.token("admin.demo")

    rejected = demo.http.post(f"{API}/creditors/change-proposals/{proposed.json['id']}/reject", headers=admin)

    assert rejected.status_code == 200
    assert rejected.json["status"] == "rejected"
    assert _creditor(demo, woning_id) == before
    assert (
        demo.http.get(f"{API}/creditors/change-proposals/{proposed.json['id']}", headers=admin).json["status"]
        == "rejected"
    )
    listed = demo.http.get(f"{API}/creditors/change-proposals?status=rejected", headers=admin).json["items"]
    assert [item["id"] for item in listed] == [proposed.json["id"]]
    [row] = demo.audit("creditor.change_rejected")
    assert row.details == {"creditor_id": woning_id, "fields": ["takes_email"]}
    approve = demo.http.post(f"{API}/creditors/change-proposals/{proposed.json['id']}/approve", headers=admin)
    assert approve.status_code == 409
    assert _creditor(demo, woning_id) == before


def test_only_administrators_see_and_decide_proposals(demo: DemoWorld) -> None:
    woning_id, _etag = _woning(demo)
    proposed = demo.http.post(
        f"{API}/creditors/{woning_id}/change-proposals", json={"city": "Kampen"}, headers=demo.token("pi.demo")
    )
    assert proposed.status_code == 201
    pid = proposed.json["id"]
    for username in ("pi.demo", "pi.lelystad.demo", "schuldhulp.demo", "vrijwilliger.demo", "gemeente.demo"):
        headers = demo.token(username)
        assert demo.http.get(f"{API}/creditors/change-proposals", headers=headers).status_code == 403
        assert demo.http.get(f"{API}/creditors/change-proposals/{pid}", headers=headers).status_code == 403
        for decision in ("approve", "reject"):
            response = demo.http.post(f"{API}/creditors/change-proposals/{pid}/{decision}", headers=headers)
            assert response.status_code == 403, (username, decision)
    # Roles that may not write to the directory may not propose either.
    for username in ("vrijwilliger.demo", "gemeente.demo", "partner.demo"):
        response = demo.http.post(
            f"{API}/creditors/{woning_id}/change-proposals", json={"city": "Kampen"}, headers=demo.token(username)
        )
        assert response.status_code == 403, username
    with demo.db() as s:
        assert [p.status for p in s.scalars(select(CreditorChangeProposal))] == ["proposed"]
        assert s.get_one(Creditor, woning_id).city == "Zwolle"


def test_a_proposal_that_changes_nothing_or_breaks_a_rule_is_refused(demo: DemoWorld) -> None:
    woning_id, _etag = _woning(demo)
    headers = demo.token("schuldhulp.demo")
    url = f"{API}/creditors/{woning_id}/change-proposals"

    empty = demo.http.post(url, json={}, headers=headers)
    same = demo.http.post(url, json={"city": "Zwolle", "email": REAL}, headers=headers)
    no_email = demo.http.post(url, json={"email": None}, headers=headers)  # it takes e-mail
    not_contact = demo.http.post(url, json={"kind": "bank"}, headers=headers)
    bad_email = demo.http.post(url, json={"email": "geen-adres"}, headers=headers)
    missing = demo.http.post(f"{API}/creditors/987654/change-proposals", json={"city": "Kampen"}, headers=headers)

    assert empty.status_code == same.status_code == 422
    assert empty.json["errors"] == {"_schema": ["Dit voorstel verandert niets aan de schuldeiser."]}
    assert no_email.status_code == 422
    assert "email" in no_email.json["errors"]
    assert not_contact.status_code == 422
    assert not_contact.json["errors"] == {"kind": ["Onbekend veld."]}
    assert bad_email.json["errors"] == {"email": ["Geen geldig e-mailadres."]}
    assert missing.status_code == 404
    with demo.db() as s:
        assert s.scalars(select(CreditorChangeProposal)).all() == []


def test_an_administrator_still_changes_contact_data_directly(demo: DemoWorld) -> None:
    woning_id, etag = _woning(demo)

    response = demo.http.patch(
        f"{API}/creditors/{woning_id}",
        json={"email": "nieuw@woonstichting.example"},
        headers={**demo.token("admin.demo"), "If-Match": etag},
    )

    assert response.status_code == 200, response.json
    assert _creditor(demo, woning_id)["email"] == "nieuw@woonstichting.example"
    [row] = demo.audit("creditor.update")
    assert row.details == {"fields": ["email"]}


def test_the_service_refuses_a_contact_change_by_anyone_but_an_administrator(demo: DemoWorld) -> None:
    """Defence in depth: a caller that skips the API's 403 (a future page, a script) still changes nothing."""
    woning_id, _etag = _woning(demo)
    before = _creditor(demo, woning_id)
    with demo.db() as s:
        creditor = get_creditor(s, woning_id, for_update=True)
        with pytest.raises(ValidationFailed) as refused:
            update_creditor(s, creditor, actor=UserActor(user_id=1, role=Role.PI_STAFF), data={"email": ATTACKER})
        s.rollback()
    assert set(refused.value.errors) == {"email"}
    assert _creditor(demo, woning_id) == before
