"""The deadline table: built-in defaults, the YAML file over them (good, partial, bad), and
the deadlines of one incident as they stand at a given time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core import ConfigError
from incidents.cases.models import Incident
from incidents.deadlines.sla import (
    DEFAULT_TABLE,
    DeadlineKind,
    current_table,
    deadlines_of,
    format_duration,
    load_table,
    next_deadline,
    parse_duration,
)

T = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
ACK, CONTAIN, RESOLVE = DeadlineKind.ACKNOWLEDGE, DeadlineKind.CONTAIN, DeadlineKind.RESOLVE


def incident(**values: object) -> Incident:
    fields: dict[str, object] = {"type": "cyber", "severity": "critical", "created_at": T}
    fields.update(values)
    return Incident(**fields)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "deadlines.yml"
    path.write_text(text, encoding="utf-8")
    return path


def refusal(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_table(path)
    assert caught.value.variable == "WACHTER_DEADLINES_FILE"
    return str(caught.value)


def test_the_defaults_follow_the_documented_table():
    critical = DEFAULT_TABLE.durations("cyber", "critical")
    assert critical == {
        ACK: timedelta(minutes=15),
        CONTAIN: timedelta(hours=4),
        RESOLVE: timedelta(days=3),
    }
    assert DEFAULT_TABLE.durations("cyber", "high")[CONTAIN] == timedelta(hours=24)
    assert DEFAULT_TABLE.durations("cyber", "medium")[RESOLVE] == timedelta(days=14)
    assert DEFAULT_TABLE.durations("cyber", "low")[ACK] == timedelta(days=1)
    assert DEFAULT_TABLE.durations("cyber", "informational") == {}
    assert DEFAULT_TABLE.durations("physical", "critical") == critical
    for severity in ("informational", "low", "medium", "high", "critical"):
        assert DEFAULT_TABLE.durations("staff_safety", severity) == {ACK: timedelta(hours=1)}


def test_an_unknown_type_or_severity_has_no_deadlines():
    assert DEFAULT_TABLE.durations("cyber", "catastrophic") == {}
    assert DEFAULT_TABLE.durations("espionage", "critical") == {}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15m", timedelta(minutes=15)),
        ("4h", timedelta(hours=4)),
        ("3d", timedelta(days=3)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        (" 2h ", timedelta(hours=2)),
    ],
)
def test_durations_are_read_in_days_hours_and_minutes(text, expected):
    assert parse_duration(text) == expected
    assert parse_duration(format_duration(expected)) == expected


@pytest.mark.parametrize("text", ["", "15", "15 minutes", "1w", "0m", "400d", "-5m", "h"])
def test_a_bad_duration_says_what_is_expected(text):
    with pytest.raises(ValueError, match=r"duration|outside"):
        parse_duration(text)


def test_no_file_means_the_defaults():
    assert load_table(None) is DEFAULT_TABLE
    assert current_table(None) is DEFAULT_TABLE


def test_a_complete_file_sets_the_values_it_names(tmp_path):
    path = write(
        tmp_path,
        "cyber:\n"
        "  critical:\n"
        "    acknowledge: 10m\n"
        "    contain: 2h\n"
        "    resolve: 2d\n"
        "physical:\n"
        "  high: {acknowledge: 30m, contain: 12h, resolve: 5d}\n",
    )
    table = load_table(path)
    assert table.source == str(path)
    assert table.durations("cyber", "critical") == {
        ACK: timedelta(minutes=10),
        CONTAIN: timedelta(hours=2),
        RESOLVE: timedelta(days=2),
    }
    assert table.durations("physical", "high")[CONTAIN] == timedelta(hours=12)


def test_a_partial_file_overrides_only_what_it_names(tmp_path):
    path = write(
        tmp_path,
        "# Only faster acknowledgement for critical cyber incidents.\n"
        "cyber:\n"
        "  critical:\n"
        "    acknowledge: 5m\n"
        "  informational:\n"
        "    acknowledge: 2d\n"
        "staff_safety:\n"
        "  low:\n"
        "    acknowledge: none\n",
    )
    table = load_table(path)
    assert table.durations("cyber", "critical") == {
        ACK: timedelta(minutes=5),
        CONTAIN: timedelta(hours=4),
        RESOLVE: timedelta(days=3),
    }
    assert table.durations("cyber", "informational") == {ACK: timedelta(days=2)}
    assert table.durations("staff_safety", "low") == {}
    assert table.durations("staff_safety", "high") == {ACK: timedelta(hours=1)}
    assert table.durations("cyber", "high") == DEFAULT_TABLE.durations("cyber", "high")


def test_an_empty_file_changes_nothing(tmp_path):
    table = load_table(write(tmp_path, "# nothing yet\n"))
    assert table.rows() == DEFAULT_TABLE.rows()


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        (
            "cyber:\n  critcal:\n    acknowledge: 5m\n",
            2,
            "unknown severity 'critcal' (did you mean 'critical'?)",
        ),
        (
            "cyberr:\n  critical: {acknowledge: 5m}\n",
            1,
            "unknown incident type 'cyberr' (did you mean 'cyber'?)",
        ),
        ("cyber:\n  critical:\n    acknowlege: 5m\n", 3, "unknown deadline 'acknowlege'"),
        ("cyber:\n  critical:\n    acknowledge: 15\n", 3, "'15' is not a duration"),
        ("cyber:\n  critical:\n    acknowledge: [5m]\n", 3, "must be a duration"),
        ("cyber:\n  critical: 5m\n", 2, "cyber.critical must be a mapping"),
        ("- cyber\n", 1, "the file must be a mapping"),
        (
            "cyber:\n  high: {acknowledge: 1h}\n  high: {acknowledge: 2h}\n",
            3,
            "'high' is given twice (first on line 2)",
        ),
        (
            "cyber:\n  critical:\n    acknowledge: 5h\n",
            2,
            "the contain deadline (4h) comes before the acknowledge deadline (5h)",
        ),
        ("cyber:\n  critical: {acknowledge: 5m\n", 3, "not valid YAML"),
    ],
)
def test_a_bad_file_is_refused_naming_the_file_the_line_and_the_problem(
    tmp_path, text, line, problem
):
    path = write(tmp_path, text)
    message = refusal(path)
    assert f"{path}, line {line}: " in message
    assert problem in message


def test_a_missing_or_oversized_file_is_refused(tmp_path):
    assert "cannot be read" in refusal(tmp_path / "absent.yml")
    assert "larger than 64 KiB" in refusal(write(tmp_path, "#" * (65 * 1024)))
    binary = tmp_path / "binary.yml"
    binary.write_bytes(b"\xff\xfe\x00")
    assert "not UTF-8" in refusal(binary)


def test_the_current_table_follows_changes_to_the_file(tmp_path):
    path = write(tmp_path, "cyber:\n  critical: {acknowledge: 5m}\n")
    assert current_table(path).durations("cyber", "critical")[ACK] == timedelta(minutes=5)
    path.write_text("cyber:\n  critical: {acknowledge: 7m}\n", encoding="utf-8")
    assert current_table(path).durations("cyber", "critical")[ACK] == timedelta(minutes=7)


def test_deadlines_run_from_creation_and_breach_only_once_past_due():
    fresh = incident()
    before = deadlines_of(fresh, DEFAULT_TABLE, now=T + timedelta(minutes=14))
    assert [(d.kind, d.due_at, d.breached) for d in before] == [
        (ACK, T + timedelta(minutes=15), False),
        (CONTAIN, T + timedelta(hours=4), False),
        (RESOLVE, T + timedelta(days=3), False),
    ]
    after = deadlines_of(fresh, DEFAULT_TABLE, now=T + timedelta(minutes=16))
    assert [d.breached for d in after] == [True, False, False]
    assert after[0].time_left(T + timedelta(minutes=16)) == timedelta(minutes=-1)


def test_a_met_deadline_never_breaches_and_a_late_one_stays_breached():
    on_time = incident(acknowledged_at=T + timedelta(minutes=10))
    late = incident(acknowledged_at=T + timedelta(minutes=20))
    much_later = T + timedelta(days=1)
    assert deadlines_of(on_time, DEFAULT_TABLE, now=much_later)[0].breached is False
    assert deadlines_of(late, DEFAULT_TABLE, now=much_later)[0].breached is True
    assert deadlines_of(late, DEFAULT_TABLE, now=much_later)[0].met_at == T + timedelta(minutes=20)


def test_closing_meets_every_deadline_still_open():
    closed = incident(closed_at=T + timedelta(minutes=5))
    deadlines = deadlines_of(closed, DEFAULT_TABLE, now=T + timedelta(days=30))
    assert all(d.met_at == T + timedelta(minutes=5) and not d.breached for d in deadlines)
    assert next_deadline(closed, DEFAULT_TABLE, now=T + timedelta(days=30)) is None


def test_the_next_deadline_is_the_earliest_unmet_one():
    acknowledged = incident(acknowledged_at=T + timedelta(minutes=3))
    upcoming = next_deadline(acknowledged, DEFAULT_TABLE, now=T + timedelta(minutes=20))
    assert upcoming is not None
    assert upcoming.kind == CONTAIN
    assert next_deadline(incident(severity="informational"), DEFAULT_TABLE, now=T) is None
