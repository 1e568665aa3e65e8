"""Hostile structured input (SECURITY_CASES.md §5.8 #57-#60, #63) against the JSON document
parsers and the badge CSV parser, fuzzed with Hypothesis in bounded runs.

The promise under test: whatever arrives, the pipeline either produces an event record or
rejects the input with a ParseError (which becomes a per-item 4xx or a dead letter);
nothing else escapes, so no input can crash a worker or turn into a 500.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ingest.normalise import finish
from ingest.parsers import ParseError, detect_document_parser
from ingest.parsers.badge_csv import parser as badge_parser
from storage.events import EventRecord

RECEIVED = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
# The suite's autouse log watcher is function-scoped; sharing it across examples is fine.
FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# Names the parsers look at, so the fuzzer reaches their branches rather than only the
# generic path; plus a few odd ones.
KEYS = st.sampled_from(
    [
        "event", "@timestamp", "EventID", "Channel", "Provider_Name", "Computer", "SystemTime",
        "EventRecordID", "winlog", "event_id", "event_data", "user_data", "channel", "wachter",
        "labels", "user", "source", "host", "process", "url", "dataset", "code", "flags",
        "outcome", "category", "action", "ip", "name", "TargetUserName", "SubjectUserName",
        "User", "IpAddress", "IpPort", "SourceIp", "DestinationIp", "Image", "ProcessId",
        "NewProcessId", "Status", "timestamp", "time", "ts", "date", "message", "log",
        "logsource", "details", "", "\x00", "a.b", "\u202e",
    ]
) | st.text(max_size=8)  # fmt: skip
TEXT = st.text(st.characters(exclude_categories=()), max_size=40) | st.sampled_from(
    [
        "-", "::1", "fe80::1%eth0", "999.1.1.1", "0x0", "0xc000006a", "4624", "Security",
        "Microsoft-Windows-Sysmon/Operational", "wachter.auth", "2020-06-09 22:50:54",
        "2017-08-30T19:13:38.198482Z", "9999-12-31T23:59:60Z", "CORP\\alice", "\x1b[2J",
        "line\nforged 2026-01-01 INFO user=admin login ok", "\ud800",
    ]
)  # fmt: skip
NUMBERS = (
    st.integers()
    | st.sampled_from([0, 1, 3, 4624, 4625, 4688, 4768, 65535, 65536, -1, 2**63, 2**64, 10**400])
    | st.floats(allow_nan=True, allow_infinity=True)
)
SCALARS = st.none() | st.booleans() | NUMBERS | TEXT
JSON = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=5),
    max_leaves=25,
)
DOCUMENTS = st.dictionaries(KEYS, JSON, max_size=10)
# Shapes that reach the specific parsers every time, with ids they give meaning to.
EVENT_IDS = JSON | st.sampled_from(
    [1, 3, 11, 12, 13, 22, 1102, 4624, 4625, 4634, 4672, 4688, 4720, 4740, 4768, 4771, 4776]
)
CHANNELS = JSON | st.sampled_from(["Security", "Microsoft-Windows-Sysmon/Operational", "System"])
FIELDS = st.fixed_dictionaries({}, optional={"@timestamp": SCALARS, "SystemTime": SCALARS}).flatmap(
    lambda times: st.dictionaries(KEYS, SCALARS, max_size=10).map(lambda more: {**more, **times})
)
FLAT_WINDOWS = st.builds(
    lambda extra, fields, event_id, channel: {
        **extra,
        **fields,
        "EventID": event_id,
        "Channel": channel,
    },
    DOCUMENTS,
    FIELDS,
    EVENT_IDS,
    CHANNELS,
)
WINLOGBEAT = st.builds(
    lambda extra, fields, event_id, channel: {
        **extra,
        "winlog": {"event_data": fields, "event_id": event_id, "channel": channel},
    },
    DOCUMENTS,
    FIELDS,
    EVENT_IDS,
    CHANNELS,
)
OURS = st.fixed_dictionaries({"event": st.dictionaries(KEYS, JSON, max_size=5)}).map(
    lambda document: {**document, "event": {**document["event"], "dataset": "wachter.auth"}}
)


def survives(document: dict[str, Any]) -> None:
    """Assert the one promise: an EventRecord or a ParseError, nothing else."""
    try:
        parser = detect_document_parser(document)
        parsed = parser.parse_document(document, received=RECEIVED)
        record = finish(parsed, source="fuzz", event_key="k", ingested=RECEIVED)
    except ParseError as error:
        reason = error.reason
    else:
        assert isinstance(record, EventRecord)
        return
    assert reason  # a rejection always says why


@FUZZ
@given(DOCUMENTS)
@example({"ts": 10**400})
@example({"wachter": {"flags": 5}, "labels": "x"})
def test_any_json_object_becomes_an_event_or_a_parse_error(document):
    survives(document)


@FUZZ
@given(FLAT_WINDOWS)
@example({"EventID": 4624, "Channel": "Security", "@timestamp": 10**400})
@example({"EventID": 4624, "Channel": "Security", "SystemTime": -(10**30)})
def test_any_flat_windows_event_becomes_an_event_or_a_parse_error(document):
    survives(document)


@FUZZ
@given(WINLOGBEAT)
@example({"winlog": {"event_id": 4625}, "@timestamp": 2**64, "event": "text"})
def test_any_winlogbeat_document_becomes_an_event_or_a_parse_error(document):
    survives(document)


@FUZZ
@given(OURS)
def test_any_document_claiming_to_be_wachters_becomes_an_event_or_a_parse_error(document):
    survives(document)


def test_a_sender_cannot_forge_quality_flags_in_any_shape():
    for document in (
        {"message": "x", "wachter": {"flags": []}},
        {"EventID": 4624, "Channel": "Security", "wachter": {"flags": "x"}},
        {"winlog": {}, "wachter": 5},
    ):
        parsed = detect_document_parser(document).parse_document(document, received=RECEIVED)
        record = finish(parsed, source="fuzz", event_key="k", ingested=RECEIVED)
        assert record.flags == "timestamp_missing"


MAPPING = """
[columns]
time = "When"
badge = "Badge"
person = "Holder"
result = "Result"
[results]
granted = ["ok"]
denied = ["no"]
"""
CELL_BYTES = (
    st.binary(max_size=30)
    | TEXT.map(lambda text: text.encode("utf-8", "surrogatepass"))
    | st.sampled_from([b'"', b'""', b",", b"\n", b"\r\n", b"\x00", b"2024-05-01T08:00:00", b"ok"])
)
ROWS = st.lists(st.lists(CELL_BYTES, min_size=0, max_size=6), min_size=1, max_size=6)


@FUZZ
@given(ROWS)
def test_any_badge_rows_become_events_or_parse_errors(rows):
    with tempfile.TemporaryDirectory() as directory:
        mapping = Path(directory) / "mapping.toml"
        mapping.write_text(MAPPING)
        export = Path(directory) / "export.csv"
        body = b"\n".join(b",".join(cells) for cells in rows)
        export.write_bytes(b"When,Badge,Holder,Result\n" + body)
        badge = badge_parser(mapping)
        positions = []
        for record in badge.read_file(export, start=0, received=RECEIVED):
            positions.append(record.position)
            if isinstance(record.result, ParseError):
                assert record.result.reason.startswith("row at byte")
                continue
            try:
                stored = finish(
                    record.result, source="fuzz", event_key=record.key, ingested=RECEIVED
                )
            except ParseError:
                continue
            assert isinstance(stored, EventRecord)
        assert positions == sorted(set(positions))  # every record moves the position on
        assert all(position <= export.stat().st_size for position in positions)
