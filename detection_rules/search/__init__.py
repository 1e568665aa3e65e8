"""Scheduled Sigma searches on Elasticsearch and OpenSearch (scale-out mode).

    query_for(rule, *, pipelines, lists) -> dict   a single-event rule as a query body
    pipelines_for(EventSource) -> pipeline names   Wachter's own events, or ECS from Beats
    ConversionError                                a rule that cannot run as a search, and why
    run_rule(session, client, *, rule, query, index_pattern, now, lookback, page_size)
                                                   one run: window, paging, dedup, checkpoint
    prune_seen(session, before) -> int             forget old dedup rows
    SearchClient                                   the protocol a node adapter implements
    SearchHit, SearchFailed

``models`` holds the tables (``search_checkpoint``, ``search_hit_seen``).
"""

from detection_rules.search.convert import (
    PIPELINES,
    ConversionError,
    EventSource,
    pipelines_for,
    query_for,
)
from detection_rules.search.runner import (
    SearchClient,
    SearchFailed,
    SearchHit,
    VersionedRule,
    prune_seen,
    run_rule,
)

__all__ = [
    "PIPELINES",
    "ConversionError",
    "EventSource",
    "SearchClient",
    "SearchFailed",
    "SearchHit",
    "VersionedRule",
    "pipelines_for",
    "prune_seen",
    "query_for",
    "run_rule",
]
