"""The alert index on Elasticsearch or OpenSearch: ``<prefix>-alerts``, one document per alert.

Alerts live in the relational database (the incident workflow needs transactions); the
cluster holds a copy so that dashboards can search and chart alerts beside the events.
Each document is the alert's latest state, under the document id of the alert's number.

Writes are bulk ``index`` operations (a later change overwrites the earlier document)
with external versioning: the caller gives each document a number that grows with every
change (the alert feed's entry id), and the cluster keeps a document only when its number
is above the stored one. A replay of an older change is answered 409 and changes nothing,
so the copy never goes back to an older state, whatever order the writes arrive in.

The index gets its mapping from the index template ``<prefix>-alerts`` (installed before the
first write; the index is made by that write), so only calls of ``SearchBackend`` are used:

- every string not named below is a ``keyword`` (``ignore_above: 1024``) and strings are
  never guessed to be dates, as in the event template;
- the times (``@timestamp``, ``event.created/start/end``, ``wachter.alert.updated``,
  ``wachter.feed.recorded``) are dates; ``related.ip`` and ``source.ip`` are IP addresses;
- the severity is a ``keyword`` (``wachter.alert.severity``) and a number
  (``event.severity``, ``event.risk_score``: higher is worse), so it can be filtered by
  name and sorted or charted by score; counts and ids are numbers;
- ``rule.name`` (the alert's title) is a keyword with a ``rule.name.text`` sub-field for
  word search.

``ensure_alerts_template`` is idempotent, with a version as the event template has.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from storage.search.client import SearchBackend, check_exact_index
from storage.search.errors import SearchRejected, SearchUnavailable
from storage.search.templates import (
    KEYWORD_LIMIT,
    install_template,
    nested_properties,
    template_body,
)

ALERTS_TEMPLATE_VERSION = 1
# Item answers that mean "try the same request again later": nothing in it is wrong.
_TRY_LATER = frozenset({408, 429})

_DATES = (
    "@timestamp", "event.created", "event.start", "event.end", "wachter.alert.updated",
    "wachter.feed.recorded",
)  # fmt: skip
_LONGS = (
    "event.severity", "wachter.alert.id", "wachter.alert.version", "wachter.alert.count",
    "wachter.alert.incident_id", "wachter.feed.id",
)  # fmt: skip
_IPS = ("related.ip", "source.ip")
_KEYWORDS = (
    "event.kind", "event.id", "rule.id", "wachter.alert.status", "wachter.alert.severity",
    "wachter.alert.resolution", "wachter.feed.change", "tags",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class AlertDocument:
    """One alert's state to write: its number, the version of that state, the document."""

    alert_id: int
    version: int  # grows with every change of any alert (the feed entry id)
    document: bytes  # JSON


@dataclass(frozen=True, slots=True)
class RefusedAlert:
    alert_id: int
    version: int
    reason: str


@dataclass(frozen=True)
class AlertIndexResult:
    indexed: int = 0
    stale: int = 0  # the index held this state or a newer one already
    refused: tuple[RefusedAlert, ...] = ()


def alerts_index(prefix: str) -> str:
    return check_exact_index(f"{prefix}-alerts")


def alerts_template_name(prefix: str) -> str:
    return f"{prefix}-alerts"


def alerts_template(prefix: str, *, shards: int = 1, replicas: int = 0) -> dict[str, Any]:
    """The composable index template body for the one index ``<prefix>-alerts``."""
    return template_body(
        pattern=alerts_index(prefix),
        version=ALERTS_TEMPLATE_VERSION,
        settings={"number_of_shards": shards, "number_of_replicas": replicas},
        strings={"type": "keyword", "ignore_above": KEYWORD_LIMIT},
        properties=_properties(),
    )


def _properties() -> dict[str, Any]:
    """The typed fields as nested ``properties`` (the names are dotted paths)."""
    typed: dict[str, dict[str, Any]] = {name: {"type": "date"} for name in _DATES}
    typed.update({name: {"type": "long"} for name in _LONGS})
    typed.update({name: {"type": "ip"} for name in _IPS})
    typed.update({name: {"type": "keyword", "ignore_above": KEYWORD_LIMIT} for name in _KEYWORDS})
    typed["event.risk_score"] = {"type": "float"}
    typed["rule.name"] = {
        "type": "keyword",
        "ignore_above": KEYWORD_LIMIT,
        "fields": {"text": {"type": "text"}},
    }
    return nested_properties(typed)


def ensure_alerts_template(backend: SearchBackend, prefix: str) -> bool:
    """Install or upgrade the alert template; True when it was written, False when current."""
    return install_template(
        backend, alerts_template_name(prefix), alerts_template(prefix),
        version=ALERTS_TEMPLATE_VERSION,
    )  # fmt: skip


def index_alerts(
    backend: SearchBackend, documents: Sequence[AlertDocument], *, prefix: str
) -> AlertIndexResult:
    """Write ``documents`` in one bulk request; each replaces its alert's document unless the
    index holds the same or a newer version.

    Raises ``SearchUnavailable`` when the cluster cannot be reached or some items could not
    be written for now (429, 5xx), ``SearchRejected`` when it refused an item for a reason
    that is not the document's own (no permission, say): in both cases the caller writes the
    same documents again later. A document the cluster refused (400, a mapping conflict)
    comes back in ``refused``: sending it again would not help.
    """
    if not documents:
        return AlertIndexResult()
    index = alerts_index(prefix)
    lines = []
    for item in documents:
        action = {
            "index": {
                "_index": index,
                "_id": str(item.alert_id),
                "version": item.version,
                "version_type": "external",
            }
        }
        lines.append(orjson.dumps(action) + b"\n" + item.document + b"\n")
    results = backend.bulk(b"".join(lines))
    return _tally(documents, results)


def _tally(
    documents: Sequence[AlertDocument], results: Sequence[dict[str, Any]]
) -> AlertIndexResult:
    indexed = stale = 0
    refused: list[RefusedAlert] = []
    for item, result in zip(documents, results, strict=True):
        outcome = result.get("index", {})
        status = int(outcome.get("status", 500))
        if status in (200, 201):
            indexed += 1
        elif status == 409:
            stale += 1
        elif status == 400:
            refused.append(RefusedAlert(item.alert_id, item.version, _reason(outcome)))
        elif status in _TRY_LATER or status >= 500:
            raise SearchUnavailable(f"alert {item.alert_id}: HTTP {status}: {_reason(outcome)}")
        else:
            message = f"alert {item.alert_id}: HTTP {status}: {_reason(outcome)}"
            raise SearchRejected(message, status=status)
    return AlertIndexResult(indexed, stale, tuple(refused))


def _reason(outcome: dict[str, Any]) -> str:
    error = outcome.get("error")
    if isinstance(error, dict):
        return f"{error.get('type', 'error')}: {error.get('reason', '')}"[:300]
    return str(error)[:300]
