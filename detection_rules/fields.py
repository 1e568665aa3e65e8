"""How a rule's field name finds its value in an event, and when an event happened.

Sigma names fields flatly (``Image``, ``c-uri``) or with dots (``source.ip``); events come
flat (EVTX JSON, Zircolite style), nested (ECS from Winlogbeat: ``{"source": {"ip": …}}``)
or both. A dotted name is looked up as one key first and then as a path, so both shapes
match the same rule, as Elasticsearch does for dotted field names.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

MISSING: Final = object()

# Where an event's time is found, in order: ECS, then the usual Windows exports
# (flattened EVTX JSON, Winlogbeat's event.created is not the event's time).
TIME_FIELDS: Final = (
    "@timestamp",
    "SystemTime",
    "TimeCreated",
    "Event.System.TimeCreated.#attributes.SystemTime",
    "Event.System.TimeCreated.SystemTime",
    "UtcTime",
    "timestamp",
)


def lookup(event: Mapping[str, Any], field: str) -> Any:
    """The value of ``field`` in ``event``, or ``MISSING``: the flat key first, then the path."""
    value = event.get(field, MISSING)
    if value is not MISSING or "." not in field:
        return value
    return _walk(event, field.split("."))


def _walk(node: Any, parts: list[str]) -> Any:
    # A path may cross keys that themselves contain dots ("winlog.event_data" flat inside
    # a nested object), so each step tries the longest joined prefix first.
    if not parts:
        return node
    if isinstance(node, list):
        # A list of objects: every object's value, as Elasticsearch flattens object arrays.
        found = [value for item in node if (value := _walk(item, parts)) is not MISSING]
        return found if found else MISSING
    if not isinstance(node, Mapping):
        return MISSING
    for split in range(len(parts), 0, -1):
        key = ".".join(parts[:split])
        if key in node:
            found = _walk(node[key], parts[split:])
            if found is not MISSING:
                return found
    return MISSING


def scalars(value: Any) -> tuple[Any, ...]:
    """The scalar values of a looked-up value: a list yields its items, null/missing none."""
    if value is MISSING or value is None:
        return ()
    if isinstance(value, list | tuple):
        flat: list[Any] = []
        for item in value:
            flat.extend(scalars(item))
        return tuple(flat)
    return (value,)


def field_values(event: Mapping[str, Any], field: str) -> tuple[Any, ...]:
    """Every scalar value of ``field`` in ``event`` (``()`` when missing or null)."""
    return scalars(lookup(event, field))


def event_time(event: Mapping[str, Any]) -> datetime | None:
    """When the event happened (UTC), from the first time field that parses; else None."""
    for field in TIME_FIELDS:
        value = lookup(event, field)
        if value is MISSING or value is None:
            continue
        parsed = parse_time(value)
        if parsed is not None:
            return parsed
    return None


def parse_time(value: Any) -> datetime | None:  # noqa: PLR0911 - one return per shape
    """An ISO 8601 string or epoch seconds as an aware UTC datetime; None if it is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        # Epoch seconds, or milliseconds when the number is too large to be seconds.
        seconds = value / 1000 if abs(value) > 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    # Windows writes seven fractional digits; fromisoformat takes at most six.
    text = _trim_fraction(text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        # Windows exports (SystemTime, UtcTime) are UTC without saying so.
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _trim_fraction(text: str) -> str:
    dot = text.find(".", 10)
    if dot < 0:
        return text
    end = dot + 1
    while end < len(text) and text[end].isdigit():
        end += 1
    if end - dot - 1 <= 6:
        return text
    return text[: dot + 7] + text[end:]
