"""Records of disclosure (issue 15 part 3; AVG art. 15(1)(c), art. 30(1)(d); domain.md 6.2 "an audit log of
disclosures"): for one case, to which creditors, municipalities and partners which of the detainee's data went, when,
on which consent purpose or legal basis, with the BSN named apart.

Nothing is stored for this: every disclosure is derived from what the system already keeps, so it cannot drift from
what really happened.

- a letter that went out (status `sent`) to a creditor, an office or the municipality: the data categories follow from
  the letter type by the same rules `schulden/letters/compose.py` uses to fill the letter (`STATES_DETENTION`,
  `KNOWS_RELEASE`, the debt, L6's policy, L7's benefits, L8's inventory), and the BSN from the mark copied onto the
  letter when it was made (`recipient_may_receive_bsn`; the municipality always, `compose._recipient`);
- a referral that was delivered (the L8 letter with the handover file and the detainee's summary; the district team
  when asked), one disclosure per referral instead of a second one for its L8;
- a partner (probation, care) reading the case: the audit rows of its users, one disclosure per partner.

Letters to the detainee himself (his L9 form, his L10) are no disclosure to a third party: they are in his list of
letters, not here. Reads here write no audit row: the callers do (the export writes `case.access_export`; the case
page's own `case.read` covers the section shown on it).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session

from schulden.audit import AuditEntry
from schulden.cases.models import Case, ConsentPurpose
from schulden.consents import CREDITOR_LETTER_PURPOSE, purpose_label
from schulden.letters.compose import KNOWS_RELEASE, STATES_DETENTION
from schulden.letters.models import Channel, Letter, LetterStatus
from schulden.organisations.models import Organisation
from schulden.referrals.models import Referral, ReferralStatus
from schulden.roles import Role
from schulden.users.models import User

#: Referral statuses after the handover file reached the municipality.
DELIVERED_REFERRALS = frozenset(
    {ReferralStatus.DELIVERED.value, ReferralStatus.ACCEPTED.value, ReferralStatus.REFUSED.value}
)
#: The letters sent to the detainee himself (his form, his withdrawal): never a disclosure to someone else.
TO_DETAINEE = frozenset({"L9"})

CHANNEL_WORDS = {
    Channel.POST.value: "per post",
    Channel.EMAIL.value: "per e-mail",
    Channel.MANUAL.value: "via het eigen kanaal van de ontvanger",
    "zgw": "in het zaaksysteem van de gemeente",
    "read": "door in te loggen in Schuldroute",
}

#: The data every letter names the client by (compose._client_fields): never more than this without a reason below.
IDENTITY = "naam, voorletters en geboortedatum"
DJI_NUMBER = "registratienummer van DJI"
DETENTION = "de detentie: de PI en de begin- en einddatum"
RELEASE = "of de persoon al vrij is (datum vrijlating)"
DEBT = "de schuld: het kenmerk bij de schuldeiser en de bedragen"


@dataclass(frozen=True)
class Disclosure:
    """One disclosure: who received what, when, how, and on which basis. `bsn` says whether the BSN went with it,
    `bsn_basis` on which ground (consent cannot create one: UAVG art. 46, docs/privacy.md section 3)."""

    on: date
    recipient: str
    recipient_kind: str  # creditor, municipality, district_team, partner
    channel: str
    what: tuple[str, ...]
    basis: str
    bsn: bool
    bsn_basis: str | None
    source: str  # letter:<id>, referral:<id>, audit:<organisation id>
    times: int = 1  # a partner's reads are one disclosure with a count
    last_on: date | None = None


def letter_data(letter: Letter) -> tuple[str, ...]:
    """The categories of the detainee's data a letter of this type carries (the rules of letters/compose.py)."""
    kind = letter.letter_type
    what = [IDENTITY, DJI_NUMBER]
    if kind in STATES_DETENTION:
        what.append(DETENTION)
    elif kind in KNOWS_RELEASE:
        what.append(RELEASE)
    if letter.debt_id is not None:
        what.append(DEBT)
    extra = {
        "L4": "een voorstel voor een betalingsregeling",
        "L5": "de opzegging van de overeenkomst (het contractnummer)",
        "L6": "het polisnummer en de opschorting van de zorgverzekering",
        "L7": "welke uitkeringen en toeslagen er waren",
        "L8": "het schuldenoverzicht, de basisvoorwaarden na vrijlating, dreigingen, het huishouden en de toestemming",
        "L10": "dat de machtiging is beëindigd",
    }.get(kind)
    if extra:
        what.append(extra)
    return tuple(what)


def letter_carries_bsn(letter: Letter, *, has_bsn: bool) -> bool:
    """Whether the BSN was printed on the letter (compose._recipient): the municipality (L8) and the detainee's own
    letters always, a creditor only with the mark copied onto the letter when it was made."""
    if not has_bsn:
        return False
    if letter.letter_type == "L8" or letter.letter_type in TO_DETAINEE:
        return True
    if letter.letter_type == "L10" and letter.creditor_id is None and not letter.recipient_name:
        return True  # the withdrawal form to the detainee himself
    return letter.recipient_may_receive_bsn


def is_to_detainee(letter: Letter) -> bool:
    """The detainee's own letters: his L9, and the L10 addressed to him (not the notice to a creditor)."""
    if letter.letter_type in TO_DETAINEE:
        return True
    return letter.letter_type == "L10" and letter.creditor_id is None and not letter.recipient_name


def _letter_basis(letter: Letter, municipality: str | None) -> str:
    purpose = CREDITOR_LETTER_PURPOSE.get(letter.letter_type)
    if purpose is not None:
        return f"{CONSENT}{purpose_label(purpose)}"
    if letter.letter_type == "L8":
        return f"{CONSENT}{purpose_label(ConsentPurpose.REFER_MUNICIPALITY, municipality)}"
    if letter.letter_type == "L10":
        # After a withdrawal a creditor who received our letters must know that we no longer act for the client
        # (docs/privacy.md section 2): the notice names only the end of the authorisation.
        return "Melding dat de toestemming is ingetrokken (AVG art. 7 lid 3)"
    return "Toestemming van de gedetineerde"


#: The start of every basis that is the detainee's consent (the PDF says it to him as "u gaf toestemming voor").
CONSENT = "Toestemming: "
BSN_BASIS_CREDITOR = "Wettelijke taak van de ontvanger (UAVG art. 46, Wabb); de beheerder heeft dit vastgelegd"
BSN_BASIS_MUNICIPALITY = "Wet gemeentelijke schuldhulpverlening en het Besluit (UAVG art. 46)"


def _recipient_of(letter: Letter, organisations: dict[int, Organisation]) -> tuple[str, str]:
    if letter.letter_type == "L8" and letter.organisation_id is not None and letter.organisation_id in organisations:
        return organisations[letter.organisation_id].name, "municipality"
    return letter.recipient_name or "onbekende ontvanger", "creditor"


def case_disclosures(session: Session, case: Case, *, has_bsn: bool) -> list[Disclosure]:
    """Every disclosure of the case's data, oldest first. The caller holds `case` under the actor's scope and writes
    the audit row of the read."""
    letters = list(session.scalars(select(Letter).where(Letter.case_id == case.id).order_by(Letter.id)))
    referrals = list(session.scalars(select(Referral).where(Referral.case_id == case.id).order_by(Referral.sequence)))
    org_ids = {r.municipality_id for r in referrals} | {x.organisation_id for x in letters if x.organisation_id}
    organisations = {o.id: o for o in session.scalars(select(Organisation).where(Organisation.id.in_(org_ids or {0})))}
    referral_letters = {r.letter_id for r in referrals if r.letter_id is not None}
    out: list[Disclosure] = []
    for letter in letters:
        if letter.status != LetterStatus.SENT.value or is_to_detainee(letter) or letter.id in referral_letters:
            continue
        name, kind = _recipient_of(letter, organisations)
        municipality = name if kind == "municipality" else None
        bsn = letter_carries_bsn(letter, has_bsn=has_bsn)
        sent = letter.sent_at.date() if letter.sent_at else letter.letter_date
        out.append(
            Disclosure(
                on=sent,
                recipient=name,
                recipient_kind=kind,
                channel=CHANNEL_WORDS.get(letter.channel, letter.channel),
                what=letter_data(letter),
                basis=_letter_basis(letter, municipality),
                bsn=bsn,
                bsn_basis=(BSN_BASIS_MUNICIPALITY if kind == "municipality" else BSN_BASIS_CREDITOR) if bsn else None,
                source=f"letter:{letter.id}",
            )
        )
    for referral in referrals:
        if referral.status not in DELIVERED_REFERRALS or referral.delivered_at is None:
            continue
        out.extend(_referral_disclosures(referral, organisations[referral.municipality_id].name, has_bsn=has_bsn))
    out.extend(_partner_reads(session, case))
    return sorted(out, key=lambda d: (d.on, d.source))


def _referral_disclosures(referral: Referral, municipality: str, *, has_bsn: bool) -> list[Disclosure]:
    """The handover to the municipality (L8, handover file, summary); the district team gets the same package with
    the household (integrations/referrals/delivery.py)."""
    on = referral.delivered_at.date() if referral.delivered_at else referral.referred_at.date()
    what = (
        IDENTITY,
        DJI_NUMBER,
        DETENTION,
        "het schuldenoverzicht met alle schulden en bedragen",
        "de basisvoorwaarden na vrijlating (identiteitsbewijs, bankrekening, inkomen, wonen, zorg)",
        "dreigingen (huisuitzetting, afsluiting) en de toestemming",
    )
    basis = f"{CONSENT}{purpose_label(ConsentPurpose.REFER_MUNICIPALITY, municipality)}"
    channel = CHANNEL_WORDS.get(referral.channel, referral.channel)
    bsn_basis = BSN_BASIS_MUNICIPALITY if has_bsn else None
    found = [
        Disclosure(
            on, municipality, "municipality", channel, what, basis, has_bsn, bsn_basis, f"referral:{referral.id}"
        )
    ]
    if referral.include_district_team:
        district = (*what, "het huishouden (partner en kinderen)")
        found.append(
            Disclosure(
                on,
                f"Wijkteam van {municipality}",
                "district_team",
                channel,
                district,
                basis,
                has_bsn,
                bsn_basis,
                f"referral:{referral.id}:district",
            )
        )
    return found


def _partner_reads(session: Session, case: Case) -> list[Disclosure]:
    """A partner organisation's users reading the case: one disclosure per partner, first and last day and how
    often they opened it. Partners never see the BSN (access.BSN_READERS)."""
    rows = session.execute(
        select(AuditEntry.at, AuditEntry.organisation_id, Organisation.name, AuditEntry.action)
        # The audit row names its user as `user:<id>` (actors.UserActor.actor_id).
        .join(User, AuditEntry.actor_id == "user:" + cast(User.id, String))
        .join(Organisation, Organisation.id == AuditEntry.organisation_id)
        .where(AuditEntry.case_id == case.id, AuditEntry.result == "ok", User.role == Role.PARTNER.value)
        .order_by(AuditEntry.at)
    ).all()
    seen: dict[int, list[datetime]] = defaultdict(list)
    names: dict[int, str] = {}
    # How often: the looks at the case (`case.read`), not the rows: one look at the case page writes a row for the
    # case, its history, debts, letters and answers.
    looks: dict[int, int] = defaultdict(int)
    for at, org_id, name, action in rows:
        if org_id is None:
            continue
        seen[org_id].append(at)
        names[org_id] = name
        looks[org_id] += action == "case.read"
    return [
        Disclosure(
            on=moments[0].date(),
            last_on=moments[-1].date(),
            times=max(1, looks[org_id]),
            recipient=names[org_id],
            recipient_kind="partner",
            channel=CHANNEL_WORDS["read"],
            what=(IDENTITY, DJI_NUMBER, DETENTION, "de schulden, brieven en antwoorden (zonder BSN)"),
            basis=f"{CONSENT}{purpose_label(ConsentPurpose.SHARE_PROBATION)}",
            bsn=False,
            bsn_basis=None,
            source=f"audit:{org_id}",
        )
        for org_id, moments in seen.items()
    ]
