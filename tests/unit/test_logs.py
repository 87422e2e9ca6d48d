"""Logs are JSON lines and never carry a BSN-shaped number."""

from __future__ import annotations

import json
import logging

from schulden.logs import JsonFormatter


def _format(message: str, *args: object, **extra: object) -> dict[str, object]:
    record = logging.LogRecord("schulden.test", logging.INFO, __file__, 1, message, args, None)
    for key, value in extra.items():
        setattr(record, key, value)
    parsed: dict[str, object] = json.loads(JsonFormatter().format(record))
    return parsed


def test_records_are_json_with_their_extra_fields() -> None:
    line = _format("case opened", case_id=12)

    assert line["message"] == "case opened"
    assert line["case_id"] == 12
    assert line["level"] == "INFO"


def test_nine_digit_numbers_are_masked_in_messages_and_fields() -> None:
    line = _format("lookup %s failed", "111222333", detail="bsn 999999990 unknown")

    assert "111222333" not in json.dumps(line)
    assert line["message"] == "lookup [9 cijfers] failed"
    assert line["detail"] == "bsn [9 cijfers] unknown"


def test_longer_numbers_are_left_alone() -> None:
    assert _format("reference 1234567890")["message"] == "reference 1234567890"
