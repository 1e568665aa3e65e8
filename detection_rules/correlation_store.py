"""Correlation windows kept in the database between batches, for both feeders.

The correlation engine holds its open windows in memory; after each batch (the streaming
matcher) or run (the scheduled searches) its changes (``CorrelationEngine.dirty``) are
written here in the same transaction as the detections, so a crash or a second worker
picks up exactly the committed windows. Each feeder has its own table with the same
columns (``detection_rules.models.CorrelationStateColumns``): the streaming matcher sees
Wachter's own events and the scheduled searches see other indices, so their windows for
the same rule are different windows and must not overwrite each other.

Rows whose rule version is no longer the loaded one are ignored on load (a new version
starts with empty windows) and left for the rule's next change to replace.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from detection_rules.engine import DetectionEngine
from detection_rules.models import CorrelationState, SearchCorrelationState

StateTable = type[CorrelationState] | type[SearchCorrelationState]


def load_windows(
    session: Session,
    engine: DetectionEngine,
    table: StateTable,
    *,
    skip_keys: Iterable[str] = (),
) -> None:
    """Replace the engine's windows with the stored ones of its rule versions."""
    versions = engine.versions
    skipped = list(skip_keys)
    query = select(table.rule_key, table.rule_version, table.group_key, table.state)
    if skipped:
        query = query.where(table.rule_key.not_in(skipped))
    groups: dict[str, dict[str, Any]] = {}
    for rule_key, version, group_key, state in session.execute(query):
        if versions.get(rule_key) == version:
            groups.setdefault(rule_key, {})[group_key] = orjson.loads(state)
    engine.correlations.load({"format": 1, "groups": groups})
    engine.correlations.dirty()  # what was just loaded is not a change


def save_window_changes(
    session: Session, engine: DetectionEngine, table: StateTable, *, now: datetime
) -> None:
    """Write the windows that changed since the last call, delete the closed ones."""
    # Columns and bulk statements, not ORM objects: a busy batch changes many groups.
    changes = engine.correlations.dirty()
    for rule_key, keys in changes.get("deleted", {}).items():
        session.execute(delete(table).where(table.rule_key == rule_key, table.group_key.in_(keys)))
    for rule_key, changed in changes.get("changed", {}).items():
        version = engine.versions.get(rule_key, 0)
        session.execute(
            delete(table).where(table.rule_key == rule_key, table.group_key.in_(list(changed)))
        )
        session.add_all(
            table(
                rule_key=rule_key,
                rule_version=version,
                group_key=key,
                state=orjson.dumps(data).decode(),
                updated_at=now,
            )
            for key, data in changed.items()
        )
