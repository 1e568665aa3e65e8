"""The token API's OpenAPI document (web/openapi.yaml, ADR 0025) is valid, complete and true.

- It is valid OpenAPI 3.1 (schemathesis checks it against the specification's schema).
- It lists exactly the ``Access.TOKEN`` routes of web/policy.py, each with its method and
  path (found in ``app.url_map``): a new token route without a description, or a
  description of a route that went away, fails here.
- schemathesis generates requests for every operation from the document (valid and
  invalid ones, bounded, seeded) and sends them in-process to the app, on SQLite with
  real incidents, alerts, a report and events, with a token that has every scope; every
  answer must be no server error, and its status, media type, headers and body must be
  as documented. The real rows are also fetched by their ids, which random ids rarely hit.
- The event stream never ends by itself (5 minutes), so it is left out of the generated
  requests and read here once, briefly, instead.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from access_control import Actor
from access_control.tokens import Scope
from core import FixedClock
from incidents.cases.alert_links import open_incident_from_alerts
from incidents.cases.playbooks import install_default_playbooks
from incidents.cases.related import add_entity
from incidents.cases.service import create_incident
from incidents.feeds import changes
from ingest import DocumentParser, LineParser
from ingest.parsers.registry import all_parsers
from staff_safety.report_input import parse_report_form
from staff_safety.reports import submit_report
from staff_safety.vault_crypto import VaultKeyring
from storage import Database
from tests.conftest import TEST_VAULT_KEYS
from tests.factories import make_user
from tests.security.helpers import Registry
from tests.support.incident_factories import make_alert
from tests.support.tokens import bearer, issue_token
from web.policy import POLICY, Access
from web.views import feeds_api
from web.views.openapi import load_document

# The views' queries run on both backends in tests/web; the generated requests need one.
pytestmark = pytest.mark.one_backend

DOCUMENT_URL = "/api/v1/openapi.json"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
SEED = 20260101
MAX_EXAMPLES = 50
# Never generated: it streams for STREAM_SECONDS (5 minutes) and is read in a test below.
NOT_GENERATED = {"alert_stream"}
NDJSON_TYPES = (
    "application/x-ndjson",
    "application/ndjson",
    "application/jsonlines",
    "application/json-seq",
    "application/vnd.elasticsearch+x-ndjson",
)
ACTOR = Actor(name="officier")


@schemathesis.serializer(*NDJSON_TYPES)
def _ndjson(_context: Any, value: Any) -> bytes:
    """The document's NDJSON batches are lists of objects: one object per line."""
    items = value if isinstance(value, list) else [value]
    return "".join(json.dumps(item) + "\n" for item in items).encode()


# The data the generated requests meet -----------------------------------------------------


@pytest.fixture
def token_text(rollback_database: Database, clock: FixedClock, secrets: Registry) -> str:
    _id, text = issue_token(rollback_database, clock, *Scope, name="schemathesis")
    secrets.add(text)
    return text


@pytest.fixture
def seeded(
    app: Flask, rollback_database: Database, clock: FixedClock, token_text: str
) -> dict[str, Any]:
    """Three alerts with their feed entries, two incidents (one from an alert, with its
    entities; one by hand, assigned), a sent report with pseudonyms, and three events."""
    now = clock.now()
    with rollback_database.unit_of_work() as session:
        install_default_playbooks(session, now)
        officer = make_user(session, role="security_officer", username="officier")
        alerts = [_alert(session, now, index) for index in range(3)]
        from_alerts = open_incident_from_alerts(
            session, alert_ids=[alerts[0].id], actor=ACTOR, now=now
        )
        add_entity(
            session,
            incident_id=from_alerts.id,
            kind="account",
            value="J.Jansen",
            actor=ACTOR,
            now=now,
        )
        by_hand = create_incident(
            session,
            title="Dreiging aan de balie",
            incident_type="physical",
            severity="medium",
            assignee_id=officer.id,
            actor=ACTOR,
            now=now,
        )
        incidents = [from_alerts.id, by_hand.id]
        report = _report(session, now)
    answer = app.test_client().post("/api/v1/events", json=EVENTS, headers=bearer(token_text))
    assert answer.status_code == 202, answer.get_data(as_text=True)
    return {"incidents": incidents, "report": report, "officer": officer.id}


EVENTS = [
    {
        "@timestamp": "2025-12-31T22:00:00Z",
        "event": {"category": ["authentication"], "outcome": "failure"},
        "user": {"name": "j.jansen"},
        "source": {"ip": "192.0.2.7"},
        "message": "Failed password for j.jansen from 192.0.2.7",
    },
    {"@timestamp": "2025-12-31T22:01:00Z", "message": "Accepted password for anna"},
    {"message": "no time at all"},
]


def _alert(session: Any, now: Any, index: int) -> Any:
    entities = [["ip", f"203.0.113.{index + 1}"], ["account", "J.Jansen"], ["host", "vpn-gw-01"]]
    alert = make_alert(
        session,
        severity=("low", "high", "critical")[index],
        entities=json.dumps(entities),
        tags=json.dumps(["attack.credential_access", "attack.t1110.003", "wachter"]),
        first_seen=now - timedelta(hours=3),
        last_seen=now - timedelta(hours=1),
        created_at=now - timedelta(hours=3),
        updated_at=now - timedelta(hours=1),
        status="closed" if index == 2 else "new",
        resolution="true_positive" if index == 2 else None,
    )
    changes.record_alert_change(session, alert, change="created", now=now)
    return alert


def _report(session: Any, now: Any) -> str:
    reporter = make_user(session, role="staff", username="melder")
    form = {
        "occurred_date": "2025-12-30",
        "occurred_time": "14:30",
        "location": "counter",
        "category": "threat_in_person",
        "description": "Hij schreeuwde dat hij me zou opwachten.",
        "perpetrator_name": "Karel Boos",
        "witness_names": "Wim Getuige",
    }
    report = submit_report(
        session,
        VaultKeyring.parse(TEST_VAULT_KEYS),
        user=reporter,
        data=parse_report_form(form, timezone="Europe/Amsterdam", now=now),
        actor=Actor(name="melder", user_id=reporter.id),
        now=now,
    )
    assert report.number is not None
    return report.number


# The document -------------------------------------------------------------------------------


CONFIG = {
    "seed": SEED,
    "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
}
# Loaded from the file, not the app: no app exists while tests are collected. The requests
# go to each test's own app (``app=``), which serves the same document (a test below).
schema = schemathesis.openapi.from_dict(
    load_document(), config=schemathesis.Config.from_dict(CONFIG)
).exclude(operation_id=sorted(NOT_GENERATED))


@pytest.fixture
def api_schema(app: Flask) -> Any:
    """The document as the app serves it, loaded by schemathesis."""
    config = schemathesis.Config.from_dict(CONFIG)
    return schemathesis.openapi.from_wsgi(DOCUMENT_URL, app, config=config)


def test_the_document_is_valid_openapi_3_1(api_schema: Any) -> None:
    api_schema.validate()  # the specification's own JSON schema for 3.1 documents
    assert api_schema.raw_schema["openapi"].startswith("3.1.")


def test_the_document_is_served_as_json_to_anyone_and_may_be_cached(client: FlaskClient) -> None:
    response = client.get(DOCUMENT_URL)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == load_document()
    assert response.get_json()["info"]["version"] != ""
    assert "public" in response.headers["Cache-Control"]
    assert "no-store" not in response.headers["Cache-Control"]
    again = client.get(DOCUMENT_URL, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def _token_routes(app: Flask) -> set[tuple[str, str, str]]:
    """(endpoint, method, OpenAPI path) of every route the policy opens to tokens."""
    found = set()
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[^:>]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        for method in rule.methods or ():
            policy = POLICY.get((rule.endpoint, method))
            if policy is not None and policy.access == Access.TOKEN:
                found.add((rule.endpoint, method, path))
    return found


def _documented(document: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {
        (f"api.{operation['operationId']}", method.upper(), path)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }


def test_every_token_route_is_documented_and_nothing_else(app: Flask) -> None:
    token_routes = _token_routes(app)
    assert len(token_routes) == 11
    assert _documented(load_document()) == token_routes


def test_the_ingest_formats_are_the_parsers_that_read_one_item() -> None:
    operation = load_document()["paths"]["/api/v1/events"]["post"]
    formats = next(p for p in operation["parameters"] if p["name"] == "format")
    readers = [p.name for p in all_parsers() if isinstance(p, DocumentParser | LineParser)]
    assert formats["schema"]["enum"] == readers


def test_the_scopes_are_the_token_scopes() -> None:
    assert load_document()["components"]["schemas"]["Scope"]["enum"] == [s.value for s in Scope]


# The generated requests ----------------------------------------------------------------------


@schema.parametrize()
# One app, database and token for all of an operation's requests, on purpose: they meet the
# seeded rows and what earlier requests stored.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_operation_answers_as_documented(
    case: Any, app: Flask, seeded: dict[str, Any], token_text: str
) -> None:
    case.call_and_validate(app=app, headers=bearer(token_text), checks=CHECKS)


def test_the_real_rows_are_answered_as_documented(
    api_schema: Any, seeded: dict[str, Any], token_text: str
) -> None:
    fetched = [
        ("/api/v1/incidents/{incident_id}", {"incident_id": incident_id})
        for incident_id in seeded["incidents"]
    ]
    fetched.append(("/api/v1/reports/{number}", {"number": seeded["report"]}))
    for path, parameters in fetched:
        case = api_schema[path]["GET"].Case(path_parameters=parameters)
        response = case.call_and_validate(headers=bearer(token_text), checks=CHECKS)
        assert response.status_code == 200, (path, response.text)
    listed = api_schema["/api/v1/incidents"]["GET"].Case(query={"limit": 1})
    assert listed.call_and_validate(headers=bearer(token_text), checks=CHECKS).json()["has_more"]
    for path in ("/api/v1/alerts", "/api/v1/alerts/stix", "/api/v1/reports", "/api/v1/events"):
        response = (
            api_schema[path]["GET"]
            .Case()
            .call_and_validate(headers=bearer(token_text), checks=CHECKS)
        )
        assert response.status_code == 200, (path, response.text)


# The event stream, read once ------------------------------------------------------------------


@pytest.fixture
def short_streams(monkeypatch: pytest.MonkeyPatch) -> None:
    """Should the read below go on, the stream still ends within a second."""
    monkeypatch.setattr(feeds_api, "STREAM_SECONDS", 1.0)
    monkeypatch.setattr(feeds_api, "POLL_SECONDS", 0.05)


def test_the_event_stream_sends_the_feed_documents(
    client: FlaskClient, seeded: dict[str, Any], token_text: str, short_streams: None
) -> None:
    headers = bearer(token_text)
    pulled = client.get("/api/v1/alerts", headers=headers).get_json()["data"]
    response = client.get("/api/v1/alerts/stream", headers=headers, buffered=False)
    try:
        assert response.status_code == 200
        assert response.mimetype == "text/event-stream"
        assert re.fullmatch(r"[0-9a-f]{16}", response.headers["X-Request-ID"])
        text = ""
        for chunk in response.response:
            text += chunk.decode() if isinstance(chunk, bytes) else chunk
            if text.count("event: alert") == len(pulled):
                break
    finally:
        response.close()
    assert text.startswith("retry: 3000\n\n")
    frames = [block for block in text.split("\n\n") if block.startswith("id: ")]
    streamed = [json.loads(frame.split("\ndata: ", 1)[1]) for frame in frames]
    # The pull API's documents are held to the document's schema by schemathesis above.
    assert streamed == pulled
