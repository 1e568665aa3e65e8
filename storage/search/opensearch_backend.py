"""``SearchBackend`` on ``opensearch-py``.

opensearch-py retries connection errors, timeouts and 429/502/503/504 at once;
``_BackoffTransport`` makes it wait between attempts as the Elasticsearch client does. What
still fails is translated by ``_translated`` into ``storage.search.errors`` (see
``storage.search.client`` for the surface and what both adapters share).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import opensearchpy

from storage.search.client import (
    BULK_RESPONSE_FIELDS,
    RETRY_STATUSES,
    ClientOptions,
    backoff_delay,
    check_exact_index,
    error_from_status,
    first_template,
)
from storage.search.errors import SearchUnavailable

# OpenSearch reads at most 4 KB of request line by default; index names beyond this many
# characters are given as the pattern instead.
MAX_PIT_INDEX_LIST = 3000


class _BackoffTransport(opensearchpy.Transport):
    """opensearch-py retries at once; this waits between attempts as elastic-transport does.

    ``mark_dead`` is called exactly when a failed attempt will be retried (and once more
    before the last failure is raised, which gets no wait).
    """

    backoff_base = 0.5
    backoff_cap = 4.0
    sleep: Callable[[float], None] = staticmethod(time.sleep)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._attempts = threading.local()

    def perform_request(self, *args: Any, **kwargs: Any) -> Any:
        self._attempts.count = 0
        return super().perform_request(*args, **kwargs)

    def mark_dead(self, connection: Any) -> None:
        super().mark_dead(connection)
        attempt = getattr(self._attempts, "count", 0)
        self._attempts.count = attempt + 1
        if attempt < self.max_retries:
            self.sleep(backoff_delay(attempt, self.backoff_base, self.backoff_cap))


class OpenSearchBackend:
    """``SearchBackend`` on ``opensearch-py``."""

    kind = "opensearch"

    def __init__(self, options: ClientOptions) -> None:
        if options.api_key:
            raise ValueError(
                "OpenSearch takes no API key here: put user:password in WACHTER_ELASTICSEARCH_URL"
            )
        self.options = options
        transport = type(
            "Transport",
            (_BackoffTransport,),
            {"backoff_base": options.backoff_base, "backoff_cap": options.backoff_cap},
        )
        self.client = opensearchpy.OpenSearch(
            [options.url],
            http_auth=options.basic_auth,
            ca_certs=options.ca_certs,
            verify_certs=options.url.startswith("https:"),
            timeout=options.timeout,
            max_retries=options.max_retries,
            retry_on_status=RETRY_STATUSES,
            retry_on_timeout=True,
            transport_class=transport,
        )

    def __repr__(self) -> str:
        return f"OpenSearchBackend({self.options.url!r})"

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except opensearchpy.ConnectionError as error:  # timeouts and TLS errors included
            raise SearchUnavailable(
                f"OpenSearch at {self.options.url} is unreachable: {type(error).__name__}"
            ) from None
        except opensearchpy.TransportError as error:
            status = error.status_code if isinstance(error.status_code, int) else 0
            raise error_from_status(status, error.info) from None

    def put_index_template(self, name: str, body: Mapping[str, Any]) -> None:
        with self._translated():
            self.client.indices.put_index_template(name=name, body=dict(body))

    def index_template(self, name: str) -> dict[str, Any] | None:
        with self._translated():
            if not self.client.indices.exists_index_template(name=name):
                return None
            return first_template(self.client.indices.get_index_template(name=name))

    def bulk(self, ndjson: bytes) -> list[dict[str, Any]]:
        with self._translated():
            result = self.client.bulk(
                body=ndjson, params={"filter_path": ",".join(BULK_RESPONSE_FIELDS)}
            )
        items: list[dict[str, Any]] = result["items"]
        return items

    def search(self, index: str | None, body: Mapping[str, Any]) -> dict[str, Any]:
        params = {"ignore_unavailable": "true", "allow_no_indices": "true"}
        with self._translated():
            found: dict[str, Any] = self.client.search(
                index=index, body=dict(body), params=params if index is not None else None
            )
        return found

    def field_caps(self, index: str, fields: Sequence[str]) -> dict[str, Any]:
        params = {
            "fields": ",".join(fields),
            "ignore_unavailable": "true",
            "allow_no_indices": "true",
        }
        with self._translated():
            found: dict[str, Any] = self.client.field_caps(index=index, params=params)
        return found

    def open_point_in_time(self, index: str, keep_alive: str) -> str | None:
        # OpenSearch refuses a PIT over a pattern that matches no index, and over a listed
        # name that does not exist: the PIT is made over the open indices the pattern has.
        params = {
            "allow_no_indices": "true",
            "ignore_unavailable": "true",
            "expand_wildcards": "open",  # a closed index cannot be searched
        }
        with self._translated():
            names = sorted(self.client.indices.get(index=index, params=params))
            if not names:
                return None
            target = ",".join(names)
            if len(target) > MAX_PIT_INDEX_LIST:
                target = index  # the list would not fit the request line; the pattern does
            created = self.client.create_pit(index=target, params={"keep_alive": keep_alive})
        return str(created["pit_id"])

    def close_point_in_time(self, pit_id: str) -> None:
        with self._translated():
            self.client.delete_pit(body={"pit_id": [pit_id]}, params={"ignore": 404})

    def count(self, index: str, query: Mapping[str, Any] | None = None) -> int:
        body = {"query": dict(query)} if query else None
        with self._translated():
            result = self.client.count(index=index, body=body, params={"allow_no_indices": "true"})
        return int(result["count"])

    def refresh(self, index: str) -> None:
        with self._translated():
            self.client.indices.refresh(index=index, params={"allow_no_indices": "true"})

    def indices(self, pattern: str) -> list[str]:
        params = {"allow_no_indices": "true", "expand_wildcards": "open,closed"}
        with self._translated():
            found = self.client.indices.get(index=pattern, params=params)
        return sorted(found)

    def delete_index(self, name: str) -> None:
        with self._translated():
            self.client.indices.delete(
                index=check_exact_index(name), params={"ignore_unavailable": "true"}
            )

    def cluster_health(self) -> str:
        with self._translated():
            return str(self.client.cluster.health()["status"])
