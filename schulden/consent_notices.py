"""When a consent is withdrawn, the creditors we wrote under it hear that our authorisation has ended.

A creditor who received a letter from us on the detainee's behalf (domain.md 4: L1-L7) holds our word that we act
for him. When the consent that letter relied on is withdrawn (domain.md 6.3 item 10, L10: "stop all outgoing
letters/data immediately"), the letters still waiting for that purpose are stopped, and each creditor who did get
one receives a notice (letter type L10, addressed to the creditor) that the authorisation ended on that day and that
he deals with the client directly from now on. The notice carries no reply code: there is nothing to answer.

A creditor to whom nothing went out hears nothing: we never told him we act for the client, and writing to him
now would itself share the client's data without a consent.

Used by a partial withdrawal (cases/services.py `withdraw_consents`) and by the case's `withdraw_consent` step
(NOTIFY_CREDITORS_OF_WITHDRAWAL), which closes the case. Nothing here commits.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from contextlib import suppress
from datetime import date
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from schulden.cases.models import Case, ConsentPurpose
from schulden.consents import CREDITOR_LETTER_PURPOSE, has_valid_consent
from schulden.creditors.models import Creditor
from schulden.debts.models import Debt
from schulden.letters import lifecycle
from schulden.letters.models import Channel, Letter, LetterStatus
from schulden.letters.services import NO_CHANNEL, ObjectionDesk, creditor_channel, request_letter
from workflows import Context, Effect

#: The letter type of the notice: the withdrawal letter, whose text has a part for a creditor.
NOTICE_TYPE = "L10"


def notify_creditors_of_withdrawal(
    session: Session,
    case: Case,
    purposes: Collection[ConsentPurpose],
    *,
    on: date,
    requested_by: str,
    key_prefix: str,
    only_uncovered: bool = True,
) -> list[Letter]:
    """Stop the case's creditor letters for `purposes` that have not gone out and ask one notice per creditor who had
    such a letter; returns the notices (one per creditor; asked again with the same prefix, the same ones).

    `on` is the day the authorisation ended (a date). With `only_uncovered` (a partial withdrawal), a creditor still
    covered for a purpose by a consent in force on `on` (e.g. one naming him, when only a general one was withdrawn)
    keeps his letters for it; the case's `withdraw_consent` step passes False: everything has ended.
    """
    types = sorted(t for t, p in CREDITOR_LETTER_PURPOSE.items() if p in purposes)
    if not types:
        return []
    candidates = list(
        session.scalars(
            select(Letter)
            .where(
                Letter.case_id == case.id,
                Letter.letter_type.in_(types),
                Letter.creditor_id.is_not(None),
                or_(
                    Letter.status.in_((*lifecycle.OPEN, LetterStatus.SENT.value)),
                    Letter.delivery_started_at.is_not(None),  # an e-mail on its way, even if stopped since
                ),
            )
            .order_by(Letter.id)
        )
    )
    # A creditor already told (an earlier partial withdrawal) is not told again about the letters he had by then.
    told_before: dict[int | None, int] = {
        row.creditor_id: row.last_id
        for row in session.execute(
            select(Letter.creditor_id, func.max(Letter.id).label("last_id"))
            .where(
                Letter.case_id == case.id,
                Letter.letter_type == NOTICE_TYPE,
                Letter.creditor_id.is_not(None),
                Letter.status != LetterStatus.CANCELLED.value,
            )
            .group_by(Letter.creditor_id)
        )
    }
    ended: list[Letter] = []
    for letter in candidates:
        purpose = CREDITOR_LETTER_PURPOSE[letter.letter_type]
        if only_uncovered:
            # The consent guard asks about the debt's own creditor (a collecting party writes on its behalf).
            debt = session.get(Debt, letter.debt_id) if letter.debt_id is not None else None
            creditor_id = debt.creditor_id if debt is not None else letter.creditor_id
            if has_valid_consent(session, case.id, purpose, on=on, creditor_id=creditor_id):
                continue
        ended.append(letter)
    told = sorted(
        {
            lt.creditor_id
            for lt in ended
            if lt.creditor_id is not None and _went_out(lt) and lt.id > told_before.get(lt.creditor_id, 0)
        }
    )
    _cancel(session, [lt.id for lt in ended if lt.status in lifecycle.OPEN], reason="toestemming ingetrokken")
    notices = []
    for creditor_id in told:
        creditor = session.get_one(Creditor, creditor_id)
        # An objection desk gets no letter of ours (letters/services.py); the withdrawal itself must not fail on it.
        with suppress(ObjectionDesk):
            key = f"{key_prefix}-{NOTICE_TYPE}-c{creditor_id}"
            notices.append(_notice(session, case, creditor, on=on, requested_by=requested_by, key=key))
    return notices


def _went_out(letter: Letter) -> bool:
    """Sent, or an e-mail whose delivery has started: it may have left the server before anything could stop it."""
    return letter.status == LetterStatus.SENT.value or letter.delivery_started_at is not None


def _cancel(session: Session, letter_ids: list[int], *, reason: str) -> int:
    """queued | rendering | rendered -> cancelled for these letters only (lifecycle.cancel_open does a whole case).

    The same conditional UPDATE as lifecycle.cancel_open: a render job that still holds its claim finds the letter
    cancelled and records nothing. An e-mail already on its way may still be recorded as sent (lifecycle.sent
    allows it), which is why its creditor is told as well.
    """
    if not letter_ids:
        return 0
    result = session.execute(
        update(Letter)
        .where(Letter.id.in_(letter_ids), Letter.status.in_(lifecycle.OPEN))
        .values(status=LetterStatus.CANCELLED.value, last_error=f"{reason}: brief gestopt")
        .execution_options(synchronize_session="fetch")
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _notice(session: Session, case: Case, creditor: Creditor, *, on: date, requested_by: str, key: str) -> Letter:
    """The notice to one creditor: an L10 with his address fixed on it, sent the way his letters go."""
    letter = request_letter(
        session, case=case, letter_type=NOTICE_TYPE, key=key, requested_by=requested_by, letter_date=on,
        recipient=creditor,
    )  # fmt: skip
    # request_letter sends an L10 by post, as the detainee's form goes; this one takes the creditor's own channel.
    channel = creditor_channel(creditor)
    if letter.channel != channel.value and letter.status == LetterStatus.QUEUED.value:
        letter.channel = channel.value
        if channel is Channel.MANUAL and not letter.recipient_channel_note:
            letter.recipient_channel_note = NO_CHANNEL
        session.flush()
    return letter


def _notify_on_step(ctx: Context) -> Mapping[str, Any]:
    case = ctx.session.scalar(select(Case).where(Case.instance_id == ctx.instance.id))
    if case is None:
        return {"letters": []}
    letters = notify_creditors_of_withdrawal(
        ctx.session,
        case,
        list(ConsentPurpose),
        on=ctx.today,
        requested_by=ctx.actor.actor_id,
        key_prefix=f"wf{ctx.instance.id}-{ctx.instance.last_seq}",
        only_uncovered=False,
    )
    return {"letters": [lt.id for lt in letters]}


#: For the case's `withdraw_consent` step, after `cancel_outgoing_letters` (so the notices themselves are not
#: stopped): every creditor who had a letter hears that the authorisation has ended.
NOTIFY_CREDITORS_OF_WITHDRAWAL = Effect(
    "notify_creditors_of_withdrawal",
    _notify_on_step,
    "Schrijft elke schuldeiser die een brief kreeg dat de machtiging is beëindigd (L10 aan de schuldeiser)",
)
