"""The ``Matcher`` returns exactly the rules that evaluating every rule directly returns.

Its key index and Aho-Corasick prefilter may only skip rules that cannot match. The cases
here are built to trip them: anchors with characters JSON escapes (quotes, backslashes,
control characters) or that case folding changes (final sigma, sharp s), non-ASCII and
astral text, numbers whose text differs from their JSON, events orjson cannot serialise,
derived fields, keyword rules, rules without a key and rules keyed on ``EventID`` meeting
its value as text, integer, float or list. A bucket only scans anchors from
``MIN_RULES_FOR_SCAN`` rules on, so each case runs with that limit lowered to one (every
anchored rule goes through the prefilter) and with the limit as shipped.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest

from detection_rules.matcher import CompiledRule, EventView, Matcher, compile_rule, index
from detection_rules.matcher.derived import derived_fields
from detection_rules.matcher.view import DerivedField
from tests.support.sigma_reference import sigma_rule


@contextmanager
def every_bucket_scanned() -> Iterator[None]:
    with mock.patch.object(index, "MIN_RULES_FOR_SCAN", 1):
        yield


_numbers = itertools.count(1)


def compiled(detection: str, condition: str = "sel", **options: Any) -> CompiledRule:
    title = f"rule {next(_numbers)}"
    return compile_rule(sigma_rule(detection, condition, title=title), **options)


def matchers(
    rules: Sequence[CompiledRule], derived: Mapping[str, DerivedField] | None = None
) -> list[Matcher]:
    """The rules in a matcher whose every bucket scans, and in one as shipped."""
    with every_bucket_scanned():
        scanning = Matcher(rules, derived=derived)
    return [scanning, Matcher(rules, derived=derived)]


def directly(
    rules: Sequence[CompiledRule],
    event: Mapping[str, Any],
    derived: Mapping[str, DerivedField] | None = None,
) -> list[CompiledRule]:
    return [rule for rule in rules if rule.matches(event, derived)]


def assert_agrees(
    rules: Sequence[CompiledRule],
    event: Mapping[str, Any],
    derived: Mapping[str, DerivedField] | None = None,
) -> list[CompiledRule]:
    expected = directly(rules, event, derived)
    for matcher in matchers(rules, derived):
        assert matcher.match(event) == expected
    return expected


# Rules anchored on text that is also in every event below, so that a rule the prefilter
# wrongly skipped would not hide behind an empty bucket (and the shipped bucket scans).
FILLERS = [compiled(f"sel: {{filler|contains: 'filler text {i}'}}") for i in range(6)]

ANCHORS: list[tuple[str, dict[Any, Any]]] = [
    ("sel: {x|contains: 'say \"hi\"'}", {"x": 'I SAY "HI" twice'}),
    (r"sel: {x|endswith: '\cmd.exe'}", {"x": "C:\\Windows\\CMD.exe"}),
    (r"sel: {x|contains: 'a\\\*b'}", {"x": "xA\\*Bx"}),
    ('sel: {x|contains: "\\x01ctl\\tz"}', {"x": "a\x01CTL\tZ"}),
    ('sel: {x|contains: "ab\\x7fcd"}', {"x": "AB\x7fCD"}),
    ('sel: {x|contains: "line\\nbreak"}', {"x": "a LINE\nBREAK"}),
    ("sel: {x|contains: 'Müller'}", {"x": "herr MÜLLER"}),
    ("sel: {x|endswith: 'ΛΟΓΟΣ'}", {"x": "x λογος"}),  # final sigma folds to sigma
    ("sel: {x|contains: 'λογος'}", {"x": "ΛΟΓΟΣ!"}),
    ("sel: {x|contains: 'straße'}", {"x": "HAUPTSTRASSE 1"}),
    ("sel: {x|contains: 'STRAẞE'}", {"x": "straße"}),
    ("sel: {x|contains: 'ǅemal'}", {"x": "ǆEMAL"}),  # titlecase digraph
    ("sel: {x|contains: '😀ab'}", {"x": "x😀AB"}),
    ('sel: {x|contains: "a\\u2028b"}', {"x": "A\u2028B"}),
    ("sel: {x|wide|contains: 'ping'}", {"x": "p\x00i\x00n\x00g\x00"}),
    ("sel: {x|windash|contains: ' -enc'}", {"x": "ps \u2013ENC"}),
    ("sel: {x|base64offset|contains: 'whoami'}", {"x": "MXdob2FtaQ=="}),
    ("sel: {x|cased|contains: 'ABC'}", {"x": "xABCx"}),
    ("sel: {x|contains|all: [alpha, beta, gamma, delta]}", {"x": "delta gamma beta alpha"}),
    ("sel: {a.b|contains: 'nested'}", {"a": {"b": "very NESTED"}}),
    ("sel: {a.b|contains: 'flat'}", {"a.b": "FLAT key"}),
    ("sel: {x|contains: 'rue'}", {"x": True}),
    ("sel: {x: 'true'}", {"x": True}),
    ("sel: {x|contains: '0000'}", {"x": 1e20}),  # text 100000000000000000000, JSON 1e+20
    ("sel: {x: 100000000000000000000}", {"x": 1e20}),
    ("sel: {x|startswith: '1e-0'}", {"x": 1e-7}),  # text 1e-07, JSON 1e-7
    ("sel: {x: 4624}", {"x": 4624.0}),  # text 4624, JSON 4624.0
    ("sel: {x: 1.5}", {"x": "1.5"}),
    ("sel: {x|contains: 'needle'}", {"x": "needle", "blob": b"\x00\xff"}),
    ("sel: {x|contains: 'needle'}", {"x": "needle", "big": 2**70}),
    ("sel: {x|contains: 'needle'}", {"x": "needle", "amount": Decimal("1.5")}),
    ("sel: {x|contains: 'needle'}", {"x": "needle", (1, 2): "tuple key"}),
    ("sel: {x|contains: 'needle'}", {"x": "needle\ud800"}),  # a lone surrogate
    ("sel: {x|contains: 'needle'}", {"x": "needle", 7: "int key"}),
    ("keywords: ['failed password']", {"a": {"b": ["x", "Failed Password"]}}),
    ("keywords: ['4624']", {"id": 4624.0}),
    ("keywords: [straße]", {"m": "STRASSE"}),
]


@pytest.mark.parametrize(("detection", "event"), ANCHORS)
def test_the_prefilter_never_drops_a_rule_that_matches(
    detection: str, event: dict[str, Any]
) -> None:
    condition = "keywords" if detection.startswith("keywords") else "sel"
    rule = compiled(detection, condition)
    event = {**event, "filler": "filler text 0"}
    assert rule.matches(event), "the case must match when evaluated directly"
    rules = [*FILLERS, rule]
    assert rule in assert_agrees(rules, event)


@pytest.mark.parametrize(
    ("detection", "event"),
    [
        ("sel: {x: nan}", {"x": float("nan")}),
        ("sel: {x|contains: inf}", {"x": float("inf")}),
        ("sel: {x|endswith: '-inf'}", {"x": float("-inf")}),
    ],
)
def test_not_a_number_and_infinity_are_not_dropped(detection: str, event: dict[str, Any]) -> None:
    rule = compiled(detection)
    assert rule.matches(event)
    assert rule in assert_agrees([*FILLERS, rule], event)


def test_the_prefilter_does_skip_a_rule_whose_anchor_is_absent() -> None:
    # Without this, the agreement above could hold because nothing was ever filtered.
    rule = compiled("sel: {x|contains: 'needle'}")
    with every_bucket_scanned():
        matcher = Matcher([rule])
    assert matcher.candidates(EventView({"x": "haystack"})) == []
    assert matcher.candidates(EventView({"x": "NEEDLE"})) == [0]


EVENT_ID_RULES = [
    compiled("sel: {EventID: 4624}"),
    compiled("sel: {EventID: '4624'}"),
    compiled("sel: {EventID: [4624, 4625]}"),
    compiled("sel: {EventID: 4624, TargetUserName|contains: admin}"),
    compiled("sel: {EventID: 4625}"),
    compiled("sel: {Channel: Security, EventID: 4624}"),
    compiled("sel: {event.code: 4624}"),
    compiled("sel: {EventID: 4624}", "not sel"),
]


@pytest.mark.parametrize(
    "event",
    [
        {"EventID": 4624, "TargetUserName": "Administrator", "Channel": "SECURITY"},
        {"EventID": "4624", "TargetUserName": "ADMIN", "Channel": "security"},
        {"EventID": 4624.0, "Channel": "Security"},
        {"EventID": ["4624"], "TargetUserName": ["bob", "admin"]},
        {"EventID": [1, 4625]},
        {"EventID": [4624, 4625], "TargetUserName": "admin"},  # two buckets, one rule
        {"EventID": "04624", "Channel": "Security"},
        {"EventID": " 4624"},
        {"EventID": True},
        {"event": {"code": "4624"}},
        {"event.code": 4624},
        {"Channel": "Security"},
        {},
    ],
)
def test_rules_keyed_on_the_event_id_meet_it_as_text_number_float_or_list(
    event: dict[str, Any],
) -> None:
    assert_agrees(EVENT_ID_RULES, event)


def test_the_event_id_index_selects_a_rule_for_its_text_and_its_number() -> None:
    (number_rule, text_rule, *_) = EVENT_ID_RULES
    assert number_rule.index_key == text_rule.index_key == ("EventID", frozenset({"4624"}))
    for event in ({"EventID": 4624}, {"EventID": "4624"}):
        assert assert_agrees(EVENT_ID_RULES, event)[:2] == [number_rule, text_rule]


UNKEYED = [
    compiled("sel: {x|contains: abc}", "not sel"),
    compiled("sel1: {EventID: 1}\nsel2: {event.code: 1}", "sel1 or sel2"),
    compiled("sel: {x|re: 'a.c'}"),
    compiled("sel: {x|contains: abc}\nother: {y|re: '^q'}", "sel or other"),
    compiled("sel: {x|exists: false}"),
    compiled("sel: {x: null}"),
    compiled("sel: {x|cidr: 10.0.0.0/8}"),
    compiled("sel: {x|fieldref: y}"),
    compiled("sel: {x|gt: 5}"),
    compiled("keywords: [abc]", "keywords"),
    compiled("sel: {x|expand: '%nowhere%'}"),
    compiled("sel: {x|expand: '%admins%'}", lists={"admins": ["root", "abc"]}),
    compiled("sel: {x|expand: '%one%'}", lists={"one": ["abc"]}),
]


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"x": "abc"},
        {"x": "xAbCx", "y": "qq"},
        {"EventID": 1},
        {"event": {"code": 1}},
        {"x": "10.1.2.3", "y": "10.1.2.3"},
        {"x": 6},
        {"x": "ROOT"},
        {"x": None},
        {"z": ["a", {"b": "ABC"}]},
    ],
)
def test_rules_without_a_key_or_without_anchors_are_always_evaluated(
    event: dict[str, Any],
) -> None:
    assert_agrees([*FILLERS, *UNKEYED], event)


DERIVED_RULES = [
    compiled("sel: {wachter.time.office_hours: true}"),
    compiled("sel: {wachter.time.office_hours: false, user|contains: admin}"),
    compiled("sel: {wachter.time.local_hour: 11}"),
    compiled("sel: {wachter.time.weekday: [6, 7]}"),
    compiled("sel: {wachter.time.local_hour|gte: 20}"),
    compiled("sel: {wachter.time.office_hours|exists: false}"),
]


@pytest.mark.parametrize(
    "event",
    [
        {"@timestamp": "2026-03-02T10:00:00Z", "user": "admin"},  # Monday 11:00 in Amsterdam
        {"@timestamp": "2026-03-01T10:00:00Z", "user": "ADMIN"},  # Sunday
        {"@timestamp": "2026-03-02T21:30:00Z"},
        {"@timestamp": "2026-03-02T10:00:00Z", "wachter": {"time": {"office_hours": False}}},
        {"user": "admin"},  # no time: no derived fields
    ],
)
def test_derived_fields_are_computed_for_the_index_not_read_from_the_event(
    event: dict[str, Any],
) -> None:
    derived = derived_fields()
    assert_agrees([*FILLERS, *DERIVED_RULES], event, derived)


def test_many_rules_in_one_bucket_are_prefiltered_and_still_agree() -> None:
    words = ["mimikatz", "procdump", "psexec", "rubeus", "certutil", "bitsadmin", "wmic"]
    rules = [compiled(f"sel: {{EventID: 1, CommandLine|contains: '{word}'}}") for word in words] + [
        compiled("sel: {EventID: 1, CommandLine|contains|all: [' -urlcache', ' -f ']}")
    ]
    matcher = Matcher(rules)
    events: list[dict[str, Any]] = [
        {"EventID": 1, "CommandLine": "certutil -urlcache -f http://x"},
        {"EventID": "1", "CommandLine": ["x", "PSEXEC.exe"]},
        {"EventID": 1, "CommandLine": "notepad.exe"},
        {"EventID": 2, "CommandLine": "mimikatz"},
    ]
    for event in events:
        assert matcher.match(event) == directly(rules, event)
    assert matcher.match(events[0]) == [rules[4], rules[7]]
