"""Sigma values (after pySigma applied the modifiers) as tests on an event's field values.

pySigma turns ``Image|endswith: '\\cmd.exe'`` into a ``SigmaString`` with a leading
wildcard, ``|re`` into a ``SigmaRegularExpression``, ``|cidr`` into a network, ``|windash``
and ``|base64offset`` into an OR-linked ``SigmaExpansion``, and so on; this module turns each
value into a ``ValueTest``. Hand-written because pySigma converts rules into query text for
other engines and has no evaluator of its own (the SQLite backend is our benchmark peer).

Matching rules (docs/detection.md has the user's version):
- strings are compared case-insensitively (``str.casefold``) unless ``|cased``; ``*`` and
  ``?`` are wildcards, a backslash escapes them (pySigma parses that);
- a number in a rule matches the same number or its text in the event (``4624`` ~ ``"4624"``),
  as Elasticsearch does with keyword fields;
- ``null`` matches a missing or null field, ``''`` only an empty string;
- a regular expression searches (unanchored) the value's text, case-sensitively unless ``i``;
- a list in the event matches when any of its items matches.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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

from core.i18n import N_
from detection_rules.errors import UnsupportedRule
from detection_rules.fields import MISSING, parse_time
from detection_rules.matcher.view import EventView, fold, text_of

StringTest = Callable[[str], bool]
ViewTest = Callable[[EventView, str | None], Any]  # the matching raw value, or MISSING
Lists = Mapping[str, Sequence[str]]

_REGEX_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: re.IGNORECASE,
    SigmaRegularExpressionFlag.MULTILINE: re.MULTILINE,
    SigmaRegularExpressionFlag.DOTALL: re.DOTALL,
}
# A prefilter anchor must not be something a number could print differently in JSON
# (1e20 vs 1e+20), so it needs one character that no number's text has.
_NUMERIC_CHARS = frozenset("0123456789.+-e")
MIN_ANCHOR = 3
# Text found in nearly every Windows or ECS event (paths, channel names, field names that
# appear as JSON keys). A literal inside one of these filters nothing and costs a report
# per occurrence in the scan, so it is not used as an anchor. Measured on the OTRF and
# Hayabusa samples: these made up most of the ~100 anchor reports per event.
COMMON_TEXT = (
    "c:\\windows\\system32\\",
    "c:\\windows\\syswow64\\",
    "c:\\windows\\winsxs\\",
    "c:\\program files (x86)\\",
    "c:\\program files\\",
    "c:\\programdata\\",
    "c:\\users\\",
    "\\appdata\\local\\",
    "\\appdata\\roaming\\",
    "microsoft-windows-sysmon/operational",
    "microsoft-windows-security-auditing",
    "microsoft-windows-powershell/operational",
    "windows powershell",
    "nt authority\\system",
    "nt authority\\local service",
    "nt authority\\network service",
    "hklm\\software\\microsoft\\windows\\currentversion\\",
    "hklm\\system\\currentcontrolset\\services\\",
    "hku\\",
    "unknown",
    "true",
    "false",
    "process",
    "security",
    "system",
    "user",
    "key",
    "set",
    ".dll",
    ".exe",
    "image",
    "commandline",
    "parentcommandline",
    "targetobject",
    "targetfilename",
    "sourceimage",
    "targetimage",
    "grantedaccess",
    "calltrace",
    "hashes",
    "details",
    "eventtype",
    "description",
    "company",
    "product",
    "originalfilename",
    "currentdirectory",
    "integritylevel",
    "logonid",
    "computer",
    "provider_name",
    "channel",
    "eventid",
    "systemtime",
    "keywords",
)


@dataclass(frozen=True, slots=True)
class ValueTest:
    """One value of a detection item: how to test it and what it tells the index.

    ``string`` tests folded text (or raw text when ``cased``); ``view`` tests the event
    directly (null, exists, cidr, compare, fieldref, timestamp parts). ``anchor`` is a
    folded literal that must occur in the value for a match; ``key`` is the folded value of
    a plain case-insensitive equality (what the rule index can look up).
    """

    pattern: str
    kind: str
    string: StringTest | None = None
    cased: bool = False
    view: ViewTest | None = None
    anchor: str | None = None
    key: str | None = None
    group: tuple[ValueTest, ...] = ()
    literal: str | None = None  # the folded text of equals/contains/startswith/endswith


def compile_values(field: str | None, values: Sequence[SigmaType], lists: Lists) -> list[ValueTest]:
    """Every value of a detection item as tests; expansions stay grouped (OR inside)."""
    tests: list[ValueTest] = []
    for value in values:
        if isinstance(value, SigmaExpansion):
            members = compile_values(field, value.values, lists)
            tests.append(_group(members))
        else:
            expanded = _expand(field, value, lists)
            tests.append(expanded[0] if len(expanded) == 1 else _group(expanded))
    return tests


def _group(members: list[ValueTest]) -> ValueTest:
    anchors = [member.anchor for member in members]
    return ValueTest(
        pattern=" | ".join(member.pattern for member in members),
        kind="any",
        group=tuple(members),
        anchor=None if None in anchors or len(set(anchors)) != 1 else anchors[0],
    )


def _expand(field: str | None, value: SigmaType, lists: Lists) -> list[ValueTest]:
    if isinstance(value, SigmaString) and value.contains_placeholder():
        return _expand_placeholders(field, value, lists)
    return [compile_value(field, value)]


def _expand_placeholders(field: str | None, value: SigmaString, lists: Lists) -> list[ValueTest]:
    parts = list(value.s)
    if len(parts) == 1 and isinstance(parts[0], Placeholder):
        entries = lists.get(parts[0].name, ())
        networks = [_network(entry) for entry in entries]
        if entries and all(network is not None for network in networks):
            if field is None:
                raise UnsupportedRule(
                    N_("A keyword search (a value without a field) cannot use %(kind)s."),
                    kind="a list of networks",
                )
            return [_cidr_test(network) for network in networks if network is not None]
    missing = [
        part.name for part in parts if isinstance(part, Placeholder) and part.name not in lists
    ]
    if missing:
        # An unknown list matches nothing rather than everything; the registry warns.
        return [ValueTest(pattern=f"%{missing[0]}% (no such list)", kind="never")]

    def replacements(placeholder: Placeholder) -> Any:
        return iter([SigmaString(entry) for entry in lists[placeholder.name]])

    strings = value.replace_placeholders(replacements)
    if not strings:
        return [ValueTest(pattern=f"{value.original} (empty list)", kind="never")]
    cased = isinstance(value, SigmaCasedString)
    return [_string_test(field, text, cased=cased) for text in strings]


def _network(entry: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    # A list of addresses and ranges ("10.20.0.0/16", "192.0.2.5") is matched as networks,
    # a single address as its /32 or /128: the same answer as text for a plain address,
    # and right for the ranges and for IPv6 written in another form.
    try:
        return ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return None


def compile_value(field: str | None, value: SigmaType) -> ValueTest:  # noqa: PLR0911 - dispatch
    """One Sigma value as a test; raises ``UnsupportedRule`` for what has no meaning here."""
    if field is None:
        return _keyword_test(value)
    if isinstance(value, SigmaString):
        return _string_test(field, value, cased=isinstance(value, SigmaCasedString))
    if isinstance(value, SigmaTimestampPart):
        return _timestamp_test(value)
    if isinstance(value, SigmaBool | SigmaNumber):
        text = _constant_text(value)
        return ValueTest(
            pattern=text,
            kind="equals",
            string=text.__eq__,
            key=text,
            anchor=_anchor(text),
            literal=text,
        )
    if isinstance(value, SigmaNull):
        return ValueTest(pattern="null", kind="null", view=_null)
    if isinstance(value, SigmaExists):
        return ValueTest(
            pattern=f"exists: {str(value.exists).lower()}",
            kind="exists",
            view=_exists if value.exists else _not_exists,
        )
    if isinstance(value, SigmaRegularExpression):
        return _regex_test(value)
    if isinstance(value, SigmaCIDRExpression):
        return _cidr_test(value.network)
    if isinstance(value, SigmaCompareExpression):
        return _compare_test(value)
    if isinstance(value, SigmaFieldReference):
        return _fieldref_test(value)
    raise UnsupportedRule(
        N_("The matcher cannot evaluate a value of type %(kind)s."),
        kind=type(value).__name__,
    )


def _constant_text(value: SigmaBool | SigmaNumber) -> str:
    """A rule's number or boolean as the text event values are compared with."""
    text = fold(value.boolean if isinstance(value, SigmaBool) else value.number)
    assert text is not None  # a bool or number always has text
    return text


def _keyword_test(value: SigmaType) -> ValueTest:
    """A value without a field: searched as text in every value of the event."""
    if isinstance(value, SigmaString):
        return _string_test(None, value, cased=isinstance(value, SigmaCasedString))
    if isinstance(value, SigmaBool | SigmaNumber) and not isinstance(value, SigmaTimestampPart):
        text = _constant_text(value)
        return _string_test(None, SigmaString(text), cased=False)
    if isinstance(value, SigmaRegularExpression):
        return _regex_test(value)
    # null, cidr, comparisons, field references and timestamp parts need a field;
    # pySigma lets some through on keywords.
    raise UnsupportedRule(
        N_("A keyword search (a value without a field) cannot use %(kind)s."),
        kind=type(value).__name__,
    )


def _string_test(field: str | None, value: SigmaString, *, cased: bool) -> ValueTest:
    parts = list(value.s)
    if field is None:
        # A keyword search finds its text anywhere in a value, as grep would.
        if not parts or parts[0] != SpecialChars.WILDCARD_MULTI:
            parts.insert(0, SpecialChars.WILDCARD_MULTI)
        if parts[-1] != SpecialChars.WILDCARD_MULTI:
            parts.append(SpecialChars.WILDCARD_MULTI)
    text = _display(parts)
    literals = [part if cased else part.casefold() for part in parts if isinstance(part, str)]
    anchor = _anchor(max(literals, key=len)) if literals else None
    star = SpecialChars.WILDCARD_MULTI
    if all(isinstance(part, str) for part in parts):
        literal = "".join(literals)
        return ValueTest(
            pattern=text,
            kind="equals",
            string=literal.__eq__,
            cased=cased,
            anchor=anchor,
            key=None if cased else literal,
            literal=literal,
        )
    if len(parts) == 3 and parts[0] == star and parts[2] == star and isinstance(parts[1], str):
        kind, test = "contains", _contains(literals[0])
    elif len(parts) == 2 and parts[1] == star and isinstance(parts[0], str):
        kind, test = "startswith", _prefix(literals[0])
    elif len(parts) == 2 and parts[0] == star and isinstance(parts[1], str):
        kind, test = "endswith", _suffix(literals[0])
    else:
        return _wildcard_test(text, parts, cased=cased, anchor=anchor)
    return ValueTest(text, kind, test, cased=cased, anchor=anchor, literal=literals[0])


def _wildcard_test(
    text: str, parts: Sequence[Any], *, cased: bool, anchor: str | None
) -> ValueTest:
    star, single = SpecialChars.WILDCARD_MULTI, SpecialChars.WILDCARD_SINGLE
    if single in parts:
        # "?" is one character of the original text: case folding may turn one into two
        # ("ß" → "ss"), so these patterns run on the original text with re's per-character
        # case-insensitivity, and give no anchor (the prefilter's folded text could differ).
        pattern = "".join(
            re.escape(part) if isinstance(part, str) else (".*" if part == star else ".")
            for part in parts
        )
        flags = re.DOTALL if cased else re.DOTALL | re.IGNORECASE
        original = re.compile(pattern, flags)
        return ValueTest(text, "wildcard", lambda s: original.fullmatch(s) is not None, cased=True)
    pattern = "".join(
        re.escape(part if cased else part.casefold()) if isinstance(part, str) else ".*"
        for part in parts
    )
    compiled = re.compile(pattern, re.DOTALL)
    return ValueTest(
        text, "wildcard", lambda s: compiled.fullmatch(s) is not None, cased=cased, anchor=anchor
    )


def _contains(literal: str) -> StringTest:
    return lambda s: literal in s


def _prefix(literal: str) -> StringTest:
    return lambda s: s.startswith(literal)


def _suffix(literal: str) -> StringTest:
    return lambda s: s.endswith(literal)


def _display(parts: Sequence[Any]) -> str:
    out = []
    for part in parts:
        if part == SpecialChars.WILDCARD_MULTI:
            out.append("*")
        elif part == SpecialChars.WILDCARD_SINGLE:
            out.append("?")
        elif isinstance(part, Placeholder):
            out.append(f"%{part.name}%")
        else:
            out.append(str(part).replace("*", "\\*").replace("?", "\\?"))
    return "".join(out)


def _anchor(literal: str) -> str | None:
    literal = literal.casefold()
    if len(literal) < MIN_ANCHOR or set(literal) <= _NUMERIC_CHARS:
        return None
    if any(literal in common for common in COMMON_TEXT):
        return None  # present in nearly every event: no use as a filter
    if literal in "-infinity" or literal in "nan":
        return None  # a float's text ("inf", "nan") that JSON writes as null
    return literal


def _null(view: EventView, field: str | None) -> Any:
    assert field is not None
    return None if not view.exists(field) else MISSING


def _exists(view: EventView, field: str | None) -> Any:
    assert field is not None
    return view.value(field) if view.exists(field) else MISSING


def _not_exists(view: EventView, field: str | None) -> Any:
    assert field is not None
    return None if not view.exists(field) else MISSING


def _regex_test(value: SigmaRegularExpression) -> ValueTest:
    if value.regexp.contains_placeholder():
        raise UnsupportedRule(
            N_("|expand inside a regular expression is not supported; list the values instead.")
        )
    flags = 0
    for flag in value.flags:
        flags |= _REGEX_FLAGS[flag]
    expression = str(value.regexp)
    compiled = re.compile(expression, flags)
    suffix = "".join(sorted(flag.name[0].lower() for flag in value.flags))
    return ValueTest(
        pattern=f"/{expression}/{suffix}",
        kind="regex",
        string=lambda s: compiled.search(s) is not None,
        cased=True,  # regular expressions see the original text; |i makes them caseless
    )


def _cidr_test(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> ValueTest:
    def test(view: EventView, field: str | None) -> Any:
        assert field is not None
        for raw in view.raw(field):
            address = _address(raw)
            if address is not None and address in network:
                return raw
        return MISSING

    return ValueTest(pattern=str(network), kind="cidr", view=test)


def _address(raw: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not isinstance(raw, str):
        return None
    try:
        return ipaddress.ip_address(raw.strip().split("%", 1)[0])
    except ValueError:
        return None


_COMPARE: dict[CompareOperators, tuple[str, Callable[[float, float], bool]]] = {
    CompareOperators.LT: ("<", lambda a, b: a < b),
    CompareOperators.LTE: ("<=", lambda a, b: a <= b),
    CompareOperators.GT: (">", lambda a, b: a > b),
    CompareOperators.GTE: (">=", lambda a, b: a >= b),
    CompareOperators.NEQ: ("!=", lambda a, b: a != b),
}


def _compare_test(value: SigmaCompareExpression) -> ValueTest:
    symbol, operator = _COMPARE[value.op]
    limit = float(value.number.number)

    def test(view: EventView, field: str | None) -> Any:
        assert field is not None
        for raw in view.raw(field):
            number = _number(raw)
            if number is not None and operator(number, limit):
                return raw
        return MISSING

    return ValueTest(pattern=f"{symbol} {value.number.number}", kind="compare", view=test)


def _number(raw: Any) -> float | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        return float(raw)
    if isinstance(raw, str):
        try:
            return float(raw.strip())
        except ValueError:
            return None
    return None


def _fieldref_test(value: SigmaFieldReference) -> ValueTest:
    other = value.field

    def test(view: EventView, field: str | None) -> Any:
        assert field is not None
        references = view.folded(other)
        for raw in view.raw(field):
            text = fold(raw)
            if text is None:
                continue
            for reference in references:
                if (
                    (value.starts_with and text.startswith(reference))
                    or (value.ends_with and text.endswith(reference))
                    or (not value.starts_with and not value.ends_with and text == reference)
                ):
                    return raw
        return MISSING

    how = "startswith " if value.starts_with else "endswith " if value.ends_with else ""
    return ValueTest(pattern=f"{how}field {other}", kind="fieldref", view=test)


_PARTS: dict[TimestampPart, Callable[[datetime], int]] = {
    TimestampPart.MINUTE: lambda moment: moment.minute,
    TimestampPart.HOUR: lambda moment: moment.hour,
    TimestampPart.DAY: lambda moment: moment.day,
    TimestampPart.WEEK: lambda moment: moment.isocalendar().week,
    TimestampPart.MONTH: lambda moment: moment.month,
    TimestampPart.YEAR: lambda moment: moment.year,
}


def _timestamp_test(value: SigmaTimestampPart) -> ValueTest:
    part = _PARTS[value.timestamp_part]
    wanted = value.number

    def test(view: EventView, field: str | None) -> Any:
        assert field is not None
        for raw in view.raw(field):
            moment = parse_time(raw)
            if moment is not None and part(moment) == wanted:
                return raw
        return MISSING

    name = value.timestamp_part.name.lower()
    return ValueTest(pattern=f"{name} = {wanted}", kind="timestamp", view=test)


def find_match(test: ValueTest, view: EventView, field: str | None) -> Any:
    """The event value that satisfies ``test`` (``MISSING`` if none): the explain path."""
    if test.group:
        for member in test.group:
            found = find_match(member, view, field)
            if found is not MISSING:
                return found
        return MISSING
    if test.view is not None:
        return test.view(view, field)
    if test.string is None:
        return MISSING  # kind "never"
    raws: Sequence[Any] = view.raw(field) if field is not None else view.all_raw()
    for raw in raws:
        text = text_of(raw) if test.cased else fold(raw)
        if text is not None and test.string(text):
            return raw
    return MISSING
