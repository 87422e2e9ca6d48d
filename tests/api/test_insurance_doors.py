"""The health insurance and the benefits through both doors (issue 12, item 2): PUT/GET /api/v1/cases/{id}/insurance
and the case page's form "Zorgverzekering en uitkeringen" call one operation, with its letters and audit rows."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from schulden.audit import AuditEntry
from schulden.creditors.models import Creditor
from schulden.letters.models import Letter
from tests.demo_world import DemoWorld, csrf

# Recording the insurer asks for letters, whose render jobs need committed data.
pytestmark = pytest.mark.usefixtures("committed")


def _insurer(world: DemoWorld) -> int:
    with world.db() as s:
        found = s.scalar(select(Creditor.id).where(Creditor.name == "Zorg en Zekerheid"))
        assert found is not None
        return found


def test_the_api_records_the_insurer_and_asks_for_l6_and_l7(demo_world: DemoWorld) -> None:
    counsellor = demo_world.token("schuldhulp.demo")
    vries = demo_world.case_id("Vries")  # referred: the consent to report changes is in force

    put = demo_world.http.put(
        f"/api/v1/cases/{vries}/insurance",
        json={"health_insurer_id": _insurer(demo_world), "health_policy_number": "ZZ-1", "benefits": ["ww"]},
        headers=counsellor,
    )
    got = demo_world.http.get(f"/api/v1/cases/{vries}/insurance", headers=counsellor)

    assert put.status_code == 200, put.json
    assert len(put.json["letters"]) == 2  # L6 to the insurer, L7 to UWV
    assert got.json["health_insurer"]["name"] == "Zorg en Zekerheid"
    assert (got.json["health_policy_number"], got.json["benefits"]) == ("ZZ-1", ["ww"])
    with demo_world.db() as s:
        types = sorted(s.scalars(select(Letter.letter_type).where(Letter.id.in_(put.json["letters"]))))
        assert types == ["L6", "L7"]
        actions = set(s.scalars(select(AuditEntry.action).where(AuditEntry.case_id == vries)))
        assert {"case.insurance.update", "insurance.read"} <= actions


def test_bad_input_is_a_problem_naming_the_field_and_stores_nothing(demo_world: DemoWorld) -> None:
    counsellor = demo_world.token("schuldhulp.demo")
    vries = demo_world.case_id("Vries")

    bad = demo_world.http.put(
        f"/api/v1/cases/{vries}/insurance", json={"benefits": ["loterij"], "health_policy_number": "x" * 41},
        headers=counsellor,
    )  # fmt: skip
    not_an_insurer = demo_world.http.put(
        f"/api/v1/cases/{vries}/insurance", json={"health_insurer_id": 987_654}, headers=counsellor
    )

    assert bad.status_code == 422
    assert bad.headers["Content-Type"].startswith("application/problem+json")
    assert "benefits" in str(bad.json)
    assert "health_policy_number" in str(bad.json)
    assert not_an_insurer.status_code == 422
    assert "health_insurer_id" in str(not_an_insurer.json)
    got = demo_world.http.get(f"/api/v1/cases/{vries}/insurance", headers=counsellor)
    assert got.json["health_insurer"] is None


def test_the_case_page_form_records_the_same(demo_world: DemoWorld) -> None:
    client = demo_world.client("pi.demo")
    vries = demo_world.case_id("Vries")
    path = f"/dossiers/{vries}/verzekering"
    page = client.get(path)
    assert page.status_code == 200
    assert "Zorgverzekering en uitkeringen" in page.get_data(as_text=True)

    saved = client.post(
        path,
        data={
            "csrf_token": csrf(client, path),
            "health_insurer_id": str(_insurer(demo_world)),
            "health_policy_number": "ZZ-2",
            "benefit.huurtoeslag": "on",
        },
    )
    refused = client.post(path, data={"csrf_token": csrf(client, path), "health_insurer_id": "²"})

    assert saved.status_code == 303, saved.get_data(as_text=True)[:1500]
    assert refused.status_code == 422
    assert "Zorgverzekeraar" in refused.get_data(as_text=True)
    with demo_world.db() as s:
        assert s.scalars(select(Letter.letter_type).where(Letter.case_id == vries, Letter.letter_type == "L6")).all()
