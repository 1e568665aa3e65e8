"""The Elasticsearch readiness probe against a real HTTP server on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from storage import StorageError, check_elasticsearch


class _Cluster(BaseHTTPRequestHandler):
    answers: ClassVar[dict[str, tuple[int, dict[str, str], bytes]]] = {}
    seen: ClassVar[list[tuple[str, str | None]]] = []

    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers.get("Authorization")))
        status, headers, body = self.answers.get(self.path, (404, {}, b"{}"))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def cluster() -> Iterator[tuple[str, type[_Cluster]]]:
    handler = type("Handler", (_Cluster,), {"answers": {}, "seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def test_a_redirect_is_refused_and_the_credentials_go_nowhere_else(cluster):
    address, handler = cluster
    handler.answers["/_cluster/health"] = (302, {"Location": f"http://{address}/elsewhere"}, b"")
    handler.answers["/elsewhere"] = (200, {}, json.dumps({"status": "green"}).encode())
    with pytest.raises(StorageError, match="answered HTTP 302"):
        check_elasticsearch(f"http://probe:s3cret@{address}")
    assert [path for path, _ in handler.seen] == ["/_cluster/health"]


def test_proxy_variables_are_ignored(cluster, monkeypatch):
    address, handler = cluster
    handler.answers["/_cluster/health"] = (200, {}, b'{"status": "yellow"}')
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")  # would refuse every request
    check_elasticsearch(f"http://{address}")
    assert handler.seen == [("/_cluster/health", None)]


def test_a_path_prefix_in_the_url_is_kept(cluster):
    address, handler = cluster
    handler.answers["/es/_cluster/health"] = (200, {}, b'{"status": "green"}')
    check_elasticsearch(f"http://{address}/es")


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ((200, {}, b'{"status": "red"}'), "cluster health 'red'"),
        ((200, {}, b"<html>"), "did not answer with JSON"),
        ((401, {}, b"{}"), "answered HTTP 401"),
    ],
)
def test_an_unhealthy_or_strange_answer_is_not_ready(cluster, answer, problem):
    address, handler = cluster
    handler.answers["/_cluster/health"] = answer
    with pytest.raises(StorageError, match=problem):
        check_elasticsearch(f"http://{address}")
