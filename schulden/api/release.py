"""REST for the release (issue 12) and for letters the counsellor delivers by hand.

`POST /cases/{id}/release` is `schulden.cases.release.record_release`, the operation the case page's "Vrijlating
vastleggen" calls: the date, letters stopped, the insurer's reactivation, the referral due or sent, one audit row.
`POST /letters/{id}/sent-manually` is `schulden.worklist.mark_sent_manually`, the button on the task in Mijn werk.
"""

from __future__ import annotations

from typing import Any

from flask import Response, request
from flask.views import MethodView
from werkzeug.exceptions import Forbidden

from schulden.api.auth import current_actor
from schulden.api.blueprint import Blueprint
from schulden.api.common import check_if_match, etag_for, origin, require_role
from schulden.api.letters import LetterOut
from schulden.cases import schemas
from schulden.cases.queries import get_case
from schulden.cases.release import RELEASE_ROLES, ReleaseIn, ReleaseRefused, record_release
from schulden.cases.views import case_view
from schulden.errors import NotPermitted
from schulden.http.errors import problem
from schulden.http.ports import runtime
from schulden.http.requests import db_session
from schulden.letters.compose import our_reference
from schulden.letters.lifecycle import LetterStateError
from schulden.letters.models import Letter
from schulden.worklist import mark_sent_manually

blp = Blueprint("release", __name__, url_prefix="/api/v1", description="Vrijlating, zelf verstuurde brieven")


@blp.route("/cases/<id:case_id>/release")
class CaseRelease(MethodView):
    @blp.arguments(ReleaseIn)
    @blp.response(200, schemas.CaseWithBsnOut)
    def post(self, data: dict[str, Any], case_id: int) -> tuple[dict[str, Any], int, dict[str, str]] | Response:
        """Record the client's release (`released_on`, not in the future nor before the detention): unsent letters
        that describe him as detained are stopped, reminders stop, the health insurer gets the reactivation (L6),
        and the referral is due today (sent at once when a counsellor records it and the municipality and consent
        allow). 409 when the case is closed or the release is recorded already; If-Match is honoured."""
        actor = current_actor()
        require_role(actor, RELEASE_ROLES, "een vrijlating vastleggen")
        session = db_session()
        engine = runtime().engine
        # Locked: two clicks record one release (the second is refused as recorded already).
        case = get_case(session, actor, case_id, for_update=True)
        if "If-Match" in request.headers:
            check_if_match(case.row_version)
        try:
            record_release(session, engine, actor, case, released_on=data["released_on"], origin=origin())
        except ReleaseRefused as exc:
            # Its Dutch reason in the problem's detail (a bare 409 of werkzeug's would drop it).
            session.rollback()
            return problem(409, str(exc))
        session.commit()
        return case_view(session, engine, actor, case), 200, {"ETag": etag_for(case.row_version)}


@blp.route("/letters/<id:letter_id>/sent-manually")
class LetterSentManually(MethodView):
    @blp.response(200, LetterOut)
    def post(self, letter_id: int) -> dict[str, Any] | Response:
        """A letter to a creditor without a correspondence address (channel `manual`) was delivered by the counsellor
        through the creditor's own channel: it is sent from now, and the creditor's answer clock starts."""
        session = db_session()
        try:
            letter = mark_sent_manually(session, runtime().engine, current_actor(), letter_id, origin=origin())
        except LetterStateError as exc:
            session.rollback()
            return problem(409, str(exc))
        except NotPermitted as exc:
            raise Forbidden(str(exc)) from exc
        session.commit()
        return _letter_view(letter)


def _letter_view(letter: Letter) -> dict[str, Any]:
    return {**{c.name: getattr(letter, c.name) for c in Letter.__table__.columns}, "reference": our_reference(letter)}
