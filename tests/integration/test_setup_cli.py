"""Setting up production without SQL: the operator creates teams and PIs, the municipalities' teams and their delivery
settings with `schuldroute` (docs/operations.md, "Setting up production without SQL")."""

from __future__ import annotations

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from schulden.actors import SYSTEM
from schulden.audit import AuditEntry
from schulden.cli import main
from schulden.organisations.models import Organisation, OrganisationKind
from schulden.referrals.models import MunicipalDelivery
from schulden.roles import Role
from schulden.users.models import User
from schulden.users.services import create_user

PASSWORD = "een lange zin als wachtwoord"
ZGW = [
    "--zaken-api-url", "https://zaken.kampen.example/api/v1",
    "--documenten-api-url", "https://documenten.kampen.example/api/v1",
    "--zgw-client-id", "schuldroute",
    "--zgw-secret-setting", "ZGW_SECRET_GM0166",
    "--zaaktype-url", "https://catalogi.kampen.example/api/v1/zaaktypen/1",
    "--statustype-url", "https://catalogi.kampen.example/api/v1/statustypen/1",
    "--roltype-url", "https://catalogi.kampen.example/api/v1/roltypen/1",
    "--informatieobjecttype-url", "https://catalogi.kampen.example/api/v1/informatieobjecttypen/1",
    "--bronorganisatie", "001234567",
]  # fmt: skip


def _run(args: list[str], database_url: str, input: str | None = None) -> Result:
    env = {"DATABASE_URL": database_url, "SCHULDROUTE_ENV": "test", "LOG_LEVEL": "WARNING", "REDIS_URL": ""}
    return CliRunner().invoke(main, args, env=env, input=input, catch_exceptions=False)


@pytest.fixture
def kampen(committed: sessionmaker[Session]) -> int:
    """A municipality as `reference load` leaves it, and an administrator and a counsellor-to-be's colleague."""
    with committed() as s:
        kampen = Organisation(kind=OrganisationKind.MUNICIPALITY.value, name="Kampen", code="GM0166")
        s.add(kampen)
        s.flush()
        for username, role in [("beheer", Role.ADMIN), ("niet.beheer", Role.MUNICIPALITY)]:
            create_user(s, actor=SYSTEM, username=username, display_name=username, role=role, password=PASSWORD,
                        organisation=kampen if role is Role.MUNICIPALITY else None)  # fmt: skip
        s.commit()
        return kampen.id


def _counts(committed: sessionmaker[Session]) -> tuple[int, int, int]:
    with committed() as s:
        return (
            int(s.scalar(select(func.count()).select_from(Organisation)) or 0),
            int(s.scalar(select(func.count()).select_from(AuditEntry)) or 0),
            int(s.scalar(select(func.count()).select_from(MunicipalDelivery)) or 0),
        )


# -- teams and PIs ----------------------------------------------------------------------------------------------------


def test_an_operator_sets_up_a_team_its_pi_and_their_users_without_sql(
    committed_url: str, committed: sessionmaker[Session]
) -> None:
    team = _run(["organisations", "create-team", "--name", "Schuldhulpteam Noord", "--code", "sht-noord",
                 "--email", "noord@example.org"], committed_url)  # fmt: skip
    pi = _run(["organisations", "create-pi", "--name", "PI Zwolle", "--code", "PI-ZWOLLE", "--team", "SHT-NOORD",
               "--address-line", "Postbus 10", "--postcode", "8017jn", "--city", "Zwolle"], committed_url)  # fmt: skip
    users = ["users", "create", "--password-stdin", "--display-name", "Medewerker"]
    staff = _run([*users, "--username", "casemanager", "--role", "pi_staff", "--organisation", "PI-ZWOLLE"],
                 committed_url, PASSWORD + "\n")  # fmt: skip
    counsellor = _run([*users, "--username", "hulpverlener", "--role", "counsellor", "--organisation", "SHT-NOORD"],
                      committed_url, PASSWORD + "\n")  # fmt: skip
    listed = _run(["organisations", "list", "--kind", "pi"], committed_url)

    for result in (team, pi, staff, counsellor, listed):
        assert result.exit_code == 0, result.output
    assert "team SHT-NOORD created" in team.output
    assert "PI PI-ZWOLLE created" in pi.output
    assert listed.output.split() == [listed.output.split()[0], "pi", "PI-ZWOLLE", "PI", "Zwolle", "team", "SHT-NOORD"]
    with committed() as s:
        noord = s.scalars(select(Organisation).where(Organisation.code == "SHT-NOORD")).one()
        zwolle = s.scalars(select(Organisation).where(Organisation.code == "PI-ZWOLLE")).one()
        assert (noord.kind, noord.name, noord.email) == ("operator", "Schuldhulpteam Noord", "noord@example.org")
        assert (zwolle.kind, zwolle.counselling_team_id) == ("pi", noord.id)
        assert (zwolle.address_line, zwolle.postcode, zwolle.city) == ("Postbus 10", "8017 JN", "Zwolle")
        accounts = {u.username: u.organisation_id for u in s.scalars(select(User))}
        assert accounts == {"casemanager": zwolle.id, "hulpverlener": noord.id}
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "organisation.create").order_by(AuditEntry.id))
        assert [(a.actor_id, a.object_id, a.details["kind"], a.details["code"]) for a in audit] == [
            ("system", str(noord.id), "operator", "SHT-NOORD"),
            ("system", str(zwolle.id), "pi", "PI-ZWOLLE"),
        ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create-team", "--code", "SHT"], "--name: Dit veld is verplicht."),
        (["create-team", "--name", "Team", "--code", "S"], "--code: Een code is 2 tot 16 tekens"),
        (["create-team", "--name", "Team", "--code", "SHT NOORD"], "--code: Een code is 2 tot 16 tekens"),
        (["create-team", "--name", "Team", "--code", "SHT", "--email", "geen-adres"],
         "--email: Geen geldig e-mailadres."),
        (["create-team", "--name", "123", "--code", "SHT"], "--name: Een naam bevat minstens één letter."),
        (["create-team", "--name", "Team", "--code", "GM0166"], "--code: De code GM0166 is al in gebruik (Kampen)."),
        (["create-pi", "--name", "PI Zwolle", "--code", "PI-ZWOLLE"], "--team: Dit veld is verplicht."),
        (["create-pi", "--name", "PI Zwolle", "--code", "PI-ZWOLLE", "--team", "SHT-ZUID"],
         "--team: Er is geen schuldhulpteam met code SHT-ZUID; maak het team eerst aan."),
        # A municipality is no counselling team.
        (["create-pi", "--name", "PI Zwolle", "--code", "PI-ZWOLLE", "--team", "GM0166"],
         "--team: Er is geen schuldhulpteam met code GM0166"),
        (["create-pi", "--name", "PI Zwolle", "--code", "PI-ZWOLLE", "--team", "SHT-NOORD", "--postcode", "8017"],
         "--postcode: Een postcode is 4 cijfers en 2 letters, bijvoorbeeld 1234 AB."),
        (["create-pi", "--name", "PI Zwolle", "--code", "SHT-NOORD", "--team", "SHT-NOORD"],
         "--code: De code SHT-NOORD is al in gebruik (Schuldhulpteam Noord)."),
    ],
)  # fmt: skip
def test_bad_input_names_the_option_and_the_rule_and_writes_nothing(
    committed_url: str, committed: sessionmaker[Session], kampen: int, args: list[str], message: str
) -> None:
    assert _run(["organisations", "create-team", "--name", "Schuldhulpteam Noord", "--code", "SHT-NOORD"],
                committed_url).exit_code == 0  # fmt: skip
    before = _counts(committed)

    result = _run(["organisations", *args], committed_url)

    assert result.exit_code == 1, result.output
    assert message in result.output
    assert _counts(committed) == before


def test_a_code_taken_by_the_same_kind_is_refused(committed_url: str, committed: sessionmaker[Session]) -> None:
    first = _run(["organisations", "create-team", "--name", "Noord", "--code", "SHT-NOORD"], committed_url)
    second = _run(["organisations", "create-team", "--name", "Noord bis", "--code", "sht-noord"], committed_url)

    assert first.exit_code == 0
    assert second.exit_code == 1
    assert "--code: De code SHT-NOORD is al in gebruik (Noord)." in second.output
    with committed() as s:
        assert s.scalar(select(func.count()).select_from(Organisation)) == 1


def test_every_missing_option_is_named_at_once(committed_url: str) -> None:
    result = _run(["organisations", "create-pi"], committed_url)

    assert result.exit_code == 1
    assert result.output.splitlines()[1:] == [
        "  --name: Dit veld is verplicht.",
        "  --code: Dit veld is verplicht.",
        "  --team: Dit veld is verplicht.",
    ]


# -- a municipality's team and delivery -------------------------------------------------------------------------------


def test_delivery_by_zgw_is_set_in_the_name_of_an_administrator(
    committed_url: str, committed: sessionmaker[Session], kampen: int
) -> None:
    result = _run(["municipalities", "delivery", "GM0166", "--admin", "beheer", "--channel", "zgw", *ZGW],
                  committed_url)  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "delivery of GM0166 Kampen: zgw" in result.output
    with committed() as s:
        row = s.get_one(MunicipalDelivery, kampen)
        assert (row.channel, row.zaken_api_url, row.zgw_secret_setting) == (
            "zgw", "https://zaken.kampen.example/api/v1", "ZGW_SECRET_GM0166"
        )  # fmt: skip
        admin_id = s.scalar(select(User.id).where(User.username == "beheer"))
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "municipality.delivery")).one()
        assert (audit.actor_id, audit.object_id, audit.details) == (f"user:{admin_id}", str(kampen), {"channel": "zgw"})


def test_options_left_out_keep_their_value_and_an_empty_one_clears_it(
    committed_url: str, committed: sessionmaker[Session], kampen: int
) -> None:
    zgw = _run(["municipalities", "delivery", "GM0166", "--admin", "beheer", "--channel", "zgw", *ZGW], committed_url)
    email = _run(["municipalities", "delivery", "gm0166", "--admin", "beheer", "--channel", "email",
                  "--district-team-email", "wijkteam@kampen.example"], committed_url)  # fmt: skip
    cleared = _run(["municipalities", "delivery", "GM0166", "--admin", "beheer", "--zaken-api-url", ""], committed_url)

    assert [r.exit_code for r in (zgw, email, cleared)] == [0, 0, 0], email.output + cleared.output
    with committed() as s:
        row = s.get_one(MunicipalDelivery, kampen)
        assert (row.channel, row.district_team_email, row.zaken_api_url, row.zgw_client_id) == (
            "email", "wijkteam@kampen.example", None, "schuldroute"
        )  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["GM0166", "--channel", "email"], "--admin: verplicht"),
        (["GM0166", "--admin", "niet.beheer", "--channel", "email"],
         "--admin: geen actieve beheerder met gebruikersnaam 'niet.beheer'."),
        (["GM9999", "--admin", "beheer", "--channel", "email"], "CODE: geen gemeente met CBS-code 'GM9999'"),
        (["GM0166", "--admin", "beheer", "--channel", "fax"], "--channel: Kies een van: email, zgw."),
        (["GM0166", "--admin", "beheer", "--channel", "zgw", "--zaken-api-url", "https://zaken.example"],
         "  --zgw-client-id: Verplicht bij aflevering via het zaaksysteem (ZGW)."),
        (["GM0166", "--admin", "beheer", "--channel", "zgw", *ZGW, "--zgw-secret-setting", "geheim123"],
         "--zgw-secret-setting: De naam van een omgevingsvariabele die met ZGW_SECRET_ begint"),
        (["GM0166", "--admin", "beheer", "--channel", "zgw", *ZGW, "--bronorganisatie", "12"],
         "--bronorganisatie: Het RSIN heeft 9 cijfers."),
    ],
)  # fmt: skip
def test_bad_delivery_settings_are_refused_and_nothing_is_written(
    committed_url: str, committed: sessionmaker[Session], kampen: int, args: list[str], message: str
) -> None:
    before = _counts(committed)

    result = _run(["municipalities", "delivery", *args], committed_url)

    assert result.exit_code == 1, result.output
    assert message in result.output
    assert _counts(committed) == before


def test_the_municipality_team_where_referrals_go_is_set_and_audited(
    committed_url: str, committed: sessionmaker[Session], kampen: int
) -> None:
    bad = _run(["municipalities", "team", "GM0166", "--admin", "beheer", "--email", "geen-adres"], committed_url)
    good = _run(["municipalities", "team", "GM0166", "--admin", "beheer", "--team-name", "Schuldhulp Kampen",
                 "--email", "schuldhulp@kampen.example", "--postcode", "8261 GM"], committed_url)  # fmt: skip

    assert bad.exit_code == 1
    assert "--email: Geen geldig e-mailadres." in bad.output
    assert good.exit_code == 0, good.output
    assert "team of GM0166 Kampen: email, postcode, team_name" in good.output
    with committed() as s:
        kampen_row = s.get_one(Organisation, kampen)
        assert (kampen_row.team_name, kampen_row.email, kampen_row.postcode) == (
            "Schuldhulp Kampen", "schuldhulp@kampen.example", "8261 GM"
        )  # fmt: skip
        assert s.scalar(select(func.count()).where(AuditEntry.action == "municipality.update")) == 1
