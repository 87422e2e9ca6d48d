"""Outcome figures (issue 5, item 5) through GET /api/v1/figures and /api/v1/figures.csv: each figure's value on
a small world built through the real workflow, the CSV download, scope (nobody counts another PI's cases), roles
and bad periods. docs/figures.md defines the figures; the expected values below are worked out by hand from it.

The world's moments are Amsterdam wall-clock times. Some sit just around midnight on purpose: the figures count
calendar days in Amsterdam, where the UTC date is a day earlier.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from schulden.actors import UserActor
from schulden.audit import AuditEntry
from schulden.cases.conditions import set_release_conditions
from schulden.cases.models import Case
from schulden.cases.services import fire_case_event
from schulden.creditors.models import Creditor
from schulden.debts.models import Debt, DebtCategory
from schulden.debts.services import fire_debt_event
from schulden.letters import lifecycle
from schulden.letters.models import Letter, LetterStatus
from schulden.organisations.models import Organisation, OrganisationKind
from schulden.processes import build_engine
from schulden.referrals.services import send_referral
from schulden.replies.models import ReplyChannel
from schulden.replies.services import record_reply
from schulden.roles import Role
from schulden.users.models import User
from tests.api.world import _password_hash, token
from tests.conftest import actor
from tests.factories import make_case, make_debt
from workflows import SYSTEM, Engine, WorkflowInstance

AMS = ZoneInfo("Europe/Amsterdam")
API = "/api/v1/figures"
PERIOD = {"from": "2026-01-01", "to": "2026-06-30"}

PI_STAFF = actor(Role.PI_STAFF.value, "user:pi")
COUNSELLOR = actor(Role.COUNSELLOR.value, "user:counsellor")
MUNICIPALITY = actor(Role.MUNICIPALITY.value, "user:municipality")


def at(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    """A moment in Amsterdam wall-clock time, as an aware UTC datetime."""
    return datetime(year, month, day, hour, minute, tzinfo=AMS).astimezone(UTC)


# -- the world -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FigureWorld:
    orgs: dict[str, int]
    creditors: dict[str, int]
    user_ids: dict[str, int]


#: Organisations: key -> (kind, name, code, counselling team key).
ORGS: dict[str, tuple[OrganisationKind, str, str, str | None]] = {
    "team-a": (OrganisationKind.OPERATOR, "Team Noord", "TEAM-N", None),
    "team-b": (OrganisationKind.OPERATOR, "Team Zuid", "TEAM-Z", None),
    "PI-A": (OrganisationKind.PI, "PI Alfa", "PIA", "team-a"),
    "PI-B": (OrganisationKind.PI, "PI Bravo", "PIB", "team-b"),
    "M-1": (OrganisationKind.MUNICIPALITY, "Gemeente Een", "GM9001", None),
    "M-2": (OrganisationKind.MUNICIPALITY, "Gemeente Twee", "GM9002", None),
    "probation": (OrganisationKind.PROBATION, "Reclassering Test", "RCL-1", None),
}
USERS: dict[str, tuple[Role, str | None]] = {
    "pi_a": (Role.PI_STAFF, "PI-A"),
    "pi_b": (Role.PI_STAFF, "PI-B"),
    "vol_a": (Role.VOLUNTEER, "PI-A"),
    "cns_a": (Role.COUNSELLOR, "team-a"),
    "mun_1": (Role.MUNICIPALITY, "M-1"),
    "mun_2": (Role.MUNICIPALITY, "M-2"),
    "partner": (Role.PARTNER, "probation"),
    "admin": (Role.ADMIN, None),
}
#: The third creditor's name starts with '=': a spreadsheet would run it as a formula (CSV injection).
CREDITORS = {
    "C1": ("Woonstichting Test", DebtCategory.OVERIG),
    "C2": ("Energie Test", DebtCategory.NUTS),
    "C3": ("=Incasso Stil", DebtCategory.OVERIG),
}


#: What was recorded for A1 before its release (the only case with basisvoorwaarden).
A1_CONDITIONS = {
    "id_document": "applied",
    "bank_account": "has_account",
    "income_after_release": "none",
    "contact_after_release": "06-11112222",
}
#: The basisvoorwaarden, in the order of the API and the CSV.
CONDITIONS = (
    "id_document",
    "bank_account",
    "income_after_release",
    "housing_after_release",
    "health_insurance",
    "care_arranged",
    "contact_after_release",
)


def _conditions(released: int, **recorded: tuple[int, int]) -> dict[str, dict[str, int]]:
    """conditions_at_release: (geregeld, niet geregeld) for the conditions given, the rest of `released` unknown."""
    counts = {name: recorded.get(name, (0, 0)) for name in CONDITIONS}
    return {
        name: {"arranged": arranged, "not_arranged": missing, "unknown": released - arranged - missing}
        for name, (arranged, missing) in counts.items()
    }


#: A1's recorded conditions among PI Alfa's released cases: ID applied and a bank account are geregeld, no income
#: is niet geregeld, the contact is geregeld.
A1_COUNTS = {
    "id_document": (1, 0),
    "bank_account": (1, 0),
    "income_after_release": (0, 1),
    "contact_after_release": (1, 0),
}


def _state(session: Session, case: Case) -> str:
    return session.get_one(WorkflowInstance, case.instance_id).state


def _post_letters(session: Session, engine: Engine, debt: Debt, moment: datetime) -> None:
    """The debt's queued letters go out at `moment`: rendered (a stand-in file) and posted, as the print batch
    records it (letters.lifecycle.sent), which starts the creditor's answer clock."""
    letters = session.scalars(
        select(Letter).where(Letter.debt_id == debt.id, Letter.status == LetterStatus.QUEUED.value)
    ).all()
    assert letters
    for letter in letters:
        letter.status = LetterStatus.RENDERED.value
        letter.storage_key = f"test/{letter.id}.pdf"
        letter.sha256 = "0" * 64
    lifecycle.sent(session, engine, letters, at=moment)
    assert session.get_one(WorkflowInstance, debt.instance_id).state == "notified"


def _contact(session: Session, engine: Engine, debt: Debt, asked: datetime, posted: datetime) -> None:
    fire_debt_event(session, engine, debt, "send_letters", actor=COUNSELLOR, now=asked)
    _post_letters(session, engine, debt, posted)


def _silent(session: Session, engine: Engine, debt: Debt, reminded: datetime, again: datetime, gone: datetime) -> None:
    """The creditor never answers: two reminders, then no_response (the timers' events, fired as the tick would)."""
    fire_debt_event(session, engine, debt, "reply_overdue", actor=SYSTEM, now=reminded)
    fire_debt_event(session, engine, debt, "second_reminder_due", actor=SYSTEM, now=again)
    fire_debt_event(session, engine, debt, "no_reply", actor=SYSTEM, now=gone)
    assert session.get_one(WorkflowInstance, debt.instance_id).state == "no_response"


def _refer(session: Session, engine: Engine, case: Case, moment: datetime) -> None:
    """Send the referral at `moment` (its Wgs term copied onto the referral); a complete inventory may already have
    made it due."""
    if _state(session, case) in ("inventory", "inventory_complete"):
        fire_case_event(session, engine, case, "request_referral", actor=COUNSELLOR, now=moment)
    send_referral(session, engine, case, actor=COUNSELLOR, include_district_team=False, now=moment)
    assert _state(session, case) == "referred"


def _case(
    session: Session,
    engine: Engine,
    orgs: Mapping[str, Organisation],
    *,
    pi: str,
    municipality: str | None,
    created: datetime,
    expected_release: date | None,
    consent: datetime | None = None,
    detention_start: date = date(2025, 11, 3),
) -> Case:
    case = make_case(
        session,
        engine,
        pi=orgs[pi],
        # make_case always chooses one (it would make a new one); a case without is cleared just below.
        municipality=orgs[municipality or "M-1"],
        detention_start=detention_start,
        expected_release=expected_release,
        now=created,
    )
    # The figure reads debt_case.created_at, which the database stamps with the wall clock; the world is set
    # in the past, so give the case the moment it was opened there.
    case.created_at = created
    if municipality is None:
        case.municipality_id = None
    session.flush()
    if consent is not None:
        fire_case_event(session, engine, case, "record_consent", actor=PI_STAFF, now=consent)
    return case


def build_figure_world(db: sessionmaker[Session]) -> FigureWorld:
    """Two PIs, two municipalities, six cases and their debts, through the services and the engine."""
    engine = build_engine()
    with db() as session:
        orgs: dict[str, Organisation] = {}
        for key, (kind, name, code, team) in ORGS.items():
            org = Organisation(kind=kind.value, name=name, code=code, email=f"info@{code.lower()}.example")
            if team is not None:
                org.counselling_team_id = orgs[team].id
            session.add(org)
            session.flush()
            orgs[key] = org
        user_ids = {}
        for username, (role, org_key) in USERS.items():
            user = User(
                username=username,
                display_name=username,
                role=role.value,
                organisation_id=orgs[org_key].id if org_key else None,
                password_hash=_password_hash(),
            )
            session.add(user)
            session.flush()
            user_ids[username] = user.id
        creditors = {}
        for key, (name, category) in CREDITORS.items():
            creditor = Creditor(name=name, category=category.value, address_line="Postbus 1", postcode="1000 AA")
            session.add(creditor)
            session.flush()
            creditors[key] = creditor

        # A1: every debt answered or silent, complete, referred four weeks before release, accepted. Detained on
        # 22 December: with Christmas and New Year the tenth working day is 7 January, so opened within the norm.
        a1 = _case(
            session, engine, orgs, pi="PI-A", municipality="M-1",
            created=at(2026, 1, 5), expected_release=date(2026, 3, 31), consent=at(2026, 1, 5, 11),
            detention_start=date(2025, 12, 22),
        )  # fmt: skip
        d1 = make_debt(session, engine, a1, creditor=creditors["C1"], now=at(2026, 1, 5, 12))
        d2 = make_debt(session, engine, a1, creditor=creditors["C2"], now=at(2026, 1, 5, 12))
        d3 = make_debt(session, engine, a1, creditor=creditors["C2"], now=at(2026, 1, 5, 12))
        # C3 collects d3 for C2: the letters go to C3, so C3 is the one that does not answer.
        d3.collecting_party_id = creditors["C3"].id
        session.flush()
        # Posted at 23:30 on 7 January, answered at 00:30 on 14 January (Amsterdam): 7 calendar days, where the
        # UTC dates (7 and 13 January) would say 6.
        for debt in (d1, d2, d3):
            _contact(session, engine, debt, at(2026, 1, 6), at(2026, 1, 7, 23, 30))
        fire_debt_event(session, engine, d1, "confirm_balance", actor=COUNSELLOR, now=at(2026, 1, 14, 0, 30))
        fire_debt_event(session, engine, d2, "decline", actor=COUNSELLOR, reason="Klant onbekend", now=at(2026, 1, 20))
        _silent(session, engine, d3, at(2026, 1, 21), at(2026, 2, 4), at(2026, 2, 18))
        if _state(session, a1) == "inventory":
            fire_case_event(session, engine, a1, "complete_inventory", actor=COUNSELLOR, now=at(2026, 2, 18, 11))
        _refer(session, engine, a1, at(2026, 3, 2))
        fire_case_event(
            session, engine, a1, "accept_referral", actor=MUNICIPALITY,
            payload={"first_conversation_on": "2026-03-20"}, now=at(2026, 3, 10),
        )  # fmt: skip
        # Part of A1's basisvoorwaarden: ID applied for, a bank account, no income; the rest is unknown.
        counsellor = UserActor(user_ids["cns_a"], Role.COUNSELLOR, orgs["team-a"].id)
        set_release_conditions(session, counsellor, a1, A1_CONDITIONS, today=date(2026, 3, 1))

        # A2: released early with a debt still open, referred the same day; the Wgs term passes.
        a2 = _case(
            session, engine, orgs, pi="PI-A", municipality="M-1",
            created=at(2026, 2, 1), expected_release=date(2026, 4, 15), consent=at(2026, 2, 1, 11),
        )  # fmt: skip
        d4 = make_debt(session, engine, a2, creditor=creditors["C1"], now=at(2026, 2, 1, 12))
        make_debt(session, engine, a2, creditor=creditors["C2"], now=at(2026, 2, 1, 12))
        _contact(session, engine, d4, at(2026, 2, 2), at(2026, 2, 3))
        # The creditor answers on paper and the counsellor types it in: a creditor_reply row, and the first answer.
        # The other debts' answers above are the counsellor's clicks only: no creditor answer for "no answer".
        record_reply(
            session, engine, actor=COUNSELLOR, debt=d4, letter_id=None, channel=ReplyChannel.POST,
            data={"principal_cents": 50_000, "peildatum": date(2026, 2, 9)}, received_on=date(2026, 2, 10),
            today=date(2026, 2, 10), now=at(2026, 2, 10),
        )  # fmt: skip
        fire_case_event(session, engine, a2, "release_early", actor=PI_STAFF, now=at(2026, 4, 1, 9))
        _refer(session, engine, a2, at(2026, 4, 1, 15))
        fire_case_event(session, engine, a2, "wgs_deadline_passed", actor=SYSTEM, now=at(2026, 4, 29, 0, 5))

        # A3: opened before the period, never got past the draft; released in the period. Its creditor answered
        # before any letter went out: an answer without a waiting time.
        a3 = _case(
            session, engine, orgs, pi="PI-A", municipality="M-1",
            created=at(2025, 12, 20), expected_release=date(2026, 5, 1),
        )  # fmt: skip
        d6 = make_debt(session, engine, a3, creditor=creditors["C1"], now=at(2025, 12, 20, 12))
        fire_debt_event(session, engine, d6, "send_letters", actor=COUNSELLOR, now=at(2026, 1, 9))
        fire_debt_event(session, engine, d6, "confirm_balance", actor=COUNSELLOR, now=at(2026, 1, 10))

        # A4 opened at 23:30 on the period's last day (in it); A5 at 00:30 the day after, still 30 June in UTC.
        _case(
            session, engine, orgs, pi="PI-A", municipality=None, created=at(2026, 6, 30, 23, 30), expected_release=None
        )
        _case(
            session, engine, orgs, pi="PI-A", municipality="M-1", created=at(2026, 7, 1, 0, 30), expected_release=None
        )

        # B1 in the other PI: one answer after 18 days, one creditor silent; release next year.
        b1 = _case(
            session, engine, orgs, pi="PI-B", municipality="M-2",
            created=at(2026, 1, 10), expected_release=date(2027, 3, 1), consent=at(2026, 1, 10, 11),
        )  # fmt: skip
        d7 = make_debt(session, engine, b1, creditor=creditors["C1"], now=at(2026, 1, 10, 12))
        d8 = make_debt(session, engine, b1, creditor=creditors["C3"], now=at(2026, 1, 10, 12))
        _contact(session, engine, d7, at(2026, 1, 11), at(2026, 1, 12))
        _contact(session, engine, d8, at(2026, 1, 11), at(2026, 1, 12))
        fire_debt_event(session, engine, d7, "confirm_balance", actor=COUNSELLOR, now=at(2026, 1, 30))
        _silent(session, engine, d8, at(2026, 1, 27), at(2026, 2, 10), at(2026, 2, 24))
        session.commit()
        return FigureWorld(
            orgs={key: org.id for key, org in orgs.items()},
            creditors={key: creditor.id for key, creditor in creditors.items()},
            user_ids=user_ids,
        )


@pytest.fixture
def world(db: sessionmaker[Session]) -> FigureWorld:
    return build_figure_world(db)


def _get(client: FlaskClient, username: str, **params: str) -> Any:
    return client.get(API, query_string={**PERIOD, **params}, headers=token(client, username))


def _by_name(body: Mapping[str, Any]) -> dict[str | None, dict[str, Any]]:
    return {row["group"]["name"]: row["figures"] for row in body["groups"]}


def _never(world: FigureWorld, counts: Mapping[str, int]) -> list[dict[str, Any]]:
    return [
        {"creditor_id": world.creditors[key], "name": CREDITORS[key][0], "debts": debts}
        for key, debts in counts.items()
    ]


def _alfa(world: FigureWorld) -> dict[str, Any]:
    """PI Alfa's figures over the first half of 2026, by hand from docs/figures.md."""
    return {
        "cases_opened": 3,  # A1, A2, A4 (A3 opened in 2025, A5 on 1 July)
        "released": 3,  # A1 (expected 31 March), A2 (early, 1 April), A3 (expected 1 May)
        "inventory_complete_at_release": 1,  # A1
        "referred_before_release": 2,  # A1 four weeks before, A2 on the day
        "referred": 2,  # A1, A2
        "accepted": 1,  # A1
        "answered_debts": 3,  # d1 (7 days), d2 (13), d4 (7); d6 answered no letter
        "median_days_to_first_answer": 7.0,
        "no_response_debts": 1,  # d3, collected by C3
        # d1 (a click on "Saldo ontvangen"), d2 (a click on "decline") and d3 (silent): no creditor_reply row; d4
        # was answered on paper, d6's letter never went out.
        "unanswered_debts": 3,
        "never_answering_creditors": _never(world, {"C3": 1, "C2": 1, "C1": 1}),
        "wgs_breaches": 1,  # A2
        "intake_within_10_working_days": 1,  # A1
        "referrals_with_first_conversation": 1,  # A1, term to 30 March
        "first_conversation_within_wgs_term": 1,  # A1 on 20 March
        "wgs_term_passed_without_first_conversation": 1,  # A2, term to 29 April
        "conditions_at_release": _conditions(3, **A1_COUNTS),  # A1 recorded some; A2 and A3 nothing
    }


def _bravo(world: FigureWorld) -> dict[str, Any]:
    return {
        "cases_opened": 1,
        "released": 0,
        "inventory_complete_at_release": 0,
        "referred_before_release": 0,
        "referred": 0,
        "accepted": 0,
        "answered_debts": 1,
        "median_days_to_first_answer": 18.0,
        "no_response_debts": 1,
        "unanswered_debts": 2,  # d7 (a click) and d8 (silent)
        "never_answering_creditors": _never(world, {"C3": 1, "C1": 1}),
        "wgs_breaches": 0,
        "intake_within_10_working_days": 0,
        "referrals_with_first_conversation": 0,
        "first_conversation_within_wgs_term": 0,
        "wgs_term_passed_without_first_conversation": 0,
        "conditions_at_release": _conditions(0),
    }


# -- the figures -------------------------------------------------------------------------------------------------


def test_figures_per_pi_for_the_administrator(client: FlaskClient, world: FigureWorld) -> None:
    response = _get(client, "admin", group_by="pi")

    assert response.status_code == 200, response.json
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert body["period"] == PERIOD
    assert body["group_by"] == "pi"
    assert [row["group"] for row in body["groups"]] == [
        {"id": world.orgs["PI-A"], "name": "PI Alfa", "code": "PIA"},
        {"id": world.orgs["PI-B"], "name": "PI Bravo", "code": "PIB"},
    ]
    assert _by_name(body) == {"PI Alfa": _alfa(world), "PI Bravo": _bravo(world)}
    # Counts add up over the groups; the median is over all answers together: 7, 7, 13, 18.
    assert body["total"] == {
        "cases_opened": 4,
        "released": 3,
        "inventory_complete_at_release": 1,
        "referred_before_release": 2,
        "referred": 2,
        "accepted": 1,
        "answered_debts": 4,
        "median_days_to_first_answer": 10.0,
        "no_response_debts": 2,
        "unanswered_debts": 5,
        "never_answering_creditors": _never(world, {"C3": 2, "C1": 2, "C2": 1}),
        "wgs_breaches": 1,
        "intake_within_10_working_days": 1,
        "referrals_with_first_conversation": 1,
        "first_conversation_within_wgs_term": 1,
        "wgs_term_passed_without_first_conversation": 1,
        "conditions_at_release": _conditions(3, **A1_COUNTS),
    }


def test_figures_per_municipality_put_cases_without_one_last(client: FlaskClient, world: FigureWorld) -> None:
    body = _get(client, "admin", group_by="municipality").json

    assert [row["group"]["name"] for row in body["groups"]] == [
        "Gemeente Een",
        "Gemeente Twee",
        "Geen gemeente gekozen",
    ]
    figures = _by_name(body)
    # A4 has no municipality: its opening counts under the last row, everything else of PI Alfa under M-1.
    assert figures["Gemeente Een"] == {**_alfa(world), "cases_opened": 2}
    assert figures["Gemeente Twee"] == _bravo(world)
    assert figures["Geen gemeente gekozen"]["cases_opened"] == 1
    assert body["groups"][-1]["group"] == {"id": None, "name": "Geen gemeente gekozen", "code": None}


def test_a_period_without_events_counts_nothing(client: FlaskClient, world: FigureWorld) -> None:
    body = _get(client, "admin", **{"from": "2025-01-01", "to": "2025-06-30"}).json

    assert body["groups"] == []
    assert body["total"]["cases_opened"] == 0
    assert body["total"]["median_days_to_first_answer"] is None


# -- scope -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["pi_a", "cns_a"])
def test_staff_of_pi_alfa_count_only_its_cases(client: FlaskClient, world: FigureWorld, username: str) -> None:
    by_pi = _get(client, username, group_by="pi").json
    assert _by_name(by_pi) == {"PI Alfa": _alfa(world)}
    assert by_pi["total"] == _alfa(world)

    # Grouped by municipality, still none of PI Bravo's cases (M-2 never appears).
    by_municipality = _by_name(_get(client, username, group_by="municipality").json)
    assert set(by_municipality) == {"Gemeente Een", "Geen gemeente gekozen"}


def test_staff_of_pi_bravo_never_count_pi_alfa(client: FlaskClient, world: FigureWorld) -> None:
    body = _get(client, "pi_b").json

    assert _by_name(body) == {"PI Bravo": _bravo(world)}
    assert body["total"] == _bravo(world)


def test_a_municipality_counts_only_the_cases_referred_to_it(client: FlaskClient, world: FigureWorld) -> None:
    body = _get(client, "mun_1", group_by="municipality").json

    # A1 and A2 were referred to M-1; A3 and A5 were only proposed to it, and so are not its cases.
    assert _by_name(body) == {
        "Gemeente Een": {
            **_alfa(world),
            "cases_opened": 2,
            "released": 2,
            "conditions_at_release": _conditions(2, **A1_COUNTS),
        }
    }
    # M-2 had nothing referred: its own row is there, empty.
    empty = _get(client, "mun_2", group_by="municipality").json
    assert [row["group"]["name"] for row in empty["groups"]] == ["Gemeente Twee"]
    assert empty["total"]["cases_opened"] == 0


@pytest.mark.parametrize("username", ["vol_a", "partner"])
def test_volunteers_and_partners_may_not_read_figures(client: FlaskClient, world: FigureWorld, username: str) -> None:
    for path in (API, API + ".csv"):
        response = client.get(path, query_string=PERIOD, headers=token(client, username))
        assert response.status_code == 403
        assert response.mimetype == "application/problem+json"


def test_without_a_token_nothing_is_answered(client: FlaskClient, world: FigureWorld) -> None:
    for path in (API, API + ".csv"):
        assert client.get(path, query_string=PERIOD).status_code == 401
        # Sign-in comes before the query is read: a bad query without a token is still 401.
        assert client.get(path).status_code == 401


def test_every_read_is_logged(client: FlaskClient, world: FigureWorld, db: sessionmaker[Session]) -> None:
    assert _get(client, "pi_a").status_code == 200
    assert client.get(API + ".csv", query_string=PERIOD, headers=token(client, "pi_a")).status_code == 200

    with db() as session:
        rows = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.actor_id == f"user:{world.user_ids['pi_a']}", AuditEntry.action.like("figures.%"))
            .order_by(AuditEntry.id)
        ).all()
    logged = [(row.action, row.object_type, row.organisation_id, row.details) for row in rows]
    details = {"from": "2026-01-01", "to": "2026-06-30", "group_by": "pi"}
    assert logged == [
        ("figures.read", "figures", world.orgs["PI-A"], details),
        ("figures.export", "figures", world.orgs["PI-A"], details),
    ]


# -- the CSV ---------------------------------------------------------------------------------------------------------


def test_csv_download_for_dutch_spreadsheets(client: FlaskClient, world: FigureWorld) -> None:
    response = client.get(API + ".csv", query_string={**PERIOD, "group_by": "pi"}, headers=token(client, "admin"))

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="kengetallen-pi-2026-01-01-tot-2026-06-30.csv"'
    )
    assert response.headers["Cache-Control"] == "no-store"
    data = response.get_data()
    # Geregeld, niet geregeld, onbekend per basisvoorwaarde: A1's record among PI Alfa's three releases.
    alfa_conditions = ["1", "0", "2", "1", "0", "2", "0", "1", "2", "0", "0", "3", "0", "0", "3", "0", "0", "3",
                       "1", "0", "2"]  # fmt: skip
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8 only with it
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert rows == [
        [
            "PI",
            "Code",
            "Dossiers geopend",
            "Vrijgelaten in periode",
            "Inventarisatie compleet bij vrijlating",
            "Verwezen voor vrijlating",
            "Verwezen in periode",
            "Geaccepteerd door gemeente",
            "Schulden met eerste antwoord",
            "Mediaan dagen tot eerste antwoord",
            "Schulden zonder reactie na twee herinneringen",
            "Schulden zonder antwoord van schuldeiser",
            "Schuldeisers zonder antwoord",
            "Wgs-termijn overschreden",
            "Intake binnen 10 werkdagen",
            "Eerste gesprek vastgelegd",
            "Eerste gesprek binnen Wgs-termijn",
            "Wgs-termijn voorbij zonder eerste gesprek",
            *(
                f"{condition} {state}"
                for condition in (
                    "Identiteitsbewijs", "Bankrekening", "Inkomen", "Wonen", "Zorgverzekering",
                    "Zorg en begeleiding", "Contact na vrijlating",
                )
                for state in ("geregeld", "niet geregeld", "onbekend")
            ),
        ],
        # The creditor named "=Incasso Stil" is written as text, never as a formula.
        [
            "PI Alfa", "PIA", "3", "3", "1", "2", "2", "1", "3", "7,0", "1", "3",
            "'=Incasso Stil (1), Energie Test (1), Woonstichting Test (1)", "1", "1", "1", "1", "1",
            *alfa_conditions,
        ],
        [
            "PI Bravo", "PIB", "1", "0", "0", "0", "0", "0", "1", "18,0", "1", "2",
            "'=Incasso Stil (1), Woonstichting Test (1)", "0", "0", "0", "0", "0",
            *["0"] * 21,
        ],
        [
            "Totaal", "", "4", "3", "1", "2", "2", "1", "4", "10,0", "2", "5",
            "'=Incasso Stil (2), Woonstichting Test (2), Energie Test (1)", "1", "1", "1", "1", "1",
            *alfa_conditions,
        ],
    ]  # fmt: skip


def test_csv_per_municipality_follows_the_scope(client: FlaskClient, world: FigureWorld) -> None:
    response = client.get(
        API + ".csv", query_string={**PERIOD, "group_by": "municipality"}, headers=token(client, "pi_b")
    )

    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig")), delimiter=";"))
    assert [row[0] for row in rows] == ["Gemeente", "Gemeente Twee", "Totaal"]
    assert 'filename="kengetallen-municipality-' in response.headers["Content-Disposition"]


# -- bad input -------------------------------------------------------------------------------------------------------


#: Bad queries and the one field the answer must name. One world serves them all (it is the costly part).
BAD_QUERIES: list[tuple[dict[str, str], str]] = [
    ({"to": "2026-06-30"}, "from"),
    ({"from": "2026-01-01"}, "to"),
    ({"from": "2026-13-01", "to": "2026-06-30"}, "from"),
    ({"from": "01-01-2026", "to": "2026-06-30"}, "from"),
    ({"from": "1850-01-01", "to": "2026-06-30"}, "from"),  # outside 1900-2100
    ({"from": "2026-07-01", "to": "2026-06-30"}, "to"),  # the end before the start
    ({"from": "2024-01-01", "to": "2026-01-01"}, "to"),  # 732 days: more than two years
    ({**PERIOD, "group_by": "team"}, "group_by"),
]


@pytest.mark.parametrize("path", [API, API + ".csv"])
def test_a_bad_period_answers_problem_json_naming_the_field(client: FlaskClient, world: FigureWorld, path: str) -> None:
    headers = token(client, "cns_a")
    for query, field in BAD_QUERIES:
        response = client.get(path, query_string=query, headers=headers)

        assert response.status_code == 422, (query, response.status_code)
        assert response.mimetype == "application/problem+json"
        problem = response.json
        assert (problem["status"], problem["title"]) == (422, "Ongeldige invoer")
        assert list(problem["errors"]) == [field], query

    reversed_period = client.get(path, query_string={"from": "2026-07-01", "to": "2026-06-30"}, headers=headers)
    assert reversed_period.json["errors"] == {"to": ["De einddatum ligt voor de begindatum."]}
    too_long = client.get(path, query_string={"from": "2024-01-01", "to": "2026-01-01"}, headers=headers)
    assert too_long.json["errors"] == {"to": ["Een periode beslaat hoogstens 731 dagen (twee jaar)."]}
    # 2024 is a leap year: 1 January 2024 to 31 December 2025 is 731 days, the longest period allowed.
    assert client.get(path, query_string={"from": "2024-01-01", "to": "2025-12-31"}, headers=headers).status_code == 200
