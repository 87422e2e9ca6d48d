"""REST for cases: intake in one call, list, detail, changes, history, available actions and events, consent,
household, notes, transfers and the municipality. Views are thin: authenticate, call the service or query under
the actor's scope, record the audit row, commit once."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask.views import MethodView
from sqlalchemy import or_, select

from schulden import audit
from schulden.access import BSN_READERS, CASE_WRITERS
from schulden.actors import UserActor
from schulden.api.auth import current_actor
from schulden.api.blueprint import Blueprint
from schulden.api.common import check_if_match, etag_for, origin, require_role
from schulden.cases import schemas
from schulden.cases.models import (
    Case,
    CaseNote,
    Consent,
    ConsentPurpose,
    Detainee,
    DetentionType,
    HouseholdMember,
    HouseholdRelation,
)
from schulden.cases.queries import (
    CaseDetailRow,
    CaseFilters,
    OrganisationRef,
    case_detail,
    case_detail_of,
    get_case,
    list_cases,
)
from schulden.cases.services import (
    CaseChanges,
    ConsentItem,
    HouseholdInput,
    add_note,
    fire_case_event,
    link_partner,
    open_case,
    override_municipality,
    record_consents,
    set_household,
    transfer_case,
    update_case,
    withdraw_consents,
)
from schulden.errors import ValidationFailed
from schulden.extensions import workflow
from schulden.http.requests import db_session
from schulden.organisations.models import Organisation, OrganisationKind
from schulden.paging import PageArgs, decode_cursor, encode_cursor
from schulden.roles import Role
from workflows import WorkflowInstance

blp = Blueprint("cases", __name__, url_prefix="/api/v1/cases", description="Dossiers: intake, inventaris, verwijzing")

Headers = dict[str, str]

#: Events that only the services fire, each with the endpoint to use instead.
SERVICE_EVENTS = {
    "set_municipality": "Kies de gemeente met PUT /api/v1/cases/{id}/municipality.",
    "record_transfer": "Leg een overplaatsing vast met POST /api/v1/cases/{id}/transfers.",
    "change_release_date": "Wijzig de verwachte vrijlating met PATCH /api/v1/cases/{id}.",
    "send_referral": "Verstuur de verwijzing met POST /api/v1/cases/{id}/referrals.",
    "accept_referral": "Accepteer met POST /api/v1/referrals/{id}/accept.",
    "refuse_referral": "Weiger met POST /api/v1/referrals/{id}/refuse.",
    "refuse_referral_not_resident": "Weiger met POST /api/v1/referrals/{id}/refuse (kind: not_resident).",
}
#: The services name fields as the domain does; the API names them as the request does.
REQUEST_FIELD = {
    "given_names": "detainee.given_names",
    "surname": "detainee.surname",
    "date_of_birth": "detainee.date_of_birth",
    "detention_start": "detention.start",
    "expected_release": "detention.expected_release",
}


def _today() -> date:
    engine = workflow.engine
    return engine.clock().astimezone(engine.timezone).date()


def _ref(org: OrganisationRef | None) -> dict[str, Any] | None:
    return None if org is None else {"id": org.id, "name": org.name, "code": org.code}


def case_view(session: Any, actor: UserActor, case: Case) -> dict[str, Any]:
    """The view of a case the caller already holds under the actor's scope (the answer after a change)."""
    return detail_view(actor, case_detail_of(session, case))


def detail_view(actor: UserActor, detail: CaseDetailRow) -> dict[str, Any]:
    """The case as this actor may see it (no BSN field at all for volunteers and partners)."""
    case, detainee = detail.case, detail.detainee
    process = workflow.engine.registry.get(detail.process, detail.process_version)
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


def _read(session: Any, actor: UserActor, case: Case, action: str, **details: Any) -> None:
    audit.record(
        session, actor=actor, action=action, object_type="case", object_id=case.id, case_id=case.id,
        origin=origin(), details=details or None,
    )  # fmt: skip


@blp.route("")
class Cases(MethodView):
    @blp.arguments(schemas.CaseListArgs, location="query")
    @blp.response(200, schemas.CasePage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Cases you may see, newest first; filter by state, PI, municipality, urgency or release date."""
        return _case_page(args)

    @blp.arguments(schemas.CaseCreate)
    @blp.response(201, schemas.CaseWithBsnOut)
    def post(self, data: dict[str, Any]) -> tuple[dict[str, Any], int, Headers]:
        """Intake: the detainee and the detention in one call. The case starts in draft."""
        actor = current_actor()
        require_role(actor, {Role.PI_STAFF, Role.VOLUNTEER, Role.COUNSELLOR}, "een dossier openen")
        session = db_session()
        detainee, detention = data["detainee"], data["detention"]
        pi = pi_for(session, actor, detention.get("pi_id"))
        if detainee.get("bsn") and actor.role is Role.VOLUNTEER:
            raise ValidationFailed(
                {"detainee.bsn": ["Een vrijwilliger legt geen BSN vast; laat dit aan de casemanager."]}
            )
        registration = municipality_for(
            session, data.get("registration_municipality_id"), "registration_municipality_id"
        )
        try:
            case = open_from_intake(session, actor, detainee, detention, pi, registration, data)
        except ValidationFailed as exc:
            raise ValidationFailed({REQUEST_FIELD.get(k, k): v for k, v in exc.errors.items()}) from None
        _read(session, actor, case, "case.create")
        session.commit()
        return (
            case_view(session, actor, case),
            201,
            {"ETag": etag_for(case.row_version), "Location": f"/api/v1/cases/{case.id}"},
        )


def open_from_intake(
    session: Any,
    actor: UserActor,
    detainee: dict[str, Any],
    detention: dict[str, Any],
    pi: Organisation,
    registration: Organisation | None,
    data: dict[str, Any],
) -> Case:
    return open_case(
        session,
        workflow.engine,
        actor=actor,
        given_names=detainee["given_names"],
        surname_prefix=detainee.get("surname_prefix"),
        surname=detainee["surname"],
        date_of_birth=detainee["date_of_birth"],
        bsn=detainee.get("bsn"),
        dji_number=detainee.get("dji_number"),
        pi=pi,
        detention_type=DetentionType(detention["type"]),
        detention_start=detention["start"],
        expected_release=detention.get("expected_release"),
        intended_postcode=data.get("intended_postcode"),
        registration_municipality=registration,
    )


def _case_page(args: dict[str, Any]) -> dict[str, Any]:
    actor = current_actor()
    session = db_session()
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
    items, next_key = list_cases(session, actor, filters, limit=args["limit"], after=after)
    # One row for the whole page: which cases this user was shown (NEN 7513: every read of a dossier).
    audit.record(
        session,
        actor=actor,
        action="case.list",
        object_type="case",
        object_id=None,
        origin=origin(),
        details={"case_ids": [item["id"] for item in items]},
    )
    session.commit()
    return {"items": items, "next": encode_cursor(next_key) if next_key else None}


@blp.route("/search")
class CaseSearch(MethodView):
    @blp.arguments(schemas.CaseSearch)
    @blp.response(200, schemas.CasePage)
    def post(self, args: dict[str, Any]) -> dict[str, Any]:
        """Search by the start of the surname (and the list's filters). POST, so the name stays out of URLs."""
        return _case_page(args)


def pi_for(session: Any, actor: UserActor, pi_id: int | None) -> Organisation:
    if actor.role in (Role.PI_STAFF, Role.VOLUNTEER):
        # PI staff open cases in their own PI only: a pi_id naming another PI is refused, not silently ignored.
        if pi_id is not None and pi_id != actor.organisation_id:
            raise ValidationFailed({"detention.pi_id": ["U kunt alleen dossiers openen in uw eigen PI."]})
        pi_id = actor.organisation_id
    if pi_id is None:
        raise ValidationFailed({"detention.pi_id": ["Kies de PI waar de gedetineerde verblijft."]})
    pi: Organisation | None = session.get(Organisation, pi_id)
    if pi is None or pi.kind != OrganisationKind.PI.value:
        raise ValidationFailed({"detention.pi_id": [f"Geen PI met id {pi_id}."]})
    if actor.role is Role.COUNSELLOR and pi.counselling_team_id != actor.organisation_id:
        raise ValidationFailed({"detention.pi_id": ["Uw team werkt niet voor deze PI."]})
    return pi


def municipality_for(session: Any, org_id: int | None, field: str) -> Organisation | None:
    if org_id is None:
        return None
    org: Organisation | None = session.get(Organisation, org_id)
    if org is None or org.kind != OrganisationKind.MUNICIPALITY.value:
        raise ValidationFailed({field: [f"Geen gemeente met id {org_id}."]})
    return org


@blp.route("/<id:case_id>")
class CaseDetail(MethodView):
    @blp.response(200, schemas.CaseWithBsnOut)
    def get(self, case_id: int) -> tuple[dict[str, Any], int, Headers]:
        """One case, with its debt totals. The ETag is the version to send back in If-Match."""
        actor = current_actor()
        session = db_session()
        # The scope check and everything the view shows in one SELECT (docs/benchmarks.md, API).
        detail = case_detail(session, actor, case_id)
        case = detail.case
        # Read everything first, then one commit: after a commit the next query would need a new transaction.
        view = detail_view(actor, detail)
        _read(session, actor, case, "case.read")
        session.commit()
        return view, 200, {"ETag": etag_for(case.row_version), "Cache-Control": "no-store"}

    @blp.arguments(schemas.CaseUpdate)
    @blp.response(200, schemas.CaseWithBsnOut)
    def patch(self, data: dict[str, Any], case_id: int) -> tuple[dict[str, Any], int, Headers]:
        """Change the release date, intended postcode, registration or DJI number. Needs If-Match."""
        actor = current_actor()
        require_role(actor, CASE_WRITERS, "een dossier wijzigen")
        session = db_session()
        case = get_case(session, actor, case_id)
        check_if_match(case.row_version)
        clear = frozenset(k for k, v in data.items() if v is None)
        changed = update_case(
            session,
            workflow.engine,
            case,
            CaseChanges(
                expected_release=data.get("expected_release"),
                intended_postcode=data.get("intended_postcode"),
                registration_municipality_id=data.get("registration_municipality_id"),
                dji_number=data.get("dji_number"),
                clear=clear,
            ),
            actor=actor,
        )
        _read(session, actor, case, "case.update", fields=changed)
        session.commit()
        return case_view(session, actor, case), 200, {"ETag": etag_for(case.row_version)}


@blp.route("/<id:case_id>/bsn")
class CaseBsn(MethodView):
    @blp.response(200, schemas.BsnOut)
    def get(self, case_id: int) -> tuple[dict[str, Any], int, Headers]:
        """The full BSN. Every reveal is logged (security.md 2.1: masked by default, unmask logged)."""
        actor = current_actor()
        session = db_session()
        case = get_case(session, actor, case_id)
        require_role(actor, BSN_READERS, "het BSN inzien")
        detainee = session.get_one(Detainee, case.detainee_id)
        _read(session, actor, case, "bsn.reveal")
        session.commit()
        return {"bsn": detainee.bsn or ""}, 200, {"Cache-Control": "no-store"}


@blp.route("/<id:case_id>/history")
class CaseHistory(MethodView):
    @blp.response(200, schemas.HistoryOut(many=True))
    def get(self, case_id: int) -> list[Any]:
        """Everything that happened to the case, oldest first."""
        actor = current_actor()
        session = db_session()
        case = get_case(session, actor, case_id)
        instance = session.get_one(WorkflowInstance, case.instance_id)
        history = workflow.engine.history(session, instance)
        _read(session, actor, case, "case.history")
        session.commit()
        return history


@blp.route("/<id:case_id>/actions")
class CaseActions(MethodView):
    @blp.response(200, schemas.ActionOut(many=True))
    def get(self, case_id: int) -> list[Any]:
        """Every event of the case process: allowed for you now, or the reason it is not."""
        actor = current_actor()
        session = db_session()
        case = get_case(session, actor, case_id)
        instance = session.get_one(WorkflowInstance, case.instance_id)
        options = [
            o for o in workflow.engine.available_events(session, instance, actor) if o.event not in SERVICE_EVENTS
        ]
        _read(session, actor, case, "case.actions")
        session.commit()
        return options


@blp.route("/<id:case_id>/events")
class CaseEvents(MethodView):
    @blp.arguments(schemas.EventIn)
    @blp.response(201, schemas.EventResult)
    def post(self, data: dict[str, Any], case_id: int) -> tuple[dict[str, Any], int, Headers]:
        """Fire a workflow event (see /actions). A refusal answers 409 with the reason; If-Match is honoured."""
        actor = current_actor()
        session = db_session()
        case = get_case(session, actor, case_id)
        if data["event"] in SERVICE_EVENTS:
            # These record data changed through their own endpoints; fired bare they would write a history
            # that the case does not have.
            raise ValidationFailed({"event": [SERVICE_EVENTS[data["event"]]]})
        if "If-Match" in _headers():
            check_if_match(case.row_version)
        entry = fire_case_event(
            session,
            workflow.engine,
            case,
            data["event"],
            actor=actor,
            payload=data["payload"],
            reason=data.get("reason"),
        )
        session.flush()
        instance = session.get_one(WorkflowInstance, case.instance_id)
        _read(session, actor, case, "case.event", event=data["event"])
        session.commit()
        return (
            {"history": entry, "state": instance.state, "version": case.row_version},
            201,
            {"ETag": etag_for(case.row_version)},
        )


def _headers() -> Any:
    from flask import request

    return request.headers


@blp.route("/<id:case_id>/consents")
class CaseConsents(MethodView):
    @blp.response(200, schemas.ConsentOut(many=True))
    def get(self, case_id: int) -> list[Any]:
        """The signed consents, one row per purpose and recipient, including withdrawn ones."""
        actor = current_actor()
        session = db_session()
        case = get_case(session, actor, case_id)
        rows = list(session.scalars(select(Consent).where(Consent.case_id == case.id).order_by(Consent.id)))
        _read(session, actor, case, "consent.list")
        session.commit()
        return rows

    @blp.arguments(schemas.ConsentIn)
    @blp.response(201, schemas.ConsentOut(many=True))
    def post(self, data: dict[str, Any], case_id: int) -> list[Any]:
        """Record the signed authorisation (L9). With 'contact_creditors' the case moves on to the inventory."""
        actor = current_actor()
        require_role(actor, {Role.PI_STAFF, Role.COUNSELLOR}, "toestemming vastleggen")
        session = db_session()
        case = get_case(session, actor, case_id)
        rows = record_consents(
            session,
            workflow.engine,
            case,
            actor=actor,
            items=[
                ConsentItem(
                    ConsentPurpose(item["purpose"]),
                    item.get("recipient_creditor_id"),
                    item.get("recipient_organisation_id"),
                )
                for item in data["purposes"]
            ],
            signed_on=data["signed_on"],
            valid_until=data["valid_until"],
            witness=data.get("witness"),
        )
        _read(session, actor, case, "consent.create", consent_ids=[r.id for r in rows])
        session.commit()
        return rows


@blp.route("/<id:case_id>/consents/withdrawal")
class ConsentWithdrawal(MethodView):
    @blp.arguments(schemas.WithdrawalIn)
    @blp.response(200, schemas.ConsentOut(many=True))
    def post(self, data: dict[str, Any], case_id: int) -> list[Any]:
        """Withdraw some consents, or all (omit consent_ids). Withdrawing all stops the case at once."""
        actor = current_actor()
        require_role(actor, {Role.PI_STAFF, Role.COUNSELLOR}, "toestemming intrekken")
        session = db_session()
        case = get_case(session, actor, case_id)
        rows = withdraw_consents(
            session, workflow.engine, case, actor=actor, consent_ids=data.get("consent_ids"), note=data.get("note")
        )
        _read(session, actor, case, "consent.withdraw", consent_ids=[r.id for r in rows])
        session.commit()
        return rows


@blp.route("/<id:case_id>/household")
class CaseHousehold(MethodView):
    @blp.response(200, schemas.HouseholdOut)
    def get(self, case_id: int) -> dict[str, Any]:
        """The partner and children under 18 who stay behind."""
        actor = current_actor()
        session = db_session()
        case = get_case(session, actor, case_id)
        members = list(session.scalars(select(HouseholdMember).where(HouseholdMember.case_id == case.id)))
        _read(session, actor, case, "household.read")
        session.commit()
        return {"members": members}

    @blp.arguments(schemas.HouseholdIn)
    @blp.response(200, schemas.HouseholdOut)
    def put(self, data: dict[str, Any], case_id: int) -> dict[str, Any]:
        """Replace the household."""
        actor = current_actor()
        require_role(actor, CASE_WRITERS, "het huishouden wijzigen")
        session = db_session()
        case = get_case(session, actor, case_id)
        members = set_household(
            session,
            case,
            [
                HouseholdInput(
                    HouseholdRelation(m["relation"]),
                    m.get("given_names"),
                    m.get("date_of_birth"),
                    m["shares_lease"],
                    m["shares_debts"],
                )
                for m in data["members"]
            ],
            today=_today(),
        )
        _read(session, actor, case, "household.update")
        session.commit()
        return {"members": members}


@blp.route("/<id:case_id>/notes")
class CaseNotes(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, schemas.NoteOut(many=True))
    def get(self, args: dict[str, Any], case_id: int) -> list[Any]:
        """Notes shared on the case, and your own organisation's unshared notes; newest first."""
        actor = current_actor()
        session = db_session()
        case = get_case(session, actor, case_id)
        notes = list(
            session.scalars(
                select(CaseNote)
                .where(
                    CaseNote.case_id == case.id,
                    or_(CaseNote.shared.is_(True), CaseNote.organisation_id == actor.organisation_id),
                )
                .order_by(CaseNote.id.desc())
                .limit(args["limit"])
            )
        )
        _read(session, actor, case, "note.list")
        session.commit()
        return notes

    @blp.arguments(schemas.NoteIn)
    @blp.response(201, schemas.NoteOut)
    def post(self, data: dict[str, Any], case_id: int) -> CaseNote:
        """Add a note; `shared: false` keeps it within your organisation."""
        actor = current_actor()
        require_role(actor, {Role.PI_STAFF, Role.VOLUNTEER, Role.COUNSELLOR, Role.MUNICIPALITY}, "een notitie maken")
        session = db_session()
        case = get_case(session, actor, case_id)
        note = add_note(session, case, actor=actor, body=data["body"], shared=data["shared"])
        _read(session, actor, case, "note.create", note_id=note.id)
        session.commit()
        return note


@blp.route("/<id:case_id>/transfers")
class CaseTransfers(MethodView):
    @blp.arguments(schemas.TransferIn)
    @blp.response(201, schemas.CaseWithBsnOut)
    def post(self, data: dict[str, Any], case_id: int) -> dict[str, Any]:
        """The detainee moved to another PI; the case follows, and your PI no longer sees it afterwards."""
        actor = current_actor()
        require_role(actor, {Role.PI_STAFF, Role.COUNSELLOR}, "een overplaatsing vastleggen")
        session = db_session()
        case = get_case(session, actor, case_id)
        transfer_case(
            session,
            workflow.engine,
            case,
            actor=actor,
            to_pi_id=data["to_pi_id"],
            transferred_on=data["transferred_on"],
        )
        _read(session, actor, case, "case.transfer", to_pi_id=data["to_pi_id"])
        session.commit()
        return case_view(session, actor, case)


@blp.route("/<id:case_id>/municipality")
class CaseMunicipality(MethodView):
    @blp.arguments(schemas.MunicipalityChoiceIn)
    @blp.response(200, schemas.CaseWithBsnOut)
    def put(self, data: dict[str, Any], case_id: int) -> tuple[dict[str, Any], int, Headers]:
        """Override the proposed municipality, with a reason (counsellors). Needs If-Match."""
        actor = current_actor()
        require_role(actor, {Role.COUNSELLOR}, "de gemeente kiezen")
        session = db_session()
        case = get_case(session, actor, case_id)
        check_if_match(case.row_version)
        override_municipality(
            session, workflow.engine, case, actor=actor, municipality_id=data["municipality_id"], reason=data["reason"]
        )
        _read(session, actor, case, "case.route", municipality_id=data["municipality_id"])
        session.commit()
        return case_view(session, actor, case), 200, {"ETag": etag_for(case.row_version)}


@blp.route("/<id:case_id>/partners")
class CasePartners(MethodView):
    @blp.arguments(schemas.PartnerIn)
    @blp.response(201, schemas.OrganisationRef)
    def post(self, data: dict[str, Any], case_id: int) -> Organisation:
        """Let a probation or care organisation follow the case."""
        actor = current_actor()
        require_role(actor, {Role.PI_STAFF, Role.COUNSELLOR}, "een ketenpartner koppelen")
        session = db_session()
        case = get_case(session, actor, case_id)
        link_partner(session, case, organisation_id=data["organisation_id"])
        _read(session, actor, case, "case.partner", organisation_id=data["organisation_id"])
        session.commit()
        partner: Organisation = session.get_one(Organisation, data["organisation_id"])
        return partner
