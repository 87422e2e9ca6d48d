"""The engine's tables: instances, their immutable history, and their timers.

The application puts these tables in its own schema by sharing `metadata` (its declarative base uses it), so one
Alembic history covers both. Nothing here knows what a case or a debt is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    bindparam,
    event,
    inspect,
    text,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase, Mapped, Mapper, Session, make_transient_to_detached, mapped_column
from sqlalchemy.orm.attributes import instance_state, set_committed_value
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.schema import ColumnDefault

# Stable constraint names, so Alembic migrations name the same constraint the same way on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    """Aware UTC now; the default for timestamp columns (never a naive datetime)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always stored in UTC and always read back timezone-aware.

    PostgreSQL keeps the zone itself; SQLite stores text without one and would hand back naive datetimes, which
    cannot be compared with aware ones. Storing UTC and re-attaching it keeps both backends on one code path.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware datetime (UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class WorkflowBase(DeclarativeBase):
    """Declarative base over the shared metadata; the application's models derive from it too."""

    metadata = metadata
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute as configuration
        datetime: UTCDateTime(),
        date: Date,
        dict[str, Any]: JSON,
    }


class WorkflowInstance(WorkflowBase):
    """One run of a process, e.g. the workflow of one case. `row_version` makes concurrent fires conflict."""

    __tablename__ = "wf_instance"

    id: Mapped[int] = mapped_column(primary_key=True)
    process: Mapped[str] = mapped_column(String(64))
    process_version: Mapped[int]
    state: Mapped[str] = mapped_column(String(64))
    previous_state: Mapped[str | None] = mapped_column(String(64))
    is_final: Mapped[bool] = mapped_column(default=False)
    # Set while the instance sits in a state that holds clocks; resuming shifts deadlines by the time held.
    held_since: Mapped[datetime | None]
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    row_version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": row_version}  # noqa: RUF012 - mapper configuration

    __table_args__ = (Index("ix_wf_instance_process_state", "process", "state"),)


class HistoryEntry(WorkflowBase):
    """One fired event. Rows are never updated or deleted (the ORM refuses, and so do database triggers)."""

    __tablename__ = "wf_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("wf_instance.id", ondelete="RESTRICT"))
    seq: Mapped[int]
    event: Mapped[str] = mapped_column(String(64))
    from_state: Mapped[str | None] = mapped_column(String(64))
    to_state: Mapped[str] = mapped_column(String(64))
    actor_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    reason: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # What the transition's effects did, e.g. [{"effect": "request_letter", "letter_type": "L1"}].
    effects: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    timer_id: Mapped[int | None]

    __table_args__ = (
        UniqueConstraint("instance_id", "seq"),
        # Reports count events over a period ("how many referrals were accepted in March"); without this index
        # such a count reads the whole history.
        Index("ix_wf_history_event_at", "event", "at"),
    )


class TimerStatus:
    """Timer row states. Kept as strings so the table is readable without the code."""

    PENDING = "pending"
    PAUSED = "paused"
    FIRED = "fired"
    REFUSED = "refused"
    CANCELLED = "cancelled"
    FAILED = "failed"
    ACTIVE = (PENDING, PAUSED)


class TimerRow(WorkflowBase):
    """A timer of an instance. `rule` records how the deadline was computed, for later review."""

    __tablename__ = "wf_timer"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("wf_instance.id", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=TimerStatus.PENDING)
    due_at: Mapped[datetime]
    deadline: Mapped[date | None]
    rule: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    fired_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        # The tick reads only due pending timers; a partial index keeps its cost proportional to those,
        # however many timers are pending further in the future or already done.
        Index(
            "ix_wf_timer_pending_due",
            "due_at",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        Index("ix_wf_timer_instance_id", "instance_id"),
    )


class ImmutableHistory(Exception):
    """Raised when code tries to change or delete a history row."""


@event.listens_for(HistoryEntry, "before_update")
@event.listens_for(HistoryEntry, "before_delete")
def _refuse_history_change(mapper: Mapper[Any], connection: Connection, target: HistoryEntry) -> None:
    raise ImmutableHistory(f"history row {target.id} is append-only")


# The same rule in the database, for writes that bypass the ORM. Migrations create these; tests create the
# schema only through migrations, so the triggers are always present. TRUNCATE (test clean-up) is not a row
# operation and is not refused.
def append_only_triggers(table: str, dialect: str) -> tuple[str, ...]:
    """SQL that makes `table` refuse UPDATE and DELETE, for PostgreSQL or SQLite."""
    if dialect == "postgresql":
        return (
            f"""
            CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '{table} is append-only';
            END $$
            """,
            f"""
            CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION {table}_append_only()
            """,
        )
    return tuple(
        f"""
        CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON {table}
        BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END
        """
        for operation in ("UPDATE", "DELETE")
    )


HISTORY_TRIGGERS_POSTGRESQL = append_only_triggers("wf_history", "postgresql")
HISTORY_TRIGGERS_SQLITE = append_only_triggers("wf_history", "sqlite")


# -- batched writes of a tick ---------------------------------------------------------------------------------------
#
# The ORM writes what a tick changes with one statement, or one pipelined row, per object: it never batches the
# UPDATE of a versioned mapper (it checks each row count), and it inserts new rows with `INSERT ... RETURNING id`,
# whose long multi-row statements psycopg re-parses each time. For a batch of timers the helpers below write the
# instances, the new history and timer rows and the changed timers themselves; anything else (rows that effects
# add or change) still goes through the ORM flush. On PostgreSQL each write is one statement over a JSON document
# of all its rows, whatever their number; SQLite gets one executemany for the instances and the ORM's own writes
# for the rest.

# The instance columns the engine changes when it fires. An instance with any other change (made by an effect) or
# with an unloaded attribute is left to the ORM, which writes it correctly, only slower.
_ENGINE_COLUMNS = ("state", "previous_state", "is_final", "held_since", "last_seq", "updated_at")


def _recordset(table: Table, names: Sequence[str], dialect: Dialect) -> str:
    """`json_to_recordset(:rows) AS v(a type, ...)`: the rows of one statement, sent as one JSON document.

    One JSON text is far cheaper to send than an array per column, which psycopg dumps element by element in
    Python. Columns keep their own types (timestamps are parsed from ISO text, JSON columns stay JSON).
    """
    columns = ", ".join(f"{name} {table.c[name].type.compile(dialect=dialect)}" for name in names)
    return f"json_to_recordset(CAST(:rows AS JSON)) AS v({columns})"


def _rows_json(table: Table, names: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """The rows as a JSON array of objects; dates and timestamps as ISO text (the payloads are JSON already)."""
    # By the SQL type: UTCDateTime, a TypeDecorator, reports `object` as its Python type.
    temporal = {i for i, name in enumerate(names) if isinstance(table.c[name].type, DateTime | Date | UTCDateTime)}
    return json.dumps(
        [
            {
                name: (_iso(value) if i in temporal and value is not None else value)
                for i, (name, value) in enumerate(zip(names, row, strict=True))
            }
            for row in rows
        ]
    )


def _iso(value: date) -> str:
    # The same refusal as UTCDateTime: a naive timestamp would be read in the server's time zone.
    if isinstance(value, datetime) and value.tzinfo is None:
        raise ValueError("naive datetime: pass an aware datetime (UTC)")
    return value.isoformat()


def update_instances(session: Session, instances: Iterable[WorkflowInstance]) -> int:
    """Write the engine's changes to `instances` in one statement under their row versions.

    Each row is matched on id and its old `row_version` and gets version + 1, as the ORM would do. The row count
    must equal the number of rows, so one stale instance makes the whole batch fail with StaleDataError (which
    the caller turns into ConcurrentUpdate and rolls back). On success the written values become the objects'
    committed state, so the flush that follows does not write them again. Returns the number of rows written.
    """
    table = metadata.tables[WorkflowInstance.__tablename__]
    batch: list[WorkflowInstance] = []
    seen: set[int] = set()
    for instance in instances:
        if id(instance) in seen:
            continue  # an instance with two due timers in one batch is written (and versioned) once
        seen.add(id(instance))
        state = inspect(instance)
        if not state.persistent or state.unloaded or not state.modified:
            continue
        changed = set(state.committed_state)
        if not changed or not changed <= set(_ENGINE_COLUMNS):
            continue
        batch.append(instance)
    if not batch:
        return 0
    # session.connection(), not session.execute(): the latter would autoflush, i.e. write these rows the slow way.
    connection = session.connection()
    dialect = connection.dialect
    rows = [(i.id, i.row_version, *(getattr(i, name) for name in _ENGINE_COLUMNS)) for i in batch]
    if dialect.name == "postgresql":
        names = ("id", "row_version", *_ENGINE_COLUMNS)
        assignments = ", ".join(f"{name} = v.{name}" for name in _ENGINE_COLUMNS)
        statement = text(
            f"UPDATE {table.name} AS t SET {assignments}, row_version = v.row_version + 1 "
            f"FROM {_recordset(table, names, dialect)} "
            "WHERE t.id = v.id AND t.row_version = v.row_version"
        )
        written = connection.execute(statement, {"rows": _rows_json(table, names, rows)}).rowcount
    else:
        # executemany; SQLite reports the summed row count of all its executions.
        update_statement = (
            update(table)
            .where(table.c.id == bindparam("b_id"), table.c.row_version == bindparam("b_version"))
            .values({**{name: bindparam(f"b_{name}") for name in _ENGINE_COLUMNS}, "row_version": bindparam("b_next")})
        )
        params = [
            {
                "b_id": row[0],
                "b_version": row[1],
                "b_next": row[1] + 1,
                **{f"b_{name}": value for name, value in zip(_ENGINE_COLUMNS, row[2:], strict=True)},
            }
            for row in rows
        ]
        written = connection.execute(update_statement, params).rowcount
    if written != len(rows):
        raise StaleDataError(f"wf_instance: {len(rows) - written} of {len(rows)} rows were changed by another writer")
    for instance in batch:
        for name in _ENGINE_COLUMNS:
            set_committed_value(instance, name, getattr(instance, name))
        set_committed_value(instance, "row_version", instance.row_version + 1)
    return len(rows)


# The timer columns the engine changes: fired, refused, cancelled, paused, resumed (shifted).
_TIMER_COLUMNS = ("status", "fired_at", "outcome", "due_at", "deadline", "rule")


def update_timers(session: Session, timers: Iterable[TimerRow]) -> int:
    """PostgreSQL: write the engine's changes to stored `timers` in one statement, instead of the flush's
    executemany (one pipelined row each). As there, every row must be found, else StaleDataError. On SQLite
    this does nothing: the flush's executemany is the batch there. Returns the number of rows written.
    """
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name != "postgresql":
        return 0
    table = metadata.tables[TimerRow.__tablename__]
    batch: list[TimerRow] = []
    seen: set[int] = set()
    for timer in timers:
        if id(timer) in seen:
            continue
        seen.add(id(timer))
        state = inspect(timer)
        if not state.persistent or state.unloaded or not state.modified:
            continue
        changed = set(state.committed_state)
        if changed and changed <= set(_TIMER_COLUMNS):
            batch.append(timer)
    if not batch:
        return 0
    names = ("id", *_TIMER_COLUMNS)
    assignments = ", ".join(f"{name} = v.{name}" for name in _TIMER_COLUMNS)
    statement = text(
        f"UPDATE {table.name} AS t SET {assignments} FROM {_recordset(table, names, dialect)} WHERE t.id = v.id"
    )
    rows = [[getattr(timer, name) for name in names] for timer in batch]
    written = connection.execute(statement, {"rows": _rows_json(table, names, rows)}).rowcount
    if written != len(rows):
        raise StaleDataError(f"wf_timer: {len(rows) - written} of {len(rows)} rows no longer exist")
    for timer in batch:
        for name in _TIMER_COLUMNS:
            set_committed_value(timer, name, getattr(timer, name))
    return len(rows)


def _insert_order(obj: object) -> int:
    # The order in which the objects were added, so the ids rise in the order the rows were made.
    order: int = inspect(obj).insert_order
    return order


def insert_new_rows(session: Session) -> int:
    """PostgreSQL: insert the session's new history and timer rows itself, in three statements in all.

    Their ids come from the tables' sequences in one round trip (`nextval`, which is what the columns' own
    default calls, so they never collide with rows that other sessions insert meanwhile; a rolled-back batch
    leaves a gap, as a rolled-back default would). Then each table gets one INSERT of all its rows. The objects
    leave the session afterwards, detached: the tick does not use them again, and putting 30,000 objects back
    into the identity map would cost more than the insert (a later query in the session loads the rows afresh).
    On SQLite this does nothing and the ORM flush inserts them (SQLite has no sequences). Returns the number of
    rows inserted.
    """
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name != "postgresql":
        return 0
    waiting: dict[str, list[HistoryEntry | TimerRow]] = {HistoryEntry.__tablename__: [], TimerRow.__tablename__: []}
    for obj in session.new:
        # Only the exact classes: a subclass may map more columns or tables than written here.
        if type(obj) in (HistoryEntry, TimerRow) and obj.id is None:
            waiting[obj.__tablename__].append(obj)
    if not any(waiting.values()):
        return 0
    groups = [sorted(rows, key=_insert_order) for rows in waiting.values()]
    ids = connection.execute(
        text(
            "SELECT 0, nextval(s) FROM (SELECT pg_get_serial_sequence(:t0, 'id')::regclass AS s) q, "
            "generate_series(1, :n0) "
            "UNION ALL "
            "SELECT 1, nextval(s) FROM (SELECT pg_get_serial_sequence(:t1, 'id')::regclass AS s) q, "
            "generate_series(1, :n1)"
        ),
        {"t0": HistoryEntry.__tablename__, "n0": len(groups[0]), "t1": TimerRow.__tablename__, "n1": len(groups[1])},
    ).all()
    by_group: list[list[int]] = [[], []]
    for group, value in ids:
        by_group[group].append(value)
    for objs, values in zip(groups, by_group, strict=True):
        if not objs:
            continue
        table = metadata.tables[objs[0].__tablename__]
        names = [column.key for column in table.columns]
        defaults = {
            column.key: column.default.arg
            for column in table.columns
            if isinstance(column.default, ColumnDefault) and (column.default.is_scalar or column.default.is_callable)
        }
        rows = []
        for obj, new_id in zip(objs, sorted(values), strict=True):
            obj.id = new_id
            data = instance_state(obj).dict
            for name, default in defaults.items():
                # What the ORM's insert would do: a Python-side default for a value that is missing or None.
                if data.get(name) is None:
                    setattr(obj, name, default(None) if callable(default) else default)
            rows.append([data.get(name) for name in names])
        columns = ", ".join(names)
        connection.execute(
            text(f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM {_recordset(table, names, dialect)}"),
            {"rows": _rows_json(table, names, rows)},
        )
        for obj in objs:
            # Written: take each out of the session as a detached object holding what was stored (as objects are
            # once their session closes), so the flush does not insert it again. Columns never set are filled in
            # (None) first, so they count as loaded rather than expired.
            data = instance_state(obj).dict
            for name in names:
                data.setdefault(name, None)
            session.expunge(obj)
            make_transient_to_detached(obj)
    return len(ids)
