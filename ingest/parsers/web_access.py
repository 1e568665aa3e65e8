"""Web server access logs in the Combined (and Common) Log Format, as nginx and Apache write
them by default: ``1.2.3.4 - alice [10/Oct/2000:13:55:36 -0700] "GET /a?b=1 HTTP/1.1" 200
2326 "http://ref/" "Mozilla/5.0"``.

Each event has the ECS fields (``source``, ``user``, ``http``, ``url``, ``user_agent``) and,
under their own names, the fields Sigma's ``webserver`` rules use (``c-ip``, ``cs-method``,
``cs-uri-stem``, ``cs-uri-query``, ``sc-status`` …), so those rules match without a mapping.
Values are kept as the server logged them: the server's own escapes (``\\"``, ``\\x16``) are
not undone, because that is the form Sigma rules and analysts search for. A request line
that is not ``METHOD URI VERSION`` (TLS bytes sent to a plain-HTTP port) is kept whole in
``message``; the event then has no method or URL.

Hand-written: the format is one regex; the log-parsing libraries on PyPI are unmaintained.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

from ingest.parsers.base import Document, ParseError, Parser
from ingest.parsers.message_rules import MONTHS, set_address, set_user

_FLAGS = re.ASCII | re.DOTALL
# A quoted field: the server escapes '"' inside it as \" (Apache) or \x22 (nginx).
_QUOTED = r'"(?P<{}>(?:[^"\\]|\\.)*+)"'
_LINE = re.compile(
    r"(?P<client>\S{1,255}) (?P<ident>\S{1,255}) (?P<user>.{0,1024}?) \[(?P<day>\d\d)"
    r"/(?P<month>[A-Z][a-z]{2})/(?P<year>\d{4}):(?P<hour>\d\d):(?P<minute>\d\d):(?P<second>\d\d)"
    r" (?P<sign>[+-])(?P<offset_hours>\d\d)(?P<offset_minutes>\d\d)\] "
    + _QUOTED.format("request")
    + r" (?P<status>\d{3}|-) (?P<bytes>\d{1,18}|-)"
    + r"(?: "
    + _QUOTED.format("referrer")
    + " "
    + _QUOTED.format("agent")
    + r")?(?: .*)?\Z",
    _FLAGS,
)
_REQUEST = re.compile(
    r"(?P<method>[A-Za-z][A-Za-z_-]{0,31}) (?P<uri>\S+)(?: (?P<version>HTTP/\d(?:\.\d)?))?\Z",
    _FLAGS,
)
_ABSOLUTE = re.compile(
    r"(?P<scheme>[Hh][Tt][Tt][Pp][Ss]?)://(?P<authority>[^/?#]*)(?P<target>.*)\Z", _FLAGS
)
_DETECT = re.compile(r'\S+ \S+ .*?\[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "', _FLAGS)


@functools.lru_cache(maxsize=64)
def _zone(sign: str, hours: str, minutes: str) -> timezone:
    offset = timedelta(hours=int(hours), minutes=int(minutes))
    return timezone(-offset if sign == "-" else offset)


def parse_access_line(line: str, dataset: str) -> Document:
    match = _LINE.match(line.rstrip("\r\n"))
    if match is None:
        raise ParseError("not a Combined/Common Log Format line")
    document: Document = {
        "@timestamp": _timestamp(match),
        "message": match["request"],
        "event": {
            "original": line,
            "kind": "event",
            "dataset": dataset,
            "category": ["web"],
            "type": ["access"],
        },
        "c-ip": match["client"],
    }
    set_address(document, match["client"])
    if match["user"] != "-":
        set_user(document, match["user"])
        document["cs-username"] = match["user"]
    http: dict[str, Any] = {}
    _read_request(document, http, match["request"])
    _read_response(document, http, match["status"], match["bytes"])
    referrer, agent = match["referrer"], match["agent"]
    if referrer and referrer != "-":
        http.setdefault("request", {})["referrer"] = referrer
        document["cs-referer"] = referrer
    if agent and agent != "-":
        document["user_agent"] = {"original": agent}
        document["cs-user-agent"] = agent
    if http:
        document["http"] = http
    return document


def _timestamp(match: re.Match[str]) -> datetime:
    month = MONTHS.get(match["month"])
    if month is None:
        raise ParseError("invalid access-log timestamp (unknown month)")
    zone = _zone(match["sign"], match["offset_hours"], match["offset_minutes"])
    day, year, hour, minute, second = map(
        int, match.group("day", "year", "hour", "minute", "second")
    )
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=zone)
    except ValueError:
        raise ParseError("invalid access-log timestamp") from None


def _read_request(document: Document, http: dict[str, Any], request: str) -> None:
    parts = _REQUEST.match(request)
    if parts is None:
        return  # not an HTTP request line: it stays in ``message`` only
    method, uri, version = parts["method"], parts["uri"], parts["version"]
    http["request"] = {"method": method}
    document["cs-method"] = method
    document["cs-uri"] = uri
    url: dict[str, Any] = {"original": uri}
    target = uri
    absolute = _ABSOLUTE.match(uri)
    if absolute is not None:  # absolute form, as proxies receive it
        _read_authority(url, absolute["scheme"], absolute["authority"])
        target = absolute["target"]
    stem, question, query = target.partition("?")
    if stem:
        url["path"] = stem
        document["cs-uri-stem"] = stem
    if question and query:
        url["query"] = query
        document["cs-uri-query"] = query
    document["url"] = url
    if version is not None:
        http["version"] = version.removeprefix("HTTP/")
        document["cs-version"] = version


def _read_authority(url: dict[str, Any], scheme: str, authority: str) -> None:
    url["scheme"] = scheme.lower()
    try:
        parts = urlsplit(f"{scheme}://{authority}")
        host, port = parts.hostname, parts.port
    except ValueError:  # a bad port or IPv6 literal: url.original has it all
        return
    if host:
        url["domain"] = host
    if port is not None:
        url["port"] = port


def _read_response(document: Document, http: dict[str, Any], status: str, size: str) -> None:
    if status != "-":
        code = int(status)
        http["response"] = {"status_code": code}
        document["sc-status"] = code
        document["event"]["outcome"] = "failure" if code >= 400 else "success"
    if size != "-":
        http.setdefault("response", {})["body"] = {"bytes": int(size)}
        document["sc-bytes"] = int(size)


class WebAccessParser:
    """One format, two names: nginx and Apache write the same Combined format, so the name
    only sets ``event.dataset``. Guessing picks the first (nginx) for either."""

    def __init__(self, name: str, dataset: str, server: str) -> None:
        self.name = name
        self.dataset = dataset
        self.description = f"{server} access log (Combined or Common Log Format)"

    def detect(self, line: str) -> bool:
        return _DETECT.match(line) is not None

    def parse_line(self, line: str, *, received: datetime) -> Document:
        return parse_access_line(line, self.dataset)


NGINX = WebAccessParser("nginx-access", "nginx.access", "nginx")
APACHE = WebAccessParser("apache-access", "apache.access", "Apache httpd")
PARSERS: tuple[Parser, ...] = (NGINX, APACHE)
