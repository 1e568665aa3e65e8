"""Wachter's search backends on the test nodes, and a clean slate per test.

``backend_of`` builds the adapter for a node; the integration ``prefix`` fixture
(tests/integration/conftest.py) gives each test its own index prefix and removes its
indices and template afterwards, by exact name (the nodes refuse wildcard deletes).
"""

from __future__ import annotations

from typing import Any

from storage.search import SearchBackend
from storage.search.client import ClientOptions
from storage.search.elasticsearch_backend import ElasticsearchBackend
from storage.search.opensearch_backend import OpenSearchBackend
from storage.search.templates import events_pattern, events_template_name


def backend_of(kind: str, url: str, **options: Any) -> SearchBackend:
    settings = ClientOptions(url=url, **options)
    return OpenSearchBackend(settings) if kind == "opensearch" else ElasticsearchBackend(settings)


def drop_prefix(backend: SearchBackend, name: str) -> None:
    """Delete the indices and the template a test made under prefix ``name``."""
    for index in backend.indices(events_pattern(name)):
        backend.delete_index(index)
    if backend.index_template(events_template_name(name)) is not None:
        raw: Any = backend.client  # type: ignore[attr-defined]
        raw.indices.delete_index_template(name=events_template_name(name))
