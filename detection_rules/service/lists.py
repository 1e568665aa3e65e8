"""The lists ``|expand`` placeholders are filled from: ``%office_networks%``, ``%admin_accounts%``.

A list holds strings or networks (IP addresses and CIDR ranges, checked with ``ipaddress``
so a typo never silently widens or empties a rule). A list may name people (persons
under a ban), so the audit trail records that a list changed and how many values it
holds, never the values.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from access_control import Actor, record_audit
from core import NotFound
from core.i18n import N_
from detection_rules.errors import InvalidList
from detection_rules.models import DetectionList, DetectionRule, DetectionRuleVersion, ListKind

MAX_VALUES: Final = 10_000
MAX_VALUE_LENGTH: Final = 500
# What a Sigma placeholder may be called: %name% with no spaces or percent signs.
_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,99}", re.ASCII)


def set_list(
    session: Session,
    *,
    name: str,
    kind: ListKind | str,
    values: Iterable[str],
    actor: Actor,
    now: datetime,
) -> DetectionList:
    """Create or replace list ``name``; refuses any bad value before storing anything."""
    list_kind = _checked_kind(kind)
    checked = _checked_values(_checked_name(name), list_kind, values)
    row = session.get(DetectionList, name)
    encoded = json.dumps(checked, ensure_ascii=False)
    previous = len(json.loads(row.values)) if row is not None else None
    if row is not None and row.kind == list_kind and row.values == encoded:
        return row
    if row is None:
        row = DetectionList(name=name)
        session.add(row)
    row.kind, row.values = list_kind, encoded
    row.updated_at, row.updated_by = now, actor.name
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="detection_list.set",
        target=f"detection_list:{name}",
        outcome="success",
        now=now,
        details={"kind": str(list_kind), "values": len(checked), "previous_values": previous},
    )
    return row


def add_to_list(
    session: Session, *, name: str, values: Iterable[str], actor: Actor, now: datetime
) -> DetectionList:
    """Add ``values`` to an existing list (those already in it are not added twice)."""
    row = get_list(session, name)
    current = list_values(row)
    return set_list(
        session, name=name, kind=row.kind, values=[*current, *values], actor=actor, now=now
    )


def remove_from_list(
    session: Session, *, name: str, values: Iterable[str], actor: Actor, now: datetime
) -> DetectionList:
    """Remove ``values`` from list ``name`` (compared as stored: networks normalised)."""
    row = get_list(session, name)
    kind = ListKind(row.kind)
    unwanted = {_normalised(kind, value, name) for value in values}
    kept = [value for value in list_values(row) if value not in unwanted]
    return set_list(session, name=name, kind=kind, values=kept, actor=actor, now=now)


def get_list(session: Session, name: str) -> DetectionList:
    row = session.get(DetectionList, name)
    if row is None:
        raise NotFound(
            N_(
                "There is no list %(name)s; create it on the detection lists page or with "
                "`wachter lists set`."
            ),
            name=name,
        )
    return row


def find_lists(session: Session) -> list[DetectionList]:
    return list(session.scalars(select(DetectionList).order_by(DetectionList.name)))


def rules_using_list(session: Session, name: str) -> list[DetectionRule]:
    """The rules whose current version names ``%name%`` (on or off), by title."""
    query = (
        select(DetectionRule)
        .join(
            DetectionRuleVersion,
            (DetectionRuleVersion.rule_key == DetectionRule.key)
            & (DetectionRuleVersion.version == DetectionRule.current_version),
        )
        .where(DetectionRuleVersion.text.contains(f"%{name}%", autoescape=True))
        .order_by(DetectionRule.title, DetectionRule.key)
    )
    return list(session.scalars(query))


def list_values(row: DetectionList) -> tuple[str, ...]:
    return tuple(json.loads(row.values))


def get_lists(session: Session) -> dict[str, tuple[str, ...]]:
    """Every list by name: what the matcher fills ``|expand`` placeholders from."""
    return {row.name: list_values(row) for row in find_lists(session)}


def lists_version(session: Session) -> str:
    """A value that changes whenever a list does: poll it to refresh without a restart."""
    lists, latest, size = session.execute(
        select(
            func.count(DetectionList.name),
            func.max(DetectionList.updated_at),
            func.coalesce(func.sum(func.length(DetectionList.values)), 0),
        )
    ).one()
    moment = latest.isoformat() if isinstance(latest, datetime) else str(latest)
    return f"{lists}:{moment}:{size}"


def _checked_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise InvalidList(
            N_(
                "%(name)s is not a list name: use letters, digits, _ . - (at most 100), "
                "as in %%office_networks%%."
            ),
            field="name",
            name=name[:100],
        )
    return name


def _checked_kind(kind: ListKind | str) -> ListKind:
    try:
        return ListKind(kind)
    except ValueError:
        raise InvalidList(
            N_("%(kind)s is not a list kind; use strings or networks."),
            field="kind",
            kind=str(kind)[:40],
        ) from None


def _checked_values(name: str, kind: ListKind, values: Iterable[str]) -> list[str]:
    checked: list[str] = []
    seen: set[str] = set()
    for value in values:
        normal = _normalised(kind, value, name)
        if normal not in seen:
            seen.add(normal)
            checked.append(normal)
    if len(checked) > MAX_VALUES:
        raise InvalidList(
            N_("The list %(name)s would hold %(count)s values; at most %(limit)s."),
            field="values",
            name=name,
            count=len(checked),
            limit=MAX_VALUES,
        )
    return checked


def _normalised(kind: ListKind, value: str, name: str) -> str:
    text = value.strip()
    if not text or len(text) > MAX_VALUE_LENGTH:
        raise InvalidList(
            N_("List %(name)s: values must be 1 to %(limit)s characters."),
            field="values",
            name=name,
            limit=MAX_VALUE_LENGTH,
        )
    if kind is ListKind.STRINGS:
        return text
    try:
        network = ipaddress.ip_network(text)
    except ValueError as error:
        raise InvalidList(
            N_("List %(name)s: %(value)s is not an IP address or network (%(reason)s)."),
            field="values",
            name=name,
            value=text[:60],
            reason=str(error),
        ) from None
    if network.num_addresses == 1:
        return str(network.network_address)
    return str(network)
