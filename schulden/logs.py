"""Structured (JSON) logs without personal data.

We never log names or BSNs; as a second line of defence a filter masks any run of nine digits (a BSN's shape) in
messages and fields, so a careless log call cannot leak one. The creditor's reply link `/antwoord/<token>` opens
a letter's reply for 60 days: every line written through here, and the request lines of the development server
(werkzeug logs through here) and of gunicorn (gunicorn.conf.py), shows it as `/antwoord/[token]`.

An exception is logged with its type and its traceback's frames (file, line, function), never with its message
or the values of local variables: both routinely quote what was being processed (a name, a BSN, a SQL parameter).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

NINE_DIGITS = re.compile(r"(?<!\d)\d{9}(?!\d)")
#: A path segment after /antwoord/ is a reply token, except the reply pages' own fixed names.
REPLY_TOKEN = re.compile(r"(/antwoord/)(?!(?:brief|brief\.pdf|bedankt)(?![^\s?#\"'/]))[^\s?#\"'/]+", re.IGNORECASE)
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
#: At most this many frames of a traceback (the innermost), so a deep recursion is not a megabyte of log.
MAX_FRAMES = 40


def redact(text: str) -> str:
    """`text` without reply tokens and nine-digit numbers."""
    return NINE_DIGITS.sub("[9 cijfers]", REPLY_TOKEN.sub(r"\1[token]", text))


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    return value


def exception_summary(
    exc_type: type[BaseException], exc: BaseException | None, tb: TracebackType | None
) -> dict[str, Any]:
    """The exception's type, its frames and those of its causes: where it happened, without what it said."""
    chain: list[dict[str, Any]] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    current_type: type[BaseException] = exc_type
    current_tb = tb
    while True:
        frames = traceback.extract_tb(current_tb)[-MAX_FRAMES:] if current_tb is not None else []
        chain.append(
            {
                "error": current_type.__name__,
                # The source line is our code, not data; the frame's locals are never read.
                "frames": [f"{frame.filename}:{frame.lineno} in {frame.name}: {frame.line or ''}" for frame in frames],
            }
        )
        if current is None:
            break
        seen.add(id(current))
        nxt = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
        if nxt is None or id(nxt) in seen or len(chain) >= 5:
            break
        current, current_type, current_tb = nxt, type(nxt), nxt.__traceback__
    return {"error": exc_type.__name__, "traceback": chain}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": _mask(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                data[key] = _mask(value)
        if record.exc_info and record.exc_info[0] is not None:
            # Type and frames only: the message and the locals may quote values (names, numbers).
            data.update(_mask_deep(exception_summary(*record.exc_info)))
        if record.stack_info:
            data["stack"] = _mask(record.stack_info)
        return json.dumps(data, default=str, ensure_ascii=False)


def _mask_deep(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _mask_deep(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_mask_deep(item) for item in value]
    return _mask(value)


def configure_logging(level: str = "INFO") -> None:
    """Send the root logger's records to stderr as JSON lines (idempotent)."""
    root = logging.getLogger()
    for handler in root.handlers:
        if getattr(handler, "_schuldroute", False):
            root.setLevel(level)
            return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler._schuldroute = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    # Alembic announces every plugin it loads; keep its migration lines, drop the chatter.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
