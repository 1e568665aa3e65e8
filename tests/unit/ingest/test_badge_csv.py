"""Badge/door access CSV exports, read through a TOML column mapping."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from core import InvalidInput
from ingest.normalise import finish
from ingest.parsers.badge_csv import MAX_ROW_BYTES, BadgeCsvParser, load_mapping, parser, parsers
from ingest.parsers.base import ParseError

EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "examples" / "badge-mapping.toml"
RECEIVED = datetime(2024, 6, 1, tzinfo=UTC)
MAPPING = """
[columns]
time = "When"
badge = "Badge"
person = "Holder"
door = "Door"
zone = "Zone"
result = "Result"
controller = "Panel"

[results]
granted = ["Granted"]
denied = ["Denied", "Expired badge"]

[format]
timezone = "Europe/Amsterdam"
"""
HEADER = "When,Badge,Holder,Door,Zone,Result,Panel\n"


def write(directory: Path, name: str, content: str | bytes) -> Path:
    path = directory / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


@pytest.fixture
def badge(tmp_path) -> BadgeCsvParser:
    return parser(write(tmp_path, "mapping.toml", MAPPING))


def read(badge, path, start=0):
    return list(badge.read_file(path, start=start, received=RECEIVED))


def test_a_granted_access_is_an_allowed_intrusion_detection_event(badge, tmp_path):
    rows = HEADER + "2024-05-01 08:15:00,0042,Alice Jansen,Main entrance,Lobby,Granted,P-01\n"
    (record,) = read(badge, write(tmp_path, "export.csv", rows))
    document = record.result
    assert isinstance(document, dict)
    assert document["event"] == {
        "kind": "event",
        "category": ["intrusion_detection"],
        "type": ["allowed"],
        "action": "door-access-granted",
        "outcome": "success",
        "dataset": "badge.access",
        "module": "badge",
    }
    assert document["user"] == {"name": "Alice Jansen"}
    assert document["observer"] == {"name": "P-01"}
    assert document["badge"] == {"id": "0042"}
    assert document["door"] == {"name": "Main entrance", "zone": "Lobby"}
    assert document["@timestamp"] == datetime(2024, 5, 1, 6, 15, tzinfo=UTC)  # CEST is +2
    assert document["Holder"] == "Alice Jansen"
    assert document["When"] == "2024-05-01 08:15:00"


def test_a_denied_access_is_a_failure_whatever_the_case_of_the_value(badge, tmp_path):
    rows = HEADER + "2024-01-10T07:00:00,7,Bob,Server room,DC,  expired BADGE ,P-02\n"
    (record,) = read(badge, write(tmp_path, "export.csv", rows))
    assert isinstance(record.result, dict)
    assert record.result["event"]["type"] == ["denied"]
    assert record.result["event"]["action"] == "door-access-denied"
    assert record.result["event"]["outcome"] == "failure"
    assert record.result["@timestamp"] == datetime(2024, 1, 10, 6, 0, tzinfo=UTC)  # CET is +1


def test_an_unknown_result_is_an_access_event_with_unknown_outcome(badge, tmp_path):
    rows = HEADER + "2024-01-10T07:00:00Z,7,Bob,Door,Zone,Door held open,P-02\n"
    (record,) = read(badge, write(tmp_path, "export.csv", rows))
    assert isinstance(record.result, dict)
    assert record.result["event"]["outcome"] == "unknown"
    assert record.result["event"]["action"] == "door-access"
    assert record.result["@timestamp"] == datetime(2024, 1, 10, 7, 0, tzinfo=UTC)  # own zone


def test_positions_are_byte_offsets_and_resume_reads_the_header_again(badge, tmp_path):
    first = "2024-05-01T08:00:00,1,A,D,Z,Granted,P\n"
    second = "2024-05-01T09:00:00,2,B,D,Z,Denied,P\n"
    path = write(tmp_path, "export.csv", HEADER + first + "\n" + second)
    records = read(badge, path)
    assert [record.key for record in records] == [str(len(HEADER)), str(len(HEADER + first) + 1)]
    assert records[0].position == len(HEADER + first)
    assert records[1].position == path.stat().st_size
    (resumed,) = read(badge, path, start=records[0].position)
    assert resumed.key == records[1].key
    assert resumed.result["Holder"] == "B"  # type: ignore[index]
    assert read(badge, path, start=records[1].position) == []


def test_a_quoted_cell_may_hold_the_delimiter_and_a_line_break(badge, tmp_path):
    row = '2024-05-01T08:00:00,1,"Jansen, Alice",Door,Zone,Granted,"panel\nwest"\n'
    (record,) = read(badge, write(tmp_path, "export.csv", HEADER + row))
    assert isinstance(record.result, dict)
    assert record.result["user"]["name"] == "Jansen, Alice"
    assert record.result["Panel"] == "panel\nwest"
    assert record.position == len((HEADER + row).encode())


def test_a_row_with_the_wrong_number_of_columns_is_a_parse_error_naming_it(badge, tmp_path):
    rows = HEADER + "2024-05-01T08:00:00,1,A\n2024-05-01T09:00:00,2,B,D,Z,Denied,P\n"
    broken, good = read(badge, write(tmp_path, "export.csv", rows))
    assert isinstance(broken.result, ParseError)
    assert broken.result.reason == f"row at byte {len(HEADER)} has 3 columns; the header has 7"
    assert broken.raw == "2024-05-01T08:00:00,1,A\n"
    assert isinstance(good.result, dict)


@pytest.mark.parametrize("time", ["yesterday", "", "2024-13-45 25:00"])
def test_a_row_whose_time_cannot_be_read_is_a_parse_error(badge, tmp_path, time):
    rows = HEADER + f"{time},1,A,D,Z,Granted,P\n"
    (record,) = read(badge, write(tmp_path, "export.csv", rows))
    assert isinstance(record.result, ParseError)
    assert record.result.reason.startswith(f"row at byte {len(HEADER)}: cannot read the time")


def test_a_row_longer_than_the_limit_is_refused_and_the_next_row_read(badge, tmp_path):
    huge = "2024-05-01T08:00:00,1," + "x" * (MAX_ROW_BYTES + 10) + ",D,Z,Granted,P\n"
    good = "2024-05-01T09:00:00,2,B,D,Z,Denied,P\n"
    broken, after = read(badge, write(tmp_path, "export.csv", HEADER + huge + good))
    assert isinstance(broken.result, ParseError)
    assert "longer than 64 KiB" in broken.result.reason
    assert broken.position == len(HEADER + huge)
    assert isinstance(after.result, dict)


def test_undecodable_bytes_are_kept_escaped_and_flagged(badge, tmp_path):
    rows = HEADER.encode() + b"2024-05-01T08:00:00,1,Ren\xe9,D,Z,Granted,P\n"
    (record,) = read(badge, write(tmp_path, "export.csv", rows))
    assert isinstance(record.result, dict)
    assert record.result["user"]["name"] == "Ren\\xe9"
    stored = finish(record.result, source="file", event_key="k", ingested=RECEIVED)
    assert stored.flags == "invalid_utf8"


def test_columns_named_like_the_documents_own_fields_are_kept_under_labels(tmp_path):
    mapping = write(tmp_path, "m.toml", '[columns]\ntime = "time"\nperson = "user"\n')
    rows = "time,user,event,door,labels\n2024-05-01T08:00:00Z,alice,open,front,x\n"
    (record,) = read(parser(mapping), write(tmp_path, "export.csv", rows))
    assert isinstance(record.result, dict)
    assert record.result["labels"] == {"user": "alice", "event": "open", "labels": "x"}
    assert record.result["door"] == "front"  # no door column mapped, so no door object
    assert record.result["user"] == {"name": "alice"}


def test_a_header_without_the_mapped_columns_is_refused(badge, tmp_path):
    path = write(tmp_path, "other.csv", "When,Badge\n2024-05-01,1\n")
    with pytest.raises(ParseError, match="lacks the mapped columns Door, Holder, Panel"):
        read(badge, path)


def test_an_empty_or_missing_file_is_refused_with_the_reason(badge, tmp_path):
    with pytest.raises(ParseError, match="the file is empty"):
        read(badge, write(tmp_path, "empty.csv", "\n"))
    with pytest.raises(ParseError, match="cannot open the file"):
        read(badge, tmp_path / "absent.csv")


def test_detection_needs_the_mapped_columns_in_the_header(badge, tmp_path):
    path = tmp_path / "x.csv"
    assert badge.detect_file(path, ("\ufeff" + HEADER).encode() + b"2024,1,2,3,4,5,6\n")
    assert badge.detect_file(path, b"Extra,When,Badge,Holder,Door,Zone,Result,Panel\n")
    assert not badge.detect_file(path, b"When,Badge,Holder\n")
    assert not badge.detect_file(path, b"ElfFile\x00\xff\xfe")


def test_a_byte_order_mark_and_another_delimiter_and_time_format_are_read(tmp_path):
    mapping = write(
        tmp_path,
        "m.toml",
        '[columns]\ntime = "Tijd"\nperson = "Naam"\n'
        '[format]\ndelimiter = ";"\ntime_format = "%d/%m/%Y %H:%M"\n',
    )
    rows = "\ufeffTijd;Naam\r\n01/05/2024 08:15;Jan de Vries\r\n"
    (record,) = read(parser(mapping), write(tmp_path, "export.csv", rows))
    assert isinstance(record.result, dict)
    assert record.result["@timestamp"] == datetime(2024, 5, 1, 8, 15, tzinfo=UTC)
    assert record.result["Naam"] == "Jan de Vries"


def test_the_example_mapping_in_the_docs_is_valid():
    mapping = load_mapping(EXAMPLE)
    assert mapping.columns["time"] == "Timestamp"
    assert "access denied" in mapping.denied
    assert str(mapping.timezone) == "Europe/Amsterdam"


def test_without_a_mapping_there_is_no_badge_parser_and_asking_for_one_says_how():
    assert parsers(None) == ()
    with pytest.raises(InvalidInput, match="--mapping FILE or set WACHTER_BADGE_MAPPING"):
        parser(None)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[columns]\nbadge = "B"\n', "has no time column"),
        ("", "has no time column"),
        ('[columns]\ntime = "T"\ncolour = "C"\n', "Unknown key \u201ccolumns.colour\u201d"),
        ('[columns]\ntime = "T"\n[extras]\nx = 1\n', "Unknown key \u201cextras\u201d"),
        ('columns = "T"\n', r"columns must be a \[section\]"),
        ("[columns]\ntime = 5\n", "columns.time must be a non-empty text"),
        ('[columns]\ntime = "T"\n[format]\ntimezone = "Mars/Olympus"\n', "Unknown timezone"),
        ('[columns]\ntime = "T"\n[format]\ntimezone = "../../etc/passwd"\n', "Unknown timezone"),
        ('[columns]\ntime = "T"\n[format]\ndelimiter = ";;"\n', "delimiter must be one char"),
        ('[columns]\ntime = "T"\n[format]\nencoding = "klingon"\n', "is not usable"),
        ('[columns]\ntime = "T"\n[format]\nencoding = "utf-16"\n', "is not usable"),
        ('[columns]\ntime = "T"\n[results]\ngranted = "yes"\n', "must be a list of texts"),
        ('[columns]\ntime = "T"\nbadge = \n', "not valid TOML: .*line 3"),
    ],
)
def test_a_bad_mapping_is_refused_with_what_is_wrong(tmp_path, content, message):
    with pytest.raises(InvalidInput, match=message) as raised:
        load_mapping(write(tmp_path, "mapping.toml", content))
    assert raised.value.field == "mapping"
    assert "mapping.toml" in raised.value.message


def test_a_mapping_that_cannot_be_read_is_refused(tmp_path):
    with pytest.raises(InvalidInput, match="Cannot read the badge mapping"):
        load_mapping(tmp_path / "absent.toml")


def test_an_over_long_cell_stays_in_its_column_and_the_row_is_still_stored(badge, tmp_path):
    rows = HEADER + f"2024-05-01T08:00:00Z,1,{'x' * 2000},Door,Zone,Denied,P\n"
    (record,) = read(badge, write(tmp_path, "export.csv", rows))
    assert isinstance(record.result, dict)
    assert "user" not in record.result
    assert record.result["Holder"] == "x" * 2000
    stored = finish(record.result, source="file", event_key="k", ingested=RECEIVED)
    assert stored.outcome == "failure"
