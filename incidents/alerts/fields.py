"""Reading a field of a stored event by its dotted ECS name (``source.ip``, ``user.name``).

Events are ECS documents: mostly nested objects (``{"user": {"name": …}}``), sometimes
with dotted keys (``{"user.name": …}``), as senders write them; both are read. A field
holding a list (``related.ip``) gives each of its scalar items. Only text and numbers come
out, as text: an object or a boolean names no entity and matches no condition.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAX_VALUES = 100  # items read from one list field


def field_values(document: Mapping[str, Any], path: str) -> list[str]:
    """The values at ``path`` in ``document`` as text; empty when the field is absent."""
    return [text for value in _lookup(document, path.split(".")) for text in _texts(value)]


def _lookup(document: Mapping[str, Any], parts: list[str]) -> list[Any]:
    found: list[Any] = []
    # Every split of the remaining path: "user.name" may be one key or two levels.
    for cut in range(1, len(parts) + 1):
        key = ".".join(parts[:cut])
        if key not in document:
            continue
        value, rest = document[key], parts[cut:]
        if not rest:
            found.append(value)
        elif isinstance(value, Mapping):
            found.extend(_lookup(value, rest))
    return found


def _texts(value: Any) -> list[str]:
    if isinstance(value, list):
        return [text for item in value[:MAX_VALUES] for text in _scalar(item)]
    return _scalar(value)


def _scalar(value: Any) -> list[str]:
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, str | int | float):
        return [str(value)]
    return []
