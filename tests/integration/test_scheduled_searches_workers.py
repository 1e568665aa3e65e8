"""Two real ``wachter worker`` processes, one real Elasticsearch node: each search runs once.

Both workers schedule the scheduled-searches job; the database lease lets one run it. When
that one is killed (``kill -9``, no clean stop, its lease left behind), the other takes
over once the lease has expired and goes on where the first stopped: the document the
first reported is not reported again, the new one is reported once.

The lease lives a minute at the least (``wachter.jobs.MIN_LEASE``); instead of waiting
for it, the test moves the dead holder's expiry into the past, which is what the
passing of that time does (the expiry rule itself is tested with a clock in
tests/integration/test_leases.py).
"""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select, update

from access_control import Actor
from detection_rules.loading import RuleSource
from detection_rules.models import Detection
from detection_rules.search.scheduled import JOB_NAME
from detection_rules.service import documents_of, import_rules
from storage import Database, JobLease
from tests.integration.test_scheduled_searches import CLEARED_LOG
from tests.support.processes import RunningProcess, clean_env, run_wachter, started
from tests.support.search_backends import backend_of

INTERVAL = 5  # seconds, the shortest WACHTER_DETECTION_INTERVAL allows


@pytest.fixture
def cluster(elasticsearch_node) -> Iterator[tuple[Any, str, str]]:
    backend = backend_of("elasticsearch", elasticsearch_node.url)
    prefix = f"t{uuid.uuid4().hex[:10]}"
    yield backend, prefix, elasticsearch_node.url
    for name in backend.indices(f"{prefix}-*"):
        backend.delete_index(name)


def cleared(backend: Any, index: str, doc_id: str) -> None:
    """A Security-log 1102 as Winlogbeat ships it, ingested now."""
    now = datetime.now(UTC).isoformat()
    document = {
        "@timestamp": now,
        "event": {"code": "1102", "ingested": now},
        "winlog": {"channel": "Security", "event_id": "1102"},
        "host": {"name": "DC-01"},
    }
    action = {"create": {"_index": index, "_id": doc_id}}
    [result] = backend.bulk(orjson.dumps(action) + b"\n" + orjson.dumps(document) + b"\n")
    assert result["create"]["status"] == 201, result
    backend.client.indices.refresh(index=index)


def wait_for(
    condition: Callable[[], bool], what: str, *workers: RunningProcess, timeout: float = 45
) -> None:
    """Poll ``condition``; on failure the workers' last log lines say what they did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    logs = "\n\n".join(
        f"worker {worker.process.pid}:\n" + "\n".join(worker.stderr_lines[-60:])
        for worker in workers
    )
    raise AssertionError(f"not within {timeout:.0f} s: {what}\n{logs}")


def reported(database: Database) -> list[str]:
    with database.snapshot() as session:
        rows = session.scalars(select(Detection).order_by(Detection.id))
        return [document.id for row in rows for document in documents_of(row)]


def holder(database: Database) -> str | None:
    with database.snapshot() as session:
        lease = session.get(JobLease, JOB_NAME)
        return lease.holder if lease is not None else None


def pid_of(worker: RunningProcess) -> str:
    return f":{worker.process.pid}:"


def test_two_workers_run_each_search_once_and_the_survivor_takes_over(tmp_path: Path, cluster):
    backend, prefix, url = cluster
    env = clean_env(
        WACHTER_DATA_DIR=str(tmp_path / "var"),
        WACHTER_ELASTICSEARCH_URL=url,
        WACHTER_ELASTICSEARCH_INDEX_PREFIX=prefix,
        WACHTER_DETECTION_INDICES=f"{prefix}-winlogbeat-*",
        WACHTER_DETECTION_INTERVAL=str(INTERVAL),
    )
    assert run_wachter("db", "upgrade", cwd=tmp_path, env=env).returncode == 0
    database = Database.from_url(f"sqlite:///{tmp_path / 'var' / 'wachter.db'}")
    with database.unit_of_work() as session:
        source = RuleSource("cleared.yml", CLEARED_LOG.encode())
        import_rules(session, [source], actor=Actor(name="alice"), now=datetime.now(UTC))
    index = f"{prefix}-winlogbeat-2026.11.30"
    cleared(backend, index, "first")
    try:
        with (
            started("worker", cwd=tmp_path, env=env) as first,
            started("worker", cwd=tmp_path, env=env) as second,
        ):
            wait_for(
                lambda: reported(database) == ["first"],
                "the first document reported",
                first,
                second,
            )
            owner = holder(database)
            assert owner is not None
            running, standby = (first, second) if pid_of(first) in owner else (second, first)
            assert pid_of(running) in owner

            time.sleep(INTERVAL + 1)  # both workers' timers fire; one lease, one run
            assert reported(database) == ["first"]
            assert holder(database) == owner

            running.stop(signal.SIGKILL)
            with database.unit_of_work() as session:  # the minute passes
                session.execute(
                    update(JobLease)
                    .where(JobLease.name == JOB_NAME)
                    .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
                )
            cleared(backend, index, "second")
            # The standby's run searches "first" again (it is inside the look-back) and
            # reports only "second".
            wait_for(lambda: len(reported(database)) >= 2, "the standby's report", standby)
            assert reported(database) == ["first", "second"]
            assert pid_of(standby) in (holder(database) or "")
            with database.snapshot() as session:
                assert session.scalar(select(func.count()).select_from(Detection)) == 2
            assert standby.stop(signal.SIGTERM) == 0
    finally:
        database.dispose()
