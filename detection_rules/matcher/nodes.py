"""The compiled shape of a rule: selections and conditions as closures, plus what they imply.

Each node carries three things: ``test`` (a closure over an ``EventView``, the hot path),
``anchors`` (folded literals of which at least one must occur in any event the node
matches, or None when no such set exists) and ``keys`` (field equalities every match
must satisfy). The last two let the ``Matcher`` skip rules an event cannot meet.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from detection_rules.fields import MISSING
from detection_rules.matcher.derived import DERIVED_FIELD_NAMES
from detection_rules.matcher.values import ValueTest, find_match
from detection_rules.matcher.view import EventView

Test = Callable[[EventView], bool]

# Fields the index prefers, most discriminating first (Windows event ids beat channels).
INDEX_FIELDS = (
    "EventID",
    "event.code",
    "wachter.logsource.service",
    "Channel",
    "winlog.channel",
    "event.dataset",
    "event.action",
)
# Clauses of literals, all necessary: a match implies that, for every clause, one of its
# literals occurs in the event. Empty when nothing is known.
Anchors = tuple[frozenset[str], ...]
MAX_CLAUSES = 3
Keys = tuple[tuple[str, frozenset[str]], ...]


@dataclass(frozen=True, slots=True)
class FieldMatch:
    """A field (None for a keyword search), the rule's pattern and the event's value."""

    field: str | None
    pattern: str
    value: object


@dataclass(frozen=True, slots=True)
class SelectionMatch:
    selection: str
    fields: tuple[FieldMatch, ...]


@dataclass(frozen=True, slots=True)
class Node:
    test: Test
    anchors: Anchors = ()
    keys: Keys = ()
    leaves: tuple[Leaf, ...] = field(default=(), repr=False)
    kind: str = "leaf"  # leaf, and, or, not, constant
    children: tuple[Node, ...] = field(default=(), repr=False)

    def explain(self, view: EventView) -> list[FieldMatch]:
        """The fields behind a match (slow path: only run for events that matched).

        Only branches of an OR that matched are followed; a negated part matched by not
        matching, so it has nothing to show.
        """
        if self.kind == "leaf":
            leaf = self.leaves[0]
            return [] if leaf.negated else leaf.matched(view)
        if self.kind == "and":
            return [match for child in self.children for match in child.explain(view)]
        if self.kind == "or":
            return [
                match
                for child in self.children
                if child.test(view)
                for match in child.explain(view)
            ]
        return []


@dataclass(frozen=True, slots=True)
class Leaf:
    """One detection item: a field, its values, how they link, whether it is negated."""

    field: str | None
    tests: tuple[ValueTest, ...]
    all_values: bool
    negated: bool

    def matched(self, view: EventView) -> list[FieldMatch]:
        found = []
        for value_test in self.tests:
            value = find_match(value_test, view, self.field)
            if value is not MISSING:
                found.append(FieldMatch(self.field, value_test.pattern, value))
        return found


def leaf_node(leaf: Leaf) -> Node:
    if leaf.all_values:
        tests = [_any_test(leaf.field, (value_test,)) for value_test in leaf.tests]
        test = _all(tests)
    else:
        test = _any_test(leaf.field, leaf.tests)
    if leaf.negated:
        positive = test

        def test(view: EventView) -> bool:
            return not positive(view)

        return Node(test, (), (), (leaf,))
    return Node(test, _leaf_anchors(leaf), _leaf_keys(leaf), (leaf,))


def and_node(children: Sequence[Node]) -> Node:
    anchors = best_clauses([clause for child in children for clause in child.anchors])
    keys = tuple(key for child in children for key in child.keys)
    leaves = tuple(leaf for child in children for leaf in child.leaves)
    test = _all([child.test for child in children])
    return Node(test, anchors, keys, leaves, "and", tuple(children))


def or_node(children: Sequence[Node]) -> Node:
    anchors: Anchors = ()
    if children and all(child.anchors for child in children):
        # (a1 and a2) or (b1 and b2) implies (a1 or b1): the union of each branch's best.
        anchors = (frozenset().union(*(child.anchors[0] for child in children)),)
    leaves = tuple(leaf for child in children for leaf in child.leaves)
    test = _any([child.test for child in children])
    return Node(test, anchors, _common_keys(children), leaves, "or", tuple(children))


def not_node(child: Node) -> Node:
    inner = child.test

    def test(view: EventView) -> bool:
        return not inner(view)

    return Node(test, (), (), child.leaves, "not", (child,))


def constant_node(value: bool) -> Node:
    return Node((lambda view: True) if value else (lambda view: False), kind="constant")


def best_clauses(clauses: Sequence[frozenset[str]]) -> Anchors:
    """The most selective clauses first (longest shortest literal, then fewest literals)."""
    unique = sorted(
        set(clauses), key=lambda clause: (-min(map(len, clause)), len(clause), sorted(clause))
    )
    return tuple(unique[:MAX_CLAUSES])


def _common_keys(children: Sequence[Node]) -> Keys:
    # An OR implies an equality on field F only if every branch implies one on F.
    per_child = [dict(child.keys) for child in children]
    if not per_child:
        return ()
    fields = set(per_child[0]).intersection(*per_child[1:])
    return tuple(
        (name, frozenset().union(*(child[name] for child in per_child))) for name in sorted(fields)
    )


def _leaf_anchors(leaf: Leaf) -> Anchors:
    if leaf.field in DERIVED_FIELD_NAMES:
        return ()  # computed from the time, not in the event's text
    if leaf.field in INDEX_FIELDS:
        return ()  # the key index already selects on these; their text is everywhere
    sets = [_test_anchors(value_test) for value_test in leaf.tests]
    if leaf.all_values:
        return best_clauses([found for found in sets if found])
    if any(found is None for found in sets):
        return ()
    return (frozenset().union(*(found for found in sets if found is not None)),)


def _test_anchors(value_test: ValueTest) -> frozenset[str] | None:
    if value_test.group:
        members = [_test_anchors(member) for member in value_test.group]
        if any(found is None for found in members):
            return None
        return frozenset().union(*(found for found in members if found is not None))
    return frozenset({value_test.anchor}) if value_test.anchor else None


def _leaf_keys(leaf: Leaf) -> Keys:
    if leaf.field is None or leaf.all_values:
        return ()
    keys = [value_test.key for value_test in leaf.tests]
    if not keys or any(key is None for key in keys):
        return ()
    return ((leaf.field, frozenset(key for key in keys if key is not None)),)


def _flatten(tests: Sequence[ValueTest]) -> list[ValueTest]:
    flat: list[ValueTest] = []
    for value_test in tests:
        if value_test.group:
            flat.extend(_flatten(value_test.group))
        else:
            flat.append(value_test)
    return flat


def _any_test(field_name: str | None, tests: Sequence[ValueTest]) -> Test:
    """OR over values: folded-string tests merged into a few C-level calls."""
    flat = _flatten(tests)
    folded = _merged_string_tests([t for t in flat if t.string is not None and not t.cased])
    cased = [t.string for t in flat if t.string is not None and t.cased]
    on_view = [t.view for t in flat if t.view is not None]
    checks: list[Test] = []
    if folded:
        checks.append(_strings_check(field_name, folded, cased=False))
    if cased:
        checks.append(_strings_check(field_name, [c for c in cased if c is not None], cased=True))
    for view_test in on_view:
        if view_test is not None:
            checks.append(_view_check(view_test, field_name))
    if not checks:
        return lambda view: False  # only "never" values (an unknown or empty list)
    return checks[0] if len(checks) == 1 else _any(checks)


def _merged_string_tests(tests: Sequence[ValueTest]) -> list[Callable[[str], bool]]:
    equals = frozenset(t.literal for t in tests if t.kind == "equals" and t.literal is not None)
    prefixes = tuple(t.literal for t in tests if t.kind == "startswith" and t.literal)
    suffixes = tuple(t.literal for t in tests if t.kind == "endswith" and t.literal)
    inside = [t.literal for t in tests if t.kind == "contains" and t.literal]
    rest = [
        t.string for t in tests if t.kind not in {"equals", "startswith", "endswith", "contains"}
    ]
    merged: list[Callable[[str], bool]] = []
    if equals:
        merged.append(equals.__contains__)
    if prefixes:
        merged.append(lambda s: s.startswith(prefixes))
    if suffixes:
        merged.append(lambda s: s.endswith(suffixes))
    if len(inside) == 1:
        needle = inside[0]
        merged.append(lambda s: needle in s)
    elif inside:
        search = re.compile("|".join(map(re.escape, sorted(set(inside))))).search
        merged.append(lambda s: search(s) is not None)
    merged.extend(test for test in rest if test is not None)
    return merged


def _strings_check(
    field_name: str | None, tests: Sequence[Callable[[str], bool]], *, cased: bool
) -> Test:
    def values(view: EventView) -> tuple[str, ...]:
        if field_name is None:
            return view.all_texts() if cased else view.all_folded()
        return view.texts(field_name) if cased else view.folded(field_name)

    if len(tests) == 1:
        only = tests[0]
        return lambda view: any(map(only, values(view)))

    def check(view: EventView) -> bool:
        strings = values(view)
        return any(any(map(test, strings)) for test in tests)

    return check


def _view_check(
    view_test: Callable[[EventView, str | None], object], field_name: str | None
) -> Test:
    return lambda view: view_test(view, field_name) is not MISSING


def _all(tests: Sequence[Test]) -> Test:
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        first, second = tests
        return lambda view: first(view) and second(view)

    def check(view: EventView) -> bool:
        # A plain loop: all() over a generator costs a frame per event on the hot path.
        for test in tests:  # noqa: SIM110
            if not test(view):
                return False
        return True

    return check


def _any(tests: Sequence[Test]) -> Test:
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        first, second = tests
        return lambda view: first(view) or second(view)

    def check(view: EventView) -> bool:
        for test in tests:  # noqa: SIM110 - see _all
            if test(view):
                return True
        return False

    return check
