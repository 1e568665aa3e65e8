"""What makes two detections "the same alert", and which entities an alert involves.

The fingerprint is a SHA-256 over the rule's key and

- for a correlation rule: its group-by values, sorted by field (``user.name=alice``), so
  every firing for the same group is the same alert;
- for a single-event rule: its key entity, the first of ``source.ip``, ``user.name`` and
  ``host.name`` the event has (normalised: ``ALICE`` and ``alice`` are one account);
- for a rule with neither: the rule alone.

Entities come from the ECS fields ``incidents.entities.ECS_ENTITY_FIELDS`` names, in the
detection's events and its group-by values; a value of the wrong shape (``999.1.1.1`` as
``source.ip``) is left out rather than stored as an entity.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from core import InvalidInput
from incidents.alerts.fields import field_values
from incidents.entities import ECS_ENTITY_FIELDS, EntityKind, normalise

Entity = tuple[EntityKind, str]
KEY_ENTITY_FIELDS: tuple[str, ...] = ("source.ip", "user.name", "host.name")
MAX_ENTITIES = 100  # per alert: enough to link it, small enough for every feed document
_KIND_OF_FIELD = dict(ECS_ENTITY_FIELDS)


def fingerprint(rule_key: str, group: Mapping[str, str] | None, key_entity: Entity | None) -> str:
    """The SHA-256 (hex) two detections share when they are the same alert."""
    if group is not None:
        parts: list[Any] = [rule_key, "group", sorted(group.items())]
    elif key_entity is not None:
        parts = [rule_key, "entity", key_entity[0].value, key_entity[1]]
    else:
        parts = [rule_key]
    return hashlib.sha256(orjson.dumps(parts)).hexdigest()


def key_entity(document: Mapping[str, Any] | None) -> Entity | None:
    """The first valid value of ``source.ip``, ``user.name``, ``host.name`` in the event."""
    if document is None:
        return None
    for field in KEY_ENTITY_FIELDS:
        for value in field_values(document, field):
            entity = _entity(_KIND_OF_FIELD[field], value)
            if entity is not None:
                return entity
    return None


def entities_of(
    documents: Iterable[Mapping[str, Any]], group: Mapping[str, str] | None
) -> list[Entity]:
    """The entities of the group's values and the events, each once, in order found."""
    found: dict[Entity, None] = {}
    for field, value in (group or {}).items():
        kind = _KIND_OF_FIELD.get(field)
        entity = _entity(kind, value) if kind is not None else None
        if entity is not None:
            found.setdefault(entity)
    for document in documents:
        for field, kind in ECS_ENTITY_FIELDS:
            for value in field_values(document, field):
                entity = _entity(kind, value)
                if entity is not None:
                    found.setdefault(entity)
        if len(found) >= MAX_ENTITIES:
            break
    return list(found)[:MAX_ENTITIES]


def group_texts(group: Any) -> dict[str, str] | None:
    """A detection's group-by values as text (None: not a correlation's detection)."""
    if not isinstance(group, Mapping):
        return None
    return {str(field): _text(value) for field, value in group.items()}


def _entity(kind: EntityKind, value: str) -> Entity | None:
    try:
        return kind, normalise(kind, value)
    except InvalidInput:
        return None


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return orjson.dumps(value, default=str).decode()
