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


def _format_exception(exc: BaseException) -> str:
    try:
        raise exc
    except BaseException:
        import sys

        record = logging.LogRecord("schulden.test", logging.ERROR, __file__, 1, "unhandled error", (), sys.exc_info())
    return JsonFormatter().format(record)


def _raise_with_personal_data(surname: str, bsn: str) -> None:
    # A message and locals that quote the person, as a careless f-string or a library's error would.
    details = {"surname": surname, "bsn": bsn}
    raise ValueError(f"geen dossier voor {surname} ({bsn}): {details}")


#: Data, as a request would bring it; the source lines in the traceback only name the variables.
SURNAME, BSN = "Vermeulen-Oosterhuis", "111222333"


def test_an_exception_is_logged_with_its_frames_but_without_its_message() -> None:
    try:
        try:
            _raise_with_personal_data(SURNAME, BSN)
        except ValueError as inner:
            raise RuntimeError(f"verwerking mislukt voor {SURNAME}: {inner}") from inner
    except RuntimeError as exc:
        output = _format_exception(exc)

    assert "Vermeulen" not in output
    assert "111222333" not in output
    line = json.loads(output)
    assert line["error"] == "RuntimeError"
    outer, cause = line["traceback"]
    assert cause["error"] == "ValueError"
    # Where it happened is all there: the file, the line and the function of each frame, and the source line.
    assert any(f"{__file__}:" in frame and "in _raise_with_personal_data" in frame for frame in cause["frames"])
    assert any('raise ValueError(f"geen dossier voor {surname}' in frame for frame in cause["frames"])
    assert any("test_an_exception_is_logged_with_its_frames" in frame for frame in outer["frames"])


def test_reply_tokens_are_hidden_in_messages_and_fields() -> None:
    token = "Zx8kQ2m9Rv4tLp0sWc6yHb1nJf7gDa3eUq5iOo"
    line = _format(
        '"GET /antwoord/%s HTTP/1.1" 303 -', token, path=f"/antwoord/{token}", referer=f"/antwoord/{token}?a"
    )

    assert token not in json.dumps(line)
    assert line["message"] == '"GET /antwoord/[token] HTTP/1.1" 303 -'
    assert line["path"] == "/antwoord/[token]"
    # The reply pages' own names are not tokens.
    assert _format("GET /antwoord/brief.pdf")["message"] == "GET /antwoord/brief.pdf"
    assert _format("GET /antwoord/bedankt")["message"] == "GET /antwoord/bedankt"
