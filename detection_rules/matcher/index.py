"""The ``Matcher``: every rule an event could meet, and only those, evaluated once.

Two filters run before any rule does, so the cost per event grows with the rules that
could match it rather than with the rule count:

1. **Key index.** Most rules imply an equality on a discriminating field (the pipelines add
   ``EventID: 1`` and ``Channel: …Sysmon/Operational`` to process-creation rules). Rules are
   bucketed by it; an event only reaches the buckets of its own values.
2. **Anchor prefilter.** Most rules also imply that one of a few literals occurs in the
   event (``\\cmd.exe`` for ``Image|endswith: '\\cmd.exe'``). One Aho-Corasick pass
   (ahocorasick_rs, a Rust DFA; docs/adr/0015 says why not pyahocorasick) over the event's
   folded JSON finds every anchor present; a rule missing one of its anchor clauses is
   skipped without being evaluated.

Both filters only ever skip rules that cannot match (tests compare with and without them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import ahocorasick_rs
import orjson

from detection_rules.matcher.compiler import CompiledRule
from detection_rules.matcher.view import DerivedField, EventView

# Below this many anchored rules a bucket evaluates them directly: looking anchors up
# costs more than a handful of rule tests.
MIN_RULES_FOR_SCAN = 6


@dataclass
class _Bucket:
    """Rules sharing an index key: those always evaluated, and those behind anchors."""

    always: list[int] = field(default_factory=list)
    anchored: list[tuple[int, tuple[frozenset[str], ...]]] = field(default_factory=list)
    by_anchor: dict[int, list[int]] = field(default_factory=dict)
    # The clauses after the first, as anchor ids: a candidate must hit each of them too.
    more: dict[int, tuple[frozenset[int], ...]] = field(default_factory=dict)
    anchor_ids: frozenset[int] = frozenset()
    scanned: bool = False

    def build(self, anchor_ids: dict[str, int]) -> None:
        """Settle the bucket; its anchors get ids in the matcher's one automaton."""
        if len(self.anchored) < MIN_RULES_FOR_SCAN:
            self.always.extend(position for position, _ in self.anchored)
            self.always.sort()
            self.anchored.clear()
            return
        self.scanned = True
        for position, (first, *rest) in self.anchored:
            for anchor in first:
                anchor_id = anchor_ids.setdefault(anchor, len(anchor_ids))
                self.by_anchor.setdefault(anchor_id, []).append(position)
            if rest:
                self.more[position] = tuple(
                    frozenset(anchor_ids.setdefault(anchor, len(anchor_ids)) for anchor in clause)
                    for clause in rest
                )
        self.anchor_ids = frozenset(self.by_anchor)

    def add_candidates(self, hits: set[int], into: set[int]) -> None:
        by_anchor, more = self.by_anchor, self.more
        # The scan reports the anchors of every bucket; intersecting in C first keeps the
        # Python loop to this bucket's own.
        for anchor_id in hits & self.anchor_ids:
            for position in by_anchor[anchor_id]:
                clauses = more.get(position)
                if clauses is None or all(not clause.isdisjoint(hits) for clause in clauses):
                    into.add(position)


class Matcher:
    """Many compiled rules; ``match(event)`` returns those the event matches, in order."""

    def __init__(
        self, rules: Sequence[CompiledRule], *, derived: Mapping[str, DerivedField] | None = None
    ) -> None:
        self.rules = list(rules)
        self.derived = derived
        self._unkeyed = _Bucket()
        self._index: dict[str, dict[str, _Bucket]] = {}
        for position, rule in enumerate(self.rules):
            self._add(position, rule)
        anchor_ids: dict[str, int] = {}
        for bucket in self._buckets():
            bucket.build(anchor_ids)
        self.anchors = tuple(anchor_ids)  # by id: what the scan looks for
        self._anchor_count = len(anchor_ids)
        self._automaton: Any = None
        if anchor_ids:
            # Escaped as JSON escapes them, because the scan runs over the event's JSON
            # text. The standard match kind with overlapping matches reports every anchor
            # present; a DFA is the fastest search (a few MiB for all SigmaHQ rules).
            self._automaton = ahocorasick_rs.AhoCorasick(
                [orjson.dumps(anchor).decode()[1:-1] for anchor in anchor_ids],
                matchkind=ahocorasick_rs.MatchKind.Standard,
                implementation=ahocorasick_rs.Implementation.DFA,
            )

    def _buckets(self) -> list[_Bucket]:
        return [self._unkeyed] + [
            bucket for by_value in self._index.values() for bucket in by_value.values()
        ]

    def _add(self, position: int, rule: CompiledRule) -> None:
        buckets: list[_Bucket] = []
        if rule.index_key is None:
            buckets.append(self._unkeyed)
        else:
            name, values = rule.index_key
            by_value = self._index.setdefault(name, {})
            buckets.extend(by_value.setdefault(value, _Bucket()) for value in values)
        anchors = rule.root.anchors
        for bucket in buckets:
            if anchors:
                bucket.anchored.append((position, anchors))
            else:
                bucket.always.append(position)

    def candidates(self, view: EventView) -> list[int]:
        """Positions of the rules ``view`` could match, in rule order."""
        buckets = [self._unkeyed]
        for name, by_value in self._index.items():
            for value in view.folded(name):
                bucket = by_value.get(value)
                if bucket is not None:
                    buckets.append(bucket)
        found: set[int] = set()
        hits: set[int] | None = None
        for bucket in buckets:
            found.update(bucket.always)
            if bucket.scanned:
                if hits is None:
                    hits = self._scan(view.event)
                bucket.add_candidates(hits, found)
        return sorted(found)

    def _scan(self, event: Mapping[str, Any]) -> set[int]:
        text = _scan_text(event)
        if text is None:
            return set(range(self._anchor_count))
        return {
            found[0] for found in self._automaton.find_matches_as_indexes(text, overlapping=True)
        }

    def match(self, event: Mapping[str, Any]) -> list[CompiledRule]:
        """The rules ``event`` matches, in the order the rules were given."""
        return self.match_view(EventView(event, self.derived))

    def match_view(self, view: EventView) -> list[CompiledRule]:
        rules = self.rules
        return [
            rules[position] for position in self.candidates(view) if rules[position].root.test(view)
        ]


def _scan_text(event: Mapping[str, Any]) -> str | None:
    """The event as folded JSON text, or None when it is not JSON-shaped.

    None (only possible for events built in code) makes every anchor count as present, so
    the prefilter then skips nothing.
    """
    try:
        return orjson.dumps(event, option=orjson.OPT_NON_STR_KEYS).decode().casefold()
    except TypeError:
        return None
