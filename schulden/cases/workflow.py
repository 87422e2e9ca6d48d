"""The case process (domain.md section 9.1), declared with the workflow engine.

Clocks: the referral window opens N weeks (settings, default 6) before the expected release; after the referral
the municipality must hold the first conversation within 4 weeks, or 3 working days when eviction, cut-off or
termination of the health insurance threatens (art. 4a Wgs); our reminder to the municipality after 10 working
days. `on_hold` holds the clocks: a case back from hold keeps its deadlines, shifted by the time held.

The PI's own intake clocks (domain.md 1.2: screening within 10 working days of arrival, the D&R-plan within a month,
art. 18a Pbw) are not timers: `record_screening` and `record_dr_plan` mark them done, and the work list shows them
until then (schulden/worklist.py). A release is recorded by its own operation (schulden/cases/release.py), which
fires `release_early`.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from schulden.cases.models import WGS_THREATS, ClosureReason, ConsentPurpose
from schulden.consent_notices import NOTIFY_CREDITORS_OF_WITHDRAWAL
from schulden.debts.models import Debt
from schulden.effects import (
    CANCEL_LETTERS,
    CANCEL_REFERRALS,
    CLOSE_DEBTS,
    CREATE_REFERRAL,
    FLAG_WGS_BREACH,
    HAND_OVER_DEBTS,
    MARK_REFERRED,
    MARK_URGENT,
    MUNICIPALITY_CHOSEN,
    RECORD_ACCEPTANCE,
    REFUSED_NOT_RESIDENT,
    REFUSED_OTHER,
    REQUEST_INTAKE_NOTICES,
    case_of,
    close_case,
    consent_guard,
    first_conversation_given,
    record_intent,
    request_letters,
    valid_closure_reason,
    valid_threat,
)
from schulden.roles import Role
from workflows import (
    ANY,
    PREVIOUS,
    SYSTEM_ROLE,
    After,
    Context,
    Delay,
    DelayFrom,
    Guard,
    OnDate,
    Process,
    State,
    TimerSpec,
    Transition,
    Weeks,
    WorkingDays,
)
from workflows.store import HistoryEntry, WorkflowInstance

PI = Role.PI_STAFF.value
VOLUNTEER = Role.VOLUNTEER.value
COUNSELLOR = Role.COUNSELLOR.value
MUNICIPALITY = Role.MUNICIPALITY.value
ADMIN = Role.ADMIN.value
SYSTEM = SYSTEM_ROLE

#: Debt states in which the inventory still waits for something (domain.md 9.2).
OPEN_DEBT_STATES = frozenset(
    {
        "identified",
        "letters_requested",
        "notified",
        "reminded",
        "reminded_again",
        "answer_received",  # an answer not yet checked holds up the inventory
        "disputed",
        "suspension_requested",
        "arrangement_proposed",
        "termination_requested",
    }
)


def referral_window(weeks: int) -> OnDate:
    """The day the referral window opens: `weeks` before the expected release (none for pre-trial)."""

    def compute(ctx: Context) -> date | None:
        case = case_of(ctx)
        if case is None or case.expected_release is None:
            return None
        return case.expected_release - timedelta(weeks=weeks)

    return OnDate(compute, f"verwachte invrijheidstelling min {weeks} weken")


def _release_escalation(ctx: Context) -> date | None:
    case = case_of(ctx)
    if case is None or case.expected_release is None:
        return None
    # Two calendar weeks before release is about 10 working days: the last moment for a warm handover.
    return case.expected_release - timedelta(days=14)


def _wgs_delay(ctx: Context) -> Delay:
    case = case_of(ctx)
    return WorkingDays(3) if case is not None and case.threat in WGS_THREATS else Weeks(4)


def _inventory_settled(ctx: Context) -> str | None:
    case = case_of(ctx)
    if case is None:
        return "Geen dossier bij deze workflow."
    states = ctx.session.scalars(
        select(WorkflowInstance.state)
        .join(Debt, Debt.instance_id == WorkflowInstance.id)
        .where(Debt.case_id == case.id)
    ).all()
    if not states:
        return "Er zijn nog geen schulden vastgelegd."
    open_count = sum(1 for s in states if s in OPEN_DEBT_STATES)
    if open_count:
        return f"Nog {open_count} schuld(en) wachten op antwoord of actie."
    return None


INVENTORY_SETTLED = Guard("elke schuld is bevestigd, geschat of zonder reactie", _inventory_settled)
THREAT_KNOWN = Guard("de dreiging is bekend", valid_threat, needs_input=True)


def _shortens_the_term(ctx: Context) -> str | None:
    """After the referral only a Wgs threat the case does not have yet restarts the municipality's clock: an
    attachment does not shorten the term, and restarting a running 3-day term would lengthen it."""
    case = case_of(ctx)
    threat = ctx.payload.get("threat")
    if threat not in WGS_THREATS:
        return "Na de verwijzing verkort alleen een dreiging van art. 4a Wgs de termijn van de gemeente."
    if case is not None and case.threat in WGS_THREATS:
        return "De termijn van de gemeente loopt al op het spoor van 3 werkdagen."
    return None


def _not_recorded_yet(event: str, description: str, done: str) -> Guard:
    """Guard: `event` is not in the case's history yet (the intake's steps are each recorded once)."""

    def check(ctx: Context) -> str | None:
        seen = ctx.session.scalar(
            select(HistoryEntry.id).where(HistoryEntry.instance_id == ctx.instance.id, HistoryEntry.event == event)
        )
        return done if seen is not None else None

    return Guard(description, check)


SCREENING_OPEN = _not_recorded_yet(
    "record_screening", "de screening is nog niet vastgelegd", "De screening is al vastgelegd."
)
DR_PLAN_OPEN = _not_recorded_yet(
    "record_dr_plan", "het D&R-plan is nog niet vastgelegd", "Het D&R-plan is al vastgelegd."
)

SHORTENS_THE_TERM = Guard("de dreiging verkort de termijn van de gemeente", _shortens_the_term)
FIRST_CONVERSATION_KNOWN = Guard(
    "de datum van het eerste gesprek is bekend", first_conversation_given, needs_input=True
)
CLOSURE_REASON_KNOWN = Guard("de reden van afsluiten is bekend", valid_closure_reason, needs_input=True)

OPEN_STATES = (
    "draft",
    "awaiting_consent",
    "inventory",
    "inventory_complete",
    "referral_due",
    "referred",
    "rerouting",
    "accepted",
    "on_hold",
)
OPEN_AFTER_CONSENT = ("inventory", "inventory_complete", "referral_due", "referred", "rerouting", "accepted")


def build_case_process(referral_window_weeks: int = 6) -> Process:
    """The case process; the referral window comes from the settings."""
    window = TimerSpec("referral_window", "referral_window_reached", referral_window(referral_window_weeks))
    return Process(
        name="case",
        version=1,
        title="Dossier",
        initial="draft",
        start_roles=frozenset({PI, VOLUNTEER, COUNSELLOR}),
        states=(
            State("draft", "Concept"),
            State(
                "awaiting_consent",
                "Wacht op toestemming",
                timers=(TimerSpec("consent_reminder", "consent_reminder_due", WorkingDays(5)),),
            ),
            State("inventory", "Inventarisatie", timers=(window,)),
            # A complete inventory is ready to hand over: the referral is due at the next tick (issue 5), unless
            # the counsellor reopens it first. The release-date window stays as a second trigger.
            State(
                "inventory_complete",
                "Inventarisatie compleet",
                timers=(window, TimerSpec("inventory_ready", "referral_window_reached", After(timedelta(0)))),
            ),
            State(
                "referral_due",
                "Verwijzing nodig",
                timers=(
                    TimerSpec("release_near", "release_near", OnDate(_release_escalation, "vrijlating min 14 dagen")),
                ),
            ),
            State(
                "referred",
                "Verwezen",
                timers=(
                    TimerSpec("referral_reminder", "referral_reminder_due", WorkingDays(10)),
                    TimerSpec(
                        "wgs_first_conversation",
                        "wgs_deadline_passed",
                        DelayFrom(_wgs_delay, "3 werkdagen bij dreiging, anders 4 weken (art. 4a Wgs)"),
                    ),
                ),
            ),
            State("rerouting", "Herrouteren"),
            State("accepted", "Geaccepteerd door gemeente"),
            State("on_hold", "Aangehouden", holds_clocks=True),
            State("closed", "Afgesloten", final=True),
        ),
        transitions=(
            Transition(
                "request_consent",
                "draft",
                "awaiting_consent",
                roles={PI, COUNSELLOR},
                effects=[request_letters("L9")],
                label="Toestemmingsformulier maken",
            ),
            Transition(
                "record_consent",
                ("draft", "awaiting_consent"),
                "inventory",
                roles={PI, COUNSELLOR},
                guards=[consent_guard(ConsentPurpose.CONTACT_CREDITORS)],
                # The insurer's suspension (L6) and the benefit offices' notices (L7) go at intake (domain.md 2.3).
                effects=[REQUEST_INTAKE_NOTICES],
                label="Getekende toestemming vastleggen",
            ),
            Transition(
                "consent_reminder_due",
                "awaiting_consent",
                "awaiting_consent",
                roles={SYSTEM},
                internal=True,
                effects=[record_intent("remind_consent", "Herinnert de casemanager aan de handtekening")],
            ),
            Transition(
                "refuse_consent",
                "awaiting_consent",
                "closed",
                roles={PI, COUNSELLOR},
                effects=[close_case(ClosureReason.NO_CONSENT), CLOSE_DEBTS, CANCEL_LETTERS, CANCEL_REFERRALS],
                label="Toestemming geweigerd",
            ),
            Transition(
                "cancel",
                "draft",
                "closed",
                roles={PI, COUNSELLOR},
                requires_reason=True,
                effects=[close_case(ClosureReason.OTHER), CLOSE_DEBTS, CANCEL_LETTERS, CANCEL_REFERRALS],
                label="Concept annuleren",
            ),
            Transition(
                "complete_inventory",
                "inventory",
                "inventory_complete",
                roles={COUNSELLOR, SYSTEM},
                guards=[INVENTORY_SETTLED],
                label="Inventarisatie afronden",
            ),
            Transition(
                "reopen_inventory",
                "inventory_complete",
                "inventory",
                roles={PI, COUNSELLOR},
                label="Inventarisatie heropenen",
            ),
            # Not internal: leaving and re-entering the state restarts the referral window on the new date.
            *(
                Transition(
                    "change_release_date",
                    state,
                    state,
                    roles={PI, COUNSELLOR},
                    label="Verwachte vrijlating gewijzigd",
                )
                for state in ("inventory", "inventory_complete")
            ),
            Transition(
                "referral_window_reached",
                ("inventory", "inventory_complete"),
                "referral_due",
                roles={SYSTEM},
            ),
            Transition(
                "request_referral",
                ("inventory", "inventory_complete"),
                "referral_due",
                roles={COUNSELLOR},
                label="Verwijzing voorbereiden",
            ),
            Transition(
                "release_early",
                ("awaiting_consent", "inventory", "inventory_complete", "on_hold"),
                "referral_due",
                roles={PI, COUNSELLOR},
                effects=[record_intent("refer_same_day", "Vrijlating onverwacht: verwijzing nog dezelfde dag")],
                label="Onverwacht vrijgelaten",
            ),
            # Released before consent, or when the referral is already due or sent: the state stays, the history
            # records the day (record_release sets actual_release, stops letters and reminders in every case).
            Transition(
                "release_early",
                ("draft", "referral_due", "rerouting", "referred", "accepted"),
                ANY,
                roles={PI, COUNSELLOR},
                internal=True,
                label="Onverwacht vrijgelaten",
            ),
            Transition(
                "release_near",
                "referral_due",
                "referral_due",
                roles={SYSTEM},
                internal=True,
                effects=[record_intent("escalate_referral", "Vrijlating binnen 10 werkdagen en nog niet verwezen")],
            ),
            Transition(
                "send_referral",
                ("referral_due", "rerouting"),
                "referred",
                roles={COUNSELLOR},
                guards=[MUNICIPALITY_CHOSEN, consent_guard(ConsentPurpose.REFER_MUNICIPALITY, per_municipality=True)],
                effects=[MARK_REFERRED, request_letters("L8"), CREATE_REFERRAL, HAND_OVER_DEBTS],
                label="Verwijzing versturen",
            ),
            Transition(
                "referral_reminder_due",
                "referred",
                "referred",
                roles={SYSTEM},
                internal=True,
                effects=[record_intent("remind_municipality", "Herinnert de gemeente aan de verwijzing")],
            ),
            Transition(
                "wgs_deadline_passed",
                "referred",
                "referred",
                roles={SYSTEM},
                internal=True,
                effects=[FLAG_WGS_BREACH],
            ),
            Transition(
                "accept_referral",
                "referred",
                "accepted",
                roles={MUNICIPALITY},
                guards=[FIRST_CONVERSATION_KNOWN],
                effects=[RECORD_ACCEPTANCE],
                label="Verwijzing accepteren",
            ),
            Transition(
                "refuse_referral_not_resident",
                "referred",
                "rerouting",
                roles={MUNICIPALITY},
                requires_reason=True,
                effects=[REFUSED_NOT_RESIDENT],
                label="Weigeren: geen inwoner",
            ),
            Transition(
                "refuse_referral",
                "referred",
                "closed",
                roles={MUNICIPALITY},
                requires_reason=True,
                effects=[
                    REFUSED_OTHER,
                    close_case(ClosureReason.REFUSED_BY_MUNICIPALITY),
                    CLOSE_DEBTS,
                    CANCEL_LETTERS,
                    CANCEL_REFERRALS,
                ],
                label="Verwijzing weigeren",
            ),
            Transition(
                "complete_handover",
                "accepted",
                "closed",
                roles={COUNSELLOR, MUNICIPALITY},
                effects=[close_case(ClosureReason.HANDED_OVER)],
                label="Warme overdracht afgerond",
            ),
            Transition(
                "put_on_hold",
                ("awaiting_consent", "inventory", "inventory_complete", "referral_due"),
                "on_hold",
                roles={PI, COUNSELLOR},
                requires_reason=True,
                label="Aanhouden",
            ),
            Transition("resume", "on_hold", PREVIOUS, roles={PI, COUNSELLOR}, label="Hervatten"),
            Transition(
                "withdraw_consent",
                (*OPEN_AFTER_CONSENT, "on_hold"),
                "closed",
                roles={PI, COUNSELLOR},
                # Stop what is waiting first, then make the withdrawal letter (which must not be stopped itself).
                effects=[
                    CANCEL_LETTERS,
                    CANCEL_REFERRALS,
                    request_letters("L10"),
                    NOTIFY_CREDITORS_OF_WITHDRAWAL,
                    close_case(ClosureReason.CONSENT_WITHDRAWN),
                    CLOSE_DEBTS,
                ],
                label="Toestemming ingetrokken",
            ),
            Transition(
                "flag_threat",
                [s for s in OPEN_STATES if s != "referred"],
                ANY,
                roles={PI, VOLUNTEER, COUNSELLOR},
                internal=True,
                guards=[THREAT_KNOWN],
                effects=[MARK_URGENT],
                label="Dreiging melden",
            ),
            # After the referral a new threat restarts the municipality's clock: re-entering `referred` starts
            # the Wgs term again, now on the 3-working-day track (art. 4a Wgs).
            Transition(
                "flag_threat",
                "referred",
                "referred",
                roles={PI, VOLUNTEER, COUNSELLOR},
                guards=[THREAT_KNOWN, SHORTENS_THE_TERM],
                effects=[MARK_URGENT],
                label="Dreiging melden",
            ),
            # Data changes that belong in the history: the municipality chosen (with its rule and reason) and a
            # transfer to another PI. Internal: the state and its clocks stay as they are.
            Transition(
                "set_municipality",
                ANY,
                ANY,
                roles={PI, COUNSELLOR, SYSTEM},
                internal=True,
                label="Gemeente kiezen",
            ),
            # The PI's intake (domain.md 1.2): screening within 10 working days of arrival, the D&R-plan within a
            # month (art. 18a Pbw). Until recorded, the work list shows each as a task with its date.
            Transition(
                "record_screening",
                OPEN_STATES,
                ANY,
                roles={PI, COUNSELLOR},
                internal=True,
                guards=[SCREENING_OPEN],
                label="Screening afgerond",
            ),
            Transition(
                "record_dr_plan",
                OPEN_STATES,
                ANY,
                roles={PI, COUNSELLOR},
                internal=True,
                guards=[DR_PLAN_OPEN],
                label="D&R-plan vastgesteld",
            ),
            Transition(
                "record_transfer",
                ANY,
                ANY,
                roles={PI, COUNSELLOR},
                internal=True,
                label="Overplaatsing vastleggen",
            ),
            Transition(
                "close",
                ANY,
                "closed",
                roles={COUNSELLOR, ADMIN},
                requires_reason=True,
                guards=[CLOSURE_REASON_KNOWN],
                effects=[close_case(), CLOSE_DEBTS, CANCEL_LETTERS, CANCEL_REFERRALS],
                label="Dossier afsluiten",
            ),
        ),
    )
