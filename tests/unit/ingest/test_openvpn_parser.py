"""OpenVPN server logs as login and session events: a file with OpenVPN's own timestamps
(both layouts) and the same messages arriving over syslog."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingest.parsers import ParseError, detect_line_parser, get_parser
from ingest.parsers.syslog import parse_syslog

RECEIVED = datetime(2024, 3, 1, 13, 0, tzinfo=UTC)
PARSER = get_parser("openvpn")
# A small server log in the shape OpenVPN 2.6 writes (addresses from documentation ranges).
SAMPLE = """\
2024-03-01 10:00:00 OpenVPN 2.6.9 x86_64-pc-linux-gnu [SSL (OpenSSL)] [LZO] [LZ4] [EPOLL] [DCO]
2024-03-01 10:00:00 Initialization Sequence Completed
2024-03-01 10:01:12 198.51.100.7:51234 TLS: Initial packet from [AF_INET]198.51.100.7:51234, sid=1a2b3c4d 5e6f7a8b
2024-03-01 10:01:13 198.51.100.7:51234 VERIFY OK: depth=0, CN=alice
2024-03-01 10:01:13 198.51.100.7:51234 TLS: Username/Password authentication succeeded for username 'alice'
2024-03-01 10:01:13 198.51.100.7:51234 [alice] Peer Connection Initiated with [AF_INET]198.51.100.7:51234
2024-03-01 10:01:13 alice/198.51.100.7:51234 MULTI_sva: pool returned IPv4=10.8.0.6, IPv6=(Not enabled)
2024-03-01 10:01:13 alice/198.51.100.7:51234 MULTI: Learn: 10.8.0.6 -> alice/198.51.100.7:51234
2024-03-01 10:01:13 MULTI: primary virtual IP for alice/198.51.100.7:51234: 10.8.0.6
2024-03-01 10:05:41 203.0.113.66:40112 AUTH-PAM: BACKGROUND: user 'bob' failed to authenticate: Authentication failure
2024-03-01 10:05:41 203.0.113.66:40112 PLUGIN_CALL: POST /usr/lib/openvpn/openvpn-plugin-auth-pam.so/PLUGIN_AUTH_USER_PASS_VERIFY status=1
2024-03-01 10:05:41 203.0.113.66:40112 TLS Auth Error: Auth Username/Password verification failed for peer
2024-03-01 11:30:02 alice/198.51.100.7:51234 SIGTERM[soft,remote-exit] received, client-instance exiting
2024-03-01 12:00:00 carol/192.0.2.44:1194 [carol] Inactivity timeout (--ping-restart), restarting
"""  # noqa: E501 -- real log lines are long
LINES = SAMPLE.splitlines()


def parse(line: str) -> dict:
    return PARSER.parse_line(line, received=RECEIVED)


def summary(document: dict) -> tuple:
    event = document["event"]
    return (
        event.get("action"),
        event.get("category"),
        event.get("type"),
        event.get("outcome"),
        document.get("user", {}).get("name"),
        document.get("source"),
    )


ALICE = {"ip": "198.51.100.7", "port": 51234}
BOB = {"ip": "203.0.113.66", "port": 40112}
AUTH_FAILURE = ("openvpn-authentication", ["authentication"], ["start"], "failure")


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        (1, ("openvpn-started", ["process"], ["start"], "success", None, None)),
        (2, (None, None, None, None, None, ALICE)),
        (4, ("openvpn-authentication", ["authentication"], ["start"], "success", "alice", ALICE)),
        (5, ("openvpn-session-started", ["session"], ["start"], "success", "alice", ALICE)),
        (9, (*AUTH_FAILURE, "bob", BOB)),
        (10, (*AUTH_FAILURE, None, BOB)),
        (11, (*AUTH_FAILURE, None, BOB)),
        (12, ("openvpn-session-ended", ["session"], ["end"], "success", "alice", ALICE)),
        (
            13,
            (
                "openvpn-session-ended", ["session"], ["end"], "success", "carol",
                {"ip": "192.0.2.44", "port": 1194},
            ),
        ),
    ],
)  # fmt: skip
def test_each_kind_of_line_becomes_its_event(index, expected):
    assert summary(parse(LINES[index])) == expected


@pytest.mark.parametrize("index", [6, 7, 8])
def test_the_tunnel_address_a_client_gets_is_its_source_nat_ip(index):
    document = parse(LINES[index])

    assert document["event"]["action"] == "openvpn-address-assigned"
    assert document["user"] == {"name": "alice"}
    assert document["source"] == {**ALICE, "nat": {"ip": "10.8.0.6"}}
    assert document["related"]["ip"] == ["198.51.100.7", "10.8.0.6"]


def test_every_line_of_the_sample_parses_with_its_own_time_and_dataset():
    for line in LINES:
        document = parse(line)
        assert document["event"]["original"] == line
        assert document["event"]["dataset"] == "openvpn"
        assert document["@timestamp"].date() == datetime(2024, 3, 1).date()
        assert document["@timestamp"].tzinfo is None  # OpenVPN writes local time


def test_the_older_timestamp_layout_with_microseconds_is_read():
    document = parse(
        "Fri Mar  1 10:01:13 2024 us=123456 198.51.100.7:51234"
        " TLS: Username/Password authentication succeeded for username 'alice'"
    )

    assert document["@timestamp"] == datetime(2024, 3, 1, 10, 1, 13, 123456)
    assert document["event"]["outcome"] == "success"
    assert document["user"] == {"name": "alice"}


def test_the_same_messages_over_syslog_give_the_same_events():
    line = "Mar  1 10:05:41 vpn openvpn[812]: " + LINES[9].split(" ", 2)[2]

    from_syslog = parse_syslog(line, received=RECEIVED)

    assert summary(from_syslog) == summary(parse(LINES[9]))
    assert from_syslog["event"]["dataset"] == "openvpn"
    assert from_syslog["host"] == {"name": "vpn"}


def test_the_openvpn_format_also_reads_syslog_lines():
    line = "Mar  1 10:05:41 vpn ovpn-server[812]: " + LINES[12].split(" ", 2)[2]

    assert parse(line)["event"]["action"] == "openvpn-session-ended"


def test_a_prefix_that_is_not_an_address_is_left_in_the_message():
    document = parse("2024-03-01 10:00:00 999.1.1.1:5 TLS Error: TLS handshake failed")

    assert "source" not in document
    assert document["message"] == "999.1.1.1:5 TLS Error: TLS handshake failed"


def test_an_ipv6_peer_is_split_from_its_port():
    document = parse("2024-03-01 10:00:00 2001:db8::7:51234 TLS Error: TLS handshake failed")

    assert document["source"] == {"ip": "2001:db8::7", "port": 51234}
    assert document["event"]["action"] == "openvpn-tls-handshake"
    assert document["event"]["outcome"] == "failure"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("2024-02-30 10:00:00 x", "invalid OpenVPN timestamp"),
        ("not a log line at all", "no syslog header"),
    ],
)
def test_lines_it_cannot_read_are_refused(line, reason):
    with pytest.raises(ParseError, match=reason):
        parse(line)


def test_an_openvpn_log_is_guessed_as_openvpn():
    assert detect_line_parser(LINES) is PARSER
    assert not PARSER.detect("2024-03-01 10:00:00 INFO app started")
