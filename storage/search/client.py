"""What Wachter asks of a search cluster, and the two clients that answer it.

``SearchBackend`` is the whole surface Wachter uses: index templates, bulk ``create``,
search (sort, ``search_after``, size, query), points in time (PIT) for the scheduled
searches, count, refresh, indices by pattern, deleting one index by its exact name, and
cluster health. The PIT calls and ``search(None, body)`` make a backend a
``detection_rules.search.SearchClient`` as it is. Two adapters implement it:
``ElasticsearchBackend`` (the ``elasticsearch`` 9.x client, which talks only to
Elasticsearch 9: it checks the product header) and ``OpenSearchBackend`` (``opensearch-py``).
``backend_for(settings)`` picks one by ``WACHTER_ELASTICSEARCH_KIND``.

Both clients retry a request themselves on connection errors, timeouts and 429/502/503/504,
with exponential backoff; what still fails becomes ``SearchUnavailable`` (try later) or
``SearchRejected`` (4xx: the request is wrong), see ``storage.search.errors``. Credentials
in the URL are taken out of it and given to the client as basic auth, so the client's own
request log never shows them.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit, urlunsplit

import elasticsearch
import opensearchpy
from elastic_transport import TransportError as ElasticTransportError
from elastic_transport.client_utils import DEFAULT

from core import Settings
from storage.search.errors import SearchRejected, SearchUnavailable

# Only what Wachter reads of a bulk answer: the server builds and the client parses far less
# than the full per-item metadata (bench/elasticsearch).
BULK_RESPONSE_FIELDS = ["errors", "items.*.status", "items.*.error"]
RETRY_STATUSES = (429, 502, 503, 504)
# OpenSearch reads at most 4 KB of request line by default; index names beyond this many
# characters are given as the pattern instead.
MAX_PIT_INDEX_LIST = 3000
# An exact index name: no wildcard, list, exclusion or ``_all`` can slip into a delete.
_EXACT_INDEX = re.compile(r"[a-z0-9][a-z0-9_.+-]{0,254}")


class SearchBackend(Protocol):
    """The operations Wachter needs from Elasticsearch or OpenSearch."""

    kind: str

    def put_index_template(self, name: str, body: Mapping[str, Any]) -> None: ...

    def index_template(self, name: str) -> dict[str, Any] | None:
        """The stored template ``name`` (its body), or None when there is none."""
        ...

    def bulk(self, ndjson: bytes) -> list[dict[str, Any]]:
        """Send a ``_bulk`` body; returns its per-item results, in order."""
        ...

    def search(self, index: str | None, body: Mapping[str, Any]) -> dict[str, Any]:
        """Search ``index`` (a pattern); ``None`` when ``body`` names a point in time."""
        ...

    def open_point_in_time(self, index: str, keep_alive: str) -> str | None:
        """A PIT over the open indices of ``index``; None when the cluster gives none for it."""
        ...

    def close_point_in_time(self, pit_id: str) -> None:
        """Release a PIT early (one that expired already is no error)."""
        ...

    def count(self, index: str, query: Mapping[str, Any] | None = None) -> int: ...

    def refresh(self, index: str) -> None: ...

    def indices(self, pattern: str) -> list[str]:
        """Names of the open and closed indices matching ``pattern`` (none: empty)."""
        ...

    def delete_index(self, name: str) -> None:
        """Delete one index by its exact name (a missing one is no error)."""
        ...

    def cluster_health(self) -> str:
        """``green``, ``yellow`` or ``red``."""
        ...


@dataclass(frozen=True)
class ClientOptions:
    """How to reach the cluster: the URL without credentials plus what to authenticate with."""

    url: str
    basic_auth: tuple[str, str] | None = field(default=None, repr=False)
    api_key: str | None = field(default=None, repr=False)
    ca_certs: str | None = None
    timeout: float = 10.0
    max_retries: int = 2
    backoff_base: float = 0.5
    backoff_cap: float = 4.0


def client_options(
    settings: Settings, *, timeout: float = 10.0, max_retries: int = 2
) -> ClientOptions:
    """Split ``settings.elasticsearch_url`` into a bare URL and its user:password."""
    if settings.elasticsearch_url is None:
        raise ValueError("no WACHTER_ELASTICSEARCH_URL: Wachter runs embedded")
    parts = urlsplit(settings.elasticsearch_url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    url = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    auth = None
    if parts.username is not None:
        auth = (unquote(parts.username), unquote(parts.password or ""))
    if auth is not None and settings.elasticsearch_api_key:
        raise ValueError(
            "WACHTER_ELASTICSEARCH_URL has user:password and WACHTER_ELASTICSEARCH_API_KEY is "
            "set: use one of the two"
        )
    return ClientOptions(
        url=url,
        basic_auth=auth,
        api_key=settings.elasticsearch_api_key,
        ca_certs=str(settings.elasticsearch_ca) if settings.elasticsearch_ca else None,
        timeout=timeout,
        max_retries=max_retries,
    )


def backend_for(settings: Settings) -> SearchBackend:
    """The adapter for ``settings.elasticsearch_kind``; no request is sent yet."""
    options = client_options(settings)
    if settings.elasticsearch_kind == "opensearch":
        return OpenSearchBackend(options)
    return ElasticsearchBackend(options)


def check_exact_index(name: str) -> str:
    if not _EXACT_INDEX.fullmatch(name) or name in (".", ".."):
        raise ValueError(f"{name!r} is not one exact index name")
    return name


def _reason(body: Any) -> str:
    """``type: reason`` of an error body, cut short (values may follow in the reason)."""
    error = body.get("error") if isinstance(body, Mapping) else None
    causes = error.get("root_cause") if isinstance(error, Mapping) else None
    if isinstance(causes, list) and causes and isinstance(causes[0], Mapping):
        error = causes[0]  # "all shards failed" says less than why the first one did
    if isinstance(error, Mapping):
        return f"{error.get('type', 'error')}: {error.get('reason', '')}"[:500]
    return str(error or body)[:500]


class ElasticsearchBackend:
    """``SearchBackend`` on the official ``elasticsearch`` 9.x client."""

    kind = "elasticsearch"

    def __init__(self, options: ClientOptions) -> None:
        self.options = options
        self.client = elasticsearch.Elasticsearch(
            options.url,
            basic_auth=options.basic_auth,
            api_key=options.api_key,
            ca_certs=options.ca_certs or DEFAULT,
            request_timeout=options.timeout,
            max_retries=options.max_retries,
            retry_on_status=RETRY_STATUSES,
            retry_on_timeout=True,
            retry_backoff_base=options.backoff_base,
            retry_backoff_cap=options.backoff_cap,
        )

    def __repr__(self) -> str:
        return f"ElasticsearchBackend({self.options.url!r})"

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except elasticsearch.UnsupportedProductError:
            raise SearchRejected(
                f"{self.options.url} is not Elasticsearch 9 (for OpenSearch set "
                "WACHTER_ELASTICSEARCH_KIND=opensearch)"
            ) from None
        except elasticsearch.ApiError as error:
            raise _from_status(error.meta.status, error.body) from None
        except ElasticTransportError as error:
            raise SearchUnavailable(
                f"Elasticsearch at {self.options.url} is unreachable: {type(error).__name__}"
            ) from None

    def put_index_template(self, name: str, body: Mapping[str, Any]) -> None:
        with self._translated():
            self.client.indices.put_index_template(name=name, **body)

    def index_template(self, name: str) -> dict[str, Any] | None:
        with self._translated():
            found = self.client.options(ignore_status=404).indices.get_index_template(name=name)
        return _first_template(found.body)

    def bulk(self, ndjson: bytes) -> list[dict[str, Any]]:
        with self._translated():
            result = self.client.bulk(
                operations=ndjson,  # type: ignore[arg-type]
                filter_path=BULK_RESPONSE_FIELDS,
            )
        items: list[dict[str, Any]] = result.body["items"]
        return items

    def search(self, index: str | None, body: Mapping[str, Any]) -> dict[str, Any]:
        with self._translated():
            if index is None:  # a PIT search: indices and their options are refused
                result = self.client.search(body=dict(body))
            else:
                result = self.client.search(
                    index=index, body=dict(body), ignore_unavailable=True, allow_no_indices=True
                )
        found: dict[str, Any] = result.body
        return found

    def open_point_in_time(self, index: str, keep_alive: str) -> str | None:
        # A pattern that matches nothing gives an empty PIT (its searches find nothing);
        # ignore_unavailable skips a listed name that does not exist, as search does.
        with self._translated():
            result = self.client.open_point_in_time(
                index=index, keep_alive=keep_alive, ignore_unavailable=True
            )
        return str(result.body["id"])

    def close_point_in_time(self, pit_id: str) -> None:
        with self._translated():
            self.client.options(ignore_status=404).close_point_in_time(id=pit_id)

    def count(self, index: str, query: Mapping[str, Any] | None = None) -> int:
        with self._translated():
            result = self.client.count(
                index=index, query=dict(query) if query else None, allow_no_indices=True
            )
        return int(result.body["count"])

    def refresh(self, index: str) -> None:
        with self._translated():
            self.client.indices.refresh(index=index, allow_no_indices=True)

    def indices(self, pattern: str) -> list[str]:
        with self._translated():
            found = self.client.indices.get(
                index=pattern, allow_no_indices=True, expand_wildcards="open,closed"
            )
        return sorted(found.body)

    def delete_index(self, name: str) -> None:
        with self._translated():
            self.client.indices.delete(index=check_exact_index(name), ignore_unavailable=True)

    def cluster_health(self) -> str:
        with self._translated():
            return str(self.client.cluster.health().body["status"])


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


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """Full-jitter exponential backoff: up to ``base * 2**attempt``, at most ``cap``."""
    return random.uniform(0, min(cap, base * 2**attempt))  # noqa: S311 - jitter, not secrets


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
            raise _from_status(status, error.info) from None

    def put_index_template(self, name: str, body: Mapping[str, Any]) -> None:
        with self._translated():
            self.client.indices.put_index_template(name=name, body=dict(body))

    def index_template(self, name: str) -> dict[str, Any] | None:
        with self._translated():
            if not self.client.indices.exists_index_template(name=name):
                return None
            return _first_template(self.client.indices.get_index_template(name=name))

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


def _first_template(found: Mapping[str, Any]) -> dict[str, Any] | None:
    templates: Sequence[Mapping[str, Any]] = found.get("index_templates", ())
    if not templates:
        return None
    body: dict[str, Any] = dict(templates[0]["index_template"])
    return body


def _from_status(status: int, body: Any) -> SearchUnavailable | SearchRejected:
    if status in RETRY_STATUSES or status >= 500:
        return SearchUnavailable(f"the search cluster answered HTTP {status}: {_reason(body)}")
    return SearchRejected(f"HTTP {status}: {_reason(body)}", status=status)
