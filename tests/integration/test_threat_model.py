"""One threat model (issue 12 item 4): a threat of eviction, cut-off or the end of the health insurance, recorded on
the case or on one of its debts, before or after the referral, makes the case urgent, puts "refer now" at the top
of the work list, and puts the referral on the 3-working-day track; the referral row, the L8 letter and the handover
file then say the same term. An attachment makes the case urgent but leaves the municipality's four weeks alone.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from schulden.actors import UserActor
from schulden.cases.models import WGS_THREATS, Case, Threat
from schulden.cases.services import take_case_step
from schulden.debts.models import Debt
from schulden.debts.services import change_debt
from schulden.letters.compose import Sender, compose
from schulden.letters.models import Letter
from schulden.letters.templates import render_text
from schulden.referrals.handover import build_handover
from schulden.referrals.models import Referral
from schulden.referrals.services import send_referral
from schulden.roles import Role
from schulden.worklist import tasks_for
from tests.factories import make_case, make_debt, make_pi
from workflows import Engine, TransitionRefused, WorkflowInstance, dutch_calendar

AMS = ZoneInfo("Europe/Amsterdam")
#: Monday 2 March 2026: three working days later is Thursday 5 March; four weeks later Monday 30 March.
SENT = datetime(2026, 3, 2, 9, tzinfo=AMS).astimezone(UTC)
#: The threat reported after the referral, on Wednesday 4 March: three working days later is Monday 9 March.
LATER = datetime(2026, 3, 4, 9, tzinfo=AMS).astimezone(UTC)
SENDER = Sender("Schuldroute", ("Postbus 1", "1000 AA Amsterdam"), "020 123 45 67", "info@example.nl", "https://x")


def _text(value: Any) -> str:
    """Every string in a rendered letter (its blocks are dataclasses), joined."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return " ".join(_text(getattr(value, f.name)) for f in dataclasses.fields(value))
    if isinstance(value, list | tuple):
        return " ".join(_text(v) for v in value)
    return value if isinstance(value, str) else ""


class Story:
    def __init__(self, session: Session, engine: Engine) -> None:
        self.session, self.engine = session, engine
        self.pi = make_pi(session)
        self.staff = UserActor(user_id=1, role=Role.PI_STAFF, organisation_id=self.pi.id)
        self.counsellor = UserActor(user_id=2, role=Role.COUNSELLOR)
        self.case: Case = make_case(session, engine, pi=self.pi, now=SENT)
        take_case_step(session, engine, self.case, "record_consent", actor=self.staff)
        self.debt: Debt = make_debt(session, engine, self.case, debt_type="huur", now=SENT)

    def report(self, threat: str, where: str) -> None:
        if where == "case":
            take_case_step(self.session, self.engine, self.case, "flag_threat", actor=self.staff,
                           payload={"threat": threat})  # fmt: skip
        else:
            change_debt(self.session, self.engine, self.debt, {"threat": threat}, actor=self.staff)

    def send(self) -> Referral:
        take_case_step(self.session, self.engine, self.case, "request_referral", actor=self.counsellor)
        return send_referral(self.session, self.engine, self.case, actor=self.counsellor,
                             include_district_team=False, now=SENT)  # fmt: skip

    def l8(self) -> str:
        letter = self.session.scalars(
            select(Letter).where(Letter.case_id == self.case.id, Letter.letter_type == "L8")
        ).one()
        content = compose(self.session, letter, sender=SENDER, calendar=dutch_calendar(), reply=None)
        return _text(render_text(content))

    def task_kinds(self) -> list[str]:
        return [t.kind for t in tasks_for(self.session, self.staff, today=date(2026, 3, 2))]


@pytest.fixture
def story(session: Session, wf_engine: Engine) -> Story:
    return Story(session, wf_engine)


@pytest.mark.parametrize("where", ["case", "debt"])
@pytest.mark.parametrize("threat", sorted(WGS_THREATS))
def test_a_wgs_threat_before_the_referral_gives_three_working_days_everywhere(
    story: Story, threat: str, where: str
) -> None:
    story.report(threat, where)

    assert (story.case.urgent, story.case.threat) == (True, threat)
    assert story.task_kinds()[0] == "refer_now", "refer now stands at the top, whatever the release date"

    referral = story.send()

    assert (referral.urgent, referral.threat, referral.wgs_due_on) == (True, threat, date(2026, 3, 5))
    assert "refer_now" not in story.task_kinds()
    assert "binnen drie werkdagen een eerste gesprek" in story.l8()
    handover = build_handover(story.session, story.case.id, include_household=False, made_on=date(2026, 3, 2))
    assert (handover.urgency.wgs_urgent, handover.urgency.first_conversation_due) == (True, date(2026, 3, 5))
    assert "3 werkdagen" in handover.urgency.rule


@pytest.mark.parametrize("where", ["case", "debt"])
@pytest.mark.parametrize("threat", sorted(WGS_THREATS))
def test_a_wgs_threat_after_the_referral_moves_the_term_to_three_working_days(
    story: Story, threat: str, where: str, wf_engine: Engine
) -> None:
    referral = story.send()
    assert (referral.threat, referral.wgs_due_on) == (None, date(2026, 3, 30))

    story.engine = Engine(wf_engine.registry, calendar=wf_engine.calendar, clock=lambda: LATER)
    story.report(threat, where)

    assert (story.case.urgent, story.case.threat) == (True, threat)
    assert (referral.urgent, referral.threat, referral.wgs_due_on) == (True, threat, date(2026, 3, 9))
    handover = build_handover(story.session, story.case.id, include_household=False, made_on=date(2026, 3, 4))
    assert (handover.urgency.wgs_urgent, handover.urgency.first_conversation_due) == (True, date(2026, 3, 9))


def test_a_debt_threat_never_makes_a_case_less_urgent(story: Story) -> None:
    story.report(Threat.EVICTION.value, "case")
    story.report(Threat.ATTACHMENT.value, "debt")

    assert story.case.threat == Threat.EVICTION.value


def test_an_attachment_makes_the_case_urgent_but_keeps_four_weeks(story: Story) -> None:
    story.report(Threat.ATTACHMENT.value, "debt")
    assert (story.case.urgent, story.case.threat) == (True, "attachment")
    assert "refer_now" not in story.task_kinds()

    referral = story.send()

    assert (referral.threat, referral.wgs_due_on) == ("attachment", date(2026, 3, 30))
    assert "binnen vier weken een eerste gesprek" in story.l8()


def test_after_the_referral_an_attachment_does_not_restart_the_municipalitys_term(story: Story) -> None:
    referral = story.send()

    with pytest.raises(TransitionRefused) as refused:
        story.report(Threat.ATTACHMENT.value, "case")
    assert "verkort alleen een dreiging van art. 4a Wgs" in str(refused.value.reason)
    story.report(Threat.ATTACHMENT.value, "debt")  # recorded on the debt; the term stays

    assert referral.wgs_due_on == date(2026, 3, 30)
    state = story.session.get_one(WorkflowInstance, story.case.instance_id).state
    assert state == "referred"
