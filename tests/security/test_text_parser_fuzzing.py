"""Hostile text lines (SECURITY_CASES.md §5.8 #57, #58, #63) against every text-line parser:
syslog, linux-auth, nginx/apache access, apache error and OpenVPN, fuzzed with Hypothesis in
bounded runs.

The promise under test: whatever arrives, a parser returns a document that keeps the input
verbatim in ``event.original`` (and can be stored), or refuses it with a ParseError; nothing
else escapes, so no line can crash a receiver or a worker. Also: no value that is not an IP
address lands in ``source.ip``, regexes stay linear on long hostile lines, and valid RFC
5424 lines round-trip their APP-NAME, MSGID, STRUCTURED-DATA and MSG.
"""

from __future__ import annotations

import ipaddress
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ingest.normalise import finish
from ingest.parsers import LineParser, ParseError, get_parser
from ingest.parsers.syslog import parse_syslog
from storage.events import EventRecord

RECEIVED = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
PARSERS = [
    get_parser(name)
    for name in ("syslog", "linux-auth", "nginx-access", "apache-access", "apache-error", "openvpn")
]
# One valid line of every shape the parsers know, for the mutations to start from.
VALID = """\
<165>1 2003-10-11T22:14:15.003Z host.example evntslog - ID47 [a@1 k="v" e="\\"\\]"][b@2 c="d"] \ufeffmsg
<13>1 - - - - - -
<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8
Dec 10 06:55:46 LabSZ sshd[24200]: Failed password for invalid user x y from 173.234.31.186 port 38926 ssh2
Dec 10 06:55:46 LabSZ sshd[24200]: Accepted publickey for a from ::1 port 22 ssh2: RSA SHA256:x
Dec 10 07:13:56 LabSZ sshd[24227]: message repeated 5 times: [ Failed password for root from 5.36.59.76 port 42393 ssh2]
Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4  user=root
Mar  1 10:00:00 h sudo:    alice : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/ls
Mar  1 10:00:00 h su[1]: pam_unix(su:session): session opened for user root by alice(uid=1000)
Jul  7 08:06:15 combo  -- root[2421]: ROOT LOGIN ON tty2
Mar  1 10:00:00 h login[4]: FAILED LOGIN (1) on '/dev/tty1' FOR 'root', Authentication failure
2024-03-01T10:00:00.123456+01:00 web01 systemd-logind[1]: New session 5 of user alice.
127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a?b=1 HTTP/1.0" 200 2326 "http://r/" "UA \\"x\\""
1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "\\x16\\x03\\x01" 400 -
[Wed Oct 11 14:32:52.123456 2000] [core:error] [pid 35708:tid 4328636416] [client 72.15.99.187:53722] AH00124: x, referer: http://r/
[Sun Dec 04 04:47:44 2005] [error] [client 1.2.3.4] Directory index forbidden by rule: /var/www/html/
2024-03-01 10:01:13 alice/198.51.100.7:51234 MULTI_sva: pool returned IPv4=10.8.0.6, IPv6=(Not enabled)
Fri Mar  1 10:01:13 2024 us=1 198.51.100.7:51234 [alice] Peer Connection Initiated with [AF_INET]198.51.100.7:51234
Mar  1 10:00:00 vpn ovpn-server[7]: 203.0.113.66:40112 AUTH-PAM: BACKGROUND: user 'bob' failed to authenticate
""".splitlines()  # noqa: E501 -- real lines are long
HOSTILE = [
    "\x00", "\n", "\r", "\r\n", "\t", "\x1b[2J", "\u2028", "\u2029", "\u202e", "\u2066", "\ufeff",
    "\ud800", "\\", '"', "]", "[", "<", ">", ":", " ", "  ", "-", "=", "'", "%", "/", "\u0661",
    "999.1.1.1", "fe80::1%eth0", "1.2.3.4", "::ffff:1.2.3.4", " from 9.9.9.9 port 1 ssh2",
    " port 99999", "\n2026-01-01 INFO user=admin login ok", "<999>", "<-1>", "<13>1 ", "[id k=\"v",
]  # fmt: skip
CHARACTERS = st.characters(exclude_categories=()) | st.sampled_from(HOSTILE)
TEXT = st.lists(CHARACTERS, max_size=60).map("".join)
LONG = st.builds(lambda piece, count: piece * count, st.sampled_from([*HOSTILE, "a", "x "]),
                 st.integers(min_value=256, max_value=70_000))  # fmt: skip


def _insert(line: str, position: int, text: str) -> str:
    position %= len(line) + 1
    return line[:position] + text + line[position:]


def _replace(line: str, position: int, text: str) -> str:
    position %= len(line) + 1
    return line[:position] + text + line[position + len(text) :]


def _truncate(line: str, position: int, text: str) -> str:
    return line[: position % (len(line) + 1)]


def _with_pri(line: str, position: int, text: str) -> str:
    return f"<{position - 500}>{line.split('>', 1)[-1]}"


NEAR_VALID = st.builds(
    lambda line, operation, position, text: operation(line, position, text),
    st.sampled_from(VALID),
    st.sampled_from([_insert, _replace, _truncate, _with_pri]),
    st.integers(min_value=0, max_value=1_000),
    TEXT | LONG,
)


def survives(line: str) -> None:
    """Assert the promise for every parser: a storable document keeping ``line``, or a
    ParseError with a short reason."""
    for parser in PARSERS:
        assert parser.detect(line) in {True, False}
        outcome = _parse(parser, line)
        if isinstance(outcome, str):
            assert 0 < len(outcome) <= 200
            continue
        assert outcome["event"]["original"] == line
        source_ip = outcome.get("source", {}).get("ip")
        if source_ip is not None:
            ipaddress.ip_address(source_ip)
        for related_ip in outcome.get("related", {}).get("ip", []):
            ipaddress.ip_address(related_ip)
        stored = _store(outcome)
        assert isinstance(stored, EventRecord) or stored  # too large to store: a reason


def _parse(parser: LineParser, line: str) -> dict[str, Any] | str:
    try:
        document = parser.parse_line(line, received=RECEIVED)
    except ParseError as error:
        return error.reason
    assert isinstance(document, dict)
    return document


def _store(document: dict[str, Any]) -> EventRecord | str:
    try:
        return finish(document, source="fuzz", event_key="k", ingested=RECEIVED)
    except ParseError as error:
        return error.reason


@FUZZ
@given(TEXT)
@example("")
@example("<")
@example("<13>1 - - - - - [")
@example("Jan  1 00:00:00 ")
@example("\ufeff<13>x")
def test_any_text_is_an_event_or_a_parse_error(line):
    survives(line)


@FUZZ
@given(NEAR_VALID)
@example(VALID[0][:-12])  # SD cut inside an element
@example(VALID[3].replace("173.234.31.186", "999.1.1.1"))
@example(VALID[3] + "\u2028forged: Accepted password for root from 1.2.3.4 port 22 ssh2")
def test_any_near_valid_line_is_an_event_or_a_parse_error(line):
    survives(line)


@FUZZ
@given(st.integers(min_value=-1_000, max_value=100_000) | TEXT, st.sampled_from(VALID))
def test_any_pri_is_read_or_refused(pri, line):
    survives(f"<{pri}>{line.split('>', 1)[-1]}")


PRINTABLE_ASCII = st.characters(min_codepoint=33, max_codepoint=126)
SD_NAME = st.text(
    st.characters(min_codepoint=33, max_codepoint=126, exclude_characters='=]"'),
    min_size=1,
    max_size=32,
)
UNICODE = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


@FUZZ
@given(
    st.integers(min_value=0, max_value=191),
    st.text(PRINTABLE_ASCII, min_size=1, max_size=48).filter(lambda text: text != "-"),
    st.text(PRINTABLE_ASCII, min_size=1, max_size=32).filter(lambda text: text != "-"),
    st.dictionaries(SD_NAME, st.dictionaries(SD_NAME, UNICODE, max_size=4), max_size=4),
    UNICODE,
)
def test_valid_rfc_5424_lines_round_trip_app_msgid_structured_data_and_message(
    priority, app, msgid, elements, message
):
    structured = "".join(
        f"[{element}"
        + "".join(f' {name}="{_escape(value)}"' for name, value in params.items())
        + "]"
        for element, params in elements.items()
    )
    line = f"<{priority}>1 2024-06-01T10:00:00Z host {app} 42 {msgid} {structured or '-'} {message}"

    document = parse_syslog(line, received=RECEIVED)

    syslog = document["log"]["syslog"]
    assert syslog["priority"] == priority
    assert syslog["appname"] == app
    assert syslog["msgid"] == msgid
    assert syslog.get("structured_data", {}) == elements
    assert document["message"] == message.removeprefix("\ufeff").strip()
    assert document["event"]["original"] == line


@pytest.mark.parametrize(
    "line",
    [
        "Dec 10 06:55:46 h sshd[1]: Failed password for " + " from a port 1 x" * 20_000,
        "Dec 10 06:55:46 h sshd[1]: Accepted x for " + " from a port 1: " * 20_000,
        "Dec 10 06:55:46 h sshd[1]: Invalid user " + "a " * 50_000,
        "Dec 10 06:55:46 h sshd[1]: Connection closed by invalid user " + "a " * 50_000,
        "Dec 10 06:55:46 h su[1]: pam_unix(su:session): session opened for user "
        + "a(uid=1" * 20_000,
        "Dec 10 06:55:46 h sudo: " + "a : " * 50_000,
        "Dec 10 06:55:46 h login[1]: FAILED LOGIN (1) FOR '" + "', " * 50_000,
        "<13>1 - h a - - " + '[i k="' + '\\"' * 50_000,
        "<13>1 - h a - - " + '[i k="v"' * 20_000,
        "1.2.3.4 - " + "- " * 50_000 + "[10/Oct/2000:13:55:36 +0000]",
        '1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "' + '\\"' * 50_000,
        "[Sun Dec 04 04:47:44 2005] [error] " + "(1)x: " * 30_000,
        "2024-03-01 10:00:00 " + "1:" * 50_000 + " x",
        "Mar  1 10:00:00 v openvpn: " + "[a] " * 50_000 + "Peer Connection Initiated with",
    ],
)
def test_long_hostile_lines_are_handled_in_linear_time(line):
    started = time.perf_counter()

    survives(line)

    assert time.perf_counter() - started < 2.0
