"""The intake wizard through the Flask test client, on the demo world (SQLite and PostgreSQL): each step validated by
the API's schemas with Dutch messages and what was typed kept, the case opened, the consent and the debts recorded
by the same services, volunteers refused the consent with the workflow's reason, and scope as in the API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from schulden.audit import AuditEntry
from schulden.cases.models import Case, Consent, Detainee
from schulden.creditors.models import Creditor
from schulden.debts.models import Debt
from tests.demo_world import DemoWorld, csrf
from workflows import WorkflowInstance


@pytest.fixture
def world(demo_world: DemoWorld) -> DemoWorld:
    return demo_world


def post(client: FlaskClient, path: str, data: dict[str, str]) -> TestResponse:
    return client.post(path, data={**data, "csrf_token": csrf(client, path)})


DETAINEE = {
    "detainee.given_names": "Fatima",
    "detainee.surname": "El Amrani",
    "detainee.date_of_birth": "1990-05-17",
    "detainee.bsn": "000009878",
    "detainee.dji_number": "DJI-0000201",
}


def _audit_actions(world: DemoWorld, case_id: int) -> list[str]:
    with world.db() as s:
        return list(s.scalars(select(AuditEntry.action).where(AuditEntry.case_id == case_id).order_by(AuditEntry.id)))


def test_the_wizard_validates_each_step_keeps_what_was_typed_and_opens_the_case(world: DemoWorld) -> None:
    client = world.client("pi.demo")
    page = client.get("/intake")
    assert page.status_code == 200
    assert 'aria-current="step"' in page.get_data(as_text=True)

    # Step 1, empty: a Dutch message per required field, linked from the summary.
    empty = post(client, "/intake", {"stap": "1"})
    assert empty.status_code == 422
    html = empty.get_data(as_text=True)
    assert "Controleer de invoer" in html
    assert html.count("Dit veld is verplicht.") >= 4  # summary and field, for both names
    assert html.count("Vul de geboortedatum in, bijvoorbeeld 2 11 1985.") >= 2  # the empty date names itself
    assert 'href="#veld-detainee-surname"' in html

    # A wrong BSN is refused by the API's field; the name typed stays.
    wrong = post(client, "/intake", {"stap": "1", **DETAINEE, "detainee.bsn": "123456789"})
    assert wrong.status_code == 422
    assert 'value="El Amrani"' in wrong.get_data(as_text=True)
    assert 'aria-invalid="true"' in wrong.get_data(as_text=True)

    # Step 1 valid: step 2, with step 1 carried in hidden fields (a POST body, not the cookie).
    step2 = post(client, "/intake", {"stap": "1", **DETAINEE})
    assert step2.status_code == 200
    html = step2.get_data(as_text=True)
    assert "Stap 2: de detentie" in html
    assert 'type="hidden" name="detainee.bsn" value="000009878"' in html
    assert "000009878" not in str(client.get_cookie("schuldroute").value)  # type: ignore[union-attr]

    # Step 2 invalid: the detention errors, and the detainee still carried along.
    bad = post(
        client, "/intake", {"stap": "2", **DETAINEE, "detention.type": "pre_trial", "detention.start": "2026-02-30"}
    )
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert "Geen geldige datum" in html
    assert 'name="detainee.surname" value="El Amrani"' in html
    assert 'value="pre_trial" selected' in html

    # A service rule (release before the start) comes back on its field too.
    start = (world.today - timedelta(days=10)).isoformat()
    rule = post(
        client,
        "/intake",
        {
            "stap": "2",
            **DETAINEE,
            "detention.type": "prison_sentence",
            "detention.start": start,
            "detention.expected_release": (world.today - timedelta(days=20)).isoformat(),
        },
    )
    assert rule.status_code == 422
    assert "De verwachte vrijlating ligt voor het begin van de detentie." in rule.get_data(as_text=True)

    # Going back keeps everything.
    back = post(client, "/intake", {"stap": "2", **DETAINEE, "detention.type": "prison_sentence", "terug": "1"})
    assert 'value="Fatima"' in back.get_data(as_text=True)
    assert 'name="detention.type" value="prison_sentence"' in back.get_data(as_text=True)

    release = (world.today + timedelta(weeks=20)).isoformat()
    typed = {
        **DETAINEE,
        "detention.type": "prison_sentence",
        "detention.start": start,
        "detention.expected_release": release,
    }
    # Step 2 leads to the check page: everything typed, each with "Wijzigen"; nothing is stored yet.
    check = post(client, "/intake", {"stap": "2", **typed})
    assert check.status_code == 200
    page = check.get_data(as_text=True)
    assert "Controleer de gegevens voordat u het dossier opent" in page
    assert "Gevangenisstraf" in page
    assert "El Amrani" in page
    assert page.count(">Wijzigen<") >= 10
    with world.db() as s:
        assert s.scalar(select(Detainee.id).where(Detainee.surname == "El Amrani")) is None
    # "Wijzigen" goes back to its step with everything kept.
    change = post(client, "/intake", {"stap": "controleren", **typed, "wijzig": "2"})
    assert 'name="detention.type" value="prison_sentence"' in change.get_data(as_text=True) or (
        '<option value="prison_sentence" selected>' in change.get_data(as_text=True)
    )
    opened = post(client, "/intake", {"stap": "controleren", **typed})
    assert opened.status_code == 303, opened.get_data(as_text=True)[:2000]
    case_id = int(opened.headers["Location"].split("/")[-2])
    with world.db() as s:
        case = s.get_one(Case, case_id)
        detainee = s.get_one(Detainee, case.detainee_id)
        assert (detainee.surname, detainee.bsn, case.detention_start.isoformat()) == ("El Amrani", "000009878", start)
        assert s.get_one(WorkflowInstance, case.instance_id).state == "draft"
    assert "case.create" in _audit_actions(world, case_id)

    # Step 3: the consent, as POST /consents; none chosen is a Dutch error, all chosen moves the case on.
    consent_page = client.get(f"/intake/{case_id}/toestemming")
    assert consent_page.status_code == 200
    none = post(
        client, f"/intake/{case_id}/toestemming", {"signed_on": world.today.isoformat(), "valid_until": release}
    )
    assert none.status_code == 422
    assert "Kies 1 tot 20 doelen." in none.get_data(as_text=True)
    consent = {
        "purpose.contact_creditors": "on",
        "purpose.refer_municipality": "on",
        "signed_on": world.today.isoformat(),
        "valid_until": release,
        "witness": "Casemanager",
    }
    # No municipality is known for this case yet: a referral consent must name one (domain.md 6.3), so the form
    # does not offer it, and a box posted anyway records nothing for it.
    assert "purpose.refer_municipality" not in consent_page.get_data(as_text=True)
    signed = post(client, f"/intake/{case_id}/toestemming", consent)
    assert signed.status_code == 303, signed.get_data(as_text=True)[:2000]
    assert signed.headers["Location"].endswith(f"/intake/{case_id}/schulden")
    with world.db() as s:
        purposes = sorted(s.scalars(select(Consent.purpose).where(Consent.case_id == case_id)))
        assert purposes == ["contact_creditors"]
        assert s.get_one(WorkflowInstance, s.get_one(Case, case_id).instance_id).state == "inventory"

    # Step 4: debts, amounts in euro as typed; a bad amount keeps the form.
    with world.db() as s:
        cjib = s.scalar(select(Creditor.id).where(Creditor.name.like("%CJIB%")))
    bad_amount = post(
        client,
        f"/intake/{case_id}/schulden",
        {"creditor_id": str(cjib), "debt_type": "cjib_boete", "principal_cents": "twaalf"},
    )
    assert bad_amount.status_code == 422
    assert "Vul een bedrag in euro in" in bad_amount.get_data(as_text=True)
    assert 'value="twaalf"' in bad_amount.get_data(as_text=True)
    no_type = post(client, f"/intake/{case_id}/schulden", {"creditor_id": str(cjib)})
    assert no_type.status_code == 422
    added = post(
        client,
        f"/intake/{case_id}/schulden",
        {
            "creditor_id": str(cjib),
            "debt_type": "cjib_boete",
            "principal_cents": "1.234,50",
            "creditor_reference": "B-1",
        },
    )
    assert added.status_code == 303, added.get_data(as_text=True)[:2000]
    listed = client.get(f"/intake/{case_id}/schulden").get_data(as_text=True)
    assert "€\xa01.234,50" in listed
    with world.db() as s:
        [debt] = s.scalars(select(Debt).where(Debt.case_id == case_id)).all()
        assert (debt.principal_cents, debt.category, debt.creditor_reference) == (123_450, "publiek", "B-1")
    assert {"consent.create", "debt.create", "debt.list", "case.read"} <= set(_audit_actions(world, case_id))


def test_a_volunteer_gets_no_bsn_field_and_sees_why_the_consent_is_not_theirs(world: DemoWorld) -> None:
    client = world.client("vrijwilliger.demo")
    html = client.get("/intake").get_data(as_text=True)
    assert "detainee.bsn" not in html
    refused = post(client, "/intake", {"stap": "1", **DETAINEE})
    assert refused.status_code == 422
    assert "Een vrijwilliger legt geen BSN vast" in refused.get_data(as_text=True)
    data = {k: v for k, v in DETAINEE.items() if k != "detainee.bsn"}
    opened = post(
        client,
        "/intake",
        {"stap": "controleren", **data, "detention.type": "pre_trial", "detention.start": world.today.isoformat()},
    )
    assert opened.status_code == 303, opened.get_data(as_text=True)[:2000]
    case_id = int(opened.headers["Location"].split("/")[-2])
    page = client.get(f"/intake/{case_id}/toestemming")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Getekende toestemming vastleggen: Uw rol mag deze actie niet uitvoeren." in html
    assert "Toestemming vastleggen</button>" not in html
    assert post(client, f"/intake/{case_id}/toestemming", {"purpose.contact_creditors": "on"}).status_code == 403
    # Volunteers do record the known debts.
    assert client.get(f"/intake/{case_id}/schulden").status_code == 200


def test_another_pi_gets_404_and_an_audit_row_and_other_roles_no_wizard(world: DemoWorld) -> None:
    with world.db() as s:
        case_id = s.scalar(select(Case.id).join(Detainee).where(Detainee.surname == "IJsselstein"))
    other = world.client("pi.lelystad.demo")
    for path in (f"/intake/{case_id}/toestemming", f"/intake/{case_id}/schulden"):
        response = other.get(path)
        assert response.status_code == 404
        assert "Niet gevonden" in response.get_data(as_text=True)
    with world.db() as s:
        denied = s.scalars(select(AuditEntry).where(AuditEntry.action == "authz_denied")).all()
        assert [(d.object_type, d.object_id) for d in denied][-2:] == [("case", str(case_id)), ("case", str(case_id))]
    assert world.client("schuldhulp.demo").get("/intake").status_code == 403
    assert world.client("gemeente.demo").get("/intake").status_code == 403
