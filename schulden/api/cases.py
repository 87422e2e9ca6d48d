"""REST for cases: intake in one call, list, detail, changes, history, available actions and events, consent,
household, notes, transfers and the municipality. Views are thin: authenticate, call the operation the case page
calls too (open_from_intake, take_case_step, record_signed_consent, choose_municipality: each with its rules and
audit row), or the read of schulden/cases/views.py (case_page, read_case, read_history, ...: scope, query and the
read's audit row), and commit once."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView

from schulden import audit
from schulden.access import CASE_WRITERS
from schulden.actors import UserActor
from schulden.api.auth import current_actor
from schulden.api.blueprint import Blueprint
from schulden.api.common import check_if_match, etag_for, origin, require_role
from schulden.api.idempotency import idempotent
from schulden.api.refusals import http_refusals
from schulden.cases import schemas
from schulden.cases.identity import IDENTITY_CORRECTORS, IdentityCorrectionIn, correct_identity
from schulden.cases.intake import open_from_intake
from schulden.cases.models import Case, CaseNote, Consent, HouseholdRelation
from schulden.cases.queries import get_case
from schulden.cases.services import (
    CaseChanges,
    EventHasOwnOperation,
    HouseholdInput,
    add_note,
    choose_municipality,
    link_partner,
    record_signed_consent,
    set_household,
    take_case_step,
    transfer_case,
    update_case,
    withdraw_consents,
)
from schulden.cases.views import (
    case_page,
    case_view,
    read_actions,
    read_case,
    read_consents,
    read_history,
    read_household,
    read_notes,
    reveal_bsn,
)
from schulden.errors import ValidationFailed
from schulden.http.ports import runtime
from schulden.http.requests import db_session
from schulden.organisations.models import Organisation
from schulden.paging import PageArgs
from schulden.roles import Role
from workflows import EventOption, HistoryEntry, WorkflowInstance

blp = Blueprint("cases", __name__, url_prefix="/api/v1/cases", description="Dossiers: intake, inventaris, verwijzing")

Headers = dict[str, str]

#: Where to go instead of firing one of the case's SERVICE_EVENTS bare: the endpoint of its own operation.
OWN_ENDPOINT = {
    "set_municipality": "Kies de gemeente met PUT /api/v1/cases/{id}/municipality.",
    "record_transfer": "Leg een overplaatsing vast met POST /api/v1/cases/{id}/transfers.",
    "change_release_date": "Wijzig de verwachte vrijlating met PATCH /api/v1/cases/{id}.",
    "release_early": "Leg de vrijlating vast met POST /api/v1/cases/{id}/release.",
    "send_referral": "Verstuur de verwijzing met POST /api/v1/cases/{id}/referrals.",
    "accept_referral": "Accepteer met POST /api/v1/referrals/{id}/accept.",
    "refuse_referral": "Weiger met POST /api/v1/referrals/{id}/refuse.",
    "refuse_referral_not_resident": "Weiger met POST /api/v1/referrals/{id}/refuse (kind: not_resident).",
}


def _view(session: Any, actor: UserActor, case: Case) -> dict[str, Any]:
    return case_view(session, runtime().engine, actor, case)


def _changed(session: Any, actor: UserActor, case: Case, action: str, **details: Any) -> None:
    """The audit row of a change whose operation does not write one yet (see the calls)."""
    audit.record(
        session, actor=actor, action=action, object_type="case", object_id=case.id, case_id=case.id,
        origin=origin(), details=details or None,
    )  # fmt: skip


@blp.route("")
class Cases(MethodView):
    @blp.arguments(schemas.CaseListArgs, location="query")
    @blp.response(200, schemas.CasePage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Cases you may see, newest first; filter by state, PI, municipality, urgency or release date; sort by
        name, state, PI, municipality, release date or opening (`sort`, '-' for descending). The `next` cursor
        holds the sort and a case id, never a name."""
        return _case_page(args)

    @idempotent
    @blp.arguments(schemas.CaseCreate)
    @blp.response(201, schemas.CaseWithBsnOut)
    def post(self, data: dict[str, Any]) -> tuple[dict[str, Any], int, Headers]:
        """Intake: the detainee and the detention in one call. The case starts in draft."""
        actor = current_actor()
        require_role(actor, {Role.PI_STAFF, Role.VOLUNTEER, Role.COUNSELLOR}, "een dossier openen")
        session = db_session()
        case = open_from_intake(session, runtime().engine, actor=actor, data=data, origin=origin())
        session.commit()
        return (
            _view(session, actor, case),
            201,
            {"ETag": etag_for(case.row_version), "Location": f"/api/v1/cases/{case.id}"},
        )


def _case_page(args: dict[str, Any]) -> dict[str, Any]:
    actor = current_actor()
    session = db_session()
    items, next_cursor = case_page(session, actor, args, limit=args["limit"], origin=origin())
    session.commit()
    return {"items": items, "next": next_cursor}


@blp.route("/search")
class CaseSearch(MethodView):
    @blp.arguments(schemas.CaseSearch)
    @blp.response(200, schemas.CasePage)
    def post(self, args: dict[str, Any]) -> dict[str, Any]:
        """Search by the start of the surname, with or without tussenvoegsel, ignoring case, accents and the IJ
        ligature (and the list's filters and sort). POST, so the name stays out of URLs."""
        return _case_page(args)


@blp.route("/<id:case_id>")
class CaseDetail(MethodView):
    @blp.response(200, schemas.CaseWithBsnOut)
    def get(self, case_id: int) -> tuple[dict[str, Any], int, Headers]:
        """One case, with its debt totals. The ETag is the version to send back in If-Match."""
        session = db_session()
        # The scope check and everything the view shows in one SELECT (docs/benchmarks.md, API).
        detail, view = read_case(session, runtime().engine, current_actor(), case_id, origin=origin())
        # Everything is read before the one commit: after a commit the next query would need a new transaction.
        session.commit()
        return view, 200, {"ETag": etag_for(detail.case.row_version), "Cache-Control": "no-store"}

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
            runtime().engine,
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
        _changed(session, actor, case, "case.update", fields=changed)
        session.commit()
        return _view(session, actor, case), 200, {"ETag": etag_for(case.row_version)}


@blp.route("/<id:case_id>/identity")
class CaseIdentity(MethodView):
    @blp.arguments(IdentityCorrectionIn)
    @blp.response(200, schemas.CaseWithBsnOut)
    def patch(self, data: dict[str, Any], case_id: int) -> tuple[dict[str, Any], int, Headers]:
        """Correct the detainee's name, date of birth or BSN (11-proef) after intake; the old values are kept in
        the file's corrections and shown in his access overview. PI staff and counsellors only. Needs If-Match."""
        actor = current_actor()
        require_role(actor, IDENTITY_CORRECTORS, "naam, geboortedatum of BSN verbeteren")
        session = db_session()
        case = get_case(session, actor, case_id, for_update=True)
        check_if_match(case.row_version)
        with http_refusals():
            correct_identity(session, actor, case.id, data, now=runtime().engine.clock(), origin=origin())
        session.commit()
        return _view(session, actor, case), 200, {"ETag": etag_for(case.row_version)}


@blp.route("/<id:case_id>/bsn")
class CaseBsn(MethodView):
    @blp.response(200, schemas.BsnOut)
    def get(self, case_id: int) -> tuple[dict[str, Any], int, Headers]:
        """The full BSN. Every reveal is logged (security.md 2.1: masked by default, unmask logged)."""
        actor = current_actor()
        session = db_session()
        case = get_case(session, actor, case_id)
        with http_refusals():
            bsn = reveal_bsn(session, actor, case, origin=origin())
        session.commit()
        return {"bsn": bsn}, 200, {"Cache-Control": "no-store"}


@blp.route("/<id:case_id>/history")
class CaseHistory(MethodView):
    @blp.response(200, schemas.HistoryOut(many=True))
    def get(self, case_id: int) -> list[HistoryEntry]:
        """Everything that happened to the case, oldest first."""
        actor = current_actor()
        session = db_session()
        case = get_case(session, actor, case_id)
        history = read_history(session, runtime().engine, actor, case, origin=origin())
        session.commit()
        return history


@blp.route("/<id:case_id>/actions")
class CaseActions(MethodView):
    @blp.response(200, schemas.ActionOut(many=True))
    def get(self, case_id: int) -> list[EventOption]:
        """Every event of the case process: allowed for you now, or the reason it is not."""
        actor = current_actor()
        session = db_session()
        case = get_case(session, actor, case_id)
        options = read_actions(session, runtime().engine, actor, case, origin=origin())
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
        if "If-Match" in request.headers:
            check_if_match(case.row_version)
        try:
            entry = take_case_step(
                session,
                runtime().engine,
                case,
                data["event"],
                actor=actor,
                payload=data["payload"],
                reason=data.get("reason"),
                origin=origin(),
            )
        except EventHasOwnOperation as exc:
            if exc.event not in OWN_ENDPOINT:
                raise
            raise ValidationFailed({"event": [OWN_ENDPOINT[exc.event]]}) from None
        instance = session.get_one(WorkflowInstance, case.instance_id)
        session.commit()
        return (
            {"history": entry, "state": instance.state, "version": case.row_version},
            201,
            {"ETag": etag_for(case.row_version)},
        )


@blp.route("/<id:case_id>/consents")
class CaseConsents(MethodView):
    @blp.response(200, schemas.ConsentOut(many=True))
    def get(self, case_id: int) -> list[Consent]:
        """The signed consents, one row per purpose and recipient, including withdrawn ones."""
        actor = current_actor()
        session = db_session()
        case = get_case(session, actor, case_id)
        rows = read_consents(session, actor, case, origin=origin())
        session.commit()
        return rows

    @idempotent
    @blp.arguments(schemas.ConsentIn)
    @blp.response(201, schemas.ConsentOut(many=True))
    def post(self, data: dict[str, Any], case_id: int) -> list[Any]:
        """Record the signed authorisation (L9). With 'contact_creditors' the case moves on to the inventory."""
        actor = current_actor()
        require_role(actor, {Role.PI_STAFF, Role.COUNSELLOR}, "toestemming vastleggen")
        session = db_session()
        case = get_case(session, actor, case_id)
        rows = record_signed_consent(session, runtime().engine, case, actor=actor, data=data, origin=origin())
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
        rows = withdraw_consents(session, runtime().engine, case, actor=actor, consent_ids=data.get("consent_ids"),
                                 note=data.get("note"), origin=origin())  # fmt: skip
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
        members = read_household(session, actor, case, origin=origin())
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
        engine = runtime().engine
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
            today=engine.today(),
        )
        _changed(session, actor, case, "household.update")
        session.commit()
        return {"members": members}


@blp.route("/<id:case_id>/notes")
class CaseNotes(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, schemas.NoteOut(many=True))
    def get(self, args: dict[str, Any], case_id: int) -> list[CaseNote]:
        """Notes shared on the case, and your own organisation's unshared notes; newest first."""
        actor = current_actor()
        session = db_session()
        case = get_case(session, actor, case_id)
        notes = read_notes(session, actor, case, limit=args["limit"], origin=origin())
        session.commit()
        return notes

    @idempotent
    @blp.arguments(schemas.NoteIn)
    @blp.response(201, schemas.NoteOut)
    def post(self, data: dict[str, Any], case_id: int) -> CaseNote:
        """Add a note; `shared: false` keeps it within your organisation."""
        actor = current_actor()
        require_role(actor, {Role.PI_STAFF, Role.VOLUNTEER, Role.COUNSELLOR, Role.MUNICIPALITY}, "een notitie maken")
        session = db_session()
        case = get_case(session, actor, case_id)
        note = add_note(session, case, actor=actor, body=data["body"], shared=data["shared"])
        _changed(session, actor, case, "note.create", note_id=note.id)
        session.commit()
        return note


@blp.route("/<id:case_id>/transfers")
class CaseTransfers(MethodView):
    @idempotent
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
            runtime().engine,
            case,
            actor=actor,
            to_pi_id=data["to_pi_id"],
            transferred_on=data["transferred_on"],
        )
        _changed(session, actor, case, "case.transfer", to_pi_id=data["to_pi_id"])
        session.commit()
        return _view(session, actor, case)


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
        choose_municipality(
            session,
            runtime().engine,
            case,
            actor=actor,
            municipality_id=data["municipality_id"],
            reason=data["reason"],
            origin=origin(),
        )
        session.commit()
        return _view(session, actor, case), 200, {"ETag": etag_for(case.row_version)}


@blp.route("/<id:case_id>/partners")
class CasePartners(MethodView):
    @idempotent
    @blp.arguments(schemas.PartnerIn)
    @blp.response(201, schemas.OrganisationRef)
    def post(self, data: dict[str, Any], case_id: int) -> Organisation:
        """Let a probation or care organisation follow the case."""
        actor = current_actor()
        require_role(actor, {Role.PI_STAFF, Role.COUNSELLOR}, "een ketenpartner koppelen")
        session = db_session()
        case = get_case(session, actor, case_id)
        link_partner(session, case, organisation_id=data["organisation_id"])
        _changed(session, actor, case, "case.partner", organisation_id=data["organisation_id"])
        session.commit()
        partner: Organisation = session.get_one(Organisation, data["organisation_id"])
        return partner
