"""The console's /events and the API's /api/v1/events in scale-out mode, on the real nodes.

The events are indexed straight into a test prefix on the node and are not in the SQL
table at all, so what a page shows can only have come from the cluster. A search is
audited as on SQL; a query the cluster refuses is a 400 with its reason; an unreachable
cluster is a 503 (a page in the reader's language, a JSON error for the API), not a 500.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator

import orjson
import pytest

from access_control.tokens import Scope
from storage.search import SearchBackend, ensure_templates, events_pattern
from tests.support.accounts import enrolled_user, sign_in
from tests.support.admin import audit_entries
from tests.support.postgres import free_port
from tests.support.search_backends import backend_of, drop_prefix
from tests.support.tokens import bearer, issue_token
from tests.web.test_events_pages import event_ids

DOCUMENTS = {
    1001: {"message": "Failed password for root", "user": {"name": "root"}},
    1002: {"message": "Accepted password for alice", "user": {"name": "alice"}},
    1003: {"message": "Failed again", "user": {"name": "Root"}, "host": {"name": "web-9"}},
    1004: {"message": "created", "event": {"created": "2026-02-20T07:59:00Z"}},
}


@pytest.fixture(scope="module", params=["elasticsearch", "opensearch"])
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def node_url(request: pytest.FixtureRequest, kind: str) -> str:
    return request.getfixturevalue(f"{kind}_node").url


@pytest.fixture(scope="module")
def prefix(kind: str, node_url: str) -> Iterator[str]:
    """A prefix per node for this module, holding ``DOCUMENTS`` by their ids; removed after."""
    name = f"t{uuid.uuid4().hex[:10]}"
    backend = backend_of(kind, node_url, max_retries=0)
    ensure_templates(backend, name)
    index(backend, name)
    yield name
    drop_prefix(backend, name)


def index(backend: SearchBackend, prefix: str) -> None:
    lines = []
    for event_id, fields in DOCUMENTS.items():
        document = {
            "wachter.event_id": event_id,
            "@timestamp": f"2026-02-28T10:00:{event_id % 60:02}Z",
            "event": {"kind": "event", "ingested": "2026-03-01T00:00:00Z"},
            **fields,
        }
        action = {"create": {"_index": f"{prefix}-events-2026.02.28", "_id": str(event_id)}}
        lines += [orjson.dumps(action), orjson.dumps(document)]
    backend.bulk(b"\n".join(lines) + b"\n")
    backend.refresh(events_pattern(prefix))


@pytest.fixture
def cluster(kind, node_url, prefix) -> dict[str, str]:
    """The settings that point Wachter at the node and the test's prefix."""
    return {
        "elasticsearch_url": node_url,
        "elasticsearch_kind": kind,
        "elasticsearch_index_prefix": prefix,
    }


@pytest.fixture
def settings(settings, cluster):
    return dataclasses.replace(settings, **cluster)


@pytest.fixture
def analyst(app, client, clock):
    account = enrolled_user(app, role="soc_analyst", username="analist")
    sign_in(client, account, clock)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"  # the messages are read in English
    return account


@pytest.fixture
def reader(rollback_database, clock):
    _id, text = issue_token(rollback_database, clock, Scope.EVENTS_READ, name="siem-reader")
    return bearer(text)


def test_the_console_searches_the_cluster_in_scale_out_mode(client, analyst):
    page = client.get("/events", query_string={"q": "user.name:root"}).get_data(as_text=True)
    assert event_ids(page) == [1003, 1001]
    assert "Failed again" in page
    assert "web-9" in page


def test_a_cluster_search_is_an_audited_read_as_on_sql(client, analyst, rollback_database):
    page = client.get("/events", query_string={"q": "user.name:root", "since": "now-7d"})
    assert page.status_code == 200
    [read] = audit_entries(rollback_database, "event.read")
    assert (read.actor, read.target, read.outcome) == ("analist", "event:search", "success")
    details = json.loads(read.details)
    assert details == {"query": "user.name:root", "since": "now-7d", "until": "", "before": None}
    assert "Failed" not in read.details


def test_the_api_pages_through_the_clusters_events_with_next(client, reader):
    seen, before = [], None
    while True:
        arguments = {"limit": "2", **({"before": before} if before else {})}
        response = client.get("/api/v1/events", query_string=arguments, headers=reader)
        assert response.status_code == 200
        body = response.get_json()
        seen.extend(event["id"] for event in body["events"])
        before = body["next"]
        if before is None:
            break
    assert seen == [1004, 1003, 1002, 1001]
    assert "wachter.event_id" not in str(body["events"])


def test_a_query_the_cluster_refuses_is_a_400_with_its_reason(client, analyst, reader):
    arguments = {"q": "event.created:[yesterday TO *]"}
    response = client.get("/api/v1/events", query_string=arguments, headers=reader)
    assert response.status_code == 400
    message = response.get_json()["error"]["message"]
    assert message.startswith("The search cluster refused the query: ")
    assert "yesterday" in message
    page = client.get("/events", query_string=arguments)
    assert page.status_code == 400
    assert "The search cluster refused the query" in page.get_data(as_text=True)


def test_wildcards_on_a_number_field_are_explained_not_failed(client, analyst):
    response = client.get("/events", query_string={"q": "wachter.event_id:10*"})
    assert response.status_code == 400
    assert "wildcards work only on text" in response.get_data(as_text=True)


class TestAnUnreachableCluster:
    """A cluster on a closed loopback port: 503 with a message, nothing audited."""

    @pytest.fixture
    def cluster(self) -> dict[str, str]:
        return {"elasticsearch_url": f"http://127.0.0.1:{free_port()}"}

    def test_the_console_shows_the_search_page_saying_so_with_503(
        self, client, analyst, rollback_database
    ):
        response = client.get("/events", query_string={"q": "user.name:root"})
        assert response.status_code == 503
        assert "the search cluster cannot be reached" in response.get_data(as_text=True)
        assert audit_entries(rollback_database, "event.read") == []

    def test_the_api_answers_503_with_a_json_error(self, client, reader):
        response = client.get("/api/v1/events", headers={**reader, "Accept-Language": "en"})
        assert response.status_code == 503
        error = response.get_json()["error"]
        assert (error["status"], error["code"]) == (503, "unavailable")
        assert "cannot be reached" in error["message"]
        assert error["request_id"]
