"""What a person is shown of cases, the same for the case page and the API: the case list with its audit row, and
the view of one case (with the BSN masked, or absent, by role)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from schulden import audit
from schulden.access import BSN_READERS
from schulden.actors import UserActor
from schulden.cases.models import Case
from schulden.cases.queries import CaseDetailRow, CaseFilters, OrganisationRef, case_detail_of, list_cases
from schulden.paging import decode_cursor, encode_cursor
from workflows import Engine


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
