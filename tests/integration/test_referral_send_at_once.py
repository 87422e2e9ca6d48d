"""A counsellor who has just completed the inventory sends the referral at once, not after the next tick.

`inventory_complete` is left for `referral_due` by a timer with no delay, so before this fix the send was refused
("Niet mogelijk in de status 'Inventarisatie compleet'") until the ticker ran, a minute later. Now the send itself
takes the step (the counsellor's `request_referral`) in its own transaction; the timer is cancelled with the state
it belonged to, so it never fires as well (exactly once). No sleeping, no tick needed.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from schulden.actors import UserActor
from schulden.cases.models import Case, Consent, ConsentPurpose
from schulden.referrals import readiness, services
from schulden.roles import Role
from tests.conftest import NOW
from tests.factories import make_debt
from tests.integration.test_case_process import (
    COUNSELLOR,
    PI_STAFF,
    fire,
    history,
    in_inventory,
    settle,
    state_of,
    timers,
)
from workflows import Engine, TransitionRefused
from workflows.store import TimerRow, TimerStatus


def _counsellor(case: Case) -> UserActor:
    """A counsellor of the case's team (access.case_scope)."""
    return UserActor(user_id=1, role=Role.COUNSELLOR, organisation_id=case.team_id)


def _completed(session: Session, engine: Engine) -> Case:
    """A case whose inventory the counsellor has just completed: in `inventory_complete`, its timer pending."""
    case = in_inventory(session, engine)
    if case.team_id is None:
        case.team_id = case.pi_id  # any organisation will do for the scope of this test's counsellor
    settle(session, engine, make_debt(session, engine, case))
    fire(session, engine, case, "complete_inventory", COUNSELLOR)
    assert state_of(session, case) == "inventory_complete"
    ready = [t for t in timers(session, engine, case) if t.name == "inventory_ready"]
    assert [t.status for t in ready] == [TimerStatus.PENDING]
    return case


def test_the_referral_goes_in_the_same_transaction_as_the_completed_inventory(
    session: Session, wf_engine: Engine
) -> None:
    case = _completed(session, wf_engine)
    actor = _counsellor(case)

    # Nothing stands in the way: the page offers the send now, not "after the next tick".
    assert readiness.send_blockers(session, wf_engine, case, actor, today=wf_engine.today(NOW)) == []

    referral = services.send(session, actor, case.id, engine=wf_engine, include_district_team=False)

    assert state_of(session, case) == "referred"
    assert referral.status == "queued"
    events = [(e.event, e.from_state, e.to_state, e.actor_id) for e in history(session, wf_engine, case)[-3:]]
    assert events == [
        ("complete_inventory", "inventory", "inventory_complete", COUNSELLOR.actor_id),
        ("request_referral", "inventory_complete", "referral_due", actor.actor_id),
        ("send_referral", "referral_due", "referred", actor.actor_id),
    ]
    # The timer that would have made the referral due went with its state: it never fires (exactly once).
    ready = session.query(TimerRow).filter_by(instance_id=case.instance_id, name="inventory_ready").one()
    assert ready.status == TimerStatus.CANCELLED
    before = len(history(session, wf_engine, case))
    wf_engine.tick_batch(session, now=NOW + timedelta(days=1))
    assert ready.status == TimerStatus.CANCELLED
    assert [e.event for e in history(session, wf_engine, case)[before:]] == []
    assert state_of(session, case) == "referred"


def test_after_a_tick_made_the_referral_due_the_send_takes_no_extra_step(session: Session, wf_engine: Engine) -> None:
    case = _completed(session, wf_engine)
    wf_engine.tick_batch(session, now=NOW + timedelta(minutes=1))
    assert state_of(session, case) == "referral_due"
    assert history(session, wf_engine, case)[-1].event == "referral_window_reached"

    services.send(session, _counsellor(case), case.id, engine=wf_engine, include_district_team=False)

    assert [e.event for e in history(session, wf_engine, case)[-2:]] == ["referral_window_reached", "send_referral"]
    assert state_of(session, case) == "referred"


def test_without_the_referral_consent_the_page_names_the_step_and_the_send_is_refused(
    session: Session, wf_engine: Engine
) -> None:
    case = _completed(session, wf_engine)
    for consent in session.query(Consent).filter_by(case_id=case.id, purpose=ConsentPurpose.REFER_MUNICIPALITY.value):
        session.delete(consent)
    session.flush()
    actor = _counsellor(case)

    [blocker] = readiness.send_blockers(session, wf_engine, case, actor, today=wf_engine.today(NOW))
    assert blocker.where == readiness.CONSENT
    assert blocker.why.startswith("De toestemming voor de verwijzing naar ")
    assert blocker.todo == "Laat het toestemmingsformulier tekenen en leg de toestemming vast"

    # The workflow stays the judge: refused, and the caller rolls the whole transaction back.
    with pytest.raises(TransitionRefused):
        services.send(session, actor, case.id, engine=wf_engine, include_district_team=False)


def test_an_open_inventory_says_what_to_finish_first(session: Session, wf_engine: Engine) -> None:
    case = in_inventory(session, wf_engine)
    case.team_id = case.team_id or case.pi_id
    make_debt(session, wf_engine, case)
    session.flush()

    blockers = readiness.send_blockers(session, wf_engine, case, _counsellor(case), today=wf_engine.today(NOW))

    assert [(b.todo, b.where) for b in blockers] == [("Eerst de inventarisatie afronden", readiness.CASE)]
    assert "Nog 1 schuld(en) wachten op antwoord of actie." in blockers[0].why


def _in_inventory_with_an_open_debt(session: Session, engine: Engine) -> Case:
    case = in_inventory(session, engine)
    if case.team_id is None:
        case.team_id = case.pi_id
    make_debt(session, engine, case)  # its creditor has not answered
    return case


def test_with_a_threat_the_referral_goes_from_the_inventory_and_says_what_is_still_estimated(
    session: Session, wf_engine: Engine
) -> None:
    """A threat gives the municipality 3 working days: the counsellor must not be sent to wait for creditors first
    (the counsellor's browser story met that dead end, issue 13)."""
    case = _in_inventory_with_an_open_debt(session, wf_engine)
    fire(session, wf_engine, case, "flag_threat", PI_STAFF, payload={"threat": "eviction"})
    actor = _counsellor(case)
    today = wf_engine.today(NOW)

    assert readiness.send_blockers(session, wf_engine, case, actor, today=today) == []
    (note,) = readiness.send_notes(session, wf_engine, case, actor)
    assert "Er is een dreiging, dus de verwijzing gaat nu, vóór het einde van de inventarisatie." in note
    assert "geschatte bedragen" in note

    services.send(session, actor, case.id, engine=wf_engine, include_district_team=False)
    assert state_of(session, case) == "referred"
    assert [e.event for e in history(session, wf_engine, case)[-2:]] == ["request_referral", "send_referral"]


def test_without_a_threat_the_inventory_comes_first_and_the_page_says_how_not_to_wait(
    session: Session, wf_engine: Engine
) -> None:
    case = _in_inventory_with_an_open_debt(session, wf_engine)
    actor = _counsellor(case)
    (blocker,) = readiness.send_blockers(session, wf_engine, case, actor, today=wf_engine.today(NOW))
    assert blocker.todo == "Eerst de inventarisatie afronden"
    assert "Kies dan op de dossierpagina 'Verwijzing voorbereiden'." in blocker.why
    assert readiness.send_notes(session, wf_engine, case, actor) == []
    with pytest.raises(TransitionRefused):
        services.send(session, actor, case.id, engine=wf_engine, include_district_team=False)
