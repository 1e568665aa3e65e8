"""Correlation state: snapshot and restore across a restart, dirty(), and bounded memory."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
import pytest

from detection_rules.correlation import CorrelationEngine, CorrelationHit, merge_changes
from tests.unit.detection_rules.test_correlation_support import (
    at,
    compiled,
    engine_for,
    feed,
    keys,
    user,
)

RULES = """
title: Brute force
name: brute_force
correlation:
    type: event_count
    rules: [failed_login]
    group-by: [user.name]
    timespan: 5m
    condition: {gte: 3}
---
title: Spraying
name: spraying
correlation:
    type: value_count
    rules: [failed_login]
    group-by: [source.ip]
    timespan: 5m
    condition: {gte: 3, field: user.name}
---
title: Badge and VPN
name: badge_and_vpn
correlation:
    type: temporal
    rules: [badge_access, vpn_login]
    group-by: [user.name]
    timespan: 5m
---
title: Brute force then success
name: brute_force_success
correlation:
    type: temporal_ordered
    rules: [brute_force, successful_login]
    group-by: [user.name]
    timespan: 10m
---
title: Quiet VPN user
name: quiet_vpn
correlation:
    type: event_count
    rules: [vpn_login]
    group-by: [user.name]
    timespan: 5m
    condition: {lt: 2}
"""

# (rule, seconds, ref, user, source ip): late events, bursts, every correlation type.
EVENTS: list[tuple[str, float, int, str, str]] = [
    ("failed_login", 0, 1, "alice", "203.0.113.7"),
    ("vpn_login", 5, 2, "bob", "198.51.100.1"),
    ("failed_login", 30, 3, "bob", "203.0.113.7"),
    ("failed_login", 20, 4, "alice", "203.0.113.7"),
    ("badge_access", 60, 5, "bob", "198.51.100.1"),
    ("failed_login", 90, 6, "carol", "203.0.113.7"),
    ("failed_login", 100, 7, "alice", "203.0.113.7"),
    ("successful_login", 160, 8, "alice", "203.0.113.7"),
    ("vpn_login", 200, 9, "carol", "198.51.100.1"),
    ("failed_login", 500, 10, "alice", "203.0.113.7"),
    ("vpn_login", 700, 11, "carol", "198.51.100.1"),
]


def run(engine: CorrelationEngine, events: list[tuple[str, float, int, str, str]]) -> list[Any]:
    hits: list[CorrelationHit] = []
    for rule, seconds, ref, name, source in events:
        hits += feed(engine, rule, seconds, ref, user(name, **{"source.ip": source}))
        hits += engine.advance(at(seconds - 60))  # a watermark a minute behind
    return [_summary(hit) for hit in hits]


def _summary(hit: CorrelationHit) -> tuple[Any, ...]:
    return (hit.correlation.key, hit.group, hit.event_refs, hit.value, hit.first_time)


def through_json(state: dict[str, Any]) -> dict[str, Any]:
    loaded: dict[str, Any] = orjson.loads(orjson.dumps(state))
    return loaded


@pytest.mark.parametrize("restart_after", range(len(EVENTS) + 1))
def test_a_restart_at_any_point_changes_no_hit(restart_after: int) -> None:
    uninterrupted = run(engine_for(RULES), EVENTS)
    assert uninterrupted  # the scenario fires

    before = engine_for(RULES)
    hits = run(before, EVENTS[:restart_after])
    after = CorrelationEngine.restore(compiled(RULES), through_json(before.snapshot()))
    hits += run(after, EVENTS[restart_after:])
    assert hits == uninterrupted


def test_a_half_filled_window_before_a_restart_fires_after_it() -> None:
    engine = engine_for(RULES)
    feed(engine, "failed_login", 0, 1, user("alice"))
    feed(engine, "failed_login", 10, 2, user("alice"))
    state = through_json(engine.snapshot())

    restored = CorrelationEngine.restore(compiled(RULES), state)
    hits = feed(restored, "failed_login", 20, 3, user("alice"))
    assert keys(hits) == ["brute_force"]
    assert hits[0].event_refs == (1, 2, 3)


def test_a_closing_window_survives_a_restart_and_fires_when_it_closes() -> None:
    engine = engine_for(RULES)
    feed(engine, "vpn_login", 0, 1, user("dave"))
    restored = CorrelationEngine.restore(compiled(RULES), through_json(engine.snapshot()))
    assert restored.advance(at(300)) == []
    (hit,) = restored.advance(at(301))
    assert (hit.correlation.key, hit.event_refs) == ("quiet_vpn", (1,))


def test_state_saved_under_another_version_of_a_rule_is_not_resumed() -> None:
    engine = engine_for(RULES)
    feed(engine, "failed_login", 0, 1, user("alice"))
    feed(engine, "failed_login", 10, 2, user("alice"))
    changed = RULES.replace("condition: {gte: 3}", "condition: {gte: 4}", 1)
    restored = CorrelationEngine.restore(compiled(changed), through_json(engine.snapshot()))
    assert "brute_force" not in restored.snapshot()["groups"]
    # The value_count rule did not change: its group came back.
    assert list(restored.snapshot()["groups"]["spraying"]) == ["[null]"]


def test_state_of_a_rule_no_longer_loaded_is_ignored() -> None:
    engine = engine_for(RULES)
    feed(engine, "failed_login", 0, 1, user("alice"))
    only_spraying = [c for c in compiled(RULES) if c.key == "spraying"]
    restored = CorrelationEngine.restore(only_spraying, through_json(engine.snapshot()))
    assert set(restored.snapshot()["groups"]) == {"spraying"}
    assert restored.dirty()["deleted"] == {"brute_force": ['["alice"]']}
    assert restored.dirty()["deleted"] == {}


def test_a_state_of_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown correlation state format: 99"):
        CorrelationEngine.restore(compiled(RULES), {"format": 99, "groups": {}})


def test_dirty_returns_the_groups_changed_since_its_last_call_then_nothing() -> None:
    engine = engine_for(RULES)
    feed(engine, "failed_login", 0, 1, user("alice", **{"source.ip": "203.0.113.7"}))
    changes = engine.dirty()
    assert changes["deleted"] == {}
    assert set(changes["changed"]) == {"brute_force", "spraying"}
    alice = changes["changed"]["brute_force"]['["alice"]']
    assert alice["sliding"]["entries"] == [[at(0).timestamp() * 1_000_000, None, [1]]]
    assert list(changes["changed"]["spraying"]) == ['["203.0.113.7"]']
    assert engine.dirty() == {"format": 1, "changed": {}, "deleted": {}}

    feed(engine, "failed_login", 1, 2, user("bob", **{"source.ip": "203.0.113.7"}))
    assert {k: list(v) for k, v in engine.dirty()["changed"].items()} == {
        "brute_force": ['["bob"]'],
        "spraying": ['["203.0.113.7"]'],
    }


def test_dirty_lists_groups_deleted_by_expiry_and_merging_it_gives_the_snapshot() -> None:
    engine = engine_for(RULES)
    saved = engine.snapshot()
    feed(engine, "failed_login", 0, 1, user("alice", **{"source.ip": "203.0.113.7"}))
    saved = merge_changes(saved, through_json(engine.dirty()))
    assert saved == engine.snapshot()

    feed(engine, "vpn_login", 400, 2, user("bob"))
    assert engine.advance(at(350)) == []  # alice's window ended at 300: forgotten
    changes = through_json(engine.dirty())
    assert changes["deleted"] == {"brute_force": ['["alice"]'], "spraying": ['["203.0.113.7"]']}
    assert set(changes["changed"]) == {"badge_and_vpn", "quiet_vpn"}
    saved = merge_changes(saved, changes)
    assert saved == engine.snapshot()
    assert set(saved["groups"]) == {"badge_and_vpn", "quiet_vpn"}


def test_advance_forgets_idle_groups() -> None:
    engine = engine_for(RULES)
    feed(engine, "failed_login", 0, 1, user("alice"))
    feed(engine, "badge_access", 0, 2, user("alice"))
    assert engine.advance(at(300)) == []
    assert engine.snapshot()["groups"] != {}
    assert engine.advance(at(301)) == []
    assert engine.snapshot() == {"format": 1, "groups": {}}


def test_past_max_groups_the_least_recently_seen_group_is_evicted() -> None:
    engine = engine_for(RULES, max_groups=2)
    feed(engine, "failed_login", 0, 1, user("alice"))
    feed(engine, "failed_login", 1, 2, user("bob"))
    feed(engine, "failed_login", 2, 3, user("alice"))  # alice seen last: bob is oldest
    feed(engine, "failed_login", 3, 4, user("carol"))
    assert engine.evicted == 1  # bob (spraying has one group: no source.ip, null)
    assert set(engine.snapshot()["groups"]["brute_force"]) == {'["alice"]', '["carol"]'}
    assert engine.dirty()["deleted"]["brute_force"] == ['["bob"]']
    # bob starts afresh (evicting alice, now the oldest): two more failures are not three.
    feed(engine, "failed_login", 4, 5, user("bob"))
    assert engine.evicted == 2
    assert keys(feed(engine, "failed_login", 5, 6, user("bob"))) == []
    feed(engine, "failed_login", 6, 7, user("carol"))
    hits = feed(engine, "failed_login", 7, 8, user("carol"))
    (hit,) = [h for h in hits if h.correlation.key == "brute_force"]
    assert hit.event_refs == (4, 7, 8)


def test_past_the_ref_budget_the_count_stays_exact_and_the_hit_says_truncated() -> None:
    engine = engine_for(RULES.replace("{gte: 3}", "{gte: 5}", 1), max_events_per_window=3)
    hits: list[CorrelationHit] = []
    for ref in range(5):
        hits += feed(engine, "failed_login", ref, ref, user("alice"))
    (hit,) = [hit for hit in hits if hit.correlation.key == "brute_force"]
    assert hit.value == 5
    assert hit.event_refs == (0, 1, 2)
    assert hit.truncated
    assert (hit.first_time, hit.last_time) == (at(0), at(4))


def test_a_closing_window_past_the_ref_budget_counts_exactly_and_says_truncated() -> None:
    engine = engine_for(RULES.replace("{lt: 2}", "{lt: 9}"), max_events_per_window=2)
    for ref in range(4):
        feed(engine, "vpn_login", ref, ref, user("erin"))
    (hit,) = engine.advance(at(400))
    assert (hit.value, hit.event_refs, hit.truncated) == (4, (0, 1), True)


def test_times_without_a_time_zone_are_refused() -> None:
    engine = engine_for(RULES)
    with pytest.raises(ValueError, match="timezone-aware"):
        engine.observe("failed_login", {}, time=datetime(2026, 3, 2, 10, 0), event_ref=1)
