"""Apache httpd error log lines as ECS events, dataset ``apache.error``.

Two layouts: 2.2, ``[Sun Dec 04 04:47:44 2005] [error] [client 1.2.3.4] text``, and 2.4,
``[Wed Oct 11 14:32:52.123456 2000] [core:error] [pid 35708:tid 4328636416] [client
72.15.99.187:53722] AH00124: text``. The level goes to ``log.level``, the module (2.4) to
``apache.error.module``, the ``AHnnnnn`` message id to ``error.code``, the client to
``source``, and a trailing ``, referer: …`` to ``http.request.referrer``. Apache writes
local time without a zone, so ``@timestamp`` is naive.

Only 2.4 appends the client's port, so "2001:db8::1:8080" is read as address and port
there and as one IPv6 address in 2.2 lines.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from ingest.parsers.base import Document, ParseError, Parser, valid_ip
from ingest.parsers.message_rules import MONTHS, add_related, set_port

DATASET = "apache.error"
_FLAGS = re.ASCII | re.DOTALL
_HEADER = re.compile(
    r"\[[A-Z][a-z]{2} (?P<month>[A-Z][a-z]{2}) {1,2}(?P<day>\d{1,2})"
    r" (?P<hour>\d\d):(?P<minute>\d\d):(?P<second>\d\d)"
    r"(?:\.(?P<fraction>\d{1,6}))? (?P<year>\d{4})\]"
    r" \[(?:(?P<module>[\w-]{0,64}):)?(?P<level>[a-z]{1,8}\d?)\]"
    r"(?: \[pid (?P<pid>\d{1,10})(?::tid (?P<tid>\d{1,20}))?\])?"
    r" ?(?P<apr>\(-?\d{1,10}\)[^\[]{0,200}?: )?"
    r"(?:\[(?:client|remote) (?P<client>[^\]\s]{1,64})\] ?)?"
    r"(?P<message>.*)\Z",
    _FLAGS,
)
_DETECT = re.compile(
    r"\[[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]?\d \d\d:\d\d:\d\d(?:\.\d+)? \d{4}\] \[", _FLAGS
)
_ERROR_CODE = re.compile(r"(?:^|\s)(AH\d{5}): ", re.ASCII)
_REFERER = ", referer: "
_ERROR_LEVELS = frozenset({"emerg", "alert", "crit", "error"})
_MAX_TID = 2**63 - 1


def parse_error_line(line: str) -> Document:
    match = _HEADER.match(line.rstrip("\r\n"))
    if match is None:
        raise ParseError("not an Apache error log line ([date] [level] message)")
    level = match["level"]
    message = ((match["apr"] or "") + match["message"]).strip()
    text, _, referrer = message.partition(_REFERER)
    document: Document = {
        "@timestamp": _timestamp(match),
        "message": text,
        "event": {
            "original": line,
            "kind": "event",
            "dataset": DATASET,
            "category": ["web"],
            "type": ["error" if level in _ERROR_LEVELS else "info"],
        },
        "log": {"level": level},
    }
    if match["module"] is not None:
        document["apache"] = {"error": {"module": match["module"]}}
    if referrer:
        document["http"] = {"request": {"referrer": referrer}}
    code = _ERROR_CODE.search(text, 0, 300)
    if code is not None:
        document["error"] = {"code": code[1]}
    _read_process(document, match)
    if match["client"] is not None:
        _read_client(document, match["client"], with_port=match["module"] is not None)
    return document


def _timestamp(match: re.Match[str]) -> datetime:
    fraction = match["fraction"]
    try:
        return datetime(  # noqa: DTZ001 -- Apache writes local time without a zone
            int(match["year"]),
            MONTHS.get(match["month"], 0),
            int(match["day"]),
            int(match["hour"]),
            int(match["minute"]),
            int(match["second"]),
            int(fraction.ljust(6, "0")) if fraction else 0,
        )
    except ValueError:
        raise ParseError("invalid Apache error-log timestamp") from None


def _read_process(document: Document, match: re.Match[str]) -> None:
    process: dict[str, Any] = {}
    if match["pid"] is not None and int(match["pid"]) <= 4_294_967_295:
        process["pid"] = int(match["pid"])
    if match["tid"] is not None and int(match["tid"]) <= _MAX_TID:
        process["thread"] = {"id": int(match["tid"])}
    if process:
        document["process"] = process


def _read_client(document: Document, client: str, *, with_port: bool) -> None:
    address, port = client, None
    if with_port:
        host, colon, digits = client.rpartition(":")
        if colon and digits.isdigit():
            address, port = host.removeprefix("[").removesuffix("]"), digits
    ip = valid_ip(address)
    if ip is None:
        return  # not an address: it stays in event.original only
    document["source"] = {"ip": ip}
    add_related(document, "ip", ip)
    if port is not None:
        set_port(document, port)


class ApacheErrorParser:
    name = "apache-error"
    description = "Apache httpd error log (2.2 and 2.4 layouts)"

    def detect(self, line: str) -> bool:
        return _DETECT.match(line) is not None

    def parse_line(self, line: str, *, received: datetime) -> Document:
        return parse_error_line(line)


PARSERS: tuple[Parser, ...] = (ApacheErrorParser(),)
