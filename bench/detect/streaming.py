"""The streaming matcher alone, on one core: events/s for 100, 1,000 and all Windows rules.

What the service does with each stored event: ``Matcher.match(event)`` on an event already
parsed. So the events are read and parsed first (not timed), the process is pinned to CPU 0,
and for each rule count the whole list goes through one ``Matcher`` built from the rules
compiled with the same pipelines as the peer (``sysmon`` + ``windows-logsources``). Compiling
is timed apart. Rules the matcher cannot evaluate (``UnsupportedRule``) are counted by reason.

    .venv/bin/python -m bench.detect.streaming [--limit N] [--counts 100,1000,all]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from bench.detect.events import BENCHMARK_EVENTS, read_events
from bench.detect.rules import LoadedRules, load_rules, windows_pipeline, windows_rule_paths
from detection_rules.errors import UnsupportedRule
from detection_rules.matcher import CompiledRule, Matcher, compile_rule


def compile_all(loaded: LoadedRules) -> tuple[list[CompiledRule], Counter[str]]:
    """Every loaded rule through ``compile_rule``; what it refuses, counted by message."""
    compiled: list[CompiledRule] = []
    unsupported, pipeline = Counter[str](), windows_pipeline()
    for item in loaded.rules:
        try:
            compiled.append(compile_rule(item.rule, pipeline=pipeline))
        except UnsupportedRule as error:
            unsupported[str(error)[:100]] += 1
    return compiled, unsupported


def measure_count(events: list[dict[str, Any]], count: int | None, order: str) -> dict[str, Any]:
    paths = windows_rule_paths(count, order=order)
    started = time.perf_counter()
    loaded = load_rules(paths)
    compiled, unsupported = compile_all(loaded)
    matcher = Matcher(compiled)
    compiled_at = time.perf_counter()
    matches: Counter[str] = Counter()
    for event in events:
        for rule in matcher.match(event):
            matches[rule.key] += 1
    seconds = time.perf_counter() - compiled_at
    return {
        "rules": "all" if count is None else count,
        "rule_files": len(paths),
        "rules_used": len(compiled),
        "rules_skipped_on_load": dict(loaded.skipped),
        "rules_unsupported": dict(unsupported),
        "compile_seconds": compiled_at - started,
        "events": len(events),
        "seconds": seconds,
        "events_per_second": len(events) / seconds if seconds else 0.0,
        "rules_matching": len(matches),
        "matches": sum(matches.values()),
    }


def measure(
    events_path: Path, counts: list[int | None], limit: int | None, order: str
) -> dict[str, Any]:
    events = [event for _, event in read_events(events_path, limit)]
    os.sched_setaffinity(0, {0})  # one core, whatever the machine has
    runs = [measure_count(events, count, order) for count in counts]
    return {
        "side": "wachter streaming matcher",
        "cpu_affinity": sorted(os.sched_getaffinity(0)),
        "events": len(events),
        "runs": runs,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def parse_counts(text: str) -> list[int | None]:
    return [None if part == "all" else int(part) for part in text.split(",")]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=Path, default=BENCHMARK_EVENTS)
    parser.add_argument("--limit", type=int, help="first N events (default: all)")
    parser.add_argument("--counts", type=parse_counts, default=[100, 1000, None])
    parser.add_argument("--rules-order", choices=("shuffled", "path"), default="shuffled")
    parser.add_argument("--output", type=Path, help="write the JSON result here (else stdout)")
    arguments = parser.parse_args(argv)
    result = measure(arguments.events, arguments.counts, arguments.limit, arguments.rules_order)
    encoded = orjson.dumps(result, option=orjson.OPT_INDENT_2)
    if arguments.output:
        arguments.output.write_bytes(encoded)
    else:
        sys.stdout.buffer.write(encoded + b"\n")


if __name__ == "__main__":
    main()
