"""Corrections keep the old value (issue 15 part 2, AVG art. 16; docs/privacy.md section 6.3), on SQLite and PostgreSQL:
changing a debt's amount or reference and a case's release date, postcode or DJI number writes one correction row
per field with the old and the new value as a person reads them; the audit rows name the fields, never a value; the
detainee's access overview lists the corrections (JSON and PDF); the name, date of birth and BSN can be corrected
through the API by his casemanager or counsellor; and the retention job erases the corrections with the case."""

from __future__ import annotations

import io
import json
import re
from datetime import date, timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from integrations.cases.access_pdf import render_access_pdf
from integrations.retention import run_retention
from schulden.actors import UserActor
from schulden.audit import AuditEntry
from schulden.cases.access_export import produce_access_export, to_document
from schulden.cases.models import Case, Detainee
from schulden.cases.services import CaseChanges, update_case
from schulden.corrections import Correction
from schulden.debts.models import Debt
from schulden.debts.services import change_debt
from schulden.roles import Role
from schulden.users.models import User
from tests.demo_world import DemoWorld
from tests.integration.test_retention import Trial, _traces, file_store, trial  # noqa: F401 (fixtures)

OLD_DJI = "DJI-OUD-4711"
NEW_DJI = "DJI-NIEUW-4712"


def _squash(text: str) -> str:
    """Text without whitespace: words may wrap anywhere in the PDF's lines."""
    return re.sub(r"\s+", "", text)


def _actor(session: Session, username: str) -> UserActor:
    user = session.scalars(select(User).where(User.username == username)).one()
    return UserActor(user.id, Role(user.role), user.organisation_id)


def _correct_demir(world: DemoWorld) -> tuple[int, int]:
    """Demir's case (inventory): her first debt's principal and reference, and the release date, postcode and DJI
    number of her case changed by the counsellor. The case and the debt."""
    case_id = world.case_id("Demir")
    rt = world.runtime
    with world.db() as s:
        counsellor = _actor(s, "schuldhulp.demo")
        case = s.get_one(Case, case_id)
        s.get_one(Detainee, case.detainee_id).dji_number = OLD_DJI
        case.intended_postcode = "8011 AA"
        s.flush()
        debt = s.scalars(select(Debt).where(Debt.case_id == case_id).order_by(Debt.id)).first()
        assert debt is not None
        debt.principal_cents, debt.creditor_reference = 123_456, "REF-OUD-1"
        s.flush()
        change_debt(s, rt.engine, debt, {"principal_cents": 98_765, "creditor_reference": "REF-NIEUW-2"},
                    actor=counsellor)  # fmt: skip
        release = (case.expected_release or world.today) + timedelta(days=30)
        update_case(
            s, rt.engine, case,
            CaseChanges(expected_release=release, intended_postcode="1012 AB", dji_number=NEW_DJI),
            actor=counsellor,
        )  # fmt: skip
        s.commit()
        return case_id, debt.id


def test_a_change_keeps_the_old_value_and_the_audit_log_holds_none(demo_world: DemoWorld) -> None:
    case_id, debt_id = _correct_demir(demo_world)
    with demo_world.db() as s:
        rows = {
            (c.object_type, c.field): c
            for c in s.scalars(select(Correction).where(Correction.case_id == case_id).order_by(Correction.id))
        }
        debt_rows = {f: c for (t, f), c in rows.items() if t == "debt"}
        assert set(debt_rows) == {"principal_cents", "creditor_reference"}
        assert debt_rows["principal_cents"].object_id == debt_id
        assert "1.234,56" in (debt_rows["principal_cents"].old_value or "")
        assert "987,65" in (debt_rows["principal_cents"].new_value or "")
        assert (debt_rows["creditor_reference"].old_value, debt_rows["creditor_reference"].new_value) == (
            "REF-OUD-1",
            "REF-NIEUW-2",
        )
        assert (rows["case", "intended_postcode"].old_value, rows["case", "intended_postcode"].new_value) == (
            "8011 AA",
            "1012 AB",
        )
        assert rows["case", "expected_release"].new_value  # "4 januari 2027": a date in words
        assert re.search(r"[a-z]+ \d{4}$", rows["case", "expected_release"].new_value or "")
        assert (rows["detainee", "dji_number"].old_value, rows["detainee", "dji_number"].new_value) == (
            OLD_DJI,
            NEW_DJI,
        )
        assert {c.actor_id for c in rows.values()} == {_actor(s, "schuldhulp.demo").actor_id}
        # The audit log (kept longer than the case) names the fields changed, never a value.
        details = json.dumps(
            [a.details for a in s.scalars(select(AuditEntry).where(AuditEntry.case_id == case_id))], ensure_ascii=False
        )
        for value in ("REF-OUD-1", "REF-NIEUW-2", "8011 AA", "1012 AB", OLD_DJI, NEW_DJI, "1.234,56", "987,65"):
            assert value not in details, value


def test_the_access_overview_lists_the_corrections(demo_world: DemoWorld) -> None:
    case_id, debt_id = _correct_demir(demo_world)
    with demo_world.db() as s:
        export = produce_access_export(
            s, demo_world.runtime.engine, _actor(s, "pi.demo"), case_id, fmt="json"
        )  # fmt: skip
        s.commit()
    document = to_document(export)
    found = {(c["object_type"], c["field"]): c for c in document["corrections"]}
    postcode = found["case", "intended_postcode"]
    assert (postcode["field_label"], postcode["old_value"], postcode["new_value"]) == (
        "Postcode na vrijlating",
        "8011 AA",
        "1012 AB",
    )
    assert postcode["by"]["role"] == "counsellor"
    assert postcode["by"]["organisation"]
    assert found["debt", "creditor_reference"]["object_id"] == debt_id
    assert found["detainee", "dji_number"]["old_value"] == OLD_DJI

    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(render_access_pdf(export))).pages)
    squashed = _squash(text)
    for words in ("Wat er is verbeterd", "bewaren wij ook wat er eerst stond", "8011 AA", "1012 AB", "REF-OUD-1",
                  OLD_DJI, "Veranderd door: Schuldhulpverlener"):  # fmt: skip
        assert _squash(words) in squashed, words


def test_the_name_date_of_birth_and_bsn_are_corrected_through_the_api(demo_world: DemoWorld) -> None:
    case_id = demo_world.case_id("Demir")
    api = f"/api/v1/cases/{case_id}/identity"
    headers = demo_world.token("pi.demo")
    etag = demo_world.http.get(f"/api/v1/cases/{case_id}", headers=headers).headers["ETag"]
    with demo_world.db() as s:
        detainee = s.get_one(Detainee, s.get_one(Case, case_id).detainee_id)
        old = (detainee.surname, detainee.date_of_birth, detainee.bsn)

    wrong = demo_world.http.patch(api, json={"bsn": "123456789"}, headers={**headers, "If-Match": etag})
    assert wrong.status_code == 422  # the 11-proef fails
    refused = demo_world.http.patch(api, json={"surname": "X"}, headers=demo_world.token("vrijwilliger.demo"))
    assert refused.status_code == 403

    body = {"surname": "Demir-Yilmaz", "date_of_birth": "1985-03-02", "bsn": "111222333"}
    response = demo_world.http.patch(api, json=body, headers={**headers, "If-Match": etag})
    assert response.status_code == 200, response.json
    assert response.headers["ETag"] != etag
    with demo_world.db() as s:
        detainee = s.get_one(Detainee, s.get_one(Case, case_id).detainee_id)
        assert (detainee.surname, detainee.date_of_birth, detainee.bsn) == (
            "Demir-Yilmaz",
            date(1985, 3, 2),
            "111222333",
        )
        rows = {
            c.field: c
            for c in s.scalars(
                select(Correction).where(Correction.case_id == case_id, Correction.object_type == "detainee")
            )
        }
        assert set(rows) == {"surname", "date_of_birth", "bsn"}
        assert (rows["surname"].old_value, rows["surname"].new_value) == (old[0], "Demir-Yilmaz")
        assert (rows["bsn"].old_value, rows["bsn"].new_value) == (old[2], "111222333")
        assert rows["date_of_birth"].new_value == "2 maart 1985"
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "case.identity")).one()
        assert audit.details == {"fields": ["surname", "date_of_birth", "bsn"]}
        assert "111222333" not in json.dumps(audit.details)


@pytest.mark.parametrize("file_store", ["folder"], indirect=False)
def test_the_retention_job_erases_the_corrections_with_the_case(trial: Trial) -> None:  # noqa: F811
    with trial.sessions() as s:
        counsellor = _actor(s, "schuldhulp.demo")
        for case_id in (trial.erased, trial.held):
            case = s.get_one(Case, case_id)
            s.get_one(Detainee, case.detainee_id).dji_number = f"{OLD_DJI}-{case_id}"
            s.flush()
            update_case(s, trial.rt.engine, case, CaseChanges(dji_number=f"{NEW_DJI}-{case_id}"), actor=counsellor)
        s.commit()
        assert s.scalar(select(func.count()).where(Correction.case_id == trial.erased)) == 1

    report = run_retention(trial.rt)
    assert report.cases[trial.erased]["corrections"] == 1
    with trial.sessions() as s:
        assert s.scalar(select(func.count()).where(Correction.case_id == trial.erased)) == 0
        # The held case loses nothing, its corrections neither.
        assert s.scalar(select(func.count()).where(Correction.case_id == trial.held)) == 1
    assert _traces(trial.sessions, (f"{OLD_DJI}-{trial.erased}", f"{NEW_DJI}-{trial.erased}")) == []
