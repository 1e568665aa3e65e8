"""The conditions of a suppression: which detections it holds back.

A condition names a field, an operator and a value: ``user.name equals svc_backup``,
``source.ip cidr 10.20.0.0/16``, ``host.name in web01, web02``, ``process.command_line
contains backup.ps1``. A suppression holds back a detection when all its conditions hold
on the detection's group-by values or, for a field the group does not have, on its first
event. ``equals``, ``in`` and ``contains`` ignore case; ``cidr`` compares addresses.

Conditions are validated when a suppression is made (shape, operator, value, at most
``MAX_CONDITIONS``), as frozen values, whether they come from the console's lines, the
command line or stored JSON.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

from core import InvalidInput
from core.i18n import N_

MAX_CONDITIONS = 10
MAX_VALUE_LENGTH = 300
MAX_LIST_VALUES = 100
_FIELD = re.compile(r"[A-Za-z0-9_@][A-Za-z0-9_@.\-]{0,199}")


class Operator(StrEnum):
    EQUALS = "equals"
    IN = "in"
    CIDR = "cidr"
    CONTAINS = "contains"


ConditionValue = str | tuple[str, ...]


@dataclass(frozen=True)
class Condition:
    """One condition, validated by ``conditions_from`` (the only way to make one)."""

    field: str
    operator: Operator
    value: ConditionValue

    def holds(self, values: Sequence[str]) -> bool:
        """True when any of the field's values meets the condition (none: it does not)."""
        return any(self._meets(value) for value in values)

    def _meets(self, value: str) -> bool:
        if self.operator == Operator.CIDR:
            return _in_network(value, str(self.value))
        text = value.casefold()
        if self.operator == Operator.IN:
            return text in {item.casefold() for item in self.value}
        if self.operator == Operator.CONTAINS:
            return str(self.value).casefold() in text
        return text == str(self.value).casefold()

    def as_json(self) -> dict[str, Any]:
        value = list(self.value) if isinstance(self.value, tuple) else self.value
        return {"field": self.field, "operator": self.operator.value, "value": value}

    def as_text(self) -> str:
        """The condition as one console line (``field operator value``)."""
        value = ", ".join(self.value) if isinstance(self.value, tuple) else self.value
        return f"{self.field} {self.operator.value} {value}"


def conditions_from(raw: Any) -> tuple[Condition, ...]:
    """Validated conditions from a list of ``{"field", "operator", "value"}`` objects."""
    if not isinstance(raw, list) or not raw:
        raise InvalidInput(N_("A suppression needs at least one condition."), field="conditions")
    if len(raw) > MAX_CONDITIONS:
        raise InvalidInput(
            N_("A suppression has at most %(max)d conditions."),
            field="conditions",
            max=MAX_CONDITIONS,
        )
    return tuple(_condition(number, item) for number, item in enumerate(raw, start=1))


def parse_condition_lines(text: str) -> tuple[Condition, ...]:
    """Conditions written one per line, ``field operator value`` (``in``: values by commas)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) > MAX_CONDITIONS:
        raise InvalidInput(
            N_("A suppression has at most %(max)d conditions."),
            field="conditions",
            max=MAX_CONDITIONS,
        )
    raw: list[dict[str, Any]] = []
    for number, line in enumerate(lines, start=1):
        parts = line.split(None, 2)
        if len(parts) != 3:
            raise InvalidInput(
                N_(
                    "Condition %(number)d: write it as \u201cfield operator value\u201d, for "
                    "example \u201cuser.name equals svc_backup\u201d."
                ),
                field="conditions",
                number=number,
            )
        field, operator, value = parts
        listed: Any = [item.strip() for item in value.split(",")] if operator == "in" else value
        raw.append({"field": field, "operator": operator, "value": listed})
    return conditions_from(raw)


def dump_conditions(conditions: Sequence[Condition]) -> str:
    return orjson.dumps([condition.as_json() for condition in conditions]).decode()


def load_conditions(text: str) -> tuple[Condition, ...]:
    """Stored conditions (validated again: raises ``InvalidInput`` if they no longer are)."""
    try:
        raw = orjson.loads(text)
    except orjson.JSONDecodeError:
        raw = None
    return conditions_from(raw)


def all_hold(
    conditions: Sequence[Condition],
    group: Mapping[str, str],
    event_values: Callable[[str], list[str]],
) -> bool:
    """Whether every condition holds: on the group's value of its field if the group has
    that field, else on the first event's (``event_values(field)``)."""
    for condition in conditions:
        if condition.field in group:
            values = [group[condition.field]]
        else:
            values = event_values(condition.field)
        if not condition.holds(values):
            return False
    return True


def _condition(number: int, item: Any) -> Condition:
    if not isinstance(item, Mapping):
        raise InvalidInput(
            N_("Condition %(number)d needs a field, an operator and a value."),
            field="conditions",
            number=number,
        )
    field, operator = item.get("field"), item.get("operator")
    if not isinstance(field, str) or not _FIELD.fullmatch(field):
        raise InvalidInput(
            N_(
                "Condition %(number)d: \u201c%(field_name)s\u201d is not a field name like "
                "user.name."
            ),
            field="conditions",
            number=number,
            field_name=str(field)[:60],
        )
    if operator not in {member.value for member in Operator}:
        raise InvalidInput(
            N_(
                "Condition %(number)d: \u201c%(operator)s\u201d is not an operator; "
                "use equals, in, cidr or contains."
            ),
            field="conditions",
            number=number,
            operator=str(operator)[:40],
        )
    chosen = Operator(operator)
    return Condition(field, chosen, _value(number, chosen, item.get("value")))


def _value(number: int, operator: Operator, value: Any) -> ConditionValue:
    if operator == Operator.IN:
        items = value if isinstance(value, list) else None
        if not items or len(items) > MAX_LIST_VALUES:
            raise InvalidInput(
                N_("Condition %(number)d: list 1 to %(max)d values, separated by commas."),
                field="conditions",
                number=number,
                max=MAX_LIST_VALUES,
            )
        return tuple(_text(number, item) for item in items)
    text = _text(number, value)
    if operator == Operator.CIDR:
        try:
            return str(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise InvalidInput(
                N_(
                    "Condition %(number)d: \u201c%(value)s\u201d is not a network such as "
                    "10.0.0.0/8 or an IP address."
                ),
                field="conditions",
                number=number,
                value=text[:60],
            ) from None
    return text


def _text(number: int, value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_VALUE_LENGTH:
        raise InvalidInput(
            N_("Condition %(number)d: a value needs 1 to %(max)d characters."),
            field="conditions",
            number=number,
            max=MAX_VALUE_LENGTH,
        )
    return value.strip()


def _in_network(value: str, network: str) -> bool:
    try:
        address = ipaddress.ip_address(value.strip().split("%", 1)[0])
    except ValueError:
        return False
    return address in _network(network)  # another IP version is simply not in it


@functools.lru_cache(maxsize=256)
def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(text)
