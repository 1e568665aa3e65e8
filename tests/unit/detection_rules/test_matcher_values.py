"""Every Sigma value form the matcher evaluates, one parametrised group per modifier.

Each case states what the rule says, an event, and whether it must match; each is checked
on the compiled rule and on the slow reference evaluator (``tests.support.sigma_reference``),
so the yardstick of the property tests is itself held to these hand-written answers.
Detections are YAML as a rule author writes them; single-quoted YAML keeps backslashes,
so ``'a\\*b'`` is the Sigma text ``a\\*b`` (a literal star). The module is long because
it is the value half of the specification as a table per modifier; split, it would no
longer read as one.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from detection_rules.errors import DetectionRuleError
from detection_rules.matcher import compile_rule
from tests.support.sigma_reference import Lists, reference_matches, sigma_rule

Case = tuple[str, dict[str, Any], bool]


def check(
    detection: str, event: dict[str, Any], expected: bool, lists: Lists | None = None
) -> None:
    """The matcher and the reference both answer ``expected`` for ``detection`` on ``event``."""
    condition = "keywords" if detection.lstrip().startswith("keywords") else "sel"
    rule = sigma_rule(detection, condition)
    assert compile_rule(rule, lists=lists).matches(event) is expected
    assert reference_matches(rule, event, lists=lists) is expected


def matcher_says(detection: str, event: dict[str, Any], lists: Lists | None = None) -> bool:
    condition = "keywords" if detection.lstrip().startswith("keywords") else "sel"
    return compile_rule(sigma_rule(detection, condition), lists=lists).matches(event)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


PLAIN: list[Case] = [
    ("sel: {x: abc}", {"x": "abc"}, True),
    ("sel: {x: abc}", {"x": "ABC"}, True),
    ("sel: {x: abc}", {"x": "abcd"}, False),
    ("sel: {x: abc}", {"x": "xabc"}, False),
    ("sel: {x: abc}", {"y": "abc"}, False),
    ("sel: {x: abc}", {}, False),
    ("sel: {x: abc}", {"x": {"abc": "abc"}}, False),
    ("sel: {x: [abc, def]}", {"x": "DEF"}, True),
    ("sel: {x: [abc, def]}", {"x": "ghi"}, False),
    ("sel: {x: abc, y: def}", {"x": "abc", "y": "def"}, True),
    ("sel: {x: abc, y: def}", {"x": "abc", "y": "xyz"}, False),
]


@pytest.mark.parametrize(("detection", "event", "expected"), PLAIN)
def test_a_plain_value_equals_the_whole_field_and_items_of_a_map_all_hold(
    detection: str, event: dict[str, Any], expected: bool
) -> None:
    check(detection, event, expected)


POSITIONAL: list[Case] = [
    ("sel: {x|contains: bc}", {"x": "ABCD"}, True),
    ("sel: {x|contains: bc}", {"x": "acbd"}, False),
    ("sel: {x|contains: [zz, bc]}", {"x": "abc"}, True),
    ("sel: {x|startswith: ab}", {"x": "ABC"}, True),
    ("sel: {x|startswith: ab}", {"x": "cab"}, False),
    ("sel: {x|endswith: bc}", {"x": "ABC"}, True),
    ("sel: {x|endswith: bc}", {"x": "bca"}, False),
    ("sel: {x|contains|all: [ab, cd]}", {"x": "cd-ab"}, True),
    ("sel: {x|contains|all: [ab, cd]}", {"x": "ab-c"}, False),
    ("sel: {x|all|contains: [ab, cd]}", {"x": ["ab", "cd"]}, True),  # items may differ
    ("sel: {x|all: [ab, cd]}", {"x": "ab"}, False),
    ("sel: {x|contains: ''}", {"x": "anything"}, True),
    ("sel: {x|contains: ''}", {}, False),
]


@pytest.mark.parametrize(("detection", "event", "expected"), POSITIONAL)
def test_contains_startswith_endswith_and_all(
    detection: str, event: dict[str, Any], expected: bool
) -> None:
    check(detection, event, expected)


WILDCARDS: list[Case] = [
    ("sel: {x: 'a*c'}", {"x": "abbbc"}, True),
    ("sel: {x: 'a*c'}", {"x": "AC"}, True),
    ("sel: {x: 'a*c'}", {"x": "abcd"}, False),
    ("sel: {x: 'a*c'}", {"x": "a\nb\nc"}, True),  # * crosses line breaks
    ("sel: {x: 'a?c'}", {"x": "abc"}, True),
    ("sel: {x: 'a?c'}", {"x": "ac"}, False),
    ("sel: {x: 'a?c'}", {"x": "abbc"}, False),
    ("sel: {x: 'a?c'}", {"x": "a\nc"}, True),
    ("sel: {x: '*'}", {"x": ""}, True),
    ("sel: {x: '*'}", {"x": 5}, True),
    ("sel: {x: '*'}", {"x": None}, False),
    ("sel: {x: '*'}", {}, False),
    ("sel: {x: '?'}", {"x": "é"}, True),
    ("sel: {x: '?'}", {"x": "ab"}, False),
    ("sel: {x: 'a.b+c(d)'}", {"x": "a.b+c(d)"}, True),  # regex characters are plain
    ("sel: {x: 'a.b+c(d)'}", {"x": "axbbc(d)"}, False),
]


@pytest.mark.parametrize(("detection", "event", "expected"), WILDCARDS)
def test_star_matches_any_run_and_question_mark_exactly_one_character(
    detection: str, event: dict[str, Any], expected: bool
) -> None:
    check(detection, event, expected)


# The Sigma specification's escaping: a backslash escapes *, ? and itself; before any other
# character it is a plain backslash (so \\ before a plain character is one backslash too).
ESCAPES: list[Case] = [
    (r"sel: {x: 'a\*b'}", {"x": "a*b"}, True),  # \* is a literal star
    (r"sel: {x: 'a\*b'}", {"x": "axxb"}, False),
    (r"sel: {x: 'a\?b'}", {"x": "a?b"}, True),
    (r"sel: {x: 'a\?b'}", {"x": "axb"}, False),
    (r"sel: {x: 'a\\*'}", {"x": "a\\"}, True),  # \\* is a backslash, then a wildcard
    (r"sel: {x: 'a\\*'}", {"x": "a\\anything"}, True),
    (r"sel: {x: 'a\\*'}", {"x": "a*"}, False),
    (r"sel: {x: 'a\\*'}", {"x": "abc"}, False),
    (r"sel: {x: 'a\\\*'}", {"x": "a\\*"}, True),  # \\\* is a backslash and a literal star
    (r"sel: {x: 'a\\\*'}", {"x": "a\\x"}, False),
    (r"sel: {x: 'C:\Windows\System32'}", {"x": "c:\\windows\\system32"}, True),
    (r"sel: {x: 'C:\Windows\System32'}", {"x": "C:WindowsSystem32"}, False),
    (r"sel: {x: '\\server\share'}", {"x": "\\server\\share"}, True),
    (r"sel: {x: '\\server\share'}", {"x": "\\\\server\\share"}, False),
    (r"sel: {x: 'dir\'}", {"x": "dir\\"}, True),  # a trailing backslash stays
    (r"sel: {x|endswith: '\cmd.exe'}", {"x": "C:\\Windows\\CMD.EXE"}, True),
    (r"sel: {x|endswith: '\cmd.exe'}", {"x": "C:\\Windows\\xcmd.exe"}, False),
    (r"sel: {x|contains: '\*'}", {"x": "2*3"}, True),
    (r"sel: {x|contains: '\*'}", {"x": "23"}, False),
]


@pytest.mark.parametrize(("detection", "event", "expected"), ESCAPES)
def test_backslash_escapes_wildcards_and_itself_exactly_as_the_spec_defines(
    detection: str, event: dict[str, Any], expected: bool
) -> None:
    check(detection, event, expected)


CASES_OF_LETTERS: list[Case] = [
    ("sel: {x: 'Émile'}", {"x": "éMILE"}, True),
    ("sel: {x: 'émile'}", {"x": "emile"}, False),  # accents are not case
    ("sel: {x: 'MÜLLER'}", {"x": "müller"}, True),
    ("sel: {x: 'straße'}", {"x": "STRAẞE"}, True),  # capital sharp s
    ("sel: {x: 'straße'}", {"x": "STRASSE"}, True),  # full case folding (str.casefold)
    ("sel: {x: 'ΛΟΓΟΣ'}", {"x": "λογος"}, True),  # final sigma
    ("sel: {x|endswith: 'ος'}", {"x": "ΛΟΓΟΣ"}, True),
    ("sel: {x: 'ЖУК'}", {"x": "жук"}, True),
    ("sel: {x|cased: Admin}", {"x": "Admin"}, True),
    ("sel: {x|cased: Admin}", {"x": "admin"}, False),
    ("sel: {x|contains|cased: 'É'}", {"x": "xÉx"}, True),
    ("sel: {x|contains|cased: 'É'}", {"x": "xéx"}, False),
    ("sel: {x|cased|startswith: Ab}", {"x": "Abc"}, True),
    ("sel: {x|cased|startswith: Ab}", {"x": "abc"}, False),
    ("sel: {x|cased: 'A*z'}", {"x": "Abcz"}, True),
    ("sel: {x|cased: 'A*z'}", {"x": "abcZ"}, False),
]


@pytest.mark.parametrize(("detection", "event", "expected"), CASES_OF_LETTERS)
def test_matching_ignores_case_in_every_script_unless_cased(
    detection: str, event: dict[str, Any], expected: bool
) -> None:
    check(detection, event, expected)


@pytest.mark.parametrize("value", ["Straße", "İstanbul"])
def test_a_single_character_wildcard_matches_a_letter_that_folds_into_two(value: str) -> None:
    detection = "sel: {x: 'stra?e'}" if value == "Straße" else "sel: {x: '?stanbul'}"
    assert matcher_says(detection, {"x": value})


NULLS: list[Case] = [
    ("sel: {x: null}", {}, True),
    ("sel: {x: null}", {"x": None}, True),
    ("sel: {x: null}", {"x": []}, True),
    ("sel: {x: null}", {"x": ""}, False),
    ("sel: {x: null}", {"x": "a"}, False),
    ("sel: {x: []}", {}, True),  # an empty value list is null, as pySigma reads it
    ("sel: {x: ''}", {"x": ""}, True),
    ("sel: {x: ''}", {"x": None}, False),
    ("sel: {x: ''}", {}, False),
    ("sel: {x: ''}", {"x": " "}, False),
    ("sel: {x: [null, a]}", {"x": "A"}, True),
    ("sel: {x: [null, a]}", {}, True),
    ("sel: {x: [null, a]}", {"x": "b"}, False),
]


@pytest.mark.parametrize(("detection", "event", "expected"), NULLS)
def test_null_means_missing_or_null_and_the_empty_string_only_itself(
    detection: str, event: dict[str, Any], expected: bool
) -> None:
    check(detection, event, expected)


EXISTS: list[Case] = [
    ("sel: {x|exists: true}", {"x": "a"}, True),
    ("sel: {x|exists: true}", {"x": ""}, True),
    ("sel: {x|exists: true}", {"x": 0}, True),
    ("sel: {x|exists: true}", {"x": False}, True),
    ("sel: {x|exists: true}", {"x": None}, False),
    ("sel: {x|exists: true}", {"x": []}, False),
    ("sel: {x|exists: true}", {}, False),
    ("sel: {x|exists: false}", {}, True),
    ("sel: {x|exists: false}", {"x": None}, True),
    ("sel: {x|exists: false}", {"x": ""}, False),
    ("sel: {x|exists: false}", {"y": "x"}, True),
    ("sel: {a.b|exists: true}", {"a": {"b": 1}}, True),
    ("sel: {a.b|exists: false}", {"a": {"c": 1}}, True),
]


@pytest.mark.parametrize(("detection", "event", "expected"), EXISTS)
def test_exists_asks_whether_the_field_has_a_value(
    detection: str, event: dict[str, Any], expected: bool
) -> None:
    check(detection, event, expected)


LISTS_AND_PATHS: list[Case] = [
    ("sel: {x: b}", {"x": ["a", "B"]}, True),
    ("sel: {x: c}", {"x": ["a", "b"]}, False),
    ("sel: {x: c}", {"x": [["a"], ["b", "c"]]}, True),
    ("sel: {x: c}", {"x": [None, "c"]}, True),
    ("sel: {x|contains: z}", {"x": ["az", 1]}, True),
    ("sel: {x: 2}", {"x": [1, 2]}, True),
    ("sel: {a.b: v}", {"a.b": "v"}, True),  # flat dotted key
    ("sel: {a.b: v}", {"a": {"b": "v"}}, True),  # nested object
    ("sel: {a.b.c: v}", {"a.b": {"c": "v"}}, True),  # a flat key inside the path
    ("sel: {a.b.c: v}", {"a": {"b.c": "v"}}, True),
    ("sel: {a.b.c: v}", {"a": {"b": {"c": "v"}}}, True),
    ("sel: {a.b: v}", {"a": "v"}, False),
    ("sel: {a.b: v}", {"a": {"c": "v"}}, False),
    ("sel: {a.b: v}", {"b": "v"}, False),
    ("sel: {a.b: v}", {"a": {"b": ["x", "v"]}}, True),
]


@pytest.mark.parametrize(("detection", "event", "expected"), LISTS_AND_PATHS)
def test_lists_match_by_any_item_and_dotted_names_reach_flat_and_nested_fields(
    detection: str, event: dict[str, Any], expected: bool
) -> None:
    check(detection, event, expected)


def test_a_dotted_name_reaches_into_a_list_of_objects() -> None:
    assert matcher_says("sel: {a.b: v}", {"a": [{"b": "x"}, {"b": "v"}]})


NUMBERS: list[Case] = [
    ("sel: {x: 4624}", {"x": 4624}, True),
    ("sel: {x: 4624}", {"x": "4624"}, True),
    ("sel: {x: 4624}", {"x": 4624.0}, True),
    ("sel: {x: 4624}", {"x": ["1", "4624"]}, True),
    ("sel: {x: 4624}", {"x": 4625}, False),
    ("sel: {x: 4624}", {"x": "04624"}, False),
    ("sel: {x: 4624}", {"x": "4624 "}, False),
    ("sel: {x: '4624'}", {"x": 4624}, True),
    ("sel: {x: '46*'}", {"x": 4624}, True),
    ("sel: {x|endswith: '24'}", {"x": 4624}, True),
    ("sel: {x: -1}", {"x": "-1"}, True),
    ("sel: {x: 1.5}", {"x": 1.5}, True),
    ("sel: {x: 1.5}", {"x": "1.5"}, True),
    ("sel: {x: 1.5}", {"x": 15}, False),
    ("sel: {x: 1}", {"x": True}, False),  # a boolean is not the number 1
    ("sel: {x: 0}", {"x": False}, False),
    ("sel: {x: 100000000000000000000}", {"x": 1e20}, True),
]


@pytest.mark.parametrize(("detection", "event", "expected"), NUMBERS)
def test_numbers_in_rules_match_equal_numbers_and_their_text(
    detection: str, event: dict[str, Any], expected: bool
) -> None:
    check(detection, event, expected)


@pytest.mark.parametrize(
    ("detection", "event", "expected"),
    [
        ("sel: {x: 1.0}", {"x": 1}, True),
        ("sel: {x: 1.0}", {"x": 1.0}, True),
        ("sel: {x: 1.0}", {"x": "1"}, True),
        # Documented (docs/detection.md): a whole number is one number, written "1".
        ("sel: {x: 1.0}", {"x": "1.0"}, False),
        ("sel: {x: '1.0'}", {"x": 1.0}, False),
        ("sel: {x: '1.0'}", {"x": "1.0"}, True),
    ],
)
def test_a_whole_float_reads_as_its_integer_text(
    detection: str, event: dict[str, Any], expected: bool
) -> None:
    assert matcher_says(detection, event) is expected


BOOLEANS: list[Case] = [
    ("sel: {x: true}", {"x": True}, True),
    ("sel: {x: true}", {"x": "true"}, True),
    ("sel: {x: true}", {"x": "TRUE"}, True),
    ("sel: {x: true}", {"x": False}, False),
    ("sel: {x: true}", {"x": 1}, False),
    ("sel: {x: true}", {"x": "1"}, False),
    ("sel: {x: false}", {"x": False}, True),
    ("sel: {x: false}", {"x": 0}, False),
    ("sel: {x: false}", {}, False),
    ("sel: {x: 'true'}", {"x": True}, True),
]


@pytest.mark.parametrize(("detection", "event", "expected"), BOOLEANS)
def test_booleans_match_booleans_and_their_text(
    detection: str, event: dict[str, Any], expected: bool
) -> None:
    check(detection, event, expected)


REGEX: list[Case] = [
    ("sel: {x|re: 'b.d'}", {"x": "abcde"}, True),  # a search, not anchored
    ("sel: {x|re: '^b'}", {"x": "abc"}, False),
    ("sel: {x|re: '^A'}", {"x": "abc"}, False),  # case-sensitive by default
    ("sel: {x|re|i: '^A'}", {"x": "abc"}, True),
    ("sel: {x|re: '^c'}", {"x": "ab\ncd"}, False),
    ("sel: {x|re|m: '^c'}", {"x": "ab\ncd"}, True),
    ("sel: {x|re: 'b.c'}", {"x": "ab\ncd"}, False),
    ("sel: {x|re|s: 'b.c'}", {"x": "ab\ncd"}, True),
    ("sel: {x|re|i|m|s: '^C.D$'}", {"x": "ab\nc\nd"}, True),
    ("sel: {x|re: '^46\\d\\d$'}", {"x": 4624}, True),  # numbers as their text
    ("sel: {x|re: 'a'}", {}, False),
    ("sel: {x|re: 'a'}", {"x": ["b", "ca"]}, True),
]


@pytest.mark.parametrize(("detection", "event", "expected"), REGEX)
def test_regular_expressions_search_the_text_with_the_i_m_s_flags(
    detection: str, event: dict[str, Any], expected: bool
) -> None:
    check(detection, event, expected)


CIDR: list[Case] = [
    ("sel: {x|cidr: 10.0.0.0/8}", {"x": "10.200.3.4"}, True),
    ("sel: {x|cidr: 10.0.0.0/8}", {"x": "11.0.0.1"}, False),
    ("sel: {x|cidr: 192.168.1.0/24}", {"x": "192.168.1.255"}, True),
    ("sel: {x|cidr: 192.168.1.0/24}", {"x": "192.168.2.0"}, False),
    ("sel: {x|cidr: [10.0.0.0/8, 172.16.0.0/12]}", {"x": "172.20.0.1"}, True),
    ("sel: {x|cidr: '2001:db8::/32'}", {"x": "2001:DB8:1::5"}, True),
    ("sel: {x|cidr: '2001:db8::/32'}", {"x": "2001:db9::1"}, False),
    ("sel: {x|cidr: '2001:db8::/32'}", {"x": "10.0.0.1"}, False),
    ("sel: {x|cidr: 10.0.0.0/8}", {"x": "fe80::1"}, False),
    ("sel: {x|cidr: 10.0.0.0/8}", {"x": "not-an-address"}, False),
    ("sel: {x|cidr: 10.0.0.0/8}", {"x": "10.0.0.0/8"}, False),
    ("sel: {x|cidr: 10.0.0.0/8}", {"x": 167772161}, False),  # a number is no address
    ("sel: {x|cidr: 10.0.0.0/8}", {"x": ["8.8.8.8", "10.0.0.1"]}, True),
    ("sel: {x|cidr: 10.0.0.0/8}", {}, False),
    ("sel: {x|cidr: 'fe80::/10'}", {"x": "fe80::1%eth0"}, True),  # zone index ignored
]


@pytest.mark.parametrize(("detection", "event", "expected"), CIDR)
def test_cidr_matches_addresses_inside_the_network(
    detection: str, event: dict[str, Any], expected: bool
) -> None:
    check(detection, event, expected)


COMPARISONS: list[Case] = [
    ("sel: {x|gt: 10}", {"x": 11}, True),
    ("sel: {x|gt: 10}", {"x": 10}, False),
    ("sel: {x|gte: 10}", {"x": 10}, True),
    ("sel: {x|gte: 10}", {"x": 9.99}, False),
    ("sel: {x|lt: 10}", {"x": 9}, True),
    ("sel: {x|lt: 10}", {"x": 10}, False),
    ("sel: {x|lte: 10}", {"x": 10.0}, True),
    ("sel: {x|lte: 10}", {"x": 10.5}, False),
    ("sel: {x|gt: 10}", {"x": "12"}, True),  # numeric strings compare as numbers
    ("sel: {x|gt: 10}", {"x": " 12 "}, True),
    ("sel: {x|gt: 10}", {"x": "9"}, False),  # not as text ("9" > "10")
    ("sel: {x|gt: 10}", {"x": "1e3"}, True),
    ("sel: {x|lt: 0}", {"x": "-0.5"}, True),
    ("sel: {x|gt: 1.5}", {"x": 2}, True),
    ("sel: {x|gt: 10}", {"x": "eleven"}, False),
    ("sel: {x|gt: 0}", {"x": True}, False),
    ("sel: {x|gt: 0}", {"x": None}, False),
    ("sel: {x|gt: 0}", {}, False),
    ("sel: {x|gt: 10}", {"x": ["1", 20]}, True),
]


@pytest.mark.parametrize(("detection", "event", "expected"), COMPARISONS)
def test_gt_gte_lt_lte_compare_numbers_and_numeric_strings(
    detection: str, event: dict[str, Any], expected: bool
) -> None:
    check(detection, event, expected)


FIELDREFS: list[Case] = [
    ("sel: {x|fieldref: y}", {"x": "Bob", "y": "bob"}, True),
    ("sel: {x|fieldref: y}", {"x": "bob", "y": "alice"}, False),
    ("sel: {x|fieldref: y}", {"x": "bob"}, False),
    ("sel: {x|fieldref: y}", {}, False),
    ("sel: {x|fieldref: y}", {"x": None, "y": None}, False),
    ("sel: {x|fieldref: y}", {"x": 4624, "y": "4624"}, True),
    ("sel: {x|fieldref: y}", {"x": "b", "y": ["a", "B"]}, True),
    ("sel: {x|fieldref: a.b}", {"x": "v", "a": {"b": "v"}}, True),
    ("sel: {x|fieldref|startswith: y}", {"x": "administrator", "y": "ADMIN"}, True),
    ("sel: {x|fieldref|startswith: y}", {"x": "theadmin", "y": "admin"}, False),
    ("sel: {x|fieldref|endswith: y}", {"x": "corp\\bob", "y": "BOB"}, True),
    ("sel: {x|fieldref|endswith: y}", {"x": "bobby", "y": "bob"}, False),
]


@pytest.mark.parametrize(("detection", "event", "expected"), FIELDREFS)
def test_fieldref_compares_with_another_field_of_the_same_event(
    detection: str, event: dict[str, Any], expected: bool
) -> None:
    check(detection, event, expected)


LISTS = {
    "admins": ["root", "admin*"],
    "office": ["10.1.0.0/16", "2001:db8:1::/48"],
    "empty": [],
    "hosts": ["10.9.0.5", "2001:db8::1"],
    "mixed": ["10.0.0.0/8", "gateway"],
}
EXPANSIONS: list[Case] = [
    ("sel: {x|expand: '%admins%'}", {"x": "ROOT"}, True),
    ("sel: {x|expand: '%admins%'}", {"x": "administrator"}, True),  # entries keep wildcards
    ("sel: {x|expand: '%admins%'}", {"x": "bob"}, False),
    ("sel: {x|expand: 'corp-%admins%'}", {"x": "CORP-root"}, True),
    ("sel: {x|expand: 'corp-%admins%'}", {"x": "root"}, False),
    ("sel: {x|expand|contains: '%admins%'}", {"x": "user=root;"}, True),
    ("sel: {x|expand: '%office%'}", {"x": "10.1.200.3"}, True),  # networks: CIDR semantics
    ("sel: {x|expand: '%office%'}", {"x": "2001:db8:1:ff::1"}, True),
    ("sel: {x|expand: '%office%'}", {"x": "10.2.0.1"}, False),
    ("sel: {x|expand: '%office%'}", {"x": "10.1.0.0/16"}, False),
    ("sel: {x|expand: '%hosts%'}", {"x": "10.9.0.5"}, True),  # addresses are networks too
    ("sel: {x|expand: '%hosts%'}", {"x": "2001:DB8:0:0::1"}, True),  # in any notation
    ("sel: {x|expand: '%hosts%'}", {"x": "10.9.0.50"}, False),
    ("sel: {x|expand: '%mixed%'}", {"x": "GATEWAY"}, True),  # not all networks: strings
    ("sel: {x|expand: '%mixed%'}", {"x": "10.1.1.1"}, False),
    ("sel: {x|expand: '%unknown%'}", {"x": "%unknown%"}, False),  # an unknown list: nothing
    ("sel: {x|expand: '%unknown%'}", {"x": ""}, False),
    ("sel: {x|expand: '%empty%'}", {"x": ""}, False),
]


@pytest.mark.parametrize(("detection", "event", "expected"), EXPANSIONS)
def test_expand_fills_placeholders_from_lists(
    detection: str, event: dict[str, Any], expected: bool
) -> None:
    check(detection, event, expected, LISTS)


def test_a_compiled_rule_names_the_lists_it_expands() -> None:
    rule = sigma_rule("sel:\n  x|expand: '%admins%'\n  y|expand: 'a%office%'")
    assert compile_rule(rule, lists=LISTS).placeholders == {"admins", "office"}


def test_a_placeholder_inside_a_regular_expression_is_expanded_or_refused() -> None:
    rule = sigma_rule("sel: {x|re|expand: '^%admins%$'}")
    try:
        compiled = compile_rule(rule, lists={"admins": ["root"]})
    except DetectionRuleError:
        return
    assert compiled.matches({"x": "root"})


TIMESTAMPS: list[Case] = [
    ("sel: {t|minute: 15}", {"t": "2026-03-02T10:15:30Z"}, True),
    ("sel: {t|hour: 10}", {"t": "2026-03-02T10:15:30Z"}, True),
    ("sel: {t|hour: 10}", {"t": "2026-03-02T11:15:30Z"}, False),
    ("sel: {t|hour: 8}", {"t": "2026-03-02T10:15:30+02:00"}, True),  # in UTC
    ("sel: {t|day: 2}", {"t": "2026-03-02T10:15:30Z"}, True),
    ("sel: {t|week: 10}", {"t": "2026-03-02T10:15:30Z"}, True),  # ISO week
    ("sel: {t|month: 3}", {"t": "2026-03-02T10:15:30Z"}, True),
    ("sel: {t|year: 2026}", {"t": "2026-03-02T10:15:30Z"}, True),
    ("sel: {t|year: 2025}", {"t": "2026-03-02T10:15:30Z"}, False),
    ("sel: {t|hour: 10}", {"t": 1772446530}, True),  # epoch seconds
    ("sel: {t|hour: 10}", {"t": "yesterday"}, False),
    ("sel: {t|hour: 10}", {}, False),
]


@pytest.mark.parametrize(("detection", "event", "expected"), TIMESTAMPS)
def test_timestamp_part_modifiers_read_the_fields_time(
    detection: str, event: dict[str, Any], expected: bool
) -> None:
    check(detection, event, expected)


def wide(text: str) -> str:
    return text.encode("utf-16le").decode("latin-1")


ENCODINGS: list[Case] = [
    ("sel: {x|base64: 'abc'}", {"x": b64(b"abc")}, True),
    ("sel: {x|base64: 'abc'}", {"x": b64(b"abd")}, False),
    ("sel: {x|base64|contains: 'abc'}", {"x": "-e " + b64(b"abc") + " x"}, True),
    ("sel: {x|base64offset|contains: 'whoami'}", {"x": b64(b"whoami /all")}, True),
    ("sel: {x|base64offset|contains: 'whoami'}", {"x": b64(b"1whoami")}, True),
    ("sel: {x|base64offset|contains: 'whoami'}", {"x": b64(b"12whoami")}, True),
    ("sel: {x|base64offset|contains: 'whoami'}", {"x": b64(b"12whoareyou")}, False),
    ("sel: {x|wide: 'ab'}", {"x": "a\x00b\x00"}, True),
    ("sel: {x|wide: 'ab'}", {"x": "ab"}, False),
    ("sel: {x|utf16be: 'ab'}", {"x": "\x00a\x00b"}, True),
    ("sel: {x|utf16: 'ab'}", {"x": "\ufeffa\x00b\x00"}, True),
    (
        "sel: {x|wide|base64offset|contains: 'ping'}",
        {"x": b64(b"x\x00" + "ping".encode("utf-16le"))},
        True,
    ),
    (
        "sel: {x|wide|base64offset|contains: 'ping'}",
        {"x": b64("pong".encode("utf-16le"))},
        False,
    ),
    ("sel: {x|windash|contains: ' -enc '}", {"x": "ps /enc x"}, True),
    ("sel: {x|windash|contains: ' -enc '}", {"x": "ps \u2013enc x"}, True),  # en dash
    ("sel: {x|windash|contains: ' -enc '}", {"x": "ps \u2014enc x"}, True),  # em dash
    ("sel: {x|windash|contains: ' -enc '}", {"x": "ps \u2015enc x"}, True),  # bar
    ("sel: {x|windash|contains: ' -enc '}", {"x": "ps -enc x"}, True),
    ("sel: {x|windash|contains: ' -enc '}", {"x": "ps enc x"}, False),
    ("sel: {x|windash|contains: ' -enc '}", {"x": "ps +enc x"}, False),
]


@pytest.mark.parametrize(("detection", "event", "expected"), ENCODINGS)
def test_base64_utf16_and_windash_match_the_encoded_forms(
    detection: str, event: dict[str, Any], expected: bool
) -> None:
    check(detection, event, expected)


def test_wide_strings_match_utf16le_text_decoded_byte_for_byte() -> None:
    # Events carry UTF-16 text decoded one byte per character (that is what |wide yields).
    check("sel: {x|wide|contains: 'cmd'}", {"x": "/c " + wide("cmd")}, True)


NEGATED: list[Case] = [
    ("sel: {x|neq: a}", {"x": "b"}, True),
    ("sel: {x|neq: a}", {"x": "A"}, False),
    ("sel: {x|neq: a}", {}, True),
    ("sel: {x|neq: [a, b]}", {"x": "b"}, False),
]


@pytest.mark.parametrize(("detection", "event", "expected"), NEGATED)
def test_neq_negates_the_item(detection: str, event: dict[str, Any], expected: bool) -> None:
    check(detection, event, expected)


KEYWORDS: list[Case] = [
    ("keywords: ['failed password']", {"message": "FAILED PASSWORD for root"}, True),
    ("keywords: ['failed password']", {"message": "failed login"}, False),
    ("keywords: ['failed password']", {"a": {"b": ["x", "Failed password!"]}}, True),
    ("keywords: ['failed password']", {"failed password": "key, not value"}, False),
    ("keywords: [alpha, beta]", {"m": "a beta b"}, True),
    ("keywords: ['a*z']", {"m": "xx abcz yy"}, True),
    ("keywords: ['a\\*z']", {"m": "a*z"}, True),
    ("keywords: ['a\\*z']", {"m": "abz"}, False),
    ("keywords: ['4624']", {"m": "event 4624 logged"}, True),
    ("keywords: ['4624']", {"id": 4624}, True),
    ("keywords: [4624]", {"id": "4624"}, True),
    ("keywords: {'|all': [alpha, beta]}", {"m": "beta alpha"}, True),
    ("keywords: {'|all': [alpha, beta]}", {"m": "alpha", "n": {"o": "beta"}}, True),
    ("keywords: {'|all': [alpha, beta]}", {"m": "alpha"}, False),
    ("keywords: {'|cased': Alpha}", {"m": "x Alpha"}, True),
    ("keywords: {'|cased': Alpha}", {"m": "x alpha"}, False),
    ("keywords: {'|re': 'b.d'}", {"m": "abcde"}, True),
    ("keywords: {'|re': 'B.D'}", {"m": "abcde"}, False),
    ("keywords: {'|windash': '-enc'}", {"m": "ps /enc"}, True),
]


@pytest.mark.parametrize(("detection", "event", "expected"), KEYWORDS)
def test_keywords_search_every_value_of_the_event(
    detection: str, event: dict[str, Any], expected: bool
) -> None:
    check(detection, event, expected)


def test_a_number_keyword_is_searched_like_its_text() -> None:
    assert matcher_says("keywords: [4624]", {"m": "event 4624 logged"})


@pytest.mark.parametrize(
    "detection",
    [
        "keywords: [null]",
        "keywords: {'|cidr': 10.0.0.0/8}",
        "keywords: {'|gt': 5}",
        "keywords: {'|fieldref': y}",
        "keywords: {'|hour': 10}",
        "keywords: {'|expand': '%office%'}",
    ],
)
def test_a_keyword_the_matcher_cannot_search_is_refused_when_compiled(detection: str) -> None:
    rule = sigma_rule(detection, "keywords")
    try:
        compiled = compile_rule(rule, lists=LISTS)
    except DetectionRuleError:
        return
    compiled.matches({"m": "10.1.2.3", "y": "2026-03-02T10:00:00Z"})
