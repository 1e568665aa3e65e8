"""``kill -9`` of ``wachter serve`` while its detection consumer works through a backlog.

Detections are written in the same transaction as the consumer's checkpoint, so a kill
can only lose a round that was not committed, and the restarted service does that round
again: every matching event ends with exactly one detection. A correlation window that
was open at the kill (two of three failed sign-ins) is kept in the database and closes
with the third sign-in sent after the restart.

A killed process leaves its job leases behind; the restarted one waits for them to expire
(at most a minute, ``wachter.jobs.MIN_LEASE``). The test moves the dead holder's expiry
into the past instead of waiting, which is what the passing of that minute does (as in
tests/integration/test_scheduled_searches_workers.py).
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import requests
from sqlalchemy import select, update

from access_control import Actor
from detection_rules.loading import RuleSource
from detection_rules.models import CorrelationState, Detection
from detection_rules.service import import_rules
from storage import Database, JobLease
from storage.events import Event
from tests.integration.test_detection_stream import FAILED_LOGINS, PROCESS_RULE
from tests.support.processes import RunningProcess, clean_env, run_wachter, started, wait_until

BATCHES, BATCH = 40, 500  # 20,000 process events, every fourth one a match; half before
# the kill, half after
START = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)


def process_event(batch: int, index: int) -> dict[str, object]:
    image = "whoami.exe" if index % 4 == 0 else "notepad.exe"
    return {
        "@timestamp": (START + timedelta(milliseconds=batch * BATCH + index)).isoformat(),
        "EventID": 1,
        "Channel": "Microsoft-Windows-Sysmon/Operational",
        "Image": f"C:\\Windows\\System32\\{image}",
        "User": "CORP\\bob",
        "RecordID": batch * BATCH + index,
    }


def sign_in(minute: int) -> dict[str, object]:
    return {
        "@timestamp": (START + timedelta(minutes=minute)).isoformat(),
        "event": {"category": ["authentication"], "outcome": "failure", "id": f"s{minute}"},
        "user": {"name": "bob"},
    }


def ndjson(documents: list[dict[str, object]]) -> bytes:
    return b"\n".join(orjson.dumps(document) for document in documents)


def serve(tmp_path: Path, env: dict[str, str]):  # type: ignore[no-untyped-def]
    return started("serve", "--port", "0", cwd=tmp_path, env=env)


def base_url(server: RunningProcess) -> str:
    return server.wait_for_line("Wachter is running at ").split(" at ")[1].rstrip("/")


def titles(database: Database) -> Counter[str]:
    with database.snapshot() as session:
        return Counter(session.scalars(select(Detection.title)))


def test_kill_9_during_detection_leaves_each_detection_once_and_the_window_open(
    tmp_path: Path,
) -> None:
    env = clean_env(WACHTER_DATA_DIR=str(tmp_path / "var"), WACHTER_INGEST_RATE_LIMIT="999999")
    assert run_wachter("db", "upgrade", cwd=tmp_path, env=env).returncode == 0
    token = run_wachter(
        "token", "add", "--name", "crash", "--scope", "events:write", cwd=tmp_path, env=env
    ).stdout.strip()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
    database = Database.from_url(f"sqlite:///{tmp_path / 'var' / 'wachter.db'}")
    with database.unit_of_work() as session:
        sources = [RuleSource("rules.yml", f"{PROCESS_RULE}---{FAILED_LOGINS}".encode())]
        import_rules(session, sources, actor=Actor(name="alice"), now=datetime.now(UTC))

    def post(base: str, documents: list[dict[str, object]]) -> None:
        response = requests.post(f"{base}/api/v1/events", data=ndjson(documents),
                                 headers=headers, timeout=60)  # fmt: skip
        assert response.status_code == 202, response.text
        assert response.json()["accepted"] == len(documents)

    try:
        with serve(tmp_path, env) as server:
            base = base_url(server)
            post(base, [sign_in(0), sign_in(1)])
            wait_until(lambda: has_window(database), "the correlation window opened")
            for batch in range(BATCHES // 2):
                post(base, [process_event(batch, index) for index in range(BATCH)])
            wait_until(lambda: titles(database)["Whoami run"] >= 500, "detection under way")
            server.stop(signal.SIGKILL)  # the consumer has a backlog: it is mid-work

        with database.unit_of_work() as session:  # the dead process's minute passes
            session.execute(update(JobLease).values(expires_at=datetime.now(UTC)))
        with serve(tmp_path, env) as server:
            base = base_url(server)
            for batch in range(BATCHES // 2, BATCHES):
                post(base, [process_event(batch, index) for index in range(BATCH)])
            post(base, [sign_in(2)])
            matches = BATCHES * BATCH // 4
            wait_until(
                lambda: titles(database) == Counter(
                    {"Whoami run": matches, "Three failed sign-ins for one account": 1}
                ),
                "every detection, once",
            )  # fmt: skip
            time.sleep(2)  # a few more rounds of the consumer: nothing doubles
            assert server.stop() == 0
        assert titles(database)["Whoami run"] == matches
        assert_each_match_detected_once(database, matches)
    finally:
        database.dispose()


def has_window(database: Database) -> bool:
    with database.snapshot() as session:
        return session.scalar(select(CorrelationState.rule_key).limit(1)) is not None


def assert_each_match_detected_once(database: Database, matches: int) -> None:
    with database.snapshot() as session:
        detected = Counter(
            event_id
            for ids in session.scalars(
                select(Detection.event_ids).where(Detection.title == "Whoami run")
            )
            for event_id in orjson.loads(ids)
        )
        whoami = {
            event.id
            for event in session.scalars(select(Event))
            if event.data.get("process", {}).get("name") == "whoami.exe"
        }
        [window] = session.scalars(
            select(Detection.event_ids).where(Detection.title.startswith("Three failed"))
        ).all()
    assert set(detected) == whoami
    assert len(whoami) == matches
    assert set(detected.values()) == {1}
    assert len(orjson.loads(window)) == 3
