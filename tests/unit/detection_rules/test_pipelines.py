"""Named processing pipelines: each adds its logsource's condition and maps its field names,
unknown names and contradicting combinations are refused, an unmapped logsource is left
alone, and SigmaHQ rules meet the events Wachter's parsers store."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from sigma.collection import SigmaCollection
from sigma.rule import SigmaDetection, SigmaRule

from core import InvalidInput
from detection_rules.matcher import compile_rule
from detection_rules.pipelines import (
    DEFAULT_PIPELINES,
    PIPELINE_NAMES,
    build_pipeline,
    default_pipeline,
)
from ingest.normalise import finish
from ingest.parsers import get_parser
from ingest.parsers.windows import WindowsParser
from tests.support.shared_data import shared_data

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def processed(names: list[str] | tuple[str, ...], logsource: str, detection: str) -> SigmaRule:
    rule = SigmaRule.from_yaml(
        f"title: t\nlogsource: {logsource}\ndetection:\n{detection}\n  condition: sel\n"
    )
    build_pipeline(names).apply(rule)
    return rule


def items(detection: SigmaDetection) -> list[tuple[str | None, list[str]]]:
    found: list[tuple[str | None, list[str]]] = []
    for item in detection.detection_items:
        if isinstance(item, SigmaDetection):
            found.extend(items(item))
        else:
            found.append((item.field, [str(value) for value in item.value]))
    return found


def added(rule: SigmaRule) -> dict[str, list[tuple[str | None, list[str]]]]:
    """The selections a pipeline added (every one but the rule's own ``sel``)."""
    return {
        name: items(detection)
        for name, detection in rule.detection.detections.items()
        if name != "sel"
    }


def condition(rule: SigmaRule) -> str:
    return str(rule.detection.parsed_condition[0].condition)


IMAGE = "  sel:\n    Image|endswith: '\\x.exe'\n"


def test_sysmon_turns_process_creation_into_event_id_1_in_the_sysmon_channel():
    rule = processed(["sysmon", "windows"], "{product: windows, category: process_creation}", IMAGE)

    conditions = sorted(added(rule).values())
    assert conditions == [
        [("Channel", ["Microsoft-Windows-Sysmon/Operational"])],
        [("EventID", ["1"])],
    ]
    assert items(rule.detection.detections["sel"]) == [("Image", ["*\\x.exe"])]


def test_windows_adds_the_channel_of_a_service():
    rule = processed(
        ["windows"], "{product: windows, service: security}", "  sel:\n    EventID: 4625\n"
    )

    assert list(added(rule).values()) == [[("Channel", ["Security"])]]


def test_windows_audit_reads_process_creation_from_security_4688_with_its_field_names():
    rule = processed(
        ["windows-audit", "windows"], "{product: windows, category: process_creation}", IMAGE
    )

    assert sorted(added(rule).values()) == [[("Channel", ["Security"])], [("EventID", ["4688"])]]
    assert items(rule.detection.detections["sel"]) == [("NewProcessName", ["*\\x.exe"])]


def test_ecs_windows_maps_to_the_fields_winlogbeat_sends_without_elastics_caseless_copies():
    rule = processed(
        ["sysmon", "ecs_windows"],
        "{product: windows, category: process_creation}",
        "  sel:\n    Image|endswith: '\\x.exe'\n    ParentImage|endswith: '\\y.exe'\n",
    )

    assert items(rule.detection.detections["sel"]) == [
        ("process.executable", ["*\\x.exe"]),
        ("process.parent.executable", ["*\\y.exe"]),
    ]
    assert sorted(added(rule).values()) == [
        [("event.code", ["1"])],
        [("winlog.channel", ["Microsoft-Windows-Sysmon/Operational"])],
    ]


@pytest.mark.parametrize(
    ("logsource", "expected"),
    [
        (
            "{product: linux, service: auth}",
            [
                ("event.dataset", ["system.auth"]),
                ("log.syslog.facility.name", ["auth", "authpriv"]),
            ],
        ),
        (
            "{product: linux, service: sshd}",
            [("process.name", ["sshd", "sshd-session", "sshd-auth"])],
        ),
        ("{product: linux, service: sudo}", [("process.name", ["sudo"])]),
        ("{category: authentication}", [("event.category", ["authentication"])]),
        ("{product: vpn}", [("event.dataset", ["openvpn"])]),
        ("{category: physical_access}", [("event.dataset", ["badge.access"])]),
        ("{product: badge}", [("event.dataset", ["badge.access"])]),
        ("{category: webserver}", [("event.category", ["web"])]),
    ],
)
def test_wachter_adds_the_condition_that_selects_a_logsources_events(logsource, expected):
    rule = processed(["wachter"], logsource, "  sel:\n    x: y\n")

    assert list(added(rule).values()) == [expected]
    assert condition(rule).endswith("and (sel)")


def test_wachters_own_events_are_selected_by_wachter_logsource_which_senders_cannot_write():
    auth = processed(["wachter"], "{product: wachter, service: auth}", "  sel:\n    x: y\n")
    staff = processed(
        ["wachter"], "{product: wachter, service: staff_safety}", "  sel:\n    x: y\n"
    )

    assert sorted(added(auth).values()) == [
        [("wachter.logsource.product", ["wachter"])],
        [("wachter.logsource.service", ["auth"])],
    ]
    assert sorted(added(staff).values()) == [
        [("wachter.logsource.product", ["wachter"])],
        [("wachter.logsource.service", ["staff_safety"])],
    ]
    assert all(name.startswith("_wachter_logsource_") for name in added(auth))


@pytest.mark.parametrize(
    ("logsource", "field", "mapped"),
    [
        ("{category: authentication}", "User", "user.name"),
        ("{category: authentication}", "SourceIp", "source.ip"),
        ("{category: authentication}", "Outcome", "event.outcome"),
        ("{product: vpn, category: authentication}", "TunnelIp", "source.nat.ip"),
        ("{product: vpn}", "User", "user.name"),
        ("{product: wachter, service: auth}", "Method", "wachter.details.method"),
        ("{product: wachter, service: auth}", "User", "user.name"),
        ("{product: linux, service: sshd}", "SourceIp", "source.ip"),
        ("{product: linux, service: sudo}", "USER", "user.effective.name"),
        ("{category: physical_access}", "Door", "door.name"),
        ("{product: badge}", "Badge", "badge.id"),
        ("{category: webserver}", "c-useragent", "cs-user-agent"),
        ("{category: webserver}", "cs-uri-query", "cs-uri-query"),
    ],
)
def test_wachter_maps_sigma_style_names_to_the_fields_its_parsers_write(logsource, field, mapped):
    rule = processed(["wachter"], logsource, f"  sel:\n    {field}: v\n")

    assert items(rule.detection.detections["sel"]) == [(mapped, ["v"])]


def test_a_logsource_no_pipeline_knows_gets_no_condition_and_keeps_its_fields():
    rule = processed(DEFAULT_PIPELINES, "{product: acme, category: badge_reader}", IMAGE)

    assert added(rule) == {}
    assert condition(rule) == "sel"
    assert items(rule.detection.detections["sel"]) == [("Image", ["*\\x.exe"])]


def test_the_order_names_are_given_in_does_not_matter():
    forward = processed(
        ["sysmon", "windows"], "{product: windows, category: process_creation}", IMAGE
    )
    backward = processed(
        ["windows", "sysmon"], "{product: windows, category: process_creation}", IMAGE
    )

    assert sorted(added(forward).values()) == sorted(added(backward).values())
    assert [("Channel", ["Microsoft-Windows-Sysmon/Operational"])] in added(backward).values()


def test_names_may_repeat_and_differ_in_case_and_spaces():
    rule = processed([" Sysmon", "sysmon"], "{product: windows, category: process_creation}", IMAGE)

    assert list(added(rule).values()) == [[("EventID", ["1"])]]


def test_no_pipeline_changes_nothing():
    rule = processed([], "{product: windows, category: process_creation}", IMAGE)

    assert added(rule) == {}
    assert condition(rule) == "sel"


def test_pipelines_built_one_after_the_other_do_not_share_state():
    first = build_pipeline(DEFAULT_PIPELINES)
    build_pipeline(DEFAULT_PIPELINES)  # adding pipelines rebinds items: must not touch `first`
    rule = SigmaRule.from_yaml(
        "title: t\nlogsource: {product: vpn}\ndetection:\n  sel:\n    User: a\n  condition: sel\n"
    )

    first.apply(rule)

    assert list(added(rule).values()) == [[("event.dataset", ["openvpn"])]]


def test_an_unknown_pipeline_name_is_refused_with_the_valid_names():
    with pytest.raises(InvalidInput) as refused:
        build_pipeline(["sysmon", "splunk_windows"])

    assert refused.value.field == "pipeline"
    assert "splunk_windows" in refused.value.message
    for name in PIPELINE_NAMES:
        assert name in refused.value.message


def test_sysmon_and_windows_audit_are_refused_together_because_no_rule_could_match():
    with pytest.raises(InvalidInput, match="sysmon and windows-audit cannot be combined"):
        build_pipeline(["sysmon", "windows-audit"])


def test_every_named_pipeline_has_a_description_and_builds():
    for name, description in PIPELINE_NAMES.items():
        assert description
        assert build_pipeline([name]).items
    assert set(DEFAULT_PIPELINES) <= set(PIPELINE_NAMES)
    assert default_pipeline().name == "sysmon+windows+wachter"


# --- SigmaHQ rules on events as Wachter stores them ------------------------------------


def stored(parser: str, line: str) -> dict[str, Any]:
    document = get_parser(parser).parse_line(line, received=NOW)
    record = finish(document, source="test", event_key="k", ingested=NOW)
    result: dict[str, Any] = orjson.loads(record.document)
    return result


def sigmahq_rule(relative: str) -> SigmaRule:
    path = shared_data(f"sigma-rules/{relative}")
    rule = SigmaCollection.from_yaml(path.read_text(encoding="utf-8")).rules[0]
    assert isinstance(rule, SigmaRule)
    return rule


EXPLOITS = "rules-emerging-threats/20{}/Exploits/CVE-20{}/lnx_{}.yml"
SSHD_CVE_2018_15473 = EXPLOITS.format(18, "18-15473", "sshd_exploit_cve_2018_15473")
PWNKIT = EXPLOITS.format(21, "21-4034", "auth_exploit_cve_2021_4034_pwnkit_lpe")
SUDO_CVE_2019_14287 = EXPLOITS.format(19, "19-14287", "sudo_exploit_cve_2019_14287")
PWNKIT_MESSAGE = (
    "pkexec[1234]: alice: The value for environment variable XAUTHORITY contains suspicious "
    "content [USER=root] [TTY=/dev/pts/0] [CWD=/home/alice] [COMMAND=/usr/bin/id]"
)


def test_a_sigmahq_sshd_keyword_rule_fires_on_the_message_of_a_parsed_sshd_line():
    compiled = compile_rule(sigmahq_rule(SSHD_CVE_2018_15473), pipeline=default_pipeline())
    message = "error: buffer_get_ret: trying to get more bytes 1907 than in buffer 308 [preauth]"

    assert compiled.matches(stored("linux-auth", f"May 30 06:55:46 bastion sshd[42]: {message}"))
    # The same words from another program are not sshd's.
    assert not compiled.matches(stored("syslog", f"May 30 06:55:46 bastion cron[42]: {message}"))


def test_sigmahqs_pwnkit_rule_fires_on_an_authpriv_message_the_auth_parser_has_no_table_for():
    compiled = compile_rule(sigmahq_rule(PWNKIT), pipeline=default_pipeline())

    assert compiled.matches(stored("syslog", f"<86>May 30 06:55:46 bastion {PWNKIT_MESSAGE}"))
    # Facility daemon (3): not the authentication log.
    assert not compiled.matches(stored("syslog", f"<30>May 30 06:55:46 bastion {PWNKIT_MESSAGE}"))


def test_sigmahqs_sudo_rule_reads_sudos_user_from_the_effective_user():
    compiled = compile_rule(sigmahq_rule(SUDO_CVE_2019_14287), pipeline=default_pipeline())
    line = (
        "May 30 06:55:46 bastion sudo: alice : TTY=pts/0 ; PWD=/home/alice ; USER=#-1 ;"
        " COMMAND=/usr/bin/id"
    )

    assert compiled.matches(stored("linux-auth", line))
    assert not compiled.matches(stored("linux-auth", line.replace("USER=#-1", "USER=root")))


def test_a_webserver_rule_on_w3c_names_fires_on_a_parsed_access_line_only():
    rule = SigmaRule.from_yaml(
        "title: traversal\nlogsource: {category: webserver}\ndetection:\n"
        "  sel:\n    cs-method: GET\n    cs-uri-query|contains: '../'\n    sc-status: 200\n"
        "  condition: sel\n"
    )
    compiled = compile_rule(rule, pipeline=default_pipeline())
    line = (
        '203.0.113.5 - - [10/Oct/2026:13:55:36 +0200] "GET /view?f=../../etc/passwd HTTP/1.1"'
        ' 200 512 "-" "curl/8"'
    )

    assert compiled.matches(stored("nginx-access", line))
    assert not compiled.matches(stored("nginx-access", line.replace(" 200 ", " 404 ")))
    # The same fields in an event that is no web access log: not the logsource.
    assert not compiled.matches({"cs-method": "GET", "cs-uri-query": "../", "sc-status": 200})


def test_the_default_pipelines_keep_every_sigmahq_regression_rule_matching_its_stored_events():
    """SigmaHQ's regression suite (flat Sysmon/Security EVTX events) through Wachter's windows
    parser and normalise.finish: the shape the service stores and matches."""
    folder = shared_data("regression")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    pipeline = default_pipeline()
    failed = []
    for test in manifest["tests"]:
        rule_text = shared_data(f"sigma-rules/{test['rule_path']}").read_text(encoding="utf-8")
        compiled = compile_rule(SigmaCollection.from_yaml(rule_text).rules[0], pipeline=pipeline)
        events = [_stored_windows(line) for line in _lines(folder / test["event_file"])]
        matched = sum(compiled.matches(event) for event in events)
        if matched < (test["expected_match_count"] or 1):
            failed.append((test["rule_id"], test["rule_title"], matched))

    assert len(manifest["tests"]) == 202
    assert failed == []


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _stored_windows(line: str) -> dict[str, Any]:
    document = WindowsParser().parse_document(json.loads(line), received=NOW)
    result: dict[str, Any] = orjson.loads(
        finish(document, source="test", event_key="k", ingested=NOW).document
    )
    return result
