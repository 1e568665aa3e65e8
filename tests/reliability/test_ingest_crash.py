"""``kill -9`` of ``wachter serve`` during sustained HTTP ingest: every acknowledged event is
stored exactly once, and senders re-sending what was in flight double nothing."""

from __future__ import annotations

import signal
import threading
import time

import orjson
import pytest
import requests
from sqlalchemy import func, select

from storage import Database
from storage.events import Event
from tests.support.processes import clean_env, run_wachter, started

SENDERS = 4
BATCH = 200


def batch_body(sender: int, number: int) -> bytes:
    return b"\n".join(
        orjson.dumps(
            {
                "@timestamp": "2026-01-01T00:00:00Z",
                "event": {"id": f"s{sender}-b{number}-e{index}"},
                "message": f"sender {sender} batch {number} event {index}",
            }
        )
        for index in range(BATCH)
    )


class Sender(threading.Thread):
    """Sends numbered batches until told to stop; remembers which were acknowledged."""

    def __init__(self, number: int, url: str, token: str) -> None:
        super().__init__(daemon=True)
        self.number, self.url = number, url
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
        self.acknowledged: list[int] = []
        self.attempted = 0
        self.stop = threading.Event()

    def run(self) -> None:
        with requests.Session() as http:
            while not self.stop.is_set():
                body = batch_body(self.number, self.attempted)
                self.attempted += 1
                try:
                    response = http.post(self.url, data=body, headers=self.headers, timeout=10)
                except requests.RequestException:
                    return  # the server died under us: this batch is unacknowledged
                if response.status_code == 202:
                    assert response.json()["accepted"] == BATCH
                    self.acknowledged.append(self.attempted - 1)


def start_serving(tmp_path, env):
    return started("serve", "--port", "0", cwd=tmp_path, env=env)


def test_kill_9_during_ingest_loses_no_acknowledged_event_and_doubles_none(tmp_path):
    env = clean_env(WACHTER_DATA_DIR=str(tmp_path / "var"), WACHTER_INGEST_RATE_LIMIT="999999")
    assert run_wachter("db", "upgrade", cwd=tmp_path, env=env).returncode == 0
    created = run_wachter(
        "token", "add", "--name", "crash-test", "--scope", "events:write", cwd=tmp_path, env=env
    )
    token = created.stdout.strip()

    with start_serving(tmp_path, env) as server:
        base = server.wait_for_line("Wachter is running at ").split(" at ")[1].rstrip("/")
        senders = [Sender(number, f"{base}/api/v1/events", token) for number in range(SENDERS)]
        for sender in senders:
            sender.start()
        deadline = time.monotonic() + 30
        while sum(len(s.acknowledged) for s in senders) < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        server.stop(signal.SIGKILL)
        for sender in senders:
            sender.stop.set()
            sender.join(15)
    acknowledged = {(s.number, b) for s in senders for b in s.acknowledged}
    assert len(acknowledged) >= 20, "the load did not get going before the kill"

    database = Database.from_url(f"sqlite:///{tmp_path / 'var' / 'wachter.db'}")
    try:
        with database.snapshot() as session:
            messages = set(session.scalars(select(Event.document)))
            stored = session.scalar(select(func.count()).select_from(Event))
        texts = {orjson.loads(document)["message"] for document in messages}
        for sender, number in acknowledged:
            for index in range(BATCH):
                assert f"sender {sender} batch {number} event {index}" in texts
        assert stored == len(texts)  # no event twice

        # After the restart every sender re-sends all it tried: nothing is doubled.
        with start_serving(tmp_path, env) as server:
            base = server.wait_for_line("Wachter is running at ").split(" at ")[1].rstrip("/")
            headers = {"Authorization": f"Bearer {token}"}
            for sender in senders:
                for number in range(sender.attempted):
                    response = requests.post(
                        f"{base}/api/v1/events",
                        data=batch_body(sender.number, number),
                        headers=headers,
                        timeout=30,
                    )
                    assert response.status_code == 202
            server.stop()
        with database.snapshot() as session:
            total = session.scalar(select(func.count()).select_from(Event))
        assert total == BATCH * sum(sender.attempted for sender in senders)
    finally:
        database.dispose()


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch):
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
