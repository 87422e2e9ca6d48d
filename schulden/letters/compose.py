"""From the database to a letter's content: who writes, to whom, about what, with which merge fields.

What a recipient may see is decided here (security.md 1.5-1.7, domain.md 4): the BSN only for a recipient with a
legal basis (a government creditor marked so, the municipality, the detainee himself); never a cell or
department of the PI; detention dates only where the letter type needs them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from schulden.cases.models import Case, Detainee, DetentionType, HouseholdMember, Threat
from schulden.creditors.models import Creditor
from schulden.debts.models import Debt
from schulden.letters.consent_fields import consent_fields, is_referral_form, withdrawal_fields
from schulden.letters.content import Address, DebtLine, LetterContent
from schulden.letters.handover_fields import handover_fields
from schulden.letters.models import Letter, LetterStatus
from schulden.letters.notice_fields import notice_fields
from schulden.letters.reply_codes import ReplySecrets
from schulden.letters.templates import add_months, load_template
from schulden.organisations.models import Organisation
from schulden.users.models import User
from workflows import BusinessCalendar, HistoryEntry

#: Letters that go to a creditor (and carry a reply code).
TO_CREDITOR = frozenset({"L1", "L2", "L3", "L4", "L5", "L6", "L7"})
#: Letters whose recipient must know of the detention (the reason we write) and its dates.
STATES_DETENTION = frozenset({"L1", "L5", "L6", "L7", "L8", "L9"})
#: Letters that say only whether the client is still detained (a creditor told of it by L1): the release date.
KNOWS_RELEASE = frozenset({"L3", "L4"})
#: The letters a reminder (L3) chases: the ones that ask the creditor something.
CHASED_TYPES = ("L1", "L2", "L4", "L5")
#: The start of the CJIB's name in the creditor directory (schulden/reference.py `CJIB`).
CJIB_NAME = "Centraal Justitieel Incassobureau"
#: What each attachment is called in the texts that promise it ("Een kopie van de machtiging sturen wij mee"):
#: the list under "Bijlagen" holds exactly the attachments the text promises (issue 12).
AUTHORISATION = "Machtiging en toestemmingsverklaring (getekend)"
DETENTION_STATEMENT = "Detentieverklaring"
RELEASE_PROOF = "Bewijs van ontslag uit detentie"
ATTACHMENT_WORDS: dict[str, tuple[str, ...]] = {
    AUTHORISATION: ("machtiging", "toestemmingsverklaring"),
    DETENTION_STATEMENT: ("detentieverklaring", "verklaring van de detentie"),
    RELEASE_PROOF: ("bewijs van ontslag",),
}
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
    """Our reference: one per client and debt, the same on every letter about that debt, one per case otherwise.

    A creditor files our letters under its own claim; a new number on each letter (the old SR-case-type-id) made
    the notice, the reminder and the payment proposal look like three matters (issue 12). The case number names the
    client, the debt id the claim; both never change. The letter itself is told apart by its reply code, its type
    and its date (the footer of the PDF names the type and the letter number).
    """
    if letter.debt_id is None:
        return f"SR-{letter.case_id:06d}"
    return f"SR-{letter.case_id:06d}-{letter.debt_id}"


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
        **_creditor_letter_fields(session, letter, rows),
        **_municipality_fields(rows.municipality),
        **_letter_type_fields(session, kind, rows.case, letter),
        **handover_fields(session, kind, rows.case, letter.letter_date),
        **notice_fields(session, letter, rows.case),
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
        attachments=_attachments(kind, fields),
        reply_code=reply.code if reply is not None and to_creditor else None,
        reply_url=f"{sender.public_url}/antwoord/{reply.token}" if reply is not None and to_creditor else None,
        signature=(sender.name, "Schuldhulpverlening"),
    )


def _recipient(session: Session, letter: Letter, rows: _Rows) -> tuple[Address, bool]:
    """To whom the letter goes, and whether that recipient may see the BSN."""
    kind = letter.letter_type
    # A withdrawal (L10) goes to the detainee, or, as the notice that our authorisation ended, to a creditor we
    # wrote to (schulden/consent_notices.py): that one is addressed like any other creditor letter.
    # An office outside the directory (a municipality's income department, L7) has its address on the letter too.
    if (kind in TO_CREDITOR or kind == "L10") and (letter.creditor_id is not None or letter.recipient_name):
        # The letter's own copy, never the live directory: a directory change after the letter was made (and
        # every re-render of it) must not change who it is addressed to or whether it may carry the BSN.
        # The BSN only if the creditor might receive it when the letter was made and still may: a legal basis
        # withdrawn since stops it on a re-render, a basis granted since does not add it to an old letter.
        current = session.get(Creditor, letter.creditor_id) if letter.creditor_id is not None else None
        may_see_bsn = letter.recipient_may_receive_bsn and (
            letter.creditor_id is None or (current is not None and current.may_receive_bsn)
        )
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
        # The reminder and the payment proposal say whether the client is still detained: never "still detained"
        # or "a plan for the detention period" once he is out.
        "actual_release": case.actual_release if states_detention or kind in KNOWS_RELEASE else None,
        "pre_trial": pre_trial if states_detention else False,
    }


def _debt_fields(session: Session, letter: Letter, rows: _Rows, calendar: BusinessCalendar) -> dict[str, Any]:
    """The debt the letter is about and where the correspondence about it stands."""
    debt, original = rows.debt, rows.original
    return {
        "collector_for": original.name if debt is not None and debt.collecting_party_id and original else None,
        "threat": _threat_for(letter, rows),
        "reply_deadline": calendar.add_working_days(letter.letter_date, 10),
        "contract_number": debt.creditor_reference if debt is not None else None,
        "end_date": None,
    }


def _threat_for(letter: Letter, rows: _Rows) -> str | None:
    """The threat a letter may name. A creditor reads only the threat its own claim causes: a landlord the
    eviction, not the CJIB (data minimisation; the eviction is none of the CJIB's business). The insurer reads a
    threatened termination of the insurance; the municipality (L8) and the client read the case's threat."""
    debt, case = rows.debt, rows.case
    if debt is not None:
        return debt.threat
    if letter.letter_type == "L6":
        return case.threat if case.threat == Threat.INSURANCE_TERMINATION.value else None
    if letter.letter_type in TO_CREDITOR:
        return None
    return case.threat


def _municipality_fields(municipality: Organisation | None) -> dict[str, Any]:
    return {
        "municipality_name": municipality.name if municipality else None,
        "municipality_address": ", ".join(organisation_address(municipality).lines) if municipality else None,
        "first_appointment": None,
    }


def _letter_type_fields(session: Session, kind: str, case: Case, letter: Letter) -> dict[str, Any]:
    """What only some letters tell: the consent (L8, L9), its withdrawal (L10), the household (L8)."""
    return {
        "consent": (
            consent_fields(session, case, letter.letter_date, referral_only=is_referral_form(letter))
            if kind in ("L8", "L9")
            else None
        ),
        "withdrawal": withdrawal_fields(session, case, letter) if kind == "L10" else None,
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


def _attachments(kind: str, fields: dict[str, Any]) -> tuple[str, ...]:
    """Exactly what the text of `kind` says we enclose, and nothing it does not (test_creditor_letter_content.py).

    L4 encloses no invoice: we do not hold the creditor's last invoice, so the text asks the creditor to send it.
    """
    if kind == "L8":
        return (AUTHORISATION,)  # "Een kopie van de toestemmingsverklaring sturen wij mee"
    if kind not in TO_CREDITOR:
        return ()
    if kind == "L6":
        # Suspension encloses the detention statement, reactivation the proof of release (L6's two variants).
        return (AUTHORISATION, RELEASE_PROOF if fields.get("reactivation") else DETENTION_STATEMENT)
    if kind in ("L1", "L5", "L7"):
        return (AUTHORISATION, DETENTION_STATEMENT)
    return (AUTHORISATION,)


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


def _creditor_letter_fields(session: Session, letter: Letter, rows: _Rows) -> dict[str, Any]:
    """What a creditor needs to match a letter to its claim and answer it: the letter a reminder chases, the plan
    of a proposal against the whole claim, and the CJIB's own terms."""
    kind, debt = letter.letter_type, rows.debt
    chased = _chased_letter(session, letter) if kind == "L3" else None
    arrangement_of = kind == "L4" or (chased is not None and chased.letter_type == "L4")
    return {
        # first_letter_date and first_reference stay for texts stored before `chased` (Beheer keeps old versions).
        "first_letter_date": chased.letter_date if chased is not None else letter.letter_date,
        "first_reference": our_reference(chased) if chased is not None else None,
        "round": _reminder_round(session, letter, chased) if kind == "L3" else letter.round,
        "chased": _chased_fields(chased) if chased is not None else None,
        "arrangement": _arrangement(session, debt) if arrangement_of else None,
        "cjib": _cjib_fields(letter, rows) if kind in CHASED_TYPES or kind == "L3" else None,
    }


def _chased_letter(session: Session, letter: Letter) -> Letter | None:
    """The letter a reminder chases: the debt's latest sent L1, L2, L4 or L5 before it (else the latest not
    cancelled one: a reminder is only asked after such a letter, but it may not be marked sent yet)."""
    if letter.debt_id is None:
        return None
    earlier = (
        select(Letter)
        .where(
            Letter.debt_id == letter.debt_id,
            Letter.letter_type.in_(CHASED_TYPES),
            Letter.id < letter.id,
            Letter.status != LetterStatus.CANCELLED.value,
        )
        .order_by(Letter.id.desc())
        .limit(1)
    )
    sent = session.scalar(earlier.where(Letter.status == LetterStatus.SENT.value))
    return sent if sent is not None else session.scalar(earlier)


def _reminder_round(session: Session, letter: Letter, chased: Letter | None) -> int:
    """1 for the first reminder of the chased letter, 2 for the second: reminders of an earlier letter (the notice's
    two before a payment proposal) do not make the proposal's first reminder a "second" one."""
    if chased is None:
        return letter.round
    before = session.scalar(
        select(func.count())
        .select_from(Letter)
        .where(
            Letter.debt_id == letter.debt_id,
            Letter.letter_type == "L3",
            Letter.id > chased.id,
            Letter.id < letter.id,
            Letter.status != LetterStatus.CANCELLED.value,
        )
    )
    return 1 + int(before or 0)


def _chased_fields(chased: Letter) -> dict[str, Any]:
    return {
        "letter_type": chased.letter_type,
        "title": load_template(chased.letter_type).title,
        "date": chased.letter_date,
        "reference": our_reference(chased),
    }


def is_cjib(name: str | None) -> bool:
    """Whether a creditor (by its name in the directory, or the name fixed on a letter) is the CJIB."""
    return bool(name) and (name or "").startswith(CJIB_NAME)


def _cjib_fields(letter: Letter, rows: _Rows) -> dict[str, Any] | None:
    """The CJIB variant (domain.md 2.2): the CJIB collects for the state, so no word about collection agencies; its
    reference is the betalingskenmerk; a schadevergoedingsmaatregel must in principle be paid in full, so we ask a
    deferral with a start date (a month after release), never "as long as our client is detained"."""
    if not is_cjib(letter.recipient_name):
        return None
    debt, case = rows.debt, rows.case
    release = case.actual_release or (
        case.expected_release if case.detention_type != DetentionType.PRE_TRIAL.value else None
    )
    return {
        "schadevergoeding": debt is not None and debt.debt_type == "schadevergoedingsmaatregel",
        "deferral_start": add_months(release, 1) if release is not None else None,
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
    monthly, months = int(payload["monthly_cents"]), int(payload["months"])
    start = date.fromisoformat(str(payload["start_date"]))
    owed = debt.total_cents
    # The plan against the whole claim (issue 12: 20 x EUR 12,50 on a EUR 475 claim left EUR 225 unmentioned). An
    # unknown amount (0) says neither that the plan pays it off nor what remains.
    remaining = max(owed - monthly * months, 0) if owed > 0 else None
    paid_by = add_months(start, -(-owed // monthly) - 1) if owed > 0 and not remaining else None
    return {
        "monthly_cents": monthly,
        "months": months,
        "start_date": start,
        "basis": str(payload["basis"]),
        "remaining_cents": remaining or None,
        "paid_by": paid_by,
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
