"""What alerts need to know of a detection rule: its title, level and tags, and whether a
key names a rule at all.

Title, level and tags are read from the YAML of the rule version that fired (the version
is immutable, so they are read once per version and batch). A text that does not parse
as one YAML mapping falls back to what the detection itself recorded, without tags: an
alert is still made.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import InvalidInput
from core.i18n import N_
from detection_rules.models import Detection, DetectionRule, DetectionRuleVersion
from incidents.alerts.models import RULE_KEY_LENGTH

MAX_TAGS = 50
MAX_TAG_LENGTH = 200
MAX_TITLE_LENGTH = 500


@dataclass(frozen=True)
class RuleFacts:
    title: str
    level: str | None
    tags: tuple[str, ...]


class RuleFactsCache:
    """Rule facts by (key, version), the version's text read once per batch."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._documents: dict[tuple[str, int], dict[str, Any]] = {}

    def of(self, detection: Detection) -> RuleFacts:
        key = (detection.rule_key, detection.rule_version)
        if key not in self._documents:
            self._documents[key] = _mapping(self._text(*key))
        document = self._documents[key]
        title, level = document.get("title"), document.get("level")
        return RuleFacts(
            title=(title if isinstance(title, str) and title.strip() else detection.title)[
                :MAX_TITLE_LENGTH
            ],
            level=level if isinstance(level, str) else detection.level,
            tags=_tags(document.get("tags")),
        )

    def _text(self, rule_key: str, version: int) -> str | None:
        return self._session.scalar(
            select(DetectionRuleVersion.text).where(
                DetectionRuleVersion.rule_key == rule_key, DetectionRuleVersion.version == version
            )
        )


def known_rule_key(session: Session, rule_key: str | None) -> str | None:
    """``rule_key`` stripped, None when empty; ``InvalidInput`` when no rule has it."""
    key = (rule_key or "").strip()
    if not key:
        return None
    if len(key) > RULE_KEY_LENGTH or session.get(DetectionRule, key) is None:
        raise InvalidInput(
            N_("There is no rule with the key \u201c%(key)s\u201d."), field="rule", key=key[:80]
        )
    return key


def _mapping(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _tags(raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list):
        return ()
    tags = [item.strip()[:MAX_TAG_LENGTH] for item in raw if isinstance(item, str) and item.strip()]
    return tuple(dict.fromkeys(tags))[:MAX_TAGS]
