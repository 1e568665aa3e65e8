"""``compile_rule_set`` and ``DetectionEngine``: rules and correlations as one set.

What cannot be compiled comes back with its reason (and a correlation over it is refused
too); the engine turns one event into detections of the rules it matches, with their
explanations, and of the correlations those matches complete; ``generate: false`` withholds
a base rule's own detections; ``explanation_json`` is plain data.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sigma.collection import SigmaCollection
from sigma.processing.pipeline import ProcessingPipeline

from detection_rules.engine import (
    Detection,
    DetectionEngine,
    Rejected,
    RuleSet,
    compile_rule_set,
)
from detection_rules.errors import DetectionRuleError, UnsupportedRule
from detection_rules.matcher import FieldMatch, SelectionMatch
from detection_rules.matcher.derived import derived_fields
from detection_rules.pipelines import default_pipeline

FAILED_LOGIN = """
title: Failed login
id: 5f0e4b8e-8d2c-4a4b-9c55-2a6f0c1d0001
name: failed_login
level: medium
tags: [attack.credential-access, attack.t1110]
logsource: {product: wachter, service: auth}
detection:
    selection: {event.outcome: failure}
    filter: {user.name|endswith: '$'}
    condition: selection and not filter
"""
BROKEN = """
title: Broken
name: broken
logsource: {product: test}
detection:
    selection: {a: 1}
    condition: 1 of nothing*
"""
BRUTE_FORCE = """
title: Brute force
name: brute_force
level: high
correlation:
    type: event_count
    rules: [failed_login]
    group-by: [user.name]
    timespan: 5m
    condition: {gte: 3}
"""
# The same correlation asking for the base rule's own detections too.
BRUTE_FORCE_GENERATING = BRUTE_FORCE.replace("    timespan:", "    generate: true\n    timespan:")
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def load(*documents: str) -> list[Any]:
    return list(SigmaCollection.from_yaml("\n---\n".join(documents)).rules)


def failed(user: str, seconds: float) -> dict[str, Any]:
    return {
        "@timestamp": (T0 + timedelta(seconds=seconds)).isoformat(),
        "event": {"outcome": "failure"},
        "user": {"name": user},
    }


def engine_for(*documents: str, **options: Any) -> DetectionEngine:
    rule_set, rejected = compile_rule_set(load(*documents), **options)
    assert rejected == []
    return DetectionEngine(rule_set)


def reasons(rejected: list[Rejected]) -> dict[str, str]:
    return {item.key: item.error.message for item in rejected}


def test_a_rule_set_compiles_every_rule_and_correlation() -> None:
    rule_set, rejected = compile_rule_set(load(FAILED_LOGIN, BRUTE_FORCE))
    assert rejected == []
    assert [rule.key for rule in rule_set.rules] == ["5f0e4b8e-8d2c-4a4b-9c55-2a6f0c1d0001"]
    assert [correlation.key for correlation in rule_set.correlations] == ["brute_force"]
    assert len(rule_set) == 2


def test_a_rule_that_cannot_be_compiled_is_returned_with_its_reason() -> None:
    rule_set, rejected = compile_rule_set(load(FAILED_LOGIN, BROKEN))
    assert [rule.name for rule in rule_set.rules] == ["failed_login"]
    (refused,) = rejected
    assert (refused.key, refused.title) == ("broken", "Broken")
    assert isinstance(refused.error, UnsupportedRule)
    assert refused.error.message == "The condition pattern 'nothing*' matches no selection."


def test_a_rule_its_pipeline_fails_on_is_refused_with_the_pipelines_message() -> None:
    pipeline = ProcessingPipeline.from_yaml(
        """
name: refuses tests
priority: 10
transformations:
  - type: rule_failure
    message: no events of this logsource are collected
    rule_conditions: [{type: logsource, product: test}]
"""
    )
    rule_set, rejected = compile_rule_set(load(FAILED_LOGIN, BROKEN), pipeline=pipeline)
    assert len(rule_set.rules) == 1
    assert reasons(rejected) == {
        "broken": "The rule cannot be prepared for matching: "
        "no events of this logsource are collected"
    }


def test_a_correlation_over_a_refused_rule_is_refused_and_so_is_one_over_that() -> None:
    over_broken = BRUTE_FORCE.replace("brute_force", "over_broken").replace(
        "[failed_login]", "[broken]"
    )
    chained = BRUTE_FORCE.replace("brute_force", "chained").replace(
        "[failed_login]", "[over_broken]"
    )
    rule_set, rejected = compile_rule_set(load(BROKEN, FAILED_LOGIN, over_broken, chained))
    assert rule_set.correlations == ()
    assert reasons(rejected) == {
        "broken": "The condition pattern 'nothing*' matches no selection.",
        "over_broken": "The correlation refers to a rule that is not available: broken",
        "chained": "The correlation refers to a rule that is not available: over_broken",
    }
    assert all(isinstance(item.error, DetectionRuleError) for item in rejected)


def test_a_correlation_that_cannot_match_is_refused_and_its_rule_kept() -> None:
    never = BRUTE_FORCE.replace("{gte: 3}", "{lt: 1}")
    rule_set, rejected = compile_rule_set(load(FAILED_LOGIN, never))
    assert len(rule_set.rules) == 1
    assert list(reasons(rejected)) == ["brute_force"]
    assert "can never match" in rejected[0].error.message


def test_a_keyword_rule_the_matcher_cannot_evaluate_is_refused_not_run() -> None:
    keyword_null = BROKEN.replace("selection: {a: 1}", "keywords: [null]").replace(
        "1 of nothing*", "keywords"
    )
    rule_set, rejected = compile_rule_set(load(FAILED_LOGIN, keyword_null))
    engine = DetectionEngine(rule_set)
    assert [detection.rule_name for detection in engine.process(failed("alice", 0), ref=1)] == [
        "failed_login"
    ]
    assert list(reasons(rejected)) == ["broken"]


def test_versions_are_attached_to_the_compiled_rules() -> None:
    rule_set, _ = compile_rule_set(
        load(FAILED_LOGIN), versions={"5f0e4b8e-8d2c-4a4b-9c55-2a6f0c1d0001": 7}
    )
    assert rule_set.rules[0].version == 7


def test_a_matching_event_gives_a_rule_detection_with_its_explanation() -> None:
    engine = engine_for(FAILED_LOGIN)
    (detection,) = engine.process(failed("alice", 0), ref="event-1")
    assert detection == Detection(
        rule_key="5f0e4b8e-8d2c-4a4b-9c55-2a6f0c1d0001",
        rule_id="5f0e4b8e-8d2c-4a4b-9c55-2a6f0c1d0001",
        rule_name="failed_login",
        title="Failed login",
        level="medium",
        tags=("attack.credential-access", "attack.t1110"),
        version=None,
        kind="rule",
        event_refs=("event-1",),
        time=T0,
        explanation=(
            SelectionMatch("selection", (FieldMatch("event.outcome", "failure", "failure"),)),
        ),
    )


def test_an_event_no_rule_matches_gives_nothing() -> None:
    engine = engine_for(FAILED_LOGIN)
    assert engine.process({**failed("alice", 0), "event": {"outcome": "success"}}, ref=1) == []
    assert engine.process(failed("host$", 0), ref=2) == []  # the filter excludes it


def test_the_fallback_time_serves_an_event_without_one() -> None:
    engine = engine_for(FAILED_LOGIN)
    event = {"event": {"outcome": "failure"}, "user": {"name": "alice"}}
    assert engine.process(event, ref=1)[0].time is None
    assert engine.process(event, ref=2, fallback_time=T0)[0].time == T0


def test_a_correlation_fires_and_generate_false_withholds_the_base_rules_detections() -> None:
    engine = engine_for(FAILED_LOGIN, BRUTE_FORCE)
    assert engine.process(failed("alice", 0), ref=1) == []
    assert engine.process(failed("alice", 60), ref=2) == []
    assert engine.process(failed("bob", 90), ref=3) == []  # another group
    (hit,) = engine.process(failed("alice", 120), ref=4)
    assert (hit.kind, hit.rule_key, hit.title, hit.level) == (
        "correlation",
        "brute_force",
        "Brute force",
        "high",
    )
    assert hit.group == {"user.name": "alice"}
    assert hit.event_refs == (1, 2, 4)
    assert hit.time == T0 + timedelta(seconds=120)
    assert hit.correlation == {
        "type": "event_count",
        "value": 3,
        "first_time": T0.isoformat(),
        "last_time": (T0 + timedelta(seconds=120)).isoformat(),
        "truncated": False,
    }
    assert hit.explanation == ()


def test_generate_true_keeps_the_base_rules_own_detections() -> None:
    engine = engine_for(FAILED_LOGIN, BRUTE_FORCE_GENERATING)
    kinds = [
        [detection.kind for detection in engine.process(failed("alice", second), ref=second)]
        for second in (0, 1, 2)
    ]
    assert kinds == [["rule"], ["rule"], ["rule", "correlation"]]


def test_an_event_without_a_time_is_not_counted_by_correlations() -> None:
    engine = engine_for(FAILED_LOGIN, BRUTE_FORCE_GENERATING)
    untimed = {"event": {"outcome": "failure"}, "user": {"name": "alice"}}
    for ref in range(5):
        assert [detection.kind for detection in engine.process(untimed, ref=ref)] == ["rule"]


def test_advance_closes_windows_for_too_few_conditions() -> None:
    too_few = BRUTE_FORCE.replace("{gte: 3}", "{lt: 2}").replace("brute_force", "quiet")
    engine = engine_for(FAILED_LOGIN, too_few)
    assert engine.process(failed("alice", 0), ref=1) == []
    assert engine.advance(T0 + timedelta(minutes=1)) == []
    (hit,) = engine.advance(T0 + timedelta(minutes=6))
    assert (hit.rule_key, hit.event_refs, hit.group) == ("quiet", (1,), {"user.name": "alice"})


def test_engine_versions_apply_to_rules_compiled_without_one() -> None:
    rule_set, _ = compile_rule_set(load(FAILED_LOGIN))
    engine = DetectionEngine(rule_set, versions={"5f0e4b8e-8d2c-4a4b-9c55-2a6f0c1d0001": 3})
    assert engine.process(failed("alice", 0), ref=1)[0].version == 3


def test_pipeline_and_derived_fields_reach_the_engine() -> None:
    after_hours = """
title: Login outside office hours
name: after_hours
logsource: {product: wachter, service: auth}
detection:
    selection: {event.outcome: success, wachter.time.office_hours: false}
    condition: selection
"""
    rule_set, rejected = compile_rule_set(load(after_hours), pipeline=default_pipeline())
    assert rejected == []
    engine = DetectionEngine(rule_set, derived=derived_fields())
    event = {
        "@timestamp": "2026-03-01T22:00:00Z",  # a Sunday night in Amsterdam
        "event": {"outcome": "success"},
        "wachter": {"logsource": {"product": "wachter", "service": "auth"}},
    }
    (detection,) = engine.process(event, ref=1)
    explained = {match.selection: match.fields for match in detection.explanation}
    assert FieldMatch("wachter.time.office_hours", "false", False) in explained["selection"]
    assert engine.process({**event, "@timestamp": "2026-03-02T10:00:00Z"}, ref=2) == []
    assert engine.process({**event, "wachter": {}}, ref=3) == []  # not of the logsource


def test_the_explanation_as_json_lists_selections_with_field_pattern_and_value() -> None:
    engine = engine_for(FAILED_LOGIN)
    (detection,) = engine.process({**failed("alice", 0), "event": {"outcome": "FAILURE"}}, ref=1)
    data = detection.explanation_json()
    assert data == [
        {
            "selection": "selection",
            "fields": [{"field": "event.outcome", "pattern": "failure", "value": "FAILURE"}],
        }
    ]
    assert json.loads(json.dumps(data)) == data


def test_keyword_matches_are_explained_without_a_field() -> None:
    keyword_rule = """
title: Failed password
name: failed_password
logsource: {product: linux, service: sshd}
detection:
    keywords: ['Failed password']
    condition: keywords
"""
    engine = DetectionEngine(RuleSet(compile_rule_set(load(keyword_rule))[0].rules))
    (detection,) = engine.process({"message": "Failed password for root"}, ref=1)
    assert detection.explanation_json() == [
        {
            "selection": "keywords",
            "fields": [
                {"field": None, "pattern": "*Failed password*", "value": "Failed password for root"}
            ],
        }
    ]
