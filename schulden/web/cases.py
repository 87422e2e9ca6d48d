"""The case list for staff (the blueprint of /dossiers; the case page is `web.case_page`): the API's query, scope
and audit row, rendered as HTML.

Nothing here decides who sees what or what may happen: the list is `cases.views.case_page`, the case is
`cases.views.read_case` (scope and everything the summary shows in one SELECT, the view of the detainee with the BSN
masked by the API's role rule), its history, buttons, debts, letters and answers are the reads the API calls
(`read_history`, `read_actions`, `debts.queries.read_debts`, `letters.queries.read_letters`,
`replies.queries.read_replies`), and pressing a button is `take_case_step` / `take_debt_step`, the operations of
the API's events. So every read writes the audit row the API writes for the same data, in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, render_template, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from schulden.cases import schemas
from schulden.cases.views import case_page
from schulden.errors import ValidationFailed
from schulden.http.ports import runtime
from schulden.http.requests import db_session
from schulden.organisations.models import Organisation, OrganisationKind
from schulden.web.auth import current_actor, login_required
from schulden.web.date_fields import read_dates, with_date_parts

blp = Blueprint("dossiers", __name__, url_prefix="/dossiers")

PAGE_SIZE = 25
#: The list's filters, named as the API's query parameters (so the schema's errors name the form's fields).
FILTER_FIELDS = ("state", "pi_id", "municipality_id", "urgent", "release_after", "release_before")
#: The filters that are dates, each typed in three boxes (ux.md "Dates"); links and hidden fields carry them as ISO.
FILTER_DATES = ("release_after", "release_before")
LABELS = {
    "surname": "Achternaam begint met",
    "state": "Status",
    "pi_id": "PI",
    "municipality_id": "Gemeente",
    "urgent": "Dringend",
    "release_after": "Vrijlating vanaf",
    "release_before": "Vrijlating tot en met",
    "after": "Pagina",
    "sort": "Sorteren",
    "event": "Actie",
    "reason": "Reden",
}


def _flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as field -> [Dutch messages], the shape the form macros take."""
    if isinstance(messages, dict):
        out: dict[str, list[str]] = {}
        for key, value in messages.items():
            name = f"{prefix}{key}"
            if isinstance(value, dict):
                out.update(_flatten(value, f"{name}."))
            else:
                out[name] = [str(v) for v in (value if isinstance(value, list) else [value])]
        return out
    return {"_form": [str(messages)]}


# --- the case list -----------------------------------------------------------------------------------------------

#: The columns a person can sort by, with the API's sort name. A first click sorts ascending, a second descending.
SORT_COLUMNS = (
    ("name", "Naam"),
    ("state", "Status"),
    ("pi", "PI"),
    ("municipality", "Gemeente"),
    ("release", "Verwachte vrijlating"),
    ("created", "Geopend"),
)
DEFAULT_SORT = "-created"


def _sort_columns(sort: str, link: Callable[[str], str | None]) -> list[dict[str, Any]]:
    """Each sortable column's header: its state for aria-sort and the sort a click asks for (`link(sort)`: a URL,
    or None on a search, whose headers are buttons of a POST form)."""
    columns = []
    for name, label in SORT_COLUMNS:
        current = sort.lstrip("-") == name
        descending = sort.startswith("-")
        aria = ("descending" if descending else "ascending") if current else None
        target = f"-{name}" if current and not descending else name
        columns.append({"name": name, "label": label, "aria_sort": aria, "sort": target, "url": link(target)})
    return columns


def _filter_values(source: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """What the person chose (for the form, the links and the schema's input: empty choices left out), and the
    messages of the dates whose boxes make no date. A date is kept as its ISO text, which the links carry; one typed
    wrong is kept as its boxes, so the page (and a search started from it) shows it back as typed."""
    values: dict[str, Any] = {}
    states = [s for s in source.getlist("state") if s]
    if states:
        values["state"] = states
    for name in FILTER_FIELDS[1:]:
        value = (source.get(name) or "").strip()
        if value and name not in FILTER_DATES:
            values[name] = value
    dates, errors = read_dates(source, FILTER_DATES)
    for name in FILTER_DATES:
        if name in errors:
            values.update({key: text for key, text in dates.items() if key.startswith(f"{name}-")})
        elif dates.get(name):
            values[name] = dates[name]
    return values, errors


def _chosen(values: dict[str, Any]) -> list[str]:
    """The filters chosen, for the count on the folded filters: a date typed wrong travels as its boxes, but is one."""
    return [name for name in FILTER_FIELDS if values.get(name) or any(k.startswith(f"{name}-") for k in values)]


def _options(session: Session) -> dict[str, list[tuple[Any, str]]]:
    process = runtime().engine.registry.get("case")
    orgs = session.execute(
        select(Organisation.id, Organisation.name, Organisation.kind)
        .where(Organisation.kind.in_((OrganisationKind.PI.value, OrganisationKind.MUNICIPALITY.value)))
        .order_by(Organisation.name)
    ).all()
    return {
        "state": [(s.name, s.label or s.name) for s in process.states],
        "pi_id": [(o.id, o.name) for o in orgs if o.kind == OrganisationKind.PI.value],
        "municipality_id": [(o.id, o.name) for o in orgs if o.kind == OrganisationKind.MUNICIPALITY.value],
        "urgent": [("true", "Ja"), ("false", "Nee")],
    }


@blp.route("", methods=["GET", "POST"])
@login_required
def index() -> ResponseReturnValue:
    """GET: the filters in the URL. POST: a search by surname, which never goes into a URL (access logs)."""
    actor = current_actor()
    session = db_session()
    searching = request.method == "POST"
    source = request.form if searching else request.args
    values, date_errors = _filter_values(source)
    data: dict[str, Any] = {name: value for name, value in values.items() if name in FILTER_FIELDS}
    surname = (source.get("surname") or "").strip() if searching else ""
    if surname:
        values["surname"] = data["surname"] = surname
    sort = (source.get("sort") or "").strip()
    if sort:
        values["sort"] = data["sort"] = sort
    after = (source.get("after") or "").strip()
    if after:
        data["after"] = after
    data["limit"] = PAGE_SIZE
    schema = schemas.CaseSearch() if searching else schemas.CaseListArgs()
    errors: dict[str, list[str]] = {}
    items: list[dict[str, Any]] = []
    next_cursor: str | None = None
    try:
        args = schema.load(data)
        if not date_errors:
            # The API's list: the same query and the same audit row naming the cases shown (NEN 7513).
            items, next_cursor = case_page(session, actor, args, limit=PAGE_SIZE, origin=request.remote_addr)
    except ValidationError as exc:
        errors = _flatten(exc.messages)
    except ValidationFailed as exc:  # a cursor this app did not make
        errors = exc.errors
    errors |= date_errors
    if errors:
        session.rollback()
    else:
        session.commit()
    options = _options(session)
    state_labels = dict(options["state"])
    org_names = dict(options["pi_id"]) | dict(options["municipality_id"])
    # The GET link to the next page carries the filters only; a search goes on by POST (see the template).
    next_url = None
    if next_cursor and not searching:
        next_url = url_for("dossiers.index", **{**values, "after": next_cursor})
    # The headers sort by GET with the filters kept; on a search they post the search again (no name in a URL).
    unsorted = {name: value for name, value in values.items() if name != "sort"}
    shown_sort = sort if sort and not errors.get("sort") else DEFAULT_SORT

    def sort_link(target: str) -> str | None:
        return None if searching else url_for("dossiers.index", **unsorted, sort=target)

    columns = _sort_columns(shown_sort, sort_link)
    return render_template(
        "dossiers/index.html",
        values=with_date_parts({**values, "state": (values.get("state") or [""])[0]}, FILTER_DATES),
        filters=values,
        chosen=_chosen(values),
        unsorted=unsorted,
        columns=columns,
        errors=errors,
        labels=LABELS,
        items=items,
        options=options,
        state_labels=state_labels,
        org_names=org_names,
        searching=searching,
        surname=surname,
        next_cursor=next_cursor,
        next_url=next_url,
        paged=bool(after),
    ), (422 if errors else 200)


# The case page's routes and its steps live in their own modules on this blueprint (imported last: they need `blp`).
from schulden.web import case_page as _case_page  # noqa: E402,F401
from schulden.web import case_steps as _case_steps  # noqa: E402,F401
