"""Wachter's own rule pack (``detection_rules/packs/``), installed into the registry.

``serve`` and ``worker`` call ``install_packs`` at start-up, so a fresh installation
watches itself from the first minute and an upgrade of Wachter brings the pack's new
versions. It is an ordinary import: unchanged rules stay unchanged, a rule a security
officer disabled stays disabled, and an edited pack rule becomes a new version.
"""

from __future__ import annotations

from datetime import datetime
from importlib import resources

from sqlalchemy.orm import Session

from access_control import Actor
from detection_rules.loading import RuleSource
from detection_rules.models import RuleOrigin
from detection_rules.service.imports import ImportReport, import_rules


def pack_sources() -> list[RuleSource]:
    """The pack's YAML files, in name order (``packs/<file>.yml``)."""
    folder = resources.files("detection_rules") / "packs"
    return [
        RuleSource(f"packs/{entry.name}", entry.read_bytes())
        for entry in sorted(folder.iterdir(), key=lambda item: item.name)
        if entry.name.endswith(".yml")
    ]


def install_packs(session: Session, *, actor: Actor, now: datetime) -> ImportReport:
    return import_rules(session, pack_sources(), actor=actor, now=now, origin=RuleOrigin.PACK)
