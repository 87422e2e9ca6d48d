"""Beheer > Organisaties (issue 14 item 5): an administrator adds a debt counselling team and a PI in the browser,
with the CLI's and the API's rules and their Dutch messages per field; nobody else reaches the pages."""

from __future__ import annotations

from sqlalchemy import select

from schulden.audit import AuditEntry
from schulden.organisations.models import Organisation, OrganisationKind
from tests.demo_world import DemoWorld, csrf

INDEX = "/beheer/organisaties"
ADD_TEAM = f"{INDEX}/schuldhulpteam-toevoegen"
ADD_PI = f"{INDEX}/pi-toevoegen"


def test_the_page_lists_the_teams_and_each_pi_with_its_team(demo_world: DemoWorld) -> None:
    admin = demo_world.client("admin.demo")
    page = admin.get(INDEX).get_data(as_text=True)
    assert '<caption class="utrecht-table__caption">Schuldhulpteams</caption>' in page
    assert "Schuldroute (demo)" in page
    for pi in ("PI Zwolle", "PI Lelystad", "PI Almelo"):
        assert f'<td class="utrecht-table__cell">{pi}</td>' in page, pi
    assert page.count('<td class="utrecht-table__cell">Schuldroute (demo) (SR)</td>') == 3
    assert ">Kampen<" not in page  # municipalities have their own page
    assert f'href="{ADD_TEAM}">Schuldhulpteam toevoegen</a>' in page
    assert f'href="{ADD_PI}">PI toevoegen</a>' in page
    # The Beheer menu leads here from every Beheer page, marked as the current page here.
    assert f'<a class="utrecht-link" href="{INDEX}" aria-current="page">Organisaties</a>' in page
    assert f'<a class="utrecht-link" href="{INDEX}">Organisaties</a>' in admin.get("/beheer").get_data(as_text=True)


def test_an_administrator_adds_a_team_and_then_its_pi(demo_world: DemoWorld) -> None:
    admin = demo_world.client("admin.demo")
    saved = admin.post(ADD_TEAM, data={"csrf_token": csrf(admin, ADD_TEAM), "name": "Schuldhulpteam Oost",
                                       "code": "sht-oost", "email": "oost@schuldhulp.example"})  # fmt: skip
    assert saved.status_code == 303
    assert saved.headers["Location"].endswith(INDEX)
    form = admin.get(ADD_PI).get_data(as_text=True)
    assert '<option value="SHT-OOST">Schuldhulpteam Oost (SHT-OOST)</option>' in form
    saved = admin.post(ADD_PI, data={"csrf_token": csrf(admin, ADD_PI), "name": "PI Arnhem", "code": "PI-ARNHEM",
                                     "team": "SHT-OOST", "address_line": "Postbus 9000", "postcode": "6800aa",
                                     "city": "Arnhem", "email": ""})  # fmt: skip
    assert saved.status_code == 303
    page = admin.get(INDEX).get_data(as_text=True)
    assert "PI Arnhem is toegevoegd." in page
    assert '<td class="utrecht-table__cell">Schuldhulpteam Oost (SHT-OOST)</td>' in page
    assert '<td class="utrecht-table__cell">Postbus 9000, 6800 AA Arnhem</td>' in page
    with demo_world.db() as s:
        team = s.scalars(select(Organisation).where(Organisation.code == "SHT-OOST")).one()
        pi = s.scalars(select(Organisation).where(Organisation.code == "PI-ARNHEM")).one()
        assert (team.kind, team.email) == (OrganisationKind.OPERATOR.value, "oost@schuldhulp.example")
        assert (pi.kind, pi.counselling_team_id, pi.email) == (OrganisationKind.PI.value, team.id, None)
        created = set(s.scalars(select(AuditEntry.object_id).where(AuditEntry.action == "organisation.create")))
    assert created == {str(team.id), str(pi.id)}


def test_errors_are_shown_in_dutch_with_what_was_typed(demo_world: DemoWorld) -> None:
    admin = demo_world.client("admin.demo")
    refused = admin.post(ADD_TEAM, data={"csrf_token": csrf(admin, ADD_TEAM), "name": "", "code": "pi-zwolle",
                                         "email": "geen-adres"})  # fmt: skip
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "<title>Fout: Schuldhulpteam toevoegen" in page
    assert "Controleer de invoer" in page
    for shown in ('href="#veld-name"', 'href="#veld-email"', 'value="geen-adres"', 'value="pi-zwolle"'):
        assert shown in page, shown

    # The schema passes; the service refuses the code that is taken and the team that does not exist.
    refused = admin.post(ADD_PI, data={"csrf_token": csrf(admin, ADD_PI), "name": "PI Nieuw", "code": "pi-zwolle",
                                       "team": "GEEN-TEAM", "city": "Ergens"})  # fmt: skip
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "De code PI-ZWOLLE is al in gebruik (PI Zwolle)." in page
    assert "Er is geen schuldhulpteam met code GEEN-TEAM; maak het team eerst aan." in page
    for shown in ('href="#veld-code"', 'href="#veld-team"', 'value="PI Nieuw"', 'value="Ergens"'):
        assert shown in page, shown

    refused = admin.post(ADD_PI, data={"csrf_token": csrf(admin, ADD_PI), "name": "PI Nieuw", "code": "PI NIEUW!",
                                       "team": "SR"})  # fmt: skip
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "Een code is 2 tot 16 tekens: hoofdletters, cijfers en streepjes" in page
    assert '<option value="SR" selected>' in page  # the chosen team stays chosen
    # The select left at "Kies een schuldhulpteam" sends nothing: said so, not as a length rule.
    refused = admin.post(ADD_PI, data={"csrf_token": csrf(admin, ADD_PI), "name": "PI Nieuw", "code": "PI-NIEUW",
                                       "team": ""})  # fmt: skip
    assert refused.status_code == 422
    assert "Kies het schuldhulpteam waarmee de PI werkt." in refused.get_data(as_text=True)
    with demo_world.db() as s:
        assert s.scalar(select(Organisation.id).where(Organisation.name == "PI Nieuw")) is None


def test_only_an_administrator_reaches_the_pages(demo_world: DemoWorld) -> None:
    for user in ("schuldhulp.demo", "gemeente.demo", "pi.demo"):
        client = demo_world.client(user)
        for path in (INDEX, ADD_TEAM, ADD_PI):
            assert client.get(path).status_code == 403, (user, path)
        refused = client.post(ADD_TEAM, data={"csrf_token": csrf(client, "/"), "name": "Team", "code": "T-X"})
        assert refused.status_code == 403, user
        assert f'href="{INDEX}"' not in client.get("/").get_data(as_text=True)
    anonymous = demo_world.app.test_client().get(INDEX)
    assert anonymous.status_code in (302, 303)
    assert "/aanmelden" in anonymous.headers["Location"]
    with demo_world.db() as s:
        assert s.scalar(select(Organisation.id).where(Organisation.code == "T-X")) is None
