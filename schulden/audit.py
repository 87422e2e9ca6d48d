"""The access and change log (NEN 7513 as the model, security.md 1.4): who did what to which object, when, from
where, with what result. Written in the same transaction as the read or change it records; append-only.

People are referred to by internal id only: no names, no BSN, no values of personal fields.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import JSON, ForeignKey, Index, String, Table, bindparam, insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from schulden.db import Base
from workflows import Actor
from workflows.store import append_only_triggers, utcnow


class AuditEntry(Base):
    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[str] = mapped_column(String(64))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"))
    action: Mapped[str] = mapped_column(String(40))  # e.g. case.read, debt.update, authz_denied
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(64))
    case_id: Mapped[int | None]
    result: Mapped[str] = mapped_column(String(10), default="ok")  # ok, denied
    origin: Mapped[str | None] = mapped_column(String(45))  # the client's address
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (
        Index("ix_audit_entry_case_id_at", "case_id", "at"),
        Index("ix_audit_entry_actor_id_at", "actor_id", "at"),
    )


#: `record_read`'s statement, built once: Core, so SQLAlchemy's compiled cache is hit on every read.
_READ_ROW = insert(cast(Table, AuditEntry.__table__)).values(
    at=bindparam("at"),
    actor_id=bindparam("actor_id"),
    organisation_id=bindparam("organisation_id"),
    action=bindparam("action"),
    object_type=bindparam("object_type"),
    object_id=bindparam("object_id"),
    case_id=bindparam("case_id"),
    result="ok",
    origin=bindparam("origin"),
    details={},
)


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: int | str | None,
    case_id: int | None = None,
    result: str = "ok",
    origin: str | None = None,
    organisation_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an audit row to the caller's transaction (it commits or rolls back with the work it records)."""
    entry = AuditEntry(
        actor_id=actor.actor_id,
        organisation_id=organisation_id if organisation_id is not None else getattr(actor, "organisation_id", None),
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        case_id=case_id,
        result=result,
        origin=origin,
        details=details or {},
    )
    session.add(entry)
    return entry


def record_read(
    session: Session,
    *,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: int | str | None,
    case_id: int | None,
    origin: str | None,
) -> None:
    """The row of a read (a case opened, a part of it shown), written at once with one prepared INSERT.

    Reads are most of the requests and each writes one row: here without an ORM object, a flush or RETURNING, which
    `record` pays for a row nobody reads back (issue 16: the audited case detail against the bare read). The row is
    the same as `record`'s and is in the caller's transaction all the same."""
    session.execute(
        _READ_ROW,
        {
            "at": utcnow(),
            "actor_id": actor.actor_id,
            "organisation_id": getattr(actor, "organisation_id", None),
            "action": action,
            "object_type": object_type,
            "object_id": None if object_id is None else str(object_id),
            "case_id": case_id,
            "origin": origin,
        },
    )


AUDIT_TRIGGERS_POSTGRESQL = append_only_triggers("audit_entry", "postgresql")
AUDIT_TRIGGERS_SQLITE = append_only_triggers("audit_entry", "sqlite")
