"""Bulk indexing into a real Elasticsearch (and OpenSearch) node: Wachter against the client's
own ``helpers.parallel_bulk``, the peer issue 8 names, in the same run on the same node.

    .venv/bin/python -m bench.elasticsearch.run                    # 200,000 events, both nodes
    .venv/bin/python -m bench.elasticsearch.run --events 50000 --nodes elasticsearch

Events: the first N of ``../shared/data/events/otrf-security-datasets.jsonl.gz`` (real Windows
and Sysmon events), each made into the record Wachter stores (``ingest.normalise.finish``:
ECS time, ``event.ingested``, its document id). Both sides send exactly those documents, with
the same daily index names and ids, as ``create`` operations, into empty indices:

- **Wachter**: the path an event really takes in scale-out mode: the events are first stored
  in Wachter's SQLite event store (not timed: that is ingest, bench/ingest), then the timed
  part drains them with the delivery job's own loop (``ingest.pipeline.deliver`` with the
  ``SearchIndexer`` consumer: read a batch after the cursor, ``index_events``, move the
  cursor, commit) until it is caught up;
- **peer**: ``helpers.parallel_bulk`` of the node's official client with its defaults (4
  threads, chunks of 500), results drained, sending the same documents.

A warm-up run of each side comes first and is not counted (a fresh node speeds up over its
first minutes); then each side runs three times, early and late alike (P W W P P W), and its
best run counts.
Every run is checked: the index holds exactly N documents afterwards. A node is started for
the run (``tests/support/search_nodes.py``, the archives cached by ``make test``) unless
``--url`` points at one. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from elasticsearch import Elasticsearch
from elasticsearch.helpers import parallel_bulk as es_parallel_bulk
from opensearchpy import OpenSearch
from opensearchpy.helpers import parallel_bulk as os_parallel_bulk
from sqlalchemy import delete

from ingest.models import EventCursor
from ingest.normalise import finish
from ingest.pipeline import batch_size_of, deliver
from ingest.search_indexer import SearchIndexer
from storage import Database, migrate
from storage.events import EventRecord, append_events
from storage.search.client import ClientOptions
from storage.search.elasticsearch_backend import ElasticsearchBackend
from storage.search.events import event_document_id, events_index, with_event_id
from storage.search.opensearch_backend import OpenSearchBackend
from storage.search.templates import ensure_templates
from tests.support.search_nodes import DISTRIBUTIONS, SearchNode

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "events"
EVENTS_FILE = DATA / "otrf-security-datasets.jsonl.gz"
GOAL = 0.8


def load_records(count: int) -> list[EventRecord]:
    """The first ``count`` events as Wachter stores them."""
    if not EVENTS_FILE.exists():
        sys.exit(f"{EVENTS_FILE} is missing: the benchmark needs ../shared/data (see its README)")
    ingested = datetime.now(UTC)
    records: list[EventRecord] = []
    with gzip.open(EVENTS_FILE, "rb") as lines:
        for number, line in enumerate(lines):
            if number >= count:
                break
            document = orjson.loads(line)
            document.pop("_source", None)
            if "@timestamp" not in document and "SystemTime" in document:
                document["@timestamp"] = document["SystemTime"]
            records.append(
                finish(document, source="bench", event_key=f"otrf-{number}", ingested=ingested)
            )
    return records


def peer_documents(records: list[EventRecord]) -> list[str]:
    """The documents exactly as Wachter sends them: the stored JSON with its SQL id in front
    (the events are stored in this order into an empty table, so the ids are 1, 2, …)."""
    return [
        with_event_id(record.document.encode(), number).decode()
        for number, record in enumerate(records, start=1)
    ]


def peer_actions(
    records: list[EventRecord], documents: list[str], prefix: str
) -> Iterator[dict[str, Any]]:
    for record, document in zip(records, documents, strict=True):
        yield {
            "_op_type": "create",
            "_index": events_index(prefix, record.timestamp),
            "_id": event_document_id(record.source, record.event_key),
            "_source": document,  # the same JSON text Wachter sends
        }


def run_peer(
    kind: str, url: str, records: list[EventRecord], documents: list[str], prefix: str
) -> float:
    actions = peer_actions(records, documents, prefix)
    if kind == "opensearch":
        results = os_parallel_bulk(OpenSearch([url], timeout=120), actions)
    else:
        results = es_parallel_bulk(Elasticsearch(url, request_timeout=120), actions)
    started = time.perf_counter()  # the helpers are lazy: nothing is sent before iterating
    for ok, item in results:
        if not ok:
            raise RuntimeError(f"peer failed: {item}")
    return time.perf_counter() - started


def stored_events(records: list[EventRecord], directory: Path) -> Database:
    """A migrated SQLite event store holding ``records`` (what ingest would have written)."""
    database = Database.from_url(f"sqlite:///{directory / 'bench.db'}")
    migrate.upgrade(database)
    for start in range(0, len(records), 5000):
        with database.unit_of_work() as session:
            append_events(session, records[start : start + 5000])
    return database


def run_wachter(backend: Any, database: Database, prefix: str) -> float:
    """Drain the event store into the cluster the way the delivery job does."""
    indexer = SearchIndexer(backend, prefix=prefix)
    with database.unit_of_work() as session:  # a fresh consumer starts at the beginning
        session.execute(delete(EventCursor).where(EventCursor.name == indexer.name))
    started = time.perf_counter()
    while True:
        with database.unit_of_work() as session:
            limit = batch_size_of(indexer)
            if deliver(session, indexer, now=datetime.now(UTC), limit=limit) == 0:
                break
    return time.perf_counter() - started


def _backend(kind: str, url: str) -> Any:
    options = ClientOptions(url=url, timeout=120)
    return OpenSearchBackend(options) if kind == "opensearch" else ElasticsearchBackend(options)


def _check_and_drop(backend: Any, prefix: str, expected: int) -> None:
    pattern = f"{prefix}-events-*"
    backend.refresh(pattern)
    found = backend.count(pattern)
    if found != expected:
        raise RuntimeError(f"{prefix}: {found} documents, expected {expected}")
    for name in backend.indices(pattern):
        backend.delete_index(name)


# The first two are warm-up; then each side runs early and late alike (a node keeps getting
# faster for a while, so a fixed order would favour whoever runs last).
ROUNDS = ["peer", "wachter", "peer", "wachter", "wachter", "peer", "peer", "wachter"]


def bench_node(
    kind: str, url: str, records: list[EventRecord], database: Database
) -> dict[str, float]:
    backend = _backend(kind, url)
    documents = peer_documents(records)
    best = {"peer": float("inf"), "wachter": float("inf")}
    for round_number, side in enumerate(ROUNDS):
        prefix = f"bench{round_number}"
        ensure_templates(backend, prefix)
        if side == "peer":
            seconds = run_peer(kind, url, records, documents, prefix)
        else:
            seconds = run_wachter(backend, database, prefix)
        _check_and_drop(backend, prefix, len(records))
        if round_number >= 2:
            best[side] = min(best[side], seconds)
        note = " (warm-up)" if round_number < 2 else ""
        print(f"  {kind} {side}: {len(records) / seconds:,.0f} events/s{note}", file=sys.stderr)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--nodes", default="elasticsearch,opensearch")
    parser.add_argument("--url", help="use this node instead of starting one (one --nodes kind)")
    arguments = parser.parse_args()
    records = load_records(arguments.events)
    size = sum(len(record.document) for record in records)
    print(f"{len(records):,} events, {size / 1e6:,.0f} MB of JSON", file=sys.stderr)
    workdir = Path(tempfile.mkdtemp(prefix="wachter-bench-es-"))
    database = stored_events(records, workdir)
    rows = []
    for kind in arguments.nodes.split(","):
        node = None
        url = arguments.url
        if url is None:
            node = SearchNode(DISTRIBUTIONS[kind]).start()
            url = node.url
        try:
            best = bench_node(kind, url, records, database)
        finally:
            if node is not None:
                node.stop()
        peer_rate = len(records) / best["peer"]
        wachter_rate = len(records) / best["wachter"]
        rows.append((kind, peer_rate, wachter_rate, wachter_rate / peer_rate))
    database.dispose()
    shutil.rmtree(workdir, ignore_errors=True)
    print("| node | peer (parallel_bulk) events/s | Wachter events/s | Wachter / peer |")
    print("|---|---:|---:|---:|")
    for kind, peer_rate, wachter_rate, ratio in rows:
        verdict = "met" if ratio >= GOAL else "missed"
        print(
            f"| {kind} | {peer_rate:,.0f} | {wachter_rate:,.0f} | "
            f"**{ratio:.2f}** (goal ≥ {GOAL}: {verdict}) |"
        )


if __name__ == "__main__":
    main()
