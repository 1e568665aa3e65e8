"""Real Windows events (the shared EVTX-JSON data) through the windows parser and finish().

All 24,661 Hayabusa sample events (attack-heavy) and the first 50,000 OTRF events (mostly
Sysmon background). Nothing may raise; logons must carry their outcome and user, Sysmon
process creation its executable; and every field of the input must still be in the
stored document with its value, so Sigma rules written for the raw fields keep matching.
The one documented exception: a source field whose name is an ECS object (``url``,
``process``, ``error``) but whose value is not an object is kept under ``labels``.
"""

from __future__ import annotations

import gzip
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from ingest.normalise import ECS_OBJECTS, finish
from ingest.parsers.windows import PARSERS
from tests.support.shared_data import shared_data

WINDOWS = PARSERS[0]
INGESTED = datetime(2030, 1, 1, tzinfo=UTC)


def events(path: Path, limit: int | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    with gzip.open(path, "rb") as lines:
        for number, line in enumerate(lines, 1):
            if limit is not None and number > limit:
                return
            yield number, orjson.loads(line)


def check(path: Path, limit: int | None = None) -> Counter[str]:
    """Parse and store every event; return counts; fail on the first broken promise."""
    counts: Counter[str] = Counter()
    started = time.perf_counter()
    for number, original in events(path, limit):
        document = WINDOWS.parse_document(original, received=INGESTED)
        record = finish(document, source="test", event_key=str(number), ingested=INGESTED)
        stored = orjson.loads(record.document)
        _check_fields_kept(original, stored, number)
        _check_meaning(original, stored, number, counts)
        counts["events"] += 1
    counts["docs_per_second"] = int(counts["events"] / (time.perf_counter() - started))
    return counts


def _check_fields_kept(original: dict[str, Any], stored: dict[str, Any], number: int) -> None:
    for name, value in original.items():
        if name in ECS_OBJECTS and not isinstance(value, dict):
            assert stored["labels"][name] == value, f"line {number}: {name} not under labels"
        else:
            assert stored.get(name) == value, f"line {number}: {name} changed or lost"


def _check_meaning(
    original: dict[str, Any], stored: dict[str, Any], number: int, counts: Counter[str]
) -> None:
    event, channel, event_id = stored["event"], original.get("Channel"), original["EventID"]
    assert event["code"] == str(event_id), f"line {number}"
    assert event["dataset"].startswith("windows."), f"line {number}"
    if channel == "Security" and event_id == 4625:
        assert event["outcome"] == "failure", f"line {number}"
        counts["4625"] += 1
    if channel == "Security" and event_id == 4624:
        assert event["outcome"] == "success", f"line {number}"
        assert stored["user"]["name"], f"line {number}: logon without user.name"
        counts["4624"] += 1
    if event["dataset"] == "windows.sysmon" and event_id == 1:
        assert stored["process"]["executable"], f"line {number}: Sysmon 1 without executable"
        counts["sysmon_1"] += 1


def test_every_hayabusa_sample_event_parses_and_keeps_its_fields():
    counts = check(shared_data("events/evtx-samples-hayabusa.jsonl.gz"))
    assert counts["events"] == 24661
    # The data has these in numbers; a parser that stopped recognising them would show.
    assert counts["4625"] > 100
    assert counts["4624"] > 100
    assert counts["sysmon_1"] > 100
    print(f"hayabusa: {counts['docs_per_second']} docs/s")  # noqa: T201 - shown with -s


def test_the_first_50000_otrf_events_parse_and_keep_their_fields():
    counts = check(shared_data("events/otrf-security-datasets.jsonl.gz"), limit=50_000)
    assert counts["events"] == 50_000
    assert counts["sysmon_1"] > 10
    print(f"otrf: {counts['docs_per_second']} docs/s")  # noqa: T201 - shown with -s
