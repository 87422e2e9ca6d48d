"""What a person is shown of cases, the same for the case page and the API: the case list, one case (with the BSN
masked, or absent, by role), its history, actions, consents, household and notes.

Every read here writes its audit row (NEN 7513: who viewed which case) in the caller's transaction and never
commits, so a front door only calls it; a read of a case's parts takes the case the caller holds under the actor's
scope (`get_case` / `case_detail`: out of scope is NotFound).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from schulden import audit
from schulden.access import BSN_READERS
from schulden.actors import UserActor
from schulden.cases.models import Case, CaseNote, Consent, Detainee, HouseholdMember
from schulden.cases.queries import (
    CaseDetailRow,
    CaseFilters,
    OrganisationRef,
    case_detail,
    case_detail_of,
    list_cases,
)
from schulden.cases.services import SERVICE_EVENTS
from schulden.errors import NotPermitted
from schulden.paging import decode_cursor, encode_cursor
from workflows import Engine, EventOption, HistoryEntry, WorkflowInstance


def case_page(
    session: Session, actor: UserActor, args: Mapping[str, Any], *, limit: int, origin: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the cases `actor` may see (CaseListArgs or CaseSearch output) and the cursor of the next.

    Writes one audit row for the whole page naming the cases shown (NEN 7513: every read of a dossier). A cursor
    this app did not make is ValidationFailed. Does not commit.
    """
    after = decode_cursor(args["after"], 2) if args.get("after") else None
    filters = CaseFilters(
        states=args.get("state"),
        pi_id=args.get("pi_id"),
        municipality_id=args.get("municipality_id"),
        urgent=args.get("urgent"),
        release_before=args.get("release_before"),
        release_after=args.get("release_after"),
        surname_prefix=args.get("surname"),
        sort=args["sort"],
    )
    items, next_key = list_cases(session, actor, filters, limit=limit, after=after)
    audit.record(
        session, actor=actor, action="case.list", object_type="case", object_id=None, origin=origin,
        details={"case_ids": [item["id"] for item in items]},
    )  # fmt: skip
    return items, encode_cursor(next_key) if next_key else None


def _ref(org: OrganisationRef | None) -> dict[str, Any] | None:
    return None if org is None else {"id": org.id, "name": org.name, "code": org.code}


def case_view(session: Session, engine: Engine, actor: UserActor, case: Case) -> dict[str, Any]:
    """The view of a case the caller already holds under the actor's scope (the answer after a change)."""
    return detail_view(engine, actor, case_detail_of(session, case))


def detail_view(engine: Engine, actor: UserActor, detail: CaseDetailRow) -> dict[str, Any]:
    """The case as this actor may see it (no BSN field at all for volunteers and partners)."""
    case, detainee = detail.case, detail.detainee
    process = engine.registry.get(detail.process, detail.process_version)
    detainee_out: dict[str, Any] = {
        "given_names": detainee.given_names,
        "surname_prefix": detainee.surname_prefix,
        "surname": detainee.surname,
        "date_of_birth": detainee.date_of_birth,
        "dji_number": detainee.dji_number,
    }
    if actor.role in BSN_READERS:
        detainee_out["bsn_masked"] = f"*****{detainee.bsn[-4:]}" if detainee.bsn else None
    return {
        "id": case.id,
        "version": case.row_version,
        "state": detail.state,
        "state_label": process.state(detail.state).label,
        "urgent": case.urgent,
        "threat": case.threat,
        "closure_reason": case.closure_reason,
        "detainee": detainee_out,
        "detention": {
            "pi": _ref(detail.pi),
            "type": case.detention_type,
            "start": case.detention_start,
            "expected_release": case.expected_release,
            "actual_release": case.actual_release,
        },
        "intended_postcode": case.intended_postcode,
        "registration_municipality": _ref(detail.registration_municipality),
        "municipality": _ref(detail.municipality),
        "municipality_rule": case.municipality_rule,
        "municipality_reason": case.municipality_reason,
        "referred_at": case.referred_at,
        "debts": detail.debts,
        "created_at": case.created_at,
        "updated_at": case.updated_at,
    }


# -- the reads of one case, each with its audit row ----------------------------------------------------------------


def _record_read(session: Session, actor: UserActor, case: Case, action: str, origin: str | None) -> None:
    """The row of a read of the case or one of its parts: the case is the object (no details)."""
    audit.record_read(session, actor=actor, action=action, object_type="case", object_id=case.id, case_id=case.id,
                      origin=origin)  # fmt: skip


def read_case(
    session: Session, engine: Engine, actor: UserActor, case_id: int, *, origin: str | None = None
) -> tuple[CaseDetailRow, dict[str, Any]]:
    """GET /cases/{id} and the case page: the case in the actor's scope (NotFound otherwise) with everything its
    view shows, read in one SELECT, and the view; writes the `case.read` row. Does not commit."""
    detail = case_detail(session, actor, case_id)
    view = detail_view(engine, actor, detail)
    _record_read(session, actor, detail.case, "case.read", origin)
    return detail, view


def detainee_name(session: Session, case: Case) -> str:
    """The detainee's full name, as the pages head a case with it."""
    detainee = session.get_one(Detainee, case.detainee_id)
    return " ".join(p for p in (detainee.given_names, detainee.surname_prefix, detainee.surname) if p)


def read_case_name(session: Session, actor: UserActor, case: Case, *, origin: str | None = None) -> str:
    """A page that shows a case by its detainee's name (the intake's consent step, the referral page): the name,
    with the `case.read` row of GET /cases/{id}. Does not commit."""
    _record_read(session, actor, case, "case.read", origin)
    return detainee_name(session, case)


def read_history(
    session: Session, engine: Engine, actor: UserActor, case: Case, *, origin: str | None = None
) -> list[HistoryEntry]:
    """Everything that happened to the case, oldest first, with the `case.history` row. Does not commit."""
    instance = session.get_one(WorkflowInstance, case.instance_id)
    history = engine.history(session, instance)
    _record_read(session, actor, case, "case.history", origin)
    return history


def read_actions(
    session: Session, engine: Engine, actor: UserActor, case: Case, *, origin: str | None = None
) -> list[EventOption]:
    """Every event of the case process a person fires bare (not the SERVICE_EVENTS, which have operations of
    their own): allowed for the actor now, or the reason it is not; with the `case.actions` row. Does not commit."""
    instance = session.get_one(WorkflowInstance, case.instance_id)
    options = [o for o in engine.available_events(session, instance, actor) if o.event not in SERVICE_EVENTS]
    _record_read(session, actor, case, "case.actions", origin)
    return options


def reveal_bsn(session: Session, actor: UserActor, case: Case, *, origin: str | None = None) -> str:
    """The full BSN (empty when none is known) for a role in BSN_READERS, NotPermitted for the others; every
    reveal writes the `bsn.reveal` row (security.md 2.1: masked by default, unmask logged). Does not commit."""
    if actor.role not in BSN_READERS:
        raise NotPermitted("Uw rol mag het BSN inzien niet uitvoeren.")
    detainee = session.get_one(Detainee, case.detainee_id)
    _record_read(session, actor, case, "bsn.reveal", origin)
    return detainee.bsn or ""


def read_consents(session: Session, actor: UserActor, case: Case, *, origin: str | None = None) -> list[Consent]:
    """The signed consents, one row per purpose and recipient, withdrawn ones too; the `consent.list` row."""
    rows = list(session.scalars(select(Consent).where(Consent.case_id == case.id).order_by(Consent.id)))
    _record_read(session, actor, case, "consent.list", origin)
    return rows


def read_household(
    session: Session, actor: UserActor, case: Case, *, origin: str | None = None
) -> list[HouseholdMember]:
    """The partner and children who stay behind, with the `household.read` row. Does not commit."""
    members = list(session.scalars(select(HouseholdMember).where(HouseholdMember.case_id == case.id)))
    _record_read(session, actor, case, "household.read", origin)
    return members


def read_notes(
    session: Session, actor: UserActor, case: Case, *, limit: int, origin: str | None = None
) -> list[CaseNote]:
    """The notes shared on the case and the actor's organisation's own unshared ones, newest first; the
    `note.list` row. Does not commit."""
    notes = list(
        session.scalars(
            select(CaseNote)
            .where(
                CaseNote.case_id == case.id,
                or_(CaseNote.shared.is_(True), CaseNote.organisation_id == actor.organisation_id),
            )
            .order_by(CaseNote.id.desc())
            .limit(limit)
        )
    )
    _record_read(session, actor, case, "note.list", origin)
    return notes
