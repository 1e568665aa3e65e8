"""SECURITY_CASES #57: a hostile value in a log record cannot forge a second log line or
send terminal escapes: the service's logs are one JSON object per line (wachter/logs.py)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import orjson
import pytest

from wachter.logs import configure_logging

HOSTILE = 'x\n2026-01-01 INFO user=admin login ok\r\n{"log.level":"info"}\x1b[2J\x00'


@pytest.fixture
def service_log() -> Iterator[io.StringIO]:
    """The service's logging as ``serve`` configures it, writing to a buffer for stderr."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging("INFO")
    buffer = io.StringIO()
    [handler] = root.handlers
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    yield buffer
    root.handlers[:] = handlers
    root.setLevel(level)


def test_a_hostile_value_stays_inside_its_one_json_line(service_log: io.StringIO) -> None:
    logging.getLogger("wachter.test").warning(
        "rejected %s", HOSTILE, extra={"wachter.reason": HOSTILE}
    )

    written = service_log.getvalue()
    lines = written.splitlines()
    assert len(lines) == 1  # no forged second line
    assert "\x1b" not in written  # no raw terminal escape
    assert "\x00" not in written
    record = orjson.loads(lines[0])
    assert record["message"] == f"rejected {HOSTILE}"  # kept whole, escaped, readable back
    assert record["wachter"]["reason"] == HOSTILE
