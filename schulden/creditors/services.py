"""The creditor directory: search, add and correct creditors. Services take a session and an actor; never commit.

Creditor data is about organisations, not people, so any signed-in user may read it. Every change is written to
the audit log in the caller's transaction, naming the fields that changed (never their values).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from schulden.actors import UserActor
from schulden.audit import record
from schulden.debts.models import Creditor, CreditorKind
from schulden.errors import NotFound, ValidationFailed
from schulden.roles import Role

#: Fields a user may write; everything else (id, grade history, row_version, timestamps) is the system's.
WRITABLE = (
    "name",
    "department",
    "kind",
    "category",
    "may_receive_bsn",
    "takes_email",
    "email",
    "address_line",
    "postcode",
    "city",
    "kvk",
    "grade",
    "source_url",
)
#: Optional text fields: an empty string is stored as "not known" (NULL).
_OPTIONAL_TEXT = ("department", "email", "address_line", "postcode", "city", "kvk", "grade", "source_url")

#: Keyset position: the (name, id) of the last row of the previous page.
Position = tuple[str, int]
#: The largest id a row can have (a 32-bit INTEGER column): a larger one cannot exist, and the database would
#: refuse it as a query parameter (500) instead of simply finding nothing.
MAX_ID = 2**31 - 1


def search_creditors(
    session: Session,
    *,
    q: str | None = None,
    kind: str | None = None,
    category: str | None = None,
    limit: int = 50,
    after: Position | None = None,
) -> tuple[list[Creditor], Position | None]:
    """A page of creditors ordered by (name, id), and the position after its last row (None on the last page)."""
    query = select(Creditor)
    if q and q.strip():
        query = query.where(Creditor.name.icontains(q.strip(), autoescape=True))
    if kind:
        query = query.where(Creditor.kind == kind)
    if category:
        query = query.where(Creditor.category == category)
    if after is not None:
        name, last_id = after
        query = query.where(or_(Creditor.name > name, and_(Creditor.name == name, Creditor.id > last_id)))
    # One row more than asked tells whether there is a next page, without counting.
    rows = list(session.scalars(query.order_by(Creditor.name, Creditor.id).limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, (rows[-1].name, rows[-1].id)


def get_creditor(session: Session, creditor_id: int, *, for_update: bool = False) -> Creditor:
    if not 0 < creditor_id <= MAX_ID:
        raise NotFound("creditor", creditor_id)
    query = select(Creditor).where(Creditor.id == creditor_id)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    creditor = session.scalar(query)
    if creditor is None:
        raise NotFound("creditor", creditor_id)
    return creditor


def create_creditor(
    session: Session, *, actor: UserActor, data: Mapping[str, Any], origin: str | None = None
) -> Creditor:
    """Add a creditor to the directory; raises ValidationFailed naming the field and the rule."""
    values = _clean(data)
    _check_bsn_permission(actor, values, current=False)
    result = {"kind": CreditorKind.OTHER.value, "takes_email": False, "may_receive_bsn": False, **values}
    _check_consistency(session, result, creditor_id=None)
    creditor = Creditor(**result)
    session.add(creditor)
    session.flush()
    record(
        session,
        actor=actor,
        action="creditor.create",
        object_type="creditor",
        object_id=creditor.id,
        origin=origin,
        details={"fields": sorted(values)},
    )
    return creditor


def update_creditor(
    session: Session, creditor: Creditor, *, actor: UserActor, data: Mapping[str, Any], origin: str | None = None
) -> list[str]:
    """Apply a correction; returns the names of the fields that changed (nothing changed: no write, no audit)."""
    values = _clean(data)
    _check_bsn_permission(actor, values, current=creditor.may_receive_bsn)
    result = {field: getattr(creditor, field) for field in WRITABLE} | values
    _check_consistency(session, result, creditor_id=creditor.id)
    changed = sorted(field for field, value in values.items() if getattr(creditor, field) != value)
    if not changed:
        return []
    moved = [field for field in changed if field in _WHERE_LETTERS_GO]
    if moved and creditor.may_receive_bsn and actor.role is not Role.ADMIN:
        # Letters to this creditor carry the BSN: redirecting them is a beheerder's decision.
        raise ValidationFailed(
            {
                field: ["Deze schuldeiser ontvangt het BSN: alleen een beheerder wijzigt naam of adres."]
                for field in moved
            }
        )
    if moved and "grade" not in values and creditor.grade is not None:
        changed.append("grade")
        values["grade"] = None  # the confirmed address (grade A/B) no longer stands once someone changes it
    for field in changed:
        setattr(creditor, field, values[field])
    session.flush()  # row_version guards the UPDATE: a concurrent change raises StaleDataError (409)
    record(
        session,
        actor=actor,
        action="creditor.update",
        object_type="creditor",
        object_id=creditor.id,
        origin=origin,
        details={"fields": changed},
    )
    return changed


#: The fields that decide where a letter to the creditor goes.
_WHERE_LETTERS_GO = ("name", "department", "email", "address_line", "postcode", "city")


def _clean(data: Mapping[str, Any]) -> dict[str, Any]:
    values = {field: data[field] for field in WRITABLE if field in data}
    for field in _OPTIONAL_TEXT:
        if field in values and isinstance(values[field], str) and not values[field].strip():
            values[field] = None
    return values


def _check_bsn_permission(actor: UserActor, values: Mapping[str, Any], *, current: bool) -> None:
    """Whether letters may carry the BSN is a legal question: only an administrator changes it."""
    if "may_receive_bsn" in values and values["may_receive_bsn"] != current and actor.role is not Role.ADMIN:
        raise ValidationFailed(
            {
                "may_receive_bsn": [
                    "Alleen een beheerder mag vastleggen of een schuldeiser het BSN mag ontvangen "
                    "(daarvoor is een wettelijke grondslag nodig)."
                ]
            }
        )


def _check_consistency(session: Session, result: Mapping[str, Any], *, creditor_id: int | None) -> None:
    errors: dict[str, Sequence[str]] = {}
    if result.get("takes_email") and not result.get("email"):
        errors["email"] = ["Vul een e-mailadres in: deze schuldeiser neemt post per e-mail aan (takes_email)."]
    if _duplicate_exists(session, result["name"], result.get("department"), creditor_id):
        errors["name"] = ["Deze schuldeiser (zelfde naam en afdeling) staat al in het overzicht."]
    if errors:
        raise ValidationFailed(errors)


def _duplicate_exists(session: Session, name: str, department: str | None, creditor_id: int | None) -> bool:
    # lower() on both sides in SQL, so both sides fold case the same way (SQLite folds ASCII only).
    query = select(Creditor.id).where(func.lower(Creditor.name) == func.lower(name))
    if department is None:
        query = query.where(Creditor.department.is_(None))
    else:
        query = query.where(func.lower(Creditor.department) == func.lower(department))
    if creditor_id is not None:
        query = query.where(Creditor.id != creditor_id)
    return session.scalar(query.limit(1)) is not None
