"""Recording a creditor's answer and what it does to the debt. Services flush and never commit.

The same function serves the creditor on the reply page and the counsellor typing in a paper or phone answer, so
both land the same way: a reply row, the debt's amounts when a balance was given, and the debt's workflow moved
where the answer allows (balance confirmed, no cooperation, suspension granted or refused). Every reply also
fires the internal `reply_received` event, so the history and the outcome figures see it even when the state
stays as it is (a correction of an earlier balance, say).

Answering again adds the next version of the debt's answer and marks the earlier one superseded; the earlier rows
stay as they were (the history lists them all), the debt takes the newest balance, and only the newest waits on
the counsellor's task list.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from schulden.debts.models import AmountStatus, Debt

# The states in which an answer with a balance confirms the debt: the debt process says which they are.
from schulden.debts.workflow import ANSWERABLE
from schulden.errors import ValidationFailed
from schulden.replies.models import CreditorReply, NoCooperation, ReplyChannel
from workflows import Actor, Engine, TransitionRefused, WorkflowInstance

#: The answer fields (the schemas of the API and the reply page both load into these names).
FIELDS = (
    "principal_cents",
    "interest_cents",
    "costs_cents",
    "peildatum",
    "collection_suspended",
    "collection_suspended_until",
    "interest_suspended",
    "interest_suspended_until",
    "has_judgment",
    "has_attachment",
    "original_creditor",
    "arrangement_offered",
    "arrangement_monthly_cents",
    "arrangement_terms",
    "contact_name",
    "contact_phone",
    "contact_email",
    "no_cooperation",
    "no_cooperation_note",
    "note",
)
_BALANCE = ("principal_cents", "interest_cents", "costs_cents")


@dataclass(frozen=True)
class StoredAttachment:
    """A PDF the web layer checked and put in the file store before calling us."""

    key: str
    name: str
    sha256: str
    size: int


def check_answer(data: Mapping[str, Any], *, today: date) -> None:
    """Rules across fields; each failure names its field, in Dutch."""
    errors: dict[str, list[str]] = {}
    has_balance = any(data.get(k) is not None for k in _BALANCE)
    if data.get("no_cooperation"):
        if has_balance:
            errors["no_cooperation"] = ["Geef een saldo óf 'geen medewerking', niet allebei."]
        if data["no_cooperation"] == NoCooperation.OTHER.value and not data.get("no_cooperation_note"):
            errors["no_cooperation_note"] = ["Licht de reden toe als u 'andere reden' kiest."]
    elif not has_balance and not any(
        data.get(k) not in (None, "", False)
        for k in ("collection_suspended", "interest_suspended", "arrangement_offered", "note", "has_judgment")
    ):
        errors["principal_cents"] = ["Geef het saldo, of kies 'geen medewerking', of schrijf een toelichting."]
    if has_balance and data.get("peildatum") is None:
        errors["peildatum"] = ["Bij een saldo hoort de datum waarop het geldt (peildatum)."]
    if data.get("peildatum") is not None and data["peildatum"] > today:
        errors["peildatum"] = ["De peildatum ligt in de toekomst."]
    for flag, until in (
        ("collection_suspended", "collection_suspended_until"),
        ("interest_suspended", "interest_suspended_until"),
    ):
        if data.get(until) is not None:
            if not data.get(flag):
                errors[until] = ["Een einddatum hoort alleen bij een opschorting."]
            elif data[until] < today:
                errors[until] = ["De einddatum van de opschorting ligt in het verleden."]
    if data.get("arrangement_monthly_cents") is not None and not data.get("arrangement_offered"):
        errors["arrangement_monthly_cents"] = ["Een maandbedrag hoort bij een aangeboden betalingsregeling."]
    if errors:
        raise ValidationFailed(errors)


def _fire(session: Session, engine: Engine, instance: WorkflowInstance, event: str, **kwargs: Any) -> bool:
    with suppress(TransitionRefused):
        engine.fire(session, instance, event, **kwargs)
        return True
    return False


def record_reply(
    session: Session,
    engine: Engine,
    *,
    actor: Actor,
    debt: Debt,
    letter_id: int | None,
    channel: ReplyChannel,
    data: Mapping[str, Any],
    received_on: date,
    today: date,
    attachment: StoredAttachment | None = None,
    now: datetime | None = None,
) -> CreditorReply:
    """Store the answer and apply it to the debt. Raises ValidationFailed (nothing written) on bad input."""
    check_answer(data, today=today)
    moment = now or engine.clock()
    # The debt's row is the lock: two answers at once get versions n+1 and n+2, not both n+1.
    session.execute(select(Debt.id).where(Debt.id == debt.id).with_for_update())
    latest = session.scalar(select(func.max(CreditorReply.version)).where(CreditorReply.debt_id == debt.id)) or 0
    if latest:
        session.execute(
            update(CreditorReply)
            .where(CreditorReply.debt_id == debt.id, CreditorReply.superseded_at.is_(None))
            .values(superseded_at=moment)
            .execution_options(synchronize_session="fetch")
        )
    reply = CreditorReply(
        case_id=debt.case_id,
        debt_id=debt.id,
        letter_id=letter_id,
        channel=channel.value,
        received_on=received_on,
        entered_by=actor.actor_id,
        version=latest + 1,
        **{name: data.get(name) for name in FIELDS},
    )
    if attachment is not None:
        reply.attachment_key = attachment.key
        reply.attachment_name = attachment.name
        reply.attachment_sha256 = attachment.sha256
        reply.attachment_bytes = attachment.size
    session.add(reply)
    session.flush()

    instance = session.get_one(WorkflowInstance, debt.instance_id)
    fired = ["reply_received"]
    engine.fire(
        session, instance, "reply_received", actor=actor, payload={"reply_id": reply.id, "channel": channel.value},
        now=now,
    )  # fmt: skip
    state = instance.state
    if data.get("no_cooperation"):
        reason = NoCooperation(data["no_cooperation"]).label
        if data.get("no_cooperation_note"):
            reason = f"{reason}: {data['no_cooperation_note']}"
        if _fire(session, engine, instance, "decline", actor=actor, reason=reason[:500], now=now):
            fired.append("decline")
    else:
        if any(data.get(k) is not None for k in _BALANCE):
            for name in _BALANCE:
                setattr(debt, name, data.get(name) or 0)
            debt.peildatum = data.get("peildatum")
            debt.amount_status = AmountStatus.CONFIRMED.value
            if state in ANSWERABLE and _fire(
                session, engine, instance, "confirm_balance", actor=actor, payload={"reply_id": reply.id}, now=now
            ):
                fired.append("confirm_balance")
        if instance.state == "suspension_requested" and data.get("collection_suspended") is not None:
            event = "grant_suspension" if data["collection_suspended"] else "refuse_suspension"
            if _fire(session, engine, instance, event, actor=actor, payload={"reply_id": reply.id}, now=now):
                fired.append(event)
    if data.get("has_attachment") and debt.threat is None:
        # Beslag: the counsellor must see it at once (domain.md 9.2, threat_type attachment).
        debt.threat = "attachment"
    reply.events = ",".join(fired)
    session.flush()
    return reply


def replies_of_case(session: Session, case_id: int, *, latest_only: bool = False) -> list[CreditorReply]:
    """Every answer of the case in the order received (the history), or only the newest version per debt."""
    query = select(CreditorReply).where(CreditorReply.case_id == case_id).order_by(CreditorReply.id)
    if latest_only:
        query = query.where(CreditorReply.superseded_at.is_(None))
    return list(session.scalars(query))


def mark_reviewed(reply: CreditorReply, *, actor: Actor, now: datetime) -> None:
    """The counsellor has read the answer; it leaves the task list."""
    if reply.reviewed_at is None:
        reply.reviewed_at = now
        reply.reviewed_by = actor.actor_id
