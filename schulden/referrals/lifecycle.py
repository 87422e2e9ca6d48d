"""The referral's lifecycle: every change of a referral's status is one of the named transitions below.

    queued --delivered--> delivered --accepted--> accepted
       |  \\--delivery_failed (last attempt, or only a person can fix it)--> failed --retry--> queued
       \\--cancel / cancel_queued--> cancelled
    queued | delivered --refused--> refused

The delivery job (integrations/referrals/delivery.py), the workflow's effects (the municipality's decision, a
withdrawal) and the front doors (a person's retry) call these; nothing else assigns `Referral.status`. Nothing here
commits.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ColumnElement, and_, inspect, update
from sqlalchemy.orm import Session

from schulden.errors import DomainError
from schulden.referrals.models import Referral, ReferralStatus

#: A referral the municipality may still decide on (sent, or still on its way, or failed and to be sent again).
DECIDABLE = (ReferralStatus.QUEUED.value, ReferralStatus.DELIVERED.value, ReferralStatus.FAILED.value)
#: The referral the workflow's decision applies to: the current one, on its way or delivered.
OPEN = (ReferralStatus.QUEUED.value, ReferralStatus.DELIVERED.value)


class ReferralStateError(DomainError):
    """The transition is not possible from the referral's current status (the Dutch text says why)."""


# -- delivery (the job) ------------------------------------------------------------------------------------------


def start_attempt(referral: Referral) -> None:
    """A delivery job takes the queued referral: the attempt counts from here."""
    if referral.status != ReferralStatus.QUEUED.value:
        raise ReferralStateError("Alleen een verwijzing die klaarstaat kan worden afgeleverd.")
    referral.attempts += 1


#: How `last_error` starts while a queued referral waits for a setting only an administrator can give (the mail
#: server): the pages say "Wacht op de e-mailinstellingen van de beheerder", the administrators' work list counts it.
WAITING_PREFIX = "wacht op "


def attempt_on_hold(referral: Referral, reason: str) -> None:
    """The attempt did not count (a setting only an administrator can give is missing); it stays queued, its
    `last_error` starting with WAITING_PREFIX so that every reader can tell waiting from failing."""
    referral.attempts -= 1
    referral.last_error = reason if reason.startswith(WAITING_PREFIX) else WAITING_PREFIX + reason


def waiting_for_settings(referral: Referral) -> bool:
    """Queued, and the last attempt found a setting missing (no mail server yet): it waits for an administrator."""
    return (
        referral.status == ReferralStatus.QUEUED.value
        and referral.last_error is not None
        and referral.last_error.startswith(WAITING_PREFIX)
    )


def waiting_for_settings_clause() -> ColumnElement[bool]:
    """`waiting_for_settings` as a WHERE clause, for work lists."""
    return and_(Referral.status == ReferralStatus.QUEUED.value, Referral.last_error.like(WAITING_PREFIX + "%"))


def failure_reason(referral: Referral) -> str | None:
    """Why the delivery failed, in words a counsellor can act on, or None when it did not fail (yet). The job
    stores "<ExceptionName>: <message>"; a DeliveryNotPossible's message is Dutch and says what is missing, any
    other is a technical error of the mail server or the municipality's system."""
    if referral.last_error is None or referral.status not in (ReferralStatus.FAILED.value, ReferralStatus.QUEUED.value):
        return None
    if waiting_for_settings(referral):
        return None
    kind, _, message = referral.last_error.partition(": ")
    if kind == "DeliveryNotPossible" and message:
        return message
    return "de e-mailserver of het zaaksysteem van de gemeente gaf een fout"


def delivery_failed(referral: Referral, error: str, *, final: bool) -> None:
    """An attempt failed: queued for another try, or -> failed when it was the last (or only a person can fix it)."""
    referral.last_error = error
    if final:
        referral.status = ReferralStatus.FAILED.value


def delivered(
    referral: Referral,
    *,
    at: datetime,
    email_message_id: str | None = None,
    district_message_id: str | None = None,
    zaak_url: str | None = None,
    document_url: str | None = None,
) -> None:
    """queued -> delivered: in the municipality's mailbox or zaaksysteem. A decision that came in while the job
    ran (the municipality saw the referral in Schuldroute first) keeps its status; the delivery is recorded."""
    if referral.status == ReferralStatus.QUEUED.value:
        referral.status = ReferralStatus.DELIVERED.value
    referral.delivered_at = at
    referral.last_error = None
    referral.email_message_id = email_message_id or referral.email_message_id
    referral.district_message_id = district_message_id or referral.district_message_id
    referral.zaak_url = zaak_url or referral.zaak_url
    referral.document_url = document_url or referral.document_url


def cancel(referral: Referral, reason: str) -> None:
    """queued -> cancelled (no consent covers it any more when the job looks)."""
    if referral.status != ReferralStatus.QUEUED.value:
        raise ReferralStateError("Alleen een verwijzing die nog niet is afgeleverd kan worden gestopt.")
    referral.status = ReferralStatus.CANCELLED.value
    referral.last_error = reason


def cancel_queued(session: Session, case_id: int, *, reason: str) -> int:
    """queued -> cancelled for every referral of the case not delivered yet (consent withdrawn, case closed)."""
    result = session.execute(
        update(Referral)
        .where(Referral.case_id == case_id, Referral.status == ReferralStatus.QUEUED.value)
        .values(status=ReferralStatus.CANCELLED.value, last_error=reason)
        .execution_options(synchronize_session="fetch")
    )
    return int(getattr(result, "rowcount", 0) or 0)


# -- a person's transitions --------------------------------------------------------------------------------------


def retry(referral: Referral, *, channel: str | None = None) -> None:
    """failed -> queued, attempts from zero (after fixing the municipality's address or ZGW settings), over
    `channel` when given: the way the municipality receives referrals now, which the fix may have changed. The
    delivery job is enqueued after commit, the way a new referral's is (`entered_queue`)."""
    if referral.status != ReferralStatus.FAILED.value:
        raise ReferralStateError("Alleen een mislukte verwijzing kan opnieuw worden verstuurd.")
    referral.status = ReferralStatus.QUEUED.value
    referral.attempts = 0
    if channel is not None:
        referral.channel = channel


def accepted(referral: Referral, *, at: datetime, by: str, first_conversation_on: date) -> None:
    """-> accepted by the municipality, with the date of the first conversation."""
    referral.status = ReferralStatus.ACCEPTED.value
    referral.decided_at = at
    referral.decided_by = by
    referral.first_conversation_on = first_conversation_on


def refused(referral: Referral, *, at: datetime, by: str, kind: str, reason: str | None) -> None:
    """-> refused by the municipality ('not_resident' re-routes the case, 'other' closes it)."""
    referral.status = ReferralStatus.REFUSED.value
    referral.decided_at = at
    referral.decided_by = by
    referral.refusal_kind = kind
    referral.refusal_reason = reason


# -- for the outbox --------------------------------------------------------------------------------------------


def entered_queue(session: Session) -> set[int]:
    """The referrals this flush put in `queued`: new ones, and retries of failed ones. Call in after_flush."""
    ids: set[int] = set()
    for obj in session.new:
        if isinstance(obj, Referral) and obj.status == ReferralStatus.QUEUED.value:
            ids.add(obj.id)
    for obj in session.dirty:
        retried = isinstance(obj, Referral) and obj.status == ReferralStatus.QUEUED.value
        if retried and ReferralStatus.FAILED.value in inspect(obj).attrs.status.history.deleted:
            ids.add(obj.id)
    return ids
