"""The console benchmark's data directory: 1,000,000 events, 10,000 alerts, 2,000 incidents.

    .venv/bin/python -m bench.console.dataset [--rebuild] [--events N] [--alerts N] [--incidents N]

Built once and cached under ``$WACHTER_BENCH_CACHE`` (default ``/tmp/wachter-bench-console``)
in a directory named by a version key (``VERSION`` and the three counts): change what is built,
raise ``VERSION``. ``run.py`` copies the cached directory before each run, so a run never
changes the cache. The events end at the build's minute (the *anchor*, kept in ``built.json``):
the dashboard measures windows back from now, so a cache older than a day is built again.

What is in it (``docs``: bench/README.md, "Console under load"):

- the schema (``wachter db upgrade``), Wachter's rule pack and playbooks, as ``serve`` installs;
- ``--events`` ECS events over 30 days (``bench.console.events``), stored by
  ``storage.events.append_events`` in batches of 10,000 (the real store);
- ``--alerts`` alerts on failed events, with their detections and entities, and
  ``--incidents`` incidents made through the services (``bench.console.cases``);
- ten security officers (without password) the incidents are assigned to;
- the event and alert cursors moved to the end, and every background job run until it has
  nothing left (deadline escalations, notifications), so the server starts as one that had
  been running, not with a backlog.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from access_control import Actor, users
from access_control.models import User
from bench.console import cases, events
from core import Settings
from core.datadir import prepare
from detection_rules import service as rule_service
from detection_rules.models import Detection
from detection_rules.streaming import CONSUMER_NAME
from incidents.alerts.models import IncidentsCursor
from incidents.alerts.raising import CURSOR_NAME
from incidents.cases.playbooks import install_default_playbooks
from ingest.models import EventCursor
from storage import Database
from storage.events import Event, append_events
from wachter.jobs import jobs_for

VERSION = 2  # raise when what is built changes: the old cache is then not used
DAYS = 30
BATCH = 10_000
MAX_AGE = timedelta(days=1)
WACHTER = Path(sys.executable).with_name("wachter")


@dataclass(frozen=True)
class Dataset:
    directory: Path  # a WACHTER_DATA_DIR
    anchor: str  # ISO time the events end at
    events: int
    alerts: int
    incidents: int
    seconds: dict[str, float]  # build time per part

    @property
    def anchor_time(self) -> datetime:
        return datetime.fromisoformat(self.anchor)


def cache_root() -> Path:
    return Path(os.environ.get("WACHTER_BENCH_CACHE", "/tmp/wachter-bench-console"))  # noqa: S108


def ensure_dataset(
    *, events_count: int, alerts: int, incidents: int, rebuild: bool = False
) -> Dataset:
    """The cached dataset of these counts, built first if missing, stale or ``rebuild``."""
    key = f"v{VERSION}-e{events_count}-a{alerts}-i{incidents}"
    directory = cache_root() / key
    marker = directory / "built.json"
    if marker.exists() and not rebuild:
        stored = {**json.loads(marker.read_text()), "directory": directory}
        found = Dataset(**stored)
        if datetime.now(UTC) - found.anchor_time < MAX_AGE:
            print(f"dataset: cached in {directory} (anchor {found.anchor})")
            return found
        print(f"dataset: {directory} is older than {MAX_AGE}; building it again")
    shutil.rmtree(directory, ignore_errors=True)
    partial = directory.with_name(key + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    built = build(partial, events_count=events_count, alerts=alerts, incidents=incidents)
    partial.rename(directory)
    built = Dataset(**{**asdict(built), "directory": directory})
    marker.write_text(json.dumps({**asdict(built), "directory": None}, indent=2))
    print(f"dataset: {directory}")
    return built


def build(directory: Path, *, events_count: int, alerts: int, incidents: int) -> Dataset:
    anchor = datetime.now(UTC).replace(second=0, microsecond=0)
    seconds: dict[str, float] = {}
    started = time.monotonic()
    directory.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WACHTER_")}
    env["WACHTER_DATA_DIR"] = str(directory)
    subprocess.run([str(WACHTER), "db", "upgrade"], env=env, check=True, capture_output=True)
    database = Database.from_url(f"sqlite:///{directory / 'wachter.db'}")
    with database.unit_of_work() as session:
        rule_service.install_packs(session, actor=Actor.system(), now=anchor - timedelta(days=40))
        install_default_playbooks(session, anchor - timedelta(days=40))
        analysts = _analysts(session, anchor - timedelta(days=40))
    seconds["schema, pack, playbooks"] = time.monotonic() - started
    chooser = random.Random(9)  # noqa: S311 - a reproducible dataset, not a secret

    mark = time.monotonic()
    candidates = _store_events(database, events_count, anchor)
    seconds["events"] = time.monotonic() - mark
    mark = time.monotonic()
    cases.add_alerts(database, candidates, count=alerts, anchor=anchor, chooser=chooser)
    seconds["alerts"] = time.monotonic() - mark
    print(f"alerts: {alerts:,} in {seconds['alerts']:.0f} s", flush=True)
    mark = time.monotonic()
    cases.add_incidents(
        database,
        count=incidents,
        anchor=anchor,
        chooser=chooser,
        analysts=analysts,
        progress=lambda n: _line("incidents", n, incidents, mark),
    )
    seconds["incidents"] = time.monotonic() - mark
    _move_cursors(database, anchor)
    mark = time.monotonic()
    _catch_up(database, directory)
    seconds["background jobs caught up"] = time.monotonic() - mark
    mark = time.monotonic()
    database.dispose()
    connection = sqlite3.connect(directory / "wachter.db", isolation_level=None)
    connection.execute("ANALYZE")  # planner statistics, as after any large load
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    seconds["analyze"] = time.monotonic() - mark
    seconds["total"] = time.monotonic() - started
    size = (directory / "wachter.db").stat().st_size / 2**20
    print(f"dataset built in {seconds['total']:.0f} s ({size:,.0f} MiB)", flush=True)
    return Dataset(directory, anchor.isoformat(), events_count, alerts, incidents, seconds)


def _analysts(session: object, now: datetime) -> list[User]:
    made = []
    for number in range(1, 11):
        made.append(
            users.create_user(
                session,  # type: ignore[arg-type]
                username=f"bench-officier-{number}",
                display_name=f"Officier {number}",
                role="security_officer",
                actor=Actor.system(),
                now=now,
            )
        )
    return made


def _store_events(database: Database, count: int, anchor: datetime) -> list[events.Candidate]:
    """The events through ``append_events``; returns the failed ones (what rules fire on)."""
    start, mark = anchor - timedelta(days=DAYS), time.monotonic()
    candidates: list[events.Candidate] = []
    batch = []
    stored = 0
    for record, candidate in events.generate(count, start=start, days=DAYS):
        batch.append(record)
        if candidate is not None and len(candidates) < 200_000:
            candidates.append(candidate)
        if len(batch) == BATCH:
            stored += _append(database, batch)
            batch = []
            if stored % 100_000 == 0:
                _line("events", stored, count, mark)
    stored += _append(database, batch)
    if stored != count:
        raise SystemExit(f"stored {stored:,} events of {count:,}")
    return candidates


def _append(database: Database, batch: list[object]) -> int:
    if not batch:
        return 0
    with database.unit_of_work() as session:
        return append_events(session, batch)  # type: ignore[arg-type]


def _move_cursors(database: Database, now: datetime) -> None:
    """The detection consumer and the alert job start at the end (nothing to catch up)."""
    with database.unit_of_work() as session:
        last_event = session.scalar(select(func.max(Event.id))) or 0
        last_detection = session.scalar(select(func.max(Detection.id))) or 0
        session.merge(EventCursor(name=CONSUMER_NAME, position=last_event, updated_at=now))
        session.merge(IncidentsCursor(name=CURSOR_NAME, position=last_detection, updated_at=now))


def _catch_up(database: Database, directory: Path) -> None:
    """Every background job until it has nothing left to do, as in a server that had been
    running: the deadline escalations and notifications of 2,000 incidents would otherwise
    all run in the measured server's first minutes, holding the write lock in turns."""
    settings = prepare(Settings.from_env({"WACHTER_DATA_DIR": str(directory)}))
    logging.getLogger("wachter").setLevel(logging.ERROR)  # 1,000s of "deadline breached"
    for job in jobs_for(settings):
        for _ in range(100_000):
            with database.unit_of_work() as session:
                if not job.run(session, datetime.now(UTC)):
                    break
        print(f"caught up: {job.name}", flush=True)


def _line(what: str, done: int, total: int, since: float) -> None:
    elapsed = time.monotonic() - since
    rate = done / elapsed if elapsed else 0.0
    left = (total - done) / rate if rate else 0.0
    print(
        f"{what}: {done:,}/{total:,} ({done / total:.0%}) {rate:,.0f}/s, ~{left:.0f} s left",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--incidents", type=int, default=2_000)
    parser.add_argument("--rebuild", action="store_true", help="build even when cached")
    options = parser.parse_args()
    dataset = ensure_dataset(
        events_count=options.events,
        alerts=options.alerts,
        incidents=options.incidents,
        rebuild=options.rebuild,
    )
    for part, spent in dataset.seconds.items():
        print(f"  {part}: {spent:.1f} s")


if __name__ == "__main__":
    main()
