"""The demo world of `make run`: one PI, two municipalities, one user per role, three cases in different states.

All people are fictional. The BSNs are test numbers from RvIG's GBA-V test set (shared/data/identifiers,
EUPL-1.2), which pass the 11-proef and belong to nobody.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from schulden.actors import UserActor
from schulden.cases.insurance import set_insurance
from schulden.cases.models import Case, ConsentPurpose, DetentionType
from schulden.cases.services import ConsentItem, fire_case_event, link_partner, open_case, record_consents
from schulden.creditors.models import Creditor
from schulden.debts.models import DebtCategory
from schulden.debts.services import add_debt, fire_debt_event
from schulden.organisations.models import Organisation, OrganisationKind
from schulden.referrals.services import send_referral
from schulden.roles import Role
from schulden.users.models import User
from schulden.users.services import create_user
from workflows import SYSTEM, Engine

DEMO_PASSWORD = "demo"

DEMO_USERS = (
    ("pi.demo", "Casemanager PI Zwolle (demo)", Role.PI_STAFF, "pi"),
    ("pi.lelystad.demo", "Casemanager PI Lelystad (demo)", Role.PI_STAFF, "pi_lelystad"),
    ("vrijwilliger.demo", "Vrijwilliger RIC Zwolle (demo)", Role.VOLUNTEER, "pi"),
    ("schuldhulp.demo", "Schuldhulpverlener (demo)", Role.COUNSELLOR, "operator"),
    ("gemeente.demo", "Schuldhulpverlening Zwolle (demo)", Role.MUNICIPALITY, "zwolle"),
    ("partner.demo", "Reclasseringswerker (demo)", Role.PARTNER, "probation"),
    ("admin.demo", "Functioneel beheerder (demo)", Role.ADMIN, None),
)


def demo_is_seeded(session: Session) -> bool:
    """True once any user exists: the demo is seeded only into an empty database."""
    return session.scalar(select(User.id).limit(1)) is not None


def seed_demo(session: Session, engine: Engine, *, today: date) -> dict[str, int]:
    """Create the demo world. Does not commit; the caller refuses this in production."""
    operator = Organisation(kind=OrganisationKind.OPERATOR, name="Schuldroute (demo)", code="SR")
    session.add(operator)
    session.flush()
    orgs = {
        "operator": operator,
        "pi": Organisation(
            kind=OrganisationKind.PI, name="PI Zwolle", code="PI-ZWOLLE", counselling_team_id=operator.id
        ),
        # A second PI, so that a user of another PI can be seen to get 404 for PI Zwolle's cases.
        "pi_lelystad": Organisation(
            kind=OrganisationKind.PI, name="PI Lelystad", code="PI-LELYSTAD", counselling_team_id=operator.id
        ),
        "zwolle": _municipality(session, "GM0193", "Zwolle", "Overijssel"),
        "amsterdam": _municipality(session, "GM0363", "Amsterdam", "Noord-Holland"),
        "probation": Organisation(kind=OrganisationKind.PROBATION, name="Reclassering (demo)", code="RN"),
    }
    session.add_all(org for org in orgs.values() if org.id is None)
    for key in ("zwolle", "amsterdam"):
        orgs[key].team_name = f"Schuldhulpverlening {orgs[key].name} (demo)"
        orgs[key].email = f"schuldhulp@{orgs[key].name.lower()}.example"
    session.flush()

    users: dict[str, User] = {}
    for username, name, role, org_key in DEMO_USERS:
        users[username] = create_user(
            session,
            actor=SYSTEM,
            username=username,
            display_name=name,
            role=role,
            password=DEMO_PASSWORD,
            organisation=orgs[org_key] if org_key else None,
        )

    creditors = {
        "cjib": _creditor(session, "Centraal Justitieel Incassobureau (CJIB)", "publiek", "government", True),
        "toeslagen": _creditor(session, "Belastingdienst/Toeslagen", "publiek", "government", True),
        "cak": _creditor(session, "CAK", "zorg", "government", True),
        "insurer": _creditor(session, "Zorg en Zekerheid", "zorg", "health_insurer", True),
        "woning": Creditor(
            name="Woonstichting De Demo",
            kind="landlord",
            category="overig",
            takes_email=True,
            email="incasso@woonstichting.example",
            address_line="Postbus 1234",
            postcode="8000 AA",
            city="Zwolle",
        ),
    }
    session.add_all(c for c in creditors.values() if c.id is None)
    session.flush()

    pi_staff = _actor(users["pi.demo"])
    counsellor = _actor(users["schuldhulp.demo"])
    now_start = today - timedelta(days=30)

    # 1. Just opened by the casemanager: waiting for the detainee's signature.
    waiting = open_case(
        session,
        engine,
        actor=pi_staff,
        given_names="Jeroen",
        surname="IJsselstein",
        date_of_birth=date(1991, 3, 14),
        bsn="000009830",
        dji_number="DJI-0000101",
        pi=orgs["pi"],
        detention_type=DetentionType.PRE_TRIAL,
        detention_start=today - timedelta(days=4),
    )
    fire_case_event(session, engine, waiting, "request_consent", actor=pi_staff)

    # 2. Inventory running: consent signed, three debts, two creditors written to.
    inventory = open_case(
        session,
        engine,
        actor=pi_staff,
        given_names="Ayşe",
        surname="Demir",
        date_of_birth=date(1985, 11, 2),
        bsn="000009842",
        dji_number="DJI-0000102",
        pi=orgs["pi"],
        detention_type=DetentionType.PRISON_SENTENCE,
        detention_start=now_start,
        expected_release=today + timedelta(weeks=12),
    )
    _consent(session, engine, inventory, pi_staff, today)
    _intake_done(session, engine, inventory, pi_staff)
    # What she had at her arrest: the insurer gets L6, Toeslagen and the municipality's income department L7.
    set_insurance(
        session, engine, pi_staff, inventory, insurer_id=creditors["insurer"].id, policy_number="ZZ-20417733",
        benefits=["zorgtoeslag", "huurtoeslag", "bijstand"],
    )  # fmt: skip
    fine = add_debt(
        session, engine, inventory, actor=pi_staff, creditor=creditors["cjib"],
        category=DebtCategory.PUBLIEK, debt_type="cjib_boete", principal_cents=45_000,
    )  # fmt: skip
    rent = add_debt(
        session, engine, inventory, actor=pi_staff, creditor=creditors["woning"],
        category=DebtCategory.OVERIG, debt_type="huur", principal_cents=182_550, costs_cents=4_000,
    )  # fmt: skip
    add_debt(
        session, engine, inventory, actor=pi_staff, creditor=creditors["cak"],
        category=DebtCategory.ZORG, debt_type="zorgpremie", principal_cents=61_200,
    )  # fmt: skip
    fire_debt_event(session, engine, fine, "send_letters", actor=counsellor)
    fire_debt_event(session, engine, rent, "send_letters", actor=counsellor)

    # 3. Referred to Zwolle, release in three weeks; the municipality has to answer.
    referred = open_case(
        session,
        engine,
        actor=pi_staff,
        given_names="Pieter",
        surname_prefix="de",
        surname="Vries",
        date_of_birth=date(1979, 7, 21),
        bsn="000009866",
        dji_number="DJI-0000103",
        pi=orgs["pi"],
        detention_type=DetentionType.PRISON_SENTENCE,
        detention_start=today - timedelta(days=120),
        expected_release=today + timedelta(weeks=3),
        registration_municipality=orgs["zwolle"],
    )
    link_partner(session, referred, organisation_id=orgs["probation"].id)
    _consent(session, engine, referred, pi_staff, today)
    _intake_done(session, engine, referred, pi_staff)
    toeslag = add_debt(
        session, engine, referred, actor=pi_staff, creditor=creditors["toeslagen"],
        category=DebtCategory.PUBLIEK, debt_type="toeslagen", principal_cents=120_000,
    )  # fmt: skip
    fire_debt_event(session, engine, toeslag, "send_letters", actor=counsellor)
    fire_debt_event(session, engine, toeslag, "confirm_balance", actor=counsellor)
    fire_case_event(session, engine, referred, "complete_inventory", actor=counsellor)
    # The release is three weeks away, inside the six-week window: the timer would fire on the next tick.
    fire_case_event(session, engine, referred, "referral_window_reached", actor=SYSTEM)
    send_referral(session, engine, referred, actor=counsellor, include_district_team=False)
    session.flush()
    return {"organisations": len(orgs), "users": len(users), "cases": 3, "creditors": len(creditors)}


def _municipality(session: Session, code: str, name: str, province: str) -> Organisation:
    """The municipality from the reference data when it is loaded, else a demo row with its CBS code."""
    found = session.scalar(
        select(Organisation).where(Organisation.kind == OrganisationKind.MUNICIPALITY.value, Organisation.code == code)
    )
    return found or Organisation(kind=OrganisationKind.MUNICIPALITY, name=name, code=code, province=province)


def _creditor(session: Session, name: str, category: str, kind: str, may_receive_bsn: bool) -> Creditor:
    """A public creditor from the reference data when it is loaded, else a demo row."""
    found = session.scalar(
        select(Creditor)
        .where(Creditor.name.startswith(name.split(" (")[0]), Creditor.active.is_(True))
        .order_by(Creditor.id)
        .limit(1)
    )
    return found or Creditor(name=name, category=category, kind=kind, may_receive_bsn=may_receive_bsn)


def _consent(session: Session, engine: Engine, case: Case, actor: UserActor, today: date) -> None:
    record_consents(
        session,
        engine,
        case,
        actor=actor,
        # A referral consent names its municipality (domain.md 6.3 item 3): the one of return, when it is chosen.
        items=[
            ConsentItem(purpose, recipient_organisation_id=case.municipality_id)
            if purpose is ConsentPurpose.REFER_MUNICIPALITY
            else ConsentItem(purpose)
            for purpose in ConsentPurpose
            if purpose is not ConsentPurpose.REFER_MUNICIPALITY or case.municipality_id is not None
        ],
        signed_on=today - timedelta(days=2),
        valid_until=today + timedelta(weeks=26),
        witness="Casemanager PI Zwolle",
        today=today,
    )


def _intake_done(session: Session, engine: Engine, case: Case, actor: UserActor) -> None:
    """The PI's own intake clocks (screening, D&R-plan): done for the cases that arrived weeks ago."""
    fire_case_event(session, engine, case, "record_screening", actor=actor)
    fire_case_event(session, engine, case, "record_dr_plan", actor=actor)


def _actor(user: User) -> UserActor:
    return UserActor(user.id, Role(user.role), user.organisation_id)
