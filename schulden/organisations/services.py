"""The municipalities' debt counselling teams: who keeps their contact details, and correcting them.

Where a referral goes is the team's contact data, so it is kept by an administrator or by the municipality's own
users for their own municipality (`may_edit_team`). Services take a session and an actor and never commit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from schulden.actors import UserActor
from schulden.audit import record
from schulden.errors import NotFound
from schulden.organisations.models import Organisation, OrganisationKind
from schulden.organisations.schemas import MAX_ID
from schulden.roles import Role

#: The fields of the debt counselling team a correction may change (and its version covers).
TEAM_FIELDS = ("team_name", "email", "address_line", "postcode", "city")


def may_edit_team(actor: UserActor, municipality_id: int | None) -> bool:
    """An administrator, or a user of that municipality itself."""
    own = actor.role is Role.MUNICIPALITY and actor.organisation_id == municipality_id
    return actor.role is Role.ADMIN or own


def municipalities() -> Select[Organisation]:
    return select(Organisation).where(Organisation.kind == OrganisationKind.MUNICIPALITY.value)


def get_municipality(session: Session, municipality_id: int, *, for_update: bool = False) -> Organisation:
    """One municipality, optionally locked; NotFound for an id out of range, absent or not a municipality."""
    if not 0 < municipality_id <= MAX_ID:
        raise NotFound("municipality", municipality_id)
    query = municipalities().where(Organisation.id == municipality_id)
    if for_update:
        # PostgreSQL: the row is locked until commit, so two corrections based on one version cannot both pass.
        # SQLite: every transaction already holds the write lock (BEGIN IMMEDIATE).
        query = query.with_for_update().execution_options(populate_existing=True)
    municipality = session.scalar(query)
    if municipality is None:
        raise NotFound("municipality", municipality_id)
    return municipality


def team_version(municipality: Organisation) -> str:
    """A hash of the team's fields: Organisation has no version column, so this stands in for one."""
    values = json.dumps([getattr(municipality, field) for field in TEAM_FIELDS], ensure_ascii=False)
    return hashlib.sha256(values.encode()).hexdigest()[:20]


def correct_team(
    session: Session, municipality: Organisation, *, actor: UserActor, data: Mapping[str, Any], origin: str | None
) -> list[str]:
    """Apply a correction of the team's contact details (an empty text is "not known"); returns the fields that
    changed (none changed: no write, no audit). Does not commit."""
    values = {field: (None if data[field] == "" else data[field]) for field in TEAM_FIELDS if field in data}
    changed = sorted(field for field, value in values.items() if getattr(municipality, field) != value)
    for field in changed:
        setattr(municipality, field, values[field])
    if changed:
        record(session, actor=actor, action="municipality.update", object_type="municipality",
               object_id=municipality.id, origin=origin, details={"fields": changed})  # fmt: skip
    return changed
