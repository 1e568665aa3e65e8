"""Scale-out storage on Elasticsearch or OpenSearch: the client adapters, the index template
of Wachter's events, and indexing, searching and purging those events (docs/scale-out.md).
"""

from storage.search.client import SearchBackend, backend_for, client_options
from storage.search.elasticsearch_backend import ElasticsearchBackend
from storage.search.errors import SearchError, SearchRejected, SearchUnavailable
from storage.search.events import (
    IndexResult,
    RejectedDocument,
    SearchPage,
    event_document_id,
    events_index,
    index_events,
    purge_indices_before,
    search_events,
)
from storage.search.opensearch_backend import OpenSearchBackend
from storage.search.templates import ensure_templates, events_pattern, events_template

__all__ = [
    "ElasticsearchBackend",
    "IndexResult",
    "OpenSearchBackend",
    "RejectedDocument",
    "SearchBackend",
    "SearchError",
    "SearchPage",
    "SearchRejected",
    "SearchUnavailable",
    "backend_for",
    "client_options",
    "ensure_templates",
    "event_document_id",
    "events_index",
    "events_pattern",
    "events_template",
    "index_events",
    "purge_indices_before",
    "search_events",
]
