"""The web foundation through the Flask test client: sign-in, sessions, CSRF, headers, assets and Dutch formats.

Sessions are checked against the database on every request (security.md scenarios 3, 9-12): the tests change the
session's row or the user's account with real commits and expect the very next request to notice.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask, render_template_string
from flask.testing import FlaskClient
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from schulden.actors import SYSTEM
from schulden.app import create_app
from schulden.roles import Role
from schulden.settings import ConfigurationError, Settings
from schulden.users.models import ApiToken, LoginAttempt, User
from schulden.users.services import create_user
from schulden.web.auth import login_required, safe_next, session_hash
from schulden.web.filters import datum, datum_kort, datum_tijd, euro
from schulden.web.filters import init_app as init_filters
from tests.conftest import make_settings
from tests.factories import make_pi
from workflows.store import utcnow

PASSWORD = "web-wachtwoord-1234"
COOKIE = "schuldroute"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class Staff:
    user_id: int
    username: str
    display_name: str


@pytest.fixture
def staff(committed: sessionmaker[Session]) -> Iterator[Staff]:
    """A casemanager of a PI with a password; the login attempts of the test are removed afterwards."""
    with committed() as session:
        pi = make_pi(session, name="PI Web")
        user = create_user(
            session,
            actor=SYSTEM,
            username="web_pi",
            display_name="Wendy Webber",
            role=Role.PI_STAFF,
            password=PASSWORD,
            organisation=pi,
        )
        session.commit()
        staff = Staff(user.id, user.username, user.display_name)
    yield staff
    # login_attempt is not emptied between tests on PostgreSQL; left behind, these would count against the
    # per-address limit of every later login from 127.0.0.1.
    with committed() as session:
        session.execute(delete(LoginAttempt))
        session.commit()


def csrf_of(client: FlaskClient, path: str = "/aanmelden") -> str:
    match = CSRF.search(client.get(path, follow_redirects=True).get_data(as_text=True))
    assert match, f"no CSRF field on {path}"
    return match.group(1)


def log_in(client: FlaskClient, username: str, password: str = PASSWORD, **extra: str) -> TestResponse:
    token = csrf_of(client)
    return client.post("/aanmelden", data={"username": username, "password": password, "csrf_token": token, **extra})


def session_token(app: Flask, client: FlaskClient) -> str:
    """The session token inside the signed cookie, as the server reads it."""
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None
    data = app.session_interface.get_signing_serializer(app).loads(cookie.value)  # type: ignore[attr-defined]
    return str(data["sid"])


def session_row(committed: sessionmaker[Session], token: str) -> ApiToken:
    with committed() as session:
        return session.scalars(select(ApiToken).where(ApiToken.token_hash == session_hash(token))).one()


def change_session(committed: sessionmaker[Session], token: str, **values: object) -> None:
    with committed() as session:
        session.execute(update(ApiToken).where(ApiToken.token_hash == session_hash(token)).values(**values))
        session.commit()


def text(response: TestResponse) -> str:
    return response.get_data(as_text=True)


# -- login and logout ----------------------------------------------------------------------------------------------


def test_a_visitor_is_sent_to_the_login_page_and_back_after_signing_in(client: FlaskClient, staff: Staff) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/aanmelden"

    page = text(client.get("/aanmelden"))
    assert '<html lang="nl" class="utrecht-document voorbeeld-theme">' in page
    assert 'href="#inhoud"' in page
    assert 'id="inhoud"' in page
    assert 'autocomplete="current-password"' in page

    response = log_in(client, staff.username)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    home = client.get("/")
    assert home.status_code == 200
    page = text(home)
    assert '<h1 class="utrecht-heading-1">Mijn werk</h1>' in page
    assert "Wendy Webber" in page
    assert "(Medewerker PI)" in page
    assert 'aria-current="page">Mijn werk</a>' in page
    assert 'action="/afmelden"' in page

    # Signed in, the login page leads on to the work.
    assert client.get("/aanmelden").headers["Location"] == "/"


def test_login_returns_to_the_page_asked_for_but_never_to_another_site(
    app: Flask, client: FlaskClient, staff: Staff
) -> None:
    @app.get("/web-test/plek")
    @login_required
    def _somewhere() -> str:
        return "hier"

    first = client.get("/web-test/plek?x=1")
    assert first.headers["Location"] == "/aanmelden?next=/web-test/plek?x%3D1"
    assert log_in(client, staff.username, next="/web-test/plek?x=1").headers["Location"] == "/web-test/plek?x=1"

    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example", "/aanmelden", "/x\r\nSet-Cookie:"):
        assert safe_next(target) is None, target
    assert safe_next("/dossiers/12?tab=schulden") == "/dossiers/12?tab=schulden"


def test_logout_ends_the_session_on_the_server(app: Flask, client: FlaskClient, staff: Staff) -> None:
    log_in(client, staff.username)
    old_cookie = client.get_cookie(COOKIE)
    assert old_cookie is not None
    token = session_token(app, client)

    response = client.post("/afmelden", data={"csrf_token": csrf_of(client, "/")})
    assert response.status_code == 302
    assert response.headers["Location"] == "/aanmelden"
    assert "U bent afgemeld." in text(client.get("/aanmelden"))
    assert client.get("/").status_code == 302
    assert session_row(app.extensions["test.committed"], token).revoked_at is not None

    # The cookie from before the logout, replayed, opens nothing (ASVS 7.4.1).
    client.set_cookie(COOKIE, old_cookie.value)
    assert client.get("/").status_code == 302


def test_login_makes_a_new_session_and_ends_the_one_before(app: Flask, client: FlaskClient, staff: Staff) -> None:
    csrf_of(client)
    before = client.get_cookie(COOKIE)
    assert before is not None
    log_in(client, staff.username)
    first = session_token(app, client)
    first_cookie = client.get_cookie(COOKIE)
    assert first_cookie is not None
    assert first_cookie.value != before.value
    assert len(first) >= 43  # 32 random bytes, URL-safe base64 (ASVS 7.2.3: at least 128 bits)

    log_in(client, staff.username)
    second = session_token(app, client)
    assert second != first
    committed = app.extensions["test.committed"]
    assert session_row(committed, first).revoked_at is not None
    assert session_row(committed, second).revoked_at is None
    client.set_cookie(COOKIE, first_cookie.value)
    assert client.get("/").status_code == 302


def test_the_session_cookie_is_httponly_and_samesite(client: FlaskClient, staff: Staff) -> None:
    response = log_in(client, staff.username)
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # tests and development run on http://127.0.0.1


def test_a_session_token_is_no_api_token(app: Flask, client: FlaskClient, staff: Staff) -> None:
    log_in(client, staff.username)
    token = session_token(app, client)
    # Neither the cookie nor the token inside it opens the API, which takes bearer tokens only.
    assert client.get("/api/v1/cases").status_code == 401
    assert client.get("/api/v1/cases", headers={"Authorization": f"Bearer {token}"}).status_code == 401


# -- bad logins ----------------------------------------------------------------------------------------------------


def test_a_wrong_password_is_answered_in_dutch_and_the_username_is_kept(client: FlaskClient, staff: Staff) -> None:
    response = log_in(client, staff.username, "niet-dit")
    assert response.status_code == 422
    page = text(response)
    assert "Gebruikersnaam of wachtwoord onjuist." in page
    assert 'role="alert"' in page
    assert 'value="web_pi"' in page
    assert "niet-dit" not in page
    assert client.get("/").status_code == 302

    # An unknown account gets the very same answer.
    assert "Gebruikersnaam of wachtwoord onjuist." in text(log_in(client, "niemand", "niet-dit"))


def test_empty_fields_get_a_dutch_message_each(client: FlaskClient, staff: Staff) -> None:
    response = client.post("/aanmelden", data={"username": "", "password": "", "csrf_token": csrf_of(client)})
    assert response.status_code == 422
    page = text(response)
    assert "Vul uw gebruikersnaam in." in page
    assert "Vul uw wachtwoord in." in page
    username_input = re.search(r'<input[^>]*id="veld-username"[^>]*>', page)
    assert username_input is not None
    assert 'aria-invalid="true"' in username_input.group(0)
    assert 'aria-describedby="veld-username-fout"' in username_input.group(0)
    assert 'id="veld-username-fout"' in page
    assert 'href="#veld-username"' in page  # the summary links to the field


def test_logins_are_rate_limited_with_the_apis_limit(client: FlaskClient, staff: Staff) -> None:
    answers = [log_in(client, staff.username, "fout").status_code for _ in range(6)]
    assert answers == [422] * 5 + [429]
    blocked = log_in(client, staff.username)
    assert blocked.status_code == 429
    assert "Te veel mislukte pogingen; probeer het over 15 minuten opnieuw." in text(blocked)
    assert client.get("/").status_code == 302
    # The same table limits the API's token endpoint: one limit for both doors.
    api = client.post("/api/v1/auth/token", json={"username": staff.username, "password": PASSWORD})
    assert api.status_code == 429


# -- timeouts and account changes -----------------------------------------------------------------------------------


def test_an_idle_session_ends_and_activity_keeps_it_alive(app: Flask, client: FlaskClient, staff: Staff) -> None:
    committed = app.extensions["test.committed"]
    log_in(client, staff.username)
    token = session_token(app, client)

    # 29 minutes quiet: still signed in, and the request counts as activity.
    change_session(committed, token, last_used_at=utcnow() - timedelta(minutes=29))
    assert client.get("/").status_code == 200
    assert utcnow() - session_row(committed, token).last_used_at < timedelta(minutes=1)  # type: ignore[operator]

    change_session(committed, token, last_used_at=utcnow() - timedelta(minutes=31))
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/aanmelden"
    assert "U was te lang niet actief. Meld u opnieuw aan." in text(client.get("/aanmelden"))
    assert session_row(committed, token).revoked_at is not None


def test_the_idle_timeout_is_a_setting(database: object, committed_url: str, staff: Staff) -> None:
    import time

    app = create_app(make_settings(committed_url, session_idle_seconds=0.5, session_lifetime_seconds=5.0))
    client = app.test_client()
    log_in(client, staff.username)
    assert client.get("/").status_code == 200
    time.sleep(0.7)
    assert client.get("/").status_code == 302


def test_session_timeouts_come_from_the_environment(tmp_path: Path) -> None:
    env = {"SCHULDROUTE_ENV": "development", "SCHULDROUTE_INSTANCE": str(tmp_path), "SESSION_IDLE_MINUTES": "10",
           "SESSION_LIFETIME_HOURS": "8"}  # fmt: skip
    settings = Settings.from_env(env)
    assert settings.session_idle_seconds == 600
    assert settings.session_lifetime_seconds == 8 * 3600
    default = {"SCHULDROUTE_ENV": "development", "SCHULDROUTE_INSTANCE": str(tmp_path)}
    assert Settings.from_env(default).session_idle_seconds == 30 * 60
    with pytest.raises(ConfigurationError, match="SESSION_IDLE_MINUTES"):
        Settings.from_env({**env, "SESSION_IDLE_MINUTES": "600"})


def test_a_session_ends_after_its_absolute_lifetime(app: Flask, client: FlaskClient, staff: Staff) -> None:
    committed = app.extensions["test.committed"]
    log_in(client, staff.username)
    token = session_token(app, client)
    row = session_row(committed, token)
    assert abs(row.expires_at - row.created_at - timedelta(hours=12)) < timedelta(minutes=1)

    change_session(committed, token, expires_at=utcnow() - timedelta(seconds=1))
    assert client.get("/").status_code == 302
    assert "Uw sessie is verlopen. Meld u opnieuw aan." in text(client.get("/aanmelden"))


@pytest.mark.parametrize(
    "change",
    [{"active": False}, {"role": Role.VOLUNTEER.value}],
    ids=["disabled", "role-changed"],
)
def test_a_disabled_account_or_changed_role_ends_the_session_at_the_next_request(
    app: Flask, client: FlaskClient, staff: Staff, change: dict[str, object]
) -> None:
    committed = app.extensions["test.committed"]
    log_in(client, staff.username)
    assert client.get("/").status_code == 200
    with committed() as session:
        session.execute(update(User).where(User.id == staff.user_id).values(**change))
        session.commit()

    response = client.get("/")
    assert response.status_code == 302
    assert "Uw sessie is beëindigd. Meld u opnieuw aan." in text(client.get("/aanmelden"))
    assert client.get("/").status_code == 302


# -- CSRF -----------------------------------------------------------------------------------------------------------


def test_forms_without_this_sessions_token_are_refused_with_a_dutch_page(
    app: Flask, client: FlaskClient, staff: Staff
) -> None:
    csrf_of(client)
    response = client.post("/aanmelden", data={"username": staff.username, "password": PASSWORD})
    assert response.status_code == 400
    page = text(response)
    assert "Formulier verlopen" in page
    assert "niet vanaf deze site verstuurd" in page
    assert response.headers["Content-Security-Policy"]

    # Another browser's token does not fit this session either.
    other = app.test_client()
    foreign = csrf_of(other)
    data = {"username": staff.username, "password": PASSWORD, "csrf_token": foreign}
    assert client.post("/aanmelden", data=data).status_code == 400

    # Signed in, a logout without the token leaves the session as it was.
    log_in(client, staff.username)
    assert client.post("/afmelden").status_code == 400
    assert client.post("/afmelden", data={"csrf_token": "x" * 43}).status_code == 400
    assert client.get("/").status_code == 200

    # A client that asks for JSON gets a problem document.
    problem = client.post("/afmelden", headers={"Accept": "application/json"})
    assert problem.status_code == 400
    assert problem.mimetype == "application/problem+json"
    assert problem.json is not None
    assert "verlopen" in problem.json["detail"]


def test_the_json_api_needs_no_csrf_token(client: FlaskClient, staff: Staff) -> None:
    response = client.post("/api/v1/auth/token", json={"username": staff.username, "password": PASSWORD})
    assert response.status_code == 201


def test_the_login_token_is_replaced_at_login(app: Flask, client: FlaskClient, staff: Staff) -> None:
    before = csrf_of(client)
    log_in(client, staff.username)
    after = csrf_of(client, "/")
    assert after != before
    # The token from before the login no longer works.
    assert client.post("/afmelden", data={"csrf_token": before}).status_code == 400


# -- headers --------------------------------------------------------------------------------------------------------

HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; "
        "form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/aanmelden", 302),  # signed in: on to Mijn werk
        ("/", 200),
        ("/bestaat-niet", 404),
        ("/api/docs", 200),
        ("/api/v1/cases", 401),
        ("/api/openapi.json", 200),
        ("/healthz", 200),
    ],
)
def test_security_headers_on_pages_and_api_answers(client: FlaskClient, staff: Staff, path: str, status: int) -> None:
    log_in(client, staff.username)
    response = client.get(path)
    assert response.status_code == status
    for name, value in HEADERS.items():
        assert response.headers[name] == value, name
    assert response.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in response.headers  # only in production


def test_api_docs_page_needs_no_inline_script_or_style(client: FlaskClient, staff: Staff) -> None:
    page = text(client.get("/api/docs"))
    assert "<script" not in page
    assert "style=" not in page
    assert "<style" not in page
    assert "Schuldroute API" in page


def test_production_adds_hsts_and_a_host_only_secure_cookie(database: object, committed_url: str, staff: Staff) -> None:
    app = create_app(make_settings(committed_url, environment="production"))
    client = app.test_client()
    response = client.get("/aanmelden", base_url="https://schuldroute.example")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-schuldroute=")
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    assert "Path=/" in cookie
    assert "Domain" not in cookie


# -- assets ---------------------------------------------------------------------------------------------------------


def test_the_nl_design_system_css_is_served_by_the_app(client: FlaskClient) -> None:
    page = text(client.get("/aanmelden"))
    links = re.findall(r'<link rel="stylesheet" href="([^"]+)">', page)
    assert links == [
        "/static/vendor/utrecht/index.css?v=9.0.4",
        "/static/vendor/voorbeeld/theme.css?v=7.4.1",
        "/static/schuldroute.css",
    ]
    bodies = []
    for link in links:
        with client.get(link) as response:
            assert response.status_code == 200, link
            assert response.mimetype == "text/css"
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert response.headers["Cache-Control"] != "no-store"
            if "/vendor/" in link:
                assert "max-age=31536000" in response.headers["Cache-Control"]
            bodies.append(response.get_data(as_text=True))
    assert ".utrecht-button" in bodies[0]
    assert ".voorbeeld-theme" in bodies[1]
    assert "--utrecht-document-font-family" in bodies[2]

    # Only the named files: nothing else in node_modules is reachable.
    for path in (
        "/static/vendor/axe-core/axe.min.js",
        "/static/vendor/utrecht/../../package.json",
        "/static/vendor/%40utrecht/component-library-css/package.json",
    ):
        assert client.get(path).status_code == 404, path


# -- Dutch formats and the macros -----------------------------------------------------------------------------------


def test_amounts_and_dates_in_dutch() -> None:
    app = Flask(__name__)
    init_filters(app)
    with app.app_context():
        assert euro(123450) == "€\xa01.234,50"
        assert euro(-123450) == "€\xa0-1.234,50"
        assert euro(5) == "€\xa00,05"
        assert euro(None) == ""
        # Dates in prose (ux.md); the short form only where a column of dates is compared.
        assert datum(date(2025, 4, 27)) == "27 april 2025"
        assert datum_kort(date(2025, 4, 27)) == "27-04-2025"
        # Late on 27 April in UTC is already the 28th in the Netherlands.
        late = datetime(2025, 4, 27, 22, 30, tzinfo=UTC)
        assert datum(late) == "28 april 2025"
        assert datum_tijd(late) == "28 april 2025 om 00:30"
        assert datum(None) == ""
        rendered = render_template_string("{{ 123450 | euro }} {{ d | datum_lang }}", d=date(2026, 3, 2))
        assert rendered == "€\xa01.234,50 2 maart 2026"


def test_form_macros_show_errors_accessibly_and_keep_what_was_typed(app: Flask) -> None:
    template = """{% import "macros/forms.html" as forms %}{% import "macros/table.html" as tables %}
    {{ forms.error_summary(errors, {"detainee.surname": "Achternaam"}) }}
    {{ forms.text_field("detainee.surname", "Achternaam", values, errors, description="Zoals in het paspoort") }}
    {{ forms.text_field("secret", "Wachtwoord", values, errors, type="password") }}
    {{ forms.select("kind", "Soort", [("a", "Eerste"), ("b", "Tweede")], values, errors) }}
    {{ forms.radio_group("choice", "Keuze", [("ja", "Ja"), ("nee", "Nee")], values, errors) }}
    {{ forms.checkbox("agree", "Akkoord", values, errors) }}
    {{ forms.textarea("note", "Notitie", values, errors) }}
    {{ tables.simple_table("Schulden", ["Schuldeiser", "Bedrag"], [["CJIB", 12345 | euro]], numeric=[1]) }}
    {{ tables.simple_table("Brieven", ["Brief"], []) }}"""
    values = {"detainee.surname": "<Jansen>", "secret": "geheim", "kind": "b", "choice": "nee", "agree": "on"}
    errors = {"detainee.surname": ["Vul de achternaam in."], "choice": ["Kies ja of nee."]}
    with app.test_request_context("/"):
        html = render_template_string(template, values=values, errors=errors)

    surname = re.search(r'<input[^>]*id="veld-detainee-surname"[^>]*>', html)
    assert surname is not None
    tag = surname.group(0)
    assert 'aria-invalid="true"' in tag
    assert 'aria-describedby="veld-detainee-surname-uitleg veld-detainee-surname-fout"' in tag
    assert 'value="&lt;Jansen&gt;"' in tag  # kept, and escaped
    assert 'name="detainee.surname"' in tag
    assert 'id="veld-detainee-surname-fout"' in html
    assert "Vul de achternaam in." in html
    assert '<a class="utrecht-link" href="#veld-detainee-surname">Vul de achternaam in.</a>' in html  # the label once
    assert "geheim" not in html  # a password is never sent back
    assert '<option value="b" selected>Tweede</option>' in html
    assert re.search(r'value="nee" checked', html)
    assert re.search(r'<fieldset[^>]*aria-invalid="true"', html)
    assert re.search(r'name="agree" value="on" checked', html)
    assert '<caption class="utrecht-table__caption">Schulden</caption>' in html
    assert '<th scope="col" class="utrecht-table__header-cell utrecht-table__header-cell--numeric-column">' in html
    assert "€\xa0123,45" in html
    assert "<strong>Brieven</strong>: Er is niets om te tonen." in html


@pytest.fixture
def app(database: object, committed_url: str, committed: sessionmaker[Session]) -> Flask:
    """conftest's app, with the committed sessionmaker at hand for tests that change rows behind its back."""
    application = create_app(make_settings(committed_url))
    application.config["TESTING"] = True
    application.extensions["test.committed"] = committed
    return application


def test_a_long_name_breaks_after_its_slash_and_stays_escaped() -> None:
    from schulden.web.filters import breakable

    assert str(breakable("Belastingdienst/Toeslagen")) == "Belastingdienst/<wbr>Toeslagen"
    assert str(breakable("<b>A</b>/B")) == "&lt;b&gt;A&lt;/<wbr>b&gt;/<wbr>B"
