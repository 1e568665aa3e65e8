"""OpenVPN server log lines as ECS events, dataset ``openvpn``: logins (username/password,
PAM plug-in), sessions starting and ending, and the tunnel address a client was given.

Two ways in: a log file with OpenVPN's own timestamps (``2024-03-01 10:00:00 …`` since 2.5,
``Fri Mar  1 10:00:00 2024 …`` before; either may carry ``us=…``), or syslog, where
``ingest.parsers.syslog`` hands the messages of ``openvpn``/``ovpn-*`` to
``parse_openvpn_message``.

Per-client lines start with ``<common name>/<ip>:<port>`` (or ``<ip>:<port>`` before the
client is authenticated): that gives ``user.name``, ``source.ip`` and ``source.port``. The
address OpenVPN assigns inside the tunnel goes to ``source.nat.ip``: it is the client's
address translated into the VPN network, so later firewall and proxy events that show the
tunnel address can be tied back to ``source.ip`` and the user.
"""

from __future__ import annotations

import re
from datetime import datetime

from ingest.parsers.base import Document, ParseError, Parser, valid_ip
from ingest.parsers.message_rules import (
    MONTHS,
    add_related,
    apply_rules,
    rule,
    set_port,
    set_user,
)
from ingest.parsers.syslog import parse_syslog, program_of

DATASET = "openvpn"
NAMESPACE = ("openvpn",)
_FLAGS = re.ASCII | re.DOTALL

_ISO_LINE = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d\d)-(?P<day>\d\d) (?P<hour>\d\d):(?P<minute>\d\d)"
    r":(?P<second>\d\d)(?: us=(?P<micro>\d{1,6}))? (?P<message>.*)\Z",
    _FLAGS,
)
_CTIME_LINE = re.compile(
    r"[A-Z][a-z]{2} (?P<month>[A-Z][a-z]{2}) {1,2}(?P<day>\d{1,2}) (?P<hour>\d\d):(?P<minute>\d\d)"
    r":(?P<second>\d\d) (?P<year>\d{4})(?: us=(?P<micro>\d{1,6}))? (?P<message>.*)\Z",
    _FLAGS,
)
_PEER = re.compile(
    r"(?:(?P<user>[^\s/]{1,256})/)?(?P<address>[0-9A-Fa-f.:]{2,45}?):(?P<port>\d{1,5}) ", _FLAGS
)
# What makes a time-stamped line an OpenVPN one, for guessing a file's format.
_TYPICAL = re.compile(
    r"(?:\S+/)?[0-9A-Fa-f.:]+:\d{1,5} |OpenVPN |MULTI|TLS|Peer Connection|Initialization Seq"
    r"|SIG[A-Z0-9]+\[|AUTH-PAM|PLUGIN_CALL|VERIFY |UDPv[46]|TCPv[46]|TUN/TAP|Data Channel",
    _FLAGS,
)
_AUTH_FAILED = ("openvpn-authentication", "authentication", "start", "failure")
_SESSION_ENDED = ("openvpn-session-ended", "session", "end", "success")
_ADDRESS_ASSIGNED = ("openvpn-address-assigned", "network", "info", "success")
_RULES = (
    rule(r"TLS: Username/Password authentication succeeded for username '(?P<user>.*)'"
         r"(?: \[CN SET\])?", "openvpn-authentication", "authentication", "start", "success"),
    rule(r"TLS Auth Error: Auth Username/Password verification failed for peer", *_AUTH_FAILED),
    rule(r"TLS Auth Error: (?P<reason>.*)", *_AUTH_FAILED),
    rule(r"AUTH-PAM: BACKGROUND: user '(?P<user>.*)' failed to authenticate(?:: (?P<reason>.*))?",
         *_AUTH_FAILED),
    rule(r"PLUGIN_CALL: POST \S+/PLUGIN_AUTH_USER_PASS_VERIFY status=1", *_AUTH_FAILED),
    rule(r"PLUGIN_CALL: plugin function PLUGIN_AUTH_USER_PASS_VERIFY failed with status 1: \S+",
         *_AUTH_FAILED),
    rule(r"VERIFY ERROR: (?P<reason>.*)", "openvpn-certificate", "authentication", "start",
         "failure"),
    rule(r"(?:\[(?P<user>[^\]]*)\] )?Peer Connection Initiated with \[AF_INET6?\](?P<address>\S+)"
         r":(?P<port>\d{1,5})(?: \(via .*\))?",
         "openvpn-session-started", "session", "start", "success"),
    rule(r"MULTI_sva: pool returned IPv4=(?P<nat_address>[0-9.]+), IPv6=.*", *_ADDRESS_ASSIGNED),
    rule(r"MULTI: Learn: (?P<nat_address>[0-9A-Fa-f.:]+) -> (?P<user>[^\s/]+)/(?P<address>\S+)"
         r":(?P<port>\d{1,5})", *_ADDRESS_ASSIGNED),
    rule(r"MULTI: primary virtual IP for (?P<user>[^\s/]+)/(?P<address>\S+):(?P<port>\d{1,5}):"
         r" (?P<nat_address>\S+)", *_ADDRESS_ASSIGNED),
    rule(r"(?P<signal>SIG[A-Z0-9]{1,16})\[(?P<reason>[^\]]*)\] received, client-instance"
         r" (?:exiting|restarting)", *_SESSION_ENDED),
    rule(r"(?:\[(?P<user>[^\]]*)\] )?Inactivity timeout \(--ping-(?:restart|exit)\)(?:, .*)?",
         *_SESSION_ENDED),
    rule(r"(?:\[(?P<user>[^\]]*)\] )?Connection reset, restarting \[-?\d+\]", *_SESSION_ENDED),
    rule(r"TLS Error: TLS handshake failed", "openvpn-tls-handshake", "network", "connection",
         "failure"),
    rule(r"(?P<signal>SIG[A-Z0-9]{1,16})\[(?P<reason>[^\]]*)\] received, process exiting",
         "openvpn-stopped", "process", "end"),
    rule(r"Initialization Sequence Completed", "openvpn-started", "process", "start", "success"),
)  # fmt: skip


def is_openvpn_program(program: str) -> bool:
    return program == "openvpn" or program.startswith(("ovpn-", "openvpn-", "openvpn@"))


def parse_openvpn_message(document: Document, program: str, message: str) -> bool:
    """Fill ``document`` (a syslog event) from an OpenVPN message; False when ``program`` is
    not OpenVPN."""
    if not is_openvpn_program(program):
        return False
    read_message(document, message)
    return True


def read_message(document: Document, message: str) -> None:
    """The peer prefix and the message's meaning, into ``document``."""
    document["event"]["dataset"] = DATASET
    text = message
    peer = _PEER.match(message)
    if peer is not None and (ip := valid_ip(peer["address"])) is not None:
        document.setdefault("source", {})["ip"] = ip
        set_port(document, peer["port"])
        add_related(document, "ip", ip)
        set_user(document, peer["user"] or "")
        text = message[peer.end() :]
    apply_rules(document, _RULES, text, NAMESPACE)


def _timestamp(match: re.Match[str]) -> datetime:
    month = int(match["month"]) if match["month"].isdigit() else MONTHS.get(match["month"], 0)
    micro = match["micro"]
    try:
        return datetime(  # noqa: DTZ001 -- OpenVPN writes local time without a zone
            int(match["year"]),
            month,
            int(match["day"]),
            int(match["hour"]),
            int(match["minute"]),
            int(match["second"]),
            int(micro.ljust(6, "0")) if micro else 0,
        )
    except ValueError:
        raise ParseError("invalid OpenVPN timestamp") from None


class OpenVpnParser:
    name = "openvpn"
    description = "OpenVPN server log (its own timestamps, or syslog from openvpn/ovpn-*)"

    def detect(self, line: str) -> bool:
        match = _ISO_LINE.match(line) or _CTIME_LINE.match(line)
        if match is not None:
            return _TYPICAL.search(match["message"], 0, 200) is not None
        program = program_of(line)
        return program is not None and is_openvpn_program(program)

    def parse_line(self, line: str, *, received: datetime) -> Document:
        text = line.rstrip("\r\n")
        match = _ISO_LINE.match(text) or _CTIME_LINE.match(text)
        if match is None:
            return parse_syslog(line, received=received)
        message = match["message"].strip()
        document: Document = {
            "@timestamp": _timestamp(match),
            "message": message,
            "event": {"original": line, "kind": "event", "dataset": DATASET},
            "process": {"name": "openvpn"},
        }
        read_message(document, message)
        return document


PARSERS: tuple[Parser, ...] = (OpenVpnParser(),)
