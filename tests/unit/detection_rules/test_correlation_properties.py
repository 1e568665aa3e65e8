"""The engine against slow, literal references (hypothesis), for random times, groups, values.

The references restate the semantics in the most direct way (lists, full scans) rather than
the engine's way (sorted windows, latest-per-value, a dynamic programme over steps):

* events in time order: at each event, take the group's events since its last hit that lie
  in ``[t - timespan, t]``; the engine fires iff that window satisfies the condition, and a
  hit resets the group (its window starts empty);
* events in any order: a group holds its events within one timespan of its newest event; an
  event older than that is measured alone; the held events are measured after each arrival.
"""

from __future__ import annotations

from collections import defaultdict
from functools import cache
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from detection_rules.correlation import CompiledCorrelation, CorrelationEngine
from tests.unit.detection_rules.test_correlation_support import at, compiled

SPANS = (30, 120)
COUNTS = (1, 2, 3, 5)
RULE_KEYS = ("badge_access", "vpn_login", "failed_login")


@cache
def correlation(kind: str, count: int, span: int) -> CompiledCorrelation:
    condition = {
        "event_count": f"{{gte: {count}}}",
        "value_count": f"{{gte: {count}, field: user.name}}",
        "temporal_ordered": "{gte: 3}",
    }[kind]
    rules = (
        "[badge_access, vpn_login, failed_login]" if kind == "temporal_ordered" else "[vpn_login]"
    )
    (compiled_rule,) = compiled(
        f"""
title: Property
name: property
correlation:
    type: {kind}
    rules: {rules}
    group-by: [host.name]
    timespan: {span}s
    condition: {condition}
"""
    )
    return compiled_rule


# (seconds since the previous event, host, user, rule): gaps of 0 make ties, and gaps that
# are fractions of the timespans put events exactly one timespan apart.
Event = tuple[int, int, int, int]
gaps = st.one_of(st.sampled_from([0, 10, 15, 30, 60, 120]), st.integers(0, 50))
events_strategy = st.lists(
    st.tuples(gaps, st.integers(0, 2), st.integers(0, 3), st.integers(0, len(RULE_KEYS) - 1)),
    max_size=40,
)


def timeline(events: list[Event], *, ties: bool = True) -> list[tuple[int, int, int, int, int]]:
    """(time, host, user, rule, ref) with times accumulated from the gaps, in time order."""
    time, out = 0, []
    for ref, (gap, host, user_number, rule) in enumerate(events):
        time += gap if ties else gap + 1
        out.append((time, host, user_number, rule, ref))
    return out


def run_engine(
    compiled_rule: CompiledCorrelation, arrivals: list[tuple[int, int, int, int, int]]
) -> list[tuple[Any, ...]]:
    engine = CorrelationEngine([compiled_rule])
    fired = []
    for time, host, user_number, rule, ref in arrivals:
        event = {"host": {"name": f"h{host}"}, "user": {"name": f"u{user_number}"}}
        rule_key = RULE_KEYS[rule] if compiled_rule.type == "temporal_ordered" else "vpn_login"
        for hit in engine.observe(rule_key, event, time=at(time), event_ref=ref):
            fired.append((ref, hit.group["host.name"], hit.value, hit.event_refs))
    return fired


def measure(kind: str, window: list[tuple[int, int, int, int, int]]) -> int:
    if kind == "event_count":
        return len(window)
    if kind == "value_count":
        return len({user_number for _, _, user_number, _, _ in window})
    # temporal_ordered: how many of the rules appear in order (greedy subsequence).
    steps = 0
    for _, _, _, rule, _ in window:
        if steps < len(RULE_KEYS) and rule == steps:
            steps += 1
    return steps


def in_order_reference(
    kind: str, count: int, span: int, arrivals: list[tuple[int, int, int, int, int]]
) -> list[tuple[int, str, int]]:
    since_reset: dict[int, list[tuple[int, int, int, int, int]]] = defaultdict(list)
    fired = []
    for event in arrivals:
        time, host, _, _, ref = event
        since_reset[host].append(event)
        window = [held for held in since_reset[host] if time - span <= held[0] <= time]
        value = measure(kind, window)
        if value >= count:
            fired.append((ref, f"h{host}", value))
            since_reset[host] = []
    return fired


@settings(max_examples=300, deadline=None)
@given(
    events=events_strategy,
    kind=st.sampled_from(["event_count", "value_count", "temporal_ordered"]),
    count=st.sampled_from(COUNTS),
    span=st.sampled_from(SPANS),
)
def test_in_time_order_the_engine_fires_exactly_when_the_sliding_window_reference_does(
    events: list[Event], kind: str, count: int, span: int
) -> None:
    compiled_rule = correlation(kind, count, span)
    count = compiled_rule.condition.count
    arrivals = timeline(events)
    fired = run_engine(compiled_rule, arrivals)
    assert [hit[:3] for hit in fired] == in_order_reference(kind, count, span, arrivals)
    if kind == "event_count":
        # The evidence of an event_count hit is its whole window, in time order.
        for ref, host, value, refs in fired:
            assert len(refs) == value
            assert refs[-1] == ref
            assert all(arrivals[r][1] == int(host[1:]) for r in refs)


def any_order_reference(
    kind: str, count: int, span: int, arrivals: list[tuple[int, int, int, int, int]]
) -> list[tuple[int, int]]:
    held: dict[int, list[tuple[int, int, int, int, int]]] = defaultdict(list)
    newest: dict[int, int] = {}
    fired = []
    for event in arrivals:
        time, host, _, _, ref = event
        if host in newest and time < newest[host] - span:
            if measure(kind, [event]) >= count:
                fired.append((ref, 1))
            continue
        newest[host] = max(newest.get(host, time), time)
        held[host] = [h for h in [*held[host], event] if h[0] >= newest[host] - span]
        window = sorted(held[host], key=lambda h: h[0])
        value = measure(kind, window)
        if value >= count:
            fired.append((ref, value))
            held[host] = []
    return fired


@settings(max_examples=300, deadline=None)
@given(
    events=events_strategy,
    order=st.randoms(use_true_random=False),
    kind=st.sampled_from(["event_count", "temporal_ordered"]),
    count=st.sampled_from(COUNTS),
    span=st.sampled_from(SPANS),
)
def test_in_any_order_the_engine_matches_the_held_window_reference(
    events: list[Event], order: Any, kind: str, count: int, span: int
) -> None:
    compiled_rule = correlation(kind, count, span)
    # Ties between the steps of a sequence have no order once shuffled: times are distinct.
    arrivals = timeline(events, ties=kind == "event_count")
    order.shuffle(arrivals)
    fired = run_engine(compiled_rule, arrivals)
    expected = any_order_reference(kind, compiled_rule.condition.count, span, arrivals)
    assert [(ref, value) for ref, _, value, _ in fired] == expected
    if kind == "event_count":
        for _, _, value, refs in fired:
            times = [arrivals_by_ref(arrivals)[ref] for ref in refs]
            assert len(refs) == value
            assert times == sorted(times)


def arrivals_by_ref(arrivals: list[tuple[int, int, int, int, int]]) -> dict[int, int]:
    return {ref: time for time, _, _, _, ref in arrivals}
