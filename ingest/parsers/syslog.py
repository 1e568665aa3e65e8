"""Syslog lines (RFC 5424 and RFC 3164) as ECS documents, each message handed on to its
program's parser: sshd, sudo, su, login and PAM to ``linux_auth`` (dataset ``system.auth``),
OpenVPN to ``openvpn`` (dataset ``openvpn``); any other program gives a generic ``syslog``
event with the header's fields in ``log.syslog``, ``host`` and ``process``.

Hand-written because no well-kept Python syslog parser exists (ECOSYSTEM.md §1.3). The
input is hostile (SECURITY_CASES.md §5.8 #57, #58) and the receiver needs tens of thousands
of lines a second, so the regexes are compiled once, ASCII-only (``\\d`` must not take other
scripts' digits) and linear: no nested quantifiers that could backtrack without end.

RFC 3164 leaves the year out: it is the one that puts the time at most a day after the line
arrived, so December lines read in January belong to the year before. Such times stay naive
(the sender's local time); ``ingest.normalise`` flags them.

What the program parsers share (``Rule`` tables, field setters) is in ``message_rules``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from ingest.parsers.base import Document, ParseError, Parser
from ingest.parsers.message_rules import MONTHS
from ingest.timestamps import parse_time

FACILITIES = (
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
    "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
    "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
)  # fmt: skip
SEVERITIES = (
    "emergency", "alert", "critical", "error", "warning", "notice", "informational", "debug",
)  # fmt: skip
MAX_PRIORITY = 191  # facility 23 (local7) * 8 + severity 7 (debug)
MAX_PID = 4_294_967_295
_ONE_DAY = timedelta(days=1)
_FLAGS = re.ASCII | re.DOTALL

_VERSION = re.compile(r"(\d{1,2}) (?=- |\d{4}-\d\d-\d\d[T ])", _FLAGS)
_RFC5424 = re.compile(
    r"(?P<timestamp>\S+) (?P<host>\S{1,255}) (?P<app>\S{1,48}) (?P<procid>\S{1,128})"
    r" (?P<msgid>\S{1,32})(?: (?P<rest>.*))?\Z",
    _FLAGS,
)
_RFC5424_TIME = re.compile(
    r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:\d\d)\Z", _FLAGS
)
# SD-NAME: printable US-ASCII but '=', ' ', ']' and '"'; PARAM-VALUE escapes '"', '\', ']'.
_SD_NAME = r"[!#-<>-\\^-~]{1,32}"
_SD_ELEMENT = re.compile(
    rf'\[(?P<id>{_SD_NAME})(?P<params>(?: {_SD_NAME}="(?:[^"\\]|\\.)*+")*+)\]', _FLAGS
)
_SD_PARAM = re.compile(rf' ({_SD_NAME})="((?:[^"\\]|\\.)*+)"', _FLAGS)
_SD_ESCAPE = re.compile(r'\\(["\\\]])', _FLAGS)
_BOM = "\ufeff"
_NILABLE = ("host", "app", "procid")

_STAMP = (
    r"(?P<month>[A-Z][a-z]{2}) {1,2}(?P<day>\d{1,2}) (?P<hour>\d\d):(?P<minute>\d\d)"
    r":(?P<second>\d\d)(?:\.(?P<fraction>\d{1,6}))?"
)
_RFC3164_STAMP = re.compile(_STAMP + r"\Z", _FLAGS)
_RFC3164_TIME = re.compile(rf"(?P<stamp>{_STAMP}) +", _FLAGS)
# rsyslog's RSYSLOG_FileFormat (Debian 12, Ubuntu 23.10+ auth.log): RFC 3339 instead.
_ISO_TIME = re.compile(
    r"(?P<iso>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d)?) +", _FLAGS
)
# "-- root" is util-linux login's process title (Linux_2k: "combo  -- root[2421]: ROOT LOGIN").
_TAG = r"(?P<tag>(?:-- )?[^\s\[\]:]{1,64})(?:\[(?P<pid>[^\]\s]{0,32})\])?:(?: |\Z)"
_HOST_TAG = re.compile(rf"(?P<host>\S{{1,255}})(?: +|\Z)(?:{_TAG})?", _FLAGS)
_TAG_ONLY = re.compile(_TAG, _FLAGS)
_REPEATED = re.compile(r"message repeated (?P<count>\d{1,9}) times: \[ ?(?P<inner>.*)\]\Z", _FLAGS)
_DETECT = re.compile(
    r"<\d{1,3}>|[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d |\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\S* \S",
    _FLAGS,
)

MessageParser = Callable[[Document, str, str], bool]


def parse_syslog(line: str, *, received: datetime) -> Document:
    """One syslog line (with or without ``<PRI>``) as an ECS document; ``ParseError`` when
    it has no syslog header or a broken one."""
    text = line.rstrip("\r\n")
    if not text or text.isspace():
        raise ParseError("empty syslog message")
    priority = None
    body = text
    if text.startswith("<"):
        priority, body = _read_priority(text)
        version = _VERSION.match(body)
        if version is not None:
            return _parse_rfc5424(line, priority, version, body)
    return _parse_rfc3164(line, priority, body, received)


def program_of(line: str) -> str | None:
    """The program (tag) of an RFC 3164 line, None when it has no 3164 header or tag: what
    the ``detect`` of program-specific formats looks at."""
    body = line[line.find(">", 0, 6) + 1 :] if line.startswith("<") else line
    time = _RFC3164_TIME.match(body) or _ISO_TIME.match(body)
    if time is None:
        return None
    try:
        return _host_and_tag(body, time.end())[1]
    except ParseError:  # a hostname beyond 255 characters
        return None


def _read_priority(text: str) -> tuple[int, str]:
    end = text.find(">", 1, 6)
    if end < 0:
        raise ParseError("PRI has no closing '>' (expected <0-191>)")
    value = text[1:end]
    if value.startswith("-"):
        raise ParseError("PRI is negative (expected <0-191>)")
    if not (value.isascii() and value.isdigit()):
        raise ParseError("PRI is not a number (expected <0-191>)")
    priority = int(value)
    if priority > MAX_PRIORITY:
        raise ParseError("PRI is above 191")
    return priority, text[end + 1 :]


def _parse_rfc5424(line: str, priority: int, version: re.Match[str], body: str) -> Document:
    if version[1] != "1":
        raise ParseError("unsupported syslog version (RFC 5424 knows version 1)")
    header = _RFC5424.match(body, version.end())
    if header is None:
        raise ParseError("malformed RFC 5424 header")
    timestamp = None
    if header["timestamp"] != "-":
        if _RFC5424_TIME.match(header["timestamp"]) is None:
            raise ParseError("invalid RFC 5424 timestamp")
        timestamp = parse_time(header["timestamp"])
        if timestamp is None:
            raise ParseError("invalid RFC 5424 timestamp")
    if header["rest"] is None:
        raise ParseError("RFC 5424 structured data missing")
    structured, message = _read_structured_data(header["rest"])
    host, app, procid = (None if header[name] == "-" else header[name] for name in _NILABLE)
    document = _document(line, priority, timestamp, message)
    _add_origin(document, host, app, procid)
    syslog_fields = document["log"]["syslog"]
    syslog_fields["version"] = "1"
    if header["msgid"] != "-":
        syslog_fields["msgid"] = header["msgid"]
    if structured:
        syslog_fields["structured_data"] = structured
    _hand_on(document, app or "", document["message"])
    return document


def _read_structured_data(rest: str) -> tuple[dict[str, dict[str, Any]], str]:
    """RFC 5424 STRUCTURED-DATA and the MSG after it. A parameter named twice in one element
    keeps every value, as a list."""
    elements: dict[str, dict[str, Any]] = {}
    position = 0
    if rest.startswith("-"):
        position = 1
    elif not rest.startswith("["):
        raise ParseError("RFC 5424 structured data must be '-' or start with '['")
    while position < len(rest) and rest[position] == "[":
        element = _SD_ELEMENT.match(rest, position)
        if element is None:
            raise ParseError("malformed or truncated RFC 5424 structured data")
        params = elements.setdefault(element["id"], {})
        for name, raw_value in _SD_PARAM.findall(element["params"]):
            value = _SD_ESCAPE.sub(r"\1", raw_value)
            known = params.get(name)
            if known is None:
                params[name] = value
            else:
                params[name] = [*known, value] if isinstance(known, list) else [known, value]
        position = element.end()
    message = rest[position:]
    if message and not message.startswith(" "):
        raise ParseError("RFC 5424 structured data not followed by a space")
    return elements, message[1:].removeprefix(_BOM)


def _parse_rfc3164(line: str, priority: int | None, body: str, received: datetime) -> Document:
    time = _RFC3164_TIME.match(body)
    if time is not None:
        timestamp: datetime | None = _local_time(time["stamp"], received)
    else:
        time = _ISO_TIME.match(body)
        if time is None:
            if priority is None:
                raise ParseError("no syslog header (expected <PRI> or a timestamp)")
            # RFC 3164 §4.3.3: a valid PRI with no header: all of it is the message.
            document = _document(line, priority, None, body)
            _hand_on(document, "", document["message"])
            return document
        timestamp = parse_time(time["iso"])
        if timestamp is None:
            raise ParseError("invalid RFC 3339 timestamp")
    host, tag, pid, position = _host_and_tag(body, time.end())
    document = _document(line, priority, timestamp, body[position:])
    _add_origin(document, host, tag, pid)
    _hand_on(document, tag or "", document["message"])
    return document


def _host_and_tag(body: str, start: int) -> tuple[str | None, str | None, str | None, int]:
    header = _HOST_TAG.match(body, start)
    if header is None:
        raise ParseError("hostname missing or longer than 255 characters")
    if header["host"].endswith(":") and (tagged := _TAG_ONLY.match(body, start)) is not None:
        return None, tagged["tag"], tagged["pid"], tagged.end()  # no hostname, only a tag
    return header["host"], header["tag"], header["pid"], header.end()


@functools.lru_cache(maxsize=1024)  # lines of the same second share their time
def _local_time(stamp: str, received: datetime) -> datetime:
    """``Mmm dd hh:mm:ss[.ffffff]`` in the latest year that puts it not more than a day after
    ``received``; naive, as the sender's local time is unknown."""
    time = _RFC3164_STAMP.match(stamp)
    month = MONTHS.get(time["month"]) if time is not None else None
    if time is None or month is None:
        raise ParseError("invalid RFC 3164 timestamp (unknown month)")
    fraction = time["fraction"]
    day, hour, minute, second = map(int, time.group("day", "hour", "minute", "second"))
    micro = int(fraction.ljust(6, "0")) if fraction else 0
    latest = _latest_time(received)
    for year in range(latest.year, latest.year - 8, -1):  # 29 February: back to a leap year
        try:
            moment = datetime(year, month, day, hour, minute, second, micro)  # noqa: DTZ001
        except ValueError:
            continue
        if moment <= latest:
            return moment
    raise ParseError("invalid RFC 3164 timestamp")


@functools.lru_cache(maxsize=8)  # a batch shares its arrival time
def _latest_time(received: datetime) -> datetime:
    """The latest time a 3164 line arriving at ``received`` may claim: a day later (UTC,
    naive, like the line's time)."""
    arrival, offset = received.replace(tzinfo=None), received.utcoffset()
    return (arrival - offset if offset else arrival) + _ONE_DAY


def _document(
    line: str, priority: int | None, timestamp: datetime | None, message: str
) -> Document:
    syslog_fields: dict[str, Any] = {}
    document: Document = {
        "message": message.strip(),
        "event": {"original": line, "kind": "event", "dataset": "syslog"},
        "log": {"syslog": syslog_fields},
    }
    if priority is not None:
        facility, severity = divmod(priority, 8)
        syslog_fields["priority"] = priority
        syslog_fields["facility"] = {"code": facility, "name": FACILITIES[facility]}
        syslog_fields["severity"] = {"code": severity, "name": SEVERITIES[severity]}
        document["log"]["level"] = SEVERITIES[severity]
    if timestamp is not None:
        document["@timestamp"] = timestamp
    return document


def _add_origin(document: Document, host: str | None, app: str | None, procid: str | None) -> None:
    """HOSTNAME, APP-NAME (TAG) and PROCID into ``log.syslog``, ``host`` and ``process``."""
    syslog_fields = document["log"]["syslog"]
    if host:
        syslog_fields["hostname"] = host
        document["host"] = {"name": host}
    if procid:
        syslog_fields["procid"] = procid
    if app:
        syslog_fields["appname"] = app
        process: dict[str, Any] = {"name": _process_name(app)}
        if procid and procid.isascii() and procid.isdigit() and int(procid) <= MAX_PID:
            process["pid"] = int(procid)
        document["process"] = process


def _process_name(app: str) -> str:
    if app.startswith("-- "):
        return "login"
    if app.endswith(")") and "(" in app:  # "sshd(pam_unix)": PAM speaking for sshd
        return app[: app.index("(")] or app
    return app


def _hand_on(document: Document, program: str, message: str) -> None:
    repeated = _REPEATED.match(message) if message.startswith("message repeated") else None
    if repeated is not None:  # rsyslog folded identical lines: one event that says how many
        document["wachter"] = {"repeat_count": int(repeated["count"])}
        message = repeated["inner"].strip()
    for parser in _message_parsers():
        if parser(document, program, message):
            return


@functools.cache
def _message_parsers() -> tuple[MessageParser, ...]:
    # Imported on first use: linux_auth and openvpn build on this module (header, helpers).
    from ingest.parsers import linux_auth, openvpn  # noqa: PLC0415

    return (linux_auth.parse_auth_message, openvpn.parse_openvpn_message)


class SyslogParser:
    name = "syslog"
    description = "Syslog lines: RFC 5424 and RFC 3164 (with or without <PRI>)"

    def detect(self, line: str) -> bool:
        return _DETECT.match(line) is not None

    def parse_line(self, line: str, *, received: datetime) -> Document:
        return parse_syslog(line, received=received)


PARSERS: tuple[Parser, ...] = (SyslogParser(),)
