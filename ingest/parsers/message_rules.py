"""What the text-line parsers share: ``Rule``, a table row that turns one kind of message
into ECS fields, the setters that fill ``user``, ``source`` and ``related`` safely (an IP
only when it is one, a name only when it fits a keyword), and the month names of the
classic log formats.

Used by ``linux_auth``, ``openvpn``, ``web_access`` and ``apache_error``; hand-written for
the reasons ``syslog`` gives (no well-kept library; hostile input; linear regexes).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ingest.parsers.base import MAX_KEYWORD, Document, valid_ip

_FLAGS = re.ASCII | re.DOTALL

MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}


_HOSTNAME = re.compile(r"(?=[\w.-]*[A-Za-z_])\w(?:[\w.-]{0,251}\w)?\Z", re.ASCII)
_INTEGER_GROUPS = frozenset({"count"})


def is_hostname(text: str) -> bool:
    """A DNS name with a letter in it (so ``999.1.1.1`` is neither an IP nor a host)."""
    return len(text) <= 253 and _HOSTNAME.match(text) is not None


def add_related(document: Document, kind: str, value: str) -> None:
    values: list[str] = document.setdefault("related", {}).setdefault(kind, [])
    if value not in values:
        values.append(value)


def set_address(document: Document, address: str) -> None:
    """``address`` as ``source.ip`` when it is an IP, ``source.domain`` when a host name;
    anything else stays only in the message."""
    ip = valid_ip(address)
    if ip is not None:
        document.setdefault("source", {})["ip"] = ip
        add_related(document, "ip", ip)
    else:
        set_domain(document, address)


def set_port(document: Document, port: str) -> None:
    if port.isascii() and port.isdigit() and int(port) <= 65535:
        document.setdefault("source", {})["port"] = int(port)


def set_user(document: Document, name: str, *, effective: bool = False) -> None:
    """``user.name`` (or ``user.effective.name``). An empty name is left out, and so is one
    too long for a keyword: ``finish`` would refuse the whole event (base.MAX_KEYWORD),
    hiding, say, a failed login from the rules; the name stays in the message."""
    if not name or len(name) > MAX_KEYWORD:
        return
    user = document.setdefault("user", {})
    if effective:
        user["effective"] = {"name": name}
    else:
        user["name"] = name
    add_related(document, "user", name)


def set_domain(document: Document, name: str) -> None:
    if is_hostname(name):
        document.setdefault("source", {})["domain"] = name
        add_related(document, "hosts", name)


def _set_effective_user(document: Document, name: str) -> None:
    set_user(document, name, effective=True)


def _set_nat_address(document: Document, address: str) -> None:
    ip = valid_ip(address)
    if ip is not None:
        document.setdefault("source", {}).setdefault("nat", {})["ip"] = ip
        add_related(document, "ip", ip)


def _set_command(document: Document, command: str) -> None:
    document.setdefault("process", {})["command_line"] = command


def _set_directory(document: Document, directory: str) -> None:
    document.setdefault("process", {})["working_directory"] = directory


Setter = Callable[[Document, str], None]
_GROUP_SETTERS: dict[str, Setter] = {
    "user": set_user,
    "effective_user": _set_effective_user,
    "address": set_address,
    "domain": set_domain,
    "port": set_port,
    "nat_address": _set_nat_address,
    "command": _set_command,
    "directory": _set_directory,
}


@dataclass(frozen=True, slots=True)
class Rule:
    """One kind of message: its pattern and what it means in ECS.

    Named groups carry the values: ``user``, ``effective_user``, ``address`` (IP or host),
    ``domain``, ``port``, ``nat_address``, ``command`` and ``directory`` go to their ECS
    fields; groups starting with ``_`` are left to the caller; any other group is kept under
    the parser's own namespace (``count`` as an integer)."""

    pattern: re.Pattern[str]
    action: str
    category: tuple[str, ...]
    types: tuple[str, ...]
    outcome: str | None
    groups: tuple[tuple[str, Setter | None], ...]  # worked out once: this runs per line


def rule(pattern: str, action: str, category: str, types: str, outcome: str | None = None) -> Rule:
    """A ``Rule`` from a regex matched against the whole message; ``category`` and ``types``
    are comma-separated."""
    compiled = re.compile(pattern + r"\Z", _FLAGS)
    groups = tuple(
        (name, _GROUP_SETTERS.get(name)) for name in compiled.groupindex if name[0] != "_"
    )
    return Rule(
        compiled,
        action,
        tuple(category.split(",")),
        tuple(types.split(",")),
        outcome,
        groups,
    )


def apply_rules(
    document: Document, rules: Iterable[Rule], text: str, namespace: tuple[str, ...]
) -> re.Match[str] | None:
    """The first of ``rules`` whose pattern matches ``text``, applied to ``document``."""
    for candidate in rules:
        match = candidate.pattern.match(text)
        if match is not None:
            _apply_rule(document, candidate, match, namespace)
            return match
    return None


def _apply_rule(
    document: Document, matched: Rule, match: re.Match[str], namespace: tuple[str, ...]
) -> None:
    event = document["event"]
    event["action"] = matched.action
    event["category"] = list(matched.category)
    event["type"] = list(matched.types)
    if matched.outcome is not None:
        event["outcome"] = matched.outcome
    for name, setter in matched.groups:
        value = match[name]
        if value is None:
            continue
        if setter is not None:
            setter(document, value)
        else:
            own = nested(document, namespace)
            own[name] = int(value) if name in _INTEGER_GROUPS else value


def nested(document: Document, path: tuple[str, ...]) -> dict[str, Any]:
    """The dict at ``path`` in ``document``, made on the way when missing."""
    here = document
    for name in path:
        here = here.setdefault(name, {})
    return here
