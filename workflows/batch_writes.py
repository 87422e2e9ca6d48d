"""How a tick batch and a fire write: the rows they make as plain records, and all their changes in one statement.

The ORM writes what a tick changes with one statement, or one pipelined row, per object: it never batches the
UPDATE of a versioned mapper (it checks each row count), and it inserts new rows with `INSERT ... RETURNING id`.
Building, adding and later detaching an ORM object costs more Python than writing its row: for a batch of 500
timers that is 1,500 new objects. So a tick makes its new history and timer rows as `NewHistory` and `NewTimer`
records, and `write_changes` writes them together with the changed instances and timers. A fire without effects
writes the same way (docs/architecture.md, "How the engine writes"). Anything else (rows that effects add or
change) still goes through the ORM flush.

On PostgreSQL `write_changes` is one statement, whatever the number of rows: each part reads its rows from one JSON
document. SQLite gets one executemany per table, and the flush writes the changed timers.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import Date, DateTime, Dialect, Table, TextClause, bindparam, insert, inspect, text, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import instance_state, set_committed_value
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.orm.state import InstanceState

from workflows.store import HistoryEntry, TimerRow, TimerStatus, UTCDateTime, WorkflowInstance, metadata


@dataclass(slots=True)
class NewTimer:
    """A timer that a tick started and has not written yet: the columns of `TimerRow` but its id.

    The engine changes it as it changes a stored timer (a later timer of the same instance in the batch may cancel
    or pause it), so it carries the same attribute names.
    """

    table: ClassVar[str] = TimerRow.__tablename__

    instance_id: int
    name: str
    event: str
    state: str
    status: str
    due_at: datetime
    deadline: date | None
    rule: str
    created_at: datetime
    fired_at: datetime | None = None
    outcome: str | None = None

    def as_orm(self) -> TimerRow:
        """The same row as an ORM object, for `Engine.start` and `Engine.fire`, which leave writing to the flush."""
        return TimerRow(**{f.name: getattr(self, f.name) for f in fields(self)})


@dataclass(frozen=True, slots=True)
class CancelTimers:
    """Every active timer of an instance is cancelled as it leaves `source` for `target`, but a paused timer of
    `target` (the same exception as `Engine._leave` makes). For `Engine.fire`, which then need not load the timers
    first; it only sends this where no clock is held or resumed."""

    instance_id: int
    source: str
    target: str

    @property
    def outcome(self) -> str:
        return f"status verlaten: {self.source} -> {self.target}"


@dataclass(slots=True)
class NewHistory:
    """A history row that a tick made and has not written yet: the columns of `HistoryEntry` but its id."""

    table: ClassVar[str] = HistoryEntry.__tablename__

    instance_id: int
    seq: int
    event: str
    from_state: str | None
    to_state: str
    actor_id: str
    at: datetime
    reason: str | None
    payload: dict[str, Any]
    effects: list[dict[str, Any]]
    timer_id: int | None

    def as_orm(self) -> HistoryEntry:
        """The same row as an ORM object, for `Engine.fire`, whose callers get the history entry back."""
        return HistoryEntry(**{f.name: getattr(self, f.name) for f in fields(self)})


def _recordset(table: Table, names: Sequence[str], dialect: Dialect, parameter: str = "rows") -> str:
    """`ROWS FROM (json_to_recordset(:rows) AS (a type, ...)) WITH ORDINALITY AS v(a, ..., n)`: the rows of one
    statement, sent as one JSON document, numbered in the order they were made.

    One JSON text is far cheaper to send than an array per column, which psycopg dumps element by element in
    Python. Columns keep their own types (timestamps are parsed from ISO text, JSON columns stay JSON).
    """
    columns = ", ".join(f"{name} {table.c[name].type.compile(dialect=dialect)}" for name in names)
    numbered = ", ".join((*names, "n"))
    return f"ROWS FROM (json_to_recordset(CAST(:{parameter} AS JSON)) AS ({columns})) WITH ORDINALITY AS v({numbered})"


def _rows_json(names: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """The rows as a JSON array of objects; the date and timestamp columns as ISO text. The JSON columns (payload,
    effects) go as they are: a value JSON cannot hold fails there, as it does through the ORM."""
    temporal = [i for i, name in enumerate(names) if name in _TEMPORAL]
    objects = []
    for row in rows:
        values = list(row)
        for i in temporal:
            if values[i] is not None:
                values[i] = _temporal_text(values[i])
        objects.append(dict(zip(names, values, strict=True)))
    return json.dumps(objects)


def _temporal_text(value: date) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            # The same refusal as UTCDateTime: a naive timestamp would be read in the server's time zone.
            raise ValueError("naive datetime: pass an aware datetime (UTC)")
        # In UTC before the cache: 02:30 before and after the autumn clock change compare (and hash) equal in their
        # own zone, but are an hour apart.
        return _iso(value.astimezone(UTC))
    return _iso(value)


# Cached: the rows of a batch share most of their timestamps (the tick's `now`, deadlines a fixed term later).
@functools.lru_cache(maxsize=4096)
def _iso(value: date) -> str:
    return value.isoformat()


def _stored(session: Session, objects: Iterable[object]) -> None:
    """Mark `objects` as holding what is stored, as the ORM does after its own flush writes them, so the flush that
    follows does not look at them again. Their values in memory were just written by our own statement.

    This calls the ORM's post-flush step (`InstanceState._commit_all_states`), which is not public API; the
    alternative, `set_committed_value` per attribute, leaves every object marked modified, and the next flush then
    compares all 1,000 objects of a batch column by column to find nothing to write.
    """
    states = [instance_state(obj) for obj in objects]
    InstanceState._commit_all_states(((state, state.dict) for state in states), session.identity_map)
    # The flush's other half (Session._register_persistent): the transaction knows these were written, so rolling it
    # back (a savepoint too) expires them instead of leaving what was never committed in memory.
    session._register_altered(states)


def insert_rows(session: Session, rows: Sequence[NewHistory | NewTimer]) -> int:
    """Insert the new rows of a batch, one statement per table, in the order they were made. Returns how many.

    Their ids come from the columns' own defaults (the tables' sequences on PostgreSQL), so they never collide with
    rows that other sessions insert meanwhile and rise in the order the rows were made. The tick needs no ids back:
    nothing in a batch refers to a row that the same batch made.
    """
    if not rows:
        return 0
    # session.connection(), not session.execute(): the latter would autoflush the ORM's pending objects first,
    # which is right for a query but not needed for a write of rows the ORM does not know.
    connection = session.connection()
    dialect = connection.dialect
    for kind in (NewHistory, NewTimer):
        group = [row for row in rows if type(row) is kind]
        if not group:
            continue
        table = metadata.tables[kind.table]
        names = [f.name for f in fields(kind)]
        if dialect.name == "postgresql":
            columns = ", ".join(names)
            connection.execute(
                text(
                    f"INSERT INTO {table.name} ({columns}) "
                    f"SELECT {columns} FROM {_recordset(table, names, dialect)} ORDER BY v.n"
                ),
                {"rows": _rows_json(names, ([getattr(row, name) for name in names] for row in group))},
            )
        else:
            connection.execute(insert(table), [{name: getattr(row, name) for name in names} for row in group])
    return len(rows)


# The date and timestamp columns of the engine's tables, sent as ISO text (by the SQL type: UTCDateTime, a
# TypeDecorator, reports `object` as its Python type).
_TEMPORAL = frozenset(
    column.name
    for table in (WorkflowInstance.__table__, HistoryEntry.__table__, TimerRow.__table__)
    for column in table.columns
    if isinstance(column.type, Date | DateTime | UTCDateTime)
)

# The instance columns the engine changes when it fires. An instance with any other change (made by an effect) or
# with an unloaded attribute is left to the ORM, which writes it correctly, only slower.
_ENGINE_COLUMNS = ("state", "previous_state", "is_final", "held_since", "last_seq", "updated_at")

# The timer columns the engine changes: fired, refused, cancelled, paused, resumed (shifted).
_TIMER_COLUMNS = ("status", "fired_at", "outcome", "due_at", "deadline", "rule")


def _changed(objects: Iterable[Any], columns: Sequence[str]) -> list[Any]:
    """The stored objects (each once) whose only unwritten changes are to `columns`: those we write ourselves."""
    allowed = set(columns)
    found: list[Any] = []
    seen: set[int] = set()
    for obj in objects:
        if isinstance(obj, NewTimer | NewHistory) or id(obj) in seen:
            continue  # an instance with two due timers in one batch is written (and versioned) once
        seen.add(id(obj))
        state = inspect(obj)
        if not state.persistent or state.unloaded or not state.modified:
            continue
        changed = set(state.committed_state)
        if changed and changed <= allowed:
            found.append(obj)
    return found


def _instance_rows(instances: Sequence[WorkflowInstance]) -> list[tuple[Any, ...]]:
    return [(i.id, i.row_version, *(getattr(i, name) for name in _ENGINE_COLUMNS)) for i in instances]


def _instances_written(session: Session, instances: Sequence[WorkflowInstance], written: int) -> None:
    if written != len(instances):
        raise StaleDataError(
            f"wf_instance: {len(instances) - written} of {len(instances)} rows were changed by another writer"
        )
    for instance in instances:
        set_committed_value(instance, "row_version", instance.row_version + 1)
    _stored(session, instances)


def update_instances(session: Session, instances: Iterable[WorkflowInstance]) -> int:
    """Write the engine's changes to `instances` in one statement under their row versions.

    Each row is matched on id and its old `row_version` and gets version + 1, as the ORM would do. The row count
    must equal the number of rows, so one stale instance makes the whole batch fail with StaleDataError (which
    the caller turns into ConcurrentUpdate and rolls back). On success the written values become the objects'
    committed state, so the flush that follows does not write them again. Returns the number of rows written.
    """
    batch: list[WorkflowInstance] = _changed(instances, _ENGINE_COLUMNS)
    if not batch:
        return 0
    connection = session.connection()  # not session.execute(), which would autoflush: write these the slow way
    table = metadata.tables[WorkflowInstance.__tablename__]
    rows = _instance_rows(batch)
    if connection.dialect.name == "postgresql":
        statement = text(_update_instances_sql(connection.dialect, "rows", many=True))
        written = connection.execute(
            statement, {"rows": _rows_json(_INSTANCE_NAMES, rows), "rows_ids": [row[0] for row in rows]}
        ).rowcount
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
    _instances_written(session, batch, written)
    return len(rows)


_INSTANCE_NAMES = ("id", "row_version", *_ENGINE_COLUMNS)
_TIMER_NAMES = ("id", *_TIMER_COLUMNS)


# The rows to update are also named by their keys, apart from the JSON document: the planner cannot see how many
# rows a document holds (it assumes 100) and would rather scan the whole table than look up a few rows by key. One
# key is compared as a scalar: a prepared statement's generic plan (which PostgreSQL settles on after five runs)
# guesses ten rows for any array, and then scans a small table, however bloated it has become since.
def _keys(column: str, parameter: str, many: bool) -> str:
    """`t.column = :parameter` for one key, `= ANY(:parameter)` for a list of them (see `_key_params`)."""
    if many:
        return f"t.{column} = ANY(CAST(:{parameter} AS INTEGER[]))"
    return f"t.{column} = CAST(:{parameter} AS INTEGER)"


def _key_params(keys: Sequence[int]) -> int | list[int]:
    return list(keys) if len(keys) != 1 else keys[0]


def _update_instances_sql(dialect: Dialect, parameter: str, many: bool) -> str:
    table = metadata.tables[WorkflowInstance.__tablename__]
    assignments = ", ".join(f"{name} = v.{name}" for name in _ENGINE_COLUMNS)
    return (
        f"UPDATE {table.name} AS t SET {assignments}, row_version = v.row_version + 1 "
        f"FROM {_recordset(table, _INSTANCE_NAMES, dialect, parameter)} "
        f"WHERE {_keys('id', f'{parameter}_ids', many)} AND t.id = v.id AND t.row_version = v.row_version "
        "RETURNING t.id"
    )


def write_changes(
    session: Session,
    instances: Iterable[WorkflowInstance],
    timers: Iterable[TimerRow | NewTimer],
    rows: Sequence[NewHistory | NewTimer],
    cancels: Sequence[CancelTimers] = (),
) -> list[int]:
    """Write what a fire or a tick batch did: the changed instances (under their row versions), the changed
    timers, the instances' timers to cancel, and the new history and timer rows. Returns the new history rows'
    ids, in the order they were made.

    PostgreSQL: one statement. The instances are updated first; only if every one of them still had the version
    read do the other parts write anything, so a race is decided by the version, as in the ORM's flush, and never
    ends in a duplicate history `seq`. One stale instance fails the whole write with StaleDataError and writes
    nothing; a timer that is gone fails it too, but after the rest was written: the caller must roll back after
    either (the engine turns both into ConcurrentUpdate). Written objects count as stored afterwards, so the next
    flush does not write them again. The cancels see the timers as they were before the statement, so they never
    touch the new timers it inserts.

    SQLite: the instances with `update_instances`, the new rows with `insert_rows` (whose ids are not returned:
    the engine does not ask for them there); the flush that follows writes the changed timers. The engine sends
    no cancels there.
    """
    changed_instances: list[WorkflowInstance] = _changed(instances, _ENGINE_COLUMNS)
    timers = list(timers)
    if not (changed_instances or rows or cancels or timers):
        return []  # an idle tick: nothing to send
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name != "postgresql":
        if cancels:
            raise ValueError("cancels are written on PostgreSQL only")
        update_instances(session, changed_instances)
        insert_rows(session, rows)
        return []
    changed_timers: list[TimerRow] = _changed(timers, _TIMER_COLUMNS)
    history = [row for row in rows if type(row) is NewHistory]
    new_timers = [row for row in rows if type(row) is NewTimer]
    params: dict[str, Any] = {"instance_count": len(changed_instances)}
    if changed_instances:
        params["instances"] = _rows_json(_INSTANCE_NAMES, _instance_rows(changed_instances))
        params["instances_ids"] = _key_params([instance.id for instance in changed_instances])
    if changed_timers:
        params["timers_ids"] = _key_params([timer.id for timer in changed_timers])
        params["timers"] = _rows_json(_TIMER_NAMES, ([getattr(t, n) for n in _TIMER_NAMES] for t in changed_timers))
    if cancels:
        params["cancels_ids"] = _key_params([cancel.instance_id for cancel in cancels])
        params["cancels"] = _rows_json(
            _CANCEL_NAMES, ((cancel.instance_id, cancel.target, cancel.outcome) for cancel in cancels)
        )
    for name, group in (("h", history), ("n", new_timers)):
        if group:
            names = _NEW_NAMES[name]
            params[name] = _rows_json(names, ([getattr(row, n) for n in names] for row in group))
    statement = _write_statement(
        dialect, _shape(changed_instances), _shape(changed_timers), _shape(cancels), bool(history), bool(new_timers)
    )
    instances_written, timers_written, history_ids = connection.execute(statement, params).one()
    _instances_written(session, changed_instances, instances_written)
    if timers_written != len(changed_timers):
        raise StaleDataError(f"wf_timer: {len(changed_timers) - timers_written} of {len(changed_timers)} rows are gone")
    _stored(session, changed_timers)
    return list(history_ids or [])


_CANCEL_NAMES = ("instance_id", "state", "outcome")
_NEW_NAMES = {"h": tuple(f.name for f in fields(NewHistory)), "n": tuple(f.name for f in fields(NewTimer))}
_NONE = "SELECT 0 AS id WHERE false"


def _shape(rows: Sequence[object]) -> int:
    """None, one or many (0, 1, 2): what the statement's shape depends on (see `_keys`)."""
    return min(len(rows), 2)


@functools.lru_cache(maxsize=64)
def _write_statement(
    dialect: Dialect, instances: int, timers: int, cancels: int, history: bool, new_timers: bool
) -> TextClause:
    """The statement of `write_changes` for the parts it has (none, one or many rows of each kind), built once per
    combination."""
    timer_table = metadata.tables[TimerRow.__tablename__]
    parts = [f"i AS ({_update_instances_sql(dialect, 'instances', instances > 1) if instances else _NONE})"]
    # Every other part waits for this count, i.e. for the instances' UPDATE to finish, and writes only if it is
    # complete.
    parts.append("ok AS (SELECT count(*) = :instance_count AS ok FROM i)")
    if timers:
        assignments = ", ".join(f"{name} = v.{name}" for name in _TIMER_COLUMNS)
        parts.append(
            f"c AS (UPDATE {timer_table.name} AS t SET {assignments} "
            f"FROM {_recordset(timer_table, _TIMER_NAMES, dialect, 'timers')}, ok "
            f"WHERE ok.ok AND {_keys('id', 'timers_ids', timers > 1)} AND t.id = v.id "
            "RETURNING t.id)"
        )
    else:
        parts.append(f"c AS ({_NONE})")
    if cancels:
        pending, paused, cancelled = (
            f"'{status}'" for status in (TimerStatus.PENDING, TimerStatus.PAUSED, TimerStatus.CANCELLED)
        )
        parts.append(
            f"x AS (UPDATE {timer_table.name} AS t SET status = {cancelled}, outcome = v.outcome "
            f"FROM {_recordset(timer_table, _CANCEL_NAMES, dialect, 'cancels')}, ok "
            f"WHERE ok.ok AND {_keys('instance_id', 'cancels_ids', cancels > 1)} AND t.instance_id = v.instance_id "
            f"AND t.status IN ({pending}, {paused}) AND NOT (t.status = {paused} AND t.state = v.state))"
        )
    for name, present, table_name in (
        ("h", history, HistoryEntry.__tablename__),
        ("n", new_timers, TimerRow.__tablename__),
    ):
        if not present:
            parts.append(f"{name} AS ({_NONE})")
            continue
        table = metadata.tables[table_name]
        columns = ", ".join(_NEW_NAMES[name])
        parts.append(
            f"{name} AS (INSERT INTO {table.name} ({columns}) SELECT {columns} "
            f"FROM {_recordset(table, _NEW_NAMES[name], dialect, name)}, ok WHERE ok.ok ORDER BY v.n RETURNING id)"
        )
    return text(
        f"WITH {', '.join(parts)} SELECT (SELECT count(*) FROM i), (SELECT count(*) FROM c), "
        "(SELECT array_agg(id ORDER BY id) FROM h)"
    )
