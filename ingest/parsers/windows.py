"""Windows event logs as ECS: Winlogbeat documents and flat EVTX-JSON.

Two shapes arrive. Winlogbeat (and Elastic Agent) send ECS already, with the event's own
fields under ``winlog.*``; they are kept as sent and only missing ECS basics are filled in.
EVTX converters (Chainsaw, Hayabusa, Zircolite, our ``evtx`` file parser, NXLog JSON)
send the event flat: ``EventID``, ``Channel``, ``Computer``, ``SystemTime`` and every
EventData field at the top level, the names Sigma's Windows rules match. Those fields stay
exactly where they are; ECS is added beside them.

The meaning of the well-known event ids (logon, logoff, process start, account changes,
Kerberos, log cleared, the main Sysmon events) is a table below, after Winlogbeat's own
mapping, which nobody publishes as a Python library. Fields the sender already set win:
this parser only fills gaps, so it never contradicts what a shipper decided.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ingest.parsers.base import Document, ParseError, valid_ip
from ingest.parsers.json_lines import claimed_time, fill, keyword, prepare

_ECS_OBJECTS = (
    "event", "host", "user", "source", "destination", "process", "winlog", "related",
    "file", "dns", "registry",
)  # fmt: skip
# Values Windows writes where there is nothing: a logon with no network address has "-".
_PLACEHOLDERS = frozenset({"", "-", "n/a", "null"})
_NAMED_DATASETS = {
    "security": "windows.security",
    "system": "windows.system",
    "application": "windows.application",
    "microsoft-windows-sysmon/operational": "windows.sysmon",
    "microsoft-windows-powershell/operational": "windows.powershell",
    "windows powershell": "windows.powershell",
}
_LARGEST_EVENT_ID = 65535  # event ids are 16-bit


@dataclass(frozen=True, slots=True)
class _Meaning:
    category: tuple[str, ...]
    type: tuple[str, ...]
    action: str
    outcome: str | None  # None: read from Status (Kerberos, NTLM), or unknown


def _auth(kind: str, action: str, outcome: str | None = "success") -> _Meaning:
    return _Meaning(("authentication",), (kind,), action, outcome)


def _iam(kind: str, action: str) -> _Meaning:
    return _Meaning(("iam",), ("user", kind), action, "success")


_SECURITY = {
    4624: _auth("start", "logged-in"),
    4625: _auth("start", "logon-failed", "failure"),
    4634: _auth("end", "logged-out"),
    4647: _auth("end", "logged-out"),
    4648: _auth("start", "logged-in-explicit"),
    4672: _Meaning(("iam",), ("admin",), "logged-in-special", "success"),
    4688: _Meaning(("process",), ("start",), "created-process", "success"),
    4720: _iam("creation", "added-user-account"),
    4722: _iam("change", "enabled-user-account"),
    4725: _iam("change", "disabled-user-account"),
    4726: _iam("deletion", "deleted-user-account"),
    4738: _iam("change", "modified-user-account"),
    4740: _iam("change", "locked-out-user-account"),
    4768: _auth("start", "kerberos-authentication-ticket-requested", None),
    4769: _auth("start", "kerberos-service-ticket-requested", None),
    4771: _auth("start", "kerberos-preauth-failed", "failure"),
    4776: _auth("start", "credential-validated", None),
    1102: _Meaning(("iam",), ("admin", "change"), "audit-log-cleared", "success"),
}
_SYSMON = {
    1: _Meaning(("process",), ("start",), "process-created", None),
    3: _Meaning(("network",), ("connection", "start"), "network-connection-detected", None),
    11: _Meaning(("file",), ("creation",), "file-created", None),
    12: _Meaning(("configuration", "registry"), ("change",), "registry-key-changed", None),
    13: _Meaning(("configuration", "registry"), ("change",), "registry-value-set", None),
    22: _Meaning(("network",), ("protocol", "info"), "dns-query", None),
}
# Account management: the subject acts on the target account (ECS ``user.target``).
_ACCOUNT_MANAGEMENT = frozenset({4720, 4722, 4725, 4726, 4738, 4740})
# (address field, port field) pairs, in the order they are looked for.
_SOURCES = (
    ("IpAddress", "IpPort"), ("SourceIp", "SourcePort"), ("ClientAddress", "ClientPort"),
    ("SourceAddress", "SourcePort"),
)  # fmt: skip
_DESTINATIONS = (("DestinationIp", "DestinationPort"), ("DestAddress", "DestPort"))


@dataclass(frozen=True, slots=True)
class _System:
    """The System part of an event, wherever the shape keeps it."""

    event_id: int | None
    channel: str | None
    provider: str | None
    computer: str | None
    record_id: int | None


class WindowsParser:
    name = "windows"
    description = "Windows events: Winlogbeat (ECS) documents or flat EVTX-JSON"

    def detect_document(self, document: Document) -> bool:
        if isinstance(document.get("winlog"), dict):
            return True
        return "EventID" in document and ("Channel" in document or "Provider_Name" in document)

    def parse_document(self, document: Document, *, received: datetime) -> Document:
        winlog = document.get("winlog")
        if isinstance(winlog, dict):
            return _from_winlogbeat(document, winlog)
        if "EventID" in document:
            return _from_flat(document)
        raise ParseError("not a Windows event: it has neither a winlog object nor an EventID")


def _from_flat(document: Document) -> Document:
    system = _System(
        event_id=event_id(document.get("EventID")),
        channel=_text(document.get("Channel")),
        provider=_text(document.get("Provider_Name")),
        computer=_text(document.get("Computer")),
        record_id=_whole(document.get("EventRecordID")),
    )
    output = prepare(document, _ECS_OBJECTS)
    if output.get("@timestamp") is None and document.get("SystemTime") is not None:
        output["@timestamp"] = document["SystemTime"]
    if "@timestamp" in output:
        output["@timestamp"] = claimed_time(output["@timestamp"])
    fill(output, "winlog.channel", system.channel)
    fill(output, "winlog.event_id", system.event_id)
    fill(output, "winlog.record_id", system.record_id)
    fill(output, "winlog.provider_name", system.provider)
    fill(output, "winlog.computer_name", system.computer)
    _add_ecs(output, system, document)
    return output


def _from_winlogbeat(document: Document, winlog: dict[str, Any]) -> Document:
    event = document.get("event")
    code = event.get("code") if isinstance(event, dict) else None
    given_id = winlog.get("event_id")
    system = _System(
        event_id=event_id(given_id if given_id is not None else code, required=False),
        channel=_text(winlog.get("channel")),
        provider=_text(winlog.get("provider_name")),
        computer=_text(winlog.get("computer_name")),
        record_id=_whole(winlog.get("record_id")),
    )
    fields: dict[str, Any] = {}
    for part in ("user_data", "event_data"):  # event data wins, as in the flat shape
        if isinstance(winlog.get(part), dict):
            fields.update(winlog[part])
    output = prepare(document, _ECS_OBJECTS)
    if "@timestamp" in output:
        output["@timestamp"] = claimed_time(output["@timestamp"])
    _add_ecs(output, system, fields)
    return output


def event_id(value: Any, *, required: bool = True) -> int | None:
    """An event id as a number; ids are 16-bit, anything else is not a Windows event."""
    if value is None and not required:
        return None
    if isinstance(value, str) and re.fullmatch(r"\s*\d{1,5}\s*", value):
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _LARGEST_EVENT_ID:
        return value
    raise ParseError("EventID must be a whole number from 0 to 65535")


def _add_ecs(output: Document, system: _System, fields: Mapping[str, Any]) -> None:
    fill(output, "event.kind", "event")
    if system.event_id is not None:
        fill(output, "event.code", str(system.event_id))
    fill(output, "event.provider", keyword(system.provider))
    fill(output, "event.dataset", dataset(system.channel, system.provider))
    fill(output, "host.name", keyword(system.computer))
    meaning = _meaning(system)
    if meaning is not None:
        fill(output, "event.category", list(meaning.category))
        fill(output, "event.type", list(meaning.type))
        fill(output, "event.action", meaning.action)
        fill(output, "event.outcome", meaning.outcome or _status_outcome(system, fields))
    _add_users(output, system.event_id if _is_security(system) else None, fields)
    _add_network(output, fields)
    _add_process(output, system.event_id if _is_security(system) else None, fields)
    _add_objects(output, fields)


def dataset(channel: str | None, provider: str | None) -> str:
    """``windows.security``, ``windows.sysmon``, …; other channels by their own name."""
    name = (channel or provider or "").lower()
    if name in _NAMED_DATASETS:
        return _NAMED_DATASETS[name]
    slug = re.sub(r"[^a-z0-9]+", "_", name.removeprefix("microsoft-windows-")).strip("_")
    return f"windows.{slug[:60] or 'unknown'}"


def _is_security(system: _System) -> bool:
    return (system.channel or "").lower() == "security"


def _is_sysmon(system: _System) -> bool:
    channel = (system.channel or "").lower()
    return channel.endswith("sysmon/operational") or (system.provider or "").endswith("-Sysmon")


def _meaning(system: _System) -> _Meaning | None:
    if system.event_id is None:
        return None
    if _is_security(system):
        return _SECURITY.get(system.event_id)
    if _is_sysmon(system):
        return _SYSMON.get(system.event_id)
    return None


def _status_outcome(system: _System, fields: Mapping[str, Any]) -> str | None:
    """Kerberos and NTLM events say how they went in ``Status``: 0 is success."""
    if system.event_id not in (4768, 4769, 4776):
        return None
    status = _whole(fields.get("Status"))
    if status is None:
        return None
    return "success" if status == 0 else "failure"


def _add_users(output: Document, security_id: int | None, fields: Mapping[str, Any]) -> None:
    target = _account(fields, "TargetUserName", "TargetDomainName")
    subject = _account(fields, "SubjectUserName", "SubjectDomainName")
    if security_id in _ACCOUNT_MANAGEMENT:
        actor, acted_on = subject, target
    else:
        actor, acted_on = target or subject or _split_user(fields.get("User")), None
    names = []
    if actor is not None:
        fill(output, "user.name", actor[0])
        fill(output, "user.domain", actor[1])
        names.append(actor[0])
    if acted_on is not None:
        fill(output, "user.target.name", acted_on[0])
        fill(output, "user.target.domain", acted_on[1])
        names.append(acted_on[0])
    if names:
        fill(output, "related.user", sorted(set(names)))


def _account(
    fields: Mapping[str, Any], name_field: str, domain_field: str
) -> tuple[str, str | None] | None:
    name = keyword(_text(fields.get(name_field)))
    return (name, keyword(_text(fields.get(domain_field)))) if name is not None else None


def _split_user(value: Any) -> tuple[str, str | None] | None:
    text = keyword(_text(value))
    if text is None:
        return None
    domain, _, name = text.rpartition("\\")
    return name, domain or None


def _add_network(output: Document, fields: Mapping[str, Any]) -> None:
    addresses = []
    for side, pairs in (("source", _SOURCES), ("destination", _DESTINATIONS)):
        for address_field, port_field in pairs:
            address = _address(fields.get(address_field))
            if address is not None:
                fill(output, f"{side}.ip", address)
                fill(output, f"{side}.port", _port(fields.get(port_field)))
                addresses.append(address)
                break
    if addresses:
        fill(output, "related.ip", sorted(set(addresses)))


def _address(value: Any) -> str | None:
    """A valid IP address as text (IPv4-mapped IPv6 as IPv4, zone id dropped), else None."""
    if not isinstance(value, str) or not 2 <= len(value) <= 64:
        return None
    text = valid_ip(value.strip().split("%", 1)[0])
    if text is None:
        return None
    address = ipaddress.ip_address(text)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return text


def _port(value: Any) -> int | None:
    port = _whole(value)
    return port if port is not None and 0 < port <= 65535 else None


def _add_process(output: Document, security_id: int | None, fields: Mapping[str, Any]) -> None:
    if security_id == 4688:  # the new process; ProcessId/ProcessName are its creator's
        executable = _text(fields.get("NewProcessName"))
        pid = _whole(fields.get("NewProcessId"))
        fill(output, "process.parent.pid", _whole(fields.get("ProcessId")))
        fill(output, "process.parent.executable", _text(fields.get("ParentProcessName")))
    else:
        executable = _text(fields.get("Image")) or _text(fields.get("ProcessName"))
        pid = _whole(fields.get("ProcessId"))
    if executable is not None:
        fill(output, "process.executable", executable)
        fill(output, "process.name", re.split(r"[\\/]", executable)[-1])
    fill(output, "process.pid", pid)
    fill(output, "process.command_line", _text(fields.get("CommandLine")))
    fill(output, "process.parent.executable", _text(fields.get("ParentImage")))
    fill(output, "process.parent.pid", _whole(fields.get("ParentProcessId")))
    fill(output, "process.parent.command_line", _text(fields.get("ParentCommandLine")))


def _add_objects(output: Document, fields: Mapping[str, Any]) -> None:
    """What Sysmon file, registry and DNS events are about."""
    fill(output, "file.path", _text(fields.get("TargetFilename")))
    fill(output, "registry.path", _text(fields.get("TargetObject")))
    fill(output, "dns.question.name", _text(fields.get("QueryName")))


def _text(value: Any) -> str | None:
    """A string that says something; Windows' placeholders ("-") count as nothing."""
    if isinstance(value, str) and value.strip().lower() not in _PLACEHOLDERS:
        return value
    return None


def _whole(value: Any) -> int | None:
    """A whole number written as a number, in decimal or in hex ("0x3e8"), within 64 bits."""
    if isinstance(value, str):
        text = value.strip().lower()
        if re.fullmatch(r"\d{1,19}", text):
            value = int(text)
        elif re.fullmatch(r"0x[0-9a-f]{1,16}", text):
            value = int(text, 16)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63:
        return value
    return None


PARSERS: tuple[WindowsParser, ...] = (WindowsParser(),)
