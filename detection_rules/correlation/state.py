"""The state of one correlation rule: its groups, their windows, and the hits they produce.

A group is one combination of ``group-by`` values. Its key is the JSON text of those values
(``'["alice", "10.0.0.1"]'``), so it is hashable, persistable and gives the same group after a
restart; the hit's ``group`` is that JSON read back, so values are JSON values (a list for a
field with several values, ``null`` for a missing one). Groups are kept least recently seen
first; past ``max_groups`` the oldest is evicted (and counted).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from detection_rules.correlation.compile import CompiledCorrelation, CorrelationType
from detection_rules.correlation.windows import (
    ClosingWindow,
    Entry,
    SlidingWindow,
    entry_time,
    new_sliding,
    same_event,
    sliding_from_json,
)
from detection_rules.fields import field_values

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)

# A group holds at most this many open lt/lte windows (a late event opens its own); past it
# the one that started first is measured early.
MAX_OPEN_WINDOWS = 8


def to_micros(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("correlation times must be timezone-aware")
    return (moment - EPOCH) // MICROSECOND


def from_micros(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


@dataclass(frozen=True, eq=False)
class CorrelationHit:
    """A correlation rule fired for one group.

    ``event_refs`` are the refs of the events behind ``value`` in time order (for a chained
    correlation, those of the hits it consumed), at most ``max_events_per_window`` of them;
    ``truncated`` says some were left out (``value`` is exact regardless). For a closing
    (lt/lte) hit, ``first_time``/``last_time`` are the window's bounds; otherwise the times
    of the first and last events in the window that fired.
    """

    correlation: CompiledCorrelation
    group: dict[str, Any]
    event_refs: tuple[Any, ...]
    first_time: datetime
    last_time: datetime
    value: int
    truncated: bool = False


class GroupState:
    __slots__ = ("closing", "newest", "scheduled", "sliding")

    def __init__(self) -> None:
        self.newest: int | None = None  # the newest event time seen by the sliding window
        self.sliding: SlidingWindow | None = None
        self.closing: list[ClosingWindow] = []  # ordered by start
        self.scheduled: int | None = None  # the engine's wake-up for it (not persisted)

    def deadline(self, span: int) -> int | None:
        """When ``advance`` has something to do: a window ends, or everything expired."""
        ends = [window.end for window in self.closing]
        if self.newest is not None:
            ends.append(self.newest + span)
        return min(ends, default=None)

    def is_empty(self) -> bool:
        return self.newest is None and not self.closing

    def to_json(self, fingerprint: str) -> dict[str, Any]:
        return {
            "fingerprint": fingerprint,
            "newest": self.newest,
            "sliding": None if self.sliding is None else self.sliding.to_json(),
            "closing": [window.to_json() for window in self.closing],
        }


class CorrelationState:
    """Groups and windows of one compiled correlation; the engine routes events here."""

    def __init__(self, correlation: CompiledCorrelation, *, max_groups: int, max_refs: int):
        self.correlation = correlation
        self.max_groups = max_groups
        self.max_refs = max_refs
        self.span = correlation.span_micros
        self.groups: OrderedDict[str, GroupState] = OrderedDict()
        self.changed: set[str] = set()
        self.deleted: set[str] = set()
        self.evicted = 0
        self._last: tuple[str, Entry] | None = None  # to count an event once per group

    def observe(
        self, rule_key: str, event: Mapping[str, Any], time: int, refs: tuple[Any, ...]
    ) -> tuple[str | None, list[CorrelationHit]]:
        """Add one matched event; return the group key touched (if any) and the hits."""
        entries = [Entry(time, payload, refs) for payload in self._payloads(rule_key, event)]
        if not entries:
            return None, []
        key = self._group_key(rule_key, event)
        if self._is_repeat(key, entries[0]):
            return None, []
        group = self._touch(key)
        if self.correlation.condition.closes:
            hits = self._observe_closing(key, group, entries)
        else:
            hits = self._observe_sliding(key, group, entries)
        self.mark_changed(key)
        return key, hits

    def _payloads(self, rule_key: str, event: Mapping[str, Any]) -> list[str | None]:
        match self.correlation.type:
            case CorrelationType.EVENT_COUNT:
                return [None]
            case CorrelationType.VALUE_COUNT:
                values = field_values(event, self.correlation.value_fields[rule_key])
                return list(dict.fromkeys(_json(value) for value in values))
            case CorrelationType.TEMPORAL | CorrelationType.TEMPORAL_ORDERED:
                return [rule_key]

    def _group_key(self, rule_key: str, event: Mapping[str, Any]) -> str:
        values: list[Any] = []
        for field_name in self.correlation.group_fields[rule_key]:
            found = field_values(event, field_name)
            values.append(None if not found else found[0] if len(found) == 1 else list(found))
        return _json(values)

    def _is_repeat(self, key: str, entry: Entry) -> bool:
        # One event matched by two referenced rules is one event to count, but two rules
        # to a temporal correlation.
        if self.correlation.type not in {CorrelationType.EVENT_COUNT, CorrelationType.VALUE_COUNT}:
            return False
        last, self._last = self._last, (key, entry)
        return last is not None and last[0] == key and same_event(last[1], entry)

    def _touch(self, key: str) -> GroupState:
        group = self.groups.get(key)
        if group is not None:
            self.groups.move_to_end(key)
            return group
        while len(self.groups) >= self.max_groups:
            oldest, _ = self.groups.popitem(last=False)
            self.evicted += 1
            self.mark_deleted(oldest)
        group = self.groups[key] = GroupState()
        return group

    def _observe_sliding(
        self, key: str, group: GroupState, entries: list[Entry]
    ) -> list[CorrelationHit]:
        time = entries[0].time
        if group.newest is not None and time < group.newest - self.span:
            # Too late to share a window with what the group holds: a window of its own.
            alone = new_sliding(self.correlation, self.max_refs)
            for entry in entries:
                alone.add(entry)
            return self._check(key, alone)
        group.newest = time if group.newest is None else max(group.newest, time)
        if group.sliding is None:
            group.sliding = new_sliding(self.correlation, self.max_refs)
        group.sliding.prune(group.newest - self.span)
        for entry in entries:
            group.sliding.add(entry)
        return self._check(key, group.sliding)

    def _check(self, key: str, window: SlidingWindow) -> list[CorrelationHit]:
        value = window.value()
        if not self.correlation.condition.holds(value):
            return []
        firing = window.firing_entries()
        window.clear()  # a burst fires once; counting starts afresh after it
        return [self._hit(key, firing, value, firing[0].time, firing[-1].time, truncated=False)]

    def _observe_closing(
        self, key: str, group: GroupState, entries: list[Entry]
    ) -> list[CorrelationHit]:
        time = entries[0].time
        window = next((w for w in group.closing if w.start <= time <= w.end), None)
        hits: list[CorrelationHit] = []
        if window is None:
            window = ClosingWindow(time, time + self.span)
            group.closing.append(window)
            group.closing.sort(key=lambda open_window: open_window.start)
            while len(group.closing) > MAX_OPEN_WINDOWS:
                hits += self.close(key, group.closing.pop(0))
        cap = self.correlation.condition.count + 1
        for entry in entries:
            window.add(entry, cap=cap, max_refs=self.max_refs)
        return hits

    def close(self, key: str, window: ClosingWindow) -> list[CorrelationHit]:
        """Measure a closing window that is over; a hit if there were too few."""
        value = window.value(self.correlation)
        if not self.correlation.condition.holds(value):
            return []
        return [
            self._hit(
                key, window.entries, value, window.start, window.end, truncated=window.truncated
            )
        ]

    def expire(self, key: str, group: GroupState, now: int) -> list[CorrelationHit]:
        """Close what ended before ``now``; drop the group once nothing of it is left."""
        hits: list[CorrelationHit] = []
        still_open = []
        for window in group.closing:
            if window.end < now:
                hits += self.close(key, window)
            else:
                still_open.append(window)
        group.closing = still_open
        if group.newest is not None and group.newest + self.span < now:
            group.newest = None
            group.sliding = None
        if group.is_empty():
            del self.groups[key]
            self.mark_deleted(key)
        else:
            self.mark_changed(key)
        return hits

    def _hit(
        self,
        key: str,
        entries: Sequence[Entry],
        value: int,
        first: int,
        last: int,
        *,
        truncated: bool,
    ) -> CorrelationHit:
        refs: list[Any] = []
        for entry in sorted(entries, key=entry_time):
            if entry.refs is None:
                truncated = True
                continue
            for ref in entry.refs:
                # An event with several counted values is one event in the evidence.
                if not (refs and _same(refs[-1], ref)):
                    refs.append(ref)
        if len(refs) > self.max_refs:
            refs, truncated = refs[: self.max_refs], True
        return CorrelationHit(
            correlation=self.correlation,
            group=dict(zip(self.correlation.group_by, orjson.loads(key), strict=True)),
            event_refs=tuple(refs),
            first_time=from_micros(first),
            last_time=from_micros(last),
            value=value,
            truncated=truncated,
        )

    def mark_changed(self, key: str) -> None:
        self.changed.add(key)
        self.deleted.discard(key)

    def mark_deleted(self, key: str) -> None:
        self.deleted.add(key)
        self.changed.discard(key)

    def group_to_json(self, key: str) -> dict[str, Any]:
        return self.groups[key].to_json(self.correlation.fingerprint)

    def load_group(self, key: str, data: Mapping[str, Any]) -> GroupState | None:
        """A group from its saved form; None (and deleted) when saved under another version."""
        if data.get("fingerprint") != self.correlation.fingerprint:
            self.mark_deleted(key)
            return None
        group = GroupState()
        group.newest = data["newest"]
        if data["sliding"] is not None:
            group.sliding = sliding_from_json(data["sliding"], self.correlation, self.max_refs)
        group.closing = [ClosingWindow.from_json(window) for window in data["closing"]]
        if group.is_empty():
            self.mark_deleted(key)
            return None
        while len(self.groups) >= self.max_groups:
            oldest, _ = self.groups.popitem(last=False)
            self.evicted += 1
            self.mark_deleted(oldest)
        self.groups[key] = group
        return group


def _same(first: Any, second: Any) -> bool:
    return first is second or (type(first) in (int, str) and first == second)


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str, option=orjson.OPT_SORT_KEYS).decode()
