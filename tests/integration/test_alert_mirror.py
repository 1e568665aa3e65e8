"""The alert mirror on the real Elasticsearch 9 and OpenSearch 3 nodes: every alert is one
document in ``<prefix>-alerts`` with its latest state (raised, then acknowledged, then
closed), searchable by status and severity; a replay of older changes never brings it back;
people appear only as the feed's pseudonyms; and while the cluster is unreachable the
cursor stays and nothing is lost, the next run after it is back catches up."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import select, update

from access_control import Actor
from core import FixedClock, Settings
from incidents.alerts import acknowledge, close
from incidents.alerts.models import IncidentsCursor
from incidents.feeds.cef_sender import Backoff
from incidents.feeds.changes import record_alert_change
from incidents.feeds.cursors import cursor_position
from incidents.feeds.models import AlertFeedEntry
from incidents.feeds.search_mirror import CURSOR, AlertMirror
from storage import Database
from storage.search import SearchBackend
from storage.search.alerts import AlertDocument, alerts_index, alerts_template_name, index_alerts
from tests.conftest import TEST_ENCRYPTION_KEY
from tests.support.incident_factories import make_alert
from tests.support.postgres import free_port
from tests.support.search_backends import backend_of
from wachter.jobs import BackgroundJobs, jobs_for

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
ANALYST = Actor(name="analist", user_id=7, ip="192.0.2.50")
JOB = "incidents.mirror_alerts"
ENTITIES = [["account", "jan.jansen"], ["ip", "192.0.2.7"], ["host", "ws-017"]]


@pytest.fixture
def alert_prefix(backend: SearchBackend, prefix: str) -> Iterator[str]:
    """The test's prefix; its alert index and template are removed by exact name."""
    yield prefix
    backend.delete_index(alerts_index(prefix))
    if backend.index_template(alerts_template_name(prefix)) is not None:
        raw: Any = backend.client  # type: ignore[attr-defined]
        raw.indices.delete_index_template(name=alerts_template_name(prefix))


def raise_alert(database: Database) -> int:
    with database.unit_of_work() as session:
        alert = make_alert(session, entities=orjson.dumps(ENTITIES).decode())
        record_alert_change(session, alert, change="created", now=NOW)
        return alert.id


def acknowledge_and_close(database: Database, alert_id: int) -> None:
    with database.unit_of_work() as session:
        acknowledge(session, alert_id, actor=ANALYST, now=NOW + timedelta(minutes=1))
    with database.unit_of_work() as session:
        close(
            session,
            alert_id,
            resolution="true_positive",
            note=None,
            actor=ANALYST,
            now=NOW + timedelta(minutes=2),
        )


def mirror_once(database: Database, mirror: AlertMirror, now: datetime = NOW) -> bool:
    with database.unit_of_work() as session:
        return mirror.run(session, now=now)


def hits(backend: SearchBackend, prefix: str, query: dict[str, Any]) -> list[dict[str, Any]]:
    backend.refresh(alerts_index(prefix))
    found = backend.search(alerts_index(prefix), {"query": query, "version": True})
    result: list[dict[str, Any]] = found["hits"]["hits"]
    return result


def feed_ids(database: Database, alert_id: int) -> list[int]:
    with database.unit_of_work() as session:
        query = select(AlertFeedEntry.id).where(AlertFeedEntry.alert_id == alert_id)
        return list(session.scalars(query.order_by(AlertFeedEntry.id)))


def test_an_alert_raised_then_acknowledged_and_closed_is_one_document_in_its_latest_state(
    migrated_database, backend, alert_prefix
):
    mirror = AlertMirror(backend, prefix=alert_prefix)
    alert_id = raise_alert(migrated_database)
    assert mirror_once(migrated_database, mirror) is False  # the whole feed fit one batch
    [first] = hits(backend, alert_prefix, {"match_all": {}})
    assert first["_source"]["wachter"]["alert"]["status"] == "new"
    acknowledge_and_close(migrated_database, alert_id)
    mirror_once(migrated_database, mirror)
    [document] = hits(backend, alert_prefix, {"match_all": {}})
    *_older, newest = feed_ids(migrated_database, alert_id)
    assert (document["_id"], document["_version"]) == (str(alert_id), newest)
    state = document["_source"]["wachter"]["alert"]
    assert (state["status"], state["resolution"]) == ("closed", "true_positive")
    assert document["_source"]["wachter"]["feed"]["id"] == newest
    with migrated_database.unit_of_work() as session:
        assert cursor_position(session, CURSOR) == newest
    # The mapping serves dashboards: severity by name and by score, status as a keyword.
    query = {"bool": {"filter": [{"term": {"wachter.alert.severity": "high"}}]}}
    query["bool"]["filter"].append({"range": {"event.severity": {"gte": 70}}})
    query["bool"]["filter"].append({"term": {"wachter.alert.status": "closed"}})
    assert len(hits(backend, alert_prefix, query)) == 1
    # People only as pseudonyms, as in every feed; IP addresses and hosts as they are.
    assert b"jan.jansen" not in orjson.dumps(document["_source"])
    assert document["_source"]["related"]["ip"] == ["192.0.2.7"]
    assert document["_source"]["related"]["user"][0].startswith("psn-")
    assert len(hits(backend, alert_prefix, {"term": {"related.ip": "192.0.2.0/24"}})) == 1


def test_a_replay_of_older_changes_does_not_bring_the_alert_back(
    migrated_database, backend, alert_prefix
):
    mirror = AlertMirror(backend, prefix=alert_prefix)
    alert_id = raise_alert(migrated_database)
    acknowledge_and_close(migrated_database, alert_id)
    mirror_once(migrated_database, mirror)
    created, acknowledged, closed = feed_ids(migrated_database, alert_id)
    # Older states sent again, one request each, oldest first (as a stuck sender might).
    for version in (created, acknowledged):
        old = AlertDocument(alert_id, version, orjson.dumps({"wachter": {"alert": {}}}))
        assert index_alerts(backend, [old], prefix=alert_prefix).stale == 1
    # The cursor set back to the start: the whole feed is read and written again.
    with migrated_database.unit_of_work() as session:
        session.execute(
            update(IncidentsCursor).where(IncidentsCursor.name == CURSOR).values(position=0)
        )
    mirror_once(migrated_database, mirror)
    [document] = hits(backend, alert_prefix, {"match_all": {}})
    assert document["_version"] == closed
    assert document["_source"]["wachter"]["alert"]["status"] == "closed"
    with migrated_database.unit_of_work() as session:
        assert cursor_position(session, CURSOR) == closed


def test_an_unreachable_cluster_keeps_the_changes_until_it_is_back(
    migrated_database, backend, alert_prefix
):
    closed_port = backend_of(backend.kind, f"http://127.0.0.1:{free_port()}", max_retries=0)
    backoff = Backoff()
    alert_id = raise_alert(migrated_database)
    away = AlertMirror(closed_port, prefix=alert_prefix, backoff=backoff)
    assert mirror_once(migrated_database, away) is False
    with migrated_database.unit_of_work() as session:
        assert cursor_position(session, CURSOR) == 0
    assert backoff.failures == 1
    acknowledge_and_close(migrated_database, alert_id)
    back = AlertMirror(backend, prefix=alert_prefix, backoff=backoff)
    mirror_once(migrated_database, back, NOW + timedelta(seconds=1))  # still waiting
    assert backend.indices(f"{alerts_index(alert_prefix)}*") == []
    mirror_once(migrated_database, back, NOW + timedelta(seconds=6))
    [document] = hits(backend, alert_prefix, {"match_all": {}})
    assert document["_source"]["wachter"]["alert"]["status"] == "closed"
    newest = feed_ids(migrated_database, alert_id)[-1]
    with migrated_database.unit_of_work() as session:
        assert cursor_position(session, CURSOR) == newest
    assert backoff.failures == 0


def test_a_document_the_cluster_refuses_is_logged_and_the_other_alerts_are_written(
    migrated_database, backend, alert_prefix, caplog
):
    good = raise_alert(migrated_database)
    with migrated_database.unit_of_work() as session:
        bad = make_alert(session)
        # ``rule`` is an object in the mapping: a plain value there cannot be stored at all.
        document = orjson.dumps({"@timestamp": "2026-11-30T12:00:00Z", "rule": "not an object"})
        session.add(
            AlertFeedEntry(
                alert_id=bad.id,
                alert_version=1,
                change="created",
                severity="high",
                recorded_at=NOW,
                document=document.decode(),
            )
        )
    mirror = AlertMirror(backend, prefix=alert_prefix)
    mirror_once(migrated_database, mirror)
    [document] = hits(backend, alert_prefix, {"match_all": {}})
    assert document["_id"] == str(good)
    [refused] = [
        r
        for r in caplog.records
        if r.name == "wachter.incidents.search_mirror" and r.levelname == "ERROR"
    ]
    assert f"refused alert {bad.id}" in refused.getMessage()
    assert "parsing_exception" in refused.getMessage()
    newest = feed_ids(migrated_database, bad.id)[-1]
    with migrated_database.unit_of_work() as session:
        assert cursor_position(session, CURSOR) == newest


def settings(tmp_path, **overrides: Any) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url="sqlite:///unused.db",
        encryption_keys=(TEST_ENCRYPTION_KEY,),  # other jobs need one
        **overrides,
    )


def test_the_job_runs_every_two_seconds_in_scale_out_mode_only_and_commits_its_cursor(
    migrated_database, backend, alert_prefix, node, tmp_path
):
    kind, server = node
    assert JOB not in [job.name for job in jobs_for(settings(tmp_path))]
    configured = settings(
        tmp_path,
        elasticsearch_url=server.url,
        elasticsearch_kind=kind,
        elasticsearch_index_prefix=alert_prefix,
    )
    [job] = [job for job in jobs_for(configured) if job.name == JOB]
    assert job.interval == timedelta(seconds=2)
    alert_id = raise_alert(migrated_database)
    runner = BackgroundJobs(migrated_database, [job], clock=FixedClock(NOW), holder="w1")
    assert runner.run_once(job)
    [document] = hits(backend, alert_prefix, {"match_all": {}})
    assert document["_id"] == str(alert_id)
    newest = feed_ids(migrated_database, alert_id)[-1]
    with migrated_database.unit_of_work() as session:
        assert cursor_position(session, CURSOR) == newest
