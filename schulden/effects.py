"""Effects that the case and debt processes hang on their transitions.

Some effects change our own rows now (closing reason, urgency). The ones that belong to later capabilities
(letters, the referral) record their intent in the history row, named so that the issue building the capability
replaces the body and keeps the name; docs/workflows.md lists them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from schulden.cases.models import Case, ClosureReason, ConsentPurpose, Threat
from schulden.consents import PURPOSE_LABELS, has_valid_consent, missing_consent_message
from schulden.debts.models import AmountStatus, Debt
from schulden.letters.models import Letter
from schulden.letters.services import cancel_open_letters, request_letter
from workflows import SYSTEM, Context, Effect, Guard, WorkflowInstance

# domain.md section 4: letter types.
LETTER_TITLES = {
    "L1": "Melding detentie en verzoek opschorting incasso",
    "L2": "Verzoek saldo-opgave",
    "L3": "Herinnering",
    "L4": "Voorstel betalingsregeling",
    "L5": "Opzegging overeenkomst",
    "L6": "Opschorting zorgverzekering",
    "L7": "Wijzigingsmelding Toeslagen/UWV/SVB",
    "L8": "Aanmelding schuldhulpverlening (warme overdracht)",
    "L9": "Machtiging en toestemmingsverklaring",
    "L10": "Intrekkingsverklaring",
}

# Extra letters by debt type at first contact (domain.md section 4, L6 and L7).
FIRST_CONTACT_EXTRA = {"zorgpremie": ("L6",), "toeslagen": ("L7",), "uitkering_terugvordering": ("L7",)}


def case_of(ctx: Context) -> Case | None:
    """The case whose workflow instance is being fired (None for a bare instance, e.g. in engine tests)."""
    return ctx.session.scalar(select(Case).where(Case.instance_id == ctx.instance.id))


def debt_of(ctx: Context) -> Debt | None:
    """The debt whose workflow instance is being fired."""
    return ctx.session.scalar(select(Debt).where(Debt.instance_id == ctx.instance.id))


def _ask(ctx: Context, letter_types: tuple[str, ...] | list[str]) -> Mapping[str, Any]:
    """Write the outbox rows for this step: one letter per type, keyed by the step so it is asked for once."""
    debt = debt_of(ctx)
    case = ctx.session.get(Case, debt.case_id) if debt is not None else case_of(ctx)
    if case is None:
        return {"letters": [], "types": list(letter_types)}
    ids = []
    for letter_type in letter_types:
        round_ = 1
        if debt is not None and letter_type == "L3":
            round_ += len(
                ctx.session.scalars(
                    select(Letter.id).where(Letter.debt_id == debt.id, Letter.letter_type == "L3")
                ).all()
            )
        letter = request_letter(
            ctx.session,
            case=case,
            letter_type=letter_type,
            key=f"wf{ctx.instance.id}-{ctx.instance.last_seq}-{letter_type}",
            requested_by=ctx.actor.actor_id,
            letter_date=ctx.today,
            debt=debt,
            organisation_id=case.municipality_id if letter_type == "L8" else None,
            round_=round_,
        )
        ids.append(letter.id)
    return {"letters": ids, "types": list(letter_types)}


def request_letters(*letter_types: str) -> Effect:
    """Ask for these letters for the case or debt: outbox rows, rendered and sent by jobs after commit."""

    def run(ctx: Context) -> Mapping[str, Any]:
        return _ask(ctx, letter_types)

    titles = ", ".join(f"{t} {LETTER_TITLES[t]}" for t in letter_types)
    return Effect(f"request_letters:{'+'.join(letter_types)}", run, f"Vraagt brieven aan: {titles}")


def _first_contact_letters(ctx: Context) -> Mapping[str, Any]:
    debt = debt_of(ctx)
    extra = FIRST_CONTACT_EXTRA.get(debt.debt_type, ()) if debt else ()
    return _ask(ctx, ["L1", "L2", *extra])


REQUEST_FIRST_CONTACT = Effect(
    "request_letters:first_contact",
    _first_contact_letters,
    "Vraagt L1 en L2 aan, plus L6 bij zorgpremie en L7 bij toeslagen of terugvordering",
)


def _cancel_letters(ctx: Context) -> Mapping[str, Any]:
    case = case_of(ctx)
    if case is None:
        return {"cancelled": 0}
    return {"cancelled": cancel_open_letters(ctx.session, case.id, reason=f"{ctx.event}: brieven gestopt")}


CANCEL_LETTERS = Effect(
    "cancel_outgoing_letters", _cancel_letters, "Stopt alle brieven van het dossier die nog niet verstuurd zijn"
)


def record_intent(name: str, description: str) -> Effect:
    """An effect whose work comes with a later capability; for now it names itself in the history."""

    def run(ctx: Context) -> Mapping[str, Any]:
        return {"status": "intent"}

    return Effect(name, run, description)


def close_case(reason: ClosureReason | None = None) -> Effect:
    """Store the closing reason on the case: fixed by the transition, or chosen in the payload."""

    def run(ctx: Context) -> Mapping[str, Any]:
        chosen = reason.value if reason else str(ctx.payload.get("closure_reason", ClosureReason.OTHER.value))
        case = case_of(ctx)
        if case is not None:
            case.closure_reason = chosen
        return {"closure_reason": chosen}

    return Effect("close_case", run, "Legt de reden van afsluiten vast")


def _mark_urgent(ctx: Context) -> Mapping[str, Any]:
    threat = str(ctx.payload["threat"])
    case = case_of(ctx)
    if case is not None:
        case.urgent = True
        case.threat = threat
    return {"threat": threat}


MARK_URGENT = Effect("mark_urgent", _mark_urgent, "Zet de spoedmarkering en de dreiging op het dossier")


def _fire_on_open_debts(ctx: Context, event: str) -> int:
    """Fire `event` as the system on every debt of the case that is not final; returns how many."""
    case = case_of(ctx)
    if case is None:
        return 0
    instances = ctx.session.scalars(
        select(WorkflowInstance)
        .join(Debt, Debt.instance_id == WorkflowInstance.id)
        .where(Debt.case_id == case.id, WorkflowInstance.is_final.is_(False))
        .order_by(Debt.id)
    ).all()
    for instance in instances:
        ctx.engine.fire(ctx.session, instance, event, actor=SYSTEM, now=ctx.now)
    return len(instances)


def _hand_over_debts(ctx: Context) -> Mapping[str, Any]:
    return {"debts": _fire_on_open_debts(ctx, "hand_over")}


def _close_debts(ctx: Context) -> Mapping[str, Any]:
    return {"debts": _fire_on_open_debts(ctx, "close_with_case")}


HAND_OVER_DEBTS = Effect(
    "hand_over_debts", _hand_over_debts, "Neemt elke open schuld op in de overdracht (schuld naar 'overgedragen')"
)
CLOSE_DEBTS = Effect(
    "close_debts", _close_debts, "Sluit de open schulden mee af: hun termijnen en herinneringen stoppen"
)


def _set_amount_status(status: AmountStatus) -> Effect:
    def run(ctx: Context) -> Mapping[str, Any]:
        debt = debt_of(ctx)
        if debt is not None:
            debt.amount_status = status.value
        return {"amount_status": status.value}

    return Effect(f"amount_{status.value}", run, f"Zet de status van het bedrag op '{status.value}'")


AMOUNT_CONFIRMED = _set_amount_status(AmountStatus.CONFIRMED)
AMOUNT_DISPUTED = _set_amount_status(AmountStatus.DISPUTED)


def valid_threat(ctx: Context) -> str | None:
    """Guard: the payload names a known threat."""
    value = ctx.payload.get("threat")
    if value not in {t.value for t in Threat}:
        return "Kies een dreiging: " + ", ".join(t.value for t in Threat) + "."
    return None


def valid_closure_reason(ctx: Context) -> str | None:
    """Guard: the payload names a known closure reason."""
    if ctx.payload.get("closure_reason") not in {r.value for r in ClosureReason}:
        return "Kies een reden van afsluiten: " + ", ".join(r.value for r in ClosureReason) + "."
    return None


def consent_guard(purpose: ConsentPurpose, *, per_creditor: bool = False, per_municipality: bool = False) -> Guard:
    """Guard: a consent for `purpose` is in force today (for the debt's creditor / the case's municipality)."""

    def check(ctx: Context) -> str | None:
        debt = debt_of(ctx) if per_creditor else None
        case = case_of(ctx) if debt is None else ctx.session.get(Case, debt.case_id)
        if case is None:
            return "Geen dossier bij deze workflow."
        if not has_valid_consent(
            ctx.session,
            case.id,
            purpose,
            on=ctx.today,
            creditor_id=debt.creditor_id if debt else None,
            organisation_id=case.municipality_id if per_municipality else None,
        ):
            return missing_consent_message(purpose)
        return None

    return Guard(f"geldige toestemming: {PURPOSE_LABELS[purpose]}", check)


def _municipality_chosen(ctx: Context) -> str | None:
    case = case_of(ctx)
    if case is not None and case.municipality_id is None:
        return "Kies eerst de gemeente waar de verwijzing heen gaat."
    return None


MUNICIPALITY_CHOSEN = Guard("de gemeente is gekozen", _municipality_chosen)


def _mark_referred(ctx: Context) -> Mapping[str, Any]:
    case = case_of(ctx)
    if case is not None:
        case.referred_at = ctx.now
    return {"municipality_id": case.municipality_id if case else None}


MARK_REFERRED = Effect("mark_referred", _mark_referred, "Legt vast wanneer en aan welke gemeente is verwezen")
