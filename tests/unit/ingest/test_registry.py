"""The parser registry: every format by name, and guessing the format of a document or file."""

from __future__ import annotations

from pathlib import Path

import pytest

from core import InvalidInput
from ingest.parsers import (
    ParserOptions,
    all_parsers,
    detect_document_parser,
    detect_file_parser,
    format_names,
    get_parser,
)
from ingest.parsers.badge_csv import NAME as BADGE

MAPPING = '[columns]\ntime = "When"\nperson = "Holder"\ndoor = "Door"\n'


@pytest.fixture
def options(tmp_path) -> ParserOptions:
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(MAPPING)
    return ParserOptions(badge_mapping=mapping)


def test_every_known_format_can_be_had_by_name(options):
    names = format_names()
    assert {"windows", "evtx", "json", "wachter-audit", BADGE} <= set(names)
    assert len(names) == len(set(names))
    for name in names:
        assert get_parser(name, options).name == name


def test_an_unknown_format_is_refused_with_the_choices():
    with pytest.raises(InvalidInput) as raised:
        get_parser("winlog")
    assert raised.value.field == "format"
    assert "Unknown format \u201cwinlog\u201d" in raised.value.message
    for name in ("windows", "evtx", "json", BADGE):
        assert name in raised.value.message


def test_the_badge_format_without_a_mapping_says_how_to_give_one():
    with pytest.raises(InvalidInput, match="--mapping"):
        get_parser(BADGE)


def test_without_a_mapping_the_badge_parser_is_not_among_all_parsers(options):
    assert BADGE not in {parser.name for parser in all_parsers()}
    assert BADGE in {parser.name for parser in all_parsers(options)}


@pytest.mark.parametrize(
    "document",
    [
        {"EventID": 4624, "Channel": "Security", "TargetUserName": "a"},
        {"EventID": 1, "Provider_Name": "Microsoft-Windows-Sysmon"},
        {"winlog": {"event_id": 4625}, "event": {"code": "4625"}},
    ],
)
def test_both_windows_shapes_are_detected_as_windows(document):
    assert detect_document_parser(document).name == "windows"


def test_wachters_own_auth_events_are_detected_as_wachter_audit():
    document = {"event": {"dataset": "wachter.auth", "action": "auth.login.failure"}}
    assert detect_document_parser(document).name == "wachter-audit"


@pytest.mark.parametrize(
    "document",
    [
        {},
        {"message": "hello"},
        {"EventID": 4624},  # no channel nor provider: not enough to call it Windows
        {"event": {"dataset": "nginx.access"}},
        {"winlog": "text"},
    ],
)
def test_anything_else_is_generic_json(document):
    assert detect_document_parser(document).name == "json"


def test_an_evtx_file_is_found_by_its_signature(tmp_path, options):
    path = tmp_path / "export.bin"
    found = detect_file_parser(path, b"ElfFile\x00" + bytes(120), options)
    assert found is not None
    assert found.name == "evtx"


def test_a_badge_export_is_found_by_its_header(tmp_path, options):
    path = tmp_path / "doors.csv"
    found = detect_file_parser(path, b"When,Holder,Door,Result\n2024-05-01,A,B,C\n", options)
    assert found is not None
    assert found.name == BADGE


def test_a_file_of_neither_kind_has_no_file_parser(tmp_path, options):
    assert (
        detect_file_parser(tmp_path / "x.log", b"May  1 08:00:00 host sshd[1]: x\n", options)
        is None
    )
    assert detect_file_parser(Path("doors.csv"), b"When,Holder\n", ParserOptions()) is None
