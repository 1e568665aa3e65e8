"""The matcher against the slow reference evaluator, for random rules and random events.

Rules are drawn from a small world so that they and the events meet often: three field
names (one dotted, found flat or nested), strings over an alphabet of letters that fold
(``ß``, ``É``, ``Σ``/``ς``), wildcards, backslashes and dashes, every value modifier, lists,
``null``, keywords, selections that are lists of maps, and random conditions with
``not``/``and``/``or``, ``1 of``/``all of`` patterns and ``them``. Events carry the same
letters, numbers, numeric strings, addresses, booleans, nulls, lists and nesting, and
strings made from the rules' own values (wildcards filled, case changed, a character more)
so that matches and near misses are common. Both the compiled rule and the ``Matcher`` (its
prefilter as shipped and forced on for every bucket) must say what
``tests.support.sigma_reference`` says.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sigma.rule import SigmaRule

from detection_rules.matcher import CompiledRule, Matcher, compile_rule, index
from tests.support.sigma_reference import reference_matches

FIELDS = ("x", "y", "a.b")
LISTS = {"words": ["a*", "bß", "-x", "É\\*"], "nets": ["10.0.0.0/8", "2001:db8::/32"]}
RULE_ALPHABET = "aAbBßÉéΣς*?\\-/ "
EVENT_ALPHABET = "aAbBßSsÉéΣ\u03c3ς*?\\-/\u2013 \n"  # \u03c3: sigma
REGEXES = ("^a", "b$", "a.b", "ß|SS", "^$", "A+", "\\\\", "^-?\\d+$", "a\\*", "^.$", "\u03c3")
NETWORKS = ("10.0.0.0/8", "192.168.1.0/24", "2001:db8::/32", "0.0.0.0/0", "::/0")
ADDRESSES = ("10.1.2.3", "192.168.1.7", "2001:db8::1", "8.8.8.8", "fe80::1%eth0", "::1")
EXPANSIONS = ("%words%", "%nets%", "%unknown%", "a%words%", "%words%*")
STRING_MODIFIERS = ("", "|contains", "|startswith", "|endswith", "|cased", "|contains|cased")

sigma_text = st.text(RULE_ALPHABET, max_size=5)
dash_text = st.text("aAbBßÉ -", min_size=1, max_size=4).map(lambda text: "-" + text)
numbers = st.one_of(st.integers(-2, 3), st.sampled_from([1.5, -0.5, 4.0, 1e20]))
plain_scalars = st.one_of(sigma_text, numbers, st.booleans(), st.none())


def one_or_many(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(values, st.lists(values, min_size=1, max_size=3))


def item(
    modifiers: st.SearchStrategy[str], values: st.SearchStrategy[Any]
) -> st.SearchStrategy[tuple[str, Any]]:
    """A detection item: ``field|modifiers`` and its value(s)."""
    return st.tuples(st.sampled_from(FIELDS), modifiers, values).map(
        lambda drawn: (drawn[0] + drawn[1], drawn[2])
    )


regex_modifiers = st.lists(st.sampled_from(["|i", "|m", "|s"]), unique=True).map(
    lambda flags: "|re" + "".join(flags)
)
items = st.one_of(
    item(st.just(""), one_or_many(plain_scalars)),
    item(st.sampled_from(STRING_MODIFIERS), one_or_many(sigma_text)),
    item(
        st.sampled_from(["|contains|all", "|all", "|endswith|all"]),
        st.lists(sigma_text, min_size=2, max_size=3),
    ),
    item(st.sampled_from(["|windash", "|windash|contains"]), dash_text),
    item(st.sampled_from(["|neq", "|contains|neq"]), one_or_many(sigma_text)),
    item(regex_modifiers, st.sampled_from(REGEXES)),
    item(st.just("|cidr"), one_or_many(st.sampled_from(NETWORKS))),
    item(st.sampled_from(["|gt", "|gte", "|lt", "|lte"]), numbers),
    item(st.just("|exists"), st.booleans()),
    item(
        st.sampled_from(["|fieldref", "|fieldref|startswith", "|fieldref|endswith"]),
        st.sampled_from(FIELDS),
    ),
    item(st.sampled_from(["|expand", "|expand|contains"]), st.sampled_from(EXPANSIONS)),
)
field_map = st.lists(items, min_size=1, max_size=3).map(dict)
keyword_values = st.lists(
    st.one_of(sigma_text.filter(bool), st.integers(0, 3)), min_size=1, max_size=3
)
selections = st.one_of(
    field_map,
    st.lists(field_map, min_size=2, max_size=3),
    keyword_values,
    keyword_values.map(lambda values: {"|all": values}),
)


@st.composite
def rules(draw: st.DrawFn) -> dict[str, Any]:
    """A rule as pySigma reads it from YAML: selections and random valid conditions."""
    optional = ["sel2", "filter", "_private"]
    names = ["sel1", *draw(st.lists(st.sampled_from(optional), unique=True))]
    detection: dict[str, Any] = {name: draw(selections) for name in names}
    patterns = ["1 of sel*", "all of sel*", "1 of them", "all of them", "any of sel*"]
    if "filter" in names:
        patterns += ["1 of filter*", "all of filter*"]
    operators = st.sampled_from([" and ", " or "])
    conditions = st.recursive(
        st.one_of(st.sampled_from(names), st.sampled_from(patterns)),
        lambda inner: st.one_of(
            inner.map(lambda condition: f"not {condition}"),
            st.tuples(inner, operators, inner).map(lambda parts: f"({''.join(parts)})"),
            st.tuples(inner, operators, inner).map("".join),  # precedence decides
        ),
        max_leaves=5,
    )
    detection["condition"] = draw(st.lists(conditions, min_size=1, max_size=2))
    return {"title": "random", "logsource": {"product": "test"}, "detection": detection}


def values_of(node: Any) -> list[Any]:
    """Every string and number in drawn rules' detections (conditions excluded)."""
    if isinstance(node, dict):
        return [
            found for key, value in node.items() if key != "condition" for found in values_of(value)
        ]
    if isinstance(node, list):
        return [found for value in node for found in values_of(value)]
    if isinstance(node, str | int | float) and not isinstance(node, bool):
        return [node]
    return []


@st.composite
def near(draw: st.DrawFn, text: str) -> str:
    """A value close to a rule's ``text``: wildcards filled, escapes dropped, case changed.

    Random strings rarely meet a rule; these hit it, or miss it by a character or a case.
    """
    chars = []
    for char in text:
        if char == "*":
            chars.append(draw(st.text(EVENT_ALPHABET, max_size=2)))
        elif char == "?":
            chars.append(draw(st.sampled_from(EVENT_ALPHABET)))
        elif char == "\\" and draw(st.booleans()):
            continue
        else:
            chars.append(char)
    value = "".join(chars).replace("%", "")
    value = draw(st.sampled_from([value, value.upper(), value.lower(), value.swapcase()]))
    prefix = draw(st.text(EVENT_ALPHABET, max_size=2))
    suffix = draw(st.text(EVENT_ALPHABET, max_size=2))
    return draw(st.sampled_from([value, prefix + value, value + suffix, prefix + value + suffix]))


def scalars(pool: list[Any]) -> st.SearchStrategy[Any]:
    texts = [value for value in pool if isinstance(value, str)]
    numbers_in_rules = [value for value in pool if not isinstance(value, str)]
    drawn = [
        st.text(EVENT_ALPHABET, max_size=6),
        st.sampled_from(ADDRESSES),
        st.integers(-3, 4),
        st.sampled_from([1.5, -0.5, 4.0, 1e20, 2**70]),
        st.booleans(),
        st.none(),
        st.sampled_from(["1", "-2", "1.5", " 3 ", "1e1", "4.0", "true", "a*", "É\\*", "bSS"]),
    ]
    if texts:
        drawn += [st.sampled_from(texts).flatmap(near)] * 4
    if numbers_in_rules:
        # The rules' own numbers, as numbers and as text: comparisons meet their limits.
        from_rules = st.sampled_from(numbers_in_rules)
        drawn += [from_rules, from_rules, from_rules.map(str)]
    return st.one_of(drawn)


@st.composite
def events(draw: st.DrawFn, pool: list[Any]) -> dict[str, Any]:
    scalar = scalars(pool)
    values = st.one_of(
        scalar,
        st.just([]),
        st.lists(st.one_of(scalar, st.lists(scalar, max_size=2)), min_size=1, max_size=3),
    )
    event: dict[str, Any] = {}
    for name in ("x", "y"):
        if draw(st.booleans()):
            event[name] = draw(values)
    shape = draw(st.sampled_from(["missing", "flat", "nested"]))
    if shape == "flat":
        event["a.b"] = draw(values)
    elif shape == "nested":
        event["a"] = {"b": draw(values), "c": draw(values)}
    if draw(st.booleans()):
        event["deep"] = {"inner": [draw(values)]}
    return event


Drawn = tuple[list[dict[str, Any]], list[dict[str, Any]]]


def rules_and_events(count: int) -> st.SearchStrategy[Drawn]:
    """``count`` to ``count + 4`` rules, and up to six events made to meet them."""
    return st.lists(rules(), min_size=count, max_size=count + 4).flatmap(
        lambda drawn: st.tuples(
            st.just(drawn), st.lists(events(values_of(drawn)), min_size=1, max_size=6)
        )
    )


def compiled(rule: SigmaRule) -> CompiledRule:
    return compile_rule(rule, lists=LISTS)


@contextmanager
def every_bucket_scanned() -> Iterator[None]:
    with mock.patch.object(index, "MIN_RULES_FOR_SCAN", 1):
        yield


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules_and_events(1))
def test_a_compiled_rule_matches_exactly_when_the_reference_does(drawn: Drawn) -> None:
    rule_dicts, drawn_events = drawn
    for rule_dict in rule_dicts:
        rule = SigmaRule.from_dict(rule_dict)
        matcher_rule = compiled(rule)
        for event in drawn_events:
            expected = reference_matches(rule, event, lists=LISTS)
            assert matcher_rule.matches(event) is expected, event


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules_and_events(6))
def test_the_matcher_returns_the_rules_the_reference_matches_in_order(drawn: Drawn) -> None:
    rule_dicts, drawn_events = drawn
    sigma_rules = [SigmaRule.from_dict(rule_dict) for rule_dict in rule_dicts]
    compiled_rules = [compiled(rule) for rule in sigma_rules]
    shipped = Matcher(compiled_rules)
    with every_bucket_scanned():
        scanning = Matcher(compiled_rules)
    for event in drawn_events:
        expected = [
            rule
            for rule, sigma in zip(compiled_rules, sigma_rules, strict=True)
            if reference_matches(sigma, event, lists=LISTS)
        ]
        assert shipped.match(event) == expected
        assert scanning.match(event) == expected
