"""Referral use cases: send, accept, refuse, retry a delivery, fetch its files. Services never commit.

The operations (`send`, `accept`, `refuse`, `retry_delivery`, `referral_file`) take a session and an actor, check
who may, fire the workflow (which does the state changes and the bookkeeping on the referral row through
schulden/effects.py and schulden/referrals/lifecycle.py) and write the audit row: the API and the pages call them,
so both behave alike. `send_referral`, `accept_referral` and `refuse_referral` are their workflow steps.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from schulden import audit
from schulden.access import case_scope
from schulden.actors import UserActor
from schulden.cases.models import Case, ConsentPurpose
from schulden.cases.queries import get_case
from schulden.consents import has_valid_consent
from schulden.errors import NotFound, NotPermitted
from schulden.referrals import lifecycle
from schulden.referrals.models import DeliveryChannel, MunicipalDelivery, Referral, ReferralStatus
from schulden.roles import Role
from workflows import Actor, Engine, HistoryEntry, WorkflowInstance
from workflows.store import TimerRow, TimerStatus

if TYPE_CHECKING:
    from schulden.letters.compose import Sender
    from schulden.referrals.handover import Handover

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


def prepare_when_complete(session: Session, engine: Engine, case: Case, *, actor: Actor) -> HistoryEntry | None:
    """A complete inventory is ready to refer: move the case to `referral_due` now, in the caller's transaction.

    `inventory_complete` is left for `referral_due` by its `inventory_ready` timer (0 delay), i.e. at the next tick:
    until then a counsellor who has just pressed "Inventarisatie afronden" could not send. Here the counsellor's own
    "Verwijzing voorbereiden" (`request_referral`) takes that step at once. Leaving the state cancels the timer, so
    it never fires as well (exactly once); a tick that got there first leaves the case in `referral_due` and this
    does nothing. None when the case is not in `inventory_complete` (nor, urgent, in `inventory`)."""
    instance = _instance(session, case)
    if instance.state == "inventory_complete" or (instance.state == "inventory" and case.urgent):
        # An urgent case (a threat: 3 working days, Wgs art. 4a) also goes from the inventory, without waiting for
        # the creditors' answers (readiness.SENDABLE_WHEN_URGENT); the others wait for the inventory.
        return engine.fire(session, instance, "request_referral", actor=actor)
    return None


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


def current_channel(session: Session, municipality_id: int) -> str:
    """How the municipality receives referrals now: its settings' channel, e-mail without settings."""
    row = delivery_settings(session, municipality_id)
    return row.channel if row is not None else DeliveryChannel.EMAIL.value


# -- the operations both front doors call ------------------------------------------------------------------------


def _log(
    session: Session, actor: UserActor, action: str, referral: Referral, origin: str | None, **details: Any
) -> None:
    audit.record(session, actor=actor, action=action, object_type="referral", object_id=referral.id,
                 case_id=referral.case_id, origin=origin, details=details or None)  # fmt: skip


def _require(actor: UserActor, role: Role, what: str) -> None:
    if actor.role is not role:
        raise NotPermitted(f"Uw rol mag {what} niet uitvoeren.")


def scoped_referral(session: Session, actor: UserActor, referral_id: int) -> Referral:
    """The referral if its case is in the actor's scope (access.case_scope) and, for a municipality, it is addressed
    to that municipality: after a re-routing the case points to the new one, which must not read the earlier
    referral (the refusal and its reasons) of another. NotFound otherwise."""
    referral = get_referral(session, select(Case.id).where(case_scope(actor)), referral_id)
    if actor.role is Role.MUNICIPALITY and referral.municipality_id != actor.organisation_id:
        raise NotFound("referral", referral_id)
    return referral


def send(
    session: Session,
    actor: UserActor,
    case_id: int,
    *,
    engine: Engine,
    include_district_team: bool,
    origin: str | None = None,
) -> Referral:
    """A counsellor sends the case's referral (L8 with the handover file) to its municipality. The case row is
    locked, so two clicks cannot send two referrals; the workflow refuses (TransitionRefused, with its reason)
    when the case is not due, has no municipality, or no consent covers it. Delivery follows after commit."""
    _require(actor, Role.COUNSELLOR, "een verwijzing versturen")
    case = get_case(session, actor, case_id, for_update=True)
    prepare_when_complete(session, engine, case, actor=actor)
    referral = send_referral(session, engine, case, actor=actor, include_district_team=include_district_team)
    _log(session, actor, "referral.send", referral, origin, district_team=referral.include_district_team)
    return referral


def referral_to_decide(session: Session, actor: UserActor, referral_id: int) -> Referral:
    """The referral a municipality decides on: in its scope, and addressed to it (NotFound for another's)."""
    referral = scoped_referral(session, actor, referral_id)
    _require(actor, Role.MUNICIPALITY, "een verwijzing beantwoorden")
    if referral.municipality_id != actor.organisation_id:
        raise NotFound("referral", referral.id)
    return referral


def accept(
    session: Session,
    actor: UserActor,
    referral_id: int,
    *,
    engine: Engine,
    first_conversation_on: date,
    origin: str | None = None,
) -> Referral:
    """The municipality accepts, with the date of the first conversation (Wgs: within 4 weeks, 3 working days on a
    threat; a later date is accepted but marked as a breach)."""
    referral = referral_to_decide(session, actor, referral_id)
    case = session.get_one(Case, referral.case_id)
    accept_referral(session, engine, case, actor=actor, first_conversation_on=first_conversation_on)
    _log(session, actor, "referral.accept", referral, origin)
    return referral


def refuse(
    session: Session,
    actor: UserActor,
    referral_id: int,
    *,
    engine: Engine,
    kind: str,
    reason: str,
    origin: str | None = None,
) -> Referral:
    """The municipality refuses: 'not_resident' sends the case back for re-routing, 'other' closes it."""
    referral = referral_to_decide(session, actor, referral_id)
    case = session.get_one(Case, referral.case_id)
    refuse_referral(session, engine, case, actor=actor, kind=kind, reason=reason)
    _log(session, actor, "referral.refuse", referral, origin, kind=kind)
    return referral


def retry_delivery(session: Session, actor: UserActor, referral_id: int, *, origin: str | None = None) -> Referral:
    """A counsellor has a failed delivery tried again (after fixing the municipality's address or ZGW settings);
    the delivery job is enqueued after commit, as for a new referral."""
    referral = scoped_referral(session, actor, referral_id)
    _require(actor, Role.COUNSELLOR, "een verwijzing opnieuw versturen")
    lifecycle.retry(referral, channel=current_channel(session, referral.municipality_id))
    _log(session, actor, "referral.retry", referral, origin)
    session.flush()
    return referral


def referral_file(
    session: Session, actor: UserActor, referral_id: int, which: str, *, origin: str | None = None
) -> tuple[Referral, str]:
    """The referral and the key of its handover file (`which` "handover") or the detainee's summary ("summary"),
    in the case's scope, with the download audited; ReferralStateError while the file is not made yet."""
    referral = scoped_referral(session, actor, referral_id)
    key = referral.handover_key if which == "handover" else referral.summary_key
    if key is None:
        raise lifecycle.ReferralStateError("Het overdrachtsdossier is nog niet gemaakt.")
    _log(session, actor, f"referral.{which}", referral, origin)
    return referral, key


def handover_contents(
    session: Session,
    actor: UserActor,
    referral_id: int,
    *,
    sender: Sender | None = None,
    today: date,
    origin: str | None = None,
) -> tuple[Referral, Handover]:
    """The handover file's contents as of today, for reading on screen before the decision: made on demand from the
    case (never stored), in the referral's scope (a municipality only while it is addressed to it), audited as a
    read of the file (`referral.handover_view`). The PDF as delivered stays `referral_file`'s; this exists because
    that PDF is made by the delivery job and is missing while a delivery waits or fails."""
    from schulden.referrals.handover import build_handover  # handover imports this module: import when used

    referral = scoped_referral(session, actor, referral_id)
    handover = build_handover(
        session,
        referral.case_id,
        include_household=referral.include_district_team,
        first_conversation=referral.first_conversation_on,
        sender=sender,
        made_on=today,
    )
    _log(session, actor, "referral.handover_view", referral, origin)
    return referral, handover


def decided_by_municipality(
    session: Session, actor: UserActor, referral_id: int, *, origin: str | None = None
) -> Referral:
    """A referral this municipality decided on (accepted or refused), even when the case has left its scope since
    (a refusal ends its access to the case): its own decision, to confirm and to find again. NotFound otherwise."""
    _require(actor, Role.MUNICIPALITY, "een besluit over een verwijzing inzien")
    referral = session.scalar(
        select(Referral).where(
            Referral.id == referral_id,
            Referral.municipality_id == actor.organisation_id,
            Referral.status.in_((ReferralStatus.ACCEPTED.value, ReferralStatus.REFUSED.value)),
        )
    )
    if referral is None:
        raise NotFound("referral", referral_id)
    _log(session, actor, "referral.read", referral, origin)
    return referral
