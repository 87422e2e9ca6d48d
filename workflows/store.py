"""The engine's tables: instances, their immutable history, and their timers.

The application puts these tables in its own schema by sharing `metadata` (its declarative base uses it), so one
Alembic history covers both. Nothing here knows what a case or a debt is.
"""

from __future__ import annotations

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
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase, Mapped, Mapper, mapped_column

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
