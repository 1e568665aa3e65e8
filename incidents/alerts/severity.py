"""Alert severity: Sigma's five levels, in rising order, and how an alert gets one.

An alert's severity starts as its rule's Sigma level; alert policies may raise it, never
lower it. A rule without a level (Sigma allows leaving it out) or with a level Sigma does
not know gives ``medium``: the middle, so it is neither buried nor shouted.
"""

from __future__ import annotations

from incidents.alerts.models import SEVERITIES, Severity

DEFAULT_SEVERITY = Severity.MEDIUM
_RANK = {severity.value: rank for rank, severity in enumerate(SEVERITIES)}


def severity_from_level(level: str | None) -> Severity:
    """The severity of a new alert from its rule's Sigma level (case as written)."""
    text = (level or "").strip().lower()
    return Severity(text) if text in _RANK else DEFAULT_SEVERITY


def rank(severity: str) -> int:
    """0 (informational) to 4 (critical); an unknown value ranks as the default."""
    return _RANK.get(severity, _RANK[DEFAULT_SEVERITY.value])


def is_severity(text: str) -> bool:
    return text in _RANK


def higher(first: str, second: str) -> str:
    """The higher of two severities (the first when they are equal)."""
    return second if rank(second) > rank(first) else first
