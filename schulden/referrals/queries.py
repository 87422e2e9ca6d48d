"""The reads of referrals, for both front doors: the inbox, one referral, a case's referrals. Each is limited by
the case scope (schulden/access.py) and writes its audit row (NEN 7513: who viewed what) in the caller's
transaction; nothing here commits. The operations that change referrals are in services.py."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from schulden import audit
from schulden.access import case_scope
from schulden.actors import UserActor
from schulden.cases.models import Case
from schulden.organisations.models import Organisation
from schulden.referrals.models import Referral, ReferralStatus
from schulden.referrals.services import scoped_referral
from schulden.roles import Role

#: The inbox is a work list, not a report: at most this many referrals, the urgent and newest first.
INBOX_LIMIT = 500


def read_inbox(
    session: Session,
    actor: UserActor,
    *,
    status: str | None = None,
    statuses: Sequence[str] | None = None,
    origin: str | None = None,
) -> list[tuple[Referral, Case]]:
    """The referrals in the actor's scope with their cases, urgent ones on top and then the newest first: for a
    municipality its inbox (only the referrals addressed to it). `status` keeps one delivery status, `statuses`
    several (a tab of the inbox). Writes the `referral.inbox` row with the count. Does not commit."""
    query = (
        select(Referral, Case)
        .join(Case, Case.id == Referral.case_id)
        .where(case_scope(actor))
        .order_by(Referral.urgent.desc(), Referral.referred_at.desc())
        .limit(INBOX_LIMIT)
    )
    if actor.role is Role.MUNICIPALITY:
        query = query.where(Referral.municipality_id == actor.organisation_id)
    if status:
        query = query.where(Referral.status == status)
    if statuses is not None:
        query = query.where(Referral.status.in_(statuses))
    rows = [(referral, case) for referral, case in session.execute(query)]
    audit.record(session, actor=actor, action="referral.inbox", object_type="referral", object_id=None,
                 origin=origin, details={"count": len(rows)})  # fmt: skip
    return rows


def read_referral(session: Session, actor: UserActor, referral_id: int, *, origin: str | None = None) -> Referral:
    """One referral, if its case is in the actor's scope (NotFound otherwise), with the `referral.read` row."""
    referral = scoped_referral(session, actor, referral_id)
    audit.record(session, actor=actor, action="referral.read", object_type="referral", object_id=referral.id,
                 case_id=referral.case_id, origin=origin)  # fmt: skip
    return referral


def read_referrals(
    session: Session, actor: UserActor, case: Case, *, origin: str | None = None
) -> list[tuple[Referral, Organisation]]:
    """Every referral of a case the caller holds under the actor's scope, the first first (a re-routing adds one),
    each with its municipality; a municipality sees its own only, not another municipality's refusal. Writes the
    `referral.list` row. Does not commit."""
    query = (
        select(Referral, Organisation)
        .join(Organisation, Organisation.id == Referral.municipality_id)
        .where(Referral.case_id == case.id)
        .order_by(Referral.sequence)
    )
    if actor.role is Role.MUNICIPALITY:
        query = query.where(Referral.municipality_id == actor.organisation_id)
    rows = [(referral, municipality) for referral, municipality in session.execute(query)]
    audit.record(session, actor=actor, action="referral.list", object_type="case", object_id=case.id,
                 case_id=case.id, origin=origin)  # fmt: skip
    return rows


def read_refused_by(session: Session, actor: UserActor, *, origin: str | None = None) -> list[tuple[Referral, Case]]:
    """The referrals this municipality refused, the latest decision first: its own decisions, which it must be able
    to find again (an objection, a call from the counsellor), although a refusal ends its access to the case itself
    (access.case_scope). Only the referral rows addressed to it and the person's name are read from them; the pages
    show no more. Writes the `referral.inbox` row. Does not commit."""
    if actor.role is not Role.MUNICIPALITY or actor.organisation_id is None:
        return []
    rows = [
        (referral, case)
        for referral, case in session.execute(
            select(Referral, Case)
            .join(Case, Case.id == Referral.case_id)
            .where(
                Referral.municipality_id == actor.organisation_id,
                Referral.status == ReferralStatus.REFUSED.value,
            )
            .order_by(Referral.decided_at.desc(), Referral.id.desc())
            .limit(INBOX_LIMIT)
        )
    ]
    audit.record(session, actor=actor, action="referral.inbox", object_type="referral", object_id=None,
                 origin=origin, details={"count": len(rows), "status": ReferralStatus.REFUSED.value})  # fmt: skip
    return rows
