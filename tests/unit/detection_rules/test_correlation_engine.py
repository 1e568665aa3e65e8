"""What the correlation engine fires on: types, operators, windows, grouping, chaining."""

from __future__ import annotations

import pytest

from detection_rules.correlation import CorrelationEngine
from tests.unit.detection_rules.test_correlation_support import (
    T0,
    at,
    engine_for,
    feed,
    keys,
    user,
)

BRUTE_FORCE = """
title: Brute force on one account
name: brute_force
correlation:
    type: event_count
    rules: [failed_login]
    group-by: [user.name]
    timespan: 5m
    condition: {%s: %d}
"""


def brute_force(operator: str = "gte", count: int = 3) -> CorrelationEngine:
    return engine_for(BRUTE_FORCE % (operator, count))


def test_event_count_fires_when_the_count_is_reached_within_the_timespan() -> None:
    engine = brute_force("gte", 3)
    assert feed(engine, "failed_login", 0, 1, user("alice")) == []
    assert feed(engine, "failed_login", 60, 2, user("alice")) == []
    (hit,) = feed(engine, "failed_login", 120, 3, user("alice"))
    assert hit.correlation.key == "brute_force"
    assert hit.group == {"user.name": "alice"}
    assert hit.value == 3
    assert hit.event_refs == (1, 2, 3)
    assert (hit.first_time, hit.last_time) == (at(0), at(120))
    assert not hit.truncated


def test_events_of_a_rule_the_correlation_does_not_refer_to_are_not_counted() -> None:
    engine = brute_force("gte", 2)
    assert feed(engine, "successful_login", 0, 1, user("alice")) == []
    assert feed(engine, "failed_login", 1, 2, user("alice")) == []


@pytest.mark.parametrize(
    ("operator", "count", "fires_at"),
    [("gte", 3, 3), ("gt", 2, 3), ("eq", 3, 3), ("neq", 1, 2), ("neq", 4, 1)],
)
def test_arrival_checked_operators_fire_on_the_event_that_satisfies_them(
    operator: str, count: int, fires_at: int
) -> None:
    engine = brute_force(operator, count)
    fired = [
        ref for ref in range(1, 6) if feed(engine, "failed_login", ref * 10, ref, user("alice"))
    ]
    # Each fires once, then the window starts afresh (neq 4 fires at every event).
    assert fired[0] == fires_at


@pytest.mark.parametrize(
    ("operator", "count", "events", "fires"),
    [
        ("lt", 3, 2, True),
        ("lt", 3, 3, False),
        ("lte", 2, 2, True),
        ("lte", 2, 3, False),
    ],
)
def test_too_few_conditions_fire_when_advance_closes_the_window(
    operator: str, count: int, events: int, fires: bool
) -> None:
    engine = brute_force(operator, count)
    for ref in range(events):
        assert feed(engine, "failed_login", ref * 10, ref, user("alice")) == []
    # The window opened at the first event and spans five minutes, both ends included.
    assert engine.advance(at(300)) == []
    hits = engine.advance(at(300.001))
    assert bool(hits) is fires
    if fires:
        (hit,) = hits
        assert hit.value == events
        assert hit.event_refs == tuple(range(events))
        assert (hit.first_time, hit.last_time) == (at(0), at(300))
    assert engine.advance(at(10_000)) == []


def test_a_too_few_window_holds_only_the_events_of_its_timespan() -> None:
    engine = brute_force("lt", 2)
    feed(engine, "failed_login", 0, "a", user("alice"))
    feed(engine, "failed_login", 400, "b", user("alice"))  # after the first window: a new one
    first, second = engine.advance(at(1000))
    assert (first.event_refs, second.event_refs) == (("a",), ("b",))
    assert second.first_time == at(400)


def test_the_window_slides_across_clock_aligned_bucket_boundaries() -> None:
    engine = brute_force("gte", 4)
    # 09:58, 09:59 | 10:00:30, 10:01:30: two per 5-minute bucket, four in 3.5 minutes.
    for ref, seconds in enumerate([-120, -60]):
        assert feed(engine, "failed_login", seconds, ref, user("alice")) == []
    assert feed(engine, "failed_login", 30, 2, user("alice")) == []
    (hit,) = feed(engine, "failed_login", 90, 3, user("alice"))
    assert hit.first_time == T0.replace(minute=58, hour=9)
    assert hit.value == 4


def test_events_older_than_the_timespan_drop_out_of_the_window() -> None:
    engine = brute_force("gte", 3)
    feed(engine, "failed_login", 0, 1, user("alice"))
    feed(engine, "failed_login", 100, 2, user("alice"))
    assert feed(engine, "failed_login", 301, 3, user("alice")) == []  # the first has expired
    (hit,) = feed(engine, "failed_login", 400, 4, user("alice"))  # exactly 300 s after ref 2
    assert hit.event_refs == (2, 3, 4)


def test_a_late_event_is_placed_by_its_time() -> None:
    engine = brute_force("gte", 3)
    feed(engine, "failed_login", 200, "c", user("alice"))
    feed(engine, "failed_login", 100, "a", user("alice"))
    (hit,) = feed(engine, "failed_login", 150, "b", user("alice"))
    assert hit.event_refs == ("a", "b", "c")
    assert (hit.first_time, hit.last_time) == (at(100), at(200))


def test_an_event_too_late_to_share_the_groups_window_is_counted_in_its_own() -> None:
    engine = brute_force("gte", 2)
    feed(engine, "failed_login", 1000, "new", user("alice"))
    # 600 is more than five minutes before 1000: it cannot be measured with what expired.
    assert feed(engine, "failed_login", 600, "late", user("alice")) == []
    assert feed(engine, "failed_login", 610, "later", user("alice")) == []
    (hit,) = feed(engine, "failed_login", 1010, "next", user("alice"))
    assert hit.event_refs == ("new", "next")
    alone = brute_force("gte", 1)
    feed(alone, "failed_login", 1000, "new", user("alice"))
    (late,) = feed(alone, "failed_login", 600, "late", user("alice"))
    assert late.event_refs == ("late",)


def test_after_firing_the_window_resets_so_a_burst_fires_once_per_count() -> None:
    engine = brute_force("gte", 3)
    hits = [hit for ref in range(7) for hit in feed(engine, "failed_login", ref, ref, user("bob"))]
    assert [hit.event_refs for hit in hits] == [(0, 1, 2), (3, 4, 5)]


def test_groups_are_counted_apart_and_a_missing_field_groups_under_null() -> None:
    engine = brute_force("gte", 2)
    assert feed(engine, "failed_login", 0, 1, user("alice")) == []
    assert feed(engine, "failed_login", 1, 2, user("bob")) == []
    assert feed(engine, "failed_login", 2, 3, user(None)) == []
    (hit,) = feed(engine, "failed_login", 3, 4, {"user": {"name": None}})
    assert hit.group == {"user.name": None}
    assert hit.event_refs == (3, 4)


def test_a_field_with_several_values_groups_under_the_list_of_them() -> None:
    engine = brute_force("gte", 2)
    feed(engine, "failed_login", 0, 1, {"user.name": ["alice", "bob"]})
    assert feed(engine, "failed_login", 1, 2, user("alice")) == []
    (hit,) = feed(engine, "failed_login", 2, 3, {"user": {"name": ["alice", "bob"]}})
    assert hit.group == {"user.name": ["alice", "bob"]}


def test_one_event_matched_by_two_referenced_rules_counts_once() -> None:
    engine = engine_for(
        """
title: Auth noise
name: auth_noise
correlation:
    type: event_count
    rules: [failed_login, vpn_login]
    timespan: 5m
    condition: {gte: 2}
"""
    )
    event = {"event": {"outcome": "failure", "action": "vpn-login"}}
    assert engine.observe("failed_login", event, time=at(0), event_ref=event) == []
    assert engine.observe("vpn_login", event, time=at(0), event_ref=event) == []
    other = dict(event)  # equal content, another event
    (hit,) = engine.observe("vpn_login", other, time=at(0), event_ref=other)
    assert hit.event_refs == (event, other)


SPRAYING = """
title: Password spraying from one source
name: spraying
correlation:
    type: value_count
    rules: [failed_login]
    group-by: [source.ip]
    timespan: 10m
    condition: {%s: 3, field: user.name}
"""


def test_value_count_counts_distinct_values_of_its_field() -> None:
    engine = engine_for(SPRAYING % "gte")
    source = {"source.ip": "203.0.113.7"}
    assert feed(engine, "failed_login", 0, 1, user("alice", **source)) == []
    assert feed(engine, "failed_login", 1, 2, user("alice", **source)) == []
    assert feed(engine, "failed_login", 2, 3, user(None, **source)) == []  # no user: not counted
    assert feed(engine, "failed_login", 3, 4, user("bob", **{"source.ip": "198.51.100.1"})) == []
    (hit,) = feed(engine, "failed_login", 4, 5, {"user.name": ["bob", "carol"], **source})
    assert hit.value == 3
    assert hit.group == {"source.ip": "203.0.113.7"}
    # The latest event of each value is the evidence; one event with two values is one ref.
    assert hit.event_refs == (2, 5)


def test_value_count_too_few_distinct_values_fires_when_the_window_closes() -> None:
    engine = engine_for(SPRAYING % "lt")
    source = {"source.ip": "203.0.113.7"}
    for ref, name in enumerate(["alice", "alice", "bob", "bob"]):
        feed(engine, "failed_login", ref, ref, user(name, **source))
    (hit,) = engine.advance(at(601))
    assert hit.value == 2
    assert hit.event_refs == (0, 1, 2, 3)


BADGE_AND_VPN = """
title: Badge and VPN for one person within minutes
name: badge_and_vpn
correlation:
    type: %s
    rules: [badge_access, vpn_login]
    group-by: [person]
    timespan: 10m
    aliases:
        person:
            badge_access: badge.holder
            vpn_login: user.name
"""


def test_temporal_fires_when_every_rule_matched_for_the_group_in_any_order() -> None:
    engine = engine_for(BADGE_AND_VPN % "temporal")
    assert feed(engine, "vpn_login", 0, "v1", user("alice")) == []
    assert feed(engine, "vpn_login", 10, "v2", user("alice")) == []
    assert feed(engine, "badge_access", 20, "b0", {"badge.holder": "bob"}) == []
    (hit,) = feed(engine, "badge_access", 30, "b1", {"badge.holder": "alice"})
    assert hit.group == {"person": "alice"}
    assert hit.value == 2
    assert hit.event_refs == ("v2", "b1")


def test_temporal_does_not_fire_when_the_rules_matched_too_far_apart() -> None:
    engine = engine_for(BADGE_AND_VPN % "temporal")
    assert feed(engine, "vpn_login", 0, "v", user("alice")) == []
    assert feed(engine, "badge_access", 601, "b", {"badge.holder": "alice"}) == []


def test_temporal_ordered_needs_the_rules_in_their_order() -> None:
    engine = engine_for(BADGE_AND_VPN % "temporal_ordered")
    assert feed(engine, "vpn_login", 0, "v1", user("alice")) == []
    assert feed(engine, "badge_access", 10, "b1", {"badge.holder": "alice"}) == []
    (hit,) = feed(engine, "vpn_login", 20, "v2", user("alice"))
    assert hit.event_refs == ("b1", "v2")


def test_temporal_ordered_places_a_late_first_step_before_a_later_second() -> None:
    engine = engine_for(BADGE_AND_VPN % "temporal_ordered")
    assert feed(engine, "vpn_login", 200, "v", user("alice")) == []
    (hit,) = feed(engine, "badge_access", 100, "b", {"badge.holder": "alice"})
    assert hit.event_refs == ("b", "v")


def test_temporal_ordered_does_not_take_one_event_for_two_steps() -> None:
    engine = engine_for(
        """
title: Failure then VPN
name: failure_then_vpn
correlation:
    type: temporal_ordered
    rules: [failed_login, vpn_login]
    timespan: 5m
"""
    )
    event = {"event": {"outcome": "failure", "action": "vpn-login"}}
    assert engine.observe("failed_login", event, time=at(0), event_ref=7) == []
    assert engine.observe("vpn_login", event, time=at(0), event_ref=7) == []
    assert len(engine.observe("vpn_login", event, time=at(1), event_ref=8)) == 1


def test_temporal_too_few_rules_fires_when_the_window_closes() -> None:
    engine = engine_for(
        """
title: Badge without VPN
name: badge_without_vpn
correlation:
    type: temporal
    rules: [badge_access, vpn_login]
    group-by: [user.name]
    timespan: 10m
    condition: {lt: 2}
"""
    )
    feed(engine, "badge_access", 0, "alice badge", user("alice"))
    feed(engine, "badge_access", 0, "bob badge", user("bob"))
    feed(engine, "vpn_login", 60, "bob vpn", user("bob"))
    (hit,) = engine.advance(at(601))
    assert hit.group == {"user.name": "alice"}
    assert hit.value == 1


CHAINED = """
title: Many failures
name: many_failures
correlation:
    type: event_count
    rules: [failed_login]
    group-by: [user.name]
    timespan: 5m
    condition: {gte: 3}
---
title: Brute force followed by a successful login
name: brute_force_success
level: high
correlation:
    type: temporal_ordered
    rules: [many_failures, successful_login]
    group-by: [user.name]
    timespan: 10m
"""


def test_a_chained_correlation_fires_on_a_burst_of_failures_then_a_success() -> None:
    engine = engine_for(CHAINED)
    assert feed(engine, "successful_login", 0, "early", user("alice")) == []
    for ref in range(2):
        assert feed(engine, "failed_login", 10 + ref, ref, user("alice")) == []
    inner = feed(engine, "failed_login", 12, 2, user("alice"))
    assert keys(inner) == ["many_failures"]
    (outer,) = feed(engine, "successful_login", 100, "ok", user("alice"))
    assert outer.correlation.key == "brute_force_success"
    assert outer.group == {"user.name": "alice"}
    assert outer.event_refs == (0, 1, 2, "ok")
    assert outer.last_time == at(100)


def test_a_chained_correlation_ignores_a_success_for_another_user_or_before_the_burst() -> None:
    engine = engine_for(CHAINED)
    feed(engine, "successful_login", 5, "before", user("alice"))
    for ref in range(3):
        feed(engine, "failed_login", 10 + ref, ref, user("alice"))
    assert feed(engine, "successful_login", 100, "bob", user("bob")) == []
    assert feed(engine, "successful_login", 13 + 600, "too late", user("alice")) == []


def test_a_hit_from_a_closing_window_feeds_the_correlations_that_refer_to_it() -> None:
    engine = engine_for(
        """
title: A single failure
name: single_failure
correlation:
    type: event_count
    rules: [failed_login]
    group-by: [user.name]
    timespan: 1m
    condition: {lt: 2}
---
title: Lone failure then a VPN login
name: lone_failure_vpn
correlation:
    type: temporal_ordered
    rules: [single_failure, vpn_login]
    group-by: [user.name]
    timespan: 10m
"""
    )
    feed(engine, "failed_login", 0, "f", user("alice"))
    assert keys(engine.advance(at(61))) == ["single_failure"]
    (hit,) = feed(engine, "vpn_login", 120, "v", user("alice"))
    assert hit.event_refs == ("f", "v")


def test_temporal_ordered_follows_the_run_that_started_last_when_an_earlier_one_expires() -> None:
    engine = engine_for(
        """
title: Badge, VPN, failure
name: badge_vpn_failure
correlation:
    type: temporal_ordered
    rules: [badge_access, vpn_login, failed_login]
    timespan: 100s
"""
    )
    for rule, seconds, ref in [
        ("badge_access", 0, "b1"),
        ("vpn_login", 10, "v1"),
        ("badge_access", 50, "b2"),
        ("vpn_login", 60, "v2"),
    ]:
        assert feed(engine, rule, seconds, ref) == []
    # b1 is more than 100 s before 120; the run b2, v2 still fits.
    (hit,) = feed(engine, "failed_login", 120, "f")
    assert hit.event_refs == ("b2", "v2", "f")
    assert hit.value == 3
