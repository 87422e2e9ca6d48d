"""The Schuldenknooppunt export of a case (issue 12 item 8): GET /api/v1/cases/{id}/schuldenknooppunt for whoever may
read the case, 404 for anyone else, every export in the audit log; the same document from the case page's download
and from `schuldroute cases knooppunt-export`. On the fast demo world (SQLite and PostgreSQL) unless it says
otherwise."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from schulden.audit import AuditEntry
from schulden.cases.models import Case, Detainee
from schulden.cli import main
from schulden.debts.models import Debt
from schulden.letters.models import Letter
from schulden.replies.knooppunt import AUDIT_ACTION, EXPORT_FORMAT, EXPORT_VERSION
from schulden.replies.schemas import KnooppuntExport
from tests.demo_world import DemoWorld

COUNSELLOR = "schuldhulp.demo"


def _path(case_id: int) -> str:
    return f"/api/v1/cases/{case_id}/schuldenknooppunt"


def _debt_with_letter(world: DemoWorld, case_id: int) -> tuple[int, int]:
    """A debt of the case that has had its first letter (L1), and that letter."""
    with world.db() as s:
        row = s.execute(
            select(Debt.id, Letter.id)
            .join(Letter, Letter.debt_id == Debt.id)
            .where(Debt.case_id == case_id, Letter.letter_type == "L1")
            .order_by(Debt.id)
        ).first()
        assert row is not None
        return row[0], row[1]


def _enter(world: DemoWorld, debt_id: int, **answer: Any) -> dict[str, Any]:
    response = world.http.post(
        f"/api/v1/debts/{debt_id}/replies",
        json={"channel": "post", "received_on": world.today.isoformat(), **answer},
        headers=world.token(COUNSELLOR),
    )
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def test_a_counsellor_exports_the_case_with_its_messages_and_answers(demo_world: DemoWorld) -> None:
    case_id = demo_world.case_id("Demir")
    debt_id, letter_id = _debt_with_letter(demo_world, case_id)
    peildatum = (demo_world.today - timedelta(days=2)).isoformat()
    first = _enter(
        demo_world,
        debt_id,
        letter_id=letter_id,
        principal_cents=45_000,
        interest_cents=1_250,
        peildatum=peildatum,
        creditor_customer_number="  KL-778899 ",
        creditor_invoice_number="FAC-2026-0042",
    )
    assert first["creditor_customer_number"] == "KL-778899"  # trimmed
    assert first["creditor_invoice_number"] == "FAC-2026-0042"

    response = demo_world.http.get(_path(case_id), headers=demo_world.token(COUNSELLOR))

    assert response.status_code == 200, response.get_json()
    assert response.headers["Cache-Control"] == "no-store"
    document = response.get_json()
    assert KnooppuntExport().validate(document) == {}
    assert document["format"] == EXPORT_FORMAT
    assert document["version"] == EXPORT_VERSION
    assert document["case"]["id"] == case_id
    assert document["case"]["reference"] == f"SR-{case_id:06d}"
    client = document["client"]
    assert client["surname"] == "Demir"
    assert client["bsn_included"] is False
    assert "bsn" not in client
    assert "bsn_masked" not in client
    with demo_world.db() as s:
        bsn = s.scalar(select(Detainee.bsn).join(Case, Case.detainee_id == Detainee.id).where(Case.id == case_id))
        debt_ids = list(s.scalars(select(Debt.id).where(Debt.case_id == case_id).order_by(Debt.id)))
    if bsn:
        assert bsn not in response.get_data(as_text=True)

    assert [d["debt_id"] for d in document["debts"]] == debt_ids
    debt = next(d for d in document["debts"] if d["debt_id"] == debt_id)
    assert debt["creditor"]["name"]
    l1 = next(m for m in debt["messages"] if m["letter_id"] == letter_id)
    assert l1["letter_type"] == "L1"
    assert l1["skn_messages"][1] == "Saldoverzoek"
    assert l1["skn_messages"][0] == ("Kennisgeving Publiek" if debt["creditor"]["uses_bsn"] else "Kennisgeving")
    # Every letter about the debt carries the debt's reference (letters/compose.py); the letter id tells them apart.
    assert l1["our_reference"] == debt["references"]["our_reference"] == f"SR-{case_id:06d}-{debt_id}"
    assert l1["status"]
    assert l1["letter_date"]
    [answer] = debt["answers"]
    assert answer["skn_answer"] == "Saldoverzoek antwoord"
    assert answer["in_answer_to"] == {"letter_id": letter_id, "letter_type": "L1", "our_reference": l1["our_reference"]}
    assert answer["klantnummer_se"] == "KL-778899"
    assert answer["factuurnummer_se"] == "FAC-2026-0042"
    assert answer["balance"] == {
        "principal_cents": 45_000,
        "interest_cents": 1_250,
        "costs_cents": None,
        "total_cents": 46_250,
        "peildatum": peildatum,
    }
    assert answer["geen_medewerking"] is None
    assert answer["superseded"] is False
    assert debt["references"]["klantnummer_se"] == "KL-778899"
    assert debt["references"]["factuurnummer_se"] == "FAC-2026-0042"

    [row] = demo_world.audit(AUDIT_ACTION)
    assert (row.object_type, row.object_id, row.case_id, row.result) == ("case", str(case_id), case_id, "ok")
    assert row.details["debt_ids"] == debt_ids


def test_geen_medewerking_is_exported_with_its_skn_reason_and_other_without(demo_world: DemoWorld) -> None:
    case_id = demo_world.case_id("Demir")
    debt_id, letter_id = _debt_with_letter(demo_world, case_id)
    _enter(demo_world, debt_id, letter_id=letter_id, no_cooperation="final_discharge")
    _enter(demo_world, debt_id, no_cooperation="other", no_cooperation_note="Dossier gesloten")

    document = demo_world.http.get(_path(case_id), headers=demo_world.token(COUNSELLOR)).get_json()

    debt = next(d for d in document["debts"] if d["debt_id"] == debt_id)
    first, second = debt["answers"]
    assert first["skn_answer"] == second["skn_answer"] == "Geen medewerking"
    assert first["superseded"] is True
    assert second["superseded"] is False
    assert first["geen_medewerking"]["reason"] == "final_discharge"
    assert first["geen_medewerking"]["skn_reason_code"] == "recent_finale_kwijting"
    assert second["in_answer_to"] is None
    assert second["geen_medewerking"] == {
        "reason": "other",
        "label": "Andere reden",
        "skn_reason_code": None,
        "skn_reason": None,
        "note": "Dossier gesloten",
    }


def test_out_of_scope_is_not_found_and_logged_as_denied(demo_world: DemoWorld) -> None:
    case_id = demo_world.case_id("Demir")  # PI Zwolle: Lelystad's casemanager does not see it

    response = demo_world.http.get(_path(case_id), headers=demo_world.token("pi.lelystad.demo"))
    absent = demo_world.http.get(_path(987_654), headers=demo_world.token(COUNSELLOR))

    assert response.status_code == 404
    assert response.get_json()["status"] == 404
    assert absent.status_code == 404
    assert demo_world.audit(AUDIT_ACTION) == []
    denied = demo_world.audit("authz_denied")
    assert [(r.object_type, r.object_id) for r in denied] == [("case", str(case_id)), ("case", "987654")]


def test_whoever_reads_the_case_may_export_it(demo_world: DemoWorld) -> None:
    case_id = demo_world.case_id("Demir")
    for username in ("pi.demo", "vrijwilliger.demo", COUNSELLOR):
        response = demo_world.http.get(_path(case_id), headers=demo_world.token(username))
        detail = demo_world.http.get(f"/api/v1/cases/{case_id}", headers=demo_world.token(username))
        assert response.status_code == detail.status_code == 200, username


def test_the_case_page_offers_the_same_document_as_a_download(demo_world: DemoWorld) -> None:
    case_id = demo_world.case_id("Demir")
    page = demo_world.client(COUNSELLOR)

    html = page.get(f"/dossiers/{case_id}").get_data(as_text=True)
    download = page.get(f"/dossiers/{case_id}/schuldenknooppunt.json")
    other = demo_world.client("pi.lelystad.demo").get(f"/dossiers/{case_id}/schuldenknooppunt.json")

    assert f"/dossiers/{case_id}/schuldenknooppunt.json" in html
    assert "Schuldenknooppunt-export (JSON)" in html
    assert download.status_code == 200
    assert download.mimetype == "application/json"
    assert download.headers["Content-Disposition"] == f'attachment; filename="schuldenknooppunt-SR-{case_id:06d}.json"'
    document = json.loads(download.get_data(as_text=True))
    assert document["case"]["id"] == case_id
    assert KnooppuntExport().validate(document) == {}
    assert other.status_code == 404
    [row] = demo_world.audit(AUDIT_ACTION)
    assert row.actor_id == demo_world.audit("case.read")[-1].actor_id  # the counsellor who opened the page


def test_the_command_line_writes_the_export(
    committed_url: str, committed: sessionmaker[Session], tmp_path: Path
) -> None:
    env = {"DATABASE_URL": committed_url, "SCHULDROUTE_ENV": "test", "LOG_LEVEL": "WARNING", "REDIS_URL": ""}
    runner = CliRunner()
    seeded = runner.invoke(main, ["seed-demo"], env=env, catch_exceptions=False)
    assert seeded.exit_code == 0, seeded.output
    with committed() as s:
        case_id = s.scalar(select(Case.id).join(Detainee).where(Detainee.surname == "Demir"))
    assert case_id is not None
    output = tmp_path / "export.json"

    result = runner.invoke(
        main, ["cases", "knooppunt-export", "--case", str(case_id), "--output", str(output)], env=env
    )
    missing = runner.invoke(main, ["cases", "knooppunt-export", "--case", "987654"], env=env)

    assert result.exit_code == 0, result.output
    document = json.loads(output.read_text(encoding="utf-8"))
    assert document["case"]["id"] == case_id
    assert document["debts"]
    assert all(d["messages"] for d in document["debts"][:2])
    assert missing.exit_code != 0
    assert "geen dossier met id 987654" in missing.output
    with committed() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.action == AUDIT_ACTION)).all()
        assert [(r.actor_id, r.case_id) for r in rows] == [("system", case_id)]
