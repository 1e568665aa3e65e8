"""Offline validation: pySigma's validators without network, and the matcher's compile check."""

from __future__ import annotations

import socket
import textwrap

import pytest
from sigma.collection import SigmaCollection
from sigma.data import mitre_attack, mitre_d3fend
from sigma.plugins import InstalledSigmaPlugins
from sigma.validation import SigmaValidator

from detection_rules.loading import RuleSource, parse_rule_source, resolve_references
from detection_rules.validation import (
    NETWORK_VALIDATORS,
    REPOSITORY_CONVENTION_VALIDATORS,
    count,
    offline_validators,
    validate_sources,
)

TAGGED = """\
title: Whoami run
id: 4f0b8b7e-3a59-4c53-9d0b-0b8f8f0f0a01
status: test
level: medium
tags:
    - attack.discovery
    - attack.t1033
    - attack.g0001
    - d3fend.d3-dam
    - car.2016-03-001
    - cve.2021-44228
    - tlp.amber
    - detection.threat-hunting
logsource:
    category: process_creation
    product: windows
detection:
    selection:
        Image|endswith: '\\whoami.exe'
    condition: selection
"""


def validated(*texts: str, **options):
    sources = [
        parse_rule_source(RuleSource(f"rule{number}.yml", textwrap.dedent(text).encode()))
        for number, text in enumerate(texts, start=1)
    ]
    return validate_sources(resolve_references(sources), **options)


def problems_of(sources, *, code=None):
    return [
        (problem.path, problem.line, problem.severity.value, problem.message)
        for source in sources
        for problem in source.problems
        if code is None or problem.code == code
    ]


@pytest.fixture
def no_network(monkeypatch, tmp_path):
    """Every connection attempt fails (and is recorded); MITRE caches start empty."""
    attempts: list[object] = []

    def refuse(*args, **kwargs):
        attempts.append(args[1:] or kwargs)
        raise OSError("network blocked by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    for module in (mitre_attack, mitre_d3fend):
        monkeypatch.setattr(module, "_custom_cache_dir", tmp_path / module.__name__)
        monkeypatch.setattr(module, "_cache", None)
    return attempts


def test_rules_with_attack_tags_validate_with_the_network_blocked(no_network):
    (source,) = validated(TAGGED)
    assert [entry.key for entry in source.loaded] == ["4f0b8b7e-3a59-4c53-9d0b-0b8f8f0f0a01"]
    assert problems_of([source]) == []
    assert no_network == [], "validation tried to connect"


def test_the_left_out_validators_are_exactly_those_that_download(no_network):
    all_validators = InstalledSigmaPlugins.autodiscover().validators
    rule = SigmaCollection.from_yaml(TAGGED).rules[0]
    needs_network = set()
    for name, validator in all_validators.items():
        try:
            SigmaValidator([validator]).validate_rules(iter([rule]))
        except RuntimeError as error:
            needs_network.add((name, str(error).split(":")[0]))
    assert needs_network == {
        ("attacktag", "Failed to load MITRE ATT&CK data"),
        ("d3_fendtag", "Failed to load MITRE D3FEND data"),
    }
    assert {name for name, _reason in needs_network} == NETWORK_VALIDATORS
    assert no_network, "the network validators did try to connect"
    assert set(offline_validators()) == (
        set(all_validators) - NETWORK_VALIDATORS - REPOSITORY_CONVENTION_VALIDATORS
    )


def test_a_style_finding_is_a_warning_at_its_line_and_the_rule_is_kept():
    text = TAGGED.replace("Image|endswith: '\\whoami.exe'", "CommandLine: '*whoami*'")
    (source,) = validated(text)
    assert len(source.loaded) == 1
    ((path, line, severity, message),) = problems_of([source])
    assert (path, line, severity) == ("rule1.yml", 19, "warning")
    assert message.endswith("[wildcards_instead_of_modifiers]")


def test_strict_makes_a_warning_an_error_and_rejects_the_rule():
    text = TAGGED.replace("Image|endswith: '\\whoami.exe'", "CommandLine: '*whoami*'")
    (source,) = validated(text, strict=True)
    assert source.loaded == []
    assert [severity for _, _, severity, _ in problems_of([source])] == ["error"]


def test_a_selection_the_condition_does_not_use_is_a_warning_at_its_name():
    text = TAGGED.replace(
        "    condition: selection", "    unused: {User: x}\n    condition: selection"
    )
    (source,) = validated(text)
    assert problems_of([source]) == [
        (
            "rule1.yml",
            20,
            "warning",
            "Rule defines detection that is not referenced from condition "
            "(detection_name: unused) [dangling_detection]",
        )
    ]


def test_an_id_used_twice_rejects_both_rules_at_their_ids():
    first, second = validated(TAGGED, TAGGED.replace("Whoami run", "Whoami again"))
    assert first.loaded == []
    assert second.loaded == []
    reported = problems_of([first, second], code="identifier_uniqueness")
    assert [(path, line, severity) for path, line, severity, _ in reported] == [
        ("rule1.yml", 2, "error"),
        ("rule2.yml", 2, "error"),
    ]


def test_what_the_matcher_cannot_compile_is_an_error_at_the_condition():
    text = """\
        title: Pattern without selection
        id: 6a0b8b7e-3a59-4c53-9d0b-0b8f8f0f0a02
        logsource: {product: linux}
        detection:
            selection: {a: 1}
            condition: 1 of nothing*
        """
    (source,) = validated(text)
    assert source.loaded == []
    errors = [item for item in problems_of([source]) if item[2] == "error"]
    assert errors == [
        ("rule1.yml", 6, "error", "The condition pattern 'nothing*' matches no selection.")
    ]


CORRELATED = """\
    title: Base
    name: base
    id: 7a0b8b7e-3a59-4c53-9d0b-0b8f8f0f0a03
    logsource: {product: linux}
    detection:
        selection: {a: 1}
        condition: selection
    ---
    title: Sum
    id: 8a0b8b7e-3a59-4c53-9d0b-0b8f8f0f0a04
    correlation:
        type: value_sum
        rules: [base]
        group-by: [host]
        timespan: 5m
        condition: {gte: 3, field: bytes}
    """


def test_a_correlation_type_the_engine_lacks_is_an_error_at_the_correlation():
    (source,) = validated(CORRELATED)
    assert [entry.key for entry in source.loaded] == ["7a0b8b7e-3a59-4c53-9d0b-0b8f8f0f0a03"]
    ((_path, line, severity, message),) = problems_of([source])
    assert (line, severity) == (11, "error")
    assert "has type value_sum; supported are event_count" in message


def test_a_correlation_over_a_rejected_rule_is_rejected():
    text = CORRELATED.replace("value_sum", "event_count").replace("{a: 1}", "{a|cidr: 10.0.0.0/8}")
    text = text.replace("condition: selection", "condition: selection and 1 of nothing*")
    (source,) = validated(text)
    assert source.loaded == []
    reported = [(line, message) for _, line, severity, message in problems_of([source])]
    assert (13, "refers to 'base', which was rejected") in reported


def test_an_undefined_expand_list_is_a_warning_only_when_the_lists_are_known():
    text = TAGGED.replace("Image|endswith: '\\whoami.exe'", "User|expand: '%admin_accounts%'")
    (without_lists,) = validated(text)
    assert problems_of([without_lists]) == []
    (with_lists,) = validated(text, lists={"office_networks": ("10.0.0.0/8",)})
    ((_path, line, severity, message),) = problems_of([with_lists])
    assert (line, severity) == (17, "warning")
    assert message.startswith("uses the list %admin_accounts%, which is not defined")
    (defined,) = validated(text, lists={"admin_accounts": ("root",)})
    assert problems_of([defined]) == []


def test_counts_sum_up_accepted_and_rejected_rules_and_their_problems():
    sources = validated(
        TAGGED, TAGGED.replace("level: medium", "level: loud").replace("4f0b", "9f0b")
    )
    summary = count(sources)
    assert (summary.sources, summary.accepted, summary.rejected) == (2, 1, 1)
    assert (summary.errors, summary.warnings) == (1, 0)
