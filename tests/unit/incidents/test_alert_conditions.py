"""Suppression conditions: what each operator holds for, and every malformed condition
refused with a reason that names it (no database: the conditions are plain values)."""

from __future__ import annotations

import pytest

from core import InvalidInput
from incidents.alerts.conditions import (
    MAX_CONDITIONS,
    Operator,
    all_hold,
    conditions_from,
    dump_conditions,
    load_conditions,
    parse_condition_lines,
)


def one(field: str, operator: str, value):
    [condition] = conditions_from([{"field": field, "operator": operator, "value": value}])
    return condition


def test_equals_ignores_case_and_needs_the_whole_value():
    condition = one("user.name", "equals", "svc_backup")
    assert condition.holds(["SVC_Backup"])
    assert not condition.holds(["svc_backup2"])
    assert not condition.holds([])


def test_in_holds_for_any_listed_value_in_any_case():
    condition = one("host.name", "in", ["web01", "web02"])
    assert condition.holds(["WEB02"])
    assert not condition.holds(["web03"])


def test_contains_finds_a_part_of_the_value():
    condition = one("process.command_line", "contains", "Backup.ps1")
    assert condition.holds(["powershell -File C:\\jobs\\backup.ps1 -Quiet"])
    assert not condition.holds(["powershell -File C:\\jobs\\restore.ps1"])


def test_cidr_compares_addresses_not_text():
    condition = one("source.ip", "cidr", "10.20.0.0/16")
    assert condition.holds(["10.20.255.1"])
    assert not condition.holds(["10.21.0.1"])
    assert not condition.holds(["10.20.0.1.evil", "not an address"])
    assert not condition.holds(["2001:db8::1"])  # another IP version is outside, not an error


def test_cidr_accepts_a_single_address_and_host_bits():
    assert one("source.ip", "cidr", "192.0.2.7").holds(["192.0.2.7"])
    assert one("source.ip", "cidr", "192.0.2.7/24").value == "192.0.2.0/24"


def test_a_field_with_several_values_holds_when_any_does():
    assert one("related.ip", "cidr", "192.0.2.0/24").holds(["198.51.100.1", "192.0.2.9"])


def test_all_conditions_must_hold_and_the_group_value_comes_before_the_event():
    conditions = conditions_from(
        [
            {"field": "user.name", "operator": "equals", "value": "alice"},
            {"field": "source.ip", "operator": "cidr", "value": "10.0.0.0/8"},
        ]
    )
    event = {"user.name": ["bob"], "source.ip": ["10.1.2.3"]}.get

    def values(name):
        return event(name, [])

    assert all_hold(conditions, {"user.name": "Alice"}, values)
    assert not all_hold(conditions, {"user.name": "carol"}, values)
    assert not all_hold(conditions, {}, values)  # the event says bob


def test_lines_are_parsed_one_condition_each_and_in_takes_commas():
    conditions = parse_condition_lines(
        "user.name equals svc backup\n\n  host.name in web01, web02 \nsource.ip cidr 10.0.0.0/8\n"
    )
    assert [(c.field, c.operator, c.value) for c in conditions] == [
        ("user.name", Operator.EQUALS, "svc backup"),
        ("host.name", Operator.IN, ("web01", "web02")),
        ("source.ip", Operator.CIDR, "10.0.0.0/8"),
    ]
    assert conditions[1].as_text() == "host.name in web01, web02"


def test_stored_conditions_read_back_the_same():
    conditions = parse_condition_lines("host.name in a, b\nuser.name contains svc_")
    assert load_conditions(dump_conditions(conditions)) == conditions


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([], "at least one condition"),
        (None, "at least one condition"),
        (["user.name equals x"], "needs a field, an operator and a value"),
        ([{"field": "user name", "operator": "equals", "value": "x"}], "is not a field name"),
        ([{"field": "", "operator": "equals", "value": "x"}], "is not a field name"),
        ([{"field": "user.name", "operator": "matches", "value": "x"}], "is not an operator"),
        ([{"field": "user.name", "operator": "equals", "value": ""}], "1 to 300 characters"),
        ([{"field": "user.name", "operator": "equals", "value": "x" * 301}], "1 to 300"),
        ([{"field": "user.name", "operator": "equals", "value": 7}], "1 to 300 characters"),
        ([{"field": "user.name", "operator": "in", "value": []}], "list 1 to 100 values"),
        ([{"field": "user.name", "operator": "in", "value": "a,b"}], "list 1 to 100 values"),
        ([{"field": "user.name", "operator": "in", "value": ["a"] * 101}], "list 1 to 100"),
        ([{"field": "user.name", "operator": "in", "value": ["a", ""]}], "1 to 300 characters"),
        ([{"field": "source.ip", "operator": "cidr", "value": "10.0.0.0/33"}], "not a network"),
        ([{"field": "source.ip", "operator": "cidr", "value": "office"}], "not a network"),
    ],
)
def test_malformed_conditions_are_refused_with_the_reason(raw, message):
    with pytest.raises(InvalidInput, match=message) as refused:
        conditions_from(raw)
    assert refused.value.field == "conditions"


def test_more_than_ten_conditions_are_refused_from_lines_and_from_json():
    lines = "\n".join(f"user.name equals u{number}" for number in range(MAX_CONDITIONS + 1))
    with pytest.raises(InvalidInput, match="at most 10 conditions"):
        parse_condition_lines(lines)
    with pytest.raises(InvalidInput, match="at most 10 conditions"):
        conditions_from([{"field": "a", "operator": "equals", "value": "b"}] * 11)


def test_a_line_without_three_parts_names_its_number():
    with pytest.raises(InvalidInput, match="Condition 2: write it as") as refused:
        parse_condition_lines("user.name equals alice\nuser.name equals")
    assert refused.value.params["number"] == 2


def test_the_second_condition_is_named_when_it_is_the_bad_one():
    with pytest.raises(InvalidInput) as refused:
        parse_condition_lines("user.name equals alice\nsource.ip cidr nowhere")
    assert refused.value.params["number"] == 2
