"""``SearchBackend`` on the official ``elasticsearch`` 9.x client.

The client talks only to Elasticsearch 9 (it checks the product header); it retries
connection errors, timeouts and 429/502/503/504 itself with exponential backoff. What still
fails is translated by ``_translated`` into ``storage.search.errors`` (see
``storage.search.client`` for the surface and what both adapters share).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import elasticsearch
from elastic_transport import TransportError as ElasticTransportError
from elastic_transport.client_utils import DEFAULT

from storage.search.client import (
    BULK_RESPONSE_FIELDS,
    RETRY_STATUSES,
    ClientOptions,
    check_exact_index,
    error_from_status,
    first_template,
)
from storage.search.errors import SearchRejected, SearchUnavailable


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
            raise error_from_status(error.meta.status, error.body) from None
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
        return first_template(found.body)

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

    def field_caps(self, index: str, fields: Sequence[str]) -> dict[str, Any]:
        with self._translated():
            result = self.client.field_caps(
                index=index, fields=list(fields), ignore_unavailable=True, allow_no_indices=True
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
