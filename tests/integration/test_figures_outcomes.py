"""The outcome figures of issue 12 (item 9) on worlds built through the real services and the engine:

* "no answer from the creditor" reads creditor_reply rows: a counsellor's click on "Saldo ontvangen" is no answer,
  an answer on the reply page is;
* the intake norm counts working days on the engine's calendar (Easter in between), on the Amsterdam day;
* the first conversation within the Wgs term, and terms passed without one.

docs/figures.md defines the figures; the expected values are worked out by hand from it.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from schulden.actors import UserActor
from schulden.cases.models import Case
from schulden.cases.services import fire_case_event
from schulden.debts.models import Debt
from schulden.debts.services import fire_debt_event
from schulden.figures.export import HEADERS, figures_csv
from schulden.figures.queries import FigureRow, Figures, Grouping, Period, outcome_figures
from schulden.letters import lifecycle
from schulden.letters.models import Letter, LetterStatus
from schulden.organisations.models import Organisation
from schulden.processes import build_engine
from schulden.referrals.models import Referral
from schulden.referrals.services import send_referral
from schulden.replies.models import CreditorReply, ReplyChannel
from schulden.replies.services import record_reply, submit_answer
from schulden.roles import Role
from schulden.web.figures import BAR_WIDTH, SHARES, share_cell
from tests.conftest import actor
from tests.demo_world import DemoWorld
from tests.factories import make_case, make_creditor, make_debt, make_municipality, make_pi
from tests.web.test_beheer import text
from workflows import Engine, WorkflowInstance

AMS = ZoneInfo("Europe/Amsterdam")
ADMIN = UserActor(user_id=1, role=Role.ADMIN)
PI_STAFF = actor(Role.PI_STAFF.value, "user:pi")
COUNSELLOR = actor(Role.COUNSELLOR.value, "user:counsellor")
MUNICIPALITY = actor(Role.MUNICIPALITY.value, "user:municipality")
FIRST_HALF = Period(date(2026, 1, 1), date(2026, 6, 30))


def at(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    """A moment in Amsterdam wall-clock time, as an aware UTC datetime."""
    return datetime(year, month, day, hour, minute, tzinfo=AMS).astimezone(UTC)


@pytest.fixture
def engine() -> Engine:
    return build_engine()


def _figures(
    session: Session, engine: Engine, group_by: Grouping = Grouping.PI, *, today: date = date(2026, 7, 15)
) -> Figures:
    return outcome_figures(
        session,
        actor=ADMIN,
        period=FIRST_HALF,
        group_by=group_by,
        timezone=engine.timezone,
        calendar=engine.calendar,
        today=today,
    )


def _by_name(figures: Figures) -> dict[str, FigureRow]:
    return {row.group.name: row for row in figures.rows if row.group is not None}


def _case(
    session: Session,
    engine: Engine,
    *,
    pi: Organisation,
    municipality: Organisation,
    opened: datetime,
    detention_start: date = date(2025, 11, 3),
) -> Case:
    case = make_case(session, engine, pi=pi, municipality=municipality, detention_start=detention_start, now=opened)
    # The figures read debt_case.created_at, which the database stamps with the wall clock: give the case the
    # moment it was opened in the test's world.
    case.created_at = opened
    session.flush()
    return case


def _post_letters(session: Session, engine: Engine, debt: Debt, moment: datetime) -> list[Letter]:
    """Ask for the debt's first letter and post it at `moment` (rendered: a stand-in file), as the print batch
    records it (letters.lifecycle.sent); the creditor's answer clock starts."""
    fire_debt_event(session, engine, debt, "send_letters", actor=COUNSELLOR, now=moment)
    letters = list(
        session.scalars(select(Letter).where(Letter.debt_id == debt.id, Letter.status == LetterStatus.QUEUED.value))
    )
    assert letters
    for letter in letters:
        letter.status = LetterStatus.RENDERED.value
        letter.storage_key = f"test/{letter.id}.pdf"
        letter.sha256 = "0" * 64
    lifecycle.sent(session, engine, letters, at=moment)
    assert session.get_one(WorkflowInstance, debt.instance_id).state == "notified"
    return letters


# -- creditors that never answered -------------------------------------------------------------------------------


def test_a_counsellors_click_is_no_creditor_answer_and_the_reply_page_is(session: Session, engine: Engine) -> None:
    pi = make_pi(session, name="PI Alfa")
    municipality = make_municipality(session)
    case = _case(session, engine, pi=pi, municipality=municipality, opened=at(2026, 1, 5))
    fire_case_event(session, engine, case, "record_consent", actor=PI_STAFF, now=at(2026, 1, 5, 11))
    creditors = {
        name: make_creditor(session, name=name)
        for name in ("Woonstichting Stil", "Energie Stil", "Zorgverzekeraar Stil", "Bank Antwoordt", "Post Antwoordt")
    }
    debts = {
        name: make_debt(session, engine, case, creditor=c, now=at(2026, 1, 5, 12)) for name, c in creditors.items()
    }
    letters = {name: _post_letters(session, engine, debt, at(2026, 1, 7)) for name, debt in debts.items()}

    # Three creditors never answer; the counsellor clicks "Saldo ontvangen" for each all the same.
    for name in ("Woonstichting Stil", "Energie Stil", "Zorgverzekeraar Stil"):
        fire_debt_event(session, engine, debts[name], "confirm_balance", actor=COUNSELLOR, now=at(2026, 1, 20))
    # One answers on the reply page, one on paper that the counsellor types in.
    answer = {"principal_cents": 12_345, "peildatum": date(2026, 1, 10)}
    submit_answer(session, engine, letter=letters["Bank Antwoordt"][0], data=answer, attachment=None, origin=None)
    record_reply(
        session, engine, actor=COUNSELLOR, debt=debts["Post Antwoordt"], letter_id=None, channel=ReplyChannel.POST,
        data=answer, received_on=date(2026, 1, 21), today=date(2026, 1, 21), now=at(2026, 1, 21),
    )  # fmt: skip
    channels = session.scalars(select(CreditorReply.channel).where(CreditorReply.case_id == case.id)).all()
    assert sorted(channels) == ["post", "web"]
    # A letter still in the queue went nowhere: its creditor cannot have failed to answer it.
    queued = make_debt(session, engine, case, creditor=make_creditor(session, name="Nog niet verstuurd"))
    fire_debt_event(session, engine, queued, "send_letters", actor=COUNSELLOR, now=at(2026, 1, 7))

    figures = _figures(session, engine)

    row = _by_name(figures)["PI Alfa"]
    assert row.unanswered_debts == 3
    silent = [(c.name, c.debts) for c in row.never_answering_creditors]
    assert silent == [("Energie Stil", 1), ("Woonstichting Stil", 1), ("Zorgverzekeraar Stil", 1)]
    assert figures.total.unanswered_debts == 3
    assert [c.name for c in figures.total.never_answering_creditors] == [name for name, _ in silent]
    # None of them went through two reminders: the workflow's own "no response" stays at zero.
    assert row.no_response_debts == 0

    # In the CSV: the count and the three names.
    lines = figures_csv(figures).decode("utf-8-sig").splitlines()
    header = lines[0].split(";")
    total = dict(zip(header, lines[-1].split(";"), strict=True))
    assert set(HEADERS) <= set(header)
    assert total["Schulden zonder antwoord van schuldeiser"] == "3"
    assert total["Schuldeisers zonder antwoord"] == "Energie Stil (1), Woonstichting Stil (1), Zorgverzekeraar Stil (1)"

    # Outside the period of the letters nothing counts.
    later = outcome_figures(
        session, actor=ADMIN, period=Period(date(2026, 2, 1), date(2026, 6, 30)), group_by=Grouping.PI,
        timezone=engine.timezone, calendar=engine.calendar, today=date(2026, 7, 15),
    )  # fmt: skip
    assert later.total.unanswered_debts == 0


def test_the_collecting_party_addressed_is_the_one_that_did_not_answer(session: Session, engine: Engine) -> None:
    pi = make_pi(session, name="PI Alfa")
    case = _case(session, engine, pi=pi, municipality=make_municipality(session), opened=at(2026, 1, 5))
    fire_case_event(session, engine, case, "record_consent", actor=PI_STAFF, now=at(2026, 1, 5, 11))
    creditor = make_creditor(session, name="Telefoon B.V.")
    collector = make_creditor(session, name="Incasso Stil")
    debt = make_debt(session, engine, case, creditor=creditor, now=at(2026, 1, 5, 12))
    debt.collecting_party_id = collector.id
    session.flush()
    letters = _post_letters(session, engine, debt, at(2026, 1, 7))
    assert {letter.creditor_id for letter in letters} == {collector.id}

    figures = _figures(session, engine)

    assert [(c.name, c.debts) for c in figures.total.never_answering_creditors] == [("Incasso Stil", 1)]


def test_the_page_names_three_silent_creditors_instead_of_none(demo_world: DemoWorld) -> None:
    """The Cijfers page, where the issue was seen: three creditors never answered, the counsellor clicked "Saldo
    ontvangen" for each, and the page said "Geen"."""
    world = demo_world
    engine = world.runtime.engine
    today = world.today
    with world.db() as s:
        case = s.get_one(Case, world.case_id("Demir"))
        for name in ("Stille Woonstichting", "Stil Energiebedrijf", "Stille Zorgverzekeraar"):
            creditor = make_creditor(s, name=name)
            debt = make_debt(s, engine, case, creditor=creditor, now=engine.clock())
            _post_letters(s, engine, debt, engine.clock())
            fire_debt_event(s, engine, debt, "confirm_balance", actor=COUNSELLOR)
        s.commit()

    period = {"from": date(today.year - 1, 1, 1).isoformat(), "to": today.isoformat(), "group_by": "pi"}
    page = text(world.client("admin.demo").get("/cijfers", query_string=period))

    answers = page.split("Antwoorden van schuldeisers per PI</caption>")[1].split("</table>")[0]
    together = re.findall(r'sr-compare__value">([^<]+)</span>', answers.split("<tfoot")[1])
    assert together[2] == "3"  # the column "Schulden zonder antwoord van schuldeiser", all PIs together
    assert "Geen: op elke schuld" not in page
    assert (
        '<caption class="utrecht-table__caption">Schuldeisers die over een schuld een brief kregen en nog geen '
        "antwoord gaven</caption>"
    ) in page
    for name in ("Stille Woonstichting", "Stil Energiebedrijf", "Stille Zorgverzekeraar"):
        assert f'<td class="utrecht-table__cell">{name}</td>' in page


def test_percentages_are_drawn_against_a_hundred() -> None:
    intake = SHARES[0]
    half = share_cell(FigureRow(None, cases_opened=2, intake_within_10_working_days=1), intake)
    third = share_cell(FigureRow(None, cases_opened=3, intake_within_10_working_days=1), intake)
    assert (half.bar, third.bar) == (BAR_WIDTH // 2, round(BAR_WIDTH / 3))
    assert half.shown == "50\xa0% (1 van 2 geopend)"
    assert third.shown == "33,3\xa0% (1 van 3 geopend)"
    assert share_cell(FigureRow(None), intake).shown == "\N{EN DASH} (0 geopend)"


# -- intake within 10 working days ---------------------------------------------------------------------------------


def test_intake_within_ten_working_days_skips_easter(session: Session, engine: Engine) -> None:
    one = make_municipality(session, name="Gemeente Een")
    two = make_municipality(session, name="Gemeente Twee")
    pi = make_pi(session, name="PI Alfa")
    # Detained on Wednesday 1 April 2026. Good Friday (3 April) and Easter Monday (6 April) are no working days,
    # so the tenth working day is Friday 17 April; counting weekdays only would have said Wednesday 15 April.
    start = date(2026, 4, 1)
    assert engine.calendar.add_working_days(start, 10) == date(2026, 4, 17)
    # 23:30 on the tenth working day, in Amsterdam: still that day.
    _case(session, engine, pi=pi, municipality=one, opened=at(2026, 4, 17, 23, 30), detention_start=start)
    # 00:30 the Saturday after, in Amsterdam; in UTC it is still Friday 17 April.
    _case(session, engine, pi=pi, municipality=one, opened=at(2026, 4, 18, 0, 30), detention_start=start)
    _case(session, engine, pi=pi, municipality=two, opened=at(2026, 4, 20), detention_start=start)
    # Opened on the day the detention started: that day itself does not count, so no working day has passed.
    _case(session, engine, pi=pi, municipality=two, opened=at(2026, 4, 10, 16), detention_start=date(2026, 4, 10))

    by_pi = _figures(session, engine)
    assert (by_pi.total.cases_opened, by_pi.total.intake_within_10_working_days) == (4, 2)
    assert by_pi.total.intake_share == 50.0

    by_municipality = _by_name(_figures(session, engine, Grouping.MUNICIPALITY))
    assert (
        by_municipality["Gemeente Een"].cases_opened,
        by_municipality["Gemeente Een"].intake_within_10_working_days,
    ) == (2, 1)
    assert (
        by_municipality["Gemeente Twee"].cases_opened,
        by_municipality["Gemeente Twee"].intake_within_10_working_days,
    ) == (2, 1)


# -- first conversation within the Wgs term ----------------------------------------------------------------------


def _referred(session: Session, engine: Engine, case: Case, moment: datetime) -> Referral:
    fire_case_event(session, engine, case, "record_consent", actor=PI_STAFF, now=moment)
    fire_case_event(session, engine, case, "request_referral", actor=COUNSELLOR, now=moment)
    return send_referral(session, engine, case, actor=COUNSELLOR, include_district_team=False, now=moment)


def _accept(session: Session, engine: Engine, case: Case, first_conversation: date, moment: datetime) -> None:
    fire_case_event(
        session, engine, case, "accept_referral", actor=MUNICIPALITY,
        payload={"first_conversation_on": first_conversation.isoformat()}, now=moment,
    )  # fmt: skip


def test_first_conversation_within_the_wgs_term(session: Session, engine: Engine) -> None:
    pi = make_pi(session, name="PI Alfa")
    one = make_municipality(session, name="Gemeente Een")
    two = make_municipality(session, name="Gemeente Twee")

    def case(municipality: Organisation) -> Case:
        return _case(session, engine, pi=pi, municipality=municipality, opened=at(2026, 2, 2))

    # Referred on Monday 2 March: four weeks, the term's last day is Monday 30 March.
    on_time, late, silent, refused, next_term = case(one), case(one), case(two), case(two), case(two)
    first = _referred(session, engine, on_time, at(2026, 3, 2))
    assert first.wgs_due_on == date(2026, 3, 30)
    _accept(session, engine, on_time, date(2026, 3, 30), at(2026, 3, 10))  # on the last day: within
    _referred(session, engine, late, at(2026, 3, 2))
    _accept(session, engine, late, date(2026, 3, 31), at(2026, 3, 10))  # a day after it
    # Referred 1 April, term to 29 April; the municipality never answers.
    assert _referred(session, engine, silent, at(2026, 4, 1)).wgs_due_on == date(2026, 4, 29)
    # Refused: no conversation will come from this municipality, so none is overdue.
    _referred(session, engine, refused, at(2026, 4, 1))
    fire_case_event(session, engine, refused, "refuse_referral", actor=MUNICIPALITY, reason="Geen hulpvraag",
                    now=at(2026, 4, 8))  # fmt: skip
    # Referred 22 June: the term ends on 20 July, after the period.
    _referred(session, engine, next_term, at(2026, 6, 22))

    figures = _figures(session, engine, Grouping.MUNICIPALITY, today=date(2026, 7, 15))

    total = figures.total
    assert (
        total.referrals_with_first_conversation,
        total.first_conversation_within_wgs_term,
        total.wgs_term_passed_without_first_conversation,
    ) == (2, 1, 1)
    assert total.first_conversation_share == 50.0
    rows = _by_name(figures)
    assert (
        rows["Gemeente Een"].referrals_with_first_conversation,
        rows["Gemeente Een"].first_conversation_within_wgs_term,
    ) == (2, 1)
    assert rows["Gemeente Een"].wgs_term_passed_without_first_conversation == 0
    assert rows["Gemeente Twee"].referrals_with_first_conversation == 0
    assert rows["Gemeente Twee"].first_conversation_share is None
    assert rows["Gemeente Twee"].wgs_term_passed_without_first_conversation == 1

    # On the term's last day itself it has not passed yet.
    assert _figures(session, engine, today=date(2026, 4, 29)).total.wgs_term_passed_without_first_conversation == 0
    assert _figures(session, engine, today=date(2026, 4, 30)).total.wgs_term_passed_without_first_conversation == 1
