"""The release (issue 12 item 5): record_release sets actual_release, moves the case to referral_due, stops the
letters not sent yet that describe the client as detained, asks the insurer for the reactivation (L6 round 2),
stops the creditors' reminders (their timers are refused), and puts the referral at the top of the work list, due
today; a counsellor's release of a case whose referral is due sends it at once. Plus the letters the counsellor
delivers by hand (channel 'manual'): a task, and sent-manually starting the creditor's clock.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from schulden.actors import UserActor
from schulden.audit import AuditEntry
from schulden.cases.models import Case, DetentionType
from schulden.cases.release import ReleaseRefused, plan_release, record_release
from schulden.cases.services import fire_case_event, take_case_step
from schulden.creditors.models import CreditorKind
from schulden.debts.models import Debt
from schulden.debts.services import fire_debt_event
from schulden.errors import NotPermitted, ValidationFailed
from schulden.letters import lifecycle
from schulden.letters.lifecycle import LetterStateError
from schulden.letters.models import Channel, Letter, LetterStatus
from schulden.organisations.models import Organisation, OrganisationKind
from schulden.referrals.models import Referral
from schulden.roles import Role
from schulden.worklist import mark_sent_manually, tasks_for
from tests.factories import make_case, make_creditor, make_debt, make_pi
from workflows import SYSTEM, Engine, TimerRow, TimerStatus, WorkflowInstance

#: Monday 2 March 2026, 10:00 in Amsterdam.
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TODAY = date(2026, 3, 2)
#: The release recorded: last Friday.
RELEASED_ON = date(2026, 2, 27)
#: Well past every creditor's answer term (10 working days after 2 March is 16 March).
LATER = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
REMINDERS_STOP = "De cliënt is vrijgelaten: geen herinnering meer over de detentie."
_teams = itertools.count(1)


class Story:
    def __init__(
        self,
        session: Session,
        wf_engine: Engine,
        *,
        detention_type: DetentionType = DetentionType.PRISON_SENTENCE,
        expected_release: date | None = date(2026, 9, 1),
    ) -> None:
        self.session = session
        self.engine = Engine(wf_engine.registry, calendar=wf_engine.calendar, clock=lambda: NOW)
        team = Organisation(kind=OrganisationKind.OPERATOR.value, name="Schuldhulpteam", code=f"TEAM-R{next(_teams)}")
        session.add(team)
        session.flush()
        self.pi = make_pi(session)
        self.pi.counselling_team_id = team.id
        self.staff = UserActor(user_id=1, role=Role.PI_STAFF, organisation_id=self.pi.id)
        self.counsellor = UserActor(user_id=2, role=Role.COUNSELLOR, organisation_id=team.id)
        self.case: Case = make_case(
            session, self.engine, pi=self.pi, detention_type=detention_type, expected_release=expected_release
        )
        assert self.case.team_id == team.id

    def consent(self) -> None:
        take_case_step(self.session, self.engine, self.case, "record_consent", actor=self.staff)

    def state(self) -> str:
        return self.session.get_one(WorkflowInstance, self.case.instance_id).state

    def debt(self) -> Debt:
        return make_debt(self.session, self.engine, self.case)

    def write(self, debt: Debt) -> Letter:
        """The first letter to the debt's creditor (L1, queued)."""
        fire_debt_event(self.session, self.engine, debt, "send_letters", actor=self.counsellor)
        return self.letters(debt=debt)[-1]

    def render(self, letter: Letter) -> None:
        # What the render job records (lifecycle.rendered needs a claim): a PDF stored under a key.
        letter.status, letter.sha256, letter.storage_key = LetterStatus.RENDERED.value, "0" * 64, f"k/{letter.id}"
        self.session.flush()

    def post(self, letter: Letter) -> None:
        self.render(letter)
        lifecycle.sent(self.session, self.engine, [letter], at=NOW)

    def letters(self, *, debt: Debt | None = None, letter_type: str | None = None) -> list[Letter]:
        query = select(Letter).where(Letter.case_id == self.case.id).order_by(Letter.id)
        if debt is not None:
            query = query.where(Letter.debt_id == debt.id)
        if letter_type is not None:
            query = query.where(Letter.letter_type == letter_type)
        return list(self.session.scalars(query))

    def debt_state(self, debt: Debt) -> str:
        return self.session.get_one(WorkflowInstance, debt.instance_id).state

    def tasks(self, actor: UserActor, today: date = TODAY) -> dict[str, list[tuple[str, date | None, bool]]]:
        found: dict[str, list[tuple[str, date | None, bool]]] = {}
        for task in tasks_for(self.session, actor, today=today):
            if task.case_id == self.case.id:
                found.setdefault(task.kind, []).append((task.title, task.due_on, task.urgent))
        return found


@pytest.fixture
def story(session: Session, wf_engine: Engine) -> Story:
    return Story(session, wf_engine)


def test_the_release_of_a_sentenced_case_in_the_inventory(story: Story) -> None:
    insurer = make_creditor(story.session, name="Zorgverzekeraar Test")
    insurer.kind = CreditorKind.HEALTH_INSURER.value
    story.case.health_insurer_id = insurer.id
    story.case.health_policy_number = "P-123456"
    story.session.flush()
    story.consent()  # the intake's notices: L6 round 1, the suspension, is asked for (and not sent yet)
    [suspension] = story.letters(letter_type="L6")
    unsent, reminded, notified = story.debt(), story.debt(), story.debt()
    first_unsent = story.write(unsent)
    story.post(story.write(reminded))
    story.post(story.write(notified))
    # The first reminder is made (queued) but not sent yet when the client walks out.
    story.engine.fire(story.session, story.session.get_one(WorkflowInstance, reminded.instance_id), "reply_overdue",
                      actor=SYSTEM, now=NOW)  # fmt: skip
    [reminder] = story.letters(debt=reminded, letter_type="L3")
    withdrawal = Letter(case_id=story.case.id, letter_type="L10", idempotency_key=f"t-{story.case.id}-L10",
                        status=LetterStatus.QUEUED.value, letter_date=TODAY, requested_by="test")  # fmt: skip
    story.session.add(withdrawal)

    result = record_release(story.session, story.engine, story.staff, story.case, released_on=RELEASED_ON)

    assert story.case.actual_release == RELEASED_ON
    assert story.state() == result.state == "referral_due"
    stopped = "Vrijgelaten op 27 februari 2026: de brief beschrijft de cliënt als gedetineerd"
    for letter in (first_unsent, reminder, suspension):
        story.session.refresh(letter)
        assert (letter.status, letter.last_error) == (LetterStatus.CANCELLED.value, stopped)
    assert sorted(result.letters_stopped) == sorted([first_unsent.id, reminder.id, suspension.id])
    sent = [letter for debt in (reminded, notified) for letter in story.letters(debt=debt, letter_type="L1")]
    assert [letter.status for letter in sent] == [LetterStatus.SENT.value] * 2, "sent letters are left alone"
    story.session.refresh(withdrawal)
    assert withdrawal.status == LetterStatus.QUEUED.value, "L10 does not describe a detention: it stays"
    # The insurer is asked to reactivate the basic insurance.
    [_, reactivation] = story.letters(letter_type="L6")
    assert result.insurer_letter is not None
    assert result.insurer_letter.id == reactivation.id
    assert (reactivation.round, reactivation.creditor_id, reactivation.status) == (2, insurer.id, "queued")
    assert result.referral is None, "PI staff do not send the referral"
    history = story.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "case.release", AuditEntry.case_id == story.case.id)
    ).one()
    assert history.details is not None
    assert history.details["released_on"] == "2026-02-27"

    # The creditors' reminders stop: their timers are refused with the reason, no L3 is made.
    report = story.engine.tick_batch(story.session, now=LATER)
    assert report.refused >= 2
    for debt in (reminded, notified):
        timer = story.session.scalars(
            select(TimerRow).where(TimerRow.instance_id == debt.instance_id, TimerRow.name == "answer_due")
            .order_by(TimerRow.id.desc())
        ).first()  # fmt: skip
        assert timer is not None
        assert (timer.status, timer.outcome) == (TimerStatus.REFUSED, REMINDERS_STOP)
    assert story.debt_state(notified) == "notified"
    assert [letter.id for letter in story.letters(letter_type="L3")] == [reminder.id]

    # The referral stands at the top of the work list, due today.
    assert story.tasks(story.staff)["refer_now"] == [("Vrijgelaten: nu verwijzen naar de gemeente", TODAY, True)]
    counsellor_tasks = story.tasks(story.counsellor)
    assert counsellor_tasks["referral_due"] == [("Verwijzing versturen", TODAY, True)]
    assert "refer_now" in counsellor_tasks
    assert "screening_due" not in counsellor_tasks, "the PI's intake clocks end with the release"


def test_a_pretrial_case_whose_referral_is_due_is_referred_when_the_counsellor_records_the_release(
    session: Session, wf_engine: Engine
) -> None:
    story = Story(session, wf_engine, detention_type=DetentionType.PRE_TRIAL, expected_release=None)
    story.consent()
    debt = story.debt()
    fire_debt_event(session, story.engine, debt, "mark_paid", actor=story.counsellor)
    take_case_step(session, story.engine, story.case, "complete_inventory", actor=story.counsellor)
    # The inventory is complete: the referral is prepared at the next tick (no release date to wait for).
    story.engine.tick_batch(session, now=NOW + timedelta(minutes=1))
    assert story.state() == "referral_due"
    plan = plan_release(session, story.engine, story.counsellor, story.case, released_on=TODAY)
    assert (plan.sends_referral, plan.referral_note) == (True, None)

    result = record_release(session, story.engine, story.counsellor, story.case, released_on=TODAY)

    assert story.state() == result.state == "referred"
    referral = session.scalars(select(Referral).where(Referral.case_id == story.case.id)).one()
    assert result.referral is not None
    assert result.referral.id == referral.id
    assert referral.include_district_team is False
    [l8] = story.letters(letter_type="L8")
    assert l8.status == LetterStatus.QUEUED.value, "the referral letter is not stopped by the release"
    actions = session.scalars(
        select(AuditEntry.action).where(AuditEntry.case_id == story.case.id).order_by(AuditEntry.id)
    ).all()
    assert "referral.send" in actions
    assert "case.release" in actions
    assert "refer_now" not in story.tasks(story.counsellor)


def test_pi_staff_leave_the_referral_due_today_and_say_why(session: Session, wf_engine: Engine) -> None:
    story = Story(session, wf_engine, detention_type=DetentionType.PRE_TRIAL, expected_release=None)
    story.consent()
    take_case_step(session, story.engine, story.case, "request_referral", actor=story.counsellor)

    plan = plan_release(session, story.engine, story.staff, story.case, released_on=TODAY)
    assert plan.sends_referral is False
    assert plan.referral_note is not None
    assert "schuldhulpverlener" in plan.referral_note
    result = record_release(session, story.engine, story.staff, story.case, released_on=TODAY)

    assert (result.state, result.referral) == ("referral_due", None)
    assert session.scalars(select(Referral).where(Referral.case_id == story.case.id)).first() is None
    history = story.engine.history(session, session.get_one(WorkflowInstance, story.case.instance_id))
    assert (history[-1].event, history[-1].payload) == ("release_early", {"released_on": "2026-03-02"})


def test_without_a_municipality_the_counsellor_gets_the_referral_due_today(session: Session, wf_engine: Engine) -> None:
    story = Story(session, wf_engine)
    story.consent()
    story.case.municipality_id = None
    session.flush()

    result = record_release(session, story.engine, story.counsellor, story.case, released_on=TODAY)

    assert (result.state, result.referral) == ("referral_due", None)
    assert story.tasks(story.counsellor)["referral_due"] == [("Verwijzing versturen", TODAY, True)]


def test_a_release_while_waiting_for_consent_stops_the_consent_form(story: Story) -> None:
    take_case_step(story.session, story.engine, story.case, "request_consent", actor=story.staff)
    [form] = story.letters(letter_type="L9")

    record_release(story.session, story.engine, story.staff, story.case, released_on=TODAY)

    story.session.refresh(form)
    assert form.status == LetterStatus.CANCELLED.value
    assert story.state() == "referral_due"


def test_a_release_after_the_referral_keeps_the_state_and_records_the_day(story: Story) -> None:
    story.consent()
    take_case_step(story.session, story.engine, story.case, "request_referral", actor=story.counsellor)
    from schulden.referrals.services import send_referral

    send_referral(story.session, story.engine, story.case, actor=story.counsellor, include_district_team=False)

    result = record_release(story.session, story.engine, story.counsellor, story.case, released_on=TODAY)

    assert result.state == "referred"
    assert story.case.actual_release == TODAY
    [l8] = story.letters(letter_type="L8")
    assert l8.status == LetterStatus.QUEUED.value


@pytest.mark.parametrize(
    ("released_on", "message"),
    [
        (TODAY + timedelta(days=1), "De datum van vrijlating ligt in de toekomst."),
        (date(2025, 1, 5), "De datum van vrijlating ligt voor het begin van de detentie."),
    ],
)
def test_the_release_date_is_checked(story: Story, released_on: date, message: str) -> None:
    story.consent()
    with pytest.raises(ValidationFailed) as caught:
        record_release(story.session, story.engine, story.staff, story.case, released_on=released_on)
    assert caught.value.errors == {"released_on": [message]}
    assert story.case.actual_release is None


def test_a_release_is_recorded_once_and_not_on_a_closed_case(story: Story) -> None:
    story.consent()
    record_release(story.session, story.engine, story.staff, story.case, released_on=TODAY)
    with pytest.raises(ReleaseRefused, match="al vastgelegd"):
        record_release(story.session, story.engine, story.staff, story.case, released_on=TODAY)

    other = Story(story.session, story.engine)
    fire_case_event(story.session, story.engine, other.case, "cancel", actor=other.staff, reason="dubbel")
    with pytest.raises(ReleaseRefused, match="afgesloten"):
        record_release(story.session, story.engine, other.staff, other.case, released_on=TODAY)
    volunteer = UserActor(user_id=3, role=Role.VOLUNTEER, organisation_id=other.pi.id)
    with pytest.raises(NotPermitted):
        plan_release(story.session, story.engine, volunteer, other.case, released_on=TODAY)


# -- letters the counsellor delivers by hand ----------------------------------------------------------------------


def _manual(story: Story, letter: Letter, note: str = "het contactformulier op zorgverzekeraar.example") -> None:
    letter.channel = Channel.MANUAL.value
    letter.recipient_channel_note = note
    story.render(letter)


def test_a_manual_letter_is_a_task_and_sent_manually_starts_the_creditors_clock(story: Story) -> None:
    story.consent()
    debt = story.debt()
    letter = story.write(debt)
    _manual(story, letter)

    [task] = story.tasks(story.counsellor)["send_manually"]
    assert task == (
        "Zelf versturen: Melding detentie, verzoek opschorting incasso en saldo-opgave aan Schuldeiser B.V. via het "
        "contactformulier op zorgverzekeraar.example",
        TODAY,
        False,
    )
    assert "send_manually" not in story.tasks(story.staff), "the counsellor's task, not the PI's"

    mark_sent_manually(story.session, story.engine, story.counsellor, letter.id)

    assert (letter.status, letter.sent_at) == (LetterStatus.SENT.value, NOW)
    assert story.debt_state(debt) == "notified"
    assert "send_manually" not in story.tasks(story.counsellor)
    assert story.session.scalars(
        select(AuditEntry.object_id).where(AuditEntry.action == "letter.sent_manually")
    ).all() == [str(letter.id)]
    with pytest.raises(LetterStateError):
        mark_sent_manually(story.session, story.engine, story.counsellor, letter.id)


def test_only_a_rendered_manual_letter_is_sent_manually_and_only_by_the_counsellor(story: Story) -> None:
    story.consent()
    posted = story.write(story.debt())
    story.render(posted)
    with pytest.raises(LetterStateError):
        mark_sent_manually(story.session, story.engine, story.counsellor, posted.id)
    queued = story.write(story.debt())
    queued.channel = Channel.MANUAL.value
    with pytest.raises(LetterStateError):
        mark_sent_manually(story.session, story.engine, story.counsellor, queued.id)
    with pytest.raises(NotPermitted):
        mark_sent_manually(story.session, story.engine, story.staff, queued.id)
