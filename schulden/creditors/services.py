"""The creditor directory: search, add and correct creditors. Services take a session and an actor; never commit.

Creditor data is about organisations, not people, so any signed-in user may read it. Every change is written to
the audit log in the caller's transaction, naming the fields that changed (never their values).

The directory is shared by every PI and every counsellor, and a letter goes where its creditor's contact data
says. So the contact data (CONTACT_FIELDS) is changed by an administrator only; anyone else who may write to the
directory proposes a change (`propose_change`), which changes nothing until an administrator approves it. A
letter keeps the address it was made with (schulden/letters/services.py), so even an approved change reaches only
new letters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from schulden.actors import UserActor
from schulden.audit import record
from schulden.creditors.models import Creditor, CreditorChangeProposal, CreditorKind, ProposalStatus
from schulden.errors import DomainError, NotFound, NotPermitted, ValidationFailed
from schulden.roles import Role
from workflows.store import utcnow

#: Where a creditor's letters go and what they may carry, and how sure that is: an administrator changes these;
#: others propose. The rest (kind, category, KvK number) describes the creditor and may be corrected directly.
CONTACT_FIELDS = (
    "name",
    "department",
    "may_receive_bsn",
    "takes_email",
    "email",
    "address_line",
    "postcode",
    "city",
    "grade",
    "source_url",
)
#: Fields a user may write; everything else (id, grade history, row_version, timestamps) is the system's.
WRITABLE = (*CONTACT_FIELDS, "kind", "category", "kvk")
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
    # Retired entries (the objection desks seeded before) are kept for old letters, not offered for new debts.
    query = select(Creditor).where(Creditor.active.is_(True))
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


_Row = TypeVar("_Row", Creditor, CreditorChangeProposal)


def _get_row(session: Session, model: type[_Row], kind: str, row_id: int, *, for_update: bool) -> _Row:
    """One row by id, optionally locked; NotFound (404) for an id out of range or absent."""
    if not 0 < row_id <= MAX_ID:
        raise NotFound(kind, row_id)
    query = select(model).where(model.id == row_id)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    row = session.scalar(query)
    if row is None:
        raise NotFound(kind, row_id)
    return row


def get_creditor(session: Session, creditor_id: int, *, for_update: bool = False) -> Creditor:
    return _get_row(session, Creditor, "creditor", creditor_id, for_update=for_update)


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
    session: Session,
    creditor: Creditor,
    *,
    actor: UserActor,
    data: Mapping[str, Any],
    origin: str | None = None,
    proposal_id: int | None = None,
) -> list[str]:
    """Apply a correction; returns the names of the fields that changed (nothing changed: no write, no audit).

    Contact fields change only for an administrator (directly, or by approving a proposal: `proposal_id`)."""
    values = _clean(data)
    _check_bsn_permission(actor, values, current=creditor.may_receive_bsn)
    result = {field: getattr(creditor, field) for field in WRITABLE} | values
    _check_consistency(session, result, creditor_id=creditor.id)
    changed = sorted(field for field, value in values.items() if getattr(creditor, field) != value)
    if not changed:
        return []
    contact = [field for field in changed if field in CONTACT_FIELDS]
    if contact and actor.role is not Role.ADMIN:
        # The directory is shared: whoever changes where a creditor's letters go, redirects every organisation's.
        raise ValidationFailed({field: [CONTACT_ADMIN_ONLY] for field in contact})
    moved = [field for field in changed if field in _WHERE_LETTERS_GO]
    if moved and "grade" not in values and creditor.grade is not None:
        changed.append("grade")
        values["grade"] = None  # the confirmed address (grade A/B) no longer stands once someone changes it
    for field in changed:
        setattr(creditor, field, values[field])
    session.flush()  # row_version guards the UPDATE: a concurrent change raises StaleDataError (409)
    details: dict[str, Any] = {"fields": sorted(changed)}
    if proposal_id is not None:
        details["proposal_id"] = proposal_id
    record(
        session,
        actor=actor,
        action="creditor.update",
        object_type="creditor",
        object_id=creditor.id,
        origin=origin,
        details=details,
    )
    return sorted(changed)


CONTACT_ADMIN_ONLY = (
    "Contactgegevens van een schuldeiser wijzigt alleen een beheerder; stel de wijziging voor, "
    "dan beoordeelt een beheerder het voorstel."
)


# -- proposals --------------------------------------------------------------------------------------------------------


def propose_change(
    session: Session, creditor: Creditor, *, actor: UserActor, data: Mapping[str, Any], origin: str | None = None
) -> CreditorChangeProposal:
    """Store a proposed change of contact fields; the creditor itself does not change. Only the fields that differ
    from the directory are kept; a proposal that changes nothing, or that the directory's rules would refuse
    (takes_email without e-mail, a duplicate name), is refused now rather than at approval."""
    values = {field: value for field, value in _clean(data).items() if field in CONTACT_FIELDS}
    changes = {field: value for field, value in values.items() if getattr(creditor, field) != value}
    if not changes:
        raise ValidationFailed({"_schema": ["Dit voorstel verandert niets aan de schuldeiser."]})
    _check_consistency(
        session, {field: getattr(creditor, field) for field in WRITABLE} | changes, creditor_id=creditor.id
    )
    proposal = CreditorChangeProposal(
        creditor_id=creditor.id,
        proposed_by=actor.actor_id,
        organisation_id=actor.organisation_id,
        proposed_at=utcnow(),
        base_version=creditor.row_version,
        changes=changes,
        status=ProposalStatus.PROPOSED.value,
    )
    session.add(proposal)
    session.flush()
    _record_proposal(session, proposal, actor=actor, action="creditor.change_proposed", origin=origin)
    return proposal


def get_proposal(session: Session, proposal_id: int, *, for_update: bool = False) -> CreditorChangeProposal:
    return _get_row(session, CreditorChangeProposal, "creditor_change_proposal", proposal_id, for_update=for_update)


def list_proposals(
    session: Session,
    *,
    status: str | None = ProposalStatus.PROPOSED.value,
    creditor_id: int | None = None,
    limit: int = 50,
    after: int | None = None,
) -> tuple[list[CreditorChangeProposal], int | None]:
    """Proposals, oldest first (the queue an administrator works through); the last id for the next page."""
    query = select(CreditorChangeProposal)
    if status:
        query = query.where(CreditorChangeProposal.status == status)
    if creditor_id is not None:
        query = query.where(CreditorChangeProposal.creditor_id == creditor_id)
    if after is not None:
        query = query.where(CreditorChangeProposal.id > after)
    rows = list(session.scalars(query.order_by(CreditorChangeProposal.id).limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    return rows[:limit], rows[limit - 1].id


def approve_proposal(
    session: Session, proposal: CreditorChangeProposal, *, actor: UserActor, origin: str | None = None
) -> list[str]:
    """An administrator approves: the proposed values are written to the creditor (audited as a change naming the
    proposal) and the proposal is closed. Returns the fields that changed."""
    _check_decision(actor, proposal)
    creditor = get_creditor(session, proposal.creditor_id, for_update=True)
    changed = update_creditor(
        session, creditor, actor=actor, data=dict(proposal.changes), origin=origin, proposal_id=proposal.id
    )
    _decide(session, proposal, actor=actor, status=ProposalStatus.APPROVED, origin=origin)
    return changed


def reject_proposal(
    session: Session, proposal: CreditorChangeProposal, *, actor: UserActor, origin: str | None = None
) -> None:
    """An administrator rejects: the creditor stays as it is."""
    _check_decision(actor, proposal)
    _decide(session, proposal, actor=actor, status=ProposalStatus.REJECTED, origin=origin)


class AlreadyDecided(DomainError):
    """The proposal was approved or rejected before: it is decided once."""

    def __init__(self, status: str) -> None:
        super().__init__("Dit voorstel is al beoordeeld.")
        self.status = status


def decide_proposal(
    session: Session,
    proposal_id: int,
    *,
    actor: UserActor,
    approve: bool,
    creditor_id: int | None = None,
    origin: str | None = None,
) -> CreditorChangeProposal:
    """An administrator approves or rejects the proposal (locked while deciding). NotFound also when it is not a
    proposal for `creditor_id` (a page names both); AlreadyDecided when it was decided before."""
    proposal = get_proposal(session, proposal_id, for_update=True)
    if creditor_id is not None and proposal.creditor_id != creditor_id:
        raise NotFound("creditor_change_proposal", proposal_id)
    if approve:
        approve_proposal(session, proposal, actor=actor, origin=origin)
    else:
        reject_proposal(session, proposal, actor=actor, origin=origin)
    return proposal


def check_contact_change(actor: UserActor, fields: Iterable[str], creditor_id: int) -> None:
    """Only an administrator changes where a creditor's letters go: anyone else gets NotPermitted, naming the
    contact fields and the way to propose them. Asked before the creditor is read, so that the answer is the same
    whether or not it exists."""
    contact = sorted(field for field in fields if field in CONTACT_FIELDS)
    if contact and actor.role is not Role.ADMIN:
        raise NotPermitted(
            f"Contactgegevens ({', '.join(contact)}) wijzigt alleen een beheerder. Stel de wijziging voor met "
            f"POST /api/v1/creditors/{creditor_id}/change-proposals; een beheerder beoordeelt het voorstel."
        )


def _check_decision(actor: UserActor, proposal: CreditorChangeProposal) -> None:
    if actor.role is not Role.ADMIN:
        raise ValidationFailed({"_schema": ["Alleen een beheerder beoordeelt een voorstel."]})
    if proposal.status != ProposalStatus.PROPOSED.value:
        raise AlreadyDecided(proposal.status)


def _decide(
    session: Session,
    proposal: CreditorChangeProposal,
    *,
    actor: UserActor,
    status: ProposalStatus,
    origin: str | None,
) -> None:
    proposal.status = status.value
    proposal.decided_by = actor.actor_id
    proposal.decided_at = utcnow()
    session.flush()
    action = "creditor.change_approved" if status is ProposalStatus.APPROVED else "creditor.change_rejected"
    _record_proposal(session, proposal, actor=actor, action=action, origin=origin)


def _record_proposal(
    session: Session, proposal: CreditorChangeProposal, *, actor: UserActor, action: str, origin: str | None
) -> None:
    # Field names only: a value (an e-mail address, a contact's name in a department) may be personal data.
    record(
        session,
        actor=actor,
        action=action,
        object_type="creditor_change_proposal",
        object_id=proposal.id,
        origin=origin,
        details={"creditor_id": proposal.creditor_id, "fields": sorted(proposal.changes)},
    )


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
        errors["email"] = ["Vul een e-mailadres in: deze schuldeiser neemt post per e-mail aan."]
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
