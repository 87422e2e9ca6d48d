"""The debt process (domain.md section 9.2), declared with the workflow engine.

The creditor clock: a creditor answers within 10 working days (Schuldenknooppunt procesafspraken). Unanswered,
reminder L3 goes out; then a second reminder; after another 10 working days the debt is `no_response` and the
client's estimate stands. Letters to be written within 5 working days of a debt being found. Once the client's
release is recorded no reminder goes out: it would describe him as detained (the timer is recorded as refused).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from schulden import corrections
from schulden.cases.models import Case, ConsentPurpose
from schulden.debts.models import AmountStatus
from schulden.effects import (
    REQUEST_FIRST_CONTACT,
    consent_guard,
    debt_of,
    record_intent,
    request_letters,
)
from schulden.replies.models import TAKEN_OVER_EVENT, CreditorReply
from schulden.roles import Role
from workflows import ANY, SYSTEM_ROLE, Context, Effect, Guard, Process, State, TimerSpec, Transition, WorkingDays

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
# a creditor's answer with a balance moves the debt from these states to AWAITING_CHECK (schulden.replies.services).
ANSWERABLE = ("letters_requested", *CONTACTED, "no_response")
#: The creditor named its amounts on the reply page; they become the debt's only when a counsellor takes them over
#: (issue 13: the creditor's word is checked before the estimate is replaced and called confirmed).
AWAITING_CHECK = "answer_received"
#: Where taking an answer's amounts over confirms the balance (a state change); from every other open state it
#: changes the amounts and keeps the state (a correction, or amounts given with an answer about a suspension).
CONFIRMS_BALANCE = (*ANSWERABLE, AWAITING_CHECK)


def _named_reply(ctx: Context) -> CreditorReply | None:
    reply_id = ctx.payload.get("reply_id")
    if isinstance(reply_id, bool) or not isinstance(reply_id, int):
        return None
    return ctx.session.get(CreditorReply, reply_id)


def _reply_to_take_over(ctx: Context, *, required: bool) -> str | None:
    """The answer named in the payload (`reply_id`) is this debt's newest, names amounts, and was not taken over
    yet. Without a `reply_id`: refused where `required`, else the old bookkeeping step (no amounts change)."""
    if "reply_id" not in ctx.payload and not required:
        return None
    reply = _named_reply(ctx)
    debt = debt_of(ctx)
    if reply is None or debt is None or reply.debt_id != debt.id:
        return "Neem de bedragen over vanaf de pagina van het antwoord van de schuldeiser ('Bedragen overnemen')."
    if reply.superseded_at is not None:
        return "Er is een nieuwer antwoord van deze schuldeiser; neem de bedragen daarvan over."
    if not reply.has_balance:
        return "Dit antwoord noemt geen bedragen om over te nemen."
    if reply.amounts_taken_over:
        return "De bedragen van dit antwoord zijn al overgenomen."
    return None


REPLY_IF_NAMED = Guard(
    "een genoemd antwoord is het nieuwste van de schuld en noemt bedragen",
    lambda ctx: _reply_to_take_over(ctx, required=False),
    needs_input=True,
)
REPLY_NAMED = Guard(
    "het antwoord waarvan de bedragen worden overgenomen is genoemd",
    lambda ctx: _reply_to_take_over(ctx, required=True),
    needs_input=True,
)


def _take_over_amounts(ctx: Context) -> Mapping[str, Any]:
    """The answer's amounts and peildatum become the debt's, confirmed; the answer is marked taken over and read.
    Without an answer (the bookkeeping step of earlier versions) only the amount status changes."""
    debt = debt_of(ctx)
    out: dict[str, Any] = {"amount_status": AmountStatus.CONFIRMED.value}
    if debt is None:
        return out
    reply = _named_reply(ctx)
    if reply is not None and reply.debt_id == debt.id:
        new = {
            "principal_cents": reply.principal_cents or 0,
            "interest_cents": reply.interest_cents or 0,
            "costs_cents": reply.costs_cents or 0,
            "peildatum": reply.peildatum,
        }
        # The estimate the answer replaces is kept as a correction (schulden/corrections.py), like a change by hand.
        corrections.record(
            ctx.session, actor=ctx.actor, case_id=debt.case_id, object_type="debt", object_id=debt.id, at=ctx.now,
            changes={
                name: (corrections.shown(getattr(debt, name), amount=name != "peildatum"),
                       corrections.shown(value, amount=name != "peildatum"))
                for name, value in new.items()
            },
        )  # fmt: skip
        for name, value in new.items():
            setattr(debt, name, value)
        reply.events = ",".join([*(reply.events or "").split(","), TAKEN_OVER_EVENT]).strip(",")
        if reply.reviewed_at is None:
            # Taking the amounts over is reading the answer: it leaves the counsellor's list of answers to read.
            reply.reviewed_at = ctx.now
            reply.reviewed_by = ctx.actor.actor_id
        out.update(reply_id=reply.id, total_cents=debt.total_cents)
    debt.amount_status = AmountStatus.CONFIRMED.value
    return out


TAKE_OVER_AMOUNTS = Effect(
    "amount_confirmed",
    _take_over_amounts,
    "Neemt de bedragen van het genoemde antwoord over op de schuld en zet de bedragstatus op 'confirmed'",
)


def _answer_clock(name: str, event: str) -> TimerSpec:
    return TimerSpec(name, event, WorkingDays(10))


def build_debt_process() -> Process:
    """The debt process."""
    states = _states()
    keeps_state = tuple(s.name for s in states if not s.final and s.name not in CONFIRMS_BALANCE)
    return Process(
        name="debt",
        version=1,
        title="Schuld",
        initial="identified",
        start_roles=frozenset({PI, VOLUNTEER, COUNSELLOR}),
        states=states,
        transitions=_transitions(keeps_state),
    )


def _states() -> tuple[State, ...]:
    return (
        State("identified", "Bekend", timers=(TimerSpec("letters_due", "letters_overdue", WorkingDays(5)),)),
        State("letters_requested", "Brieven klaargezet"),
        State("notified", "Aangeschreven", timers=(_answer_clock("answer_due", "reply_overdue"),)),
        State("reminded", "Herinnerd", timers=(_answer_clock("answer_due", "second_reminder_due"),)),
        State("reminded_again", "Opnieuw herinnerd", timers=(_answer_clock("answer_due", "no_reply"),)),
        State("no_response", "Geen reactie"),
        State("declined", "Geen medewerking"),
        State(AWAITING_CHECK, "Antwoord ontvangen, te controleren"),
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
    )


def _transitions(keeps_state: tuple[str, ...]) -> tuple[Transition, ...]:
    """`keeps_state`: the open states where taking an answer's amounts over leaves the state as it is."""
    return (
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
        # The creditor's answer with amounts waits for the counsellor; its clock (and reminders) stop.
        Transition(
            "balance_received",
            ANSWERABLE,
            AWAITING_CHECK,
            roles={CREDITOR},
            label="Antwoord met bedragen ontvangen",
        ),
        # Confirming is the counsellor's act, always with the answer whose amounts become the debt's
        # (payload `reply_id`); from the contacted states the bare step of earlier versions still confirms the
        # amount already known, as a counsellor who phoned the creditor did (no button does that any more).
        Transition(
            "confirm_balance",
            ANSWERABLE,
            "balance_confirmed",
            roles={COUNSELLOR},
            guards=[REPLY_IF_NAMED],
            effects=[TAKE_OVER_AMOUNTS],
            label="Saldo ontvangen",
        ),
        Transition(
            "confirm_balance",
            AWAITING_CHECK,
            "balance_confirmed",
            roles={COUNSELLOR},
            guards=[REPLY_NAMED],
            effects=[TAKE_OVER_AMOUNTS],
            label="Saldo ontvangen",
        ),
        # A newer balance while a suspension, arrangement or dispute runs: the amounts change, the state stays.
        Transition(
            "confirm_balance",
            keeps_state,
            ANY,
            roles={COUNSELLOR},
            internal=True,
            guards=[REPLY_NAMED],
            effects=[TAKE_OVER_AMOUNTS],
            label="Saldo ontvangen",
        ),
        Transition(
            "decline",
            (*ANSWERABLE, AWAITING_CHECK),
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
            ("balance_confirmed", "no_response", AWAITING_CHECK),
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
    )
