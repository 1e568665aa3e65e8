"""The Vector example (docs/shippers/vector.toml) against the real endpoint.

Vector itself cannot be installed here (it is in none of the package registries this
machine reaches: not Debian, PyPI, npm or crates.io as a binary), so the test reads the
example's sinks and sends exactly what an ``http`` sink with those settings sends: the
events of its ``file`` source (``message``, ``host``, ``file``, ``timestamp``,
``source_type``) as newline-delimited JSON, gzip-compressed, with a bearer token, to
the sink's URI. rsyslog's example is run for real (tests/integration/test_rsyslog_shipping.py).
"""

from __future__ import annotations

import gzip
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import orjson
import pytest
from sqlalchemy import select

from storage.events import Event
from tests.support.tokens import bearer, issue_token

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "shippers" / "vector.toml"
AUTH_LINE = (
    "Nov 29 10:00:01 web01 sshd[4711]: Failed password for root from 203.0.113.7 port 52344 ssh2"
)


@pytest.fixture
def sinks():
    config = tomllib.loads(EXAMPLE.read_text())
    return {name: sink for name, sink in config["sinks"].items() if sink["type"] == "http"}


def test_every_http_sink_speaks_the_contract_of_the_endpoint(sinks):
    assert sinks, "the example has no http sink"
    for sink in sinks.values():
        assert urlsplit(sink["uri"]).path == "/api/v1/events"
        assert sink["method"] == "post"
        assert sink["compression"] == "gzip"
        assert sink["encoding"]["codec"] == "json"
        assert sink["framing"]["method"] == "newline_delimited"
        assert sink["auth"] == {"strategy": "bearer", "token": "${WACHTER_TOKEN}"}
        assert sink["batch"]["max_bytes"] <= 10 * 1024 * 1024  # the endpoint's body limit
        assert sink["acknowledgements"]["enabled"] is True


def vector_request(sink, events):
    """What Vector's http sink sends for ``events`` with ``sink``'s settings."""
    body = b"\n".join(orjson.dumps(event) for event in events) + b"\n"
    parts = urlsplit(sink["uri"])
    url = parts.path + (f"?{parts.query}" if parts.query else "")
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/x-ndjson"}
    return url, gzip.compress(body), headers


def test_auth_log_lines_from_the_example_arrive_as_parsed_sign_in_events(
    client, sinks, rollback_database, clock, db_session
):
    token = issue_token(rollback_database, clock, name="vector-web01")[1]
    vector_event = {
        "file": "/var/log/auth.log",
        "host": "web01",
        "message": AUTH_LINE,
        "source_type": "file",
        "timestamp": "2026-11-29T10:00:01.123Z",
    }
    url, body, headers = vector_request(sinks["wachter_auth"], [vector_event])

    response = client.post(url, data=body, headers={**bearer(token), **headers})

    assert response.status_code == 202
    assert response.get_json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    stored = db_session.scalars(select(Event)).one().data
    assert stored["event"]["dataset"] == "system.auth"
    assert stored["event"]["outcome"] == "failure"
    assert stored["user"]["name"] == "root"
    assert stored["source"]["ip"] == "203.0.113.7"
    assert stored["event"]["original"] == AUTH_LINE
    assert stored["source_type"] == "file"  # Vector's own fields are kept


def test_json_application_logs_from_the_example_arrive_with_their_fields(
    client, sinks, rollback_database, clock, db_session
):
    token = issue_token(rollback_database, clock, name="vector-app")[1]
    parsed = {
        "ts": "2026-11-29T10:00:02Z",
        "level": "warn",
        "msg": "payment retried",
        "case": "Z-1",
    }
    url, body, headers = vector_request(sinks["wachter_app"], [parsed, parsed])

    response = client.post(url, data=body, headers={**bearer(token), **headers})

    assert response.get_json()["accepted"] == 2
    assert response.get_json()["duplicates"] == 1  # the same object twice is one event
    stored = db_session.scalars(select(Event)).one().data
    assert stored["@timestamp"] == "2026-11-29T10:00:02Z"
    assert stored["case"] == "Z-1"
