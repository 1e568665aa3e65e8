"""Cluster retention on real Elasticsearch 9 and OpenSearch 3 nodes: the daily job
``storage.purge_search_indices`` (scale-out only) deletes Wachter's daily event indices
wholly older than ``WACHTER_RETENTION_DAYS``, by exact name, and logs them; an index that
only looks like Wachter's stays; an unreachable cluster is a warning, not an error."""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from sqlalchemy.orm import Session

from core import Settings
from ingest.search_retention import purge_search_indices
from storage.search import (
    SearchBackend,
    ensure_templates,
    events_pattern,
    index_events,
)
from tests.support.postgres import free_port
from tests.support.search_backends import backend_of
from tests.support.search_nodes import SearchNode
from wachter.jobs import Job, jobs_for

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
JOB = "storage.purge_search_indices"


@dataclasses.dataclass(frozen=True)
class StoredEvent:
    source: str
    event_key: str
    timestamp: datetime
    document: str


def event_on(day: datetime) -> StoredEvent:
    document = {"@timestamp": day.isoformat().replace("+00:00", "Z"), "message": "x"}
    return StoredEvent("test", day.isoformat(), day, orjson.dumps(document).decode())


def scale_out(settings: Settings, url: str, kind: str, prefix: str) -> Settings:
    return dataclasses.replace(
        settings,
        elasticsearch_url=url,
        elasticsearch_kind=kind,
        elasticsearch_index_prefix=prefix,
        retention_days=30,
    )


def retention_job(settings: Settings) -> Job:
    return {job.name: job for job in jobs_for(settings)}[JOB]


def test_the_daily_job_deletes_the_indices_older_than_the_retention_by_name(
    node: tuple[str, SearchNode],
    backend: SearchBackend,
    prefix: str,
    settings: Settings,
    db_session: Session,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ensure_templates(backend, prefix)
    # Retention 30 days at 2026-12-01 03:00: 2026-11-01 holds events younger than that.
    days = [datetime(2026, month, day, 12, tzinfo=UTC) for month, day in ((10, 30), (10, 31))]
    days.append(datetime(2026, 11, 1, 0, 5, tzinfo=UTC))
    index_events(backend, [event_on(day) for day in days], prefix=prefix)
    kind, server = node
    job = retention_job(scale_out(settings, server.url, kind, prefix))

    with caplog.at_level(logging.INFO):
        job.run(db_session, NOW)

    assert job.interval == timedelta(days=1)
    assert backend.indices(events_pattern(prefix)) == [f"{prefix}-events-2026.11.01"]
    deleted = [r.__dict__["wachter.index"] for r in caplog.records if "wachter.index" in r.__dict__]
    assert deleted == [f"{prefix}-events-2026.10.30", f"{prefix}-events-2026.10.31"]
    [summary] = [r for r in caplog.records if r.getMessage() == "old search indices deleted"]
    assert summary.__dict__["wachter.indices_deleted"] == 2


def test_an_index_that_only_looks_like_wachters_is_kept(
    backend: SearchBackend, prefix: str
) -> None:
    lookalike = f"{prefix}-events-2026.10.30-restored"
    action = orjson.dumps({"create": {"_index": lookalike, "_id": "1"}})
    [result] = backend.bulk(action + b"\n" + b'{"message": "x"}\n')
    assert result["create"]["status"] == 201

    deleted = purge_search_indices(backend, prefix=prefix, retention_days=30, now=NOW)

    assert deleted == []
    assert backend.indices(events_pattern(prefix)) == [lookalike]


@pytest.mark.parametrize("kind", ["elasticsearch", "opensearch"])
def test_an_unreachable_cluster_is_a_warning_and_the_job_raises_nothing(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    gone = backend_of(kind, f"http://127.0.0.1:{free_port()}", max_retries=0)

    with caplog.at_level(logging.WARNING):
        deleted = purge_search_indices(gone, prefix="wachter", retention_days=30, now=NOW)

    assert deleted == []
    [warning] = [r for r in caplog.records if r.name == "wachter.ingest.search"]
    assert warning.levelno == logging.WARNING
    assert "unavailable" in warning.getMessage()


def test_embedded_mode_has_no_cluster_retention_job(settings: Settings) -> None:
    assert settings.is_embedded
    assert JOB not in {job.name for job in jobs_for(settings)}


@pytest.mark.parametrize(
    ("retention_days", "now", "message"),
    [
        (0, NOW, "at least 1"),
        (30, NOW.replace(tzinfo=None), "aware"),
    ],
)
def test_a_bad_retention_or_a_naive_time_is_refused_before_any_request(
    retention_days: int, now: datetime, message: str
) -> None:
    nowhere = backend_of("elasticsearch", f"http://127.0.0.1:{free_port()}", max_retries=0)

    with pytest.raises(ValueError, match=message):
        purge_search_indices(nowhere, prefix="wachter", retention_days=retention_days, now=now)
