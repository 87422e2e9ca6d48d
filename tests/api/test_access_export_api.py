"""The detainee's access overview through the API (issue 15): GET /api/v1/cases/{id}/access-export (JSON) and
/access-export.pdf for the PI staff and counsellors of the case, 403 problem answers for the other roles, 404 out of
scope, every export in the audit log with its format. On the fast demo world (SQLite and PostgreSQL)."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from schulden.api.access_export import AccessExportOut
from schulden.cases.access_export import AUDIT_ACTION, EXPORT_FORMAT, EXPORT_VERSION
from tests.demo_world import DemoWorld


def _path(case_id: int, pdf: bool = False) -> str:
    return f"/api/v1/cases/{case_id}/access-export{'.pdf' if pdf else ''}"


def test_a_counsellor_gets_the_json_with_the_documented_keys(demo_world: DemoWorld) -> None:
    case_id = demo_world.case_id("Demir")

    response = demo_world.http.get(_path(case_id), headers=demo_world.token("schuldhulp.demo"))

    assert response.status_code == 200, response.get_json()
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    document = response.get_json()
    assert AccessExportOut().validate(document) == {}  # every key documented, none missing from the schema
    assert document["format"] == EXPORT_FORMAT
    assert document["version"] == EXPORT_VERSION
    assert document["case"]["id"] == case_id
    assert document["person"]["bsn"] == "000009842"  # his own, unmasked
    assert document["made_by"]["role"] == "counsellor"
    assert document["debts"]
    assert {x["letter_type"] for x in document["letters"]} >= {"L1", "L6", "L7"}
    [row] = demo_world.audit(AUDIT_ACTION)
    assert (row.case_id, row.details) == (case_id, {"format": "json"})


def test_pi_staff_get_the_pdf(demo_world: DemoWorld) -> None:
    case_id = demo_world.case_id("Demir")

    response = demo_world.http.get(_path(case_id, pdf=True), headers=demo_world.token("pi.demo"))

    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == f'attachment; filename="inzageoverzicht-SR-{case_id:06d}.pdf"'
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)
    assert "Wie bent u" in text
    assert "Demir" in text
    [row] = demo_world.audit(AUDIT_ACTION)
    assert row.details == {"format": "pdf"}


@pytest.mark.parametrize("username", ["vrijwilliger.demo", "partner.demo", "gemeente.demo"])
@pytest.mark.parametrize("pdf", [False, True])
def test_roles_that_read_the_case_but_may_not_export_get_403(demo_world: DemoWorld, username: str, pdf: bool) -> None:
    case_id = demo_world.case_id("Vries")  # referred to Zwolle, linked to the probation partner

    response = demo_world.http.get(_path(case_id, pdf), headers=demo_world.token(username))

    assert response.status_code == 403
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["status"] == 403
    assert "000009866" not in response.get_data(as_text=True)
    assert demo_world.audit(AUDIT_ACTION) == []
    assert demo_world.audit("authz_forbidden")


def test_out_of_scope_is_404_and_logged(demo_world: DemoWorld) -> None:
    case_id = demo_world.case_id("Demir")

    response = demo_world.http.get(_path(case_id), headers=demo_world.token("pi.lelystad.demo"))

    assert response.status_code == 404
    assert response.get_json() == {"type": "about:blank", "title": "Niet gevonden", "status": 404}
    [denied] = demo_world.audit("authz_denied")
    assert denied.object_id == str(case_id)
    assert demo_world.audit(AUDIT_ACTION) == []


def test_without_a_token_nothing(demo_world: DemoWorld) -> None:
    response = demo_world.http.get(_path(demo_world.case_id("Demir")))
    assert response.status_code == 401
