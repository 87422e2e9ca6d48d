"""From the database to a letter's content: who writes, to whom, about what, with which merge fields.

What a recipient may see is decided here (security.md 1.5-1.7, domain.md 4): the BSN only for a recipient with a
legal basis (a government creditor marked so, the municipality, the detainee himself); never a cell or
department of the PI; detention dates only where the letter type needs them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from schulden.cases.models import Case, Detainee, DetentionType, HouseholdMember
from schulden.creditors.models import Creditor
from schulden.debts.models import Debt
from schulden.letters.consent_fields import consent_fields, withdrawal_fields
from schulden.letters.content import Address, DebtLine, LetterContent
from schulden.letters.models import Letter
from schulden.letters.reply_codes import ReplySecrets
from schulden.organisations.models import Organisation
from schulden.users.models import User
from workflows import BusinessCalendar, HistoryEntry

#: Letters that go to a creditor (and carry a reply code).
TO_CREDITOR = frozenset({"L1", "L2", "L3", "L4", "L5", "L6", "L7"})
#: Letters whose recipient must know of the detention (the reason we write) and its dates.
STATES_DETENTION = frozenset({"L1", "L5", "L6", "L7", "L8", "L9"})
DEBT_TYPE_LABELS = {
    "cjib_boete": "CJIB-boete",
    "schadevergoedingsmaatregel": "Schadevergoedingsmaatregel",
    "ontneming": "Ontnemingsmaatregel",
    "toeslagen": "Terugvordering toeslagen",
    "belasting": "Belastingschuld",
    "duo": "Studieschuld DUO",
    "uitkering_terugvordering": "Terugvordering uitkering",
    "zorgpremie": "Zorgpremie",
    "zorgkosten": "Zorgkosten",
    "huur": "Huurachterstand",
    "energie": "Energie",
    "water": "Water",
    "telecom": "Telefoon en internet",
    "bank_krediet": "Bank of krediet",
    "informeel": "Lening (informeel)",
    "overig": "Overige schuld",
}
REPLY_VALID_DAYS = 60


@dataclass(frozen=True)
class Sender:
    """Our side of the letter (from the settings)."""

    name: str
    address: tuple[str, ...]
    phone: str
    email: str
    public_url: str


def _full_name(detainee: Detainee) -> str:
    return " ".join(p for p in (detainee.given_names, detainee.surname_prefix, detainee.surname) if p)


def _initials(detainee: Detainee) -> str:
    return "".join(f"{part[0]}." for part in detainee.given_names.split() if part)


def _postcode_city(postcode: str | None, city: str | None) -> str | None:
    if not (postcode or city):
        return None
    # Dutch post: two spaces between postcode and place, the place in capitals (PostNL addressing guideline).
    return f"{postcode or ''}  {(city or '').upper()}".strip()


def letter_recipient_address(letter: Letter) -> Address:
    """The address fixed on the letter when it was made (schulden/letters/services.py `recipient_copy`)."""
    return _address_block(
        letter.recipient_name or "",
        letter.recipient_department,
        letter.recipient_address_line,
        letter.recipient_postcode,
        letter.recipient_city,
    )


def _address_block(
    name: str, department: str | None, address_line: str | None, postcode: str | None, city: str | None
) -> Address:
    lines = [name, f"t.a.v. {department}" if department else None, address_line, _postcode_city(postcode, city)]
    return Address(tuple(line for line in lines if line))


def organisation_address(org: Organisation, *, team: bool = True) -> Address:
    lines = [org.team_name if team and org.team_name else org.name, org.address_line]
    lines.append(_postcode_city(org.postcode, org.city))
    return Address(tuple(line for line in lines if line))


def our_reference(letter: Letter) -> str:
    return f"SR-{letter.case_id:06d}-{letter.letter_type}-{letter.id}"


@dataclass(frozen=True)
class _Rows:
    """The rows a letter is made from."""

    case: Case
    detainee: Detainee
    pi: Organisation
    debt: Debt | None
    original: Creditor | None  # the debt's own creditor (a collecting agency writes on its behalf)
    municipality: Organisation | None


def _rows(session: Session, letter: Letter) -> _Rows:
    case = session.get_one(Case, letter.case_id)
    debt = session.get(Debt, letter.debt_id) if letter.debt_id else None
    return _Rows(
        case=case,
        detainee=session.get_one(Detainee, case.detainee_id),
        pi=session.get_one(Organisation, case.pi_id),
        debt=debt,
        original=session.get(Creditor, debt.creditor_id) if debt is not None else None,
        municipality=session.get(Organisation, case.municipality_id) if case.municipality_id else None,
    )


def compose(
    session: Session,
    letter: Letter,
    *,
    sender: Sender,
    calendar: BusinessCalendar,
    reply: ReplySecrets | None,
) -> LetterContent:
    """The content of `letter`, ready for the renderer. `reply` is given for letters to creditors."""
    rows = _rows(session, letter)
    kind = letter.letter_type
    recipient, may_see_bsn = _recipient(session, letter, rows)
    fields: dict[str, Any] = {
        **_client_fields(rows.detainee, may_see_bsn=may_see_bsn),
        **_detention_fields(kind, rows.case, rows.pi),
        **_debt_fields(session, letter, rows, calendar),
        **_municipality_fields(rows.municipality),
        **_letter_type_fields(session, kind, rows.case, letter.letter_date),
    }
    to_creditor = reply is not None and kind in TO_CREDITOR
    return LetterContent(
        letter_type=kind,
        letter_id=letter.id,
        our_reference=our_reference(letter),
        their_reference=rows.debt.creditor_reference if rows.debt is not None else None,
        date=letter.letter_date,
        sender=Address((sender.name, *sender.address)),
        # The counsellor who asked for the letter signs it and is the contact: name first (the texts rely on it).
        sender_contact=(_counsellor_name(session, letter) or sender.name, f"Telefoon {sender.phone}", sender.email),
        recipient=recipient,
        fields=fields,
        debts=_debt_lines(session, kind, rows),
        attachments=_attachments(kind),
        reply_code=reply.code if reply is not None and to_creditor else None,
        reply_url=f"{sender.public_url}/antwoord/{reply.token}" if reply is not None and to_creditor else None,
        signature=(sender.name, "Schuldhulpverlening"),
    )


def _recipient(session: Session, letter: Letter, rows: _Rows) -> tuple[Address, bool]:
    """To whom the letter goes, and whether that recipient may see the BSN."""
    kind = letter.letter_type
    if kind in TO_CREDITOR and letter.creditor_id is not None:
        # The letter's own copy, never the live directory: a directory change after the letter was made (and
        # every re-render of it) must not change who it is addressed to or whether it may carry the BSN.
        # The BSN only if the creditor might receive it when the letter was made and still may: a legal basis
        # withdrawn since stops it on a re-render, a basis granted since does not add it to an old letter.
        current = session.get(Creditor, letter.creditor_id)
        may_see_bsn = letter.recipient_may_receive_bsn and current is not None and current.may_receive_bsn
        return letter_recipient_address(letter), may_see_bsn
    if kind == "L8" and rows.municipality is not None:
        # The municipality needs the BSN to match the person (Wgs, domain.md 1.4).
        return organisation_address(rows.municipality), True
    # The detainee's own letters: his name and DJI number with the PI's post address, never a cell.
    detainee, pi = rows.detainee, rows.pi
    lines = (
        _full_name(detainee),
        f"Registratienummer {detainee.dji_number}" if detainee.dji_number else None,
        pi.name,
        pi.address_line,
        _postcode_city(pi.postcode, pi.city),
    )
    return Address(tuple(line for line in lines if line)), True


def _client_fields(detainee: Detainee, *, may_see_bsn: bool) -> dict[str, Any]:
    return {
        "client_name": _full_name(detainee),
        "client_initials": _initials(detainee),
        "date_of_birth": detainee.date_of_birth,
        "dji_number": detainee.dji_number,
        "bsn": detainee.bsn if may_see_bsn and detainee.bsn else None,
    }


def _detention_fields(kind: str, case: Case, pi: Organisation) -> dict[str, Any]:
    """The PI and the detention's dates, only for the letter types that need them."""
    # The detention type alone says whether this is pre-trial detention: a sentence whose end date is not yet
    # recorded is still a sentence ("nog onbekend" in the letter). Writing "voorlopige hechtenis" for it told a
    # landlord a false fact about the client's criminal procedure (issue 12).
    pre_trial = case.detention_type == DetentionType.PRE_TRIAL.value
    states_detention = kind in STATES_DETENTION
    return {
        "pi_name": pi.name if states_detention or kind in ("L9", "L10") else None,
        "pi_postal_address": ", ".join(p for p in (pi.address_line, _postcode_city(pi.postcode, pi.city)) if p) or None,
        "detention_start": case.detention_start if states_detention else None,
        "expected_release": case.expected_release if states_detention else None,
        "pre_trial": pre_trial if states_detention else False,
    }


def _debt_fields(session: Session, letter: Letter, rows: _Rows, calendar: BusinessCalendar) -> dict[str, Any]:
    """The debt the letter is about and where the correspondence about it stands."""
    kind, debt, original = letter.letter_type, rows.debt, rows.original
    return {
        "collector_for": original.name if debt is not None and debt.collecting_party_id and original else None,
        "threat": (debt.threat if debt is not None and debt.threat else rows.case.threat),
        "reply_deadline": calendar.add_working_days(letter.letter_date, 10),
        "first_letter_date": _first_letter_date(session, letter) or letter.letter_date,
        "round": letter.round,
        "arrangement": _arrangement(session, debt) if kind == "L4" else None,
        "contract_number": debt.creditor_reference if debt is not None else None,
        "end_date": None,
        "benefits": list(BENEFITS.get(debt.debt_type, ("Uitkering of toeslag",))) if kind == "L7" and debt else None,
    }


def _municipality_fields(municipality: Organisation | None) -> dict[str, Any]:
    return {
        "municipality_name": municipality.name if municipality else None,
        "municipality_address": ", ".join(organisation_address(municipality).lines) if municipality else None,
        "first_appointment": None,
    }


def _letter_type_fields(session: Session, kind: str, case: Case, letter_date: date) -> dict[str, Any]:
    """What only some letters tell: the consent (L8, L9), its withdrawal (L10), the household (L8)."""
    return {
        "consent": consent_fields(session, case, letter_date) if kind in ("L8", "L9") else None,
        "withdrawal": withdrawal_fields(session, case) if kind == "L10" else None,
        "household": _household(session, case) if kind == "L8" else None,
    }


def _debt_lines(session: Session, kind: str, rows: _Rows) -> tuple[DebtLine, ...]:
    """The debt the letter is about; for the municipality's L8, every debt of the case."""
    if rows.debt is not None and rows.original is not None:
        return (_line(rows.debt, rows.original),)
    if kind == "L8":
        return tuple(
            _line(d, session.get_one(Creditor, d.creditor_id))
            for d in session.scalars(select(Debt).where(Debt.case_id == rows.case.id).order_by(Debt.id))
        )
    return ()


def _attachments(kind: str) -> tuple[str, ...]:
    if kind not in TO_CREDITOR:
        return ()
    attachments: tuple[str, ...] = ("Machtiging en toestemmingsverklaring (getekend)",)
    if kind in ("L1", "L6", "L7"):
        attachments += ("Detentieverklaring",)
    return attachments


def _line(debt: Debt, creditor: Creditor) -> DebtLine:
    return DebtLine(
        creditor=creditor.name,
        reference=debt.creditor_reference,
        description=DEBT_TYPE_LABELS.get(debt.debt_type, debt.debt_type),
        principal_cents=debt.principal_cents,
        interest_cents=debt.interest_cents,
        costs_cents=debt.costs_cents,
        amount_status=debt.amount_status,
    )


def _first_letter_date(session: Session, letter: Letter) -> date | None:
    if letter.debt_id is None:
        return None
    return session.scalar(
        select(Letter.letter_date)
        .where(Letter.debt_id == letter.debt_id, Letter.letter_type.in_(("L1", "L2")))
        .order_by(Letter.id)
        .limit(1)
    )


#: What an L7 names per debt type: which payment the detention affects.
BENEFITS = {
    "toeslagen": ("Toeslagen (zorgtoeslag, huurtoeslag, kindgebonden budget)",),
    "uitkering_terugvordering": ("Uitkering (UWV, SVB of gemeente)",),
}


def _arrangement(session: Session, debt: Debt | None) -> dict[str, Any] | None:
    """The payment plan proposed with the step that asked for this L4 (its event payload)."""
    if debt is None:
        return None
    payload = session.scalar(
        select(HistoryEntry.payload)
        .where(HistoryEntry.instance_id == debt.instance_id, HistoryEntry.event == "propose_arrangement")
        .order_by(HistoryEntry.seq.desc())
        .limit(1)
    )
    if not payload:
        return None
    return {
        "monthly_cents": int(payload["monthly_cents"]),
        "months": int(payload["months"]),
        "start_date": date.fromisoformat(str(payload["start_date"])),
        "basis": str(payload["basis"]),
    }


def _counsellor_name(session: Session, letter: Letter) -> str | None:
    user_id = letter.requested_by.removeprefix("user:")
    if not (letter.requested_by.startswith("user:") and user_id.isdigit()):
        return None
    user = session.get(User, int(user_id))
    return user.display_name if user is not None else None


def _household(session: Session, case: Case) -> list[str]:
    members = session.scalars(select(HouseholdMember).where(HouseholdMember.case_id == case.id))
    out = []
    for m in members:
        who = "Partner" if m.relation == "partner" else "Kind"
        extra = []
        if m.shares_lease:
            extra.append("deelt de huur")
        if m.shares_debts:
            extra.append("heeft gezamenlijke schulden")
        out.append(f"{who}{' (' + ', '.join(extra) + ')' if extra else ''}")
    return out
