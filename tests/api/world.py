"""The fixture world of security.md 2.3 for API tests, and an oracle of who may read what (security.md 2.1).

Not a conftest: tests call `build_world(committed)` with the `committed` sessionmaker (real commits, emptied after
the test) and `token(client, username)` for a bearer header. The world is built through the services
(open_case, record_consents, fire_case_event, add_debt, transfer_case, link_partner), exactly as the application
builds it, with the application's own engine.

The oracle (`may_read`, `may_reveal_bsn`) is written from security.md 2.1 and from the world's *description*
(which PI a case is in now, which team runs it, whether and where it was referred, which partner follows it),
deliberately without importing schulden.access: the matrix compares the application against it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cache
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from schulden.actors import UserActor
from schulden.cases.models import Case, CasePartner, ConsentPurpose, DetentionType
from schulden.cases.services import (
    ConsentItem,
    fire_case_event,
    link_partner,
    open_case,
    record_consents,
    transfer_case,
)
from schulden.creditors.models import Creditor
from schulden.db import Base
from schulden.debts.models import AmountStatus, Debt, DebtCategory
from schulden.debts.services import add_debt, fire_debt_event
from schulden.organisations.models import Organisation, OrganisationKind
from schulden.processes import build_engine
from schulden.roles import Role
from schulden.users.models import User
from schulden.users.password_hashes import hash_password

PASSWORD = "pw-test-1234"

#: Every case shares this surname prefix, so a search for it would match cases of both PIs (scenario 2).
SHARED_PREFIX = "Jans"

DETENTION_START = date(2026, 1, 5)
EXPECTED_RELEASE = date(2027, 6, 1)
SIGNED_ON = date(2026, 1, 12)
VALID_UNTIL = date(2035, 12, 31)

# -- the description of the world ------------------------------------------------------------------------------------

#: Organisations by key: (kind, name, code).
ORGANISATIONS: dict[str, tuple[OrganisationKind, str, str]] = {
    "team-1": (OrganisationKind.OPERATOR, "Schuldhulpteam Noord", "TEAM-1"),
    "team-2": (OrganisationKind.OPERATOR, "Schuldhulpteam Zuid", "TEAM-2"),
    "PI-A": (OrganisationKind.PI, "PI Alfa", "PIA"),
    "PI-B": (OrganisationKind.PI, "PI Bravo", "PIB"),
    "M-1": (OrganisationKind.MUNICIPALITY, "Gemeente Een", "GM9001"),
    "M-2": (OrganisationKind.MUNICIPALITY, "Gemeente Twee", "GM9002"),
    "probation": (OrganisationKind.PROBATION, "Reclassering Test", "RCL-1"),
}
#: The counselling team each PI works with.
TEAM_OF_PI = {"PI-A": "team-1", "PI-B": "team-2"}

#: Users by username: (role, organisation key).
USERS: dict[str, tuple[Role, str | None]] = {
    "pi_a": (Role.PI_STAFF, "PI-A"),
    "pi_b": (Role.PI_STAFF, "PI-B"),
    "vol_a": (Role.VOLUNTEER, "PI-A"),
    "cns_1": (Role.COUNSELLOR, "team-1"),
    "cns_2": (Role.COUNSELLOR, "team-2"),
    "mun_1": (Role.MUNICIPALITY, "M-1"),
    "mun_2": (Role.MUNICIPALITY, "M-2"),
    "partner_p": (Role.PARTNER, "probation"),
    "admin": (Role.ADMIN, None),
}
PRINCIPALS = tuple(USERS)


@dataclass(frozen=True)
class CaseSpec:
    """What a world case is: where it started, where it is now, whether it was referred and who follows it."""

    key: str
    pi: str
    given_names: str
    surname: str
    bsn: str
    #: The proposed (or referral) municipality; only a referral opens the case to the municipality.
    municipality: str | None = None
    referred: bool = False
    transfer_to: str | None = None
    partner: str | None = None

    @property
    def current_pi(self) -> str:
        return self.transfer_to or self.pi

    @property
    def team(self) -> str:
        return TEAM_OF_PI[self.current_pi]


CASE_SPECS = (
    # A municipality is proposed but nothing was referred: M-1 must not see it yet.
    CaseSpec("a_only", "PI-A", "Ansfried", "Jansen", "999993653", municipality="M-1"),
    # Same surname as a_only, in the other PI: a search for "Jansen" must not cross PIs.
    CaseSpec("b_only", "PI-B", "Berendina", "Jansen", "999990639"),
    CaseSpec("a_ref_m1", "PI-A", "Cornelis", "Janssen", "999993847", municipality="M-1", referred=True),
    CaseSpec("b_ref_m2", "PI-B", "Dieuwertje", "Jansma", "999992077", municipality="M-2", referred=True),
    CaseSpec("a_to_b", "PI-A", "Evert", "Janszen", "999993483", transfer_to="PI-B"),
    CaseSpec("a_partner", "PI-A", "Fokeltje", "Jansonius", "999990482", partner="probation"),
)


# -- the world as built ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorldUser:
    username: str
    id: int
    role: Role
    org_key: str | None
    organisation_id: int | None

    @property
    def actor(self) -> UserActor:
        return UserActor(self.id, self.role, self.organisation_id)

    @property
    def actor_id(self) -> str:
        return f"user:{self.id}"


@dataclass(frozen=True)
class WorldDebt:
    id: int
    case_key: str
    creditor_reference: str


@dataclass(frozen=True)
class WorldCase:
    spec: CaseSpec
    id: int
    dji_number: str
    debts: tuple[WorldDebt, ...]
    #: The case's letters (ids): L1 and L2 to the first debt's creditor, L8 to the municipality when referred.
    letters: tuple[int, ...] = ()

    @property
    def key(self) -> str:
        return self.spec.key

    def secrets(self) -> list[str]:
        """Strings that belong to this case and must not appear in an answer to someone who may not see it."""
        return [
            self.spec.given_names,
            self.spec.surname,
            self.spec.bsn,
            self.dji_number,
            *(debt.creditor_reference for debt in self.debts),
        ]


@dataclass
class World:
    orgs: dict[str, int]
    users: dict[str, WorldUser]
    cases: dict[str, WorldCase]
    creditor_ids: tuple[int, ...]
    _tokens: dict[str, dict[str, str]] = field(default_factory=dict)

    def debts(self) -> Iterator[WorldDebt]:
        for case in self.cases.values():
            yield from case.debts

    def letters(self) -> Iterator[tuple[int, WorldCase]]:
        for case in self.cases.values():
            for letter_id in case.letters:
                yield letter_id, case

    def case_of_debt(self, debt: WorldDebt) -> WorldCase:
        return self.cases[debt.case_key]

    def case_by_id(self, case_id: int) -> WorldCase | None:
        return next((case for case in self.cases.values() if case.id == case_id), None)

    def headers(self, client: FlaskClient, username: str) -> dict[str, str]:
        """The bearer header of `username` (logged in once per world)."""
        if username not in self._tokens:
            self._tokens[username] = token(client, username)
        return self._tokens[username]

    def visible_case_ids(self, username: str) -> set[int]:
        """The oracle's answer to "which cases may this user see" over the whole world."""
        user = self.users[username]
        return {case.id for case in self.cases.values() if may_read(user, case)}


# -- the oracle (security.md 2.1) ------------------------------------------------------------------------------------


def may_read(user: WorldUser, case: WorldCase) -> bool:
    """May `user` see `case` at all? From security.md 2.1, on the world's description only.

    PI staff and volunteers: the case's *current* PI is theirs (after a transfer, the new PI only).
    Counsellors: their team runs the case (the team of the case's current PI).
    Municipalities: the case was referred, to them (a proposal is not a referral).
    Partners: the case is linked to their organisation.
    The administrator: never (no case content by default).
    """
    spec = case.spec
    match user.role:
        case Role.PI_STAFF | Role.VOLUNTEER:
            return spec.current_pi == user.org_key
        case Role.COUNSELLOR:
            return spec.team == user.org_key
        case Role.MUNICIPALITY:
            return spec.referred and spec.municipality == user.org_key
        case Role.PARTNER:
            return spec.partner is not None and spec.partner == user.org_key
        case _:
            return False


#: Roles that may reveal the full BSN of a case they may read (masked by default, every reveal logged).
#: Volunteers and partners never see any form of the BSN; the administrator sees no case content.
BSN_ROLES = frozenset({Role.PI_STAFF, Role.COUNSELLOR, Role.MUNICIPALITY})


def may_reveal_bsn(user: WorldUser, case: WorldCase) -> bool:
    return user.role in BSN_ROLES and may_read(user, case)


# -- building it -----------------------------------------------------------------------------------------------------


@cache
def _password_hash() -> str:
    # One scrypt hash for every account (same password): building the world stays fast.
    return hash_password(PASSWORD)


def build_world(committed: sessionmaker[Session]) -> World:
    """Create and commit the whole world; returns the ids the tests need."""
    engine = build_engine()
    with committed() as session:
        orgs = _organisations(session)
        users = _users(session, orgs)
        creditors = [
            Creditor(name="Woonstichting Test", category=DebtCategory.OVERIG.value, may_receive_bsn=False),
            Creditor(name="Zorgverzekeraar Test", category=DebtCategory.ZORG.value, may_receive_bsn=False),
        ]
        session.add_all(creditors)
        session.flush()
        cases = {spec.key: _case(session, engine, spec, orgs, users, creditors) for spec in CASE_SPECS}
        session.commit()
        cases = {key: replace(case, letters=_letters_of(session, case.id)) for key, case in cases.items()}
        world = World(orgs=orgs, users=users, cases=cases, creditor_ids=tuple(c.id for c in creditors))
    _check_built(committed, world)
    return world


def _organisations(session: Session) -> dict[str, int]:
    ids: dict[str, int] = {}
    for key, (kind, name, code) in ORGANISATIONS.items():
        org = Organisation(kind=kind.value, name=name, code=code)
        if kind is OrganisationKind.PI:
            org.counselling_team_id = ids[TEAM_OF_PI[key]]
        if kind is OrganisationKind.MUNICIPALITY:
            org.email = f"schuldhulp@{code.lower()}.example"
        session.add(org)
        session.flush()
        ids[key] = org.id
    return ids


def _users(session: Session, orgs: dict[str, int]) -> dict[str, WorldUser]:
    users: dict[str, WorldUser] = {}
    for username, (role, org_key) in USERS.items():
        org_id = orgs[org_key] if org_key else None
        row = User(
            username=username,
            display_name=username.replace("_", " ").title(),
            role=role.value,
            organisation_id=org_id,
            password_hash=_password_hash(),
        )
        session.add(row)
        session.flush()
        users[username] = WorldUser(username, row.id, role, org_key, org_id)
    return users


def _staff_of(users: dict[str, WorldUser], pi_key: str) -> UserActor:
    return next(u.actor for u in users.values() if u.role is Role.PI_STAFF and u.org_key == pi_key)


def _counsellor_of(users: dict[str, WorldUser], team_key: str) -> UserActor:
    return next(u.actor for u in users.values() if u.role is Role.COUNSELLOR and u.org_key == team_key)


def _case(
    session: Session,
    engine: Any,
    spec: CaseSpec,
    orgs: dict[str, int],
    users: dict[str, WorldUser],
    creditors: list[Creditor],
) -> WorldCase:
    staff = _staff_of(users, spec.pi)
    counsellor = _counsellor_of(users, TEAM_OF_PI[spec.pi])
    dji_number = f"DJI-{spec.key.upper().replace('_', '-')}"
    case = open_case(
        session,
        engine,
        actor=staff,
        given_names=spec.given_names,
        surname=spec.surname,
        date_of_birth=date(1980, 5, 17),
        bsn=spec.bsn,
        dji_number=dji_number,
        pi=session.get_one(Organisation, orgs[spec.pi]),
        detention_type=DetentionType.PRISON_SENTENCE,
        detention_start=DETENTION_START,
        expected_release=EXPECTED_RELEASE,
    )
    if spec.municipality is not None:
        case.municipality_id = orgs[spec.municipality]
        session.flush()
    # The signed authorisation for every purpose; it moves the case from draft to the inventory. The referral is
    # consented to for a named municipality only, so a case without one leaves it out.
    record_consents(
        session,
        engine,
        case,
        actor=staff,
        items=[
            ConsentItem(purpose)
            for purpose in ConsentPurpose
            if purpose is not ConsentPurpose.REFER_MUNICIPALITY or case.municipality_id is not None
        ],
        signed_on=SIGNED_ON,
        valid_until=VALID_UNTIL,
    )
    debts = []
    for number, creditor in enumerate(creditors, start=1):
        reference = f"REF-{spec.key.upper()}-{number}"
        debt = add_debt(
            session,
            engine,
            case,
            actor=staff,
            creditor=creditor,
            category=DebtCategory(creditor.category),
            debt_type="huur" if creditor.category == DebtCategory.OVERIG.value else "zorgpremie",
            principal_cents=10_000 * number,
            amount_status=AmountStatus.ESTIMATED,
            creditor_reference=reference,
        )
        debts.append(WorldDebt(debt.id, spec.key, reference))
    # The first contact with the first debt's creditor: its letter (L1) belongs to this case.
    fire_debt_event(session, engine, session.get_one(Debt, debts[0].id), "send_letters", actor=counsellor)
    if spec.referred:
        fire_case_event(session, engine, case, "request_referral", actor=counsellor)
        fire_case_event(session, engine, case, "send_referral", actor=counsellor)
    if spec.transfer_to is not None:
        transfer_case(
            session, engine, case, actor=staff, to_pi_id=orgs[spec.transfer_to], transferred_on=date(2026, 3, 2)
        )
    if spec.partner is not None:
        link_partner(session, case, organisation_id=orgs[spec.partner])
    session.flush()
    return WorldCase(spec, case.id, dji_number, tuple(debts))


def _letters_of(session: Session, case_id: int) -> tuple[int, ...]:
    """The ids of the case's letters (read by table, so the world does not depend on the letters module)."""
    table = Base.metadata.tables.get("letter")
    if table is None:
        return ()
    return tuple(session.scalars(select(table.c.id).where(table.c.case_id == case_id).order_by(table.c.id)))


def _check_built(committed: sessionmaker[Session], world: World) -> None:
    """The database says what the description says (otherwise the oracle would judge a different world)."""
    with committed() as session:
        for case in world.cases.values():
            row = session.get_one(Case, case.id)
            spec = case.spec
            assert row.pi_id == world.orgs[spec.current_pi], spec.key
            assert row.team_id == world.orgs[spec.team], spec.key
            assert (row.referred_at is not None) == spec.referred, spec.key
            if spec.municipality is not None:
                assert row.municipality_id == world.orgs[spec.municipality], spec.key
            partners = set(session.scalars(select(CasePartner.organisation_id).where(CasePartner.case_id == case.id)))
            assert partners == ({world.orgs[spec.partner]} if spec.partner else set()), spec.key


def token(client: FlaskClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    """Log in through POST /api/v1/auth/token; the Authorization header to send with every call."""
    response = client.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert response.status_code == 201, (username, response.status_code, response.get_data(as_text=True))
    return {"Authorization": f"Bearer {response.json['access_token']}"}
