"""The windows one group of one correlation keeps, and how each measures its condition's value.

A *sliding* window (conditions gt, gte, eq, neq) holds the group's events of the last
timespan, measured up to its newest event, and is checked each time an event joins it:

    SlidingCount     event_count: every event (its time; its refs while the budget lasts)
    SlidingDistinct  value_count and temporal: the latest event of each distinct value (or
                     rule); an older event of the same value adds nothing to any window the
                     group will still measure
    SlidingSequence  temporal_ordered: for each step i, the latest-starting run of events
                     matching rules 1..i in order (a dynamic programme over the steps); the
                     number of steps completed inside the window is the value. The recent
                     events are kept too, to place a late one among them

A *closing* window (lt, lte) opens at an event and is measured once, when it is over.

Times are integer microseconds since the epoch (exact, and what the state stores). Refs are
the caller's opaque event references, kept as given; an entry whose refs were dropped to keep
memory bounded has ``refs = None``, which a hit reports as ``truncated``.
"""

from __future__ import annotations

import bisect
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, NamedTuple

from detection_rules.correlation.compile import CompiledCorrelation, CorrelationType


class Entry(NamedTuple):
    time: int
    payload: str | None  # the counted value, or the rule key; None for event_count
    refs: tuple[Any, ...] | None

    def to_json(self) -> list[Any]:
        return [self.time, self.payload, None if self.refs is None else list(self.refs)]

    @classmethod
    def from_json(cls, data: Sequence[Any]) -> Entry:
        time, payload, refs = data
        return cls(int(time), payload, None if refs is None else tuple(refs))


def entry_time(entry: Entry) -> int:
    return entry.time


def ref_count(entry: Entry) -> int:
    return 0 if entry.refs is None else len(entry.refs)


def same_event(first: Entry | None, second: Entry) -> bool:
    """True when both entries carry the same event (one event matched by two rules)."""
    if first is None or first.time != second.time or first.refs is None or second.refs is None:
        return False
    if len(first.refs) != len(second.refs):
        return False
    return all(_same_ref(a, b) for a, b in zip(first.refs, second.refs, strict=True))


def _same_ref(first: Any, second: Any) -> bool:
    # Offline the refs are the event dicts themselves: identity, not equality (two identical
    # log lines are two events). Service refs are ids: equal ids are the same event.
    if first is second:
        return True
    return type(first) in (int, str) and type(first) is type(second) and first == second


class SlidingWindow(ABC):
    """The group's events of the last timespan, as far as the value needs them."""

    kind: str

    @abstractmethod
    def add(self, entry: Entry) -> None: ...

    @abstractmethod
    def prune(self, horizon: int) -> None:
        """Forget what lies before ``horizon`` (the newest time minus the timespan)."""

    @abstractmethod
    def value(self) -> int: ...

    @abstractmethod
    def firing_entries(self) -> list[Entry]:
        """The events behind ``value()``, in time order (the hit's evidence)."""

    @abstractmethod
    def clear(self) -> None: ...

    @abstractmethod
    def is_empty(self) -> bool: ...

    @abstractmethod
    def to_json(self) -> dict[str, Any]: ...


class SlidingCount(SlidingWindow):
    kind = "count"

    def __init__(self, max_refs: int) -> None:
        self.max_refs = max_refs
        self.entries: list[Entry] = []
        self.kept_refs = 0

    def add(self, entry: Entry) -> None:
        if self.kept_refs + ref_count(entry) > self.max_refs:
            entry = entry._replace(refs=None)
        self.kept_refs += ref_count(entry)
        # After events of the same time: ties keep their arrival order.
        bisect.insort_right(self.entries, entry, key=entry_time)

    def prune(self, horizon: int) -> None:
        cut = bisect.bisect_left(self.entries, horizon, key=entry_time)
        if cut:
            self.kept_refs -= sum(ref_count(entry) for entry in self.entries[:cut])
            del self.entries[:cut]

    def value(self) -> int:
        return len(self.entries)

    def firing_entries(self) -> list[Entry]:
        return list(self.entries)

    def clear(self) -> None:
        self.entries = []
        self.kept_refs = 0

    def is_empty(self) -> bool:
        return not self.entries

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "entries": [entry.to_json() for entry in self.entries]}

    @classmethod
    def from_json(cls, data: dict[str, Any], max_refs: int) -> SlidingCount:
        window = cls(max_refs)
        window.entries = sorted((Entry.from_json(item) for item in data["entries"]), key=entry_time)
        window.kept_refs = sum(ref_count(entry) for entry in window.entries)
        return window


class SlidingDistinct(SlidingWindow):
    kind = "distinct"

    def __init__(self, max_refs: int) -> None:
        self.max_refs = max_refs
        self.latest: dict[str, Entry] = {}
        self.kept_refs = 0
        self.oldest: int | None = None

    def add(self, entry: Entry) -> None:
        payload = entry.payload
        assert payload is not None  # distinct windows always count a value
        previous = self.latest.get(payload)
        if previous is not None:
            if previous.time > entry.time:
                return
            self.kept_refs -= ref_count(previous)
        if self.kept_refs + ref_count(entry) > self.max_refs:
            entry = entry._replace(refs=None)
        self.kept_refs += ref_count(entry)
        self.latest[payload] = entry
        self.oldest = entry.time if self.oldest is None else min(self.oldest, entry.time)

    def prune(self, horizon: int) -> None:
        if self.oldest is None or self.oldest >= horizon:
            return
        self.latest = {key: entry for key, entry in self.latest.items() if entry.time >= horizon}
        self.kept_refs = sum(ref_count(entry) for entry in self.latest.values())
        self.oldest = min((entry.time for entry in self.latest.values()), default=None)

    def value(self) -> int:
        return len(self.latest)

    def firing_entries(self) -> list[Entry]:
        return sorted(self.latest.values(), key=entry_time)

    def clear(self) -> None:
        self.latest = {}
        self.kept_refs = 0
        self.oldest = None

    def is_empty(self) -> bool:
        return not self.latest

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "entries": [entry.to_json() for entry in self.latest.values()]}

    @classmethod
    def from_json(cls, data: dict[str, Any], max_refs: int) -> SlidingDistinct:
        window = cls(max_refs)
        for item in data["entries"]:
            window.add(Entry.from_json(item))
        return window


Chain = tuple[Entry, ...]


class SlidingSequence(SlidingWindow):
    """Steps of ``temporal_ordered``: ``chains[i]`` matched rules 1..i+1 in order.

    Of all runs matching steps 1..i+1 it keeps the one that started last, as it stays in the
    window longest: that makes events arriving in time order exact, at O(k) per event. For
    late events it also keeps the window's most recent events (as many as the ref budget):
    a late event is placed among them and the runs are replayed in time order.
    """

    kind = "sequence"

    def __init__(self, rule_keys: tuple[str, ...], max_refs: int) -> None:
        self.rule_keys = rule_keys
        self.max_refs = max_refs
        self.chains: list[Chain | None] = [None] * len(rule_keys)
        self.recent: list[Entry] = []

    def add(self, entry: Entry) -> None:
        in_order = not self.recent or entry.time >= self.recent[-1].time
        bisect.insort_right(self.recent, entry, key=entry_time)
        if in_order:
            self._step(entry)
        else:
            kept = {id(item): item for chain in self.chains if chain for item in chain}
            kept.update((id(item), item) for item in self.recent)
            self.chains = [None] * len(self.rule_keys)
            for item in sorted(kept.values(), key=entry_time):
                self._step(item)
        if len(self.recent) > self.max_refs:
            del self.recent[: len(self.recent) - self.max_refs]

    def _step(self, entry: Entry) -> None:
        # Later steps first, so one event never serves as two consecutive steps.
        for step in range(len(self.rule_keys) - 1, -1, -1):
            if self.rule_keys[step] != entry.payload:
                continue
            if step == 0:
                self.chains[0] = (entry,)
                continue
            before = self.chains[step - 1]
            if before is None or same_event(before[-1], entry) or before[-1].time > entry.time:
                continue
            current = self.chains[step]
            if current is None or before[0].time >= current[0].time:
                self.chains[step] = (*before, entry)

    def prune(self, horizon: int) -> None:
        for step, chain in enumerate(self.chains):
            if chain is not None and chain[0].time < horizon:
                self.chains[step] = None
        cut = bisect.bisect_left(self.recent, horizon, key=entry_time)
        del self.recent[:cut]

    def value(self) -> int:
        # A run for step i+1 never starts after the run for step i, so the live runs are a
        # prefix of the steps.
        steps = 0
        for chain in self.chains:
            if chain is None:
                break
            steps += 1
        return steps

    def firing_entries(self) -> list[Entry]:
        steps = self.value()
        chain = self.chains[steps - 1] if steps else None
        return list(chain or ())

    def clear(self) -> None:
        self.chains = [None] * len(self.rule_keys)
        self.recent = []

    def is_empty(self) -> bool:
        return not self.recent and all(chain is None for chain in self.chains)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "recent": [entry.to_json() for entry in self.recent],
            "chains": [
                None if chain is None else [entry.to_json() for entry in chain]
                for chain in self.chains
            ],
        }

    @classmethod
    def from_json(
        cls, data: dict[str, Any], rule_keys: tuple[str, ...], max_refs: int
    ) -> SlidingSequence:
        window = cls(rule_keys, max_refs)
        chains = data["chains"]
        if len(chains) == len(rule_keys):
            window.chains = [
                None if chain is None else tuple(Entry.from_json(item) for item in chain)
                for chain in chains
            ]
        window.recent = sorted((Entry.from_json(item) for item in data["recent"]), key=entry_time)
        return window


def new_sliding(correlation: CompiledCorrelation, max_refs: int) -> SlidingWindow:
    match correlation.type:
        case CorrelationType.EVENT_COUNT:
            return SlidingCount(max_refs)
        case CorrelationType.VALUE_COUNT | CorrelationType.TEMPORAL:
            return SlidingDistinct(max_refs)
        case CorrelationType.TEMPORAL_ORDERED:
            return SlidingSequence(correlation.rule_keys, max_refs)


def sliding_from_json(
    data: dict[str, Any], correlation: CompiledCorrelation, max_refs: int
) -> SlidingWindow:
    match data["kind"]:
        case SlidingCount.kind:
            return SlidingCount.from_json(data, max_refs)
        case SlidingDistinct.kind:
            return SlidingDistinct.from_json(data, max_refs)
        case _:
            return SlidingSequence.from_json(data, correlation.rule_keys, max_refs)


class ClosingWindow:
    """A window for ``lt``/``lte``: opens at an event, measured once when ``end`` has passed.

    It counts every event exactly; distinct values only up to ``cap`` (one more than the
    condition's count: beyond that "too few" cannot hold any more); entries (the evidence,
    and the order ``temporal_ordered`` measures) up to the ref budget.
    """

    def __init__(self, start: int, end: int) -> None:
        self.start = start
        self.end = end
        self.count = 0
        self.seen: dict[str, None] = {}
        self.entries: list[Entry] = []
        self.truncated = False

    def add(self, entry: Entry, *, cap: int, max_refs: int) -> None:
        self.count += 1
        if entry.payload is not None and len(self.seen) < cap:
            self.seen[entry.payload] = None
        if len(self.entries) < max_refs:
            bisect.insort_right(self.entries, entry, key=entry_time)
        else:
            self.truncated = True

    def value(self, correlation: CompiledCorrelation) -> int:
        match correlation.type:
            case CorrelationType.EVENT_COUNT:
                return self.count
            case CorrelationType.VALUE_COUNT | CorrelationType.TEMPORAL:
                return len(self.seen)
            case CorrelationType.TEMPORAL_ORDERED:
                return ordered_steps(self.entries, correlation.rule_keys)

    def to_json(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "count": self.count,
            "seen": list(self.seen),
            "entries": [entry.to_json() for entry in self.entries],
            "truncated": self.truncated,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClosingWindow:
        window = cls(int(data["start"]), int(data["end"]))
        window.count = int(data["count"])
        window.seen = dict.fromkeys(data["seen"])
        window.entries = [Entry.from_json(item) for item in data["entries"]]
        window.truncated = bool(data["truncated"])
        return window


def ordered_steps(entries: Sequence[Entry], rule_keys: tuple[str, ...]) -> int:
    """How many of ``rule_keys`` the time-ordered ``entries`` match in order (greedily)."""
    steps = 0
    previous: Entry | None = None
    for entry in entries:
        if steps == len(rule_keys):
            break
        if entry.payload == rule_keys[steps] and not same_event(previous, entry):
            previous = entry
            steps += 1
    return steps
