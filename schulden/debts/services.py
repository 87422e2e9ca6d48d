"""Use cases on debts. Services take a session and an actor, flush, and never commit."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from schulden import audit, corrections
from schulden.actors import UserActor
from schulden.cases.models import Case, Threat
from schulden.cases.threats import raise_threat
from schulden.creditors.models import Creditor
from schulden.debts.models import DEBT_TYPES, AmountStatus, Debt, DebtCategory
from schulden.errors import ValidationFailed
from schulden.labels import AMOUNT_STATUS_LABELS, THREAT_LABELS
from workflows import Actor, Engine, HistoryEntry, WorkflowInstance


def add_debt(
    session: Session,
    engine: Engine,
    case: Case,
    *,
    actor: Actor,
    creditor: Creditor,
    category: DebtCategory,
    debt_type: str,
    principal_cents: int = 0,
    interest_cents: int = 0,
    costs_cents: int = 0,
    amount_status: AmountStatus = AmountStatus.ESTIMATED,
    creditor_reference: str | None = None,
    peildatum: date | None = None,
    now: datetime | None = None,
) -> Debt:
    """Record a debt the detainee knows of and start its process in `identified`. Does not commit."""
    instance = engine.start(session, "debt", actor=actor, now=now)
    debt = Debt(
        case_id=case.id,
        instance_id=instance.id,
        creditor_id=creditor.id,
        creditor_reference=creditor_reference,
        category=category.value,
        debt_type=debt_type,
        principal_cents=principal_cents,
        interest_cents=interest_cents,
        costs_cents=costs_cents,
        amount_status=amount_status.value,
        peildatum=peildatum,
    )
    session.add(debt)
    session.flush()
    return debt


def fire_debt_event(
    session: Session,
    engine: Engine,
    debt: Debt,
    event: str,
    *,
    actor: Actor,
    payload: Mapping[str, Any] | None = None,
    reason: str | None = None,
    now: datetime | None = None,
) -> HistoryEntry:
    """Fire a workflow event on the debt. Does not commit."""
    instance = session.get_one(WorkflowInstance, debt.instance_id)
    return engine.fire(session, instance, event, actor=actor, payload=payload, reason=reason, now=now)


def take_debt_step(
    session: Session,
    engine: Engine,
    debt: Debt,
    event: str,
    *,
    actor: UserActor,
    payload: Mapping[str, Any] | None = None,
    reason: str | None = None,
    origin: str | None = None,
) -> HistoryEntry:
    """A person fires an event of the debt (a debt's button on the case page, POST /debts/{id}/events).

    A step is a change of the debt: its version (ETag) moves on with it. TransitionRefused / ConcurrentUpdate
    propagate. Writes the `debt.event` audit row; does not commit.
    """
    entry = fire_debt_event(session, engine, debt, event, actor=actor, payload=payload, reason=reason)
    debt.updated_at = entry.at
    session.flush()
    audit.record(session, actor=actor, action="debt.event", object_type="debt", object_id=debt.id,
                 case_id=debt.case_id, origin=origin, details={"event": event})  # fmt: skip
    return entry


#: Flags a new debt may carry; they go through update_debt's checks.
_NEW_DEBT_FLAGS = ("collecting_party_id", "threat", "joint_with_partner", "is_business_debt")


def add_known_debt(
    session: Session,
    engine: Engine,
    case: Case,
    *,
    actor: UserActor,
    data: Mapping[str, Any],
    origin: str | None = None,
) -> Debt:
    """A debt as sent (DebtCreate's output: the intake's debt step, POST /cases/{id}/debts), in `identified`.

    Checks the creditor and the type, then the flags as a change would. Writes the `debt.create` audit row; does
    not commit.
    """
    creditor = check_creditor(session, data["creditor_id"], "creditor_id")
    category = category_for(data["debt_type"], data.get("category"))
    debt = add_debt(
        session,
        engine,
        case,
        actor=actor,
        creditor=creditor,
        category=category,
        debt_type=data["debt_type"],
        principal_cents=data["principal_cents"],
        interest_cents=data["interest_cents"],
        costs_cents=data["costs_cents"],
        amount_status=AmountStatus(data["amount_status"]),
        creditor_reference=data.get("creditor_reference"),
        peildatum=data.get("peildatum"),
    )
    flags = {k: data[k] for k in _NEW_DEBT_FLAGS if data.get(k)}
    if flags:
        update_debt(session, debt, flags, today=engine.today())
    debt.source = data["source"]
    session.flush()
    audit.record(session, actor=actor, action="debt.create", object_type="debt", object_id=debt.id,
                 case_id=case.id, origin=origin)  # fmt: skip
    if debt.threat:
        raise_threat(session, engine, case, debt.threat, actor=actor)
    return debt


def change_debt(
    session: Session,
    engine: Engine,
    debt: Debt,
    changes: Mapping[str, Any],
    *,
    actor: UserActor,
    origin: str | None = None,
) -> list[str]:
    """PATCH /debts/{id}: amounts, reference, status or flags (DebtUpdate's output). A threat recorded on the debt
    reaches the case (cases/threats.py). Writes the `debt.update` audit row, which names the fields only, and one
    correction per changed field with its old and new value (schulden/corrections.py); does not commit."""
    before = _debt_values(session, debt)
    changed = update_debt(session, debt, changes, today=engine.today())
    after = _debt_values(session, debt)
    corrections.record(
        session, actor=actor, case_id=debt.case_id, object_type="debt", object_id=debt.id,
        changes={name: (before[name], after[name]) for name in changed}, at=engine.clock(),
    )  # fmt: skip
    audit.record(session, actor=actor, action="debt.update", object_type="debt", object_id=debt.id,
                 case_id=debt.case_id, origin=origin, details={"fields": changed})  # fmt: skip
    if "threat" in changed and debt.threat:
        raise_threat(session, engine, session.get_one(Case, debt.case_id), debt.threat, actor=actor)
    return changed


#: The debt's amounts: shown as euros in a correction.
_AMOUNTS = frozenset({"principal_cents", "interest_cents", "costs_cents"})


def _debt_values(session: Session, debt: Debt) -> dict[str, str | None]:
    """The values PATCH /debts/{id} may change, as a person reads them (codes in words, the collector by name)."""
    collector = session.get(Creditor, debt.collecting_party_id) if debt.collecting_party_id else None
    values = {name: corrections.shown(getattr(debt, name), amount=name in _AMOUNTS) for name in EDITABLE}
    values["collecting_party_id"] = collector.name if collector else None
    values["amount_status"] = corrections.shown(debt.amount_status, words=AMOUNT_STATUS_LABELS)
    values["threat"] = corrections.shown(debt.threat, words=THREAT_LABELS)
    return values


def check_creditor(session: Session, creditor_id: int, field: str) -> Creditor:
    """The active creditor with this id, or ValidationFailed naming `field`."""
    creditor = session.get(Creditor, creditor_id)
    if creditor is None or not creditor.active:
        raise ValidationFailed({field: [f"Geen schuldeiser met id {creditor_id} in de lijst van schuldeisers."]})
    return creditor


def category_for(debt_type: str, category: str | None) -> DebtCategory:
    """The DDAS category: given, or the one that belongs to the debt type (domain.md 9.2)."""
    if debt_type not in DEBT_TYPES:
        raise ValidationFailed({"debt_type": ["Kies een van: " + ", ".join(DEBT_TYPES) + "."]})
    return DebtCategory(category) if category else DEBT_TYPES[debt_type]


#: Fields PATCH /debts/{id} may change.
EDITABLE = (
    "creditor_reference",
    "collecting_party_id",
    "principal_cents",
    "interest_cents",
    "costs_cents",
    "amount_status",
    "peildatum",
    "threat",
    "joint_with_partner",
    "is_business_debt",
)


def update_debt(session: Session, debt: Debt, changes: Mapping[str, Any], *, today: date) -> list[str]:
    """Apply field changes (already type-checked by the schema); returns the names changed."""
    if changes.get("collecting_party_id") is not None:
        if changes["collecting_party_id"] == debt.creditor_id:
            raise ValidationFailed(
                {"collecting_party_id": ["Het incassobureau is een andere partij dan de schuldeiser."]}
            )
        check_creditor(session, changes["collecting_party_id"], "collecting_party_id")
    if changes.get("peildatum") is not None and changes["peildatum"] > today:
        raise ValidationFailed({"peildatum": ["De peildatum ligt in de toekomst."]})
    if changes.get("threat") is not None and changes["threat"] not in {t.value for t in Threat}:
        raise ValidationFailed({"threat": ["Kies een van: " + ", ".join(t.value for t in Threat) + "."]})
    changed = []
    for name in EDITABLE:
        if name in changes and getattr(debt, name) != changes[name]:
            setattr(debt, name, changes[name])
            changed.append(name)
    session.flush()
    return changed
