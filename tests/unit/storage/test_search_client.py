"""Settings become client options: credentials out of the URL and never shown, the API key,
the CA, retries with backoff on both clients; and the bulk batching and per-item retries of
``index_events``, on a fake backend at the ``SearchBackend`` seam (the behaviour against the
real nodes is in tests/integration/test_search_store.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from core import Settings
from storage.search import (
    ElasticsearchBackend,
    OpenSearchBackend,
    SearchUnavailable,
    backend_for,
    client_options,
    index_events,
)
from storage.search.client import RETRY_STATUSES, check_exact_index
from storage.search.events import ITEM_ATTEMPTS, MAX_BATCH_DOCUMENTS
from tests.support.postgres import free_port

MOMENT = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def settings(url: str | None, **extra: Any) -> Settings:
    return Settings(
        data_dir=Path("/nonexistent"), database_url="sqlite://", elasticsearch_url=url, **extra
    )


def test_user_and_password_leave_the_url_and_become_basic_auth():
    options = client_options(settings("https://wach%40ter:p%3Ass@search.example:9200/es"))

    assert options.url == "https://search.example:9200/es"
    assert options.basic_auth == ("wach@ter", "p:ss")
    assert "p:ss" not in repr(options)


def test_no_credential_appears_in_the_backends_repr():
    secret_url = "https://wachter:s3cret@search.example:9200"
    for kind in ("elasticsearch", "opensearch"):
        backend = backend_for(settings(secret_url, elasticsearch_kind=kind))
        assert "s3cret" not in repr(backend)
        assert "s3cret" not in repr(backend.options)  # type: ignore[attr-defined]
    keyed = backend_for(settings("https://search.example", elasticsearch_api_key="k3y-value"))
    assert "k3y-value" not in repr(keyed.options)  # type: ignore[attr-defined]


def test_the_kind_chooses_the_client():
    assert isinstance(backend_for(settings("http://h:9200")), ElasticsearchBackend)
    opensearch = backend_for(settings("http://h:9200", elasticsearch_kind="opensearch"))
    assert isinstance(opensearch, OpenSearchBackend)


def test_the_elasticsearch_client_gets_the_api_key_ca_timeouts_and_retries(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("not read until a request is made")
    backend = backend_for(
        settings("https://search.example:9200", elasticsearch_api_key="a2V5", elasticsearch_ca=ca)
    )
    client: Any = backend.client  # type: ignore[attr-defined]

    [node] = client.transport.node_pool.all()
    assert node.config.ca_certs == str(ca)
    assert node.config.request_timeout == 10.0
    assert client._headers["authorization"] == "ApiKey a2V5"
    assert client._max_retries == 2
    assert tuple(client._retry_on_status) == RETRY_STATUSES == (429, 502, 503, 504)
    assert client._retry_on_timeout is True
    assert client._retry_backoff_base > 0
    assert client._retry_backoff_cap > 0


def test_the_opensearch_client_gets_basic_auth_and_retries():
    backend = backend_for(settings("https://u:p@search.example", elasticsearch_kind="opensearch"))
    transport: Any = backend.client.transport  # type: ignore[attr-defined]

    assert transport.get_connection().headers["authorization"] == "Basic dTpw"
    assert transport.max_retries == 2
    assert tuple(transport.retry_on_status) == RETRY_STATUSES
    assert transport.retry_on_timeout is True


def test_opensearch_waits_between_retries_but_not_after_the_last():
    port = free_port()  # nothing listens there
    backend = backend_for(settings(f"http://127.0.0.1:{port}", elasticsearch_kind="opensearch"))
    transport: Any = backend.client.transport  # type: ignore[attr-defined]
    waits: list[float] = []
    transport.sleep = waits.append

    with pytest.raises(SearchUnavailable, match="unreachable"):
        backend.cluster_health()

    assert len(waits) == transport.max_retries == 2
    assert all(0 <= wait <= 4.0 for wait in waits)


def test_bad_combinations_are_refused_at_start():
    with pytest.raises(ValueError, match="embedded"):
        client_options(settings(None))
    with pytest.raises(ValueError, match="use one of the two"):
        client_options(settings("https://u:p@h", elasticsearch_api_key="a2V5"))
    with pytest.raises(ValueError, match="no API key"):
        backend_for(
            settings("https://h", elasticsearch_kind="opensearch", elasticsearch_api_key="k")
        )


@pytest.mark.parametrize("name", ["wachter-*", "a,b", "_all", "-wachter", "*", "", "Wachter"])
def test_only_one_exact_index_name_may_be_deleted(name):
    with pytest.raises(ValueError, match="not one exact index name"):
        check_exact_index(name)


@dataclass(frozen=True)
class Stored:
    source: str
    event_key: str
    timestamp: datetime
    document: str


class FakeBackend:
    """Answers each bulk item with the next status of its event key's script (default 201)."""

    def __init__(self, scripts: dict[str, list[int]] | None = None) -> None:
        self.scripts = scripts or {}
        self.requests: list[list[dict[str, Any]]] = []

    def bulk(self, ndjson: bytes) -> list[dict[str, Any]]:
        lines = [orjson.loads(line) for line in ndjson.splitlines()]
        actions, documents = lines[0::2], lines[1::2]
        self.requests.append(documents)
        items = []
        for action, document in zip(actions, documents, strict=True):
            script = self.scripts.get(document["key"], [])
            status = script.pop(0) if script else 201
            error = {"type": "mapper_parsing_exception", "reason": "bad"} if status == 400 else None
            items.append(
                {"create": {"_id": action["create"]["_id"], "status": status, "error": error}}
            )
        return items


def events(count: int, size: int = 10) -> list[Stored]:
    return [
        Stored("test", f"k{n}", MOMENT, orjson.dumps({"key": f"k{n}", "pad": "x" * size}).decode())
        for n in range(count)
    ]


def test_items_answered_429_or_503_are_sent_again_after_a_backoff():
    fake = FakeBackend({"k1": [429], "k2": [503, 503]})
    waits: list[float] = []

    result = index_events(fake, events(4), prefix="w", sleep=waits.append)  # type: ignore[arg-type]

    assert (result.indexed, result.duplicates, result.rejected) == (4, 0, ())
    assert [[doc["key"] for doc in request] for request in fake.requests] == [
        ["k0", "k1", "k2", "k3"],
        ["k1", "k2"],
        ["k2"],
    ]
    assert len(waits) == 2


def test_items_still_overloaded_after_the_last_try_make_the_batch_unavailable():
    fake = FakeBackend({"k0": [503] * ITEM_ATTEMPTS})

    with pytest.raises(SearchUnavailable, match="1 events"):
        index_events(fake, events(2), prefix="w", sleep=lambda _s: None)  # type: ignore[arg-type]


def test_duplicates_and_refusals_are_counted_apart():
    fake = FakeBackend({"k0": [409], "k1": [400]})

    result = index_events(fake, events(3), prefix="w")  # type: ignore[arg-type]

    assert (result.indexed, result.duplicates) == (1, 1)
    assert [(item.event_key, item.reason) for item in result.rejected] == [
        ("k1", "mapper_parsing_exception: bad")
    ]


def test_requests_carry_at_most_a_thousand_events_or_about_five_megabytes():
    by_count = FakeBackend()
    index_events(by_count, events(MAX_BATCH_DOCUMENTS * 2 + 1), prefix="w")  # type: ignore[arg-type]
    by_size = FakeBackend()
    index_events(by_size, events(12, size=1024 * 1024), prefix="w")  # type: ignore[arg-type]

    # Requests are sent several at once, so they may arrive in any order.
    assert sorted(len(request) for request in by_count.requests) == [1, 1000, 1000]
    assert [len(request) for request in by_size.requests] == [4, 4, 4]
