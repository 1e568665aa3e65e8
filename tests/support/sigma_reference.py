"""A slow Sigma evaluator written to be obviously right, the yardstick of the matcher's tests.

The matcher (``detection_rules.matcher``) compiles rules into merged closures, a key index
and an Aho-Corasick prefilter: fast, and easy to get subtly wrong. This module evaluates the
same rule the plainest way there is: it walks pySigma's own postprocessed condition tree
(``rule.detection.parsed_condition[i].parsed``: ``ConditionAND``/``OR``/``NOT`` with
``ConditionFieldEqualsValueExpression`` and ``ConditionValueExpression`` leaves) for one
event, turns every Sigma string into a regular expression with pySigma's
``SigmaString.to_regex()`` and does everything else in plain Python. It shares no code with
the matcher and caches nothing; it is meant to be read, not to be fast.

The semantics are the ones the matcher documents (``detection_rules/matcher/values.py``):
- a string matches case-insensitively (``str.casefold`` on both sides) unless ``|cased``;
  ``*``/``?`` are wildcards; the whole value must match, a keyword only somewhere inside;
  a pattern with ``?`` compares the original text character by character (``re.I``), so
  ``stra?e`` matches ``Straße``;
- an event number is compared as the text Elasticsearch gives it (``4624``, ``4624.0`` →
  "4624"), a boolean as ``true``/``false``; objects match no value; a number in a rule
  equals a whole value, and as a keyword is searched as its text;
- a dotted name reaches into a list of objects (``a.b`` of ``{"a": [{"b": 1}]}`` is 1);
- ``null`` matches a missing, null or empty-list field; a list matches when an item does;
- a regular expression searches the original text (case-sensitive unless ``i``);
- ``|expand`` fills placeholders from ``lists``: a list of networks and addresses gives
  CIDR tests, any other list its strings; an unknown list matches nothing.

``sigma_rule`` builds a pySigma rule from a detection written in YAML, for the tests.
"""

from __future__ import annotations

import copy
import ipaddress
import re
import textwrap
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sigma.collection import SigmaCollection
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.processing.pipeline import ProcessingPipeline
from sigma.rule import SigmaRule
from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SigmaTimestampPart,
    SigmaType,
    SpecialChars,
    TimestampPart,
)

from detection_rules.fields import MISSING

Lists = Mapping[str, Sequence[str]]
Derived = Mapping[str, Callable[[Mapping[str, Any]], Any]]

ABSENT = object()


def sigma_rule(
    detection: str,
    condition: str | Sequence[str] = "sel",
    *,
    logsource: str = "{product: test}",
    title: str = "test rule",
    extra: str = "",
) -> SigmaRule:
    """A pySigma rule whose detection is ``detection`` (YAML, without ``condition``)."""
    conditions = [condition] if isinstance(condition, str) else list(condition)
    text = (
        f"title: {title}\n{extra}logsource: {logsource}\ndetection:\n"
        + textwrap.indent(textwrap.dedent(detection).strip("\n"), "    ")
        + "\n    condition:\n"
        + "".join(f"        - {item}\n" for item in conditions)
    )
    (rule,) = SigmaCollection.from_yaml(text).rules
    assert isinstance(rule, SigmaRule)
    return rule


def reference_matches(
    rule: SigmaRule,
    event: Mapping[str, Any],
    *,
    lists: Lists | None = None,
    derived: Derived | None = None,
    pipeline: ProcessingPipeline | None = None,
) -> bool:
    """Whether ``event`` matches ``rule`` (after ``pipeline``): any of its conditions holds."""
    processed = rule
    if pipeline is not None:
        processed = copy.deepcopy(rule)
        pipeline.apply(processed)
    evaluation = _Evaluation(event, lists or {}, derived or {})
    return any(
        evaluation.holds(condition.parsed) for condition in processed.detection.parsed_condition
    )


class _Evaluation:
    def __init__(self, event: Mapping[str, Any], lists: Lists, derived: Derived) -> None:
        self.event = event
        self.lists = lists
        self.derived = derived

    def holds(self, node: Any) -> bool:
        if isinstance(node, ConditionAND):
            return all(self.holds(child) for child in node.args)
        if isinstance(node, ConditionOR):
            return any(self.holds(child) for child in node.args)
        if isinstance(node, ConditionNOT):
            return not self.holds(node.args[0])
        if isinstance(node, ConditionFieldEqualsValueExpression):
            return self.field_has(node.field, node.value)
        if isinstance(node, ConditionValueExpression):
            return self.anywhere(node.value)
        raise NotImplementedError(f"condition node {node!r}")

    # --- the event ------------------------------------------------------------------------

    def lookup(self, field: str) -> Any:
        """The field's value: computed when derived, else the flat key, else a dotted path."""
        if field in self.derived:
            value = self.derived[field](self.event)
            return ABSENT if value is MISSING else value
        return _find(self.event, field.split("."))

    def present(self, field: str) -> bool:
        value = self.lookup(field)
        return value is not ABSENT and value is not None and value != []

    def scalars(self, field: str) -> list[Any]:
        return list(_flatten(self.lookup(field)))

    def every_scalar(self) -> list[Any]:
        return list(_every_scalar(self.event))

    # --- values ---------------------------------------------------------------------------

    def field_has(self, field: str, value: SigmaType) -> bool:
        if isinstance(value, SigmaExpansion):
            return any(self.field_has(field, member) for member in value.values)
        if isinstance(value, SigmaNull):
            return not self.present(field)
        if isinstance(value, SigmaExists):
            return self.present(field) == value.exists
        if isinstance(value, SigmaString) and value.contains_placeholder():
            return self.expanded_has(field, value)
        if isinstance(value, SigmaFieldReference):
            return self.refers(field, value)
        return any(_scalar_matches(value, scalar, keyword=False) for scalar in self.scalars(field))

    def anywhere(self, value: SigmaType) -> bool:
        if isinstance(value, SigmaExpansion):
            return any(self.anywhere(member) for member in value.values)
        if isinstance(value, SigmaString) and value.contains_placeholder():
            return any(self.anywhere(member) for member in self.replaced(value))
        return any(_scalar_matches(value, scalar, keyword=True) for scalar in self.every_scalar())

    def expanded_has(self, field: str, value: SigmaString) -> bool:
        names = [part.name for part in value.s if isinstance(part, Placeholder)]
        if any(name not in self.lists for name in names):
            return False  # an unknown list matches nothing
        if len(value.s) == 1:
            networks = [_network(entry) for entry in self.lists[names[0]]]
            if networks and all(network is not None for network in networks):
                return any(
                    _in_network(scalar, network)
                    for scalar in self.scalars(field)
                    for network in networks
                    if network is not None
                )
        return any(self.field_has(field, member) for member in self.replaced(value))

    def replaced(self, value: SigmaString) -> list[SigmaString]:
        if any(isinstance(part, Placeholder) and part.name not in self.lists for part in value.s):
            return []

        def entries(placeholder: Placeholder) -> Iterator[SigmaString]:
            return iter([SigmaString(entry) for entry in self.lists[placeholder.name]])

        replaced = value.replace_placeholders(entries)
        if isinstance(value, SigmaCasedString):
            replaced = [SigmaCasedString.from_sigma_string(member) for member in replaced]
        return replaced

    def refers(self, field: str, value: SigmaFieldReference) -> bool:
        others = [_folded(scalar) for scalar in self.scalars(value.field)]
        for scalar in self.scalars(field):
            text = _folded(scalar)
            for other in others:
                if text is None or other is None:
                    continue
                if value.starts_with and text.startswith(other):
                    return True
                if value.ends_with and text.endswith(other):
                    return True
                if not value.starts_with and not value.ends_with and text == other:
                    return True
        return False


def _find(node: Any, parts: list[str]) -> Any:
    """The value at ``parts``: each step takes one key that joins the most parts first.

    {"a.b": {"c": 1}} and {"a": {"b.c": 1}} both have "a.b.c"; a flat key wins over a path.
    """
    if not parts:
        return node
    if isinstance(node, list):
        found = [value for item in node if (value := _find(item, parts)) is not ABSENT]
        return found if found else ABSENT
    if not isinstance(node, Mapping):
        return ABSENT
    for taken in range(len(parts), 0, -1):
        key = ".".join(parts[:taken])
        if key in node:
            found = _find(node[key], parts[taken:])
            if found is not ABSENT:
                return found
    return ABSENT


def _flatten(value: Any) -> Iterator[Any]:
    if value is ABSENT or value is None:
        return
    if isinstance(value, list | tuple):
        for item in value:
            yield from _flatten(item)
    else:
        yield value


def _every_scalar(node: Any) -> Iterator[Any]:
    if isinstance(node, Mapping):
        for item in node.values():
            yield from _every_scalar(item)
    elif isinstance(node, list | tuple):
        for item in node:
            yield from _every_scalar(item)
    elif node is not None:
        yield node


def _text(scalar: Any) -> str | None:
    """An event scalar as text, the way Elasticsearch indexes it as a keyword."""
    if isinstance(scalar, bool):
        return "true" if scalar else "false"
    if isinstance(scalar, str):
        return scalar
    if isinstance(scalar, int):
        return str(scalar)
    if isinstance(scalar, float):
        return str(int(scalar)) if scalar.is_integer() else repr(scalar)
    return None


def _folded(scalar: Any) -> str | None:
    text = _text(scalar)
    return None if text is None else text.casefold()


def _scalar_matches(value: SigmaType, scalar: Any, *, keyword: bool) -> bool:
    """Whether one scalar of the event satisfies one (non-placeholder) Sigma value."""
    text = _text(scalar)
    if isinstance(value, SigmaString):
        return text is not None and _string_matches(value, text, keyword=keyword)
    if isinstance(value, SigmaBool):
        wanted = "true" if value.boolean else "false"
        if keyword:
            return text is not None and wanted in text.casefold()
        return text is not None and text.casefold() == wanted
    if isinstance(value, SigmaTimestampPart):  # before SigmaNumber: it is a subclass
        moment = _moment(scalar)
        return moment is not None and _part(moment, value.timestamp_part) == value.number
    if isinstance(value, SigmaNumber):
        if keyword:
            return text is not None and _number_text(value.number) in text.casefold()
        return text is not None and text.casefold() == _number_text(value.number)
    if isinstance(value, SigmaRegularExpression):
        return text is not None and re.search(str(value.regexp), text, _flags(value)) is not None
    if isinstance(value, SigmaCIDRExpression):
        return _in_network(scalar, value.network)
    if isinstance(value, SigmaCompareExpression):
        return _compares(value, scalar)
    if isinstance(value, SigmaNull):
        return False  # only bound to a field (handled there)
    raise NotImplementedError(f"value {value!r}")


def _string_matches(value: SigmaString, text: str, *, keyword: bool) -> bool:
    pattern = str(value.to_regex().regexp)
    if keyword:
        pattern = f".*(?:{pattern}).*"
    if isinstance(value, SigmaCasedString):
        return re.fullmatch(pattern, text, re.DOTALL) is not None
    if SpecialChars.WILDCARD_SINGLE in value.s:
        # "?" is one character of the original text, compared character by character.
        return re.fullmatch(pattern, text, re.DOTALL | re.IGNORECASE) is not None
    # to_regex escapes only punctuation, so case-folding the pattern folds just its literals.
    return re.fullmatch(pattern.casefold(), text.casefold(), re.DOTALL) is not None


def _number_text(number: float) -> str:
    return _text(number) or ""


_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: re.IGNORECASE,
    SigmaRegularExpressionFlag.MULTILINE: re.MULTILINE,
    SigmaRegularExpressionFlag.DOTALL: re.DOTALL,
}


def _flags(value: SigmaRegularExpression) -> int:
    flags = 0
    for flag in value.flags:
        flags |= _FLAGS[flag]
    return flags


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _network(entry: str) -> Network | None:
    """A list entry as a network; a single address is its own /32 or /128."""
    try:
        return ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return None


def _in_network(scalar: Any, network: Network) -> bool:
    if not isinstance(scalar, str):
        return False
    try:
        address = ipaddress.ip_address(scalar.strip().partition("%")[0])
    except ValueError:
        return False
    return address.version == network.version and address in network


_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def _compares(value: SigmaCompareExpression, scalar: Any) -> bool:
    if isinstance(scalar, bool):
        return False
    if isinstance(scalar, int | float):
        number = float(scalar)
    elif isinstance(scalar, str) and _NUMBER.fullmatch(scalar.strip()):
        number = float(scalar.strip())
    else:
        return False
    limit = float(value.number.number)
    return {
        CompareOperators.LT: number < limit,
        CompareOperators.LTE: number <= limit,
        CompareOperators.GT: number > limit,
        CompareOperators.GTE: number >= limit,
    }[value.op]


def _moment(scalar: Any) -> datetime | None:
    if isinstance(scalar, bool):
        return None
    if isinstance(scalar, int | float):
        # Epoch seconds; milliseconds when too large to be seconds (as the matcher documents).
        seconds = scalar / 1000 if abs(scalar) > 1e11 else scalar
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(scalar, str):
        try:
            moment = datetime.fromisoformat(scalar.strip())
        except ValueError:
            return None
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return None


def _part(moment: datetime, part: TimestampPart) -> int:
    return {
        TimestampPart.MINUTE: moment.minute,
        TimestampPart.HOUR: moment.hour,
        TimestampPart.DAY: moment.day,
        TimestampPart.WEEK: moment.isocalendar().week,
        TimestampPart.MONTH: moment.month,
        TimestampPart.YEAR: moment.year,
    }[part]
