"""Offline hunting (``wachter detect``): Sigma rules over event files, detections as JSON lines.

    read_rules(paths)               -> parsed sources + problems of paths that cannot be read
    compile_rules(parsed, pipeline) -> OfflineRules   (the RuleSet, every problem located)
    read_events(path, report=…)     -> events of one file, streamed (JSONL, gzip, JSON array,
                                       .evtx); skipped records to ``report`` as BadRecord
    detect(engine, events, writer)  -> events seen; detections written by an AlertWriter
    alert_json(detection)           -> one output line as data
    Workers(engine, jobs)           -> forked worker processes (``--jobs N``, Linux):
        .detect(read_chunks(path, …) per file, writer, report=…) -> what ``detect`` gives

The same ``DetectionEngine`` as the service; only the source of events and the sink of
detections differ. docs/detection.md describes the command.
"""

from detection_rules.offline.evtx import flatten_record
from detection_rules.offline.inputs import MAX_EVENT_BYTES, read_chunks, read_events
from detection_rules.offline.parallel import WorkerFailed, Workers, can_fork, usable_cpus
from detection_rules.offline.records import BadRecord, Chunk, Event
from detection_rules.offline.rules import OfflineRules, compile_rules, read_rules
from detection_rules.offline.run import END_OF_TIME, AlertWriter, alert_json, detect

__all__ = [
    "END_OF_TIME",
    "MAX_EVENT_BYTES",
    "AlertWriter",
    "BadRecord",
    "Chunk",
    "Event",
    "OfflineRules",
    "WorkerFailed",
    "Workers",
    "alert_json",
    "can_fork",
    "compile_rules",
    "detect",
    "flatten_record",
    "read_chunks",
    "read_events",
    "read_rules",
    "usable_cpus",
]
