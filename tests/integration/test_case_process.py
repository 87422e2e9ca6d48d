"""The case process (domain.md 9.1) as a user meets it: consent, inventory, the referral window, the Wgs clock,
holding, withdrawing consent and closing. Timers are fired with `tick_batch` inside the rolled-back session.

Moments are written in Amsterdam time and passed as aware UTC, as the application does; deadlines are checked
against dates worked out by hand with the working-day convention of domain.md 9.4.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from schulden.cases.models import Case, ClosureReason, DetentionType, Threat
from schulden.cases.services import fire_case_event
from schulden.cases.workflow import build_case_process
from schulden.debts.models import Debt
from schulden.debts.services import fire_debt_event
from schulden.roles import Role
from tests.conftest import NOW, actor
from tests.factories import make_case, make_debt
from workflows import (
    PREVIOUS,
    SYSTEM,
    Actor,
    Engine,
    HistoryEntry,
    TimerRow,
    TimerStatus,
    TransitionRefused,
    WorkflowInstance,
    replay,
)

AMS = ZoneInfo("Europe/Amsterdam")

PI_STAFF = actor(Role.PI_STAFF.value, "user:pi")
VOLUNTEER = actor(Role.VOLUNTEER.value, "user:volunteer")
COUNSELLOR = actor(Role.COUNSELLOR.value, "user:counsellor")
MUNICIPALITY = actor(Role.MUNICIPALITY.value, "user:municipality")
ADMIN = actor(Role.ADMIN.value, "user:admin")


def at(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    """A moment given in Amsterdam time, as an aware UTC datetime."""
    return datetime(year, month, day, hour, minute, tzinfo=AMS).astimezone(UTC)


def midnight(day: date) -> datetime:
    """00:00 in Amsterdam on `day`: when a timer for that date fires."""
    return datetime.combine(day, time(0, 0), tzinfo=AMS)


# -- helpers ---------------------------------------------------------------------------------------------------------


def instance_of(session: Session, case: Case) -> WorkflowInstance:
    return session.get_one(WorkflowInstance, case.instance_id)


def state_of(session: Session, case: Case) -> str:
    return instance_of(session, case).state


def fire(
    session: Session,
    engine: Engine,
    case: Case,
    event: str,
    who: Actor = COUNSELLOR,
    *,
    now: datetime = NOW,
    payload: Mapping[str, Any] | None = None,
    reason: str | None = None,
) -> HistoryEntry:
    return fire_case_event(session, engine, case, event, actor=who, payload=payload, reason=reason, now=now)


def refusal(
    session: Session,
    engine: Engine,
    case: Case,
    event: str,
    who: Actor = COUNSELLOR,
    *,
    payload: Mapping[str, Any] | None = None,
    reason: str | None = None,
) -> TransitionRefused:
    """Fire an event that must be refused; the case must be unchanged afterwards."""
    before = (state_of(session, case), len(history(session, engine, case)))
    with pytest.raises(TransitionRefused) as refused:
        fire(session, engine, case, event, who, payload=payload, reason=reason)
    assert (state_of(session, case), len(history(session, engine, case))) == before
    return refused.value


def history(session: Session, engine: Engine, case: Case) -> list[HistoryEntry]:
    return engine.history(session, instance_of(session, case))


def timers(session: Session, engine: Engine, case: Case, *, active_only: bool = True) -> list[TimerRow]:
    return engine.timers(session, instance_of(session, case), active_only=active_only)


def timer_named(session: Session, engine: Engine, case: Case, name: str) -> TimerRow:
    [timer] = [t for t in timers(session, engine, case) if t.name == name]
    return timer


def settle(session: Session, engine: Engine, debt: Debt, *, now: datetime = NOW) -> None:
    """Bring a debt to balance_confirmed, a state that no longer holds up the inventory."""
    fire_debt_event(session, engine, debt, "send_letters", actor=COUNSELLOR, now=now)
    fire_debt_event(session, engine, debt, "letters_sent", actor=SYSTEM, now=now)
    fire_debt_event(session, engine, debt, "confirm_balance", actor=COUNSELLOR, now=now)


def in_inventory(
    session: Session,
    engine: Engine,
    *,
    expected_release: date | None = None,
    detention_type: DetentionType = DetentionType.PRISON_SENTENCE,
    now: datetime = NOW,
) -> Case:
    case = make_case(session, engine, expected_release=expected_release, detention_type=detention_type, now=now)
    fire(session, engine, case, "record_consent", PI_STAFF, now=now)
    return case


def referred_on(session: Session, engine: Engine, now: datetime, *, threat: Threat | None = None) -> Case:
    """A case whose referral is sent at `now` (after a threat, when given)."""
    case = in_inventory(session, engine, now=now)
    if threat is not None:
        fire(session, engine, case, "flag_threat", PI_STAFF, payload={"threat": threat.value}, now=now)
    fire(session, engine, case, "request_referral", now=now)
    fire(session, engine, case, "send_referral", now=now)
    assert state_of(session, case) == "referred"
    return case


# -- consent ---------------------------------------------------------------------------------------------------------


def test_open_case_starts_in_draft(session: Session, wf_engine: Engine) -> None:
    case = make_case(session, wf_engine)

    instance = instance_of(session, case)
    assert (instance.state, instance.is_final, instance.process) == ("draft", False, "case")
    [entry] = history(session, wf_engine, case)
    assert (entry.event, entry.to_state, entry.actor_id) == ("start", "draft", "user:pi")
    assert timers(session, wf_engine, case) == []


def test_request_consent_awaits_the_signature_and_asks_for_letter_l9(session: Session, wf_engine: Engine) -> None:
    case = make_case(session, wf_engine)

    entry = fire(session, wf_engine, case, "request_consent", PI_STAFF)

    assert state_of(session, case) == "awaiting_consent"
    assert (entry.from_state, entry.to_state, entry.actor_id) == ("draft", "awaiting_consent", "user:pi")
    [effect] = entry.effects
    assert (effect["effect"], effect["types"], len(effect["letters"])) == ("request_letters:L9", ["L9"], 1)
    reminder = timer_named(session, wf_engine, case, "consent_reminder")
    assert reminder.deadline == date(2026, 3, 9)  # Monday 2 March 2026 + 5 working days


def test_consent_reminder_fires_after_five_working_days_and_keeps_waiting(session: Session, wf_engine: Engine) -> None:
    case = make_case(session, wf_engine)
    fire(session, wf_engine, case, "request_consent", PI_STAFF)

    assert wf_engine.tick_batch(session, now=at(2026, 3, 9, 23, 59)).fired == 0
    assert wf_engine.tick_batch(session, now=at(2026, 3, 10, 0, 30)).fired == 1

    assert state_of(session, case) == "awaiting_consent"
    last = history(session, wf_engine, case)[-1]
    assert (last.event, last.actor_id, last.effects) == (
        "consent_reminder_due",
        "system",
        [{"effect": "remind_consent", "status": "intent"}],
    )


def test_record_consent_starts_the_inventory(session: Session, wf_engine: Engine) -> None:
    case = make_case(session, wf_engine)
    fire(session, wf_engine, case, "request_consent", PI_STAFF)

    fire(session, wf_engine, case, "record_consent", PI_STAFF)

    assert state_of(session, case) == "inventory"
    # The consent reminder stops once the signature is in.
    assert [(t.name, t.status) for t in timers(session, wf_engine, case, active_only=False)] == [
        ("consent_reminder", TimerStatus.CANCELLED)
    ]


def test_refuse_consent_closes_the_case_with_no_consent(session: Session, wf_engine: Engine) -> None:
    case = make_case(session, wf_engine)
    fire(session, wf_engine, case, "request_consent", PI_STAFF)

    entry = fire(session, wf_engine, case, "refuse_consent", PI_STAFF)

    instance = instance_of(session, case)
    assert (instance.state, instance.is_final) == ("closed", True)
    assert case.closure_reason == ClosureReason.NO_CONSENT
    assert entry.effects == [
        {"effect": "close_case", "closure_reason": "no_consent"},
        {"effect": "close_debts", "debts": 0},
        {"effect": "cancel_outgoing_letters", "cancelled": 1},  # the consent form L9 that was never signed
        {"effect": "cancel_referrals", "cancelled": 0},
    ]
    assert timers(session, wf_engine, case) == []


def test_cancel_a_draft_requires_a_reason_and_closes_as_other(session: Session, wf_engine: Engine) -> None:
    case = make_case(session, wf_engine)

    assert refusal(session, wf_engine, case, "cancel", PI_STAFF).code == "reason_required"
    fire(session, wf_engine, case, "cancel", PI_STAFF, reason="dubbel aangemaakt")

    assert state_of(session, case) == "closed"
    assert case.closure_reason == ClosureReason.OTHER


# -- who may do what -------------------------------------------------------------------------------------------------


def test_a_volunteer_may_start_a_case_but_not_record_consent(session: Session, wf_engine: Engine) -> None:
    case = make_case(session, wf_engine, actor=VOLUNTEER)
    assert state_of(session, case) == "draft"

    refused = refusal(session, wf_engine, case, "record_consent", VOLUNTEER)

    assert (refused.code, refused.reason) == ("role", "Uw rol mag deze actie niet uitvoeren.")
    assert refusal(session, wf_engine, case, "request_consent", VOLUNTEER).code == "role"


def test_a_municipality_user_may_not_start_a_case(session: Session, wf_engine: Engine) -> None:
    with pytest.raises(TransitionRefused) as refused:
        make_case(session, wf_engine, actor=MUNICIPALITY)

    assert (refused.value.code, refused.value.reason) == ("role", "Uw rol mag dit proces niet starten.")


@pytest.mark.parametrize(
    ("setup", "event"),
    [
        ((), "request_consent"),
        ((), "record_consent"),
        (("record_consent",), "complete_inventory"),
        (("record_consent",), "request_referral"),
        (("record_consent", "request_referral"), "send_referral"),
        (("record_consent", "request_referral"), "put_on_hold"),
        (("record_consent",), "withdraw_consent"),
    ],
)
def test_a_municipality_user_cannot_fire_counsellor_events(
    session: Session, wf_engine: Engine, setup: tuple[str, ...], event: str
) -> None:
    case = make_case(session, wf_engine)
    for step in setup:
        fire(session, wf_engine, case, step)

    refused = refusal(session, wf_engine, case, event, MUNICIPALITY, reason="reden")

    assert refused.code == "role"


def test_available_events_tell_a_volunteer_why_consent_is_not_theirs(session: Session, wf_engine: Engine) -> None:
    case = make_case(session, wf_engine)

    options = {o.event: o for o in wf_engine.available_events(session, instance_of(session, case), VOLUNTEER, now=NOW)}

    assert (options["record_consent"].allowed, options["record_consent"].code) == (False, "role")
    assert (options["complete_inventory"].allowed, options["complete_inventory"].code) == (False, "state")


def test_available_events_offer_close_and_flag_threat_to_a_counsellor(session: Session, wf_engine: Engine) -> None:
    case = in_inventory(session, wf_engine)

    options = {o.event: o for o in wf_engine.available_events(session, instance_of(session, case), COUNSELLOR, now=NOW)}

    assert options["close"].allowed
    assert options["close"].requires_reason
    assert options["flag_threat"].allowed


# -- completing the inventory -----------------------------------------------------------------------------------------


def test_complete_inventory_is_refused_without_debts(session: Session, wf_engine: Engine) -> None:
    case = in_inventory(session, wf_engine)

    refused = refusal(session, wf_engine, case, "complete_inventory")

    assert (refused.code, refused.reason) == ("guard", "Er zijn nog geen schulden vastgelegd.")


def test_complete_inventory_is_refused_while_a_debt_is_open(session: Session, wf_engine: Engine) -> None:
    case = in_inventory(session, wf_engine)
    settle(session, wf_engine, make_debt(session, wf_engine, case))
    open_debt = make_debt(session, wf_engine, case, debt_type="energie")
    fire_debt_event(session, wf_engine, open_debt, "send_letters", actor=COUNSELLOR, now=NOW)

    refused = refusal(session, wf_engine, case, "complete_inventory")

    assert (refused.code, refused.reason) == ("guard", "Nog 1 schuld(en) wachten op antwoord of actie.")


def test_complete_inventory_when_every_debt_is_confirmed_or_unanswered(session: Session, wf_engine: Engine) -> None:
    case = in_inventory(session, wf_engine)
    settle(session, wf_engine, make_debt(session, wf_engine, case))
    silent = make_debt(session, wf_engine, case, debt_type="cjib_boete")
    fire_debt_event(session, wf_engine, silent, "send_letters", actor=COUNSELLOR, now=NOW)
    fire_debt_event(session, wf_engine, silent, "letters_sent", actor=SYSTEM, now=NOW)
    for timer_event in ("reply_overdue", "second_reminder_due", "no_reply"):
        fire_debt_event(session, wf_engine, silent, timer_event, actor=SYSTEM, now=NOW)
    assert session.get_one(WorkflowInstance, silent.instance_id).state == "no_response"

    fire(session, wf_engine, case, "complete_inventory")

    assert state_of(session, case) == "inventory_complete"


def test_complete_inventory_counts_only_the_debts_of_this_case(session: Session, wf_engine: Engine) -> None:
    case = in_inventory(session, wf_engine)
    settle(session, wf_engine, make_debt(session, wf_engine, case))
    other_case = in_inventory(session, wf_engine)
    make_debt(session, wf_engine, other_case)  # open, but not ours

    fire(session, wf_engine, case, "complete_inventory")

    assert state_of(session, case) == "inventory_complete"


# -- the referral window -------------------------------------------------------------------------------------------


def test_entering_the_inventory_starts_the_referral_window_six_weeks_before_release(
    session: Session, wf_engine: Engine
) -> None:
    case = in_inventory(session, wf_engine, expected_release=date(2026, 10, 2))  # a Friday

    window = timer_named(session, wf_engine, case, "referral_window")
    assert (window.event, window.status) == ("referral_window_reached", TimerStatus.PENDING)
    assert window.deadline == date(2026, 8, 21)
    assert window.due_at == midnight(date(2026, 8, 21))
    assert window.rule == "verwachte invrijheidstelling min 6 weken"

    assert wf_engine.tick_batch(session, now=at(2026, 8, 20, 23, 59)).fired == 0
    assert state_of(session, case) == "inventory"

    assert wf_engine.tick_batch(session, now=at(2026, 8, 21, 0, 1)).fired == 1
    assert state_of(session, case) == "referral_due"
    assert window.status == TimerStatus.FIRED
    last = history(session, wf_engine, case)[-1]
    assert (last.event, last.actor_id, last.timer_id) == ("referral_window_reached", "system", window.id)


def test_a_pre_trial_case_has_no_referral_window(session: Session, wf_engine: Engine) -> None:
    case = in_inventory(session, wf_engine, detention_type=DetentionType.PRE_TRIAL)

    assert timers(session, wf_engine, case) == []
    wf_engine.tick_batch(session, now=at(2027, 6, 1))
    assert state_of(session, case) == "inventory"


def test_release_near_escalates_a_case_not_yet_referred(session: Session, wf_engine: Engine) -> None:
    case = in_inventory(session, wf_engine, expected_release=date(2026, 10, 2))
    wf_engine.tick_batch(session, now=at(2026, 8, 21, 0, 1))

    escalation = timer_named(session, wf_engine, case, "release_near")
    assert escalation.deadline == date(2026, 9, 18)  # two weeks before the release
    wf_engine.tick_batch(session, now=at(2026, 9, 18, 0, 30))

    assert state_of(session, case) == "referral_due"
    assert history(session, wf_engine, case)[-1].effects == [{"effect": "escalate_referral", "status": "intent"}]


# Only `inventory`: a complete inventory does not wait for the window, it is due at the next tick (see below).
@pytest.mark.parametrize("state", ["inventory"])
def test_change_release_date_restarts_the_referral_window(session: Session, wf_engine: Engine, state: str) -> None:
    case = in_inventory(session, wf_engine, expected_release=date(2026, 10, 2))
    if state == "inventory_complete":
        settle(session, wf_engine, make_debt(session, wf_engine, case))
        fire(session, wf_engine, case, "complete_inventory")
    old = timer_named(session, wf_engine, case, "referral_window")

    case.expected_release = date(2026, 11, 13)
    fire(session, wf_engine, case, "change_release_date", PI_STAFF, now=at(2026, 5, 4))

    assert state_of(session, case) == state
    assert old.status == TimerStatus.CANCELLED
    new = timer_named(session, wf_engine, case, "referral_window")
    assert new.id != old.id
    assert (new.deadline, new.due_at) == (date(2026, 10, 2), midnight(date(2026, 10, 2)))

    wf_engine.tick_batch(session, now=at(2026, 8, 21, 0, 1))  # the old date passes: nothing happens
    assert state_of(session, case) == state
    wf_engine.tick_batch(session, now=at(2026, 10, 2, 0, 1))
    assert state_of(session, case) == "referral_due"


# -- the Wgs clock after the referral --------------------------------------------------------------------------------


def test_send_referral_asks_for_l8_and_hands_over_the_debts(session: Session, wf_engine: Engine) -> None:
    case = in_inventory(session, wf_engine)
    fire(session, wf_engine, case, "request_referral")

    open_debt = make_debt(session, wf_engine, case)
    settled = make_debt(session, wf_engine, case)
    settle(session, wf_engine, settled)

    entry = fire(session, wf_engine, case, "send_referral")

    assert entry.effects == [
        {"effect": "mark_referred", "municipality_id": case.municipality_id},
        {"effect": "request_letters:L8", "letters": entry.effects[1]["letters"], "types": ["L8"]},
        {"effect": "create_referral", "referral": entry.effects[2]["referral"], "sequence": 1, "channel": "email"},
        {"effect": "hand_over_debts", "debts": 2},
    ]
    assert case.referred_at == entry.at
    for debt in (open_debt, settled):
        instance = session.get_one(WorkflowInstance, debt.instance_id)
        assert instance.state == "handed_over"
        assert wf_engine.timers(session, instance) == []


def test_closing_a_case_stops_the_clocks_of_its_debts(session: Session, wf_engine: Engine) -> None:
    case = in_inventory(session, wf_engine)
    debt = make_debt(session, wf_engine, case)
    fire_debt_event(session, wf_engine, debt, "send_letters", actor=COUNSELLOR, now=NOW)

    entry = fire(session, wf_engine, case, "withdraw_consent")

    assert {"effect": "close_debts", "debts": 1} in entry.effects
    instance = session.get_one(WorkflowInstance, debt.instance_id)
    assert instance.state == "closed"
    assert wf_engine.timers(session, instance) == []  # no reminder L3 will be asked for


def test_a_threat_after_the_referral_restarts_the_wgs_clock_on_three_working_days(
    session: Session, wf_engine: Engine
) -> None:
    case = referred_on(session, wf_engine, at(2026, 3, 2))
    assert timer_named(session, wf_engine, case, "wgs_first_conversation").deadline == date(2026, 3, 30)

    fire(session, wf_engine, case, "flag_threat", PI_STAFF, payload={"threat": "eviction"}, now=at(2026, 3, 10))

    assert state_of(session, case) == "referred"
    # Tuesday 10 March 2026 + 3 working days = Friday 13 March.
    assert timer_named(session, wf_engine, case, "wgs_first_conversation").deadline == date(2026, 3, 13)


@pytest.mark.parametrize(
    ("sent", "deadline"),
    [
        # Monday 2 March 2026 -> Monday 30 March 2026 (the clocks go forward on 29 March).
        (at(2026, 3, 2), date(2026, 3, 30)),
        # Tuesday 30 March 2027 -> Tuesday 27 April 2027 is King's Day -> Wednesday 28 April 2027.
        (at(2027, 3, 30), date(2027, 4, 28)),
    ],
)
def test_send_referral_gives_the_municipality_four_weeks(
    session: Session, wf_engine: Engine, sent: datetime, deadline: date
) -> None:
    case = referred_on(session, wf_engine, sent)

    wgs = timer_named(session, wf_engine, case, "wgs_first_conversation")

    assert wgs.event == "wgs_deadline_passed"
    assert wgs.deadline == deadline
    assert wgs.due_at == midnight(date.fromordinal(deadline.toordinal() + 1))
    sent_day = sent.astimezone(AMS).date().isoformat()
    assert wgs.rule == f"4 weken na {sent_day}, naar de eerstvolgende werkdag"


@pytest.mark.parametrize(
    ("sent", "deadline"),
    [
        # Wednesday 23 Dec 2026: Thu 24 (1); Christmas, Boxing Day and the weekend skipped; Mon 28 (2), Tue 29 (3).
        (at(2026, 12, 23), date(2026, 12, 29)),
        # Thursday 25 March 2027: Good Friday 26, the weekend and Easter Monday 29 skipped; Tue 30 (1), Wed 31 (2),
        # Thu 1 April (3).
        (at(2027, 3, 25), date(2027, 4, 1)),
    ],
)
def test_send_referral_with_a_threat_gives_three_working_days(
    session: Session, wf_engine: Engine, sent: datetime, deadline: date
) -> None:
    case = referred_on(session, wf_engine, sent, threat=Threat.EVICTION)

    assert (case.urgent, case.threat) == (True, "eviction")
    wgs = timer_named(session, wf_engine, case, "wgs_first_conversation")
    assert wgs.deadline == deadline
    sent_day = sent.astimezone(AMS).date().isoformat()
    assert wgs.rule == f"3 werkdagen na {sent_day} (Algemene termijnenwet)"


def test_an_attachment_alone_keeps_the_four_week_wgs_deadline(session: Session, wf_engine: Engine) -> None:
    case = referred_on(session, wf_engine, at(2026, 3, 2), threat=Threat.ATTACHMENT)

    wgs = timer_named(session, wf_engine, case, "wgs_first_conversation")

    assert wgs.deadline == date(2026, 3, 30)


def test_flag_threat_needs_a_known_threat(session: Session, wf_engine: Engine) -> None:
    case = in_inventory(session, wf_engine)

    refused = refusal(session, wf_engine, case, "flag_threat", VOLUNTEER, payload={"threat": "burglary"})

    assert (refused.code, refused.reason) == (
        "guard",
        "Kies een dreiging: eviction, utility_cut_off, insurance_termination, attachment.",
    )
    assert not case.urgent
    entry = fire(session, wf_engine, case, "flag_threat", VOLUNTEER, payload={"threat": "utility_cut_off"})
    assert (entry.from_state, entry.to_state, case.urgent, case.threat) == (
        "inventory",
        "inventory",
        True,
        "utility_cut_off",
    )


def test_wgs_deadline_passed_flags_a_breach_and_the_case_stays_referred(session: Session, wf_engine: Engine) -> None:
    case = referred_on(session, wf_engine, at(2026, 12, 23), threat=Threat.EVICTION)  # deadline Tue 29 Dec
    wgs = timer_named(session, wf_engine, case, "wgs_first_conversation")

    assert wf_engine.tick_batch(session, now=at(2026, 12, 29, 23, 59)).fired == 0
    assert wf_engine.tick_batch(session, now=at(2026, 12, 30, 0, 30)).fired == 1

    assert state_of(session, case) == "referred"
    assert wgs.status == TimerStatus.FIRED
    last = history(session, wf_engine, case)[-1]
    assert (last.event, last.actor_id, last.timer_id) == ("wgs_deadline_passed", "system", wgs.id)
    [effect] = last.effects
    assert effect["effect"] == "flag_wgs_breach"
    assert effect["referral"] is not None  # the referral row carries the breach, for both sides to see
    # Our own reminder to the municipality runs on (10 working days: Friday 8 January 2027).
    assert timer_named(session, wf_engine, case, "referral_reminder").deadline == date(2027, 1, 8)


def test_a_referral_with_a_threat_on_good_friday_skips_easter_monday(session: Session, wf_engine: Engine) -> None:
    # Good Friday 26 March 2027 and Easter Monday 29 March are no working days (Atw): Tue 30, Wed 31, Thu 1 April.
    case = referred_on(session, wf_engine, at(2027, 3, 26), threat=Threat.UTILITY_CUT_OFF)

    assert timer_named(session, wf_engine, case, "wgs_first_conversation").deadline == date(2027, 4, 1)


def test_a_referral_without_a_threat_on_good_friday_gets_four_weeks(session: Session, wf_engine: Engine) -> None:
    case = referred_on(session, wf_engine, at(2027, 3, 26))

    assert timer_named(session, wf_engine, case, "wgs_first_conversation").deadline == date(2027, 4, 23)


def test_referral_reminder_after_ten_working_days(session: Session, wf_engine: Engine) -> None:
    case = referred_on(session, wf_engine, at(2026, 3, 2))

    # Monday 2 March 2026 + 10 working days = Monday 16 March.
    assert wf_engine.tick_batch(session, now=at(2026, 3, 16, 23, 0)).fired == 0
    assert wf_engine.tick_batch(session, now=at(2026, 3, 17, 0, 30)).fired == 1

    assert state_of(session, case) == "referred"
    assert history(session, wf_engine, case)[-1].effects == [{"effect": "remind_municipality", "status": "intent"}]
    assert timer_named(session, wf_engine, case, "wgs_first_conversation").status == TimerStatus.PENDING


# -- holding ---------------------------------------------------------------------------------------------------------


def test_put_on_hold_requires_a_reason(session: Session, wf_engine: Engine) -> None:
    case = in_inventory(session, wf_engine)

    refused = refusal(session, wf_engine, case, "put_on_hold", PI_STAFF, reason="  ")

    assert (refused.code, refused.reason) == ("reason_required", "Geef een reden op voor deze actie.")


_TO_STATE: Mapping[str, tuple[str, ...]] = {
    "awaiting_consent": ("request_consent",),
    "inventory": ("record_consent",),
    "inventory_complete": ("record_consent", "complete_inventory"),
    "referral_due": ("record_consent", "request_referral"),
}


@pytest.mark.parametrize("state", list(_TO_STATE))
def test_resume_returns_to_the_state_before_the_hold(session: Session, wf_engine: Engine, state: str) -> None:
    case = make_case(session, wf_engine, expected_release=date(2026, 10, 2))
    for step in _TO_STATE[state]:
        if step == "complete_inventory":
            settle(session, wf_engine, make_debt(session, wf_engine, case))
        fire(session, wf_engine, case, step)
    assert state_of(session, case) == state

    fire(session, wf_engine, case, "put_on_hold", PI_STAFF, reason="overplaatsing naar PI Vught")
    assert state_of(session, case) == "on_hold"
    assert {t.status for t in timers(session, wf_engine, case)} <= {TimerStatus.PAUSED}
    fire(session, wf_engine, case, "resume", PI_STAFF, now=at(2026, 3, 5))

    assert state_of(session, case) == state
    assert {t.status for t in timers(session, wf_engine, case)} <= {TimerStatus.PENDING}


def test_a_hold_of_ten_days_shifts_the_referral_window_by_ten_days(session: Session, wf_engine: Engine) -> None:
    case = in_inventory(session, wf_engine, expected_release=date(2026, 10, 14))
    window = timer_named(session, wf_engine, case, "referral_window")
    assert window.deadline == date(2026, 9, 2)  # a Wednesday

    fire(session, wf_engine, case, "put_on_hold", PI_STAFF, reason="cliënt onbereikbaar", now=at(2026, 8, 25))
    assert window.status == TimerStatus.PAUSED
    assert wf_engine.tick_batch(session, now=at(2026, 9, 3, 12)).fired == 0  # due, but held
    fire(session, wf_engine, case, "resume", PI_STAFF, now=at(2026, 9, 4))

    [resumed] = timers(session, wf_engine, case)
    assert resumed.id == window.id  # the same clock runs on
    assert resumed.status == TimerStatus.PENDING
    # 2 September + 10 days = Saturday 12 September, rolled to Monday 14 September.
    assert (resumed.deadline, resumed.due_at) == (date(2026, 9, 14), midnight(date(2026, 9, 14)))
    assert "10 dag(en) aangehouden" in resumed.rule

    assert wf_engine.tick_batch(session, now=at(2026, 9, 13, 12)).fired == 0
    assert wf_engine.tick_batch(session, now=at(2026, 9, 14, 0, 30)).fired == 1
    assert state_of(session, case) == "referral_due"


def test_a_hold_of_ten_days_across_the_end_of_summer_time_shifts_by_ten_days(
    session: Session, wf_engine: Engine
) -> None:
    case = in_inventory(session, wf_engine, expected_release=date(2026, 12, 21))
    assert timer_named(session, wf_engine, case, "referral_window").deadline == date(2026, 11, 9)  # a Monday

    fire(session, wf_engine, case, "put_on_hold", PI_STAFF, reason="overplaatsing", now=at(2026, 10, 20))
    fire(session, wf_engine, case, "resume", PI_STAFF, now=at(2026, 10, 30))

    assert timer_named(session, wf_engine, case, "referral_window").deadline == date(2026, 11, 19)


def test_release_early_from_hold_goes_straight_to_referral_due(session: Session, wf_engine: Engine) -> None:
    case = in_inventory(session, wf_engine, expected_release=date(2026, 10, 2))
    fire(session, wf_engine, case, "put_on_hold", PI_STAFF, reason="overplaatsing")
    paused = timer_named(session, wf_engine, case, "referral_window")

    entry = fire(session, wf_engine, case, "release_early", PI_STAFF, now=at(2026, 3, 3))

    assert state_of(session, case) == "referral_due"
    assert entry.effects == [{"effect": "refer_same_day", "status": "intent"}]
    assert paused.status == TimerStatus.CANCELLED
    assert [t.name for t in timers(session, wf_engine, case)] == ["release_near"]


# -- withdrawing consent and closing ---------------------------------------------------------------------------------


def test_withdraw_consent_closes_the_case_and_stops_the_letters(session: Session, wf_engine: Engine) -> None:
    case = in_inventory(session, wf_engine, expected_release=date(2026, 10, 2))

    entry = fire(session, wf_engine, case, "withdraw_consent", PI_STAFF)

    instance = instance_of(session, case)
    assert (instance.state, instance.is_final) == ("closed", True)
    assert case.closure_reason == ClosureReason.CONSENT_WITHDRAWN
    assert entry.effects == [
        {"effect": "cancel_outgoing_letters", "cancelled": 0},
        {"effect": "cancel_referrals", "cancelled": 0},
        {"effect": "request_letters:L10", "letters": entry.effects[2]["letters"], "types": ["L10"]},
        {"effect": "notify_creditors_of_withdrawal", "letters": []},
        {"effect": "close_case", "closure_reason": "consent_withdrawn"},
        {"effect": "close_debts", "debts": 0},
    ]
    from schulden.letters.models import Letter

    [l10] = session.scalars(select(Letter).where(Letter.case_id == case.id)).all()
    assert (l10.letter_type, l10.status) == ("L10", "queued")  # the withdrawal letter itself goes out
    assert timers(session, wf_engine, case) == []


def test_close_requires_a_reason(session: Session, wf_engine: Engine) -> None:
    case = in_inventory(session, wf_engine)

    refused = refusal(session, wf_engine, case, "close", payload={"closure_reason": "deceased"})

    assert refused.code == "reason_required"


def test_close_refuses_an_unknown_closure_reason_and_lists_the_options(session: Session, wf_engine: Engine) -> None:
    case = in_inventory(session, wf_engine)

    refused = refusal(session, wf_engine, case, "close", payload={"closure_reason": "bored"}, reason="klaar")

    assert refused.code == "guard"
    options = ", ".join(r.value for r in ClosureReason)
    assert refused.reason == f"Kies een reden van afsluiten: {options}."
    assert "released_without_referral" in refused.reason
    assert refusal(session, wf_engine, case, "close", reason="klaar").code == "guard"  # no reason chosen at all


@pytest.mark.parametrize("who", [COUNSELLOR, ADMIN])
def test_close_with_a_known_reason_stores_it(session: Session, wf_engine: Engine, who: Actor) -> None:
    case = in_inventory(session, wf_engine, expected_release=date(2026, 10, 2))

    entry = fire(session, wf_engine, case, "close", who, payload={"closure_reason": "deceased"}, reason="overleden")

    assert state_of(session, case) == "closed"
    assert case.closure_reason == ClosureReason.DECEASED
    assert (entry.reason, entry.payload) == ("overleden", {"closure_reason": "deceased"})
    assert timers(session, wf_engine, case) == []


def test_pi_staff_may_not_close_a_case(session: Session, wf_engine: Engine) -> None:
    case = in_inventory(session, wf_engine)

    refused = refusal(session, wf_engine, case, "close", PI_STAFF, payload={"closure_reason": "other"}, reason="r")

    assert refused.code == "role"


def test_a_closed_case_refuses_every_event(session: Session, wf_engine: Engine) -> None:
    case = in_inventory(session, wf_engine)
    fire(session, wf_engine, case, "withdraw_consent", PI_STAFF)

    refused = refusal(session, wf_engine, case, "flag_threat", PI_STAFF, payload={"threat": "eviction"})

    assert (refused.code, refused.reason) == ("state", "Niet mogelijk in de status 'Afgesloten'.")


# -- the whole path --------------------------------------------------------------------------------------------------


def test_the_stored_state_equals_the_replay_after_the_whole_path(session: Session, wf_engine: Engine) -> None:
    case = make_case(session, wf_engine, expected_release=date(2026, 10, 2))
    settle(session, wf_engine, make_debt(session, wf_engine, case))
    steps: list[tuple[str, Actor, dict[str, Any], str | None, datetime]] = [
        ("request_consent", PI_STAFF, {}, None, at(2026, 3, 2)),
        ("record_consent", PI_STAFF, {}, None, at(2026, 3, 4)),
        ("put_on_hold", PI_STAFF, {}, "overplaatsing", at(2026, 3, 5)),
        ("flag_threat", VOLUNTEER, {"threat": "eviction"}, None, at(2026, 3, 6)),
        ("resume", PI_STAFF, {}, None, at(2026, 3, 9)),
        ("change_release_date", PI_STAFF, {}, None, at(2026, 3, 10)),
        ("complete_inventory", COUNSELLOR, {}, None, at(2026, 3, 12)),
        ("reopen_inventory", COUNSELLOR, {}, None, at(2026, 3, 13)),
        ("complete_inventory", COUNSELLOR, {}, None, at(2026, 3, 16)),
    ]
    for event, who, payload, reason, now in steps:
        if event == "change_release_date":
            case.expected_release = date(2026, 10, 16)  # the window now opens on Friday 4 September
        fire(session, wf_engine, case, event, who, payload=payload, reason=reason, now=now)
    # A complete inventory is ready to hand over: the next tick makes the referral due, long before the window.
    assert wf_engine.tick_batch(session, now=at(2026, 3, 16, 12)).fired == 1
    assert state_of(session, case) == "referral_due"
    first_talk = {"first_conversation_on": "2026-09-09"}
    more: list[tuple[str, Actor, str | None, dict[str, Any]]] = [
        ("send_referral", COUNSELLOR, None, {}),
        ("refuse_referral_not_resident", MUNICIPALITY, "geen inwoner van deze gemeente", {}),
        ("send_referral", COUNSELLOR, None, {}),
        ("accept_referral", MUNICIPALITY, None, first_talk),
        ("complete_handover", MUNICIPALITY, None, {}),
    ]
    for event, who, reason, payload in more:
        fire(session, wf_engine, case, event, who, reason=reason, payload=payload, now=at(2026, 9, 7))
    session.flush()

    instance = instance_of(session, case)
    assert (instance.state, instance.is_final, case.closure_reason) == ("closed", True, "handed_over")
    entries = history(session, wf_engine, case)
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    assert [e.event for e in entries][-6:] == [
        "referral_window_reached",
        "send_referral",
        "refuse_referral_not_resident",
        "send_referral",
        "accept_referral",
        "complete_handover",
    ]
    assert replay(wf_engine.process_of(instance), entries) == (instance.state, instance.previous_state)
    assert timers(session, wf_engine, case) == []


def test_every_open_case_state_can_reach_closed() -> None:
    process = build_case_process()
    hold_sources = {src for src, target, _ in process.edges() if target == "on_hold"}
    successors: dict[str, set[str]] = {s.name: set() for s in process.states}
    for src, target, transition in process.edges():
        if transition.internal:
            continue
        successors[src] |= hold_sources if target == PREVIOUS else {target}

    for state in process.states:
        assert _reaches(successors, state.name, lambda s: process.state(s).final), state.name


def _reaches(successors: Mapping[str, set[str]], start: str, goal: Callable[[str], bool]) -> bool:
    seen, todo = {start}, [start]
    while todo:
        current = todo.pop()
        if goal(current):
            return True
        for nxt in successors[current] - seen:
            seen.add(nxt)
            todo.append(nxt)
    return False


# -- consent rules ---------------------------------------------------------------------------------------------------


def test_without_consent_the_inventory_cannot_start_and_no_letter_goes_out(session: Session, wf_engine: Engine) -> None:
    case = make_case(session, wf_engine, consent=False)

    refused = refusal(session, wf_engine, case, "record_consent", PI_STAFF)

    assert refused.code == "guard"
    assert refused.reason == "Er is geen geldige toestemming voor 'schuldeisers benaderen en saldo opvragen'."


def test_a_withdrawn_consent_for_one_creditor_stops_letters_to_that_creditor_only(
    session: Session, wf_engine: Engine
) -> None:
    from schulden.cases.models import Consent, ConsentPurpose
    from schulden.cases.services import withdraw_consents
    from tests.factories import make_creditor

    case = in_inventory(session, wf_engine)
    landlord, telecom = make_creditor(session, name="Verhuurder"), make_creditor(session, name="Telecom")
    general = session.scalars(
        select(Consent).where(Consent.case_id == case.id, Consent.purpose == ConsentPurpose.CONTACT_CREDITORS.value)
    ).one()
    # Replace the general consent by one per creditor, then withdraw the landlord's.
    withdraw_consents(session, wf_engine, case, actor=PI_STAFF, consent_ids=[general.id], now=NOW)
    for creditor in (landlord, telecom):
        session.add(
            Consent(
                case_id=case.id,
                purpose=ConsentPurpose.CONTACT_CREDITORS.value,
                recipient_creditor_id=creditor.id,
                signed_on=date(2025, 1, 6),
                valid_until=date(2030, 1, 1),
                text_version="test",
                recorded_by="test",
            )
        )
    session.flush()
    landlord_consent = session.scalars(select(Consent).where(Consent.recipient_creditor_id == landlord.id)).one()
    withdraw_consents(session, wf_engine, case, actor=PI_STAFF, consent_ids=[landlord_consent.id], now=NOW)
    rent = make_debt(session, wf_engine, case, creditor=landlord)
    phone = make_debt(session, wf_engine, case, creditor=telecom)

    with pytest.raises(TransitionRefused, match="geen geldige toestemming"):
        fire_debt_event(session, wf_engine, rent, "send_letters", actor=COUNSELLOR, now=NOW)
    fire_debt_event(session, wf_engine, phone, "send_letters", actor=COUNSELLOR, now=NOW)
    assert state_of(session, case) == "inventory"  # a partial withdrawal does not close the case
