"""The `schuldroute` command: run, db upgrade, seed-demo, worker, tick, users create, organisations, municipalities,
workflows docs."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import logging
import os
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, routes_command, shell_command, with_appcontext

from schulden.extensions import database
from schulden.http.ports import runtime
from schulden.settings import Settings
from workflows import SYSTEM as SYSTEM_ACTOR

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


def _settings() -> Settings:
    return runtime().settings


def alembic_config(database_url: str) -> object:
    """An Alembic Config for our migrations and `database_url` (used by the CLI and the tests)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database_url"] = database_url
    return config


def upgrade_database(database_url: str, revision: str = "head") -> None:
    """Apply migrations up to `revision`; creates the SQLite file's folder first."""
    from alembic import command

    if database_url.startswith("sqlite:///"):
        Path(database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(database_url), revision)  # type: ignore[arg-type]


# -- run --------------------------------------------------------------------------------------------------------


def keep_ticking(
    every: float,
    stop: threading.Event,
    tick_once: Callable[[], dict[str, int]],
    report: Callable[[dict[str, int]], None] = lambda _: None,
) -> None:
    """Tick every `every` seconds until `stop` is set, through any error.

    A scheduler that exits on the first database or Redis error also stops the sweeper that rescues lost letters
    (issue 14). After a failure the next tick waits twice as long each time, up to a minute (or `every` if that is
    longer), so a database that is down is not hammered; the first success restores the interval. Timers and
    letters are claimed in the database, so a tick that failed halfway leaves nothing half done."""
    failures = 0
    while True:
        try:
            report(tick_once())
            failures = 0
        except Exception as exc:
            failures += 1
            log.error("tick failed", extra={"error": type(exc).__name__, "failures": failures})
        pause = every if failures == 0 else min(every * 2**failures, max(every, 60.0))
        if stop.wait(pause):
            return


def start_ticker(app: Flask, interval: float) -> threading.Event:
    """Tick the workflow timers every `interval` seconds on a daemon thread (embedded default only)."""
    from integrations.tick import tick

    stop = threading.Event()
    threading.Thread(target=keep_ticking, args=(interval, stop, tick), name="ticker", daemon=True).start()
    return stop


@click.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=5000, envvar="PORT", show_default=True)
@with_appcontext
def run_command(host: str, port: int) -> None:
    """Serve the app on the embedded default (jobs and timers in this process)."""
    from werkzeug.serving import run_simple

    settings = _settings()
    if settings.is_production:
        raise click.ClickException(
            "In productie draait de app onder gunicorn: gunicorn wsgi:app (zie docs/operations.md)"
        )
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if "PUBLIC_URL" not in os.environ:
        # Without a configured public address the letters' reply link is this server's own address: a reply code
        # printed on a letter made by `schuldroute run --port 5077` must lead to port 5077, not the default 5000.
        # The runtime is frozen for every other caller; this development server is the one place that learns its
        # port after the settings were read, so it swaps them here, before any letter is made.
        public = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"  # noqa: S104 (a comparison)
        object.__setattr__(runtime(), "settings", dataclasses.replace(settings, public_url=public))
    if settings.jobs_in_process:
        start_ticker(app, settings.tick_interval_seconds)
    click.echo(
        f"Schuldroute op http://{host}:{port}/ (database: {database.engine.dialect.name if database.engine else '?'})"
    )
    run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)


# -- db -----------------------------------------------------------------------------------------------------------


@click.group("db")
def db_group() -> None:
    """Database schema (only through Alembic migrations)."""


@db_group.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: head)."""
    upgrade_database(_settings().database_url, revision)
    click.echo(f"database at {revision}")


@db_group.command("downgrade")
@click.argument("revision")
@with_appcontext
def db_downgrade(revision: str) -> None:
    """Roll migrations back to REVISION."""
    from alembic import command

    command.downgrade(alembic_config(_settings().database_url), revision)  # type: ignore[arg-type]
    click.echo(f"database at {revision}")


# -- seed-demo -----------------------------------------------------------------------------------------------------


@click.command("seed-demo")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already has users.")
@with_appcontext
def seed_demo_command(if_empty: bool) -> None:
    """Create the demo organisations, users (password 'demo') and three cases."""
    from schulden.demo import demo_is_seeded, seed_demo

    if _settings().is_production:
        raise click.ClickException("De demo-gegevens worden nooit in productie aangemaakt.")
    with database.session_scope() as session:
        if demo_is_seeded(session):
            if if_empty:
                click.echo("demo already seeded; data kept")
                return
            raise click.ClickException(
                "De database bevat al gebruikers; de demo wordt alleen in een lege database gezet."
            )
        engine = runtime().engine
        counts = seed_demo(session, engine, today=datetime.now(engine.timezone).date())
    click.echo("demo seeded: " + ", ".join(f"{v} {k}" for k, v in counts.items()))


@click.group("reference")
def reference_group() -> None:
    """Reference data: municipalities, the PC4 table, public creditors (schulden/data, sources in its README)."""


@reference_group.command("load")
@with_appcontext
def reference_load() -> None:
    """Load or refresh the reference data (idempotent)."""
    from schulden.reference import load_reference_data

    with database.session_scope() as session:
        counts = load_reference_data(session)
    click.echo("reference data: " + ", ".join(f"{v} {k}" for k, v in counts.items()))


@click.group("letters")
def letters_group() -> None:
    """Letters: render what is waiting, make a PI's print batch, retry the failed ones."""


@letters_group.command("render-pending")
@click.option("--limit", type=int, default=None, help="At most this many letters.")
@with_appcontext
def letters_render_pending(limit: int | None) -> None:
    """Render every queued letter in this process, with a progress bar (e.g. after an outage)."""
    from sqlalchemy import select

    from integrations.letters.jobs import render_letter
    from schulden.letters.models import Letter, LetterStatus

    with database.session_scope() as session:
        query = select(Letter.id).where(Letter.status == LetterStatus.QUEUED.value).order_by(Letter.id)
        ids = list(session.scalars(query.limit(limit) if limit else query))
    outcomes: dict[str, int] = {}
    with click.progressbar(ids, label=f"{len(ids)} brieven maken", show_pos=True) as bar:
        for letter_id in bar:
            result = render_letter(letter_id)
            kind = result if result in ("not-claimed", "lost-claim", "failed") else "rendered"
            outcomes[kind] = outcomes.get(kind, 0) + 1
    click.echo(json.dumps(outcomes))


@letters_group.command("print-batch")
@click.option("--pi", "pi_code", required=True, help="Code of the PI, e.g. PI-ZWOLLE.")
@click.option("--output", type=click.Path(path_type=Path), default=None, help="Also write the PDF here.")
@with_appcontext
def letters_print_batch(pi_code: str, output: Path | None) -> None:
    """Merge the PI's rendered post into today's print batch and mark those letters sent."""
    from sqlalchemy import select

    from schulden.letters.queries import pending_post
    from schulden.letters.services import record_print_batch
    from schulden.organisations.models import Organisation, OrganisationKind

    rt = runtime()
    with database.session_scope() as session:
        pi = session.scalar(
            select(Organisation).where(Organisation.kind == OrganisationKind.PI.value, Organisation.code == pi_code)
        )
        if pi is None:
            raise click.ClickException(f"pi: geen PI met code {pi_code!r}")
        waiting = len(pending_post(session, pi.id))
        now = rt.engine.clock()
        with click.progressbar(length=waiting, label=f"{waiting} brieven samenvoegen") as bar:
            batch = rt.print_batch(session, pi_id=pi.id, actor=SYSTEM_ACTOR, today=rt.engine.today(now), now=now)
            if batch is None:
                raise click.ClickException(f"Geen brieven voor de post klaar voor {pi.name}.")
            record_print_batch(session, SYSTEM_ACTOR, batch)
            bar.update(waiting)
        key, count = batch.storage_key, batch.letter_count
    if output is not None:
        output.write_bytes(rt.store.get(key))
    click.echo(f"print batch: {count} letters, {output or rt.store.describe(key)}")


@letters_group.command("retry-failed")
@click.option("--reason", default=None, help="Only this kind of error, as listed (e.g. OSError).")
@click.option("--type", "letter_type", default=None, help="Only this letter type (L1 to L10).")
@click.option("--dry-run", is_flag=True, help="List the failed letters and how many would go back; change nothing.")
@with_appcontext
def letters_retry_failed(reason: str | None, letter_type: str | None, dry_run: bool) -> None:
    """Put every failed letter (of one kind of error, one type) back in the queue, after its cause was fixed.

    Runs as the system, as `letters print-batch` does; each letter gets an audit row. The render jobs are
    enqueued when the change commits, as for new letters."""
    from schulden.errors import ValidationFailed
    from schulden.letters import bulk_retry

    try:
        bulk_retry.check_filters(reason=reason, letter_type=letter_type)
    except ValidationFailed as exc:
        raise _refusal({"type" if k == "letter_type" else k: v for k, v in exc.errors.items()}) from exc
    with database.session_scope() as session:
        groups = bulk_retry.failed_groups(session)
        if not groups:
            click.echo("Er zijn geen mislukte brieven.")
            return
        click.echo(f"{'soort fout':<24} {'type':<5} {'aantal':>7}  sinds (UTC)")
        for g in groups:
            # SQLite gives naive UTC back, PostgreSQL an aware moment: both shown in UTC.
            since = g.since.astimezone(UTC) if g.since and g.since.tzinfo else g.since
            since_text = since.strftime("%Y-%m-%d %H:%M") if since else "-"
            click.echo(f"{g.reason:<24} {g.letter_type:<5} {g.count:>7}  {since_text}  {g.label}")
        if dry_run:
            count = bulk_retry.matching(groups, reason=reason, letter_type=letter_type)
            click.echo(f"dry run: {count} brieven zouden opnieuw worden gemaakt")
            return
        count = bulk_retry.retry_failed(session, SYSTEM_ACTOR, reason=reason, letter_type=letter_type)
    # session_scope committed: the outbox has enqueued the render jobs (or left them to the sweeper).
    click.echo(f"{count} brieven worden opnieuw gemaakt")


# -- cases -------------------------------------------------------------------------------------------------------------


@click.group("cases")
def cases_group() -> None:
    """Cases: the Schuldenknooppunt export."""


@cases_group.command("knooppunt-export")
@click.option("--case", "case_id", type=click.IntRange(min=1), required=True, help="The case's id.")
@click.option("--output", type=click.Path(path_type=Path), default=None, help="Write the JSON here (default: stdout).")
@with_appcontext
def cases_knooppunt_export(case_id: int, output: Path | None) -> None:
    """The case's letters and creditor answers as Schuldenknooppunt messages (docs/schuldenknooppunt.md).

    Runs as the system, as `letters print-batch` does (the operator on the server has no scope of a person); the
    export is logged as `case.knooppunt_export` and never carries the BSN.
    """
    from schulden.errors import NotFound
    from schulden.replies.knooppunt import case_export

    with database.session_scope() as session:
        try:
            document = case_export(session, SYSTEM_ACTOR, case_id, origin=None)
        except NotFound as exc:
            raise click.ClickException(f"case: geen dossier met id {case_id}") from exc
        text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
        # Written before the audit row commits: a file that could not be written leaves no row saying it was.
        if output is None:
            click.echo(text, nl=False)
        else:
            output.write_text(text, encoding="utf-8")
    if output is not None:
        click.echo(f"wrote {output}", err=True)


# -- worker and tick ---------------------------------------------------------------------------------------------------


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--no-fork", is_flag=True, help="Run every job in the worker process (see docs/operations.md).")
# 60 s, not RQ's 420: an idle worker then reports every 45 s, and one killed with -9 leaves the status report's count
# within two minutes (its entry expires 60 s after its last report) instead of up to eight (issue 14's drills).
@click.option("--worker-ttl", type=int, default=60, show_default=True, help="Seconds before a silent worker is dead.")
@click.option(
    "--maintenance-interval",
    type=int,
    default=600,
    show_default=True,
    help="Seconds between RQ's registry clean-ups (jobs of dead workers are retried then).",
)
@click.argument("queues", nargs=-1)
@with_appcontext
def worker_command(
    burst: bool, no_fork: bool, worker_ttl: int, maintenance_interval: int, queues: tuple[str, ...]
) -> None:
    """Run an rq worker on the given queues (default: all)."""
    from integrations.queue import QUEUE_NAMES, RedisQueue
    from integrations.worker import InProcessWorker, PreloadedWorker

    settings = _settings()
    if settings.redis_url is None:
        raise click.ClickException("REDIS_URL is niet gezet: zonder Redis draaien taken in het webproces zelf.")
    unknown = set(queues) - set(QUEUE_NAMES)
    if unknown:
        raise click.ClickException(
            f"Onbekende wachtrij(en): {', '.join(sorted(unknown))}; bekend: {', '.join(QUEUE_NAMES)}"
        )
    queue = RedisQueue(settings.redis_url)
    worker_class = InProcessWorker if no_fork else PreloadedWorker
    worker = worker_class(
        [queue.queues[name] for name in (queues or QUEUE_NAMES)],
        connection=queue.connection,
        worker_ttl=worker_ttl,
        maintenance_interval=maintenance_interval,
    )
    worker.work(burst=burst, with_scheduler=True)


@click.command("tick")
@click.option("--every", type=float, default=None, help="Keep ticking every N seconds (a scheduler process).")
@with_appcontext
def tick_command(every: float | None) -> None:
    """Fire every due workflow timer once; with --every, keep doing so."""
    from integrations.tick import tick

    if every is None:
        click.echo(json.dumps(tick()))
        return
    keep_ticking(every, threading.Event(), tick, lambda done: click.echo(json.dumps(done)))


# -- users ------------------------------------------------------------------------------------------------------------


@click.group("users")
def users_group() -> None:
    """User accounts."""


@users_group.command("create")
@click.option("--username", required=True)
@click.option("--display-name", required=True)
@click.option(
    "--role",
    required=True,
    type=click.Choice(["pi_staff", "volunteer", "counsellor", "municipality", "partner", "admin"]),
)
@click.option("--organisation", "organisation_code", default=None, help="Code of the organisation (e.g. GM0193).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def users_create(
    username: str, display_name: str, role: str, organisation_code: str | None, password_stdin: bool
) -> None:
    """Create a user; the password is asked for (or read from stdin), never passed as an argument."""
    from sqlalchemy import select

    from schulden.errors import ValidationFailed
    from schulden.organisations.models import Organisation
    from schulden.roles import Role
    from schulden.users.services import create_user
    from workflows import SYSTEM

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Wachtwoord", hide_input=True, confirmation_prompt=True)
    with database.session_scope() as session:
        organisation = None
        if organisation_code:
            organisation = session.scalar(select(Organisation).where(Organisation.code == organisation_code))
            if organisation is None:
                raise click.ClickException(f"organisation: geen organisatie met code {organisation_code!r}")
        try:
            user = create_user(
                session,
                actor=SYSTEM,
                username=username,
                display_name=display_name,
                role=Role(role),
                password=password,
                organisation=organisation,
                set_by_administrator=True,  # the password rule; changed at first login (docs/accounts.md)
            )
        except ValidationFailed as exc:
            raise click.ClickException("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.errors.items())) from exc
        click.echo(f"user {user.username} created (id {user.id})")


# -- organisations and municipalities: production set up without SQL --------------------------------------------------


def _option(field: str) -> str:
    """The command-line option of a schema field (zaken_api_url -> --zaken-api-url)."""
    return "--" + field.replace("_", "-")


def _refusal(errors: dict[str, list[str]]) -> click.ClickException:
    """Every broken rule with the option it belongs to, in the schemas' Dutch; a form-level one without."""
    parts = [" ".join(msgs) if field.startswith("_") else f"{_option(field)}: {' '.join(msgs)}"
             for field, msgs in errors.items()]  # fmt: skip
    if len(parts) == 1:
        return click.ClickException(parts[0])
    return click.ClickException("Controleer de invoer:\n" + "\n".join(f"  {part}" for part in parts))


def _load(schema: Any, given: dict[str, str | None]) -> dict[str, Any]:
    """Load the options with the schema the API and Beheer use; options not given are absent, not empty."""
    from marshmallow import ValidationError

    try:
        data: dict[str, Any] = schema.load({key: value for key, value in given.items() if value is not None})
    except ValidationError as exc:
        raise _refusal({k: [str(m) for m in v] for k, v in dict(exc.messages).items()}) from exc  # type: ignore[arg-type]
    return data


ORGANISATION_KINDS = ("pi", "operator", "municipality", "probation", "care")


@click.group("organisations")
def organisations_group() -> None:
    """PIs and the debt counselling teams they work with (docs/operations.md, "Setting up production")."""


@organisations_group.command("create-team")
@click.option("--name", default=None, help="Name of the team (required), e.g. 'Schuldhulpteam Noord'.")
@click.option("--code", default=None, help="Short code (required): 2-16 capitals, digits, dashes, e.g. SHT-NOORD.")
@click.option("--email", default=None, help="The team's e-mail address.")
@with_appcontext
def organisations_create_team(name: str | None, code: str | None, email: str | None) -> None:
    """Create a debt counselling team (an organisation of kind 'operator'); its counsellors are users of it."""
    from schulden.errors import ValidationFailed
    from schulden.organisations.setup import TeamIn, create_team

    data = _load(TeamIn(), {"name": name, "code": code, "email": email})
    with database.session_scope() as session:
        try:
            team = create_team(session, SYSTEM_ACTOR, data)
        except ValidationFailed as exc:
            raise _refusal(exc.errors) from exc
        click.echo(f"team {team.code} created (id {team.id}): {team.name}")


@organisations_group.command("create-pi")
@click.option("--name", default=None, help="Name of the PI (required), e.g. 'PI Zwolle'.")
@click.option("--code", default=None, help="DJI location code (required): 2-16 capitals, digits, dashes.")
@click.option("--team", default=None, help="Code of the debt counselling team that works for this PI (required).")
@click.option("--address-line", default=None, help="Post address (street and number, or Postbus): on letters.")
@click.option("--postcode", default=None, help="Postcode of the post address, e.g. 8017 JN.")
@click.option("--city", default=None, help="Place of the post address.")
@click.option("--email", default=None, help="The PI's e-mail address.")
@with_appcontext
def organisations_create_pi(
    name: str | None,
    code: str | None,
    team: str | None,
    address_line: str | None,
    postcode: str | None,
    city: str | None,
    email: str | None,
) -> None:
    """Create a PI that works with an existing debt counselling team (create the team first)."""
    from schulden.errors import ValidationFailed
    from schulden.organisations.setup import PiIn, create_pi

    given = {"name": name, "code": code, "team": team, "address_line": address_line, "postcode": postcode,
             "city": city, "email": email}  # fmt: skip
    data = _load(PiIn(), given)
    with database.session_scope() as session:
        try:
            pi = create_pi(session, SYSTEM_ACTOR, data)
        except ValidationFailed as exc:
            raise _refusal(exc.errors) from exc
        click.echo(f"PI {pi.code} created (id {pi.id}): {pi.name}, team {data['team']}")


@organisations_group.command("list")
@click.option("--kind", type=click.Choice(ORGANISATION_KINDS), default=None, help="Only this kind.")
@with_appcontext
def organisations_list(kind: str | None) -> None:
    """The organisations: id, kind, code, name (and a PI's team)."""
    from schulden.organisations.models import OrganisationKind
    from schulden.organisations.setup import list_organisations

    with database.session_scope() as session:
        organisations = list_organisations(session, OrganisationKind(kind) if kind else None)
        teams = {team.id: team.code for team in list_organisations(session, OrganisationKind.OPERATOR)}
        for org in organisations:
            team = f"  team {teams.get(org.counselling_team_id)}" if org.counselling_team_id else ""
            click.echo(f"{org.id:>6}  {org.kind:<12}  {org.code or '-':<16}  {org.name}{team}")


@click.group("municipalities")
def municipalities_group() -> None:
    """The municipalities' debt counselling teams and how they receive referrals (load them with `reference load`)."""


def _municipality_and_admin(session: Any, code: str, admin_username: str | None) -> tuple[Any, Any]:
    """The municipality with CBS code `code`, and the administrator in whose name the change is recorded: these
    settings are an administrator's (the same rule as in Beheer), so the command names one."""
    from sqlalchemy import select

    from schulden.actors import UserActor
    from schulden.organisations.models import Organisation, OrganisationKind
    from schulden.roles import Role
    from schulden.users.models import User

    if not admin_username:
        raise click.ClickException("--admin: verplicht; de gebruikersnaam van de beheerder die dit vastlegt.")
    admin = session.scalar(select(User).where(User.username == admin_username))
    if admin is None or not admin.active or admin.role != Role.ADMIN.value:
        raise click.ClickException(f"--admin: geen actieve beheerder met gebruikersnaam {admin_username!r}.")
    municipality = session.scalar(
        select(Organisation).where(Organisation.kind == OrganisationKind.MUNICIPALITY.value,
                                   Organisation.code == code.strip().upper())
    )  # fmt: skip
    if municipality is None:
        raise click.ClickException(
            f"CODE: geen gemeente met CBS-code {code!r} (GM en 4 cijfers); laad de gemeenten met "
            "`schuldroute reference load`."
        )
    return municipality, UserActor(admin.id, Role.ADMIN, admin.organisation_id)


#: The delivery settings' options: DeliveryIn's fields (schulden/referrals/delivery_settings.py, docs/zgw.md).
DELIVERY_OPTIONS = (
    ("district_team_name", "Name of the district team (wijkteam) that gets a copy, if any."),
    ("district_team_email", "E-mail address of that district team."),
    ("zaken_api_url", "ZGW: root of the Zaken API."),
    ("documenten_api_url", "ZGW: root of the Documenten API."),
    ("zgw_client_id", "ZGW: the client id."),
    ("zgw_secret_setting", "ZGW: NAME of the environment variable with the secret (ZGW_SECRET_...), never the secret."),
    ("zaaktype_url", "ZGW: the zaaktype."),
    ("statustype_url", "ZGW: the first statustype."),
    ("roltype_url", "ZGW: the roltype of the client."),
    ("informatieobjecttype_url", "ZGW: the informatieobjecttype of the handover file."),
    ("bronorganisatie", "ZGW: the municipality's RSIN (9 digits)."),
)


def _delivery_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for field, help_text in reversed(DELIVERY_OPTIONS):
        command = click.option(_option(field), field, default=None, help=help_text)(command)
    return command


@municipalities_group.command("delivery")
@click.argument("code")
@click.option(
    "--admin", "admin_username", default=None, help="Username of the administrator recording this (required)."
)
@click.option("--channel", default=None, help="email or zgw (default: the current channel).")
@_delivery_options
@with_appcontext
def municipalities_delivery(code: str, admin_username: str | None, channel: str | None, **options: str | None) -> None:
    """Set how the municipality with CBS code CODE receives referrals: by e-mail to its team's address, or as a zaak
    in its ZGW zaaksysteem. Options left out keep their value; an empty one ('') clears it. Referrals sent already
    keep their channel; failed ones go again with the new settings from Beheer > Gemeenten."""
    from schulden.referrals.delivery_settings import DeliveryIn, current, set_delivery

    with database.session_scope() as session:
        municipality, admin = _municipality_and_admin(session, code, admin_username)
        _, values = current(session, admin, municipality.id)
        changes = {"channel": channel, **options}
        values.update({key: (value or None) for key, value in changes.items() if value is not None})
        data = _load(DeliveryIn(), {key: value for key, value in values.items() if value is not None})
        row = set_delivery(session, admin, municipality.id, data)
        set_fields = ", ".join(name for name, _ in DELIVERY_OPTIONS if getattr(row, name))
        click.echo(f"delivery of {municipality.code} {municipality.name}: {row.channel}"
                   + (f" ({set_fields})" if set_fields else ""))  # fmt: skip


@municipalities_group.command("team")
@click.argument("code")
@click.option(
    "--admin", "admin_username", default=None, help="Username of the administrator recording this (required)."
)
@click.option("--team-name", default=None, help="Name of the debt counselling team.")
@click.option("--email", default=None, help="Its e-mail address: where referrals by e-mail go.")
@click.option("--address-line", default=None, help="Its post address (street and number, or Postbus).")
@click.option("--postcode", default=None, help="Postcode of the post address.")
@click.option("--city", default=None, help="Place of the post address.")
@with_appcontext
def municipalities_team(code: str, admin_username: str | None, **options: str | None) -> None:
    """Set the debt counselling team's contact details of the municipality with CBS code CODE (where referrals go).
    Options left out keep their value; an empty one ('') clears it."""
    from schulden.organisations.schemas import MunicipalityUpdate
    from schulden.organisations.services import correct_team

    given = {key: value for key, value in options.items() if value is not None}
    data = _load(MunicipalityUpdate(), {key: value for key, value in given.items() if value != ""})
    data.update({key: "" for key, value in given.items() if value == ""})  # correct_team: "" is "not known"
    with database.session_scope() as session:
        municipality, admin = _municipality_and_admin(session, code, admin_username)
        changed = correct_team(session, municipality, actor=admin, data=data, origin=None)
        click.echo(f"team of {municipality.code} {municipality.name}: " + (", ".join(changed) or "nothing changed"))


# -- workflows ------------------------------------------------------------------------------------------------------


@click.group("workflows")
def workflows_group() -> None:
    """The process definitions."""


@workflows_group.command("docs")
@click.option("--write", "write_path", type=click.Path(path_type=Path), default=None, help="Write to this file.")
@with_appcontext
def workflows_docs(write_path: Path | None) -> None:
    """Print (or write) docs/workflows.md generated from the definitions."""
    from schulden.workflow_docs import render_workflows_markdown

    text = render_workflows_markdown(runtime().engine.registry)
    if write_path is None:
        click.echo(text, nl=False)
    else:
        write_path.write_text(text, encoding="utf-8")
        click.echo(f"wrote {write_path}")


# -- retention ---------------------------------------------------------------------------------------------------------


@click.group("retention")
def retention_group() -> None:
    """Retention (docs/privacy.md section 4): the terms, and the erasure job by hand."""


@retention_group.command("show")
@with_appcontext
def retention_show() -> None:
    """The terms in force (and their variables), the last run, and how many closed cases have a part due."""
    from dataclasses import fields as dataclass_fields

    from schulden import retention
    from workflows.store import utcnow

    terms = _settings().retention
    click.echo("term                 value   variable")
    for item in dataclass_fields(terms):
        unit = "days" if item.name.endswith("_days") else "months"
        value = getattr(terms, item.name)
        click.echo(f"{item.name:<20} {value:>4} {unit:<6} {retention.ENVIRONMENT[item.name]}")
    with database.session_scope() as session:
        last = retention.last_run(session)
        due = retention.due_now(session, now=utcnow(), terms=terms)
    click.echo(f"last run: {last.at.isoformat() if last else 'never'}")
    click.echo("due now (cases per part): " + ", ".join(f"{k} {v}" for k, v in due["due"].items()))
    click.echo(f"erased cases: {due['erased_cases']}; held (legal hold, due otherwise): {due['held'] or 'none'}")


@retention_group.command("run")
@click.option("--dry-run", is_flag=True, help="Say what one batch would erase; change nothing.")
@click.option("--batch-size", type=click.IntRange(1, 1000), default=25, show_default=True, help="Cases per batch.")
@with_appcontext
def retention_run(dry_run: bool, batch_size: int) -> None:
    """Erase what has passed its term, batch after batch until nothing is due (one batch with --dry-run). Runs as
    the system; each case erased gets a `retention.erase` audit row with counts, never content."""
    from integrations.retention import run_retention

    while True:
        report = run_retention(runtime(), dry_run=dry_run, batch_size=batch_size)
        click.echo(json.dumps({"dry_run": dry_run, **report.as_dict()}, sort_keys=True))
        if dry_run or len(report.cases) < batch_size:
            return


COMMANDS = (
    run_command,
    db_group,
    reference_group,
    seed_demo_command,
    letters_group,
    cases_group,
    worker_command,
    tick_command,
    users_group,
    organisations_group,
    municipalities_group,
    workflows_group,
    retention_group,
)


#: Commands that only a deployment runs (a worker, the scheduler): never without a named SCHULDROUTE_ENV.
DEPLOYMENT_COMMANDS = (worker_command, tick_command)


def unnamed_development_allowed(command: click.Command | None, params: dict[str, object]) -> bool:
    """May this command run without SCHULDROUTE_ENV, as development on the embedded default?

    Yes for the development server bound to a loopback address (`make run`) and for the maintenance commands
    `make run` and a developer use (db upgrade, reference load, seed-demo, users create, ...). No for `run` on any
    other address, and no for the worker and the tick: whatever serves others or works for them names its
    environment, so a forgotten variable cannot turn production into development (docs/operations.md).
    """
    if command is None or command in DEPLOYMENT_COMMANDS:
        return False
    if command is run_command:
        return is_loopback(str(params.get("host") or ""))
    return True


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _create_app() -> Flask:
    from schulden.app import create_app
    from schulden.settings import ConfigurationError

    # FlaskGroup builds the app when a command asks for it (with_appcontext), inside that command's context.
    ctx = click.get_current_context(silent=True)
    allowed = ctx is not None and unnamed_development_allowed(ctx.command, ctx.params)
    try:
        settings = Settings.from_env(allow_unnamed_development=allowed)
        # The production database checks belong to what serves and works (wsgi.py, the worker's start-up),
        # not to maintenance: `db upgrade` must run on an empty database.
        return create_app(settings, check_database=False)
    except ConfigurationError as exc:
        raise click.ClickException(f"Configuratie geweigerd: {exc}") from exc


main = FlaskGroup(create_app=_create_app, add_default_commands=False, help="Schuldroute.")
for _command in (*COMMANDS, shell_command, routes_command):
    main.add_command(_command)
