"""``wachter detect``: Sigma rules over event files, detections as JSON lines.

End to end through the real command (a subprocess, as a user runs it) for what the command
promises: the output format, every input format, correlations, bad rules and bad records
reported with file and line while the rest goes on, and the exit codes. The readers are
also driven in process where the cases are many (chunk boundaries of a JSON array).
"""

from __future__ import annotations

import fcntl
import gzip
import json
import os
import pty
import re
import struct
import subprocess
import termios
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tqdm import tqdm

from detection_rules.offline import BadRecord, inputs, read_events
from ingest.parsers.evtx_file import PARSERS as INGEST_EVTX
from ingest.parsers.evtx_file import flatten_record
from tests.support.processes import WACHTER, clean_env, run_wachter
from tests.unit.ingest.test_evtx_file import FAILED_LOGON, LOGON, SERVICE, event, named, write_evtx

WHOAMI_ID = "5a2c9a3e-0b44-4e0c-9e6c-3c3f3f2b1a01"
WHOAMI = f"""\
title: Whoami run
id: {WHOAMI_ID}
status: test
level: medium
tags: [attack.discovery, attack.t1033]
logsource: {{category: process_creation, product: windows}}
detection:
  selection:
    Image|endswith: '\\whoami.exe'
  condition: selection
"""
FAILED_LOGON_RULE = """\
title: Failed logon
id: 6b1e0f64-3a71-4d3c-a6f6-2f1f6d1a0b02
name: failed_logon
status: test
level: low
logsource: {product: windows, service: security}
detection:
  selection:
    EventID: 4625
  condition: selection
"""
BURST_ID = "7c4d3b2a-1e0f-4a5b-8c6d-9e8f7a6b5c03"
BURST = f"""\
title: Failed logon burst for one account
id: {BURST_ID}
status: test
level: high
correlation:
  type: event_count
  rules: [failed_logon]
  group-by: [TargetUserName]
  timespan: 5m
  condition: {{gte: 3}}
"""
QUIET_ID = "8d5e4c3b-2f1a-4b6c-9d7e-0f9a8b7c6d04"
QUIET = f"""\
title: Fewer than two failed logons for an account
id: {QUIET_ID}
status: test
level: informational
correlation:
  type: event_count
  rules: [failed_logon]
  group-by: [TargetUserName]
  timespan: 1h
  condition: {{lt: 2}}
  generate: true
"""
SYSMON = "Microsoft-Windows-Sysmon/Operational"


def process_event(image: str, second: int, **more: Any) -> dict[str, Any]:
    time = f"2024-05-01T12:00:{second:02d}.1234567Z"
    return {"EventID": 1, "Channel": SYSMON, "Image": image, "SystemTime": time, **more}


def failed_logon(user: str, second: int | None) -> dict[str, Any]:
    found: dict[str, Any] = {"EventID": 4625, "Channel": "Security", "TargetUserName": user}
    if second is not None:
        found["SystemTime"] = f"2024-05-01T12:00:{second:02d}Z"
    return found


WHOAMI_EVENT = process_event("C:\\Windows\\System32\\whoami.exe", 1, CommandLine="whoami /all")
OTHER_EVENT = process_event("C:\\Windows\\notepad.exe", 2)


def lines(*events: dict[str, Any]) -> str:
    return "".join(json.dumps(item) + "\n" for item in events)


def detect(tmp_path: Path, *args: str) -> tuple[int, list[dict[str, Any]], str]:
    result = run_wachter("detect", *args, cwd=tmp_path, env=clean_env(), timeout=120)
    alerts = [json.loads(line) for line in result.stdout.splitlines()]
    return result.returncode, alerts, result.stderr


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "whoami.yml").write_text(WHOAMI)
    return folder


def test_a_rule_hit_is_one_line_with_the_rule_the_original_event_and_why(tmp_path, rules):
    events = tmp_path / "events.jsonl"
    events.write_text(lines(OTHER_EVENT, WHOAMI_EVENT))

    code, alerts, stderr = detect(tmp_path, "--rules", str(rules), "--events", str(events))

    assert code == 0, stderr
    (alert,) = alerts
    assert list(alert) == ["rule", "events", "explanation"]
    assert alert["rule"] == {
        "id": WHOAMI_ID,
        "name": "Whoami run",
        "title": "Whoami run",
        "level": "medium",
        "tags": ["attack.discovery", "attack.t1033"],
        "key": WHOAMI_ID,
    }
    assert alert["events"] == [WHOAMI_EVENT]  # seven fractional digits and all
    selection = alert["explanation"][0]
    assert selection["selection"] == "selection"
    assert selection["fields"] == [
        {"field": "Image", "pattern": "*\\whoami.exe", "value": WHOAMI_EVENT["Image"]}
    ]
    assert "Rules: 1 loaded from 1 file, 0 rejected" in stderr
    assert "Events: 2 from 1 file, 0 bad records" in stderr
    assert "Detections: 1 (medium 1)." in stderr


def test_gzip_json_lines_and_a_json_array_give_what_plain_json_lines_give(tmp_path, rules):
    plain = tmp_path / "plain.jsonl"
    plain.write_text(lines(WHOAMI_EVENT, OTHER_EVENT, WHOAMI_EVENT))
    packed = tmp_path / "packed.log"  # known by content, not by name
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    array = tmp_path / "array.json"
    array.write_text(json.dumps([WHOAMI_EVENT, OTHER_EVENT, WHOAMI_EVENT], indent=2))
    packed_array = tmp_path / "array.json.gz"
    packed_array.write_bytes(gzip.compress(array.read_bytes()))

    results = [
        detect(tmp_path, "--rules", str(rules), "--events", str(path))
        for path in (plain, packed, array, packed_array)
    ]

    assert [code for code, _, _ in results] == [0, 0, 0, 0]
    assert all(alerts == results[0][1] for _, alerts, _ in results)
    assert [alert["events"] for alert in results[0][1]] == [[WHOAMI_EVENT], [WHOAMI_EVENT]]


def test_evtx_records_are_flattened_and_matched(tmp_path):
    rule = tmp_path / "failed.yml"
    rule.write_text(FAILED_LOGON_RULE)
    log = write_evtx(tmp_path / "Security.evtx", [LOGON, FAILED_LOGON, SERVICE])

    code, alerts, stderr = detect(tmp_path, "--rules", str(rule), "--events", str(log))

    assert code == 0, stderr
    (alert,) = alerts
    (matched,) = alert["events"]
    assert matched["EventID"] == 4625
    assert matched["Channel"] == "Security"
    assert matched["TargetUserName"] == "alice"
    assert matched["SystemTime"] == "2024-05-01T12:00:00.123456Z"
    assert "Events: 3 from 1 file, 0 bad records" in stderr


def test_evtx_events_have_exactly_the_fields_the_service_flattens(tmp_path):
    log = write_evtx(tmp_path / "mixed.evtx", [FAILED_LOGON, SERVICE, LOGON])
    received = json_lines_of_ingest(log)

    offline = list(read_events(log, report=pytest.fail))

    assert offline == received
    assert offline[1]["Data"] == "Spooler\nrunning"


def json_lines_of_ingest(path: Path) -> list[dict[str, Any]]:
    records = INGEST_EVTX[0].read_file(path, start=0, received=datetime.now(UTC))
    return [flatten_record(orjson.loads(record.raw)) for record in records]


def test_an_unreadable_evtx_record_is_reported_and_the_others_are_matched(tmp_path):
    rule = tmp_path / "failed.yml"
    rule.write_text(FAILED_LOGON_RULE)
    second = event(4625, 14, named(TargetUserName="carol"))
    log = write_evtx(
        tmp_path / "broken.evtx", [FAILED_LOGON, LOGON, second], corrupt=frozenset({2})
    )

    code, alerts, stderr = detect(tmp_path, "--rules", str(rule), "--events", str(log))

    assert code == 1
    assert [alert["events"][0]["TargetUserName"] for alert in alerts] == ["alice", "carol"]
    assert f"{log}: record 2: unreadable record" in stderr
    assert "Events: 2 from 1 file, 1 bad record," in stderr


def test_a_correlation_hit_carries_its_group_its_events_and_its_window(tmp_path):
    (tmp_path / "failed.yml").write_text(FAILED_LOGON_RULE + "---\n" + BURST)
    events = tmp_path / "security.jsonl"
    burst = [failed_logon("alice", 1), failed_logon("bob", 2), failed_logon("alice", 3)]
    burst += [failed_logon("alice", 4)]
    events.write_text(lines(*burst))

    code, alerts, stderr = detect(
        tmp_path, "--rules", str(tmp_path / "failed.yml"), "--events", str(events)
    )

    assert code == 0, stderr
    (alert,) = alerts  # generate: false (the default) keeps the base rule's own alerts back
    assert list(alert) == ["rule", "events", "group", "correlation"]
    assert alert["rule"]["id"] == BURST_ID
    assert alert["rule"]["level"] == "high"
    assert alert["group"] == {"TargetUserName": "alice"}
    assert alert["events"] == [burst[0], burst[2], burst[3]]
    assert alert["correlation"] == {
        "type": "event_count",
        "value": 3,
        "first_time": "2024-05-01T12:00:01+00:00",
        "last_time": "2024-05-01T12:00:04+00:00",
        "truncated": False,
        "timespan_seconds": 300.0,
    }


def test_an_event_without_a_time_takes_the_time_of_the_event_before_it(tmp_path):
    (tmp_path / "failed.yml").write_text(FAILED_LOGON_RULE + "---\n" + BURST)
    events = tmp_path / "security.jsonl"
    burst = [failed_logon("alice", 1), failed_logon("alice", None), failed_logon("alice", 9)]
    events.write_text(lines(*burst))

    code, alerts, _ = detect(
        tmp_path, "--rules", str(tmp_path / "failed.yml"), "--events", str(events)
    )

    assert code == 0
    (alert,) = alerts
    assert alert["events"] == burst  # the second counted, at 12:00:01
    assert alert["correlation"]["first_time"] == "2024-05-01T12:00:01+00:00"


def test_too_few_events_fire_when_the_input_ends(tmp_path):
    (tmp_path / "failed.yml").write_text(FAILED_LOGON_RULE + "---\n" + QUIET)
    events = tmp_path / "security.jsonl"
    logons = [failed_logon("alice", 1), failed_logon("bob", 2), failed_logon("alice", 3)]
    events.write_text(lines(*logons))

    code, alerts, _ = detect(
        tmp_path, "--rules", str(tmp_path / "failed.yml"), "--events", str(events)
    )

    assert code == 0
    # generate: true keeps the three base alerts; bob's window closes at the end with 1 < 2.
    assert [alert["rule"]["name"] for alert in alerts[:3]] == ["failed_logon"] * 3
    (quiet,) = alerts[3:]
    assert quiet["rule"]["id"] == QUIET_ID
    assert quiet["group"] == {"TargetUserName": "bob"}
    assert quiet["events"] == [logons[1]]
    assert quiet["correlation"]["value"] == 1


def test_bad_rules_are_reported_with_file_and_line_and_the_good_ones_still_run(tmp_path, rules):
    broken = rules / "broken.yml"
    broken.write_text(
        "title: Broken\nlogsource: {product: windows}\ndetection:\n"
        "  selection:\n    Image|nosuchmodifier: x\n  condition: selection\n"
    )
    (rules / "not_yaml.yml").write_text("title: [unclosed\n")
    events = tmp_path / "events.jsonl"
    events.write_text(lines(WHOAMI_EVENT))

    code, alerts, stderr = detect(tmp_path, "--rules", str(rules), "--events", str(events))

    assert code == 0
    assert [alert["rule"]["id"] for alert in alerts] == [WHOAMI_ID]
    assert f"{broken}:5: " in stderr
    assert "nosuchmodifier" in stderr
    assert f"{rules / 'not_yaml.yml'}:" in stderr
    assert "Rules: 1 loaded from 3 files, 2 rejected" in stderr


def test_a_rule_key_given_twice_is_loaded_once(tmp_path, rules):
    (rules / "copy.yml").write_text(WHOAMI)
    events = tmp_path / "events.jsonl"
    events.write_text(lines(WHOAMI_EVENT))

    code, alerts, stderr = detect(tmp_path, "--rules", str(rules), "--events", str(events))

    assert code == 0
    assert len(alerts) == 1
    assert f"{rules / 'whoami.yml'}:1: a rule with the key {WHOAMI_ID} is already loaded" in stderr


def test_bad_event_lines_are_reported_with_file_and_line_and_nothing_else_is_lost(tmp_path, rules):
    events = tmp_path / "events.jsonl"
    bad = "not json\n\n[1, 2]\n"
    events.write_text(lines(WHOAMI_EVENT) + bad + lines(OTHER_EVENT, WHOAMI_EVENT))

    code, alerts, stderr = detect(tmp_path, "--rules", str(rules), "--events", str(events))

    assert code == 1
    assert len(alerts) == 2  # both whoami events, before and after the bad lines
    assert f"{events}:2: not JSON" in stderr
    assert f"{events}:4: a JSON array, not an object" in stderr
    assert ":3:" not in stderr  # a blank line is no record
    assert "Events: 3 from 1 file, 2 bad records" in stderr


def test_a_gzip_file_that_breaks_off_keeps_what_came_before(tmp_path, rules):
    events = tmp_path / "cut.jsonl.gz"
    whole = gzip.compress(lines(*[WHOAMI_EVENT] * 200).encode())
    events.write_bytes(whole[: len(whole) - 20])

    code, alerts, stderr = detect(tmp_path, "--rules", str(rules), "--events", str(events))

    assert code == 1
    assert 0 < len(alerts) < 200
    assert "cannot be read beyond this line" in stderr


def test_several_event_files_after_one_option_and_output_to_a_file(tmp_path, rules):
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_text(lines(WHOAMI_EVENT))
    second.write_text(lines(OTHER_EVENT, WHOAMI_EVENT))
    output = tmp_path / "alerts.jsonl"

    code, printed, stderr = detect(
        tmp_path,
        "--rules",
        str(rules),
        "--events",
        str(first),
        str(second),
        "--output",
        str(output),
    )
    code_stdout, on_stdout, _ = detect(
        tmp_path, "--events", str(first), "--events", str(second), "--rules", str(rules)
    )

    assert (code, code_stdout) == (0, 0)
    assert printed == []  # nothing on stdout when --output is given
    written = [json.loads(line) for line in output.read_text().splitlines()]
    assert len(written) == 2
    assert written == on_stdout
    assert "Events: 3 from 2 files" in stderr


def test_an_unknown_pipeline_is_a_usage_error_naming_the_known_ones(tmp_path, rules):
    events = tmp_path / "events.jsonl"
    events.write_text(lines(WHOAMI_EVENT))

    code, alerts, stderr = detect(
        tmp_path, "--rules", str(rules), "--events", str(events), "--pipeline", "splunk"
    )

    assert code == 2
    assert alerts == []
    assert "'splunk' is not one of" in stderr
    assert "'sysmon'" in stderr


def test_pipelines_that_contradict_each_other_are_refused(tmp_path, rules):
    events = tmp_path / "events.jsonl"
    events.write_text(lines(WHOAMI_EVENT))

    code, _, stderr = detect(
        tmp_path, "--rules", str(rules), "--events", str(events), "--pipeline", "sysmon",
        "windows-audit",
    )  # fmt: skip

    assert code == 2
    assert "cannot be combined" in stderr


def test_without_the_sysmon_pipeline_a_process_creation_rule_reads_any_event(tmp_path, rules):
    events = tmp_path / "events.jsonl"
    events.write_text(lines({"Image": "C:\\whoami.exe"}))

    with_default = detect(tmp_path, "--rules", str(rules), "--events", str(events))
    without = detect(
        tmp_path, "--rules", str(rules), "--events", str(events), "--pipeline", "wachter"
    )

    assert with_default[1] == []  # sysmon: only EventID 1 of the Sysmon channel
    assert len(without[1]) == 1  # an unmapped logsource applies to every event


def test_no_usable_rule_ends_the_command_with_exit_2(tmp_path):
    (tmp_path / "broken.yml").write_text("title: only a title\n")
    events = tmp_path / "events.jsonl"
    events.write_text(lines(WHOAMI_EVENT))

    code, alerts, stderr = detect(
        tmp_path, "--rules", str(tmp_path / "broken.yml"), "--events", str(events)
    )

    assert code == 2
    assert alerts == []
    assert f"{tmp_path / 'broken.yml'}:" in stderr
    assert "no usable rule" in stderr


def test_a_missing_event_file_is_a_usage_error(tmp_path, rules):
    code, _, stderr = detect(
        tmp_path, "--rules", str(rules), "--events", str(tmp_path / "missing.jsonl")
    )

    assert code == 2
    assert "does not exist" in stderr


def on_a_terminal(tmp_path: Path, *args: str) -> bytes:
    """What ``wachter detect`` draws on stderr when stderr is a 100-column terminal."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    process = subprocess.Popen(
        [str(WACHTER), "detect", *args],
        cwd=tmp_path,
        env=clean_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=terminal,
    )
    os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    process.wait(60)
    os.close(controller)
    assert process.returncode == 0
    return shown


def test_on_a_terminal_a_progress_bar_shows_the_bytes_read_and_the_rate(tmp_path, rules):
    events = tmp_path / "events.jsonl.gz"
    events.write_bytes(gzip.compress(lines(*[WHOAMI_EVENT, OTHER_EVENT] * 2000).encode()))
    size = events.stat().st_size

    shown = on_a_terminal(tmp_path, "--rules", str(rules), "--events", str(events))
    quiet = on_a_terminal(tmp_path, "--rules", str(rules), "--events", str(events), "--no-progress")

    assert b"events.jsonl.gz: 100%|" in shown
    drawn = tqdm.format_sizeof(size, divisor=1024)  # 3.08k: compressed bytes, all of them
    assert f"{drawn}/{drawn}".encode() in shown
    assert b"B/s]" in shown
    assert b"%|" not in quiet
    assert b"Detections: 2,000 (medium 2,000)." in quiet


# The readers in process: what arrives, and where a skipped record is said to be.


def read(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    bad: list[BadRecord] = []
    return list(read_events(path, report=bad.append)), [str(record) for record in bad]


def test_a_json_array_element_that_is_no_object_is_skipped_with_its_line(tmp_path):
    path = tmp_path / "array.json"
    path.write_text('[\n  {"a": 1},\n  "text",\n  {"a": 2}\n]\n')

    assert read(path) == ([{"a": 1}, {"a": 2}], [f"{path}:3: a JSON string, not an object"])


def test_a_syntax_error_in_a_json_array_ends_that_file_where_it_is(tmp_path):
    path = tmp_path / "array.json"
    path.write_text('[\n  {"a": 1},\n  {"a": 2,, "b": 3},\n  {"a": 4}\n]\n')

    events, bad = read(path)

    assert events == [{"a": 1}]
    (message,) = bad
    assert message.startswith(f"{path}:3: not JSON")
    assert message.endswith("the rest of the file is skipped")


def test_a_json_array_without_its_end_loses_nothing_before_the_fault(tmp_path):
    path = tmp_path / "array.json"
    path.write_text('[{"a": 1}, {"a": 2}')

    events, bad = read(path)

    assert events == [{"a": 1}, {"a": 2}]
    assert len(bad) == 1


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    events=st.lists(
        st.dictionaries(
            st.text(max_size=6),
            st.one_of(st.integers(-(2**60), 2**60), st.text(max_size=12), st.booleans()),
            max_size=4,
        ),
        max_size=8,
    ),
    indent=st.sampled_from([None, 1, 4]),
    chunk=st.integers(1, 17),
)
def test_a_json_array_reads_the_same_whatever_the_chunk_boundaries(
    tmp_path, monkeypatch, events, indent, chunk
):
    monkeypatch.setattr(inputs, "READ_CHUNK", chunk)
    path = tmp_path / "array.json"
    path.write_text(json.dumps(events, indent=indent, ensure_ascii=chunk % 2 == 0))

    assert read(path) == (events, [])


def test_a_line_longer_than_the_limit_is_skipped_and_reading_goes_on(tmp_path, monkeypatch):
    monkeypatch.setattr(inputs, "MAX_EVENT_BYTES", 64)
    path = tmp_path / "long.jsonl"
    path.write_text(lines({"a": 1}, {"b": "x" * 500}, {"c": 3}))

    events, bad = read(path)

    assert events == [{"a": 1}, {"c": 3}]
    assert bad == [f"{path}:2: longer than 64 bytes; skipped"]


def test_a_byte_order_mark_does_not_cost_the_first_line(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + lines({"a": 1}, {"b": 2}).encode())
    array = tmp_path / "bom.json"
    array.write_bytes(b"\xef\xbb\xbf" + b'[{"a": 1}]')

    assert read(path) == ([{"a": 1}, {"b": 2}], [])
    assert read(array) == ([{"a": 1}], [])


def test_a_compressed_evtx_file_is_named_as_such(tmp_path):
    log = write_evtx(tmp_path / "Security.evtx", [FAILED_LOGON])
    packed = tmp_path / "Security.evtx.gz"
    packed.write_bytes(gzip.compress(log.read_bytes()))

    assert read(packed) == ([], [f"{packed}: a compressed .evtx file; decompress it first"])


def test_progress_counts_the_bytes_read_from_disk(tmp_path):
    path = tmp_path / "events.jsonl.gz"
    path.write_bytes(gzip.compress(lines(*[WHOAMI_EVENT] * 1000).encode()))
    read_bytes: list[int] = []

    events = list(read_events(path, report=pytest.fail, progress=read_bytes.append))

    assert len(events) == 1000
    assert sum(read_bytes) == path.stat().st_size


# --jobs: the same command on worker processes (tests/integration/test_offline_parallel.py
# drives the workers in process, and stops and kills them).


def timeless(stderr: str) -> str:
    """stderr without the times and rates, which differ from run to run."""
    stderr = re.sub(r"\(\d+\.\d s\)", "(… s)", stderr)
    return re.sub(r"in \d+\.\d s \([\d,]+ events/s\)", "in … s (… events/s)", stderr)


def many_events(path: Path) -> Path:
    """Over 3 MiB of JSON lines (several blocks for the workers): bursts, bad lines, and
    events without time (so a block may begin with one that takes an earlier block's time)."""
    padding = "x" * 800
    items: list[str] = [json.dumps(failed_logon("zoe", None)), "[1, 2]"]
    for number in range(5000):
        second = number % 60
        if number % 97 == 0:
            items.append(json.dumps(untimed(process_event("C:\\whoami.exe", 0, Padding=padding))))
        elif number % 211 == 0:
            items += ["not json", ""]
        elif number % 7 == 0:
            user = ["alice", "bob", "carol"][number % 3]
            items.append(json.dumps(failed_logon(user, second if number % 2 else None)))
        else:
            items.append(json.dumps(untimed(process_event("notepad.exe", 0, Padding=padding))))
    path.write_text("".join(item + "\n" for item in items))
    return path


def untimed(event: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in event.items() if name != "SystemTime"}


def test_jobs_1_and_2_write_the_same_bytes_and_say_the_same(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "whoami.yml").write_text(WHOAMI)
    (rules / "failed.yml").write_text(FAILED_LOGON_RULE + "---\n" + BURST + "---\n" + QUIET)
    big = many_events(tmp_path / "big.jsonl")
    cut = tmp_path / "cut.jsonl.gz"
    whole = gzip.compress(lines(*[WHOAMI_EVENT, failed_logon("erin", 5)] * 300).encode())
    cut.write_bytes(whole[:-20])
    array = tmp_path / "array.json"
    array.write_text(json.dumps([WHOAMI_EVENT, "text", failed_logon("bob", 59)]))
    log = write_evtx(tmp_path / "broken.evtx", [FAILED_LOGON, LOGON], corrupt=frozenset({2}))
    command = ["detect", "--rules", str(rules), "--events", str(big), str(cut), str(array)]
    command += [str(log)]

    alone = run_wachter(*command, "--jobs", "1", cwd=tmp_path, env=clean_env(), timeout=120)
    together = run_wachter(*command, "--jobs", "2", cwd=tmp_path, env=clean_env(), timeout=120)

    assert big.stat().st_size > 3 * inputs.LINE_BLOCK_BYTES
    assert (together.returncode, together.stdout) == (alone.returncode, alone.stdout)
    assert timeless(together.stderr) == timeless(alone.stderr)
    assert alone.returncode == 1
    assert '"correlation"' in alone.stdout
    assert f"{big}:2: a JSON array, not an object" in alone.stderr
    assert f"{big}:214: not JSON" in alone.stderr
    assert f"{log}: record 2: unreadable record" in alone.stderr
    assert "Detections: " in alone.stderr


def test_jobs_below_one_is_a_usage_error(tmp_path, rules):
    events = tmp_path / "events.jsonl"
    events.write_text(lines(WHOAMI_EVENT))

    code, alerts, stderr = detect(
        tmp_path, "--rules", str(rules), "--events", str(events), "--jobs", "0"
    )

    assert code == 2
    assert alerts == []
    assert "--jobs" in stderr
