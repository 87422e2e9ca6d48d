"""Referral use cases: send, accept, refuse, and what the delivery job records. Services never commit.

The workflow does the state changes and the bookkeeping on the referral row (schulden/effects.py); these
functions are the entry points the API and the web pages call, so both behave alike.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from schulden.cases.models import Case, ConsentPurpose
from schulden.consents import has_valid_consent
from schulden.errors import NotFound
from schulden.referrals.models import MunicipalDelivery, Referral, ReferralStatus
from workflows import Actor, Engine, HistoryEntry, WorkflowInstance
from workflows.store import TimerRow, TimerStatus

#: The timer of the case process that holds the municipality's Wgs term (cases/workflow.py).
WGS_TIMER = "wgs_first_conversation"


def _instance(session: Session, case: Case) -> WorkflowInstance:
    return session.get_one(WorkflowInstance, case.instance_id)


def latest_referral(session: Session, case_id: int) -> Referral | None:
    return session.scalar(select(Referral).where(Referral.case_id == case_id).order_by(Referral.sequence.desc()))


def sync_wgs_term(session: Session, case: Case) -> Referral | None:
    """Copy the running Wgs timer's deadline and rule onto the case's current referral (after a send, or after a
    threat put the referral on the 3-working-day track)."""
    referral = latest_referral(session, case.id)
    if referral is None:
        return None
    timer = session.scalar(
        select(TimerRow).where(
            TimerRow.instance_id == case.instance_id,
            TimerRow.name == WGS_TIMER,
            TimerRow.status == TimerStatus.PENDING,
        )
    )
    if timer is not None:
        referral.wgs_due_on = timer.deadline
        referral.wgs_rule = timer.rule[:80]
        referral.urgent = case.urgent
        referral.threat = case.threat
    return referral


def send_referral(
    session: Session,
    engine: Engine,
    case: Case,
    *,
    actor: Actor,
    include_district_team: bool,
    now: datetime | None = None,
) -> Referral:
    """Fire `send_referral`; the effects make the L8 letter and the referral row, the Wgs clock starts."""
    engine.fire(
        session,
        _instance(session, case),
        "send_referral",
        actor=actor,
        payload={"include_district_team": include_district_team},
        now=now,
    )
    referral = sync_wgs_term(session, case)
    if referral is None:  # the effect always makes one; this is a broken invariant, not bad input
        raise RuntimeError("send_referral fired without a referral row")
    session.flush()
    return referral


def accept_referral(
    session: Session, engine: Engine, case: Case, *, actor: Actor, first_conversation_on: date
) -> HistoryEntry:
    return engine.fire(
        session,
        _instance(session, case),
        "accept_referral",
        actor=actor,
        payload={"first_conversation_on": first_conversation_on.isoformat()},
    )


def refuse_referral(
    session: Session, engine: Engine, case: Case, *, actor: Actor, kind: str, reason: str
) -> HistoryEntry:
    event = "refuse_referral_not_resident" if kind == "not_resident" else "refuse_referral"
    return engine.fire(session, _instance(session, case), event, actor=actor, reason=reason)


def get_referral(session: Session, case_ids: Any, referral_id: int) -> Referral:
    """The referral if its case is among `case_ids` (a scoped subquery); NotFound otherwise."""
    referral = session.scalar(select(Referral).where(Referral.id == referral_id, Referral.case_id.in_(case_ids)))
    if referral is None:
        raise NotFound("referral", referral_id)
    return referral


def still_covered(session: Session, referral: Referral, *, today: date) -> bool:
    """Whether a consent in force still allows this referral (checked again just before delivery: a
    withdrawal between the send and the job stops it)."""
    case = session.get_one(Case, referral.case_id)
    if case.closure_reason is not None:
        return False
    return has_valid_consent(
        session, case.id, ConsentPurpose.REFER_MUNICIPALITY, on=today, organisation_id=referral.municipality_id
    )


def delivery_settings(session: Session, municipality_id: int) -> MunicipalDelivery | None:
    return session.get(MunicipalDelivery, municipality_id)


def mark_delivered(
    referral: Referral,
    *,
    at: datetime,
    email_message_id: str | None = None,
    district_message_id: str | None = None,
    zaak_url: str | None = None,
    document_url: str | None = None,
) -> None:
    if referral.status == ReferralStatus.QUEUED.value:
        referral.status = ReferralStatus.DELIVERED.value
    referral.delivered_at = at
    referral.last_error = None
    referral.email_message_id = email_message_id or referral.email_message_id
    referral.district_message_id = district_message_id or referral.district_message_id
    referral.zaak_url = zaak_url or referral.zaak_url
    referral.document_url = document_url or referral.document_url
