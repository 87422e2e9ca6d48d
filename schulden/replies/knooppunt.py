"""Schuldenknooppunt's vocabulary (issue 12 item 8): every letter and every creditor answer named as the message of
the Schuldenknooppunt (SKN) it stands for, and a case's correspondence exported as one structured, versioned
document, so that a later link to the SKN is a mapping of this document and not a redesign of our data.

The message set is SKN's module Schuldregeling 2.0 (schuldenknooppunt.nl/hoe-werkt-het/; the process agreements
for helpers and creditors under schuldenknooppunt.nl/infoportaal/afsprakenstelsel/). docs/schuldenknooppunt.md
maps it field by field and says what is not mapped and why.

Who may export: whoever may read the case (the scope of GET /cases/{id}, `cases.queries.case_detail`); out of scope
is NotFound, as for the case itself. The export writes one `case.knooppunt_export` audit row in the caller's
transaction and never commits. It carries no BSN: see `case_export`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from schulden import audit
from schulden.actors import UserActor
from schulden.cases.models import Case
from schulden.cases.queries import CaseDetailRow, case_detail, case_detail_of
from schulden.creditors.models import Creditor
from schulden.debts.models import Debt
from schulden.effects import LETTER_TITLES
from schulden.errors import NotFound
from schulden.letters.compose import our_reference
from schulden.letters.models import Letter
from schulden.organisations.models import Organisation
from schulden.replies.models import NO_COOPERATION_LABELS, CreditorReply, NoCooperation
from workflows import Actor, HistoryEntry, WorkflowInstance
from workflows.store import utcnow

#: The name and version of the export's format. Raise the version when a field changes meaning or disappears;
#: adding a field keeps it (a reader ignores what it does not know).
EXPORT_FORMAT = "schuldroute.schuldenknooppunt-export"
EXPORT_VERSION = 1
#: The SKN message set this mapping was written against.
SKN_RELEASE = "Schuldregeling 2.0"
AUDIT_ACTION = "case.knooppunt_export"


class SknMessage(StrEnum):
    """The helper's (schuldhulpverlener's) messages that our letters stand for."""

    KENNISGEVING = "Kennisgeving"
    # The same notice to a creditor that works with the BSN (a government body): SKN has a message of its own.
    KENNISGEVING_PUBLIEK = "Kennisgeving Publiek"
    SALDOVERZOEK = "Saldoverzoek"
    STATUSVERZOEK = "Statusverzoek"
    BETAALVOORSTEL = "Betaalvoorstel"


class SknAnswer(StrEnum):
    """The creditor's messages that a creditor's answer (CreditorReply) stands for."""

    KENNISGEVING_ANTWOORD = "Kennisgeving antwoord"
    SALDOVERZOEK_ANTWOORD = "Saldoverzoek antwoord"
    BETAALVOORSTEL_ANTWOORD = "Betaalvoorstel antwoord"
    GEEN_MEDEWERKING = "Geen medewerking"


@dataclass(frozen=True)
class LetterMapping:
    """What SKN message(s) a letter type is; `messages` empty means none, and `note` says why."""

    letter_type: str
    messages: tuple[SknMessage, ...]
    note: str


#: Every letter type of domain.md section 4, with its SKN message(s) or an explicit none.
LETTER_MESSAGES: dict[str, LetterMapping] = {
    m.letter_type: m
    for m in (
        LetterMapping(
            "L1",
            (SknMessage.KENNISGEVING, SknMessage.SALDOVERZOEK),
            "De melding van detentie met het verzoek om saldo-opgave: Kennisgeving en Saldoverzoek in één brief "
            "met één antwoordcode. Aan een schuldeiser die met het BSN werkt is het Kennisgeving Publiek.",
        ),
        LetterMapping("L2", (SknMessage.SALDOVERZOEK,), "Het losse verzoek om saldo-opgave."),
        LetterMapping(
            "L3",
            (SknMessage.STATUSVERZOEK,),
            "De herinnering vraagt naar de stand van een onbeantwoorde brief. Het SKN laat de bewaking van "
            "termijnen aan de deelnemers; zie docs/schuldenknooppunt.md over Statusverzoek.",
        ),
        LetterMapping("L4", (SknMessage.BETAALVOORSTEL,), "Het voorstel voor een betalingsregeling."),
        LetterMapping(
            "L5",
            (),
            "Geen SKN-bericht: het SKN kent geen opzegging van een overeenkomst; die blijft een brief.",
        ),
        LetterMapping(
            "L6",
            (),
            "Geen SKN-bericht: de opschorting van de zorgverzekering gaat naar de zorgverzekeraar als verzekeraar, "
            "niet als schuldeiser in een schuldregeling.",
        ),
        LetterMapping(
            "L7",
            (),
            "Geen SKN-bericht: een wijzigingsmelding aan Toeslagen, UWV, SVB of de gemeente loopt via hun eigen "
            "kanalen, niet via het SKN.",
        ),
        LetterMapping(
            "L8", (), "Geen SKN-bericht: de warme overdracht gaat naar de gemeente, niet naar een schuldeiser."
        ),
        LetterMapping("L9", (), "Geen SKN-bericht: de machtiging is een brief aan de gedetineerde zelf."),
        LetterMapping("L10", (), "Geen SKN-bericht: de intrekking is een brief aan de gedetineerde zelf."),
    )
}


@dataclass(frozen=True)
class SknReason:
    """A reason of SKN's 'Geen medewerking' (process agreements for creditors, 5): our stable code and SKN's words.

    The codes are ours: SKN 2.0 names the element Reden, and a link maps these four codes onto its values."""

    code: str
    label: str


#: Every NoCooperation value with its SKN reason, or None where SKN has none ('other').
NO_COOPERATION_REASONS: dict[NoCooperation, SknReason | None] = {
    NoCooperation.CLIENT_UNKNOWN: SknReason("klant_onbekend", "Klant is onbekend"),
    NoCooperation.FINAL_DISCHARGE: SknReason("recent_finale_kwijting", "Klant heeft recent finale kwijting ontvangen"),
    NoCooperation.RECENT_STABILISATION: SknReason(
        "recent_stabilisatiepoging", "Klant heeft recent een poging tot stabilisatie gehad"
    ),
    NoCooperation.DECLINES_HELPER: SknReason(
        "geen_samenwerking_shv", "Schuldeiser wenst geen samenwerking met deze schuldhulpverlener"
    ),
    # SKN's Geen medewerking has these four reasons only. An 'other' answer is exported with the creditor's own
    # explanation and no SKN reason; a link cannot send it as Geen medewerking and leaves it to the counsellor.
    NoCooperation.OTHER: None,
}

#: Letters whose answers are no SKN answer: the letter itself is no SKN message.
_NO_SKN_ANSWER = frozenset(t for t, m in LETTER_MESSAGES.items() if not m.messages)
_BALANCE = ("principal_cents", "interest_cents", "costs_cents")


def messages_for_letter(letter_type: str, *, creditor_uses_bsn: bool = False) -> tuple[SknMessage, ...]:
    """The SKN message(s) a letter of this type stands for (empty: none). KeyError for an unknown type."""
    messages = LETTER_MESSAGES[letter_type].messages
    if creditor_uses_bsn:
        # SKN process agreements for helpers, 3 and 6: a creditor that works with the BSN gets Kennisgeving Publiek.
        messages = tuple(SknMessage.KENNISGEVING_PUBLIEK if m is SknMessage.KENNISGEVING else m for m in messages)
    return messages


def answer_type(reply: CreditorReply, letter_type: str | None) -> SknAnswer | None:
    """The SKN message a creditor's answer stands for, from what it says and the letter it answers (None: the
    letter is no SKN message, so neither is the answer).

    Geen medewerking first (whatever else was filled in, the creditor declined); then an answer to our proposal
    (L4) is Betaalvoorstel antwoord; an answer with a balance is Saldoverzoek antwoord; the rest (a suspension, the
    creditor's numbers, a note) is Kennisgeving antwoord, which SKN lets a creditor fill with its klantnummer and
    factuurnummer.
    """
    if letter_type in _NO_SKN_ANSWER:
        return None
    if reply.no_cooperation:
        return SknAnswer.GEEN_MEDEWERKING
    if letter_type == "L4":
        return SknAnswer.BETAALVOORSTEL_ANTWOORD
    if any(getattr(reply, name) is not None for name in _BALANCE):
        return SknAnswer.SALDOVERZOEK_ANTWOORD
    return SknAnswer.KENNISGEVING_ANTWOORD


def case_reference(case_id: int) -> str:
    """Our reference of the case (SKN's KlantnummerSHV), as a letter about the case carries it; a letter about a
    debt adds the debt's id (letters/compose.py `our_reference`)."""
    return f"SR-{case_id:06d}"


# -- the export -----------------------------------------------------------------------------------------------------


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _moment(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _party(creditor: Creditor | None) -> dict[str, Any] | None:
    if creditor is None:
        return None
    return {"id": creditor.id, "name": creditor.name, "kvk": creditor.kvk, "uses_bsn": creditor.may_receive_bsn}


def _uses_bsn(letter: Letter, creditors: dict[int, Creditor]) -> bool:
    """Whether the letter's recipient works with the BSN: the rule of letters/compose.py, so the SKN message is
    the one the letter was (the copy on the letter when it was made, and the directory still says so)."""
    current = creditors.get(letter.creditor_id) if letter.creditor_id else None
    return letter.recipient_may_receive_bsn and current is not None and current.may_receive_bsn


def _proposals(session: Session, debts: list[Debt]) -> dict[int, list[dict[str, Any]]]:
    """Per debt, the payment plans proposed (the payloads of its `propose_arrangement` steps), oldest first: each
    such step asked for exactly one L4 (debts/workflow.py), so the n-th L4 of a debt states the n-th proposal."""
    instance_debt = {d.instance_id: d.id for d in debts}
    rows = session.execute(
        select(HistoryEntry.instance_id, HistoryEntry.payload)
        .where(HistoryEntry.instance_id.in_(instance_debt), HistoryEntry.event == "propose_arrangement")
        .order_by(HistoryEntry.instance_id, HistoryEntry.seq)
    ).all() if debts else []  # fmt: skip
    proposals: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for instance_id, payload in rows:
        payload = payload or {}
        proposals[instance_debt[instance_id]].append(
            {
                "monthly_cents": payload.get("monthly_cents"),
                "months": payload.get("months"),
                "start_date": payload.get("start_date"),
                "basis": payload.get("basis"),
            }
        )
    return proposals


def _message(letter: Letter, creditors: dict[int, Creditor], proposal: dict[str, Any] | None = None) -> dict[str, Any]:
    mapping = LETTER_MESSAGES[letter.letter_type]
    creditor_uses_bsn = _uses_bsn(letter, creditors)
    return {
        "letter_id": letter.id,
        "letter_type": letter.letter_type,
        "letter_title": LETTER_TITLES[letter.letter_type],
        "skn_messages": [m.value for m in messages_for_letter(letter.letter_type, creditor_uses_bsn=creditor_uses_bsn)],
        "skn_note": None if mapping.messages else mapping.note,
        "our_reference": our_reference(letter),
        "letter_date": _day(letter.letter_date),
        "sent_at": _moment(letter.sent_at),
        "status": letter.status,
        "round": letter.round,
        "channel": letter.channel,
        # The Betaalvoorstel's content (L4 only): amount a month, number of months, first month, basis.
        "proposal": proposal,
    }


def _messages(
    letters: list[Letter], creditors: dict[int, Creditor], proposals: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """A debt's letters as messages, each L4 with the proposal it states."""
    remaining = iter(proposals)
    return [
        _message(letter, creditors, next(remaining, None) if letter.letter_type == "L4" else None) for letter in letters
    ]


def _geen_medewerking(reply: CreditorReply) -> dict[str, Any] | None:
    if not reply.no_cooperation:
        return None
    reason = NoCooperation(reply.no_cooperation)
    skn = NO_COOPERATION_REASONS[reason]
    return {
        "reason": reason.value,
        "label": NO_COOPERATION_LABELS[reason],
        "skn_reason_code": skn.code if skn else None,
        "skn_reason": skn.label if skn else None,
        "note": reply.no_cooperation_note,
    }


def _answer(reply: CreditorReply, letter: Letter | None) -> dict[str, Any]:
    letter_type = letter.letter_type if letter is not None else None
    skn = answer_type(reply, letter_type)
    return {
        "reply_id": reply.id,
        "version": reply.version,
        "superseded": reply.superseded_at is not None,
        "received_on": _day(reply.received_on),
        "channel": reply.channel,
        "in_answer_to": None
        if letter is None
        else {"letter_id": letter.id, "letter_type": letter.letter_type, "our_reference": our_reference(letter)},
        "skn_answer": skn.value if skn else None,
        "klantnummer_se": reply.creditor_customer_number,
        "factuurnummer_se": reply.creditor_invoice_number,
        "balance": {
            "principal_cents": reply.principal_cents,
            "interest_cents": reply.interest_cents,
            "costs_cents": reply.costs_cents,
            "total_cents": reply.total_cents,
            "peildatum": _day(reply.peildatum),
        },
        "suspension": {
            "collection_suspended": reply.collection_suspended,
            "collection_suspended_until": _day(reply.collection_suspended_until),
            "interest_suspended": reply.interest_suspended,
            "interest_suspended_until": _day(reply.interest_suspended_until),
        },
        "has_judgment": reply.has_judgment,
        "has_attachment": reply.has_attachment,
        "original_creditor": reply.original_creditor,
        "arrangement": {
            "offered": reply.arrangement_offered,
            "monthly_cents": reply.arrangement_monthly_cents,
            "terms": reply.arrangement_terms,
            # Betaalvoorstel antwoord: akkoord (accept), niet akkoord (refuse, with its reason) or a counter-offer.
            "decision": reply.arrangement_decision,
            "reason": reply.arrangement_reason,
        },
        # No SKN message (L5 is none): exported so the document holds the whole answer.
        "termination": {
            "confirmed": reply.termination_confirmed,
            "end_date": _day(reply.termination_date),
            "reason": reply.termination_reason,
        },
        "contact": {"name": reply.contact_name, "phone": reply.contact_phone, "email": reply.contact_email},
        "geen_medewerking": _geen_medewerking(reply),
        "note": reply.note,
    }


def _newest(answers: list[CreditorReply], name: str) -> str | None:
    """The creditor's number as its newest answer that gave one states it."""
    for reply in reversed(answers):
        value = getattr(reply, name)
        if value:
            return str(value)
    return None


def _detail(session: Session, actor: Actor, case_id: int) -> CaseDetailRow:
    """The case under the actor's scope, exactly as GET /cases/{id} reads it (NotFound out of scope).

    Only a person has a scope. The one other caller is the operator's command line (`schuldroute cases
    knooppunt-export`), which acts as the system, as `letters print-batch` does, and reads the case by its id.
    """
    if isinstance(actor, UserActor):
        return case_detail(session, actor, case_id)
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound("case", case_id)
    return case_detail_of(session, case)


def case_export(
    session: Session, actor: Actor, case_id: int, *, origin: str | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """The case's correspondence with its creditors as SKN messages: a JSON-ready dict (dates as ISO text, amounts
    in cents), with the `case.knooppunt_export` audit row. NotFound when the actor may not read the case. Does not
    commit.

    The client is named as on the case page (name, initials, date of birth) and never with the BSN: the export is a
    file that leaves the application, while the BSN is shown to staff only masked, and in full only through the
    logged reveal (cases.views.reveal_bsn). Where SKN wants the BSN (Kennisgeving Publiek, to a creditor with
    `uses_bsn`) a link adds it when it sends, through that reveal; `client.bsn_included` says so.
    """
    detail = _detail(session, actor, case_id)
    case, detainee = detail.case, detail.detainee
    debts = list(session.scalars(select(Debt).where(Debt.case_id == case.id).order_by(Debt.id)))
    letters = list(session.scalars(select(Letter).where(Letter.case_id == case.id).order_by(Letter.id)))
    creditor_ids = (
        {d.creditor_id for d in debts}
        | {d.collecting_party_id for d in debts if d.collecting_party_id}
        | {letter.creditor_id for letter in letters if letter.creditor_id}
    )
    creditors = {
        c.id: c for c in session.scalars(select(Creditor).where(Creditor.id.in_(creditor_ids)))
    } if creditor_ids else {}  # fmt: skip
    rows = session.execute(
        select(WorkflowInstance.id, WorkflowInstance.state).where(
            WorkflowInstance.id.in_([d.instance_id for d in debts])
        )
    )
    states: dict[int, str] = dict(rows.all())
    letters_by_id = {letter.id: letter for letter in letters}
    replies = list(
        session.scalars(select(CreditorReply).where(CreditorReply.case_id == case.id).order_by(CreditorReply.id))
    )
    proposals = _proposals(session, debts)
    letters_of: dict[int | None, list[Letter]] = defaultdict(list)
    for letter in letters:
        letters_of[letter.debt_id].append(letter)
    replies_of: dict[int | None, list[CreditorReply]] = defaultdict(list)
    for reply in replies:
        replies_of[reply.debt_id].append(reply)

    debt_items = []
    for debt in debts:
        creditor = creditors[debt.creditor_id]
        collector = creditors.get(debt.collecting_party_id) if debt.collecting_party_id else None
        answers = replies_of[debt.id]
        debt_items.append(
            {
                "debt_id": debt.id,
                "creditor": _party(creditor),
                "collecting_party": _party(collector),
                "debt_type": debt.debt_type,
                "category": debt.category,
                "state": states.get(debt.instance_id),
                "references": {
                    # The reference every letter about this debt carries (letters/compose.py names it).
                    "our_reference": our_reference(Letter(case_id=case.id, debt_id=debt.id)),
                    "creditor_reference": debt.creditor_reference,
                    "klantnummer_se": _newest(answers, "creditor_customer_number"),
                    "factuurnummer_se": _newest(answers, "creditor_invoice_number"),
                },
                "amount": {
                    "principal_cents": debt.principal_cents,
                    "interest_cents": debt.interest_cents,
                    "costs_cents": debt.costs_cents,
                    "total_cents": debt.total_cents,
                    "status": debt.amount_status,
                    "peildatum": _day(debt.peildatum),
                },
                "messages": _messages(letters_of[debt.id], creditors, proposals[debt.id]),
                "answers": [
                    _answer(reply, letters_by_id.get(reply.letter_id) if reply.letter_id else None) for reply in answers
                ],
            }
        )
    team = session.get(Organisation, case.team_id) if case.team_id else None
    document = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "skn_release": SKN_RELEASE,
        "generated_at": _moment(now or utcnow()),
        "case": {"id": case.id, "reference": case_reference(case.id), "state": detail.state},
        "helper": None if team is None else {"organisation_id": team.id, "name": team.team_name or team.name},
        "client": {
            "initials": "".join(f"{part[0]}." for part in detainee.given_names.split() if part),
            "given_names": detainee.given_names,
            "surname_prefix": detainee.surname_prefix,
            "surname": detainee.surname,
            "date_of_birth": _day(detainee.date_of_birth),
            "bsn_included": False,
        },
        "debts": debt_items,
        # Letters about the case, not a debt (the referral, the consent, the notices at intake): no SKN message.
        "other_letters": [_message(letter, creditors) for letter in letters_of[None]],
    }
    audit.record(
        session, actor=actor, action=AUDIT_ACTION, object_type="case", object_id=case.id, case_id=case.id,
        origin=origin, details={"version": EXPORT_VERSION, "debt_ids": [d.id for d in debts]},
    )  # fmt: skip
    return document
