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

from flask import Response, abort, get_flashed_messages, render_template, request
from flask.typing import ResponseReturnValue
from markupsafe import Markup
from sqlalchemy.orm import Session

from schulden.actors import UserActor
from schulden.cases.queries import CaseDetailRow
from schulden.cases.services import SERVICE_EVENTS
from schulden.cases.views import read_actions, read_case, read_history
from schulden.debts.queries import DebtListRow, read_debts
from schulden.errors import NotFound
from schulden.http.errors import record_denied
from schulden.http.ports import runtime
from schulden.http.requests import db_session
from schulden.labels import (
    AMOUNT_STATUS_LABELS,
    CATEGORY_LABELS,
    DEBT_TYPE_LABELS,
    DETENTION_LABELS,
    LETTER_STATUS_LABELS,
    label,
    letter_label,
)
from schulden.letters.lifecycle import PDF_READY, LetterStateError
from schulden.letters.models import Letter, LetterStatus
from schulden.letters.queries import read_letters
from schulden.letters.services import downloadable_letter
from schulden.replies.models import CreditorReply
from schulden.replies.queries import read_replies
from schulden.web.auth import current_actor, login_required
from schulden.web.case_overview import overview
from schulden.web.case_steps import DESTRUCTIVE_CASE_EVENTS, is_checked_case_event, is_checked_debt_event
from schulden.web.cases import blp
from schulden.web.filters import datum
from workflows.definition import START_EVENT
from workflows.store import HistoryEntry
from workflows.svg import render_svg


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
    checked: bool  # opens its check page first (case_steps.DEBT_CONSEQUENCES)


#: Debt events that are no button of a debt: the arrangement needs its figures, an answer is entered on the answer
#: form (never a bare "Saldo ontvangen" that confirms without an amount), and the first letters go for all debts
#: at once ("Alle schuldeisers aanschrijven").
DEBT_EVENTS_WITHOUT_BUTTON = frozenset({"propose_arrangement", "reply_received", "confirm_balance", "send_letters"})


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
                checked = is_checked_debt_event(event, transition.requires_reason)
                out.setdefault(debt.id, []).append(
                    DebtAction(event, transition.label, transition.requires_reason, checked)
                )
    return out


#: Case steps with a page of their own (routing, referral, release; withdrawing consent chooses what is withdrawn).
NOT_BUTTONS = SERVICE_EVENTS | {"withdraw_consent"}


@dataclass(frozen=True)
class CaseAction:
    event: str
    label: str
    checked: bool
    destructive: bool


def _case_actions(actions: list[Any], process: Any, primary: str | None) -> tuple[list[CaseAction], list[Any]]:
    """The allowed steps as buttons (the primary one left out: it stands in the overview) and the refused ones."""
    by_event = {t.event: t for t in process.transitions if t.label}
    allowed: list[CaseAction] = []
    seen: set[str] = set()
    for option in actions:
        if not option.allowed or option.event in seen or option.event == primary or option.event in NOT_BUTTONS:
            continue
        seen.add(option.event)
        transition = by_event.get(option.event)
        requires_reason = bool(transition and transition.requires_reason)
        allowed.append(
            CaseAction(
                option.event,
                option.label,
                is_checked_case_event(option.event, requires_reason),
                option.event in DESTRUCTIVE_CASE_EVENTS,
            )
        )
    # The steps that cannot be undone last, so the eye meets them after the everyday ones.
    allowed.sort(key=lambda a: a.destructive)
    refused = [o for o in actions if not o.allowed and o.event not in NOT_BUTTONS]
    return allowed, refused


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
    """History, letters and creditor answers merged, newest first, in words (no letter codes)."""
    items: list[TimelineItem] = []
    for entry in history:
        state = process.state(entry.to_state).label or entry.to_state
        event = next((t.label for t in process.transitions if t.event == entry.event and t.label), None)
        # Unlabelled events are the clocks' (e.g. the referral window reached): the target state says enough.
        event = event or ("Dossier geopend" if entry.event == START_EVENT else "Automatische stap")
        items.append(TimelineItem(_aware(entry.at), "history", f"{event}: naar {state}", entry.reason))
    for letter in letters:
        status = label(LETTER_STATUS_LABELS, letter.status)
        failed = letter.status == LetterStatus.FAILED.value
        items.append(
            TimelineItem(
                _aware(letter.sent_at or letter.rendered_at or letter.created_at),
                "letter",
                f"{letter_label(letter.letter_type, letter.round)}: {status.lower()}",
                f"{letter.last_error}; de beheerder kan de brief opnieuw laten maken" if failed else None,
                letter_id=letter.id,
                pdf_ready=letter.storage_key is not None and letter.status in PDF_READY,
            )
        )
    for reply in replies:
        received = datetime.combine(reply.received_on, time(12), tzinfo=UTC)
        read = "gelezen" if reply.reviewed_at is not None else "nog niet gelezen"
        items.append(TimelineItem(received, "reply", f"Antwoord van schuldeiser ontvangen ({read})", None))
    return sorted(items, key=lambda item: item.at, reverse=True)


@lru_cache(maxsize=256)
def _state_diagram(process: str, version: int, current: str, visited: frozenset[str]) -> Markup:
    """The case's diagram (issue 6), drawn once per definition, current state and states passed through.

    The drawing depends only on the states and transitions, never on settings such as the referral window, so
    a definition's name and version identify it across apps. render_svg escapes every text it writes.
    """
    definition = runtime().engine.registry.get(process, version)
    return Markup(render_svg(definition, current, visited=visited, id_prefix="stappen-schema"))  # noqa: S704


def _debt_messages() -> dict[int, list[tuple[str, str]]]:
    """The refusals and confirmations of per-debt steps, flashed under "debt-<id>" / "debt-done-<id>": shown next to
    their debt (ux.md), never at the top of the page."""
    out: dict[int, list[tuple[str, str]]] = defaultdict(list)
    flashed: list[tuple[str, str]] = get_flashed_messages(with_categories=True)  # type: ignore[assignment]
    for category, message in flashed:
        if category.startswith("debt-done-"):
            out[int(category.removeprefix("debt-done-"))].append(("ok", message))
        elif category.startswith("debt-"):
            out[int(category.removeprefix("debt-"))].append(("error", message))
    return out


def _render_detail(case_id: int) -> ResponseReturnValue:
    actor = current_actor()
    session = db_session()
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
    current = [r for r in replies if r.superseded_at is None]
    unread = sum(1 for r in current if r.reviewed_at is None)
    answered = {r.debt_id: r for r in current if r.debt_id is not None}
    failed = sum(1 for x in letters if x.status == LetterStatus.FAILED.value)
    summary = overview(
        view,
        role=actor.role.value,
        debts=debts,
        unread=unread,
        failed_letters=failed,
        allowed={o.event for o in actions if o.allowed},
        today=engine.today(),
        datum=datum,
    )
    primary = summary.next_step.event if summary.next_step else None
    primary_label = next((o.label for o in actions if o.event == primary), None)
    allowed, refused = _case_actions(actions, process, primary)
    return render_template(
        "dossiers/detail.html",
        case=view,
        summary=summary,
        primary_event=primary if primary_label else None,
        primary_label=primary_label,
        primary_checked=bool(primary) and is_checked_case_event(primary or "", False),
        replies=replies,
        answered=answered,
        letters=letters,
        debts=debts,
        unwritten=sum(1 for d in debts if d.state == "identified"),
        totals=_totals(debts),
        timeline=_timeline(history, letters, replies, process),
        allowed_actions=allowed,
        refused_actions=refused,
        debt_actions=_debt_actions(actor, debts),
        debt_messages=_debt_messages(),
        states=process.states,
        current_state=detail.state,
        state_diagram=_state_diagram(
            detail.process, detail.process_version, detail.state, frozenset(e.to_state for e in history)
        ),
        category_labels=CATEGORY_LABELS,
        amount_status_labels=AMOUNT_STATUS_LABELS,
        debt_type_labels=DEBT_TYPE_LABELS,
        detention_labels=DETENTION_LABELS,
    )


@blp.get("/<int:case_id>")
@login_required
def detail(case_id: int) -> ResponseReturnValue:
    return _render_detail(case_id)


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
