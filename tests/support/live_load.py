"""Load on a real ``wachter serve`` for the long reliability runs (overload, soak).

A prepared data directory (schema, a token, rules, one security officer with TOTP), the
senders (HTTP batches, syslog over TCP), a signed-in console user and a feed poller, each
a thread that keeps its own figures, and samples of the server's memory and open files
from ``/proc``.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
import pyotp
from sqlalchemy import func, select

from access_control import Actor, users
from access_control.passwords import PasswordHasher
from access_control.secret_box import SecretBox
from core import Settings
from core.datadir import prepare
from detection_rules.loading import RuleSource
from detection_rules.service import import_rules
from detection_rules.streaming import CONSUMER_NAME
from ingest.models import EventCursor
from storage import Database
from storage.events import Event
from tests.integration.test_detection_stream import FAILED_LOGINS, PROCESS_RULE
from tests.support.processes import RunningProcess, run_wachter

PASSWORD = "paarse olifanten zingen zachtjes op het dak"
SESSION_COOKIE = "__Host-session"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class Service:
    """What a prepared data directory offers its load: a token and an officer."""

    token: str
    username: str
    totp_secret: str


def prepare_service(cwd: Path, env: dict[str, str]) -> Service:
    """Schema, a token for ingest and the feed, the test rules, a signed-up officer."""
    assert run_wachter("db", "upgrade", cwd=cwd, env=env).returncode == 0
    created = run_wachter(
        "token", "add", "--name", "load", "--scope", "events:write", "--scope", "alerts:read",
        cwd=cwd, env=env,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    data_dir = Path(env["WACHTER_DATA_DIR"])
    settings = prepare(Settings.from_env({"WACHTER_DATA_DIR": str(data_dir)}))
    hasher, box = PasswordHasher.from_settings(settings), SecretBox.from_settings(settings)
    database = Database.from_url(f"sqlite:///{data_dir / 'wachter.db'}")
    secret, now, actor = pyotp.random_base32(32), datetime.now(UTC), Actor.command_line()
    try:
        with database.unit_of_work() as session:
            sources = [RuleSource("rules.yml", f"{PROCESS_RULE}---{FAILED_LOGINS}".encode())]
            import_rules(session, sources, actor=actor, now=now)
            user = users.create_user(
                session, username="officier", display_name="Officier", role="security_officer",
                actor=actor, now=now,
            )  # fmt: skip
            users.set_password(
                session, user=user, password=PASSWORD, hasher=hasher, actor=actor, now=now
            )
            user.totp_secret, user.totp_enrolled_at = box.encrypt(secret), now
    finally:
        database.dispose()
    return Service(created.stdout.strip(), "officier", secret)


def documents(sender: int, number: int, size: int) -> list[dict[str, object]]:
    """One batch: process starts (every fourth a rule match) and failed sign-ins."""
    now = datetime.now(UTC).isoformat()
    batch: list[dict[str, object]] = []
    for index in range(size):
        key = f"s{sender}-b{number}-e{index}"
        if index % 10 == 9:
            batch.append({"@timestamp": now, "user": {"name": f"user{index % 7}"},
                          "event": {"id": key, "category": ["authentication"],
                                    "outcome": "failure"}})  # fmt: skip
            continue
        image = "whoami.exe" if index % 4 == 0 else "notepad.exe"
        batch.append({"@timestamp": now, "EventID": 1, "RecordID": key,
                      "Channel": "Microsoft-Windows-Sysmon/Operational",
                      "Image": f"C:\\Windows\\System32\\{image}", "User": "CORP\\svc"})  # fmt: skip
    return batch


@dataclass
class Figures:
    """What one load thread saw."""

    statuses: dict[int, int] = field(default_factory=dict)
    accepted_events: int = 0
    retry_after: set[str] = field(default_factory=set)
    durations: list[float] = field(default_factory=list)
    lock_waits: list[float] = field(default_factory=list)  # Server-Timing "lock", seconds
    errors: list[str] = field(default_factory=list)

    def count(self, status: int) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1


class Paced(threading.Thread):
    """Calls ``step`` every ``period`` seconds (or as fast as it returns) until stopped."""

    def __init__(self, period: float) -> None:
        super().__init__(daemon=True)
        self.period = period
        self.figures = Figures()
        self.halt = threading.Event()

    def step(self) -> None:
        raise NotImplementedError

    def run(self) -> None:
        next_at = time.monotonic()
        while not self.halt.is_set():
            try:
                self.step()
            except Exception as error:  # the figures say what went wrong; the run goes on
                self.figures.errors.append(f"{type(error).__name__}: {error}"[:300])
            next_at += self.period
            self.halt.wait(max(0.0, next_at - time.monotonic()))

    def finish(self) -> Figures:
        self.halt.set()
        self.join(60)
        return self.figures


class HttpSender(Paced):
    """Posts ``size``-event batches with the token; counts statuses and accepted events."""

    def __init__(self, number: int, base: str, token: str, *, size: int, period: float) -> None:
        super().__init__(period)
        self.number, self.size, self.batches = number, size, 0
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
        self.client = httpx.Client(base_url=base, timeout=60, headers=headers)

    def step(self) -> None:
        body = b"\n".join(orjson.dumps(d) for d in documents(self.number, self.batches, self.size))
        self.batches += 1
        answer = self.client.post("/api/v1/events", content=body)
        self.figures.count(answer.status_code)
        if answer.status_code == 202:
            self.figures.accepted_events += answer.json()["accepted"]
        elif answer.status_code in (429, 503):
            self.figures.retry_after.add(answer.headers.get("Retry-After", "missing"))
        else:
            self.figures.errors.append(f"{answer.status_code}: {answer.text[:200]}")


class SyslogSender(Paced):
    """Writes ``size`` messages a step to one TCP connection; a blocked write is backpressure."""

    def __init__(self, port: int, *, size: int, period: float) -> None:
        super().__init__(period)
        self.size, self.sent = size, 0
        self.connection = socket.create_connection(("127.0.0.1", port), timeout=120)

    def step(self) -> None:
        lines = (
            f"<38>1 {datetime.now(UTC).isoformat()} host sshd - - - "
            f"Failed password for bob from 203.0.113.9 port 22 ssh2 msg {self.sent + n}\n"
            for n in range(self.size)
        )
        self.connection.sendall("".join(lines).encode())
        self.sent += self.size

    def finish(self) -> Figures:
        figures = super().finish()
        self.connection.close()
        return figures


class ConsoleUser(Paced):
    """A signed-in officer reading the dashboard and the alert queue; keeps the durations."""

    PAGES = ("/dashboard", "/alerts", "/dashboard/panels")

    def __init__(self, base: str, service: Service, *, period: float) -> None:
        super().__init__(period)
        self.client = httpx.Client(base_url=base, timeout=60, follow_redirects=False)
        self.pages = 0
        for path, data in (
            ("/login", {"username": service.username, "password": PASSWORD}),
            ("/login/code", {"code": pyotp.TOTP(service.totp_secret).now()}),
        ):
            page = self.client.get(path, headers=self._cookie())
            self._keep(page)
            token = _CSRF.search(page.text)
            assert token is not None, f"no CSRF token on {path}"
            answer = self.client.post(
                path, data={"csrf_token": token.group(1), **data}, headers=self._cookie()
            )
            assert answer.status_code == 303, (path, answer.status_code)
            self._keep(answer)

    def _keep(self, answer: httpx.Response) -> None:
        # The console's cookie is Secure; on plain loopback HTTP it is carried by hand.
        for header in answer.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            if name == SESSION_COOKIE:
                self.session = rest.split(";", 1)[0]

    def _cookie(self) -> dict[str, str]:
        session = getattr(self, "session", None)
        return {"cookie": f"{SESSION_COOKIE}={session}"} if session else {}

    def step(self) -> None:
        path = self.PAGES[self.pages % len(self.PAGES)]
        self.pages += 1
        started = time.monotonic()
        answer = self.client.get(path, headers=self._cookie())
        self.figures.durations.append(time.monotonic() - started)
        timing = re.search(r"lock;dur=([0-9.]+)", answer.headers.get("server-timing", ""))
        self.figures.lock_waits.append(float(timing.group(1)) / 1000 if timing else 0.0)
        self.figures.count(answer.status_code)
        if answer.status_code != 200:
            self.figures.errors.append(f"{path}: {answer.status_code}")


class FeedPoller(Paced):
    """Polls the alert feed with the token and follows its cursor."""

    def __init__(self, base: str, token: str, *, period: float) -> None:
        super().__init__(period)
        self.client = httpx.Client(
            base_url=base, timeout=60, headers={"Authorization": f"Bearer {token}"}
        )
        self.cursor, self.entries = "", 0

    def step(self) -> None:
        answer = self.client.get("/api/v1/alerts", params={"after": self.cursor, "limit": 500})
        self.figures.count(answer.status_code)
        if answer.status_code == 200:
            body = answer.json()
            self.entries += len(body["data"])
            self.cursor = body["next_cursor"] or self.cursor
        else:
            self.figures.errors.append(f"feed: {answer.status_code}")


@dataclass(frozen=True)
class Sample:
    at: float  # seconds since the sampler started
    rss_mib: float
    open_files: int


class ProcessSampler(threading.Thread):
    """Samples a process's resident memory and open file descriptors every ``period`` s."""

    def __init__(self, pid: int, *, period: float) -> None:
        super().__init__(daemon=True)
        self.pid, self.period = pid, period
        self.samples: list[Sample] = []
        self.halt = threading.Event()

    def sample(self) -> Sample:
        status = Path(f"/proc/{self.pid}/status").read_text()
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        assert match is not None
        files = len(list(Path(f"/proc/{self.pid}/fd").iterdir()))
        return Sample(round(time.monotonic() - self.began, 1), int(match.group(1)) / 1024, files)

    def run(self) -> None:
        self.began = time.monotonic()
        while not self.halt.is_set():
            try:
                self.samples.append(self.sample())
            except FileNotFoundError:
                return  # the process has ended
            self.halt.wait(self.period)

    def finish(self) -> list[Sample]:
        self.halt.set()
        self.join(30)
        return self.samples


FIGURES = Path(__file__).parents[1] / "reliability" / "figures"


def base_and_port(server: RunningProcess) -> tuple[str, int]:
    """The base URL and syslog TCP port ``serve`` announced (in the order it prints them)."""
    port = int(server.wait_for_line("Syslog (tcp) receiving on ").rsplit(":", 1)[1])
    base = server.wait_for_line("Wachter is running at ").split(" at ")[1].rstrip("/")
    return base, port


def stored_and_processed(database: Database) -> tuple[int, bool]:
    """Events the load sent (not the sign-ins Wachter records from its own audit trail)
    that are stored, and whether detection has read every stored event."""
    with database.snapshot() as session:
        sent = select(func.count()).select_from(Event).where(Event.source != "wachter")
        stored = session.scalar(sent) or 0
        newest = session.scalar(select(func.max(Event.id))) or 0
        cursor = session.get(EventCursor, CONSUMER_NAME)
    return stored, cursor is not None and cursor.position >= newest


def wait_until_processed(database: Database, expected: int, *, timeout: float) -> float:
    """Wait until ``expected`` sent events are stored and detected; the seconds it took."""
    started = time.monotonic()
    while (found := stored_and_processed(database)) != (expected, True):
        assert time.monotonic() - started < timeout, (found, expected)
        time.sleep(1)
    return time.monotonic() - started


def write_figures(name: str, report: dict[str, object], *, shown: dict[str, object]) -> None:
    """``tests/reliability/figures/<name>.json``, and ``shown`` on the run's output."""
    FIGURES.mkdir(exist_ok=True)
    (FIGURES / f"{name}.json").write_text(json.dumps(report, indent=1) + "\n")
    print(f"{name}:", json.dumps(shown))  # noqa: T201 - the run's figures, for make test-long


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]
