"""STIX 2.1 bundles of the IP addresses Wachter's alerts saw, for threat-intel platforms
(MISP, OpenCTI, TAXII clients): ``GET /api/v1/alerts/stix`` and ``wachter alerts export``.

A bundle holds one ``identity`` (the organisation that saw it all), one ``indicator`` per
IP address (pattern ``[ipv4-addr:value = '…']`` or ``ipv6-addr``) and one ``sighting`` per
alert and address (first and last seen, count, where: the identity). Built with ``stix2``.

No people, not even as pseudonyms: accounts, e-mail addresses, phone numbers and case
references are left out, because an indicator feed is shared further than the SOC and a
pseudonym there would only invite correlation. Host names are left out too: in Wachter's
alerts they name the agency's own machines that saw the activity, which are neither
indicators nor anything a threat-intel platform should learn.

Ids are deterministic (UUIDv5 in Wachter's namespace: an indicator's from its address, a
sighting's from its alert and address), so exporting again updates the same objects in a
platform instead of adding copies. An indicator describes its address over all alerts, not
only those in the range: its ``valid_from``/``created`` (the first sighting), ``modified``
(the latest change), types and labels come out the same whichever range is exported.
Alerts closed as false positive or benign are no sightings, and add nothing to indicators.
An address is ``malicious-activity`` once an alert with it was closed as a true positive,
``anomalous-activity`` before that.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from typing import Any

import orjson
from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from stix2.v21 import Bundle, Identity, Indicator, Sighting

from access_control import Actor, audit
from core import InvalidInput
from core.i18n import N_
from incidents.alerts.models import Alert, AlertEntity, AlertStatus, Resolution
from incidents.entities import EntityKind, normalise

IDENTITY_NAME = "Wachter"
MEDIA_TYPE = "application/stix+json;version=2.1"
MAX_RANGE = timedelta(days=90)
DEFAULT_RANGE = timedelta(days=1)
MAX_ALERTS = 10_000  # in one export; a longer list is refused, never cut short silently
MAX_TIME_TEXT = 40
MAX_COUNT = 999_999_999  # STIX sighting count
# Wachter's UUIDv5 namespace for STIX ids (uuid5(NAMESPACE_URL, "urn:wachter:stix")).
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:wachter:stix")
# The identity never changes: one version, one fixed time.
IDENTITY_CREATED = datetime(2026, 1, 1, tzinfo=UTC)
_DISMISSED = (Resolution.FALSE_POSITIVE.value, Resolution.BENIGN.value)
_IN_CHUNK = 500


@dataclass
class _Address:
    """What all alerts say about one IP address."""

    value: str
    first_seen: datetime
    modified: datetime
    malicious: bool = False
    labels: set[str] = field(default_factory=set)

    def add(self, alert: Alert) -> None:
        self.first_seen = min(self.first_seen, alert.first_seen)
        self.modified = max(self.modified, alert.updated_at, alert.last_seen)
        self.malicious |= alert.resolution == Resolution.TRUE_POSITIVE.value
        self.labels.update(_tags(alert))


def export_range(
    since: str | None, until: str | None, *, now: datetime
) -> tuple[datetime, datetime]:
    """The range from ISO 8601 texts (UTC unless they say otherwise); by default the last
    day. At most ``MAX_RANGE`` long, start before end, within the years 1 to 9999."""
    try:
        end = _moment(until, "until") if until else now
        start = _moment(since, "since") if since else end - DEFAULT_RANGE
    except OverflowError:  # 0001-01-01T00:00+01:00 in UTC, or a day before 0001-01-01
        raise InvalidInput(
            N_("A time range must lie within the years 1 to 9999."), field="since"
        ) from None
    if start >= end:
        raise InvalidInput(N_("The start of the time range must be before its end."), field="since")
    if end - start > MAX_RANGE:
        raise InvalidInput(
            N_("A time range is at most %(days)d days long."), field="since", days=MAX_RANGE.days
        )
    return start, end


def alerts_bundle(
    session: Session, *, since: datetime, until: datetime, identity_name: str = IDENTITY_NAME
) -> Bundle:
    """The bundle of the alerts active in ``[since, until)`` (seen at any time inside it)."""
    alerts = _alerts_in_range(session, since=since, until=until)
    identity = Identity(
        id=f"identity--{uuid.uuid5(NAMESPACE, f'identity:{identity_name}')}",
        name=identity_name,
        identity_class="organization",
        created=IDENTITY_CREATED,
        modified=IDENTITY_CREATED,
    )
    addresses = _addresses(session, alerts)
    indicators = {value: _indicator(address, identity) for value, address in addresses.items()}
    sightings = [
        _sighting(alert, indicators[value], identity)
        for alert in alerts
        for value in ip_values(alert)
    ]
    objects: list[Any] = [identity, *(indicators[value] for value in sorted(indicators))]
    return Bundle(objects=[*objects, *sightings])


def bundle_counts(bundle: Bundle) -> dict[str, int]:
    """How many objects of each kind a bundle holds, and of how many alerts (the audit's)."""
    counts = {"identity": 0, "indicator": 0, "sighting": 0}
    alerts: set[str] = set()
    for stix_object in bundle.objects:
        counts[stix_object.type] = counts.get(stix_object.type, 0) + 1
        if stix_object.type == "sighting":
            alerts.update(ref.external_id for ref in stix_object.external_references)
    return {**counts, "alerts": len(alerts)}


def record_export(
    session: Session,
    *,
    bundle: Bundle,
    since: datetime,
    until: datetime,
    actor: Actor,
    now: datetime,
    destination: str | None = None,
) -> dict[str, int]:
    """Audit an export (``alerts.exported``) with what it held; returns the counts."""
    counts = bundle_counts(bundle)
    details: dict[str, str | int] = {
        "format": "stix",
        "since": since.isoformat(),
        "until": until.isoformat(),
        "alerts": counts["alerts"],
        "indicators": counts["indicator"],
        "sightings": counts["sighting"],
    }
    if destination is not None:
        details["destination"] = destination
    audit.record(
        session,
        actor=actor,
        action="alerts.exported",
        target="alerts:stix",
        outcome="success",
        now=now,
        details=details,
    )
    return counts


def ip_values(alert: Alert) -> list[str]:
    """The alert's IP addresses, normalised, each once, in the alert's order."""
    values: list[str] = []
    for kind, value in orjson.loads(alert.entities or "[]"):
        if kind != EntityKind.IP.value:
            continue
        try:
            text = normalise(EntityKind.IP, value)
        except InvalidInput:  # a value of the wrong shape is no indicator
            continue
        if text not in values:
            values.append(text)
    return values


def _alerts_in_range(session: Session, *, since: datetime, until: datetime) -> Sequence[Alert]:
    alerts = session.scalars(
        select(Alert)
        .where(Alert.last_seen >= since, Alert.first_seen < until, _not_dismissed())
        .order_by(Alert.id)
        .limit(MAX_ALERTS + 1)
    ).all()
    if len(alerts) > MAX_ALERTS:
        raise InvalidInput(
            N_("More than %(limit)s alerts fall in that time range; choose a shorter one."),
            field="since",
            limit=MAX_ALERTS,
        )
    return alerts


def _addresses(session: Session, alerts: Sequence[Alert]) -> dict[str, _Address]:
    """Each address of ``alerts`` with what every alert about it says (not only these)."""
    addresses: dict[str, _Address] = {}
    in_range = {alert.id for alert in alerts}
    for alert in [*alerts, *_other_alerts(session, alerts)]:
        for value in ip_values(alert):
            address = addresses.get(value)
            if address is None:
                if alert.id not in in_range:
                    continue  # an address outside this export
                address = addresses[value] = _Address(value, alert.first_seen, alert.updated_at)
            address.add(alert)
    return addresses


def _other_alerts(session: Session, alerts: Sequence[Alert]) -> Iterable[Alert]:
    """Alerts outside the range that share an address with ``alerts`` (via the entity
    index, where the alert service writes every alert's entities)."""
    values = sorted({value for alert in alerts for value in ip_values(alert)})
    known = {alert.id for alert in alerts}
    seen: set[int] = set()
    for start in range(0, len(values), _IN_CHUNK):
        holders = select(AlertEntity.alert_id).where(
            AlertEntity.kind == EntityKind.IP.value,
            AlertEntity.value.in_(values[start : start + _IN_CHUNK]),
        )
        for alert in session.scalars(
            select(Alert).where(Alert.id.in_(holders), _not_dismissed()).order_by(Alert.id)
        ):
            if alert.id not in known and alert.id not in seen:
                seen.add(alert.id)
                yield alert


def _not_dismissed() -> Any:
    return or_(
        Alert.status != AlertStatus.CLOSED.value,
        Alert.resolution.is_(None),
        Alert.resolution.not_in(_DISMISSED),
    )


def _indicator(address: _Address, identity: Identity) -> Indicator:
    kind = "ipv4-addr" if ip_address(address.value).version == 4 else "ipv6-addr"
    return Indicator(
        id=f"indicator--{uuid.uuid5(NAMESPACE, address.value)}",
        name=address.value,
        pattern=f"[{kind}:value = '{address.value}']",
        pattern_type="stix",
        valid_from=address.first_seen,
        indicator_types=["malicious-activity" if address.malicious else "anomalous-activity"],
        labels=sorted(address.labels) or None,
        created=address.first_seen,
        modified=max(address.modified, address.first_seen),
        created_by_ref=identity.id,
    )


def _sighting(alert: Alert, indicator: Indicator, identity: Identity) -> Sighting:
    return Sighting(
        id=f"sighting--{uuid.uuid5(NAMESPACE, f'sighting:{alert.id}:{indicator.name}')}",
        sighting_of_ref=indicator.id,
        first_seen=alert.first_seen,
        last_seen=max(alert.last_seen, alert.first_seen),
        count=min(max(alert.count, 0), MAX_COUNT),
        where_sighted_refs=[identity.id],
        description=alert.title,
        external_references=[
            {"source_name": "wachter", "external_id": f"wachter-alert-{alert.id}"}
        ],
        created=alert.created_at,
        modified=max(alert.updated_at, alert.created_at),
        created_by_ref=identity.id,
    )


def _tags(alert: Alert) -> list[str]:
    tags = orjson.loads(alert.tags or "[]")
    return [tag for tag in tags if isinstance(tag, str)] if isinstance(tags, list) else []


def _moment(text: str, name: str) -> datetime:
    cleaned = text.strip()
    if len(cleaned) > MAX_TIME_TEXT:
        raise InvalidInput(
            N_("A time is at most %(limit)d characters."), field=name, limit=MAX_TIME_TEXT
        )
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        raise InvalidInput(
            N_("\u201c%(value)s\u201d is not an ISO 8601 time, e.g. 2026-03-01T09:30:00Z."),
            field=name,
            value=cleaned,
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
