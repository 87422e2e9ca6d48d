"""Small factories for database tests: each builds one row (and its workflow instance) and flushes, never commits.

They go through the services where one exists (`open_case`, `add_debt`), so a case or debt made here starts its
process exactly as it does in the application. Every argument has a dull default; pass what the test is about.
"""

from __future__ import annotations

import itertools
from datetime import date, datetime

from sqlalchemy.orm import Session

from schulden.cases.models import Case, Consent, ConsentPurpose, DetentionType
from schulden.cases.services import open_case
from schulden.creditors.models import Creditor
from schulden.debts.models import AmountStatus, Debt, DebtCategory
from schulden.debts.services import add_debt
from schulden.organisations.models import Organisation, OrganisationKind
from schulden.roles import Role
from tests.conftest import NOW, actor
from workflows import Actor, Engine

#: The actor factories start processes with unless told otherwise: a casemanager of the PI.
PI_STAFF = actor(Role.PI_STAFF.value, "user:pi")

#: Well before every date the tests use, so any expected release passes the release_after_start check.
DETENTION_START = date(2025, 1, 6)

# Organisation codes are unique per kind; a counter keeps factories from colliding within one test.
_codes = itertools.count(1)

# Debt types with their DDAS category (domain.md 9.2), so make_debt(debt_type=...) picks a fitting category.
CATEGORY_OF = {
    "zorgpremie": DebtCategory.ZORG,
    "toeslagen": DebtCategory.PUBLIEK,
    "uitkering_terugvordering": DebtCategory.PUBLIEK,
    "cjib_boete": DebtCategory.PUBLIEK,
    "belasting": DebtCategory.PUBLIEK,
    "energie": DebtCategory.NUTS,
    "water": DebtCategory.NUTS,
    "huur": DebtCategory.OVERIG,
}


def make_pi(session: Session, *, name: str = "PI Test", code: str | None = None) -> Organisation:
    """A penitentiary institution (PI)."""
    pi = Organisation(kind=OrganisationKind.PI.value, name=name, code=code or f"PI-T{next(_codes):04d}")
    session.add(pi)
    session.flush()
    return pi


def make_municipality(
    session: Session, *, name: str = "Testgemeente", code: str | None = None, email: str | None = None
) -> Organisation:
    """A municipality (its code looks like a CBS code, GM + 4 digits)."""
    municipality = Organisation(
        kind=OrganisationKind.MUNICIPALITY.value,
        name=name,
        code=code or f"GM{9000 + next(_codes) % 1000:04d}",
        email=email or "schuldhulp@gemeente.example",
    )
    session.add(municipality)
    session.flush()
    return municipality


def make_creditor(
    session: Session,
    *,
    name: str = "Schuldeiser B.V.",
    category: DebtCategory = DebtCategory.OVERIG,
    may_receive_bsn: bool = False,
    email: str | None = None,
    takes_email: bool = False,
) -> Creditor:
    """A creditor (with an address, so letters to it can be laid out)."""
    creditor = Creditor(
        name=name,
        category=category.value,
        may_receive_bsn=may_receive_bsn,
        email=email,
        takes_email=takes_email,
        address_line="Postbus 100",
        postcode="1000 AA",
        city="Amsterdam",
    )
    session.add(creditor)
    session.flush()
    return creditor


def make_case(
    session: Session,
    engine: Engine,
    *,
    actor: Actor = PI_STAFF,
    pi: Organisation | None = None,
    municipality: Organisation | None = None,
    detention_type: DetentionType = DetentionType.PRISON_SENTENCE,
    detention_start: date = DETENTION_START,
    expected_release: date | None = None,
    given_names: str = "Jan",
    surname: str = "Jansen",
    date_of_birth: date = date(1990, 1, 1),
    consent: bool = True,
    now: datetime = NOW,
) -> Case:
    """A case in `draft` (no expected release, i.e. no referral window, unless given).

    With `consent` (the default) the detainee's signed consent for every purpose is on file, so events that need
    it (record_consent, send_letters, send_referral) are not refused for that reason; tests of the consent rules
    pass consent=False. A municipality is chosen unless one is given.
    """
    case = open_case(
        session,
        engine,
        actor=actor,
        given_names=given_names,
        surname=surname,
        date_of_birth=date_of_birth,
        pi=pi or make_pi(session),
        detention_type=detention_type,
        detention_start=detention_start,
        expected_release=expected_release,
        now=now,
    )
    case.municipality_id = (municipality or make_municipality(session)).id
    if consent:
        session.add_all(
            Consent(
                case_id=case.id,
                purpose=purpose.value,
                signed_on=detention_start,
                valid_until=date(2035, 12, 31),
                text_version="test",
                recorded_by="test",
            )
            for purpose in ConsentPurpose
        )
    session.flush()
    return case


def make_debt(
    session: Session,
    engine: Engine,
    case: Case,
    *,
    actor: Actor = PI_STAFF,
    creditor: Creditor | None = None,
    debt_type: str = "huur",
    category: DebtCategory | None = None,
    principal_cents: int = 10_000,
    amount_status: AmountStatus = AmountStatus.ESTIMATED,
    now: datetime = NOW,
) -> Debt:
    """A debt of `case` in `identified`; the category follows the debt type unless given."""
    category = category or CATEGORY_OF.get(debt_type, DebtCategory.OVERIG)
    return add_debt(
        session,
        engine,
        case,
        actor=actor,
        creditor=creditor or make_creditor(session, category=category),
        category=category,
        debt_type=debt_type,
        principal_cents=principal_cents,
        amount_status=amount_status,
        now=now,
    )
