"""One event as the compiled rules see it: field values looked up once, folded once.

A hundred rules ask an event for ``CommandLine``; the view looks it up and case-folds it
the first time and hands out the cached tuple after that. Values are tuples of scalars
because Sigma matches a list field when any of its items matches.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from detection_rules.fields import MISSING, lookup, scalars

DerivedField = Callable[[Mapping[str, Any]], Any]


def fold(value: Any) -> str | None:
    """A scalar as the case-insensitive text Sigma compares with; None for objects.

    Numbers read as Elasticsearch indexes them as keywords (``4624``, ``4624.0`` → "4624"),
    booleans as ``true``/``false``.
    """
    if isinstance(value, str):
        return value.casefold()
    return text_of(value)


def text_of(value: Any) -> str | None:
    """A scalar as (case-preserving) text; None for objects, which no string matches."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return None


class EventView:
    """Cached per-field values of one event; derived fields are computed, never read."""

    __slots__ = ("_all_folded", "_all_raw", "_derived", "_folded", "_raw", "_texts", "event")

    def __init__(
        self, event: Mapping[str, Any], derived: Mapping[str, DerivedField] | None = None
    ) -> None:
        self.event = event
        self._derived = derived or {}
        self._raw: dict[str, tuple[Any, ...]] = {}
        self._folded: dict[str, tuple[str, ...]] = {}
        self._texts: dict[str, tuple[str, ...]] = {}
        self._all_folded: tuple[str, ...] | None = None
        self._all_raw: tuple[Any, ...] | None = None

    def value(self, field: str) -> Any:
        """The looked-up value (``MISSING`` when absent); derived fields are computed."""
        compute = self._derived.get(field)
        if compute is not None:
            return compute(self.event)
        return lookup(self.event, field)

    def raw(self, field: str) -> tuple[Any, ...]:
        found = self._raw.get(field)
        if found is None:
            found = self._raw[field] = scalars(self.value(field))
        return found

    def folded(self, field: str) -> tuple[str, ...]:
        found = self._folded.get(field)
        if found is None:
            found = self._folded[field] = tuple(
                text for text in map(fold, self.raw(field)) if text is not None
            )
        return found

    def texts(self, field: str) -> tuple[str, ...]:
        found = self._texts.get(field)
        if found is None:
            found = self._texts[field] = tuple(
                text for text in map(text_of, self.raw(field)) if text is not None
            )
        return found

    def exists(self, field: str) -> bool:
        value = self.value(field)
        return value is not MISSING and value is not None and value != []

    def all_raw(self) -> tuple[Any, ...]:
        """Every scalar value anywhere in the event: what keyword searches scan."""
        if self._all_raw is None:
            collected: list[Any] = []
            _collect(self.event, collected)
            self._all_raw = tuple(collected)
        return self._all_raw

    def all_folded(self) -> tuple[str, ...]:
        if self._all_folded is None:
            self._all_folded = tuple(text for text in map(fold, self.all_raw()) if text is not None)
        return self._all_folded

    def all_texts(self) -> tuple[str, ...]:
        return tuple(text for text in map(text_of, self.all_raw()) if text is not None)


def _collect(node: Any, into: list[Any]) -> None:
    if isinstance(node, Mapping):
        for item in node.values():
            _collect(item, into)
    elif isinstance(node, list | tuple):
        for item in node:
            _collect(item, into)
    elif node is not None:
        into.append(node)
