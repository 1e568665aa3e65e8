"""Event → alert latency of the scheduled searches on a real Elasticsearch (and OpenSearch) node.

    .venv/bin/python -m bench.elasticsearch.latency [--interval 30] [--more-rules 100]

Issue 8: from an event indexed to its alert available in the feed, p95 ≤ one interval + 5 s.
Per node, a fresh data directory (``wachter db upgrade``), two Windows Security rules (log
cleared, failed logon as Administrator; ``--more-rules`` adds rules that match nothing), then
ONE real ``wachter worker`` searching ``winlogbeat-bench-*`` (``WACHTER_DETECTION_INDICES``),
mapped as Winlogbeat maps it. Winlogbeat-shaped documents arrive one at a time at seeded
Poisson moments over ``--spread`` intervals, each from its own host (so its own alert), sent
with ``refresh=true``: the wall time the answer is back counts as "indexed". Every 100 ms a
read-only snapshot looks for the ``alert_feed`` entry of an alert holding that host
(``alert_entity`` kind ``host``): the first poll that sees it committed is "in the feed".

A document without exactly one alert (of one detection) within three intervals fails the run
(exit status 1). Prints per node p50, p95, max, p95 / (interval + 5 s) and where the time went:
waiting for the search run that found it (its detection's ``detected_at``), the run (to its
``scheduled searches ran`` log line), then to the feed (commit, alert job, poll).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import func, select

from access_control import Actor
from detection_rules.loading import RuleSource
from detection_rules.models import Detection
from detection_rules.search.models import SearchCheckpoint
from detection_rules.service import documents_of, import_rules
from incidents.alerts.models import Alert, AlertEntity
from incidents.feeds.models import AlertFeedEntry
from storage import Database
from tests.support.processes import RunningProcess, clean_env, run_wachter, started
from tests.support.search_nodes import DISTRIBUTIONS, SearchNode

PATTERN = "winlogbeat-bench-*"
POLL = 0.1  # seconds between two looks at the feed
GRACE = 5.0  # the goal's seconds beyond one interval
GIVE_UP = 3  # intervals after which a document without its alert fails the run
Prepared = tuple[dict[str, str], Database]  # the worker's environment, its database

CLEARED = """
title: Security event log cleared
id: 4f1d6a0e-8c3b-4d7a-9e2f-5b6c7d8e1102
status: stable
description: Someone cleared the Security log, as intruders do to hide their traces.
logsource: {product: windows, service: security}
detection:
  selection:
    EventID: 1102
    Provider_Name: Microsoft-Windows-Eventlog
  condition: selection
level: high
"""
ADMIN_LOGON_FAILED = """
title: Failed logon as the built-in Administrator
id: 4f1d6a0e-8c3b-4d7a-9e2f-5b6c7d8e4625
status: stable
description: A logon as Administrator failed (password guessing against the RID-500 account).
logsource: {product: windows, service: security}
detection:
  selection:
    EventID: 4625
    TargetUserName: Administrator
  condition: selection
level: medium
"""
# What Winlogbeat's own index template does: strings are keywords (exact values, as the
# rules' queries expect), times are dates, addresses are ip.
TEMPLATE = {"index_patterns": [PATTERN], "template": {
    "settings": {"number_of_shards": 1, "number_of_replicas": 0},
    "mappings": {
        "dynamic_templates": [{"strings_as_keyword": {"match_mapping_type": "string",
            "mapping": {"type": "keyword", "ignore_above": 1024}}}],
        "properties": {"@timestamp": {"type": "date"}, "message": {"type": "text"},
            "event": {"properties": {"ingested": {"type": "date"}, "created": {"type": "date"}}},
            "source": {"properties": {"ip": {"type": "ip"}}}}}}}  # fmt: skip


def _request(url: str, body: bytes, *, method: str = "POST", ndjson: bool = False) -> Any:
    headers = {"Content-Type": "application/x-ndjson" if ndjson else "application/json"}
    # Only the node this benchmark started (http://127.0.0.1:port) is ever asked.
    request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return json.loads(response.read())


def document(number: int, host: str, moment: datetime) -> dict[str, Any]:
    """Event ``number`` as Winlogbeat ships it: even numbers a 1102, odd ones a 4625."""
    stamp = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    specific = _log_cleared() if number % 2 == 0 else _admin_logon_failed(number, host)
    event = specific.pop("event") | {"kind": "event", "module": "security", "created": stamp,
                                     "ingested": stamp}  # fmt: skip
    winlog = specific.pop("winlog") | {"channel": "Security", "api": "wineventlog",
                                       "computer_name": f"{host}.ad.bench.example",
                                       "record_id": 100_000 + number}  # fmt: skip
    return {
        "@timestamp": stamp,
        "agent": {"type": "winlogbeat", "version": "8.17.0", "name": host},
        "ecs": {"version": "8.0.0"},
        "host": {"name": host, "hostname": host, "os": {"family": "windows"}},
        **specific,
        "event": event,
        "winlog": winlog,
    }


def _log_cleared() -> dict[str, Any]:
    # The actor is in user_data, with no ECS user.name: the alert's key entity is the host.
    return {
        "message": "The audit log was cleared.",
        "event": {"code": "1102", "action": "audit-log-cleared", "outcome": "success"},
        "winlog": {"event_id": "1102", "provider_name": "Microsoft-Windows-Eventlog",
                   "task": "Log clear", "keywords": ["Audit Success"],
                   "user_data": {"SubjectUserName": "beheer-it", "SubjectDomainName": "AD",
                                 "SubjectLogonId": "0x3e7"}},
    }  # fmt: skip


def _admin_logon_failed(number: int, host: str) -> dict[str, Any]:
    # Each from its own address: source.ip is the key entity, so each is its own alert.
    address = f"10.{number // 65536 % 256}.{number // 256 % 256}.{number % 256}"
    return {
        "message": "An account failed to log on.",
        "source": {"ip": address},
        "user": {"name": "Administrator", "domain": host},
        "event": {"code": "4625", "action": "logon-failed", "outcome": "failure",
                  "category": ["authentication"], "type": ["start"]},
        "winlog": {"event_id": "4625", "provider_name": "Microsoft-Windows-Security-Auditing",
                   "task": "Logon", "keywords": ["Audit Failure"], "logon": {"type": "Network"},
                   "event_data": {"TargetUserName": "Administrator", "TargetDomainName": host,
                                  "TargetUserSid": "S-1-0-0", "LogonType": "3",
                                  "Status": "0xc000006d", "SubStatus": "0xc000006a",
                                  "IpAddress": address, "IpPort": "0",
                                  "WorkstationName": f"BENCH-{number:05d}",
                                  "AuthenticationPackageName": "NTLM"}},
    }  # fmt: skip


def arrivals(count: int, span: float, seed: int) -> list[float]:
    """Seconds from the start: a Poisson process of ``count`` arrivals, mean gap span/count."""
    rng = random.Random(seed)  # noqa: S311 - a benchmark's schedule, not a secret
    moments, moment = [], 0.0
    for _ in range(count):
        moment += rng.expovariate(count / span)
        moments.append(moment)
    return moments


@dataclass
class Sample:
    number: int
    host: str  # as sent; the alert holds it lowercased
    indexed: float = math.nan  # wall time, searchable
    seen: float = math.nan  # wall time, its feed entry first seen committed


def send(url: str, index: str, sample: Sample) -> None:
    action = {"create": {"_index": index, "_id": f"bench-{sample.number}"}}
    body = orjson.dumps(action) + b"\n"
    body += orjson.dumps(document(sample.number, sample.host, datetime.now(UTC))) + b"\n"
    answer = _request(f"{url}/_bulk?refresh=true", body, ndjson=True)
    sample.indexed = time.time()
    status = answer["items"][0]["create"]["status"]
    if answer["errors"] or status != 201:
        raise RuntimeError(f"document {sample.number} refused: {answer['items'][0]}")


def in_feed(database: Database, hosts: Sequence[str]) -> set[str]:
    """The hosts (lowercased) among ``hosts`` whose alert has a committed feed entry."""
    query = (
        select(AlertEntity.value)
        .join(AlertFeedEntry, AlertFeedEntry.alert_id == AlertEntity.alert_id)
        .where(AlertEntity.kind == "host", AlertEntity.value.in_(hosts))
    )
    with database.snapshot() as session:
        return set(session.scalars(query))


def run_arrivals(
    url: str, database: Database, samples: list[Sample], offsets: list[float], interval: int
) -> None:
    """Send each document at its moment; between them, look at the feed every POLL s."""
    index = f"winlogbeat-bench-{datetime.now(UTC):%Y.%m.%d}"
    start = next_poll = time.time()
    sent = 0
    while True:
        now = time.time()
        if sent < len(samples) and now >= start + offsets[sent]:
            send(url, index, samples[sent])
            sent += 1
            continue
        if now >= next_poll:
            waiting = {s.host.lower(): s for s in samples[:sent] if math.isnan(s.seen)}
            for host in in_feed(database, list(waiting)):
                waiting.pop(host).seen = time.time()
            next_poll = now + POLL
            if sent == len(samples) and not waiting:
                return
            if sent == len(samples) and now > samples[-1].indexed + GIVE_UP * interval:
                return
        upcoming = start + offsets[sent] if sent < len(samples) else next_poll
        time.sleep(max(0.0, min(upcoming, next_poll) - time.time()))


@dataclass
class Parts:  # where one document's latency went, in seconds
    to_run: float  # indexed → start of the search run that found it (its ``detected_at``)
    run: float  # that start → the run's detections written (logged just after its flush)
    to_feed: float  # → its alert's feed entry seen committed (commit, the 1-s alert job, poll)


def written_at(worker: RunningProcess) -> list[float]:
    """When each search run that found something had written its detections (from its log)."""
    moments: list[float] = []
    for line in worker.stderr_lines:
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        ran = isinstance(record, dict) and record.get("message") == "scheduled searches ran"
        if ran and (record.get("wachter") or {}).get("detections"):
            moments.append(datetime.fromisoformat(record["@timestamp"]).timestamp())
    return sorted(moments)


def breakdown(
    database: Database, samples: list[Sample], written: list[float]
) -> tuple[list[Parts], list[str]]:
    """The parts of each latency, and every document that has not exactly one alert."""
    detected: dict[str, list[datetime]] = {}
    with database.snapshot() as session:
        for row in session.scalars(select(Detection)):
            for cluster_document in documents_of(row):
                detected.setdefault(cluster_document.id, []).append(row.detected_at)
        alerts = session.execute(
            select(AlertEntity.value, func.count(func.distinct(Alert.id)), func.sum(Alert.count))
            .join(Alert, Alert.id == AlertEntity.alert_id)
            .where(AlertEntity.kind == "host")
            .group_by(AlertEntity.value)
        ).all()  # fmt: skip
    per_host = {value: (count, folded) for value, count, folded in alerts}
    parts, problems = [], []
    for sample in samples:
        doc_id = f"bench-{sample.number}"
        runs = detected.get(doc_id, [])
        found = per_host.get(sample.host.lower())
        if len(runs) != 1 or found != (1, 1):
            problems.append(f"{doc_id}: {len(runs)} detections; (alerts, detections) {found}")
            continue
        started_at = runs[0].timestamp()
        ended = next((moment for moment in written if moment >= started_at), math.nan)
        parts.append(Parts(started_at - sample.indexed, ended - started_at, sample.seen - ended))
    return parts, problems


def filler_rules(count: int) -> list[RuleSource]:
    """``count`` rules that match none of the documents: more searches per run, as a pack has."""
    texts = (
        f"title: Bench filler {n}\nid: {uuid.uuid5(uuid.NAMESPACE_URL, f'bench-filler-{n}')}\n"
        "logsource: {product: windows, service: security}\nlevel: low\ndetection:\n"
        f"  selection: {{EventID: 4698, TaskName: 'bench-filler-{n}'}}\n  condition: selection\n"
        for n in range(count)
    )
    return [RuleSource(f"filler_{n}.yml", text.encode()) for n, text in enumerate(texts)]


def prepare(workdir: Path, kind: str, url: str, interval: int, fillers: int) -> Prepared:
    """A fresh data directory, migrated, the rules imported; the worker's environment."""
    env = clean_env(WACHTER_DATA_DIR=str(workdir / "var"), WACHTER_ELASTICSEARCH_URL=url,
                    WACHTER_ELASTICSEARCH_KIND=kind, WACHTER_DETECTION_INDICES=PATTERN,
                    WACHTER_DETECTION_INTERVAL=str(interval))  # fmt: skip
    upgraded = run_wachter("db", "upgrade", cwd=workdir, env=env, timeout=300)
    if upgraded.returncode != 0:
        raise RuntimeError(f"wachter db upgrade failed: {upgraded.stderr[-2000:]}")
    database = Database.from_url(f"sqlite:///{workdir / 'var' / 'wachter.db'}")
    sources = [RuleSource("security_log_cleared.yml", CLEARED.encode()),
               RuleSource("admin_logon_failed.yml", ADMIN_LOGON_FAILED.encode()),
               *filler_rules(fillers)]  # fmt: skip
    with database.unit_of_work() as session:
        import_rules(session, sources, actor=Actor(name="bench"), now=datetime.now(UTC))
    _request(f"{url}/_index_template/winlogbeat-bench", orjson.dumps(TEMPLATE), method="PUT")
    return env, database


def wait_until_searching(database: Database, worker: RunningProcess, rules: int) -> None:
    """Until the worker's first scheduled-search run committed (every rule's checkpoint)."""
    deadline = time.monotonic() + 180  # the worker's start and first run, any interval
    while time.monotonic() < deadline:
        if worker.process.poll() is not None:
            raise RuntimeError(f"the worker exited: {worker.stderr_lines[-20:]}")
        with database.snapshot() as session:
            if session.scalar(select(func.count()).select_from(SearchCheckpoint)) == rules:
                return
        time.sleep(POLL)
    raise RuntimeError("no scheduled-search run within 180 s")


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest rank: the smallest value with at least ``share`` of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


@dataclass
class Result:
    kind: str
    interval: int
    samples: list[Sample]
    parts: list[Parts]
    problems: list[str]  # every document without exactly one alert in time


def bench_node(kind: str, arguments: argparse.Namespace) -> Result:
    node = SearchNode(DISTRIBUTIONS[kind]).start()
    workdir = Path(tempfile.mkdtemp(prefix="wachter-bench-latency-"))
    interval: int = arguments.interval
    fillers: int = arguments.more_rules
    samples = [Sample(number, f"WS-BENCH-{number:04d}") for number in range(arguments.events)]
    offsets = arrivals(arguments.events, arguments.spread * interval, arguments.seed)
    try:
        env, database = prepare(workdir, kind, node.url, interval, fillers)
        try:
            with started("worker", cwd=workdir, env=env) as worker:
                wait_until_searching(database, worker, 2 + fillers)
                print(f"  {kind}: worker searching; {len(samples)} documents", file=sys.stderr)
                run_arrivals(node.url, database, samples, offsets, interval)
                time.sleep(2)  # late extra alerts or detections would show in the check
                parts, problems = breakdown(database, samples, written_at(worker))
                worker.stop()
        finally:
            database.dispose()
    finally:
        node.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    late = [f"bench-{s.number}" for s in samples if not s.seen - s.indexed <= GIVE_UP * interval]
    problems += [f"not in the feed within {GIVE_UP} intervals: {', '.join(late)}"] if late else []
    return Result(f"{kind} ({2 + fillers} rules)", interval, samples, parts, problems)


def report(results: list[Result]) -> None:
    print("| node | interval s | documents | p50 s | p95 s | max s | p95 / (interval + 5 s) "
          "| waiting for the run, median / max s | the run | its end → the feed |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---|---|---|")
    for result in results:
        measured = [s.seen - s.indexed for s in result.samples if not math.isnan(s.seen)]
        latencies = measured or [math.nan]
        p95 = percentile(latencies, 0.95)
        ratio = p95 / (result.interval + GRACE)
        parts = [
            [value for part in result.parts if not math.isnan(value := getattr(part, name))]
            for name in ("to_run", "run", "to_feed")
        ]
        cells = [f"{statistics.median(v):.2f} / {max(v):.2f}" if v else "-" for v in parts]
        verdict = "met" if ratio <= 1.0 and not result.problems else "missed"
        print(
            f"| {result.kind} | {result.interval} | {len(measured)} of {len(result.samples)} | "
            f"{percentile(latencies, 0.5):.2f} | {p95:.2f} | {max(latencies):.2f} | "
            f"**{ratio:.2f}** ({verdict}) | " + " | ".join(cells) + " |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--interval", type=int, default=10, help="WACHTER_DETECTION_INTERVAL")
    parser.add_argument("--events", type=int, default=60)
    parser.add_argument("--spread", type=float, default=6, help="arrivals over N intervals")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--nodes", default="elasticsearch,opensearch")
    parser.add_argument("--more-rules", type=int, default=0, help="N rules matching nothing")
    arguments = parser.parse_args()
    if arguments.interval < 5:
        parser.error("--interval: at least 5 (WACHTER_DETECTION_INTERVAL's minimum)")
    results = [bench_node(kind, arguments) for kind in arguments.nodes.split(",")]
    report(results)
    problems = [f"{result.kind}: {problem}" for result in results for problem in result.problems]
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
