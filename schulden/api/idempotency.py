"""`Idempotency-Key` on the API's creating calls: a retry with the same key gets the first answer, not a second case.

As payment APIs do (Stripe; draft-ietf-httpapi-idempotency-key-header): the key is the client's, per signed-in
user, method and path. With the same body the stored answer comes back (same status and body, `Idempotent-Replayed:
true`) and nothing runs again; with another body 422; while the first request still runs 409. Only a 2xx JSON
answer is kept: after a refusal the same key may be sent again. Without the header nothing changes. Storage and
its 24 hours: schulden/idempotency.py.

`@idempotent` goes above flask-smorest's decorators, so that it sees the body before it is parsed and the answer as
it is sent; it needs the actor before the view, which is why it lives in this door and not in schulden.http.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar, cast

from flask import Response, abort, make_response, request
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from schulden import audit
from schulden.actors import UserActor
from schulden.api.auth import current_actor
from schulden.api.common import origin
from schulden.http.errors import problem
from schulden.http.requests import db_session
from schulden.idempotency import IN_FLIGHT, FirstRequest, RequestKey, claim, fingerprint, forget, keep_answer
from schulden.idempotency import purge_expired as purge_expired_keys
from workflows.store import utcnow

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
#: 1 to 255 visible ASCII characters (no spaces): a UUID fits, a sentence does not.
KEY = re.compile(r"[\x21-\x7e]{1,255}")
INVALID_KEY = f"{HEADER}: gebruik 1 tot 255 zichtbare ASCII-tekens zonder spaties, bijvoorbeeld een UUID."
ONE_KEY = f"{HEADER}: stuur de kop één keer."
OTHER_BODY = (
    f"{HEADER}: deze sleutel is al gebruikt voor een verzoek met een andere inhoud. Stuur bij een herhaling precies "
    "dezelfde inhoud, of kies voor een nieuw verzoek een nieuwe sleutel."
)
RUNNING = f"{HEADER}: een verzoek met deze sleutel wordt nog verwerkt; probeer het over een ogenblik opnieuw."
ANSWER_LOST = (
    f"{HEADER}: het verzoek met deze sleutel is uitgevoerd, maar het antwoord is niet bewaard. Herhaal het niet: "
    "zoek het resultaat op (bijvoorbeeld in de lijst)."
)

#: How often this process deletes expired keys as a side job of a stored answer (seconds).
PURGE_EVERY = 60.0
_last_purge = 0.0

View = TypeVar("View", bound=Callable[..., Any])

#: The header in the OpenAPI document of every decorated operation.
HEADER_DOC = {
    "in": "header",
    "name": HEADER,
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]{1,255}$"},
    "description": (
        "Een sleutel die u zelf kiest (bijv. een UUID) om dit verzoek veilig te herhalen: binnen 24 uur geeft "
        "hetzelfde verzoek met dezelfde sleutel het eerste antwoord terug (kop Idempotent-Replayed: true) en "
        "wordt niets opnieuw gedaan. Andere inhoud met dezelfde sleutel: 422; nog bezig: 409."
    ),
}


def _key() -> str | None:
    """The request's key, or None without the header; 400 for a malformed one. A Structured Field string
    ("...", as the IETF draft writes it) is taken without its quotes."""
    values = request.headers.getlist(HEADER)
    if not values:
        return None
    if len(values) > 1:
        abort(problem(400, ONE_KEY, errors={HEADER: [ONE_KEY]}))
    value = values[0]
    if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
        value = value[1:-1]
    if not KEY.fullmatch(value):
        abort(problem(400, INVALID_KEY, errors={HEADER: [INVALID_KEY]}))
    return value


def idempotent(view: View) -> View:
    """Make a creating view safe to retry with an `Idempotency-Key` (see the module)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = _key()
        if key is None:
            return view(*args, **kwargs)
        actor = current_actor()
        session = db_session()
        now = utcnow()
        request_key = RequestKey(actor.user_id, request.method, request.path, key)
        first = claim(session, request_key, fingerprint(request.query_string, request.get_data(cache=True)), now=now)
        if first is not None:
            session.rollback()
            return _answer_again(session, actor, first, request_key, now)
        # The claim is in the request's transaction: the view's commit makes it permanent together with the work.
        response = make_response(view(*args, **kwargs))
        _keep(session, request_key, response, now)
        return response

    # The header in the operation's OpenAPI document (flask-smorest reads `_apidoc`, copied by functools.wraps).
    # Manual parameters replace the operation's own list: fine for creating calls, whose input is a JSON body.
    apidoc = dict(getattr(wrapper, "_apidoc", {}))
    manual = dict(apidoc.get("manual_doc", {}))
    manual["parameters"] = [*manual.get("parameters", []), HEADER_DOC]
    apidoc["manual_doc"] = manual
    wrapper._apidoc = apidoc  # type: ignore[attr-defined]
    return cast(View, wrapper)


def _answer_again(session: Session, actor: UserActor, first: FirstRequest, key: RequestKey, now: datetime) -> Response:
    """The answer to a key that was used before: the stored answer, or why there is none."""
    if first.fingerprint != fingerprint(request.query_string, request.get_data(cache=True)):
        return problem(422, OTHER_BODY, errors={HEADER: [OTHER_BODY]})
    if first.status is None:
        if now - first.created_at < IN_FLIGHT:
            response = problem(409, RUNNING)
            response.headers["Retry-After"] = "1"
            return response
        return problem(409, ANSWER_LOST)
    # The stored answer is shown again: logged as its own access (NEN 7513), with the path and no content.
    audit.record(session, actor=actor, action="request.replay", object_type="request", object_id=first.id,
                 origin=origin(), details={"method": key.method, "path": key.path, "status": first.status})  # fmt: skip
    session.commit()
    response = Response(first.body or "", status=first.status, mimetype="application/json")
    for name, value in first.headers.items():
        response.headers[name] = value
    response.headers[REPLAYED] = "true"
    response.headers["Cache-Control"] = "no-store"
    return response


def _keep(session: Session, key: RequestKey, response: Response, now: datetime) -> None:
    """Store a 2xx JSON answer with its claim; any other answer frees the key (nothing was created)."""
    # The view committed its work; what is open now are its reads after that commit (or work it did not commit,
    # which the end of the request would roll back as well).
    session.rollback()
    try:
        if 200 <= response.status_code < 300 and (response.is_json or not response.get_data()):
            keep_answer(session, key, status=response.status_code, body=response.get_data(as_text=True),
                        headers=dict(response.headers))  # fmt: skip
        else:
            forget(session, key)
        _purge_now_and_then(session, now)
        session.commit()
    except SQLAlchemyError:
        # The work is done and its answer is ready: a 500 now would only make the client retry. The key stays
        # without an answer, so a retry gets 409 "not stored" instead of a second object.
        session.rollback()
        log.warning("idempotent answer not stored", extra={"method": key.method, "path": key.path})


def _purge_now_and_then(session: Session, now: datetime) -> None:
    """Expired answers are deleted here (at most once a minute per process); a key is never replayed after
    24 hours either way, since `claim` replaces an expired one."""
    global _last_purge
    if time.monotonic() - _last_purge < PURGE_EVERY:
        return
    _last_purge = time.monotonic()
    purge_expired_keys(session, now=now)
