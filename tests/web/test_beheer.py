"""Beheer through the Flask test client on the demo world: users, creditors and letter templates (admins only)."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from schulden.audit import AuditEntry
from schulden.creditors.models import Creditor
from schulden.organisations.models import Organisation
from schulden.users.models import User
from tests.demo_world import DemoWorld, seed_committed

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
#: The names tests/web/test_letter_texts.py imports from here.
World = DemoWorld


def csrf(client: FlaskClient, path: str = "/aanmelden") -> str:
    match = CSRF.search(client.get(path, follow_redirects=True).get_data(as_text=True))
    assert match, f"no CSRF field on {path}"
    return match.group(1)


@pytest.fixture
def world(demo_world: DemoWorld) -> DemoWorld:
    return demo_world


def demo_world(committed_url: str) -> DemoWorld:
    """The demo committed on `committed_url` (for tests/web/test_letter_texts.py; not the `demo_world` fixture)."""
    return seed_committed(committed_url)


def text(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def test_only_administrators_reach_beheer(world: DemoWorld) -> None:
    assert world.app.test_client().get("/beheer").status_code == 302  # to the login page
    pi = world.client("pi.demo")
    for path in ("/beheer", "/beheer/gebruikers", "/beheer/schuldeisers", "/beheer/sjablonen", "/beheer/sjablonen/L1"):
        assert pi.get(path).status_code == 403, path
    assert "/beheer" not in text(pi.get("/"))  # no menu item either
    admin = world.client("admin.demo")
    page = text(admin.get("/beheer"))
    assert '<a class="utrecht-nav-list__link" href="/beheer" aria-current="page">Beheer</a>' in page
    with world.db() as s:
        active = len(s.scalars(select(User.id).where(User.active)).all())
    assert f"{active} actieve accounts" in page


def test_create_user_keeps_input_and_shows_dutch_errors(world: DemoWorld) -> None:
    admin = world.client("admin.demo")
    token = csrf(admin, "/beheer/gebruikers")
    response = admin.post(
        "/beheer/gebruikers",
        data={"csrf_token": token, "username": "Fout Naam", "display_name": "Nieuwe Collega", "role": "pi_staff"},
    )
    assert response.status_code == 422
    page = text(response)
    assert "Kies een gebruikersnaam van 2 tot 64 tekens" in page
    assert "Een medewerker of vrijwilliger van een PI hoort bij een PI: kies de PI." in page
    assert 'value="Nieuwe Collega"' in page
    assert 'aria-invalid="true"' in page

    # Without a role, the other fields are checked all the same: every problem in one answer.
    response = admin.post("/beheer/gebruikers", data={"csrf_token": token, "username": "x", "display_name": " "})
    assert response.status_code == 422
    page = text(response)
    assert "Kies een rol." in page
    assert "Kies een gebruikersnaam van 2 tot 64 tekens" in page
    assert "Vul de naam van de gebruiker in." in page
    with world.db() as s:
        assert s.scalar(select(User.id).where(User.username == "x")) is None

    with world.db() as s:
        pi_id = s.scalar(select(Organisation.id).where(Organisation.code == "PI-ZWOLLE"))
    response = admin.post(
        "/beheer/gebruikers",
        data={
            "csrf_token": token,
            "username": "nieuwe.collega",
            "display_name": "Nieuwe Collega",
            "role": "pi_staff",
            "organisation": str(pi_id),
            "password": "een-lang-wachtwoord",
        },
    )
    assert response.status_code == 303
    assert "Gebruiker nieuwe.collega is aangemaakt." in text(admin.get(response.headers["Location"]))
    with world.db() as s:
        user = s.scalar(select(User).where(User.username == "nieuwe.collega"))
        assert user is not None
        assert user.organisation_id == pi_id
        assert user.role == "pi_staff"
        assert s.scalar(select(AuditEntry.id).where(AuditEntry.action == "user.create")) is not None


def test_disabling_a_user_ends_their_session_at_once(world: DemoWorld) -> None:
    pi = world.client("pi.demo")
    assert pi.get("/").status_code == 200
    admin = world.client("admin.demo")
    with world.db() as s:
        pi_id = s.scalar(select(User.id).where(User.username == "pi.demo"))
        admin_id = s.scalar(select(User.id).where(User.username == "admin.demo"))
    token = csrf(admin, "/beheer/gebruikers")
    # Without confirm=1 the post only shows the check page; nothing happens yet.
    response = admin.post(f"/beheer/gebruikers/{pi_id}/uitschakelen", data={"csrf_token": token})
    assert response.status_code == 200
    assert "Controleer: gebruiker uitschakelen" in text(response)
    assert pi.get("/").status_code == 200
    response = admin.post(f"/beheer/gebruikers/{pi_id}/uitschakelen", data={"csrf_token": token, "confirm": "1"})
    assert response.status_code == 303
    assert "sessies van dit account zijn beëindigd" in text(admin.get(response.headers["Location"]))
    # The disabled user's next request lands on the login page.
    response = pi.get("/")
    assert response.status_code == 302
    assert "/aanmelden" in response.headers["Location"]
    # An administrator cannot disable themselves.
    response = admin.post(f"/beheer/gebruikers/{admin_id}/uitschakelen", data={"csrf_token": token, "confirm": "1"})
    assert "U kunt uw eigen account niet uitschakelen." in text(admin.get(response.headers["Location"]))
    with world.db() as s:
        assert s.scalar(select(User.active).where(User.id == admin_id)) is True
        assert s.scalar(select(User.active).where(User.id == pi_id)) is False
        assert s.scalar(select(AuditEntry.id).where(AuditEntry.action == "user.disable")) is not None
    # No CSRF token: refused.
    assert admin.post(f"/beheer/gebruikers/{pi_id}/uitschakelen").status_code == 400


def test_creditor_search_and_edit_with_the_api_rules(world: DemoWorld) -> None:
    admin = world.client("admin.demo")
    page = text(admin.get("/beheer/schuldeisers?q=cjib"))
    assert "Centraal Justitieel Incassobureau (CJIB)" in page
    assert "Woonstichting" not in page
    assert admin.get("/beheer/schuldeisers?kind=onzin").status_code == 422

    with world.db() as s:
        landlord = s.scalar(select(Creditor).where(Creditor.name == "Woonstichting De Demo"))
        assert landlord is not None
        landlord_id, version = landlord.id, landlord.row_version
    url = f"/beheer/schuldeisers/{landlord_id}"
    form = {
        "csrf_token": csrf(admin, url),
        "row_version": str(version),
        "name": "Woonstichting De Demo",
        "kind": "landlord",
        "category": "overig",
        "takes_email": "on",
        "email": "",
        "address_line": "Postbus 99",
        "postcode": "8000 AB",
        "city": "Zwolle",
    }
    response = admin.post(url, data=form)
    assert response.status_code == 422
    page = text(response)
    assert "Vul een e-mailadres in" in page
    assert 'value="Postbus 99"' in page

    response = admin.post(url, data=form | {"email": "post@woonstichting.example"})
    assert response.status_code == 303
    with world.db() as s:
        saved = s.get(Creditor, landlord_id)
        assert saved is not None
        assert saved.address_line == "Postbus 99"
        assert saved.postcode == "8000 AB"
        assert s.scalar(select(AuditEntry.id).where(AuditEntry.action == "creditor.update")) is not None

    # A form based on the old version is not saved over the newer one.
    response = admin.post(url, data=form | {"city": "Kampen"})
    assert response.status_code == 409
    assert "Iemand anders heeft deze schuldeiser zojuist gewijzigd" in text(response)
    assert admin.get("/beheer/schuldeisers/999999").status_code == 404


def test_letter_templates_are_listed_with_their_text(world: DemoWorld) -> None:
    admin = world.client("admin.demo")
    page = text(admin.get("/beheer/sjablonen"))
    for n in range(1, 11):
        assert f'href="/beheer/sjablonen/L{n}"' in page
    page = text(admin.get("/beheer/sjablonen/L1"))
    assert "Melding detentie, verzoek om de incasso op te schorten en om een saldo-opgave" in page
    assert "{{ client_name }}" in page
    assert "bekijkt u" not in text(admin.get("/beheer"))  # the texts are changed here, not only read
    assert admin.get("/beheer/sjablonen/L99").status_code == 404
