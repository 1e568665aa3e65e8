"""CEF lines for alerts: escaping per the CEF spec, severities, pseudonyms only, and the
RFC 5424 message in RFC 6587 octet-counting frames.

A small CEF reader here (written from the spec, not from the formatter) parses every line
back, so each escaping rule is proved by a round trip, not by comparing strings alone.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import orjson
import pytest

from incidents.alerts.models import Alert
from incidents.entities import EntityKind
from incidents.feeds import cef
from incidents.feeds.documents import alert_document
from incidents.feeds.models import AlertFeedEntry
from incidents.feeds.pseudonyms import Pseudonymiser

SEEN = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
LAST = datetime(2026, 3, 2, 10, 5, 30, 250000, tzinfo=UTC)
NASTY = "a\\b|c=d\ne\rf ü 漢 🙂"


# A CEF reader from the spec ---------------------------------------------------------------


def parse_cef(line: str) -> tuple[list[str], dict[str, str]]:
    """(vendor, product, version, signature id, name, severity; the extensions), unescaped."""
    assert line.startswith("CEF:0|")
    fields, current, index = [], [], len("CEF:")
    while len(fields) < 7:
        character = line[index]
        if character == "\\":
            current.append(line[index + 1])
            index += 2
            continue
        if character == "|":
            fields.append("".join(current))
            current = []
        else:
            current.append(character)
        index += 1
    return fields[1:], parse_extensions(line[index:])


def parse_extensions(text: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    key: str | None = None
    buffer: list[str] = []
    index = 0
    while index < len(text):
        character = text[index]
        if character == "\\":
            following = text[index + 1]
            buffer.append({"n": "\n", "r": "\r"}.get(following, following))
            index += 2
            continue
        if character == "=":
            raw = "".join(buffer)
            value, _, new_key = raw.rpartition(" ") if key is not None else ("", "", raw)
            if key is not None:
                pairs[key] = value
            assert re.fullmatch(r"[A-Za-z0-9]+", new_key), new_key
            key, buffer = new_key, []
        else:
            buffer.append(character)
        index += 1
    if key is not None:
        pairs[key] = "".join(buffer)
    return pairs


def split_frames(stream: bytes) -> list[bytes]:
    """RFC 6587 octet counting: ``LEN SP MSG`` again and again, nothing in between."""
    messages = []
    while stream:
        length, _, rest = stream.partition(b" ")
        assert length.isdigit(), stream[:20]
        messages.append(rest[: int(length)])
        stream = rest[int(length) :]
    return messages


# Documents ----------------------------------------------------------------------------------


def document(**overrides) -> dict:
    values = {
        "@timestamp": "2026-03-02T10:05:30.250Z",
        "event": {"start": "2026-03-02T10:00:00Z", "end": "2026-03-02T10:05:30.250Z"},
        "rule": {"id": "wachter-ssh-brute-force", "name": "SSH brute force"},
        "tags": ["attack.credential_access", "attack.t1110.001", "wachter.network"],
        "source": {"ip": "203.0.113.7"},
        "user": {"name": "psn-abcdefghijklmnop"},
        "host": {"name": "vpn01.example.org"},
        "wachter": {
            "alert": {
                "id": 42,
                "status": "acknowledged",
                "count": 17,
                "fingerprint": "f" * 64,
                "incident_id": None,
            }
        },
    }
    values.update(overrides)
    return values


def alert(**overrides) -> Alert:
    values = {
        "id": 42,
        "fingerprint": "f" * 64,
        "rule_key": "wachter-ssh-brute-force",
        "rule_version": 1,
        "title": "SSH brute force",
        "severity": "high",
        "status": "new",
        "count": 3,
        "first_seen": SEEN,
        "last_seen": LAST,
        "entities": orjson.dumps(
            [["ip", "203.0.113.7"], ["account", "Alice.Jansen"], ["host", "vpn01"]]
        ).decode(),
        "tags": '["attack.t1110"]',
        "created_at": SEEN,
        "updated_at": LAST,
        "version": 1,
    }
    values.update(overrides)
    return Alert(**values)


# The header ---------------------------------------------------------------------------------


def test_a_line_has_the_cef_header_and_every_alert_field_as_an_extension():
    line = cef.cef_message(document(), change="status", severity="high")
    header, extensions = parse_cef(line)
    assert header[:3] == ["Wachter", "Wachter", cef.wachter_version()]
    assert header[3:] == ["wachter-ssh-brute-force", "SSH brute force", "8"]
    assert extensions == {
        "rt": str(int(LAST.timestamp() * 1000)),
        "start": str(int(SEEN.timestamp() * 1000)),
        "end": str(int(LAST.timestamp() * 1000)),
        "src": "203.0.113.7",
        "suser": "psn-abcdefghijklmnop",
        "dhost": "vpn01.example.org",
        "cnt": "17",
        "externalId": "42",
        "act": "acknowledged",
        "cat": "status",
        "cs1Label": "rule",
        "cs1": "wachter-ssh-brute-force",
        "cs2Label": "tactics/techniques",
        "cs2": "credential_access,T1110.001",
        "cs3Label": "fingerprint",
        "cs3": "f" * 64,
        "msg": "Alert 42 status (status acknowledged, count 17): SSH brute force",
    }


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("a|b", "a\\|b"),
        ("a\\b", "a\\\\b"),
        ("\\|", "\\\\\\|"),
        ("a=b", "a=b"),  # an equals sign needs no escape in the header
        ("two\nlines\r\nhere", "two lines  here"),
        ("line\u2028separator", "line separator"),
        ("nul\x00esc\x1b[2J", "nul\ufffdesc\ufffd[2J"),
        ("ü 漢 🙂", "ü 漢 🙂"),
    ],
)
def test_header_fields_escape_pipes_and_backslashes_and_never_break_the_line(raw, escaped):
    assert cef.escape_header(raw) == escaped


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("a=b", "a\\=b"),
        ("a\\b", "a\\\\b"),
        ("\\=", "\\\\\\="),
        ("a|b", "a|b"),  # pipes are not escaped in extensions
        ("one\ntwo", "one\\ntwo"),
        ("one\rtwo", "one\\rtwo"),
        ("one\r\ntwo", "one\\r\\ntwo"),
        ("para\u2029graph", "para\\ngraph"),
        ("bell\x07nul\x00", "bell\ufffdnul\ufffd"),
        ("ü 漢 🙂", "ü 漢 🙂"),
        ("back\\n", "back\\\\n"),  # a literal backslash-n stays two characters
    ],
)
def test_extension_values_escape_backslash_equals_and_line_breaks(raw, escaped):
    assert cef.escape_extension(raw) == escaped


def test_every_special_character_survives_a_round_trip_in_header_and_extensions():
    line = cef.cef_message(
        document(
            rule={"id": f"id {NASTY}", "name": f"name {NASTY}"},
            host={"name": f"host {NASTY}"},
        ),
        change="created",
        severity="medium",
    )
    assert "\n" not in line
    assert "\r" not in line
    header, extensions = parse_cef(line)
    # The header loses its line breaks (to spaces) and nothing else.
    flattened = NASTY.replace("\n", " ").replace("\r", " ")
    assert header[3:6] == [f"id {flattened}", f"name {flattened}", "5"]
    assert extensions["dhost"] == f"host {NASTY}"
    assert extensions["cs1"] == f"id {NASTY}"
    assert extensions["msg"].endswith(f"name {NASTY}")


def test_a_value_that_looks_like_another_field_cannot_add_one():
    line = cef.cef_message(
        document(host={"name": "x suser=admin act=closed"}), change="created", severity="low"
    )
    _, extensions = parse_cef(line)
    assert extensions["dhost"] == "x suser=admin act=closed"
    assert extensions["suser"] == "psn-abcdefghijklmnop"
    assert extensions["act"] == "acknowledged"


@pytest.mark.parametrize(
    ("severity", "number"),
    [("informational", 1), ("low", 3), ("medium", 5), ("high", 8), ("critical", 10)],
)
def test_severity_maps_to_the_cef_scale(severity, number):
    header, _ = parse_cef(cef.cef_message(document(), change="created", severity=severity))
    assert header[5] == str(number)


def test_an_unknown_severity_is_the_lowest_not_an_error():
    header, _ = parse_cef(cef.cef_message(document(), change="created", severity="bogus"))
    assert header[5] == "1"


def test_an_ipv6_source_goes_to_the_source_ipv6_field():
    _, extensions = parse_cef(
        cef.cef_message(document(source={"ip": "2001:db8::7"}), change="created", severity="low")
    )
    assert "src" not in extensions
    assert (extensions["c6a2Label"], extensions["c6a2"]) == ("Source IPv6 Address", "2001:db8::7")


def test_missing_fields_are_left_out_with_their_labels():
    bare = {"rule": {"id": "r"}, "wachter": {"alert": {"id": 1}}}
    header, extensions = parse_cef(cef.cef_message(bare, change="created", severity="low"))
    assert header[3:5] == ["r", "Wachter alert"]
    assert set(extensions) == {"externalId", "cat", "cs1Label", "cs1", "msg"}


def test_an_incident_id_is_sent_when_the_alert_belongs_to_one():
    alert_state = {**document()["wachter"]["alert"], "incident_id": 9}
    line = cef.cef_message(
        document(wachter={"alert": alert_state}), change="status", severity="high"
    )
    _, extensions = parse_cef(line)
    assert (extensions["cs4Label"], extensions["cs4"]) == ("incident", "9")


# Pseudonyms only ----------------------------------------------------------------------------


def test_a_clear_user_name_in_a_document_is_never_sent():
    line = cef.cef_message(
        document(user={"name": "alice.jansen"}), change="created", severity="low"
    )
    assert "alice" not in line.lower()
    assert "suser" not in parse_cef(line)[1]


def test_an_alert_about_an_account_carries_only_its_pseudonym():
    pseudonyms = Pseudonymiser(b"k" * 32)
    entry = AlertFeedEntry(
        id=1,
        alert_id=42,
        alert_version=1,
        change="created",
        severity="high",
        recorded_at=LAST,
        document=orjson.dumps(alert_document(alert(), pseudonyms)).decode(),
    )
    message = cef.feed_entry_message(entry, hostname="wachter01")
    assert b"alice" not in message.lower()
    _, extensions = parse_cef(message.decode().partition(" - alert - ")[2])
    assert extensions["suser"] == pseudonyms.pseudonym(EntityKind.ACCOUNT, "Alice.Jansen")
    assert extensions["src"] == "203.0.113.7"


# Lengths ------------------------------------------------------------------------------------


def test_long_values_are_capped_before_escaping_so_no_escape_is_cut():
    line = cef.cef_message(
        document(rule={"id": "|" * 5000, "name": "n" * 5000}, host={"name": "=" * 5000}),
        change="created",
        severity="low",
    )
    header, extensions = parse_cef(line)
    assert header[3] == "|" * 1023
    assert header[4] == "n" * 512
    assert extensions["dhost"] == "=" * 255
    assert extensions["cs1"] == "|" * 1023


def test_a_line_too_long_for_a_collector_sheds_free_text_first():
    huge = "漢" * 5000
    line = cef.cef_message(
        document(
            rule={"id": huge, "name": huge},
            source={"ip": "203.0.113.7", "domain": huge},
            host={"name": huge},
            tags=[f"attack.{huge}"],
        ),
        change="created",
        severity="low",
    )
    assert len(line.encode()) <= cef.MAX_MESSAGE_BYTES - 320
    _, extensions = parse_cef(line)
    assert "msg" not in extensions
    assert "cs2" not in extensions
    assert extensions["externalId"] == "42"  # what identifies the alert stays


# Syslog and framing -------------------------------------------------------------------------


def test_the_syslog_message_is_rfc_5424_with_local4_and_the_alert_severity():
    text = cef.syslog_message(
        "CEF:0|x", severity="critical", timestamp=LAST, hostname="wachter01"
    ).decode()
    assert text == "<162>1 2026-03-02T10:05:30.250Z wachter01 wachter - alert - CEF:0|x"


@pytest.mark.parametrize(
    ("severity", "priority"),
    [("informational", 166), ("low", 165), ("medium", 164), ("high", 163), ("critical", 162)],
)
def test_the_priority_is_local4_times_eight_plus_the_syslog_severity(severity, priority):
    text = cef.syslog_message("CEF", severity=severity, timestamp=LAST, hostname="h").decode()
    assert text.startswith(f"<{priority}>1 ")


def test_a_host_name_with_spaces_or_controls_is_made_valid_for_syslog():
    assert cef.syslog_hostname("my host\n01") == "myhost01"
    assert cef.syslog_hostname("  \t ") == "-"
    assert len(cef.syslog_hostname("h" * 400)) == 255


def test_octet_counting_prefixes_the_length_in_bytes_not_characters():
    message = "<165>1 - - - - - - CEF ü 漢 🙂".encode()
    framed = cef.octet_counted(message)
    assert framed == str(len(message)).encode() + b" " + message
    assert len(message) > len(message.decode())  # multi-byte characters counted as bytes
    assert split_frames(framed + framed) == [message, message]


def test_a_feed_entry_becomes_one_frame_that_parses_back():
    entry = AlertFeedEntry(
        id=5,
        alert_id=42,
        alert_version=2,
        change="updated",
        severity="medium",
        recorded_at=LAST,
        document=orjson.dumps(document(rule={"id": "r1", "name": NASTY})).decode(),
    )
    [message] = split_frames(cef.octet_counted(cef.feed_entry_message(entry, hostname="w1")))
    prefix, _, line = message.decode().partition(" - alert - ")
    assert prefix == "<164>1 2026-03-02T10:05:30.250Z w1 wachter"
    header, extensions = parse_cef(line)
    assert header[4] == NASTY.replace("\n", " ").replace("\r", " ")
    assert extensions["cat"] == "updated"


def test_an_unreadable_document_still_gives_a_line_naming_the_alert():
    entry = AlertFeedEntry(
        id=5,
        alert_id=42,
        alert_version=1,
        change="created",
        severity="high",
        recorded_at=LAST,
        document="{not json",
    )
    line = cef.feed_entry_message(entry, hostname="w1").decode().split(" - alert - ")[1]
    header, extensions = parse_cef(line)
    assert header[3:] == ["unknown", "Wachter alert", "8"]
    assert extensions["externalId"] == "42"
