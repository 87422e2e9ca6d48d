"""The PI's intake clocks (domain.md 1.2, issue 12 item 5): screening within 10 working days of arrival, the
D&R-plan within a calendar month (art. 18a Pbw). Both are tasks on the work list of the PI's staff (the PI's own
work, not the counsellor's) until `record_screening` / `record_dr_plan` is in the case's history; a counsellor may
record them too."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime

import pytest
from sqlalchemy.orm import Session

from schulden.actors import UserActor
from schulden.cases.models import Case
from schulden.cases.release import record_release
from schulden.cases.services import fire_case_event, take_case_step
from schulden.organisations.models import Organisation, OrganisationKind
from schulden.roles import Role
from schulden.worklist import one_month_after, tasks_for
from tests.factories import make_case, make_pi
from workflows import Engine, TransitionRefused, WorkflowInstance

NOW = datetime(2026, 5, 7, 9, 0, tzinfo=UTC)
TODAY = date(2026, 5, 7)
_teams = itertools.count(1)


class Intake:
    def __init__(self, session: Session, wf_engine: Engine, *, detention_start: date) -> None:
        self.session = session
        self.engine = Engine(wf_engine.registry, calendar=wf_engine.calendar, clock=lambda: NOW)
        team = Organisation(kind=OrganisationKind.OPERATOR.value, name="Team", code=f"TEAM-I{next(_teams)}")
        session.add(team)
        session.flush()
        pi = make_pi(session)
        pi.counselling_team_id = team.id
        self.staff = UserActor(user_id=1, role=Role.PI_STAFF, organisation_id=pi.id)
        self.counsellor = UserActor(user_id=2, role=Role.COUNSELLOR, organisation_id=team.id)
        self.volunteer = UserActor(user_id=3, role=Role.VOLUNTEER, organisation_id=pi.id)
        self.case: Case = make_case(session, self.engine, pi=pi, detention_start=detention_start, now=NOW)

    def clocks(self, actor: UserActor) -> dict[str, tuple[str, date | None, bool]]:
        return {
            t.kind: (t.title, t.due_on, t.urgent)
            for t in tasks_for(self.session, actor, today=TODAY, calendar=self.engine.calendar)
            if t.case_id == self.case.id and t.kind in ("screening_due", "dr_plan_due")
        }

    def step(self, event: str, actor: UserActor) -> None:
        take_case_step(self.session, self.engine, self.case, event, actor=actor)


def test_screening_and_dr_plan_are_tasks_until_recorded(session: Session, wf_engine: Engine) -> None:
    # Arrival Monday 20 April 2026: King's Day (27 April) and Liberation Day (5 May) do not count.
    intake = Intake(session, wf_engine, detention_start=date(2026, 4, 20))
    expected = {
        "screening_due": ("Screening afronden", date(2026, 5, 6), False),
        "dr_plan_due": ("D&R-plan vaststellen", date(2026, 5, 20), False),
    }
    assert intake.clocks(intake.staff) == expected
    assert intake.clocks(intake.counsellor) == {}, "the PI's clocks: not on the counsellor's list"
    assert intake.clocks(intake.volunteer) == {}, "the casemanager's clocks, not the volunteer's"

    intake.step("record_screening", intake.staff)
    assert intake.clocks(intake.staff) == {"dr_plan_due": expected["dr_plan_due"]}
    with pytest.raises(TransitionRefused, match="al vastgelegd"):
        intake.step("record_screening", intake.counsellor)

    intake.step("record_dr_plan", intake.counsellor)
    assert intake.clocks(intake.staff) == {}
    assert intake.clocks(intake.counsellor) == {}
    instance = session.get_one(WorkflowInstance, intake.case.instance_id)
    assert instance.state == "draft", "recording the intake changes no state"
    assert [h.event for h in intake.engine.history(session, instance)][-2:] == ["record_screening", "record_dr_plan"]


def test_the_intake_steps_are_buttons_for_pi_staff_and_counsellors_only(session: Session, wf_engine: Engine) -> None:
    intake = Intake(session, wf_engine, detention_start=date(2026, 5, 4))
    instance = session.get_one(WorkflowInstance, intake.case.instance_id)
    for actor, allowed in ((intake.staff, True), (intake.counsellor, True), (intake.volunteer, False)):
        options = {o.event: o for o in intake.engine.available_events(session, instance, actor)}
        assert options["record_screening"].allowed is allowed
        assert options["record_dr_plan"].label == "D&R-plan vastgesteld"


def test_no_intake_tasks_for_a_closed_or_released_case(session: Session, wf_engine: Engine) -> None:
    closed = Intake(session, wf_engine, detention_start=date(2026, 5, 4))
    fire_case_event(session, closed.engine, closed.case, "cancel", actor=closed.staff, reason="dubbel")
    assert closed.clocks(closed.staff) == {}

    released = Intake(session, wf_engine, detention_start=date(2026, 5, 4))
    released.step("record_consent", released.staff)
    record_release(session, released.engine, released.staff, released.case, released_on=TODAY)
    assert released.clocks(released.staff) == {}


@pytest.mark.parametrize(
    ("arrival", "due"),
    [
        (date(2026, 3, 2), date(2026, 4, 2)),
        (date(2026, 1, 31), date(2026, 2, 28)),
        (date(2028, 1, 31), date(2028, 2, 29)),
        (date(2026, 12, 15), date(2027, 1, 15)),
    ],
)
def test_the_dr_plan_is_due_a_calendar_month_after_arrival(arrival: date, due: date) -> None:
    assert one_month_after(arrival) == due
