"""flask-smorest's Blueprint with a request parser that answers every malformed body with 400, never 500."""

from __future__ import annotations

import json
from typing import Any

import flask_smorest
from webargs.flaskparser import FlaskParser


class SafeParser(FlaskParser):
    """JSON nested a thousand levels deep makes `json.loads` raise RecursionError, which webargs does not catch:
    treat it as the invalid JSON it is."""

    def _raw_load_json(self, req: Any) -> Any:
        try:
            return super()._raw_load_json(req)
        except RecursionError as exc:
            error = json.JSONDecodeError("te diep geneste JSON", "", 0)
            return self._handle_invalid_json_error(error, req, exc)


class Blueprint(flask_smorest.Blueprint):  # type: ignore[misc]
    ARGUMENTS_PARSER = SafeParser()
