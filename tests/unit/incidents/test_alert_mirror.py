"""The alert mirror without a cluster: which feed entries become which documents, the bulk
request they are written with (``index``, the alert's number as id, the feed entry id as
external version), how the cluster's per-item answers are read, and the alert template.
Behaviour on real nodes: tests/integration/test_alert_mirror.py."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from incidents.feeds.models import AlertFeedEntry
from incidents.feeds.search_mirror import latest_documents
from storage.search import SearchRejected, SearchUnavailable
from storage.search.alerts import (
    ALERTS_TEMPLATE_VERSION,
    AlertDocument,
    alerts_template,
    ensure_alerts_template,
    index_alerts,
)

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


class FakeBackend:
    """Answers each bulk item with the next status of ``statuses``; keeps what it was sent."""

    kind = "elasticsearch"

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = statuses or []
        self.bodies: list[bytes] = []
        self.templates: dict[str, Mapping[str, Any]] = {}
        self.template_writes = 0

    def bulk(self, ndjson: bytes) -> list[dict[str, Any]]:
        self.bodies.append(ndjson)
        items = []
        for status in self.statuses:
            error = {"type": "document_parsing_exception", "reason": "no"} if status >= 300 else {}
            items.append({"index": {"status": status, **({"error": error} if error else {})}})
        return items

    def index_template(self, name: str) -> dict[str, Any] | None:
        found = self.templates.get(name)
        return dict(found) if found is not None else None

    def put_index_template(self, name: str, body: Mapping[str, Any]) -> None:
        self.template_writes += 1
        self.templates[name] = body


def entry(entry_id: int, alert_id: int, status: str) -> AlertFeedEntry:
    document = {"event": {"id": f"wachter-alert-{alert_id}"}, "wachter": {"alert": {}}}
    document["wachter"]["alert"] = {"id": alert_id, "status": status}
    return AlertFeedEntry(
        id=entry_id,
        alert_id=alert_id,
        alert_version=1,
        change="status",
        severity="high",
        recorded_at=NOW,
        document=orjson.dumps(document).decode(),
    )


def documents(count: int) -> list[AlertDocument]:
    return [AlertDocument(number, 10 + number, b'{"a":1}') for number in range(1, count + 1)]


def test_each_alert_is_written_once_per_batch_with_its_newest_change():
    batch = [entry(5, 1, "new"), entry(6, 2, "new"), entry(7, 1, "acknowledged")]
    batch.append(entry(9, 1, "closed"))
    written = latest_documents(batch)
    assert [(item.alert_id, item.version) for item in written] == [(2, 6), (1, 9)]
    document = orjson.loads(written[1].document)
    assert document["wachter"]["alert"]["status"] == "closed"
    assert document["wachter"]["feed"] == {
        "id": 9,
        "change": "status",
        "recorded": "2026-11-30T12:00:00Z",
    }


def test_documents_are_indexed_by_alert_number_with_the_feed_id_as_external_version():
    backend = FakeBackend([201])
    result = index_alerts(backend, [AlertDocument(42, 1234, b'{"x":1}')], prefix="soc")
    assert result.indexed == 1
    action, source, end = backend.bodies[0].split(b"\n")
    assert orjson.loads(action) == {
        "index": {"_index": "soc-alerts", "_id": "42", "version": 1234, "version_type": "external"}
    }
    assert (source, end) == (b'{"x":1}', b"")


def test_a_version_conflict_counts_as_stale_and_a_refused_document_is_returned_with_its_reason():
    backend = FakeBackend([200, 409, 400])
    result = index_alerts(backend, documents(3), prefix="soc")
    assert (result.indexed, result.stale) == (1, 1)
    [refused] = result.refused
    assert (refused.alert_id, refused.version) == (3, 13)
    assert refused.reason == "document_parsing_exception: no"


@pytest.mark.parametrize("status", [429, 503, 408])
def test_an_item_the_cluster_could_not_take_for_now_makes_the_whole_batch_wait(status):
    with pytest.raises(SearchUnavailable, match=f"alert 2: HTTP {status}"):
        index_alerts(FakeBackend([201, status]), documents(2), prefix="soc")


def test_an_item_refused_for_lack_of_permission_is_an_error_not_a_skipped_document():
    with pytest.raises(SearchRejected) as raised:
        index_alerts(FakeBackend([403]), documents(1), prefix="soc")
    assert raised.value.status == 403


def test_nothing_to_write_sends_no_request():
    backend = FakeBackend()
    assert index_alerts(backend, [], prefix="soc").indexed == 0
    assert backend.bodies == []


def test_the_template_maps_severity_as_keyword_and_score_and_covers_only_the_alert_index():
    template = alerts_template("soc")
    assert template["index_patterns"] == ["soc-alerts"]
    mappings = template["template"]["mappings"]
    properties = mappings["properties"]
    assert properties["wachter"]["properties"]["alert"]["properties"]["severity"]["type"] == (
        "keyword"
    )
    assert properties["event"]["properties"]["severity"] == {"type": "long"}
    assert properties["event"]["properties"]["risk_score"] == {"type": "float"}
    assert properties["@timestamp"] == {"type": "date"}
    assert properties["related"]["properties"]["ip"] == {"type": "ip"}
    assert mappings["date_detection"] is False


def test_the_template_is_written_once_and_an_older_wachter_leaves_a_newer_one_alone():
    backend = FakeBackend()
    assert ensure_alerts_template(backend, "soc") is True
    assert ensure_alerts_template(backend, "soc") is False
    newer = {**alerts_template("soc"), "version": ALERTS_TEMPLATE_VERSION + 1}
    backend.templates["soc-alerts"] = newer
    assert ensure_alerts_template(backend, "soc") is False
    assert backend.template_writes == 1
