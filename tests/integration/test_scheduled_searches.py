"""The scheduled searches job on real Elasticsearch 9 and OpenSearch 3 nodes: Beats to alert.

Documents shaped as Winlogbeat writes them (ECS, ``winlog.event_data``) sit in a
``winlogbeat``-style index; Wachter's rules (Sigma, Windows field names) run as searches
through the ECS pipeline. Shown here: a hit becomes one detection with a copy of its
document and an explanation, and then an alert with the document's user as an entity; a
second run reports nothing again; a correlation over the searched hits fires through the
same engine as the streaming matcher and its windows survive a new process; Wachter's own
event and alert indices are never searched; a disabled rule is not run; an unreachable cluster
writes nothing.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from access_control import Actor
from core import Settings
from detection_rules.loading import RuleSource
from detection_rules.models import Detection, SearchCorrelationState
from detection_rules.search.models import SearchCheckpoint, SearchHitSeen
from detection_rules.search.scheduled import JOB_NAME, ScheduledSearches, expire_document_copies
from detection_rules.service import (
    detection_events,
    disable_rule,
    documents_of,
    explanation_of,
    import_rules,
)
from incidents.alerts import raise_alerts
from incidents.alerts.models import Alert, AlertEntity
from storage import JobLease
from storage.search import SearchBackend
from tests.conftest import TEST_ENCRYPTION_KEY
from tests.support.postgres import free_port
from tests.support.search_backends import backend_of
from wachter.jobs import jobs_for

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
LOOKBACK = timedelta(minutes=2)
ADMIN = Actor(name="alice")
SQLITE = pytest.mark.parametrize("database", ["sqlite"], indirect=True)

FAILED_ADMIN = """
title: Failed sign-in of an admin account
id: 5a0c1e2d-0000-4000-8000-0000000000a1
name: failed_admin_sign_in
status: test
logsource: {product: windows, service: security}
detection:
  selection:
    EventID: 4625
    TargetUserName|endswith: adm
  condition: selection
level: medium
"""
CLEARED_LOG = """
title: Security log cleared
id: 5a0c1e2d-0000-4000-8000-0000000000a2
status: test
logsource: {product: windows, service: security}
detection:
  selection:
    EventID: 1102
  condition: selection
level: high
"""
GUESSING = """
title: Password guessing on an admin account
id: 5a0c1e2d-0000-4000-8000-0000000000a3
status: test
correlation:
  type: event_count
  rules: [failed_admin_sign_in]
  group-by: [TargetUserName]
  timespan: 10m
  condition: {gte: 3}
level: high
"""
MAPPINGS = {
    "dynamic_templates": [
        {"strings": {"match_mapping_type": "string", "mapping": {"type": "keyword"}}}
    ],
    "properties": {
        "@timestamp": {"type": "date"},
        "event": {"properties": {"ingested": {"type": "date"}}},
    },
}


def winlogbeat(code: int, user: str, *, seconds_ago: int, host: str = "WS-017") -> dict[str, Any]:
    """A Security-log event as Winlogbeat 8/9 ships it (ECS plus ``winlog``)."""
    at = NOW - timedelta(seconds=seconds_ago)
    return {
        "@timestamp": at.isoformat(),
        "event": {
            "code": str(code),
            "ingested": at.isoformat(),
            "provider": "Microsoft-Windows-Security-Auditing",
        },
        "host": {"name": host},
        "winlog": {
            "channel": "Security",
            "event_id": str(code),
            "event_data": {"TargetUserName": user, "TargetDomainName": "CORP"},
        },
        "message": f"An account failed to log on. Account Name: {user}",
    }


class Cluster:
    """A test's own indices on one node, under one prefix, dropped afterwards by name."""

    def __init__(self, backend: SearchBackend, prefix: str) -> None:
        self.backend = backend
        self.prefix = prefix
        self.raw: Any = backend.client  # type: ignore[attr-defined]
        self.made: list[str] = []

    def index(self, suffix: str, documents: dict[str, dict[str, Any]]) -> str:
        name = f"{self.prefix}-{suffix}"
        if name not in self.made:
            self.raw.indices.create(index=name, body={"mappings": MAPPINGS})
            self.made.append(name)
        lines = b"".join(
            orjson.dumps({"create": {"_index": name, "_id": doc_id}})
            + b"\n"
            + orjson.dumps(doc)
            + b"\n"
            for doc_id, doc in documents.items()
        )
        results = self.backend.bulk(lines)
        assert all(item["create"]["status"] == 201 for item in results), results
        self.raw.indices.refresh(index=name)
        return name

    def drop(self) -> None:
        for name in self.made:
            self.backend.delete_index(name)


@pytest.fixture(params=["elasticsearch", "opensearch"])
def cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    node = request.getfixturevalue(f"{request.param}_node")
    made = Cluster(backend_of(request.param, node.url), f"t{uuid.uuid4().hex[:10]}")
    yield made
    made.drop()


def load(session, *texts: str) -> None:
    sources = [RuleSource(f"rule-{number}.yml", text.encode()) for number, text in enumerate(texts)]
    report = import_rules(session, sources, actor=ADMIN, now=NOW - timedelta(hours=1))
    assert not report.has_errors, report.problems
    session.flush()


def searches(cluster: Cluster, pattern: str | None = None) -> ScheduledSearches:
    return ScheduledSearches(
        cluster.backend,
        patterns=[pattern or f"{cluster.prefix}-*"],
        lookback=LOOKBACK,
        exclude_prefixes=(f"{cluster.prefix}-events-", f"{cluster.prefix}-alerts"),
    )


def detections(session) -> list[Detection]:
    return list(session.scalars(select(Detection).order_by(Detection.id)))


@SQLITE
def test_a_beats_document_becomes_a_detection_and_an_alert(db_session, cluster):
    load(db_session, FAILED_ADMIN, CLEARED_LOG)
    index = cluster.index(
        "winlogbeat-2026.11.30",
        {
            "hit": winlogbeat(4625, "svc-adm", seconds_ago=30),
            "other-user": winlogbeat(4625, "bob", seconds_ago=20),
            "other-code": winlogbeat(4624, "svc-adm", seconds_ago=10),
        },
    )

    searches(cluster).run(db_session, NOW)

    [found] = detections(db_session)
    assert found.rule_key == "5a0c1e2d-0000-4000-8000-0000000000a1"
    [document] = documents_of(found)
    assert (document.index, document.id) == (index, "hit")
    assert document.source["winlog"]["event_data"]["TargetUserName"] == "svc-adm"
    assert found.event_time == NOW - timedelta(seconds=30)
    # The in-process matcher explains the cluster's hit with the same rule.
    selections = explanation_of(found).selections
    assert "svc-adm" in {field.value for selection in selections for field in selection.fields}
    shown = detection_events(db_session, found)
    assert not shown.all_missing
    assert shown.total == 1

    assert raise_alerts(db_session, now=NOW, dedup_window=timedelta(minutes=15)) == 1
    alert = db_session.scalar(select(Alert))
    assert alert.title == "Failed sign-in of an admin account"
    entities = {(entity.kind, entity.value) for entity in db_session.scalars(select(AlertEntity))}
    assert ("host", "ws-017") in entities  # normalised


@SQLITE
def test_the_next_run_reports_nothing_again_and_new_documents_once(db_session, cluster):
    load(db_session, FAILED_ADMIN)
    cluster.index("winlogbeat-2026.11.30", {"first": winlogbeat(4625, "svc-adm", seconds_ago=30)})
    job = searches(cluster)
    job.run(db_session, NOW)
    job.run(db_session, NOW + timedelta(seconds=5))  # the look-back finds "first" again
    assert len(detections(db_session)) == 1

    cluster.index("winlogbeat-2026.11.30", {"second": winlogbeat(4625, "root-adm", seconds_ago=-6)})
    job.run(db_session, NOW + timedelta(seconds=10))
    assert [documents_of(row)[0].id for row in detections(db_session)] == ["first", "second"]


@SQLITE
def test_a_correlation_over_search_hits_fires_once_across_processes(db_session, cluster):
    load(db_session, FAILED_ADMIN, GUESSING)
    cluster.index(
        "winlogbeat-2026.11.30",
        {f"try-{n}": winlogbeat(4625, "svc-adm", seconds_ago=60 - n * 10) for n in range(2)},
    )
    searches(cluster).run(db_session, NOW)
    assert db_session.scalar(select(func.count()).select_from(SearchCorrelationState)) == 1

    # A new process (another worker) continues the stored window.
    cluster.index("winlogbeat-2026.11.30", {"try-2": winlogbeat(4625, "svc-adm", seconds_ago=-3)})
    searches(cluster).run(db_session, NOW + timedelta(seconds=5))
    searches(cluster).run(db_session, NOW + timedelta(seconds=10))

    # Sigma's generate: false (the default) keeps the base rule's own hits silent.
    [fired] = detections(db_session)
    assert fired.rule_key == "5a0c1e2d-0000-4000-8000-0000000000a3"
    # group-by through the ECS pipeline, as the cluster names the field
    assert orjson.loads(fired.group_values) == {"winlog.event_data.TargetUserName": "svc-adm"}
    assert explanation_of(fired).correlation.value == 3
    assert sorted(document.id for document in documents_of(fired)) == ["try-0", "try-1", "try-2"]


@SQLITE
def test_wachters_own_indices_are_never_searched(db_session, cluster):
    load(db_session, CLEARED_LOG)
    cluster.index("events-2026.11.30", {"own": winlogbeat(1102, "bob", seconds_ago=30)})
    cluster.index("alerts", {"alert": winlogbeat(1102, "bob", seconds_ago=30)})
    cluster.index("winlogbeat-2026.11.30", {"beats": winlogbeat(1102, "bob", seconds_ago=30)})
    searches(cluster, pattern="*").run(db_session, NOW)
    assert [documents_of(row)[0].id for row in detections(db_session)] == ["beats"]


@SQLITE
def test_a_disabled_rule_is_not_searched(db_session, cluster):
    load(db_session, CLEARED_LOG)
    disable_rule(db_session, "5a0c1e2d-0000-4000-8000-0000000000a2", actor=ADMIN, now=NOW)
    cluster.index("winlogbeat-2026.11.30", {"beats": winlogbeat(1102, "bob", seconds_ago=30)})
    searches(cluster).run(db_session, NOW)
    assert detections(db_session) == []
    assert db_session.scalar(select(func.count()).select_from(SearchCheckpoint)) == 0


@SQLITE
def test_an_unreachable_cluster_writes_nothing_and_says_so(db_session, caplog):
    load(db_session, CLEARED_LOG)
    job = ScheduledSearches(
        backend_of("elasticsearch", f"http://127.0.0.1:{free_port()}", timeout=2, max_retries=0),
        patterns=["winlogbeat-*"],
        lookback=LOOKBACK,
    )
    with caplog.at_level(logging.WARNING, logger="wachter.detection.search"):
        job.run(db_session, NOW)
    assert "scheduled searches stopped for this run" in caplog.text
    for table in (Detection, SearchCheckpoint, SearchHitSeen):
        assert db_session.scalar(select(func.count()).select_from(table)) == 0


class WritesWhileSearching:
    """A cluster client that, during every search, commits a write from another connection:
    it would wait for SQLite's write lock (and fail) if the run held a transaction open."""

    def __init__(self, backend: SearchBackend, database) -> None:
        self.backend = backend
        self.database = database
        self.writes = 0

    def open_point_in_time(self, index: str, keep_alive: str) -> str | None:
        return self.backend.open_point_in_time(index, keep_alive)

    def close_point_in_time(self, pit_id: str) -> None:
        self.backend.close_point_in_time(pit_id)

    def search(self, index: str | None, body: Mapping[str, Any]) -> Mapping[str, Any]:
        with self.database.unit_of_work() as session:
            connection = session.connection()
            connection.exec_driver_sql("PRAGMA busy_timeout=200")  # fail fast, not in 5 s
            session.add(JobLease(name=f"probe-{self.writes}", holder="test", acquired_at=NOW,
                                 expires_at=NOW))  # fmt: skip
        self.writes += 1
        return self.backend.search(index, body)


@pytest.mark.parametrize("empty_database", ["sqlite"], indirect=True)
def test_no_transaction_is_held_while_the_cluster_answers(migrated_database, cluster):
    with migrated_database.unit_of_work() as session:
        load(session, CLEARED_LOG)
    cluster.index("winlogbeat-2026.11.30", {"beats": winlogbeat(1102, "bob", seconds_ago=30)})
    client = WritesWhileSearching(cluster.backend, migrated_database)
    job = ScheduledSearches(client, patterns=[f"{cluster.prefix}-*"], lookback=LOOKBACK)
    with migrated_database.unit_of_work() as session:  # as the job runner calls it
        job.run(session, NOW)
    assert client.writes >= 2  # the hits' page and the newest-time query
    with migrated_database.snapshot() as session:
        assert [documents_of(row)[0].id for row in detections(session)] == ["beats"]


@SQLITE
def test_document_copies_follow_event_retention_and_keep_their_reference(db_session, cluster):
    load(db_session, CLEARED_LOG)
    index = cluster.index("winlogbeat-2026.11.30", {"old": winlogbeat(1102, "bob", seconds_ago=30)})
    searches(cluster).run(db_session, NOW)
    [row] = detections(db_session)

    assert expire_document_copies(db_session, before=NOW) == 0  # not older than the cut-off
    assert documents_of(row)[0].source is not None
    assert expire_document_copies(db_session, before=NOW + timedelta(seconds=1)) == 1
    db_session.expire_all()
    [kept] = documents_of(db_session.get(Detection, row.id))
    assert (kept.index, kept.id, kept.source) == (index, "old", None)
    assert expire_document_copies(db_session, before=NOW + timedelta(days=1)) == 0  # once


def test_the_jobs_are_there_in_scale_out_mode_only(tmp_path):
    base = Settings(
        data_dir=tmp_path,
        database_url="sqlite:///unused.db",
        encryption_keys=(TEST_ENCRYPTION_KEY,),  # other jobs need one
    )
    scale_out = dataclasses.replace(base, elasticsearch_url="http://127.0.0.1:9")
    with_indices = dataclasses.replace(
        scale_out, detection_indices=("winlogbeat-*",), detection_interval_seconds=30
    )
    names = {name: {job.name: job for job in jobs_for(settings)} for name, settings in
             (("embedded", base), ("scale-out", scale_out), ("indices", with_indices))}  # fmt: skip
    assert JOB_NAME not in names["embedded"]
    assert JOB_NAME not in names["scale-out"]  # nothing named to search
    assert names["indices"][JOB_NAME].interval == timedelta(seconds=30)
    copies = "detection_rules.expire_document_copies"
    assert copies not in names["embedded"]
    assert copies in names["scale-out"]
