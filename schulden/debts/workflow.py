"""The debt process (domain.md section 9.2), declared with the workflow engine.

The creditor clock: a creditor answers within 10 working days (Schuldenknooppunt procesafspraken). Unanswered,
reminder L3 goes out; then a second reminder; after another 10 working days the debt is `no_response` and the
client's estimate stands. Letters to be written within 5 working days of a debt being found. Once the client's
release is recorded no reminder goes out: it would describe him as detained (the timer is recorded as refused).
"""

from __future__ import annotations

from datetime import date

from schulden.cases.models import Case, ConsentPurpose
from schulden.effects import (
    AMOUNT_CONFIRMED,
    REQUEST_FIRST_CONTACT,
    consent_guard,
    debt_of,
    record_intent,
    request_letters,
)
from schulden.roles import Role
from workflows import ANY, SYSTEM_ROLE, Context, Guard, Process, State, TimerSpec, Transition, WorkingDays

PI = Role.PI_STAFF.value
VOLUNTEER = Role.VOLUNTEER.value
COUNSELLOR = Role.COUNSELLOR.value
CREDITOR = "creditor"  # a creditor answering through the reply code on a letter (no account)
SYSTEM = SYSTEM_ROLE

CONTACTED = ("notified", "reminded", "reminded_again")
# A letter goes to a creditor only under a consent in force for that purpose and creditor (domain.md 6.3).
MAY_CONTACT = consent_guard(ConsentPurpose.CONTACT_CREDITORS, per_creditor=True)
MAY_ARRANGE = consent_guard(ConsentPurpose.ARRANGEMENTS, per_creditor=True)
MAY_TERMINATE = consent_guard(ConsentPurpose.TERMINATE_CONTRACTS, per_creditor=True)


def _arrangement_given(ctx: Context) -> str | None:
    """The proposal itself (L4 states it): an amount a month, a number of months, a start date and the basis."""
    p = ctx.payload
    problems = []
    if not (isinstance(p.get("monthly_cents"), int) and 0 < p["monthly_cents"] <= 100_000_000):
        problems.append("monthly_cents (bedrag per maand in centen)")
    if not (isinstance(p.get("months"), int) and 1 <= p["months"] <= 120):
        problems.append("months (1 tot 120)")
    try:
        date.fromisoformat(str(p.get("start_date")))
    except ValueError:
        problems.append("start_date (JJJJ-MM-DD)")
    if not (isinstance(p.get("basis"), str) and p["basis"].strip()):
        problems.append("basis (waarop het bedrag is gebaseerd)")
    return "Geef het voorstel mee: " + ", ".join(problems) + "." if problems else None


ARRANGEMENT_GIVEN = Guard("het voorstel is compleet", _arrangement_given, needs_input=True)


def _still_detained(ctx: Context) -> str | None:
    """A reminder (L3) says the client's situation is unchanged: after his release it is not. The timer is then
    recorded as refused, and the creditor's answer waits for the municipality (the referral hands the debt over)."""
    debt = debt_of(ctx)
    case = ctx.session.get(Case, debt.case_id) if debt is not None else None
    if case is not None and case.actual_release is not None:
        return "De cliënt is vrijgelaten: geen herinnering meer over de detentie."
    return None


STILL_DETAINED = Guard("de cliënt is nog gedetineerd", _still_detained)
# A creditor may answer before our letter is even posted (it knew of the detention from the client). Exported:
# a reply with a balance confirms the debt in these states (schulden.replies.services).
ANSWERABLE = ("letters_requested", *CONTACTED, "no_response")


def _answer_clock(name: str, event: str) -> TimerSpec:
    return TimerSpec(name, event, WorkingDays(10))


def build_debt_process() -> Process:
    """The debt process."""
    return Process(
        name="debt",
        version=1,
        title="Schuld",
        initial="identified",
        start_roles=frozenset({PI, VOLUNTEER, COUNSELLOR}),
        states=(
            State("identified", "Bekend", timers=(TimerSpec("letters_due", "letters_overdue", WorkingDays(5)),)),
            State("letters_requested", "Brieven klaargezet"),
            State("notified", "Aangeschreven", timers=(_answer_clock("answer_due", "reply_overdue"),)),
            State("reminded", "Herinnerd", timers=(_answer_clock("answer_due", "second_reminder_due"),)),
            State("reminded_again", "Opnieuw herinnerd", timers=(_answer_clock("answer_due", "no_reply"),)),
            State("no_response", "Geen reactie"),
            State("declined", "Geen medewerking"),
            State("balance_confirmed", "Saldo bevestigd"),
            State("disputed", "Betwist"),
            State(
                "suspension_requested",
                "Opschorting gevraagd",
                timers=(_answer_clock("answer_due", "suspension_reply_overdue"),),
            ),
            State("suspended", "Opgeschort"),
            State("suspension_refused", "Opschorting geweigerd"),
            State(
                "arrangement_proposed",
                "Regeling voorgesteld",
                timers=(_answer_clock("answer_due", "arrangement_reply_overdue"),),
            ),
            State("arrangement_agreed", "Regeling akkoord"),
            State("arrangement_rejected", "Regeling afgewezen"),
            State(
                "termination_requested",
                "Opzegging gevraagd",
                timers=(_answer_clock("answer_due", "termination_reply_overdue"),),
            ),
            State("terminated", "Opgezegd"),
            State("handed_over", "Overgedragen aan gemeente", final=True),
            State("paid", "Betaald", final=True),
            State("written_off", "Kwijtgescholden", final=True),
            State("closed", "Afgesloten met het dossier", final=True),
        ),
        transitions=(
            Transition(
                "send_letters",
                "identified",
                "letters_requested",
                roles={COUNSELLOR},
                guards=[MAY_CONTACT],
                effects=[REQUEST_FIRST_CONTACT],
                label="Schuldeiser aanschrijven",
            ),
            # The answer clock runs from the day the first letter went out (print batch or e-mail), not from the
            # day it was asked for (domain.md 9.3: deadlines are computed from the sent date).
            Transition("letters_sent", "letters_requested", "notified", roles={SYSTEM}),
            Transition(
                "letters_overdue",
                "identified",
                ANY,
                roles={SYSTEM},
                internal=True,
                effects=[record_intent("flag_letters_overdue", "Eerste brief niet binnen 5 werkdagen")],
            ),
            Transition(
                "reply_overdue",
                "notified",
                "reminded",
                roles={SYSTEM},
                guards=[STILL_DETAINED, MAY_CONTACT],
                effects=[request_letters("L3")],
            ),
            Transition(
                "second_reminder_due",
                "reminded",
                "reminded_again",
                roles={SYSTEM},
                guards=[STILL_DETAINED, MAY_CONTACT],
                effects=[request_letters("L3")],
            ),
            Transition("no_reply", "reminded_again", "no_response", roles={SYSTEM}),
            Transition(
                "confirm_balance",
                ANSWERABLE,
                "balance_confirmed",
                roles={COUNSELLOR, CREDITOR},
                effects=[AMOUNT_CONFIRMED],
                label="Saldo ontvangen",
            ),
            Transition(
                "decline",
                ANSWERABLE,
                "declined",
                roles={COUNSELLOR, CREDITOR},
                requires_reason=True,
                label="Geen medewerking",
            ),
            # The standalone Saldoverzoek (L2): the detention was reported with the first letter; a creditor that never
            # answered, or whose balance is disputed, is asked for its statement again, with a new answer clock.
            Transition(
                "request_balance",
                ("no_response", "disputed"),
                "letters_requested",
                roles={COUNSELLOR},
                guards=[MAY_CONTACT],
                effects=[request_letters("L2")],
                label="Saldo opnieuw opvragen",
            ),
            Transition(
                "dispute",
                ("balance_confirmed", "no_response"),
                "disputed",
                roles={COUNSELLOR},
                label="Betwisten",
            ),
            Transition(
                "resolve_dispute",
                "disputed",
                "balance_confirmed",
                roles={COUNSELLOR},
                label="Betwisting opgelost",
            ),
            Transition(
                "request_suspension",
                (*CONTACTED, "balance_confirmed"),
                "suspension_requested",
                roles={COUNSELLOR},
                guards=[MAY_ARRANGE],
                effects=[request_letters("L1")],
                label="Opschorting vragen",
            ),
            Transition(
                "suspension_reply_overdue",
                "suspension_requested",
                ANY,
                roles={SYSTEM},
                internal=True,
                guards=[STILL_DETAINED],
                effects=[request_letters("L3")],
            ),
            Transition(
                "grant_suspension",
                "suspension_requested",
                "suspended",
                roles={COUNSELLOR, CREDITOR},
                label="Opschorting toegekend",
            ),
            Transition(
                "refuse_suspension",
                "suspension_requested",
                "suspension_refused",
                roles={COUNSELLOR, CREDITOR},
                label="Opschorting geweigerd",
            ),
            Transition(
                "propose_arrangement",
                ("balance_confirmed", "suspended", "suspension_refused", "arrangement_rejected"),
                "arrangement_proposed",
                roles={COUNSELLOR},
                guards=[MAY_ARRANGE, ARRANGEMENT_GIVEN],
                effects=[request_letters("L4")],
                label="Regeling voorstellen",
            ),
            Transition(
                "arrangement_reply_overdue",
                "arrangement_proposed",
                ANY,
                roles={SYSTEM},
                internal=True,
                guards=[STILL_DETAINED],
                effects=[request_letters("L3")],
            ),
            Transition(
                "agree_arrangement",
                "arrangement_proposed",
                "arrangement_agreed",
                roles={COUNSELLOR, CREDITOR},
                label="Regeling akkoord",
            ),
            Transition(
                "reject_arrangement",
                "arrangement_proposed",
                "arrangement_rejected",
                roles={COUNSELLOR, CREDITOR},
                label="Regeling afgewezen",
            ),
            Transition(
                "request_termination",
                (*CONTACTED, "balance_confirmed", "suspended", "suspension_refused"),
                "termination_requested",
                roles={COUNSELLOR},
                guards=[MAY_TERMINATE],
                effects=[request_letters("L5")],
                label="Overeenkomst opzeggen",
            ),
            Transition(
                "termination_reply_overdue",
                "termination_requested",
                ANY,
                roles={SYSTEM},
                internal=True,
                guards=[STILL_DETAINED],
                effects=[request_letters("L3")],
            ),
            Transition(
                "confirm_termination",
                "termination_requested",
                "terminated",
                roles={COUNSELLOR, CREDITOR},
                label="Opzegging bevestigd",
            ),
            Transition(
                "hand_over",
                ANY,
                "handed_over",
                roles={COUNSELLOR, SYSTEM},
                label="Overdragen aan gemeente",
            ),
            # The case closed (no consent, withdrawn, refused...): the debt's clocks and reminders stop with it.
            Transition("close_with_case", ANY, "closed", roles={SYSTEM}),
            # Every creditor answer (reply page, or typed in from paper or phone) leaves a row in the history, also
            # when the state stays: the counsellor's timeline and the outcome figures count answers by it.
            Transition(
                "reply_received",
                ANY,
                ANY,
                roles={COUNSELLOR, CREDITOR, SYSTEM},
                internal=True,
                label="Antwoord schuldeiser ontvangen",
            ),
            Transition("mark_paid", ANY, "paid", roles={COUNSELLOR, CREDITOR}, label="Betaald"),
            Transition(
                "write_off",
                ANY,
                "written_off",
                roles={COUNSELLOR, CREDITOR},
                requires_reason=True,
                label="Kwijtgescholden",
            ),
        ),
    )
