"""ECS events for the console benchmark: the mix an agency's sources send, over 30 days.

Five sources, weighted as a mid-sized office sends them: web access (35 %), Linux sign-ins
(20 %), Windows Security (25 %), VPN (10 %) and badge readers (10 %). Accounts, hosts and
addresses come from fixed pools (2,000 people, 300 hosts, internal and outside addresses), so
an entity recurs as it does in real logs. Every event goes through ``ingest.normalise.finish``,
the last step every real event takes, so the stored rows are exactly what Wachter stores.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ingest.normalise import finish
from storage.events import EventRecord

SURNAMES = (
    "jansen",
    "devries",
    "bakker",
    "visser",
    "smit",
    "meijer",
    "mulder",
    "bos",
    "vos",
    "peters",
    "hendriks",
    "dekker",
    "brouwer",
    "dijkstra",
    "koster",
    "prins",
    "huisman",
    "kok",
    "vermeulen",
    "vandam",
    "yilmaz",
    "elamrani",
    "bouali",
    "nguyen",
    "kaya",
)
USERS = tuple(
    f"{chr(97 + n % 26)}.{SURNAMES[n % len(SURNAMES)]}{n // 26 or ''}" for n in range(2000)
)
HOSTS = tuple(
    [f"ws-{n:04d}.intern.example.nl" for n in range(260)]
    + [
        f"srv-{name}{n:02d}.intern.example.nl"
        for name in ("web", "app", "db", "file")
        for n in range(8)
    ]
    + [f"dc{n:02d}.intern.example.nl" for n in range(1, 9)]
)
INTERNAL = tuple(f"10.{20 + n // 250}.{n % 250}.{10 + n % 200}" for n in range(1500))
OUTSIDE = tuple(
    f"{prefix}.{n % 250 + 1}"
    for prefix in ("198.51.100", "203.0.113", "192.0.2")
    for n in range(200)
)
SCANNERS = ("203.0.113.66", "198.51.100.23", "192.0.2.201")  # the addresses that guess passwords
PATHS = (
    "/cases",
    "/cases/export",
    "/portaal/login",
    "/api/v2/dossiers",
    "/static/app.js",
    "/zoeken",
)
DOORS = ("hoofdingang", "serverruimte", "archief", "balie-1", "balie-2", "parkeergarage")


@dataclass(frozen=True)
class Candidate:
    """An event a rule could have fired on: its id (insert order), time and document."""

    event_id: int
    timestamp: datetime
    document: dict[str, Any]
    dataset: str


def generate(
    count: int, *, start: datetime, days: int, seed: int = 9
) -> Iterator[tuple[EventRecord, Candidate | None]]:
    """``count`` records in time order from ``start`` over ``days``; failures also as candidates.

    Ids are the insert order (1, 2, …) in a fresh database: ``append_events`` keeps it.
    """
    chooser = random.Random(seed)  # noqa: S311 - a reproducible dataset, not a secret
    step = timedelta(days=days) / count
    for number in range(count):
        moment = start + step * number + timedelta(milliseconds=chooser.randrange(0, 2000))
        document, dataset = _document(chooser, number)
        document["@timestamp"] = moment.isoformat().replace("+00:00", "Z")
        copy = _copied(document)
        ingested = moment + timedelta(milliseconds=chooser.randrange(200, 4000))
        source = "syslog" if dataset in {"linux.auth", "openvpn.log"} else "http:1"
        record = finish(document, source=source, event_key=f"b{number:09d}", ingested=ingested)
        failed = record.outcome == "failure"
        yield record, Candidate(number + 1, moment, copy, dataset) if failed else None


def _copied(document: dict[str, Any]) -> dict[str, Any]:
    return {
        key: dict(value) if isinstance(value, dict) else value for key, value in document.items()
    }


def _document(chooser: random.Random, number: int) -> tuple[dict[str, Any], str]:
    roll = chooser.random()
    if roll < 0.35:
        return _web(chooser, number), "nginx.access"
    if roll < 0.55:
        return _linux(chooser, number), "linux.auth"
    if roll < 0.80:
        return _windows(chooser), "windows.security"
    if roll < 0.90:
        return _vpn(chooser), "openvpn.log"
    return _badge(chooser), "badge.access"


def _web(chooser: random.Random, number: int) -> dict[str, Any]:
    status = chooser.choices((200, 302, 304, 401, 403, 404, 500), (70, 8, 8, 5, 2, 6, 1))[0]
    path = chooser.choice(PATHS)
    address = chooser.choice(OUTSIDE if chooser.random() < 0.3 else INTERNAL)
    return {
        "event": {
            "dataset": "nginx.access",
            "category": ["web"],
            "type": ["access"],
            "outcome": "failure" if status >= 400 else "success",
        },
        "host": {"name": chooser.choice(HOSTS[260:268])},
        "source": {"ip": address},
        "url": {"original": f"{path}?page={number % 7}"},
        "http": {
            "request": {"method": "GET" if status != 401 else "POST"},
            "response": {"status_code": status},
        },
        "user_agent": {"original": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Firefox/133.0"},
        "message": f'{address} - - "GET {path} HTTP/1.1" {status}',
    }


def _linux(chooser: random.Random, number: int) -> dict[str, Any]:
    failed = chooser.random() < 0.3
    user = chooser.choice(USERS[:400]) if chooser.random() < 0.9 else "root"
    address = (
        chooser.choice(SCANNERS) if failed and chooser.random() < 0.4 else chooser.choice(INTERNAL)
    )
    verb = "Failed password" if failed else "Accepted publickey"
    return {
        "event": {
            "dataset": "linux.auth",
            "category": ["authentication"],
            "action": "ssh_login",
            "outcome": "failure" if failed else "success",
        },
        "host": {"name": chooser.choice(HOSTS[260:292])},
        "user": {"name": user},
        "source": {"ip": address, "port": 40000 + number % 20000},
        "process": {"name": "sshd", "pid": 1000 + number % 30000},
        "message": f"{verb} for {user} from {address} port {40000 + number % 20000} ssh2",
    }


def _windows(chooser: random.Random) -> dict[str, Any]:
    code = chooser.choices((4624, 4625, 4634, 4688, 4720, 4740), (45, 12, 30, 10, 1, 2))[0]
    user = chooser.choice(USERS)
    failed = code in {4625, 4740}
    outcome = "failure" if failed else "success"
    return {
        "event": {
            "dataset": "windows.security",
            "code": str(code),
            "provider": "Microsoft-Windows-Security-Auditing",
            "category": ["authentication"] if code in {4624, 4625, 4634} else ["iam"],
            "outcome": outcome,
        },
        "host": {"name": chooser.choice(HOSTS[:260] + HOSTS[-8:])},
        "user": {"name": user, "domain": "INTERN"},
        "source": {"ip": chooser.choice(INTERNAL)},
        "winlog": {"channel": "Security", "event_id": code, "logon": {"type": "Interactive"}},
        "message": f"An account {'failed to log on' if failed else 'was logged on'}: {user}",
    }


def _vpn(chooser: random.Random) -> dict[str, Any]:
    failed = chooser.random() < 0.15
    user, address = chooser.choice(USERS), chooser.choice(OUTSIDE)
    return {
        "event": {
            "dataset": "openvpn.log",
            "category": ["network", "authentication"],
            "outcome": "failure" if failed else "success",
        },
        "host": {"name": "vpn01.intern.example.nl"},
        "user": {"name": user},
        "source": {"ip": address},
        "message": f"{address}:1194 {user} "
        + ("AUTH_FAILED" if failed else "Peer Connection Initiated"),
    }


def _badge(chooser: random.Random) -> dict[str, Any]:
    refused = chooser.random() < 0.05
    user, door = chooser.choice(USERS), chooser.choice(DOORS)
    return {
        "event": {
            "dataset": "badge.access",
            "category": ["intrusion_detection"],
            "action": "door_access",
            "outcome": "failure" if refused else "success",
        },
        "user": {"name": user},
        "observer": {"name": f"lezer-{door}"},
        "message": f"badge {'refused' if refused else 'accepted'} at {door} for {user}",
    }
