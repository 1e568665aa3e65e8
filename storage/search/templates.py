"""The index template of Wachter's event indices (``<prefix>-events-YYYY.MM.DD``).

The mappings are plain ECS types that both minimal distributions have (no ``wildcard``,
no ``match_only_text``, no ingest pipelines):

- any string not named below is a ``keyword`` (``ignore_above: 1024``: longer values stay
  in ``_source`` but are not searchable by that field), and strings are never guessed to be
  dates (``date_detection: false``): one event with a date-looking user name must not make
  the field a date and every later event's user name a mapping error;
- ``message`` is ``text`` (word search) with a ``message.keyword`` sub-field for exact and
  wildcard matches (what Sigma's ``contains``/``endswith`` become on Elasticsearch);
  ``event.original`` is ``text`` only: it is for reading and word search, not aggregation;
- strings are compared without case, as Sigma compares them: the dynamic keywords,
  ``event.code``, ``event.kind`` and ``message.keyword`` have a lowercase normalizer, which
  lowercases the indexed value and the terms, phrases, wildcards (and regexes) of queries
  on it; ``_source`` keeps the original, aggregations show the lowercase value.
  ``event.outcome`` (checked to be success/failure/unknown) and ``wachter.flags`` (written
  by Wachter) are closed sets of lowercase values and stay exact;
- ``wachter.event_id`` (the event's SQL id, set by the indexer) is a ``long``: sortable;
- the ECS dates, IP addresses and numbers are typed, so ``source.ip:"10.0.0.0/8"`` and
  time ranges work; ``event.code`` is a keyword as ECS says (Windows sends it as a number);
- ``index.mapping.ignore_malformed``: a value that does not fit its number, date or IP
  field is kept in ``_source`` and left out of that field's index instead of refusing the
  whole event. Only what cannot be stored at all (an object where a value was mapped, or
  the reverse) is refused: the indexer records those as dead letters with the reason.

``ensure_templates`` is idempotent: the template carries ``TEMPLATE_VERSION`` (also in
``_meta``); a newer Wachter replaces an older template, an older one leaves a newer alone.
A template applies to indices created after it: today's index keeps its mapping.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from storage.search.client import SearchBackend

TEMPLATE_VERSION = 3  # 2: wachter.event_id; 3: the lowercase normalizer
# Above the built-in templates of a full Elasticsearch (``logs-*-*`` has 100), so a prefix
# such as ``logs`` still gets Wachter's mapping for its event indices.
TEMPLATE_PRIORITY = 500
KEYWORD_LIMIT = 1024
# Index setting ``analysis.normalizer``: keyword values and the terms and wildcard patterns
# of queries on them are lowercased, as Sigma compares strings. Not named ``lowercase``:
# that name belongs to Elasticsearch's built-in normalizer.
NORMALIZER = "wachter_lowercase"
_NORMALIZERS = {NORMALIZER: {"type": "custom", "filter": ["lowercase"]}}

_DATES = ("@timestamp", "event.created", "event.ingested", "event.start", "event.end")
_IPS = (
    "source.ip", "destination.ip", "client.ip", "server.ip", "host.ip", "related.ip",
    "observer.ip", "source.nat.ip", "destination.nat.ip",
)  # fmt: skip
_LONGS = (
    "source.port", "destination.port", "client.port", "server.port", "source.bytes",
    "destination.bytes", "source.packets", "destination.packets", "network.bytes",
    "event.severity", "event.duration", "event.sequence", "http.response.status_code",
    "process.pid", "wachter.repeat_count", "wachter.event_id",
)  # fmt: skip
# Values from the sender: compared without case, like every dynamic string field.
_CASELESS_KEYWORDS = ("event.code", "event.kind")
# Closed sets of lowercase values Wachter checks (``event.outcome``) or writes itself
# (``wachter.flags``): kept exact, so a filter on them stays a plain term lookup.
_EXACT_KEYWORDS = ("event.outcome", "wachter.flags")
_CASELESS = {"type": "keyword", "ignore_above": KEYWORD_LIMIT, "normalizer": NORMALIZER}


def events_template_name(prefix: str) -> str:
    return f"{prefix}-events"


def events_pattern(prefix: str) -> str:
    return f"{prefix}-events-*"


def _properties() -> dict[str, Any]:
    """The typed fields as nested ``properties`` (ECS names are dotted paths)."""
    typed: dict[str, dict[str, Any]] = {}
    for name in _DATES:
        typed[name] = {"type": "date"}
    for name in _IPS:
        typed[name] = {"type": "ip"}
    for name in _LONGS:
        typed[name] = {"type": "long"}
    for name in _CASELESS_KEYWORDS:
        typed[name] = dict(_CASELESS)
    for name in _EXACT_KEYWORDS:
        typed[name] = {"type": "keyword", "ignore_above": KEYWORD_LIMIT}
    typed["message"] = {
        "type": "text",
        # 8191 characters of UTF-8 stay within Lucene's 32766-byte term limit.
        "fields": {"keyword": {**_CASELESS, "ignore_above": 8191}},
    }
    typed["event.original"] = {"type": "text"}
    return nested_properties(typed)


def nested_properties(typed: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Mappings by dotted ECS name (``source.ip``) as the nested ``properties`` a mapping has."""
    properties: dict[str, Any] = {}
    for dotted, mapping in typed.items():
        *parents, leaf = dotted.split(".")
        level = properties
        for parent in parents:
            level = level.setdefault(parent, {"properties": {}})["properties"]
        level[leaf] = dict(mapping)
    return properties


def events_template(prefix: str, *, shards: int = 1, replicas: int = 0) -> dict[str, Any]:
    """The composable index template body for ``<prefix>-events-*``."""
    return template_body(
        pattern=events_pattern(prefix),
        version=TEMPLATE_VERSION,
        settings={
            "number_of_shards": shards,
            "number_of_replicas": replicas,
            "analysis": {"normalizer": _NORMALIZERS},
        },
        strings=dict(_CASELESS),
        properties=_properties(),
    )


def template_body(
    *,
    pattern: str,
    version: int,
    settings: Mapping[str, Any],
    strings: Mapping[str, Any],
    properties: Mapping[str, Any],
) -> dict[str, Any]:
    """A Wachter template: versioned, malformed values kept out of their field's index,
    strings never guessed to be dates and mapped as ``strings`` says, typed ``properties``."""
    meta = {"managed_by": "wachter", "wachter_template_version": version}
    return {
        "index_patterns": [pattern],
        "priority": TEMPLATE_PRIORITY,
        "version": version,
        "_meta": meta,
        "template": {
            "settings": {**settings, "index.mapping.ignore_malformed": True},
            "mappings": {
                "date_detection": False,
                "dynamic_templates": [
                    {
                        "strings_as_keywords": {
                            "match_mapping_type": "string",
                            "mapping": dict(strings),
                        }
                    }
                ],
                "properties": dict(properties),
            },
        },
    }


def install_template(
    backend: SearchBackend, name: str, body: Mapping[str, Any], *, version: int
) -> bool:
    """Write template ``name`` unless one of ``version`` or newer is there; True if written."""
    stored = backend.index_template(name)
    stored_version = stored.get("version") if stored else None
    if isinstance(stored_version, int) and stored_version >= version:
        return False
    backend.put_index_template(name, body)
    return True


def ensure_templates(
    backend: SearchBackend, prefix: str, *, shards: int = 1, replicas: int = 0
) -> bool:
    """Install or upgrade Wachter's template; True when it was written, False when current."""
    body = events_template(prefix, shards=shards, replicas=replicas)
    return install_template(backend, events_template_name(prefix), body, version=TEMPLATE_VERSION)
