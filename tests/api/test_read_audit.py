"""Issue 11, "one home for every rule": a read that is recorded (NEN 7513: who viewed which case) writes the same
audit row whether the page or the API asks for it, because both call the one read function of the domain
(schulden/cases/views.py, schulden/referrals/queries.py, ...). On the fast demo world, SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select

from schulden.audit import AuditEntry
from schulden.referrals.models import Referral
from tests.demo_world import DemoWorld


def _rows_of(world: DemoWorld, client: FlaskClient, path: str, headers: dict[str, str] | None = None) -> list[Any]:
    """The audit rows one GET wrote, as what a reader of the log compares: who, what, which object, which details."""
    with world.db() as s:
        before = s.scalar(select(func.max(AuditEntry.id))) or 0
    response = client.get(path, headers=headers or {})
    assert response.status_code == 200, (path, response.get_data(as_text=True)[:300])
    with world.db() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.id > before).order_by(AuditEntry.id)).all()
        return [
            (r.actor_id, r.organisation_id, r.action, r.object_type, r.object_id, r.case_id, r.result, r.details)
            for r in rows
        ]


def test_the_case_page_writes_the_rows_of_the_apis_reads_of_the_case(demo_world: DemoWorld) -> None:
    page = demo_world.client("schuldhulp.demo")
    token = demo_world.token("schuldhulp.demo")
    case_id = demo_world.case_id("Demir")

    on_page = _rows_of(demo_world, page, f"/dossiers/{case_id}")
    api = "/api/v1/cases"
    in_api = [
        row
        for path in (
            f"{api}/{case_id}",
            f"{api}/{case_id}/history",
            f"{api}/{case_id}/actions",
            f"{api}/{case_id}/debts",
            f"{api}/{case_id}/letters",
            f"{api}/{case_id}/replies",
        )
        for row in _rows_of(demo_world, demo_world.http, path, token)
    ]

    assert [row[2] for row in on_page] == [
        "case.read",
        "case.history",
        "case.actions",
        "debt.list",
        "letter.list",
        "reply.list",
    ]
    assert on_page == in_api
    debt_list = next(row for row in on_page if row[2] == "debt.list")
    assert debt_list[3:5] == ("debt", None)
    assert debt_list[7]["debt_ids"], "the demo's Demir case has debts, and the row names them"


def test_the_municipalitys_inbox_and_referral_write_the_rows_of_the_api(demo_world: DemoWorld) -> None:
    page = demo_world.client("gemeente.demo")
    token = demo_world.token("gemeente.demo")
    with demo_world.db() as s:
        referral_id = s.scalar(select(Referral.id).where(Referral.case_id == demo_world.case_id("Vries")))
    assert referral_id is not None

    inbox_page = _rows_of(demo_world, page, "/gemeente")
    inbox_api = _rows_of(demo_world, demo_world.http, "/api/v1/referrals", token)
    assert inbox_page == inbox_api
    assert [(row[2], row[3], row[4], row[7]) for row in inbox_page] == [
        ("referral.inbox", "referral", None, {"count": 1})
    ]

    read_page = _rows_of(demo_world, page, f"/gemeente/verwijzingen/{referral_id}")
    # The page shows the referral and, before the decision, the handover's contents (issue 13): the rows of both
    # API reads.
    read_api = _rows_of(demo_world, demo_world.http, f"/api/v1/referrals/{referral_id}", token) + _rows_of(
        demo_world, demo_world.http, f"/api/v1/referrals/{referral_id}/handover", token
    )
    assert read_page == read_api
    assert [(row[2], row[3], row[4]) for row in read_page] == [
        ("referral.read", "referral", str(referral_id)),
        ("referral.handover_view", "referral", str(referral_id)),
    ]


def test_the_referral_page_writes_the_rows_of_the_apis_case_and_referral_list(demo_world: DemoWorld) -> None:
    page = demo_world.client("schuldhulp.demo")
    token = demo_world.token("schuldhulp.demo")
    case_id = demo_world.case_id("Vries")

    on_page = _rows_of(demo_world, page, f"/dossiers/{case_id}/verwijzing")
    in_api = _rows_of(demo_world, demo_world.http, f"/api/v1/cases/{case_id}", token) + _rows_of(
        demo_world, demo_world.http, f"/api/v1/cases/{case_id}/referrals", token
    )
    assert on_page == in_api
    assert [(row[2], row[3], row[4], row[7]) for row in on_page] == [
        ("case.read", "case", str(case_id), {}),
        ("referral.list", "case", str(case_id), {}),
    ]
