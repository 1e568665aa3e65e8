"""Sigma rules as Elasticsearch query bodies (no node): Wachter's pack converts except what
only the matcher can do, modifiers become the Lucene the backend documents, lists fill
``|expand`` placeholders, Lucene's special characters are escaped, and a rule that cannot
be converted is refused with its name and the reason while the others convert.

The queries' behaviour on real nodes is in tests/integration/test_search_runner.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.rule import SigmaRule

from core import InvalidInput
from detection_rules.matcher import rule_key
from detection_rules.search import (
    ConversionError,
    EventSource,
    pipelines_for,
    query_for,
)
from detection_rules.service import pack_sources

WACHTER = pipelines_for(EventSource.WACHTER)
ECS = pipelines_for(EventSource.ECS)
PACK_LISTS = {
    "admin_accounts": ["root", "beheerder"],
    "office_networks": ["10.20.0.0/16", "192.0.2.5"],
    "banned_persons": ["P-1234"],
    "banned_identifiers": ["Jan Jansen"],
    "contact_restricted": ["boos@example.nl"],
    "doxing_targets": ["jdevries"],
}
OFFICE_HOURS_RULE = "4510d1fe-9ab6-4a7a-b950-a4e017f5287c"


def lucene(body: dict[str, Any]) -> str:
    query_string: str = body["query"]["bool"]["must"][0]["query_string"]["query"]
    return query_string


def rule(detection: str, logsource: str = "{product: test}", condition: str = "sel") -> str:
    return (
        f"title: Test rule\nid: 5b1f0f0e-0000-4000-8000-000000000001\nlogsource: {logsource}\n"
        f"detection:\n{detection}\n  condition: {condition}\n"
    )


def pack_rules() -> list[SigmaRule | SigmaCorrelationRule]:
    found: list[SigmaRule | SigmaCorrelationRule] = []
    for source in pack_sources():
        collection = SigmaCollection.from_yaml(source.data.decode(), resolve_references=False)
        found.extend(item for item in collection.rules if not hasattr(item, "filter"))
    return found


def test_every_single_event_pack_rule_converts_but_the_office_hours_one() -> None:
    refused: dict[str, str] = {}
    converted = 0
    for item in pack_rules():
        if isinstance(item, SigmaCorrelationRule):
            continue
        try:
            query_for(item, pipelines=WACHTER, lists=PACK_LISTS)
            converted += 1
        except ConversionError as error:
            refused[rule_key(item)] = str(error)

    # wachter.time.office_hours is computed by the matcher from the event time and the
    # organisation's time zone: no index holds it, so that rule stays with the matcher.
    assert list(refused) == [OFFICE_HOURS_RULE]
    assert "wachter.time.office_hours" in refused[OFFICE_HOURS_RULE]
    assert converted == 24


def test_a_correlation_rule_is_refused_with_its_name_and_why() -> None:
    correlation = next(item for item in pack_rules() if isinstance(item, SigmaCorrelationRule))

    with pytest.raises(ConversionError) as caught:
        query_for(correlation, pipelines=WACHTER, lists=PACK_LISTS)

    assert caught.value.rule_key == rule_key(correlation)
    assert "correlation" in str(caught.value)


def test_wachter_pipelines_add_the_logsource_condition_and_map_fields() -> None:
    text = rule(
        "  sel:\n    User: admin\n    Outcome: failure",
        logsource="{category: authentication, product: vpn}",
    )

    query = lucene(query_for(text, pipelines=WACHTER, lists={}))

    assert query == (
        "event.dataset:openvpn AND (event.category:authentication AND "
        "(user.name:admin AND event.outcome:failure))"
    )


def test_ecs_indices_get_winlogbeat_names_and_the_plain_executable_field() -> None:
    text = rule(
        "  sel:\n    EventID: 4688\n    NewProcessName|endswith: '\\whoami.exe'",
        logsource="{product: windows, service: security}",
    )

    query = lucene(query_for(text, pipelines=ECS, lists={}))

    assert query == (
        "winlog.channel:Security AND (event.code:4688 AND process.executable:*\\\\whoami.exe)"
    )


@pytest.mark.parametrize(
    ("detection", "expected"),
    [
        ("    CommandLine|contains: mimikatz", "CommandLine:*mimikatz*"),
        ("    User|startswith: adm", "User:adm*"),
        ("    Image|endswith: '\\cmd.exe'", "Image:*\\\\cmd.exe"),
        ("    Path|re: 'C:/tmp/[a-z]+\\.ps1'", "Path:/C:\\/tmp\\/[a-z]+\\.ps1/"),
        ("    SourceIp|cidr: 10.0.0.0/8", "SourceIp:10.0.0.0\\/8"),
        ("    SourceIp|cidr: 'fe80::/10'", "SourceIp:fe80\\:\\:\\/10"),
        (
            "    CommandLine|contains|all: [' -enc ', 'hidden']",
            "CommandLine:*\\ \\-enc\\ * AND CommandLine:*hidden*",
        ),
        ("    Token|exists: true", "_exists_:Token"),
        ("    Token|exists: false", "NOT _exists_:Token"),
        ("    Reason: null", "NOT _exists_:Reason"),
        ("    Port|gte: 1024", "Port:>=1024"),
        ("    EventID: [4624, 4625]", "EventID:(4624 OR 4625)"),
    ],
)
def test_modifiers_become_lucene(detection: str, expected: str) -> None:
    query = lucene(query_for(rule("  sel:\n" + detection), pipelines=[], lists={}))

    assert query == expected


def test_lucene_specials_in_values_are_escaped() -> None:
    text = rule("  sel:\n    Title: 'a+b-c=d&e|f!g(h)i{j}k[l]m<n>o^p\"q~r:s\\\\t/u'")

    query = lucene(query_for(text, pipelines=[], lists={}))

    assert query == (
        'Title:a\\+b\\-c\\=d\\&e\\|f\\!g\\(h\\)i\\{j\\}k\\[l\\]m\\<n\\>o\\^p\\"q\\~r\\:s\\\\t\\/u'
    )


def test_a_value_with_spaces_is_one_phrase_and_with_a_wildcard_escapes_them() -> None:
    text = rule("  sel:\n    Message: 'not allowed (locked)'\n    Other|contains: 'a b'")

    query = lucene(query_for(text, pipelines=[], lists={}))

    assert query == 'Message:"not allowed \\(locked\\)" AND Other:*a\\ b*'


def test_a_wildcard_in_a_value_stays_a_wildcard_and_an_escaped_one_does_not() -> None:
    text = rule("  sel:\n    Name: ['adm*', 'what\\?']")

    query = lucene(query_for(text, pipelines=[], lists={}))

    assert query == "Name:(adm* OR what\\?)"


def test_expand_placeholders_are_filled_from_the_lists() -> None:
    text = rule("  sel:\n    SourceIp|expand: '%office_networks%'\n    User|expand: '%admins%'")
    lists = {"office_networks": ["10.20.0.0/16", "192.0.2.5"], "admins": ["root", "beheerder"]}

    query = lucene(query_for(text, pipelines=[], lists=lists))

    assert query == ("(SourceIp:(10.20.0.0\\/16 OR 192.0.2.5)) AND (User:(root OR beheerder))")


def test_a_placeholder_inside_a_value_is_filled_around_its_text() -> None:
    text = rule("  sel:\n    Email|expand: '%user%@example.nl'")

    query = lucene(query_for(text, pipelines=[], lists={"user": ["jan", "piet"]}))

    assert query == "Email:(jan@example.nl OR piet@example.nl)"


@pytest.mark.parametrize(
    ("lists", "words"),
    [({}, "does not exist"), ({"admins": []}, "is empty")],
)
def test_a_missing_or_empty_list_is_refused_with_the_rule_and_list(
    lists: dict[str, list[str]], words: str
) -> None:
    text = rule("  sel:\n    User|expand: '%admins%'")

    with pytest.raises(ConversionError) as caught:
        query_for(text, pipelines=[], lists=lists)

    assert caught.value.rule_key == "5b1f0f0e-0000-4000-8000-000000000001"
    assert "admins" in str(caught.value)
    assert words in str(caught.value)


def test_a_rule_the_backend_cannot_convert_is_refused_and_the_others_convert() -> None:
    texts = [
        rule("  sel:\n    User: admin"),
        rule("  sel:\n    TargetUser|fieldref: User").replace("0001", "0002"),
        rule("  sel:\n    User: root").replace("0001", "0003"),
    ]
    converted, refused = [], []
    for text in texts:
        try:
            converted.append(lucene(query_for(text, pipelines=[], lists={})))
        except ConversionError as error:
            refused.append((error.rule_key, str(error)))

    assert converted == ["User:admin", "User:root"]
    assert [key for key, _ in refused] == ["5b1f0f0e-0000-4000-8000-000000000002"]
    assert "field reference" in refused[0][1]


def test_a_rule_with_several_conditions_matches_when_any_does() -> None:
    text = rule(
        "  first:\n    User: admin\n  second:\n    User: root",
        condition="\n    - first\n    - second",
    )

    body = query_for(text, pipelines=[], lists={})

    should = body["query"]["bool"]["should"]
    assert [lucene({"query": part}) for part in should] == ["User:admin", "User:root"]
    assert body["query"]["bool"]["minimum_should_match"] == 1


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("title: [unclosed", "cannot be read"),
        (rule("  sel:\n    a: 1") + "---\n" + rule("  sel:\n    b: 2"), "holds 2 rules"),
    ],
)
def test_text_that_is_not_exactly_one_rule_is_refused(text: str, words: str) -> None:
    with pytest.raises(ConversionError, match=words):
        query_for(text, pipelines=[], lists={})


def test_the_rule_given_is_left_as_it_was() -> None:
    parsed = SigmaRule.from_yaml(rule("  sel:\n    User: admin", "{category: authentication}"))

    query_for(parsed, pipelines=WACHTER, lists={})

    assert [item.field for item in parsed.detection.detections["sel"].detection_items] == ["User"]


def test_an_unknown_pipeline_or_source_is_refused() -> None:
    with pytest.raises(InvalidInput, match="Unknown pipeline"):
        query_for(rule("  sel:\n    a: 1"), pipelines=["splunk"], lists={})
    with pytest.raises(ValueError, match="splunk"):
        pipelines_for("splunk")
