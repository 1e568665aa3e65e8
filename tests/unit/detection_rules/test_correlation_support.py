"""Helpers for the correlation tests (no tests here): base rules, building engines, feeding.

Rules are written as YAML (base rules + correlations in one multi-document string), loaded
with pySigma's ``SigmaCollection`` (which resolves the references) and compiled.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule

from detection_rules.correlation import (
    CompiledCorrelation,
    CorrelationEngine,
    CorrelationHit,
    compile_correlation,
)

BASE_RULES = """
title: Failed login
name: failed_login
logsource: {product: wachter, service: auth}
detection:
    selection: {event.outcome: failure}
    condition: selection
---
title: Successful login
name: successful_login
logsource: {product: wachter, service: auth}
detection:
    selection: {event.outcome: success}
    condition: selection
---
title: Badge access
name: badge_access
logsource: {product: wachter, service: badge}
detection:
    selection: {event.action: door-access-granted}
    condition: selection
---
title: VPN login
name: vpn_login
logsource: {product: wachter, service: vpn}
detection:
    selection: {event.action: vpn-login}
    condition: selection
"""

# A Monday; 10:00:00 is on a 5-minute boundary, which the bucket tests straddle.
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def compiled(correlations_yaml: str) -> list[CompiledCorrelation]:
    """Every correlation in ``BASE_RULES`` + ``correlations_yaml``, compiled."""
    collection = SigmaCollection.from_yaml(BASE_RULES + "---\n" + correlations_yaml)
    return [
        compile_correlation(rule)
        for rule in collection.rules
        if isinstance(rule, SigmaCorrelationRule)
    ]


def engine_for(correlations_yaml: str, **limits: int) -> CorrelationEngine:
    return CorrelationEngine(compiled(correlations_yaml), **limits)


def feed(
    engine: CorrelationEngine,
    rule: str,
    seconds: float,
    ref: Any,
    event: dict[str, Any] | None = None,
) -> list[CorrelationHit]:
    """Tell ``engine`` that ``event`` (at T0 + ``seconds``) matched ``rule``."""
    return engine.observe(rule, event or {}, time=at(seconds), event_ref=ref)


def user(name: str | None, **more: Any) -> dict[str, Any]:
    """An event of user ``name`` (no user field when None) with ``more`` fields."""
    fields: dict[str, Any] = {"user": {"name": name}} if name is not None else {}
    fields.update(more)
    return fields


def keys(hits: list[CorrelationHit]) -> list[str]:
    return [hit.correlation.key for hit in hits]
