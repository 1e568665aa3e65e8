"""Alerts as CEF (ArcSight Common Event Format) lines in RFC 5424 syslog messages, framed
by octet counting (RFC 6587) for TCP: what ``cef_sender`` sends to a SOC collector.

Hand-written on purpose: no well-kept Python library writes CEF (ECOSYSTEM.md §1.3; the
few on PyPI are unmaintained and escape the header and extensions the same way, which the
spec does not). The rules followed, from the CEF implementation standard:

* header ``CEF:0|Vendor|Product|Version|Signature ID|Name|Severity|``: ``\\`` → ``\\\\``
  and ``|`` → ``\\|``; a header never holds a line break (they become spaces);
* extension values: ``\\`` → ``\\\\``, ``=`` → ``\\=``, line feed → ``\\n``, carriage return →
  ``\\r``; pipes stay as they are. Keys are fixed ASCII names of ours.
* other control characters (NUL, ESC …) become U+FFFD: a SIEM's console must not be
  driven by an alert (SECURITY_CASES.md #57). Other Unicode is sent as UTF-8.
* lengths are capped (in characters, before escaping, so an escape is never cut), and a
  line that is still longer than ``MAX_MESSAGE_BYTES`` sheds its free-text fields.

Severity: low 3, medium 5, high 8, critical 10 (informational 1). The syslog wrapper is
``<PRI>1 TIMESTAMP HOSTNAME wachter - alert - CEF:…`` with facility local4 (20, the usual
facility for a SIEM feed, kept apart from the host's own auth logs) and the syslog
severity from the alert's. The message carries no UTF-8 BOM: CEF collectors expect the
message to start with ``CEF:`` (RFC 5424 allows MSG-ANY).

People appear only as pseudonyms: ``suser`` is sent only when the document's user name is
a pseudonym (``psn-…``), so a clear name that slipped into a document is dropped here.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Any

import orjson

from incidents.feeds.models import AlertFeedEntry
from incidents.feeds.pseudonyms import PREFIX as PSEUDONYM_PREFIX

VENDOR = "Wachter"
PRODUCT = "Wachter"
APP_NAME = "wachter"
MSG_ID = "alert"
FACILITY_LOCAL4 = 20
# CEF severity 0-10 and syslog severity (RFC 5424: 2 critical … 6 informational).
CEF_SEVERITY = {"informational": 1, "low": 3, "medium": 5, "high": 8, "critical": 10}
SYSLOG_SEVERITY = {"informational": 6, "low": 5, "medium": 4, "high": 3, "critical": 2}
# RFC 5425 receivers must take 2048 octets and should take 8192: stay within the latter.
MAX_MESSAGE_BYTES = 8192
# The syslog header before the CEF text is at most about 300 bytes (a 255-byte host name).
_CEF_BUDGET = MAX_MESSAGE_BYTES - 320
MAX_HOSTNAME = 255  # RFC 5424 HOSTNAME

# Header caps (the spec's: 63 for vendor, product and version; 1023 signature id; 512 name).
_HEADER_CAPS = {"version": 63, "signature": 1023, "name": 512}
# Extension caps: the spec's where it gives one (act 63, externalId 40), tighter for
# values that are short by nature (host names 255), so a line stays under 8 KiB.
_EXTENSION_CAPS = {
    "act": 63,
    "externalId": 40,
    "suser": 255,
    "shost": 255,
    "dhost": 255,
    "cat": 1023,
    "msg": 1023,
    "cs1": 1023,
    "cs2": 1023,
    "cs3": 128,
    "cs4": 40,
}
# Dropped in this order while a line is too long: free text first, then what is optional.
_SHEDDABLE = ("msg", "cs2", "shost", "dhost", "cs1")
_TECHNIQUE = re.compile(r"t\d{4}(?:\.\d{3})?", re.IGNORECASE)
_LINE_BREAKS = {"\u0085", "\u2028", "\u2029"}  # NEL, LINE / PARAGRAPH SEPARATOR


def escape_header(value: object, cap: int = 1023) -> str:
    """A CEF header field: no line breaks, backslashes and pipes escaped, at most ``cap``."""
    text = _controls_replaced(str(value)[:cap], line_break=" ")
    return text.replace("\\", "\\\\").replace("|", "\\|")


def escape_extension(value: object, cap: int = 4000) -> str:
    """A CEF extension value: backslash, equals sign and line breaks escaped."""
    text = _controls_replaced(str(value)[:cap], line_break="\n")
    return text.replace("\\", "\\\\").replace("=", "\\=").replace("\r", "\\r").replace("\n", "\\n")


def _controls_replaced(text: str, *, line_break: str) -> str:
    characters = []
    for character in text:
        if character in "\r\n":
            characters.append(character if line_break == "\n" else " ")
        elif character in _LINE_BREAKS:
            characters.append(line_break)
        elif unicodedata.category(character) == "Cc":
            characters.append("\ufffd")
        else:
            characters.append(character)
    return "".join(characters)


def cef_severity(severity: str) -> int:
    return CEF_SEVERITY.get(severity, CEF_SEVERITY["informational"])


def cef_message(document: Mapping[str, Any], *, change: str, severity: str) -> str:
    """The CEF text of one alert feed entry (its pseudonymised ECS document)."""
    rule = _mapping(document.get("rule"))
    extensions = alert_extensions(document, change=change)
    header = "|".join(
        (
            "CEF:0",
            escape_header(VENDOR),
            escape_header(PRODUCT),
            escape_header(wachter_version(), _HEADER_CAPS["version"]),
            escape_header(rule.get("id") or "unknown", _HEADER_CAPS["signature"]),
            escape_header(rule.get("name") or "Wachter alert", _HEADER_CAPS["name"]),
            str(cef_severity(severity)),
        )
    )
    while True:
        line = f"{header}|{_joined(extensions)}"
        droppable = [key for key in _SHEDDABLE if key in extensions]
        if len(line.encode()) <= _CEF_BUDGET or not droppable:
            return line
        _drop(extensions, droppable[0])


def alert_extensions(document: Mapping[str, Any], *, change: str) -> dict[str, str]:
    """The extension fields (key → unescaped value), in the order they are written."""
    event, rule = _mapping(document.get("event")), _mapping(document.get("rule"))
    alert = _mapping(_mapping(document.get("wachter")).get("alert"))
    fields: dict[str, object] = {
        "rt": _epoch_ms(document.get("@timestamp")),
        "start": _epoch_ms(event.get("start")),
        "end": _epoch_ms(event.get("end")),
        **_source_address(_mapping(document.get("source")).get("ip")),
        "suser": _pseudonym(_mapping(document.get("user")).get("name")),
        "shost": _mapping(document.get("source")).get("domain"),
        "dhost": _mapping(document.get("host")).get("name"),
        "cnt": alert.get("count"),
        "externalId": alert.get("id"),
        "act": alert.get("status"),
        "cat": change,
        "cs1Label": "rule",
        "cs1": rule.get("id"),
        "cs2Label": "tactics/techniques",
        "cs2": _attack_tags(document.get("tags")),
        "cs3Label": "fingerprint",
        "cs3": alert.get("fingerprint"),
        "cs4Label": "incident",
        "cs4": alert.get("incident_id"),
        "msg": _summary(rule.get("name"), alert, change),
    }
    present = {key: value for key, value in fields.items() if value not in (None, "", [])}
    for label in ("cs1Label", "cs2Label", "cs3Label", "cs4Label"):
        if label.removesuffix("Label") not in present:
            present.pop(label, None)
    return {key: str(value) for key, value in present.items()}


def _joined(extensions: Mapping[str, str]) -> str:
    return " ".join(
        f"{key}={escape_extension(value, _EXTENSION_CAPS.get(key, 4000))}"
        for key, value in extensions.items()
    )


def _drop(extensions: dict[str, str], key: str) -> None:
    extensions.pop(key, None)
    extensions.pop(f"{key}Label", None)


def syslog_message(cef: str, *, severity: str, timestamp: datetime, hostname: str) -> bytes:
    """The RFC 5424 message around ``cef``: ``<PRI>1 TIMESTAMP HOST wachter - alert - CEF…``."""
    priority = FACILITY_LOCAL4 * 8 + SYSLOG_SEVERITY.get(severity, 6)
    moment = timestamp.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    header = f"<{priority}>1 {moment} {syslog_hostname(hostname)} {APP_NAME} - {MSG_ID} -"
    return f"{header} {cef}".encode()


def feed_entry_message(entry: AlertFeedEntry, *, hostname: str) -> bytes:
    """The syslog message of one alert feed entry.

    A document that cannot be read (it never should: Wachter wrote it) still gives a line
    with what the entry row itself knows, so one bad row cannot stop the feed behind it.
    """
    try:
        document = orjson.loads(entry.document)
    except orjson.JSONDecodeError:
        document = None
    if not isinstance(document, dict):
        document = {"wachter": {"alert": {"id": entry.alert_id}}}
    cef = cef_message(document, change=entry.change, severity=entry.severity)
    return syslog_message(
        cef, severity=entry.severity, timestamp=entry.recorded_at, hostname=hostname
    )


def octet_counted(message: bytes) -> bytes:
    """RFC 6587 octet-counting framing: ``MSG-LEN SP SYSLOG-MSG``."""
    return b"%d %s" % (len(message), message)


def syslog_hostname(name: str) -> str:
    """HOSTNAME as RFC 5424 allows it: printable US-ASCII without spaces, or ``-``."""
    cleaned = "".join(c for c in name if 33 <= ord(c) <= 126)[:MAX_HOSTNAME]
    return cleaned or "-"


@cache
def wachter_version() -> str:
    try:
        return package_version("wachter")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _epoch_ms(value: object) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _source_address(value: object) -> dict[str, str]:
    """IPv4 in ``src``; IPv6 in ``c6a2`` (the spec's field for a source IPv6 address)."""
    if not isinstance(value, str):
        return {}
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return {}
    if address.version == 4:
        return {"src": str(address)}
    return {"c6a2Label": "Source IPv6 Address", "c6a2": str(address)}


def _pseudonym(value: object) -> str | None:
    if isinstance(value, str) and value.startswith(PSEUDONYM_PREFIX):
        return value
    return None  # never a clear name, even if a document carried one


def _attack_tags(tags: object) -> str | None:
    if not isinstance(tags, list):
        return None
    names = [
        tag.removeprefix("attack.")
        for tag in tags
        if isinstance(tag, str) and tag.startswith("attack.")
    ]
    # Technique ids as ATT&CK writes them (T1110.001); tactics by name (credential_access).
    return ",".join(name.upper() if _TECHNIQUE.fullmatch(name) else name for name in names) or None


def _summary(name: object, alert: Mapping[str, Any], change: str) -> str:
    text = f"Alert {alert.get('id', '?')} {change}"
    if alert.get("status"):
        text += f" (status {alert['status']}, count {alert.get('count', 1)})"
    return f"{text}: {name}" if name else text
