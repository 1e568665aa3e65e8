"""Errors of the search adapters (Elasticsearch and OpenSearch), one tree for both clients.

``SearchError``
  ├── ``SearchUnavailable``: the cluster cannot take the request now (connection refused,
  │   timeout, TLS failure, 429 or 5xx after the client's retries). Try again later;
  │   nothing the request carried is wrong.
  └── ``SearchRejected``: the cluster refused the request itself (4xx: a bad query, a
      mapping that does not fit, an unknown index, no permission). Sending it again will
      not help.

Messages are safe to log: they name the status and the cluster's error type and reason,
never the URL's credentials or the API key.
"""

from __future__ import annotations

from storage.errors import StorageError


class SearchError(StorageError):
    """The search cluster failed a request."""


class SearchUnavailable(SearchError):
    """The cluster is unreachable or overloaded; the same request may succeed later."""


class SearchRejected(SearchError):
    """The cluster refused the request (4xx); ``status`` is its HTTP status."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
