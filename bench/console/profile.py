"""Where a console page's time goes: its SQL statements, timed, with SQLite's query plans.

    .venv/bin/python -m bench.console.profile [--repeat 5] PATH [PATH …]

e.g. ``/dashboard /alerts "/incidents/1500" "/events?q=event.outcome:failure&since=…"``.
The app runs in this process (``web.create_app``) on a copy of the cached dataset (the same
counts options as ``run.py``), one officer signed in through the real login routes with
Flask's test client. Each path is fetched once to warm caches, then ``--repeat`` times; per
path it prints the page's mean time, the time spent in SQL, and the statements that took the
most (total over the repeats, calls, mean ms), each with its ``EXPLAIN QUERY PLAN``.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import re
import shutil
import sqlite3
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pyotp
from sqlalchemy import event

from bench.console.dataset import ensure_dataset
from bench.console.run import PASSWORD, make_officers
from core import Settings
from core.datadir import prepare
from storage import Database
from web import create_app

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class StatementTimer:
    """Time per SQL text (parameters apart), kept while ``active``."""

    def __init__(self, database: Database) -> None:
        self.active = False
        self.totals: dict[str, list[float]] = defaultdict(list)
        self.parameters: dict[str, Any] = {}
        event.listen(database.engine, "before_cursor_execute", self._before)
        event.listen(database.engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        conn.info.setdefault("started", []).append(time.perf_counter())

    def _after(self, conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        elapsed = time.perf_counter() - conn.info["started"].pop()
        if self.active:
            self.totals[statement].append(elapsed)
            self.parameters[statement] = params


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--top", type=int, default=6, help="statements shown per page [6]")
    parser.add_argument(
        "--python", type=int, default=0, metavar="N", help="also the N costliest Python functions"
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--incidents", type=int, default=2_000)
    parser.add_argument("--data-dir", type=Path, help="a copy of this data directory instead")
    options = parser.parse_args()
    source = options.data_dir
    if source is None:
        source = ensure_dataset(
            events_count=options.events, alerts=options.alerts, incidents=options.incidents
        ).directory
    workdir = Path(tempfile.mkdtemp(prefix="wachter-bench-profile-"))
    try:
        directory = workdir / "data"
        shutil.copytree(source, directory)
        officer = make_officers(directory, 1)[0]
        settings = prepare(Settings.from_env({"WACHTER_DATA_DIR": str(directory)}))
        database = Database.from_url(settings.database_url)
        timer = StatementTimer(database)
        app = create_app(settings, database=database)
        client = app.test_client()
        for path, data in (
            ("/login", {"username": officer.username, "password": PASSWORD}),
            ("/login/code", {"code": pyotp.TOTP(officer.secret).now()}),
        ):
            token = _CSRF.search(client.get(path).get_data(as_text=True))
            assert token is not None, path
            client.post(path, data={"csrf_token": token.group(1), **data})
        for path in options.paths:
            profile(client, timer, directory / "wachter.db", path, options.repeat, options.top)
            if options.python:
                profile_python(client, path, options.repeat, options.python)
        database.dispose()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def profile(
    client: Any, timer: StatementTimer, database_file: Path, path: str, repeat: int, top: int
) -> None:
    status = client.get(path).status_code  # warm: templates compiled, pages cached
    timer.totals.clear()
    timer.active = True
    started = time.perf_counter()
    for _ in range(repeat):
        client.get(path)
    page_ms = (time.perf_counter() - started) * 1000 / repeat
    timer.active = False
    sql_ms = sum(sum(times) for times in timer.totals.values()) * 1000 / repeat
    calls = sum(len(times) for times in timer.totals.values()) / repeat
    print(f"\n## {path}  (status {status})")
    print(f"page {page_ms:.1f} ms, SQL {sql_ms:.1f} ms in {calls:.0f} statements per request")
    ranked = sorted(timer.totals.items(), key=lambda item: -sum(item[1]))[:top]
    plans = sqlite3.connect(f"file:{database_file}?mode=ro", uri=True)
    for statement, times in ranked:
        mean = sum(times) * 1000 / len(times)
        print(
            f"\n- {sum(times) * 1000 / repeat:.1f} ms per page, {len(times) // repeat} calls, "
            f"{mean:.2f} ms each:\n  {' '.join(statement.split())[:600]}"
        )
        try:
            rows = plans.execute(f"EXPLAIN QUERY PLAN {statement}", timer.parameters[statement])
            for row in rows:
                print(f"    plan: {row[3]}")
        except sqlite3.Error as error:
            print(f"    plan: ({error})")
    plans.close()


def profile_python(client: Any, path: str, repeat: int, top: int) -> None:
    """cProfile over ``repeat`` fetches: the functions with the most time of their own."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(repeat):
        client.get(path)
    profiler.disable()
    print(f"\n### Python, {repeat} fetches of {path}")
    pstats.Stats(profiler).sort_stats(os.environ.get("PROFILE_SORT", "tottime")).print_stats(top)


if __name__ == "__main__":
    main()
