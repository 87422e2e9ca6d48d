"""Beheer → Schuldeisers: an administrator sees proposed changes of a creditor's contact data and decides them."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from schulden.actors import UserActor
from schulden.audit import AuditEntry
from schulden.creditors.models import Creditor, CreditorChangeProposal
from schulden.creditors.services import get_creditor, propose_change
from schulden.roles import Role
from schulden.users.models import User
from tests.demo_world import DemoWorld
from tests.web.test_beheer import csrf, text


@pytest.fixture
def world(demo_world: DemoWorld) -> DemoWorld:
    return demo_world


def _propose(world: DemoWorld, changes: dict[str, object]) -> tuple[int, int]:
    """PI Lelystad's casemanager proposes `changes` to the demo landlord: (creditor id, proposal id)."""
    with world.db() as s:
        user = s.scalar(select(User).where(User.username == "pi.lelystad.demo"))
        assert user is not None
        actor = UserActor(user_id=user.id, role=Role.PI_STAFF, organisation_id=user.organisation_id)
        creditor_id = s.scalar(select(Creditor.id).where(Creditor.name == "Woonstichting De Demo"))
        assert creditor_id is not None
        proposal = propose_change(s, get_creditor(s, creditor_id), actor=actor, data=changes)
        s.commit()
        return creditor_id, proposal.id


def test_an_administrator_approves_a_proposal_on_the_creditor_page(world: DemoWorld) -> None:
    creditor_id, proposal_id = _propose(world, {"email": "post@nieuw.example"})
    _other, rejected_id = _propose(world, {"city": "Lelystad"})
    admin = world.client("admin.demo")

    overview = text(admin.get("/beheer/schuldeisers"))
    page = text(admin.get(f"/beheer/schuldeisers/{creditor_id}"))

    assert "Voorgestelde wijzigingen die op een beheerder wachten" in overview
    assert f"Woonstichting De Demo (voorstel {proposal_id})" in overview
    assert "Voorgestelde wijzigingen (2)" in page
    assert "PI Lelystad" in page
    assert "incasso@woonstichting.example" in page  # now
    assert "post@nieuw.example" in page  # proposed
    url = f"/beheer/schuldeisers/{creditor_id}/voorstellen/{proposal_id}/goedkeuren"
    assert admin.post(url).status_code == 400  # no CSRF token: refused, nothing decided

    approved = admin.post(url, data={"csrf_token": csrf(admin, f"/beheer/schuldeisers/{creditor_id}")})
    rejected = admin.post(
        f"/beheer/schuldeisers/{creditor_id}/voorstellen/{rejected_id}/afwijzen",
        data={"csrf_token": csrf(admin, f"/beheer/schuldeisers/{creditor_id}")},
    )

    assert approved.status_code == rejected.status_code == 303
    with world.db() as s:
        creditor = s.get_one(Creditor, creditor_id)
        assert (creditor.email, creditor.city) == ("post@nieuw.example", "Zwolle")
        ours = CreditorChangeProposal.id.in_((proposal_id, rejected_id))  # the demo has a proposal of its own
        statuses = dict(s.execute(select(CreditorChangeProposal.id, CreditorChangeProposal.status).where(ours)).all())
        assert statuses == {proposal_id: "approved", rejected_id: "rejected"}
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.action.like("creditor.%"))).all()
        assert sorted(actions) == sorted(
            ["creditor.change_proposed"] * 2
            + ["creditor.update", "creditor.change_approved", "creditor.change_rejected"]
        )
    assert "Voorgestelde wijzigingen" not in text(admin.get(f"/beheer/schuldeisers/{creditor_id}"))
    again = admin.post(url, data={"csrf_token": csrf(admin, f"/beheer/schuldeisers/{creditor_id}")})
    assert again.status_code == 303
    assert "al beoordeeld" in text(admin.get(f"/beheer/schuldeisers/{creditor_id}"))


def test_others_cannot_decide_proposals(world: DemoWorld) -> None:
    creditor_id, proposal_id = _propose(world, {"email": "post@aanvaller.example"})
    pi = world.client("pi.lelystad.demo")

    response = pi.post(
        f"/beheer/schuldeisers/{creditor_id}/voorstellen/{proposal_id}/goedkeuren", data={"csrf_token": csrf(pi, "/")}
    )

    assert response.status_code == 403
    with world.db() as s:
        assert s.get_one(Creditor, creditor_id).email == "incasso@woonstichting.example"
        assert s.get_one(CreditorChangeProposal, proposal_id).status == "proposed"
