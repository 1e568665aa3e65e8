"""The console under load: 20 signed-in officers on a real ``wachter serve`` (issue 9).

    .venv/bin/python -m bench.console.run [--seconds 60] [--users 20] [--warm-up 15]

Goal: with 1,000,000 events, 10,000 alerts and 2,000 incidents loaded, p95 server time
≤ 150 ms for the dashboard, the alert queue and the incident page, ≤ 500 ms for an event
search over a day, with 20 concurrent users on loopback.

1. The dataset (``bench.console.dataset``, built once and cached) is copied to a temporary
   directory, so a run never changes the cache.
2. ``--users`` security officers get a password and a confirmed TOTP secret through the
   services (enrolling over HTTP would add nothing measured here).
3. ``wachter serve`` starts on a free loopback port (stdout and stderr to files in the work
   directory, stdin closed; ``WACHTER_LOG_LEVEL=WARNING``).
4. Each officer signs in through HTTP like a browser: GET /login (CSRF token from the form),
   POST password, GET /login/code, POST the current TOTP code (pyotp).
5. Each officer is a thread with its own connection (httpx) that loops over the pages in
   ``PAGES``, waiting ``--think`` seconds (1 s) after every answer, as a person reading it
   would; the threads start spread over one think time. Requests that start during the
   warm-up are not counted; the measured period is ``--seconds`` after it.

Per page it prints count, errors, p50/p95/max of the client's time (request sent → body read,
on loopback: includes waiting for one of waitress's ``WACHTER_HTTP_THREADS`` threads) and of
the server's own figure (``Server-Timing: app;dur=``, the app from its first hook to its last),
and p95 / goal for both (≤ 1: met). Percentiles are nearest-rank.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pyotp

from access_control import Actor, users
from access_control.passwords import PasswordHasher
from access_control.secret_box import SecretBox
from bench.console.dataset import Dataset, ensure_dataset
from core import Settings
from core.datadir import prepare
from storage import Database

WACHTER = Path(sys.executable).with_name("wachter")
PASSWORD = "lange zin met paarse olifanten onder de last 2026"  # noqa: S105 - a bench account
SESSION_COOKIE = "__Host-session"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_SERVER_TIMING = re.compile(r"app;dur=([0-9.]+)")
_LOCK_TIMING = re.compile(r"lock;dur=([0-9.]+)")
Page = Callable[[random.Random, Dataset], str]  # a chooser and the dataset → a path


def _event_search(chooser: random.Random, dataset: Dataset) -> str:
    """Failed sign-ins mentioning a password on one whole day of the 30 (a past day)."""
    day = (dataset.anchor_time - timedelta(days=chooser.randrange(1, 30))).date().isoformat()
    return f"/events?q=event.outcome%3Afailure+AND+password&since={day}&until={day}"


# What an officer looks at, in the order of a working loop, and the goal for each (ms).
PAGES: dict[str, tuple[Page, float]] = {
    "dashboard": (lambda chooser, dataset: "/dashboard", 150),
    "alert queue": (lambda chooser, dataset: "/alerts", 150),
    "alert queue, high, 2nd page": (lambda chooser, dataset: "/alerts?severity=high&page=2", 150),
    "incident page": (
        lambda chooser, dataset: f"/incidents/{chooser.randrange(1, dataset.incidents + 1)}",
        150,
    ),
    "event search, one day": (_event_search, 500),
}


@dataclass
class Sample:
    page: str
    started: float
    client_ms: float
    server_ms: float | None
    status: int
    lock_ms: float = 0.0  # of server_ms, waiting for SQLite's write lock


@dataclass
class Officer:
    username: str
    secret: str
    samples: list[Sample] = field(default_factory=list)


class LoopbackSession:
    """Keeps the ``__Host-session`` cookie and sends it back over plain HTTP on loopback.

    The console sets it ``Secure`` (browsers treat localhost as a secure context), and
    Python's cookie jars never send a secure cookie over http: so it is carried by hand.
    """

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        client.event_hooks["response"] = [self.keep]

    def keep(self, response: httpx.Response) -> None:
        for header in response.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            if name == SESSION_COOKIE:
                self.client.headers["cookie"] = f"{name}={rest.split(';', 1)[0]}"


def make_officers(directory: Path, count: int) -> list[Officer]:
    """``count`` security officers with a password and a confirmed TOTP secret."""
    settings = prepare(Settings.from_env({"WACHTER_DATA_DIR": str(directory)}))  # keys, as serve
    hasher, box = PasswordHasher.from_settings(settings), SecretBox.from_settings(settings)
    database = Database.from_url(f"sqlite:///{directory / 'wachter.db'}")
    now, made = datetime.now(UTC), []
    with database.unit_of_work() as session:
        for number in range(1, count + 1):
            user = users.create_user(
                session,
                username=f"bench-{number:02d}",
                display_name=f"Bench {number}",
                role="security_officer",
                actor=Actor.command_line(),
                now=now,
            )
            users.set_password(
                session,
                user=user,
                password=PASSWORD,
                hasher=hasher,
                actor=Actor.command_line(),
                now=now,
            )
            secret = pyotp.random_base32(32)
            user.totp_secret, user.totp_enrolled_at = box.encrypt(secret), now
            made.append(Officer(user.username, secret))
    database.dispose()
    return made


def start_server(directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WACHTER_")}
    env.update(
        WACHTER_DATA_DIR=str(directory),
        WACHTER_LOG_LEVEL="WARNING",
        WACHTER_SYSLOG_UDP="off",
        WACHTER_SYSLOG_TCP="off",
    )
    out = (directory / "serve.out").open("wb")
    err = (directory / "serve.err").open("wb")
    server = subprocess.Popen(
        [str(WACHTER), "serve", "--host", "127.0.0.1", "--port", "0"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=err,
    )
    out.close()  # the server has its own copies
    err.close()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = re.search(r"Wachter is running at (\S+)/", (directory / "serve.out").read_text())
        if found:
            return server, found.group(1)
        if server.poll() is not None:
            raise SystemExit(
                f"wachter serve ended: {(directory / 'serve.err').read_text()[-2000:]}"
            )
        time.sleep(0.2)
    server.kill()
    raise SystemExit("wachter serve did not start within 120 s")


def sign_in(base_url: str, officer: Officer) -> httpx.Client:
    """A client signed in through /login and /login/code, as a browser would."""
    client = httpx.Client(base_url=base_url, timeout=60, follow_redirects=False)
    LoopbackSession(client)
    for path, data in (
        ("/login", {"username": officer.username, "password": PASSWORD}),
        ("/login/code", {"code": pyotp.TOTP(officer.secret).now()}),
    ):
        token = _CSRF.search(client.get(path).text)
        if token is None:
            raise SystemExit(f"no CSRF token on {path}")
        answer = client.post(path, data={"csrf_token": token.group(1), **data})
        if answer.status_code != 303:
            raise SystemExit(f"signing in {officer.username}: {path} answered {answer.status_code}")
    if client.get("/dashboard").status_code != 200:
        raise SystemExit(f"{officer.username} is not signed in after the code")
    return client


def browse(
    client: httpx.Client,
    officer: Officer,
    dataset: Dataset,
    *,
    think: float,
    stop_at: float,
    delay: float,
    seed: int,
) -> None:
    """One officer's loop over ``PAGES`` until ``stop_at`` (its own thread)."""
    chooser = random.Random(seed)  # noqa: S311 - which pages, not a secret
    time.sleep(delay)
    while time.monotonic() < stop_at:
        for name, (page, _goal) in PAGES.items():
            if time.monotonic() >= stop_at:
                return
            started = time.monotonic()
            try:
                answer = client.get(page(chooser, dataset))
            except httpx.HTTPError:  # a timeout or a dropped connection counts as an error
                officer.samples.append(Sample(name, started, 0.0, None, 0))
                continue
            client_ms = (time.monotonic() - started) * 1000
            header = answer.headers.get("server-timing", "")
            timing, lock = _SERVER_TIMING.search(header), _LOCK_TIMING.search(header)
            server_ms = float(timing.group(1)) if timing else None
            officer.samples.append(
                Sample(
                    name,
                    started,
                    client_ms,
                    server_ms,
                    answer.status_code,
                    float(lock.group(1)) if lock else 0.0,
                )
            )
            time.sleep(think)


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (values need not be sorted)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def report(samples: list[Sample], *, measured_from: float, seconds: float, users: int) -> bool:
    """The table (Markdown); True when every page met its goal on server time."""
    counted = [sample for sample in samples if sample.started >= measured_from]
    print(
        f"\n{users} users, {seconds:.0f} s measured, {len(counted)} requests "
        f"({len(counted) / seconds:.1f}/s)"
    )
    print()
    print(
        "| page | requests | errors | server p50 / p95 / max ms | client p50 / p95 / max ms"
        " | goal ms | server p95 / goal | client p95 / goal | write-lock wait p95 / max ms |"
    )
    print("|---|---:|---:|---|---|---:|---:|---:|---|")
    met = True
    for name, (_page, goal) in PAGES.items():
        mine = [sample for sample in counted if sample.page == name]
        ok = [sample for sample in mine if sample.status == 200]
        errors = len(mine) - len(ok)
        if not ok:
            print(f"| {name} | {len(mine)} | {errors} | - | - | {goal:.0f} | - | - | - |")
            met = False
            continue
        server = [sample.server_ms for sample in ok if sample.server_ms is not None]
        client = [sample.client_ms for sample in ok]
        locks = [sample.lock_ms for sample in ok]
        server_p95 = percentile(server, 0.95) if server else math.nan
        met = met and server_p95 <= goal and not errors
        print(
            f"| {name} | {len(mine)} | {errors} | {_three(server)} | {_three(client)} | {goal:.0f}"
            f" | **{server_p95 / goal:.2f}** | {percentile(client, 0.95) / goal:.2f}"
            f" | {percentile(locks, 0.95):,.0f} / {max(locks):,.0f} |"
        )
    return met


def _three(values: list[float]) -> str:
    if not values:
        return "-"
    return " / ".join(
        f"{v:,.0f}" for v in (percentile(values, 0.5), percentile(values, 0.95), max(values))
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60, help="measured seconds [60]")
    parser.add_argument("--warm-up", type=float, default=15, help="seconds not counted [15]")
    parser.add_argument("--users", type=int, default=20, help="concurrent officers [20]")
    parser.add_argument("--think", type=float, default=1.0, help="seconds between pages [1]")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--incidents", type=int, default=2_000)
    parser.add_argument("--rebuild", action="store_true", help="build the dataset again")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    options = parser.parse_args()
    dataset = ensure_dataset(
        events_count=options.events,
        alerts=options.alerts,
        incidents=options.incidents,
        rebuild=options.rebuild,
    )
    workdir = Path(tempfile.mkdtemp(prefix="wachter-bench-console-"))
    try:
        met = measure(dataset, workdir / "data", options)
    finally:
        if options.keep:
            print(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    sys.exit(0 if met else 1)


def measure(dataset: Dataset, directory: Path, options: argparse.Namespace) -> bool:
    started = time.monotonic()
    shutil.copytree(dataset.directory, directory)
    officers = make_officers(directory, options.users)
    print(
        f"copied the dataset and made {options.users} officers in "
        f"{time.monotonic() - started:.0f} s",
        flush=True,
    )
    server, base_url = start_server(directory)
    try:
        started = time.monotonic()
        clients = [sign_in(base_url, officer) for officer in officers]
        print(
            f"{len(clients)} officers signed in over HTTP in {time.monotonic() - started:.1f} s;"
            f" load for {options.warm_up:.0f} s warm-up + {options.seconds:.0f} s",
            flush=True,
        )
        begin = time.monotonic()
        stop_at = begin + options.warm_up + options.seconds
        threads = [
            threading.Thread(
                target=browse,
                args=(client, officer, dataset),
                kwargs={
                    "think": options.think,
                    "stop_at": stop_at,
                    "delay": options.think * n / len(clients),
                    "seed": n,
                },
                daemon=True,
            )
            for n, (client, officer) in enumerate(zip(clients, officers, strict=True))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        server.terminate()
        server.wait(60)
    samples = [sample for officer in officers for sample in officer.samples]
    return report(
        samples,
        measured_from=begin + options.warm_up,
        seconds=options.seconds,
        users=options.users,
    )


if __name__ == "__main__":
    main()
