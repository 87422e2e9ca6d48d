"""Effects that the case and debt processes hang on their transitions.

Some effects change our own rows now (closing reason, urgency). The ones that belong to later capabilities
(letters, the referral) record their intent in the history row, named so that the issue building the capability
replaces the body and keeps the name; docs/workflows.md lists them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import func, select

from schulden.cases.models import Case, ClosureReason, ConsentPurpose, Threat, graver_threat
from schulden.cases.notices import request_intake_notices
from schulden.consents import PURPOSE_LABELS, has_valid_consent, missing_consent_message
from schulden.debts.models import AmountStatus, Debt
from schulden.letters.lifecycle import cancel_open
from schulden.letters.models import Letter
from schulden.letters.services import request_letter
from schulden.referrals import lifecycle as referral_lifecycle
from schulden.referrals.models import DeliveryChannel, MunicipalDelivery, Referral, ReferralStatus, RefusalKind
from workflows import SYSTEM, Context, Effect, Guard, WorkflowInstance

# domain.md section 4: letter types.
LETTER_TITLES = {
    "L1": "Melding detentie, verzoek opschorting incasso en saldo-opgave",
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
    # One letter, one reply code: the notice of detention carries the request for a statement of account, as
    # Schuldenknooppunt's Kennisgeving and Saldoverzoek travel together (issue 12). L6 and L7 are not about a debt:
    # they go at intake, to the insurer and to the benefit offices (schulden/cases/notices.py).
    return _ask(ctx, ["L1"])


REQUEST_FIRST_CONTACT = Effect(
    "request_letters:first_contact",
    _first_contact_letters,
    "Vraagt L1 aan: melding detentie met verzoek om saldo-opgave, één brief met één antwoordcode",
)


def _intake_notices(ctx: Context) -> Mapping[str, Any]:
    case = case_of(ctx)
    if case is None:
        return {"letters": []}
    letters = request_intake_notices(ctx.session, case, requested_by=ctx.actor.actor_id, today=ctx.today)
    return {"letters": [letter.id for letter in letters]}


REQUEST_INTAKE_NOTICES = Effect(
    "request_letters:intake_notices",
    _intake_notices,
    "Vraagt L6 aan de zorgverzekeraar en L7 aan elke uitkeringsinstantie aan (bij toestemming om wijzigingen door "
    "te geven)",
)


def _cancel_letters(ctx: Context) -> Mapping[str, Any]:
    case = case_of(ctx)
    if case is None:
        return {"cancelled": 0}
    return {"cancelled": cancel_open(ctx.session, case.id, reason=f"{ctx.event}: brieven gestopt")}


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
        case.threat = graver_threat(case.threat, threat)
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


def _open_referral(ctx: Context) -> Referral | None:
    case = case_of(ctx)
    if case is None:
        return None
    return ctx.session.scalar(
        select(Referral)
        .where(
            Referral.case_id == case.id,
            Referral.status.in_((ReferralStatus.QUEUED.value, ReferralStatus.DELIVERED.value)),
        )
        .order_by(Referral.sequence.desc())
    )


def _create_referral(ctx: Context) -> Mapping[str, Any]:
    """The referral row: to which municipality, with or without the household part for its district team, over
    which channel. Its handover file is made and delivered by a job after commit."""
    case = case_of(ctx)
    if case is None or case.municipality_id is None:
        return {"referral": None}
    previous = ctx.session.scalar(select(func.max(Referral.sequence)).where(Referral.case_id == case.id)) or 0
    delivery = ctx.session.get(MunicipalDelivery, case.municipality_id)
    channel = delivery.channel if delivery is not None else DeliveryChannel.EMAIL.value
    letter = ctx.session.scalar(
        select(Letter).where(Letter.case_id == case.id, Letter.letter_type == "L8").order_by(Letter.id.desc())
    )
    referral = Referral(
        case_id=case.id,
        sequence=previous + 1,
        municipality_id=case.municipality_id,
        letter_id=letter.id if letter is not None else None,
        include_district_team=bool(ctx.payload.get("include_district_team")),
        channel=channel,
        status=ReferralStatus.QUEUED.value,
        urgent=case.urgent,
        threat=case.threat,
        referred_at=ctx.now,
        created_by=ctx.actor.actor_id,
    )
    ctx.session.add(referral)
    ctx.session.flush()
    return {"referral": referral.id, "sequence": referral.sequence, "channel": channel}


CREATE_REFERRAL = Effect(
    "create_referral",
    _create_referral,
    "Maakt de verwijzing aan; een taak maakt het overdrachtsdossier en levert het af (e-mail of zaaksysteem)",
)


def first_conversation_given(ctx: Context) -> str | None:
    """Guard: the municipality names the date of the first conversation (not before the referral)."""
    raw = ctx.payload.get("first_conversation_on")
    try:
        day = date.fromisoformat(str(raw))
    except ValueError:
        return "Geef de datum van het eerste gesprek (first_conversation_on, JJJJ-MM-DD)."
    if day < ctx.today:
        return "De datum van het eerste gesprek ligt in het verleden."
    return None


def _record_acceptance(ctx: Context) -> Mapping[str, Any]:
    referral = _open_referral(ctx)
    if referral is None:
        return {"referral": None}
    day = date.fromisoformat(str(ctx.payload["first_conversation_on"]))
    referral_lifecycle.accepted(referral, at=ctx.now, by=ctx.actor.actor_id, first_conversation_on=day)
    # A first conversation planned after the Wgs term is a breach too, known the moment it is planned.
    late = referral.wgs_due_on is not None and day > referral.wgs_due_on
    if late and referral.wgs_breached_at is None:
        referral.wgs_breached_at = ctx.now
    return {"referral": referral.id, "first_conversation_on": day.isoformat(), "after_wgs_term": late}


def _record_refusal(kind: RefusalKind) -> Effect:
    def run(ctx: Context) -> Mapping[str, Any]:
        referral = _open_referral(ctx)
        case = case_of(ctx)
        if case is not None:
            # The refusing municipality's access ends with its refusal (access.case_scope needs referred_at).
            case.referred_at = None
        if referral is None:
            return {"referral": None}
        referral_lifecycle.refused(referral, at=ctx.now, by=ctx.actor.actor_id, kind=kind.value, reason=ctx.reason)
        return {"referral": referral.id, "refusal": kind.value}

    return Effect(f"record_refusal_{kind.value}", run, "Legt de weigering van de gemeente vast bij de verwijzing")


RECORD_ACCEPTANCE = Effect(
    "record_acceptance", _record_acceptance, "Legt de acceptatie en de datum van het eerste gesprek vast"
)
REFUSED_NOT_RESIDENT = _record_refusal(RefusalKind.NOT_RESIDENT)
REFUSED_OTHER = _record_refusal(RefusalKind.OTHER)


def _flag_wgs_breach(ctx: Context) -> Mapping[str, Any]:
    referral = _open_referral(ctx)
    if referral is None:
        return {"referral": None}
    if referral.wgs_breached_at is None:
        referral.wgs_breached_at = ctx.now
    return {"referral": referral.id, "wgs_due_on": referral.wgs_due_on.isoformat() if referral.wgs_due_on else None}


FLAG_WGS_BREACH = Effect(
    "flag_wgs_breach",
    _flag_wgs_breach,
    "Termijn eerste gesprek (art. 4a Wgs) verstreken: gemarkeerd bij de verwijzing, zichtbaar voor beide kanten",
)


def _cancel_referrals(ctx: Context) -> Mapping[str, Any]:
    case = case_of(ctx)
    if case is None:
        return {"cancelled": 0}
    return {
        "cancelled": referral_lifecycle.cancel_queued(ctx.session, case.id, reason=f"{ctx.event}: verwijzing gestopt")
    }


CANCEL_REFERRALS = Effect("cancel_referrals", _cancel_referrals, "Stopt een verwijzing die nog niet is afgeleverd")
