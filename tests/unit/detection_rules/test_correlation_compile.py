"""Compiling correlation rules: keys, aliases, pipelines, generate, and what is refused."""

from __future__ import annotations

import pytest
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule, SigmaRuleReference
from sigma.processing.pipeline import ProcessingPipeline

from detection_rules.correlation import (
    CorrelationEngine,
    CorrelationType,
    Operator,
    compile_correlation,
    suppressed_rules,
)
from detection_rules.errors import UnsupportedRule
from tests.unit.detection_rules.test_correlation_support import BASE_RULES, compiled


def test_a_compiled_correlation_knows_its_rules_window_groups_and_condition() -> None:
    (correlation,) = compiled(
        """
title: Password spraying
id: 2a0b3c47-9d0e-4a43-9b55-1f0d1d6c9a11
name: password_spraying
level: high
tags: [attack.credential-access]
correlation:
    type: value_count
    rules: [failed_login]
    group-by: [source.ip]
    timespan: 10m
    condition: {gte: 5, field: user.name}
"""
    )
    assert correlation.key == "2a0b3c47-9d0e-4a43-9b55-1f0d1d6c9a11"
    assert correlation.name == "password_spraying"
    assert correlation.level == "high"
    assert correlation.tags == ("attack.credential-access",)
    assert correlation.type is CorrelationType.VALUE_COUNT
    assert correlation.rule_keys == ("failed_login",)
    assert correlation.timespan.total_seconds() == 600
    assert correlation.group_by == ("source.ip",)
    assert correlation.group_fields == {"failed_login": ("source.ip",)}
    assert correlation.value_fields == {"failed_login": "user.name"}
    assert (correlation.condition.operator, correlation.condition.count) == (Operator.GTE, 5)
    assert not correlation.condition.closes


def test_a_rule_without_id_is_keyed_by_name_and_referenced_rules_by_their_keys() -> None:
    yaml = """
title: Failed login with id
id: 53ba33fd-3a50-4468-a5ef-c583635cfa92
name: failed_with_id
logsource: {product: wachter, service: auth}
detection:
    selection: {event.outcome: failure}
    condition: selection
---
title: Many failures
name: many_failures
correlation:
    type: event_count
    rules: [failed_with_id, successful_login]
    timespan: 1h
    condition: {gt: 3}
"""
    correlation = compiled(yaml)[0]
    assert correlation.key == "many_failures"
    # Referenced by name, keyed as the matcher keys a rule: its id when it has one.
    assert correlation.rule_keys == ("53ba33fd-3a50-4468-a5ef-c583635cfa92", "successful_login")
    assert correlation.group_by == ()


def test_aliases_give_each_referenced_rule_its_own_field_for_a_group_by_name() -> None:
    (correlation,) = compiled(
        """
title: Badge and VPN for the same person
name: badge_and_vpn
correlation:
    type: temporal
    rules: [badge_access, vpn_login]
    group-by: [person, host.name]
    timespan: 15m
    aliases:
        person:
            badge_access: badge.holder
            vpn_login: user.name
"""
    )
    assert correlation.group_fields == {
        "badge_access": ("badge.holder", "host.name"),
        "vpn_login": ("user.name", "host.name"),
    }
    # Temporal without a condition: every referenced rule must have matched.
    assert (correlation.condition.operator, correlation.condition.count) == (Operator.GTE, 2)


def test_a_pipeline_maps_group_by_alias_and_value_fields_without_touching_the_rule() -> None:
    collection = SigmaCollection.from_yaml(
        BASE_RULES
        + """---
title: Spraying
name: spraying
correlation:
    type: value_count
    rules: [failed_login, vpn_login]
    group-by: [IpAddress, account]
    timespan: 5m
    aliases:
        account:
            failed_login: TargetUserName
            vpn_login: UserName
    condition: {gte: 3, field: TargetUserName}
"""
    )
    rule = collection["spraying"]
    assert isinstance(rule, SigmaCorrelationRule)
    pipeline = ProcessingPipeline.from_yaml(
        """
name: test mapping
priority: 10
transformations:
  - type: field_name_mapping
    mapping:
      IpAddress: source.ip
      TargetUserName: user.name
      UserName: user.name
"""
    )
    correlation = compile_correlation(rule, pipeline=pipeline)
    assert correlation.group_fields == {
        "failed_login": ("source.ip", "user.name"),
        "vpn_login": ("source.ip", "user.name"),
    }
    assert correlation.value_fields["failed_login"] == "user.name"
    # The pySigma rule itself is left as written.
    assert rule.group_by == ["IpAddress", "account"]
    assert rule.condition.fieldref == "TargetUserName"  # type: ignore[union-attr]
    assert next(iter(rule.aliases)).mapping[SigmaRuleReference("failed_login")] == "TargetUserName"


def test_the_fingerprint_changes_with_what_the_evaluation_depends_on() -> None:
    template = """
title: Brute force
name: brute_force
correlation:
    type: event_count
    rules: [failed_login]
    group-by: [user.name]
    timespan: %s
    condition: {gte: %s}
"""
    first = compiled(template % ("5m", 10))[0].fingerprint
    assert compiled(template % ("5m", 10))[0].fingerprint == first
    assert compiled(template % ("10m", 10))[0].fingerprint != first
    assert compiled(template % ("5m", 11))[0].fingerprint != first


def test_generate_false_suppresses_base_rules_and_inner_correlations() -> None:
    correlations = compiled(
        """
title: Many failures
name: many_failures
correlation:
    type: event_count
    rules: [failed_login]
    group-by: [user.name]
    timespan: 5m
    condition: {gte: 10}
---
title: Brute force then success
name: brute_force_success
correlation:
    type: temporal_ordered
    rules: [many_failures, successful_login]
    group-by: [user.name]
    timespan: 10m
"""
    )
    assert suppressed_rules(correlations) == {"failed_login", "many_failures", "successful_login"}


def test_one_correlation_with_generate_true_keeps_a_shared_rules_own_alerts() -> None:
    correlations = compiled(
        """
title: Many failures
name: many_failures
correlation:
    type: event_count
    rules: [failed_login]
    timespan: 5m
    condition: {gte: 10}
---
title: Failures and a VPN login
name: failures_and_vpn
correlation:
    type: temporal
    generate: true
    rules: [failed_login, vpn_login]
    timespan: 5m
"""
    )
    # failed_login is wanted by the second rule; vpn_login too; badge_access is not referenced.
    assert suppressed_rules(correlations) == frozenset()
    assert suppressed_rules(correlations[:1]) == {"failed_login"}


UNSUPPORTED = {
    "value_sum": (
        """
title: Bytes out
name: bytes_out
correlation:
    type: value_sum
    rules: [vpn_login]
    group-by: [user.name]
    timespan: 1h
    condition: {gte: 1000000, field: network.bytes}
""",
        "has type value_sum; supported are event_count, value_count, temporal and temporal_ordered",
    ),
    "extended condition": (
        """
title: Badge or VPN
name: badge_or_vpn
correlation:
    type: temporal
    rules: [badge_access, vpn_login]
    group-by: [user.name]
    timespan: 1h
    condition: badge_access or vpn_login
""",
        "uses an extended condition (badge_access or vpn_login); only a count condition",
    ),
    "two counted fields": (
        """
title: Spraying
name: spraying
correlation:
    type: value_count
    rules: [failed_login]
    timespan: 1h
    condition: {gte: 3, field: [user.name, source.ip]}
""",
        "counts several fields (user.name, source.ip); only one is supported",
    ),
    "more rules than referenced": (
        """
title: Impossible
name: impossible
correlation:
    type: temporal
    rules: [badge_access, vpn_login]
    timespan: 1h
    condition: {gte: 3}
""",
        "can never match: no window of it can satisfy its condition (gte 3)",
    ),
    "fewer than one event": (
        """
title: Impossible
name: impossible
correlation:
    type: event_count
    rules: [failed_login]
    timespan: 1h
    condition: {lt: 1}
""",
        "can never match: no window of it can satisfy its condition (lt 1)",
    ),
    "a rule twice in a temporal rule": (
        """
title: Twice
name: twice
correlation:
    type: temporal
    rules: [vpn_login, vpn_login]
    timespan: 1h
""",
        "The temporal correlation rule twice lists a rule twice",
    ),
    "an alias for a rule not referred to": (
        """
title: Alias elsewhere
name: alias_elsewhere
correlation:
    type: temporal
    rules: [badge_access, vpn_login]
    group-by: [person]
    timespan: 1h
    aliases:
        person:
            badge_access: badge.holder
            failed_login: user.name
""",
        "The alias person of correlation rule alias_elsewhere names failed_login, which the "
        "correlation does not refer to",
    ),
}


@pytest.mark.parametrize("construct", sorted(UNSUPPORTED))
def test_unsupported_constructs_are_refused_with_a_clear_message(construct: str) -> None:
    yaml, message = UNSUPPORTED[construct]
    with pytest.raises(UnsupportedRule) as raised:
        compiled(yaml)
    assert message in raised.value.message
    assert raised.value.field is not None


def test_a_correlation_whose_references_were_never_resolved_is_refused() -> None:
    rule = SigmaCorrelationRule.from_yaml(
        """
title: Alone
name: alone
correlation:
    type: event_count
    rules: [failed_login]
    timespan: 5m
    condition: {gte: 2}
"""
    )
    with pytest.raises(UnsupportedRule, match="refers to failed_login, which is not among"):
        compile_correlation(rule)


def test_the_engine_refuses_a_chain_whose_inner_correlation_is_not_loaded() -> None:
    correlations = compiled(
        """
title: Many failures
name: many_failures
correlation:
    type: event_count
    rules: [failed_login]
    timespan: 5m
    condition: {gte: 10}
---
title: Then success
name: then_success
correlation:
    type: temporal_ordered
    rules: [many_failures, successful_login]
    timespan: 10m
"""
    )
    with pytest.raises(UnsupportedRule, match="refers to the correlation rule many_failures"):
        CorrelationEngine(correlations[1:])


def test_the_engine_refuses_correlations_that_refer_to_each_other_in_a_circle() -> None:
    correlations = compiled(
        """
title: First
name: first
correlation:
    type: temporal
    rules: [second, vpn_login]
    timespan: 5m
---
title: Second
name: second
correlation:
    type: temporal
    rules: [first, badge_access]
    timespan: 5m
"""
    )
    with pytest.raises(UnsupportedRule) as raised:
        CorrelationEngine(correlations)
    assert raised.value.message.endswith(
        ("in a circle: first -> second -> first", "in a circle: second -> first -> second")
    )


def test_the_engine_refuses_two_correlations_with_one_key() -> None:
    yaml = """
title: Many failures
name: many_failures
correlation:
    type: event_count
    rules: [failed_login]
    timespan: 5m
    condition: {gte: 10}
"""
    with pytest.raises(UnsupportedRule, match="same key many_failures"):
        CorrelationEngine(compiled(yaml) + compiled(yaml))


def test_the_engine_refuses_limits_below_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        CorrelationEngine([], max_groups=0)
