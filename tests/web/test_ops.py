"""Operations probes: /healthz answers while the process lives; /readyz tells whether it can work.

The readiness checks run against real things: the migrated test databases, a fresh
unmigrated one, a PostgreSQL URL on a port that refuses connections, and a tiny HTTP server
that plays Elasticsearch's ``/_cluster/health``.
"""

from __future__ import annotations

import base64
import json
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient

from core import Settings
from storage import Database
from tests.conftest import CHEAP_ARGON2, TEST_ENCRYPTION_KEY
from web import create_app

SECRET_KEY = "ops-test-secret-key-" + "o" * 32
PROXY_VARIABLES = (
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
)


def settings_for(tmp_path: Path, database_url: str, **overrides: object) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        secret_key=SECRET_KEY,
        encryption_keys=(TEST_ENCRYPTION_KEY,),
        **CHEAP_ARGON2,
        **overrides,
    )


@pytest.fixture
def refusing_port() -> Iterator[int]:
    """A loopback port that refuses connections: bound for the whole test, never listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        yield int(holder.getsockname()[1])


@dataclass
class RecordedRequest:
    path: str
    authorization: str | None


@dataclass
class FakeElasticsearch:
    """What the fake cluster answers and what it was asked."""

    port: int
    cluster_status: str = "green"
    requests: list[RecordedRequest] = field(default_factory=list)

    def url(self, userinfo: str = "") -> str:
        return f"http://{userinfo}127.0.0.1:{self.port}"


def _handler_for(fake: FakeElasticsearch) -> type[BaseHTTPRequestHandler]:
    class ClusterHealth(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fake.requests.append(RecordedRequest(self.path, self.headers.get("Authorization")))
            if self.path != "/_cluster/health":
                self.send_error(404)
                return
            body = json.dumps({"cluster_name": "fake", "status": fake.cluster_status}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep the test output quiet

    return ClusterHealth


@pytest.fixture
def fake_elasticsearch(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeElasticsearch]:
    # urllib honours *_proxy variables; a developer's proxy must not swallow loopback calls.
    for variable in PROXY_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    fake = FakeElasticsearch(port=0)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(fake))
    fake.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def probed_client(settings: Settings, database: Database) -> Callable[..., FlaskClient]:
    """A client of an app on the shared migrated database, with settings overrides
    (an Elasticsearch URL, say). The probes only read, so nothing needs rolling back."""

    def make(**overrides: object) -> FlaskClient:
        return create_app(replace(settings, **overrides), database=database).test_client()

    return make


def test_healthz_answers_ok_as_json(client: FlaskClient) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == {"status": "ok"}


def test_readyz_is_ready_with_a_migrated_database_and_no_elasticsearch(
    probed_client: Callable[..., FlaskClient],
) -> None:
    response = probed_client().get("/readyz")

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == {
        "status": "ready",
        "checks": {"database": "ok", "elasticsearch": "not configured"},
    }


def test_readyz_reports_pending_migrations_on_an_unmigrated_database(
    empty_database: Database, tmp_path: Path
) -> None:
    url = empty_database.engine.url.render_as_string(hide_password=False)
    app = create_app(settings_for(tmp_path, url), database=empty_database)

    response = app.test_client().get("/readyz")

    assert response.status_code == 503
    assert response.get_json() == {
        "status": "not ready",
        "checks": {"database": "migrations pending", "elasticsearch": "not configured"},
    }


@pytest.fixture
def unreachable_database(refusing_port: int) -> Iterator[Database]:
    database = Database.from_url(f"postgresql://u:topsecret@127.0.0.1:{refusing_port}/x")
    yield database
    database.dispose()


def test_readyz_fails_without_revealing_where_the_unreachable_database_is(
    unreachable_database: Database,
    refusing_port: int,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    raw_url = f"postgresql://u:topsecret@127.0.0.1:{refusing_port}/x"
    app = create_app(settings_for(tmp_path, raw_url), database=unreachable_database)

    with caplog.at_level(logging.INFO):
        response = app.test_client().get("/readyz")

    assert response.status_code == 503
    assert response.get_json()["checks"]["database"] == "failed"
    body = response.get_data(as_text=True)
    for revealing in (raw_url, "topsecret", "127.0.0.1", f":{refusing_port}", "postgresql"):
        assert revealing not in body
    assert "topsecret" not in caplog.text


@pytest.mark.parametrize(
    ("cluster_status", "expected_status_code", "expected_check"),
    [("green", 200, "ok"), ("yellow", 200, "ok"), ("red", 503, "failed")],
)
def test_readyz_follows_the_elasticsearch_cluster_health(
    probed_client: Callable[..., FlaskClient],
    fake_elasticsearch: FakeElasticsearch,
    cluster_status: str,
    expected_status_code: int,
    expected_check: str,
) -> None:
    fake_elasticsearch.cluster_status = cluster_status
    client = probed_client(elasticsearch_url=fake_elasticsearch.url())

    response = client.get("/readyz")

    assert response.status_code == expected_status_code
    assert response.get_json()["checks"] == {"database": "ok", "elasticsearch": expected_check}
    assert [request.path for request in fake_elasticsearch.requests] == ["/_cluster/health"]


def test_readyz_fails_when_elasticsearch_refuses_connections(
    probed_client: Callable[..., FlaskClient], refusing_port: int
) -> None:
    client = probed_client(elasticsearch_url=f"http://127.0.0.1:{refusing_port}")

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.get_json() == {
        "status": "not ready",
        "checks": {"database": "ok", "elasticsearch": "failed"},
    }


ELASTIC_PASSWORD = "Es-p@ss:w0rd%"


def test_elasticsearch_credentials_in_the_url_are_sent_as_basic_auth(
    probed_client: Callable[..., FlaskClient], fake_elasticsearch: FakeElasticsearch
) -> None:
    userinfo = f"elastic:{quote(ELASTIC_PASSWORD, safe='')}@"
    client = probed_client(elasticsearch_url=fake_elasticsearch.url(userinfo))

    response = client.get("/readyz")

    assert response.status_code == 200
    expected = base64.b64encode(f"elastic:{ELASTIC_PASSWORD}".encode()).decode()
    assert [request.authorization for request in fake_elasticsearch.requests] == [
        f"Basic {expected}"
    ]


@pytest.mark.parametrize("cluster_status", ["green", "red"])
def test_readyz_never_reveals_the_elasticsearch_password(
    probed_client: Callable[..., FlaskClient],
    fake_elasticsearch: FakeElasticsearch,
    cluster_status: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake_elasticsearch.cluster_status = cluster_status
    encoded_password = quote(ELASTIC_PASSWORD, safe="")
    url = fake_elasticsearch.url(f"elastic:{encoded_password}@")
    client = probed_client(elasticsearch_url=url)

    with caplog.at_level(logging.INFO):
        response = client.get("/readyz")

    body = response.get_data(as_text=True)
    assert fake_elasticsearch.requests, "the probe never reached the fake cluster"
    for revealing in (ELASTIC_PASSWORD, encoded_password, url, "127.0.0.1"):
        assert revealing not in body
    # The log may name the host (operators need it), never the password.
    for secret in (ELASTIC_PASSWORD, encoded_password, url):
        assert secret not in caplog.text
