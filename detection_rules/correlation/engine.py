"""The correlation engine: Sigma v2 correlation rules evaluated in process, state that persists.

The caller matches each event against the base rules and tells the engine of every match
(``observe``); the engine returns the correlation hits that match completes, and feeds each hit
on to the correlations that refer to that correlation (chaining). ``advance(now)`` closes
windows that ``now`` has passed: that is when ``lt``/``lte`` ("too few") conditions fire, and
how idle groups are forgotten. Semantics, per group (one combination of ``group-by`` values):

* **Sliding windows on event time** (gt, gte, eq, neq). A group holds its events of the last
  ``timespan`` measured back from its newest event, ends included, and checks the condition
  each time an event joins: event_count counts the events, value_count the distinct values of
  its field, temporal the distinct referenced rules, temporal_ordered how many of the
  referenced rules matched in their order. There are no clock-aligned buckets: events at
  10:04:59 and 10:05:01 share a 5-minute window.
* **Reset after firing.** When the condition holds, the hit carries the window's events and
  the group's window is emptied: a burst of 500 failures against ``gte: 10`` is one hit per
  10 failures, not one per failure after the tenth. (``eq`` therefore fires when the value
  first reaches the count; ``neq`` fires as soon as it differs, usually at the first event.)
* **Late events** are placed by their time: one within a timespan of the group's newest event
  joins the window; an older one is counted in a window of its own (it cannot be measured
  with events that have already expired). temporal_ordered places a late event among the
  window's most recent ``max_events_per_window`` events.
* **Closing windows** (lt, lte). A window opens at a group's event (and spans ``timespan``
  from it); the events that fall in it join it; once ``advance(now)`` passes its end, it fires
  if its value is too low. A group with no event at all has no window: absence of every event
  is not detectable per group.
* **Grouping.** A group-by field (through ``aliases`` for each referenced rule) is read with
  ``detection_rules.fields.field_values``; a missing field groups under ``null``, a field
  with several values groups under the list of them. value_count counts each value of a
  multi-valued field and ignores events without the field.
* **One event, two rules.** Consecutive ``observe`` calls with the same ``event_ref`` and
  time are one event: counted once by event_count and value_count; two rules to temporal;
  never two steps of one temporal_ordered sequence.
* **Chaining.** A correlation's hit is, for a correlation referring to it, an event at the
  hit's last time whose fields are the hit's ``group``; its refs are the hit's event refs
  (so an outer hit's times are those of the hits it consumed, its refs their events).
* **Bounds.** At most ``max_groups`` groups per correlation (the least recently seen is
  evicted, counted in ``evicted``) and ``max_events_per_window`` refs per group: values stay
  exact, a hit with refs left out says ``truncated``.
* **Time** is the event time given by the caller; ``advance(now)`` takes a watermark: the
  service passes its clock less the lateness it tolerates, offline the last event time.

State: ``snapshot()`` is the whole state as JSON-ready data, ``dirty()`` the groups changed or
deleted since its last call, ``merge_changes`` folds the latter into the former, and
``restore``/``load`` resume from it (groups saved under another version of a rule, known by
its fingerprint, are dropped). Refs are stored as given, so they must be JSON values.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from core.i18n import N_
from detection_rules.correlation.compile import CompiledCorrelation
from detection_rules.correlation.state import CorrelationHit, CorrelationState, to_micros
from detection_rules.errors import UnsupportedRule

STATE_FORMAT = 1


class CorrelationEngine:
    def __init__(
        self,
        correlations: Sequence[CompiledCorrelation],
        *,
        max_groups: int = 100_000,
        max_events_per_window: int = 1000,
    ) -> None:
        if max_groups < 1 or max_events_per_window < 1:
            raise ValueError("max_groups and max_events_per_window must be at least 1")
        _check_references(correlations)
        self.max_groups = max_groups
        self.max_events_per_window = max_events_per_window
        self._states = [
            CorrelationState(c, max_groups=max_groups, max_refs=max_events_per_window)
            for c in correlations
        ]
        self._by_key = {state.correlation.key: index for index, state in enumerate(self._states)}
        self._routes: dict[str, list[int]] = {}
        for index, correlation in enumerate(correlations):
            for target in dict.fromkeys(correlation.rule_keys):
                self._routes.setdefault(target, []).append(index)
        self._heap: list[tuple[int, int, str]] = []
        # Saved groups of rules no longer loaded: deleted in the next dirty().
        self._forgotten: dict[str, list[str]] = {}

    @property
    def correlations(self) -> tuple[CompiledCorrelation, ...]:
        return tuple(state.correlation for state in self._states)

    @property
    def evicted(self) -> int:
        """Groups evicted since this engine was made (to stay within ``max_groups``)."""
        return sum(state.evicted for state in self._states)

    def observe(
        self, rule_key: str, event: Mapping[str, Any], *, time: datetime, event_ref: Any
    ) -> list[CorrelationHit]:
        """Record that ``event`` (at ``time``) matched rule ``rule_key``; return the hits."""
        hits: list[CorrelationHit] = []
        self._feed(rule_key, event, to_micros(time), (event_ref,), hits)
        return hits

    def advance(self, now: datetime) -> list[CorrelationHit]:
        """Close every window that ended before ``now``; return the hits that closing gives."""
        limit = to_micros(now)
        hits: list[CorrelationHit] = []
        while self._heap and self._heap[0][0] < limit:
            deadline, index, key = heapq.heappop(self._heap)
            state = self._states[index]
            group = state.groups.get(key)
            if group is None or group.scheduled != deadline:
                continue  # evicted, deleted, or rescheduled since
            group.scheduled = None
            closed = state.expire(key, group, limit)
            if key in state.groups:
                self._schedule(index, key)
            self._pass_on(closed, hits)
        return hits

    def _feed(
        self,
        rule_key: str,
        event: Mapping[str, Any],
        time: int,
        refs: tuple[Any, ...],
        hits: list[CorrelationHit],
    ) -> None:
        for index in self._routes.get(rule_key, ()):
            key, found = self._states[index].observe(rule_key, event, time, refs)
            if key is not None and key in self._states[index].groups:
                self._schedule(index, key)
            self._pass_on(found, hits)

    def _pass_on(self, found: list[CorrelationHit], hits: list[CorrelationHit]) -> None:
        for hit in found:
            hits.append(hit)
            self._feed(
                hit.correlation.key, hit.group, to_micros(hit.last_time), hit.event_refs, hits
            )

    def _schedule(self, index: int, key: str) -> None:
        state = self._states[index]
        group = state.groups[key]
        deadline = group.deadline(state.span)
        if deadline is not None and (group.scheduled is None or deadline < group.scheduled):
            group.scheduled = deadline
            heapq.heappush(self._heap, (deadline, index, key))

    def snapshot(self) -> dict[str, Any]:
        """The whole state, JSON-serialisable (groups least recently seen first)."""
        return {
            "format": STATE_FORMAT,
            "groups": {
                state.correlation.key: {key: state.group_to_json(key) for key in state.groups}
                for state in self._states
                if state.groups
            },
        }

    def dirty(self) -> dict[str, Any]:
        """Groups changed (their new state) and deleted since the last call, per correlation."""
        changed: dict[str, dict[str, Any]] = {}
        deleted, self._forgotten = self._forgotten, {}
        for state in self._states:
            current = {
                key: state.group_to_json(key) for key in state.changed if key in state.groups
            }
            if current:
                changed[state.correlation.key] = current
            if state.deleted:
                deleted[state.correlation.key] = sorted(state.deleted)
            state.changed.clear()
            state.deleted.clear()
        return {"format": STATE_FORMAT, "changed": changed, "deleted": deleted}

    def load(self, state: Mapping[str, Any]) -> None:
        """Replace the engine's state with a ``snapshot()`` (or merged ``dirty()``) result.

        Saved groups that cannot be resumed (their rule is gone or changed) are reported as
        deleted by the next ``dirty()``, so incremental storage forgets them too.
        """
        if state.get("format") != STATE_FORMAT:
            raise ValueError(f"unknown correlation state format: {state.get('format')!r}")
        self._heap = []
        self._forgotten = {}
        for correlation_state in self._states:
            correlation_state.groups.clear()
            correlation_state.changed.clear()
            correlation_state.deleted.clear()
        for correlation_key, groups in state.get("groups", {}).items():
            index = self._by_key.get(correlation_key)
            if index is None:
                self._forgotten[correlation_key] = sorted(groups)
                continue
            for key, data in groups.items():
                if self._states[index].load_group(key, data) is not None:
                    self._schedule(index, key)

    @classmethod
    def restore(
        cls,
        correlations: Sequence[CompiledCorrelation],
        state: Mapping[str, Any],
        *,
        max_groups: int = 100_000,
        max_events_per_window: int = 1000,
    ) -> CorrelationEngine:
        engine = cls(
            correlations, max_groups=max_groups, max_events_per_window=max_events_per_window
        )
        engine.load(state)
        return engine


def merge_changes(snapshot: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``snapshot`` with a ``dirty()`` result applied (for callers that store the whole)."""
    groups = {key: dict(value) for key, value in snapshot.get("groups", {}).items()}
    for correlation_key, keys in changes.get("deleted", {}).items():
        for key in keys:
            groups.get(correlation_key, {}).pop(key, None)
    for correlation_key, changed in changes.get("changed", {}).items():
        target = groups.setdefault(correlation_key, {})
        for key, data in changed.items():
            target.pop(key, None)  # re-inserted last: most recently seen
            target[key] = data
    return {"format": STATE_FORMAT, "groups": {k: v for k, v in groups.items() if v}}


def _check_references(correlations: Sequence[CompiledCorrelation]) -> None:
    by_key: dict[str, CompiledCorrelation] = {}
    for correlation in correlations:
        if correlation.key in by_key:
            raise UnsupportedRule(
                N_("Two correlation rules have the same key %(rule)s"),
                field=correlation.key,
                rule=correlation.key,
            )
        by_key[correlation.key] = correlation
    for correlation in correlations:
        for target in sorted(correlation.correlation_keys):
            if target not in by_key:
                raise UnsupportedRule(
                    N_(
                        "The correlation rule %(rule)s refers to the correlation rule "
                        "%(reference)s, which is not loaded"
                    ),
                    field=correlation.key,
                    rule=correlation.key,
                    reference=target,
                )
    checked: set[str] = set()
    for correlation in correlations:
        _check_cycle(correlation.key, by_key, (), checked)


def _check_cycle(
    key: str, by_key: Mapping[str, CompiledCorrelation], path: tuple[str, ...], checked: set[str]
) -> None:
    if key in checked:
        return
    if key in path:
        cycle = " -> ".join((*path[path.index(key) :], key))
        raise UnsupportedRule(
            N_("Correlation rules refer to each other in a circle: %(cycle)s"),
            field=key,
            cycle=cycle,
        )
    for target in sorted(by_key[key].correlation_keys):
        _check_cycle(target, by_key, (*path, key), checked)
    checked.add(key)
