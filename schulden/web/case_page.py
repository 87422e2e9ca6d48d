"""The case page for staff: the API's reads, scope, services and audit rows, rendered as HTML.

Nothing here decides who sees what or what may happen: the case is `cases.views.read_case` (scope and everything
the summary shows in one SELECT, the view of the detainee with the BSN masked by the API's role rule), its history,
buttons, debts, letters and answers are the reads the API calls (`read_history`, `read_actions`,
`debts.queries.read_debts`, `letters.queries.read_letters`, `replies.queries.read_replies`), and pressing a button
is `take_case_step` / `take_debt_step`, the operations of the API's events. So every read writes the audit row the
API writes for the same data, in one place.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, time
from functools import lru_cache
from typing import Any

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from markupsafe import Markup
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from schulden.actors import UserActor
from schulden.cases import schemas
from schulden.cases.models import Case
from schulden.cases.queries import CaseDetailRow, get_case
from schulden.cases.services import EventHasOwnOperation, take_case_step
from schulden.cases.views import read_actions, read_case, read_history
from schulden.debts.models import Debt
from schulden.debts.queries import DebtListRow, read_debts
from schulden.debts.services import take_debt_step
from schulden.errors import NotFound
from schulden.http.errors import record_denied
from schulden.http.ports import runtime
from schulden.http.requests import db_session
from schulden.labels import (
    AMOUNT_STATUS_LABELS,
    CATEGORY_LABELS,
    CLOSURE_LABELS,
    DETENTION_LABELS,
    LETTER_STATUS_LABELS,
    THREAT_LABELS,
)
from schulden.letters.lifecycle import PDF_READY, LetterStateError
from schulden.letters.models import Letter, LetterStatus
from schulden.letters.queries import read_letters
from schulden.letters.services import downloadable_letter
from schulden.replies.models import CreditorReply
from schulden.replies.queries import read_replies
from schulden.web.auth import current_actor, login_required
from schulden.web.cases import LABELS, _flatten, blp
from workflows import ConcurrentUpdate, TransitionRefused
from workflows.definition import START_EVENT
from workflows.store import HistoryEntry
from workflows.svg import render_svg


@dataclass(frozen=True)
class EventInput:
    """A choice an event needs in its payload (its guard refuses without it), shown as a select by its button."""

    payload_key: str
    label: str
    options: dict[str, str]


#: Events that take input on the page (the rest are a bare button, or a reason where the process asks one).
EVENT_INPUTS = {
    "flag_threat": EventInput("threat", "Soort dreiging", THREAT_LABELS),
    "close": EventInput("closure_reason", "Reden van afsluiten", CLOSURE_LABELS),
}


def _case_or_404(session: Session, actor: UserActor, case_id: int) -> tuple[CaseDetailRow, dict[str, Any]]:
    """The case and its view with the `case.read` row; out of scope and absent alike: the `authz_denied` audit row
    of the API, then the Dutch 404 page."""
    try:
        return read_case(session, runtime().engine, actor, case_id, origin=request.remote_addr)
    except NotFound as exc:
        record_denied(exc)
        abort(404)


# --- the case page -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DebtRow:
    id: int
    creditor: str
    debt_type: str
    category: str
    amount_status: str
    state_label: str
    principal_cents: int
    interest_cents: int
    costs_cents: int
    state: str = ""

    @property
    def total_cents(self) -> int:
        return self.principal_cents + self.interest_cents + self.costs_cents


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    kind: str  # history, letter, reply
    title: str
    detail: str | None = None
    letter_id: int | None = None
    pdf_ready: bool = False


def _debts(rows: list[DebtListRow]) -> list[DebtRow]:
    """The case's debts with creditor and state (read in one statement) as the page shows them."""
    registry = runtime().engine.registry
    return [
        DebtRow(
            row.debt.id,
            row.creditor,
            row.debt.debt_type,
            row.debt.category,
            row.debt.amount_status,
            registry.get(row.process, row.process_version).state(row.state).label or row.state,
            row.debt.principal_cents,
            row.debt.interest_cents,
            row.debt.costs_cents,
            row.state,
        )
        for row in rows
    ]


@dataclass(frozen=True)
class DebtAction:
    event: str
    label: str
    requires_reason: bool


#: Debt events that need more than a reason (the arrangement's figures) or are bookkeeping: not buttons here.
DEBT_EVENTS_WITHOUT_BUTTON = frozenset({"propose_arrangement", "reply_received"})


def _debt_actions(actor: UserActor, debts: list[DebtRow]) -> dict[int, list[DebtAction]]:
    """The labelled debt events this role may fire from each debt's state. State and role only, no guards: the
    guards cost queries per debt, and a refused one is shown with its reason when the button is pressed."""
    process = runtime().engine.registry.get("debt")
    role = actor.role.value
    out: dict[int, list[DebtAction]] = {}
    for debt in debts:
        for event in process.events:
            transition = process.transition(event, debt.state)
            if (
                transition is not None
                and transition.label
                and role in transition.roles
                and event not in DEBT_EVENTS_WITHOUT_BUTTON
            ):
                out.setdefault(debt.id, []).append(DebtAction(event, transition.label, transition.requires_reason))
    return out


def _totals(debts: list[DebtRow]) -> dict[str, dict[str, int]]:
    by_category: dict[str, int] = defaultdict(int)
    by_status: dict[str, int] = defaultdict(int)
    for debt in debts:
        by_category[debt.category] += debt.total_cents
        by_status[debt.amount_status] += debt.total_cents
    return {"by_category": dict(by_category), "by_amount_status": dict(by_status)}


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _timeline(
    history: list[HistoryEntry], letters: list[Letter], replies: list[CreditorReply], process: Any
) -> list[TimelineItem]:
    """History, letters and creditor answers merged, newest first."""
    items: list[TimelineItem] = []
    for entry in history:
        label = process.state(entry.to_state).label or entry.to_state
        event = next((t.label for t in process.transitions if t.event == entry.event and t.label), None)
        # Unlabelled events are the clocks' (e.g. the referral window reached): the target state says enough.
        event = event or ("Dossier geopend" if entry.event == START_EVENT else "Automatische stap")
        items.append(TimelineItem(_aware(entry.at), "history", f"{event}: naar {label}", entry.reason))
    for letter in letters:
        status = LETTER_STATUS_LABELS.get(letter.status, letter.status)
        items.append(
            TimelineItem(
                _aware(letter.sent_at or letter.rendered_at or letter.created_at),
                "letter",
                f"{letter.letter_type} (ronde {letter.round}): {status.lower()}",
                letter.last_error if letter.status == LetterStatus.FAILED.value else None,
                letter_id=letter.id,
                pdf_ready=letter.storage_key is not None and letter.status in PDF_READY,
            )
        )
    for reply in replies:
        received = datetime.combine(reply.received_on, time(12), tzinfo=UTC)
        read = "gelezen" if reply.reviewed_at is not None else "nog niet gelezen"
        items.append(TimelineItem(received, "reply", f"Antwoord van schuldeiser ontvangen ({read})", None))
    return sorted(items, key=lambda item: item.at, reverse=True)


def _field_ids(errors: dict[str, list[str]], event: str) -> dict[str, list[str]]:
    """Every action has its own form, so its fields are named after the event (unique ids on the page); an error
    about the event itself belongs to no field."""
    fields = {"reason": f"reden-{event}", "choice": f"keuze-{event}", "event": "_form", "payload": "_form"}
    out: dict[str, list[str]] = {}
    for key, messages in errors.items():
        out.setdefault(fields.get(key, key), []).extend(messages)
    return out


@lru_cache(maxsize=256)
def _state_diagram(process: str, version: int, current: str, visited: frozenset[str]) -> Markup:
    """The case's diagram (issue 6), drawn once per definition, current state and states passed through.

    The drawing depends only on the states and transitions, never on settings such as the referral window, so
    a definition's name and version identify it across apps. render_svg escapes every text it writes.
    """
    definition = runtime().engine.registry.get(process, version)
    return Markup(render_svg(definition, current, visited=visited, id_prefix="stappen-schema"))  # noqa: S704


def _render_detail(
    case_id: int,
    *,
    action_errors: dict[str, list[str]] | None = None,
    values: dict[str, Any] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    actor = current_actor()
    session = db_session()
    errors = _field_ids(action_errors or {}, (values or {}).get("event", ""))
    # The reads of the API's GET of the case, its history, actions, debts, letters and answers, each with its row.
    detail, view = _case_or_404(session, actor, case_id)
    case = detail.case
    engine = runtime().engine
    origin = request.remote_addr
    process = engine.registry.get(detail.process, detail.process_version)
    history = read_history(session, engine, actor, case, origin=origin)
    # Events without a label are the clocks' (system only): no person fires them, so they are no buttons.
    labelled = {t.event for t in process.transitions if t.label}
    actions = [o for o in read_actions(session, engine, actor, case, origin=origin) if o.event in labelled]
    debts = _debts(read_debts(session, actor, case, origin=origin))
    letters = read_letters(session, actor, case, origin=origin)
    replies = read_replies(session, actor, case, origin=origin)
    session.commit()
    return render_template(
        "dossiers/detail.html",
        case=view,
        debts=debts,
        totals=_totals(debts),
        timeline=_timeline(history, letters, replies, process),
        actions=actions,
        debt_actions=_debt_actions(actor, debts),
        states=process.states,
        current_state=detail.state,
        state_diagram=_state_diagram(
            detail.process, detail.process_version, detail.state, frozenset(e.to_state for e in history)
        ),
        category_labels=CATEGORY_LABELS,
        amount_status_labels=AMOUNT_STATUS_LABELS,
        detention_labels=DETENTION_LABELS,
        event_inputs=EVENT_INPUTS,
        errors=errors,
        values=values or {},
        labels=LABELS
        | {f"reden-{a.event}": "Reden" for a in actions}
        | {f"keuze-{event}": choice.label for event, choice in EVENT_INPUTS.items()},
    ), status


@blp.get("/<int:case_id>")
@login_required
def detail(case_id: int) -> ResponseReturnValue:
    return _render_detail(case_id)


@blp.post("/<int:case_id>/actie")
@login_required
def fire_event(case_id: int) -> ResponseReturnValue:
    """A button of the case page: the API's POST /cases/{id}/events, with the refusal shown on the page."""
    actor = current_actor()
    session = db_session()
    values = {name: request.form.get(name, "") for name in ("event", "reason", "choice")}
    data: dict[str, Any] = {"event": values["event"], "payload": {}}
    if values["reason"].strip():
        data["reason"] = values["reason"].strip()
    choice = EVENT_INPUTS.get(values["event"])
    if choice is not None and values["choice"]:
        data["payload"][choice.payload_key] = values["choice"]
    try:
        args = schemas.EventIn().load(data)
    except ValidationError as exc:
        return _render_detail(case_id, action_errors=_flatten(exc.messages), values=values, status=422)
    try:
        case: Case = get_case(session, actor, case_id)
    except NotFound as exc:
        record_denied(exc)
        abort(404)
    try:
        take_case_step(session, runtime().engine, case, args["event"], actor=actor, payload=args["payload"],
                       reason=args.get("reason"), origin=request.remote_addr)  # fmt: skip
        session.commit()
    except EventHasOwnOperation as exc:
        # These change data of their own and have their own pages.
        session.rollback()
        return _render_detail(case_id, action_errors=exc.errors, values=values, status=422)
    except TransitionRefused as exc:
        session.rollback()
        field = "reason" if exc.code == "reason_required" else "event"
        if exc.code == "guard" and args["event"] in EVENT_INPUTS:
            field = "choice"  # the refusal is about the input: show it at its field
        return _render_detail(case_id, action_errors={field: [exc.reason]}, values=values, status=409)
    except (ConcurrentUpdate, StaleDataError):
        session.rollback()
        message = "Iemand anders heeft dit dossier zojuist gewijzigd; bekijk het opnieuw en probeer het nog eens."
        return _render_detail(case_id, action_errors={"_form": [message]}, values=values, status=409)
    flash("De stap is uitgevoerd.", "ok")
    return redirect(url_for("dossiers.detail", case_id=case_id), 303)


@blp.post("/<int:case_id>/schulden/<int:debt_id>/actie")
@login_required
def fire_debt_action(case_id: int, debt_id: int) -> ResponseReturnValue:
    """A debt's button on the case page: the API's POST /debts/{id}/events, with the refusal shown on the page."""
    actor = current_actor()
    session = db_session()
    values = {"event": request.form.get("event", ""), "reason": request.form.get("reason", "")}
    data: dict[str, Any] = {"event": values["event"], "payload": {}}
    if values["reason"].strip():
        data["reason"] = values["reason"].strip()
    try:
        args = schemas.EventIn().load(data)
    except ValidationError as exc:
        messages = _flatten(exc.messages).get("event", ["Kies een actie."])
        return _render_detail(case_id, action_errors={"_form": messages}, status=422)
    try:
        get_case(session, actor, case_id)  # the case's scope is the debt's
    except NotFound as exc:
        record_denied(exc)
        abort(404)
    debt = session.scalar(select(Debt).where(Debt.id == debt_id, Debt.case_id == case_id))
    if debt is None or args["event"] in DEBT_EVENTS_WITHOUT_BUTTON:
        abort(404)
    try:
        take_debt_step(session, runtime().engine, debt, args["event"], actor=actor, payload=args["payload"],
                       reason=args.get("reason"), origin=request.remote_addr)  # fmt: skip
        session.commit()
    except TransitionRefused as exc:
        session.rollback()
        return _render_detail(case_id, action_errors={"_form": [exc.reason]}, status=409)
    except (ConcurrentUpdate, StaleDataError):
        session.rollback()
        message = (
            "Iemand anders heeft deze schuld zojuist gewijzigd; bekijk het dossier opnieuw en probeer het nog eens."
        )
        return _render_detail(case_id, action_errors={"_form": [message]}, status=409)
    flash("De stap is uitgevoerd.", "ok")
    return redirect(url_for("dossiers.detail", case_id=case_id), 303)


@blp.get("/brieven/<int:letter_id>.pdf")
@login_required
def letter_pdf(letter_id: int) -> ResponseReturnValue:
    """The letter's PDF with the checks of the API's GET /letters/{id}/pdf: scope, ready, audited download.

    `?bekijken=1` shows it in the browser (inline); otherwise it is a download.
    """
    session = db_session()
    try:
        letter = downloadable_letter(session, current_actor(), letter_id, origin=request.remote_addr)
    except NotFound as exc:
        record_denied(exc)
        abort(404)
    except LetterStateError as exc:
        abort(409, str(exc))
    data = runtime().store.get(letter.storage_key or "")
    session.commit()
    response = Response(data, mimetype="application/pdf")
    disposition = "inline" if request.args.get("bekijken") else "attachment"
    # The name is ours (an id), never a person's name or BSN (security.md scenario 14).
    response.headers["Content-Disposition"] = f'{disposition}; filename="brief-{letter.id}.pdf"'
    response.headers["Cache-Control"] = "no-store"
    return response
