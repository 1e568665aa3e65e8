"""Wachter's own rule pack reaches the registry at start-up, once, and respects the
security officer's choices (a disabled pack rule stays disabled)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from access_control import Actor
from detection_rules.models import DetectionRule, RuleOrigin
from detection_rules.service import (
    ImportOutcome,
    disable_rule,
    install_packs,
    list_rules,
    pack_sources,
)

NOW = datetime(2026, 6, 1, 8, 30, tzinfo=UTC)


def test_the_pack_is_installed_once_and_enabled(db_session):
    first = install_packs(db_session, actor=Actor.system(), now=NOW)
    db_session.flush()
    again = install_packs(db_session, actor=Actor.system(), now=NOW + timedelta(days=1))

    created = first.with_outcome(ImportOutcome.CREATED)
    assert len(created) >= 20
    assert not first.has_errors
    assert again.with_outcome(ImportOutcome.CREATED) == []
    assert len(again.with_outcome(ImportOutcome.UNCHANGED)) == len(created)
    rules = list_rules(db_session)
    assert {rule.origin for rule in rules} == {RuleOrigin.PACK}
    assert all(rule.enabled for rule in rules)
    assert db_session.scalar(select(func.count()).select_from(DetectionRule)) == len(created)


def test_a_disabled_pack_rule_stays_disabled_after_a_restart(db_session):
    install_packs(db_session, actor=Actor.system(), now=NOW)
    db_session.flush()
    key = list_rules(db_session)[0].key
    disable_rule(db_session, key, actor=Actor(name="alice"), now=NOW + timedelta(hours=1))
    db_session.flush()

    install_packs(db_session, actor=Actor.system(), now=NOW + timedelta(days=1))

    assert db_session.get(DetectionRule, key).enabled is False


def test_the_pack_files_are_shipped_with_the_package():
    names = [source.path for source in pack_sources()]
    assert names == sorted(names)
    assert len(names) >= 5
    assert all(source.data.strip() for source in pack_sources())
