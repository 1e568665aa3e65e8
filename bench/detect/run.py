"""Detection throughput of ``wachter detect`` against the peer the issue names, in one run.

    .venv/bin/python -m bench.detect.run                       # 1M events, all Windows rules
    .venv/bin/python -m bench.detect.run --limit 50000 --rules-counts 100,1000,all
    .venv/bin/python -m bench.detect.run --sides peer --limit 50000

Sides, each in its own process so that each peak memory is its own. Memory is measured two
ways: the peak RSS of the largest process (``os.wait4``), and the peak of the summed PSS of the
side's process tree (``/proc/PID/smaps_rollup``, sampled every half second): ``wachter detect``
forks worker processes whose RSS counts the pages they share with it, so only PSS (a shared page
divided among its sharers) adds up to what the run occupies. CPU seconds (user + system) are the
whole process tree's, start-up and rule compiling included: on a shared machine they say more
than wall time does.

- ``peer``: Zircolite's approach (bench/detect/peer.py): events into in-memory SQLite, every
  rule as SQL from pySigma's SQLite backend. events/s = events / (load + all queries); rule
  conversion is timed apart (Zircolite ships converted rulesets).
- ``cli``: ``wachter detect --rules DIR --events FILE --output FILE`` as a black box;
  events/s = events / the command's wall time (start-up and rule compiling included).
- ``streaming``: the matcher alone on one core over parsed events (bench/detect/streaming.py),
  for 100, 1,000 and all rules.

The same event file (with ``--limit N``: its first N lines, copied once) and the same rule files
(the first N of a fixed shuffle, see rules.py) go to every side. Prints Markdown tables for
bench/README.md and writes the whole result to bench/detect/results/.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from bench.detect.events import BENCHMARK_EVENTS, REPOSITORY, read_lines, write_first_lines
from bench.detect.rules import WINDOWS_RULES, windows_rule_paths

WACHTER = Path(sys.executable).with_name("wachter")
RESULTS = Path(__file__).resolve().parent / "results"


PSS_INTERVAL = 0.5


@dataclass(frozen=True)
class Usage:
    """What one side's process used; its children (workers) included."""

    code: int
    seconds: float  # wall
    cpu_seconds: float  # user + system, with the children it waited for
    peak_rss_mib: float  # the largest single process
    peak_pss_mib: float  # the whole process tree, summed, at its peak


def timed_process(command: list[str], log: Path) -> Usage:
    """Run ``command`` (output to ``log``) and measure it."""
    started = time.perf_counter()
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, cwd=REPOSITORY)
        sampler = PssSampler(process.pid)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        sampler.stop()
    process.returncode = os.waitstatus_to_exitcode(status)
    return Usage(
        code=process.returncode,
        seconds=time.perf_counter() - started,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        # Linux reports the larger of the process's own peak and its waited-for children's.
        peak_rss_mib=usage.ru_maxrss / 1024,
        peak_pss_mib=sampler.peak_kib / 1024,
    )


class PssSampler(threading.Thread):
    """The peak of the summed PSS of a process and its descendants, sampled in the background."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_kib = 0
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.is_set():
            total = sum(pss_kib(pid) for pid in process_tree(self.pid))
            self.peak_kib = max(self.peak_kib, total)
            self._stopped.wait(PSS_INTERVAL)

    def stop(self) -> None:
        self._stopped.set()
        self.join()


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants, from /proc (children of every thread)."""
    found, waiting = [], [pid]
    while waiting:
        current = waiting.pop()
        found.append(current)
        for children in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                waiting.extend(int(child) for child in children.read_text().split())
            except OSError:
                continue  # the thread or process ended meanwhile
    return found


def pss_kib(pid: int) -> int:
    """The proportional set size of ``pid`` in KiB; 0 once it has ended."""
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    for line in rollup.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def failure(name: str, log: Path) -> dict[str, Any]:
    tail = log.read_text(errors="replace").strip().splitlines()[-5:]
    print(f"  {name} failed:\n    " + "\n    ".join(tail), file=sys.stderr)
    return {"side": name, "error": "\n".join(tail)}


def run_peer(events: Path, rules_limit: int | None, order: str, work: Path) -> dict[str, Any]:
    result_file, log = work / "peer.json", work / "peer.log"
    command = [sys.executable, "-m", "bench.detect.peer", "--events", str(events)]
    command += ["--rules-order", order, "--output", str(result_file)]
    if rules_limit is not None:
        command += ["--rules-limit", str(rules_limit)]
    usage = timed_process(command, log)
    if usage.code != 0:
        return failure("peer", log)
    result: dict[str, Any] = orjson.loads(result_file.read_bytes())
    result.update(process_usage(usage))
    return result


def process_usage(usage: Usage) -> dict[str, float]:
    return {
        "process_seconds": usage.seconds,
        "process_cpu_seconds": usage.cpu_seconds,
        "process_peak_rss_mib": usage.peak_rss_mib,
        "process_peak_pss_mib": usage.peak_pss_mib,
    }


def cli_available() -> bool:
    if not WACHTER.exists():
        return False
    probe = subprocess.run(
        [str(WACHTER), "detect", "--help"], capture_output=True, check=False, cwd=REPOSITORY
    )
    return probe.returncode == 0


def copy_rules(paths: list[Path], target: Path) -> Path:
    """The chosen rule files under one folder (their layout kept) for ``--rules``."""
    for path in paths:
        destination = target / path.relative_to(WINDOWS_RULES)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)
    return target


def count_detections(output: Path) -> Counter[str]:
    """Matched events per ``rule.id`` in ``wachter detect``'s JSON lines."""
    counts: Counter[str] = Counter()
    with output.open("rb") as lines:
        for line in lines:
            if line.strip():
                alert = orjson.loads(line)
                rule = alert.get("rule") or {}
                counts[str(rule.get("id") or rule.get("name"))] += len(alert.get("events") or [1])
    return counts


def run_cli(events: Path, event_count: int, paths: list[Path], work: Path) -> dict[str, Any]:
    """``wachter detect`` as a user runs it; matches counted from its output."""
    rules_dir = copy_rules(paths, work / "rules")
    output, log = work / "detections.jsonl", work / "cli.log"
    command = [str(WACHTER), "detect", "--no-progress", "--rules", str(rules_dir)]
    command += ["--events", str(events), "--output", str(output)]
    usage = timed_process(command, log)
    shutil.rmtree(rules_dir)
    if usage.code not in (0, 1):  # 1: the run finished, some records could not be read (in its log)
        return failure("wachter detect", log)
    matches = count_detections(output)
    summary = log.read_text(errors="replace")
    return {
        "side": "wachter detect",
        "events": event_count,
        "rule_files": len(paths),
        **rules_summary(summary),
        "seconds": usage.seconds,
        "events_per_second": event_count / usage.seconds,
        "peak_rss_mib": usage.peak_rss_mib,
        **process_usage(usage),
        "exit_code": usage.code,
        "log_tail": summary.strip().splitlines()[-5:],
        "matches": dict(matches),
    }


def rules_summary(log: str) -> dict[str, Any]:
    """The rule counts of the command's closing summary ("Rules: N loaded from M files, K
    rejected (S s)."), and its own events/s (reading and matching only)."""
    found: dict[str, Any] = {}
    if rules := re.search(r"Rules: ([\d,]+) loaded from [\d,]+ files?, ([\d,]+) rejected", log):
        found["rules_used"] = int(rules.group(1).replace(",", ""))
        found["rules_rejected"] = int(rules.group(2).replace(",", ""))
    if rate := re.search(r"Events: .*\(([\d,]+) events/s\)", log):
        found["reported_events_per_second"] = int(rate.group(1).replace(",", ""))
    return found


def run_streaming(events: Path, counts: list[int | None], order: str, work: Path) -> dict[str, Any]:
    result_file, log = work / "streaming.json", work / "streaming.log"
    text = ",".join("all" if count is None else str(count) for count in counts)
    command = [sys.executable, "-m", "bench.detect.streaming", "--events", str(events)]
    command += ["--counts", text, "--rules-order", order, "--output", str(result_file)]
    usage = timed_process(command, log)
    if usage.code != 0:
        return failure("streaming matcher", log)
    result: dict[str, Any] = orjson.loads(result_file.read_bytes())
    result.update(process_usage(usage))
    return result


def count_label(count: int | None, paths: list[Path]) -> str:
    return f"{'all' if count is None else f'{count:,}'} ({len(paths):,} files)"


def skipped_text(result: dict[str, Any]) -> str:
    reasons = Counter(result.get("rules_skipped_on_load") or {})
    reasons.update(result.get("rules_unconverted") or {})
    reasons.update(result.get("rules_unsupported") or {})
    if not reasons:
        return "none"
    return "; ".join(f"{number} {reason}" for reason, number in reasons.most_common())


def side_row(label: str, result: dict[str, Any], peer_rate: float | None) -> str:
    if "error" in result:
        return f"| {label} | {result['side']} | failed: {result['error'].splitlines()[-1]} |||||||"
    seconds = f"{result['seconds']:,.1f}"
    if "load_seconds" in result:
        seconds += f" (load {result['load_seconds']:,.1f} + queries {result['query_seconds']:,.1f})"
    used = f"{result['rules_used']:,}" if "rules_used" in result else "see its log"
    ratio = f"{result['events_per_second'] / peer_rate:,.2f}" if peer_rate else "-"
    return (
        f"| {label} | {result['side']} | {result['events']:,} | {used} | {seconds} "
        f"| {result['process_cpu_seconds']:,.1f} | {result['events_per_second']:,.0f} "
        f"| {result['peak_rss_mib']:,.0f} | {result['process_peak_pss_mib']:,.0f} | {ratio} |"
    )


def agreement_line(peer: dict[str, Any], cli: dict[str, Any]) -> str | None:
    """How many rules the two sides counted differently (bench/detect/agreement.py explains)."""
    if "matches" not in peer or "matches" not in cli:
        return None
    both = set(peer["matches"])  # the rules the peer ran; the CLI lists only rules that matched
    differing = [key for key in both if peer["matches"][key] != cli["matches"].get(key, 0)]
    only_cli = [key for key in cli["matches"] if key not in both]
    return (
        f"matched events per rule: {len(both) - len(differing):,} of the {len(both):,} rules "
        f"the peer ran agree, {len(differing):,} differ; {len(only_cli):,} rules the peer "
        f"cannot run matched {sum(cli['matches'][key] for key in only_cli):,} events in "
        f"wachter detect (peer {sum(peer['matches'].values()):,} matches in all, "
        f"wachter detect {sum(cli['matches'].values()):,})"
    )


def print_sides(runs: list[dict[str, Any]]) -> None:
    print(
        "\n| Windows rules | side | events | rules used | seconds | CPU s | events/s "
        "| peak RSS MiB (largest process) | peak PSS MiB (all processes) | x peer |"
        "\n|---|---|---:|---:|---|---:|---:|---:|---:|---:|"
    )
    notes: list[str] = []
    for run in runs:
        peer, cli = run.get("peer"), run.get("cli")
        peer_rate = peer.get("events_per_second") if peer and "error" not in peer else None
        for result in (peer, cli):
            if result is not None:
                print(side_row(run["label"], result, peer_rate))
        if peer and "error" not in peer:
            notes.append(
                f"{run['label']}: peer rules not run: {skipped_text(peer)}; rule conversion "
                f"{peer['convert_seconds']:.1f} s (not counted); case: {peer['case_handling']}"
            )
        if cli and "rules_used" in cli:
            notes.append(
                f"{run['label']}: wachter detect rejected {cli['rules_rejected']:,} rules; "
                f"exit code {cli['exit_code']}; its own figure without start-up and rule "
                f"compiling: {cli.get('reported_events_per_second', 0):,} events/s"
            )
        if peer and cli and (line := agreement_line(peer, cli)):
            notes.append(f"{run['label']}: {line}")
    for note in notes:
        print(f"\n- {note}", end="")
    print()


def print_streaming(streaming: dict[str, Any]) -> None:
    print(
        f"\n| streaming matcher, 1 core, {streaming['events']:,} parsed events | rules used "
        "| compile s | events/s | rules matching | matches | rules skipped |"
        "\n|---|---:|---:|---:|---:|---:|---|"
    )
    for run in streaming["runs"]:
        print(
            f"| {run['rules']} | {run['rules_used']:,} | {run['compile_seconds']:.1f} "
            f"| {run['events_per_second']:,.0f} | {run['rules_matching']:,} "
            f"| {run['matches']:,} | {skipped_text(run)} |"
        )
    print(
        f"\npeak RSS of the streaming process: {streaming['peak_rss_mib']:,.0f} MiB "
        "(all events held in memory, by design; the 1 GB goal is for wachter detect)"
    )


def print_tables(runs: list[dict[str, Any]], streaming: dict[str, Any] | None) -> None:
    if any("peer" in run or "cli" in run for run in runs):
        print_sides(runs)
    if streaming and "runs" in streaming:
        print_streaming(streaming)
    elif streaming:
        print(f"\nstreaming matcher failed: {streaming.get('error')}")


def parse_counts(text: str) -> list[int | None]:
    return [None if part == "all" else int(part) for part in text.split(",")]


def arguments_from(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=Path, default=BENCHMARK_EVENTS)
    parser.add_argument("--limit", type=int, help="first N events (default: all)")
    parser.add_argument(
        "--rules-counts",
        type=parse_counts,
        default=[None],
        help="peer and CLI: comma-separated rule counts, 'all' (default: all)",
    )
    parser.add_argument("--rules-limit", type=int, help="shorthand for --rules-counts N")
    parser.add_argument("--streaming-counts", type=parse_counts, default=[100, 1000, None])
    parser.add_argument("--rules-order", choices=("shuffled", "path"), default="shuffled")
    parser.add_argument(
        "--sides",
        default="peer,cli,streaming",
        help="comma-separated: peer, cli, streaming (default: all three)",
    )
    arguments = parser.parse_args(argv)
    if arguments.rules_limit is not None:
        arguments.rules_counts = [arguments.rules_limit]
    arguments.sides = set(arguments.sides.split(","))
    return arguments


def main(argv: list[str] | None = None) -> None:
    arguments = arguments_from(argv)
    sides = arguments.sides
    if "cli" in sides and not cli_available():
        print("wachter detect is not available yet: the CLI side is skipped", file=sys.stderr)
        sides = sides - {"cli"}
    runs: list[dict[str, Any]] = []
    streaming = None
    with tempfile.TemporaryDirectory(prefix="bench-detect-") as directory:
        work, events = Path(directory), arguments.events
        event_count = arguments.limit
        if arguments.limit is not None:
            events = work / "events.jsonl.gz"
            event_count = write_first_lines(arguments.events, events, arguments.limit)
        for count in arguments.rules_counts:
            paths = windows_rule_paths(count, order=arguments.rules_order)
            run: dict[str, Any] = {"label": count_label(count, paths), "rules": count}
            print(f"rules {run['label']}:", file=sys.stderr)
            if "peer" in sides:
                run["peer"] = run_peer(events, count, arguments.rules_order, work)
                event_count = run["peer"].get("events", event_count)
            if "cli" in sides:
                total = event_count if event_count is not None else count_lines(events)
                run["cli"] = run_cli(events, total, paths, work)
            runs.append(run)
        if "streaming" in sides:
            streaming = run_streaming(
                events, arguments.streaming_counts, arguments.rules_order, work
            )
    print_tables(runs, streaming)
    write_results(arguments, runs, streaming)


def count_lines(events: Path) -> int:
    return sum(1 for _ in read_lines(events))


def write_results(arguments: argparse.Namespace, runs: list[Any], streaming: Any) -> None:
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    target = RESULTS / f"detect-{stamp}.json"
    document = {
        "started": stamp,
        "events_file": str(arguments.events),
        "limit": arguments.limit,
        "rules_order": arguments.rules_order,
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "runs": runs,
        "streaming": streaming,
    }
    target.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    print(f"\nresults: {target.relative_to(REPOSITORY)}")


if __name__ == "__main__":
    main()
