"""The referral's handover file and the detainee's B1 summary: what is read from the case, the totals, and what the
PDFs say (text extracted with pypdf, as a reader or a municipality's system would).
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations.referrals.render import render_detainee_summary_pdf, render_handover_pdf
from schulden.cases.models import Case, CaseNote, CasePartner, Consent, ConsentPurpose, Detainee, HouseholdMember
from schulden.debts.models import AmountStatus, Debt
from schulden.debts.services import fire_debt_event
from schulden.letters.compose import Sender
from schulden.organisations.models import Organisation, OrganisationKind
from schulden.referrals.handover import (
    Arrangement,
    DetaineeSummary,
    Handover,
    MunicipalityDetails,
    SummaryDebt,
    build_handover,
    detainee_summary,
)
from schulden.roles import Role
from schulden.users.models import User
from tests.conftest import NOW, actor
from tests.factories import make_case, make_creditor, make_debt, make_municipality, make_pi
from workflows import SYSTEM, Engine

BSN = "111222333"
MADE_ON = date(2026, 3, 2)  # a Monday
SENDER = Sender(
    name="Stichting Schuldroute",
    address=("Postbus 123", "8000 AB  ZWOLLE"),
    phone="038 123 45 67",
    email="schuldhulp@schuldroute.example",
    public_url="https://schuldroute.example",
)
ARRANGEMENT = {"monthly_cents": 1250, "months": 20, "start_date": "2026-05-01", "basis": "inkomen in detentie"}


# -- a case with everything a handover names -------------------------------------------------------------------------


@dataclass
class World:
    case: Case
    debts: dict[str, Debt]
    counsellor: User
    casemanager: User
    probation_officer: User


def make_user(session: Session, *, name: str, role: Role, organisation: Organisation) -> User:
    user = User(
        username=f"{role.value}-{organisation.id}-{name.split()[-1].lower()}",
        display_name=name,
        role=role.value,
        organisation_id=organisation.id,
        password_hash="not-a-real-hash",
    )
    session.add(user)
    session.flush()
    return user


def make_org(session: Session, kind: OrganisationKind, name: str, code: str, email: str) -> Organisation:
    org = Organisation(kind=kind.value, name=name, code=code, email=email)
    session.add(org)
    session.flush()
    return org


def fire_path(session: Session, engine: Engine, debt: Debt, *steps: tuple[str, object]) -> None:
    for minute, (event, who) in enumerate(steps, start=1):
        payload = ARRANGEMENT if event == "propose_arrangement" else None
        fire_debt_event(
            session,
            engine,
            debt,
            event,
            actor=who,  # type: ignore[arg-type]
            payload=payload,
            now=NOW + timedelta(minutes=minute),
        )


def make_world(session: Session, engine: Engine) -> World:
    """Six debts in four categories and three amount statuses, in different states; contacts; a household."""
    team = make_org(session, OrganisationKind.OPERATOR, "Schuldhulp Team Noord", "OP-HO1", "noord@schuldroute.example")
    pi = make_pi(session, name="PI Zwolle")
    pi.counselling_team_id = team.id
    pi.address_line, pi.postcode, pi.city = "Postbus 10", "8000 AA", "Zwolle"
    pi.email = "ric.zwolle@dji.example"
    municipality = make_municipality(session, name="Gemeente Testdorp", email="schuldhulp@testdorp.example")
    municipality.team_name = "Schuldhulpverlening Testdorp"
    municipality.address_line, municipality.postcode, municipality.city = "Marktplein 1", "9999 ZZ", "Testdorp"
    probation = make_org(session, OrganisationKind.PROBATION, "Reclassering Nederland", "RN-HO1", "rn@reclass.example")

    counsellor = make_user(session, name="Anna de Boer", role=Role.COUNSELLOR, organisation=team)
    casemanager = make_user(session, name="Kees Pietersen", role=Role.PI_STAFF, organisation=pi)
    officer = make_user(session, name="Fatima El Amrani", role=Role.PARTNER, organisation=probation)
    as_counsellor = actor(Role.COUNSELLOR.value, f"user:{counsellor.id}")
    as_casemanager = actor(Role.PI_STAFF.value, f"user:{casemanager.id}")
    as_creditor = actor("creditor", "creditor:reply")

    case = make_case(
        session,
        engine,
        actor=as_casemanager,
        pi=pi,
        municipality=municipality,
        expected_release=date(2026, 6, 15),
        given_names="Jan Willem",
        surname="Berg",
        date_of_birth=date(1988, 4, 12),
    )
    detainee = session.get_one(Detainee, case.detainee_id)
    detainee.surname_prefix, detainee.bsn, detainee.dji_number = "van den", BSN, "DJI-0042"
    session.add(CasePartner(case_id=case.id, organisation_id=probation.id))
    session.add(CaseNote(case_id=case.id, author_id=officer.id, organisation_id=probation.id, body="Afspraak gemaakt."))
    session.add_all(
        [
            HouseholdMember(
                case_id=case.id,
                relation="partner",
                given_names="Maria",
                date_of_birth=date(1990, 2, 3),
                shares_lease=True,
                shares_debts=True,
            ),
            HouseholdMember(case_id=case.id, relation="child", given_names="Noa", date_of_birth=date(2015, 6, 1)),
        ]
    )
    # The detainee no longer wants the probation service to see the file.
    withdrawn = session.scalars(
        select(Consent).where(Consent.case_id == case.id, Consent.purpose == ConsentPurpose.SHARE_PROBATION.value)
    ).one()
    withdrawn.withdrawn_at, withdrawn.withdrawn_by = NOW, "test"

    def debt(key: str, debt_type: str, creditor: str, principal: int, **fields: object) -> Debt:
        d = make_debt(
            session,
            engine,
            case,
            actor=as_casemanager,
            creditor=make_creditor(session, name=creditor),
            debt_type=debt_type,
            principal_cents=principal,
        )
        for name, value in fields.items():
            setattr(d, name, value)
        session.flush()
        return d

    collector = make_creditor(session, name="Incasso Noord B.V.")
    debts = {
        "rent": debt(
            "rent",
            "huur",
            "Woonstichting Thuis",
            120_000,
            interest_cents=3_000,
            costs_cents=4_500,
            collecting_party_id=collector.id,
            creditor_reference="HUUR-2026-7",
            peildatum=date(2026, 2, 15),
            threat="eviction",
            joint_with_partner=True,
        ),
        "insurance": debt("insurance", "zorgpremie", "Zorgverzekeraar Zeker", 60_000),
        "fine": debt("fine", "cjib_boete", "CJIB", 25_000, costs_cents=900, creditor_reference="CJIB-123"),
        "energy": debt("energy", "energie", "Energie Direct", 15_000, interest_cents=250),
        "phone": debt("phone", "telecom", "Bel Goedkoop", 8_000),
        "allowance": debt("allowance", "toeslagen", "Dienst Toeslagen", 40_000),
    }
    sent = (("send_letters", as_counsellor), ("letters_sent", SYSTEM))
    fire_path(
        session, engine, debts["rent"], *sent, ("request_suspension", as_counsellor), ("grant_suspension", as_creditor)
    )
    debts["rent"].amount_status = AmountStatus.CONFIRMED.value
    fire_path(session, engine, debts["insurance"], *sent)
    fire_path(
        session,
        engine,
        debts["fine"],
        *sent,
        ("confirm_balance", as_counsellor),
        ("propose_arrangement", as_counsellor),
        ("agree_arrangement", as_creditor),
        ("hand_over", SYSTEM),  # already in the referral: what was arranged is the state before
    )
    fire_path(session, engine, debts["energy"], *sent, ("confirm_balance", as_counsellor), ("dispute", as_counsellor))
    debts["energy"].amount_status = AmountStatus.DISPUTED.value
    fire_path(session, engine, debts["phone"], ("mark_paid", as_counsellor))
    session.flush()
    return World(case, debts, counsellor, casemanager, officer)


def handover(session: Session, world: World, *, include_household: bool = True, **kw: object) -> Handover:
    return build_handover(
        session,
        world.case.id,
        include_household=include_household,
        sender=SENDER,
        made_on=MADE_ON,
        **kw,  # type: ignore[arg-type]
    )


# -- reading PDFs ----------------------------------------------------------------------------------------------------


def pages(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def text_of(pdf: bytes) -> str:
    """All text, whitespace (wrapping, no-break spaces) folded to single spaces."""
    return re.sub(r"\s+", " ", " ".join(pages(pdf)).replace("\xa0", " "))


# -- the handover file: what it reads --------------------------------------------------------------------------------


def test_totals_per_category_and_per_amount_status_in_cents(session: Session, wf_engine: Engine) -> None:
    h = handover(session, make_world(session, wf_engine))

    by_category = {
        t.key: (t.count, t.principal_cents, t.interest_cents, t.costs_cents, t.total_cents)
        for t in h.totals_by_category
    }
    assert by_category == {
        "zorg": (1, 60_000, 0, 0, 60_000),
        "publiek": (2, 65_000, 0, 900, 65_900),
        "nuts": (1, 15_000, 250, 0, 15_250),
        # The paid phone bill is listed but no longer counts.
        "overig": (1, 120_000, 3_000, 4_500, 127_500),
    }
    by_status = {t.key: (t.count, t.total_cents) for t in h.totals_by_status}
    assert by_status == {"confirmed": (2, 153_400), "estimated": (2, 100_000), "disputed": (1, 15_250)}
    assert [t.label for t in h.totals_by_category] == ["Zorg", "Publiek", "Nuts", "Overig"]
    assert [t.label for t in h.totals_by_status] == ["Bevestigd", "Geschat", "Betwist"]
    assert h.total_cents == 268_650 == sum(t.total_cents for t in h.totals_by_category)
    assert len(h.debts) == 6
    assert all(
        isinstance(getattr(d, f), int) for d in h.debts for f in ("principal_cents", "interest_cents", "costs_cents")
    )


def test_the_handover_names_the_person_contacts_threat_consent_and_each_debt(
    session: Session, wf_engine: Engine
) -> None:
    world = make_world(session, wf_engine)
    h = handover(session, world, first_conversation=date(2026, 3, 4))

    d = h.detainee
    assert (d.name, d.bsn, d.dji_number, d.date_of_birth) == (
        "Jan Willem van den Berg",
        BSN,
        "DJI-0042",
        date(1988, 4, 12),
    )
    assert (d.pi_name, d.pi_address, d.expected_release, d.pre_trial) == (
        "PI Zwolle",
        "Postbus 10, 8000 AA Zwolle",
        date(2026, 6, 15),
        False,
    )
    assert h.municipality is not None
    assert (h.municipality.name, h.municipality.email) == ("Gemeente Testdorp", "schuldhulp@testdorp.example")
    assert h.municipality.address == ("Schuldhulpverlening Testdorp", "Marktplein 1", "9999 ZZ  TESTDORP")

    contacts = {c.role: c for c in h.contacts}
    assert (contacts["Schuldhulpverlener"].name, contacts["Schuldhulpverlener"].phone) == (
        "Anna de Boer",
        "038 123 45 67",
    )
    assert contacts["Schuldhulpverlener"].organisation == "Schuldhulp Team Noord"
    assert (contacts["Casemanager PI"].name, contacts["Casemanager PI"].organisation) == ("Kees Pietersen", "PI Zwolle")
    assert (contacts["Reclassering"].name, contacts["Reclassering"].organisation) == (
        "Fatima El Amrani",
        "Reclassering Nederland",
    )

    # Eviction puts the first conversation on the 3-working-day track (art. 4a Wgs).
    assert h.urgency.urgent
    assert h.urgency.wgs_urgent
    assert [(t.threat, t.source) for t in h.urgency.threats] == [("eviction", "Woonstichting Thuis")]
    assert h.urgency.first_conversation_due == date(2026, 3, 5)
    assert h.first_conversation == date(2026, 3, 4)

    assert h.consent.covers_referral
    assert ConsentPurpose.SHARE_PROBATION.value not in {line.purpose for line in h.consent.lines}
    assert len(h.consent.lines) == len(ConsentPurpose) - 1
    assert h.consent.withdrawn == ("delen met de reclassering",)

    debts = {debt.creditor: debt for debt in h.debts}
    rent = debts["Woonstichting Thuis"]
    assert (rent.collecting_party, rent.reference, rent.category, rent.type_label) == (
        "Incasso Noord B.V.",
        "HUUR-2026-7",
        "overig",
        "Huurachterstand",
    )
    assert (rent.principal_cents, rent.interest_cents, rent.costs_cents, rent.total_cents) == (
        120_000,
        3_000,
        4_500,
        127_500,
    )
    assert (rent.amount_status, rent.peildatum, rent.state_label) == ("confirmed", date(2026, 2, 15), "Opgeschort")
    # Handed over already: the file shows what was arranged before, with the plan.
    fine = debts["CJIB"]
    assert (fine.state, fine.state_label) == ("arrangement_agreed", "Regeling akkoord")
    assert fine.arrangement == Arrangement(monthly_cents=1250, months=20, start_date=date(2026, 5, 1))
    assert debts["Zorgverzekeraar Zeker"].state_label == "Aangeschreven"
    assert debts["Energie Direct"].state_label == "Betwist"
    assert (debts["Bel Goedkoop"].state_label, debts["Bel Goedkoop"].settled) == ("Betaald", True)
    assert debts["Dienst Toeslagen"].state_label == "Bekend"


@pytest.mark.parametrize(
    ("made_on", "threat", "due"),
    [
        (date(2026, 3, 2), None, date(2026, 3, 30)),  # 4 weeks
        (date(2026, 12, 23), "eviction", date(2026, 12, 29)),  # 3 working days across Christmas
        (date(2026, 4, 2), "utility_cut_off", date(2026, 4, 9)),  # the Thursday before Good Friday and Easter Monday
        (date(2026, 3, 2), "attachment", date(2026, 3, 30)),  # attachment alone is not an art. 4a threat
    ],
)
def test_the_wgs_term_for_the_first_conversation(
    session: Session, wf_engine: Engine, made_on: date, threat: str | None, due: date
) -> None:
    case = make_case(session, wf_engine)
    case.threat = threat
    session.flush()

    h = build_handover(session, case.id, include_household=False, made_on=made_on)

    assert h.urgency.first_conversation_due == due
    assert h.urgency.wgs_urgent is (threat in ("eviction", "utility_cut_off"))


def test_the_household_part_only_when_asked_for(session: Session, wf_engine: Engine) -> None:
    world = make_world(session, wf_engine)

    without = handover(session, world, include_household=False)
    with_household = handover(session, world, include_household=True)

    assert without.household is None
    assert not any(d.joint_with_partner for d in without.debts)
    assert with_household.household is not None
    assert [(m.relation, m.given_names) for m in with_household.household.members] == [
        ("partner", "Maria"),
        ("child", "Noa"),
    ]
    assert [d.creditor for d in with_household.household.joint_debts] == ["Woonstichting Thuis"]
    assert with_household.household.joint_total_cents == 127_500
    # The debt overview itself is the same: every debt is the detainee's.
    assert [d.debt_id for d in without.debts] == [d.debt_id for d in with_household.debts]

    text_without = text_of(render_handover_pdf(without))
    text_with = text_of(render_handover_pdf(with_household))
    for absent in ("Maria", "Noa", "Huishouden ", "samen met partner"):
        assert absent not in text_without, absent
    assert "Deel huishouden niet opgenomen" in text_without
    for present in ("Maria", "Noa", "Schulden samen met de partner", "samen met partner"):
        assert present in text_with, present


def test_a_case_without_debts_or_municipality(session: Session, wf_engine: Engine) -> None:
    case = make_case(session, wf_engine, consent=False)
    case.municipality_id = None
    session.flush()

    h = build_handover(session, case.id, include_household=True, made_on=MADE_ON)

    assert (h.debts, h.total_cents, h.municipality, h.consent.lines, h.consent.covers_referral) == (
        (),
        0,
        None,
        (),
        False,
    )
    assert h.household is not None
    assert h.household.members == ()
    text = text_of(render_handover_pdf(h))
    assert "Er zijn geen schulden bekend." in text
    assert "geen geldige toestemming" in text
    summary = render_detainee_summary_pdf(detainee_summary(h))
    assert len(pages(summary)) == 1
    assert "Wij kennen geen schulden van u." in text_of(summary)


# -- the handover file: the PDF --------------------------------------------------------------------------------------


def test_the_handover_pdf_holds_the_required_fields(session: Session, wf_engine: Engine) -> None:
    h = handover(session, make_world(session, wf_engine), first_conversation=date(2026, 3, 4))

    pdf = render_handover_pdf(h)
    text = text_of(pdf)

    for expected in (
        "Overdrachtsdossier schuldhulpverlening",
        h.reference,
        "Jan Willem van den Berg",
        "12 april 1988",
        BSN,
        "DJI-0042",
        "PI Zwolle",
        "15 juni 2026",
        "Gemeente Testdorp",
        # contacts
        "Anna de Boer",
        "038 123 45 67",
        "Kees Pietersen",
        "Fatima El Amrani",
        "Reclassering Nederland",
        # threat and term
        "Er dreigt een huisuitzetting",
        "binnen 3 werkdagen",
        "5 maart 2026",
        "4 maart 2026",
        # consent scope
        "aanmelden bij en overdragen aan de gemeente",
        "schuldeisers benaderen en saldo opvragen",
        "Ingetrokken: delen met de reclassering",
        # debts
        "Woonstichting Thuis",
        "via Incasso Noord B.V.",
        "kenmerk HUUR-2026-7",
        "Overig: Huurachterstand",
        "peildatum 15 februari 2026",
        "Opgeschort",
        "Regeling akkoord",
        "€ 12,50 per maand",
        "€ 1.275,00",
        "€ 1.200,00",
        # totals
        "Totalen per categorie",
        "Totalen per status van het bedrag",
        "€ 2.686,50",
        "€ 659,00",
        "€ 1.534,00",
        "€ 1.000,00",
        "€ 152,50",
    ):
        assert expected in text, expected
    assert {"Geschat", "Betwist", "Bevestigd"} <= set(text.split())
    assert PdfReader(io.BytesIO(pdf)).metadata.title == f"Overdrachtsdossier \u2013 {h.reference}"


def test_the_same_handover_gives_the_same_bytes(session: Session, wf_engine: Engine) -> None:
    world = make_world(session, wf_engine)
    first = handover(session, world)
    again = handover(session, world)

    assert first == again
    assert render_handover_pdf(first) == render_handover_pdf(again)
    assert render_detainee_summary_pdf(detainee_summary(first)) == render_detainee_summary_pdf(detainee_summary(again))


def test_markup_in_names_prints_as_text(session: Session, wf_engine: Engine) -> None:
    world = make_world(session, wf_engine)
    h = handover(session, world)
    rent = next(d for d in h.debts if d.creditor == "Woonstichting Thuis")
    odd = replace(h, debts=(replace(rent, creditor='<b>Woon & Co</b> <a href="https://x.example">klik</a>'),))

    # The narrow table column may break the long "word" anywhere: compare without whitespace.
    assert '<b>Woon&Co</b><ahref="https://x.example">klik</a>' in "".join(text_of(render_handover_pdf(odd)).split())
    assert "Woon & Co" in text_of(render_detainee_summary_pdf(detainee_summary(odd)))


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils (pdftotext) is not installed")
def test_pdftotext_reads_the_files_too(session: Session, wf_engine: Engine, tmp_path: Path) -> None:
    h = handover(session, make_world(session, wf_engine))
    for name, pdf in (
        ("handover", render_handover_pdf(h)),
        ("summary", render_detainee_summary_pdf(detainee_summary(h))),
    ):
        path = tmp_path / f"{name}.pdf"
        path.write_bytes(pdf)
        out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True)
        assert "Woonstichting Thuis" in out.stdout
        assert (BSN in out.stdout) is (name == "handover")


# -- the detainee's summary ------------------------------------------------------------------------------------------


def test_the_summary_is_one_page_of_plain_dutch_without_bsn(session: Session, wf_engine: Engine) -> None:
    world = make_world(session, wf_engine)
    h = handover(session, world, first_conversation=date(2026, 6, 17))
    summary = detainee_summary(h)

    pdf = render_detainee_summary_pdf(summary)
    text = text_of(pdf)

    assert not hasattr(summary, "bsn")
    assert BSN not in text
    assert "DJI-0042" not in text
    assert BSN.encode() not in pdf
    assert len(pages(pdf)) == 1
    for expected in (
        "Uw schulden: wat is er geregeld?",
        "Jan Willem van den Berg",
        "Woonstichting Thuis Huurachterstand € 1.275,00 bevestigd U hoeft nu nog niet te betalen.",
        "Zorgverzekeraar Zeker Zorgpremie € 600,00 schatting Brief gestuurd. We wachten op antwoord.",
        "Er is een betalingsregeling afgesproken. U betaalt € 12,50 per maand, 20 maanden lang, vanaf 1 mei 2026.",
        "€ 152,50 klopt misschien niet De gemeente zoekt uit of het bedrag klopt.",
        "Betaald.",
        "Samen is dat € 2.686,50.",
        "U komt waarschijnlijk vrij op 15 juni 2026.",
        "Daarna helpt Gemeente Testdorp u verder met uw schulden.",
        "Uw eerste gesprek bij de gemeente is op 17 juni 2026.",
        "Marktplein 1",
        "schuldhulp@testdorp.example",
        "Anna de Boer",
        "038 123 45 67",
        "casemanager, Kees Pietersen",
    ):
        assert expected in text, expected
    # The largest font fits six debts: no line saying some were left out.
    assert "andere schuld" not in text


def test_the_summary_without_a_first_conversation_says_what_to_do(session: Session, wf_engine: Engine) -> None:
    h = handover(session, make_world(session, wf_engine))

    text = text_of(render_detainee_summary_pdf(detainee_summary(h)))

    assert "De gemeente maakt een afspraak met u voor een eerste gesprek. Dat gebeurt snel" in text
    assert "Hebt u na uw vrijlating nog niets gehoord?" in text


CREDITORS = (
    "CJIB",
    "Belastingdienst/Toeslagen",
    "Woonstichting De Key",
    "Vattenfall",
    "VGZ Zorgverzekeraar",
    "KPN",
    "DUO",
    "Intrum",
    "Gemeente Zwolle",
    "Riverty (Afterpay)",
)


def _summary(debts: int) -> DetaineeSummary:
    return DetaineeSummary(
        case_id=7,
        reference="SR-000007-OD",
        made_on=MADE_ON,
        name="Ĳsbrand Öztürk-Van der Meer",
        debts=tuple(
            SummaryDebt(
                creditor=CREDITORS[n % len(CREDITORS)],
                what="Telefoon en internet",
                total_cents=12_345 * n,
                amount_note="schatting",
                arranged="Brief gestuurd. We wachten op antwoord.",
                arrangement=Arrangement(1250, 12, date(2026, 7, 1)) if n % 3 == 0 else None,
            )
            for n in range(1, debts + 1)
        ),
        total_cents=sum(12_345 * n for n in range(1, debts + 1)),
        expected_release=date(2026, 6, 15),
        municipality=MunicipalityDetails(
            name="Súdwest-Fryslân",
            team_name="Schuldhulp",
            address=("Schuldhulp", "Postbus 10000", "8600 HA  SNEEK"),
            email="schuldhulp@example.nl",
            phone=None,
        ),
        first_conversation=None,
        wgs_urgent=False,
        counsellor_name="Anna de Boer",
        counsellor_organisation="Schuldhulp Team Noord",
        counsellor_phone="038 123 45 67",
        counsellor_email="a.deboer@example.nl",
        casemanager_name=None,
    )


@pytest.mark.parametrize("debts", [0, 1, 6, 12, 40])
def test_the_summary_always_fits_one_page(debts: int) -> None:
    pdf = render_detainee_summary_pdf(_summary(debts))
    text = text_of(pdf)

    assert len(pages(pdf)) == 1
    # Whom to call is never pushed off the page, however many debts there are.
    for present in ("Anna de Boer", "038 123 45 67", "Ĳsbrand"):
        assert present in text, present
    shown = text.count("Telefoon en internet")
    if debts >= 40:
        # At the 12 pt floor a page holds about eight debts of this kind; the rest are counted, not dropped silently.
        assert shown >= 7
        assert (
            f"U hebt nog {debts - shown} andere schulden. Uw schuldhulpverlener en de gemeente hebben de hele" in text
        )
    if debts <= 6:
        assert shown == debts
        assert "andere schuld" not in text


def test_the_summary_uses_a_large_font() -> None:
    """At least 12 pt everywhere but the footer (B1 readers, many with low literacy or poor sight)."""
    pdf = render_detainee_summary_pdf(_summary(6))
    sizes: set[float] = set()

    def visit(text: str, cm: object, tm: list[float], font: object, size: float) -> None:
        if text.strip():
            sizes.add(round(size * tm[0], 1))

    PdfReader(io.BytesIO(pdf)).pages[0].extract_text(visitor_text=visit)
    body = {s for s in sizes if s > 8}  # the footer line is 7.5 pt, as on the letters
    assert min(body) >= 12
    assert max(body) >= 18  # the title
