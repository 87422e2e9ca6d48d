"""Correcting who the detainee is (AVG art. 16): his name, date of birth and BSN after intake, with the old values kept
as corrections (schulden/corrections.py; docs/privacy.md section 6.3).

Who: his casemanager (PI staff) and his counsellor, whose scope holds the case; the two who know him and whom he asks.
A volunteer never records a BSN (access.bsn_recording_refusal) and does not correct the person either. The audit row
(`case.identity`) names the fields changed, never a value; the old and new values are only in the correction rows,
which go with the case (schulden/retention.py). Does not commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from marshmallow import ValidationError, validates_schema
from sqlalchemy.orm import Session

from schulden import audit, corrections
from schulden.actors import UserActor
from schulden.cases.models import Case, Detainee
from schulden.cases.queries import get_case
from schulden.cases.services import normalise_name
from schulden.errors import NotPermitted, ValidationFailed
from schulden.fields import Bsn, Day, DutchSchema, Name
from schulden.roles import Role

IDENTITY_CORRECTORS = frozenset({Role.PI_STAFF, Role.COUNSELLOR})
REFUSAL = "Alleen de casemanager van de PI en de schuldhulpverlener verbeteren naam, geboortedatum of BSN."
#: The fields in the order the form and the overview show them.
FIELDS = ("given_names", "surname_prefix", "surname", "date_of_birth", "bsn")


class IdentityCorrectionIn(DutchSchema):
    """What may be corrected; a field left out stays as it is, `surname_prefix` and `bsn` may be emptied (null)."""

    given_names = Name()
    surname_prefix = Name(allow_none=True, maximum=40)
    surname = Name()
    date_of_birth = Day()
    bsn = Bsn(allow_none=True)

    @validates_schema
    def _not_empty(self, data: dict[str, object], **kwargs: object) -> None:
        if not data:
            raise ValidationError("Geef minstens één gegeven om te verbeteren.")


def correct_identity(
    session: Session,
    actor: UserActor,
    case_id: int,
    data: Mapping[str, Any],
    *,
    now: datetime,
    origin: str | None = None,
) -> tuple[Case, list[str]]:
    """Correct the detainee of the case (IdentityCorrectionIn's output); returns the case and the fields changed.
    NotPermitted for other roles, NotFound out of scope, ValidationFailed for an impossible date of birth."""
    if actor.role not in IDENTITY_CORRECTORS:
        raise NotPermitted(REFUSAL)
    case = get_case(session, actor, case_id, for_update=True)
    detainee = session.get_one(Detainee, case.detainee_id)
    new = {k: (normalise_name(v) if isinstance(v, str) and k != "bsn" else v) for k, v in data.items() if k in FIELDS}
    if "surname_prefix" in new:
        new["surname_prefix"] = new["surname_prefix"] or None
    born = new.get("date_of_birth")
    if isinstance(born, date) and born >= now.date():
        raise ValidationFailed({"date_of_birth": ["De geboortedatum ligt in de toekomst."]})
    changed = [name for name in FIELDS if name in new and getattr(detainee, name) != new[name]]
    if not changed:
        return case, []
    corrections.record(
        session, actor=actor, case_id=case.id, object_type="detainee", object_id=detainee.id, at=now,
        changes={n: (corrections.shown(getattr(detainee, n)), corrections.shown(new[n])) for n in changed},
    )  # fmt: skip
    for name in changed:
        setattr(detainee, name, new[name])
    # The case's version covers its detainee: a correction moves the ETag on.
    case.updated_at = now
    session.flush()
    audit.record(
        session, actor=actor, action="case.identity", object_type="case", object_id=case.id, case_id=case.id,
        origin=origin, details={"fields": changed},
    )  # fmt: skip
    return case, changed
