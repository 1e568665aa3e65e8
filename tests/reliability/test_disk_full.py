"""The data directory's filesystem fills up under a running ``wachter serve``.

A real small filesystem (a tmpfs of its own, mounted for the test: root only) holds the
SQLite database. Wachter ingests until the disk is full; then a batch is refused with 503,
``Retry-After`` and "the disk is full", nothing of it stored; every batch acknowledged
before is there once; the database passes SQLite's integrity check; and once room is made
the same process accepts again with no restart or command.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import requests
from sqlalchemy import func, select

from storage import Database
from storage.events import Event
from tests.conftest import unavailable
from tests.support.processes import clean_env, run_wachter, started

SIZE_MIB = 24
ROOM_LEFT = 1024 * 1024  # bytes left free before ingest starts
BATCH = 200


@pytest.fixture
def small_filesystem(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "var"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SIZE_MIB}m,mode=0700", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        unavailable(f"cannot mount a small tmpfs (needs root): {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "--lazy", str(mount_point)], check=False)


def batch_body(number: int) -> bytes:
    return b"\n".join(
        orjson.dumps(
            {
                "@timestamp": "2026-01-01T00:00:00Z",
                "event": {"id": f"b{number}-e{index}"},
                "message": f"batch {number} event {index} " + "x" * 200,
            }
        )
        for index in range(BATCH)
    )


def fill(directory: Path, *, leave: int) -> Path:
    """A file that takes all the room but ``leave`` bytes."""
    stats = os.statvfs(directory)
    free = stats.f_bavail * stats.f_frsize
    filler = directory / "filler"
    with filler.open("wb") as handle:
        handle.write(b"\0" * max(0, free - leave))
    return filler


def test_a_full_disk_refuses_clearly_keeps_everything_acknowledged_and_recovers_by_itself(
    tmp_path: Path, small_filesystem: Path
) -> None:
    env = clean_env(WACHTER_DATA_DIR=str(small_filesystem), WACHTER_INGEST_RATE_LIMIT="999999")
    assert run_wachter("db", "upgrade", cwd=tmp_path, env=env).returncode == 0
    created = run_wachter(
        "token", "add", "--name", "disk", "--scope", "events:write", cwd=tmp_path, env=env
    )
    headers = {"Authorization": f"Bearer {created.stdout.strip()}", "Accept-Language": "en"}
    filler = fill(small_filesystem, leave=ROOM_LEFT)
    path = small_filesystem / "wachter.db"

    with started("serve", "--port", "0", cwd=tmp_path, env=env) as server:
        base = server.wait_for_line("Wachter is running at ").split(" at ")[1].rstrip("/")
        acknowledged: list[int] = []
        refused = None
        for number in range(200):  # ~50 KiB a batch: the megabyte is gone long before
            response = requests.post(
                f"{base}/api/v1/events", data=batch_body(number), headers=headers, timeout=30
            )
            if response.status_code != 202:
                refused = (number, response)
                break
            acknowledged.append(number)
        assert refused is not None, "the disk never filled up"
        number, response = refused
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"] == "60"
        error = response.json()["error"]
        assert error["message"].startswith("The database's disk is full. Nothing was stored")
        assert acknowledged, "nothing was stored before the disk was full"
        # It stays full for a while: every batch is refused the same way, and the background
        # jobs (which write too) fail and go on.
        for _attempt in range(5):
            response = requests.post(
                f"{base}/api/v1/events", data=batch_body(number), headers=headers, timeout=30
            )
            assert response.status_code == 503
            time.sleep(0.5)

        # Making room is the administrator's part; Wachter needs nothing else.
        filler.unlink()
        again = requests.post(
            f"{base}/api/v1/events", data=batch_body(number), headers=headers, timeout=30
        )
        assert again.status_code == 202, again.text
        assert again.json()["accepted"] == BATCH
        assert server.stop() == 0
        faults = [line for line in server.stderr_lines if '"message":"database fault"' in line]
        assert faults
        assert all('"database_fault":"full"' in line for line in faults)

    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    database = Database.from_url(f"sqlite:///{path}")
    try:
        with database.snapshot() as session:
            stored = session.scalar(select(func.count()).select_from(Event))
            messages = {orjson.loads(d)["message"] for d in session.scalars(select(Event.document))}
    finally:
        database.dispose()
    expected = {
        f"batch {n} event {i} " + "x" * 200 for n in [*acknowledged, number] for i in range(BATCH)
    }
    assert messages == expected
    assert stored == len(expected)
