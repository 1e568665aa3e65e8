"""One offline run: events through the engine, every detection out as one JSON line.

Each event is passed to ``DetectionEngine.process`` as itself (``ref=event``), so a detection
carries the original events, unchanged, and so does a correlation hit. An event without a
time of its own is placed at the time of the latest earlier event that had one (files are
usually in time order; the first events of a file without times have none, and correlations
then pass them over). That time is only looked up when there are correlations: single-event
rules do not need it. At the end of the input every correlation window still open is closed
(``advance`` to the end of time), which is when ``lt``/``lte`` correlations fire. Input files
may overlap in time (one file per channel): windows are only closed at the end, so no event
is measured against a window closed too early.

The alert format (DESIGN.md; ``rule`` keys ``id``, ``name``, ``level``, ``tags`` as promised,
more added, none renamed)::

    {"rule": {"id", "name", "title", "level", "tags", "key"},
     "events": [the matched events, unchanged],
     "explanation": [{"selection", "fields": [{"field", "pattern", "value"}]}],  rules only
     "group": {group-by field: value}, "correlation": {"type", "value",        correlations
               "first_time", "last_time", "timespan_seconds", "truncated"}}

``name`` is the rule's Sigma ``name`` when it has one (correlations refer to rules by it),
else its title, so it always says which rule fired.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, BinaryIO, Final

import orjson

from detection_rules.engine import Detection, DetectionEngine, RuleSet
from detection_rules.fields import event_time
from detection_rules.offline.records import Event

# Later than any window can end: closes them all.
END_OF_TIME: Final = datetime.max.replace(tzinfo=UTC)


def alert_json(
    detection: Detection, *, timespans: dict[str, float] | None = None
) -> dict[str, Any]:
    """The JSON object ``wachter detect`` writes for ``detection``."""
    alert: dict[str, Any] = {
        "rule": {
            "id": detection.rule_id,
            "name": detection.rule_name or detection.title,
            "title": detection.title,
            "level": detection.level,
            "tags": list(detection.tags),
            "key": detection.rule_key,
        },
        "events": list(detection.event_refs),
    }
    if detection.kind == "correlation":
        correlation = dict(detection.correlation or {})
        correlation["timespan_seconds"] = (timespans or {}).get(detection.rule_key)
        alert["group"] = detection.group or {}
        alert["correlation"] = correlation
    else:
        alert["explanation"] = detection.explanation_json()
    return alert


def alert_line(detection: Detection, *, timespans: dict[str, float] | None = None) -> bytes:
    """The line ``wachter detect`` writes for ``detection``, line break included."""
    alert = alert_json(detection, timespans=timespans)
    try:
        return orjson.dumps(alert, option=orjson.OPT_APPEND_NEWLINE)
    except orjson.JSONEncodeError:
        # Only events from a JSON array can hold what orjson refuses (integers beyond
        # 64 bits); the standard library writes them as they were read.
        return json.dumps(alert, ensure_ascii=False, default=str).encode() + b"\n"


class AlertWriter:
    """Writes alerts as JSON lines to a binary stream (buffered by the caller) and counts them."""

    def __init__(self, output: BinaryIO, rule_set: RuleSet) -> None:
        self.output = output
        self.by_level: Counter[str] = Counter()
        self._timespans = {
            correlation.key: correlation.timespan.total_seconds()
            for correlation in rule_set.correlations
        }

    def write(self, detection: Detection) -> None:
        self.output.write(alert_line(detection, timespans=self._timespans))
        self.by_level[detection.level or "none"] += 1

    def write_lines(self, lines: bytes) -> None:
        """Alert lines made elsewhere (``alert_line``); their levels are counted there."""
        self.output.write(lines)

    @property
    def total(self) -> int:
        return sum(self.by_level.values())


def detect(engine: DetectionEngine, events: Iterable[Event], writer: AlertWriter) -> int:
    """Every event through ``engine``, detections to ``writer``; returns the events seen."""
    if engine.rule_set.correlations:
        count = _detect_in_time(engine, events, writer)
    else:
        count = 0
        process, write = engine.process, writer.write
        for count, event in enumerate(events, 1):  # noqa: B007 - the count is the result
            for detection in process(event, ref=event):
                write(detection)
    for detection in engine.advance(END_OF_TIME):
        writer.write(detection)
    return count


def _detect_in_time(engine: DetectionEngine, events: Iterable[Event], writer: AlertWriter) -> int:
    count = 0
    latest: datetime | None = None
    process, write = engine.process, writer.write
    for count, event in enumerate(events, 1):  # noqa: B007 - the count is the result
        latest = event_time(event) or latest
        for detection in process(event, ref=event, fallback_time=latest):
            write(detection)
    return count
