"""How a tick writes a batch: the rows it makes as plain records, and its changes in a few statements.

The ORM writes what a tick changes with one statement, or one pipelined row, per object: it never batches the
UPDATE of a versioned mapper (it checks each row count), and it inserts new rows with `INSERT ... RETURNING id`.
Building, adding and later detaching an ORM object costs more Python than writing its row: for a batch of 500
timers that is 1,500 new objects. So a tick makes its new history and timer rows as `NewHistory` and `NewTimer`
records and writes them with `insert_rows`; it writes the instances with `update_instances` and the timers it
changed with `update_timers`. Anything else (rows that effects add or change) still goes through the ORM flush.

On PostgreSQL each write is one statement over a JSON document of all its rows, whatever their number; SQLite gets
one executemany per statement.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import Dialect, Table, bindparam, insert, inspect, text, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import instance_state, set_committed_value
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.orm.state import InstanceState

from workflows.store import HistoryEntry, TimerRow, WorkflowInstance, metadata


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


def _recordset(table: Table, names: Sequence[str], dialect: Dialect) -> str:
    """`ROWS FROM (json_to_recordset(:rows) AS (a type, ...)) WITH ORDINALITY AS v(a, ..., n)`: the rows of one
    statement, sent as one JSON document, numbered in the order they were made.

    One JSON text is far cheaper to send than an array per column, which psycopg dumps element by element in
    Python. Columns keep their own types (timestamps are parsed from ISO text, JSON columns stay JSON).
    """
    columns = ", ".join(f"{name} {table.c[name].type.compile(dialect=dialect)}" for name in names)
    return (
        f"ROWS FROM (json_to_recordset(CAST(:rows AS JSON)) AS ({columns})) WITH ORDINALITY AS v({', '.join(names)}, n)"
    )


def _rows_json(names: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """The rows as a JSON array of objects; dates and timestamps as ISO text (the payloads are JSON already)."""
    return json.dumps([dict(zip(names, row, strict=True)) for row in rows], default=_iso)


# Cached: the rows of a batch share most of their timestamps (the tick's `now`, deadlines a fixed term later).
@functools.lru_cache(maxsize=4096)
def _iso(value: object) -> str:
    """What JSON cannot hold of itself: a date or an aware timestamp, as ISO text (`json.dumps`'s `default`)."""
    if isinstance(value, datetime) and value.tzinfo is None:
        # The same refusal as UTCDateTime: a naive timestamp would be read in the server's time zone.
        raise ValueError("naive datetime: pass an aware datetime (UTC)")
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} cannot be written as JSON")


def _stored(session: Session, objects: Iterable[object]) -> None:
    """Mark `objects` as holding what is stored, as the ORM does after its own flush writes them, so the flush that
    follows does not look at them again. Their values in memory were just written by our own statement.

    This calls the ORM's post-flush step (`InstanceState._commit_all_states`), which is not public API; the
    alternative, `set_committed_value` per attribute, leaves every object marked modified, and the next flush then
    compares all 1,000 objects of a batch column by column to find nothing to write.
    """
    InstanceState._commit_all_states(
        ((instance_state(obj), instance_state(obj).dict) for obj in objects), session.identity_map
    )


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


# The instance columns the engine changes when it fires. An instance with any other change (made by an effect) or
# with an unloaded attribute is left to the ORM, which writes it correctly, only slower.
_ENGINE_COLUMNS = ("state", "previous_state", "is_final", "held_since", "last_seq", "updated_at")


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
    connection = session.connection()  # not session.execute(), which would autoflush: write these the slow way
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
        written = connection.execute(statement, {"rows": _rows_json(names, rows)}).rowcount
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
        set_committed_value(instance, "row_version", instance.row_version + 1)
    _stored(session, batch)
    return len(rows)


# The timer columns the engine changes: fired, refused, cancelled, paused, resumed (shifted).
_TIMER_COLUMNS = ("status", "fired_at", "outcome", "due_at", "deadline", "rule")


def update_timers(session: Session, timers: Iterable[TimerRow | NewTimer]) -> int:
    """PostgreSQL: write the engine's changes to stored `timers` in one statement, instead of the flush's
    executemany (one pipelined row each). As there, every row must be found, else StaleDataError. New timers
    (not stored yet) are skipped. On SQLite this does nothing: the flush's executemany is the batch there. Returns
    the number of rows written.
    """
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name != "postgresql":
        return 0
    table = metadata.tables[TimerRow.__tablename__]
    batch: list[TimerRow] = []
    seen: set[int] = set()
    for timer in timers:
        if isinstance(timer, NewTimer) or id(timer) in seen:
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
    written = connection.execute(statement, {"rows": _rows_json(names, rows)}).rowcount
    if written != len(rows):
        raise StaleDataError(f"wf_timer: {len(rows) - written} of {len(rows)} rows no longer exist")
    _stored(session, batch)
    return len(rows)
