"""Structured (JSON) logs without personal data.

We never log names or BSNs; as a second line of defence a filter masks any run of nine digits (a BSN's shape) in
messages and fields, so a careless log call cannot leak one.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

NINE_DIGITS = re.compile(r"(?<!\d)\d{9}(?!\d)")
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return NINE_DIGITS.sub("[9 cijfers]", value)
    return value


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
            # The exception type only: tracebacks may quote values (names, numbers) from local variables.
            data["error"] = record.exc_info[0].__name__
        return json.dumps(data, default=str, ensure_ascii=False)


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
