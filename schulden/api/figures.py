"""REST for the outcome figures: GET /api/v1/figures (JSON) and GET /api/v1/figures.csv (a download).

Both take the same query (`from`, `to`, `group_by`), count only the cases the caller may see, and log the read
(NEN 7513: an export is a read too). docs/figures.md defines the figures.
"""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView

from schulden.api.auth import current_actor
from schulden.api.blueprint import Blueprint
from schulden.api.common import origin, require_role
from schulden.figures import schemas
from schulden.figures.export import csv_filename, figures_csv
from schulden.figures.queries import FIGURE_READERS, Figures, read_figures
from schulden.http.ports import runtime
from schulden.http.requests import db_session

blp = Blueprint("figures", __name__, url_prefix="/api/v1", description="Kengetallen per PI en per gemeente")


@blp.before_request
def _signed_in_and_allowed() -> None:
    """Sign-in (401) and role (403) come before the query is read: an anonymous call learns nothing of it."""
    require_role(current_actor(), FIGURE_READERS, "kengetallen inzien")


def _figures(args: dict[str, Any], *, export: bool) -> Figures:
    session = db_session()
    engine = runtime().engine
    result = read_figures(
        session, current_actor(), args, timezone=engine.timezone, calendar=engine.calendar, today=engine.today(),
        export=export, origin=origin(),
    )  # fmt: skip
    session.commit()
    return result


@blp.route("/figures")
class OutcomeFigures(MethodView):
    @blp.arguments(schemas.FiguresArgs, location="query")
    @blp.response(200, schemas.FiguresOut)
    def get(self, args: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Outcome figures per PI or per municipality over a period of at most two years, and their total."""
        result = _figures(args, export=False)
        body = {
            "period": result.period,
            "group_by": result.group_by.value,
            "groups": [{"group": row.group, "figures": row} for row in result.rows],
            "total": result.total,
        }
        return body, 200, {"Cache-Control": "no-store"}


@blp.route("/figures.csv")
class OutcomeFiguresCsv(MethodView):
    @blp.arguments(schemas.FiguresArgs, location="query")
    @blp.response(
        200,
        {"type": "string"},
        description="De kengetallen als CSV: puntkomma's, decimale komma, UTF-8 met BOM (voor Excel)",
        content_type="text/csv",
    )
    def get(self, args: dict[str, Any]) -> Response:
        """The same figures as a CSV download with Dutch column headers, one line per group and a total."""
        result = _figures(args, export=True)
        response = Response(figures_csv(result), mimetype="text/csv")
        response.headers["Content-Disposition"] = f'attachment; filename="{csv_filename(result)}"'
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response
