"""What Wachter asks of a search cluster, and what its two client adapters share.

``SearchBackend`` is the whole surface Wachter uses: index templates, bulk ``create``,
search (sort, ``search_after``, size, query), field capabilities, points in time (PIT) for
the scheduled searches, count, refresh, indices by pattern, deleting one index by its exact
name, and cluster health. The PIT calls and ``search(None, body)`` make a backend a
``detection_rules.search.SearchClient`` as it is. Two adapters implement it, each in its
own module: ``ElasticsearchBackend`` (``storage.search.elasticsearch_backend``, the
``elasticsearch`` 9.x client, which talks only to Elasticsearch 9: it checks the product
header) and ``OpenSearchBackend`` (``storage.search.opensearch_backend``, ``opensearch-py``).
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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit, urlunsplit

from core import Settings
from storage.search.errors import SearchRejected, SearchUnavailable

# Only what Wachter reads of a bulk answer: the server builds and the client parses far less
# than the full per-item metadata (bench/elasticsearch).
BULK_RESPONSE_FIELDS = ["errors", "items.*.status", "items.*.error"]
RETRY_STATUSES = (429, 502, 503, 504)
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

    def field_caps(self, index: str, fields: Sequence[str]) -> dict[str, Any]:
        """The ``_field_caps`` answer for ``fields`` (``*`` patterns allowed) over ``index``."""
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
    # Imported here: both adapter modules import this one for what they share.
    from storage.search.elasticsearch_backend import ElasticsearchBackend  # noqa: PLC0415
    from storage.search.opensearch_backend import OpenSearchBackend  # noqa: PLC0415

    options = client_options(settings)
    if settings.elasticsearch_kind == "opensearch":
        return OpenSearchBackend(options)
    return ElasticsearchBackend(options)


def check_exact_index(name: str) -> str:
    """``name`` if it is one exact index name, else ``ValueError``."""
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


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """Full-jitter exponential backoff: up to ``base * 2**attempt``, at most ``cap``."""
    return random.uniform(0, min(cap, base * 2**attempt))  # noqa: S311 - jitter, not secrets


def first_template(found: Mapping[str, Any]) -> dict[str, Any] | None:
    """The body of the first template in a ``GET _index_template`` answer, if any."""
    templates: Sequence[Mapping[str, Any]] = found.get("index_templates", ())
    if not templates:
        return None
    body: dict[str, Any] = dict(templates[0]["index_template"])
    return body


def error_from_status(status: int, body: Any) -> SearchUnavailable | SearchRejected:
    """The error for an HTTP error answer: unavailable (retry later) or rejected (4xx)."""
    if status in RETRY_STATUSES or status >= 500:
        return SearchUnavailable(f"the search cluster answered HTTP {status}: {_reason(body)}")
    return SearchRejected(f"HTTP {status}: {_reason(body)}", status=status)
