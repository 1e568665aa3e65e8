"""The peer of the detection benchmark: Zircolite's approach, rebuilt from its source.

Zircolite (wagga40/Zircolite, ``zircolite/core.py``, ``flattener.py``, ``streaming.py``)
loads flattened events into an in-memory SQLite table ``logs`` and runs every Sigma rule as
the SQL pySigma's SQLite backend makes of it. What is reproduced here, as Zircolite does it:

- the connection: ``:memory:``, ``isolation_level=None``, its PRAGMAs (journal off,
  synchronous off, 128 MB cache, exclusive locking, 256 MB mmap), ``sqlite3.Row`` rows, and
  its ``regexp`` function (``re.search(pattern, value)``, 0 for NULL);
- the table: ``row_id INTEGER PRIMARY KEY`` and one column per field name, discovered while
  streaming (``ALTER TABLE ADD COLUMN``), ``INTEGER`` when the first value seen is an int,
  else ``TEXT COLLATE NOCASE``; names are case-insensitive (SQLite's), so ``ProcessId`` and
  ``ProcessID`` share a column and the first one in an event wins; lists are stored as their
  ``str()``, ints beyond SQLite's range as text; batches of 5,000 rows in one transaction
  each, then ``CREATE INDEX idx_eventid ON logs (eventid)``;
- the rules: ``sqliteBackend(sysmon + windows-logsources)``, one query per rule run in turn,
  every matched row fetched and turned into a dict without NULLs (what Zircolite outputs);
  a query that fails (e.g. ``regexp`` on an INTEGER column) yields nothing, as there; fields
  no event has are added as empty columns first (the backend's ``ensure_fields``).

Not reproduced: Zircolite's EVTX field mapping (the event files are already flat, with the
Sigma field names, kept as they are -- Zircolite would strip the ``_`` of names its mapping
does not know, ``Provider_Name`` → ``ProviderName``, and lose those rules), its optional
channel/EventID pre-filter, and its output writing. The row id is the event's line number,
so matches can be compared event by event.

Case: the columns are ``COLLATE NOCASE`` *and* the backend runs with ``collate_nocase=True``
(it then adds ``COLLATE NOCASE`` to literal ``=``); LIKE is case-insensitive anyway. Both
fold ASCII letters only.

    .venv/bin/python -m bench.detect.peer --limit 50000 [--rules-limit 100] [--output r.json]
"""

from __future__ import annotations

import argparse
import re
import resource
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from sigma.backends.sqlite.runtime import ensure_fields
from sigma.backends.sqlite.sqlite import sqliteBackend
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError

from bench.detect.events import BENCHMARK_EVENTS, read_lines
from bench.detect.rules import (
    LoadedRule,
    LoadedRules,
    load_rules,
    windows_pipeline,
    windows_rule_paths,
)

BATCH = 5000  # Zircolite's insert batch
ROW_ID = "row_id"
SQLITE_INT_MAX = 9223372036854775807
PRAGMAS = (  # Zircolite's create_connection for ":memory:"
    ("journal_mode", "OFF"),
    ("synchronous", "OFF"),
    ("cache_size", "-128000"),
    ("locking_mode", "EXCLUSIVE"),
    ("temp_store", "MEMORY"),
    ("mmap_size", "268435456"),
    ("page_size", "4096"),
    ("threads", "4"),
)
APPROACH = "Zircolite: in-memory SQLite, sqliteBackend(sysmon + windows-logsources)"
CASE_HANDLING = "COLLATE NOCASE columns + backend collate_nocase=True (ASCII case folding)"


@dataclass(frozen=True)
class PeerRule:
    key: str
    title: str
    path: Path
    queries: tuple[str, ...]
    fields: tuple[str, ...]  # every field the converted rule names
    loaded: LoadedRule  # after conversion: the rule with the pipeline applied


@dataclass
class PeerRuleset:
    rules: list[PeerRule] = field(default_factory=list)
    unconverted: dict[str, tuple[LoadedRule, str]] = field(default_factory=dict)  # key -> why

    def reasons(self) -> Counter[str]:
        return Counter(reason for _, reason in self.unconverted.values())


def conversion_failure(error: Exception) -> str:
    if isinstance(error, SigmaFeatureNotSupportedByBackendError) and "Value-only" in str(error):
        return "keyword (value-only) search: unsupported by the SQLite backend"
    return f"{type(error).__name__}: {str(error).splitlines()[0][:100]}"


def convert_rules(loaded: LoadedRules) -> PeerRuleset:
    """Every rule through ``sqliteBackend``; the ones it refuses are kept with the reason."""
    backend = sqliteBackend(windows_pipeline(), collate_nocase=True)
    ruleset = PeerRuleset()
    for item in loaded.rules:
        try:
            queries = tuple(backend.convert_rule(item.rule))
        except Exception as error:  # the backend raises several pySigma error types
            ruleset.unconverted[item.key] = (item, conversion_failure(error))
            continue
        fields = tuple(backend.required_fields(item.rule))
        ruleset.rules.append(PeerRule(item.key, item.rule.title, item.path, queries, fields, item))
    return ruleset


def regexp(pattern: str, value: Any) -> int:
    """Zircolite's ``udf_regex``: re.search, 0 for NULL (a non-text value raises, as there)."""
    if value is None:
        return 0
    return 1 if re.search(pattern, value) else 0


def connect() -> sqlite3.Connection:
    connection = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    for pragma, value in PRAGMAS:
        connection.execute(f"PRAGMA {pragma} = {value};")
    connection.row_factory = sqlite3.Row
    connection.create_function("regexp", 2, regexp)
    connection.execute(f"CREATE TABLE logs ( {ROW_ID} INTEGER PRIMARY KEY AUTOINCREMENT );")
    return connection


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def flattened(event: dict[str, Any]) -> Iterable[tuple[str, Any]]:
    """Zircolite's flattener on an already flat event: nested objects by their last key
    (alphanumerics only), lists as their ``str()``; the Sigma-named keys stay as they are."""
    for key, value in event.items():
        if isinstance(value, dict):
            for inner_key, inner_value in flattened(value):
                yield "".join(c for c in inner_key if c.isalnum()), inner_value
        elif isinstance(value, list) or (
            isinstance(value, int) and not -SQLITE_INT_MAX <= value <= SQLITE_INT_MAX
        ):
            yield key, str(value)
        else:
            yield key, value


class Table:
    """The ``logs`` table and its columns, discovered while loading."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection
        self.columns: dict[str, str] = {ROW_ID: ROW_ID}  # lower-case name -> column name
        self.integer_columns: set[str] = set()  # lower-case names of INTEGER columns

    def column(self, name: str, value: Any) -> str:
        lower = name.lower()
        existing = self.columns.get(lower)
        if existing is not None:
            return existing
        kind = "INTEGER" if isinstance(value, int) else "TEXT COLLATE NOCASE"
        if kind == "INTEGER":
            self.integer_columns.add(lower)
        self.connection.execute(f"ALTER TABLE logs ADD COLUMN {quoted(name)} {kind}")
        self.columns[lower] = name
        return name

    def insert(self, rows: list[dict[str, Any]]) -> None:
        names = sorted({name for row in rows for name in row})
        statement = (
            f"INSERT INTO logs ({', '.join(map(quoted, names))}) "
            f"VALUES ({', '.join('?' * len(names))})"
        )
        self.connection.execute("BEGIN TRANSACTION")
        self.connection.executemany(statement, [tuple(map(row.get, names)) for row in rows])
        self.connection.execute("COMMIT")

    def load(self, lines: Iterable[tuple[int, bytes]]) -> int:
        """Parse, flatten and insert every line; the number of events stored."""
        batch: list[dict[str, Any]] = []
        stored = 0
        for index, line in lines:
            try:
                event = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if not isinstance(event, dict):
                continue
            row: dict[str, Any] = {ROW_ID: index}
            for name, value in flattened(event):
                row.setdefault(self.column(name, value), value)  # first spelling wins
            batch.append(row)
            if len(batch) >= BATCH:
                self.insert(batch)
                stored, batch = stored + len(batch), []
        if batch:
            self.insert(batch)
            stored += len(batch)
        self.connection.execute('CREATE INDEX "idx_eventid" ON "logs" ("eventid");')
        return stored


@dataclass
class QueryRun:
    matches: dict[str, list[int]] = field(default_factory=dict)  # rule key -> row ids
    failed: dict[str, str] = field(default_factory=dict)  # rule key -> SQLite error
    seconds: dict[str, float] = field(default_factory=dict)


def run_rules(connection: sqlite3.Connection, rules: list[PeerRule]) -> QueryRun:
    """Each rule's queries in turn, rows fetched and made dicts as Zircolite's
    ``execute_select_query`` + ``execute_rule`` do; row ids kept per rule.

    Fields no event carries are first added as empty columns (the backend's
    ``runtime.ensure_fields``, from the ``required_fields`` its Zircolite format ships): without
    them a rule naming such a field fails with "no such column" and matches nothing, even where
    the field is only in a ``not`` filter.
    """
    ensure_fields(connection, {"logs": sorted({name for rule in rules for name in rule.fields})})
    run = QueryRun()
    cursor = connection.cursor()
    for rule in rules:
        started = time.perf_counter()
        row_ids: list[int] = []
        for query in rule.queries:
            try:
                rows = cursor.execute(query).fetchall()
            except sqlite3.Error as error:
                run.failed[rule.key] = str(error)
                continue
            if rows:
                keys = rows[0].keys()
                events = [
                    {k: v for k, v in zip(keys, row, strict=True) if v is not None} for row in rows
                ]
                row_ids.extend(event[ROW_ID] for event in events)
        run.seconds[rule.key] = time.perf_counter() - started
        run.matches[rule.key] = row_ids
    return run


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(events: Path, rule_paths: list[Path], limit: int | None) -> dict[str, Any]:
    """The whole peer run, timed by phase; what run.py prints and stores."""
    started = time.perf_counter()
    loaded = load_rules(rule_paths)
    ruleset = convert_rules(loaded)
    converted_at = time.perf_counter()
    connection = connect()
    table = Table(connection)
    stored = table.load(read_lines(events, limit))
    loaded_at = time.perf_counter()
    run = run_rules(connection, ruleset.rules)
    finished = time.perf_counter()
    load_seconds, query_seconds = loaded_at - converted_at, finished - loaded_at
    slowest = sorted(run.seconds.items(), key=lambda item: -item[1])[:5]
    return {
        "side": "peer (Zircolite approach)",
        "approach": APPROACH,
        "case_handling": CASE_HANDLING,
        "sqlite_version": sqlite3.sqlite_version,
        "events": stored,
        "columns": len(table.columns) - 1,
        "rule_files": len(rule_paths),
        "rules_loaded": len(loaded.rules),
        "rules_skipped_on_load": dict(loaded.skipped),
        "rules_used": len(ruleset.rules),
        "rules_unconverted": dict(ruleset.reasons()),
        "queries_failed": run.failed,
        "convert_seconds": converted_at - started,
        "load_seconds": load_seconds,
        "query_seconds": query_seconds,
        "seconds": load_seconds + query_seconds,
        "events_per_second": stored / (load_seconds + query_seconds),
        "peak_rss_mib": peak_rss_mib(),
        "slowest_rules": [{"rule": key, "seconds": seconds} for key, seconds in slowest],
        "matches": {key: len(ids) for key, ids in run.matches.items()},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=Path, default=BENCHMARK_EVENTS)
    parser.add_argument("--limit", type=int, help="first N events (default: all)")
    parser.add_argument("--rules-limit", type=int, help="N Windows rules (default: all)")
    parser.add_argument("--rules-order", choices=("shuffled", "path"), default="shuffled")
    parser.add_argument("--output", type=Path, help="write the JSON result here (else stdout)")
    arguments = parser.parse_args(argv)
    paths = windows_rule_paths(arguments.rules_limit, order=arguments.rules_order)
    result = orjson.dumps(
        measure(arguments.events, paths, arguments.limit), option=orjson.OPT_INDENT_2
    )
    if arguments.output:
        arguments.output.write_bytes(result)
    else:
        sys.stdout.buffer.write(result + b"\n")


if __name__ == "__main__":
    main()
