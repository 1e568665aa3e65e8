"""Offline hunting (``wachter detect``): Sigma rules over event files, detections as JSON lines.

    read_rules(paths)               -> parsed sources + problems of paths that cannot be read
    compile_rules(parsed, pipeline) -> OfflineRules   (the RuleSet, every problem located)
    read_events(path, report=…)     -> events of one file, streamed (JSONL, gzip, JSON array,
                                       .evtx); skipped records to ``report`` as BadRecord
    detect(engine, events, writer)  -> events seen; detections written by an AlertWriter
    alert_json(detection)           -> one output line as data

The same ``DetectionEngine`` as the service; only the source of events and the sink of
detections differ. docs/detection.md describes the command.
"""

from detection_rules.offline.evtx import flatten_record
from detection_rules.offline.inputs import MAX_EVENT_BYTES, read_events
from detection_rules.offline.records import BadRecord, Event
from detection_rules.offline.rules import OfflineRules, compile_rules, read_rules
from detection_rules.offline.run import END_OF_TIME, AlertWriter, alert_json, detect

__all__ = [
    "END_OF_TIME",
    "MAX_EVENT_BYTES",
    "AlertWriter",
    "BadRecord",
    "Event",
    "OfflineRules",
    "alert_json",
    "compile_rules",
    "detect",
    "flatten_record",
    "read_events",
    "read_rules",
]
