"""The rule registry on SQLite and PostgreSQL: imports, versions, switching, lists, audit."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from access_control.actor import Actor
from access_control.models import AuditEntry
from core import NotFound
from detection_rules.errors import InvalidList
from detection_rules.loading import RuleSource
from detection_rules.models import Detection, DetectionList, DetectionRuleVersion, RuleKind
from detection_rules.service import (
    ImportOutcome,
    add_to_list,
    disable_rule,
    enable_rule,
    enabled_rule_texts,
    get_lists,
    get_rule,
    get_rule_version,
    import_rules,
    list_rules,
    lists_version,
    remove_from_list,
    rule_versions,
    rules_using_list,
    set_list,
)

ANALYST = Actor(name="alice", ip="192.0.2.1")
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
RULE_ID = "4f0b8b7e-3a59-4c53-9d0b-0b8f8f0f0a01"
RULE = f"""\
title: Whoami run
id: {RULE_ID}
name: whoami_run
status: test
level: medium
logsource:
    category: process_creation
    product: windows
detection:
    selection:
        Image|endswith: '\\whoami.exe'
    condition: selection
"""
CORRELATION = """\
title: Whoami burst
id: 5f0b8b7e-3a59-4c53-9d0b-0b8f8f0f0a02
level: high
correlation:
    type: event_count
    rules: [whoami_run]
    group-by: [User]
    timespan: 5m
    condition: {gte: 3}
"""


def source(text: str, path: str = "rules/whoami.yml") -> RuleSource:
    return RuleSource(path=path, data=text.encode())


def run_import(session, *texts: str, now=NOW, **options):
    sources = [source(text, f"rules/rule{number}.yml") for number, text in enumerate(texts)]
    return import_rules(session, sources, actor=ANALYST, now=now, **options)


def audit_actions(session, target_prefix="detection_"):
    entries = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.target.startswith(target_prefix))
        .order_by(AuditEntry.id)
    )
    return [(entry.actor, entry.action, entry.target) for entry in entries]


def test_a_new_rule_is_stored_as_version_one_exactly_as_written_and_audited(db_session):
    report = run_import(db_session, RULE)
    ((imported),) = report.rules
    assert (imported.key, imported.outcome, imported.version) == (RULE_ID, ImportOutcome.CREATED, 1)
    rule = get_rule(db_session, RULE_ID)
    assert (rule.title, rule.kind, rule.level, rule.status) == (
        "Whoami run",
        "rule",
        "medium",
        "test",
    )
    assert (rule.enabled, rule.current_version, rule.origin) == (True, 1, "imported")
    (version,) = rule_versions(db_session, RULE_ID)
    assert (version.text, version.created_by, version.source_path) == (
        RULE,
        "alice",
        "rules/rule0.yml",
    )
    assert audit_actions(db_session) == [
        ("alice", "detection_rule.created", f"detection_rule:{RULE_ID}")
    ]


def test_reimporting_the_same_rule_changes_nothing(db_session):
    run_import(db_session, RULE)
    same_but_for_line_ends = RULE.replace("\n", "  \r\n")
    report = run_import(db_session, same_but_for_line_ends, now=NOW + timedelta(hours=1))
    assert [rule.outcome for rule in report.rules] == [ImportOutcome.UNCHANGED]
    assert len(rule_versions(db_session, RULE_ID)) == 1
    assert get_rule(db_session, RULE_ID).updated_at == NOW
    assert len(audit_actions(db_session)) == 1


def test_an_edited_rule_becomes_version_two_and_version_one_stays(db_session):
    run_import(db_session, RULE)
    edited = RULE.replace("level: medium", "level: high")
    report = run_import(db_session, edited, now=NOW + timedelta(days=1))
    ((imported),) = report.rules
    assert (imported.outcome, imported.version) == (ImportOutcome.NEW_VERSION, 2)
    first, second = rule_versions(db_session, RULE_ID)
    assert (first.version, first.text) == (1, RULE)
    assert (second.version, second.text) == (2, edited)
    rule = get_rule(db_session, RULE_ID)
    assert (rule.current_version, rule.level, rule.updated_at) == (
        2,
        "high",
        NOW + timedelta(days=1),
    )
    assert get_rule_version(db_session, RULE_ID, 1).text == RULE
    assert [action for _, action, _ in audit_actions(db_session)] == [
        "detection_rule.created",
        "detection_rule.versioned",
    ]


def test_a_detection_points_at_the_version_that_fired(db_session):
    run_import(db_session, RULE)
    db_session.add(
        Detection(
            rule_key=RULE_ID,
            rule_version=1,
            detected_at=NOW,
            event_ids="[1]",
            explanation="[]",
            title="Whoami run",
        )
    )
    run_import(db_session, RULE.replace("level: medium", "level: low"))
    db_session.flush()
    (detection,) = db_session.scalars(select(Detection))
    fired = get_rule_version(db_session, detection.rule_key, detection.rule_version)
    assert "level: medium" in fired.text


def test_bad_rules_are_rejected_with_their_lines_and_good_ones_still_go_in(db_session):
    bad = RULE.replace(RULE_ID, "6f0b8b7e-3a59-4c53-9d0b-0b8f8f0f0a03").replace(
        "level: medium", "level: loud"
    )
    report = run_import(db_session, bad, RULE)
    assert [rule.key for rule in report.rules] == [RULE_ID]
    assert report.has_errors
    ((path, line, message),) = [
        (problem.path, problem.line, problem.message) for problem in report.problems
    ]
    assert (path, line) == ("rules/rule0.yml", 5)
    assert "'loud' is not a valid Sigma rule level" in message
    assert (report.counts.accepted, report.counts.rejected) == (1, 1)
    assert db_session.scalar(select(func.count()).select_from(DetectionRuleVersion)) == 1


def test_rules_imported_disabled_stay_off_and_a_new_version_keeps_the_switch(db_session):
    run_import(db_session, RULE, enabled=False)
    assert get_rule(db_session, RULE_ID).enabled is False
    enable_rule(db_session, RULE_ID, actor=ANALYST, now=NOW)
    run_import(db_session, RULE.replace("medium", "high"), enabled=False)
    assert get_rule(db_session, RULE_ID).enabled is True


def test_enabling_and_disabling_are_audited_once_and_idempotent(db_session):
    run_import(db_session, RULE)
    later = NOW + timedelta(minutes=5)
    disable_rule(db_session, RULE_ID, actor=ANALYST, now=later)
    disable_rule(db_session, RULE_ID, actor=ANALYST, now=later)
    assert get_rule(db_session, RULE_ID).enabled is False
    enable_rule(db_session, "whoami_run", actor=Actor(name="bob"), now=later)
    assert get_rule(db_session, RULE_ID).enabled is True
    assert audit_actions(db_session)[1:] == [
        ("alice", "detection_rule.disabled", f"detection_rule:{RULE_ID}"),
        ("bob", "detection_rule.enabled", f"detection_rule:{RULE_ID}"),
    ]


def test_an_unknown_rule_is_not_found(db_session):
    with pytest.raises(NotFound, match="There is no detection rule nope"):
        get_rule(db_session, "nope")
    with pytest.raises(NotFound):
        enable_rule(db_session, "nope", actor=ANALYST, now=NOW)


def test_a_correlation_may_refer_to_a_rule_imported_earlier(db_session):
    run_import(db_session, RULE)
    report = run_import(db_session, CORRELATION)
    assert [(rule.title, rule.outcome) for rule in report.rules] == [
        ("Whoami burst", ImportOutcome.CREATED)
    ]
    assert [problem for problem in report.problems if problem.is_error] == []
    correlation = get_rule(db_session, "5f0b8b7e-3a59-4c53-9d0b-0b8f8f0f0a02")
    assert correlation.kind == RuleKind.CORRELATION


def test_a_correlation_whose_rule_is_nowhere_is_rejected(db_session):
    report = run_import(db_session, CORRELATION)
    assert report.rules == ()
    (problem,) = report.problems
    assert (problem.line, problem.code) == (6, "reference")


def test_listing_filters_by_switch_kind_and_text(db_session):
    run_import(db_session, RULE, CORRELATION)
    disable_rule(db_session, RULE_ID, actor=ANALYST, now=NOW)
    assert [rule.title for rule in list_rules(db_session)] == ["Whoami burst", "Whoami run"]
    assert [rule.title for rule in list_rules(db_session, enabled=False)] == ["Whoami run"]
    assert [rule.title for rule in list_rules(db_session, kind=RuleKind.CORRELATION)] == [
        "Whoami burst"
    ]
    assert [rule.title for rule in list_rules(db_session, search="BURST")] == ["Whoami burst"]
    assert list_rules(db_session, search="100%") == []


def test_the_engine_loads_enabled_rules_and_the_disabled_rules_their_correlations_need(db_session):
    other = RULE.replace(RULE_ID, "7f0b8b7e-3a59-4c53-9d0b-0b8f8f0f0a04").replace(
        "name: whoami_run", "name: other"
    )
    run_import(db_session, RULE, CORRELATION, other)
    disable_rule(db_session, RULE_ID, actor=ANALYST, now=NOW)
    disable_rule(db_session, "other", actor=ANALYST, now=NOW)
    texts = enabled_rule_texts(db_session)
    assert [(text.key, text.version, text.kind, text.enabled) for text in texts] == [
        ("5f0b8b7e-3a59-4c53-9d0b-0b8f8f0f0a02", 1, RuleKind.CORRELATION, True),
        (RULE_ID, 1, RuleKind.RULE, False),
    ]
    assert texts[1].text == RULE


def test_a_rule_using_an_undefined_list_is_imported_with_a_warning(db_session):
    rule = RULE.replace("Image|endswith: '\\whoami.exe'", "User|expand: '%admin_accounts%'")
    report = run_import(db_session, rule)
    assert [imported.outcome for imported in report.rules] == [ImportOutcome.CREATED]
    (warning,) = report.problems
    assert not warning.is_error
    assert warning.code == "undefined_list"
    set_list(
        db_session, name="admin_accounts", kind="strings", values=["root"], actor=ANALYST, now=NOW
    )
    assert run_import(db_session, rule).problems == ()


def test_the_rules_using_a_list_are_those_whose_current_version_names_it(db_session):
    uses = RULE.replace("Image|endswith: '\\whoami.exe'", "User|expand: '%admin_accounts%'")
    run_import(db_session, uses)
    # A list name with LIKE's own wildcards in it matches only itself.
    assert [rule.title for rule in rules_using_list(db_session, "admin_accounts")] == ["Whoami run"]
    assert rules_using_list(db_session, "admin") == []
    assert rules_using_list(db_session, "admin_account_") == []
    assert rules_using_list(db_session, "admin%") == []
    disable_rule(db_session, RULE_ID, actor=ANALYST, now=NOW)  # off still uses it
    assert len(rules_using_list(db_session, "admin_accounts")) == 1
    run_import(db_session, RULE, now=NOW + timedelta(hours=1))  # a version without the list
    assert rules_using_list(db_session, "admin_accounts") == []


def test_a_list_with_a_bad_network_is_refused_and_nothing_is_stored(db_session):
    with pytest.raises(InvalidList, match=r"10\.0\.0\.300/8 is not an IP address or network"):
        set_list(
            db_session,
            name="office_networks",
            kind="networks",
            values=["192.168.0.0/16", "10.0.0.300/8"],
            actor=ANALYST,
            now=NOW,
        )
    assert get_lists(db_session) == {}
    assert db_session.scalar(select(func.count()).select_from(DetectionList)) == 0
    assert audit_actions(db_session) == []


def test_networks_are_stored_normalised_without_duplicates(db_session):
    set_list(
        db_session,
        name="office_networks",
        kind="networks",
        values=[" 192.168.0.0/16", "10.1.2.3", "10.1.2.3/32", "2001:db8::/32"],
        actor=ANALYST,
        now=NOW,
    )
    assert get_lists(db_session) == {
        "office_networks": ("192.168.0.0/16", "10.1.2.3", "2001:db8::/32")
    }


@pytest.mark.parametrize(
    ("name", "kind", "values", "message"),
    [
        ("office networks", "networks", ["10.0.0.0/8"], "is not a list name"),
        ("office", "ranges", ["10.0.0.0/8"], "ranges is not a list kind"),
        ("office", "networks", ["10.0.0.1/8"], "has host bits set"),
        ("admins", "strings", ["  "], "values must be 1 to 500 characters"),
    ],
)
def test_bad_lists_are_refused_with_the_reason(db_session, name, kind, values, message):
    with pytest.raises(InvalidList, match=message):
        set_list(db_session, name=name, kind=kind, values=values, actor=ANALYST, now=NOW)


def test_list_changes_are_audited_without_their_values(db_session):
    set_list(
        db_session, name="banned_persons", kind="strings", values=["J. Doe"], actor=ANALYST, now=NOW
    )
    set_list(
        db_session, name="banned_persons", kind="strings", values=["J. Doe"], actor=ANALYST, now=NOW
    )
    add_to_list(db_session, name="banned_persons", values=["A. N. Other"], actor=ANALYST, now=NOW)
    entries = list(
        db_session.scalars(select(AuditEntry).where(AuditEntry.action == "detection_list.set"))
    )
    assert [json.loads(entry.details) for entry in entries] == [
        {"kind": "strings", "previous_values": None, "values": 1},
        {"kind": "strings", "previous_values": 1, "values": 2},
    ]
    assert all("Doe" not in entry.details + entry.target for entry in entries)


def test_values_are_added_and_removed_and_the_version_changes_each_time(db_session):
    versions = [lists_version(db_session)]
    set_list(db_session, name="admins", kind="strings", values=["root"], actor=ANALYST, now=NOW)
    versions.append(lists_version(db_session))
    add_to_list(db_session, name="admins", values=["admin", "root"], actor=ANALYST, now=NOW)
    versions.append(lists_version(db_session))
    assert get_lists(db_session) == {"admins": ("root", "admin")}
    remove_from_list(db_session, name="admins", values=["root"], actor=ANALYST, now=NOW)
    versions.append(lists_version(db_session))
    assert get_lists(db_session) == {"admins": ("admin",)}
    assert len(set(versions)) == 4


def test_adding_to_a_missing_list_says_how_to_create_it(db_session):
    with pytest.raises(NotFound, match="wachter lists set"):
        add_to_list(db_session, name="nope", values=["x"], actor=ANALYST, now=NOW)
