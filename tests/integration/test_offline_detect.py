"""The offline detector over real attack samples with every SigmaHQ Windows rule.

``../shared/data/events/evtx-samples-hayabusa.jsonl.gz`` (24,661 events from public EVTX
attack samples) runs through ``detection_rules.offline`` in process, as ``wachter detect``
runs it: rules read and compiled with the default pipelines, events streamed, alerts written
as JSON lines. The output is then held against the file and against the in-process
``Matcher`` given the same compiled rules, event by event.
"""

from __future__ import annotations

import gzip
import io
from collections import Counter
from typing import Any

import orjson
import pytest

from detection_rules.engine import DetectionEngine
from detection_rules.matcher import Matcher
from detection_rules.offline import (
    AlertWriter,
    BadRecord,
    OfflineRules,
    compile_rules,
    detect,
    read_events,
    read_rules,
)
from detection_rules.pipelines import default_pipeline
from tests.support.shared_data import shared_data

EVENTS = "events/evtx-samples-hayabusa.jsonl.gz"
EVENT_COUNT = 24_661


@pytest.fixture(scope="module")
def windows_rules() -> OfflineRules:
    parsed, problems = read_rules([shared_data("sigma-rules/rules/windows")])
    return compile_rules(parsed, pipeline=default_pipeline(), problems=problems)


@pytest.fixture(scope="module")
def run(windows_rules: OfflineRules) -> dict[str, Any]:
    output = io.BytesIO()
    writer = AlertWriter(output, windows_rules.rule_set)
    bad: list[BadRecord] = []
    count = detect(
        DetectionEngine(windows_rules.rule_set),
        read_events(shared_data(EVENTS), report=bad.append),
        writer,
    )
    alerts = [orjson.loads(line) for line in output.getvalue().splitlines()]
    return {"count": count, "bad": bad, "alerts": alerts, "writer": writer}


def original_lines() -> list[bytes]:
    with gzip.open(shared_data(EVENTS), "rb") as lines:
        return [line.rstrip(b"\n") for line in lines]


def test_every_windows_rule_loads_and_every_event_is_read(windows_rules, run):
    assert [str(problem) for problem in windows_rules.problems if problem.is_error] == []
    assert len(windows_rules.rule_set.rules) > 2000
    assert run["count"] == EVENT_COUNT
    assert run["bad"] == []
    assert len(run["alerts"]) == run["writer"].total > 1000  # attack samples: many hits


def test_every_detection_names_a_loaded_rule(windows_rules, run):
    loaded = {rule.key: rule for rule in windows_rules.rule_set.rules}

    for alert in run["alerts"]:
        rule = loaded[alert["rule"]["key"]]
        assert alert["rule"]["id"] == rule.id
        assert alert["rule"]["title"] == rule.title
        assert alert["rule"]["level"] == rule.level
        assert len(alert["events"]) == 1  # no correlation among SigmaHQ's rules
        assert alert["explanation"]


def test_the_events_in_the_output_are_the_original_lines_byte_for_byte(run):
    originals = set(original_lines())

    written = [orjson.dumps(event) for alert in run["alerts"] for event in alert["events"]]

    assert written
    assert [line for line in written if line not in originals] == []


def test_the_detections_are_exactly_what_the_matcher_finds_event_by_event(windows_rules, run):
    matcher = Matcher(windows_rules.rule_set.rules)
    expected: Counter[tuple[bytes, str]] = Counter()
    for line in original_lines():
        event = orjson.loads(line)
        expected.update((line, rule.key) for rule in matcher.match(event))

    found = Counter(
        (orjson.dumps(event), alert["rule"]["key"])
        for alert in run["alerts"]
        for event in alert["events"]
    )

    assert found == expected
