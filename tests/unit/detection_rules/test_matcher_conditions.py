"""Sigma conditions as the matcher evaluates them, and the explanation of a match.

Precedence (``not`` over ``and`` over ``or``), parentheses, ``1 of``/``any of``/``all of``
patterns and ``them`` (never the ``_``-prefixed selections), selections that are lists of
maps (OR), condition lists (OR); then ``CompiledRule.explain``: which selections matched
and on which fields, patterns and values, pipeline conditions shown as ``logsource``.
Every answer is also checked on the reference evaluator.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from detection_rules.errors import UnsupportedRule
from detection_rules.matcher import FieldMatch, SelectionMatch, compile_rule
from detection_rules.matcher.derived import derived_fields
from detection_rules.pipelines import default_pipeline
from tests.support.sigma_reference import reference_matches, sigma_rule

# Selections a..d each match when the event has that key set to 1.
ABCD = """
a: {a: 1}
b: {b: 1}
c: {c: 1}
d: {d: 1}
"""


def event_with(*keys: str) -> dict[str, Any]:
    return dict.fromkeys(keys, 1)


def check(
    detection: str, condition: str | Sequence[str], event: dict[str, Any], expected: bool
) -> None:
    rule = sigma_rule(detection, condition)
    assert compile_rule(rule).matches(event) is expected
    assert reference_matches(rule, event) is expected


@pytest.mark.parametrize(
    ("condition", "present", "expected"),
    [
        ("a or b and c", ["a"], True),  # and binds tighter than or
        ("a or b and c", ["b"], False),
        ("a or b and c", ["b", "c"], True),
        ("a and b or c", ["c"], True),
        ("a and b or c", ["a"], False),
        ("not a and b", ["b"], True),  # not binds tighter than and
        ("not a and b", ["a", "b"], False),
        ("not a and b", [], False),
        ("not a or b", [], True),
        ("not a or b", ["a"], False),
        ("a and not b or c", ["a", "b"], False),
        ("a and not b or c", ["a", "b", "c"], True),
        ("not not a", ["a"], True),
        ("a or b or c or d", ["d"], True),
        ("a and b and c and d", ["a", "b", "c"], False),
        ("a and b and c and d", ["a", "b", "c", "d"], True),
    ],
)
def test_not_binds_tighter_than_and_which_binds_tighter_than_or(
    condition: str, present: list[str], expected: bool
) -> None:
    check(ABCD, condition, event_with(*present), expected)


@pytest.mark.parametrize(
    ("condition", "present", "expected"),
    [
        ("(a or b) and c", ["a"], False),
        ("(a or b) and c", ["b", "c"], True),
        ("a or (b and c)", ["b"], False),
        ("not (a or b)", [], True),
        ("not (a or b)", ["b"], False),
        ("not (a and b)", ["a"], True),
        ("not (a and b)", ["a", "b"], False),
        ("((a or b) and (c or d))", ["b", "d"], True),
        ("((a or b) and (c or d))", ["a", "b"], False),
        ("a and (b or not (c and d))", ["a", "c", "d"], False),
        ("a and (b or not (c and d))", ["a", "c"], True),
    ],
)
def test_parentheses_group_before_precedence_applies(
    condition: str, present: list[str], expected: bool
) -> None:
    check(ABCD, condition, event_with(*present), expected)


PATTERNS = """
selection_one: {one: 1}
selection_two: {two: 1}
filter_admin: {admin: 1}
filter_system: {system: 1}
_private: {private: 1}
"""


@pytest.mark.parametrize(
    ("condition", "present", "expected"),
    [
        ("1 of selection_*", ["two"], True),
        ("1 of selection_*", ["admin"], False),
        ("any of selection_*", ["one"], True),
        ("all of selection_*", ["one"], False),
        ("all of selection_*", ["one", "two"], True),
        ("1 of selection_* and not 1 of filter_*", ["one"], True),
        ("1 of selection_* and not 1 of filter_*", ["one", "system"], False),
        ("1 of selection_* and not all of filter_*", ["one", "system"], True),
        ("1 of selection_* and not all of filter_*", ["one", "system", "admin"], False),
        ("1 of them", ["admin"], True),
        ("1 of them", ["private"], False),  # _-prefixed selections are not in "them"
        ("1 of them", [], False),
        ("all of them", ["one", "two", "admin", "system"], True),  # without _private
        ("all of them", ["one", "two", "admin"], False),
        ("1 of _priv*", ["private"], True),  # a _-pattern does reach them
        ("_private", ["private"], True),  # as does naming one
        ("1 of *_one", ["one"], True),
        ("selection_one and 1 of them", ["one"], True),
    ],
)
def test_of_patterns_and_them_quantify_over_selections(
    condition: str, present: list[str], expected: bool
) -> None:
    check(PATTERNS, condition, event_with(*present), expected)


LIST_OF_MAPS = """
sel:
    - {user: admin, action: login}
    - {user: root}
    - action: [sudo, su]
"""


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"user": "admin", "action": "login"}, True),
        ({"user": "admin", "action": "logout"}, False),  # a map is all of its items
        ({"user": "ROOT"}, True),  # the list is any of its maps
        ({"action": "su"}, True),  # a list value is any of its values
        ({"user": "bob", "action": "logout"}, False),
    ],
)
def test_a_selection_that_is_a_list_of_maps_matches_when_one_map_does(
    event: dict[str, Any], expected: bool
) -> None:
    check(LIST_OF_MAPS, "sel", event, expected)


@pytest.mark.parametrize(
    ("present", "expected"), [(["a"], True), (["c", "d"], True), (["c"], False), ([], False)]
)
def test_a_list_of_conditions_matches_when_any_condition_does(
    present: list[str], expected: bool
) -> None:
    check(ABCD, ["a or b", "c and d"], event_with(*present), expected)


def test_a_selection_used_twice_is_the_same_selection() -> None:
    rule = compile_rule(sigma_rule(ABCD, "(a and b) or (a and c)"))
    assert rule.matches(event_with("a", "c"))
    assert not rule.matches(event_with("b", "c"))
    assert set(rule.selections) == {"a", "b", "c"}


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("1 of nothing_*", "The condition pattern 'nothing_*' matches no selection."),
        ("a and missing", "The condition names 'missing', which is not a selection."),
    ],
)
def test_a_condition_that_names_nothing_is_refused(condition: str, message: str) -> None:
    with pytest.raises(UnsupportedRule) as raised:
        compile_rule(sigma_rule(ABCD, condition))
    assert raised.value.message == message


# --- explanations ------------------------------------------------------------------------

WINDOWS_RULE = r"""
sel:
    Image|endswith: '\whoami.exe'
    CommandLine|contains: [/priv, /all]
filter:
    User|startswith: 'NT AUTHORITY\'
"""
SYSMON_EVENT = {
    "EventID": 1,
    "Channel": "Microsoft-Windows-Sysmon/Operational",
    "Image": "C:\\Windows\\System32\\WHOAMI.EXE",
    "CommandLine": "whoami /all",
    "User": "CORP\\bob",
}


def test_the_explanation_names_the_matched_selection_fields_patterns_and_values() -> None:
    rule = compile_rule(sigma_rule(WINDOWS_RULE, "sel and not filter"))
    assert rule.explain(SYSMON_EVENT) == (
        SelectionMatch(
            "sel",
            (
                FieldMatch("Image", "*\\whoami.exe", "C:\\Windows\\System32\\WHOAMI.EXE"),
                FieldMatch("CommandLine", "*/all*", "whoami /all"),
            ),
        ),
    )


def test_pipeline_conditions_are_explained_as_logsource_after_the_rules_own() -> None:
    rule = compile_rule(
        sigma_rule(
            WINDOWS_RULE,
            "sel and not filter",
            logsource="{product: windows, category: process_creation}",
        ),
        pipeline=default_pipeline(),
    )
    explained = rule.explain(SYSMON_EVENT)
    assert [match.selection for match in explained] == ["sel", "logsource", "logsource"]
    added = {
        field_match.field: field_match.value
        for match in explained[1:]
        for field_match in match.fields
    }
    assert added == {"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational"}
    assert rule.matches(SYSMON_EVENT)
    assert not rule.matches({**SYSMON_EVENT, "EventID": 4688})
    assert reference_matches(rule.rule, SYSMON_EVENT, pipeline=default_pipeline())
    assert not reference_matches(
        rule.rule, {**SYSMON_EVENT, "EventID": 4688}, pipeline=default_pipeline()
    )


@pytest.mark.parametrize(
    ("detection", "event", "expected"),
    [
        (
            "sel: {ip|cidr: 10.0.0.0/8}",
            {"ip": "10.1.2.3"},
            FieldMatch("ip", "10.0.0.0/8", "10.1.2.3"),
        ),
        ("sel: {n|gte: 5}", {"n": "7"}, FieldMatch("n", ">= 5", "7")),
        ("sel: {x|re|i: 'b.d'}", {"x": "ABCD"}, FieldMatch("x", "/b.d/i", "ABCD")),
        ("sel: {x: 4624}", {"x": "4624"}, FieldMatch("x", "4624", "4624")),
        ("sel: {x|exists: true}", {"x": "v"}, FieldMatch("x", "exists: true", "v")),
        ("sel: {x: null}", {}, FieldMatch("x", "null", None)),
        ("sel: {x|fieldref: y}", {"x": "a", "y": "A"}, FieldMatch("x", "field y", "a")),
        ("sel: {x: [a, b]}", {"x": ["c", "B"]}, FieldMatch("x", "b", "B")),
        ("keywords: [failed]", {"m": {"n": "Failed!"}}, FieldMatch(None, "*failed*", "Failed!")),
    ],
)
def test_each_value_form_is_explained_by_its_pattern_and_the_event_value(
    detection: str, event: dict[str, Any], expected: FieldMatch
) -> None:
    name = detection.split(":", 1)[0]
    rule = compile_rule(sigma_rule(detection, name))
    assert rule.explain(event) == (SelectionMatch(name, (expected,)),)


def test_negated_items_and_unmatched_selections_are_not_explained() -> None:
    rule = compile_rule(sigma_rule("sel: {x: a, y|neq: b}\nother: {z: 1}", "sel or other"))
    assert rule.explain({"x": "a", "y": "c"}) == (
        SelectionMatch("sel", (FieldMatch("x", "a", "a"),)),
    )


def test_derived_fields_are_explained_with_their_computed_value() -> None:
    rule = compile_rule(sigma_rule("sel: {wachter.time.office_hours: false}"))
    sunday = {"@timestamp": "2026-03-01T12:00:00Z"}
    derived = derived_fields()
    assert rule.matches(sunday, derived)
    assert rule.explain(sunday, derived) == (
        SelectionMatch("sel", (FieldMatch("wachter.time.office_hours", "false", False),)),
    )


def test_only_the_map_that_matched_is_explained() -> None:
    rule = compile_rule(sigma_rule("sel:\n    - {a: 1, b: 2}\n    - {c: 3}"))
    assert rule.explain({"a": 1, "c": 3}) == (SelectionMatch("sel", (FieldMatch("c", "3", 3),)),)


WACHTER_AUTH = "{product: wachter, service: auth}"
WACHTER_EVENT = {"wachter": {"logsource": {"product": "wachter", "service": "auth"}}}


def test_them_does_not_include_the_conditions_a_pipeline_adds() -> None:
    rule = compile_rule(
        sigma_rule("sel: {event.outcome: failure}", "1 of them", logsource=WACHTER_AUTH),
        pipeline=default_pipeline(),
    )
    assert rule.matches({**WACHTER_EVENT, "event": {"outcome": "failure"}})
    assert not rule.matches({**WACHTER_EVENT, "event": {"outcome": "success"}})


def test_the_rules_own_selections_are_explained_before_the_wachter_logsource() -> None:
    rule = compile_rule(
        sigma_rule("sel: {event.outcome: failure}", "sel", logsource=WACHTER_AUTH),
        pipeline=default_pipeline(),
    )
    explained = rule.explain({**WACHTER_EVENT, "event": {"outcome": "failure"}})
    assert explained[0].selection == "sel"
