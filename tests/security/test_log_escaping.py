"""Finding 10: nothing from a request can forge a log line.

The text access log wrote raw request paths: ``GET /x%0A12:00:00 INFO ... forged`` put a
second, made-up line into the log. Control characters (CR, LF, the rest of C0 and C1, ANSI
escapes, Unicode line separators) are now escaped in the access line itself, and the text
formatter escapes every message it writes; JSON lines were and stay one object per line.
"""

from __future__ import annotations

import io
import json
import logging
import re
import warnings
from collections.abc import Iterator

import pytest

from tests.support.web import make_web
from tickwork import Tickwork
from tickwork.escaping import escape_control
from tickwork.logging_setup import JsonFormatter, TextFormatter, configure_logging

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette asks for httpx2; httpx works the same
    from fastapi.testclient import TestClient

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
FORGED = '12:00:00 INFO    tickwork.web.access: 127.0.0.1 "GET /admin" 200 1.0ms admin'
ATTACKS = {
    "lf": "/x%0A" + FORGED.replace(" ", "%20").replace('"', "%22"),
    "crlf": "/x%0D%0A" + FORGED.replace(" ", "%20").replace('"', "%22"),
    "ansi": "/x%1B[2K%1B[1A%1B[31mred",
    "c1": "/x%C2%85next%C2%9Bcsi",
    "separator": "/x%E2%80%A8next",
    "nul-bell-backspace": "/x%00%07%08%7F",
}
RAW_CONTROLS = [chr(c) for c in [*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029]]


@pytest.fixture
def captured() -> Iterator[dict[str, io.StringIO]]:
    """The access logger written three ways: a plain formatter (as an embedding app might
    configure it), tickwork's text formatter and its JSON formatter."""
    logger = logging.getLogger("tickwork.web.access")
    streams = {"plain": io.StringIO(), "text": io.StringIO(), "json": io.StringIO()}
    formatters = {
        "plain": logging.Formatter(FORMAT),
        "text": TextFormatter(FORMAT),
        "json": JsonFormatter(),
    }
    handlers = []
    for name, stream in streams.items():
        handler = logging.StreamHandler(stream)
        handler.setFormatter(formatters[name])
        logger.addHandler(handler)
        handlers.append(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield streams
    finally:
        logger.setLevel(level)
        for handler in handlers:
            logger.removeHandler(handler)


def _lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def _no_raw_controls(line: str) -> None:
    assert not [c for c in line if c in RAW_CONTROLS], repr(line)


@pytest.mark.parametrize("attack", list(ATTACKS), ids=list(ATTACKS))
def test_request_paths_cannot_forge_access_lines(
    app: Tickwork, captured: dict[str, io.StringIO], attack: str
) -> None:
    web = make_web(app, auth="none")
    client = TestClient(web, base_url="http://127.0.0.1:8787", raise_server_exceptions=False)
    answer = client.get(ATTACKS[attack])
    assert answer.status_code == 404
    for mode in ("plain", "text"):
        lines = _lines(captured[mode])
        assert len(lines) == 1, lines
        assert re.match(r"^\S+ \S+ INFO +tickwork\.web\.access: testclient \"GET /x", lines[0])
        assert '" 404 ' in lines[0]
        _no_raw_controls(lines[0])
    json_lines = _lines(captured["json"])
    assert len(json_lines) == 1
    _no_raw_controls(json_lines[0])
    record = json.loads(json_lines[0])
    assert record["path"].startswith("/x")
    assert record["status"] == 404
    _no_raw_controls(record["message"])


def test_the_issues_request_reads_as_what_was_sent(
    app: Tickwork, captured: dict[str, io.StringIO]
) -> None:
    web = make_web(app, auth="none")
    TestClient(web, base_url="http://127.0.0.1:8787", raise_server_exceptions=False).get(
        ATTACKS["lf"]
    )
    (line,) = _lines(captured["text"])
    assert '"GET /x\\n12:00:00 INFO    tickwork.web.access:' in line


def test_the_text_formatter_escapes_every_message() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(TextFormatter(FORMAT))
    logger = logging.getLogger("tickwork.test.escaping")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("user %s failed", "ada\r\nINFO forged\x1b[0m")
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("run %s said:\nnext", 7)
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    lines = _lines(stream)
    assert lines[0].endswith("user ada\\r\\nINFO forged\\x1b[0m failed")
    assert lines[1].endswith("run 7 said:\\nnext")
    assert lines[2] == "Traceback (most recent call last):"  # tracebacks keep their lines
    assert lines[-1] == "ValueError: boom"


def test_logging_is_configured_with_the_escaping_formatters() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("INFO", "text")
        assert isinstance(root.handlers[0].formatter, TextFormatter)
        configure_logging("INFO", "json")
        assert isinstance(root.handlers[0].formatter, JsonFormatter)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)


def test_escape_control_escapes_every_control_character_and_keeps_the_rest() -> None:
    assert escape_control("a\tb\nc\rd\x00e\x1bf\x7fg\x85h\x9bi\u2028j") == (
        "a\\tb\\nc\\rd\\x00e\\x1bf\\x7fg\\x85h\\x9bi\\u2028j"
    )
    assert escape_control("plain é ü 日本") == "plain é ü 日本"
