"""The demo world of `make run`: one user per role, and work waiting for each of them at the first login.

The first three cases (IJsselstein, Demir, De Vries, in PI Zwolle) are the ones the tests build on; they stay as
they are. `_seed_work` adds the rest in a third PI, PI Almelo (so PI Zwolle's and PI Lelystad's lists and figures stay
those of the first three, and Zwolle's inbox holds De Vries alone): creditor answers to read, a threat and a
deadline passed for the counsellor; a referral to decide and a first conversation for Amsterdam (its own demo user);
a failed letter and a failed delivery (to Kampen) for the administrator; and closed cases spread over the past
months for the figures. Everything goes through the domain services with the engine's
history, dated `today` or months back; only what a job would do after the commit (a letter or a delivery failing
for good) is done here with the lifecycle's own transitions, so the demo does not depend on a job's timing.

All people are fictional. The BSNs are test numbers from RvIG's GBA-V test set (shared/data/identifiers,
EUPL-1.2), which pass the 11-proef and belong to nobody.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from schulden.actors import UserActor
from schulden.cases.insurance import set_insurance
from schulden.cases.models import Case, ConsentPurpose, DetentionType, Threat
from schulden.cases.services import (
    ConsentItem,
    fire_case_event,
    instance_of,
    link_partner,
    open_case,
    record_consents,
)
from schulden.cases.threats import raise_threat
from schulden.creditors.models import Creditor
from schulden.debts.models import Debt, DebtCategory
from schulden.debts.services import add_debt, fire_debt_event
from schulden.letters import lifecycle as lifecycle_letter
from schulden.letters.models import Letter
from schulden.organisations.models import Organisation, OrganisationKind
from schulden.referrals import lifecycle as lifecycle_referral
from schulden.referrals import services as referral_services
from schulden.referrals.models import DeliveryChannel, MunicipalDelivery, Referral
from schulden.referrals.services import send_referral
from schulden.replies.services import submit_answer
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
    ("gemeente_amsterdam.demo", "Schuldhulpverlening Amsterdam (demo)", Role.MUNICIPALITY, "amsterdam"),
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
    work = _seed_work(session, engine, today=today, orgs=orgs, users=users, creditors=creditors)
    return {"organisations": len(orgs), "users": len(users), "cases": 3 + work, "creditors": len(creditors) + 2}


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


# -- the work waiting at the first login (ux.md "Every role starts with its work") --------------------------------


def _at(engine: Engine, day: date, hour: int = 10) -> datetime:
    """A moment on `day` in the engine's zone, in UTC as the engine stores it."""
    return datetime.combine(day, time(hour), tzinfo=engine.timezone).astimezone(UTC)


def _seed_work(
    session: Session,
    engine: Engine,
    *,
    today: date,
    orgs: dict[str, Organisation],
    users: dict[str, User],
    creditors: dict[str, Creditor],
) -> int:
    """The demo's cases beyond the first three, in PI Almelo (a PI without a demo user, whose counselling team is
    the demo's): work for the counsellor, Amsterdam and the administrator, and the past months for the figures.
    Returns the number of cases added."""
    almelo = Organisation(
        kind=OrganisationKind.PI, name="PI Almelo", code="PI-ALMELO", counselling_team_id=orgs["operator"].id
    )
    kampen = _municipality(session, "GM0166", "Kampen", "Overijssel")
    session.add_all(org for org in (almelo, kampen) if org.id is None)
    session.flush()
    # Kampen takes referrals in its zaaksysteem, but the settings are not complete: the delivery fails for good.
    session.add(MunicipalDelivery(organisation_id=kampen.id, channel=DeliveryChannel.ZGW.value,
                                  zaken_api_url="https://zaken.kampen.example/api/v1"))  # fmt: skip
    collector = Creditor(
        name="Incassobureau Demo Incasso B.V.",
        kind="collection_agency",
        category="overig",
        address_line="Postbus 777",
        city="Deventer",
    )
    # Almelo's landlord is known by name only: its letters are delivered by hand (no address, no e-mail), so the
    # first cases' post and e-mail stay as they were.
    landlord = Creditor(name="Woonbedrijf Twente (demo)", kind="landlord", category="overig")
    session.add_all((collector, landlord))
    session.flush()
    counsellor = _actor(users["schuldhulp.demo"])
    gemeente = _actor(users["gemeente_amsterdam.demo"])
    # PI Almelo's clients return to Amsterdam: Zwolle's inbox keeps the one referral of the first three cases.
    amsterdam = orgs["amsterdam"]
    people = iter(_WORK_PEOPLE)

    def new_case(start: date, release: date | None, *, municipality: Organisation = amsterdam,
                 now: datetime | None = None) -> Case:  # fmt: skip
        given, prefix, surname, born, bsn, dji = next(people)
        case = open_case(
            session, engine, actor=counsellor, given_names=given, surname_prefix=prefix, surname=surname,
            date_of_birth=born, bsn=bsn, dji_number=dji, pi=almelo,
            detention_type=DetentionType.PRISON_SENTENCE if release else DetentionType.PRE_TRIAL,
            detention_start=start, expected_release=release, registration_municipality=municipality, now=now,
        )  # fmt: skip
        if now is not None:
            case.created_at = now  # the figures count a case as opened on this day
        return case

    REFER = ConsentPurpose.REFER_MUNICIPALITY  # noqa: N806 - a name for a constant, local to keep lines short

    def consent(case: Case, signed_on: date, now: datetime | None = None) -> None:
        # Signed at the intake itself (draft -> inventory): no consent form goes out by the PI's post.
        record_consents(
            session, engine, case, actor=counsellor,
            items=[ConsentItem(p, recipient_organisation_id=case.municipality_id if p is REFER else None)
                   for p in ConsentPurpose],
            signed_on=signed_on, valid_until=signed_on + timedelta(weeks=26), witness="Casemanager PI Almelo",
            today=signed_on, now=now,
        )  # fmt: skip

    # 1. Answers to read: two creditors answered on the reply page; the counsellor has not read them yet.
    answered = new_case(today - timedelta(days=40), today + timedelta(weeks=14))
    consent(answered, today - timedelta(days=38))
    for creditor, debt_type, cents in ((creditors["toeslagen"], "toeslagen", 86_400), (creditors["cak"], "zorgpremie",
                                                                                      39_150)):  # fmt: skip
        category = DebtCategory.PUBLIEK if debt_type == "toeslagen" else DebtCategory.ZORG
        debt = add_debt(session, engine, answered, actor=counsellor, creditor=creditor, category=category,
                        debt_type=debt_type, principal_cents=cents)  # fmt: skip
        fire_debt_event(session, engine, debt, "send_letters", actor=counsellor)
        letter = session.scalars(select(Letter).where(Letter.debt_id == debt.id).order_by(Letter.id)).first()
        if letter is not None:
            submit_answer(session, engine, letter=letter, origin=None, attachment=None, data={
                "principal_cents": cents + 2_350, "costs_cents": 4_000, "peildatum": today - timedelta(days=3),
                "note": "Saldo per peildatum; de inning staat stil zolang de schuldhulp loopt.",
            })  # fmt: skip

    # 2. A threat: the landlord announced an eviction, so the case is urgent and must be referred now.
    threatened = new_case(today - timedelta(days=25), today + timedelta(weeks=20))
    consent(threatened, today - timedelta(days=23))
    rent = add_debt(session, engine, threatened, actor=counsellor, creditor=landlord,
                    category=DebtCategory.OVERIG, debt_type="huur", principal_cents=243_000)  # fmt: skip
    fire_debt_event(session, engine, rent, "send_letters", actor=counsellor)
    raise_threat(session, engine, threatened, Threat.EVICTION.value, actor=counsellor)
    # ...and a letter to a collector whose postcode is missing from the directory: it could not be made.
    collected = add_debt(session, engine, threatened, actor=counsellor, creditor=collector,
                         category=DebtCategory.OVERIG, debt_type="overig", principal_cents=31_075)  # fmt: skip
    fire_debt_event(session, engine, collected, "send_letters", actor=counsellor)
    _fail_letters(session, engine, collected, "Het adres van de schuldeiser is niet compleet: de postcode ontbreekt.")

    # 3. A referral for Amsterdam to decide on, release in four weeks (Zwolle has De Vries's).
    to_decide = new_case(today - timedelta(days=150), today + timedelta(weeks=4))
    consent(to_decide, today - timedelta(days=60))
    _refer(session, engine, to_decide, counsellor)

    # 4. Referred to Kampen, whose zaaksysteem settings are incomplete: the delivery failed for good.
    failed = new_case(today - timedelta(days=90), today + timedelta(weeks=3), municipality=kampen)
    consent(failed, today - timedelta(days=50))
    referral = _refer(session, engine, failed, counsellor)
    lifecycle_referral.delivery_failed(
        referral, "DeliveryNotPossible: de zaaksysteem-instellingen van de gemeente zijn niet compleet (zaaktype "
        "ontbreekt)", final=True,
    )  # fmt: skip

    # 5. Accepted by Amsterdam; the first conversation is in three days, after which the handover is recorded.
    accepted = new_case(today - timedelta(days=130), today + timedelta(days=10))
    consent(accepted, today - timedelta(days=45))
    accepted_referral = _refer(session, engine, accepted, counsellor)
    referral_services.accept(session, gemeente, accepted_referral.id, engine=engine,
                             first_conversation_on=today + timedelta(days=3))  # fmt: skip

    # 6. A debt recorded ten days ago whose letters were never asked for: its five working days have passed (a
    # deadline the night's tick has not handled yet).
    late = new_case(today - timedelta(days=14), None, now=_at(engine, today - timedelta(days=12)))
    consent(late, today - timedelta(days=12), now=_at(engine, today - timedelta(days=12)))
    add_debt(session, engine, late, actor=counsellor, creditor=creditors["cjib"], category=DebtCategory.PUBLIEK,
             debt_type="cjib_boete", principal_cents=19_500, now=_at(engine, today - timedelta(days=10)))  # fmt: skip

    # 7. The past months for the figures: opened, referred, accepted and handed over, or closed without consent.
    past = 0
    for months_ago, outcome in _PAST:
        opened_on = today - timedelta(days=30 * months_ago)
        opened = _at(engine, opened_on)
        case = new_case(opened_on - timedelta(days=7), opened_on + timedelta(weeks=9), now=opened)
        past += 1
        if outcome == "no_consent":
            fire_case_event(session, engine, case, "request_consent", actor=counsellor, now=opened)
            fire_case_event(session, engine, case, "refuse_consent", actor=counsellor, reason="Wil geen hulp",
                            now=_at(engine, opened_on + timedelta(days=6)))  # fmt: skip
            continue
        consent(case, opened_on + timedelta(days=2), now=_at(engine, opened_on + timedelta(days=2)))
        sent_on = opened_on + timedelta(weeks=5)
        fire_case_event(session, engine, case, "request_referral", actor=counsellor, now=_at(engine, sent_on, 9))
        send_referral(session, engine, case, actor=counsellor, include_district_team=False, now=_at(engine, sent_on))
        decided = _at(engine, sent_on + timedelta(days=8))
        if outcome == "refused":
            engine.fire(session, instance_of(session, case), "refuse_referral", actor=gemeente, now=decided,
                        reason="Cliënt heeft al een schuldhulptraject bij een andere organisatie")  # fmt: skip
            continue
        engine.fire(session, instance_of(session, case), "accept_referral", actor=gemeente, now=decided,
                    payload={"first_conversation_on": (sent_on + timedelta(days=20)).isoformat()})  # fmt: skip
        # The acceptance's effects move the instance's version on through their own statements: read it afresh,
        # or the handover fires against the version held before them (an intermittent ConcurrentUpdate in tests).
        session.flush()
        session.expire_all()
        fire_case_event(session, engine, case, "complete_handover", actor=gemeente,
                        now=_at(engine, sent_on + timedelta(days=21)))  # fmt: skip
    session.flush()
    return 6 + past


#: The past months' cases: how many months ago each was opened, and how it went.
_PAST = (
    (6, "handed_over"), (5, "handed_over"), (5, "no_consent"), (4, "handed_over"),
    (3, "handed_over"), (3, "refused"), (2, "no_consent"), (2, "handed_over"),
)  # fmt: skip
#: The demo's further people (fictional): given names, prefix, surname, date of birth, BSN (none: not every
#: detainee's is known at intake), DJI number.
_WORK_PEOPLE: tuple[tuple[str, str | None, str, date, str | None, str], ...] = (
    ("Mohamed", "el", "Amrani", date(1988, 5, 9), None, "DJI-0000201"),
    ("Sanne", None, "Bakker", date(1993, 1, 27), None, "DJI-0000202"),
    ("Kevin", None, "Jansen", date(1982, 9, 30), None, "DJI-0000203"),
    ("Lotte", None, "Visser", date(1990, 12, 4), None, "DJI-0000204"),
    ("Johan", None, "Smit", date(1975, 4, 18), None, "DJI-0000205"),
    ("Eva", "de", "Boer", date(1998, 8, 11), None, "DJI-0000206"),
    ("Rachid", None, "Bouzid", date(1984, 2, 2), None, "DJI-0000207"),
    ("Tom", "van", "Dijk", date(1979, 6, 23), None, "DJI-0000208"),
    ("Priya", None, "Ramdin", date(1991, 10, 15), None, "DJI-0000209"),
    ("Dennis", None, "Mulder", date(1986, 3, 3), None, "DJI-0000210"),
    ("Fatma", None, "Yilmaz", date(1995, 7, 19), None, "DJI-0000211"),
    ("Bram", "de", "Graaf", date(1981, 11, 8), None, "DJI-0000212"),
    ("Noah", None, "Peters", date(1999, 2, 14), None, "DJI-0000213"),
    ("Iris", None, "Hendriks", date(1987, 9, 1), None, "DJI-0000214"),
)


def _refer(session: Session, engine: Engine, case: Case, counsellor: UserActor) -> Referral:
    """Ask for the referral ahead of the window (the counsellor's `request_referral`) and send it."""
    fire_case_event(session, engine, case, "request_referral", actor=counsellor)
    return send_referral(session, engine, case, actor=counsellor, include_district_team=False)


def _fail_letters(session: Session, engine: Engine, debt: Debt, error: str) -> None:
    """What the render job does when a letter cannot be made on its last try: claim it, then fail it for good."""
    session.flush()
    letters = session.scalars(select(Letter).where(Letter.debt_id == debt.id)).all()
    now = engine.clock()
    for letter in lifecycle_letter.claim(session, {letter.id: f"D{letter.id:07d}"[-8:] for letter in letters},
                                         now=now, me="demo", stale_before=now):  # fmt: skip
        session.refresh(letter)
        lifecycle_letter.render_failed(letter, error=error, max_attempts=1)
