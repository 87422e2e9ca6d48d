"""JSON bodies are read refusing duplicate keys (security.md scenario 41).

Python's `json` keeps the last of two equal keys, so `{"bsn": "111222333", "bsn": "999999990"}` would be read as
the second BSN while a proxy, a log or another parser may see the first. A body with a duplicate key at any depth
is refused with 400 problem+json naming the key, before any schema sees it.

Two readers parse JSON in this app, and both are covered:
- webargs (every flask-smorest `@blp.arguments`) calls the stdlib `json.loads` itself: a `before_request` check
  reads every JSON body first and refuses duplicates with the key's full path ("detainee.bsn");
- `request.get_json()` and `flask.json.loads` go through the app's JSON provider, which refuses them too (with
  `get_json` that is a plain 400).

Every other defect of a body (not JSON, bad UTF-8, nested too deeply) is left to the parser that reads it for the
view, which already answers 400; this check only adds the duplicate rule.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask import Flask, abort, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.wrappers import Response

#: Parts of a key longer than this are cut in the message (a key may be a megabyte long).
_SHOWN = 64


class DuplicateKey(ValueError):
    """A JSON object names the same key twice; `path` is "key" or, when known, the full path "detainee.bsn"."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(f"duplicate key {path!r} in JSON")


class _Duplicated(dict[str, Any]):
    """An object in which `duplicate` appeared more than once."""

    duplicate: str


def _short(key: object) -> str:
    text = str(key)
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "…"


def duplicate_key_path(text: str) -> str | None:
    """The dotted path ("detainee.bsn", "items.0.id") of the first duplicate key in `text`, or None.

    Raises what `json.loads` raises for text that is not JSON (ValueError, RecursionError).
    """
    found = False

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal found
        obj: dict[str, Any] = {}
        for key, value in pairs:
            if key in obj:
                found = True
                marked = _Duplicated(obj)
                marked.duplicate = key
                return marked
            obj[key] = value
        return obj

    document = json.loads(text, object_pairs_hook=pairs_hook)
    if not found:
        return None
    # The hook sees an object before its parents exist: find the marked one from the top, without recursion
    # (a body may be nested hundreds of levels deep).
    stack: list[tuple[tuple[str, ...], Any]] = [((), document)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, _Duplicated):
            return ".".join((*path, _short(node.duplicate)))
        children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        stack.extend(reversed([((*path, _short(k)), v) for k, v in children]))
    return None  # pragma: no cover - the hook marked an object that is part of the document


def message(path: str) -> str:
    return f'Het veld "{path}" staat meer dan eens in de JSON; geef elk veld één keer mee.'


def refuse_duplicate_keys() -> Response | None:
    """before_request: a JSON body with a duplicate key answers 400 problem+json; other bodies pass on."""
    if not request.is_json or not request.content_length:
        return None
    try:
        text = request.get_data(cache=True).decode("utf-8")
        path = duplicate_key_path(text)
    except (ValueError, RecursionError):
        return None  # not JSON at all: the view's parser answers 400 for it
    if path is None:
        return None
    from schulden.http.errors import problem, wants_problem_json

    if wants_problem_json():
        return problem(400, message(path), errors={path: ["Dit veld staat meer dan eens in het verzoek."]})
    abort(400)


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider, but `loads` refuses duplicate keys (DuplicateKey, a ValueError: get_json says 400)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        object_hook: Callable[[dict[str, Any]], Any] | None = kwargs.pop("object_hook", None)
        pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None = kwargs.pop("object_pairs_hook", None)

        def refuse(pairs: list[tuple[str, Any]]) -> Any:
            seen: set[str] = set()
            for key, _value in pairs:
                if key in seen:
                    raise DuplicateKey(_short(key))
                seen.add(key)
            if pairs_hook is not None:
                return pairs_hook(pairs)
            obj = dict(pairs)
            return object_hook(obj) if object_hook is not None else obj

        return json.loads(s, object_pairs_hook=refuse, **kwargs)


def init_app(app: Flask) -> None:
    """Install the strict provider (keeping the settings made on the default one) and the body check."""
    provider = StrictJSONProvider(app)
    provider.sort_keys = app.json.sort_keys  # type: ignore[attr-defined]
    app.json = provider
    app.before_request(refuse_duplicate_keys)
