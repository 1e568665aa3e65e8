"""The evtx file parser, on real .evtx files written by the test itself.

No .evtx file can be shipped with the tests (the public samples are GPL or unlicensed), and
none is installed with the ``evtx`` package, so ``write_evtx`` below writes small valid
ones: a file header, one chunk, and records whose Binary XML is a template instance with
its definition inline, as Windows writes them (format: libevtx's documentation). The
``evtx`` library then reads them exactly as it reads files from a Windows host.
"""

from __future__ import annotations

import struct
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingest.parsers.base import ParseError
from ingest.parsers.evtx_file import PARSERS, flatten_record

EVTX = PARSERS[0]
RECEIVED = datetime(2024, 6, 1, tzinfo=UTC)
WRITTEN = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
_STRING, _UINT64, _FILETIME = 0x01, 0x0A, 0x11


class _BinaryXml:
    """One template definition: elements, attributes, literal text and substitutions."""

    def __init__(self, offset: int) -> None:
        self.data = bytearray()
        self.offset = offset  # of data[0] within the chunk: names are stored by offset
        self.values: list[tuple[int, bytes]] = []

    def name(self, name: str) -> None:
        here = self.offset + len(self.data) + 4  # the name follows its own offset
        self.data += struct.pack("<IIHH", here, 0, 0, len(name))
        self.data += name.encode("utf-16-le") + b"\0\0"

    def value(self, value: object) -> None:
        if isinstance(value, str):  # literal text
            self.data += b"\x05\x01" + struct.pack("<H", len(value)) + value.encode("utf-16-le")
            return
        if isinstance(value, datetime):
            ticks = (value - datetime(1601, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1) * 10
            kind, encoded = _FILETIME, struct.pack("<Q", ticks)
        else:
            kind, encoded = _UINT64, struct.pack("<Q", value)
        self.data += b"\x0d" + struct.pack("<HB", len(self.values), kind)
        self.values.append((kind, encoded))

    def element(self, name: str, attributes: dict[str, object], content: object) -> None:
        self.data += (b"\x41" if attributes else b"\x01") + struct.pack("<H", 0xFFFF)
        size_at = len(self.data)
        self.data += bytes(4)
        self.name(name)
        if attributes:
            list_at = len(self.data)
            self.data += bytes(4)
            for index, (attribute, value) in enumerate(attributes.items()):
                self.data.append(0x46 if index < len(attributes) - 1 else 0x06)
                self.name(attribute)
                self.value(value)
            struct.pack_into("<I", self.data, list_at, len(self.data) - list_at - 4)
        if content is None:
            self.data.append(0x03)  # <empty/>
        else:
            self.data.append(0x02)
            for child in content if isinstance(content, list) else [content]:
                if isinstance(child, tuple):
                    self.element(*child)
                else:
                    self.value(child)
            self.data.append(0x04)
        struct.pack_into("<I", self.data, size_at, len(self.data) - size_at - 4)


def _record_data(offset: int, tree: tuple) -> bytes:
    definition_at = offset + 14  # after the fragment header and the template instance token
    template = _BinaryXml(definition_at + 24)
    template.data += b"\x0f\x01\x01\x00"
    template.element(*tree)
    template.data.append(0x00)
    data = bytearray(b"\x0f\x01\x01\x00\x0c\x01" + struct.pack("<II", 1, definition_at))
    data += struct.pack("<I", 0) + bytes(16) + struct.pack("<I", len(template.data))
    data += template.data + struct.pack("<I", len(template.values))
    for kind, encoded in template.values:
        data += struct.pack("<HBB", len(encoded), kind, 0)
    for _, encoded in template.values:
        data += encoded
    return bytes(data)


def write_evtx(path: Path, trees: list[tuple], *, corrupt: frozenset[int] = frozenset()) -> Path:
    """A one-chunk .evtx with a record per tree; records numbered in ``corrupt`` are garbage."""
    chunk = bytearray(65536)
    offset = last = 512
    for number, tree in enumerate(trees, 1):
        data = _record_data(offset + 24, tree)
        if number in corrupt:
            data = data[:6] + b"\xff" * (len(data) - 6)
        size = 28 + len(data)
        chunk[offset : offset + size] = (
            b"**\0\0" + struct.pack("<IQQ", size, number, 0) + data + struct.pack("<I", size)
        )
        last, offset = offset, offset + size
    count, records_crc = len(trees), zlib.crc32(chunk[512:offset])
    chunk[0:56] = b"ElfChnk\0" + struct.pack(
        "<QQQQIIII", 1, count, 1, count, 128, last, offset, records_crc
    )
    struct.pack_into("<I", chunk, 124, zlib.crc32(chunk[0:120] + chunk[128:512]))
    header = bytearray(4096)
    header[0:44] = b"ElfFile\0" + struct.pack("<QQQIHHHH", 0, 0, count + 1, 128, 1, 3, 4096, 1)
    struct.pack_into("<I", header, 124, zlib.crc32(header[0:120]))
    path.write_bytes(bytes(header + chunk))
    return path


def event(event_id: int, record_id: int, data: tuple, channel: str = "Security") -> tuple:
    provider = {"Name": "Microsoft-Windows-Security-Auditing", "Guid": "{54849625-5478-4994}"}
    return (
        "Event",
        {"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"},
        [
            (
                "System",
                {},
                [
                    ("Provider", provider, None),
                    ("EventID", {"Qualifiers": "16384"} if event_id == 7036 else {}, event_id),
                    ("Version", {}, 2),
                    ("Level", {}, 0),
                    ("Task", {}, 12544),
                    ("Opcode", {}, 0),
                    ("Keywords", {}, "0x8010000000000000"),
                    ("TimeCreated", {"SystemTime": WRITTEN}, None),
                    ("EventRecordID", {}, record_id),
                    ("Correlation", {"ActivityID": "{0C1F6A2B-1111}"}, None),
                    ("Execution", {"ProcessID": 636, "ThreadID": 700}, None),
                    ("Channel", {}, channel),
                    ("Computer", {}, "DC01"),
                    ("Security", {"UserID": "S-1-5-18"}, None),
                ],
            ),
            data,
        ],
    )


def named(**fields: object) -> tuple:
    return ("EventData", {}, [("Data", {"Name": name}, value) for name, value in fields.items()])


FAILED_LOGON = event(4625, 10, named(TargetUserName="alice", IpAddress="10.0.0.5", Channel="x"))
SERVICE = event(
    7036, 11, ("EventData", {}, [("Data", {}, "Spooler"), ("Data", {}, "running")]), "System"
)
LOG_CLEARED = event(
    1102,
    12,
    ("UserData", {}, [("LogFileCleared", {"xmlns": "urn:x"}, [("SubjectUserName", {}, "eve")])]),
)
LOGON = event(4624, 13, named(TargetUserName="bob", LogonType=3))


def read(path: Path, start: int = 0):
    return list(EVTX.read_file(path, start=start, received=RECEIVED))


def test_records_are_flattened_like_the_shared_evtx_json(tmp_path):
    (record,) = read(write_evtx(tmp_path / "security.evtx", [FAILED_LOGON]))
    document = record.result
    assert isinstance(document, dict)
    expected_system = {
        "EventID": 4625,
        "Channel": "Security",
        "Computer": "DC01",
        "Provider_Name": "Microsoft-Windows-Security-Auditing",
        "Provider_Guid": "{54849625-5478-4994}",
        "SystemTime": "2024-05-01T12:00:00.123456Z",
        "EventRecordID": 10,
        "Level": 0,
        "Task": 12544,
        "Opcode": 0,
        "Keywords": "0x8010000000000000",
        "Version": 2,
        "ProcessID": 636,
        "ThreadID": 700,
        "UserID": "S-1-5-18",
        "ActivityID": "{0C1F6A2B-1111}",
    }
    assert {name: document[name] for name in expected_system} == expected_system
    assert document["TargetUserName"] == "alice"
    assert document["EventData_Channel"] == "x"  # would have overwritten the System field


def test_records_go_through_the_windows_parser(tmp_path):
    (record,) = read(write_evtx(tmp_path / "security.evtx", [FAILED_LOGON]))
    document = record.result
    assert isinstance(document, dict)
    assert document["event"]["outcome"] == "failure"
    assert document["event"]["dataset"] == "windows.security"
    assert document["user"]["name"] == "alice"
    assert document["source"]["ip"] == "10.0.0.5"
    assert document["@timestamp"] == "2024-05-01T12:00:00.123456Z"
    assert (record.position, record.key) == (1, "1")
    assert '"TargetUserName":"alice"' in record.raw


def test_unnamed_data_items_are_joined_and_qualifiers_kept(tmp_path):
    (record,) = read(write_evtx(tmp_path / "system.evtx", [SERVICE]))
    assert isinstance(record.result, dict)
    assert record.result["Data"] == "Spooler\nrunning"
    assert record.result["EventID"] == 7036
    assert record.result["Qualifiers"] == "16384"
    assert record.result["event"]["dataset"] == "windows.system"


def test_user_data_fields_are_flat_too(tmp_path):
    (record,) = read(write_evtx(tmp_path / "cleared.evtx", [LOG_CLEARED]))
    assert isinstance(record.result, dict)
    assert record.result["SubjectUserName"] == "eve"
    assert record.result["event"]["action"] == "audit-log-cleared"


def test_positions_count_records_and_resume_skips_the_ones_read(tmp_path):
    path = write_evtx(tmp_path / "four.evtx", [FAILED_LOGON, SERVICE, LOG_CLEARED, LOGON])
    everything = read(path)
    assert [record.position for record in everything] == [1, 2, 3, 4]
    resumed = read(path, start=2)
    assert [(record.position, record.key) for record in resumed] == [(3, "3"), (4, "4")]
    assert resumed[1].result["TargetUserName"] == "bob"  # type: ignore[index]
    assert read(path, start=4) == []


def test_a_corrupt_record_becomes_a_parse_error_and_reading_goes_on(tmp_path):
    path = write_evtx(
        tmp_path / "corrupt.evtx", [FAILED_LOGON, SERVICE, LOGON], corrupt=frozenset({2})
    )
    records = read(path)
    assert [record.position for record in records] == [1, 2, 3]
    broken = records[1].result
    assert isinstance(broken, ParseError)
    assert "unreadable record" in broken.reason
    assert "record number 2" in broken.reason
    assert records[1].key == "2"
    assert isinstance(records[2].result, dict)


def test_a_file_cut_inside_a_chunk_says_records_are_lost(tmp_path):
    path = write_evtx(tmp_path / "cut.evtx", [FAILED_LOGON])
    path.write_bytes(path.read_bytes()[: 4096 + 600])
    records = read(path)
    assert records[-1].key == "truncated"
    assert isinstance(records[-1].result, ParseError)
    assert "ends inside a chunk" in records[-1].result.reason


def test_a_file_that_is_not_evtx_is_refused_as_a_whole(tmp_path):
    path = tmp_path / "notes.evtx"
    path.write_bytes(b"these are not the events you are looking for\n" * 200)
    with pytest.raises(ParseError, match="not an EVTX file"):
        read(path)


def test_an_evtx_file_cut_inside_its_header_is_refused(tmp_path):
    path = write_evtx(tmp_path / "short.evtx", [FAILED_LOGON])
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ParseError, match="cannot read the EVTX file"):
        read(path)


def test_a_missing_file_is_refused_with_the_reason(tmp_path):
    with pytest.raises(ParseError, match="cannot open the file"):
        read(tmp_path / "absent.evtx")


def test_detection_is_by_the_file_signature(tmp_path):
    assert EVTX.detect_file(tmp_path / "a.log", b"ElfFile\x00" + bytes(100))
    assert not EVTX.detect_file(tmp_path / "a.evtx", b"<Events>")


def test_flattening_a_record_without_an_event_element_is_refused():
    with pytest.raises(ParseError, match="no Event element"):
        flatten_record({"NotAnEvent": {}})
    with pytest.raises(ParseError, match="no Event element"):
        flatten_record(["Event"])


def test_flattening_takes_the_text_of_named_items_and_nested_elements_by_name():
    flat = flatten_record(
        {
            "Event": {
                "System": {"EventID": 4104, "Channel": "Microsoft-Windows-PowerShell/Operational"},
                "EventData": {
                    "#attributes": {"Name": "ignored"},
                    "ScriptBlockText": {"#text": "Get-Process"},
                    "Computer": "shadow",
                    "Empty": None,
                },
            }
        }
    )
    assert flat == {
        "EventID": 4104,
        "Channel": "Microsoft-Windows-PowerShell/Operational",
        "ScriptBlockText": "Get-Process",
        "EventData_Computer": "shadow",
        "Empty": None,
    }
